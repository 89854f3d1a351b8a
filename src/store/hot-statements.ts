// The statements the gateway runs on every private request, kept off Kysely's query builder:
// building and compiling a query (operation-node trees, freezing) cost more CPU than SQLite
// took to run it. Fixed SQL text, one version per engine:
//   SQLite: better-sqlite3 statements prepared once, run synchronously (they are microseconds);
//   PostgreSQL: pre-written text sent through Kysely's driver as a CompiledQuery (no compilation).
// They are AccountCache's cache misses. (API nonces are not here: they are core state, journaled
// with the request's command; src/core/engine/api-nonces.ts.)

import type { Database } from "better-sqlite3";
import { CompiledQuery, type Kysely } from "kysely";
import type { ApiKeyRow, StoreDatabase, UserStatus } from "./schema.ts";

export interface HotStatements {
  apiKeyRow(keyId: string): Promise<ApiKeyRow | undefined>;
  userStatus(userId: number): Promise<UserStatus | undefined>;
}

const SELECT_API_KEY =
  "select key_id, user_id, secret_ciphertext, scopes_json, ip_allow_list_json, created_ms, revoked_ms " +
  "from api_keys where key_id = ?";
const SELECT_USER_STATUS = "select status from users where id = ?";

/** `?` placeholders → `$1…$n` (the constants above hold no `?` inside literals). */
function toPgPlaceholders(text: string): string {
  let index = 0;
  return text.replace(/\?/g, () => `$${++index}`);
}

export function sqliteHotStatements(sqlite: Database): HotStatements {
  const selectApiKey = sqlite.prepare<[string], ApiKeyRow>(SELECT_API_KEY);
  const selectUserStatus = sqlite.prepare<[number], { status: UserStatus }>(SELECT_USER_STATUS);
  return {
    apiKeyRow: async (keyId) => selectApiKey.get(keyId),
    userStatus: async (userId) => selectUserStatus.get(userId)?.status,
  };
}

export function postgresHotStatements(db: Kysely<StoreDatabase>): HotStatements {
  const selectApiKey = toPgPlaceholders(SELECT_API_KEY);
  const selectUserStatus = toPgPlaceholders(SELECT_USER_STATUS);
  return {
    async apiKeyRow(keyId) {
      const result = await db.executeQuery<ApiKeyRow>(CompiledQuery.raw(selectApiKey, [keyId]));
      return result.rows[0];
    },
    async userStatus(userId) {
      const result = await db.executeQuery<{ status: UserStatus }>(
        CompiledQuery.raw(selectUserStatus, [userId]),
      );
      return result.rows[0]?.status;
    },
  };
}

// The statements the gateway runs on every private request, kept off Kysely's query builder:
// building and compiling a query (operation-node trees, freezing) cost more CPU than SQLite
// took to run it. Fixed SQL text, one version per engine:
//   SQLite: better-sqlite3 statements prepared once, run synchronously (they are microseconds);
//   PostgreSQL: pre-written text sent through Kysely's driver as a CompiledQuery (no compilation).
// The reads are cache misses of AccountCache and NonceLedger; the one write is the group commit
// of advanced nonces.

import type { Database } from "better-sqlite3";
import { CompiledQuery, type Kysely } from "kysely";
import type { ApiKeyRow, StoreDatabase, UserStatus } from "./schema.ts";

export interface NonceAdvance {
  keyId: string;
  nonce: number;
}

export interface HotStatements {
  apiKeyRow(keyId: string): Promise<ApiKeyRow | undefined>;
  userStatus(userId: number): Promise<UserStatus | undefined>;
  lastNonce(keyId: string): Promise<number | undefined>;
  /**
   * In ONE transaction, for each entry (one per key): store the nonce if it is greater than the
   * stored one (or the first). Resolves after the commit with what the store held before it.
   */
  commitNonces(entries: readonly NonceAdvance[]): Promise<NonceCommit>;
}

export interface NonceCommit {
  /** Keys whose nonce this transaction stored; a key missing here had an equal or higher one. */
  written: Set<string>;
  /** The stored nonce of each key that had one before this transaction. */
  previous: Map<string, number>;
}

const SELECT_API_KEY =
  "select key_id, user_id, secret_ciphertext, scopes_json, ip_allow_list_json, created_ms, revoked_ms " +
  "from api_keys where key_id = ?";
const SELECT_USER_STATUS = "select status from users where id = ?";
const SELECT_NONCE = "select last_nonce from api_nonces where key_id = ?";
// The same guarded upsert as accounts.ts advanceNonce: it changes a row only upwards.
const ADVANCE_NONCE =
  "insert into api_nonces (key_id, last_nonce) values (?, ?) on conflict (key_id) do update " +
  "set last_nonce = excluded.last_nonce where api_nonces.last_nonce < excluded.last_nonce";
// The previous values are read with a row lock in the same statement (read committed re-reads a
// row another gateway changed meanwhile). A key first used by two gateways at the same moment has
// no row to lock; its guarded upsert still refuses the lower batch as a whole.
const PG_ADVANCE_NONCES = `
with incoming as (select * from unnest($1::text[], $2::bigint[]) as t(key_id, last_nonce)),
previous as (
  select n.key_id, n.last_nonce from api_nonces n join incoming i on i.key_id = n.key_id for update of n),
written as (
  insert into api_nonces (key_id, last_nonce) select key_id, last_nonce from incoming
  on conflict (key_id) do update set last_nonce = excluded.last_nonce
  where api_nonces.last_nonce < excluded.last_nonce
  returning key_id)
select key_id, null::bigint as last_nonce from written
union all
select key_id, last_nonce from previous`;

/** `?` placeholders → `$1…$n` (the constants above hold no `?` inside literals). */
function toPgPlaceholders(text: string): string {
  let index = 0;
  return text.replace(/\?/g, () => `$${++index}`);
}

export function sqliteHotStatements(db: Kysely<StoreDatabase>, sqlite: Database): HotStatements {
  const selectApiKey = sqlite.prepare<[string], ApiKeyRow>(SELECT_API_KEY);
  const selectUserStatus = sqlite.prepare<[number], { status: UserStatus }>(SELECT_USER_STATUS);
  const selectNonce = sqlite.prepare<[string], { last_nonce: number }>(SELECT_NONCE);
  const advance = sqlite.prepare<[string, number]>(ADVANCE_NONCE);
  const commit = sqlite.transaction((entries: readonly NonceAdvance[]): NonceCommit => {
    const written = new Set<string>();
    const previous = new Map<string, number>();
    for (const { keyId, nonce } of entries) {
      const stored = selectNonce.get(keyId);
      if (stored !== undefined) previous.set(keyId, stored.last_nonce);
      if (advance.run(keyId, nonce).changes > 0) written.add(keyId);
    }
    return { written, previous };
  });
  return {
    apiKeyRow: async (keyId) => selectApiKey.get(keyId),
    userStatus: async (userId) => selectUserStatus.get(userId)?.status,
    lastNonce: async (keyId) => selectNonce.get(keyId)?.last_nonce,
    // Through Kysely's connection, whose mutex is held by the projector for a whole transaction:
    // written directly, the nonces could land inside the projector's open transaction and be
    // rolled back with it after their requests were answered.
    commitNonces: (entries) => db.connection().execute(async () => commit(entries)),
  };
}

export function postgresHotStatements(db: Kysely<StoreDatabase>): HotStatements {
  const selectApiKey = toPgPlaceholders(SELECT_API_KEY);
  const selectUserStatus = toPgPlaceholders(SELECT_USER_STATUS);
  const selectNonce = toPgPlaceholders(SELECT_NONCE);
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
    async lastNonce(keyId) {
      const result = await db.executeQuery<{ last_nonce: number }>(CompiledQuery.raw(selectNonce, [keyId]));
      return result.rows[0]?.last_nonce;
    },
    async commitNonces(entries) {
      // One statement is one transaction; its row locks make concurrent gateways' upserts of a key
      // serialise, and the guard lets only a higher nonce through.
      const result = await db.executeQuery<{ key_id: string; last_nonce: number | null }>(
        CompiledQuery.raw(PG_ADVANCE_NONCES, [entries.map((e) => e.keyId), entries.map((e) => e.nonce)]),
      );
      const written = new Set<string>();
      const previous = new Map<string, number>();
      for (const row of result.rows) {
        if (row.last_nonce === null) written.add(row.key_id);
        else previous.set(row.key_id, row.last_nonce);
      }
      return { written, previous };
    },
  };
}

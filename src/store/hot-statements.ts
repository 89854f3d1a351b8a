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
// Two statements in one transaction: the stored values are read under row locks (a read committed
// re-read if another gateway changed them), then the guarded upsert. Keys in sorted order, so two
// gateways lock in the same order and cannot deadlock. (One statement cannot do both: PostgreSQL
// skips, in a FOR UPDATE, a row the same statement's upsert has already modified.)
const PG_LOCK_NONCES =
  "select key_id, last_nonce from api_nonces where key_id = any($1::text[]) order by key_id for update";
const PG_ADVANCE_NONCES =
  "insert into api_nonces (key_id, last_nonce) select * from unnest($1::text[], $2::bigint[]) " +
  "on conflict (key_id) do update set last_nonce = excluded.last_nonce " +
  "where api_nonces.last_nonce < excluded.last_nonce returning key_id";

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
  // The connection's own wait, restored after each nonce commit (which runs without it).
  const busyTimeoutMs = Number(sqlite.pragma("busy_timeout", { simple: true }));
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
    // The projector writes from its own connection (a worker thread), and SQLite has one write
    // lock. Waiting for it through busy_timeout would sleep on the event loop for the rest of the
    // projector's transaction (31 % of the server's time in bench:api), so the commit tries
    // without waiting and, while the lock is taken, retries after a timer, event loop free.
    // IMMEDIATE takes the lock before reading: a deferred transaction that read first would fail
    // with SQLITE_BUSY_SNAPSHOT when the worker commits between its read and its write.
    commitNonces: async (entries) => {
      const deadlineMs = performance.now() + NONCE_LOCK_WAIT_MAX_MS;
      for (;;) {
        try {
          // Through Kysely's connection, whose mutex is held by any Kysely transaction on it:
          // written directly, the nonces could land inside that open transaction and be rolled
          // back with it after their requests were answered. Released between attempts, so reads
          // are not held up by the wait.
          return await db.connection().execute(async () => withoutBusyWait(() => commit.immediate(entries)));
        } catch (error) {
          if (!isBusy(error) || performance.now() >= deadlineMs) throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, NONCE_LOCK_RETRY_MS));
      }
    },
  };

  function withoutBusyWait<T>(run: () => T): T {
    sqlite.pragma("busy_timeout = 0");
    try {
      return run();
    } finally {
      sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
  }
}

/** How long a nonce commit keeps retrying while another connection holds the write lock. */
const NONCE_LOCK_WAIT_MAX_MS = 5_000;
/** Between attempts: about one short projector transaction's time, without spinning a core. */
const NONCE_LOCK_RETRY_MS = 1;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
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
      const sorted = [...entries].sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
      const keyIds = sorted.map((entry) => entry.keyId);
      return db.transaction().execute(async (tx) => {
        const locked = await tx.executeQuery<{ key_id: string; last_nonce: number }>(
          CompiledQuery.raw(PG_LOCK_NONCES, [keyIds]),
        );
        const upserted = await tx.executeQuery<{ key_id: string }>(
          CompiledQuery.raw(PG_ADVANCE_NONCES, [keyIds, sorted.map((entry) => entry.nonce)]),
        );
        const previous = new Map(locked.rows.map((row) => [row.key_id, row.last_nonce]));
        return { written: new Set(upserted.rows.map((row) => row.key_id)), previous };
      });
    },
  };
}

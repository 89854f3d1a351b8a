// The account tables the gateway writes directly (not projected from the core): users, API keys
// and API nonces. Each write is one statement, so each is atomic on both engines without an
// explicit transaction, and concurrent gateways cannot interleave inside one.

import { type Kysely, sql } from "kysely";
import { MAX_USER_ID } from "../core/config.ts";
import type { CoreStateView } from "../core/state-view.ts";
import { checkIntegerIn, checkLimit, checkText, checkUserId, STORE_LIMITS } from "./limits.ts";
import type { ApiKeyRow, StoreDatabase, UserRow, UserStatus } from "./schema.ts";

type Db = Kysely<StoreDatabase>;

export interface UserRecord {
  userId: number;
  email: string;
  passwordHash: string;
  status: UserStatus;
  createdMs: number;
}

export interface ApiKeyRecord {
  keyId: string;
  userId: number;
  secretCiphertext: Buffer;
  scopes: string[];
  ipAllowList: string[];
  createdMs: number;
  revokedMs: number | null;
}

const SCOPE = /^[a-z_]{1,32}$/;
const KEY_ID = /^[A-Za-z0-9_-]+$/;
/** IPv4 / IPv6 address, optionally with a /prefix; the gateway parses them properly. */
const IP_OR_CIDR = /^[0-9A-Fa-f:.]{2,45}(\/\d{1,3})?$/;
const MAX_SECRET_CIPHERTEXT_BYTES = 4_096;
const MAX_PASSWORD_HASH_LENGTH = 1_024;

/** Emails are unique regardless of case and surrounding spaces. */
export function normalizeEmail(email: string): string {
  return checkText("email", email.trim().toLowerCase(), STORE_LIMITS.maxEmailLength);
}

function toUser(row: UserRow): UserRecord {
  return {
    userId: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    status: row.status,
    createdMs: row.created_ms,
  };
}

export function toApiKey(row: ApiKeyRow): ApiKeyRecord {
  return {
    keyId: row.key_id,
    userId: row.user_id,
    secretCiphertext: row.secret_ciphertext,
    // Both JSON columns are written only by createApiKey, from checked string arrays.
    scopes: JSON.parse(row.scopes_json) as string[],
    ipAllowList: JSON.parse(row.ip_allow_list_json) as string[],
    createdMs: row.created_ms,
    revokedMs: row.revoked_ms,
  };
}

// ---- change notification -------------------------------------------------------------------------

/** An account row that changed: caches of it (AccountCache) drop the entry. */
export type AccountChange = { kind: "user"; userId: number } | { kind: "apiKey"; keyId: string };
type AccountListener = (change: AccountChange) => void;

/** Caches per database handle: a handful per process (one per open store), so a small bound. */
const MAX_ACCOUNT_LISTENERS_PER_DB = 16;
// Keyed by the Kysely instance the writes go through, so every writer in this process (operator
// actions, CLI commands run in-process, tests) invalidates without having to know the caches.
const accountListeners = new WeakMap<object, Set<AccountListener>>();

/** Calls `listener` after each account write made through `db`; returns the unsubscribe. */
export function onAccountChange(db: Db, listener: AccountListener): () => void {
  let listeners = accountListeners.get(db);
  if (listeners === undefined) {
    listeners = new Set();
    accountListeners.set(db, listeners);
  }
  if (listeners.size >= MAX_ACCOUNT_LISTENERS_PER_DB)
    throw new RangeError(`store: more than ${MAX_ACCOUNT_LISTENERS_PER_DB} account listeners`);
  listeners.add(listener);
  const registered = listeners;
  return () => registered.delete(listener);
}

/** Tells this process's listeners (caches, the WS private feed) about an account write. */
export function notifyAccountChange(db: Db, change: AccountChange): void {
  const listeners = accountListeners.get(db);
  if (listeners !== undefined) for (const listener of listeners) listener(change);
}

// ---- users ---------------------------------------------------------------------------------------

export type CreateUserResult = { ok: true; user: UserRecord } | { ok: false; reason: "emailTaken" };

/** Creates an active user; the store assigns the id, which is also the user's id in the core. */
export async function createUser(
  db: Db,
  input: { email: string; passwordHash: string; createdMs: number },
): Promise<CreateUserResult> {
  const row = await db
    .insertInto("users")
    .values({
      email: normalizeEmail(input.email),
      password_hash: checkText("passwordHash", input.passwordHash, MAX_PASSWORD_HASH_LENGTH),
      status: "active",
      created_ms: checkIntegerIn("createdMs", input.createdMs, 0, Number.MAX_SAFE_INTEGER),
    })
    // One statement, so two registrations of one email race safely: the loser gets no row back.
    .onConflict((conflict) => conflict.column("email").doNothing())
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) return { ok: false, reason: "emailTaken" };
  // The core accepts user ids up to 2^31-1 only; both engines' id columns stop there as well.
  checkIntegerIn("assigned user id", row.id, 1, MAX_USER_ID);
  notifyAccountChange(db, { kind: "user", userId: row.id });
  return { ok: true, user: toUser(row) };
}

export async function getUserById(db: Db, userId: number): Promise<UserRecord | undefined> {
  const row = await db
    .selectFrom("users")
    .selectAll()
    .where("id", "=", checkUserId(userId))
    .executeTakeFirst();
  return row === undefined ? undefined : toUser(row);
}

export async function getUserByEmail(db: Db, email: string): Promise<UserRecord | undefined> {
  const row = await db
    .selectFrom("users")
    .selectAll()
    .where("email", "=", normalizeEmail(email))
    .executeTakeFirst();
  return row === undefined ? undefined : toUser(row);
}

/** Returns false when there is no such user. */
export async function setUserStatus(db: Db, userId: number, status: UserStatus): Promise<boolean> {
  if (status !== "active" && status !== "frozen") throw new RangeError(`store: bad user status ${status}`);
  const result = await db
    .updateTable("users")
    .set({ status })
    .where("id", "=", checkUserId(userId))
    .executeTakeFirst();
  // Even when nothing changed: a cache may hold the id as absent.
  notifyAccountChange(db, { kind: "user", userId });
  return result.numUpdatedRows > 0n;
}

/**
 * Replaces the user's password hash and records the security change (withdrawals wait after it),
 * in one transaction. Returns false when there is no such user.
 */
export async function setPasswordHash(
  db: Db,
  userId: number,
  passwordHash: string,
  changedMs: number,
): Promise<boolean> {
  checkUserId(userId);
  checkText("passwordHash", passwordHash, MAX_PASSWORD_HASH_LENGTH);
  checkIntegerIn("changedMs", changedMs, 0, Number.MAX_SAFE_INTEGER);
  const updated = await db.transaction().execute(async (tx) => {
    const result = await tx
      .updateTable("users")
      .set({ password_hash: passwordHash })
      .where("id", "=", userId)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    await tx
      .insertInto("user_security")
      .values({ user_id: userId, security_changed_ms: changedMs })
      .onConflict((conflict) => conflict.column("user_id").doUpdateSet({ security_changed_ms: changedMs }))
      .execute();
    return true;
  });
  notifyAccountChange(db, { kind: "user", userId });
  return updated;
}

// ---- API keys ------------------------------------------------------------------------------------

function checkStrings(name: string, values: readonly string[], max: number, pattern: RegExp): string[] {
  if (!Array.isArray(values) || values.length > max) throw new RangeError(`store: at most ${max} ${name}`);
  for (const value of values)
    if (typeof value !== "string" || !pattern.test(value))
      throw new RangeError(`store: bad ${name} entry ${value}`);
  return [...values];
}

function checkKeyId(keyId: string): string {
  checkText("keyId", keyId, STORE_LIMITS.maxKeyIdLength);
  if (!KEY_ID.test(keyId)) throw new RangeError("store: keyId must be letters, digits, _ or -");
  return keyId;
}

/** Returns false when the key id is already taken. */
export async function createApiKey(
  db: Db,
  input: {
    keyId: string;
    userId: number;
    secretCiphertext: Uint8Array;
    scopes: readonly string[];
    ipAllowList: readonly string[];
    createdMs: number;
  },
): Promise<boolean> {
  if (input.secretCiphertext.length === 0 || input.secretCiphertext.length > MAX_SECRET_CIPHERTEXT_BYTES)
    throw new RangeError(`store: secretCiphertext must be 1..${MAX_SECRET_CIPHERTEXT_BYTES} bytes`);
  const row = await db
    .insertInto("api_keys")
    .values({
      key_id: checkKeyId(input.keyId),
      user_id: checkUserId(input.userId),
      secret_ciphertext: Buffer.from(input.secretCiphertext),
      scopes_json: JSON.stringify(checkStrings("scopes", input.scopes, STORE_LIMITS.maxScopes, SCOPE)),
      ip_allow_list_json: JSON.stringify(
        checkStrings("ipAllowList", input.ipAllowList, STORE_LIMITS.maxAllowedIps, IP_OR_CIDR),
      ),
      created_ms: checkIntegerIn("createdMs", input.createdMs, 0, Number.MAX_SAFE_INTEGER),
      revoked_ms: null,
    })
    .onConflict((conflict) => conflict.column("key_id").doNothing())
    .returning("key_id")
    .executeTakeFirst();
  notifyAccountChange(db, { kind: "apiKey", keyId: input.keyId });
  return row !== undefined;
}

/** The key, revoked or not: the caller rejects a key with revokedMs set. */
export async function getApiKey(db: Db, keyId: string): Promise<ApiKeyRecord | undefined> {
  const row = await db
    .selectFrom("api_keys")
    .selectAll()
    .where("key_id", "=", checkKeyId(keyId))
    .executeTakeFirst();
  return row === undefined ? undefined : toApiKey(row);
}

export async function apiKeysOfUser(
  db: Db,
  userId: number,
  options: { limit: number },
): Promise<ApiKeyRecord[]> {
  const rows = await db
    .selectFrom("api_keys")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .orderBy("created_ms", "asc")
    .orderBy("key_id", "asc")
    .limit(checkLimit(options.limit))
    .execute();
  return rows.map(toApiKey);
}

/** The user's keys not revoked, oldest first, at most `limit`. */
export async function liveApiKeysOfUser(
  db: Db,
  userId: number,
  options: { limit: number },
): Promise<ApiKeyRecord[]> {
  const rows = await db
    .selectFrom("api_keys")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("revoked_ms", "is", null)
    .orderBy("created_ms", "asc")
    .orderBy("key_id", "asc")
    .limit(checkLimit(options.limit))
    .execute();
  return rows.map(toApiKey);
}

/** Returns false when the key does not exist or was already revoked (the first revocation time stays). */
export async function revokeApiKey(db: Db, keyId: string, revokedMs: number): Promise<boolean> {
  const result = await db
    .updateTable("api_keys")
    .set({ revoked_ms: checkIntegerIn("revokedMs", revokedMs, 0, Number.MAX_SAFE_INTEGER) })
    .where("key_id", "=", checkKeyId(keyId))
    .where("revoked_ms", "is", null)
    .executeTakeFirst();
  notifyAccountChange(db, { kind: "apiKey", keyId });
  return result.numUpdatedRows > 0n;
}

/** The largest user id the core holds money or orders for (0 when none): raiseUserIdFloor's argument. */
export function maxUserIdOf(state: CoreStateView): number {
  let max = 0;
  for (const balance of state.userBalances) max = Math.max(max, balance.userId);
  for (const market of state.markets) {
    for (const order of market.bids) max = Math.max(max, order.userId);
    for (const order of market.asks) max = Math.max(max, order.userId);
    for (const stop of market.stops) max = Math.max(max, stop.userId);
  }
  return max;
}

/**
 * Makes the next assigned user id greater than `floorUserId` (never lowers it). Run on open with
 * the largest user id the core knows: the core's journal is fsynced, the users table (SQLite with
 * synchronous=NORMAL) is not, so a power cut can lose the newest users rows while the core still
 * holds money for their ids; without the floor the next account would be given such an id.
 */
export async function raiseUserIdFloor(
  db: Db,
  engine: "sqlite" | "postgres",
  floorUserId: number,
): Promise<void> {
  if (floorUserId === 0) return;
  checkUserId(floorUserId);
  if (engine === "sqlite") {
    // AUTOINCREMENT assigns max(sqlite_sequence.seq, max(rowid)) + 1; the row exists after the
    // first insert only, and sqlite_sequence has no unique key to upsert on.
    await db.transaction().execute(async (tx) => {
      const updated = await sql`update sqlite_sequence set seq = ${floorUserId}
        where name = 'users' and seq < ${floorUserId}`.execute(tx);
      if ((updated.numAffectedRows ?? 0n) > 0n) return;
      const present = await sql<{
        seq: number;
      }>`select seq from sqlite_sequence where name = 'users'`.execute(tx);
      if (present.rows.length === 0)
        await sql`insert into sqlite_sequence (name, seq) values ('users', ${floorUserId})`.execute(tx);
    });
    return;
  }
  await db.transaction().execute(async (tx) => {
    // Inserts take ROW EXCLUSIVE, which this lock excludes: no id is drawn between read and setval.
    await sql`lock table users in exclusive mode`.execute(tx);
    // pg_sequence_last_value is null before the first nextval; setval(…, n) makes the next id n + 1.
    await sql`select setval(seq, ${floorUserId}) from
      (select pg_get_serial_sequence('users', 'id')::regclass as seq) s
      where coalesce(pg_sequence_last_value(seq), 0) < ${floorUserId}`.execute(tx);
  });
}

// ---- nonces --------------------------------------------------------------------------------------

/** Most rows legacyApiNonces returns: the core's own bound on keys (CoreLimits.maxApiKeyNonces). */
export const MAX_LEGACY_NONCES = 2_000_000;

/**
 * The nonces stores written before nonces moved into the core kept (table api_nonces, no longer
 * written): read once at start to seed the core's table on an upgraded data dir, so a request
 * captured before the upgrade is not accepted once after it. In key order, at most `limit`.
 */
export async function legacyApiNonces(db: Db, limit: number): Promise<{ keyId: string; nonce: number }[]> {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LEGACY_NONCES)
    throw new RangeError(`limit must be in 1..${MAX_LEGACY_NONCES}`);
  const rows = await db
    .selectFrom("api_nonces")
    .select(["key_id", "last_nonce"])
    .orderBy("key_id")
    .limit(limit)
    .execute();
  return rows.map((row) => ({ keyId: row.key_id, nonce: Number(row.last_nonce) }));
}

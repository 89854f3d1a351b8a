// People's browser sessions (issue 9 §1), written by the accounts service (src/accounts/sessions.ts).
// The store holds only a hash of each session id (the caller hashes; the id itself never reaches
// SQL), the user, the absolute expiry, the last time the session was used (for the idle limit,
// which the caller applies) and whether it was revoked. Revoking is a conditional update, so a
// revoked session never comes back.

import type { Kysely, Transaction } from "kysely";
import { notifyAccountChange } from "./accounts.ts";
import { checkIntegerIn, checkLimit, checkText, checkUserId } from "./limits.ts";
import type { StoreDatabase } from "./schema.ts";

type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>;

export const SESSION_LIMITS = {
  /** base64url of a SHA-256: 43 characters. */
  sessionHashLength: 43,
  maxClientIpLength: 64,
  maxUserAgentLength: 256,
  /** Most sessions one listing returns. */
  maxSessionsListed: 100,
} as const;

const SESSION_HASH = /^[A-Za-z0-9_-]{43}$/;

/**
 * A session stands where an API key stands for the private WebSocket feed: its "key id" is this
 * prefix and the session's hash, and a revoke is announced as that key's change, so a feed
 * logged in with the session ends at once.
 */
export const SESSION_KEY_PREFIX = "session:";

export interface SessionRecord {
  sessionHash: string;
  userId: number;
  createdMs: number;
  lastSeenMs: number;
  expiresMs: number;
  revokedMs: number | null;
  clientIp: string;
  userAgent: string;
  secondFactor: boolean;
}

function checkMs(name: string, value: number): number {
  return checkIntegerIn(name, value, 0, Number.MAX_SAFE_INTEGER);
}

function checkSessionHash(hash: string): string {
  if (typeof hash !== "string" || !SESSION_HASH.test(hash)) throw new RangeError("sessionHash is malformed");
  return hash;
}

function toRecord(row: StoreDatabase["user_sessions"]): SessionRecord {
  return {
    sessionHash: row.session_hash,
    userId: row.user_id,
    createdMs: Number(row.created_ms),
    lastSeenMs: Number(row.last_seen_ms),
    expiresMs: Number(row.expires_ms),
    revokedMs: row.revoked_ms === null ? null : Number(row.revoked_ms),
    clientIp: row.client_ip,
    userAgent: row.user_agent,
    secondFactor: Number(row.second_factor) === 1,
  };
}

export async function createSession(
  db: Db,
  input: {
    sessionHash: string;
    userId: number;
    nowMs: number;
    expiresMs: number;
    clientIp: string;
    userAgent: string;
    secondFactor: boolean;
  },
): Promise<void> {
  const nowMs = checkMs("nowMs", input.nowMs);
  const expiresMs = checkMs("expiresMs", input.expiresMs);
  if (expiresMs <= nowMs) throw new RangeError("expiresMs must be after nowMs");
  await db
    .insertInto("user_sessions")
    .values({
      session_hash: checkSessionHash(input.sessionHash),
      user_id: checkUserId(input.userId),
      created_ms: nowMs,
      last_seen_ms: nowMs,
      expires_ms: expiresMs,
      revoked_ms: null,
      client_ip: checkText("clientIp", input.clientIp, SESSION_LIMITS.maxClientIpLength),
      // A browser's user agent is informative only: cut, never refused.
      user_agent: String(input.userAgent).slice(0, SESSION_LIMITS.maxUserAgentLength),
      second_factor: input.secondFactor ? 1 : 0,
    })
    .execute();
}

export async function getSession(db: Db, sessionHash: string): Promise<SessionRecord | undefined> {
  const row = await db
    .selectFrom("user_sessions")
    .selectAll()
    .where("session_hash", "=", checkSessionHash(sessionHash))
    .executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** Records use at `nowMs` (only ever forward). */
export async function touchSession(db: Db, sessionHash: string, nowMs: number): Promise<void> {
  await db
    .updateTable("user_sessions")
    .set({ last_seen_ms: checkMs("nowMs", nowMs) })
    .where("session_hash", "=", checkSessionHash(sessionHash))
    .where("last_seen_ms", "<", nowMs)
    .where("revoked_ms", "is", null)
    .execute();
}

/** Revokes one session of the user; false when it is not theirs or was already revoked. */
export async function revokeSession(
  db: Kysely<StoreDatabase>,
  input: { userId: number; sessionHash: string; nowMs: number },
): Promise<boolean> {
  const result = await db
    .updateTable("user_sessions")
    .set({ revoked_ms: checkMs("nowMs", input.nowMs) })
    .where("session_hash", "=", checkSessionHash(input.sessionHash))
    .where("user_id", "=", checkUserId(input.userId))
    .where("revoked_ms", "is", null)
    .executeTakeFirst();
  const revoked = Number(result.numUpdatedRows) === 1;
  if (revoked)
    notifyAccountChange(db, { kind: "apiKey", keyId: `${SESSION_KEY_PREFIX}${input.sessionHash}` });
  return revoked;
}

/** Revokes every live session of the user (a freeze, a password change); returns how many. */
export async function revokeSessionsOfUser(db: Db, userId: number, nowMs: number): Promise<number> {
  const result = await db
    .updateTable("user_sessions")
    .set({ revoked_ms: checkMs("nowMs", nowMs) })
    .where("user_id", "=", checkUserId(userId))
    .where("revoked_ms", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The user's sessions not revoked and not past their absolute expiry, newest first. */
export async function liveSessionsOfUser(
  db: Db,
  userId: number,
  options: { nowMs: number; limit: number },
): Promise<SessionRecord[]> {
  const limit = Math.min(checkLimit(options.limit), SESSION_LIMITS.maxSessionsListed);
  const rows = await db
    .selectFrom("user_sessions")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("revoked_ms", "is", null)
    .where("expires_ms", ">", checkMs("nowMs", options.nowMs))
    .orderBy("created_ms", "desc")
    .orderBy("session_hash")
    .limit(limit)
    .execute();
  return rows.map(toRecord);
}

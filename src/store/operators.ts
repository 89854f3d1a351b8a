// The operator console's tables (issue 9 §3) on both engines: operator accounts (email, scrypt
// hash, role, disabled time) and their console sessions (stored by SHA-256 only, like
// user_sessions), plus the two bounded pages the console reads that no other query gives: users
// by email (with a cursor) and the audit log newest first. Disabling an operator also revokes
// their sessions, in one transaction, so a disabled operator's cookie stops at once.
// An operator may have a second factor (TOTP): its sealed secret, status and last used step are
// columns of operator_accounts (migration 0008).

import { type Kysely, type Selectable, sql, type Transaction } from "kysely";
import { normalizeEmail } from "./accounts.ts";
import type { AuditRow } from "./incidents.ts";
import { checkId, checkIntegerIn, checkText, checkUserId, STORE_LIMITS } from "./limits.ts";
import type { AuditLogRow, OperatorAccountsTable, StoreDatabase } from "./schema.ts";

type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>;

export const OPERATOR_STORE_LIMITS = {
  maxPasswordHashLength: 1_024,
  /** Role names are short lower-case words; which ones exist is the operator layer's rule. */
  maxRoleLength: 16,
  maxClientIpLength: 64,
  maxUserAgentLength: 256,
  /** Operators one listing returns at most. */
  maxOperatorsListed: 1_000,
  /** Users one search page returns at most. */
  maxUsersPerPage: 200,
  /** The longest text a user search matches on. */
  maxSearchLength: 254,
  /** Audit rows one page returns at most. */
  maxAuditRowsPerPage: 500,
  /** A sealed TOTP secret (SecretBox text of a 32-character base32 secret) is far shorter. */
  maxSealedTotpLength: 1_024,
} as const;

const SESSION_HASH = /^[A-Za-z0-9_-]{43}$/;
const ROLE = /^[a-z]{1,16}$/;

export interface OperatorAccountRecord {
  operatorId: number;
  email: string;
  passwordHash: string;
  role: string;
  createdMs: number;
  disabledMs: number | null;
  /** none, pending (enabled but not yet confirmed by a first code) or enabled. */
  totpStatus: OperatorTotpStatus;
  /** The sealed secret while pending or enabled. */
  totpSecretSealed: string | null;
  /** The last time step a code was accepted for; a code of it or earlier is refused. */
  totpLastUsedStep: number | null;
}

export type OperatorTotpStatus = "none" | "pending" | "enabled";

export interface OperatorSessionRecord {
  sessionHash: string;
  operatorId: number;
  createdMs: number;
  lastSeenMs: number;
  expiresMs: number;
  revokedMs: number | null;
  clientIp: string;
  userAgent: string;
}

export interface UserPageRow {
  userId: number;
  email: string;
  status: string;
  createdMs: number;
}

export type CreateOperatorResult = { ok: true; operator: OperatorAccountRecord } | { ok: false };

function checkMs(name: string, value: number): number {
  return checkIntegerIn(name, value, 0, Number.MAX_SAFE_INTEGER);
}

function checkSessionHash(hash: string): string {
  if (typeof hash !== "string" || !SESSION_HASH.test(hash)) throw new RangeError("sessionHash is malformed");
  return hash;
}

function checkRole(role: string): string {
  if (typeof role !== "string" || !ROLE.test(role)) throw new RangeError("role is malformed");
  return role;
}

function toOperator(row: Selectable<OperatorAccountsTable>): OperatorAccountRecord {
  return {
    operatorId: Number(row.operator_id),
    email: row.email,
    passwordHash: row.password_hash,
    role: row.role,
    createdMs: Number(row.created_ms),
    disabledMs: row.disabled_ms === null ? null : Number(row.disabled_ms),
    totpStatus: row.totp_status ?? "none",
    totpSecretSealed: row.totp_secret_sealed,
    totpLastUsedStep: row.totp_last_used_step === null ? null : Number(row.totp_last_used_step),
  };
}

function checkStep(step: number): number {
  return checkIntegerIn("step", step, 0, Number.MAX_SAFE_INTEGER);
}

function toSession(row: StoreDatabase["operator_sessions"]): OperatorSessionRecord {
  return {
    sessionHash: row.session_hash,
    operatorId: Number(row.operator_id),
    createdMs: Number(row.created_ms),
    lastSeenMs: Number(row.last_seen_ms),
    expiresMs: Number(row.expires_ms),
    revokedMs: row.revoked_ms === null ? null : Number(row.revoked_ms),
    clientIp: row.client_ip,
    userAgent: row.user_agent,
  };
}

function toAuditRow(row: AuditLogRow): AuditRow {
  return {
    seq: Number(row.seq),
    tsMs: Number(row.ts_ms),
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    detailsJson: row.details_json,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** A new operator; `{ ok: false }` when the email (case-insensitive) is taken. */
export async function createOperator(
  db: Db,
  input: { email: string; passwordHash: string; role: string; createdMs: number },
): Promise<CreateOperatorResult> {
  const row = await db
    .insertInto("operator_accounts")
    .values({
      email: normalizeEmail(input.email),
      password_hash: checkText(
        "passwordHash",
        input.passwordHash,
        OPERATOR_STORE_LIMITS.maxPasswordHashLength,
      ),
      role: checkRole(input.role),
      created_ms: checkMs("createdMs", input.createdMs),
      disabled_ms: null,
    })
    // One statement, so two adds of one email race safely: the loser gets no row back.
    .onConflict((conflict) => conflict.column("email").doNothing())
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? { ok: false } : { ok: true, operator: toOperator(row) };
}

export async function operatorByEmail(db: Db, email: string): Promise<OperatorAccountRecord | undefined> {
  const row = await db
    .selectFrom("operator_accounts")
    .selectAll()
    .where("email", "=", normalizeEmail(email))
    .executeTakeFirst();
  return row === undefined ? undefined : toOperator(row);
}

export async function operatorById(db: Db, operatorId: number): Promise<OperatorAccountRecord | undefined> {
  const row = await db
    .selectFrom("operator_accounts")
    .selectAll()
    .where("operator_id", "=", checkId("operatorId", operatorId))
    .executeTakeFirst();
  return row === undefined ? undefined : toOperator(row);
}

/** Operators in the order they were added, disabled ones included. */
export async function listOperators(db: Db, limit: number): Promise<OperatorAccountRecord[]> {
  const rows = await db
    .selectFrom("operator_accounts")
    .selectAll()
    .orderBy("operator_id")
    .limit(checkIntegerIn("limit", limit, 1, OPERATOR_STORE_LIMITS.maxOperatorsListed))
    .execute();
  return rows.map(toOperator);
}

/**
 * Disables the operator and revokes their live sessions, in one transaction. Undefined when there
 * is no such operator; `alreadyDisabled` when it was (nothing changes then).
 */
export async function disableOperator(
  db: Kysely<StoreDatabase>,
  input: { email: string; nowMs: number },
): Promise<{ operator: OperatorAccountRecord; alreadyDisabled: boolean; sessionsEnded: number } | undefined> {
  const email = normalizeEmail(input.email);
  const nowMs = checkMs("nowMs", input.nowMs);
  return db.transaction().execute(async (trx) => {
    const found = await operatorByEmail(trx, email);
    if (found === undefined) return undefined;
    if (found.disabledMs !== null) return { operator: found, alreadyDisabled: true, sessionsEnded: 0 };
    await trx
      .updateTable("operator_accounts")
      .set({ disabled_ms: nowMs })
      .where("operator_id", "=", found.operatorId)
      .where("disabled_ms", "is", null)
      .execute();
    const ended = await trx
      .updateTable("operator_sessions")
      .set({ revoked_ms: nowMs })
      .where("operator_id", "=", found.operatorId)
      .where("revoked_ms", "is", null)
      .executeTakeFirst();
    return {
      operator: { ...found, disabledMs: nowMs },
      alreadyDisabled: false,
      sessionsEnded: Number(ended.numUpdatedRows),
    };
  });
}

/**
 * Stores a new pending TOTP secret (replacing a pending one). False when there is no such operator
 * or their 2FA is already enabled: one conditional UPDATE, so it never replaces an enabled secret.
 */
export async function putPendingOperatorTotp(
  db: Db,
  input: { operatorId: number; secretSealed: string },
): Promise<boolean> {
  const result = await db
    .updateTable("operator_accounts")
    .set({
      totp_secret_sealed: checkText(
        "secretSealed",
        input.secretSealed,
        OPERATOR_STORE_LIMITS.maxSealedTotpLength,
      ),
      totp_status: "pending",
      totp_last_used_step: null,
    })
    .where("operator_id", "=", checkId("operatorId", input.operatorId))
    .where((eb) => eb.or([eb("totp_status", "is", null), eb("totp_status", "=", "pending")]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Enables a pending secret with the step of its first code; false unless it was pending. */
export async function confirmOperatorTotp(db: Db, operatorId: number, step: number): Promise<boolean> {
  const result = await db
    .updateTable("operator_accounts")
    .set({ totp_status: "enabled", totp_last_used_step: checkStep(step) })
    .where("operator_id", "=", checkId("operatorId", operatorId))
    .where("totp_status", "=", "pending")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Uses a time step of an enabled secret: succeeds only when it is later than every step used
 * before. One conditional UPDATE, so two logins with the same code cannot both succeed.
 */
export async function useOperatorTotpStep(db: Db, operatorId: number, step: number): Promise<boolean> {
  const checkedStep = checkStep(step);
  const result = await db
    .updateTable("operator_accounts")
    .set({ totp_last_used_step: checkedStep })
    .where("operator_id", "=", checkId("operatorId", operatorId))
    .where("totp_status", "=", "enabled")
    .where((eb) =>
      eb.or([eb("totp_last_used_step", "is", null), eb("totp_last_used_step", "<", checkedStep)]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Removes the operator's secret (pending or enabled); false when they had none. */
export async function clearOperatorTotp(db: Db, operatorId: number): Promise<boolean> {
  const result = await db
    .updateTable("operator_accounts")
    .set({ totp_secret_sealed: null, totp_status: null, totp_last_used_step: null })
    .where("operator_id", "=", checkId("operatorId", operatorId))
    .where("totp_status", "is not", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function createOperatorSession(
  db: Db,
  input: {
    sessionHash: string;
    operatorId: number;
    nowMs: number;
    expiresMs: number;
    clientIp: string;
    userAgent: string;
  },
): Promise<void> {
  const nowMs = checkMs("nowMs", input.nowMs);
  const expiresMs = checkMs("expiresMs", input.expiresMs);
  if (expiresMs <= nowMs) throw new RangeError("expiresMs must be after nowMs");
  await db
    .insertInto("operator_sessions")
    .values({
      session_hash: checkSessionHash(input.sessionHash),
      operator_id: checkId("operatorId", input.operatorId),
      created_ms: nowMs,
      last_seen_ms: nowMs,
      expires_ms: expiresMs,
      revoked_ms: null,
      client_ip: checkText("clientIp", input.clientIp, OPERATOR_STORE_LIMITS.maxClientIpLength),
      // Informative only: cut, never refused.
      user_agent: String(input.userAgent).slice(0, OPERATOR_STORE_LIMITS.maxUserAgentLength),
    })
    .execute();
}

export async function getOperatorSession(
  db: Db,
  sessionHash: string,
): Promise<OperatorSessionRecord | undefined> {
  const row = await db
    .selectFrom("operator_sessions")
    .selectAll()
    .where("session_hash", "=", checkSessionHash(sessionHash))
    .executeTakeFirst();
  return row === undefined ? undefined : toSession(row);
}

/** Records use at `nowMs` (only ever forward, never on a revoked session). */
export async function touchOperatorSession(db: Db, sessionHash: string, nowMs: number): Promise<void> {
  await db
    .updateTable("operator_sessions")
    .set({ last_seen_ms: checkMs("nowMs", nowMs) })
    .where("session_hash", "=", checkSessionHash(sessionHash))
    .where("last_seen_ms", "<", nowMs)
    .where("revoked_ms", "is", null)
    .execute();
}

/** Revokes one session; false when it was already revoked or is unknown. */
export async function revokeOperatorSession(db: Db, sessionHash: string, nowMs: number): Promise<boolean> {
  const result = await db
    .updateTable("operator_sessions")
    .set({ revoked_ms: checkMs("nowMs", nowMs) })
    .where("session_hash", "=", checkSessionHash(sessionHash))
    .where("revoked_ms", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * A page of users in id order after `afterUserId`, optionally only those whose email contains
 * `emailContains` (emails are stored lower-case; the search text is lower-cased, and LIKE's
 * wildcards in it are escaped so they match themselves).
 */
export async function usersPage(
  db: Db,
  input: { emailContains?: string; afterUserId?: number; limit: number },
): Promise<UserPageRow[]> {
  const limit = checkIntegerIn("limit", input.limit, 1, OPERATOR_STORE_LIMITS.maxUsersPerPage);
  let query = db.selectFrom("users").select(["id", "email", "status", "created_ms"]);
  if (input.afterUserId !== undefined)
    query = query.where("id", ">", checkIntegerIn("afterUserId", input.afterUserId, 0, 2 ** 31));
  if (input.emailContains !== undefined && input.emailContains !== "") {
    const text = checkText("emailContains", input.emailContains, OPERATOR_STORE_LIMITS.maxSearchLength);
    const escaped = text.toLowerCase().replace(/[\\%_]/g, (character) => `\\${character}`);
    query = query.where(sql<boolean>`${sql.ref("email")} like ${`%${escaped}%`} escape '\\'`);
  }
  const rows = await query.orderBy("id").limit(limit).execute();
  return rows.map((row) => ({
    userId: checkUserId(Number(row.id)),
    email: row.email,
    status: row.status,
    createdMs: Number(row.created_ms),
  }));
}

/** Audit rows newest first, before `beforeSeq` when given, optionally of one subject. */
export async function auditPage(
  db: Db,
  input: { beforeSeq?: number; subject?: string; limit: number },
): Promise<AuditRow[]> {
  const limit = checkIntegerIn("limit", input.limit, 1, OPERATOR_STORE_LIMITS.maxAuditRowsPerPage);
  let query = db.selectFrom("audit_log").selectAll();
  if (input.beforeSeq !== undefined) query = query.where("seq", "<", checkId("beforeSeq", input.beforeSeq));
  if (input.subject !== undefined)
    query = query.where("subject", "=", checkText("subject", input.subject, STORE_LIMITS.maxAuditTextLength));
  const rows = await query.orderBy("seq", "desc").limit(limit).execute();
  return rows.map(toAuditRow);
}

/** What the exchange hands the operator layer (src/exchange/boundary.ts `operators`). */
export interface OperatorStore {
  create(input: {
    email: string;
    passwordHash: string;
    role: string;
    createdMs: number;
  }): Promise<CreateOperatorResult>;
  byEmail(email: string): Promise<OperatorAccountRecord | undefined>;
  byId(operatorId: number): Promise<OperatorAccountRecord | undefined>;
  list(limit: number): Promise<OperatorAccountRecord[]>;
  disable(input: { email: string; nowMs: number }): ReturnType<typeof disableOperator>;
  putPendingTotp(input: { operatorId: number; secretSealed: string }): Promise<boolean>;
  confirmTotp(operatorId: number, step: number): Promise<boolean>;
  useTotpStep(operatorId: number, step: number): Promise<boolean>;
  clearTotp(operatorId: number): Promise<boolean>;
  createSession(input: Parameters<typeof createOperatorSession>[1]): Promise<void>;
  session(sessionHash: string): Promise<OperatorSessionRecord | undefined>;
  touchSession(sessionHash: string, nowMs: number): Promise<void>;
  revokeSession(sessionHash: string, nowMs: number): Promise<boolean>;
  usersPage(input: { emailContains?: string; afterUserId?: number; limit: number }): Promise<UserPageRow[]>;
  auditPage(input: { beforeSeq?: number; subject?: string; limit: number }): Promise<AuditRow[]>;
}

export function bindOperatorStore(db: Kysely<StoreDatabase>): OperatorStore {
  return {
    create: (input) => createOperator(db, input),
    byEmail: (email) => operatorByEmail(db, email),
    byId: (operatorId) => operatorById(db, operatorId),
    list: (limit) => listOperators(db, limit),
    disable: (input) => disableOperator(db, input),
    putPendingTotp: (input) => putPendingOperatorTotp(db, input),
    confirmTotp: (operatorId, step) => confirmOperatorTotp(db, operatorId, step),
    useTotpStep: (operatorId, step) => useOperatorTotpStep(db, operatorId, step),
    clearTotp: (operatorId) => clearOperatorTotp(db, operatorId),
    createSession: (input) => createOperatorSession(db, input),
    session: (sessionHash) => getOperatorSession(db, sessionHash),
    touchSession: (sessionHash, nowMs) => touchOperatorSession(db, sessionHash, nowMs),
    revokeSession: (sessionHash, nowMs) => revokeOperatorSession(db, sessionHash, nowMs),
    usersPage: (input) => usersPage(db, input),
    auditPage: (input) => auditPage(db, input),
  };
}

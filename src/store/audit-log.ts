// The hash-chained audit log: every row stores sha256(prev_hash + canonical row), and seq runs
// 1, 2, 3, … without gaps, so editing, deleting or inserting any row breaks the chain at that row.
// Cutting rows off the tail leaves a valid shorter chain; the audit_head row catches that unless it
// is rewritten too, so also publish auditHead() somewhere the database's owner cannot rewrite (the
// status page, an operator's notes) and compare.

import { createHash } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import { checkIntegerIn, checkText, STORE_LIMITS } from "./limits.ts";
import type { AuditLogRow, StoreDatabase } from "./schema.ts";

type Db = Kysely<StoreDatabase>;
type Tx = Transaction<StoreDatabase>;

export const GENESIS_HASH = "0".repeat(64);
const VERIFY_PAGE_ROWS = 1_000;
const HEAD_ID = 1;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface AuditInput {
  tsMs: number;
  /** Who: "user:42", "operator:alice", "system". */
  actor: string;
  /** What: "apiKey.create", "withdrawal.approve", … */
  action: string;
  /** On what: "apiKey:K1", "user:42", … */
  subject: string;
  details: JsonValue;
}

export interface AuditEntry {
  seq: number;
  tsMs: number;
  actor: string;
  action: string;
  subject: string;
  detailsJson: string;
  prevHash: string;
  hash: string;
}

export type AuditVerifyResult =
  | { ok: true; checkedRows: number; head: { seq: number; hash: string } | null }
  | { ok: false; checkedRows: number; seq: number; problem: "gap" | "prevHash" | "hash" | "head" };

/** JSON with object keys sorted at every level, so equal values always hash the same. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError("audit: numbers must be finite");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(",")}}`;
}

/** sha256(prev_hash + the row's fields as a canonical JSON array), lowercase hex. */
export function auditRowHash(prevHash: string, row: Omit<AuditEntry, "prevHash" | "hash">): string {
  const canonicalRow = JSON.stringify([
    row.seq,
    row.tsMs,
    row.actor,
    row.action,
    row.subject,
    row.detailsJson,
  ]);
  return createHash("sha256").update(prevHash).update(canonicalRow).digest("hex");
}

function toEntry(row: AuditLogRow): AuditEntry {
  return {
    seq: row.seq,
    tsMs: row.ts_ms,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    detailsJson: row.details_json,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** The chain's head (last seq and hash) as the head row records it, or null for an empty log. */
export async function auditHead(db: Db): Promise<{ seq: number; hash: string } | null> {
  const row = await db
    .selectFrom("audit_head")
    .select(["seq", "hash"])
    .where("id", "=", HEAD_ID)
    .executeTakeFirst();
  return row === undefined || row.seq === 0 ? null : row;
}

function checkInput(input: AuditInput): string {
  checkIntegerIn("tsMs", input.tsMs, 0, Number.MAX_SAFE_INTEGER);
  checkText("actor", input.actor, STORE_LIMITS.maxAuditTextLength);
  checkText("action", input.action, STORE_LIMITS.maxAuditTextLength);
  checkText("subject", input.subject, STORE_LIMITS.maxAuditTextLength);
  const detailsJson = canonicalJson(input.details);
  if (detailsJson.length > STORE_LIMITS.maxAuditDetailsLength)
    throw new RangeError(`audit: details longer than ${STORE_LIMITS.maxAuditDetailsLength} characters`);
  return detailsJson;
}

/** Reads the head and takes its row lock until the transaction ends (creating it on first use). */
async function lockHead(tx: Tx): Promise<{ seq: number; hash: string }> {
  const lock = () =>
    tx
      .updateTable("audit_head")
      .set((eb) => ({ seq: eb.ref("seq") }))
      .where("id", "=", HEAD_ID)
      .returning(["seq", "hash"])
      .executeTakeFirst();
  const head = await lock();
  if (head !== undefined) return head;
  await tx
    .insertInto("audit_head")
    .values({ id: HEAD_ID, seq: 0, hash: GENESIS_HASH })
    .onConflict((conflict) => conflict.column("id").doNothing())
    .execute();
  const created = await lock();
  if (created === undefined) throw new Error("audit: head row missing");
  return created;
}

/**
 * Appends one row after the current head, in one transaction that holds the head's row lock, so
 * concurrent appenders (several gateways on one PostgreSQL) take turns and never fork the chain.
 */
export async function appendAudit(db: Db, input: AuditInput): Promise<AuditEntry> {
  const detailsJson = checkInput(input);
  return db.transaction().execute(async (tx) => {
    const head = await lockHead(tx);
    const fields = {
      seq: head.seq + 1,
      tsMs: input.tsMs,
      actor: input.actor,
      action: input.action,
      subject: input.subject,
      detailsJson,
    };
    const entry: AuditEntry = { ...fields, prevHash: head.hash, hash: auditRowHash(head.hash, fields) };
    await tx
      .insertInto("audit_log")
      .values({
        seq: entry.seq,
        ts_ms: entry.tsMs,
        actor: entry.actor,
        action: entry.action,
        subject: entry.subject,
        details_json: entry.detailsJson,
        prev_hash: entry.prevHash,
        hash: entry.hash,
      })
      .execute();
    await tx
      .updateTable("audit_head")
      .set({ seq: entry.seq, hash: entry.hash })
      .where("id", "=", HEAD_ID)
      .execute();
    return entry;
  });
}

/** Checks one row against its predecessor; null when it is sound. */
function rowProblem(
  row: AuditEntry,
  expectedSeq: number,
  prevHash: string,
): "gap" | "prevHash" | "hash" | null {
  if (row.seq !== expectedSeq) return "gap";
  if (row.prevHash !== prevHash) return "prevHash";
  if (auditRowHash(prevHash, row) !== row.hash) return "hash";
  return null;
}

/**
 * Walks the chain from `fromSeq` (default 1) for at most `maxRows` rows, page by page, and
 * reports the first row that is missing, points at the wrong predecessor, or does not hash to its
 * stored hash. Starting past 1 trusts the row before `fromSeq`.
 */
export async function verifyAuditLog(
  db: Db,
  options: { fromSeq?: number; maxRows?: number } = {},
): Promise<AuditVerifyResult> {
  const fromSeq = checkIntegerIn("fromSeq", options.fromSeq ?? 1, 1, Number.MAX_SAFE_INTEGER);
  const maxRows = checkIntegerIn(
    "maxRows",
    options.maxRows ?? STORE_LIMITS.maxAuditRowsPerVerify,
    1,
    STORE_LIMITS.maxAuditRowsPerVerify,
  );
  let prevHash = GENESIS_HASH;
  if (fromSeq > 1) {
    const previous = await db
      .selectFrom("audit_log")
      .select("hash")
      .where("seq", "=", fromSeq - 1)
      .executeTakeFirst();
    if (previous === undefined) return { ok: false, checkedRows: 0, seq: fromSeq - 1, problem: "gap" };
    prevHash = previous.hash;
  }
  let expectedSeq = fromSeq;
  let checkedRows = 0;
  let head: { seq: number; hash: string } | null = null;
  while (checkedRows < maxRows) {
    const rows = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("seq", ">=", expectedSeq)
      .orderBy("seq", "asc")
      .limit(Math.min(VERIFY_PAGE_ROWS, maxRows - checkedRows))
      .execute();
    if (rows.length === 0) break;
    for (const row of rows.map(toEntry)) {
      const problem = rowProblem(row, expectedSeq, prevHash);
      if (problem !== null) return { ok: false, checkedRows, seq: expectedSeq, problem };
      prevHash = row.hash;
      expectedSeq += 1;
      checkedRows += 1;
      head = { seq: row.seq, hash: row.hash };
    }
  }
  // A full walk must end where the head row says the chain ends; rows cut off the tail show here.
  const recorded = await auditHead(db);
  const walkedToEnd = checkedRows < maxRows;
  const endSeq = head?.seq ?? fromSeq - 1;
  if (walkedToEnd && ((recorded?.seq ?? 0) !== endSeq || (head !== null && recorded?.hash !== head.hash)))
    return { ok: false, checkedRows, seq: expectedSeq, problem: "head" };
  return { ok: true, checkedRows, head };
}

/** Most subjects one `auditEntriesOfSubjects` names, and most rows it returns. */
export const MAX_AUDIT_SUBJECTS_PER_QUERY = 200;
export const MAX_AUDIT_ROWS_PER_QUERY = 500;

/**
 * The newest rows about any of `subjects` (a user's `user:42` and `apiKey:…`), newest first, at
 * most `limit`; with `beforeSeq`, only rows before it (the next page). Reads the subject index.
 */
export async function auditEntriesOfSubjects(
  db: Db,
  subjects: readonly string[],
  options: { limit: number; beforeSeq?: number },
): Promise<AuditEntry[]> {
  if (subjects.length > MAX_AUDIT_SUBJECTS_PER_QUERY)
    throw new RangeError(`audit: at most ${MAX_AUDIT_SUBJECTS_PER_QUERY} subjects per query`);
  for (const subject of subjects) checkText("subject", subject, STORE_LIMITS.maxAuditTextLength);
  const limit = checkIntegerIn("limit", options.limit, 1, MAX_AUDIT_ROWS_PER_QUERY);
  if (subjects.length === 0) return [];
  let query = db
    .selectFrom("audit_log")
    .selectAll()
    .where("subject", "in", [...subjects]);
  if (options.beforeSeq !== undefined)
    query = query.where(
      "seq",
      "<",
      checkIntegerIn("beforeSeq", options.beforeSeq, 1, Number.MAX_SAFE_INTEGER),
    );
  const rows = await query.orderBy("seq", "desc").limit(limit).execute();
  return rows.map(toEntry);
}

// Incidents and their timelines (issue 8 §3), on both engines. Written by the incident service
// (src/incidents/incident-service.ts), which also appends every entry to the audit log; this file
// keeps the tables consistent on its own: one open incident per kind and chain (a unique key set
// while open), entries numbered densely per incident by a counter on the incident's row, and a
// bound on everything a caller can make grow.
//
// Also here: the audit log read back by subject, for `incident export`, which rebuilds a timeline
// from the audit log rather than from these tables.

import type { Kysely } from "kysely";
import { auditHead } from "./audit-log.ts";
import { checkId, checkIntegerIn, checkText } from "./limits.ts";
import type { AuditLogRow, IncidentEntriesTable, StoreDatabase } from "./schema.ts";

type Db = Kysely<StoreDatabase>;

export const INCIDENT_STORE_LIMITS = {
  /** Incidents one list call returns at most. */
  maxListLimit: 1_000,
  /** Timeline entries one incident may hold; the next append is refused. */
  maxEntriesPerIncident: 10_000,
  maxTitleLength: 200,
  maxMessageLength: 1_000,
  maxActorLength: 200,
  maxKindLength: 64,
  maxChainLength: 64,
  /**
   * An entry's detail as JSON. 12 KiB, not more: the same detail goes into the audit row with the
   * message and ids, and an audit row's details stop at 16,000 characters.
   */
  maxDetailJsonLength: 12 * 1024,
  /** Audit rows one export reads at most (an incident's entries plus what others logged against it). */
  maxAuditRowsPerSubject: 20_000,
} as const;

export interface IncidentRecord {
  incidentId: number;
  kind: string;
  chain: string | null;
  title: string;
  status: "open" | "resolved";
  openedMs: number;
  resolvedMs: number | null;
  entryCount: number;
}

export interface IncidentEntryRecord {
  incidentId: number;
  entry: number;
  type: string;
  atMs: number;
  actor: string;
  message: string;
  detailJson: string;
}

export type NewIncidentEntry = Omit<IncidentEntryRecord, "incidentId" | "entry">;

/** Refused input: the caller (CLI, operator API) shows the message; nothing was written. */
export class IncidentStoreError extends Error {
  constructor(
    readonly kind: "notFound" | "resolved" | "timelineFull",
    message: string,
  ) {
    super(message);
    this.name = "IncidentStoreError";
  }
}

function openKey(kind: string, chain: string | null): string {
  return `${kind}|${chain ?? "*"}`;
}

function checkEntry(entry: NewIncidentEntry): void {
  checkText("type", entry.type, INCIDENT_STORE_LIMITS.maxKindLength);
  checkIntegerIn("atMs", entry.atMs, 0, Number.MAX_SAFE_INTEGER);
  checkText("actor", entry.actor, INCIDENT_STORE_LIMITS.maxActorLength);
  checkText("message", entry.message, INCIDENT_STORE_LIMITS.maxMessageLength);
  checkText("detailJson", entry.detailJson, INCIDENT_STORE_LIMITS.maxDetailJsonLength);
}

interface IncidentRow {
  incident_id: number;
  kind: string;
  chain: string | null;
  title: string;
  status: string;
  opened_ms: number;
  resolved_ms: number | null;
  entry_count: number;
}

function toIncident(row: IncidentRow): IncidentRecord {
  return {
    incidentId: Number(row.incident_id),
    kind: row.kind,
    chain: row.chain,
    title: row.title,
    status: row.status === "resolved" ? "resolved" : "open",
    openedMs: Number(row.opened_ms),
    resolvedMs: row.resolved_ms === null ? null : Number(row.resolved_ms),
    entryCount: Number(row.entry_count),
  };
}

function toEntry(row: IncidentEntriesTable): IncidentEntryRecord {
  return {
    incidentId: Number(row.incident_id),
    entry: Number(row.entry),
    type: row.type,
    atMs: Number(row.at_ms),
    actor: row.actor,
    message: row.message,
    detailJson: row.detail_json,
  };
}

/**
 * Opens an incident with its first entry, or returns the open incident of the same kind and chain
 * (created: false, nothing written). One statement decides, so two detectors racing on PostgreSQL
 * still make one incident.
 */
export async function openIncident(
  db: Db,
  input: { kind: string; chain: string | null; title: string; openedMs: number; first: NewIncidentEntry },
): Promise<{ incident: IncidentRecord; first: IncidentEntryRecord | null; created: boolean }> {
  checkText("kind", input.kind, INCIDENT_STORE_LIMITS.maxKindLength);
  if (input.chain !== null) checkText("chain", input.chain, INCIDENT_STORE_LIMITS.maxChainLength);
  checkText("title", input.title, INCIDENT_STORE_LIMITS.maxTitleLength);
  checkIntegerIn("openedMs", input.openedMs, 0, Number.MAX_SAFE_INTEGER);
  checkEntry(input.first);
  const key = openKey(input.kind, input.chain);
  return db.transaction().execute(async (tx) => {
    const inserted = await tx
      .insertInto("incidents")
      .values({
        kind: input.kind,
        chain: input.chain,
        title: input.title,
        status: "open",
        open_key: key,
        opened_ms: input.openedMs,
        resolved_ms: null,
        entry_count: 1,
      })
      .onConflict((conflict) => conflict.column("open_key").doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted === undefined) {
      const existing = await tx
        .selectFrom("incidents")
        .selectAll()
        .where("open_key", "=", key)
        .executeTakeFirstOrThrow();
      return { incident: toIncident(existing), first: null, created: false };
    }
    const incident = toIncident(inserted);
    const row: IncidentEntriesTable = {
      incident_id: incident.incidentId,
      entry: 1,
      type: input.first.type,
      at_ms: input.first.atMs,
      actor: input.first.actor,
      message: input.first.message,
      detail_json: input.first.detailJson,
    };
    await tx.insertInto("incident_entries").values(row).execute();
    return { incident, first: toEntry(row), created: true };
  });
}

/**
 * Appends an entry (the next number). `resolve` also closes the incident in the same transaction.
 * Throws IncidentStoreError for an unknown or resolved incident, or a full timeline.
 */
export async function appendIncidentEntry(
  db: Db,
  incidentId: number,
  entry: NewIncidentEntry,
  options: { resolve?: boolean } = {},
): Promise<IncidentEntryRecord> {
  checkId("incidentId", incidentId);
  checkEntry(entry);
  return db.transaction().execute(async (tx) => {
    // The counter's update takes the incident's row lock: concurrent appends take turns.
    const counted = await tx
      .updateTable("incidents")
      .set((eb) => ({ entry_count: eb("entry_count", "+", 1) }))
      .where("incident_id", "=", incidentId)
      .where("entry_count", "<", INCIDENT_STORE_LIMITS.maxEntriesPerIncident)
      .returning(["entry_count", "status"])
      .executeTakeFirst();
    if (counted === undefined) {
      const exists = await tx
        .selectFrom("incidents")
        .select("incident_id")
        .where("incident_id", "=", incidentId)
        .executeTakeFirst();
      if (exists === undefined) throw new IncidentStoreError("notFound", `no incident ${incidentId}`);
      throw new IncidentStoreError(
        "timelineFull",
        `incident ${incidentId} holds ${INCIDENT_STORE_LIMITS.maxEntriesPerIncident} entries already`,
      );
    }
    if (options.resolve === true && counted.status !== "open")
      throw new IncidentStoreError("resolved", `incident ${incidentId} is already resolved`);
    const row: IncidentEntriesTable = {
      incident_id: incidentId,
      entry: Number(counted.entry_count),
      type: entry.type,
      at_ms: entry.atMs,
      actor: entry.actor,
      message: entry.message,
      detail_json: entry.detailJson,
    };
    await tx.insertInto("incident_entries").values(row).execute();
    if (options.resolve === true)
      await tx
        .updateTable("incidents")
        .set({ status: "resolved", open_key: null, resolved_ms: entry.atMs })
        .where("incident_id", "=", incidentId)
        .execute();
    return toEntry(row);
  });
}

export async function getIncident(db: Db, incidentId: number): Promise<IncidentRecord | undefined> {
  checkId("incidentId", incidentId);
  const row = await db
    .selectFrom("incidents")
    .selectAll()
    .where("incident_id", "=", incidentId)
    .executeTakeFirst();
  return row === undefined ? undefined : toIncident(row);
}

/** Newest first, at most `limit` (≤ maxListLimit). */
export async function listIncidents(
  db: Db,
  filter: { status?: "open" | "resolved"; limit: number },
): Promise<IncidentRecord[]> {
  checkIntegerIn("limit", filter.limit, 1, INCIDENT_STORE_LIMITS.maxListLimit);
  let query = db.selectFrom("incidents").selectAll();
  if (filter.status !== undefined) query = query.where("status", "=", filter.status);
  const rows = await query.orderBy("incident_id", "desc").limit(filter.limit).execute();
  return rows.map(toIncident);
}

/**
 * Entries of one incident in order: the first `limit` after entry `afterEntry`, or with
 * `newest`, the last `limit` (still returned oldest first).
 */
export async function incidentEntries(
  db: Db,
  incidentId: number,
  options: { afterEntry?: number; limit: number; newest?: boolean },
): Promise<IncidentEntryRecord[]> {
  checkId("incidentId", incidentId);
  checkIntegerIn("limit", options.limit, 1, INCIDENT_STORE_LIMITS.maxEntriesPerIncident);
  let query = db.selectFrom("incident_entries").selectAll().where("incident_id", "=", incidentId);
  if (options.afterEntry !== undefined) query = query.where("entry", ">", options.afterEntry);
  const rows = await query
    .orderBy("entry", options.newest === true ? "desc" : "asc")
    .limit(options.limit)
    .execute();
  const entries = rows.map(toEntry);
  return options.newest === true ? entries.reverse() : entries;
}

export interface AuditRow {
  seq: number;
  tsMs: number;
  actor: string;
  action: string;
  subject: string;
  detailsJson: string;
  prevHash: string;
  hash: string;
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

/** The audit rows about one subject ("incident:7"), oldest first, at most maxAuditRowsPerSubject. */
export async function auditRowsOfSubject(db: Db, subject: string): Promise<AuditRow[]> {
  checkText("subject", subject, 1_000);
  const rows = await db
    .selectFrom("audit_log")
    .selectAll()
    .where("subject", "=", subject)
    .orderBy("seq", "asc")
    .limit(INCIDENT_STORE_LIMITS.maxAuditRowsPerSubject)
    .execute();
  return rows.map(toAuditRow);
}

/** The audit chain's head (last seq and hash), or null for an empty log. */
export function auditChainHead(db: Db): Promise<{ seq: number; hash: string } | null> {
  return auditHead(db).then((head) => (head === null ? null : { seq: Number(head.seq), hash: head.hash }));
}

/** The incident store bound to a database, as the exchange boundary hands it out. */
export interface IncidentStore {
  open: (input: Parameters<typeof openIncident>[1]) => ReturnType<typeof openIncident>;
  append: (
    incidentId: number,
    entry: NewIncidentEntry,
    options?: { resolve?: boolean },
  ) => Promise<IncidentEntryRecord>;
  get: (incidentId: number) => Promise<IncidentRecord | undefined>;
  list: (filter: { status?: "open" | "resolved"; limit: number }) => Promise<IncidentRecord[]>;
  entries: (
    incidentId: number,
    options: { afterEntry?: number; limit: number; newest?: boolean },
  ) => Promise<IncidentEntryRecord[]>;
  auditRowsOfSubject: (subject: string) => Promise<AuditRow[]>;
  auditHead: () => Promise<{ seq: number; hash: string } | null>;
}

export function bindIncidentStore(db: Db): IncidentStore {
  return {
    open: (input) => openIncident(db, input),
    append: (incidentId, entry, options) => appendIncidentEntry(db, incidentId, entry, options),
    get: (incidentId) => getIncident(db, incidentId),
    list: (filter) => listIncidents(db, filter),
    entries: (incidentId, options) => incidentEntries(db, incidentId, options),
    auditRowsOfSubject: (subject) => auditRowsOfSubject(db, subject),
    auditHead: () => auditChainHead(db),
  };
}

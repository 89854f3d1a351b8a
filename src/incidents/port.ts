// The incidents port: what custody's breaker, the operator actions, the gateway (status page,
// WebSocket notices) and the reserves publisher may ask of the incident service. Types only, so
// every layer can import it without pulling the service (src/incidents/incident-service.ts) in.
//
// An incident is a timeline of entries: detection, breaker, operator actions, notices, covers,
// rotations, resolution. Every entry is also appended to the hash-chained audit log, so
// `incident export` rebuilds the timeline from the audit log alone.

/** Why an incident was opened. */
export const INCIDENT_KINDS = ["unmatchedOutflow", "reconciliationBreak", "operator"] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

/** What a timeline entry records. APPEND ONLY (stored by name). */
export const TIMELINE_ENTRY_TYPES = [
  "detected",
  "breakerTripped",
  "breakerResumed",
  "signerHalted",
  "notice",
  "operatorAction",
  "cover",
  "rotation",
  "reservesPublished",
  "resolved",
] as const;
export type TimelineEntryType = (typeof TIMELINE_ENTRY_TYPES)[number];

export interface IncidentOpenRequest {
  kind: IncidentKind;
  /** The chain concerned ("devnet-btc"), or null for an exchange-wide incident. */
  chain: string | null;
  /** One line for the status page: 3..200 printable characters. */
  title: string;
  /** What was seen (txids, residuals, block height), kept in the timeline's first entry. */
  detail: Record<string, unknown>;
  /** When the offending block or action was seen, ms since the epoch. */
  detectedAtMs: number;
  /** "system:custody", "operator:alice". */
  actor: string;
}

export interface TimelineEntry {
  /** 1, 2, 3… within the incident. */
  entry: number;
  type: TimelineEntryType;
  atMs: number;
  actor: string;
  /** A sentence for people (shown on the status page when type is "notice"). */
  message: string;
  detail: Record<string, unknown>;
}

export interface IncidentView {
  incidentId: number;
  kind: IncidentKind;
  chain: string | null;
  title: string;
  status: "open" | "resolved";
  openedAtMs: number;
  resolvedAtMs: number | null;
  timeline: TimelineEntry[];
}

/** A notice to every WebSocket client and the status page (a breaker trip, an operator's note, a rotation). */
export interface IncidentNotice {
  incidentId: number | null;
  /** "breaker", "note", "rotation", "resolved", … */
  kind: string;
  chain: string | null;
  message: string;
  atMs: number;
}

export interface IncidentPort {
  /**
   * Opens an incident, or returns the open one of the same kind and chain (a break seen on every
   * block opens one incident, not one per block). Durable (store + audit log) before it resolves.
   */
  open(request: IncidentOpenRequest): Promise<IncidentView>;
  /** Appends a timeline entry (durable, audited). Throws when the incident does not exist. */
  record(
    incidentId: number,
    entry: { type: TimelineEntryType; actor: string; message: string; detail?: Record<string, unknown> },
  ): Promise<TimelineEntry>;
  /** Appends a "notice" entry and fans the notice out (WebSocket clients, status page, webhooks). */
  notify(
    incidentId: number | null,
    notice: { kind: string; chain: string | null; message: string; actor: string },
  ): Promise<void>;
  get(incidentId: number): Promise<IncidentView | undefined>;
  list(filter: { status?: "open" | "resolved"; limit: number }): Promise<IncidentView[]>;
  /** Registers a listener for notices (the WebSocket gateway); returns the unsubscribe function. */
  onNotice(listener: (notice: IncidentNotice) => void): () => void;
  /**
   * The newest notices, newest first, at most `limit` (≤ 100), from memory (the status page's
   * feed). Optional so a test double need not keep one; IncidentService has it.
   */
  recentNotices?(limit: number): IncidentNotice[];
}

/** One audit row of an incident, as `incident export` rebuilds the timeline from the audit log. */
export interface ExportedEntry {
  seq: number;
  hash: string;
  prevHash: string;
  /** When the audit row was written. */
  loggedAtMs: number;
  actor: string;
  action: string;
  entry: number | null;
  type: string | null;
  /** When the entry happened (detection: when the offending block was seen). */
  atMs: number | null;
  message: string;
  detail: unknown;
  /** The row hashes to its stored hash from its stored predecessor hash. */
  hashOk: boolean;
}

/** An incident's timeline from the audit log alone (src/incidents/export.ts). */
export interface IncidentExport {
  incidentId: number;
  exportedAtMs: number;
  kind: string | null;
  chain: string | null;
  title: string | null;
  status: "open" | "resolved";
  openedAtMs: number | null;
  resolvedAtMs: number | null;
  /** The audit log's head when exported: compare with what the webhooks received. */
  auditHead: { seq: number; hash: string } | null;
  /** Every row hashed correctly and the entry numbers run 1, 2, 3… without a gap. */
  consistent: boolean;
  problems: string[];
  timeline: ExportedEntry[];
}

/** What operators do besides the port (src/operator/incident-actions.ts): resolve and export. */
export interface IncidentAdminPort extends IncidentPort {
  /** Resolves an open incident with the reason and tells everyone (a "resolved" notice). */
  resolve(incidentId: number, input: { actor: string; reason: string }): Promise<IncidentView>;
  /** The timeline rebuilt from the audit log's rows about this incident. */
  exportTimeline(incidentId: number): Promise<IncidentExport>;
}

// The incident service (issue 8 §2, §3, §7): IncidentPort over the store's incident tables and
// the hash-chained audit log, plus the fan-out of notices (WebSocket clients through onNotice,
// the status page through recentNotices, webhooks through the alerter) and the periodic shipping
// of the audit log's head to the webhooks.
//
// Durability first: an entry is in the store and the audit log before the call resolves, and
// only then fanned out, so nobody is told about what a crash could take back. The fan-out itself
// never waits on a receiver (listeners are called synchronously and must not block; webhooks
// are queued).

import type {
  ExchangeBoundary,
  IncidentEntryRecord,
  IncidentRecord,
  JsonValue,
} from "../exchange/boundary.ts";
import { INCIDENT_STORE_LIMITS, IncidentStoreError } from "../exchange/boundary.ts";
import { buildIncidentExport, type IncidentExport } from "./export.ts";
import {
  INCIDENT_KINDS,
  type IncidentAdminPort,
  type IncidentKind,
  type IncidentNotice,
  type IncidentOpenRequest,
  type IncidentView,
  TIMELINE_ENTRY_TYPES,
  type TimelineEntry,
  type TimelineEntryType,
} from "./port.ts";
import type { AlertPayload } from "./webhooks.ts";

export const INCIDENT_LIMITS = {
  maxListLimit: INCIDENT_STORE_LIMITS.maxListLimit,
  maxTimelineEntries: INCIDENT_STORE_LIMITS.maxEntriesPerIncident,
  minTitleLength: 3,
  maxTitleLength: 200,
  maxMessageLength: INCIDENT_STORE_LIMITS.maxMessageLength,
  maxActorLength: INCIDENT_STORE_LIMITS.maxActorLength,
  maxChainLength: INCIDENT_STORE_LIMITS.maxChainLength,
  maxNoticeKindLength: 32,
  maxDetailJsonLength: INCIDENT_STORE_LIMITS.maxDetailJsonLength,
  /** Entries of each incident a list() carries (the newest); get() carries them all. */
  listTimelineEntries: 50,
  /** Notices the status page keeps in memory (newest); older ones live in the timelines. */
  maxRecentNotices: 100,
  maxNoticeListeners: 64,
  /** The audit head's shipping interval: at least 1 s, at most a day. */
  minAuditHeadIntervalMs: 1_000,
  maxAuditHeadIntervalMs: 86_400_000,
} as const;

export const DEFAULT_AUDIT_HEAD_INTERVAL_MS = 60_000;

/** A refused request: the CLI and the operator API show `message`; nothing was written. */
export class IncidentError extends Error {
  constructor(
    readonly kind: "invalid" | "notFound" | "conflict",
    message: string,
  ) {
    super(message);
    this.name = "IncidentError";
  }
}

/** Where alerts go; WebhookAlerter in production, a recorder in tests. */
export interface AlertSink {
  enqueue(payload: AlertPayload): void;
}

export interface IncidentServiceOptions {
  exchange: Pick<ExchangeBoundary, "incidents" | "audit">;
  clock?: () => number;
  alerts?: AlertSink | null;
  /** A listener threw or the periodic head shipping failed: logged, never fatal. */
  onError?: (what: string, error: unknown) => void;
}

const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;

function invalid(message: string): IncidentError {
  return new IncidentError("invalid", message);
}

function checkLine(name: string, value: unknown, min: number, max: number): string {
  if (typeof value !== "string") throw invalid(`${name} must be text`);
  const trimmed = value.trim();
  if (trimmed.length < min || trimmed.length > max)
    throw invalid(`${name} must be ${min}..${max} characters, got ${trimmed.length}`);
  if (!PRINTABLE.test(trimmed)) throw invalid(`${name} must not hold control characters`);
  return trimmed;
}

/** A message may span lines (an operator's update); other control characters are refused. */
function checkMessage(value: unknown): string {
  if (typeof value !== "string") throw invalid("message must be text");
  const trimmed = value.trim();
  if (trimmed.length < 1 || trimmed.length > INCIDENT_LIMITS.maxMessageLength)
    throw invalid(`message must be 1..${INCIDENT_LIMITS.maxMessageLength} characters, got ${trimmed.length}`);
  if (!PRINTABLE.test(trimmed.replace(/[\n\t]/g, " ")))
    throw invalid("message must not hold control characters");
  return trimmed;
}

function checkId(incidentId: unknown): number {
  if (typeof incidentId !== "number" || !Number.isSafeInteger(incidentId) || incidentId < 1)
    throw invalid(`incident id must be a positive integer, got ${String(incidentId)}`);
  return incidentId;
}

function checkChain(chain: unknown): string | null {
  if (chain === null) return null;
  return checkLine("chain", chain, 1, INCIDENT_LIMITS.maxChainLength);
}

/** The detail as canonical-enough JSON, bounded; only JSON values (no functions, bigints, cycles). */
function detailJson(detail: unknown): string {
  if (detail === undefined) return "{}";
  if (detail === null || typeof detail !== "object" || Array.isArray(detail))
    throw invalid("detail must be a JSON object");
  let text: string;
  try {
    text = JSON.stringify(detail);
  } catch (error) {
    throw invalid(`detail is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (text.length > INCIDENT_LIMITS.maxDetailJsonLength)
    throw invalid(`detail must be at most ${INCIDENT_LIMITS.maxDetailJsonLength} characters of JSON`);
  return text;
}

function parseDetail(text: string): Record<string, unknown> {
  // Written only by detailJson above: a JSON object.
  return JSON.parse(text) as Record<string, unknown>;
}

function toTimelineEntry(record: IncidentEntryRecord): TimelineEntry {
  return {
    entry: record.entry,
    type: record.type as TimelineEntryType,
    atMs: record.atMs,
    actor: record.actor,
    message: record.message,
    detail: parseDetail(record.detailJson),
  };
}

function toView(
  record: IncidentRecord,
  entries: IncidentEntryRecord[],
): IncidentView & { entryCount: number } {
  return {
    incidentId: record.incidentId,
    kind: record.kind as IncidentKind,
    chain: record.chain,
    title: record.title,
    status: record.status,
    openedAtMs: record.openedMs,
    resolvedAtMs: record.resolvedMs,
    timeline: entries.map(toTimelineEntry),
    entryCount: record.entryCount,
  };
}

/** The audit action of a timeline entry (docs/INCIDENTS.md lists them). */
export function auditActionOf(type: TimelineEntryType): string {
  if (type === "detected") return "incident.open";
  if (type === "resolved") return "incident.resolve";
  if (type === "notice") return "incident.note";
  return "incident.entry";
}

export class IncidentService implements IncidentAdminPort {
  private readonly exchange: IncidentServiceOptions["exchange"];
  private readonly clock: () => number;
  private readonly alerts: AlertSink | null;
  private readonly onError: (what: string, error: unknown) => void;
  private readonly listeners = new Set<(notice: IncidentNotice) => void>();
  private readonly notices: IncidentNotice[] = [];
  private headTimer: NodeJS.Timeout | null = null;

  constructor(options: IncidentServiceOptions) {
    this.exchange = options.exchange;
    this.clock = options.clock ?? Date.now;
    this.alerts = options.alerts ?? null;
    this.onError = options.onError ?? (() => undefined);
  }

  async open(request: IncidentOpenRequest): Promise<IncidentView> {
    if (!INCIDENT_KINDS.includes(request.kind))
      throw invalid(`kind must be one of ${INCIDENT_KINDS.join(", ")}, got ${String(request.kind)}`);
    const chain = checkChain(request.chain);
    const title = checkLine(
      "title",
      request.title,
      INCIDENT_LIMITS.minTitleLength,
      INCIDENT_LIMITS.maxTitleLength,
    );
    const actor = checkLine("actor", request.actor, 1, INCIDENT_LIMITS.maxActorLength);
    const detail = detailJson(request.detail);
    if (!Number.isSafeInteger(request.detectedAtMs) || request.detectedAtMs < 0)
      throw invalid("detectedAtMs must be a non-negative integer (ms since the epoch)");
    const opened = await this.exchange.incidents.open({
      kind: request.kind,
      chain,
      title,
      openedMs: this.clock(),
      first: { type: "detected", atMs: request.detectedAtMs, actor, message: title, detailJson: detail },
    });
    if (opened.created && opened.first !== null) {
      await this.audit(opened.incident, opened.first, { title });
      await this.alert({
        type: "incident.opened",
        incident: this.summary(opened.incident),
        entry: toTimelineEntry(opened.first),
      });
    }
    return this.requireView(opened.incident.incidentId);
  }

  async record(
    incidentId: number,
    entry: { type: TimelineEntryType; actor: string; message: string; detail?: Record<string, unknown> },
  ): Promise<TimelineEntry> {
    const id = checkId(incidentId);
    if (!TIMELINE_ENTRY_TYPES.includes(entry.type))
      throw invalid(
        `entry type must be one of ${TIMELINE_ENTRY_TYPES.join(", ")}, got ${String(entry.type)}`,
      );
    if (entry.type === "detected") throw invalid("a detected entry is written by open() only");
    const actor = checkLine("actor", entry.actor, 1, INCIDENT_LIMITS.maxActorLength);
    const message = checkMessage(entry.message);
    const detail = detailJson(entry.detail);
    const incident = await this.requireIncident(id);
    const record = await this.append(incident, {
      type: entry.type,
      atMs: this.clock(),
      actor,
      message,
      detailJson: detail,
    });
    const recorded = toTimelineEntry(record);
    await this.alert({
      type: entry.type === "resolved" ? "incident.resolved" : "incident.entry",
      incident: this.summary({
        ...incident,
        status: entry.type === "resolved" ? "resolved" : incident.status,
      }),
      entry: recorded,
    });
    return recorded;
  }

  /** Resolves an open incident with the reason, and tells everyone (a "resolved" notice). */
  async resolve(incidentId: number, input: { actor: string; reason: string }): Promise<IncidentView> {
    const id = checkId(incidentId);
    const incident = await this.requireIncident(id);
    if (incident.status !== "open") throw new IncidentError("conflict", `incident ${id} is already resolved`);
    const reason = checkMessage(input.reason);
    await this.record(id, { type: "resolved", actor: input.actor, message: reason });
    this.fanOut({
      incidentId: id,
      kind: "resolved",
      chain: incident.chain,
      message: `Resolved: ${reason}`,
      atMs: this.clock(),
    });
    return this.requireView(id);
  }

  async notify(
    incidentId: number | null,
    notice: { kind: string; chain: string | null; message: string; actor: string },
  ): Promise<void> {
    const kind = checkLine("notice kind", notice.kind, 1, INCIDENT_LIMITS.maxNoticeKindLength);
    const chain = checkChain(notice.chain);
    const message = checkMessage(notice.message);
    const actor = checkLine("actor", notice.actor, 1, INCIDENT_LIMITS.maxActorLength);
    const atMs = this.clock();
    if (incidentId === null) {
      await this.exchange.audit.append({
        tsMs: atMs,
        actor,
        action: "notice.publish",
        subject: "notices",
        details: { kind, chain, message },
      });
      await this.alert({ type: "notice", notice: { incidentId: null, kind, chain, message, atMs } });
    } else {
      const incident = await this.requireIncident(checkId(incidentId));
      const record = await this.append(incident, {
        type: "notice",
        atMs,
        actor,
        message,
        detailJson: JSON.stringify({ kind, chain }),
      });
      await this.alert({
        type: "notice",
        notice: { incidentId, kind, chain, message, atMs },
        incident: this.summary(incident),
        entry: toTimelineEntry(record),
      });
    }
    this.fanOut({ incidentId, kind, chain, message, atMs });
  }

  async get(incidentId: number): Promise<(IncidentView & { entryCount: number }) | undefined> {
    const id = checkId(incidentId);
    const record = await this.exchange.incidents.get(id);
    if (record === undefined) return undefined;
    const entries = await this.exchange.incidents.entries(id, { limit: INCIDENT_LIMITS.maxTimelineEntries });
    return toView(record, entries);
  }

  /** Newest first; each with its newest listTimelineEntries entries (get() has them all). */
  async list(filter: {
    status?: "open" | "resolved";
    limit: number;
  }): Promise<(IncidentView & { entryCount: number })[]> {
    if (
      !Number.isSafeInteger(filter.limit) ||
      filter.limit < 1 ||
      filter.limit > INCIDENT_LIMITS.maxListLimit
    )
      throw invalid(`limit must be 1..${INCIDENT_LIMITS.maxListLimit}`);
    if (filter.status !== undefined && filter.status !== "open" && filter.status !== "resolved")
      throw invalid('status must be "open" or "resolved"');
    const records = await this.exchange.incidents.list(filter);
    const views = [];
    for (const record of records) {
      const entries = await this.exchange.incidents.entries(record.incidentId, {
        limit: INCIDENT_LIMITS.listTimelineEntries,
        newest: true,
      });
      views.push(toView(record, entries));
    }
    return views;
  }

  /** The timeline rebuilt from the audit log's rows about this incident (not from the incident tables). */
  async exportTimeline(incidentId: number): Promise<IncidentExport> {
    const id = checkId(incidentId);
    const rows = await this.exchange.incidents.auditRowsOfSubject(`incident:${id}`);
    if (rows.length === 0)
      throw new IncidentError("notFound", `the audit log holds no rows for incident ${id}`);
    const head = await this.exchange.incidents.auditHead();
    return buildIncidentExport(id, rows, head, this.clock());
  }

  onNotice(listener: (notice: IncidentNotice) => void): () => void {
    if (this.listeners.size >= INCIDENT_LIMITS.maxNoticeListeners)
      throw new RangeError(`at most ${INCIDENT_LIMITS.maxNoticeListeners} notice listeners`);
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The newest notices, newest first (the status page's feed), at most maxRecentNotices. */
  recentNotices(limit: number = INCIDENT_LIMITS.maxRecentNotices): IncidentNotice[] {
    return this.notices.slice(-Math.max(0, Math.min(limit, INCIDENT_LIMITS.maxRecentNotices))).reverse();
  }

  /** Sends the audit log's head (seq, hash) to the webhooks now. */
  async shipAuditHead(reason: "periodic" | "incident" | "start"): Promise<void> {
    if (this.alerts === null) return;
    const head = await this.exchange.incidents.auditHead();
    this.alerts.enqueue({ type: "audit.head", reason, head });
  }

  /** Ships the audit head every intervalMs (and once now) until stop(). */
  startAuditHeadShipping(intervalMs: number = DEFAULT_AUDIT_HEAD_INTERVAL_MS): void {
    if (
      !Number.isSafeInteger(intervalMs) ||
      intervalMs < INCIDENT_LIMITS.minAuditHeadIntervalMs ||
      intervalMs > INCIDENT_LIMITS.maxAuditHeadIntervalMs
    )
      throw new RangeError(
        `audit head interval must be ${INCIDENT_LIMITS.minAuditHeadIntervalMs}..${INCIDENT_LIMITS.maxAuditHeadIntervalMs} ms`,
      );
    if (this.alerts === null || this.headTimer !== null) return;
    const ship = (reason: "periodic" | "start") =>
      this.shipAuditHead(reason).catch((error) => this.onError("audit head shipping failed", error));
    void ship("start");
    this.headTimer = setInterval(() => void ship("periodic"), intervalMs);
    this.headTimer.unref();
  }

  stop(): void {
    if (this.headTimer !== null) clearInterval(this.headTimer);
    this.headTimer = null;
    this.listeners.clear();
  }

  private summary(incident: Pick<IncidentRecord, "incidentId" | "kind" | "chain" | "title" | "status">) {
    return {
      incidentId: incident.incidentId,
      kind: incident.kind,
      chain: incident.chain,
      title: incident.title,
      status: incident.status,
    };
  }

  /** An incident alert carries the audit head after its entry, so receivers hold a recent head. */
  private async alert(payload: AlertPayload): Promise<void> {
    if (this.alerts === null) return;
    let head: { seq: number; hash: string } | null = null;
    try {
      head = await this.exchange.incidents.auditHead();
    } catch (error) {
      this.onError("audit head read failed", error);
    }
    this.alerts.enqueue({ ...payload, auditHead: head });
  }

  private fanOut(notice: IncidentNotice): void {
    this.notices.push(notice);
    if (this.notices.length > INCIDENT_LIMITS.maxRecentNotices) this.notices.shift();
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch (error) {
        this.onError("notice listener failed", error);
      }
    }
  }

  private async append(
    incident: IncidentRecord,
    entry: { type: TimelineEntryType; atMs: number; actor: string; message: string; detailJson: string },
  ): Promise<IncidentEntryRecord> {
    let record: IncidentEntryRecord;
    try {
      record = await this.exchange.incidents.append(incident.incidentId, entry, {
        resolve: entry.type === "resolved",
      });
    } catch (error) {
      if (error instanceof IncidentStoreError)
        throw new IncidentError(error.kind === "notFound" ? "notFound" : "conflict", error.message);
      throw error;
    }
    await this.audit(incident, record, {});
    return record;
  }

  /** The audit row of a timeline entry: everything `incident export` needs to rebuild it. */
  private async audit(
    incident: IncidentRecord,
    record: IncidentEntryRecord,
    extra: { title?: string },
  ): Promise<void> {
    const details: { [key: string]: JsonValue } = {
      incidentId: incident.incidentId,
      kind: incident.kind,
      chain: incident.chain,
      entry: record.entry,
      type: record.type,
      atMs: record.atMs,
      message: record.message,
      // Parsed back so the audit row holds the object itself, not a string of it.
      detail: parseDetail(record.detailJson) as { [key: string]: JsonValue },
      ...(extra.title === undefined ? {} : { title: extra.title }),
    };
    await this.exchange.audit.append({
      tsMs: this.clock(),
      actor: record.actor,
      action: auditActionOf(record.type as TimelineEntryType),
      subject: `incident:${incident.incidentId}`,
      details,
    });
  }

  private async requireIncident(incidentId: number): Promise<IncidentRecord> {
    const incident = await this.exchange.incidents.get(incidentId);
    if (incident === undefined) throw new IncidentError("notFound", `no incident ${incidentId}`);
    return incident;
  }

  private async requireView(incidentId: number): Promise<IncidentView & { entryCount: number }> {
    const view = await this.get(incidentId);
    if (view === undefined) throw new IncidentError("notFound", `no incident ${incidentId}`);
    return view;
  }
}

// `incident export` (issue 8 §3): an incident's timeline rebuilt from the hash-chained audit log
// alone (its rows with subject "incident:N"), not from the incident tables, as JSON and as
// Markdown. Each row keeps its seq, prevHash and hash, and is checked against its own hash here;
// the export also records the log's head at the time, which a reader compares with the heads the
// webhooks received (docs/INCIDENTS.md) to see that the whole log was not rewritten since.

import { type AuditRow, auditRowHash } from "../exchange/boundary.ts";
import type { ExportedEntry, IncidentExport } from "./port.ts";

export type { ExportedEntry, IncidentExport } from "./port.ts";

function field<T>(
  details: Record<string, unknown>,
  name: string,
  check: (value: unknown) => value is T,
): T | null {
  const value = details[name];
  return check(value) ? value : null;
}

const isNumber = (value: unknown): value is number => typeof value === "number";
const isString = (value: unknown): value is string => typeof value === "string";

export function buildIncidentExport(
  incidentId: number,
  rows: readonly AuditRow[],
  auditHead: { seq: number; hash: string } | null,
  exportedAtMs: number,
): IncidentExport {
  const problems: string[] = [];
  const timeline: ExportedEntry[] = [];
  let kind: string | null = null;
  let chain: string | null = null;
  let title: string | null = null;
  let openedAtMs: number | null = null;
  let resolvedAtMs: number | null = null;
  let expectedEntry = 1;
  for (const row of rows) {
    const hashOk = auditRowHash(row.prevHash, row) === row.hash;
    if (!hashOk) problems.push(`audit row ${row.seq} does not match its hash`);
    let details: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(row.detailsJson);
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed))
        details = parsed as Record<string, unknown>;
    } catch {
      problems.push(`audit row ${row.seq}: details are not JSON`);
    }
    const entry = field(details, "entry", isNumber);
    const type = field(details, "type", isString);
    const atMs = field(details, "atMs", isNumber);
    if (entry !== null) {
      if (entry !== expectedEntry)
        problems.push(`entry ${expectedEntry} missing before audit row ${row.seq}`);
      expectedEntry = entry + 1;
    }
    if (row.action === "incident.open") {
      kind = field(details, "kind", isString);
      chain = field(details, "chain", isString);
      title = field(details, "title", isString);
      openedAtMs = atMs;
    }
    if (row.action === "incident.resolve") resolvedAtMs = atMs;
    timeline.push({
      seq: row.seq,
      hash: row.hash,
      prevHash: row.prevHash,
      loggedAtMs: row.tsMs,
      actor: row.actor,
      action: row.action,
      entry,
      type,
      atMs,
      message: field(details, "message", isString) ?? "",
      detail: details.detail ?? details,
      hashOk,
    });
  }
  if (timeline.length === 0) problems.push(`the audit log holds no rows for incident ${incidentId}`);
  return {
    incidentId,
    exportedAtMs,
    kind,
    chain,
    title,
    status: resolvedAtMs === null ? "open" : "resolved",
    openedAtMs,
    resolvedAtMs,
    auditHead,
    consistent: problems.length === 0,
    problems,
    timeline,
  };
}

function iso(ms: number | null): string {
  return ms === null ? "—" : new Date(ms).toISOString();
}

/** Markdown cells: one line, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

export function incidentExportMarkdown(report: IncidentExport): string {
  const lines = [
    `# Incident ${report.incidentId}: ${cell(report.title ?? "(title not in the audit log)")}`,
    "",
    `- kind: ${report.kind ?? "—"}; chain: ${report.chain ?? "exchange-wide"}; status: ${report.status}`,
    `- opened: ${iso(report.openedAtMs)}; resolved: ${iso(report.resolvedAtMs)}`,
    `- exported: ${iso(report.exportedAtMs)} from the audit log (rows with subject incident:${report.incidentId})`,
    `- audit head at export: ${report.auditHead === null ? "empty log" : `seq ${report.auditHead.seq}, hash ${report.auditHead.hash}`}`,
    `- consistency: ${report.consistent ? "every row matches its hash; entries run without a gap" : report.problems.map(cell).join("; ")}`,
    "",
    "| # | time (UTC) | type | actor | message | audit seq | hash |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const entry of report.timeline)
    lines.push(
      `| ${entry.entry ?? "—"} | ${iso(entry.atMs ?? entry.loggedAtMs)} | ${cell(entry.type ?? entry.action)} | ${cell(entry.actor)} | ${cell(entry.message)} | ${entry.seq} | ${entry.hash.slice(0, 16)}… |`,
    );
  lines.push("", "Details of each entry are in the JSON export next to this file.", "");
  return lines.join("\n");
}

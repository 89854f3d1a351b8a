// `bulwark incident list|show|note|resolve|export` (issue 8 §3): entries of commands.ts's table,
// through OperatorActions.incidents (src/operator/incident-actions.ts) offline, or the operator
// API's /incidents routes on a running server. `export` writes the timeline, rebuilt from the
// audit log, as Markdown and JSON files and says where.

import { renameSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { IncidentExport, IncidentView } from "../incidents/port.ts";
import { type IncidentSummary, timelineText } from "../operator/incident-actions.ts";
import { type Cli, CliError, required } from "./args.ts";
import { type OperatorCommand, table } from "./commands.ts";

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

/** --id: only the form here; the range is IncidentActions' to check (same message offline and remote). */
function incidentId(cli: Cli): number {
  const text = required(cli, "id");
  if (!/^[0-9]{1,15}$/.test(text))
    throw new CliError("invalid", `--id must be a whole number, got "${text.slice(0, 40)}"`);
  return Number(text);
}

function iso(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString();
}

function viewText(view: IncidentView): string {
  const head =
    `incident ${view.incidentId} (${view.status}): ${view.title}\n` +
    `  ${view.kind} on ${view.chain ?? "the whole exchange"}, opened ${iso(view.openedAtMs)}` +
    (view.resolvedAtMs === null ? "" : `, resolved ${iso(view.resolvedAtMs)}`);
  return `${head}\n${timelineText(view.timeline)}`;
}

export interface ExportWritten {
  incidentId: number;
  consistent: boolean;
  problems: string[];
  entries: number;
  auditHead: IncidentExport["auditHead"];
  files: { markdown: string; json: string };
}

/** Writes both files whole (a temporary name, then rename), owner-only: the timeline names operators. */
function writeExport(
  outDir: string,
  report: IncidentExport,
  markdown: (report: IncidentExport) => string,
): ExportWritten {
  const base = join(outDir, `incident-${report.incidentId}`);
  const files = { markdown: `${base}.md`, json: `${base}.json` };
  const write = (path: string, text: string) => {
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, text, { mode: 0o600 });
    renameSync(temporary, path);
  };
  write(files.json, `${JSON.stringify(report, null, 2)}\n`);
  write(files.markdown, markdown(report));
  return {
    incidentId: report.incidentId,
    consistent: report.consistent,
    problems: report.problems,
    entries: report.timeline.length,
    auditHead: report.auditHead,
    files,
  };
}

/** --out: an existing directory (default the current one), checked before anything is opened. */
function outDirOf(cli: Cli): string {
  const outDir = resolve(cli.values.out ?? ".");
  let directory = false;
  try {
    directory = statSync(outDir).isDirectory();
  } catch {
    directory = false;
  }
  if (!directory) throw new CliError("invalid", `--out must be an existing directory, got "${outDir}"`);
  return outDir;
}

async function exportMarkdown(): Promise<(report: IncidentExport) => string> {
  // Loaded on use: the rest of the CLI does not need the exporter.
  const { incidentExportMarkdown } = await import("../incidents/export.ts");
  return incidentExportMarkdown;
}

export const INCIDENT_COMMANDS = {
  "incident list": command({
    needs: "store",
    input: (cli) => {
      const limitText = cli.values.limit;
      if (limitText !== undefined && !/^[0-9]{1,15}$/.test(limitText))
        throw new CliError("invalid", `--limit must be a whole number, got "${limitText.slice(0, 40)}"`);
      return {
        all: cli.values.all === true,
        ...(limitText === undefined ? {} : { limit: Number(limitText) }),
      };
    },
    offline: (actions, _actor, input) => actions.incidents.list(input),
    remote: (client, input) => {
      const query = new URLSearchParams();
      if (input.all) query.set("all", "true");
      if (input.limit !== undefined) query.set("limit", String(input.limit));
      const text = query.toString();
      return client.get<{ incidents: IncidentSummary[] }>(`/incidents${text === "" ? "" : `?${text}`}`);
    },
    print: (result) => ({
      fields: result,
      text: table(
        result.incidents.map((incident) => ({
          id: incident.incidentId,
          status: incident.status,
          kind: incident.kind,
          chain: incident.chain ?? "-",
          opened: iso(incident.openedAtMs),
          entries: incident.entries,
          title: incident.title,
        })),
      ),
    }),
  }),
  "incident show": command({
    needs: "store",
    input: (cli) => ({ id: incidentId(cli) }),
    offline: (actions, _actor, input) => actions.incidents.show(input),
    remote: (client, input) => client.get<IncidentView>(`/incidents/${input.id}`),
    print: (view) => ({ fields: view, text: viewText(view) }),
  }),
  "incident note": command({
    needs: "store",
    input: (cli) => ({ id: incidentId(cli), message: required(cli, "message") }),
    offline: (actions, actor, input) => actions.incidents.note(actor, input),
    remote: (client, input) =>
      client.post<IncidentView>(`/incidents/${input.id}/notes`, { message: input.message }),
    print: (view) => ({
      fields: view,
      text: `incident ${view.incidentId}: note posted (WebSocket clients, status page, webhooks)\n${timelineText(view.timeline.slice(-1))}`,
    }),
  }),
  "incident resolve": command({
    needs: "store",
    input: (cli) => ({ id: incidentId(cli), reason: required(cli, "reason") }),
    offline: (actions, actor, input) => actions.incidents.resolve(actor, input),
    remote: (client, input) =>
      client.post<IncidentView>(`/incidents/${input.id}/resolve`, { reason: input.reason }),
    print: (view) => ({
      fields: view,
      text: `incident ${view.incidentId} resolved at ${iso(view.resolvedAtMs)}: ${view.timeline.at(-1)?.message ?? ""}`,
    }),
  }),
  "incident export": command({
    needs: "store",
    input: (cli) => ({ id: incidentId(cli), outDir: outDirOf(cli) }),
    offline: async (actions, _actor, input) =>
      writeExport(input.outDir, await actions.incidents.exportTimeline(input), await exportMarkdown()),
    remote: async (client, input) =>
      writeExport(
        input.outDir,
        await client.get<IncidentExport>(`/incidents/${input.id}/export`),
        await exportMarkdown(),
      ),
    print: (result) => ({
      fields: result,
      text:
        `incident ${result.incidentId}: ${result.entries} audit rows exported` +
        (result.consistent ? " (every row matches its hash)" : ` — PROBLEMS: ${result.problems.join("; ")}`) +
        `\n  ${result.files.markdown}\n  ${result.files.json}` +
        `\n  audit head at export: ${result.auditHead === null ? "(empty)" : `seq ${result.auditHead.seq} ${result.auditHead.hash}`}`,
    }),
  }),
};

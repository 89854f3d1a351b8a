// Output: one table per scenario (engines side by side, ratio, target, pass/miss) or, with
// --json, one JSON object per line per engine and scenario.

import type { ScenarioName } from "./workload.ts";

export type EngineName = "bulwark" | "bulwark-core" | "nodejs-order-book";

export interface EngineResult {
  scenario: ScenarioName;
  engine: EngineName;
  /** Median of the timed runs. */
  opsPerSec: number;
  runsOpsPerSec: number[];
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
  timerOverheadNs: number;
  bytesPerRestingOrder: number | null;
  memoryRestingOrders: number | null;
  /** The scenario whose prefilled book the memory was measured on. */
  memoryScenario?: ScenarioName;
  heapBytesDelta: number | null;
  externalBytesDelta: number | null;
  snapshotMs?: number;
  restoreMs?: number;
  snapshotBytes?: number;
  snapshotRestingOrders?: number;
  /** Median of 3 replays after a first (cold) one. */
  replayOpsPerSec?: number;
  /** The first replay in the process: JIT not yet warm for decoding. */
  replayColdOpsPerSec?: number;
  replayCommands?: number;
  journalBytes?: number;
  /** fdatasyncs during the timed journal run (median of runs). */
  dataSyncCount?: number;
  /** Encode + append per command, journal alone (ns). */
  appendNsPerOp?: number;
  /** Batch group-commit latency, flush() to durable, p99 over all runs (ms). */
  commitLatencyP99Ms?: number;
  ops: number;
  prefillOrders: number;
  trades: number;
  volumeLots: number;
  marketableLimitShare: number;
  cancelsDone: number;
  selfTradeCancels: number;
  restingAtEnd: number;
  /** bulwark rows: opsPerSec / peer opsPerSec. */
  ratioVsPeer?: number;
  notes: string[];
}

export interface ScenarioReport {
  scenario: ScenarioName;
  ops: number;
  prefillOrders: number;
  runs: number;
  results: EngineResult[];
  /** Share of cancels whose target id is the same in both engines. */
  cancelIdAgreement: number | null;
  checks: string[];
}

function fmtNum(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtOps(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(0);
}

function fmtUs(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function ratio(a: number | null | undefined, b: number | null | undefined): string {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "–";
  const r = a / b;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×`;
}

interface Row {
  metric: string;
  values: string[];
  ratio: string;
  target: string;
  result: string;
}

function verdict(ok: boolean | null): string {
  if (ok === null) return "";
  return ok ? "PASS" : "MISS";
}

export function renderTable(report: ScenarioReport): string {
  const by = (e: EngineName) => report.results.find((r) => r.engine === e);
  const bj = by("bulwark");
  const bc = by("bulwark-core");
  const peer = by("nodejs-order-book");
  const isMixed = report.scenario === "mixed";
  const isDeep = report.scenario === "deep";
  const rows: Row[] = [];
  const add = (
    metric: string,
    get: (r: EngineResult) => string,
    ratioText: string,
    target = "",
    ok: boolean | null = null,
  ) => {
    rows.push({
      metric,
      values: [bj, bc, peer].map((r) => (r === undefined ? "–" : get(r))),
      ratio: ratioText,
      target,
      result: verdict(ok),
    });
  };
  const has = (v: number | undefined | null): v is number =>
    v !== undefined && v !== null && !Number.isNaN(v);

  add(
    `ops/s (median of ${report.runs})`,
    (r) => fmtOps(r.opsPerSec),
    ratio(bj?.opsPerSec, peer?.opsPerSec),
    isMixed ? "≥ 3 M" : "",
    isMixed && has(bj?.opsPerSec) ? bj.opsPerSec >= 3e6 : null,
  );
  if (isMixed)
    add(
      "  speed-up vs peer (same run)",
      () => "",
      ratio(bj?.opsPerSec, peer?.opsPerSec),
      "≥ 60×",
      has(bj?.opsPerSec) && has(peer?.opsPerSec) ? bj.opsPerSec / peer.opsPerSec >= 60 : null,
    );
  add("p50 latency (µs)", (r) => fmtUs(r.p50Us), ratio(peer?.p50Us, bj?.p50Us));
  add(
    "p99 latency (µs)",
    (r) => fmtUs(r.p99Us),
    ratio(peer?.p99Us, bj?.p99Us),
    "≤ 2",
    has(bj?.p99Us) ? bj.p99Us <= 2 : null,
  );
  add("p99.9 latency (µs)", (r) => fmtUs(r.p999Us), ratio(peer?.p999Us, bj?.p999Us));
  add("max latency (µs)", (r) => fmtUs(r.maxUs), ratio(peer?.maxUs, bj?.maxUs));
  const memOn = bj?.memoryScenario ?? peer?.memoryScenario;
  add(
    `memory per resting order (B)${memOn !== undefined && memOn !== report.scenario ? ` [${memOn} book]` : ""}`,
    (r) => fmtNum(r.bytesPerRestingOrder),
    ratio(peer?.bytesPerRestingOrder, bj?.bytesPerRestingOrder),
    memOn === "deep" ? "≤ 100" : "",
    memOn === "deep" && has(bj?.bytesPerRestingOrder) ? bj.bytesPerRestingOrder <= 100 : null,
  );
  add(
    "snapshot (ms)",
    (r) => fmtNum(r.snapshotMs, 1),
    "",
    isDeep ? "≤ 250" : "",
    isDeep && has(bj?.snapshotMs) ? bj.snapshotMs <= 250 : null,
  );
  add(
    "restore (ms)",
    (r) => fmtNum(r.restoreMs, 1),
    "",
    isDeep ? "≤ 500" : "",
    isDeep && has(bj?.restoreMs) ? bj.restoreMs <= 500 : null,
  );
  add("  snapshot size (MB)", (r) => (has(r.snapshotBytes) ? (r.snapshotBytes / 1e6).toFixed(1) : "–"), "");
  add(
    "journal replay (ops/s)",
    (r) => fmtOps(r.replayOpsPerSec),
    "",
    "≥ 3 M",
    has(bj?.replayOpsPerSec) ? bj.replayOpsPerSec >= 3e6 : null,
  );
  add("  first (cold) replay (ops/s)", (r) => fmtOps(r.replayColdOpsPerSec), "");
  add("trades (resolve pass)", (r) => fmtNum(r.trades), ratio(bj?.trades, peer?.trades));
  add("volume (lots)", (r) => fmtNum(r.volumeLots), ratio(bj?.volumeLots, peer?.volumeLots));
  add("marketable limits", (r) => `${(r.marketableLimitShare * 100).toFixed(1)} %`, "");
  add("cancels that hit", (r) => fmtNum(r.cancelsDone), "");
  add("self-trade cancels", (r) => fmtNum(r.selfTradeCancels), "");
  add("resting at end", (r) => fmtNum(r.restingAtEnd), "");

  const headers = [
    "metric",
    "bulwark (+journal)",
    "bulwark core only",
    "nodejs-order-book",
    "ratio",
    "target",
    "",
  ];
  const table = rows.map((r) => [r.metric, ...r.values, r.ratio, r.target, r.result]);
  const widths = headers.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  const out: string[] = [];
  out.push(
    `== ${report.scenario}: ${fmtNum(report.prefillOrders)} resting orders prefilled, ${fmtNum(report.ops)} ops, median of ${report.runs} runs after a warm-up ==`,
  );
  out.push(line(headers));
  out.push(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of table) out.push(line(row));
  if (report.cancelIdAgreement !== null)
    out.push(`cancel target ids identical in both engines: ${(report.cancelIdAgreement * 100).toFixed(2)} %`);
  for (const r of [bj, bc, peer])
    if (r !== undefined)
      out.push(
        `${r.engine} runs (ops/s): ${r.runsOpsPerSec.map((v) => fmtOps(v).replace(" ", "")).join(" ")}`,
      );
  for (const c of report.checks) out.push(`- ${c}`);
  const notes = new Set(report.results.flatMap((r) => r.notes.map((n) => `${r.engine}: ${n}`)));
  for (const n of notes) out.push(`- ${n}`);
  return out.join("\n");
}

/** One JSON object per line, rounded to sensible precision. */
export function renderJsonLines(report: ScenarioReport): string {
  return report.results
    .map((r) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(r)) {
        if (v === undefined) continue;
        o[k] = typeof v === "number" ? Math.round(v * 1000) / 1000 : v;
      }
      o.runsOpsPerSec = r.runsOpsPerSec.map((v) => Math.round(v));
      o.cancelIdAgreement = report.cancelIdAgreement;
      return JSON.stringify(o);
    })
    .join("\n");
}

// The flood drill's table, its JSON summary, and its checks against the targets (issue 10 §5,
// docs/SECURITY.md#flood-resilience): order-entry p99 under flood ≤ 3× calm, nothing
// acknowledged lost, memory bounded, /health answering, and a flood big enough to mean something.

import { type FloodReport, fmt } from "./drill.ts";
import type { LatencySummary } from "./stats.ts";

export const TARGETS = {
  p99Ratio: 3,
  successRate: 0.95,
  floodTimesCalm: 50,
  maxRssMb: 1024,
  healthAnsweredPercent: 99,
} as const;

export interface DrillCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export function checksOf(report: FloodReport): DrillCheck[] {
  const ratio = report.p99Ratio;
  return [
    {
      name: "order-entry p99 under flood ≤ 3× calm",
      ok: ratio !== null && ratio <= TARGETS.p99Ratio,
      detail: `${fmt(report.flood.p99Ms)} ms vs ${fmt(report.calm.p99Ms)} ms calm (${fmt(ratio, 2)}×)`,
    },
    {
      name: "well-behaved order entry succeeds under flood (≥ 95 %)",
      ok: report.flood.successRate >= TARGETS.successRate,
      detail: `${(report.flood.successRate * 100).toFixed(1)} % of ${report.flood.requests} requests`,
    },
    {
      name: "every acknowledged order is in the core afterwards",
      ok: report.verify.lost.length === 0 && report.verify.acked > 0,
      detail: `${report.verify.acked} acknowledged (${report.ackedDuringFlood} during the flood), ${report.verify.lost.length} lost`,
    },
    {
      name: "memory bounded (RSS ≤ 1 GB)",
      ok: report.memory.maxMb !== null && report.memory.maxMb <= TARGETS.maxRssMb,
      detail: `RSS ${fmt(report.memory.minMb, 0)}–${fmt(report.memory.maxMb, 0)} MB`,
    },
    {
      name: "/health answered throughout (≥ 99 % of probes)",
      ok: report.health.answeredPercent >= TARGETS.healthAnsweredPercent,
      detail: `${report.health.answered}/${report.health.probes} probes, longest gap ${report.health.longestGapMs} ms`,
    },
    {
      name: "flood ≥ 50× the calm request rate",
      ok: report.floodTimesCalm >= TARGETS.floodTimesCalm,
      detail: `${Math.round(report.floodOfferedPerSecond)} offered/s vs ${report.calmRequestsPerSecond.toFixed(1)} calm/s (${Math.round(report.floodTimesCalm)}×)`,
    },
    {
      name: "the guard refused or shed part of the flood",
      ok: report.floodTotal.rejected + report.floodTotal.shed > 0,
      detail: `${report.floodTotal.rejected} rate-limited, ${report.floodTotal.shed} shed`,
    },
    {
      name: "order entry back to calm after the flood",
      ok: report.recoveryMs !== null,
      detail:
        report.recoveryMs === null
          ? `not within the ${report.options.recoverySeconds} s watched`
          : `${report.recoveryMs} ms after the flood stopped`,
    },
  ];
}

/** Everything but the per-sample timeline (that goes to flood-drill.json and the picture). */
export function summaryOf(report: FloodReport): Omit<FloodReport, "timeline"> {
  const { timeline: _timeline, ...summary } = report;
  return summary;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

function row(cells: string[], widths: number[]): string {
  return cells.map((cell, index) => pad(cell, widths[index])).join("  ");
}

export function tableOf(report: FloodReport): string {
  const lines: string[] = [];
  const opt = report.options;
  const machine = report.machine;
  lines.push(
    `\nFlood drill: ${opt.traders} well-behaved traders; calm ${opt.calmSeconds} s, flood ${opt.floodSeconds} s, recovery ${opt.recoverySeconds} s`,
    `machine: ${machine.cpus} CPUs, load average ${machine.loadAverageBefore.toFixed(1)} before, ${machine.loadAverageAfter.toFixed(1)} after` +
      (machine.loadAverageBefore > machine.cpus ? " (busy with other work: latencies include it)" : ""),
    "",
  );
  const widths = [26, 10, 10, 12, 10, 11, 7];
  const phases = [report.calm, report.flood, report.floodSteady, report.recovery];
  const ratio = (left: number | null, right: number | null) =>
    left === null || right === null || right === 0 ? "-" : `${(left / right).toFixed(2)}×`;
  const line = (name: string, cell: (summary: LatencySummary) => string, ratioText: string, target: string) =>
    row([name, ...phases.map(cell), ratioText, target], widths);
  lines.push(
    row(
      [
        "order entry (create+cancel)",
        "calm",
        "flood",
        `flood > ${report.options.onsetSeconds} s`,
        "recovery",
        "flood/calm",
        "target",
      ],
      widths,
    ),
    line("p50 ms", (summary) => fmt(summary.p50Ms), ratio(report.flood.p50Ms, report.calm.p50Ms), ""),
    line("p99 ms", (summary) => fmt(summary.p99Ms), ratio(report.flood.p99Ms, report.calm.p99Ms), "≤ 3×"),
    line("max ms", (summary) => fmt(summary.maxMs), "", ""),
    line("success %", (summary) => (summary.successRate * 100).toFixed(1), "", "≥ 95"),
    line("requests", (summary) => String(summary.requests), "", ""),
    line("refused (40034/503/other)", outcomes, "", ""),
    `(flood > ${report.options.onsetSeconds} s: the flood without its first ${report.options.onsetSeconds} s, while the guard's shedding and bans take hold; p99 of it vs calm: ${ratio(report.floodSteady.p99Ms, report.calm.p99Ms)})`,
  );
  lines.push("");
  const floodWidths = [14, 10, 10, 10, 10, 10];
  lines.push(row(["flood kind", "offered", "answered", "limited", "shed", "no answer"], floodWidths));
  for (const [kind, counters] of [
    ...Object.entries(report.floodByKind),
    ["total", report.floodTotal] as const,
  ])
    lines.push(
      row(
        [
          kind,
          String(counters.sent),
          String(counters.answered),
          String(counters.rejected),
          String(counters.shed),
          String(counters.failed),
        ],
        floodWidths,
      ),
    );
  lines.push(
    `flood offered ${Math.round(report.floodOfferedPerSecond)}/s = ${Math.round(report.floodTimesCalm)}× the calm ${report.calmRequestsPerSecond.toFixed(1)} req/s (target ≥ 50×); ` +
      `generators used ${Math.round(report.generatorCpuPercent)} % of a core`,
  );
  const notes = report.floodNotes;
  if (notes.slowlorisOpen !== undefined)
    lines.push(
      `slowloris: ${notes.slowlorisOpen} sockets open at the end, oldest ${Math.round(notes.slowlorisOldestOpenMs / 1000)} s; ` +
        `longest before a cut ${Math.round(notes.slowlorisLongestCutAfterMs / 1000)} s; WS subscribers closed by the server ${notes.subscribeClosedByServer}`,
    );
  lines.push("");
  const loop = report.eventLoop;
  lines.push(
    `server memory (RSS)       min ${fmt(report.memory.minMb, 0)} MB, max ${fmt(report.memory.maxMb, 0)} MB (calm max ${fmt(report.memory.calmMaxMb, 0)}, flood max ${fmt(report.memory.floodMaxMb, 0)}; target ≤ 1024)`,
    `event-loop delay          calm p99 ${fmt(loop.calm.p99Ms)} / max ${fmt(loop.calm.maxMs)} ms; flood p99 ${fmt(loop.flood.p99Ms)} / max ${fmt(loop.flood.maxMs)} ms; recovery p99 ${fmt(loop.recovery.p99Ms)} / max ${fmt(loop.recovery.maxMs)} ms`,
    `server CPU                calm ${fmt(report.serverCpuPercent.calm, 0)} %, flood ${fmt(report.serverCpuPercent.flood, 0)} % of a core`,
    `/health answered          ${report.health.answered}/${report.health.probes} probes (${report.health.answeredPercent.toFixed(1)} %), slowest ${fmt(report.health.maxMs)} ms, longest gap ${report.health.longestGapMs} ms`,
    `recovery                  ${report.recoveryMs === null ? `not back to 1.5× calm p50 within ${report.options.recoverySeconds} s` : `${report.recoveryMs} ms until order entry p50 ≤ 1.5× calm and nothing refused`}`,
    `acknowledged orders       ${report.verify.acked} (${report.ackedDuringFlood} during the flood): ${report.verify.found.cancelled} cancelled, ${report.verify.found.filled} filled, ${report.verify.found.open} open, ${report.verify.lost.length} lost (target 0)`,
  );
  const guard = Object.entries(report.guardMetrics);
  if (guard.length > 0) {
    lines.push("", "guard metrics over the run (/metrics)");
    for (const [name, value] of guard)
      lines.push(`  ${name} ${Number.isInteger(value) ? value : value.toFixed(4)}`);
  }
  if (report.errorSamples.length > 0) {
    lines.push("", "first refused or failed trader requests");
    for (const sample of report.errorSamples.slice(0, 5)) lines.push(`  ${sample}`);
  }
  return lines.join("\n");
}

function outcomes(summary: FloodReport["calm"]): string {
  const other = summary.byOutcome.error + summary.byOutcome.failed;
  return `${summary.byOutcome.rejected}/${summary.byOutcome.shed}/${other}`;
}

// The flood drill (issue 10 §5): an application-layer flood against a real exchange on this
// machine's loopback while well-behaved clients keep trading, measured.
//
//   1. The exchange starts in a child process (server-child.ts: its own event loop, RSS and CPU)
//      on 127.0.0.1 with a temp data dir, a market maker's resting book and one user and API key
//      per trader. The two flood generators start in child processes too, armed but idle.
//   2. Calm: the traders (in this process: a few keys, each a few requests per second, under the
//      limits) trade; their latency is the baseline.
//   3. Flood: the generators start (http-flood.ts: public data, junk paths, oversized bodies, bad
//      signatures through autocannon; socket-flood.ts: slowloris, WebSocket connection and
//      subscribe storms), from 127.0.0.2 … up, while the traders go on.
//   4. Recovery: the flood stops; how long until order entry is back to calm.
//   5. Every order the exchange acknowledged is looked up through the API (verify.ts).
// Meanwhile sampler.ts probes /health, reads the server's RSS and CPU, scrapes /metrics.
//
// One function, two front doors: `npm run drill:flood` (main.ts) prints the table and writes the
// picture; test/drills/flood.test.ts runs a small flood in `npm test` and asserts on the report.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import type { RateLimitOptions } from "../../src/gateway/guard/rate-limit.ts";
import { renderChart } from "./chart.ts";
import { type DrillChild, startChild } from "./child.ts";
import type { HttpFloodInput, HttpFloodKind } from "./http-flood.ts";
import { floodSourceAddresses } from "./loopback.ts";
import {
  emptyCounters,
  type FloodCounters,
  type FloodTarget,
  type GeneratorLine,
  type ServerLine,
} from "./protocol.ts";
import { type Phase, type Sample, startSampler } from "./sampler.ts";
import type { SocketFloodInput } from "./socket-flood.ts";
import {
  addCounters,
  bucketRates,
  type CounterPoint,
  type LatencySummary,
  percentile,
  recordsBetween,
  recoveryMs,
  summarizeTrades,
} from "./stats.ts";
import { startTraders, type TradeRecord } from "./traders.ts";
import { type VerifyResult, verifyAcknowledged } from "./verify.ts";

export interface FloodShape {
  /** Flood source addresses, 127.0.0.2 upwards (≤ 249). */
  sources: number;
  http: Partial<Record<HttpFloodKind, { connections: number; ratePerSecond: number }>>;
  oversizedBodyBytes: number;
  /** Whether the bad-signature flood also names the traders' real key ids. */
  namesRealKeyIds: boolean;
  slowloris: SocketFloodInput["slowloris"];
  wsStorm: SocketFloodInput["wsStorm"];
  subscribeStorm: SocketFloodInput["subscribeStorm"];
}

export interface FloodDrillOptions {
  calmSeconds: number;
  floodSeconds: number;
  recoverySeconds: number;
  traders: number;
  /** Create(+cancel) cycles per trader per second: about twice that in requests. */
  traderCyclesPerSecond: number;
  flood: FloodShape;
  sampleMs: number;
  healthTimeoutMs: number;
  /** Where the SVG and JSON go; null writes nothing. */
  outDir: string | null;
  /** Write a V8 CPU profile of the exchange process here (node --cpu-prof); absent: none. */
  serverProfileDir?: string;
  /** The exchange's REST rate limit; absent: its default. */
  rateLimit?: RateLimitOptions;
  /** Load shedding in the exchange; absent: BULWARK_LOAD_SHEDDING, else on (the product's default). */
  loadShedding?: boolean;
  log?: (line: string) => void;
}

/** The full drill's flood: ~3,000 HTTP requests/s offered plus sockets, from 249 addresses. */
export const FULL_FLOOD: FloodShape = {
  sources: 249,
  http: {
    public: { connections: 200, ratePerSecond: 2_000 },
    junk: { connections: 50, ratePerSecond: 400 },
    oversized: { connections: 20, ratePerSecond: 50 },
    badSignature: { connections: 50, ratePerSecond: 500 },
  },
  oversizedBodyBytes: 256 * 1024,
  namesRealKeyIds: true,
  slowloris: { sockets: 400, trickleMs: 1_000 },
  wsStorm: { connectionsPerSecond: 100, lifetimeMs: 1_000, sourceCount: 4 },
  subscribeStorm: { sockets: 40, messagesPerSecond: 50 },
};

/** Every kind of flood the drill knows, as `--kinds` names them. */
export const FLOOD_KINDS = [
  "public",
  "junk",
  "oversized",
  "badSignature",
  "slowloris",
  "wsConnect",
  "wsSubscribe",
] as const;
export type FloodKind = (typeof FLOOD_KINDS)[number];

/** `shape` with only the `kinds` given (the others offer nothing): to see which kind hurts. */
export function onlyKinds(shape: FloodShape, kinds: readonly FloodKind[]): FloodShape {
  const keep = new Set<FloodKind>(kinds);
  const http: FloodShape["http"] = {};
  for (const kind of ["public", "junk", "oversized", "badSignature"] as const) {
    const given = shape.http[kind];
    if (keep.has(kind) && given !== undefined) http[kind] = given;
  }
  return {
    ...shape,
    http,
    slowloris: keep.has("slowloris") ? shape.slowloris : { ...shape.slowloris, sockets: 0 },
    wsStorm: keep.has("wsConnect") ? shape.wsStorm : { ...shape.wsStorm, connectionsPerSecond: 0 },
    subscribeStorm: keep.has("wsSubscribe") ? shape.subscribeStorm : { ...shape.subscribeStorm, sockets: 0 },
  };
}

/** `shape` `factor` times as heavy: every rate, connection and socket count scaled (at least 1). */
export function scaledFlood(shape: FloodShape, factor: number): FloodShape {
  if (!(factor > 0) || factor > 20) throw new RangeError(`flood scale must be in (0, 20], not ${factor}`);
  const scale = (value: number) => (value === 0 ? 0 : Math.max(1, Math.round(value * factor)));
  const http: FloodShape["http"] = {};
  for (const [kind, given] of Object.entries(shape.http) as [
    HttpFloodKind,
    { connections: number; ratePerSecond: number },
  ][])
    http[kind] = { connections: scale(given.connections), ratePerSecond: scale(given.ratePerSecond) };
  return {
    ...shape,
    http,
    slowloris: { ...shape.slowloris, sockets: scale(shape.slowloris.sockets) },
    wsStorm: { ...shape.wsStorm, connectionsPerSecond: scale(shape.wsStorm.connectionsPerSecond) },
    subscribeStorm: { ...shape.subscribeStorm, sockets: scale(shape.subscribeStorm.sockets) },
  };
}

export const FULL_DRILL: FloodDrillOptions = {
  calmSeconds: 10,
  floodSeconds: 20,
  recoverySeconds: 10,
  traders: 4,
  traderCyclesPerSecond: 2,
  flood: FULL_FLOOD,
  sampleMs: 250,
  healthTimeoutMs: 1_000,
  outDir: null,
};

export interface FloodReport {
  /** The machine: a drill on a machine busy with other work measures that work too. */
  machine: { cpus: number; loadAverageBefore: number; loadAverageAfter: number };
  options: {
    calmSeconds: number;
    floodSeconds: number;
    recoverySeconds: number;
    traders: number;
    onsetSeconds: number;
  };
  calm: LatencySummary;
  flood: LatencySummary;
  /** The flood after its first ONSET_SECONDS: the steady state once the guard has reacted. */
  floodSteady: LatencySummary;
  recovery: LatencySummary;
  /** flood p99 / calm p99. */
  p99Ratio: number | null;
  /** Trader requests per second in calm, and flood requests offered per second. */
  calmRequestsPerSecond: number;
  floodOfferedPerSecond: number;
  floodTimesCalm: number;
  floodByKind: Record<string, FloodCounters>;
  floodTotal: FloodCounters;
  floodNotes: Record<string, number>;
  generatorCpuPercent: number;
  memory: { minMb: number | null; maxMb: number | null; calmMaxMb: number | null; floodMaxMb: number | null };
  eventLoop: {
    calm: { p99Ms: number | null; maxMs: number | null };
    flood: { p99Ms: number | null; maxMs: number | null };
    recovery: { p99Ms: number | null; maxMs: number | null };
  };
  serverCpuPercent: { calm: number | null; flood: number | null };
  health: {
    probes: number;
    answered: number;
    answeredPercent: number;
    maxMs: number | null;
    longestGapMs: number;
  };
  recoveryMs: number | null;
  verify: VerifyResult;
  ackedDuringFlood: number;
  lostDuringFlood: number;
  guardMetrics: Record<string, number>;
  errorSamples: string[];
  timeline: TimelineRow[];
  chartPath: string | null;
}

export interface TimelineRow {
  atMs: number;
  phase: Phase;
  orderP50Ms: number | null;
  orderMaxMs: number | null;
  orderFailed: number;
  floodOfferedPerSec: number;
  floodAnsweredPerSec: number;
  floodRejectedPerSec: number;
  floodShedPerSec: number;
  rssMb: number | null;
  loopMaxMs: number | null;
  healthOk: boolean | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function totalsOf(line: GeneratorLine): FloodCounters {
  if (line.kind !== "counters") return emptyCounters();
  return Object.values(line.byKind).reduce(addCounters, emptyCounters());
}

export async function runFloodDrill(options: FloodDrillOptions): Promise<FloodReport> {
  const log = options.log ?? (() => {});
  const loadAverageBefore = loadavg()[0];
  // Drill time: ms since the calm phase began (reset below, once every process is up), so the
  // report and the picture start with the calm phase, not with the exchange's start-up.
  // Latencies need sub-millisecond resolution (performance.now); the children's lines carry wall
  // clock times (Date.now), mapped onto drill time through the wall clock at the same epoch.
  let epochMs = Date.now();
  let epochPerfMs = performance.now();
  const now = () => performance.now() - epochPerfMs;
  const loopLines: { atMs: number; p99Ms: number; maxMs: number }[] = [];
  const server: DrillChild<ServerLine> = startChild<ServerLine>(
    "server-child.ts",
    {
      traders: options.traders,
      loopSampleMs: options.sampleMs,
      rateLimit: options.rateLimit,
      loadShedding: options.loadShedding ?? process.env.BULWARK_LOAD_SHEDDING !== "off",
    },
    (line) => {
      if (line.kind === "loop" && loopLines.length < 100_000)
        loopLines.push({ atMs: line.atMs - epochMs, p99Ms: line.p99Ms, maxMs: line.maxMs });
    },
    options.serverProfileDir === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${options.serverProfileDir}`],
  );
  const sources = floodSourceAddresses(options.flood.sources);
  const generatorPoints: CounterPoint[][] = [[], []];
  const generatorCpu: number[][] = [[], []];
  const onGeneratorLine = (index: number) => (line: GeneratorLine) => {
    if (line.kind === "counters" && generatorPoints[index].length < 100_000) {
      generatorPoints[index].push({ atMs: line.atMs - epochMs, totals: totalsOf(line) });
      generatorCpu[index].push(line.cpuPercent);
    }
  };
  const httpInput: HttpFloodInput = {
    sources,
    kinds: options.flood.http,
    oversizedBodyBytes: options.flood.oversizedBodyBytes,
    reportMs: options.sampleMs,
  };
  const socketInput: SocketFloodInput = {
    sources,
    slowloris: options.flood.slowloris,
    wsStorm: options.flood.wsStorm,
    subscribeStorm: options.flood.subscribeStorm,
    reportMs: options.sampleMs,
  };
  // The generators start alongside the exchange (armed, idle until "go"): their start-up is not
  // the drill's to wait for twice, and it is over before the calm phase is measured.
  const httpFlood = startChild<GeneratorLine>("http-flood.ts", httpInput, onGeneratorLine(0));
  const socketFlood = startChild<GeneratorLine>("socket-flood.ts", socketInput, onGeneratorLine(1));
  const children: { kill(): void }[] = [server, httpFlood, socketFlood];
  /** What must stop if the drill fails half way (timers and sockets would keep the process up). */
  const stoppers: (() => Promise<void>)[] = [];
  try {
    const [ready] = await Promise.all([server.ready, httpFlood.ready, socketFlood.ready]);
    if (ready.kind !== "ready") throw new Error("the exchange child did not say ready");
    log(`exchange ${ready.url} (pid ${ready.pid}), ${ready.traders.length} trader keys, book seeded`);
    const target: FloodTarget = {
      baseUrl: ready.url,
      knownKeyIds: options.flood.namesRealKeyIds ? ready.traders.map((key) => key.keyId) : [],
    };

    epochMs = Date.now();
    epochPerfMs = performance.now();
    const sampler = startSampler({
      baseUrl: ready.url,
      serverPid: ready.pid,
      sampleMs: options.sampleMs,
      metricsEveryTicks: Math.max(1, Math.round(1000 / options.sampleMs)),
      healthTimeoutMs: options.healthTimeoutMs,
      now,
    });
    stoppers.push(() => sampler.stop());
    const traders = startTraders(ready.url, ready.traders, options.traderCyclesPerSecond, now);
    stoppers.push(async () => {
      await traders.stop();
      for (const client of traders.clients) client.agent.destroy();
    });
    const calmFromMs = now();
    log(`calm: ${options.traders} traders, ${options.calmSeconds} s`);
    await sleep(options.calmSeconds * 1000);

    const floodFromMs = now();
    sampler.setPhase("flood");
    httpFlood.send(`go ${JSON.stringify(target)}`);
    socketFlood.send(`go ${JSON.stringify(target)}`);
    log(`flood: ${options.floodSeconds} s from ${sources.length} addresses`);
    await sleep(options.floodSeconds * 1000);
    const finals = await Promise.all([httpFlood.stop(), socketFlood.stop()]);
    const floodToMs = now();
    sampler.setPhase("recovery");
    log(`recovery: ${options.recoverySeconds} s`);
    await sleep(options.recoverySeconds * 1000);
    await traders.stop();
    const endMs = now();
    await sampler.stop();

    log("verifying every acknowledged order");
    const verify = await verifyAcknowledged(ready.url, traders.clients, traders.acked);
    const lostIds = new Set(verify.lost);
    const ackedDuringFlood = traders.acked.filter(
      (order) => order.atMs >= floodFromMs && order.atMs < floodToMs,
    );
    await server.stop();

    const report = buildReport({
      options,
      records: traders.records,
      samples: sampler.samples,
      loopLines,
      generatorPoints,
      generatorCpu,
      finals,
      phases: { calmFromMs, floodFromMs, floodToMs, endMs },
      verify,
      ackedDuringFlood: ackedDuringFlood.length,
      lostDuringFlood: ackedDuringFlood.filter((order) => lostIds.has(order.orderId)).length,
      guardMetrics: guardMetricDeltas(sampler.firstMetrics, sampler.lastMetrics),
      machine: { cpus: cpus().length, loadAverageBefore, loadAverageAfter: loadavg()[0] },
      errorSamples: traders.errorSamples,
    });
    if (options.outDir !== null) {
      mkdirSync(options.outDir, { recursive: true });
      report.chartPath = join(options.outDir, "flood-drill.svg");
      writeFileSync(report.chartPath, chartOf(report, { floodFromMs, floodToMs, endMs }));
      writeFileSync(join(options.outDir, "flood-drill.json"), `${JSON.stringify(report, null, 1)}\n`);
    }
    return report;
  } finally {
    // Stopping twice is harmless (each stop only ends what still runs).
    await Promise.allSettled(stoppers.map((stop) => stop()));
    for (const child of children) child.kill();
  }
}

/** Counters of the guard (and its event-loop gauges) from /metrics: last minus first scrape. */
function guardMetricDeltas(
  first: Map<string, number> | null,
  last: Map<string, number>,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [series, value] of last) {
    const name = series.replace(/\{.*$/, "");
    const isGuard = name.startsWith("bulwark_guard_") || /event_?loop/.test(name);
    if (!isGuard) continue;
    const counter = name.endsWith("_total");
    const delta = counter ? value - (first?.get(series) ?? 0) : value;
    if (counter) result[name] = (result[name] ?? 0) + delta;
    else result[series] = value;
  }
  return result;
}

interface BuildInput {
  options: FloodDrillOptions;
  records: TradeRecord[];
  samples: Sample[];
  loopLines: { atMs: number; p99Ms: number; maxMs: number }[];
  generatorPoints: CounterPoint[][];
  generatorCpu: number[][];
  finals: GeneratorLine[];
  phases: { calmFromMs: number; floodFromMs: number; floodToMs: number; endMs: number };
  verify: VerifyResult;
  ackedDuringFlood: number;
  lostDuringFlood: number;
  guardMetrics: Record<string, number>;
  machine: FloodReport["machine"];
  errorSamples: string[];
}

function loopIn(lines: BuildInput["loopLines"], fromMs: number, toMs: number) {
  const inside = lines.filter((line) => line.atMs >= fromMs && line.atMs < toMs);
  const p99s = inside.map((line) => line.p99Ms).sort((left, right) => left - right);
  return {
    p99Ms: percentile(p99s, 50),
    maxMs: inside.length === 0 ? null : Math.max(...inside.map((line) => line.maxMs)),
  };
}

function mb(bytes: number | null): number | null {
  return bytes === null ? null : Math.round((bytes / 1024 / 1024) * 10) / 10;
}

function maxOf(values: (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null);
  return present.length === 0 ? null : Math.max(...present);
}

function meanOf(values: (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null);
  return present.length === 0 ? null : present.reduce((sum, value) => sum + value, 0) / present.length;
}

function buildReport(input: BuildInput): FloodReport {
  const { options, records, samples, phases } = input;
  const calm = summarizeTrades(recordsBetween(records, phases.calmFromMs, phases.floodFromMs));
  const flood = summarizeTrades(recordsBetween(records, phases.floodFromMs, phases.floodToMs));
  const floodSteady = summarizeTrades(
    recordsBetween(
      records,
      Math.min(phases.floodToMs, phases.floodFromMs + ONSET_SECONDS * 1000),
      phases.floodToMs,
    ),
  );
  const recovery = summarizeTrades(recordsBetween(records, phases.floodToMs, phases.endMs));
  const floodByKind: Record<string, FloodCounters> = {};
  const floodNotes: Record<string, number> = {};
  for (const line of input.finals) {
    if (line.kind !== "counters") continue;
    Object.assign(floodByKind, line.byKind);
    Object.assign(floodNotes, line.notes);
  }
  const floodTotal = Object.values(floodByKind).reduce(addCounters, emptyCounters());
  const floodSeconds = (phases.floodToMs - phases.floodFromMs) / 1000;
  const calmSeconds = (phases.floodFromMs - phases.calmFromMs) / 1000;
  const calmRequestsPerSecond = calm.requests / Math.max(0.001, calmSeconds);
  const floodOfferedPerSecond = floodTotal.sent / Math.max(0.001, floodSeconds);
  const inPhase = (phase: Phase) => samples.filter((sample) => sample.phase === phase);
  const probes = samples.filter((sample) => sample.healthOk !== null);
  const answered = probes.filter((sample) => sample.healthOk === true);
  let longestGapMs = 0;
  let lastAnsweredMs = probes[0]?.atMs ?? 0;
  for (const probe of probes) {
    if (probe.healthOk === true) {
      longestGapMs = Math.max(longestGapMs, Math.round(probe.atMs - lastAnsweredMs));
      lastAnsweredMs = probe.atMs;
    }
  }
  const bucketMs = 1_000;
  const buckets = Math.ceil(phases.endMs / bucketMs) + 1;
  const rates = bucketRates(input.generatorPoints, bucketMs, buckets);
  const timeline: TimelineRow[] = samples.map((sample) => {
    const window = recordsBetween(records, sample.atMs - options.sampleMs, sample.atMs);
    const summary = summarizeTrades(window);
    const rate = rates[Math.floor(sample.atMs / bucketMs)] ?? emptyCounters();
    const loop = input.loopLines.filter(
      (line) => line.atMs >= sample.atMs - options.sampleMs && line.atMs < sample.atMs,
    );
    return {
      atMs: sample.atMs,
      phase: sample.phase,
      orderP50Ms: summary.p50Ms,
      orderMaxMs: summary.maxMs,
      orderFailed: summary.requests - summary.ok,
      floodOfferedPerSec: Math.round(rate.sent),
      floodAnsweredPerSec: Math.round(rate.answered),
      floodRejectedPerSec: Math.round(rate.rejected),
      floodShedPerSec: Math.round(rate.shed),
      rssMb: mb(sample.rssBytes),
      loopMaxMs: loop.length === 0 ? null : Math.max(...loop.map((line) => line.maxMs)),
      healthOk: sample.healthOk,
    };
  });
  // The generators' CPU: each one's mean over its reports, summed (percent of one core).
  const generatorCpu = input.generatorCpu.reduce((sum, values) => sum + (meanOf(values) ?? 0), 0);
  const rss = samples.map((sample) => sample.rssBytes);
  return {
    machine: input.machine,
    options: {
      calmSeconds: options.calmSeconds,
      floodSeconds: options.floodSeconds,
      recoverySeconds: options.recoverySeconds,
      traders: options.traders,
      onsetSeconds: ONSET_SECONDS,
    },
    calm,
    flood,
    floodSteady,
    recovery,
    p99Ratio: calm.p99Ms !== null && flood.p99Ms !== null && calm.p99Ms > 0 ? flood.p99Ms / calm.p99Ms : null,
    calmRequestsPerSecond,
    floodOfferedPerSecond,
    floodTimesCalm: floodOfferedPerSecond / Math.max(0.001, calmRequestsPerSecond),
    floodByKind,
    floodTotal,
    floodNotes,
    generatorCpuPercent: generatorCpu,
    memory: {
      minMb: mb(
        rss.reduce<number | null>(
          (min, value) => (value === null ? min : min === null ? value : Math.min(min, value)),
          null,
        ),
      ),
      maxMb: mb(maxOf(rss)),
      calmMaxMb: mb(maxOf(inPhase("calm").map((sample) => sample.rssBytes))),
      floodMaxMb: mb(maxOf(inPhase("flood").map((sample) => sample.rssBytes))),
    },
    eventLoop: {
      calm: loopIn(input.loopLines, phases.calmFromMs, phases.floodFromMs),
      flood: loopIn(input.loopLines, phases.floodFromMs, phases.floodToMs),
      recovery: loopIn(input.loopLines, phases.floodToMs, phases.endMs),
    },
    serverCpuPercent: {
      calm: meanOf(inPhase("calm").map((sample) => sample.serverCpuPercent)),
      flood: meanOf(inPhase("flood").map((sample) => sample.serverCpuPercent)),
    },
    health: {
      probes: probes.length,
      answered: answered.length,
      answeredPercent: probes.length === 0 ? 0 : (answered.length / probes.length) * 100,
      maxMs: maxOf(answered.map((sample) => sample.healthMs)),
      longestGapMs,
    },
    recoveryMs:
      calm.p50Ms === null
        ? null
        : recoveryMs(
            records,
            phases.floodToMs,
            phases.endMs,
            calm.p50Ms,
            RECOVERY_FACTOR,
            RECOVERY_WINDOW_MS,
          ),
    verify: input.verify,
    ackedDuringFlood: input.ackedDuringFlood,
    lostDuringFlood: input.lostDuringFlood,
    guardMetrics: input.guardMetrics,
    errorSamples: input.errorSamples,
    timeline,
    chartPath: null,
  };
}

/**
 * The flood's first seconds, reported apart as well: the guard reacts to a flood (shedding after
 * two loaded samples, bans after repeated refusals), so its onset and its steady state differ.
 */
export const ONSET_SECONDS = 3;

/** Recovered: order-entry median within this factor of calm, every request succeeding. */
export const RECOVERY_FACTOR = 1.5;
export const RECOVERY_WINDOW_MS = 1_000;

function chartOf(
  report: FloodReport,
  phases: { floodFromMs: number; floodToMs: number; endMs: number },
): string {
  const rows = report.timeline;
  const at = (pick: (row: TimelineRow) => number | null) => rows.map((row) => [row.atMs, pick(row)] as const);
  const calmP99 = report.calm.p99Ms;
  return renderChart({
    title: "Bulwark flood drill",
    subtitle:
      `order entry p99 calm ${fmt(report.calm.p99Ms)} ms, under flood ${fmt(report.flood.p99Ms)} ms ` +
      `(after its first ${ONSET_SECONDS} s ${fmt(report.floodSteady.p99Ms)} ms); acknowledged orders lost: ${report.verify.lost.length}\n` +
      `flood (shaded; its first ${ONSET_SECONDS} s darker) offered ${Math.round(report.floodOfferedPerSecond)}/s (${Math.round(report.floodTimesCalm)}× calm); ` +
      `machine load average ${report.machine.loadAverageBefore.toFixed(1)} on ${report.machine.cpus} CPUs`,
    durationMs: phases.endMs,
    flood: {
      fromMs: phases.floodFromMs,
      toMs: phases.floodToMs,
      onsetToMs: Math.min(phases.floodToMs, phases.floodFromMs + ONSET_SECONDS * 1000),
    },
    panels: [
      {
        title: "Order entry latency, well-behaved traders (per 250 ms)",
        unit: "ms",
        series: [
          { name: "median", color: "#1f77b4", points: at((row) => row.orderP50Ms) },
          { name: "max", color: "#ff7f0e", points: at((row) => row.orderMaxMs) },
        ],
        ...(calmP99 === null ? {} : { guide: { value: 3 * calmP99, label: "3× calm p99" } }),
      },
      {
        title: "Flood HTTP + WebSocket traffic",
        unit: "per second",
        series: [
          { name: "offered", color: "#444444", points: at((row) => row.floodOfferedPerSec) },
          { name: "answered", color: "#2ca02c", points: at((row) => row.floodAnsweredPerSec) },
          { name: "rate-limited", color: "#9467bd", points: at((row) => row.floodRejectedPerSec) },
        ],
      },
      {
        title: "Flood shed (503)",
        unit: "per second",
        series: [{ name: "shed", color: "#d62728", points: at((row) => row.floodShedPerSec) }],
      },
      {
        title: "Server memory (RSS)",
        unit: "MB",
        series: [{ name: "RSS", color: "#8c564b", points: at((row) => row.rssMb) }],
      },
      {
        title: "Server event-loop delay (max per 250 ms)",
        unit: "ms",
        series: [{ name: "loop delay", color: "#17becf", points: at((row) => row.loopMaxMs) }],
      },
    ],
  });
}

export function fmt(value: number | null, digits = 1): string {
  return value === null ? "-" : value.toFixed(digits);
}

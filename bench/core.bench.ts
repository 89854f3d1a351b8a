// Bulwark core benchmark (not a test): `npm run bench` prints one table per scenario,
// Bulwark's core (ledger holds + journal append) vs the npm package nodejs-order-book on the
// same deterministic op stream in the same process.
//
// Flags (after `npm run bench --`):
//   --json            only JSON lines on stdout: one object per engine and scenario
//   --runs N          timed runs per engine, median reported (default 5; one warm-up run first)
//   --ops N           timed ops of the mixed scenario (default 1,000,000; deep uses N / 5)
//   --deep-orders N   resting orders prefilled in the deep scenario (default 1,000,000)
//   --quick           smoke run: 100k mixed ops, 100k-order deep book with 20k ops, 2 runs
//   --scenario S      mixed | deep | all (default all)
//   --no-peer         skip nodejs-order-book (for profiling the Bulwark side)
//   --seed N          PRNG seed of the workload (default fixed)
//   --max-load-wait-s N  wait at most N s for a quiet machine before each scenario (0: do not wait)
//
// Scenarios. mixed: 10,000 resting orders around the mid, then 60 % GTC limits within ±50 ticks
// (about 20 % marketable), 30 % cancels of random resting orders, 10 % market orders, 1–100 lots.
// deep: 1,000,000 resting orders, 100 per price level, then 200,000 ops of the same mix.
//
// Method. The stream is generated once per scenario as plain data, then translated to each
// engine's calls outside any timed region. An untimed resolve pass per engine picks every
// cancel's target from that engine's own results (live resting orders), so both engines cancel
// the same ids when they behave the same. Each run builds a fresh engine; the prefill is untimed.
// Bulwark: batches of 1,000 commands through applyBatch; "+journal" also encodes each command
// straight into the file journal's pending buffer and starts the batch's group commit (write +
// fdatasync) without waiting for it, as the Sequencer does: the next batch runs while the sync
// is in flight (pipelined), and the timing ends when the last batch is durable. The journal row
// also reports fdatasyncs, batch commit latency and the encode + append cost per command.
// Load: the 1-min load average is printed per run; before each scenario the bench waits (at most
// --max-load-wait-s seconds, default 60) for it to drop below the CPU count, since other processes
// on a shared 2-core machine skew every number. Take the median of several invocations.
// Latency: separate pass, one op per call, process.hrtime.bigint() around it, the timer's own
// cost (median of back-to-back calls) subtracted. Memory: heapUsed + external (which includes
// ArrayBuffers) after gc, empty book with funded users as baseline, divided by resting orders.

import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  BATCH_SIZE,
  type JournalRun,
  latencyCore,
  latencyJournal,
  measureAppendCost,
  measureReplay,
  measureSnapshot,
  memoryBulwark,
  prepareBulwark,
  resolveBulwark,
  timedCoreRun,
  timedJournalRun,
} from "./bulwark-engine.ts";
import { JOURNAL_IMPLEMENTATION } from "./journal-adapter.ts";
import { latencyPeer, memoryPeer, PEER_NAME, preparePeer, resolvePeer, timedPeerRun } from "./peer-engine.ts";
import { type EngineResult, renderJsonLines, renderTable, type ScenarioReport } from "./report.ts";
import {
  fullGc,
  hasGc,
  type LatencySummary,
  measureTimerOverheadNs,
  median,
  summarizeLatency,
} from "./stats.ts";
import {
  deepParams,
  generate,
  mixedParams,
  OP_CANCEL,
  type OpStream,
  type ScenarioParams,
  type WorkCounters,
} from "./workload.ts";

interface Options {
  json: boolean;
  runs: number;
  ops: number;
  deepOrders: number;
  deepOps: number;
  scenarios: ("mixed" | "deep")[];
  peer: boolean;
  seed: number | undefined;
  maxLoadWaitSeconds: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    json: false,
    runs: 5,
    ops: 1_000_000,
    deepOrders: 1_000_000,
    deepOps: 0,
    scenarios: ["mixed", "deep"],
    peer: true,
    seed: undefined,
    maxLoadWaitSeconds: 60,
  };
  let opsGiven = false;
  let quick = false;
  const num = (i: number): number => {
    const v = Number(argv[i]);
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${argv[i - 1]} needs a positive integer`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") o.json = true;
    else if (a === "--runs") o.runs = num(++i);
    else if (a === "--ops") {
      o.ops = num(++i);
      opsGiven = true;
    } else if (a === "--deep-orders") o.deepOrders = num(++i);
    else if (a === "--quick") quick = true;
    else if (a === "--no-peer") o.peer = false;
    else if (a === "--seed") o.seed = num(++i);
    else if (a === "--max-load-wait-s") {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) throw new Error("--max-load-wait-s needs an integer >= 0");
      o.maxLoadWaitSeconds = v;
    } else if (a === "--scenario") {
      const s = argv[++i];
      if (s === "all") o.scenarios = ["mixed", "deep"];
      else if (s === "mixed" || s === "deep") o.scenarios = [s];
      else throw new Error("--scenario takes mixed, deep or all");
    } else throw new Error(`unknown flag ${a} (see the comment at the top of bench/core.bench.ts)`);
  }
  if (quick) {
    if (!opsGiven) o.ops = 100_000;
    o.deepOrders = Math.min(o.deepOrders, 100_000);
    o.runs = Math.min(o.runs, 2);
  }
  o.deepOps = Math.max(1, Math.round(o.ops / 5));
  return o;
}

const options = parseArgs(process.argv.slice(2));
const log = (message: string): void => {
  if (!options.json) process.stderr.write(`[bench] ${message}\n`);
};

const LOAD_POLL_MS = 2_000;

function loadText(): string {
  return loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");
}

/** Waits (bounded) until the 1-min load average is below the CPU count; returns the load then. */
async function waitForQuietMachine(maxWaitSeconds: number): Promise<number> {
  const cpuCount = cpus().length;
  const deadlineMs = Date.now() + maxWaitSeconds * 1000;
  while (loadavg()[0] >= cpuCount && Date.now() < deadlineMs) {
    log(
      `load average ${loadText()} on ${cpuCount} CPUs: waiting for it to drop (at most ${maxWaitSeconds} s)`,
    );
    await new Promise((resolve) => setTimeout(resolve, LOAD_POLL_MS));
  }
  return loadavg()[0];
}

function opBatchCount(ops: number): number {
  return Math.ceil(ops / BATCH_SIZE);
}

function opsPerSec(ops: number, seconds: number): number {
  return ops / seconds;
}

function baseResult(
  stream: OpStream,
  engine: EngineResult["engine"],
  runs: number[],
  latency: LatencySummary,
  counters: WorkCounters,
): EngineResult {
  return {
    scenario: stream.params.name,
    engine,
    opsPerSec: median(runs),
    runsOpsPerSec: runs,
    p50Us: latency.p50Us,
    p99Us: latency.p99Us,
    p999Us: latency.p999Us,
    maxUs: latency.maxUs,
    meanUs: latency.meanUs,
    timerOverheadNs: latency.timerOverheadNs,
    bytesPerRestingOrder: null,
    memoryRestingOrders: null,
    heapBytesDelta: null,
    externalBytesDelta: null,
    ops: stream.params.ops,
    prefillOrders: stream.prefillCount,
    trades: counters.trades,
    volumeLots: counters.volumeLots,
    marketableLimitShare: stream.opCounts.limit === 0 ? 0 : counters.marketableLimits / stream.opCounts.limit,
    cancelsDone: counters.cancelsDone,
    selfTradeCancels: counters.selfTradeCancels,
    restingAtEnd: counters.restingAtEnd,
    notes: [],
  };
}

async function runScenario(
  params: ScenarioParams,
  timerOverheadNs: number,
  dir: string,
): Promise<ScenarioReport> {
  const stream = generate(params);
  const ops = params.ops;
  const runs = options.runs;
  const results: EngineResult[] = [];
  const checks: string[] = [];
  const loadBefore = await waitForQuietMachine(options.maxLoadWaitSeconds);
  const loadSamples: number[] = [];
  log(
    `${params.name}: ${stream.prefillCount} prefill + ${ops} ops (${stream.opCounts.limit} limit, ${stream.opCounts.cancel} cancel, ${stream.opCounts.market} market)`,
  );

  // --- nodejs-order-book ---
  let peerTargets: Float64Array | null = null;
  if (options.peer) {
    const prepared = preparePeer(stream);
    log(`${PEER_NAME}: resolve pass`);
    const resolved = resolvePeer(prepared);
    peerTargets = resolved.cancelTargets;
    log(`${PEER_NAME}: warm-up + ${runs} runs`);
    timedPeerRun(prepared);
    const peerRuns: number[] = [];
    for (let r = 0; r < runs; r++) {
      peerRuns.push(opsPerSec(ops, timedPeerRun(prepared)));
      log(`  run ${r + 1}: ${(peerRuns[r] / 1e3).toFixed(0)} k ops/s`);
    }
    log(`${PEER_NAME}: latency pass`);
    const latency = summarizeLatency(latencyPeer(prepared, timerOverheadNs), timerOverheadNs);
    const result = baseResult(stream, "nodejs-order-book", peerRuns, latency, resolved.counters);
    log(`${PEER_NAME}: memory`);
    const mem = memoryPeer(stream);
    result.bytesPerRestingOrder = (mem.delta.heapUsed + mem.delta.external) / mem.resting;
    result.memoryScenario = params.name;
    result.memoryRestingOrders = mem.resting;
    result.heapBytesDelta = mem.delta.heapUsed;
    result.externalBytesDelta = mem.delta.external;
    result.notes.push("STP EXPIRE_MAKER per user (= Bulwark cancelResting); no ledger, no journal");
    results.push(result);
    fullGc();
  }

  // --- Bulwark ---
  const prepared = prepareBulwark(stream);
  log("bulwark: resolve pass");
  const resolved = resolveBulwark(prepared);
  const rejectText = Object.entries(resolved.rejects)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  checks.push(`bulwark rejects in the timed ops: ${rejectText === "" ? "none" : rejectText}`);
  let agreement: number | null = null;
  if (peerTargets !== null) {
    let same = 0;
    for (let i = stream.prefillCount; i < stream.count; i++)
      if (stream.kind[i] === OP_CANCEL && resolved.cancelTargets[i] === peerTargets[i]) same += 1;
    const cancels = stream.opCounts.cancel;
    agreement = cancels === 0 ? 1 : same / cancels;
  }

  log(`bulwark core only: warm-up + ${runs} runs`);
  timedCoreRun(prepared);
  const coreRuns: number[] = [];
  const eventCounts = new Set<number>();
  for (let r = 0; r < runs; r++) {
    const run = timedCoreRun(prepared);
    eventCounts.add(run.events);
    coreRuns.push(opsPerSec(ops, run.seconds));
    loadSamples.push(loadavg()[0]);
    log(`  run ${r + 1}: ${(coreRuns[r] / 1e6).toFixed(2)} M ops/s (load ${loadText()})`);
  }

  log(`bulwark + journal: warm-up + ${runs} runs (${JOURNAL_IMPLEMENTATION})`);
  const warm = await timedJournalRun(prepared, dir, `${params.name}-warmup`);
  rmSync(warm.journalPath, { recursive: true, force: true });
  const journalRuns: number[] = [];
  const runStats: JournalRun[] = [];
  let lastJournal = "";
  let journalBytes = 0;
  for (let r = 0; r < runs; r++) {
    const run = await timedJournalRun(prepared, dir, `${params.name}-run${r}`);
    eventCounts.add(run.events);
    journalRuns.push(opsPerSec(ops, run.seconds));
    runStats.push(run);
    if (lastJournal !== "") rmSync(lastJournal, { recursive: true, force: true });
    lastJournal = run.journalPath;
    journalBytes = run.journalBytes;
    loadSamples.push(loadavg()[0]);
    log(
      `  run ${r + 1}: ${(journalRuns[r] / 1e6).toFixed(2)} M ops/s, ${run.dataSyncCount} fdatasyncs, ` +
        `back-pressure ${(run.backPressureSeconds * 1e3).toFixed(1)} ms, final drain ${(run.drainSeconds * 1e3).toFixed(1)} ms (load ${loadText()})`,
    );
  }
  log("bulwark: journal encode + append cost (no core)");
  const appendNsRuns: number[] = [];
  for (let r = 0; r < runs; r++)
    appendNsRuns.push(await measureAppendCost(prepared, dir, `${params.name}-append${r}`));
  const appendNsPerOp = median(appendNsRuns);
  checks.push(
    eventCounts.size === 1
      ? `bulwark: every timed run produced the same ${[...eventCounts][0]} events`
      : `bulwark: timed runs produced different event counts: ${[...eventCounts].join(", ")}`,
  );

  log("bulwark: latency passes");
  const latCore = summarizeLatency(latencyCore(prepared, timerOverheadNs), timerOverheadNs);
  const latJournal = summarizeLatency(await latencyJournal(prepared, timerOverheadNs, dir), timerOverheadNs);

  log("bulwark: journal replay (cold, then median of 3)");
  const coldReplay = await measureReplay(lastJournal, prepared.limits);
  const replays = [];
  for (let r = 0; r < 3; r++) replays.push(await measureReplay(lastJournal, prepared.limits));
  const replaySeconds = median(replays.map((x) => x.seconds));
  const replayOpenSeconds = median(replays.map((x) => x.openSeconds));
  const replay = replays[0];
  rmSync(lastJournal, { recursive: true, force: true });
  checks.push(
    replays.every((x) => x.hash === resolved.hash) && coldReplay.hash === resolved.hash
      ? "bulwark: replayed journal reproduces the state hash of the resolve pass"
      : "bulwark: replayed journal state hash DIFFERS from the resolve pass",
  );
  checks.push(
    `bulwark: journal replay of ${replay.commands.toLocaleString("en-US")} records: open (read + verify) ${(replayOpenSeconds * 1e3).toFixed(0)} ms of ${(replaySeconds * 1e3).toFixed(0)} ms (median of 3)`,
  );

  log("bulwark: memory + snapshot/restore");
  const mem = memoryBulwark(prepared);
  const medianRun = (get: (run: JournalRun) => number): number => median(runStats.map(get));
  const commitLatency = summarizeLatency(
    Float64Array.from(runStats.flatMap((run) => [...run.commitLatencyNs])),
    0,
  );
  checks.push(
    `bulwark + journal: ${medianRun((x) => x.dataSyncCount)} fdatasyncs per ${ops.toLocaleString("en-US")} ops ` +
      `(${opBatchCount(ops)} batches, ${medianRun((x) => x.flushRoundCount)} flush rounds), medians of ${runs} runs; ` +
      `waiting for the disk: back-pressure ${(medianRun((x) => x.backPressureSeconds) * 1e3).toFixed(1)} ms, ` +
      `final drain ${(medianRun((x) => x.drainSeconds) * 1e3).toFixed(1)} ms`,
  );
  checks.push(
    `bulwark + journal: batch commit latency (flush() to durable) p50 ${(commitLatency.p50Us / 1e3).toFixed(2)} ms, ` +
      `p99 ${(commitLatency.p99Us / 1e3).toFixed(2)} ms, max ${(commitLatency.maxUs / 1e3).toFixed(2)} ms`,
  );
  checks.push(
    `bulwark + journal: encode + append ${appendNsPerOp.toFixed(0)} ns per command (no core, median of ${runs})`,
  );
  const snap = measureSnapshot(mem.core, prepared.limits, 3);
  checks.push(
    `bulwark: snapshot of ${snap.restingOrders} resting orders restores to the same state hash: ${snap.hashMatches ? "yes" : "NO"}`,
  );

  const peer = results.find((r) => r.engine === "nodejs-order-book");
  for (const [engine, runsOps, lat] of [
    ["bulwark", journalRuns, latJournal],
    ["bulwark-core", coreRuns, latCore],
  ] as const) {
    const r = baseResult(stream, engine, [...runsOps], lat, resolved.counters);
    r.bytesPerRestingOrder = (mem.delta.heapUsed + mem.delta.external) / mem.resting;
    r.memoryScenario = params.name;
    r.memoryRestingOrders = mem.resting;
    r.heapBytesDelta = mem.delta.heapUsed;
    r.externalBytesDelta = mem.delta.external;
    r.snapshotMs = snap.snapshotMs;
    r.restoreMs = snap.restoreMs;
    r.snapshotBytes = snap.snapshotBytes;
    r.snapshotRestingOrders = snap.restingOrders;
    r.replayOpsPerSec = replay.commands / replaySeconds;
    r.replayColdOpsPerSec = coldReplay.commands / coldReplay.seconds;
    r.replayCommands = replay.commands;
    if (peer !== undefined) r.ratioVsPeer = r.opsPerSec / peer.opsPerSec;
    if (engine === "bulwark") {
      r.journalBytes = journalBytes;
      r.dataSyncCount = medianRun((x) => x.dataSyncCount);
      r.appendNsPerOp = appendNsPerOp;
      r.commitLatencyP99Ms = commitLatency.p99Us / 1e3;
      r.notes.push(
        `journal: ${JOURNAL_IMPLEMENTATION}; group commit every 1,000 commands; latency = encode + append + apply`,
      );
    } else r.notes.push("same core without the journal (extra row); latency = applyBatch of one command");
    results.push(r);
  }
  checks.push(
    `machine load average (1 min) ${loadBefore.toFixed(2)} at start, per timed run median ${median(loadSamples).toFixed(2)} max ${Math.max(...loadSamples).toFixed(2)}, ${loadavg()[0].toFixed(2)} at end, on ${cpus().length} CPUs (this bench adds ~1): other processes skew the numbers when it is above the CPU count`,
  );
  return {
    scenario: params.name,
    ops,
    prefillOrders: stream.prefillCount,
    runs,
    results,
    cancelIdAgreement: agreement,
    checks,
  };
}

async function main(): Promise<void> {
  if (!hasGc()) log("warning: run with --expose-gc (npm run bench does) for stable memory numbers");
  const timerOverheadNs = measureTimerOverheadNs();
  log(`hrtime.bigint() pair overhead ${timerOverheadNs} ns (subtracted from latency samples)`);
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-"));
  try {
    const reports: ScenarioReport[] = [];
    for (const name of options.scenarios) {
      const params =
        name === "mixed"
          ? mixedParams(options.ops, options.seed)
          : deepParams(options.deepOrders, options.deepOps, options.seed);
      reports.push(await runScenario(params, timerOverheadNs, dir));
      fullGc();
    }
    // Memory per resting order is only meaningful on a big book: when the deep scenario ran,
    // its numbers stand for every scenario (the 10k-order mixed book is within GC noise).
    const deep = reports.find((r) => r.scenario === "deep");
    if (deep !== undefined) {
      for (const report of reports) {
        if (report === deep) continue;
        for (const r of report.results) {
          const d = deep.results.find((x) => x.engine === r.engine);
          if (d === undefined) continue;
          r.bytesPerRestingOrder = d.bytesPerRestingOrder;
          r.memoryRestingOrders = d.memoryRestingOrders;
          r.heapBytesDelta = d.heapBytesDelta;
          r.externalBytesDelta = d.externalBytesDelta;
          r.memoryScenario = "deep";
        }
      }
    }
    for (const report of reports) {
      if (options.json) process.stdout.write(`${renderJsonLines(report)}\n`);
      else process.stdout.write(`\n${renderTable(report)}\n\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

// Bulwark's core driven with the op stream: resolve pass (liveness from its own events),
// timed runs with and without the journal, per-op latency, memory of the 1M-order book,
// snapshot/restore and journal replay.

import { rmSync } from "node:fs";
import type { CancelOrderCommand, Command } from "../src/core/commands.ts";
import type { CoreLimits } from "../src/core/config.ts";
import { Core } from "../src/core/core.ts";
import type { CoreEvent } from "../src/core/events.ts";
import { batches, placeCommand, setupCommands, streamCommands } from "./bulwark-commands.ts";
import { PipelinedJournal, replayBenchJournal } from "./journal-adapter.ts";
import { applyLiveChanges, LiveSet } from "./live-set.ts";
import { fullGc, type MemorySample, memoryDelta, sampleMemory } from "./stats.ts";
import { emptyCounters, OP_CANCEL, OP_LIMIT, type OpStream, type WorkCounters } from "./workload.ts";

/** Commands per applyBatch call and per journal group commit. */
export const BATCH_SIZE = 1_000;

export function benchLimits(stream: OpStream): Partial<CoreLimits> {
  // Generous per-user limit so it never bites (the deep book puts ~500 orders on each user).
  return { maxOpenOrdersPerUser: 100_000, maxOpenOrders: Math.max(1 << 20, stream.count + 1024) };
}

export interface BulwarkPrepared {
  stream: OpStream;
  limits: Partial<CoreLimits>;
  setup: Command[][];
  commands: Command[];
  prefillBatches: Command[][];
  opBatches: Command[][];
}

export function prepareBulwark(stream: OpStream): BulwarkPrepared {
  const commands = streamCommands(stream);
  return {
    stream,
    limits: benchLimits(stream),
    setup: batches(setupCommands(stream.params.users), 0, stream.setupCount, BATCH_SIZE),
    commands,
    prefillBatches: batches(commands, 0, stream.prefillCount, BATCH_SIZE),
    opBatches: batches(commands, stream.prefillCount, stream.count, BATCH_SIZE),
  };
}

function applyChecked(core: Core, batch: readonly Command[], events: CoreEvent[], what: string): void {
  core.applyBatch(batch, events);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.type === "rejected") throw new Error(`${what}: command ${e.sequence} rejected (${e.reason})`);
  }
  events.length = 0;
}

/** Fresh core with the market, funded users and the (untimed) prefill. */
export function buildCore(prepared: BulwarkPrepared): Core {
  const core = new Core(prepared.limits);
  const events: CoreEvent[] = [];
  for (const batch of prepared.setup) applyChecked(core, batch, events, "setup");
  for (const batch of prepared.prefillBatches) applyChecked(core, batch, events, "prefill");
  return core;
}

/** Same, with every setup and prefill command also journaled, pipelined like the timed runs (untimed). */
async function buildJournaledCore(prepared: BulwarkPrepared, journal: PipelinedJournal): Promise<Core> {
  const core = new Core(prepared.limits);
  const events: CoreEvent[] = [];
  for (const batch of [...prepared.setup, ...prepared.prefillBatches]) {
    await journal.reserve(batch.length);
    journal.append(batch);
    applyChecked(core, batch, events, "setup/prefill");
    await journal.commitAndYield();
  }
  await journal.drain();
  return core;
}

/** Batches a journal of this prepared stream commits: setup, prefill and ops. */
function journalBatchCount(prepared: BulwarkPrepared): number {
  return prepared.setup.length + prepared.prefillBatches.length + prepared.opBatches.length;
}

export interface BulwarkResolved {
  counters: WorkCounters;
  cancelTargets: Float64Array;
  rejects: Record<string, number>;
  /** State hash after the last op. */
  hash: string;
}

/**
 * Untimed pass (doubles as warm-up): one command per applyBatch so each cancel sees the state
 * after the previous command; picks cancel targets from the core's own events and writes them
 * (orderId and owner) into the cancel commands used by every later run.
 */
export function resolveBulwark(prepared: BulwarkPrepared): BulwarkResolved {
  const { stream, commands } = prepared;
  const core = buildCore(prepared);
  const live = new LiveSet(stream.firstSequence, stream.count);
  for (let i = 0; i < stream.prefillCount; i++) live.add(stream.firstSequence + i);
  const counters = emptyCounters();
  const rejects: Record<string, number> = {};
  const cancelTargets = new Float64Array(stream.count);
  const events: CoreEvent[] = [];
  const one: Command[] = [commands[0]];
  const removed: number[] = [];

  for (let i = stream.prefillCount; i < stream.count; i++) {
    const command = commands[i];
    const sequence = stream.firstSequence + i;
    const kind = stream.kind[i];
    if (kind === OP_CANCEL) {
      const target = live.pick(stream.draw[i]);
      cancelTargets[i] = target;
      if (target === 0) counters.cancelsEmpty += 1;
      const cancel = command as CancelOrderCommand;
      cancel.orderId = target;
      // The owner, so the cancel is the user's own (order id = sequence, so the stream knows it).
      cancel.userId = target === 0 ? stream.userId[i] : stream.userId[target - stream.firstSequence];
    }
    one[0] = command;
    core.applyBatch(one, events);
    let rejected = false;
    let takerDone = false;
    let traded = false;
    for (let k = 0; k < events.length; k++) {
      const e = events[k];
      switch (e.type) {
        case "rejected":
          rejected = true;
          rejects[e.reason] = (rejects[e.reason] ?? 0) + 1;
          break;
        case "trade":
          counters.trades += 1;
          counters.volumeLots += e.quantityLots;
          traded = true;
          break;
        case "orderDone":
          if (e.orderId === sequence) takerDone = true;
          else {
            removed.push(e.orderId);
            if (e.reason === "cancelled") counters.cancelsDone += 1;
            else if (e.reason === "selfTrade") counters.selfTradeCancels += 1;
          }
          break;
        default:
          break;
      }
    }
    events.length = 0;
    if (kind === OP_LIMIT && traded) counters.marketableLimits += 1;
    const resting = kind === OP_LIMIT && !rejected && !takerDone ? sequence : 0;
    applyLiveChanges(live, removed, resting);
  }
  counters.restingAtEnd = live.size;
  return { counters, cancelTargets, rejects, hash: core.stateHash() };
}

export interface TimedRun {
  seconds: number;
  events: number;
}

/** Core alone: batches of BATCH_SIZE through applyBatch. */
export function timedCoreRun(prepared: BulwarkPrepared): TimedRun {
  const core = buildCore(prepared);
  const opBatches = prepared.opBatches;
  const events: CoreEvent[] = [];
  let eventCount = 0;
  fullGc();
  const t0 = process.hrtime.bigint();
  for (let b = 0; b < opBatches.length; b++) {
    core.applyBatch(opBatches[b], events);
    eventCount += events.length;
    events.length = 0;
  }
  const t1 = process.hrtime.bigint();
  return { seconds: Number(t1 - t0) / 1e9, events: eventCount };
}

export interface JournalRun extends TimedRun {
  journalPath: string;
  journalBytes: number;
  /** fdatasyncs during the timed ops (group commits that reached the disk). */
  dataSyncCount: number;
  /** Flush-loop rounds during the timed ops (each one write + one fdatasync). */
  flushRoundCount: number;
  /** Waiting for room in the pending buffer: the only time the core waits for the disk. */
  backPressureSeconds: number;
  /** Waiting at the end for the last batch's fdatasync (inside the timing: all ops durable). */
  drainSeconds: number;
  /** Per batch, flush() call to durable (ns): what an order's acknowledgement waits for. */
  commitLatencyNs: Float64Array;
}

/**
 * Core with the journal, as the Sequencer runs it: per batch, encode every command into the
 * journal's pending buffer, apply the batch, start its group commit and give the event loop a
 * turn, then go on with the next batch while the fdatasync runs. The timing ends when the last
 * batch is durable. The journal gets the setup and prefill untimed first, so it can be replayed
 * into a fresh core. Returns the journal path (closed) for replay.
 */
export async function timedJournalRun(
  prepared: BulwarkPrepared,
  dir: string,
  runLabel: string,
): Promise<JournalRun> {
  const journal = await PipelinedJournal.open(dir, runLabel, journalBatchCount(prepared));
  const core = await buildJournaledCore(prepared, journal);
  const opBatches = prepared.opBatches;
  const events: CoreEvent[] = [];
  let eventCount = 0;
  const firstOpBatch = journal.committedBatchCount;
  const stats = journal.journal.stats;
  const syncsBefore = stats.dataSyncCount;
  const roundsBefore = stats.flushRoundCount;
  fullGc();
  const t0 = process.hrtime.bigint();
  for (let b = 0; b < opBatches.length; b++) {
    const batch = opBatches[b];
    await journal.reserve(batch.length);
    journal.append(batch);
    core.applyBatch(batch, events);
    eventCount += events.length;
    events.length = 0;
    await journal.commitAndYield();
  }
  const tDrain = process.hrtime.bigint();
  await journal.drain();
  const t1 = process.hrtime.bigint();
  const dataSyncCount = stats.dataSyncCount - syncsBefore;
  const flushRoundCount = stats.flushRoundCount - roundsBefore;
  const commitLatencyNs = journal.commitLatencyNs.slice(firstOpBatch, journal.committedBatchCount);
  const journalBytes = await journal.close();
  return {
    seconds: Number(t1 - t0) / 1e9,
    events: eventCount,
    journalPath: journal.path,
    journalBytes,
    dataSyncCount,
    flushRoundCount,
    backPressureSeconds: journal.backPressureWaitNs / 1e9,
    drainSeconds: Number(t1 - tDrain) / 1e9,
    commitLatencyNs,
  };
}

/**
 * CPU cost of the journal's hot path alone: encode + append of every op command (no core),
 * timed per batch; the pipelined flushes run between batches, outside the timed spans.
 * Returns ns per command.
 */
export async function measureAppendCost(
  prepared: BulwarkPrepared,
  dir: string,
  label: string,
): Promise<number> {
  const journal = await PipelinedJournal.open(dir, label, journalBatchCount(prepared));
  try {
    // Setup and prefill first, so the op commands' sequences follow on.
    for (const batch of [...prepared.setup, ...prepared.prefillBatches]) {
      await journal.reserve(batch.length);
      journal.append(batch);
      await journal.commitAndYield();
    }
    const opBatches = prepared.opBatches;
    let commands = 0;
    let appendNs = 0;
    fullGc();
    for (let b = 0; b < opBatches.length; b++) {
      const batch = opBatches[b];
      await journal.reserve(batch.length);
      const t0 = process.hrtime.bigint();
      journal.append(batch);
      appendNs += Number(process.hrtime.bigint() - t0);
      commands += batch.length;
      await journal.commitAndYield();
    }
    return appendNs / commands;
  } finally {
    await journal.close();
    rmSync(journal.path, { recursive: true, force: true });
  }
}

/** Per-command latency, core alone: applyBatch of one command (ns, timer overhead subtracted). */
export function latencyCore(prepared: BulwarkPrepared, timerOverheadNs: number): Float64Array {
  const { stream, commands } = prepared;
  const core = buildCore(prepared);
  const samples = new Float64Array(stream.count - stream.prefillCount);
  const events: CoreEvent[] = [];
  const one: Command[] = [commands[0]];
  fullGc();
  let n = 0;
  for (let i = stream.prefillCount; i < stream.count; i++) {
    one[0] = commands[i];
    const t0 = process.hrtime.bigint();
    core.applyBatch(one, events);
    const t1 = process.hrtime.bigint();
    events.length = 0;
    samples[n++] = Math.max(0, Number(t1 - t0) - timerOverheadNs);
  }
  return samples;
}

/**
 * Per-command latency with the journal: encode + append + applyBatch of one command; every
 * BATCH_SIZE commands the pipelined group commit starts (and the event loop gets its turn)
 * outside the timed spans, so syncs run in the background as in the timed runs.
 */
export async function latencyJournal(
  prepared: BulwarkPrepared,
  timerOverheadNs: number,
  dir: string,
): Promise<Float64Array> {
  const { stream, commands } = prepared;
  const opCount = stream.count - stream.prefillCount;
  const journal = await PipelinedJournal.open(
    dir,
    "latency",
    journalBatchCount(prepared) + Math.ceil(opCount / BATCH_SIZE),
  );
  const core = await buildJournaledCore(prepared, journal);
  const samples = new Float64Array(opCount);
  const events: CoreEvent[] = [];
  const one: Command[] = [commands[0]];
  fullGc();
  let n = 0;
  await journal.reserve(BATCH_SIZE);
  for (let i = stream.prefillCount; i < stream.count; i++) {
    const c = commands[i];
    one[0] = c;
    const t0 = process.hrtime.bigint();
    journal.append(one);
    core.applyBatch(one, events);
    const t1 = process.hrtime.bigint();
    events.length = 0;
    samples[n++] = Math.max(0, Number(t1 - t0) - timerOverheadNs);
    if (n % BATCH_SIZE === 0) {
      await journal.commitAndYield();
      await journal.reserve(BATCH_SIZE);
    }
  }
  await journal.close();
  rmSync(journal.path, { recursive: true, force: true });
  return samples;
}

export interface SnapshotResult {
  snapshotMs: number;
  restoreMs: number;
  snapshotBytes: number;
  restingOrders: number;
  hashMatches: boolean;
}

/** Snapshot and restore of a built core, each the median of `repeats` after one warm-up. */
export function measureSnapshot(core: Core, limits: Partial<CoreLimits>, repeats: number): SnapshotResult {
  const snaps: number[] = [];
  const restores: number[] = [];
  let bytes = core.snapshot();
  Core.restore(bytes, limits);
  for (let r = 0; r < repeats; r++) {
    fullGc();
    const t0 = process.hrtime.bigint();
    bytes = core.snapshot();
    const t1 = process.hrtime.bigint();
    fullGc();
    const t2 = process.hrtime.bigint();
    Core.restore(bytes, limits);
    const t3 = process.hrtime.bigint();
    snaps.push(Number(t1 - t0) / 1e6);
    restores.push(Number(t3 - t2) / 1e6);
  }
  const restored = Core.restore(bytes, limits);
  const view = core.exportState();
  let restingOrders = 0;
  for (const m of view.markets) restingOrders += m.bids.length + m.asks.length;
  return {
    snapshotMs: medianOf(snaps),
    restoreMs: medianOf(restores),
    snapshotBytes: bytes.length,
    restingOrders,
    hashMatches: restored.stateHash() === core.stateHash(),
  };
}

function medianOf(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Replay as recovery does it: open (checks every record) + decode every record in place and
 * apply it to a fresh core in batches; ops/s over all records, open included.
 */
export async function measureReplay(
  path: string,
  limits: Partial<CoreLimits>,
): Promise<{ seconds: number; openSeconds: number; commands: number; hash: string }> {
  fullGc();
  const t0 = process.hrtime.bigint();
  const core = new Core(limits);
  const replayed = await replayBenchJournal(path, core, BATCH_SIZE);
  const t1 = process.hrtime.bigint();
  return {
    seconds: Number(t1 - t0) / 1e9,
    openSeconds: replayed.openSeconds,
    commands: replayed.commands,
    hash: core.stateHash(),
  };
}

/**
 * Memory of the prefilled book: baseline is the core with its market and funded users but no
 * orders; commands are made on the fly in chunks so nothing the core does not keep is counted.
 * Returns the built core for the snapshot measurement.
 */
export function memoryBulwark(prepared: BulwarkPrepared): {
  delta: MemorySample;
  resting: number;
  core: Core;
} {
  const { stream } = prepared;
  const events: CoreEvent[] = [];
  const core = new Core(prepared.limits);
  for (const batch of prepared.setup) applyChecked(core, batch, events, "setup");
  const before = sampleMemory();
  const chunk: Command[] = [];
  for (let i = 0; i < stream.prefillCount; i++) {
    chunk.push(placeCommand(stream, i));
    if (chunk.length === BATCH_SIZE || i === stream.prefillCount - 1) {
      applyChecked(core, chunk, events, "prefill");
      chunk.length = 0;
    }
  }
  const after = sampleMemory();
  return { delta: memoryDelta(before, after), resting: stream.prefillCount, core };
}

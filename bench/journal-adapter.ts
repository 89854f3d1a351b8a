// Bulwark's file journal (src/journal/file-journal.ts) driven the way the Sequencer drives it
// (src/runtime/sequencer.ts): each command is encoded straight into the journal's pending
// buffer, the batch is applied, flush() is called for the batch without waiting for it, and the
// event loop gets one turn (the Sequencer schedules batches with setImmediate) so finished
// writes and fdatasyncs are handled. The next batch is then processed while the previous
// batch's sync is in flight: pipelined group commit. A batch waits for the disk only when the
// pending buffer has no room for it. Replay is recovery's own code path (src/runtime/recovery.ts).

import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { setImmediate as nextLoopTurn } from "node:timers/promises";
import type { Command } from "../src/core/commands.ts";
import { CommandEncoder } from "../src/journal/command-codec.ts";
import { FileJournal } from "../src/journal/file-journal.ts";
import { RECORD_HEADER_SIZE_BYTES } from "../src/journal/segment-format.ts";
import { replayJournal } from "../src/runtime/recovery.ts";
import type { SequencedCore } from "../src/runtime/sequencer.ts";

export const JOURNAL_IMPLEMENTATION =
  "FileJournal, encoded in place, flush per batch pipelined (next batch runs during the fdatasync)";

/** Bound on one bench command's record (header + encoding; no bench command carries a long string). */
const MAX_BENCH_RECORD_SIZE_BYTES = RECORD_HEADER_SIZE_BYTES + 256;

function dirSizeBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}

/** Pipelined group commit over one FileJournal; see the top of this file. */
export class PipelinedJournal {
  private readonly encoder = new CommandEncoder();
  /** The last flush() started: every earlier one resolves no later than it. */
  private inFlight: Promise<void> = Promise.resolve();
  /** Durability latency per batch (flush() call to resolve), ns; bounded by maxBatches. */
  readonly commitLatencyNs: Float64Array;
  private commitCount = 0;
  /** Time spent waiting for room in the pending buffer (the disk fell behind). */
  backPressureWaitNs = 0;
  backPressureWaitCount = 0;

  private constructor(
    readonly path: string,
    readonly journal: FileJournal,
    maxBatches: number,
  ) {
    this.commitLatencyNs = new Float64Array(maxBatches);
  }

  static async open(parentDir: string, label: string, maxBatches: number): Promise<PipelinedJournal> {
    const dir = join(parentDir, label);
    return new PipelinedJournal(dir, await FileJournal.open({ dir }), maxBatches);
  }

  /** Batches committed so far (the count of commitLatencyNs entries filled). */
  get committedBatchCount(): number {
    return this.commitCount;
  }

  /** Waits, if need be, until the pending buffer has room for `commandCount` more records. */
  async reserve(commandCount: number): Promise<void> {
    const neededBytes = commandCount * MAX_BENCH_RECORD_SIZE_BYTES;
    if (this.journal.hasRoomFor(neededBytes)) return;
    const t0 = process.hrtime.bigint();
    await this.journal.flush();
    this.backPressureWaitNs += Number(process.hrtime.bigint() - t0);
    this.backPressureWaitCount++;
    if (!this.journal.hasRoomFor(neededBytes)) {
      throw new RangeError(`a batch of ${commandCount} commands does not fit an empty pending buffer`);
    }
  }

  /** Encodes each command into the journal's pending buffer (what Sequencer.stampAndJournal does). */
  append(batch: readonly Command[]): void {
    const journal = this.journal;
    const encoder = this.encoder;
    for (let i = 0; i < batch.length; i++) {
      const command = batch[i];
      journal.appendEncoded(command.sequence, command, encoder);
    }
  }

  /**
   * Starts the group commit of everything appended, does not wait for it, and gives the event
   * loop one turn so completed writes and syncs run (and the flush loop starts the next one).
   */
  async commitAndYield(): Promise<void> {
    const slot = this.commitCount;
    if (slot >= this.commitLatencyNs.length) throw new RangeError("more batches than maxBatches");
    this.commitCount++;
    const t0 = process.hrtime.bigint();
    const latencies = this.commitLatencyNs;
    this.inFlight = this.journal.flush().then(() => {
      latencies[slot] = Number(process.hrtime.bigint() - t0);
    });
    await nextLoopTurn();
  }

  /** Resolves when every commit started so far is durable. */
  drain(): Promise<void> {
    return this.inFlight;
  }

  /** Flushes, closes, returns the size of the journal's files in bytes. */
  async close(): Promise<number> {
    await this.inFlight;
    await this.journal.close();
    return dirSizeBytes(this.path);
  }
}

/**
 * Recovery as the server does it: open the journal directory (which checks every record once),
 * then replay every record into `core` with recovery's replayJournal (decode in place, batches).
 * Returns the seconds spent in open and in replay.
 */
export async function replayBenchJournal(
  dir: string,
  core: SequencedCore,
  maxCommandsPerBatch: number,
): Promise<{ openSeconds: number; replaySeconds: number; commands: number }> {
  const t0 = process.hrtime.bigint();
  const journal = await FileJournal.open({ dir });
  const t1 = process.hrtime.bigint();
  try {
    const commands = replayJournal(core, journal, maxCommandsPerBatch);
    const t2 = process.hrtime.bigint();
    return { openSeconds: Number(t1 - t0) / 1e9, replaySeconds: Number(t2 - t1) / 1e9, commands };
  } finally {
    await journal.close();
  }
}

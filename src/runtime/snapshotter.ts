// Takes a snapshot every N commands or M ms, between batches (the sequencer calls afterBatch).
// Only core.snapshot() runs on the hot path — it must, to copy a consistent state; waiting for
// the journal, writing the file and pruning happen asynchronously. The snapshot is written only
// after the journal is durable through its sequence: otherwise a crash could leave a snapshot
// holding commands the journal lost, which were never acknowledged.

import type { Journal } from "../journal/journal.ts";
import type { BatchBoundaryHook, SequencedCore } from "./sequencer.ts";
/** Where snapshots go: files (SnapshotStore) or, in cluster mode, a JetStream object store. */
export interface SnapshotSink {
  write(sequence: number, core: Uint8Array): Promise<unknown>;
  /** Sequence of the oldest snapshot kept, 0 if none: the journal is needed after it. */
  oldestRetainedSequence(): number;
}

export interface SnapshotPolicy {
  /** Snapshot after this many commands since the last one. */
  everyCommands: number;
  /** ...or after this long, if any command came in since the last one. */
  everyMs: number;
}

export interface SnapshotterOptions {
  store: SnapshotSink;
  journal: Journal;
  policy: SnapshotPolicy;
  /** Monotonic milliseconds (performance.now in production). */
  monotonicClock: () => number;
  /** Where write failures go: a failed snapshot costs a longer replay, not correctness. */
  onError?: (error: unknown) => void;
  /** Sequence of the newest snapshot already on disk (from recovery), 0 if none. */
  lastSnapshotSequence?: number;
  /** Never prune the journal past this (e.g. the store projector's cursor, which replay must reach). */
  pruneLimit?: () => number;
}

export class Snapshotter implements BatchBoundaryHook {
  private readonly options: SnapshotterOptions;
  private lastSnapshotSequence: number;
  private lastSnapshotAtMs: number;
  private writing: Promise<void> | null = null;
  /** Snapshots taken (core.snapshot() called) and written. */
  takenCount = 0;
  writtenCount = 0;
  /** Time spent in core.snapshot() on the hot path, summed. */
  hotPathMs = 0;

  constructor(options: SnapshotterOptions) {
    this.options = options;
    this.lastSnapshotSequence = options.lastSnapshotSequence ?? 0;
    this.lastSnapshotAtMs = options.monotonicClock();
  }

  afterBatch(core: SequencedCore, lastSequence: number): void {
    if (this.writing !== null || !this.isDue(lastSequence)) return;
    const startMs = this.options.monotonicClock();
    const bytes = core.snapshot();
    const endMs = this.options.monotonicClock();
    this.hotPathMs += endMs - startMs;
    this.takenCount++;
    this.lastSnapshotSequence = lastSequence;
    this.lastSnapshotAtMs = endMs;
    this.writing = this.write(lastSequence, bytes).finally(() => {
      this.writing = null;
    });
  }

  /** Resolves when no snapshot write is in progress. */
  async idle(): Promise<void> {
    await this.writing;
  }

  private isDue(lastSequence: number): boolean {
    const commandsSince = lastSequence - this.lastSnapshotSequence;
    if (commandsSince <= 0) return false;
    if (commandsSince >= this.options.policy.everyCommands) return true;
    return this.options.monotonicClock() - this.lastSnapshotAtMs >= this.options.policy.everyMs;
  }

  private async write(sequence: number, bytes: Uint8Array): Promise<void> {
    const { store, journal } = this.options;
    try {
      await journal.flush(); // covers `sequence`: the batch was appended before afterBatch ran
      await store.write(sequence, bytes);
      this.writtenCount++;
      // Through the oldest kept snapshot, not the newest: if the newest turns out damaged,
      // recovery falls back to an older one and still finds the journal after it.
      const limit = this.options.pruneLimit?.() ?? Number.MAX_SAFE_INTEGER;
      await journal.pruneThrough(Math.min(store.oldestRetainedSequence(), limit));
    } catch (error) {
      (this.options.onError ?? ((e) => console.error("snapshot failed", e)))(error);
    }
  }
}

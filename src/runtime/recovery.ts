// Recovery: the newest usable snapshot, then every journal record after it. A snapshot is
// usable when its file checks out, the core accepts it, and the journal still holds everything
// after it. Damaged snapshots are skipped (and reported); the result is the same core state a
// replay of the whole command history would give.

import type { Command, CommandStamp } from "../core/commands.ts";
import type { CoreEvent } from "../core/events.ts";
import { CommandDecoder } from "../journal/command-codec.ts";
import type { Journal } from "../journal/journal.ts";
import type { SequencedCore } from "./sequencer.ts";
import type { SnapshotEntry, SnapshotStore } from "./snapshot-store.ts";

export interface RecoveryOptions<C extends SequencedCore> {
  journal: Journal;
  snapshots: SnapshotStore;
  createCore: () => C;
  /** Rebuilds a core from snapshot bytes; throws if they are not a valid snapshot. */
  restoreCore: (bytes: Uint8Array) => C;
  maxCommandsPerBatch: number;
  /**
   * Start from no snapshot newer than this sequence. A projection that is behind the core (the
   * store after a crash) passes its cursor, so replay regenerates every event it has not seen.
   */
  maxSnapshotSequence?: number;
  /** Receives the events of replayed commands, in order (they are not journaled, only commands are). */
  onReplayedEvents?: (events: readonly CoreEvent[], commands: readonly CommandStamp[]) => void;
}

export interface RecoveryReport {
  /** 0 when recovery replayed the journal from its start. */
  snapshotSequence: number;
  skippedSnapshots: { path: string; reason: string }[];
  replayedCommandCount: number;
  lastSequence: number;
}

export class RecoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecoveryError";
  }
}

interface Start<C> {
  core: C;
  snapshotSequence: number;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why the journal cannot continue from this snapshot, or null. */
function journalGap(journal: Journal, snapshotSequence: number): string | null {
  if (journal.lastSequence < snapshotSequence) {
    return `journal ends at ${journal.lastSequence}, before the snapshot at ${snapshotSequence}`;
  }
  if (journal.firstSequence > snapshotSequence + 1) {
    return `journal starts at ${journal.firstSequence}, after the snapshot at ${snapshotSequence}`;
  }
  return null;
}

function tryRestore<C extends SequencedCore>(
  options: RecoveryOptions<C>,
  entry: SnapshotEntry,
): { core: C } | { reason: string } {
  const gap = journalGap(options.journal, entry.sequence);
  if (gap !== null) return { reason: gap };
  try {
    const core = options.restoreCore(options.snapshots.read(entry));
    if (core.lastSequence !== entry.sequence) {
      return { reason: `core inside is at ${core.lastSequence}, file says ${entry.sequence}` };
    }
    return { core };
  } catch (error) {
    return { reason: errorMessage(error) };
  }
}

function chooseStart<C extends SequencedCore>(
  options: RecoveryOptions<C>,
  skipped: RecoveryReport["skippedSnapshots"],
): Start<C> {
  const maxSequence = options.maxSnapshotSequence ?? Number.MAX_SAFE_INTEGER;
  for (const entry of options.snapshots.list()) {
    if (entry.sequence > maxSequence) continue;
    const restored = tryRestore(options, entry);
    if ("core" in restored) return { core: restored.core, snapshotSequence: entry.sequence };
    skipped.push({ path: entry.path, reason: restored.reason });
  }
  const { journal } = options;
  // From scratch only if the journal holds the whole history, or there is no history at all.
  const wholeHistory = journal.firstSequence === 1 || (journal.lastSequence === 0 && skipped.length === 0);
  if (!wholeHistory) {
    const why = skipped.map((s) => `${s.path}: ${s.reason}`).join("; ") || "no snapshot";
    throw new RecoveryError(`journal starts at ${journal.firstSequence} and no snapshot is usable (${why})`);
  }
  return { core: options.createCore(), snapshotSequence: 0 };
}

/** Applies every journal record after the core's sequence, in batches. Returns how many. */
export function replayJournal(
  core: SequencedCore,
  journal: Journal,
  maxCommandsPerBatch: number,
  onEvents?: (events: readonly CoreEvent[], commands: readonly CommandStamp[]) => void,
): number {
  const batch: Command[] = [];
  let count = 0;
  const applyPending = (): void => {
    // Results of replayed commands were acknowledged before the crash, or never; projections may still need the events.
    const events: CoreEvent[] = [];
    core.applyBatch(batch, events);
    onEvents?.(
      events,
      batch.map((command) => ({ sequence: command.sequence, timestampMs: command.timestampMs })),
    );
    count += batch.length;
    batch.length = 0;
  };
  // Records are decoded in place (no slice, no reader per record).
  const decoder = new CommandDecoder();
  journal.forEachRecord(core.lastSequence + 1, (sequence, bytes, payloadOffset, payloadEndOffset) => {
    const command = decoder.decode(bytes, payloadOffset, payloadEndOffset);
    if (command.sequence !== sequence) {
      throw new RecoveryError(`journal record ${sequence} holds a command stamped ${command.sequence}`);
    }
    batch.push(command);
    if (batch.length === maxCommandsPerBatch) applyPending();
  });
  if (batch.length > 0) applyPending();
  return count;
}

/** Builds the core from the newest usable snapshot plus the journal after it. */
export function recover<C extends SequencedCore>(
  options: RecoveryOptions<C>,
): { core: C; report: RecoveryReport } {
  const skippedSnapshots: RecoveryReport["skippedSnapshots"] = [];
  const start = chooseStart(options, skippedSnapshots);
  const replayedCommandCount = replayJournal(
    start.core,
    options.journal,
    options.maxCommandsPerBatch,
    options.onReplayedEvents,
  );
  if (start.core.lastSequence !== options.journal.lastSequence && options.journal.lastSequence > 0) {
    throw new RecoveryError(
      `after replay the core is at ${start.core.lastSequence}, the journal at ${options.journal.lastSequence}`,
    );
  }
  const report: RecoveryReport = {
    snapshotSequence: start.snapshotSequence,
    skippedSnapshots,
    replayedCommandCount,
    lastSequence: start.core.lastSequence,
  };
  return { core: start.core, report };
}

// Embedded mode's durable core in one call: open the file journal (cutting a torn tail),
// recover the core from the newest snapshot plus the journal, and start the sequencer with
// periodic snapshots. Everything lives under <dataDir>/journal and <dataDir>/snapshots.

import { join } from "node:path";
import type { CommandStamp } from "../core/commands.ts";
import type { CoreLimits } from "../core/config.ts";
import { DEFAULT_CORE_LIMITS } from "../core/config.ts";
import { Core } from "../core/core.ts";
import type { CoreEvent } from "../core/events.ts";
import { FileJournal, type JournalOpenReport } from "../journal/file-journal.ts";
import { type RecoveryReport, recover } from "./recovery.ts";
import { Sequencer } from "./sequencer.ts";
import { SnapshotStore } from "./snapshot-store.ts";
import { type SnapshotPolicy, Snapshotter } from "./snapshotter.ts";

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = { everyCommands: 1_000_000, everyMs: 5 * 60_000 };
export const DEFAULT_MAX_QUEUED_COMMANDS = 100_000;

export interface EmbeddedCoreOptions {
  dataDir: string;
  limits?: Partial<CoreLimits>;
  /** Wall clock for command timestamps (ms since the epoch). */
  clock?: () => number;
  /** Monotonic clock for snapshot timing (ms). */
  monotonicClock?: () => number;
  maxQueuedCommands?: number;
  snapshotPolicy?: SnapshotPolicy;
  keepSnapshotCount?: number;
  segmentSizeBytes?: number;
  maxPendingSizeBytes?: number;
  onSnapshotError?: (error: unknown) => void;
  /** See RecoveryOptions.maxSnapshotSequence. */
  maxSnapshotSequence?: number;
  /** See RecoveryOptions.onReplayedEvents. */
  onReplayedEvents?: (events: readonly CoreEvent[], commands: readonly CommandStamp[]) => void;
  /** See SnapshotterOptions.pruneLimit. */
  pruneLimit?: () => number;
}

export interface EmbeddedCore {
  core: Core;
  journal: FileJournal;
  sequencer: Sequencer;
  snapshotter: Snapshotter;
  journalOpenReport: JournalOpenReport;
  recoveryReport: RecoveryReport;
  /** Drains the sequencer, waits for a snapshot in progress, closes the journal. */
  close(): Promise<void>;
}

export async function startEmbeddedCore(options: EmbeddedCoreOptions): Promise<EmbeddedCore> {
  const limits = { ...DEFAULT_CORE_LIMITS, ...options.limits };
  const journal = await FileJournal.open({
    dir: join(options.dataDir, "journal"),
    segmentSizeBytes: options.segmentSizeBytes,
    maxPendingSizeBytes: options.maxPendingSizeBytes,
  });
  const store = new SnapshotStore({
    dir: join(options.dataDir, "snapshots"),
    keepCount: options.keepSnapshotCount,
  });
  const { core, report } = recover({
    journal,
    snapshots: store,
    createCore: () => new Core(limits),
    restoreCore: (bytes) => Core.restore(bytes, limits),
    maxCommandsPerBatch: limits.maxCommandsPerBatch,
    maxSnapshotSequence: options.maxSnapshotSequence,
    onReplayedEvents: options.onReplayedEvents,
  });
  const monotonicClock = options.monotonicClock ?? (() => performance.now());
  const snapshotter = new Snapshotter({
    store,
    journal,
    policy: options.snapshotPolicy ?? DEFAULT_SNAPSHOT_POLICY,
    monotonicClock,
    onError: options.onSnapshotError,
    lastSnapshotSequence: report.snapshotSequence,
    pruneLimit: options.pruneLimit,
  });
  const sequencer = new Sequencer({
    core,
    journal,
    clock: options.clock ?? Date.now,
    maxQueuedCommands: options.maxQueuedCommands ?? DEFAULT_MAX_QUEUED_COMMANDS,
    maxCommandsPerBatch: limits.maxCommandsPerBatch,
    batchBoundaryHook: snapshotter,
  });
  const close = async (): Promise<void> => {
    await sequencer.close();
    await snapshotter.idle();
    await journal.close();
  };
  return {
    core,
    journal,
    sequencer,
    snapshotter,
    journalOpenReport: journal.openReport,
    recoveryReport: report,
    close,
  };
}

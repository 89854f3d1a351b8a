// The core role of cluster mode (issue 12, docs/cluster.md): one process per core host, all of
// them reading the same JetStream stream (the journal), exactly one of them writing.
//
//   standby ──(lease acquired)──▶ primary ──(lease lost, journal fenced, close)──▶ stopped
//
// A standby recovers its core from the stream and then follows it (core-follower.ts), so it is
// current when it takes over. A takeover: stop following, open the journal after the core's
// sequence (reading the records the follower had not applied yet), apply them, start the
// sequencer on that journal, and serve the command subject (command-bus.ts).
//
// Two writers are impossible by the journal, not by the lease (leader-lease.ts says why): every
// record is published expecting the previous record to be the writer's own, so an old primary
// that still believes it leads fails its next flush, and its sequencer stops without having
// acknowledged anything that is not in the stream. A stopped core never comes back as primary
// in the same process: its supervisor restarts it and it recovers as a standby.

import type { NatsConnection } from "@nats-io/transport-node";
import type { UnstampedCommand } from "../core/commands.ts";
import { type AssetConfig, type CoreLimits, DEFAULT_CORE_LIMITS, type MarketConfig } from "../core/config.ts";
import { Core } from "../core/core.ts";
import { replayJournal } from "../runtime/recovery.ts";
import { Sequencer, type SubmitResult } from "../runtime/sequencer.ts";
import { type SnapshotPolicy, Snapshotter } from "../runtime/snapshotter.ts";
import { type CommandServer, serveCommands } from "./command-bus.ts";
import { CoreFollower } from "./core-follower.ts";
import { JetStreamJournal } from "./jetstream-journal.ts";
import { LeaderLease, type LeaseLostReason } from "./leader-lease.ts";
import { ObjectSnapshotStore } from "./snapshot-objects.ts";

export type ClusterCoreRole = "standby" | "primary" | "stopped";

export interface ClusterCoreOptions {
  connection: NatsConnection;
  /** The journal stream and its one subject. */
  streamName: string;
  subject: string;
  /** Where gateways send commands (command-bus.ts). */
  commandSubject: string;
  /** The leader lease (a JetStream KV bucket and key). */
  leaseBucket: string;
  leaseKey: string;
  leaseTtlMs: number;
  /** This process, as the lease and the logs name it. */
  holderId: string;
  /** The object store of snapshots (snapshot-objects.ts): where a core starts from, where the primary writes. */
  snapshotBucket: string;
  /** When the primary snapshots; default every 100,000 commands or 5 minutes. */
  snapshotPolicy?: SnapshotPolicy;
  limits?: Partial<CoreLimits>;
  /** Wall clock for command timestamps and the lease (ms since the epoch). */
  clock?: () => number;
  maxQueuedCommands?: number;
  /** Commands the primary serves at once (the bus answers busy past it). */
  maxInFlightCommands?: number;
  /** Told of every change of role, with why. */
  onRoleChange?: (role: ClusterCoreRole, reason: string) => void;
  /**
   * Reference data a primary adds when it takes over an empty journal (a new cluster), as
   * `bulwark start` does for an embedded data dir. Absent: none.
   */
  seed?: { assets: readonly AssetConfig[]; markets: readonly MarketConfig[] };
}

const DEFAULT_MAX_QUEUED_COMMANDS = 100_000;
const DEFAULT_CLUSTER_SNAPSHOT_POLICY: SnapshotPolicy = { everyCommands: 100_000, everyMs: 5 * 60_000 };
const DEFAULT_MAX_IN_FLIGHT_COMMANDS = 10_000;

export class ClusterCore {
  private roleNow: ClusterCoreRole = "standby";
  private follower: CoreFollower | null = null;
  private sequencer: Sequencer | null = null;
  private journal: JetStreamJournal | null = null;
  private server: CommandServer | null = null;
  private lease: LeaderLease | null = null;
  private acquireTimer: NodeJS.Timeout | null = null;
  private acquiring = false;
  private stopping: Promise<void> | null = null;

  private snapshotter: Snapshotter | null = null;

  private constructor(
    private readonly options: ClusterCoreOptions,
    readonly core: Core,
    private readonly snapshots: ObjectSnapshotStore,
    /** The snapshot the core was restored from (0: none). */
    readonly snapshotSequence: number,
  ) {}

  /** Recovers a core from the stream, follows it as a standby, and tries for the lease. */
  static async start(options: ClusterCoreOptions): Promise<ClusterCore> {
    const limits = { ...DEFAULT_CORE_LIMITS, ...options.limits };
    const snapshots = await ObjectSnapshotStore.open(options.connection, options.snapshotBucket);
    const newest = await snapshots.newest();
    const core = newest === null ? new Core(limits) : Core.restore(newest.core, limits);
    const clusterCore = new ClusterCore(options, core, snapshots, newest?.sequence ?? 0);
    await clusterCore.recoverAndFollow();
    clusterCore.lease = await LeaderLease.open(options.connection, {
      bucket: options.leaseBucket,
      key: options.leaseKey,
      holderId: options.holderId,
      ttlMs: options.leaseTtlMs,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      onLost: (reason: LeaseLostReason) => void clusterCore.stop(`lease lost: ${reason}`),
    });
    clusterCore.scheduleAcquire();
    return clusterCore;
  }

  get role(): ClusterCoreRole {
    return this.roleNow;
  }

  /** The primary's way in (tests and tools); gateways use the command subject. */
  submit(command: UnstampedCommand): Promise<SubmitResult> {
    if (this.sequencer === null)
      return Promise.reject(new Error(`this core is ${this.roleNow}, not primary`));
    return this.watchFailure(this.sequencer.submit(command));
  }

  /** Stops serving and following, releases the lease; resolves when every taken command is answered. */
  close(): Promise<void> {
    return this.stop("closed");
  }

  private async recoverAndFollow(): Promise<void> {
    // Opening creates the stream when it is the first core ever; the records are applied, then
    // the journal is let go: a standby only reads, through the follower.
    const journal = await JetStreamJournal.open(this.journalOptions(this.core.lastSequence + 1));
    const replayed = replayJournal(this.core, journal, this.core.limits.maxCommandsPerBatch);
    await journal.close();
    this.follower = new CoreFollower({
      connection: this.options.connection,
      streamName: this.options.streamName,
      core: this.core,
      onFailure: (error) => void this.stop(`follower stopped: ${error.message}`),
    });
    await this.follower.start();
    this.options.onRoleChange?.(
      "standby",
      `following from ${this.core.lastSequence} (snapshot ${this.snapshotSequence} + ${replayed} records)`,
    );
  }

  private journalOptions(fromSequence: number | undefined) {
    return {
      connection: this.options.connection,
      streamName: this.options.streamName,
      subject: this.options.subject,
      ...(fromSequence === undefined ? {} : { fromSequence }),
    };
  }

  private scheduleAcquire(): void {
    const intervalMs = Math.max(10, Math.floor(this.options.leaseTtlMs / 3));
    this.acquireTimer = setInterval(() => void this.tryPromote(), intervalMs);
    void this.tryPromote();
  }

  private async tryPromote(): Promise<void> {
    if (this.roleNow !== "standby" || this.acquiring || this.lease === null) return;
    this.acquiring = true;
    try {
      if (!(await this.lease.tryAcquire())) return;
      if (this.roleNow !== "standby") return;
      await this.promote();
    } catch (error) {
      await this.stop(`takeover failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.acquiring = false;
    }
  }

  private async promote(): Promise<void> {
    const startedMs = performance.now();
    await this.follower?.stop();
    this.follower = null;
    const journal = await JetStreamJournal.open(this.journalOptions(this.core.lastSequence + 1));
    const caughtUp = replayJournal(this.core, journal, this.core.limits.maxCommandsPerBatch);
    this.journal = journal;
    // The stream is not pruned (pruneLimit 0): a projector or gateway may still need its records.
    this.snapshotter = new Snapshotter({
      store: this.snapshots,
      journal,
      policy: this.options.snapshotPolicy ?? DEFAULT_CLUSTER_SNAPSHOT_POLICY,
      monotonicClock: () => performance.now(),
      lastSnapshotSequence: this.snapshots.oldestRetainedSequence() === 0 ? 0 : this.snapshotSequence,
      pruneLimit: () => 0,
      onError: (error) =>
        this.options.onRoleChange?.(
          "primary",
          `snapshot failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
    });
    this.sequencer = new Sequencer({
      core: this.core,
      journal,
      batchBoundaryHook: this.snapshotter,
      clock: this.options.clock ?? Date.now,
      maxQueuedCommands: this.options.maxQueuedCommands ?? DEFAULT_MAX_QUEUED_COMMANDS,
      maxCommandsPerBatch: this.core.limits.maxCommandsPerBatch,
    });
    this.server = serveCommands(this.options.connection, {
      subject: this.options.commandSubject,
      maxInFlight: this.options.maxInFlightCommands ?? DEFAULT_MAX_IN_FLIGHT_COMMANDS,
      submit: (command) => this.submit(command),
    });
    this.roleNow = "primary";
    const tookMs = Math.round(performance.now() - startedMs);
    this.options.onRoleChange?.(
      "primary",
      `term ${this.lease?.term}, at ${this.core.lastSequence} (${caughtUp} records caught up in ${tookMs} ms)`,
    );
    if (this.core.lastSequence === 0 && this.options.seed !== undefined)
      await this.seedEmptyJournal(this.options.seed);
  }

  /** A new cluster's first primary adds the default assets and markets (refusals are reported, not fatal). */
  private async seedEmptyJournal(seed: NonNullable<ClusterCoreOptions["seed"]>): Promise<void> {
    const commands: UnstampedCommand[] = [
      ...seed.assets.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
      ...seed.markets.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
    ];
    let added = 0;
    for (const command of commands) {
      const result = await this.submit(command);
      if (!result.events.some((event) => event.type === "rejected")) added += 1;
    }
    this.options.onRoleChange?.(
      "primary",
      `seeded a new cluster: ${added} of ${commands.length} default assets and markets added`,
    );
  }

  /** A sequencer failure (a fenced journal above all) ends this primary. */
  private watchFailure(result: Promise<SubmitResult>): Promise<SubmitResult> {
    return result.catch((error: unknown) => {
      if (this.sequencer !== null && this.roleNow === "primary") {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof Error && error.name === "SequencerStoppedError")
          void this.stop(`sequencer stopped: ${message}`);
      }
      throw error;
    });
  }

  private stop(reason: string): Promise<void> {
    this.stopping ??= this.stopNow(reason);
    return this.stopping;
  }

  private async stopNow(reason: string): Promise<void> {
    const wasPrimary = this.roleNow === "primary";
    this.roleNow = "stopped";
    if (this.acquireTimer !== null) clearInterval(this.acquireTimer);
    await this.server?.stop().catch(() => undefined);
    await this.follower?.stop().catch(() => undefined);
    await this.sequencer?.close().catch(() => undefined);
    await this.snapshotter?.idle().catch(() => undefined);
    await this.journal?.close().catch(() => undefined);
    // A primary that closes cleanly hands over at once; one that lost the lease has nothing to release.
    if (wasPrimary && reason === "closed") await this.lease?.release().catch(() => undefined);
    this.lease?.close();
    this.options.onRoleChange?.("stopped", reason);
  }
}

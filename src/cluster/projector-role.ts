// The projector role of cluster mode (issue 12, docs/cluster.md): keeps PostgreSQL's read models
// equal to the core, from the one journal stream.
//
// Events are not shipped on a stream of their own: the core is deterministic, so this role
// applies the journal to its own core replica and takes the events from it (the core IS the
// event function). One durable stream, and exactly-once is a cursor comparison: the store's
// projector writes each batch and its cursor (the last command sequence in the store) in one
// transaction (src/store/projector.ts), and this role hands it only commands after that cursor.
//
//   open store → cursor C → load the stream from 1 → apply every record to the replica, queueing
//   the events of commands > C → follow the stream (core-follower.ts), queueing every command's
//   events → ... → close: stop following, write what is queued, close the store.
//
// Killed at any point, the next start reads the cursor again and projects exactly what is
// missing: never twice (the cursor is in the same transaction as the rows), never a gap (every
// command after the cursor is replayed, in order).
//
// Back-pressure. The store's queue is bounded (projector-queue.ts). While catching up, replay
// awaits room before applying more records. While following, a batch the full queue refuses
// pauses the follower (it applies nothing more), the batch waits for room, and a new follower
// resumes after the replica's sequence: memory stays bounded, the stream keeps the rest.

import type { NatsConnection } from "@nats-io/transport-node";
import type { Command, CommandStamp } from "../core/commands.ts";
import { type CoreLimits, DEFAULT_CORE_LIMITS } from "../core/config.ts";
import { Core } from "../core/core.ts";
import type { CoreEvent } from "../core/events.ts";
import { CommandDecoder } from "../journal/command-codec.ts";
import { RecoveryError } from "../runtime/recovery.ts";
import { openStore, type Store } from "../store/open-store.ts";
import { Projector, type ProjectorBatch } from "../store/projector.ts";
import { ProjectorQueue, type ProjectorQueueOptions } from "../store/projector-queue.ts";
import { CoreFollower } from "./core-follower.ts";
import { JetStreamJournal } from "./jetstream-journal.ts";
import { ObjectSnapshotStore } from "./snapshot-objects.ts";

export interface ProjectorRoleOptions {
  /** The caller's connection; close() leaves it open. */
  connection: NatsConnection;
  /** The journal stream and its subject (clusterNames(name)). */
  streamName: string;
  subject: string;
  /** postgres://… (the cluster's store is PostgreSQL). */
  databaseUrl: string;
  /**
   * The core snapshots' object store (clusterNames(name).snapshotBucket): the replica starts from
   * the newest snapshot at or below the store's cursor (everything up to it is projected already)
   * and reads only the stream after it. Absent, or no such snapshot: from sequence 1.
   */
  snapshotBucket?: string;
  /** PostgreSQL schema; default "public". */
  pgSchema?: string;
  /** The core's limits: must be the primary's, or the replica would not produce its events. */
  limits?: Partial<CoreLimits>;
  /** Bounds of the queue in front of the store (the lag before the replica waits). */
  projectorQueue?: Pick<ProjectorQueueOptions, "maxQueuedEvents" | "maxEventsPerTransaction">;
  /** Bytes of journal records loaded at start (JetStreamJournal maxReplayBytes). */
  maxReplayBytes?: number;
  /** How long close() waits for the queued events to be written before giving up on them. */
  closeTimeoutMs?: number;
  /** A failed write (the queue retries it), or the follower stopping for good. */
  onError?: (what: string, error: unknown) => void;
  /** The role stopped projecting for good (a record it cannot apply): restart it. */
  onFailure?: (error: Error) => void;
}

export interface ProjectorRoleStatus {
  /** The store's cursor: the last command whose events are in PostgreSQL (this process's last commit). */
  projectedSequence: number;
  /** The last command the replica applied. */
  appliedSequence: number;
  /** The journal's last sequence as far as this role has seen (at start, or applied since). */
  journalSequence: number;
  /** Commands seen on the journal and not yet in the store. */
  lagCommands: number;
  /** Events waiting in the queue. */
  queuedEvents: number;
  /** Whether the follower is running (false while paused for room, after close or failure). */
  following: boolean;
  /** Times the follower paused because the queue was full (the store could not keep up). */
  pausesForRoom: number;
  /** The last failed write's message (retrying), null after a success. */
  lastError: string | null;
  /** Why the role stopped projecting for good, or null. */
  failure: string | null;
}

/** Commands in one batch handed to the queue (the queue merges batches into transactions). */
const MAX_COMMANDS_PER_BATCH = 1_024;
/** Events after which a batch is handed over even if it has fewer commands. */
const MAX_EVENTS_PER_BATCH = 16_384;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** The events and stamps of whole commands, in order, bounded by the constants above. */
class BatchBuilder {
  private events: CoreEvent[] = [];
  private commands: CommandStamp[] = [];

  add(events: readonly CoreEvent[], stamp: CommandStamp): void {
    // A loop, not push(...events): a command's events may be too many for an argument list.
    for (const event of events) this.events.push(event);
    this.commands.push(stamp);
  }

  get full(): boolean {
    return this.commands.length >= MAX_COMMANDS_PER_BATCH || this.events.length >= MAX_EVENTS_PER_BATCH;
  }

  /** The batch so far (null when empty); the builder starts a new one. */
  take(): ProjectorBatch | null {
    if (this.commands.length === 0) return null;
    const batch = { events: this.events, commands: this.commands };
    this.events = [];
    this.commands = [];
    return batch;
  }
}

function errorOf(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function messageOf(error: unknown): string | null {
  if (error === null || error === undefined) return null;
  return error instanceof Error ? error.message : String(error);
}

export class ProjectorRole {
  private readonly builder = new BatchBuilder();
  private follower: CoreFollower | null = null;
  /** A batch the full queue refused; the follower is paused until it is queued. */
  private blocked: ProjectorBatch | null = null;
  private pausing: Promise<void> | null = null;
  private handOverTimer: NodeJS.Immediate | null = null;
  private journalSequenceSeen: number;
  private failureValue: Error | null = null;
  private pauses = 0;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly options: ProjectorRoleOptions,
    private readonly store: Store,
    private readonly projector: Projector,
    private readonly queue: ProjectorQueue,
    /** The replica: every journal record applied, in order. */
    readonly core: Core,
    /** The store's cursor at start: commands at or below it are applied, not projected. */
    private readonly startCursor: number,
    journalSequence: number,
    /** The snapshot the replica started from (0: sequence 1). */
    readonly snapshotSequence: number,
  ) {
    this.journalSequenceSeen = journalSequence;
  }

  /**
   * Opens the store, replays the journal into a fresh replica (projecting every command after
   * the store's cursor, waiting for room), then follows the stream. Resolves once following.
   */
  static async start(options: ProjectorRoleOptions): Promise<ProjectorRole> {
    if (!options.databaseUrl.startsWith("postgres://") && !options.databaseUrl.startsWith("postgresql://"))
      throw new RangeError("the projector role needs a postgres:// database URL");
    const report = options.onError ?? ((what, error) => console.error(what, error));
    const store = await openStore({
      databaseUrl: options.databaseUrl,
      ...(options.pgSchema === undefined ? {} : { pgSchema: options.pgSchema }),
    });
    let queue: ProjectorQueue | null = null;
    try {
      const projector = await Projector.open(store.db);
      queue = new ProjectorQueue(projector, {
        ...options.projectorQueue,
        onError: (error) => report("projector write failed; retrying", error),
      });
      const cursor = projector.lastSequence;
      const limits = { ...DEFAULT_CORE_LIMITS, ...options.limits };
      const snapshot =
        options.snapshotBucket === undefined
          ? null
          : await (await ObjectSnapshotStore.open(options.connection, options.snapshotBucket)).newest(cursor);
      const core = snapshot === null ? new Core(limits) : Core.restore(snapshot.core, limits);
      const journal = await JetStreamJournal.open({
        connection: options.connection,
        streamName: options.streamName,
        subject: options.subject,
        fromSequence: core.lastSequence + 1,
        ...(options.maxReplayBytes === undefined ? {} : { maxReplayBytes: options.maxReplayBytes }),
      });
      const role = new ProjectorRole(
        options,
        store,
        projector,
        queue,
        core,
        cursor,
        journal.lastSequence,
        snapshot?.sequence ?? 0,
      );
      try {
        // A store ahead of the stream belongs to another journal: projecting onto it would skip
        // commands silently.
        if (cursor > journal.lastSequence)
          throw new RecoveryError(
            `the store is projected to ${cursor}, past the end of stream ${options.streamName} (${journal.lastSequence})`,
          );
        await role.catchUp(journal);
      } finally {
        await journal.close();
      }
      await queue.flush();
      await role.follow();
      return role;
    } catch (error) {
      // The queue's worker would retry on a closed store forever: stop it first.
      await queue?.close();
      await store.close();
      throw error;
    }
  }

  /** Sequence of the last command whose events are in the store. */
  get projectedSequence(): number {
    return this.projector.lastSequence;
  }

  status(): ProjectorRoleStatus {
    const projectedSequence = this.projector.lastSequence;
    const journalSequence = Math.max(this.journalSequenceSeen, this.core.lastSequence);
    return {
      projectedSequence,
      appliedSequence: this.core.lastSequence,
      journalSequence,
      lagCommands: Math.max(0, journalSequence - projectedSequence),
      queuedEvents: this.queue.queuedEvents,
      following: this.follower !== null && this.closing === null && this.failureValue === null,
      pausesForRoom: this.pauses,
      lastError: messageOf(this.queue.lastError),
      failure: this.failureValue?.message ?? null,
    };
  }

  /** Resolves once the store holds every command up to `sequence` (or the role closed). */
  whenProjected(sequence: number): Promise<void> {
    return this.queue.whenProjected(sequence);
  }

  /** Stops following, writes what is queued (within closeTimeoutMs), closes the store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  // ---- catching up

  /**
   * Applies the journal's records after the replica's sequence, one command at a time (its events
   * stay together), and queues the events of commands after the store's cursor.
   */
  private async catchUp(journal: JetStreamJournal): Promise<void> {
    const decoder = new CommandDecoder();
    // replay() is a generator over the records loaded at open: awaiting room between records
    // bounds memory to the queue, which replayJournal's synchronous callback could not.
    for (const record of journal.replay(this.core.lastSequence + 1)) {
      const command = decoder.decode(record.payload, 0, record.payload.length);
      if (command.sequence !== record.sequence)
        throw new RecoveryError(
          `journal record ${record.sequence} holds a command stamped ${command.sequence}`,
        );
      this.applyAndCollect(command);
      if (this.builder.full) await this.pushTaken();
    }
    await this.pushTaken();
  }

  private applyAndCollect(command: Command): void {
    const events: CoreEvent[] = [];
    this.core.applyBatch([command], events);
    this.collect(events, command);
  }

  private collect(events: readonly CoreEvent[], command: Command): void {
    if (command.sequence <= this.startCursor) return;
    this.builder.add(events, { sequence: command.sequence, timestampMs: command.timestampMs });
  }

  private async pushTaken(): Promise<void> {
    const batch = this.builder.take();
    if (batch !== null) await this.queue.push(batch);
  }

  // ---- following

  private async follow(): Promise<void> {
    const follower = new CoreFollower({
      connection: this.options.connection,
      streamName: this.options.streamName,
      core: this.core,
      onApplied: (events, command) => this.onApplied(events, command),
      onFailure: (error) => this.fail(error),
    });
    this.follower = follower;
    await follower.start();
  }

  private onApplied(events: readonly CoreEvent[], command: Command): void {
    this.collect(events, command);
    if (this.builder.full) this.handOver();
    // Records that arrive together are handed over together, after the current turn.
    else this.handOverTimer ??= setImmediate(() => this.handOver());
  }

  /** Queues the forming batch; a full queue pauses the follower until the batch fits. */
  private handOver(): void {
    if (this.handOverTimer !== null) clearImmediate(this.handOverTimer);
    this.handOverTimer = null;
    if (this.blocked !== null) return;
    const batch = this.builder.take();
    if (batch === null || this.queue.offer(batch)) return;
    this.blocked = batch;
    this.pauses += 1;
    this.pausing = this.pauseForRoom();
  }

  private async pauseForRoom(): Promise<void> {
    const follower = this.follower;
    this.follower = null;
    try {
      // stop() sets the follower's flag before its first await: nothing is applied after this
      // batch, so nothing can overtake it.
      await follower?.stop();
      const blocked = this.blocked;
      if (blocked !== null) await this.queue.push(blocked);
      this.blocked = null;
      if (this.closing === null && this.failureValue === null) await this.follow();
    } catch (error) {
      // A closed queue (close() called meanwhile) leaves the batch to the next start: the cursor says where.
      if (this.closing === null) this.fail(errorOf(error));
    } finally {
      this.pausing = null;
    }
  }

  private fail(error: Error): void {
    if (this.failureValue !== null) return;
    this.failureValue = error;
    this.options.onError?.("projector role stopped", error);
    this.options.onFailure?.(error);
  }

  private async closeNow(): Promise<void> {
    try {
      await this.follower?.stop();
      this.follower = null;
      await this.pausing;
      await this.within(this.options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS, async () => {
        // The forming batch; if the queue is full it waits for room (pauseForRoom, which does
        // not resume following once closing).
        this.handOver();
        await this.pausing;
        await this.queue.flush();
      });
      // Whatever is still queued stays unwritten: the next start projects it (the cursor says where).
      await this.queue.close();
      await this.pausing;
    } finally {
      if (this.handOverTimer !== null) clearImmediate(this.handOverTimer);
      await this.store.close();
    }
  }

  /** Runs `work` for at most timeoutMs (a store that is down must not hold close forever). */
  private async within(timeoutMs: number, work: () => Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([work(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

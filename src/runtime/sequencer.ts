// The single writer of embedded mode. submit() queues a command (bounded); a loop takes up to
// maxCommandsPerBatch of them, stamps each with the next sequence and a timestamp, encodes and
// appends it to the journal, applies the batch to the core, and asks the journal to flush.
// Results and events are released only when the journal says the batch is durable (journal
// before acknowledge); meanwhile the loop already works on the next batch, so the core never
// waits for the disk unless the journal's pending buffer is full.

import type { Command, CommandStamp, UnstampedCommand } from "../core/commands.ts";
import type { CoreEvent } from "../core/events.ts";
import { CommandEncodeError, CommandEncoder } from "../journal/command-codec.ts";
import type { Journal } from "../journal/journal.ts";
import { BoundedQueue } from "./bounded-queue.ts";

/** What the sequencer needs of the core (the real Core implements it). */
export interface SequencedCore {
  readonly lastSequence: number;
  applyBatch(commands: readonly Command[], events: CoreEvent[]): void;
  snapshot(): Uint8Array;
}

export interface SubmitResult {
  sequence: number;
  /** This command's events, in order. */
  events: CoreEvent[];
}

/** Called between batches with the core at a consistent point (see Snapshotter). */
export interface BatchBoundaryHook {
  afterBatch(core: SequencedCore, lastSequence: number): void;
}

/**
 * Receives each durable batch: its events and the stamps of its commands (projections need the
 * stamps to date events that carry no time, and to move their cursor past silent commands).
 * Returning a promise is back-pressure: no later batch is delivered, and no new batch is run,
 * until it settles.
 */
export type EventListener = (
  events: readonly CoreEvent[],
  commands: readonly CommandStamp[],
) => void | Promise<void>;

export interface SequencerOptions {
  core: SequencedCore;
  journal: Journal;
  /** Milliseconds since the epoch. Stamps never go backwards even if the clock does. */
  clock: () => number;
  /** Commands waiting to enter a batch; submit() rejects with SequencerQueueFullError beyond it. */
  maxQueuedCommands: number;
  /** At most the core's limits.maxCommandsPerBatch. */
  maxCommandsPerBatch: number;
  /** Snapshots, between batches. */
  batchBoundaryHook?: BatchBoundaryHook;
  /** A listener that throws must not stop the exchange; its errors land here. */
  onListenerError?: (error: unknown) => void;
}

export class SequencerQueueFullError extends Error {
  constructor(capacity: number) {
    super(`sequencer input queue is full (${capacity} commands): retry later`);
    this.name = "SequencerQueueFullError";
  }
}

/**
 * The core did not answer in time (cluster mode: a request to the primary timed out, or the
 * primary died with it): the command may or may not be durable. The caller must read back
 * before sending it again; an API answers "execution status unknown".
 */
export class CommandOutcomeUnknownError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CommandOutcomeUnknownError";
  }
}

/** The sequencer stopped (journal failure, core failure, or close): restart and recover. */
export class SequencerStoppedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SequencerStoppedError";
  }
}

interface Submission {
  command: UnstampedCommand;
  resolve: (result: SubmitResult) => void;
  reject: (error: Error) => void;
}

/** A batch applied to the core, waiting for the journal to make it durable. */
interface AppliedBatch {
  lastSequence: number;
  submissions: Submission[];
  results: SubmitResult[];
  events: CoreEvent[];
  stamps: CommandStamp[];
}

/** Largest encoded command: the codec's string limit makes it a few KiB; the journal checks room per record too. */
const ROOM_PROBE_SIZE_BYTES = 16 * 1024;

export class Sequencer {
  private readonly core: SequencedCore;
  private readonly journal: Journal;
  private readonly clock: () => number;
  private readonly maxCommandsPerBatch: number;
  private readonly hook: BatchBoundaryHook | undefined;
  private readonly onListenerError: (error: unknown) => void;
  private readonly queue: BoundedQueue<Submission>;
  private readonly encoder = new CommandEncoder();
  private readonly applied: AppliedBatch[] = [];
  /** Submissions taken off the queue for the batch being built (rejected if it fails midway). */
  private building: Submission[] = [];
  private readonly listeners = new Set<EventListener>();
  /** Durable batches not yet handed to the listeners (only while a listener applies back-pressure). */
  private readonly undelivered: { events: CoreEvent[]; stamps: CommandStamp[] }[] = [];
  /** Set while a listener's back-pressure promise is pending. */
  private deliveryWait: Promise<void> | null = null;
  private nextSequence: number;
  private lastTimestampMs = 0;
  private scheduled = false;
  private waitingForRoom = false;
  private failure: Error | null = null;
  private closing = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: SequencerOptions) {
    this.core = options.core;
    this.journal = options.journal;
    this.clock = options.clock;
    this.maxCommandsPerBatch = options.maxCommandsPerBatch;
    this.hook = options.batchBoundaryHook;
    this.onListenerError =
      options.onListenerError ?? ((error) => console.error("event listener failed", error));
    this.queue = new BoundedQueue(options.maxQueuedCommands);
    if (!Number.isSafeInteger(this.maxCommandsPerBatch) || this.maxCommandsPerBatch < 1) {
      throw new RangeError("maxCommandsPerBatch must be >= 1");
    }
    if (this.journal.lastSequence !== this.core.lastSequence) {
      throw new RangeError(
        `core is at ${this.core.lastSequence} but the journal at ${this.journal.lastSequence}: recover first`,
      );
    }
    this.nextSequence = this.core.lastSequence + 1;
    // What recovery replayed is durable already: nothing is unacknowledged at start.
    this.acknowledgedSequence = this.core.lastSequence;
  }

  /** Sequence of the last command whose result was released (durable). */
  acknowledgedSequence = 0;

  /** Sequence the next accepted command will get. */
  get upcomingSequence(): number {
    return this.nextSequence;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** Resolves with the command's sequence and events once it is durable in the journal. */
  submit(command: UnstampedCommand): Promise<SubmitResult> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new SequencerStoppedError("sequencer is closing"));
    return new Promise<SubmitResult>((resolve, reject) => {
      if (!this.queue.push({ command, resolve, reject })) {
        reject(new SequencerQueueFullError(this.queue.capacity));
        return;
      }
      this.schedule();
    });
  }

  /**
   * Listeners get every batch's events in sequence order, after they are durable, in the order
   * they subscribed. The exchange subscribes one listener, its declared event pipeline.
   */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops taking commands and resolves when everything queued is processed and acknowledged. */
  async close(): Promise<void> {
    this.closing = true;
    this.schedule();
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
    if (this.failure !== null) throw this.failure;
  }

  // ---- the loop

  /** True while a listener holds delivery back: the sequencer runs no new batch meanwhile. */
  get backPressured(): boolean {
    return this.deliveryWait !== null;
  }

  private schedule(): void {
    if (this.scheduled || this.waitingForRoom || this.deliveryWait !== null || this.failure !== null) return;
    this.scheduled = true;
    // setImmediate, not a microtask: I/O completions (fsyncs) run between batches, and
    // submissions arriving meanwhile join the next batch.
    setImmediate(() => {
      this.scheduled = false;
      this.runBatch();
    });
  }

  private runBatch(): void {
    if (this.deliveryWait !== null) return; // resumed by deliverPending()
    if (this.failure !== null || this.queue.length === 0) {
      this.checkIdle();
      return;
    }
    try {
      this.processBatch();
    } catch (error) {
      // Journal append or core failure. Journaled commands may still take effect after recovery,
      // so their callers get SequencerStoppedError: outcome unknown. Stop rather than diverge.
      this.fail(
        new SequencerStoppedError(`sequencer stopped at sequence ${this.nextSequence - 1}`, { cause: error }),
      );
    }
  }

  private processBatch(): void {
    const batch = this.stampAndJournal();
    if (batch.commands.length === 0) {
      if (this.queue.length > 0) this.waitForRoom();
      return;
    }
    const events: CoreEvent[] = [];
    this.core.applyBatch(batch.commands, events);
    this.hold(batch.submissions, batch.commands, events);
    this.building = [];
    this.hook?.afterBatch(this.core, this.nextSequence - 1);
    if (this.queue.length > 0) this.schedule();
  }

  /** Takes commands off the queue while the batch and the journal's pending buffer have room. */
  private stampAndJournal(): { commands: Command[]; submissions: Submission[] } {
    const commands: Command[] = [];
    const submissions: Submission[] = [];
    this.building = submissions;
    while (commands.length < this.maxCommandsPerBatch && this.queue.length > 0) {
      if (!this.journal.hasRoomFor(ROOM_PROBE_SIZE_BYTES)) break;
      const submission = this.queue.shift()!;
      const command = this.stamp(submission.command);
      try {
        // Encoded straight into the journal's pending buffer: one pass, no copy.
        this.journal.appendEncoded(command.sequence, command, this.encoder);
      } catch (error) {
        // Journal errors stop the sequencer (processBatch's caller); an encode error appended
        // nothing and used no sequence: only this caller hears about it.
        if (!(error instanceof CommandEncodeError)) throw error;
        submission.reject(error);
        continue;
      }
      this.nextSequence++;
      this.lastTimestampMs = command.timestampMs;
      commands.push(command);
      submissions.push(submission);
    }
    return { commands, submissions };
  }

  private stamp(command: UnstampedCommand): Command {
    const timestampMs = Math.max(this.clock(), this.lastTimestampMs);
    return { ...command, sequence: this.nextSequence, timestampMs } as Command;
  }

  /** Keeps the batch's results until the journal flush covering it resolves. */
  private hold(submissions: Submission[], commands: Command[], events: CoreEvent[]): void {
    const results = splitEvents(commands, events);
    const lastSequence = commands[commands.length - 1].sequence;
    const stamps = commands.map((command) => ({
      sequence: command.sequence,
      timestampMs: command.timestampMs,
    }));
    this.applied.push({ lastSequence, submissions, results, events, stamps });
    this.journal.flush().then(
      () => this.release(lastSequence),
      (error: unknown) => this.fail(new SequencerStoppedError("journal flush failed", { cause: error })),
    );
  }

  private release(durableSequence: number): void {
    while (this.applied.length > 0 && this.applied[0].lastSequence <= durableSequence) {
      const batch = this.applied.shift()!;
      for (let i = 0; i < batch.submissions.length; i++) batch.submissions[i].resolve(batch.results[i]);
      this.acknowledgedSequence = batch.lastSequence;
      this.undelivered.push({ events: batch.events, stamps: batch.stamps });
    }
    this.deliverPending();
    this.checkIdle();
  }

  /** Hands durable batches to the listeners in order, stopping at the first back-pressure. */
  private deliverPending(): void {
    while (this.deliveryWait === null && this.undelivered.length > 0) {
      const batch = this.undelivered.shift()!;
      const waits = this.notify(batch.events, batch.stamps);
      if (waits.length === 0) continue;
      this.deliveryWait = Promise.all(waits).then(
        () => this.resumeDelivery(),
        (error: unknown) => {
          this.onListenerError(error);
          this.resumeDelivery();
        },
      );
    }
  }

  private resumeDelivery(): void {
    this.deliveryWait = null;
    this.deliverPending();
    if (this.deliveryWait === null) {
      if (this.queue.length > 0) this.schedule();
      this.checkIdle();
    }
  }

  private notify(events: readonly CoreEvent[], stamps: readonly CommandStamp[]): Promise<void>[] {
    const waits: Promise<void>[] = [];
    for (const listener of this.listeners) {
      try {
        const wait = listener(events, stamps);
        if (wait !== undefined) waits.push(wait);
      } catch (error) {
        this.onListenerError(error);
      }
    }
    return waits;
  }

  private waitForRoom(): void {
    this.waitingForRoom = true;
    this.journal.flush().then(
      () => {
        this.waitingForRoom = false;
        this.schedule();
      },
      (error: unknown) => this.fail(new SequencerStoppedError("journal flush failed", { cause: error })),
    );
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    for (const batch of this.applied.splice(0)) for (const s of batch.submissions) s.reject(error);
    for (const s of this.building.splice(0)) s.reject(error);
    while (this.queue.length > 0) this.queue.shift()!.reject(error);
    this.checkIdle();
  }

  private checkIdle(): void {
    const idle =
      this.failure !== null ||
      (this.queue.length === 0 &&
        this.applied.length === 0 &&
        this.undelivered.length === 0 &&
        this.deliveryWait === null);
    if (!idle || this.idleWaiters.length === 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/** Cuts the batch's events into one slice per command, using the sequence each event carries. */
function splitEvents(commands: readonly Command[], events: readonly CoreEvent[]): SubmitResult[] {
  const results: SubmitResult[] = [];
  let at = 0;
  for (const command of commands) {
    const start = at;
    while (at < events.length && events[at].sequence === command.sequence) at++;
    results.push({ sequence: command.sequence, events: events.slice(start, at) });
  }
  if (at !== events.length) throw new Error(`event with sequence ${events[at].sequence} matches no command`);
  return results;
}

// The bounded queue between the core and the projector, so the store never sits on the core's path.
//
// The runtime calls offer() with each batch of events the core produced; it is synchronous and
// costs an array push. A worker drains the queue in the background, merging queued batches into
// one transaction of up to maxEventsPerTransaction events, so a projector that fell behind (a slow
// disk, a PostgreSQL restart) catches up in large, cheap transactions. Between transactions it
// yields one event-loop turn: an in-process SQLite projector writes synchronously on the event
// loop, so a stall lasts one transaction. (The embedded exchange runs the SQLite projector in a
// worker thread instead, projector-worker.ts, and bounds its transactions at 500 events.)
//
// Bound and back-pressure. The queue holds at most maxQueuedEvents events (default 262,144: about
// 50 MB, and several seconds of a busy exchange). When it is full, offer() returns false and the
// caller awaits push() (or whenRoom()) before handing over more events: the core's output then
// waits for the store. That is the deliberate choice. The alternatives are unbounded memory, or
// dropping events and re-deriving them later from the journal, which would need a second core.
// Every acknowledged command is already durable in the journal before its events get here, so
// waiting loses nothing; it only shows up as lag, which `queuedEvents` reports for alerting.
//
// Failures. A failed transaction rolls back; the worker retries the same events with a backoff
// doubling from retryDelayMs to maxRetryDelayMs until it succeeds or close() is called. Whatever
// is still queued at close() is not lost either: the stored cursor says where to resume.

import { STORE_LIMITS } from "./limits.ts";
import type { ProjectorBatch } from "./projection.ts";
import type { BatchProjector } from "./projector.ts";

export interface ProjectorQueueOptions {
  maxQueuedEvents?: number;
  maxEventsPerTransaction?: number;
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Called on every failed attempt (the worker keeps retrying). */
  onError?: (error: unknown) => void;
}

export class ProjectorClosedError extends Error {
  constructor() {
    super("projector queue is closed");
    this.name = "ProjectorClosedError";
  }
}

/** Callers waiting for their writes to be projected: one per in-flight private request at most. */
const MAX_PROJECTED_WAITERS = 100_000;

const DEFAULTS = {
  maxQueuedEvents: 262_144,
  maxEventsPerTransaction: 50_000,
  retryDelayMs: 50,
  maxRetryDelayMs: 5_000,
};

function eventCount(batch: ProjectorBatch): number {
  // A batch of commands without events still has to move the cursor: count it as one.
  return Math.max(1, batch.events.length);
}

export class ProjectorQueue {
  private readonly queue: ProjectorBatch[] = [];
  private queuedEventCount = 0;
  private running: Promise<void> | null = null;
  private closed = false;
  private waiters: (() => void)[] = [];
  private projectedWaiters: { sequence: number; resolve: () => void }[] = [];
  private lastErrorValue: unknown = null;
  private readonly options: Required<Omit<ProjectorQueueOptions, "onError">> & ProjectorQueueOptions;

  constructor(
    private readonly projector: BatchProjector,
    options: ProjectorQueueOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    const { maxQueuedEvents, maxEventsPerTransaction } = this.options;
    if (
      !Number.isSafeInteger(maxQueuedEvents) ||
      maxQueuedEvents < 1 ||
      maxQueuedEvents > STORE_LIMITS.maxEventsPerBatch
    )
      throw new RangeError("projector queue: maxQueuedEvents out of range");
    if (!Number.isSafeInteger(maxEventsPerTransaction) || maxEventsPerTransaction < 1)
      throw new RangeError("projector queue: maxEventsPerTransaction out of range");
  }

  /** Events waiting to be written: the projector's lag. */
  get queuedEvents(): number {
    return this.queuedEventCount;
  }

  /** The error of the last failed attempt, null after a success. */
  get lastError(): unknown {
    return this.lastErrorValue;
  }

  /**
   * Queues the batch if it fits, and says whether it did. An empty queue takes any batch (up to
   * STORE_LIMITS.maxEventsPerBatch), so one large batch cannot wait forever.
   */
  offer(batch: ProjectorBatch): boolean {
    if (this.closed) throw new ProjectorClosedError();
    const count = eventCount(batch);
    if (count > STORE_LIMITS.maxEventsPerBatch) throw new RangeError("projector queue: batch too large");
    if (this.queuedEventCount > 0 && this.queuedEventCount + count > this.options.maxQueuedEvents)
      return false;
    this.queue.push(batch);
    this.queuedEventCount += count;
    if (this.running === null) this.running = this.drain();
    return true;
  }

  /** Queues the batch, waiting for room first when the queue is full. */
  async push(batch: ProjectorBatch): Promise<void> {
    // Each turn waits for the worker to write at least one transaction, so this ends once it has
    // written enough; a closed queue throws.
    while (!this.offer(batch)) await this.whenRoom();
  }

  /**
   * Resolves once the store holds the events of every command up to `sequence` (read-your-writes
   * for a client that just placed an order), or when the queue closes. Waiters are bounded.
   */
  whenProjected(sequence: number): Promise<void> {
    if (this.projector.lastSequence >= sequence || this.closed) return Promise.resolve();
    if (this.projectedWaiters.length >= MAX_PROJECTED_WAITERS)
      return Promise.reject(new RangeError("too many waiters for the projector"));
    return new Promise((resolve) => this.projectedWaiters.push({ sequence, resolve }));
  }

  private wakeProjectedWaiters(): void {
    const reached = this.projector.lastSequence;
    const waiting = this.projectedWaiters;
    if (waiting.length === 0) return;
    this.projectedWaiters = [];
    for (const waiter of waiting) {
      if (waiter.sequence <= reached || this.closed) waiter.resolve();
      else this.projectedWaiters.push(waiter);
    }
  }

  /** Resolves after the worker next frees room (or at once when the queue is empty). */
  whenRoom(): Promise<void> {
    if (this.queuedEventCount === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when everything queued so far is in the store (or the queue was closed). */
  async flush(): Promise<void> {
    // The worker stops only when the queue is empty or closed; a batch offered while we waited
    // restarts it, hence the loop, which ends because each turn finishes a drain.
    while (this.running !== null) await this.running;
  }

  /** Stops after the transaction in flight; queued events stay unwritten (the cursor shows where). */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeWaiters();
    await this.flush();
  }

  private wakeWaiters(): void {
    this.wakeProjectedWaiters();
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Merges queued batches into one of at most maxEventsPerTransaction events (at least one batch). */
  private takeMerged(): { batch: ProjectorBatch; batches: number; events: number } {
    const first = this.queue[0];
    let events = eventCount(first);
    let batches = 1;
    while (
      batches < this.queue.length &&
      events + eventCount(this.queue[batches]) <= this.options.maxEventsPerTransaction
    ) {
      events += eventCount(this.queue[batches]);
      batches += 1;
    }
    if (batches === 1) return { batch: first, batches, events };
    const taken = this.queue.slice(0, batches);
    return {
      batch: { commands: taken.flatMap((b) => b.commands), events: taken.flatMap((b) => b.events) },
      batches,
      events,
    };
  }

  private async drain(): Promise<void> {
    let delayMs = this.options.retryDelayMs;
    // Ends when the queue is empty or the queue is closed; every turn either writes or backs off.
    while (this.queue.length > 0 && !this.closed) {
      const { batch, batches, events } = this.takeMerged();
      try {
        await this.projector.applyBatch(batch);
      } catch (error) {
        this.lastErrorValue = error;
        this.options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, this.options.maxRetryDelayMs);
        continue;
      }
      delayMs = this.options.retryDelayMs;
      this.lastErrorValue = null;
      this.queue.splice(0, batches);
      this.queuedEventCount -= events;
      this.wakeWaiters();
      // A synchronous engine (better-sqlite3) resolves every await above within one microtask
      // run: without yielding a macrotask turn, a backlog would be written in one long stall, and
      // requests (and their nonce commits) would wait for all of it, not one transaction.
      if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    this.running = null;
    this.wakeWaiters();
  }
}

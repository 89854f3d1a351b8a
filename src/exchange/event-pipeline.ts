// The one place the core's durable events fan out, in a declared order. Every durable batch goes
// through the stages of EVENT_PIPELINE_STAGES in that order, and a stage sees a batch only after
// every earlier stage has taken it:
//
//   marketData   books, trades, tickers, candles (public data; cheap, synchronous)
//   projector    the store's read models (SQL, written behind a bounded queue)
//   privateFeed  logged-in WebSocket sessions (they read the store, so they come after it)
//   custody      wallets and chains (next)
//
// Back-pressure. The projector stage may be full (a slow disk, a PostgreSQL outage): then
// deliver() returns a promise that resolves once the projector took the batch and the later
// stages ran, and the sequencer waits for it before it runs another batch. The lag is therefore
// bounded by the projector queue plus the batches already in flight; new commands meanwhile wait
// in the sequencer's bounded queue and, past it, are refused as busy. Nothing durable is lost:
// every batch here is already in the journal.

import type { CommandStamp } from "../core/commands.ts";
import type { CoreEvent } from "../core/events.ts";

/** The stages, in delivery order. */
export const EVENT_PIPELINE_STAGES = ["marketData", "projector", "privateFeed", "custody"] as const;
export type EventPipelineStage = (typeof EVENT_PIPELINE_STAGES)[number];

export interface DurableBatch {
  events: readonly CoreEvent[];
  /** The stamps of the batch's commands (projections date silent commands and move cursors by them). */
  commands: readonly CommandStamp[];
}

/** A stage handler. It may return a promise only to apply back-pressure (the projector does). */
export type EventStageHandler = (batch: DurableBatch) => void | Promise<void>;

/** Handlers per stage: one per subsystem, plus room for tests and tools; never one per client. */
export const MAX_HANDLERS_PER_STAGE = 8;

export interface EventPipelineStats {
  /** Batches that had to wait for a stage (the projector queue was full). */
  stalledBatches: number;
  /** Total time batches waited, in milliseconds. */
  stalledMs: number;
  /** True while a batch is waiting. */
  stalled: boolean;
}

export class EventPipeline {
  private readonly handlers: EventStageHandler[][] = EVENT_PIPELINE_STAGES.map(() => []);
  private stalledBatches = 0;
  private stalledMs = 0;
  private stalledSinceMs: number | null = null;

  constructor(
    /** Called when a handler throws; the other handlers still get the batch. */
    private readonly onHandlerError: (stage: EventPipelineStage, error: unknown) => void,
    private readonly monotonicClock: () => number = () => performance.now(),
  ) {}

  /** Adds a handler to a stage; returns the function that removes it. */
  attach(stage: EventPipelineStage, handler: EventStageHandler): () => void {
    const list = this.handlers[EVENT_PIPELINE_STAGES.indexOf(stage)];
    if (list.length >= MAX_HANDLERS_PER_STAGE)
      throw new RangeError(`event pipeline: stage ${stage} has ${MAX_HANDLERS_PER_STAGE} handlers already`);
    list.push(handler);
    return () => {
      const at = list.indexOf(handler);
      if (at >= 0) list.splice(at, 1);
    };
  }

  get stats(): EventPipelineStats {
    const waiting = this.stalledSinceMs === null ? 0 : this.monotonicClock() - this.stalledSinceMs;
    return {
      stalledBatches: this.stalledBatches,
      stalledMs: Math.round(this.stalledMs + waiting),
      stalled: this.stalledSinceMs !== null,
    };
  }

  /**
   * Runs the batch through every stage in order. Returns undefined when every handler took it at
   * once, or a promise when one asked to wait: the caller must not deliver the next batch before
   * that promise resolves (the sequencer does not).
   */
  deliver(batch: DurableBatch): Promise<void> | undefined {
    return this.runFrom(batch, 0, 0);
  }

  private runFrom(batch: DurableBatch, firstStage: number, firstHandler: number): Promise<void> | undefined {
    for (let stage = firstStage; stage < this.handlers.length; stage++) {
      const list = this.handlers[stage];
      for (let index = stage === firstStage ? firstHandler : 0; index < list.length; index++) {
        const waiting = this.runHandler(stage, list[index], batch);
        if (waiting !== undefined) return this.resumeAfter(waiting, batch, stage, index + 1);
      }
    }
    return undefined;
  }

  private runHandler(
    stage: number,
    handler: EventStageHandler,
    batch: DurableBatch,
  ): Promise<void> | undefined {
    try {
      return handler(batch) ?? undefined;
    } catch (error) {
      this.onHandlerError(EVENT_PIPELINE_STAGES[stage], error);
      return undefined;
    }
  }

  private async resumeAfter(
    waiting: Promise<void>,
    batch: DurableBatch,
    stage: number,
    nextHandler: number,
  ): Promise<void> {
    this.stalledBatches += 1;
    const since = this.monotonicClock();
    this.stalledSinceMs = since;
    try {
      await waiting;
    } catch (error) {
      this.onHandlerError(EVENT_PIPELINE_STAGES[stage], error);
    } finally {
      this.stalledMs += this.monotonicClock() - since;
      this.stalledSinceMs = null;
    }
    await this.runFrom(batch, stage, nextHandler);
  }
}

// The gateway role's exchange (issue 12, docs/cluster.md): the ExchangeBoundary of a stateless
// gateway process, so the REST and WebSocket gateways run on it unchanged. It mirrors
// src/exchange/exchange.ts, with the durable core and the projector elsewhere:
//
//   submit ──NATS request──▶ primary core (command-bus.ts) ──▶ durable result
//   journal stream ──▶ CoreFollower ──▶ local core replica ──▶ EventPipeline (marketData stage, …)
//   reads, accounts, custody, incidents, operators ──▶ PostgreSQL (written by the projector role)
//
// Events are not shipped on a stream of their own: the core is deterministic, so this process
// derives them by applying the journal's commands to its own replica (recovered from the stream
// at open, then following it). The replica also answers balance(), walletBooks() and the other
// "as the core has it now" questions; it is at most the follower's delivery behind the primary,
// and submit() waits (bounded) for it to reach the command's sequence, so a client reads its own
// writes from this gateway as from the embedded exchange.
//
// The store is written by the projector role only; whenProjected() polls its cursor.
//
// Failures. A follower that stops (a gap, a record it cannot decode) leaves this gateway's events
// and replica frozen: `onFailure` is told, and the process should exit so its supervisor restarts
// it (gateway-main.ts does). Commands still reach the core meanwhile: only events stop.

import type { NatsConnection } from "@nats-io/transport-node";
import { Accounts, type AccountsOptions } from "../accounts/accounts.ts";
import type { Command, CommandStamp, UnstampedCommand } from "../core/commands.ts";
import type { AssetConfig, CoreLimits } from "../core/config.ts";
import { DEFAULT_CORE_LIMITS } from "../core/config.ts";
import { Core } from "../core/core.ts";
import type { CoreEvent } from "../core/events.ts";
import type { IncidentCoverView } from "../core/state-view.ts";
import type {
  CommandResult,
  CustodyStore,
  ExchangeBoundary,
  ExchangeStatus,
  MarketContext,
  WalletBooks,
} from "../exchange/boundary.ts";
import { bindCustodyStore } from "../exchange/custody-store.ts";
import {
  type DurableBatch,
  EventPipeline,
  type EventPipelineStage,
  type EventStageHandler,
} from "../exchange/event-pipeline.ts";
import { ReferenceData } from "../exchange/reference-data.ts";
import { MarketData } from "../marketdata/market-data.ts";
import { replayJournal } from "../runtime/recovery.ts";
import { CommandOutcomeUnknownError } from "../runtime/sequencer.ts";
import { maxUserIdOf, raiseUserIdFloor } from "../store/accounts.ts";
import { bindIncidentStore, type IncidentStore } from "../store/incidents.ts";
import { openStore, type Store } from "../store/open-store.ts";
import { bindOperatorStore, type OperatorStore } from "../store/operators.ts";
import { projectedSequence } from "../store/queries.ts";
import { StoreAuditTrail, StoreReadModels } from "../store/read-models.ts";
import type { ClusterNames } from "./cluster-names.ts";
import {
  CommandBusClient,
  CommandResultTooLargeError,
  CoreBusyError,
  CoreUnavailableError,
} from "./command-bus.ts";
import { CoreFollower } from "./core-follower.ts";
import { JetStreamJournal } from "./jetstream-journal.ts";

export interface ClusterExchangeOptions {
  /** The caller's NATS connection; close() leaves it open. */
  connection: NatsConnection;
  /** The cluster's names (cluster-names.ts): the journal stream and the command subject. */
  names: Pick<ClusterNames, "streamName" | "subject" | "commandSubject">;
  /** postgres://… of the store the projector role writes. */
  databaseUrl: string;
  /** PostgreSQL schema (tests use one per run); default "public". */
  pgSchema?: string;
  /** PostgreSQL pool size of this gateway; default openStore's. */
  pgMaxConnections?: number;
  /** Milliseconds since the epoch: market-data freshness. */
  clock?: () => number;
  /** Must equal the core role's limits: the replica applies the same commands to the same rules. */
  limits?: Partial<CoreLimits>;
  /** How long a command waits for the core's durable result (CoreUnavailableError "timeout" after). */
  busTimeoutMs?: number;
  /** Commands this gateway has waiting for the core at once; past it submit() is busy. */
  maxInFlightCommands?: number;
  /** How long submit() waits for the replica to apply the command before answering anyway. */
  replicaWaitMs?: number;
  /** Poll interval of the store's projector cursor while someone waits for it. */
  projectedPollMs?: number;
  /** whenProjected() rejects after this long (ProjectionTimeoutError). */
  whenProjectedTimeoutMs?: number;
  /** whenProjected() callers waiting at once; past it a new one is refused at once. */
  maxProjectedWaiters?: number;
  /** The accounts service's options (the SecretBox that seals TOTP secrets, delays). */
  accounts?: AccountsOptions;
  /** Where background failures (a pipeline stage, a cursor poll) are reported. */
  onBackgroundError?: (what: string, error: unknown) => void;
  /** The follower stopped: this gateway's events and replica are frozen; restart the process. */
  onFailure?: (error: Error) => void;
}

const DEFAULT_BUS_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_IN_FLIGHT_COMMANDS = 10_000;
const DEFAULT_REPLICA_WAIT_MS = 2_000;
const DEFAULT_PROJECTED_POLL_MS = 15;
const DEFAULT_WHEN_PROJECTED_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_PROJECTED_WAITERS = 10_000;
/** The cursor is also read this often with nobody waiting, for status() (metrics, health). */
const STATUS_POLL_MS = 1_000;
/** Commands whose events may wait behind a stalled pipeline stage before the gateway stops following. */
const MAX_PENDING_DELIVERIES = 10_000;
/** Applied commands whose events are kept, for a result too large for the bus's reply. */
const RECENT_RESULTS = 64;

/** whenProjected() gave up: the projector role is down or far behind. */
export class ProjectionTimeoutError extends Error {
  constructor(
    readonly sequence: number,
    readonly projectedSequence: number,
    timeoutMs: number,
  ) {
    super(
      `the store's projector is at ${projectedSequence}, not at ${sequence} after ${timeoutMs} ms (projector role down or behind)`,
    );
    this.name = "ProjectionTimeoutError";
  }
}

/** Counters for logs and tests. */
export interface ClusterExchangeStats {
  /** submit() answers given before the replica had applied the command (it lagged replicaWaitMs). */
  replicaWaitTimeouts: number;
  /** whenProjected() calls that timed out or were refused because too many waited. */
  projectionWaitFailures: number;
  /** Commands whose result was too large for the bus and was taken from the replica instead. */
  resultsFromReplica: number;
}

interface ProjectedWaiter {
  sequence: number;
  deadlineMs: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class ClusterExchange implements ExchangeBoundary {
  private readonly reference: ReferenceData;
  private readonly pipeline: EventPipeline;
  private readonly bus: CommandBusClient;
  private follower: CoreFollower | null = null;
  private closing: Promise<void> | null = null;
  private closed = false;
  /** The highest sequence a submit() answered with. */
  private acknowledged = 0;
  /** submit() calls waiting for the replica, by the sequence they wait for (one each, bounded by the bus's in-flight). */
  private readonly replicaWaiters = new Map<number, Array<() => void>>();
  private replicaWaiterCount = 0;
  /** The last few applied commands' events, by sequence (see RECENT_RESULTS). */
  private readonly recentResults = new Map<number, CoreEvent[]>();
  /** Pipeline batches delivered while an earlier one still waits (a stage returned a promise). */
  private deliveryChain: Promise<void> | null = null;
  private pendingDeliveries = 0;
  private projected = 0;
  private projectedError: unknown = null;
  private readonly projectedWaiters: ProjectedWaiter[] = [];
  private pollTimer: NodeJS.Timeout | null = null;
  private polling = false;
  private readonly statusTimer: NodeJS.Timeout;
  private readonly report: (what: string, error: unknown) => void;
  readonly stats: ClusterExchangeStats = {
    replicaWaitTimeouts: 0,
    projectionWaitFailures: 0,
    resultsFromReplica: 0,
  };
  readonly reads: StoreReadModels;
  readonly audit: StoreAuditTrail;
  readonly accounts: Accounts;
  readonly custody: CustodyStore;
  readonly incidents: IncidentStore;
  readonly operators: OperatorStore;

  private constructor(
    private readonly options: ClusterExchangeOptions,
    private readonly store: Store,
    /** The replica: the journal's commands applied in order, never written to otherwise. */
    private readonly core: Core,
    readonly marketData: MarketData,
  ) {
    this.report = options.onBackgroundError ?? ((what, error) => console.error(what, error));
    this.bus = new CommandBusClient(options.connection, {
      subject: options.names.commandSubject,
      timeoutMs: options.busTimeoutMs ?? DEFAULT_BUS_TIMEOUT_MS,
      maxInFlight: options.maxInFlightCommands ?? DEFAULT_MAX_IN_FLIGHT_COMMANDS,
    });
    this.reads = new StoreReadModels(store.db, store.engine);
    this.audit = new StoreAuditTrail(store.db);
    this.incidents = bindIncidentStore(store.db);
    this.operators = bindOperatorStore(store.db);
    this.accounts = new Accounts(store, options.accounts ?? {});
    this.custody = bindCustodyStore(store.db);
    this.reference = new ReferenceData((config) => this.marketData.addMarket(config));
    this.reference.learnAll(core.assetList(), core.marketList());
    this.pipeline = new EventPipeline((stage, error) =>
      this.report(`event pipeline stage ${stage} failed`, error),
    );
    // No projector stage: the projector role writes the store (whenProjected polls its cursor).
    this.pipeline.attach("marketData", (batch) => this.applyToMarketData(batch));
    this.statusTimer = setInterval(() => void this.pollProjected(), STATUS_POLL_MS);
    this.statusTimer.unref();
  }

  /**
   * Opens the store, recovers the replica from the journal stream (market data's trades, tickers
   * and candles from the replayed trade events, its books from the recovered state), then
   * follows the stream from the next command.
   */
  static async open(options: ClusterExchangeOptions): Promise<ClusterExchange> {
    const store = await openStore({
      databaseUrl: options.databaseUrl,
      ...(options.pgSchema === undefined ? {} : { pgSchema: options.pgSchema }),
      ...(options.pgMaxConnections === undefined ? {} : { pgMaxConnections: options.pgMaxConnections }),
    });
    try {
      const limits = { ...DEFAULT_CORE_LIMITS, ...options.limits };
      const clock = options.clock ?? Date.now;
      const marketData = new MarketData({ clock, maxTrackedOrders: limits.maxOpenOrders + 1 });
      const core = new Core(limits);
      const journal = await JetStreamJournal.open({
        connection: options.connection,
        streamName: options.names.streamName,
        subject: options.names.subject,
      });
      try {
        // The stream holds every command from sequence 1 (no snapshots yet), so its trade events
        // rebuild trades, tickers and candles exactly up to the replica's sequence, with no gap
        // between what the projector wrote and what this replica applied. The book is seeded below.
        replayJournal(core, journal, limits.maxCommandsPerBatch, (events) =>
          restoreMarketData(marketData, events),
        );
      } finally {
        await journal.close();
      }
      const exchange = new ClusterExchange(options, store, core, marketData);
      try {
        const state = core.exportState();
        marketData.seedBooks(state);
        await raiseUserIdFloor(store.db, store.engine, maxUserIdOf(state));
        await exchange.pollProjected();
        await exchange.follow();
      } catch (error) {
        await exchange.close();
        throw error;
      }
      return exchange;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /**
   * Sends the command to the primary core; resolves with its durable result. Errors are the
   * bus's (command-bus.ts): CoreBusyError is a SequencerQueueFullError (the dialects' busy
   * answer); CoreUnavailableError (no primary, timeout: outcome unknown), CommandRefusedError
   * propagate as they are.
   */
  async submit(command: UnstampedCommand): Promise<CommandResult> {
    if (this.closed) throw new Error("cluster exchange closed");
    let result: CommandResult;
    try {
      result = await this.bus.submit(command);
    } catch (error) {
      // No primary answered: not applied when none was subscribed (busy: safe to send again),
      // unknown when one may have journaled it before it died or timed out.
      if (error instanceof CoreUnavailableError)
        throw error.outcomeUnknown
          ? new CommandOutcomeUnknownError(error.message, { cause: error })
          : new CoreBusyError(error.message);
      if (!(error instanceof CommandResultTooLargeError)) throw error;
      // Applied: this gateway derives the same events from its replica.
      await this.replicaReached(error.sequence);
      const events = this.recentResults.get(error.sequence);
      if (events === undefined) throw error;
      this.stats.resultsFromReplica += 1;
      result = { sequence: error.sequence, events };
    }
    if (result.sequence > this.acknowledged) this.acknowledged = result.sequence;
    await this.replicaReached(result.sequence);
    return result;
  }

  whenProjected(sequence: number): Promise<void> {
    if (sequence <= this.projected) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error("cluster exchange closed"));
    const maxWaiters = this.options.maxProjectedWaiters ?? DEFAULT_MAX_PROJECTED_WAITERS;
    if (this.projectedWaiters.length >= maxWaiters) {
      this.stats.projectionWaitFailures += 1;
      return Promise.reject(new Error(`${maxWaiters} requests already wait for the store's projector`));
    }
    const timeoutMs = this.options.whenProjectedTimeoutMs ?? DEFAULT_WHEN_PROJECTED_TIMEOUT_MS;
    return new Promise<void>((resolve, reject) => {
      this.projectedWaiters.push({ sequence, deadlineMs: performance.now() + timeoutMs, resolve, reject });
      this.schedulePoll();
    });
  }

  attach(stage: EventPipelineStage, handler: EventStageHandler): () => void {
    return this.pipeline.attach(stage, handler);
  }

  status(): ExchangeStatus {
    return {
      lastSequence: this.core.lastSequence,
      acknowledgedSequence: this.acknowledged,
      queuedCommands: this.bus.inFlight,
      // Commands, not events: the cursor says how many commands the store lacks, not their events.
      projectorQueuedEvents: Math.max(0, this.core.lastSequence - this.projected),
      projectorLastError: this.projectedError,
      storeEngine: this.store.engine,
      pipeline: this.pipeline.stats,
    };
  }

  /** Why the follower stopped (this gateway's events are frozen), or null. */
  get failure(): Error | null {
    return this.follower?.failed ?? null;
  }

  // The replica's answers: at most the follower's delivery behind the primary (a few commands,
  // milliseconds), and never behind a command this gateway acknowledged (submit waits for it).

  balance(userId: number, assetId: number): { availableUnits: number; heldUnits: number } {
    return this.core.balance(userId, assetId);
  }

  walletBooks(assetId: number): WalletBooks {
    return this.core.walletBooks(assetId);
  }

  customerLiabilities(assetId: number): { userIds: number[]; balancesUnits: number[] } {
    return this.core.customerLiabilities(assetId);
  }

  incidentCovers(): IncidentCoverView[] {
    return this.core.incidentCovers();
  }

  market(marketId: number): MarketContext | undefined {
    return this.reference.market(marketId);
  }

  marketBySymbol(symbol: string): MarketContext | undefined {
    return this.reference.marketBySymbol(symbol);
  }

  markets(): MarketContext[] {
    return this.reference.markets();
  }

  asset(assetId: number): AssetConfig | undefined {
    return this.reference.asset(assetId);
  }

  assetByCode(code: string): AssetConfig | undefined {
    return this.reference.assetByCode(code);
  }

  assets(): AssetConfig[] {
    return this.reference.assets();
  }

  /** The replica's state hash (tests compare it with the primary's). */
  stateHash(): string {
    return this.core.stateHash();
  }

  /**
   * Stops following, fails whoever waits for the store, closes the store. Commands still waiting
   * for the core's answer get it (or the bus's timeout). The NATS connection stays open. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      clearInterval(this.statusTimer);
      if (this.pollTimer !== null) clearTimeout(this.pollTimer);
      this.pollTimer = null;
      await this.follower?.stop();
      for (const waiter of this.projectedWaiters.splice(0))
        waiter.reject(new Error("cluster exchange closed"));
      for (const resolvers of this.replicaWaiters.values()) for (const resolve of resolvers) resolve();
      this.replicaWaiters.clear();
      await this.deliveryChain;
      await this.store.close();
    })();
    return this.closing;
  }

  private async follow(): Promise<void> {
    const follower = new CoreFollower({
      connection: this.options.connection,
      streamName: this.options.names.streamName,
      core: this.core,
      onApplied: (events, command) => this.onApplied(events, command),
      onFailure: (error) => {
        this.report("journal follower stopped: events and the replica are frozen", error);
        this.options.onFailure?.(error);
      },
    });
    this.follower = follower;
    await follower.start();
  }

  /** One command applied by the replica: its events through the pipeline, then its waiters. */
  private onApplied(events: readonly CoreEvent[], command: Command): void {
    const stamp: CommandStamp = { sequence: command.sequence, timestampMs: command.timestampMs };
    this.deliver({ events, commands: [stamp] });
    this.recentResults.set(command.sequence, events as CoreEvent[]);
    this.recentResults.delete(command.sequence - RECENT_RESULTS);
    const waiting = this.replicaWaiters.get(command.sequence);
    if (waiting !== undefined) {
      this.replicaWaiters.delete(command.sequence);
      for (const resolve of waiting) resolve();
    }
  }

  /**
   * Batches go through the pipeline in order. No stage here returns a promise today (there is no
   * projector stage), but a handler may: then later batches wait behind it, up to
   * MAX_PENDING_DELIVERIES, past which the gateway stops following (restart) rather than grow.
   */
  private deliver(batch: DurableBatch): void {
    if (this.deliveryChain === null) {
      const waiting = this.pipeline.deliver(batch);
      if (waiting !== undefined) this.chainDelivery(waiting);
      return;
    }
    if (this.pendingDeliveries >= MAX_PENDING_DELIVERIES) {
      const error = new Error(`${MAX_PENDING_DELIVERIES} event batches wait for a stalled pipeline stage`);
      this.report("event pipeline stalled; stopping the follower", error);
      void this.follower?.stop();
      this.options.onFailure?.(error);
      return;
    }
    this.pendingDeliveries += 1;
    this.chainDelivery(
      this.deliveryChain.then(() => {
        this.pendingDeliveries -= 1;
        return this.pipeline.deliver(batch);
      }),
    );
  }

  private chainDelivery(waiting: Promise<void>): void {
    const chained: Promise<void> = waiting
      .catch((error: unknown) => this.report("event pipeline delivery failed", error))
      .finally(() => {
        if (this.deliveryChain === chained) this.deliveryChain = null;
      });
    this.deliveryChain = chained;
  }

  /** Resolves once the replica applied `sequence`, or after replicaWaitMs (the command is durable either way). */
  private replicaReached(sequence: number): Promise<void> {
    if (sequence <= this.core.lastSequence || this.closed || this.follower?.failed) return Promise.resolve();
    // As many as the bus lets wait for the core; past that (a replica far behind) answer at once.
    if (this.replicaWaiterCount >= (this.options.maxInFlightCommands ?? DEFAULT_MAX_IN_FLIGHT_COMMANDS)) {
      this.stats.replicaWaitTimeouts += 1;
      return Promise.resolve();
    }
    const waitMs = this.options.replicaWaitMs ?? DEFAULT_REPLICA_WAIT_MS;
    this.replicaWaiterCount += 1;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.stats.replicaWaitTimeouts += 1;
        const list = this.replicaWaiters.get(sequence);
        const at = list?.indexOf(done) ?? -1;
        if (list !== undefined && at >= 0) list.splice(at, 1);
        if (list?.length === 0) this.replicaWaiters.delete(sequence);
        this.replicaWaiterCount -= 1;
        resolve();
      }, waitMs);
      const done = () => {
        clearTimeout(timer);
        this.replicaWaiterCount -= 1;
        resolve();
      };
      const list = this.replicaWaiters.get(sequence);
      if (list === undefined) this.replicaWaiters.set(sequence, [done]);
      else list.push(done);
    });
  }

  private schedulePoll(): void {
    if (this.pollTimer !== null || this.polling || this.closed) return;
    const pollMs = this.options.projectedPollMs ?? DEFAULT_PROJECTED_POLL_MS;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      void this.pollProjected();
    }, pollMs);
  }

  /** Reads the store's cursor once; settles the waiters it covers or whose time is up; polls again while any wait. */
  private async pollProjected(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      this.projected = Math.max(this.projected, await projectedSequence(this.store.db));
      this.projectedError = null;
    } catch (error) {
      this.projectedError = error;
    } finally {
      this.polling = false;
    }
    const nowMs = performance.now();
    const timeoutMs = this.options.whenProjectedTimeoutMs ?? DEFAULT_WHEN_PROJECTED_TIMEOUT_MS;
    let kept = 0;
    for (const waiter of this.projectedWaiters) {
      if (waiter.sequence <= this.projected) waiter.resolve();
      else if (nowMs >= waiter.deadlineMs) {
        this.stats.projectionWaitFailures += 1;
        waiter.reject(new ProjectionTimeoutError(waiter.sequence, this.projected, timeoutMs));
      } else this.projectedWaiters[kept++] = waiter;
    }
    this.projectedWaiters.length = kept;
    if (kept > 0) this.schedulePoll();
  }

  /** The pipeline's first stage: reference data, books, trades, tickers, candles. */
  private applyToMarketData(batch: DurableBatch): void {
    this.reference.learnFrom(batch.events);
    this.marketData.apply(batch.events);
  }
}

/** Replayed events into market data: markets as they appear, trades into rings, tickers, candles (not books). */
function restoreMarketData(marketData: MarketData, events: readonly CoreEvent[]): void {
  for (const event of events) {
    if (event.type === "marketAdded") marketData.addMarket(event.market);
    else if (event.type === "trade") marketData.restoreTrade(event);
  }
}

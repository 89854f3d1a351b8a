// The embedded exchange: the durable core (journal + snapshots + sequencer), the SQL store fed by
// the projector, in-memory market data and its candles file, wired so data flows one way:
// commands → sequencer → core → events → the declared event pipeline (event-pipeline.ts). The
// layers above see it only as an ExchangeBoundary (boundary.ts); `internals` is for the
// composition root, the CLI's offline commands and tests.

import { Accounts, type AccountsOptions } from "../accounts/accounts.ts";
import type { UnstampedCommand } from "../core/commands.ts";
import type { AssetConfig, CoreLimits } from "../core/config.ts";
import { DEFAULT_CORE_LIMITS } from "../core/config.ts";
import type { Core } from "../core/core.ts";
import type { IncidentCoverView } from "../core/state-view.ts";
import { MarketData } from "../marketdata/market-data.ts";
import { type EmbeddedCore, startEmbeddedCore } from "../runtime/embedded.ts";
import type { SnapshotPolicy } from "../runtime/snapshotter.ts";
import { maxUserIdOf, raiseUserIdFloor } from "../store/accounts.ts";
import { bindIncidentStore, type IncidentStore } from "../store/incidents.ts";
import { openStore, type Store, type StoreConfig } from "../store/open-store.ts";
import { bindOperatorStore, type OperatorStore } from "../store/operators.ts";
import { type BatchProjector, Projector } from "../store/projector.ts";
import { ProjectorQueue, type ProjectorQueueOptions } from "../store/projector-queue.ts";
import { WorkerProjector } from "../store/projector-worker.ts";
import { StoreAuditTrail, StoreReadModels } from "../store/read-models.ts";
import type {
  CommandResult,
  CustodyStore,
  ExchangeBoundary,
  ExchangeStatus,
  MarketContext,
  WalletBooks,
} from "./boundary.ts";
import { bindCustodyStore } from "./custody-store.ts";
import {
  type DurableBatch,
  EventPipeline,
  type EventPipelineStage,
  type EventStageHandler,
} from "./event-pipeline.ts";
import { MarketDataPersistence, type MarketDataRestoreReport } from "./market-data-persistence.ts";
import { ReferenceData } from "./reference-data.ts";

export type { MarketContext } from "./boundary.ts";

export interface ExchangeOptions {
  dataDir: string;
  /** postgres://… selects PostgreSQL for the store; SQLite under dataDir otherwise. */
  databaseUrl?: string;
  /** PostgreSQL schema (tests use one per run). */
  pgSchema?: string;
  /** Milliseconds since the epoch: command stamps and market-data freshness. */
  clock?: () => number;
  limits?: Partial<CoreLimits>;
  snapshotPolicy?: SnapshotPolicy;
  /** Where background failures (snapshot writes, projector retries) are reported. */
  onBackgroundError?: (what: string, error: unknown) => void;
  /** Bounds of the queue in front of the projector (its lag before the sequencer waits). */
  projectorQueue?: Pick<ProjectorQueueOptions, "maxQueuedEvents">;
  /** Save the candles file this often (default one minute); 0: only at close. */
  candleSaveIntervalMs?: number;
  /** Wraps the store's projector (tests: a slow or failing store). */
  wrapProjector?: (projector: BatchProjector) => BatchProjector;
  /**
   * On SQLite, write the projections from a worker thread (default) so the event loop that serves
   * the API never waits for SQLite. A short-lived process (an offline CLI command) passes false:
   * starting the thread costs more than the few writes it would take off the loop.
   */
  projectorThread?: boolean;
  /** Commands waiting for the sequencer before submit() refuses with SequencerQueueFullError. */
  maxQueuedCommands?: number;
  /** The accounts service's options: the SecretBox that seals TOTP secrets, the address-book delay. */
  accounts?: AccountsOptions;
}

const DEFAULT_CANDLE_SAVE_INTERVAL_MS = 60_000;

/** What the composition root, offline CLI commands and tests may reach; never the gateway. */
export interface ExchangeInternals {
  core: Core;
  sequencer: EmbeddedCore["sequencer"];
  store: Store;
  projectorQueue: ProjectorQueue;
  /** The SQLite projector's worker thread; null on PostgreSQL, whose projector runs in process. */
  projectorWorker: WorkerProjector | null;
  /** What recovery did at open: snapshot used, records replayed, torn tail, time. */
  recovery: EmbeddedCore["recoveryReport"];
  journalOpen: EmbeddedCore["journalOpenReport"];
}

export class Exchange implements ExchangeBoundary {
  private readonly reference: ReferenceData;
  private closing: Promise<void> | null = null;
  private readonly pipeline: EventPipeline;
  readonly reads: StoreReadModels;
  readonly audit: StoreAuditTrail;
  readonly accounts: Accounts;
  readonly custody: CustodyStore;
  readonly incidents: IncidentStore;
  readonly operators: OperatorStore;
  /** What rebuilding trades, tickers and candles found at open. */
  marketDataRestore: MarketDataRestoreReport = {
    tradesReplayed: 0,
    candleMarketsLoaded: 0,
    candleTradesToppedUp: 0,
  };

  private constructor(
    private readonly embedded: EmbeddedCore,
    private readonly store: Store,
    private readonly projectorQueue: ProjectorQueue,
    /** The SQLite projector's worker thread; null on PostgreSQL, whose projector runs here. */
    private readonly projectorWorker: WorkerProjector | null,
    readonly marketData: MarketData,
    private readonly candles: MarketDataPersistence,
    reportError: (what: string, error: unknown) => void,
    accountsOptions: AccountsOptions = {},
  ) {
    this.reads = new StoreReadModels(store.db, store.engine);
    this.audit = new StoreAuditTrail(store.db);
    this.incidents = bindIncidentStore(store.db);
    this.operators = bindOperatorStore(store.db);
    this.accounts = new Accounts(store, accountsOptions);
    this.custody = bindCustodyStore(store.db);
    this.reference = new ReferenceData((config) => this.marketData.addMarket(config));
    this.reference.learnAll(embedded.core.assetList(), embedded.core.marketList());
    this.pipeline = new EventPipeline((stage, error) =>
      reportError(`event pipeline stage ${stage} failed`, error),
    );
    this.pipeline.attach("marketData", (batch) => this.applyToMarketData(batch));
    this.pipeline.attach("projector", (batch) => this.project(batch));
    embedded.sequencer.subscribe((events, commands) => this.pipeline.deliver({ events, commands }));
  }

  /**
   * Opens the store first: its projector's cursor decides where recovery may start, so every
   * event the store has not written is regenerated by replay and projected before new commands.
   */
  static async open(options: ExchangeOptions): Promise<Exchange> {
    const report = options.onBackgroundError ?? ((what, error) => console.error(what, error));
    const storeConfig: StoreConfig =
      options.databaseUrl === undefined
        ? { dataDir: options.dataDir }
        : { databaseUrl: options.databaseUrl, pgSchema: options.pgSchema };
    const store = await openStore(storeConfig);
    let projectorWorker: WorkerProjector | null = null;
    try {
      // better-sqlite3 is synchronous: on SQLite the projector writes from a worker thread, so its
      // transactions do not stall the event loop that serves the API.
      if (store.sqliteFile !== null && options.projectorThread !== false)
        projectorWorker = await WorkerProjector.open(store.sqliteFile);
      const projector: BatchProjector = projectorWorker ?? (await Projector.open(store.db));
      const projectorQueue = new ProjectorQueue(options.wrapProjector?.(projector) ?? projector, {
        ...(store.engine === "sqlite"
          ? { maxEventsPerTransaction: EMBEDDED_MAX_EVENTS_PER_TRANSACTION }
          : {}),
        ...options.projectorQueue,
        onError: (error) => report("projector write failed; retrying", error),
      });
      const limits = { ...DEFAULT_CORE_LIMITS, ...options.limits };
      const clock = options.clock ?? Date.now;
      const marketData = new MarketData({ clock, maxTrackedOrders: limits.maxOpenOrders + 1 });
      const replayed: DurableBatch[] = [];
      const embedded = await startEmbeddedCore({
        dataDir: options.dataDir,
        limits,
        clock,
        snapshotPolicy: options.snapshotPolicy,
        maxQueuedCommands: options.maxQueuedCommands,
        onSnapshotError: (error) => report("snapshot failed", error),
        maxSnapshotSequence: projector.lastSequence,
        onReplayedEvents: (events, commands) => {
          if (commands[commands.length - 1].sequence > projector.lastSequence)
            replayed.push({ events, commands });
        },
        // The store's cursor must stay reachable by replay.
        pruneLimit: () => projector.lastSequence,
      });
      for (const batch of replayed) await projectorQueue.push(batch);
      await projectorQueue.flush();
      const candles = new MarketDataPersistence({
        db: store.db,
        marketData,
        markets: () => embedded.core.marketList(),
        dataDir: options.dataDir,
        clock,
      });
      const exchange = new Exchange(
        embedded,
        store,
        projectorQueue,
        projectorWorker,
        marketData,
        candles,
        report,
        options.accounts,
      );
      const state = embedded.core.exportState();
      await raiseUserIdFloor(store.db, store.engine, maxUserIdOf(state));
      marketData.seedBooks(state);
      exchange.marketDataRestore = await candles.restore();
      const saveIntervalMs = options.candleSaveIntervalMs ?? DEFAULT_CANDLE_SAVE_INTERVAL_MS;
      if (saveIntervalMs > 0)
        candles.startPeriodicSave(saveIntervalMs, (error) => report("saving candles failed", error));
      return exchange;
    } catch (error) {
      await projectorWorker?.close();
      await store.close();
      throw error;
    }
  }

  /** The parts behind the boundary: for the composition root, offline CLI commands and tests. */
  get internals(): ExchangeInternals {
    return {
      core: this.embedded.core,
      sequencer: this.embedded.sequencer,
      store: this.store,
      projectorQueue: this.projectorQueue,
      projectorWorker: this.projectorWorker,
      recovery: this.embedded.recoveryReport,
      journalOpen: this.embedded.journalOpenReport,
    };
  }

  submit(command: UnstampedCommand): Promise<CommandResult> {
    return this.embedded.sequencer.submit(command);
  }

  whenProjected(sequence: number): Promise<void> {
    return this.projectorQueue.whenProjected(sequence);
  }

  attach(stage: EventPipelineStage, handler: EventStageHandler): () => void {
    return this.pipeline.attach(stage, handler);
  }

  status(): ExchangeStatus {
    const sequencer = this.embedded.sequencer;
    return {
      lastSequence: this.embedded.core.lastSequence,
      acknowledgedSequence: sequencer.acknowledgedSequence,
      queuedCommands: sequencer.queuedCount,
      projectorQueuedEvents: this.projectorQueue.queuedEvents,
      projectorLastError: this.projectorQueue.lastError,
      storeEngine: this.store.engine,
      pipeline: this.pipeline.stats,
    };
  }

  balance(userId: number, assetId: number): { availableUnits: number; heldUnits: number } {
    return this.embedded.core.balance(userId, assetId);
  }

  walletBooks(assetId: number): WalletBooks {
    return this.embedded.core.walletBooks(assetId);
  }

  customerLiabilities(assetId: number): { userIds: number[]; balancesUnits: number[] } {
    return this.embedded.core.customerLiabilities(assetId);
  }

  incidentCovers(): IncidentCoverView[] {
    return this.embedded.core.incidentCovers();
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

  /** Drains the sequencer, writes what the projector holds, saves candles, closes journal and store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.embedded.close();
      await this.projectorQueue.flush();
      await this.projectorQueue.close();
      // After the queue: its last transaction has been acknowledged, so the worker is idle.
      await this.projectorWorker?.close();
      await this.candles.stop();
      await this.store.close();
    })();
    return this.closing;
  }

  /** The pipeline's first stage: reference data, books, trades, tickers, candles. */
  private applyToMarketData(batch: DurableBatch): void {
    this.reference.learnFrom(batch.events);
    this.marketData.apply(batch.events);
    this.candles.noteTrades(batch.events);
  }

  /**
   * The pipeline's second stage. A full projector queue returns a promise, which holds the
   * pipeline and the sequencer until the projector has room: the store's lag is bounded.
   */
  private project(batch: DurableBatch): Promise<void> | undefined {
    if (this.projectorQueue.offer(batch)) return undefined;
    return this.projectorQueue.push(batch);
  }
}

/**
 * The projector's transaction bound in embedded (SQLite) mode. The transaction runs in the
 * worker, but it holds SQLite's write lock while it runs, and the main thread's nonce commits wait
 * for that lock (synchronously, busy_timeout): a long transaction still stalls the event loop of
 * a request that commits a nonce meanwhile. Smaller transactions cost more commits (each rewrites
 * the touched pages into the WAL), so this trades throughput for the longest lock wait.
 */
export const EMBEDDED_MAX_EVENTS_PER_TRANSACTION = 500;

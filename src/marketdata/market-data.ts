// MarketData: depth, recent trades, tickers and candles of every market, derived only from core
// events, so it runs the same next to the core or in a gateway process fed from the event bus.
//
// - apply(events) takes the events of whole commands in order (the core's batches are whole).
// - REST reads come from snapshots rebuilt at most every REST_CACHE_TTL_MS of the injected clock,
//   whatever the request rate (docs/ARCHITECTURE.md#guard); they may be that much behind.
// - WS subscribers get, per market: a ticker snapshot on subscribe and an update after each batch
//   that touched the market; the trades of each batch; a depth snapshot on subscribe and then one
//   delta per batch that changed the book, with consecutive update sequences.
// All values stay integers (ticks, lots, units, bigint volumes); formatting is the gateway's job.

import type { MarketConfig } from "../core/config.ts";
import type { CoreEvent, TradeEvent } from "../core/events.ts";
import type { CoreStateView } from "../core/state-view.ts";
import { type Candle, MarketCandles, type Resolution } from "./candles.ts";
import { Depth, type DepthSnapshot } from "./depth.ts";
import {
  DEFAULT_DEPTH_LEVELS,
  MAX_DEPTH_LEVELS,
  MAX_MARKETS,
  REST_CACHE_TTL_MS,
  TRADE_RING_CAPACITY,
} from "./limits.ts";
import {
  type MarketDataUpdate,
  type SubscribeResult,
  type Subscriber,
  type SubscriberCallbacks,
  SubscriptionHub,
  type SubscriptionLimits,
  type Topic,
} from "./subscriptions.ts";
import { RollingTicker, type Ticker } from "./ticker.ts";
import { type PublicTrade, publicTrade, TradeRing } from "./trades.ts";

export interface MarketDataOptions {
  /** Milliseconds since the epoch; read only for REST cache freshness and the REST ticker window. */
  clock: () => number;
  /** The core's maxOpenOrders (+1 for an IOC taker in flight). */
  maxTrackedOrders: number;
  subscriptionLimits?: Partial<SubscriptionLimits>;
}

interface MarketEntry {
  config: MarketConfig;
  trades: TradeRing;
  ticker: RollingTicker;
  candles: MarketCandles;
  /** Trades in the batch being applied; they are the newest in the ring. */
  batchTradeCount: number;
  touchedInBatch: boolean;
}

interface Cached<T> {
  builtMs: number;
  value: T;
}

export class MarketData {
  private readonly clock: () => number;
  private readonly depth: Depth;
  private readonly hub: SubscriptionHub;
  private readonly markets = new Map<number, MarketEntry>();
  private readonly bySymbol = new Map<string, number>();
  private readonly touched: MarketEntry[] = [];
  /** The latest event timestamp seen in any market: "now" for tickers pushed over WS. */
  private latestEventMs = 0;
  private tickerCache: Cached<readonly Ticker[]> | null = null;
  private readonly bookCache = new Map<number, Cached<DepthSnapshot>>();
  private readonly tradesCache = new Map<number, Cached<readonly PublicTrade[]>>();

  constructor(options: MarketDataOptions) {
    this.clock = options.clock;
    this.depth = new Depth(options.maxTrackedOrders);
    this.hub = new SubscriptionHub(options.subscriptionLimits);
  }

  addMarket(config: MarketConfig): void {
    if (this.markets.has(config.marketId)) return;
    if (this.markets.size >= MAX_MARKETS) throw new RangeError(`at most ${MAX_MARKETS} markets`);
    this.depth.addMarket(config.marketId);
    this.markets.set(config.marketId, {
      config,
      trades: new TradeRing(TRADE_RING_CAPACITY),
      ticker: new RollingTicker(config.marketId, config.quoteUnitsPerTickLot),
      candles: new MarketCandles(config.marketId),
      batchTradeCount: 0,
      touchedInBatch: false,
    });
    this.bySymbol.set(config.symbol, config.marketId);
    this.tickerCache = null;
  }

  marketIdOf(symbol: string): number | undefined {
    return this.bySymbol.get(symbol);
  }

  marketConfigs(): MarketConfig[] {
    return [...this.markets.values()].map((entry) => entry.config);
  }

  /**
   * Loads the resting orders of a recovered core, so depth is right after a restart even though
   * the events that built the books came before this process. Call once, before any apply().
   * Each order enters as an acceptance of its remaining lots, which is how depth tracks orders.
   */
  seedBooks(state: CoreStateView): void {
    for (const market of state.markets) {
      this.addMarket(market.config);
      for (const order of [...market.bids, ...market.asks]) {
        this.depth.applyEvent({
          type: "orderAccepted",
          sequence: state.lastSequence,
          timestampMs: 0,
          orderId: order.orderId,
          userId: order.userId,
          marketId: market.config.marketId,
          side: order.side,
          orderType: "limit",
          priceTicks: order.priceTicks,
          quantityLots: order.remainingLots,
          quoteAmountUnits: 0,
          triggerPriceTicks: 0,
          clientOrderId: order.clientOrderId,
          clientOrderText: null,
          timeInForce: "gtc",
          postOnly: false,
          heldUnits: 0,
        });
      }
    }
    // Nobody is subscribed yet: drop the seeding's deltas rather than publish them.
    this.depth.takeUpdates();
    this.bookCache.clear();
  }

  /**
   * Feeds one historical trade (from the store, after a restart) to the trade ring, the ticker
   * and the candles, oldest first; the book is not touched and nothing is published.
   */
  restoreTrade(trade: TradeEvent): void {
    const entry = this.markets.get(trade.marketId);
    if (entry === undefined) throw new RangeError(`unknown market ${trade.marketId}`);
    this.noteTime(trade.timestampMs);
    entry.trades.push(publicTrade(trade));
    entry.ticker.record(trade);
    entry.candles.record(trade);
    this.tickerCache = null;
    this.tradesCache.delete(trade.marketId);
  }

  /** Applies the events of whole commands, in order, then publishes what changed. */
  apply(events: readonly CoreEvent[]): void {
    for (const event of events) this.applyEvent(event);
    this.publishBatch();
  }

  // ---- REST reads: cached snapshots ----------------------------------------------------------

  /**
   * Tickers of every market in id order, at the clock's now. `maxAgeMs` (at most REST_CACHE_TTL_MS):
   * how old a cached answer may be; the gateway's public snapshots (which add their own 100 ms)
   * ask for less, so what a client sees is still about 100 ms old at most.
   */
  tickers(maxAgeMs: number = REST_CACHE_TTL_MS): readonly Ticker[] {
    const now = this.clock();
    if (this.tickerCache !== null && isFresh(this.tickerCache, now, maxAgeMs)) return this.tickerCache.value;
    const value = [...this.markets.values()]
      .sort((left, right) => left.config.marketId - right.config.marketId)
      .map((entry) => this.readTicker(entry, now));
    this.tickerCache = { builtMs: now, value };
    return value;
  }

  /** Top `limit` levels per side (EXMO default 100, at most 1000); undefined for an unknown market. */
  orderBook(
    marketId: number,
    limit: number = DEFAULT_DEPTH_LEVELS,
    maxAgeMs: number = REST_CACHE_TTL_MS,
  ): DepthSnapshot | undefined {
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_DEPTH_LEVELS)
      throw new RangeError(`depth limit must be an integer in 0..${MAX_DEPTH_LEVELS}`);
    if (!this.markets.has(marketId)) return undefined;
    const now = this.clock();
    let cached = this.bookCache.get(marketId);
    if (cached === undefined || !isFresh(cached, now, maxAgeMs)) {
      cached = { builtMs: now, value: this.depth.snapshot(marketId, MAX_DEPTH_LEVELS) };
      this.bookCache.set(marketId, cached);
    }
    const book = cached.value;
    if (limit === MAX_DEPTH_LEVELS) return book;
    return { ...book, bids: book.bids.slice(0, limit), asks: book.asks.slice(0, limit) };
  }

  /** The newest trades (at most TRADE_RING_CAPACITY), newest first. */
  trades(marketId: number, maxAgeMs: number = REST_CACHE_TTL_MS): readonly PublicTrade[] | undefined {
    const entry = this.markets.get(marketId);
    if (entry === undefined) return undefined;
    const now = this.clock();
    let cached = this.tradesCache.get(marketId);
    if (cached === undefined || !isFresh(cached, now, maxAgeMs)) {
      cached = { builtMs: now, value: entry.trades.newest() };
      this.tradesCache.set(marketId, cached);
    }
    return cached.value;
  }

  /** Candles opening in [fromMs, toMs], oldest first, at most `limit` (<= 3000), newest kept when capped. */
  candles(
    marketId: number,
    resolution: Resolution,
    fromMs: number,
    toMs: number,
    limit?: number,
  ): Candle[] | undefined {
    return this.markets.get(marketId)?.candles.query(resolution, fromMs, toMs, limit);
  }

  /** For whoever persists candles across restarts. */
  candleStore(marketId: number): MarketCandles | undefined {
    return this.markets.get(marketId)?.candles;
  }

  /** Replaces a market's candles with saved ones (after addMarket, before applying newer events). */
  restoreCandles(json: unknown): void {
    const candles = MarketCandles.fromJSON(json);
    const entry = this.markets.get(candles.marketId);
    if (entry === undefined) throw new Error(`candles for unknown market ${candles.marketId}`);
    entry.candles = candles;
  }

  // ---- WS subscriptions ----------------------------------------------------------------------

  /** Null when the subscriber limit is reached. */
  createSubscriber(callbacks: SubscriberCallbacks): Subscriber | null {
    return this.hub.createSubscriber(callbacks);
  }

  /** Subscribes; ticker and depth topics first queue a snapshot, so deltas always follow one. */
  subscribe(subscriber: Subscriber, topic: Topic): SubscribeResult {
    const entry = this.markets.get(topic.marketId);
    if (entry === undefined) return "unknownMarket";
    return this.hub.subscribe(subscriber, topic, this.firstUpdate(entry, topic));
  }

  unsubscribe(subscriber: Subscriber, topic: Topic): boolean {
    return this.hub.unsubscribe(subscriber, topic);
  }

  closeSubscriber(subscriber: Subscriber): void {
    this.hub.close(subscriber);
  }

  get subscriptionLimits(): SubscriptionLimits {
    return this.hub.limits;
  }

  // ---- internals -----------------------------------------------------------------------------

  private applyEvent(event: CoreEvent): void {
    switch (event.type) {
      case "marketAdded":
        this.addMarket(event.market);
        return;
      case "orderAccepted":
        this.depth.applyEvent(event);
        this.noteTime(event.timestampMs);
        this.touch(event.marketId).ticker.touch(event.timestampMs);
        return;
      case "trade":
        this.depth.applyEvent(event);
        this.noteTime(event.timestampMs);
        this.recordTrade(this.touch(event.marketId), event);
        return;
      case "orderDone":
        this.depth.applyEvent(event);
        this.touch(event.marketId);
        return;
      default:
        return;
    }
  }

  private recordTrade(entry: MarketEntry, event: TradeEvent): void {
    entry.trades.push(publicTrade(event));
    entry.ticker.record(event);
    entry.candles.record(event);
    entry.batchTradeCount += 1;
  }

  private noteTime(timestampMs: number): void {
    if (timestampMs > this.latestEventMs) this.latestEventMs = timestampMs;
  }

  private touch(marketId: number): MarketEntry {
    const entry = this.markets.get(marketId);
    if (entry === undefined) throw new Error(`market data: event for unknown market ${marketId}`);
    if (!entry.touchedInBatch) {
      entry.touchedInBatch = true;
      this.touched.push(entry);
    }
    return entry;
  }

  private publishBatch(): void {
    for (const update of this.depth.takeUpdates())
      this.hub.publish(
        { kind: "depth", marketId: update.marketId },
        { topic: "depth", event: "update", marketId: update.marketId, depth: update },
      );
    for (const entry of this.touched) {
      entry.touchedInBatch = false;
      const marketId = entry.config.marketId;
      const tradesTopic: Topic = { kind: "trades", marketId };
      if (entry.batchTradeCount > 0 && this.hub.hasSubscribers(tradesTopic)) {
        // A batch with more trades than the ring holds sends only the newest TRADE_RING_CAPACITY
        // live: the older ones already left the ring, and the update's size stays bounded.
        const trades = entry.trades.newest(entry.batchTradeCount).reverse();
        this.hub.publish(tradesTopic, { topic: "trades", event: "update", marketId, trades });
      }
      entry.batchTradeCount = 0;
      const tickerTopic: Topic = { kind: "ticker", marketId };
      // The ticker costs a 1,440-bucket scan: only for markets someone watches.
      if (this.hub.hasSubscribers(tickerTopic))
        this.hub.publish(tickerTopic, {
          topic: "ticker",
          event: "update",
          marketId,
          ticker: this.readTicker(entry, this.latestEventMs),
        });
    }
    this.touched.length = 0;
  }

  private firstUpdate(entry: MarketEntry, topic: Topic): MarketDataUpdate | null {
    const marketId = entry.config.marketId;
    if (topic.kind === "ticker")
      return {
        topic: "ticker",
        event: "snapshot",
        marketId,
        ticker: this.readTicker(entry, this.latestEventMs),
      };
    if (topic.kind === "depth")
      return {
        topic: "depth",
        event: "snapshot",
        marketId,
        depth: this.depth.snapshot(marketId, MAX_DEPTH_LEVELS),
      };
    return null;
  }

  private readTicker(entry: MarketEntry, nowMs: number): Ticker {
    const marketId = entry.config.marketId;
    return entry.ticker.read(nowMs, this.depth.bestBidTicks(marketId), this.depth.bestAskTicks(marketId));
  }
}

function isFresh<T>(cached: Cached<T>, nowMs: number, maxAgeMs: number): boolean {
  // A clock that steps back counts as stale, so a rebuilt answer never waits on a skewed clock.
  return nowMs >= cached.builtMs && nowMs - cached.builtMs < Math.min(maxAgeMs, REST_CACHE_TTL_MS);
}

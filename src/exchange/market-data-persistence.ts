// Market data across restarts. The core's events before this process are not replayed into
// market data (only the books are seeded from the recovered core), so on start:
// - recent trades and the 24 h ticker are rebuilt from the store's trades table: per market the
//   newest TRADE_RING_CAPACITY trades and every trade of the last 24 h, capped at
//   MAX_TICKER_REBUILD_TRADES, read in pages;
// - candles, which cover far more history than the store should be scanned for at every start,
//   are saved to <dataDir>/candles.json (periodically and at shutdown) with, per market, the id of
//   the last trade they include; on start they are loaded and topped up from the store's trades
//   newer than that id (at most MAX_CANDLE_TOPUP_TRADES, the newest ones, if the file is far behind).
// Historical trades go through MarketData.restoreTrade, which feeds the ring, ticker and candles
// but not the book (the book is seeded from the recovered core); candles are then replaced by the
// saved ones.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Kysely } from "kysely";
import type { MarketConfig } from "../core/config.ts";
import type { CoreEvent } from "../core/events.ts";
import { MarketCandles, type MarketCandlesJson } from "../marketdata/candles.ts";
import { TRADE_RING_CAPACITY } from "../marketdata/limits.ts";
import type { MarketData } from "../marketdata/market-data.ts";
import type { StoreDatabase } from "../store/schema.ts";
import { firstTradeIdSince, forEachTradeAfter, tradeIdFromNewest } from "../store/trade-history.ts";

export const CANDLES_FILE_NAME = "candles.json";
const FILE_VERSION = 1;
const MS_PER_DAY = 86_400_000;
/** Trades replayed per market for the ring and ticker: a 24 h window busier than this is cut. */
export const MAX_TICKER_REBUILD_TRADES = 1_000_000;
/** Trades added to loaded candles per market; a file further behind loses the oldest of them. */
export const MAX_CANDLE_TOPUP_TRADES = 1_000_000;

interface CandlesFileMarket {
  marketId: number;
  /** Every trade of the market up to this id is in the candles. */
  lastTradeId: number;
  candles: MarketCandlesJson;
}

interface CandlesFile {
  version: number;
  savedMs: number;
  markets: CandlesFileMarket[];
}

export interface MarketDataRestoreReport {
  tradesReplayed: number;
  candleMarketsLoaded: number;
  candleTradesToppedUp: number;
}

/** Keeps candles on disk: tracks the newest trade id per market as batches land, saves on demand. */
export class MarketDataPersistence {
  private readonly lastTradeIds = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private saving: Promise<void> | null = null;

  private readonly db: Kysely<StoreDatabase>;
  private readonly marketData: MarketData;
  private readonly markets: () => readonly MarketConfig[];
  private readonly dataDir: string;
  private readonly clock: () => number;

  constructor(options: {
    db: Kysely<StoreDatabase>;
    marketData: MarketData;
    /** The markets whose candles are kept (the exchange's, at the time of the call). */
    markets: () => readonly MarketConfig[];
    dataDir: string;
    clock: () => number;
  }) {
    this.db = options.db;
    this.marketData = options.marketData;
    this.markets = options.markets;
    this.dataDir = options.dataDir;
    this.clock = options.clock;
  }

  get path(): string {
    return join(this.dataDir, CANDLES_FILE_NAME);
  }

  /** Rebuilds trades, tickers and candles; call when the store is caught up, before new commands. */
  async restore(): Promise<MarketDataRestoreReport> {
    const saved = readCandlesFile(this.path);
    const report: MarketDataRestoreReport = {
      tradesReplayed: 0,
      candleMarketsLoaded: 0,
      candleTradesToppedUp: 0,
    };
    for (const config of this.markets()) {
      const marketId = config.marketId;
      report.tradesReplayed += await this.replayRecentTrades(marketId);
      const entry = saved?.markets.find((market) => market.marketId === marketId);
      let coveredTradeId = 0;
      if (entry !== undefined && this.loadCandles(entry)) {
        coveredTradeId = entry.lastTradeId;
        report.candleMarketsLoaded += 1;
      } else {
        this.marketData.restoreCandles(new MarketCandles(marketId).toJSON());
      }
      report.candleTradesToppedUp += await this.topUpCandles(marketId, coveredTradeId);
      // The candles now include every stored trade of the market.
      const newest = await this.newestTradeId(marketId);
      if (newest !== 0) this.lastTradeIds.set(marketId, newest);
    }
    return report;
  }

  /** Saves every `intervalMs` until stop(); a failed save is reported and retried next time. */
  startPeriodicSave(intervalMs: number, onError: (error: unknown) => void): void {
    this.timer = setInterval(() => {
      this.save().catch(onError);
    }, intervalMs);
    this.timer.unref();
  }

  /** Writes the candles file atomically (temp file, fsync, rename). */
  save(): Promise<void> {
    this.saving ??= Promise.resolve()
      .then(() => writeCandlesFile(this.path, this.snapshot()))
      .finally(() => {
        this.saving = null;
      });
    return this.saving;
  }

  /** Stops periodic saves and tracking, then saves once more. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.saving;
    await this.save();
  }

  private snapshot(): CandlesFile {
    const markets: CandlesFileMarket[] = [];
    for (const config of this.markets()) {
      const candles = this.marketData.candleStore(config.marketId);
      if (candles === undefined) continue;
      markets.push({
        marketId: config.marketId,
        lastTradeId: this.lastTradeIds.get(config.marketId) ?? 0,
        candles: candles.toJSON(),
      });
    }
    return { version: FILE_VERSION, savedMs: this.clock(), markets };
  }

  /** Follows the newest trade id per market (the event pipeline's market-data stage calls it). */
  noteTrades(events: readonly CoreEvent[]): void {
    for (const event of events)
      if (event.type === "trade") this.lastTradeIds.set(event.marketId, event.tradeId);
  }

  private loadCandles(entry: CandlesFileMarket): boolean {
    try {
      this.marketData.restoreCandles(entry.candles);
      return true;
    } catch (error) {
      // Charts are rebuilt from the store rather than refusing to start on a damaged file.
      console.error(`candles of market ${entry.marketId} unreadable, rebuilding from trades:`, error);
      return false;
    }
  }

  /** Feeds the ring and ticker; returns how many trades were replayed. */
  private async replayRecentTrades(marketId: number): Promise<number> {
    const db = this.db;
    const newest = await tradeIdFromNewest(db, marketId, TRADE_RING_CAPACITY - 1);
    const firstInWindow = await firstTradeIdSince(db, marketId, this.clock() - MS_PER_DAY);
    const cappedFrom = await tradeIdFromNewest(db, marketId, MAX_TICKER_REBUILD_TRADES - 1);
    // From the older of "1000th newest" and "first of the last 24 h", but never more than the cap.
    let fromTradeId = Math.min(newest ?? 1, firstInWindow ?? Number.MAX_SAFE_INTEGER);
    if (cappedFrom !== undefined) fromTradeId = Math.max(fromTradeId, cappedFrom);
    let replayed = 0;
    await forEachTradeAfter(db, marketId, fromTradeId - 1, MAX_TICKER_REBUILD_TRADES, (trade) => {
      this.marketData.restoreTrade(trade);
      replayed += 1;
    });
    return replayed;
  }

  private async topUpCandles(marketId: number, coveredTradeId: number): Promise<number> {
    const candles = this.marketData.candleStore(marketId);
    if (candles === undefined) return 0;
    const capFrom = await tradeIdFromNewest(this.db, marketId, MAX_CANDLE_TOPUP_TRADES);
    const after = Math.max(coveredTradeId, capFrom ?? 0);
    let added = 0;
    await forEachTradeAfter(this.db, marketId, after, MAX_CANDLE_TOPUP_TRADES, (trade) => {
      candles.record(trade);
      added += 1;
    });
    return added;
  }

  private async newestTradeId(marketId: number): Promise<number> {
    return (await tradeIdFromNewest(this.db, marketId, 0)) ?? 0;
  }
}

const MAX_CANDLES_FILE_BYTES = 256 * 1024 * 1024;

function readCandlesFile(path: string): CandlesFile | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (text.length > MAX_CANDLES_FILE_BYTES) throw new Error(`${path} is larger than expected`);
  try {
    const parsed = JSON.parse(text) as Partial<CandlesFile> | null;
    if (parsed === null || parsed.version !== FILE_VERSION || !Array.isArray(parsed.markets)) return null;
    return {
      version: FILE_VERSION,
      savedMs: Number(parsed.savedMs) || 0,
      markets: parsed.markets.filter(
        (market): market is CandlesFileMarket =>
          typeof market === "object" &&
          market !== null &&
          Number.isSafeInteger(market.marketId) &&
          Number.isSafeInteger(market.lastTradeId) &&
          market.lastTradeId >= 0,
      ),
    };
  } catch (error) {
    // A torn or corrupt file (it is replaced atomically, so only by hand) means a rebuild, not a dead start.
    console.error(`${path} unreadable, rebuilding candles from trades:`, error);
    return null;
  }
}

function writeCandlesFile(path: string, file: CandlesFile): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w", 0o644);
  try {
    writeSync(fd, JSON.stringify(file));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

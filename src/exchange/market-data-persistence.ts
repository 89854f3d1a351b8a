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
import type { CoreEvent, TradeEvent } from "../core/events.ts";
import { MarketCandles, type MarketCandlesJson } from "../marketdata/candles.ts";
import { TRADE_RING_CAPACITY } from "../marketdata/limits.ts";
import type { TradeRow } from "../store/schema.ts";
import type { Exchange } from "./exchange.ts";
import { isNotFound } from "../accounts/server-key.ts";

export const CANDLES_FILE_NAME = "candles.json";
const FILE_VERSION = 1;
const MS_PER_DAY = 86_400_000;
/** Rows read per store query while rebuilding. */
const PAGE_ROWS = 5_000;
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
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private saving: Promise<void> | null = null;

  constructor(
    private readonly exchange: Exchange,
    private readonly dataDir: string,
    private readonly clock: () => number = Date.now,
  ) {}

  get path(): string {
    return join(this.dataDir, CANDLES_FILE_NAME);
  }

  /** Rebuilds trades, tickers and candles; call right after Exchange.open, before new commands. */
  async restore(): Promise<MarketDataRestoreReport> {
    const saved = readCandlesFile(this.path);
    const report: MarketDataRestoreReport = {
      tradesReplayed: 0,
      candleMarketsLoaded: 0,
      candleTradesToppedUp: 0,
    };
    for (const { config } of this.exchange.markets()) {
      const marketId = config.marketId;
      report.tradesReplayed += await this.replayRecentTrades(marketId);
      const entry = saved?.markets.find((market) => market.marketId === marketId);
      let coveredTradeId = 0;
      if (entry !== undefined && this.loadCandles(entry)) {
        coveredTradeId = entry.lastTradeId;
        report.candleMarketsLoaded += 1;
      } else {
        this.exchange.marketData.restoreCandles(new MarketCandles(marketId).toJSON());
      }
      report.candleTradesToppedUp += await this.topUpCandles(marketId, coveredTradeId);
      // The candles now include every stored trade of the market.
      const newest = await this.newestTradeId(marketId);
      if (newest !== 0) this.lastTradeIds.set(marketId, newest);
    }
    this.unsubscribe = this.exchange.sequencer.subscribe((events) => this.noteTrades(events));
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
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private snapshot(): CandlesFile {
    const markets: CandlesFileMarket[] = [];
    for (const { config } of this.exchange.markets()) {
      const candles = this.exchange.marketData.candleStore(config.marketId);
      if (candles === undefined) continue;
      markets.push({
        marketId: config.marketId,
        lastTradeId: this.lastTradeIds.get(config.marketId) ?? 0,
        candles: candles.toJSON(),
      });
    }
    return { version: FILE_VERSION, savedMs: this.clock(), markets };
  }

  private noteTrades(events: readonly CoreEvent[]): void {
    for (const event of events)
      if (event.type === "trade") this.lastTradeIds.set(event.marketId, event.tradeId);
  }

  private loadCandles(entry: CandlesFileMarket): boolean {
    try {
      this.exchange.marketData.restoreCandles(entry.candles);
      return true;
    } catch (error) {
      // Charts are rebuilt from the store rather than refusing to start on a damaged file.
      console.error(`candles of market ${entry.marketId} unreadable, rebuilding from trades:`, error);
      return false;
    }
  }

  /** Feeds the ring and ticker; returns how many trades were replayed. */
  private async replayRecentTrades(marketId: number): Promise<number> {
    const db = this.exchange.store.db;
    const newest = await db
      .selectFrom("trades")
      .select("trade_id")
      .where("market_id", "=", marketId)
      .orderBy("trade_id", "desc")
      .limit(1)
      .offset(TRADE_RING_CAPACITY - 1)
      .executeTakeFirst();
    const firstInWindow = await db
      .selectFrom("trades")
      .select("trade_id")
      .where("market_id", "=", marketId)
      .where("ts_ms", ">=", this.clock() - MS_PER_DAY)
      .orderBy("trade_id", "asc")
      .limit(1)
      .executeTakeFirst();
    const cappedFrom = await db
      .selectFrom("trades")
      .select("trade_id")
      .where("market_id", "=", marketId)
      .orderBy("trade_id", "desc")
      .limit(1)
      .offset(MAX_TICKER_REBUILD_TRADES - 1)
      .executeTakeFirst();
    // From the older of "1000th newest" and "first of the last 24 h", but never more than the cap.
    let fromTradeId = Math.min(newest?.trade_id ?? 1, firstInWindow?.trade_id ?? Number.MAX_SAFE_INTEGER);
    if (cappedFrom !== undefined) fromTradeId = Math.max(fromTradeId, cappedFrom.trade_id);
    let replayed = 0;
    await this.forEachTradeFrom(marketId, fromTradeId - 1, MAX_TICKER_REBUILD_TRADES, (row) => {
      this.exchange.marketData.restoreTrade(tradeEventOf(row));
      replayed += 1;
    });
    return replayed;
  }

  private async topUpCandles(marketId: number, coveredTradeId: number): Promise<number> {
    const candles = this.exchange.marketData.candleStore(marketId);
    if (candles === undefined) return 0;
    const capFrom = await this.exchange.store.db
      .selectFrom("trades")
      .select("trade_id")
      .where("market_id", "=", marketId)
      .orderBy("trade_id", "desc")
      .limit(1)
      .offset(MAX_CANDLE_TOPUP_TRADES)
      .executeTakeFirst();
    const after = Math.max(coveredTradeId, capFrom?.trade_id ?? 0);
    let added = 0;
    await this.forEachTradeFrom(marketId, after, MAX_CANDLE_TOPUP_TRADES, (row) => {
      candles.record(tradeEventOf(row));
      added += 1;
    });
    return added;
  }

  private async newestTradeId(marketId: number): Promise<number> {
    const row = await this.exchange.store.db
      .selectFrom("trades")
      .select("trade_id")
      .where("market_id", "=", marketId)
      .orderBy("trade_id", "desc")
      .limit(1)
      .executeTakeFirst();
    return row?.trade_id ?? 0;
  }

  /** Trades with id > afterTradeId, oldest first, in pages, at most maxTrades. */
  private async forEachTradeFrom(
    marketId: number,
    afterTradeId: number,
    maxTrades: number,
    visit: (row: TradeRow) => void,
  ): Promise<void> {
    let cursor = afterTradeId;
    let seen = 0;
    while (seen < maxTrades) {
      const rows = await this.exchange.store.db
        .selectFrom("trades")
        .selectAll()
        .where("market_id", "=", marketId)
        .where("trade_id", ">", cursor)
        .orderBy("trade_id", "asc")
        .limit(Math.min(PAGE_ROWS, maxTrades - seen))
        .execute();
      if (rows.length === 0) return;
      for (const row of rows) visit(row);
      seen += rows.length;
      cursor = rows[rows.length - 1].trade_id;
    }
  }
}

/** A stored trade as the core's event. */
function tradeEventOf(row: TradeRow): TradeEvent {
  return {
    type: "trade",
    sequence: row.sequence,
    timestampMs: row.ts_ms,
    tradeId: row.trade_id,
    marketId: row.market_id,
    priceTicks: row.price_ticks,
    quantityLots: row.quantity_lots,
    notionalUnits: row.notional_units,
    takerSide: row.taker_side,
    makerOrderId: row.maker_order_id,
    takerOrderId: row.taker_order_id,
    makerUserId: row.maker_user_id,
    takerUserId: row.taker_user_id,
    buyerFeeUnits: row.buyer_fee_units,
    sellerFeeUnits: row.seller_fee_units,
  };
}

const MAX_CANDLES_FILE_BYTES = 256 * 1024 * 1024;

function readCandlesFile(path: string): CandlesFile | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (isNotFound(error)) return null;
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

// Fan-out of Binance market streams to sockets (docs/API.md#binance-market-streams). ONE handler
// on the event pipeline's marketData stage (after MarketData applied the batch) for the whole
// gateway, whatever the number of sockets: it sends trades at once and notes which markets moved.
// Books come from one market-data depth subscriber per watched market (book-feed.ts). One timer
// pushes what Binance pushes on a period: diff and partial books every 100 ms or 1000 ms, tickers
// and klines every 1000 ms (only for markets that moved, or to a stream just subscribed).
//
// Each payload is serialised once per stream and handed to every subscribed sink.
// Bounds: streams per socket (the socket's rule), at most one book feed per market, tickers
// computed once per market per period.

import type { Logger } from "pino";
import type { ExchangeBoundary, MarketContext } from "../../../exchange/boundary.ts";
import type { DurableBatch } from "../../../exchange/event-pipeline.ts";
import type { Subscriber } from "../../../marketdata/subscriptions.ts";
import { publicTrade } from "../../../marketdata/trades.ts";
import { SOURCE_MAX_AGE_MS } from "../../exmo/public-snapshots.ts";
import { binanceSymbol } from "../format.ts";
import { BookFeed } from "./book-feed.ts";
import {
  aggTradePayload,
  bookTickerPayload,
  depthUpdatePayload,
  partialDepthPayload,
  type RestKline,
  RestReads,
  tradePayload,
} from "./payloads.ts";
import { isLatestState, type MarketStream, needsBook, type StreamSpeed, streamMarket } from "./streams.ts";

/** What a socket gives the fan-out. Must not throw. */
export interface StreamSink {
  /** A payload (JSON text) of `stream`; `latest`: a newer one supersedes it. */
  deliver(stream: string, payload: string, latest: boolean): void;
  /** The stream's source broke (its book feed lost updates): the client must resubscribe. */
  lost(reason: string): void;
}

export interface MarketStreamTimes {
  /** Binance's "@100ms" update speed. */
  fastMs: number;
  /** Binance's default 1000 ms update speed (diff and partial books, tickers, klines). */
  slowMs: number;
}

export const DEFAULT_STREAM_TIMES: MarketStreamTimes = { fastMs: 100, slowMs: 1_000 };

/** Book-feed updates drained per pass: the hub's queue bound, so one pass empties it. */
const MAX_DRAIN_PER_PASS = 1_024;

interface Entry {
  stream: MarketStream;
  sinks: Set<StreamSink>;
  /** Subscribed since the last push: push it at the next tick even if nothing moved. */
  pending: boolean;
  /** Klines: the last pushed candle, so it is pushed once more (x: true) when its interval ends. */
  kline?: { row: RestKline; closed: boolean };
}

interface WatchedBook {
  feed: BookFeed;
  subscriber: Subscriber;
  scheduled: boolean;
  /** Subscribed streams that read this feed. */
  users: number;
}

export class MarketStreams {
  private readonly entries = new Map<string, Entry>();
  /** Stream names subscribed per market (for trades and the per-period pushes). */
  private readonly byMarket = new Map<number, Set<string>>();
  private readonly books = new Map<number, WatchedBook>();
  /** Markets that had events since the last slow tick. */
  private readonly touched = new Set<number>();
  private readonly rest: RestReads;
  private readonly detach: () => void;
  private readonly timer: NodeJS.Timeout;
  private readonly slowEvery: number;
  private tickCount = 0;

  constructor(
    private readonly exchange: ExchangeBoundary,
    private readonly clock: () => number,
    times: MarketStreamTimes,
    private readonly logger?: Logger,
  ) {
    this.rest = new RestReads(exchange, clock);
    this.detach = exchange.attach("marketData", (batch) => this.onBatch(batch));
    this.slowEvery = Math.max(1, Math.round(times.slowMs / times.fastMs));
    this.timer = setInterval(() => this.tick(), times.fastMs);
    this.timer.unref();
  }

  get streamCount(): number {
    return this.entries.size;
  }

  subscribe(sink: StreamSink, stream: MarketStream): void {
    let entry = this.entries.get(stream.name);
    if (entry === undefined) {
      entry = { stream, sinks: new Set(), pending: false };
      this.entries.set(stream.name, entry);
      const market = streamMarket(stream.spec);
      const id = market?.config.marketId ?? -1;
      let names = this.byMarket.get(id);
      if (names === undefined) {
        names = new Set();
        this.byMarket.set(id, names);
      }
      names.add(stream.name);
      if (market !== undefined && needsBook(stream.spec) && !this.useBook(market)) {
        this.forget(entry);
        sink.lost("market data subscribers");
        return;
      }
    }
    entry.sinks.add(sink);
    entry.pending = true;
    const spec = stream.spec;
    if (spec.kind === "depth") this.alignRestDepth(spec.market);
    if (spec.kind === "bookTicker") {
      const feed = this.books.get(spec.market.config.marketId)?.feed;
      if (feed !== undefined)
        sink.deliver(
          stream.name,
          bookTickerPayload(spec.market, feed.sequence, feed.bids.best(), feed.asks.best()),
          true,
        );
    }
  }

  unsubscribe(sink: StreamSink, name: string): void {
    const entry = this.entries.get(name);
    if (entry === undefined || !entry.sinks.delete(sink) || entry.sinks.size > 0) return;
    this.forget(entry);
  }

  close(): void {
    clearInterval(this.timer);
    this.detach();
    for (const book of this.books.values()) this.exchange.marketData.closeSubscriber(book.subscriber);
    this.books.clear();
    this.entries.clear();
    this.byMarket.clear();
  }

  // ---- subscriptions ---------------------------------------------------------------------------

  private forget(entry: Entry): void {
    const name = entry.stream.name;
    this.entries.delete(name);
    const market = streamMarket(entry.stream.spec);
    const id = market?.config.marketId ?? -1;
    const names = this.byMarket.get(id);
    names?.delete(name);
    if (names?.size === 0) this.byMarket.delete(id);
    if (market !== undefined && needsBook(entry.stream.spec)) this.releaseBook(id);
  }

  private useBook(market: MarketContext): boolean {
    const marketId = market.config.marketId;
    const existing = this.books.get(marketId);
    if (existing !== undefined) {
      existing.users += 1;
      return true;
    }
    const marketData = this.exchange.marketData;
    const feed = new BookFeed();
    const book: WatchedBook = { feed, subscriber: null as unknown as Subscriber, scheduled: false, users: 1 };
    const subscriber = marketData.createSubscriber({
      onReadable: () => this.scheduleDrain(marketId, book),
      onDrop: () => this.loseBook(marketId, "slow book feed"),
    });
    if (subscriber === null) return false;
    book.subscriber = subscriber;
    this.books.set(marketId, book);
    if (marketData.subscribe(subscriber, { kind: "depth", marketId }) !== "subscribed") {
      this.books.delete(marketId);
      marketData.closeSubscriber(subscriber);
      return false;
    }
    // The snapshot is queued: take it now so the feed has a sequence before anything is pushed.
    this.drain(marketId, book);
    return true;
  }

  private releaseBook(marketId: number): void {
    const book = this.books.get(marketId);
    if (book === undefined) return;
    book.users -= 1;
    if (book.users > 0) return;
    this.books.delete(marketId);
    this.exchange.marketData.closeSubscriber(book.subscriber);
  }

  /**
   * A new diff watcher will fetch REST depth and keep the diffs after its lastUpdateId. REST
   * serves a snapshot cached up to SOURCE_MAX_AGE_MS; one older than the feed's sequence could
   * precede the first diff this watcher gets, so it is rebuilt now (at most once per book change).
   */
  private alignRestDepth(market: MarketContext): void {
    const marketId = market.config.marketId;
    const book = this.books.get(marketId);
    if (book === undefined) return;
    this.drain(marketId, book);
    const marketData = this.exchange.marketData;
    if (marketData.orderBook(marketId, 0, SOURCE_MAX_AGE_MS)?.updateSequence !== book.feed.sequence)
      marketData.orderBook(marketId, 0, 0);
  }

  // ---- book feeds ------------------------------------------------------------------------------

  private scheduleDrain(marketId: number, book: WatchedBook): void {
    if (book.scheduled) return;
    book.scheduled = true;
    queueMicrotask(() => {
      book.scheduled = false;
      if (this.books.get(marketId) === book) this.drain(marketId, book);
    });
  }

  private drain(marketId: number, book: WatchedBook): void {
    const market = this.exchange.market(marketId);
    if (market === undefined) return;
    for (const update of book.subscriber.drain(MAX_DRAIN_PER_PASS)) {
      const change = book.feed.apply(update);
      if (change === "lost") return this.loseBook(marketId, "book sequence gap");
      if (change === "resync") {
        const marketData = this.exchange.marketData;
        const topic = { kind: "depth" as const, marketId };
        marketData.unsubscribe(book.subscriber, topic);
        if (marketData.subscribe(book.subscriber, topic) !== "subscribed")
          return this.loseBook(marketId, "book resync refused");
      }
    }
    if (book.feed.bestChanged()) {
      const entry = this.entries.get(`${binanceSymbol(market).toLowerCase()}@bookTicker`);
      if (entry !== undefined) {
        const feed = book.feed;
        this.send(entry, bookTickerPayload(market, feed.sequence, feed.bids.best(), feed.asks.best()));
      }
    }
  }

  /** The feed missed updates: every stream reading it ends (its sockets are told and closed). */
  private loseBook(marketId: number, reason: string): void {
    const book = this.books.get(marketId);
    if (book === undefined) return;
    this.books.delete(marketId);
    this.exchange.marketData.closeSubscriber(book.subscriber);
    this.logger?.warn({ marketId, reason }, "binance ws: book feed lost");
    for (const name of [...(this.byMarket.get(marketId) ?? [])]) {
      const entry = this.entries.get(name);
      if (entry === undefined || !needsBook(entry.stream.spec)) continue;
      const sinks = [...entry.sinks];
      entry.sinks.clear();
      this.entries.delete(name);
      this.byMarket.get(marketId)?.delete(name);
      for (const sink of sinks) sink.lost(reason);
    }
  }

  // ---- the event pipeline ----------------------------------------------------------------------

  private onBatch(batch: DurableBatch): void {
    if (this.entries.size === 0) return;
    const eventMs = this.clock();
    for (const event of batch.events) {
      if (event.type !== "trade" && event.type !== "orderAccepted" && event.type !== "orderDone") continue;
      const names = this.byMarket.get(event.marketId);
      if (names === undefined) continue;
      this.touched.add(event.marketId);
      if (event.type !== "trade") continue;
      const market = this.exchange.market(event.marketId);
      if (market === undefined) continue;
      const symbol = binanceSymbol(market).toLowerCase();
      const trade = this.entries.get(`${symbol}@trade`);
      if (trade !== undefined) this.send(trade, tradePayload(market, publicTrade(event), eventMs));
      const agg = this.entries.get(`${symbol}@aggTrade`);
      if (agg !== undefined) this.send(agg, aggTradePayload(market, publicTrade(event), eventMs));
    }
    // Every market counts as moved for the all-market arrays.
    if (this.byMarket.has(-1)) for (const event of batch.events) this.noteAll(event);
  }

  private noteAll(event: DurableBatch["events"][number]): void {
    if (event.type === "trade" || event.type === "orderAccepted" || event.type === "orderDone")
      this.touched.add(event.marketId);
  }

  // ---- periodic pushes -------------------------------------------------------------------------

  private tick(): void {
    this.tickCount += 1;
    const slow = this.tickCount % this.slowEvery === 0;
    try {
      this.pushBooks("fast");
      if (!slow) return;
      this.pushBooks("slow");
      this.pushTickers();
    } catch (error) {
      this.logger?.error({ err: error }, "binance ws: periodic push failed");
    }
    if (slow) this.touched.clear();
  }

  private pushBooks(speed: StreamSpeed): void {
    const eventMs = this.clock();
    for (const [marketId, book] of this.books) {
      const market = this.exchange.market(marketId);
      if (market === undefined) continue;
      const symbol = binanceSymbol(market).toLowerCase();
      const suffix = speed === "fast" ? "@100ms" : "";
      const diff = book.feed.takeDiff(speed);
      const diffEntry = this.entries.get(`${symbol}@depth${suffix}`);
      if (diff !== null && diffEntry !== undefined)
        this.send(
          diffEntry,
          depthUpdatePayload(market, eventMs, diff.first, diff.last, diff.bids, diff.asks),
        );
      const dirty = book.feed.partialDirty.get(speed) === true;
      book.feed.partialDirty.set(speed, false);
      for (const levels of [5, 10, 20]) {
        const entry = this.entries.get(`${symbol}@depth${levels}${suffix}`);
        if (entry === undefined || !(dirty || entry.pending)) continue;
        entry.pending = false;
        const feed = book.feed;
        this.send(
          entry,
          partialDepthPayload(market, feed.sequence, feed.bids.top(levels), feed.asks.top(levels)),
        );
      }
    }
  }

  private pushTickers(): void {
    const eventMs = this.clock();
    for (const [marketId, names] of this.byMarket) {
      if (marketId < 0) continue;
      const market = this.exchange.market(marketId);
      if (market === undefined) continue;
      const moved = this.touched.has(marketId);
      for (const name of names) {
        const entry = this.entries.get(name);
        if (entry === undefined) continue;
        const spec = entry.stream.spec;
        if (spec.kind === "ticker" || spec.kind === "miniTicker") {
          if (!moved && !entry.pending) continue;
          entry.pending = false;
          const payload =
            spec.kind === "ticker"
              ? this.rest.tickerPayload(market, eventMs)
              : this.rest.miniTickerPayload(market, eventMs);
          this.send(entry, JSON.stringify(payload));
        } else if (spec.kind === "kline") {
          this.pushKline(entry, market, spec.interval, moved, eventMs);
        }
      }
    }
    this.pushArrays(eventMs);
  }

  /**
   * A kline stream: the candle that just ended once more with x: true, then the current bucket's
   * candle when the market moved, the stream is new, or a new bucket began (so a quiet market's
   * stream still advances, as Binance's does).
   */
  private pushKline(
    entry: Entry,
    market: MarketContext,
    interval: string,
    moved: boolean,
    eventMs: number,
  ): void {
    const last = entry.kline;
    const ended = last !== undefined && last.row[6] < eventMs;
    if (ended && !last.closed) {
      // Trades may have reached the candle since it was pushed: read it again (a quiet one stays as pushed).
      const row = this.rest.klineAt(market, interval, last.row[0]) ?? last.row;
      this.send(entry, this.rest.klinePayload(market, interval, row, true, eventMs));
      last.closed = true;
    }
    if (!moved && !entry.pending && !ended && last !== undefined) return;
    entry.pending = false;
    const row = this.rest.currentKline(market, interval, eventMs);
    if (row === null) return;
    entry.kline = { row, closed: false };
    this.send(entry, this.rest.klinePayload(market, interval, row, false, eventMs));
  }

  /** !ticker@arr and !miniTicker@arr: the markets that moved (every market to a new subscriber). */
  private pushArrays(eventMs: number): void {
    for (const name of ["!ticker@arr", "!miniTicker@arr"]) {
      const entry = this.entries.get(name);
      if (entry === undefined) continue;
      const markets = this.exchange
        .markets()
        .filter((market) => entry.pending || this.touched.has(market.config.marketId));
      entry.pending = false;
      if (markets.length === 0) continue;
      const rows = markets.map((market) =>
        name === "!ticker@arr"
          ? this.rest.tickerPayload(market, eventMs)
          : this.rest.miniTickerPayload(market, eventMs),
      );
      this.send(entry, JSON.stringify(rows));
    }
  }

  private send(entry: Entry, payload: string): void {
    const latest = isLatestState(entry.stream.spec);
    for (const sink of entry.sinks) sink.deliver(entry.stream.name, payload, latest);
  }
}

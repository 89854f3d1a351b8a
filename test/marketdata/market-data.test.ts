import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Command, UnstampedCommand } from "../../src/core/commands.ts";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import { RESOLUTIONS } from "../../src/marketdata/candles.ts";
import type { DepthLevel } from "../../src/marketdata/depth.ts";
import { MAX_DEPTH_LEVELS, REST_CACHE_TTL_MS } from "../../src/marketdata/limits.ts";
import { MarketData } from "../../src/marketdata/market-data.ts";
import type { DropReason, MarketDataUpdate, Subscriber } from "../../src/marketdata/subscriptions.ts";
import { limitOrder } from "../support/orders.ts";
import { runThroughCore, setupCommands, stampedBatches, streamArb } from "./streams.ts";

const T0 = Date.UTC(2024, 2, 4, 10, 0, 0); // a Monday

/** A core and a MarketData fed from it, with a clock the test moves. */
function harness(options: { maxQueued?: number } = {}) {
  const clock = { nowMs: T0 };
  const core = new Core({ maxOpenOrders: 1_000, maxUsers: 100 });
  const data = new MarketData({
    clock: () => clock.nowMs,
    maxTrackedOrders: 1_001,
    subscriptionLimits:
      options.maxQueued === undefined ? {} : { maxQueuedUpdatesPerSubscriber: options.maxQueued },
  });
  let sequence = 0;
  const run = (commands: UnstampedCommand[], timestampMs = clock.nowMs): CoreEvent[] => {
    const events: CoreEvent[] = [];
    core.applyBatch(
      commands.map((command) => ({ ...command, sequence: ++sequence, timestampMs }) as Command),
      events,
    );
    data.apply(events);
    return events;
  };
  run(setupCommands());
  return { clock, core, data, run };
}

function subscriberOf(data: MarketData) {
  const drops: DropReason[] = [];
  const subscriber = data.createSubscriber({ onReadable: () => {}, onDrop: (reason) => drops.push(reason) })!;
  return { subscriber, drops };
}

const level = (priceTicks: number, quantityLots: number): DepthLevel => ({ priceTicks, quantityLots });

describe("MarketData", () => {
  it("learns markets from marketAdded events and answers REST reads with exact integers", () => {
    const { clock, data, run } = harness();
    expect(data.marketIdOf("ETH_BTC")).toBe(2);
    expect(data.orderBook(9)).toBeUndefined();
    run([limitOrder(1, "sell", 20, 5), limitOrder(1, "sell", 21, 2), limitOrder(2, "buy", 15, 4)], T0);
    run([limitOrder(3, "buy", 20, 3)], T0 + 90_000); // takes 3 of the 5 at 20
    clock.nowMs = T0 + 120_000;
    expect(data.orderBook(1, 1)).toEqual({
      marketId: 1,
      updateSequence: 2,
      bids: [level(15, 4)],
      asks: [level(20, 2)],
    });
    expect(data.orderBook(1)).toMatchObject({ asks: [level(20, 2), level(21, 2)] });
    expect(data.trades(1)).toEqual([
      {
        tradeId: 1,
        timestampMs: T0 + 90_000,
        priceTicks: 20,
        quantityLots: 3,
        notionalUnits: 600,
        takerSide: "buy",
      },
    ]);
    expect(data.tickers()[0]).toEqual({
      marketId: 1,
      lastPriceTicks: 20,
      bestBidTicks: 15,
      bestAskTicks: 20,
      highTicks: 20,
      lowTicks: 20,
      volumeBaseLots: 3n,
      volumeQuoteUnits: 600n,
      averagePriceTicks: { numerator: 600n, denominator: 30n },
      updatedMs: T0 + 90_000,
    });
    expect(data.candles(1, "1", T0, T0 + 10 * 60_000)).toEqual([
      { openTimeMs: T0 + 60_000, openTicks: 20, highTicks: 20, lowTicks: 20, closeTicks: 20, volumeLots: 3n },
    ]);
    expect(data.candles(1, "W", 0, T0 + 1)?.[0].openTimeMs).toBe(T0 - 10 * 3_600_000);
    expect(() => data.orderBook(1, MAX_DEPTH_LEVELS + 1)).toThrow(RangeError);
  });

  it("rebuilds REST snapshots at most every 100 ms of its clock", () => {
    const { clock, data, run } = harness();
    run([limitOrder(1, "sell", 20, 5)]);
    const book = data.orderBook(1, MAX_DEPTH_LEVELS);
    const tickers = data.tickers();
    const trades = data.trades(1);
    run([limitOrder(1, "sell", 22, 1), limitOrder(2, "buy", 20, 1)]);
    clock.nowMs += REST_CACHE_TTL_MS - 1;
    // Same objects: nothing was rebuilt, however often we ask.
    for (let request = 0; request < 1_000; request++) {
      expect(data.orderBook(1, MAX_DEPTH_LEVELS)).toBe(book);
      expect(data.tickers()).toBe(tickers);
      expect(data.trades(1)).toBe(trades);
    }
    clock.nowMs += 1;
    expect(data.orderBook(1, MAX_DEPTH_LEVELS)?.asks).toEqual([level(20, 4), level(22, 1)]);
    expect(data.tickers()[0].lastPriceTicks).toBe(20);
    expect(data.trades(1)?.length).toBe(1);
  });

  it("ages the REST ticker by the injected clock", () => {
    const { clock, data, run } = harness();
    run([limitOrder(1, "sell", 20, 5), limitOrder(2, "buy", 20, 2)], T0);
    // The last read instant whose window still holds minute T0 (the cache needs 100 ms to expire).
    clock.nowMs = T0 + 86_400_000 - REST_CACHE_TTL_MS;
    expect(data.tickers()[0].volumeBaseLots).toBe(2n);
    clock.nowMs = T0 + 86_400_000;
    expect(data.tickers()[0]).toMatchObject({ volumeBaseLots: 0n, highTicks: 0, lastPriceTicks: 20 });
  });

  it("sends WS subscribers a snapshot, then deltas, trades and tickers per batch", () => {
    const { data, run } = harness();
    run([limitOrder(1, "sell", 20, 5)]);
    const { subscriber } = subscriberOf(data);
    expect(data.subscribe(subscriber, { kind: "depth", marketId: 1 })).toBe("subscribed");
    expect(data.subscribe(subscriber, { kind: "trades", marketId: 1 })).toBe("subscribed");
    expect(data.subscribe(subscriber, { kind: "ticker", marketId: 1 })).toBe("subscribed");
    expect(data.subscribe(subscriber, { kind: "ticker", marketId: 7 })).toBe("unknownMarket");
    const first = subscriber.drain(10);
    expect(first.map((u) => `${u.topic}:${u.event}`)).toEqual(["depth:snapshot", "ticker:snapshot"]);
    expect(first[0]).toEqual({
      topic: "depth",
      event: "snapshot",
      marketId: 1,
      depth: { marketId: 1, updateSequence: 1, bids: [], asks: [level(20, 5)] },
    });
    run([limitOrder(2, "buy", 20, 2), limitOrder(3, "buy", 20, 1), limitOrder(3, "buy", 18, 1)], T0 + 5_000);
    const updates = subscriber.drain(10);
    expect(updates.map((u) => `${u.topic}:${u.event}`)).toEqual([
      "depth:update",
      "trades:update",
      "ticker:update",
    ]);
    expect(updates[0]).toMatchObject({
      depth: { updateSequence: 2, bids: [level(18, 1)], asks: [level(20, 2)] },
    });
    const trades = updates[1] as Extract<MarketDataUpdate, { topic: "trades" }>;
    expect(trades.trades.map((t) => [t.tradeId, t.quantityLots])).toEqual([
      [1, 2],
      [2, 1],
    ]);
    expect(updates[2]).toMatchObject({
      ticker: { lastPriceTicks: 20, volumeBaseLots: 3n, bestBidTicks: 18 },
    });
    // A batch that touches nothing in the market sends nothing.
    run([{ kind: "adjustBalance", userId: 1, assetId: 1, amountUnits: 5, reason: "x" }]);
    expect(subscriber.queuedCount).toBe(0);
  });

  it("drops a WS subscriber that does not drain", () => {
    const { data, run } = harness({ maxQueued: 3 });
    const { subscriber, drops } = subscriberOf(data);
    data.subscribe(subscriber, { kind: "depth", marketId: 1 }); // the snapshot takes one slot
    run([limitOrder(1, "sell", 20, 1)]);
    run([limitOrder(1, "sell", 21, 1)]);
    expect(drops).toEqual([]);
    run([limitOrder(1, "sell", 22, 1)]);
    expect(drops).toEqual(["slowConsumer"]);
    expect(subscriber.state).toBe("dropped");
    expect(data.subscribe(subscriber, { kind: "depth", marketId: 1 })).toBe("closed");
  });

  it("keeps WS books (joined at any batch) equal to the core's, and candles and tickers to the trades", () => {
    fc.assert(
      fc.property(streamArb, fc.nat(20), (stream, joinAfterBatch) => {
        const clock = { nowMs: 0 };
        const data = new MarketData({ clock: () => clock.nowMs, maxTrackedOrders: 10_001 });
        const clients: {
          subscriber: Subscriber;
          books: Map<number, { bids: Map<number, number>; asks: Map<number, number>; seq: number }>;
        }[] = [];
        const join = () => {
          const { subscriber } = subscriberOf(data);
          for (const marketId of [1, 2]) data.subscribe(subscriber, { kind: "depth", marketId });
          clients.push({ subscriber, books: new Map() });
        };
        const lotsTraded = new Map<number, bigint>([
          [1, 0n],
          [2, 0n],
        ]);
        let batchIndex = 0;
        let lastMs = 0;
        runThroughCore(stampedBatches(stream), (events, core) => {
          data.apply(events);
          for (const event of events)
            if (event.type === "trade") {
              lotsTraded.set(event.marketId, lotsTraded.get(event.marketId)! + BigInt(event.quantityLots));
              lastMs = event.timestampMs;
            }
          // One client from the first batch that has both markets, another joining later.
          const marketsKnown = data.marketIdOf("ETH_BTC") !== undefined;
          if (marketsKnown && (clients.length === 0 || batchIndex === joinAfterBatch)) join();
          batchIndex += 1;
          for (const client of clients) applyUpdates(client.books, client.subscriber.drain(10_000));
          const state = core.exportState();
          for (const view of state.markets)
            for (const client of clients) {
              const book = client.books.get(view.config.marketId)!;
              expect(sortedLevels(book.bids, -1)).toEqual(sumByPrice(view.bids));
              expect(sortedLevels(book.asks, 1)).toEqual(sumByPrice(view.asks));
            }
        });
        for (const marketId of [1, 2]) {
          for (const resolution of RESOLUTIONS) {
            const candles = data.candles(marketId, resolution, 0, Number.MAX_SAFE_INTEGER)!;
            const volume = candles.reduce((sum, candle) => sum + candle.volumeLots, 0n);
            expect(volume).toBe(lotsTraded.get(marketId));
            for (const candle of candles) {
              expect(candle.lowTicks).toBeLessThanOrEqual(Math.min(candle.openTicks, candle.closeTicks));
              expect(candle.highTicks).toBeGreaterThanOrEqual(Math.max(candle.openTicks, candle.closeTicks));
            }
          }
          // The ticker's 24 h window is the 1,440 one-minute candles ending with the current minute.
          clock.nowMs = lastMs;
          const windowStartMs = (Math.floor(lastMs / 60_000) - 1_439) * 60_000;
          const minuteCandles = data.candles(marketId, "1", windowStartMs, lastMs)!;
          const ticker = data.tickers().find((t) => t.marketId === marketId)!;
          expect(ticker.volumeBaseLots).toBe(
            minuteCandles.reduce((sum, candle) => sum + candle.volumeLots, 0n),
          );
          const highs = minuteCandles.map((candle) => candle.highTicks);
          expect(ticker.highTicks).toBe(highs.length === 0 ? 0 : Math.max(...highs));
        }
      }),
      { numRuns: 60 },
    );
  });
});

type Book = { bids: Map<number, number>; asks: Map<number, number>; seq: number };

function applyUpdates(books: Map<number, Book>, updates: MarketDataUpdate[]): void {
  for (const update of updates) {
    if (update.topic !== "depth") continue;
    if (update.event === "snapshot") {
      const toMap = (levels: DepthLevel[]) => new Map(levels.map((l) => [l.priceTicks, l.quantityLots]));
      books.set(update.marketId, {
        bids: toMap(update.depth.bids),
        asks: toMap(update.depth.asks),
        seq: update.depth.updateSequence,
      });
      continue;
    }
    const book = books.get(update.marketId)!;
    expect(update.depth.updateSequence).toBe(book.seq + 1);
    book.seq = update.depth.updateSequence;
    for (const [changes, side] of [
      [update.depth.bids, book.bids],
      [update.depth.asks, book.asks],
    ] as const)
      for (const change of changes)
        if (change.quantityLots === 0) side.delete(change.priceTicks);
        else side.set(change.priceTicks, change.quantityLots);
  }
}

function sortedLevels(side: Map<number, number>, sign: number): DepthLevel[] {
  return [...side]
    .sort((a, b) => sign * (a[0] - b[0]))
    .map(([priceTicks, quantityLots]) => level(priceTicks, quantityLots));
}

function sumByPrice(orders: { priceTicks: number; remainingLots: number }[]): DepthLevel[] {
  const levels: DepthLevel[] = [];
  for (const order of orders) {
    const last = levels[levels.length - 1];
    if (last !== undefined && last.priceTicks === order.priceTicks) last.quantityLots += order.remainingLots;
    else levels.push(level(order.priceTicks, order.remainingLots));
  }
  return levels;
}

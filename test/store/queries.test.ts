// The gateway's read queries on both engines, checked against what the core's events say.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CoreEvent, OrderDoneEvent, TradeEvent } from "../../src/core/events.ts";
import { STORE_LIMITS } from "../../src/store/limits.ts";
import { statusOfDone } from "../../src/store/projection.ts";
import { Projector } from "../../src/store/projector.ts";
import {
  adjustmentsOfUser,
  balanceHistoryOfUser,
  balancesOfUser,
  cancelledOrdersOfUser,
  fillsOfOrder,
  fillsOfUser,
  getOrder,
  listAssets,
  listMarkets,
  openOrdersOfUser,
  projectedSequence,
  tradesOfMarket,
} from "../../src/store/queries.ts";
import { runCoreStream, TEST_ASSETS, TEST_MARKETS } from "./core-stream.ts";
import { ENGINES, openTestStore, type TestStore } from "./engines.ts";

// A seed whose run leaves USER with several open orders (the queries below need some of everything).
const RUN = runCoreStream(42, 2_000);
const STATE = RUN.core.exportState();
const USER = 3;

function eventsOf<T extends CoreEvent["type"]>(type: T) {
  return RUN.events.filter((event): event is Extract<CoreEvent, { type: T }> => event.type === type);
}

const TRADES = eventsOf("trade");
const DONE = new Map(eventsOf("orderDone").map((done: OrderDoneEvent) => [done.orderId, done]));
const ACCEPTED = eventsOf("orderAccepted");
const ownerOf = new Map(ACCEPTED.map((event) => [event.orderId, event.userId]));

/** The user's side of every trade in a market, newest first, from the events alone. */
function expectedFillIds(userId: number, marketId: number): number[] {
  return TRADES.filter(
    (trade: TradeEvent) =>
      trade.marketId === marketId && (trade.makerUserId === userId || trade.takerUserId === userId),
  )
    .map((trade) => trade.tradeId)
    .reverse();
}

it("maps every done reason to a status deliberately", () => {
  expect(statusOfDone("filled")).toBe("filled");
  expect(statusOfDone("cancelled")).toBe("cancelled");
  // Self-trade prevention cancels: EXMO clients see these among cancelled orders.
  expect(statusOfDone("selfTrade")).toBe("cancelled");
  expect(statusOfDone("expired")).toBe("expired");
  expect(statusOfDone("insufficientFunds")).toBe("expired");
});

describe.each(ENGINES)("queries on %s", (engine) => {
  let test: TestStore;
  beforeAll(async () => {
    test = await openTestStore(engine);
    const projector = await Projector.open(test.store.db);
    for (const batch of RUN.batches) await projector.applyBatch(batch);
  });
  afterAll(async () => {
    await test.dispose();
  });

  it("open orders of a user: all markets or one, oldest first, bounded", async () => {
    const db = test.store.db;
    const expected = STATE.markets
      .flatMap((market) => [...market.bids, ...market.asks, ...market.stops])
      .filter((order) => order.userId === USER)
      .map((order) => order.orderId)
      .sort((a, b) => a - b);
    expect(expected.length).toBeGreaterThan(1);
    const all = await openOrdersOfUser(db, USER, { limit: 100 });
    expect(all.map((order) => order.orderId)).toEqual(expected);
    expect(all.every((order) => order.status === "open" && order.doneReason === null)).toBe(true);
    const inMarket = await openOrdersOfUser(db, USER, { marketId: 2, limit: 100 });
    expect(inMarket.map((order) => order.orderId)).toEqual(
      all.filter((order) => order.marketId === 2).map((order) => order.orderId),
    );
    expect((await openOrdersOfUser(db, USER, { limit: 1 })).map((order) => order.orderId)).toEqual([
      expected[0],
    ]);
  });

  it("cancelled orders of a user, newest first, paged without overlap", async () => {
    const db = test.store.db;
    const expected = [...DONE.values()]
      .filter((done) => done.userId === USER && statusOfDone(done.reason) === "cancelled")
      .map((done) => done.orderId)
      .sort((a, b) => b - a);
    expect(expected.length).toBeGreaterThan(4);
    const first = await cancelledOrdersOfUser(db, USER, { offset: 0, limit: 3 });
    const rest = await cancelledOrdersOfUser(db, USER, { offset: 3, limit: 10_000 });
    expect([...first, ...rest].map((order) => order.orderId)).toEqual(expected);
    expect(rest.some((order) => order.doneReason === "selfTrade")).toBe(true);
  });

  it("fills of a user in a market, newest first, paged; fills of one order", async () => {
    const db = test.store.db;
    for (const market of TEST_MARKETS) {
      const expected = expectedFillIds(USER, market.marketId);
      expect(expected.length).toBeGreaterThan(2);
      const page1 = await fillsOfUser(db, USER, { marketId: market.marketId, offset: 0, limit: 2 });
      const page2 = await fillsOfUser(db, USER, { marketId: market.marketId, offset: 2, limit: 10_000 });
      const fills = [...page1, ...page2];
      expect(fills.map((fill) => fill.tradeId)).toEqual(expected);
      for (const fill of fills) {
        expect(fill.userId).toBe(USER);
        expect(ownerOf.get(fill.orderId)).toBe(USER);
        expect(fill.feeAssetId).toBe(fill.side === "buy" ? market.baseAssetId : market.quoteAssetId);
        expect(fill.feeRatePpm).toBe(fill.role === "maker" ? market.makerFeePpm : market.takerFeePpm);
      }
    }
    const busiest = TRADES.reduce((counts, trade) => {
      counts.set(trade.takerOrderId, (counts.get(trade.takerOrderId) ?? 0) + 1);
      return counts;
    }, new Map<number, number>());
    const [orderId, count] = [...busiest.entries()].sort((a, b) => b[1] - a[1])[0];
    expect(count).toBeGreaterThan(1);
    const ofOrder = await fillsOfOrder(db, orderId, { limit: 100 });
    expect(ofOrder.map((fill) => fill.tradeId)).toEqual(
      TRADES.filter((trade) => trade.takerOrderId === orderId).map((trade) => trade.tradeId),
    );
    expect(ofOrder.every((fill) => fill.role === "taker" && fill.orderId === orderId)).toBe(true);
  });

  it("an order by id, as its events left it; unknown ids are undefined", async () => {
    const db = test.store.db;
    const withTrades = TRADES[TRADES.length - 1].makerOrderId;
    const order = (await getOrder(db, withTrades))!;
    const trades = TRADES.filter(
      (trade) => trade.makerOrderId === withTrades || trade.takerOrderId === withTrades,
    );
    expect(order.filledLots).toBe(trades.reduce((sum, trade) => sum + trade.quantityLots, 0));
    expect(order.filledQuoteUnits).toBe(trades.reduce((sum, trade) => sum + trade.notionalUnits, 0));
    expect(order.createdMs).toBe(ACCEPTED.find((event) => event.orderId === withTrades)!.timestampMs);
    expect(await getOrder(db, STATE.lastSequence + 1)).toBeUndefined();
  });

  it("balances and balance history of a user", async () => {
    const db = test.store.db;
    const balances = await balancesOfUser(db, USER);
    for (const asset of TEST_ASSETS) {
      const stored = balances.find((balance) => balance.assetId === asset.assetId);
      const core = RUN.core.balance(USER, asset.assetId);
      expect({ availableUnits: stored?.availableUnits, heldUnits: stored?.heldUnits }).toEqual(core);
    }
    const history = await balanceHistoryOfUser(db, USER, { assetId: 2, offset: 0, limit: 10_000 });
    const events = eventsOf("balance").filter((event) => event.userId === USER && event.assetId === 2);
    expect(history.map((row) => [row.sequence, row.availableUnits, row.heldUnits])).toEqual(
      events.map((event) => [event.sequence, event.availableUnits, event.heldUnits]).reverse(),
    );
    expect(history.at(-1)!.cause).toBe("adjustBalance");
    const page = await balanceHistoryOfUser(db, USER, { offset: 1, limit: 2 });
    const all = await balanceHistoryOfUser(db, USER, { offset: 0, limit: 3 });
    expect(page).toEqual(all.slice(1));
    const adjustments = await adjustmentsOfUser(db, USER, { offset: 0, limit: 10_000 });
    expect(adjustments.map((row) => row.amountUnits)).toEqual(
      eventsOf("balanceAdjusted")
        .filter((event) => event.userId === USER)
        .map((event) => event.amountUnits)
        .reverse(),
    );
  });

  it("reference data and the projected sequence", async () => {
    const db = test.store.db;
    expect((await listAssets(db)).map((asset) => asset.code)).toEqual(TEST_ASSETS.map((asset) => asset.code));
    expect((await listMarkets(db)).map((market) => market.config)).toEqual(TEST_MARKETS);
    expect(await projectedSequence(db)).toBe(STATE.lastSequence);
    const recent = await tradesOfMarket(db, 1, { offset: 0, limit: 5 });
    expect(recent.map((trade) => trade.tradeId)).toEqual(
      TRADES.filter((trade) => trade.marketId === 1)
        .map((trade) => trade.tradeId)
        .reverse()
        .slice(0, 5),
    );
  });

  it("refuses unbounded or malformed parameters", async () => {
    const db = test.store.db;
    await expect(openOrdersOfUser(db, USER, { limit: 0 })).rejects.toThrow(RangeError);
    await expect(openOrdersOfUser(db, USER, { limit: STORE_LIMITS.maxLimit + 1 })).rejects.toThrow(
      RangeError,
    );
    await expect(
      cancelledOrdersOfUser(db, USER, { offset: STORE_LIMITS.maxOffset + 1, limit: 1 }),
    ).rejects.toThrow(RangeError);
    await expect(fillsOfUser(db, USER, { marketId: 1, offset: -1, limit: 1 })).rejects.toThrow(RangeError);
    await expect(fillsOfUser(db, 0, { marketId: 1, offset: 0, limit: 1 })).rejects.toThrow(RangeError);
    await expect(balanceHistoryOfUser(db, USER, { offset: 0, limit: 1.5 })).rejects.toThrow(RangeError);
    await expect(getOrder(db, Number.MAX_SAFE_INTEGER + 1)).rejects.toThrow(RangeError);
  });
});

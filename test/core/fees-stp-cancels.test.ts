// Fees, self-trade prevention, holds and their release, cancels, suspended markets — on both cores.

import { describe, expect, it } from "vitest";
import type { SelfTradePrevention } from "../../src/core/config.ts";
import {
  accepted,
  BTC,
  BTC_USD,
  bal,
  Driver,
  done,
  ETH,
  ETH_USD,
  loadFactories,
  marketConfig,
  placeOrder,
  trade,
  USD,
} from "./machines.ts";

const factories = await loadFactories();

describe.each(factories)("fees on $name", (factory) => {
  it("charges the taker and maker rates in the received currency, rounded up", () => {
    const d = new Driver(factory);
    d.setup();
    d.place({ userId: 1, side: "sell", priceTicks: 7, quantityLots: 1 }); // 10
    const events = d.place({ userId: 2, side: "buy", priceTicks: 7, quantityLots: 1 }); // 11
    // Buyer (taker, 0.2 %) receives 1,000 base: fee exactly 2 base. Seller (maker, 0.1 %)
    // receives 70 quote: 0.07 rounds up to 1 quote.
    expect(events[1]).toEqual(
      trade(d, {
        tradeId: 1,
        priceTicks: 7,
        quantityLots: 1,
        takerSide: "buy",
        maker: [10, 1],
        taker: [11, 2],
        buyerFeeUnits: 2,
        sellerFeeUnits: 1,
      }),
    );
    expect(d.systemBalance("fees", BTC)).toBe(2);
    expect(d.systemBalance("fees", USD)).toBe(1);
    expect(d.balance(2, BTC)).toEqual({ available: 1_000_998, held: 0 });
    expect(d.balance(1, USD)).toEqual({ available: 10_000_069, held: 0 });
  });

  it("charges nothing at zero rates", () => {
    const d = new Driver(factory);
    d.setup({ makerFeePpm: 0, takerFeePpm: 0 });
    d.place({ userId: 1, side: "buy", priceTicks: 7, quantityLots: 3 });
    const events = d.place({ userId: 2, side: "sell", priceTicks: 7, quantityLots: 3 });
    expect(events.filter((e) => e.type === "trade").map((e) => [e.buyerFeeUnits, e.sellerFeeUnits])).toEqual([
      [0, 0],
    ]);
    expect(d.state().systemBalances.filter((b) => b.account === "fees")).toEqual([]);
  });

  it("a fee that takes the whole amount received changes nothing for the receiver: no balance event", () => {
    const d = new Driver(factory);
    d.addAsset(BTC, "BTC");
    d.addAsset(USD, "USD");
    // One lot is one base unit; the taker rate of 99.9999 % rounds the buyer's fee on 1 unit up to 1.
    d.run({
      kind: "addMarket",
      market: marketConfig({
        lotSizeBaseUnits: 1,
        quoteUnitsPerTickLot: 1,
        makerFeePpm: 1_000,
        takerFeePpm: 999_999,
      }),
    });
    d.fund(1, BTC, 10);
    d.fund(2, USD, 100);
    d.place({ userId: 1, side: "sell", priceTicks: 5, quantityLots: 1 }); // 6
    const buy = { userId: 2, side: "buy" as const, priceTicks: 5, quantityLots: 1 };
    expect(d.place(buy)).toEqual([
      accepted(d, { ...buy, heldUnits: 5 }),
      trade(d, {
        tradeId: 1,
        priceTicks: 5,
        quantityLots: 1,
        takerSide: "buy",
        maker: [6, 1],
        taker: [7, 2],
        buyerFeeUnits: 1,
        sellerFeeUnits: 1,
        quoteUnitsPerTickLot: 1,
      }),
      done(d, 6, 1, "filled", 0, 0),
      done(d, 7, 2, "filled", 0, 0),
      // (2, USD) changed at the hold; (1, BTC) the seller's base; the buyer's BTC got 1 − 1 = 0,
      // so (2, BTC) did not change and has no event; then the seller's quote.
      bal(d, 2, USD, 95, 0),
      bal(d, 1, BTC, 9, 0),
      bal(d, 1, USD, 4, 0),
    ]);
    expect(d.systemBalance("fees", BTC)).toBe(1);
  });

  it("computes fees exactly on amounts near 2^52", () => {
    const d = new Driver(factory);
    d.addAsset(BTC, "BTC");
    d.addAsset(USD, "USD");
    const price = 3_999_999_999;
    const lots = 999_999;
    d.run({
      kind: "addMarket",
      market: marketConfig({
        lotSizeBaseUnits: 1,
        quoteUnitsPerTickLot: 1,
        maxPriceTicks: 4_000_000_000,
        maxQuantityLots: 1_000_000,
        maxNotionalUnits: 4_000_000_000_000_000,
        makerFeePpm: 999_999,
        takerFeePpm: 123_457,
        stopBuySlippageBps: 0,
      }),
    });
    const notional = price * lots; // 3,999,995,999,000,001 < 2^52
    d.fund(1, BTC, lots);
    d.fund(2, USD, notional);
    d.place({ userId: 1, side: "sell", priceTicks: price, quantityLots: lots }); // 6
    const events = d.place({ userId: 2, side: "buy", priceTicks: price, quantityLots: lots }); // 7
    const ceilPpm = (x: number, ppm: number) => Number((BigInt(x) * BigInt(ppm) + 999_999n) / 1_000_000n);
    expect(ceilPpm(lots, 123_457)).toBe(123_457);
    expect(events[1]).toEqual(
      trade(d, {
        tradeId: 1,
        priceTicks: price,
        quantityLots: lots,
        takerSide: "buy",
        maker: [6, 1],
        taker: [7, 2],
        buyerFeeUnits: ceilPpm(lots, 123_457),
        sellerFeeUnits: ceilPpm(notional, 999_999),
        quoteUnitsPerTickLot: 1,
      }),
    );
    expect(ceilPpm(notional, 999_999)).toBe(3_999_991_999_004_002);
  });
});

describe.each(factories)("self-trade prevention on $name", (factory) => {
  /** u1 asks 2 @ 100 (10), u2 asks 2 @ 100 (11); then u1 buys 3 @ 100 (12) with `policy`. */
  const scene = (policy: SelfTradePrevention | null, marketPolicy: SelfTradePrevention = "cancelResting") => {
    const d = new Driver(factory);
    d.setup({ selfTradePrevention: marketPolicy });
    d.place({
      userId: 1,
      side: "sell",
      priceTicks: 100,
      quantityLots: 2,
      selfTradePrevention: "cancelIncoming",
    });
    d.place({ userId: 2, side: "sell", priceTicks: 100, quantityLots: 2 });
    const buy = {
      userId: 1,
      side: "buy" as const,
      priceTicks: 100,
      quantityLots: 3,
      selfTradePrevention: policy,
    };
    return { d, buy, events: d.place(buy) };
  };

  it("cancelResting cancels the own maker and continues (the incoming order's policy decides)", () => {
    const { d, buy, events } = scene("cancelResting");
    expect(events).toEqual([
      accepted(d, { ...buy, heldUnits: 3_000 }),
      done(d, 10, 1, "selfTrade", 2, 2_000),
      trade(d, {
        tradeId: 1,
        priceTicks: 100,
        quantityLots: 2,
        takerSide: "buy",
        maker: [11, 2],
        taker: [12, 1],
        buyerFeeUnits: 4,
        sellerFeeUnits: 2,
      }),
      done(d, 11, 2, "filled", 0, 0),
      bal(d, 1, USD, 9_997_000, 1_000),
      bal(d, 1, BTC, 1_001_996, 0),
      bal(d, 2, BTC, 998_000, 0),
      bal(d, 2, USD, 10_001_998, 0),
    ]);
    expect(d.state().markets[0].bids).toEqual([
      {
        orderId: 12,
        userId: 1,
        side: "buy",
        priceTicks: 100,
        remainingLots: 1,
        clientOrderId: 0,
        selfTradePrevention: "cancelResting",
      },
    ]);
  });

  it("cancelIncoming stops matching; the incoming order ends selfTrade and the maker stays", () => {
    const { d, buy, events } = scene("cancelIncoming");
    expect(events).toEqual([
      accepted(d, { ...buy, heldUnits: 3_000 }),
      done(d, 12, 1, "selfTrade", 3, 3_000),
      bal(d, 1, USD, 10_000_000, 0),
    ]);
    expect(d.state().markets[0].asks.map((o) => o.orderId)).toEqual([10, 11]);
  });

  it("cancelBoth cancels the maker, then the incoming order", () => {
    const { d, buy, events } = scene("cancelBoth");
    expect(events).toEqual([
      accepted(d, { ...buy, heldUnits: 3_000 }),
      done(d, 10, 1, "selfTrade", 2, 2_000),
      done(d, 12, 1, "selfTrade", 3, 3_000),
      bal(d, 1, USD, 10_000_000, 0),
      bal(d, 1, BTC, 1_000_000, 0),
    ]);
    expect(d.state().markets[0].asks.map((o) => o.orderId)).toEqual([11]);
  });

  it("an order without a policy uses the market's", () => {
    const { d, events } = scene(null, "cancelBoth");
    expect(events.filter((e) => e.type === "orderDone")).toEqual([
      done(d, 10, 1, "selfTrade", 2, 2_000),
      done(d, 12, 1, "selfTrade", 3, 3_000),
    ]);
  });

  it("the resolved policy is kept on the resting order", () => {
    const { d } = scene(null, "cancelResting");
    expect(d.state().markets[0].bids.map((o) => o.selfTradePrevention)).toEqual(["cancelResting"]);
  });

  it("applies to market orders too", () => {
    const d = new Driver(factory);
    d.setup();
    d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 2 }); // 10
    const sell = { userId: 1, side: "sell" as const, orderType: "market" as const, quantityLots: 2 };
    expect(d.place(sell)).toEqual([
      accepted(d, { ...sell, heldUnits: 2_000 }),
      done(d, 10, 1, "selfTrade", 2, 2_000),
      done(d, 11, 1, "expired", 2, 2_000),
      bal(d, 1, BTC, 1_000_000, 0),
      bal(d, 1, USD, 10_000_000, 0),
    ]);
  });
});

describe.each(factories)("cancels on $name", (factory) => {
  const start = () => {
    const d = new Driver(factory);
    d.setup();
    return d;
  };

  it("cancelOrder releases what the partly filled order still holds", () => {
    const d = start();
    d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 5 }); // 10
    d.place({ userId: 2, side: "sell", priceTicks: 100, quantityLots: 2 }); // 11
    expect(d.run({ kind: "cancelOrder", userId: 1, orderId: 10 })).toEqual([
      done(d, 10, 1, "cancelled", 3, 3_000),
      bal(d, 1, USD, 9_998_000, 0),
    ]);
    expect(d.state().markets[0].bids).toEqual([]);
  });

  it("cancelOrder on a stop releases its hold", () => {
    const d = start();
    d.place({ userId: 2, side: "sell", orderType: "stopMarket", triggerPriceTicks: 50, quantityLots: 4 }); // 10
    expect(d.run({ kind: "cancelOrder", userId: 2, orderId: 10 })).toEqual([
      done(d, 10, 2, "cancelled", 4, 4_000),
      bal(d, 2, BTC, 1_000_000, 0),
    ]);
    expect(d.state().markets[0].stops).toEqual([]);
  });

  it("cancelOrder: orderNotFound for another user's, an unknown, a done or an already cancelled order", () => {
    const d = start();
    d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1 }); // 10
    d.reject({ kind: "cancelOrder", userId: 2, orderId: 10 }, "orderNotFound", 2);
    d.reject({ kind: "cancelOrder", userId: 1, orderId: 999 }, "orderNotFound", 1);
    d.place({ userId: 2, side: "buy", priceTicks: 100, quantityLots: 1 }); // 13 fills 10
    d.reject({ kind: "cancelOrder", userId: 1, orderId: 10 }, "orderNotFound", 1);
    d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1 }); // 15
    d.run({ kind: "cancelOrder", userId: 1, orderId: 15 });
    d.reject({ kind: "cancelOrder", userId: 1, orderId: 15 }, "orderNotFound", 1);
  });

  const twoMarkets = () => {
    const d = start();
    d.addAsset(ETH, "ETH"); // 10
    d.run({
      kind: "addMarket",
      market: marketConfig({ marketId: ETH_USD, symbol: "ETH_USD", baseAssetId: ETH }),
    }); // 11
    d.fund(1, ETH, 100_000); // 12
    d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1, clientOrderId: 7 }); // 13
    d.place({
      userId: 1,
      side: "sell",
      priceTicks: 100,
      quantityLots: 2,
      marketId: ETH_USD,
      clientOrderId: 7,
    }); // 14
    d.place({
      userId: 1,
      side: "sell",
      orderType: "stopMarket",
      triggerPriceTicks: 50,
      quantityLots: 3,
      clientOrderId: 7,
    }); // 15
    d.place({ userId: 1, side: "buy", priceTicks: 90, quantityLots: 1, marketId: ETH_USD, clientOrderId: 8 }); // 16
    d.place({ userId: 2, side: "sell", priceTicks: 100, quantityLots: 1, clientOrderId: 7 }); // 17
    d.place({ userId: 1, side: "buy", priceTicks: 90, quantityLots: 1, clientOrderId: 8 }); // 18
    return d;
  };

  it("cancelAll in one market, then in all markets, in ascending order id", () => {
    const d = twoMarkets();
    expect(d.run({ kind: "cancelAll", userId: 1, marketId: BTC_USD })).toEqual([
      done(d, 13, 1, "cancelled", 1, 1_000),
      done(d, 15, 1, "cancelled", 3, 3_000),
      done(d, 18, 1, "cancelled", 1, 900),
      bal(d, 1, BTC, 1_000_000, 0),
      bal(d, 1, USD, 9_999_100, 900),
    ]);
    expect(d.run({ kind: "cancelAll", userId: 1, marketId: 0 })).toEqual([
      done(d, 14, 1, "cancelled", 2, 2_000, ETH_USD),
      done(d, 16, 1, "cancelled", 1, 900, ETH_USD),
      bal(d, 1, ETH, 100_000, 0),
      bal(d, 1, USD, 10_000_000, 0),
    ]);
    // Nothing left: no event at all, and not an error.
    expect(d.run({ kind: "cancelAll", userId: 1, marketId: 0 })).toEqual([]);
    expect(d.state().markets[0].asks.map((o) => o.userId)).toEqual([2]);
    d.reject({ kind: "cancelAll", userId: 1, marketId: 9 }, "unknownMarket", 1);
  });

  it("cancels for a user id no user can have find nothing: cancelAll is silent, the others orderNotFound", () => {
    const d = start();
    // CORE.md lists no invalidCommand for these: the user simply has no open orders.
    expect(d.run({ kind: "cancelAll", userId: 0, marketId: 0 })).toEqual([]);
    d.reject({ kind: "cancelByClientId", userId: 0, marketId: 0, clientOrderId: 5 }, "orderNotFound", 0, 5);
    d.reject({ kind: "cancelOrder", userId: 0, orderId: 1 }, "orderNotFound", 0);
  });

  it("cancelByClientId cancels every open order with that client id, ascending", () => {
    const d = twoMarkets();
    expect(d.run({ kind: "cancelByClientId", userId: 1, marketId: BTC_USD, clientOrderId: 7 })).toEqual([
      done(d, 13, 1, "cancelled", 1, 1_000),
      done(d, 15, 1, "cancelled", 3, 3_000),
      bal(d, 1, BTC, 1_000_000, 0),
    ]);
    expect(d.run({ kind: "cancelByClientId", userId: 1, marketId: 0, clientOrderId: 7 })).toEqual([
      done(d, 14, 1, "cancelled", 2, 2_000, ETH_USD),
      bal(d, 1, ETH, 100_000, 0),
    ]);
    d.reject({ kind: "cancelByClientId", userId: 1, marketId: 0, clientOrderId: 7 }, "orderNotFound", 1, 7);
    d.reject({ kind: "cancelByClientId", userId: 1, marketId: 0, clientOrderId: 0 }, "invalidCommand", 1);
    d.reject({ kind: "cancelByClientId", userId: 1, marketId: 9, clientOrderId: 8 }, "unknownMarket", 1, 8);
    expect(d.run({ kind: "cancelByClientId", userId: 1, marketId: 0, clientOrderId: 8 })).toEqual([
      done(d, 16, 1, "cancelled", 1, 900, ETH_USD),
      done(d, 18, 1, "cancelled", 1, 900),
      bal(d, 1, USD, 10_000_000, 0),
    ]);
  });
});

describe.each(factories)("suspended markets on $name", (factory) => {
  it("reject orders, allow cancels, and accept orders again when resumed", () => {
    const d = new Driver(factory);
    d.setup();
    d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1 }); // 10
    d.place({ userId: 1, side: "sell", priceTicks: 101, quantityLots: 1 }); // 11
    d.place({ userId: 1, side: "sell", priceTicks: 102, quantityLots: 1, clientOrderId: 3 }); // 12
    expect(d.run({ kind: "setMarketStatus", marketId: BTC_USD, status: "suspended" })).toEqual([
      { type: "marketStatusChanged", sequence: 13, marketId: BTC_USD, status: "suspended" },
    ]);
    // Even an order that would be invalid in other ways: the market check comes first.
    d.reject(placeOrder({ userId: 2, side: "buy", priceTicks: 0, quantityLots: 0 }), "marketSuspended", 2);
    d.reject(placeOrder({ userId: 2, side: "buy", priceTicks: 100, quantityLots: 1 }), "marketSuspended", 2);
    expect(d.run({ kind: "cancelOrder", userId: 1, orderId: 10 })).toEqual([
      done(d, 10, 1, "cancelled", 1, 1_000),
      bal(d, 1, BTC, 998_000, 2_000),
    ]);
    expect(d.run({ kind: "cancelByClientId", userId: 1, marketId: BTC_USD, clientOrderId: 3 })).toEqual([
      done(d, 12, 1, "cancelled", 1, 1_000),
      bal(d, 1, BTC, 999_000, 1_000),
    ]);
    expect(d.run({ kind: "cancelAll", userId: 1, marketId: BTC_USD })).toEqual([
      done(d, 11, 1, "cancelled", 1, 1_000),
      bal(d, 1, BTC, 1_000_000, 0),
    ]);
    // Same status again still answers.
    expect(d.run({ kind: "setMarketStatus", marketId: BTC_USD, status: "suspended" })).toEqual([
      { type: "marketStatusChanged", sequence: 19, marketId: BTC_USD, status: "suspended" },
    ]);
    expect(d.state().markets[0].status).toBe("suspended");
    d.run({ kind: "setMarketStatus", marketId: BTC_USD, status: "active" });
    expect(d.place({ userId: 2, side: "buy", priceTicks: 100, quantityLots: 1 })[0].type).toBe(
      "orderAccepted",
    );
    d.reject({ kind: "setMarketStatus", marketId: 5, status: "active" }, "unknownMarket");
  });
});

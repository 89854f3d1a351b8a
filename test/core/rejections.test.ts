// Every rejection reason of docs/CORE.md, the order of the placeOrder checks, and the operator
// commands — on both cores. Driver.run asserts that each rejected command changed nothing.

import { describe, expect, it } from "vitest";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { MAX_SAFE_UNITS } from "../../src/core/config.ts";
import {
  BTC,
  BTC_USD,
  bal,
  Driver,
  ETH,
  loadFactories,
  marketConfig,
  type PlaceArgs,
  placeOrder,
  USD,
} from "./machines.ts";

const factories = await loadFactories();

describe.each(factories)("placeOrder rejections on $name", (factory) => {
  const start = (overrides = {}) => {
    const d = new Driver(factory);
    d.setup({ minNotionalUnits: 1_000, maxNotionalUnits: 1_000_000, maxQuantityLots: 1_000, ...overrides });
    return d;
  };
  const limit = (args: Partial<PlaceArgs> = {}): UnstampedCommand =>
    placeOrder({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 2, ...args });
  const expectReject = (d: Driver, command: UnstampedCommand, reason: Parameters<Driver["reject"]>[1]) => {
    const c = command as { userId: number; clientOrderId: number };
    d.reject(command, reason, c.userId, c.clientOrderId);
  };

  it("unknownMarket comes first, then marketSuspended", () => {
    const d = start();
    expectReject(d, limit({ marketId: 2 }), "unknownMarket");
    expectReject(d, limit({ marketId: 0, priceTicks: -5 }), "unknownMarket");
    d.run({ kind: "setMarketStatus", marketId: BTC_USD, status: "suspended" });
    expectReject(d, limit({ priceTicks: -5, side: "sideways" as "buy" }), "marketSuspended");
  });

  it("invalidCommand: fields that do not belong to the order type", () => {
    const d = start();
    const cases: Partial<PlaceArgs>[] = [
      { orderType: "market", priceTicks: 100 },
      { orderType: "marketTotal", priceTicks: 0, quantityLots: 2, quoteAmountUnits: 5_000 },
      { orderType: "limit", quoteAmountUnits: 5_000 },
      { orderType: "market", priceTicks: 0, quoteAmountUnits: 5_000 },
      { orderType: "limit", triggerPriceTicks: 100 },
      { orderType: "market", priceTicks: 0, triggerPriceTicks: 100 },
      { orderType: "market", priceTicks: 0, timeInForce: "ioc" },
      { orderType: "stopMarket", priceTicks: 0, triggerPriceTicks: 100, timeInForce: "fok" },
      { orderType: "market", priceTicks: 0, postOnly: true },
      { orderType: "limit", timeInForce: "ioc", postOnly: true },
      { orderType: "limit", timeInForce: "fok", postOnly: true },
    ];
    for (const c of cases) expectReject(d, limit(c), "invalidCommand");
  });

  it("invalidCommand: client order id, user id, unknown enum values", () => {
    const d = start();
    expectReject(d, limit({ clientOrderId: -1 }), "invalidCommand");
    d.reject(limit({ clientOrderId: 1.5 }), "invalidCommand", 1, 0);
    d.reject(limit({ clientOrderId: 2 ** 53 }), "invalidCommand", 1, 0);
    expectReject(d, limit({ userId: 0 }), "invalidCommand");
    expectReject(d, limit({ userId: -3 }), "invalidCommand");
    expectReject(d, limit({ userId: 2 ** 31 }), "invalidCommand");
    expectReject(d, limit({ side: "hold" as "buy" }), "invalidCommand");
    expectReject(d, limit({ orderType: "twap" as "limit" }), "invalidCommand");
    expectReject(d, limit({ timeInForce: "day" as "gtc" }), "invalidCommand");
    expectReject(d, limit({ selfTradePrevention: "decrementAndCancel" as "cancelBoth" }), "invalidCommand");
    // A client order text is 1..36 characters (Binance's newClientOrderId).
    expectReject(d, limit({ clientOrderText: "" }), "invalidCommand");
    expectReject(d, limit({ clientOrderText: "x".repeat(37) }), "invalidCommand");
    expectReject(d, limit({ clientOrderText: 7 as unknown as string }), "invalidCommand");
    // An invalid command beats an invalid price.
    expectReject(d, limit({ userId: 0, priceTicks: 0 }), "invalidCommand");
  });

  it("invalidPrice: limit price and stop trigger outside [min, max] or not integers", () => {
    const d = start({ minPriceTicks: 10, maxPriceTicks: 1_000 });
    for (const priceTicks of [9, 1_001, 0, 50.5, Number.NaN]) {
      expectReject(d, limit({ priceTicks }), "invalidPrice");
    }
    const stop = (triggerPriceTicks: number) =>
      limit({ orderType: "stopMarket", priceTicks: 0, triggerPriceTicks });
    expectReject(d, stop(9), "invalidPrice");
    expectReject(d, stop(1_001), "invalidPrice");
    // Price before quantity.
    expectReject(d, limit({ priceTicks: 9, quantityLots: 0 }), "invalidPrice");
  });

  it("invalidQuantity: limit, market and stopMarket lots outside [min, max] or not integers", () => {
    const d = start({ minQuantityLots: 2 });
    expectReject(d, limit({ quantityLots: 1 }), "invalidQuantity");
    expectReject(d, limit({ quantityLots: 1_001 }), "invalidQuantity");
    expectReject(d, limit({ quantityLots: 2.5 }), "invalidQuantity");
    expectReject(d, limit({ orderType: "market", priceTicks: 0, quantityLots: 0 }), "invalidQuantity");
    expectReject(
      d,
      limit({ orderType: "stopMarket", priceTicks: 0, triggerPriceTicks: 100, quantityLots: 1_001 }),
      "invalidQuantity",
    );
    // Quantity before notional: 1 lot at 1 tick would also be below the minimum notional.
    expectReject(d, limit({ priceTicks: 1, quantityLots: 1 }), "invalidQuantity");
  });

  it("invalidNotional: limit and stop notional, marketTotal amount", () => {
    const d = start(); // notional within [1,000, 1,000,000]
    expectReject(d, limit({ priceTicks: 49, quantityLots: 2 }), "invalidNotional"); // 980
    expect(d.run(limit({ priceTicks: 50, quantityLots: 2 }))[0].type).toBe("orderAccepted"); // 1,000
    expectReject(d, limit({ priceTicks: 1_001, quantityLots: 100, side: "sell" }), "invalidNotional"); // 1,001,000
    const stop = (triggerPriceTicks: number) =>
      limit({ orderType: "stopMarket", priceTicks: 0, triggerPriceTicks, quantityLots: 1 });
    expectReject(d, stop(99), "invalidNotional");
    const total = (quoteAmountUnits: number) =>
      limit({ orderType: "marketTotal", priceTicks: 0, quantityLots: 0, quoteAmountUnits });
    expectReject(d, total(999), "invalidNotional");
    expectReject(d, total(1_000_001), "invalidNotional");
    expectReject(d, total(1_500.5), "invalidNotional");
    // With minNotionalUnits 0 the marketTotal amount must still be at least 1.
    const e = start({ minNotionalUnits: 0 });
    expectReject(e, total(0), "invalidNotional");
  });

  it("tooManyOpenOrders counts resting and stop orders of the user across markets", () => {
    const d = new Driver(factory, { maxOpenOrdersPerUser: 2 });
    d.setup();
    d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 1 });
    d.place({ userId: 1, side: "sell", orderType: "stopMarket", triggerPriceTicks: 50, quantityLots: 1 });
    expectReject(d, limit({ priceTicks: 90 }), "tooManyOpenOrders");
    // Checked before liquidity and funds, for every order type.
    expectReject(
      d,
      limit({ orderType: "market", priceTicks: 0, side: "buy", quantityLots: 1 }),
      "tooManyOpenOrders",
    );
    // Other users are not affected; a cancel makes room.
    expect(d.place({ userId: 2, side: "buy", priceTicks: 90, quantityLots: 1 })[0].type).toBe(
      "orderAccepted",
    );
    d.run({ kind: "cancelAll", userId: 1, marketId: 0 });
    expect(d.run(limit({ priceTicks: 90 }))[0].type).toBe("orderAccepted");
  });

  it("tooManyStopOrders counts the market's stops", () => {
    const d = new Driver(factory, { maxStopOrdersPerMarket: 1 });
    d.setup();
    d.place({ userId: 1, side: "sell", orderType: "stopMarket", triggerPriceTicks: 50, quantityLots: 1 });
    expectReject(
      d,
      limit({
        userId: 2,
        side: "sell",
        orderType: "stopMarket",
        priceTicks: 0,
        triggerPriceTicks: 50,
        quantityLots: 1,
      }),
      "tooManyStopOrders",
    );
    expect(d.place({ userId: 2, side: "buy", priceTicks: 90, quantityLots: 1 })[0].type).toBe(
      "orderAccepted",
    );
  });

  it("limitReached when the exchange holds maxOpenOrders open orders", () => {
    const d = new Driver(factory, { maxOpenOrders: 2 });
    d.setup();
    d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 1 });
    d.place({ userId: 2, side: "sell", orderType: "stopMarket", triggerPriceTicks: 50, quantityLots: 1 });
    expectReject(d, limit({ userId: 3, priceTicks: 90 }), "limitReached");
  });

  it("noLiquidity for market and marketTotal on an empty opposite side, before funds", () => {
    const d = start();
    d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 2 });
    expectReject(d, limit({ userId: 9, orderType: "market", priceTicks: 0 }), "noLiquidity");
    expectReject(
      d,
      limit({ userId: 9, orderType: "marketTotal", priceTicks: 0, quantityLots: 0, quoteAmountUnits: 5_000 }),
      "noLiquidity",
    );
    // A limit IOC on an empty side is not rejected: it expires.
    expect(
      d
        .place({ userId: 2, side: "buy", priceTicks: 100, quantityLots: 2, timeInForce: "ioc" })
        .map((e) => e.type),
    ).toEqual(["orderAccepted", "orderDone", "balance"]);
  });

  it("insufficientFunds for each hold of the table (and for users who never had money)", () => {
    const d = start();
    d.fund(4, USD, 1_999); // 10
    d.fund(4, BTC, 1_999); // 11
    d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 5 });
    d.place({ userId: 1, side: "buy", priceTicks: 90, quantityLots: 5 });
    expectReject(d, limit({ userId: 4, priceTicks: 100, quantityLots: 2 }), "insufficientFunds"); // 2,000 quote
    expectReject(
      d,
      limit({ userId: 4, side: "sell", priceTicks: 100, quantityLots: 2 }),
      "insufficientFunds",
    ); // 2,000 base
    expectReject(
      d,
      limit({ userId: 4, side: "sell", orderType: "market", priceTicks: 0, quantityLots: 2 }),
      "insufficientFunds",
    );
    expectReject(
      d,
      limit({ userId: 4, orderType: "marketTotal", priceTicks: 0, quantityLots: 0, quoteAmountUnits: 2_000 }),
      "insufficientFunds",
    );
    // Stop buy: 2 lots at trigger 96 = 1,920 notional, with 5 % slippage a hold of 2,016.
    expectReject(
      d,
      limit({ userId: 4, orderType: "stopMarket", priceTicks: 0, triggerPriceTicks: 96, quantityLots: 2 }),
      "insufficientFunds",
    );
    expectReject(
      d,
      limit({
        userId: 4,
        side: "sell",
        orderType: "stopMarket",
        priceTicks: 0,
        triggerPriceTicks: 96,
        quantityLots: 2,
      }),
      "insufficientFunds",
    );
    expectReject(d, limit({ userId: 77, priceTicks: 100, quantityLots: 1_000 }), "insufficientFunds");
    // Exactly enough is enough.
    expect(
      d.place({ userId: 4, side: "buy", priceTicks: 99, quantityLots: 2, timeInForce: "ioc" })[0],
    ).toMatchObject({
      type: "orderAccepted",
      heldUnits: 1_980,
    });
  });

  it("insufficientFunds comes before postOnlyWouldTake and fokCannotFill", () => {
    const d = start();
    d.fund(4, USD, 500);
    d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 5 });
    expectReject(
      d,
      limit({ userId: 4, priceTicks: 100, quantityLots: 10, postOnly: true }),
      "insufficientFunds",
    );
    expectReject(
      d,
      limit({ userId: 4, priceTicks: 100, quantityLots: 10, timeInForce: "fok" }),
      "insufficientFunds",
    );
    expectReject(
      d,
      limit({ userId: 2, priceTicks: 100, quantityLots: 10, timeInForce: "fok", clientOrderId: 4 }),
      "fokCannotFill",
    );
  });
});

describe.each(factories)("lastSequence on $name", (factory) => {
  it("advances with every command, rejected ones too (the journal holds them, so recovery must count them)", () => {
    const d = new Driver(factory);
    d.setup();
    expect(d.state().lastSequence).toBe(9);
    d.reject(
      placeOrder({ userId: 1, side: "buy", marketId: 7, priceTicks: 1, quantityLots: 1 }),
      "unknownMarket",
      1,
    );
    expect(d.state().lastSequence).toBe(10);
    expect(d.run({ kind: "cancelAll", userId: 1, marketId: 0 })).toEqual([]);
    expect(d.state().lastSequence).toBe(11);
  });
});

describe.each(factories)("adjustBalance on $name", (factory) => {
  const start = (limits = {}) => {
    const d = new Driver(factory, limits);
    d.addAsset(BTC, "BTC");
    d.addAsset(USD, "USD");
    return d;
  };

  it("credits and debits against operator equity", () => {
    const d = start();
    expect(
      d.run({ kind: "adjustBalance", userId: 5, assetId: USD, amountUnits: 1_000, reason: "wire 17" }),
    ).toEqual([
      {
        type: "balanceAdjusted",
        sequence: 3,
        timestampMs: 1_700_000_000_003,
        userId: 5,
        assetId: USD,
        amountUnits: 1_000,
        reason: "wire 17",
      },
      bal(d, 5, USD, 1_000, 0),
    ]);
    expect(
      d.run({ kind: "adjustBalance", userId: 5, assetId: USD, amountUnits: -1_000, reason: "x" }),
    ).toEqual([
      {
        type: "balanceAdjusted",
        sequence: 4,
        timestampMs: 1_700_000_000_004,
        userId: 5,
        assetId: USD,
        amountUnits: -1_000,
        reason: "x",
      },
      bal(d, 5, USD, 0, 0),
    ]);
    const state = d.state();
    expect(state.userBalances).toEqual([]);
    expect(state.systemBalances).toEqual([]);
    // The user still exists.
    expect(state.userCount).toBe(1);
    d.fund(6, BTC, 300);
    expect(d.state().systemBalances).toEqual([
      { account: "operatorEquity", assetId: BTC, balanceUnits: -300 },
    ]);
    expect(d.state().userCount).toBe(2);
  });

  it("rejects bad amounts, users and reasons (invalidCommand), unknown assets, overdrafts", () => {
    const d = start();
    d.fund(5, USD, 100);
    const adj = (userId: number, assetId: number, amountUnits: number, reason = "r"): UnstampedCommand => ({
      kind: "adjustBalance",
      userId,
      assetId,
      amountUnits,
      reason,
    });
    for (const amount of [0, 1.5, 2 ** 53, -(2 ** 53), Number.NaN])
      d.reject(adj(5, USD, amount), "invalidCommand", 5);
    for (const userId of [0, -1, 2 ** 31, 1.5]) d.reject(adj(userId, USD, 10), "invalidCommand", 0);
    d.reject(adj(5, USD, 10, ""), "invalidCommand", 5);
    d.reject(adj(5, USD, 10, "x".repeat(201)), "invalidCommand", 5);
    expect(d.run(adj(5, USD, 10, "x".repeat(200)))[0].type).toBe("balanceAdjusted");
    d.reject(adj(5, ETH, 10), "unknownAsset", 5);
    d.reject(adj(5, 0, 10), "unknownAsset", 5);
    d.reject(adj(5, USD, -111), "insufficientFunds", 5);
    d.reject(adj(6, USD, -1), "insufficientFunds", 6);
    expect(d.run(adj(5, USD, -110))[1]).toEqual(bal(d, 5, USD, 0, 0));
  });

  it("a debit cannot take held funds", () => {
    const d = new Driver(factory);
    d.setup();
    d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 1_000 }); // holds 1,000,000 USD
    d.reject(
      { kind: "adjustBalance", userId: 1, assetId: USD, amountUnits: -9_000_001, reason: "r" },
      "insufficientFunds",
      1,
    );
  });

  it("limitReached when operator equity would pass -(2^53 - 1)", () => {
    const d = start();
    d.fund(5, USD, MAX_SAFE_UNITS - 10);
    d.reject(
      { kind: "adjustBalance", userId: 6, assetId: USD, amountUnits: 11, reason: "r" },
      "limitReached",
      6,
    );
    expect(d.fund(6, USD, 10)[0].type).toBe("balanceAdjusted");
    expect(d.state().systemBalances).toEqual([
      { account: "operatorEquity", assetId: USD, balanceUnits: -MAX_SAFE_UNITS },
    ]);
  });

  it("tooManyUsers for a new user beyond maxUsers; existing users can still be credited", () => {
    const d = start({ maxUsers: 2 });
    d.fund(1, USD, 1);
    d.fund(2, USD, 1);
    d.reject(
      { kind: "adjustBalance", userId: 3, assetId: USD, amountUnits: 1, reason: "r" },
      "tooManyUsers",
      3,
    );
    expect(d.fund(2, BTC, 1)[0].type).toBe("balanceAdjusted");
    expect(d.state().userCount).toBe(2);
  });
});

describe.each(factories)("addAsset / addMarket / setMarketStatus on $name", (factory) => {
  it("adds assets with dense ids", () => {
    const d = new Driver(factory, { maxAssets: 2 });
    expect(d.addAsset(1, "BTC")).toEqual([
      { type: "assetAdded", sequence: 1, asset: { assetId: 1, code: "BTC", scale: 8 } },
    ]);
    d.reject({ kind: "addAsset", asset: { assetId: 3, code: "USD", scale: 2 } }, "invalidCommand");
    d.reject({ kind: "addAsset", asset: { assetId: 1, code: "USD", scale: 2 } }, "invalidCommand");
    d.reject({ kind: "addAsset", asset: { assetId: 2, code: "usd", scale: 2 } }, "invalidCommand");
    d.reject({ kind: "addAsset", asset: { assetId: 2, code: "USD", scale: 19 } }, "invalidCommand");
    d.reject({ kind: "addAsset", asset: { assetId: 2, code: "BTC", scale: 2 } }, "alreadyExists");
    d.addAsset(2, "USD", 2);
    // Past maxAssets: limitReached, checked before the duplicate code.
    d.reject({ kind: "addAsset", asset: { assetId: 3, code: "ETH", scale: 2 } }, "limitReached");
    d.reject({ kind: "addAsset", asset: { assetId: 3, code: "BTC", scale: 2 } }, "limitReached");
    expect(d.state().assets).toEqual([
      { assetId: 1, code: "BTC", scale: 8 },
      { assetId: 2, code: "USD", scale: 2 },
    ]);
  });

  it("adds markets with dense ids over existing assets", () => {
    const d = new Driver(factory, { maxMarkets: 2 });
    d.addAsset(BTC, "BTC");
    d.addAsset(USD, "USD");
    d.addAsset(ETH, "ETH");
    const market = marketConfig();
    expect(d.run({ kind: "addMarket", market })).toEqual([{ type: "marketAdded", sequence: 4, market }]);
    expect(d.state().markets[0]).toEqual({
      config: market,
      status: "active",
      lastPriceTicks: 0,
      bids: [],
      asks: [],
      stops: [],
    });
    const eth = marketConfig({ marketId: 2, symbol: "ETH_USD", baseAssetId: ETH });
    d.reject({ kind: "addMarket", market: { ...eth, marketId: 3 } }, "invalidCommand");
    d.reject({ kind: "addMarket", market: { ...eth, baseAssetId: 4 } }, "invalidCommand");
    d.reject({ kind: "addMarket", market: { ...eth, quoteAssetId: ETH } }, "invalidCommand");
    d.reject({ kind: "addMarket", market: { ...eth, makerFeePpm: 1_000_000 } }, "invalidCommand");
    d.reject(
      { kind: "addMarket", market: { ...eth, maxPriceTicks: 2 ** 32 - 1, maxQuantityLots: 2 ** 32 - 1 } },
      "invalidCommand",
    );
    d.reject({ kind: "addMarket", market: { ...eth, symbol: "BTC_USD" } }, "alreadyExists");
    d.run({ kind: "addMarket", market: eth });
    d.reject(
      { kind: "addMarket", market: { ...eth, marketId: 3, symbol: "ETH_BTC", quoteAssetId: BTC } },
      "limitReached",
    );
    d.reject({ kind: "addMarket", market: { ...eth, marketId: 3 } }, "limitReached");
    expect(d.state().markets.map((m) => m.config.symbol)).toEqual(["BTC_USD", "ETH_USD"]);
  });

  it("setMarketStatus: unknownMarket, and an event even when nothing changes", () => {
    const d = new Driver(factory);
    d.setup();
    d.reject({ kind: "setMarketStatus", marketId: 2, status: "suspended" }, "unknownMarket");
    d.reject({ kind: "setMarketStatus", marketId: 0, status: "suspended" }, "unknownMarket");
    expect(d.run({ kind: "setMarketStatus", marketId: 1, status: "active" })).toEqual([
      { type: "marketStatusChanged", sequence: 12, marketId: 1, status: "active" },
    ]);
  });
});

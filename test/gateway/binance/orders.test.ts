// The Binance Spot API v3 order endpoints (src/gateway/binance/order-routes.ts): a stock ccxt
// 4.5.84 `binance` places every offered order type, queries, cancels and lists them, and what it
// sees agrees with the core and with the same orders read through EXMO's dialect (ccxt 4.5.73
// exmo); raw requests show every refusal in Binance's shape, changing nothing.

import ccxt from "ccxt-current";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signBinancePayload } from "../../../src/gateway/binance/auth.ts";
import { clientOrderNumberOf } from "../../../src/gateway/binance/order-vocabulary.ts";
import {
  binanceRestUrls,
  ccxtExmo,
  createTrader,
  type Harness,
  type RawResponse,
  readResponse,
  startHarness,
  type Trader,
} from "../support/rest-harness.ts";

let harness: Harness;
let trader: Trader;
let maker: Trader;

function binanceClient(keys: Trader) {
  const base = harness.baseUrl;
  return new ccxt.binance({
    apiKey: keys.keyId,
    secret: keys.secret,
    rateLimit: 5,
    options: { defaultType: "spot", fetchMarkets: { types: ["spot"] } },
    urls: {
      api: binanceRestUrls(base),
    },
  });
}

/** A signed request as ccxt sends it (params in the query, signature last). */
async function signed(
  method: "GET" | "POST" | "DELETE",
  path: string,
  query: Record<string, string>,
  options: { who?: Trader; timestampMs?: number; replayOf?: string } = {},
): Promise<RawResponse & { query: string }> {
  const who = options.who ?? trader;
  const params = new URLSearchParams(query);
  params.set("timestamp", String(options.timestampMs ?? Date.now()));
  const unsigned = params.toString();
  const full = options.replayOf ?? `${unsigned}&signature=${signBinancePayload(who.secret, unsigned)}`;
  const response = await fetch(`${harness.baseUrl}${path}?${full}`, {
    method,
    headers: { "X-MBX-APIKEY": who.keyId },
  });
  return { ...(await readResponse(response)), query: full };
}

function expectError(answer: RawResponse, status: number, code: number, msg?: string) {
  expect(answer.status).toBe(status);
  expect((answer.body as { code: number }).code).toBe(code);
  if (msg !== undefined) expect((answer.body as { msg: string }).msg).toBe(msg);
}

/** The core's view of a user's balance, in units. */
function coreBalance(userId: number, code: string) {
  const asset = harness.exchange.assetByCode(code);
  if (asset === undefined) throw new Error(code);
  return harness.exchange.balance(userId, asset.assetId);
}

beforeAll(async () => {
  harness = await startHarness();
  trader = await createTrader(harness, { funds: { USD: "100000", BTC: "2" } });
  maker = await createTrader(harness, { funds: { USD: "100000", BTC: "2" } });
});

afterAll(async () => {
  await harness?.close();
});

describe("ccxt binance orders", () => {
  it("places, fetches and cancels a limit order, seen alike through EXMO's dialect", async () => {
    const client = binanceClient(trader);
    await client.loadMarkets();
    const order = await client.createOrder("BTC/USD", "limit", "buy", 0.01, 30000, {
      clientOrderId: "bot-order_1",
    });
    expect(order).toMatchObject({
      symbol: "BTC/USD",
      type: "limit",
      side: "buy",
      price: 30000,
      amount: 0.01,
      filled: 0,
      status: "open",
      clientOrderId: "bot-order_1",
      timeInForce: "GTC",
    });
    // The core holds 300 USD for it.
    expect(coreBalance(trader.userId, "USD").heldUnits).toBeGreaterThan(0);
    const orderId = String(order.id);
    const fetched = await client.fetchOrder(orderId, "BTC/USD");
    expect(fetched).toMatchObject({ id: order.id, status: "open", clientOrderId: "bot-order_1" });
    const byClientId = await client.fetchOrder(undefined as unknown as string, "BTC/USD", {
      origClientOrderId: "bot-order_1",
    });
    expect(byClientId.id).toBe(order.id);
    const open = await client.fetchOpenOrders("BTC/USD");
    expect(open.map((entry) => entry.id)).toEqual([order.id]);
    // EXMO sees the same order: same id, the client id as its number.
    const exmo = ccxtExmo(harness, trader);
    const exmoOpen = await exmo.fetchOpenOrders("BTC/USD");
    expect(exmoOpen.map((entry) => entry.id)).toEqual([order.id]);
    expect(exmoOpen[0]?.price).toBe(30000);
    expect(exmoOpen[0]?.amount).toBe(0.01);
    expect(exmoOpen[0]?.clientOrderId).toBe(String(clientOrderNumberOf("bot-order_1")));
    expect(exmoOpen[0]?.timestamp).toBe(Math.floor((fetched.timestamp ?? 0) / 1000) * 1000);
    const cancelled = await client.cancelOrder(orderId, "BTC/USD");
    expect(cancelled).toMatchObject({ id: order.id, status: "canceled" });
    expect(coreBalance(trader.userId, "USD").heldUnits).toBe(0);
    await expect(client.cancelOrder(orderId, "BTC/USD")).rejects.toBeInstanceOf(ccxt.OrderNotFound);
    await expect(client.fetchOrder("999999999", "BTC/USD")).rejects.toBeInstanceOf(ccxt.OrderNotFound);
  });

  it("trades: market by amount and by cost, IOC, FOK, post-only, stop; fills and fees agree with EXMO", async () => {
    const client = binanceClient(trader);
    const makerClient = binanceClient(maker);
    await Promise.all([client.loadMarkets(), makerClient.loadMarkets()]);
    // The maker rests asks at 40,000 and 40,100.
    const ask1 = await makerClient.createOrder("BTC/USD", "limit", "sell", 0.05, 40000);
    await makerClient.createOrder("BTC/USD", "limit", "sell", 0.05, 40100);
    const byAmount = await client.createOrder("BTC/USD", "market", "buy", 0.01);
    expect(byAmount).toMatchObject({ status: "closed", filled: 0.01, cost: 400, average: 40000 });
    expect(byAmount.trades.length).toBe(1);
    expect(byAmount.fee?.currency).toBe("BTC");
    // The answer is built from the command's events; the store, once projected, says the same.
    const stored = await client.fetchOrder(String(byAmount.id), "BTC/USD");
    for (const field of ["status", "filled", "cost", "average", "amount", "remaining", "timestamp"] as const)
      expect(stored[field]).toBe(byAmount[field]);
    const storedFills = await client.fetchMyTrades("BTC/USD", undefined, undefined, { orderId: byAmount.id });
    expect(storedFills.map((fill) => [fill.id, fill.price, fill.amount, fill.fee?.cost])).toEqual(
      byAmount.trades.map((fill) => [fill.id, fill.price, fill.amount, fill.fee?.cost]),
    );
    const byCost = await client.createOrder(
      "BTC/USD",
      "market",
      "buy",
      undefined as unknown as number,
      undefined,
      {
        cost: 800,
      },
    );
    expect(byCost).toMatchObject({ status: "closed", filled: 0.02, cost: 800 });
    // IOC at 40,000 takes what is left there (0.02) and expires the rest.
    const ioc = await client.createOrder("BTC/USD", "limit", "buy", 0.03, 40000, { timeInForce: "IOC" });
    expect(ioc).toMatchObject({ filled: 0.02, remaining: 0.01, timeInForce: "IOC" });
    expect(["canceled", "expired"]).toContain(ioc.status);
    // FOK for more than the book has at 40,100: refused, nothing traded.
    await expect(
      client.createOrder("BTC/USD", "limit", "buy", 0.5, 40100, { timeInForce: "FOK" }),
    ).rejects.toBeInstanceOf(ccxt.InvalidOrder);
    // Post-only that would take: refused as Binance says it.
    await expect(
      client.createOrder("BTC/USD", "limit", "buy", 0.01, 40100, { postOnly: true }),
    ).rejects.toBeInstanceOf(ccxt.OrderImmediatelyFillable);
    const postOnly = await client.createOrder("BTC/USD", "limit", "buy", 0.01, 39000, { postOnly: true });
    expect(postOnly).toMatchObject({ status: "open", postOnly: true });
    const stop = await client.createOrder("BTC/USD", "market", "sell", 0.01, undefined, {
      triggerPrice: 35000,
    });
    expect(stop).toMatchObject({ status: "open", triggerPrice: 35000 });
    const open = await client.fetchOpenOrders("BTC/USD");
    expect(open.map((entry) => entry.id).sort()).toEqual([postOnly.id, stop.id].sort());
    // Five here and the first test's cancelled one.
    const all = await client.fetchOrders("BTC/USD");
    expect(all.length).toBe(6);
    const closed = await client.fetchClosedOrders("BTC/USD");
    expect(closed.map((entry) => entry.id)).toContain(byAmount.id);
    // The caller's trades: the same ids, prices and fees through both dialects.
    const trades = await client.fetchMyTrades("BTC/USD");
    expect(trades.length).toBe(3);
    const exmoTrades = await ccxtExmo(harness, trader).fetchMyTrades("BTC/USD");
    // EXMO's trade times are whole seconds: the same second.
    const summary = (
      list: {
        id?: string;
        price?: number;
        amount?: number;
        fee?: { cost?: number };
        timestamp?: number;
        order?: string;
      }[],
    ) =>
      list
        .map((entry) => [
          entry.id,
          entry.price,
          entry.amount,
          entry.fee?.cost,
          Math.floor((entry.timestamp ?? 0) / 1000),
          entry.order,
        ])
        .sort();
    expect(summary(trades)).toEqual(summary(exmoTrades));
    expect(trades.every((entry) => entry.takerOrMaker === "taker")).toBe(true);
    const makerTrades = await makerClient.fetchMyTrades("BTC/USD", undefined, undefined, {
      orderId: ask1.id,
    });
    expect(makerTrades.every((entry) => entry.takerOrMaker === "maker" && entry.order === ask1.id)).toBe(
      true,
    );
    // cancelAllOrders empties the symbol (the stop and the post-only order).
    const cancelledAll = await client.cancelAllOrders("BTC/USD");
    expect(cancelledAll.length).toBe(2);
    expect(await client.fetchOpenOrders("BTC/USD")).toEqual([]);
    expect(await client.cancelAllOrders("BTC/USD")).toEqual([]);
  });

  it("maps refusals: insufficient funds, bad precision, filters, unknown symbol", async () => {
    const client = binanceClient(trader);
    await client.loadMarkets();
    const before = harness.exchange.status().lastSequence;
    await expect(client.createOrder("BTC/USD", "limit", "buy", 1.5, 99000)).rejects.toBeInstanceOf(
      ccxt.InsufficientFunds,
    );
    const afterRefusal = harness.exchange.status().lastSequence;
    // The core refused it (one command, nothing held).
    expect(afterRefusal).toBe(before + 1);
    expect(coreBalance(trader.userId, "USD").heldUnits).toBe(0);
    const tooSmall = await signed("POST", "/api/v3/order", {
      symbol: "BTCUSD",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.000000001",
      price: "30000",
    });
    expectError(tooSmall, 400, -1111, "Parameter 'quantity' has too much precision.");
    await expect(
      client.createOrder("BTC/USD", "limit", "buy", 0.01, 30000, { newClientOrderId: "bad id with spaces" }),
    ).rejects.toBeInstanceOf(ccxt.BadRequest);
    expect(harness.exchange.status().lastSequence).toBe(afterRefusal);
  });
});

describe("ccxt binance error mapping on orders", () => {
  it("a wrong secret is AuthenticationError, a stale timestamp InvalidNonce, and neither places anything", async () => {
    const before = harness.exchange.status().lastSequence;
    const wrongSecret = binanceClient(trader);
    await wrongSecret.loadMarkets();
    wrongSecret.secret = "not-the-secret";
    await expect(wrongSecret.createOrder("BTC/USD", "limit", "buy", 0.01, 30000)).rejects.toBeInstanceOf(
      ccxt.AuthenticationError,
    );
    const stale = binanceClient(trader);
    await stale.loadMarkets();
    // ccxt signs with now − timeDifference: two minutes behind is past any recvWindow.
    stale.options.timeDifference = 120_000;
    await expect(stale.createOrder("BTC/USD", "limit", "buy", 0.01, 30000)).rejects.toBeInstanceOf(
      ccxt.InvalidNonce,
    );
    expect(harness.exchange.status().lastSequence).toBe(before);
  });
});

describe("order endpoints over raw HTTP", () => {
  it("refuse malformed orders in Binance's shape and change nothing", async () => {
    const before = harness.exchange.status().lastSequence;
    const order = {
      symbol: "BTCUSD",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price: "30000",
    };
    const cases: [Record<string, string>, number, string][] = [
      [{ ...order, symbol: "NOPE" }, -1121, "Invalid symbol."],
      [{ ...order, side: "HOLD" }, -1117, "Invalid side."],
      [{ ...order, type: "TWAP" }, -1116, "Invalid orderType."],
      [{ ...order, timeInForce: "DAY" }, -1115, "Invalid timeInForce."],
      [{ ...order, price: "30000.001" }, -1111, "Parameter 'price' has too much precision."],
      [{ ...order, price: "abc" }, -1100, ""],
      [{ ...order, quantity: "100000" }, -1013, "Filter failure: LOT_SIZE"],
      [{ ...order, price: "0.01" }, -1013, "Filter failure: PRICE_FILTER"],
      [{ symbol: "BTCUSD", side: "BUY", type: "LIMIT", quantity: "0.01", price: "30000" }, -1102, ""],
      [{ symbol: "BTCUSD", side: "BUY", type: "MARKET" }, -1102, ""],
      [{ symbol: "BTCUSD", side: "BUY", type: "MARKET", quantity: "0.01", quoteOrderQty: "10" }, -1106, ""],
      [{ symbol: "BTCUSD", side: "BUY", type: "MARKET", quantity: "0.01", price: "1" }, -1106, ""],
      [{ ...order, type: "STOP_LOSS_LIMIT", stopPrice: "1" }, -1116, ""],
      [{ ...order, newOrderRespType: "EVERYTHING" }, -1130, ""],
      [{ ...order, selfTradePreventionMode: "NONE" }, -1130, ""],
      [{ ...order, newClientOrderId: "x".repeat(37) }, -1100, ""],
    ];
    for (const [query, code, msg] of cases) {
      const answer = await signed("POST", "/api/v3/order", query);
      expectError(answer, 400, code, msg === "" ? undefined : msg);
    }
    // order/test validates the same way and places nothing.
    expectError(await signed("POST", "/api/v3/order/test", { ...order, side: "HOLD" }), 400, -1117);
    const tested = await signed("POST", "/api/v3/order/test", { ...order, computeCommissionRates: "true" });
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({ standardCommissionForOrder: { maker: expect.any(String) } });
    // Queries and cancels of nothing.
    expectError(await signed("GET", "/api/v3/order", { symbol: "BTCUSD" }), 400, -1102);
    expectError(await signed("GET", "/api/v3/order", { symbol: "BTCUSD", orderId: "123456" }), 400, -2013);
    expectError(
      await signed("DELETE", "/api/v3/order", { symbol: "BTCUSD", origClientOrderId: "never-placed" }),
      400,
      -2011,
      "Unknown order sent.",
    );
    expectError(await signed("GET", "/api/v3/allOrders", { symbol: "BTCUSD", limit: "1001" }), 400, -1100);
    expectError(
      await signed("GET", "/api/v3/myTrades", { symbol: "BTCUSD", startTime: "20", endTime: "10" }),
      400,
      -1128,
    );
    expect(harness.exchange.status().lastSequence).toBe(before);
  });

  it("accepts a signed order once: its replay inside the window is refused and places nothing", async () => {
    const placed = await signed("POST", "/api/v3/order", {
      symbol: "BTCUSD",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price: "20000",
      newOrderRespType: "ACK",
    });
    expect(placed.status).toBe(200);
    const orderId = (placed.body as { orderId: number }).orderId;
    expect(placed.body).toMatchObject({
      symbol: "BTCUSD",
      orderListId: -1,
      clientOrderId: `bulwark-${orderId}`,
    });
    const after = harness.exchange.status().lastSequence;
    const replay = await signed("POST", "/api/v3/order", {}, { replayOf: placed.query });
    expectError(replay, 400, -1021);
    expect(harness.exchange.status().lastSequence).toBe(after);
    // Its generated client id names it; a cancel's replay is refused too.
    const cancel = await signed("DELETE", "/api/v3/order", {
      symbol: "BTCUSD",
      origClientOrderId: `bulwark-${orderId}`,
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({
      orderId,
      status: "CANCELED",
      origClientOrderId: `bulwark-${orderId}`,
    });
    expectError(await signed("DELETE", "/api/v3/order", {}, { replayOf: cancel.query }), 400, -1021);
  });

  it("refuses a client order id an open order already carries", async () => {
    const order = {
      symbol: "BTCUSD",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price: "20000",
      newClientOrderId: "dup-1",
    };
    expect((await signed("POST", "/api/v3/order", order)).status).toBe(200);
    const before = harness.exchange.status().lastSequence;
    expectError(await signed("POST", "/api/v3/order", order), 400, -2010, "Duplicate order sent.");
    expect(harness.exchange.status().lastSequence).toBe(before);
    expect((await signed("DELETE", "/api/v3/openOrders", { symbol: "BTCUSD" })).status).toBe(200);
  });
});

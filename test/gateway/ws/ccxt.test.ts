// The stock ccxt 4.5.73 `pro.exmo` client against the WS gateway: every watcher of docs/API.md#ccxt-coverage
// ("WebSocket watchers: minimum surface"), with orders placed through exchange.submit and the
// results checked against what the core and the store report. Markets are given to ccxt directly
// (setMarkets), so this suite does not depend on the REST gateway.

import ccxt from "ccxt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MarketContext } from "../../../src/exchange/exchange.ts";
import { fillsOfUser } from "../../../src/store/queries.ts";
import { limitOrder } from "../../support/orders.ts";
import { createTrader, expectAccepted, type Harness, startHarness, type Trader } from "./harness.ts";

/** Lets a watcher's subscribe frame reach the server before the test trades. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

/**
 * ccxt watchers resolve with what is new since the previous call, so a frame that arrived before
 * the next call is not awaited again; this polls ccxt's own caches (filled by the same frames).
 */
async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("ccxt cache never reached the expected state");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let harness: Harness;
let maker: Trader;
let taker: Trader;
const clients: InstanceType<typeof ccxt.pro.exmo>[] = [];

function ccxtMarket(market: MarketContext): Record<string, unknown> {
  const base = market.base.code;
  const quote = market.quote.code;
  return {
    id: market.config.symbol,
    symbol: `${base}/${quote}`,
    base,
    quote,
    baseId: base,
    quoteId: quote,
    type: "spot",
    spot: true,
    margin: false,
    swap: false,
    future: false,
    option: false,
    contract: false,
    active: true,
    precision: { price: Number(`1e-${market.units.pricePrecision}`), amount: 1e-8 },
    limits: { amount: {}, price: {}, cost: {} },
  };
}

/** A pro.exmo client on plain ws:// (docs/API.md#ccxt-client: loadHttpProxyAgent once). */
async function client(trader?: Trader): Promise<InstanceType<typeof ccxt.pro.exmo>> {
  const ws = harness.url;
  const http = ws.replace("ws://", "http://");
  const exchange = new ccxt.pro.exmo({
    ...(trader === undefined ? {} : { apiKey: trader.keyId, secret: trader.secret }),
    urls: {
      api: {
        public: http,
        private: http,
        web: http,
        ws: { public: `${ws}/v1/public`, spot: `${ws}/v1/private`, margin: `${ws}/v1/margin/private` },
      },
    },
  });
  await exchange.loadHttpProxyAgent();
  exchange.setMarkets(harness.exchange.markets().map(ccxtMarket));
  clients.push(exchange);
  return exchange;
}

beforeAll(async () => {
  harness = await startHarness();
  maker = await createTrader(harness, { USD: 100_000_000_000, BTC: 1_000_000_000 });
  taker = await createTrader(harness, { USD: 100_000_000_000, BTC: 1_000_000_000 });
});

afterAll(async () => {
  for (const exchange of clients) await exchange.close();
  await harness.close();
});

describe("ccxt.pro.exmo 4.5.73 watchers", () => {
  it("watchTicker, watchOrderBook and watchTrades follow the book and the trades", async () => {
    const ex = await client();
    const ticker = await ex.watchTicker("BTC/USD");
    expect(ticker.symbol).toBe("BTC/USD");
    const empty = await ex.watchOrderBook("BTC/USD");
    expect(empty.asks).toEqual([]);

    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_400_000, 100)));
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "buy", 6_300_000, 30)));
    let book = ex.orderbooks["BTC/USD"];
    await until(() => book.bids.length > 0 && book.asks.length > 0);
    expect(book.asks[0].slice(0, 2)).toEqual([64000, 0.01]);
    expect(book.bids[0].slice(0, 2)).toEqual([63000, 0.003]);

    const tradesPromise = ex.watchTrades("BTC/USD");
    await settle();
    const taken = await harness.exchange.submit(limitOrder(taker.userId, "buy", 6_400_000, 40));
    expectAccepted(taken);
    const trades = await tradesPromise;
    const trade = taken.events.find((event) => event.type === "trade");
    if (trade?.type !== "trade") throw new Error("expected a trade");
    expect(trades.at(-1)).toMatchObject({
      id: String(trade.tradeId),
      symbol: "BTC/USD",
      side: "buy",
      price: 64000,
      amount: 0.004,
      cost: 256,
      timestamp: Math.floor(trade.timestampMs / 1000) * 1000,
    });
    await until(() => ex.tickers["BTC/USD"]?.last === 64000);
    const after = ex.tickers["BTC/USD"];
    expect(after).toMatchObject({ last: 64000, ask: 64000, bid: 63000, baseVolume: 0.004, quoteVolume: 256 });
    book = ex.orderbooks["BTC/USD"];
    await until(() => book.asks[0]?.[1] === 0.006);
    expect(book.asks[0].slice(0, 2)).toEqual([64000, 0.006]);
  });

  it("watchBalance, watchOrders and watchMyTrades agree with the core and the store", async () => {
    const trader = await createTrader(harness, { USD: 10_000_000_000, BTC: 50_000_000 });
    const ex = await client(trader);
    const balance = await ex.watchBalance();
    expect(balance.USD).toMatchObject({ free: 10000, used: 0, total: 10000 });
    expect(balance.BTC).toMatchObject({ free: 0.5, used: 0 });

    const ordersPromise = ex.watchOrders("BTC/USD");
    await settle();
    const placed = await harness.exchange.submit(limitOrder(trader.userId, "buy", 6_200_000, 10));
    expectAccepted(placed);
    await ordersPromise;
    const cachedOrder = (id: number) =>
      (ex.orders ?? []).find((order: { id: string }) => order.id === String(id));
    await until(() => cachedOrder(placed.sequence) !== undefined);
    expect(cachedOrder(placed.sequence)).toMatchObject({
      symbol: "BTC/USD",
      side: "buy",
      price: 62000,
      amount: 0.001,
      remaining: 0.001,
      status: "open",
    });
    await until(() => ex.balance.USD?.used === 62);
    const held = ex.balance;
    const core = harness.exchange.internals.core.balance(
      trader.userId,
      harness.exchange.assetByCode("USD")!.assetId,
    );
    expect(held.USD).toMatchObject({ free: core.availableUnits / 1e6, used: core.heldUnits / 1e6 });

    // The trader sells into the maker's bid at 63000: a taker fill reported on spot/user_trades.
    const myTradesPromise = ex.watchMyTrades("BTC/USD");
    await settle();
    const sold = await harness.exchange.submit(limitOrder(trader.userId, "sell", 6_300_000, 10));
    expectAccepted(sold);
    const myTrades = await myTradesPromise;
    await harness.exchange.whenProjected(sold.sequence);
    const market = harness.exchange.marketBySymbol("BTC_USD")!;
    const [fill] = await fillsOfUser(harness.exchange.internals.store.db, trader.userId, {
      marketId: market.config.marketId,
      offset: 0,
      limit: 1,
    });
    expect(myTrades.at(-1)).toMatchObject({
      id: String(fill.tradeId),
      order: String(sold.sequence),
      side: "sell",
      takerOrMaker: "taker",
      price: 63000,
      amount: 0.001,
      cost: 63,
      fee: { cost: fill.feeUnits / 1e6, currency: "USD" },
    });
    await until(() => cachedOrder(sold.sequence)?.status === "closed");
    expect(cachedOrder(sold.sequence)).toMatchObject({ remaining: 0, amount: 0.001 });
  });
});

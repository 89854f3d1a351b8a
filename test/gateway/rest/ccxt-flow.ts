// The ccxt 4.5.73 `exmo` client against a live gateway: one trading session that touches every
// unified method the REST API serves, each checked against what the core and the store report.
// Shared by the SQLite suite and the PostgreSQL smoke run.

import ccxt from "ccxt";
import { expect } from "vitest";
import { fillsOfUser } from "../../../src/store/queries.ts";
import { ccxtExmo, createTrader, type Harness } from "../support/rest-harness.ts";

/** Market data answers are cached for 100 ms (REST_CACHE_TTL_MS); wait past it before reading. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CACHE_WAIT_MS = 120;

export async function expectRejects(promise: Promise<unknown>, errorClass: new (...args: never[]) => Error) {
  await expect(promise).rejects.toBeInstanceOf(errorClass);
}

/** Core balance of a user as decimal numbers (free, used) for comparison with ccxt's parse. */
function coreBalance(harness: Harness, userId: number, code: string): { free: number; used: number } {
  const asset = harness.exchange.assetByCode(code)!;
  const balance = harness.exchange.internals.core.balance(userId, asset.assetId);
  return { free: balance.availableUnits / 10 ** asset.scale, used: balance.heldUnits / 10 ** asset.scale };
}

/** An order id ccxt parsed; the gateway always sends one for these calls. */
function idOf(order: { id?: string }): string {
  if (order.id === undefined) throw new Error("order without id");
  return order.id;
}

/**
 * What ccxt's own structure checks look at, on an exchange where nothing has traded yet: every
 * market's limits.amount.max is the pair's max quantity (ccxt takes the larger of pair_settings'
 * and margin/pair/list's, undefined when a pair is missing from either), fees come from the
 * default fetchTradingFees (margin/pair/list), and tickers carry a recent timestamp, not 1970.
 */
async function expectSaneMarketsTickersAndFees(
  harness: Harness,
  client: ReturnType<typeof ccxtExmo>,
): Promise<void> {
  const configured = harness.exchange.markets().map((market) => ({
    symbol: market.units.symbol.replace("_", "/"),
    maxQuantity: Number(market.units.maxQuantity),
    maker: Number(market.units.makerFeePercent) / 100,
    taker: Number(market.units.takerFeePercent) / 100,
  }));
  const fees = await client.fetchTradingFees();
  for (const market of configured) {
    const loaded = client.market(market.symbol);
    expect(loaded.limits.amount?.max, market.symbol).toBe(market.maxQuantity);
    expect(loaded.spot).toBe(true);
    expect(fees[market.symbol], market.symbol).toMatchObject({
      symbol: market.symbol,
      maker: market.maker,
      taker: market.taker,
    });
  }
  expect(Object.keys(fees).sort()).toEqual(configured.map((market) => market.symbol).sort());

  const recent = (timestamp: number | undefined) => {
    expect(typeof timestamp).toBe("number");
    expect(Math.abs(Number(timestamp) - Date.now())).toBeLessThan(60_000);
  };
  await sleep(CACHE_WAIT_MS);
  const ticker = await client.fetchTicker("ETH/BTC");
  recent(ticker.timestamp);
  expect(ticker.datetime?.slice(0, 4)).toBe(String(new Date().getUTCFullYear()));
  // Nothing to show: ccxt reads EXMO's "0" prices as absent, never as a price of zero.
  expect(ticker).toMatchObject({ bid: undefined, ask: undefined, last: undefined, high: undefined });
  const tickers = await client.fetchTickers();
  expect(Object.keys(tickers).sort()).toEqual(configured.map((market) => market.symbol).sort());
  for (const each of Object.values(tickers)) recent(each.timestamp);
}

export interface FlowReport {
  calls: string[];
}

export async function runCcxtTradingFlow(harness: Harness, options: { full: boolean }): Promise<FlowReport> {
  const calls: string[] = [];
  const maker = await createTrader(harness, { funds: { USD: "100000", BTC: "10" } });
  const taker = await createTrader(harness, { funds: { USD: "100000", BTC: "10" } });
  const makerEx = ccxtExmo(harness, maker);
  const takerEx = ccxtExmo(harness, taker);

  // loadMarkets with keys also calls margin/pair/list (docs/API.md#margin-pair-list).
  await makerEx.loadMarkets();
  await takerEx.loadMarkets();
  calls.push("loadMarkets");
  const btcUsd = makerEx.market("BTC/USD");
  expect(btcUsd.id).toBe("BTC_USD");
  expect(btcUsd.precision.price).toBe(0.01);
  expect(btcUsd.limits.amount?.min).toBe(0.0001);
  expect(btcUsd.limits.cost?.min).toBe(1);
  expect(btcUsd.maker).toBe(0.002);
  expect(btcUsd.taker).toBe(0.003);
  expect(Object.keys(makerEx.markets ?? {}).sort()).toEqual(["BTC/USD", "BTC/USDT", "ETH/BTC", "ETH/USD"]);
  await expectSaneMarketsTickersAndFees(harness, makerEx);
  calls.push("fetchTicker (never traded)", "fetchTickers (never traded)", "fetchTradingFees");

  // A resting ask and a post-only bid with a client id.
  const askOrder = await makerEx.createOrder("BTC/USD", "limit", "sell", 0.01, 64000);
  const bidOrder = await makerEx.createOrder("BTC/USD", "limit", "buy", 0.002, 63000, {
    postOnly: true,
    clientOrderId: 42,
  });
  calls.push("createOrder(limit)", "createOrder(postOnly, clientOrderId)");
  const ask = { id: idOf(askOrder) };
  const bid = { id: idOf(bidOrder), clientOrderId: bidOrder.clientOrderId };
  expect(bid.clientOrderId).toBe("42");
  const open = await makerEx.fetchOpenOrders();
  calls.push("fetchOpenOrders");
  expect(open.map((order) => [order.id, order.side, order.price, order.amount]).sort()).toEqual(
    [
      [ask.id, "sell", 64000, 0.01],
      [bid.id, "buy", 63000, 0.002],
    ].sort(),
  );
  expect(open.find((order) => order.id === bid.id)?.clientOrderId).toBe("42");
  expect(coreBalance(harness, maker.userId, "USD").used).toBe(126);

  await sleep(CACHE_WAIT_MS);
  const book = await makerEx.fetchOrderBook("BTC/USD");
  calls.push("fetchOrderBook");
  expect(book.asks[0].slice(0, 2)).toEqual([64000, 0.01]);
  expect(book.bids[0].slice(0, 2)).toEqual([63000, 0.002]);
  const books = await makerEx.fetchOrderBooks(["BTC/USD", "ETH/BTC"]);
  calls.push("fetchOrderBooks");
  expect(books["BTC/USD"].asks[0][0]).toBe(64000);
  expect(books["ETH/BTC"].asks).toEqual([]);

  // The taker buys at market: trades against the ask at 64000.
  const marketBuy = await takerEx.createOrder("BTC/USD", "market", "buy", 0.004);
  calls.push("createOrder(market)");
  expect(marketBuy.id).toBeDefined();
  const myTrades = await takerEx.fetchMyTrades("BTC/USD");
  calls.push("fetchMyTrades");
  expect(myTrades).toHaveLength(1);
  expect(myTrades[0]).toMatchObject({
    side: "buy",
    price: 64000,
    amount: 0.004,
    cost: 256,
    takerOrMaker: "taker",
  });
  expect(myTrades[0].fee).toMatchObject({ cost: 0.000012, currency: "BTC" });
  const storedFills = await fillsOfUser(harness.exchange.internals.store.db, taker.userId, {
    marketId: 1,
    offset: 0,
    limit: 10,
  });
  expect(storedFills.map((fill) => String(fill.tradeId))).toEqual(myTrades.map((trade) => trade.id));

  const balance = await takerEx.fetchBalance();
  calls.push("fetchBalance");
  expect(balance.BTC).toMatchObject(coreBalance(harness, taker.userId, "BTC"));
  expect(balance.USD).toMatchObject(coreBalance(harness, taker.userId, "USD"));
  expect(balance.BTC.free).toBe(10.003988);

  await sleep(CACHE_WAIT_MS);
  const ticker = await makerEx.fetchTicker("BTC/USD");
  calls.push("fetchTicker");
  expect(ticker).toMatchObject({ last: 64000, bid: 63000, ask: 64000, baseVolume: 0.004, quoteVolume: 256 });
  const tickers = await makerEx.fetchTickers();
  calls.push("fetchTickers");
  expect(Object.keys(tickers).sort()).toEqual(["BTC/USD", "BTC/USDT", "ETH/BTC", "ETH/USD"]);
  const trades = await makerEx.fetchTrades("BTC/USD");
  calls.push("fetchTrades");
  expect(trades.map((trade) => [trade.side, trade.price, trade.amount])).toEqual([["buy", 64000, 0.004]]);
  for (const timeframe of ["1m", "1h", "1d"]) {
    const candles = await makerEx.fetchOHLCV("BTC/USD", timeframe);
    expect(candles.at(-1)?.slice(1)).toEqual([64000, 64000, 64000, 64000, 0.004]);
  }
  calls.push("fetchOHLCV(1m, 1h, 1d)");

  // fetchOrder is emulated through order_trades: the partly filled ask.
  const fetched = await makerEx.fetchOrder(ask.id);
  calls.push("fetchOrder");
  expect(fetched).toMatchObject({ symbol: "BTC/USD", filled: 0.004, amount: 0.004 });
  const orderTrades = await makerEx.fetchOrderTrades(ask.id, "BTC/USD");
  calls.push("fetchOrderTrades");
  expect(orderTrades.map((trade) => [trade.takerOrMaker, trade.amount, trade.fee?.currency])).toEqual([
    ["maker", 0.004, "USD"],
  ]);
  // An order without fills is "not found" on order_trades, as on EXMO.
  await expectRejects(makerEx.fetchOrder(bid.id), ccxt.OrderNotFound);

  // Market by cost, then a market sell into the bid.
  const byCost = await takerEx.createMarketBuyOrderWithCost("BTC/USD", 64);
  calls.push("createMarketBuyOrderWithCost");
  expect(byCost.id).toBeDefined();
  await takerEx.createOrder("BTC/USD", "market", "sell", 0.001);
  const afterSell = await takerEx.fetchMyTrades("BTC/USD");
  expect(afterSell.map((trade) => [trade.side, trade.price, trade.amount])).toEqual([
    ["buy", 64000, 0.004],
    ["buy", 64000, 0.001],
    ["sell", 63000, 0.001],
  ]);

  // Stop-market order: created, listed with its trigger, cancelled with {trigger: true}.
  const stopOrder = await makerEx.createOrder("BTC/USD", "market", "sell", 0.001, undefined, {
    triggerPrice: 60000,
  });
  calls.push("createOrder(triggerPrice)");
  const stop = { id: idOf(stopOrder) };
  const withStop = await makerEx.fetchOpenOrders();
  expect(withStop.find((order) => order.id === stop.id)?.info).toMatchObject({
    type: "stop_market_sell",
    trigger_price: "60000",
    quantity: "0.001",
  });
  await makerEx.cancelOrder(stop.id, "BTC/USD", { trigger: true });
  calls.push("cancelOrder({trigger: true})");
  await makerEx.cancelOrder(bid.id);
  calls.push("cancelOrder");
  const stillOpen = await makerEx.fetchOpenOrders();
  expect(stillOpen.map((order) => order.id)).toEqual([ask.id]);
  expect(stillOpen[0].amount).toBe(0.005);
  const cancelled = await makerEx.fetchCanceledOrders();
  calls.push("fetchCanceledOrders");
  expect(cancelled.map((order) => `${order.id}:${order.status}`).sort()).toEqual(
    [`${bid.id}:canceled`, `${stop.id}:canceled`].sort(),
  );

  // Errors land in the ccxt classes EXMO's codes promise.
  await expectRejects(makerEx.createOrder("BTC/USD", "limit", "buy", 999, 64000), ccxt.InsufficientFunds);
  await expectRejects(makerEx.cancelOrder("999999"), ccxt.OrderNotFound);
  await expectRejects(makerEx.cancelOrder(bid.id), ccxt.OrderNotFound);
  calls.push("errors: InsufficientFunds, OrderNotFound");

  if (!options.full) return { calls };

  const currencies = await makerEx.fetchCurrencies();
  calls.push("fetchCurrencies");
  expect(Object.keys(currencies).sort()).toEqual(["BTC", "ETH", "USD", "USDT"]);
  const publicFees = await makerEx.fetchTradingFees({ method: "fetchPublicTradingFees" });
  calls.push("fetchTradingFees");
  expect(publicFees["BTC/USD"]).toMatchObject({ maker: 0.002, taker: 0.003 });
  const transferFees = await makerEx.fetchDepositWithdrawFees();
  calls.push("fetchDepositWithdrawFees");
  expect(Object.keys(transferFees).sort()).toEqual(["BTC", "ETH", "USD", "USDT"]);
  await expectRejects(makerEx.fetchDepositAddress("BTC"), ccxt.ExchangeError);
  calls.push("fetchDepositAddress (custody not available)");

  // Authentication failures: a wrong secret, then a nonce that does not increase.
  const forged = ccxtExmo(harness, { ...maker, secret: `S-${"0".repeat(64)}` });
  forged.markets = makerEx.markets;
  await expectRejects(forged.fetchBalance(), ccxt.AuthenticationError);
  const stale = ccxtExmo(harness, maker);
  stale.markets = makerEx.markets;
  stale.nonce = () => 1;
  await expectRejects(stale.fetchBalance(), ccxt.InvalidNonce);
  calls.push("errors: AuthenticationError, InvalidNonce");
  // The failures changed nothing: the real client still works with its next nonce.
  expect((await makerEx.fetchBalance()).USD).toMatchObject(coreBalance(harness, maker.userId, "USD"));
  return { calls };
}

// The Binance Spot API v3 public slice (src/gateway/binance/): a stock, current ccxt `binance`
// (4.5.84, the `ccxt-current` dev dependency) pointed at a real gateway, spot-only and with its
// default options (which also load futures markets), plus raw HTTP for Binance's error shapes.

import ccxt from "ccxt-current";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  binanceRestUrls,
  createTrader,
  type Harness,
  publicGet,
  signedPost,
  startHarness,
  type Trader,
} from "../support/rest-harness.ts";

let harness: Harness;
let maker: Trader;
let taker: Trader;

function binanceClient(options: Record<string, unknown>) {
  const base = harness.baseUrl;
  return new ccxt.binance({
    rateLimit: 5,
    options,
    urls: {
      api: binanceRestUrls(base),
    },
  });
}

async function place(trader: Trader, type: "buy" | "sell", price: string, quantity: string) {
  const answer = await signedPost(harness, trader, "order_create", {
    pair: "BTC_USD",
    quantity,
    price,
    type,
  });
  expect((answer.body as { result: boolean }).result).toBe(true);
}

beforeAll(async () => {
  harness = await startHarness();
  maker = await createTrader(harness, { funds: { USD: "100000", BTC: "10" } });
  taker = await createTrader(harness, { funds: { USD: "100000", BTC: "10" } });
  // Two trades (one each way) and a resting book on both sides.
  await place(maker, "sell", "50000", "0.01");
  await place(taker, "buy", "50000", "0.004");
  await place(maker, "buy", "49000", "0.02");
  await place(taker, "sell", "49000", "0.005");
  await place(maker, "buy", "48000.5", "0.1");
  await place(maker, "sell", "51000", "0.2");
  // Market data projects asynchronously: wait until the trades are visible.
  for (let attempt = 0; attempt < 100; attempt++) {
    const trades = harness.exchange.marketData.trades(1, 0) ?? [];
    if (trades.length >= 2) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
});

afterAll(async () => {
  await harness?.close();
});

describe("ccxt binance, spot only", () => {
  it("loads markets with Bulwark's precision and limits", async () => {
    const client = binanceClient({ defaultType: "spot", fetchMarkets: { types: ["spot"] } });
    const markets = await client.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual(["BTC/USD", "BTC/USDT", "ETH/BTC", "ETH/USD"]);
    const btc = markets["BTC/USD"];
    expect(btc?.id).toBe("BTCUSD");
    expect(btc?.spot).toBe(true);
    expect(btc?.active).toBe(true);
    expect(btc?.precision.price).toBe(0.01);
    expect(btc?.precision.amount).toBe(0.0001);
    expect(btc?.limits.price).toEqual({ min: 1, max: 1_000_000 });
    expect(btc?.limits.amount?.min).toBe(0.0001);
    expect(btc?.limits.amount?.max).toBe(1000);
    expect(btc?.limits.cost?.min).toBe(1);
  });

  it("fetches tickers, the book, trades and candles", async () => {
    const client = binanceClient({ defaultType: "spot", fetchMarkets: { types: ["spot"] } });
    const ticker = await client.fetchTicker("BTC/USD");
    expect(ticker.last).toBe(49000);
    expect(ticker.open).toBe(50000);
    expect(ticker.high).toBe(50000);
    expect(ticker.low).toBe(49000);
    expect(ticker.bid).toBe(49000);
    expect(ticker.bidVolume).toBe(0.015);
    expect(ticker.ask).toBe(50000);
    expect(ticker.askVolume).toBe(0.006);
    expect(ticker.baseVolume).toBe(0.009);
    expect(ticker.quoteVolume).toBe(445);
    expect(ticker.percentage).toBe(-2);
    const tickers = await client.fetchTickers(["BTC/USD", "ETH/USD"]);
    expect(Object.keys(tickers).sort()).toEqual(["BTC/USD", "ETH/USD"]);
    const book = await client.fetchOrderBook("BTC/USD", 5);
    expect(book.bids).toEqual([
      [49000, 0.015],
      [48000.5, 0.1],
    ]);
    expect(book.asks).toEqual([
      [50000, 0.006],
      [51000, 0.2],
    ]);
    expect(book.nonce).toBeGreaterThan(0);
    const trades = await client.fetchTrades("BTC/USD");
    expect(trades.map((trade) => [trade.side, trade.price, trade.amount, trade.cost])).toEqual([
      ["buy", 50000, 0.004, 200],
      ["sell", 49000, 0.005, 245],
    ]);
    const candles = await client.fetchOHLCV("BTC/USD", "1m");
    expect(candles.length).toBeGreaterThanOrEqual(1);
    const total = candles.reduce((sum, candle) => sum + (candle[5] ?? 0), 0);
    expect(total).toBeCloseTo(0.009, 10);
    expect(Math.max(...candles.map((candle) => candle[2] ?? 0))).toBe(50000);
    // 3m is derived from minute candles: the same trades, one bucket per 3 minutes.
    const derived = await client.fetchOHLCV("BTC/USD", "3m");
    expect(derived.reduce((sum, candle) => sum + (candle[5] ?? 0), 0)).toBeCloseTo(0.009, 10);
    for (const candle of derived) expect((candle[0] ?? 1) % 180_000).toBe(0);
    // From a start time (startTime): the same candles, oldest first; after the last one, none.
    const since = await client.fetchOHLCV("BTC/USD", "1m", candles[0]?.[0]);
    expect(since).toEqual(candles);
    expect(await client.fetchOHLCV("BTC/USD", "1h", Date.now() + 3_600_000)).toEqual([]);
  });
});

describe("ccxt binance, default options", () => {
  it("loads spot markets; the futures exchangeInfo it also asks for is empty", async () => {
    const client = binanceClient({});
    const markets = await client.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual(["BTC/USD", "BTC/USDT", "ETH/BTC", "ETH/USD"]);
    const ticker = await client.fetchTicker("BTC/USD");
    expect(ticker.last).toBe(49000);
  });
});

describe("raw HTTP", () => {
  it("answers ping, time and exchangeInfo filters computed from the config", async () => {
    expect((await publicGet(harness, "/api/v3/ping")).body).toEqual({});
    const time = (await publicGet(harness, "/api/v3/time")).body as { serverTime: number };
    expect(Math.abs(time.serverTime - Date.now())).toBeLessThan(5_000);
    const info = await publicGet(harness, "/api/v3/exchangeInfo?symbol=ETHUSD");
    expect(info.status).toBe(200);
    const symbols = (info.body as { symbols: { symbol: string; status: string; filters: unknown[] }[] })
      .symbols;
    expect(symbols.map((row) => row.symbol)).toEqual(["ETHUSD"]);
    expect(symbols[0]?.status).toBe("TRADING");
    expect(symbols[0]?.filters).toEqual([
      { filterType: "PRICE_FILTER", minPrice: "1", maxPrice: "100000", tickSize: "0.01" },
      { filterType: "LOT_SIZE", minQty: "0.001", maxQty: "10000", stepSize: "0.001" },
      { filterType: "MARKET_LOT_SIZE", minQty: "0.001", maxQty: "10000", stepSize: "0.001" },
      {
        filterType: "NOTIONAL",
        minNotional: "1",
        applyMinToMarket: true,
        maxNotional: "1000000000",
        applyMaxToMarket: true,
        avgPriceMins: 5,
      },
    ]);
    const two = await publicGet(
      harness,
      `/api/v3/exchangeInfo?symbols=${encodeURIComponent('["BTCUSD","ETHBTC"]')}`,
    );
    expect((two.body as { symbols: { symbol: string }[] }).symbols.map((row) => row.symbol)).toEqual([
      "BTCUSD",
      "ETHBTC",
    ]);
  });

  it("answers bookTicker, price and avgPrice", async () => {
    expect((await publicGet(harness, "/api/v3/ticker/bookTicker?symbol=BTCUSD")).body).toEqual({
      symbol: "BTCUSD",
      bidPrice: "49000",
      bidQty: "0.015",
      askPrice: "50000",
      askQty: "0.006",
    });
    expect((await publicGet(harness, "/api/v3/ticker/price?symbol=BTCUSD")).body).toEqual({
      symbol: "BTCUSD",
      price: "49000",
    });
    // (200 + 245) USD / 0.009 BTC = 49444.4444… rounded down at 4 extra decimals.
    const avg = (await publicGet(harness, "/api/v3/avgPrice?symbol=BTCUSD")).body as {
      mins: number;
      price: string;
    };
    expect(avg).toMatchObject({ mins: 5, price: "49444.444444" });
  });

  it("refuses bad input with Binance's codes and HTTP 400", async () => {
    const cases: [string, number, string][] = [
      ["/api/v3/depth?symbol=DOGEUSD", -1121, "Invalid symbol."],
      ["/api/v3/depth", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."],
      [
        "/api/v3/depth?symbol=BTCUSD&limit=0",
        -1100,
        "Illegal characters found in parameter 'limit'; legal range is '1..5000'.",
      ],
      [
        "/api/v3/depth?symbol=BTCUSD&limit=abc",
        -1100,
        "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,16}$'.",
      ],
      [
        "/api/v3/trades?symbol=BTCUSD&limit=1001",
        -1100,
        "Illegal characters found in parameter 'limit'; legal range is '1..1000'.",
      ],
      ["/api/v3/klines?symbol=BTCUSD&interval=1s", -1120, "Invalid interval."],
      ["/api/v3/klines?symbol=BTCUSD&interval=7m", -1120, "Invalid interval."],
      [
        "/api/v3/klines?symbol=BTCUSD",
        -1102,
        "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
      ],
      [
        "/api/v3/exchangeInfo?symbol=btcusd",
        -1100,
        "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
      ],
      [`/api/v3/exchangeInfo?symbols=${encodeURIComponent('["BTCUSD","NOPE"]')}`, -1121, "Invalid symbol."],
      [
        "/api/v3/exchangeInfo?symbols=BTCUSD",
        -1100,
        expect.stringContaining("parameter 'symbols'") as unknown as string,
      ],
      [
        "/api/v3/ticker/price?symbol=BTCUSD&symbol=ETHUSD",
        -1101,
        "Duplicate values for a parameter detected.",
      ],
      [
        "/api/v3/ticker/24hr?type=HUGE",
        -1100,
        "Illegal characters found in parameter 'type'; legal range is 'FULL|MINI'.",
      ],
    ];
    for (const [path, code, msg] of cases) {
      const answer = await publicGet(harness, path);
      expect({ path, status: answer.status, body: answer.body }).toEqual({
        path,
        status: 400,
        body: { code, msg },
      });
    }
    const oversized = `/api/v3/exchangeInfo?symbols=${encodeURIComponent(JSON.stringify(Array.from({ length: 101 }, () => "BTCUSD")))}`;
    expect((await publicGet(harness, oversized)).body).toEqual({
      code: -1101,
      msg: "Too many parameters sent for this endpoint.",
    });
    const unknown = await publicGet(harness, "/api/v3/noSuchEndpoint");
    expect(unknown.status).toBe(404);
    expect((unknown.body as { code: number }).code).toBe(-1000);
    // Nothing changed: the book is as it was.
    expect((await publicGet(harness, "/api/v3/depth?symbol=BTCUSD&limit=1")).body).toMatchObject({
      bids: [["49000", "0.015"]],
      asks: [["50000", "0.006"]],
    });
  });
});

describe("suspended markets", () => {
  it("are listed with status BREAK", async () => {
    const result = await harness.exchange.submit({
      kind: "setMarketStatus",
      marketId: 3,
      status: "suspended",
    });
    await harness.exchange.whenProjected(result.sequence);
    // The answer cache keeps an answer 100 ms: ask with a parameter set not asked before.
    const info = await publicGet(harness, `/api/v3/exchangeInfo?symbols=${encodeURIComponent('["ETHBTC"]')}`);
    expect((info.body as { symbols: { status: string }[] }).symbols[0]?.status).toBe("BREAK");
  });
});

describe("degraded mode", () => {
  it("serves cached answers only; a new one is refused with -1008 and 503", async () => {
    await publicGet(harness, "/api/v3/ticker/price?symbol=ETHUSD");
    harness.gateway.guardControl.setDegraded({ on: true, actor: "test" });
    try {
      expect((await publicGet(harness, "/api/v3/ticker/price?symbol=ETHUSD")).status).toBe(200);
      const refused = await publicGet(harness, "/api/v3/ticker/price?symbol=BTCUSDT");
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ code: -1008 });
      expect((await publicGet(harness, "/api/v3/time")).status).toBe(200);
    } finally {
      harness.gateway.guardControl.setDegraded({ on: false, actor: "test" });
    }
  });
});

describe("rate limit", () => {
  it("refuses past the budget with Binance's -1003 and HTTP 429", async () => {
    const limited = await startHarness({
      rateLimit: { requestsPerSecond: 1, burst: 2, cancel: { requestsPerSecond: 10, burst: 20 } },
    });
    try {
      const answers = [];
      for (let index = 0; index < 4; index++) answers.push(await publicGet(limited, "/api/v3/ping"));
      const refused = answers.at(-1);
      expect(refused?.status).toBe(429);
      expect(refused?.body).toMatchObject({ code: -1003 });
      const raw = await fetch(`${limited.baseUrl}/api/v3/time`);
      expect(raw.status).toBe(429);
      expect(Number(raw.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await raw.json()).toMatchObject({ code: -1003 });
    } finally {
      await limited.close();
    }
  });
});

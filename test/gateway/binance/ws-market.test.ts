// Binance market streams (src/gateway/binance/ws/) on the gateway's HTTP server: a stock ccxt
// 4.5.84 `pro.binance` (the `ccxt-current` dev dependency) syncing its books against REST depth,
// and raw `ws` sockets for Binance's frames, errors and bounds. One server; update speeds are
// shortened (fast 20 ms, slow 60 ms) so the suite stays fast.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import ccxt from "ccxt-current";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { UnstampedCommand } from "../../../src/core/commands.ts";
import {
  BinanceStreamConnection,
  DEFAULT_BINANCE_STREAM_LIMITS,
} from "../../../src/gateway/binance/ws/connection.ts";
import type { MarketStreams } from "../../../src/gateway/binance/ws/market-streams.ts";
import { intervalBounds } from "../../../src/gateway/binance/ws/payloads.ts";
import type { BinanceUserDataSockets } from "../../../src/gateway/binance/ws/user-data-port.ts";
import { resolveWsLimits } from "../../../src/gateway/ws/limits.ts";
import { attachWebSocket, type WebSocketGateway } from "../../../src/gateway/ws/server.ts";
import { limitOrder } from "../../support/orders.ts";
import { createTrader, type Harness, startHarness, type Trader } from "../support/rest-harness.ts";

const MAX_STREAMS = 8;
/** Above Binance's 5/s so one test may send its frames at once; the bound itself is tested below. */
const MAX_MESSAGES_PER_SECOND = 12;
let harness: Harness;
let webSocket: WebSocketGateway;
let wsBase: string;
let maker: Trader;
let taker: Trader;
const degraded = { isDegraded: false };
const clients: InstanceType<typeof ccxt.pro.binance>[] = [];
const sockets: WebSocket[] = [];

async function submit(command: UnstampedCommand) {
  const result = await harness.exchange.submit(command);
  const rejected = result.events.find((event) => event.type === "rejected");
  if (rejected !== undefined) throw new Error(`rejected: ${JSON.stringify(rejected)}`);
  return result;
}

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("never reached the expected state");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function proClient(): Promise<InstanceType<typeof ccxt.pro.binance>> {
  const base = harness.baseUrl;
  const client = new ccxt.pro.binance({
    rateLimit: 5,
    options: { defaultType: "spot", fetchMarkets: { types: ["spot"] } },
    urls: {
      api: {
        public: `${base}/api/v3`,
        private: `${base}/api/v3`,
        v1: `${base}/api/v1`,
        sapi: `${base}/sapi/v1`,
        ws: { spot: `${wsBase}/ws`, margin: `${wsBase}/ws`, "ws-api": { spot: `${wsBase}/ws-api/v3` } },
      },
    },
  });
  await client.loadHttpProxyAgent();
  await client.loadMarkets();
  clients.push(client);
  return client;
}

/** A raw socket collecting parsed frames. */
interface Raw {
  socket: WebSocket;
  frames: unknown[];
  closed: Promise<number>;
  send(frame: unknown): void;
  /** Resolves with the first frame (from `from` on) that `match` accepts. */
  next(match: (frame: Record<string, unknown>) => boolean, from?: number): Promise<Record<string, unknown>>;
}

async function raw(path: string): Promise<Raw> {
  const socket = new WebSocket(`${wsBase}${path}`);
  sockets.push(socket);
  const frames: unknown[] = [];
  socket.on("message", (data) => frames.push(JSON.parse(String(data))));
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return {
    socket,
    frames,
    closed,
    send: (frame) => socket.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    async next(match, from = 0) {
      let found: Record<string, unknown> | undefined;
      await until(() => {
        found = frames.slice(from).find((frame) => match(frame as Record<string, unknown>)) as
          | Record<string, unknown>
          | undefined;
        return found !== undefined;
      });
      return found!;
    },
  };
}

const answer = (id: unknown) => (frame: Record<string, unknown>) => frame.id === id;

/** The core's BTC_USD book (market 1) as decimal strings, best first. */
function coreBook(): { bids: string[][]; asks: string[][]; sequence: number } {
  const market = harness.exchange.market(1)!;
  const book = harness.exchange.marketData.orderBook(1, 1_000, 0)!;
  const levels = (side: typeof book.bids) =>
    side.map((level) => [
      market.units.formatPrice(level.priceTicks),
      market.units.formatQuantity(level.quantityLots),
    ]);
  return { bids: levels(book.bids), asks: levels(book.asks), sequence: book.updateSequence };
}

beforeAll(async () => {
  harness = await startHarness();
  webSocket = attachWebSocket(harness.gateway.server, harness.exchange, {
    secretBox: harness.secretBox,
    logger: pino({ level: "silent" }),
    guardControl: degraded,
    binanceStreams: {
      fastMs: 20,
      slowMs: 60,
      maxStreamsPerConnection: MAX_STREAMS,
      maxInboundMessagesPerSecond: MAX_MESSAGES_PER_SECOND,
    },
  });
  wsBase = harness.baseUrl.replace("http://", "ws://");
  maker = await createTrader(harness, { funds: { USD: "1000000", BTC: "100" } });
  taker = await createTrader(harness, { funds: { USD: "1000000", BTC: "100" } });
  // BTC_USD: ticks of 0.01 USD, lots of 0.0001 BTC. A trade, then a book on both sides.
  await submit(limitOrder(maker.userId, "sell", 5_000_000, 100));
  await submit(limitOrder(taker.userId, "buy", 5_000_000, 40));
  await submit(limitOrder(maker.userId, "buy", 4_900_000, 200));
  await submit(limitOrder(maker.userId, "buy", 4_800_050, 1_000));
  await submit(limitOrder(maker.userId, "sell", 5_100_000, 2_000));
});

afterAll(async () => {
  for (const client of clients) await client.close();
  for (const socket of sockets) socket.terminate();
  await webSocket?.close();
  await harness?.close();
});

describe("ccxt pro.binance 4.5.84 against the market streams", () => {
  it("watchOrderBook syncs against REST depth and follows the core's book; watchTrades, watchTicker, watchOHLCV, watchBidsAsks", async () => {
    const client = await proClient();
    const book = await client.watchOrderBook("BTC/USD");
    expect(book.bids[0]).toEqual([49000, 0.02]);
    expect(book.asks[0]).toEqual([50000, 0.006]);

    const tradesPromise = client.watchTrades("BTC/USD");
    const bidsAsksPromise = client.watchBidsAsks(["BTC/USD"]);
    const bidsAsks = await bidsAsksPromise;
    expect(bidsAsks["BTC/USD"]).toMatchObject({ bid: 49000, bidVolume: 0.02, ask: 50000, askVolume: 0.006 });
    // Let the trade subscription reach the server before trading.
    await until(() => webSocket.connectionCount >= 3);
    await new Promise((resolve) => setTimeout(resolve, 30));

    // More orders: a taker sweeping the best ask and resting the rest, new levels, a cancel-free change.
    const taken = await submit(limitOrder(taker.userId, "buy", 5_000_000, 100));
    await submit(limitOrder(maker.userId, "sell", 5_050_000, 70));
    await submit(limitOrder(taker.userId, "sell", 4_900_000, 50));
    const trades = await tradesPromise;
    const trade = taken.events.find((event) => event.type === "trade");
    if (trade?.type !== "trade") throw new Error("expected a trade");
    expect(trades[0]).toMatchObject({
      id: String(trade.tradeId),
      symbol: "BTC/USD",
      side: "buy",
      price: 50000,
      amount: 0.006,
    });

    // The synced book ends exactly at the core's book, at the core's update sequence.
    const core = coreBook();
    const ours = client.orderbooks["BTC/USD"];
    await until(() => ours.nonce === core.sequence);
    const asText = (levels: number[][]) =>
      levels.map(([price, amount]) => [
        harness.exchange.market(1)!.units.formatPrice(Math.round(price! * 100)),
        harness.exchange.market(1)!.units.formatQuantity(Math.round(amount! * 10_000)),
      ]);
    expect(asText(ours.bids as number[][])).toEqual(core.bids);
    expect(asText(ours.asks as number[][])).toEqual(core.asks);

    // ccxt's watchTicker reads <s>@miniTicker by default; name "ticker" reads the full <s>@ticker.
    const mini = await client.watchTicker("BTC/USD");
    expect(mini).toMatchObject({ symbol: "BTC/USD", last: 49000, open: 50000, high: 50000, low: 49000 });
    expect(mini.baseVolume).toBeCloseTo(0.015, 10);
    const tickers = await client.watchTickers(["BTC/USD"], { name: "ticker" });
    expect(tickers["BTC/USD"]).toMatchObject({ last: 49000, bid: 49000, ask: 50500, previousClose: 0 });
    const candles = await client.watchOHLCV("BTC/USD", "1m");
    expect(candles.at(-1)?.[4]).toBe(49000);
  });
});

describe("raw sockets", () => {
  it("answers SUBSCRIBE, LIST_SUBSCRIPTIONS, UNSUBSCRIBE and the combined property", async () => {
    const socket = await raw("/ws");
    socket.send({ method: "SUBSCRIBE", params: ["btcusd@trade", "btcusd@depth5@100ms"], id: 1 });
    expect(await socket.next(answer(1))).toEqual({ result: null, id: 1 });
    const partial = await socket.next((frame) => "lastUpdateId" in frame);
    expect(partial).toMatchObject({ bids: expect.any(Array), asks: expect.any(Array) });
    expect((partial.bids as unknown[]).length).toBeLessThanOrEqual(5);
    socket.send({ method: "LIST_SUBSCRIPTIONS", id: 2 });
    expect(await socket.next(answer(2))).toEqual({ result: ["btcusd@trade", "btcusd@depth5@100ms"], id: 2 });
    socket.send({ method: "UNSUBSCRIBE", params: ["btcusd@depth5@100ms"], id: 3 });
    expect(await socket.next(answer(3))).toEqual({ result: null, id: 3 });
    socket.send({ method: "GET_PROPERTY", params: ["combined"], id: 4 });
    expect(await socket.next(answer(4))).toEqual({ result: false, id: 4 });
    socket.send({ method: "SET_PROPERTY", params: ["combined", true], id: 5 });
    expect(await socket.next(answer(5))).toEqual({ result: null, id: 5 });
    socket.send({ method: "LIST_SUBSCRIPTIONS", id: "six" });
    expect(await socket.next(answer("six"))).toEqual({ result: ["btcusd@trade"], id: "six" });
    const from = socket.frames.length;
    await submit(limitOrder(taker.userId, "buy", 5_050_000, 10));
    const wrapped = await socket.next((frame) => frame.stream === "btcusd@trade", from);
    expect(wrapped.data).toMatchObject({
      e: "trade",
      s: "BTCUSD",
      p: "50500",
      q: "0.001",
      m: false,
      M: true,
    });
  });

  it("wraps combined streams named in the URL and keeps U = previous u + 1 on diff depth", async () => {
    const socket = await raw("/stream?streams=btcusd@depth@100ms/btcusd@aggTrade");
    await new Promise((resolve) => setTimeout(resolve, 30));
    for (let step = 0; step < 6; step++) {
      await submit(limitOrder(maker.userId, "buy", 4_700_000 + step, 10));
      if (step % 2 === 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await submit(limitOrder(taker.userId, "sell", 4_700_005, 10));
    const core = coreBook();
    await socket.next((frame) => (frame.data as { u?: number } | undefined)?.u === core.sequence);
    const diffs = socket.frames
      .map((frame) => frame as { stream: string; data: { e: string; U: number; u: number } })
      .filter((frame) => frame.stream === "btcusd@depth@100ms")
      .map((frame) => frame.data);
    expect(diffs.length).toBeGreaterThan(1);
    for (let index = 1; index < diffs.length; index++) expect(diffs[index]!.U).toBe(diffs[index - 1]!.u + 1);
    expect(diffs[0]).toMatchObject({ e: "depthUpdate", s: "BTCUSD" });
    const agg = await socket.next((frame) => frame.stream === "btcusd@aggTrade");
    expect(agg.data).toMatchObject({ e: "aggTrade", p: "49000", q: "0.001", m: true });
  });

  it("a client doing Binance's documented sync (buffer diffs, REST depth, drop u <= lastUpdateId) ends with the core's book", async () => {
    const socket = await raw("/ws/btcusd@depth");
    // Orders in flight while the client subscribes and reads REST depth; several share a batch.
    const flow = (offset: number) =>
      Promise.all(
        Array.from({ length: 12 }, (_, index) =>
          submit(
            limitOrder(
              index % 3 === 0 ? taker.userId : maker.userId,
              index % 2 === 0 ? "buy" : "sell",
              4_900_000 + 50_000 * (index % 4) + offset,
              5 + index,
            ),
          ),
        ),
      );
    const first = flow(1);
    const rest = await fetch(`${harness.baseUrl}/api/v3/depth?symbol=BTCUSD&limit=1000`);
    const snapshot = (await rest.json()) as { lastUpdateId: number; bids: string[][]; asks: string[][] };
    await first;
    await flow(2);
    const core = coreBook();
    await socket.next((frame) => frame.u === core.sequence);
    const bids = new Map(snapshot.bids.map(([price, quantity]) => [price!, quantity!]));
    const asks = new Map(snapshot.asks.map(([price, quantity]) => [price!, quantity!]));
    let last = snapshot.lastUpdateId;
    let synced = false;
    for (const frame of socket.frames as { U: number; u: number; b: string[][]; a: string[][] }[]) {
      if (frame.u <= last) continue;
      // The first applied diff straddles lastUpdateId + 1; each later one starts where the previous ended.
      if (synced) expect(frame.U).toBe(last + 1);
      else expect(frame.U).toBeLessThanOrEqual(last + 1);
      synced = true;
      for (const [side, levels] of [
        [bids, frame.b],
        [asks, frame.a],
      ] as const)
        for (const [price, quantity] of levels)
          if (Number(quantity) === 0) side.delete(price!);
          else side.set(price!, quantity!);
      last = frame.u;
    }
    expect(last).toBe(core.sequence);
    const sorted = (side: Map<string, string>, descending: boolean) =>
      [...side].sort((left, right) => (descending ? -1 : 1) * (Number(left[0]) - Number(right[0])));
    expect(sorted(bids, true)).toEqual(core.bids);
    expect(sorted(asks, false)).toEqual(core.asks);
  });

  it("a new diff subscriber never sees REST depth older than its first diff (the REST cache is brought up to the feed)", async () => {
    const market = harness.exchange.marketBySymbol("ETH_BTC")!;
    const marketId = market.config.marketId;
    // ETH_BTC: tick 0.00001 BTC, lot 0.001 ETH; nobody streams it yet.
    await submit(limitOrder(maker.userId, "buy", 5_000, 100, { marketId }));
    const cached = harness.exchange.marketData.orderBook(marketId, 0, 100)!.updateSequence;
    await submit(limitOrder(maker.userId, "buy", 5_001, 100, { marketId }));
    const socket = await raw("/ws");
    socket.send({ method: "SUBSCRIBE", params: ["ethbtc@depth@100ms"], id: 1 });
    await socket.next(answer(1));
    // Within REST's cache age the answer would still be `cached` had the subscription not rebuilt it.
    expect(harness.exchange.marketData.orderBook(marketId, 0, 100)!.updateSequence).toBe(cached + 1);
  });

  it("refuses bad stream names and malformed frames with Binance's errors, subscribing nothing", async () => {
    const socket = await raw("/ws/0");
    socket.send({ method: "SUBSCRIBE", params: ["btcusd@trade", "nosuch@trade"], id: 1 });
    expect(await socket.next(answer(1))).toEqual({
      error: { code: 2, msg: "Invalid request: invalid stream" },
      id: 1,
    });
    socket.send({ method: "SUBSCRIBE", params: ["BTCUSD@trade", "btcusd@depth7", "btcusd@kline_1s"], id: 2 });
    expect(await socket.next(answer(2))).toMatchObject({ error: { code: 2 } });
    socket.send("{not json");
    expect(
      await socket.next((frame) => (frame.error as { code?: number } | undefined)?.code === 3),
    ).toMatchObject({
      id: null,
    });
    socket.send({ method: "SUBSCRIBE", params: "btcusd@trade", id: 3 });
    expect(await socket.next(answer(3))).toMatchObject({ error: { code: 2 } });
    socket.send({ method: "FETCH", id: 4 });
    expect(await socket.next(answer(4))).toMatchObject({ error: { code: 2 } });
    socket.send({ method: "SET_PROPERTY", params: ["speed", true], id: 5 });
    expect(await socket.next(answer(5))).toEqual({ error: { code: 0, msg: "Unknown property" }, id: 5 });
    socket.send({ method: "SET_PROPERTY", params: ["combined", "yes"], id: 6 });
    expect(await socket.next(answer(6))).toEqual({
      error: { code: 1, msg: "Invalid value type: expected Boolean" },
      id: 6,
    });
    socket.send({ method: "LIST_SUBSCRIPTIONS", id: 7 });
    expect(await socket.next(answer(7))).toEqual({ result: [], id: 7 });
  });

  it("bounds streams per connection and messages per second, closing a flooding socket", async () => {
    const socket = await raw("/ws/btcusd@trade");
    const names = ["btcusd@aggTrade", "btcusd@ticker", "btcusd@miniTicker", "btcusd@bookTicker"];
    names.push("btcusd@depth", "btcusd@depth10", "btcusd@kline_1m", "btcusd@kline_5m");
    socket.send({ method: "SUBSCRIBE", params: names, id: 1 });
    expect(await socket.next(answer(1))).toEqual({
      error: { code: 2, msg: "Invalid request: too many streams" },
      id: 1,
    });
    socket.send({ method: "LIST_SUBSCRIPTIONS", id: 2 });
    expect(await socket.next(answer(2))).toEqual({ result: ["btcusd@trade"], id: 2 });
    socket.send({ method: "SUBSCRIBE", params: names.slice(0, MAX_STREAMS - 1), id: 3 });
    expect(await socket.next(answer(3))).toEqual({ result: null, id: 3 });
    for (let index = 0; index < MAX_MESSAGES_PER_SECOND + 1; index++)
      socket.send({ method: "LIST_SUBSCRIPTIONS", id: 10 + index });
    expect(await socket.closed).toBe(1008);
  });

  it("closes a raw path that names no stream, refuses /ws-api/v3 without a user data side, and sheds in degraded mode", async () => {
    const bogus = await raw("/ws/btcusd@nonsense");
    expect(await bogus.next((frame) => "error" in frame)).toEqual({
      error: { code: 2, msg: "Invalid request: invalid stream" },
      id: null,
    });
    expect(await bogus.closed).toBe(1008);
    const status = (path: string) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(`${wsBase}${path}`);
        socket.on("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
        socket.on("open", () => {
          socket.terminate();
          resolve(101);
        });
        socket.on("error", () => undefined);
      });
    expect(await status("/ws-api/v3")).toBe(404);
    expect(await status("/wss")).toBe(404);
    degraded.isDegraded = true;
    try {
      expect(await status("/stream?streams=btcusd@trade")).toBe(503);
    } finally {
      degraded.isDegraded = false;
    }
    expect(await status("/stream?streams=btcusd@trade")).toBe(101);
  });
});

describe("more streams", () => {
  it("pushes klines, the all-market mini tickers and the best bid/ask to a new subscriber", async () => {
    const socket = await raw("/ws");
    socket.send({
      method: "SUBSCRIBE",
      params: ["btcusd@kline_1m", "!miniTicker@arr", "btcusd@bookTicker"],
      id: 1,
    });
    expect(await socket.next(answer(1))).toEqual({ result: null, id: 1 });
    const best = await socket.next((frame) => "u" in frame && frame.s === "BTCUSD");
    expect(best).toMatchObject({
      u: coreBook().sequence,
      b: coreBook().bids[0]![0],
      a: coreBook().asks[0]![0],
    });
    const kline = await socket.next((frame) => frame.e === "kline");
    const bounds = intervalBounds("1m", Date.now());
    expect(kline).toMatchObject({
      s: "BTCUSD",
      k: { i: "1m", s: "BTCUSD", t: bounds.openTimeMs, T: bounds.closeTimeMs, x: false },
    });
    const array = await socket.next((frame) => Array.isArray(frame));
    expect(array).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ e: "24hrMiniTicker", s: "BTCUSD", c: expect.any(String) }),
      ]),
    );
  });

  it("computes interval buckets as REST klines does (weeks from Monday, months from the 1st, 3d on the epoch grid)", () => {
    const wednesday = Date.UTC(2026, 10, 25, 13, 7, 9);
    expect(intervalBounds("1w", wednesday)).toEqual({
      openTimeMs: Date.UTC(2026, 10, 23),
      closeTimeMs: Date.UTC(2026, 10, 30) - 1,
    });
    expect(intervalBounds("1M", wednesday)).toEqual({
      openTimeMs: Date.UTC(2026, 10, 1),
      closeTimeMs: Date.UTC(2026, 11, 1) - 1,
    });
    const threeDaysMs = 3 * 86_400_000;
    expect(intervalBounds("3d", wednesday).openTimeMs % threeDaysMs).toBe(0);
    expect(intervalBounds("4h", wednesday)).toEqual({
      openTimeMs: Date.UTC(2026, 10, 25, 12),
      closeTimeMs: Date.UTC(2026, 10, 25, 16) - 1,
    });
  });

  it("hands /ws/<listenKey>, /stream?streams=<listenKey> and /ws-api/v3 to the user data side, and closes it", async () => {
    const opened: string[] = [];
    let closed = false;
    const userData: BinanceUserDataSockets = {
      isListenKey: (candidate) => candidate === "KEY123",
      openListenKeyStream: (socket, listenKey, clientAddress) => {
        opened.push(`stream:${listenKey}:${clientAddress}`);
        socket.close(1000, "test");
      },
      openWsApi: (socket, clientAddress) => {
        opened.push(`api:${clientAddress}`);
        socket.close(1000, "test");
      },
      close: async () => {
        closed = true;
      },
    };
    const server = createServer();
    const gateway = attachWebSocket(server, harness.exchange, {
      secretBox: harness.secretBox,
      binanceUserData: userData,
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const closeCode = (path: string) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(`${base}${path}`);
        socket.on("close", (code) => resolve(code));
        socket.on("error", () => undefined);
      });
    try {
      expect(await closeCode("/ws/KEY123")).toBe(1000);
      expect(await closeCode("/stream?streams=KEY123")).toBe(1000);
      expect(await closeCode("/ws-api/v3")).toBe(1000);
      // Not a live key and not a stream: Binance's error, then 1008.
      expect(await closeCode("/ws/KEY999")).toBe(1008);
      expect(opened).toEqual(["stream:KEY123:127.0.0.1", "stream:KEY123:127.0.0.1", "api:127.0.0.1"]);
    } finally {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(closed).toBe(true);
  });

  it("keeps only the newest latest-state payload while a socket is behind, and drops it past the byte cap", () => {
    const limits = resolveWsLimits({
      coalesceBufferedBytes: 100,
      maxBufferedBytes: 1_000,
      coalesceCheckIntervalMs: 1_000,
    });
    const sent: string[] = [];
    const socket = {
      readyState: 1,
      bufferedAmount: 0,
      terminated: false,
      send: (text: string) => sent.push(text),
    };
    const fakeSocket = {
      ...socket,
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      send: (text: string) => sent.push(text),
      terminate: () => {
        socket.terminated = true;
      },
      close: () => undefined,
    } as unknown as ConstructorParameters<typeof BinanceStreamConnection>[0];
    const streams = { subscribe: () => undefined, unsubscribe: () => undefined } as unknown as MarketStreams;
    const connection = new BinanceStreamConnection(fakeSocket, false, "test", {
      streams,
      lookup: (symbol) => (symbol === "btcusd" ? harness.exchange.market(1) : undefined),
      limits,
      streamLimits: DEFAULT_BINANCE_STREAM_LIMITS,
      clock: Date.now,
      monotonicMs: () => performance.now(),
    });
    connection.start(["btcusd@ticker", "btcusd@trade"]);
    connection.deliver("btcusd@ticker", '{"n":1}', true);
    socket.bufferedAmount = 500;
    connection.deliver("btcusd@ticker", '{"n":2}', true);
    connection.deliver("btcusd@ticker", '{"n":3}', true);
    connection.deliver("btcusd@trade", '{"t":1}', false);
    expect(sent).toEqual(['{"n":1}', '{"t":1}']);
    expect(connection.coalescing).toBe(true);
    socket.bufferedAmount = 2_000;
    connection.deliver("btcusd@trade", '{"t":2}', false);
    expect(socket.terminated).toBe(true);
    connection.deliver("btcusd@trade", '{"t":3}', false);
    expect(sent).toEqual(['{"n":1}', '{"t":1}', '{"t":2}']);
  });
});

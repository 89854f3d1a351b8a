// Binance user data streams (src/gateway/binance/user-data/): a stock ccxt 4.5.84 pro.binance
// watches balances, orders and its trades over /ws-api/v3 (userDataStream.subscribe.signature)
// while orders are placed through EXMO's REST; listen keys (POST/PUT/DELETE
// /api/v3/userDataStream) live and die as on Binance; a raw /ws/<listenKey> stream gets the bare
// executionReport and is ended when its key is deleted; a subscribe with a bad signature or a
// stale timestamp is refused and subscribes nothing.

import { EventEmitter } from "node:events";
import ccxt from "ccxt-current";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { signBinancePayload } from "../../../src/gateway/binance/auth.ts";
import {
  LISTEN_KEY_LIFETIME_MS,
  type ListenKeyEndReason,
  ListenKeyRegistry,
} from "../../../src/gateway/binance/user-data/listen-keys.ts";
import { BinanceUserData } from "../../../src/gateway/binance/user-data/sockets.ts";
import { attachWebSocket, type WebSocketGateway } from "../../../src/gateway/ws/server.ts";
import {
  binanceRestUrls,
  createTrader,
  type Harness,
  type RawResponse,
  readResponse,
  signedPost,
  startHarness,
  type Trader,
} from "../support/rest-harness.ts";

let harness: Harness;
let webSocket: WebSocketGateway;
let userData: BinanceUserData;
let buyer: Trader;
let seller: Trader;
let wsBase: string;

beforeAll(async () => {
  harness = await startHarness();
  userData = new BinanceUserData(harness.exchange, { secretBox: harness.secretBox });
  webSocket = attachWebSocket(harness.gateway.server, harness.exchange, {
    secretBox: harness.secretBox,
    binanceUserData: userData,
  });
  wsBase = harness.baseUrl.replace("http://", "ws://");
  [buyer, seller] = await Promise.all([
    createTrader(harness, { funds: { USD: "1000" } }),
    createTrader(harness, { funds: { BTC: "1" } }),
  ]);
});

afterAll(async () => {
  await webSocket?.close();
  await harness?.close();
});

async function userDataStream(
  method: "POST" | "PUT" | "DELETE",
  key: string | null,
  listenKey?: string,
): Promise<RawResponse> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (key !== null) headers["X-MBX-APIKEY"] = key;
  const body = listenKey === undefined ? undefined : `listenKey=${listenKey}`;
  return readResponse(
    await fetch(`${harness.baseUrl}/api/v3/userDataStream`, { method, headers, ...(body ? { body } : {}) }),
  );
}

async function placeExmo(trader: Trader, type: "buy" | "sell", quantity: string, price: string) {
  const placed = await signedPost(harness, trader, "order_create", {
    pair: "BTC_USD",
    quantity,
    price,
    type,
  });
  const body = placed.body as { result: boolean; order_id: number };
  expect(body.result).toBe(true);
  return body.order_id;
}

/** A socket whose frames are queued, so none is missed between awaits. */
async function openSocket(url: string) {
  const socket = new WebSocket(url);
  const frames: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  socket.on("message", (data) => {
    frames.push(JSON.parse(String(data)) as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  /** The first queued frame matching `match` (removed from the queue). */
  const next = async (match: (frame: Record<string, unknown>) => boolean, timeoutMs = 2_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = frames.findIndex(match);
      if (at >= 0) return frames.splice(at, 1)[0] as Record<string, unknown>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame; have ${JSON.stringify(frames)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  };
  return { socket, frames, next, closed };
}

function subscribeRequest(
  trader: Trader,
  id: string,
  options: { timestampMs?: number; secret?: string } = {},
) {
  const params: Record<string, string | number> = {
    apiKey: trader.keyId,
    timestamp: options.timestampMs ?? Date.now(),
  };
  const payload = Object.keys(params)
    .sort()
    .map((name) => `${name}=${params[name]}`)
    .join("&");
  return JSON.stringify({
    id,
    method: "userDataStream.subscribe.signature",
    params: { ...params, signature: signBinancePayload(options.secret ?? trader.secret, payload) },
  });
}

describe("ccxt pro.binance over /ws-api/v3", () => {
  it("watches the balance, orders and trades of orders placed through EXMO and Binance's REST", async () => {
    const base = harness.baseUrl;
    const pro = new ccxt.pro.binance({
      apiKey: buyer.keyId,
      secret: buyer.secret,
      rateLimit: 5,
      // Spot markets only and no wallet configuration: fewer requests before the test proper.
      options: { fetchMarkets: { types: ["spot"] }, fetchCurrencies: false },
      urls: {
        api: {
          ...binanceRestUrls(base),
          ws: { "ws-api": { spot: `${wsBase}/ws-api/v3` } },
        },
      },
    });
    try {
      // ccxt needs its http agent for plain ws:// (docs/API.md#ccxt-client).
      await pro.loadHttpProxyAgent();
      await pro.loadMarkets();
      const balanceSeen = pro.watchBalance();
      const ordersSeen = pro.watchOrders("BTC/USD");
      // The subscribe is answered before anything is placed.
      await pro.authenticate();
      const orderId = await placeExmo(buyer, "buy", "0.01", "40000");
      const balance = await balanceSeen;
      expect(balance.USD).toMatchObject({ free: 600, used: 400, total: 1000 });
      const [accepted] = await ordersSeen;
      expect(accepted).toMatchObject({
        id: String(orderId),
        clientOrderId: `bulwark-${orderId}`,
        symbol: "BTC/USD",
        type: "limit",
        timeInForce: "GTC",
        side: "buy",
        price: 40000,
        amount: 0.01,
        filled: 0,
        status: "open",
      });

      const tradesSeen = pro.watchMyTrades("BTC/USD");
      const filledSeen = pro.watchOrders("BTC/USD");
      await placeExmo(seller, "sell", "0.01", "40000");
      const [trade] = await tradesSeen;
      expect(trade).toMatchObject({
        order: String(orderId),
        symbol: "BTC/USD",
        side: "buy",
        takerOrMaker: "maker",
        price: 40000,
        amount: 0.01,
        cost: 400,
      });
      expect(trade?.fee?.currency).toBe("BTC");
      const orders = await filledSeen;
      expect(orders.at(-1)).toMatchObject({ id: String(orderId), status: "closed", filled: 0.01, cost: 400 });

      // Through Binance's REST: the stream names the order as REST does (client order id text).
      const restOrderSeen = pro.watchOrders("BTC/USD");
      const created = await pro.createOrder("BTC/USD", "limit", "buy", 0.01, 35000, {
        clientOrderId: "my-bot-1",
      });
      expect((await restOrderSeen).at(-1)).toMatchObject({
        id: created.id,
        clientOrderId: "my-bot-1",
        status: "open",
        price: 35000,
      });
      const cancelSeen = pro.watchOrders("BTC/USD");
      await pro.cancelOrder(String(created.id), "BTC/USD");
      expect((await cancelSeen).at(-1)).toMatchObject({
        id: created.id,
        clientOrderId: "my-bot-1",
        status: "canceled",
      });
    } finally {
      await pro.close();
    }
    // A watcher that never resolves fails in seconds, not at the suite's 120 s.
  }, 15_000);
});

describe("listen keys", () => {
  it("are created once per API key, kept alive, deleted, and unknown ones are -1125", async () => {
    const created = await userDataStream("POST", seller.keyId);
    expect(created.status).toBe(200);
    const listenKey = (created.body as { listenKey: string }).listenKey;
    expect(listenKey).toMatch(/^[A-Za-z0-9]{60}$/);
    // Binance: a POST while the key is active returns it.
    expect((await userDataStream("POST", seller.keyId)).body).toEqual({ listenKey });
    expect(await userDataStream("PUT", seller.keyId, listenKey)).toMatchObject({ status: 200, body: {} });
    // ccxt's own calls (form body) work too.
    const rest = new ccxt.binance({
      apiKey: seller.keyId,
      secret: seller.secret,
      urls: { api: { public: `${harness.baseUrl}/api/v3` } },
    });
    expect(await rest.publicPutUserDataStream({ listenKey })).toEqual({});
    // Another API key cannot touch it.
    const unknown = { code: -1125, msg: "This listenKey does not exist." };
    expect(await userDataStream("PUT", buyer.keyId, listenKey)).toMatchObject({ status: 400, body: unknown });
    expect(await userDataStream("DELETE", seller.keyId, listenKey)).toMatchObject({ status: 200, body: {} });
    expect(await userDataStream("PUT", seller.keyId, listenKey)).toMatchObject({
      status: 400,
      body: unknown,
    });
    expect(await userDataStream("DELETE", seller.keyId, "x".repeat(60))).toMatchObject({
      status: 400,
      body: unknown,
    });
    expect(userData.isListenKey(listenKey)).toBe(false);
  });

  it("refuse a missing or malformed key header (-2014) and an unknown key (-2015)", async () => {
    expect(await userDataStream("POST", null)).toMatchObject({
      status: 401,
      body: { code: -2014, msg: "API-key format invalid." },
    });
    expect(await userDataStream("POST", `${buyer.keyId.slice(0, -4)}0000`)).toMatchObject({
      status: 401,
      body: { code: -2015 },
    });
    expect(await userDataStream("PUT", buyer.keyId)).toMatchObject({ status: 400, body: { code: -1102 } });
  });

  it("open a raw /ws/<listenKey> stream that gets bare executionReports and ends with the key", async () => {
    const listenKey = ((await userDataStream("POST", buyer.keyId)).body as { listenKey: string }).listenKey;
    const stream = await openSocket(`${wsBase}/ws/${listenKey}`);
    // No wait for the stream's first read: events meanwhile are buffered and applied after it.
    const orderId = await placeExmo(buyer, "buy", "0.01", "39000");
    const report = await stream.next((frame) => frame.e === "executionReport");
    expect(report).toMatchObject({
      s: "BTCUSD",
      c: `bulwark-${orderId}`,
      S: "BUY",
      o: "LIMIT",
      f: "GTC",
      q: "0.01000000",
      p: "39000.00000000",
      x: "NEW",
      X: "NEW",
      i: orderId,
      l: "0.00000000",
      z: "0.00000000",
      t: -1,
      w: true,
      Z: "0.00000000",
    });
    expect(report).not.toHaveProperty("subscriptionId");
    const position = await stream.next((frame) => frame.e === "outboundAccountPosition");
    expect(position.B).toEqual([{ a: "USD", f: "210.00000000", l: "390.00000000" }]);
    // Cancelled through EXMO: CANCELED with the order's own id in C.
    const cancelled = await signedPost(harness, buyer, "order_cancel", { order_id: String(orderId) });
    expect((cancelled.body as { result: boolean }).result).toBe(true);
    expect(await stream.next((frame) => frame.e === "executionReport")).toMatchObject({
      x: "CANCELED",
      X: "CANCELED",
      C: `bulwark-${orderId}`,
      i: orderId,
    });
    expect(await userDataStream("DELETE", buyer.keyId, listenKey)).toMatchObject({ status: 200 });
    expect(await stream.next((frame) => frame.e === "listenKeyExpired")).toMatchObject({ listenKey });
    expect(await stream.closed).toBe(1000);
  });

  it("wrap a listen key's events as a combined stream at /stream?streams=<listenKey>", async () => {
    const listenKey = ((await userDataStream("POST", buyer.keyId)).body as { listenKey: string }).listenKey;
    const stream = await openSocket(`${wsBase}/stream?streams=${listenKey}`);
    const orderId = await placeExmo(buyer, "buy", "0.01", "38000");
    const wrapped = await stream.next((frame) => frame.stream === listenKey);
    expect(wrapped.data).toMatchObject({ e: "executionReport", i: orderId, x: "NEW" });
    await signedPost(harness, buyer, "order_cancel", { order_id: String(orderId) });
    expect(await userDataStream("DELETE", buyer.keyId, listenKey)).toMatchObject({ status: 200 });
    expect(await stream.closed).toBe(1000);
  });
});

describe("/ws-api/v3 requests", () => {
  it("refuse a bad signature or a stale timestamp and subscribe nothing", async () => {
    const api = await openSocket(`${wsBase}/ws-api/v3`);
    try {
      api.socket.send(subscribeRequest(buyer, "bad", { secret: "not-the-secret" }));
      expect(await api.next((frame) => frame.id === "bad")).toEqual({
        id: "bad",
        status: 400,
        error: { code: -1022, msg: "Signature for this request is not valid." },
      });
      api.socket.send(subscribeRequest(buyer, "stale", { timestampMs: Date.now() - 10_000 }));
      expect(await api.next((frame) => frame.id === "stale")).toMatchObject({
        status: 400,
        error: { code: -1021 },
      });
      api.socket.send(JSON.stringify({ id: 7, method: "session.subscriptions" }));
      expect(await api.next((frame) => frame.id === 7)).toEqual({ id: 7, status: 200, result: [] });
      api.socket.send(JSON.stringify({ id: 8, method: "time" }));
      expect(await api.next((frame) => frame.id === 8)).toMatchObject({
        status: 200,
        result: { serverTime: expect.any(Number) },
      });
      api.socket.send(JSON.stringify({ id: 9, method: "order.place", params: {} }));
      expect(await api.next((frame) => frame.id === 9)).toMatchObject({
        status: 400,
        error: { code: -1000 },
      });
      api.socket.send("not json");
      expect(await api.next((frame) => frame.id === null)).toMatchObject({ status: 400 });
      // Nothing reaches this socket when the buyer's balance changes.
      await placeExmo(buyer, "buy", "0.01", "30000");
      api.socket.send(JSON.stringify({ id: "last", method: "ping" }));
      expect(await api.next((frame) => frame.id === "last")).toEqual({ id: "last", status: 200, result: {} });
      expect(api.frames).toEqual([]);
    } finally {
      api.socket.close();
    }
  });

  it("wraps a subscription's events and unsubscribes", async () => {
    const api = await openSocket(`${wsBase}/ws-api/v3`);
    try {
      api.socket.send(subscribeRequest(seller, "sub"));
      expect(await api.next((frame) => frame.id === "sub")).toEqual({
        id: "sub",
        status: 200,
        result: { subscriptionId: 0 },
      });
      // A second subscribe for the same account names the same subscription.
      api.socket.send(subscribeRequest(seller, "again"));
      expect(await api.next((frame) => frame.id === "again")).toMatchObject({
        result: { subscriptionId: 0 },
      });
      const orderId = await placeExmo(seller, "sell", "0.05", "50000");
      const wrapped = await api.next((frame) => frame.subscriptionId === 0);
      expect(wrapped.event).toMatchObject({ e: "executionReport", x: "NEW", i: orderId, S: "SELL" });
      expect(await api.next((frame) => frame.subscriptionId === 0)).toMatchObject({
        event: { e: "outboundAccountPosition", B: [{ a: "BTC", f: "0.94000000", l: "0.05000000" }] },
      });
      api.socket.send(
        JSON.stringify({ id: "unsub", method: "userDataStream.unsubscribe", params: { subscriptionId: 0 } }),
      );
      expect(await api.next((frame) => frame.id === "unsub")).toEqual({
        id: "unsub",
        status: 200,
        result: {},
      });
      await signedPost(harness, seller, "order_cancel", { order_id: String(orderId) });
      api.socket.send(JSON.stringify({ id: "last", method: "ping" }));
      await api.next((frame) => frame.id === "last");
      expect(api.frames).toEqual([]);
    } finally {
      api.socket.close();
    }
  });

  it("ends a frozen user's streams: eventStreamTerminated on /ws-api/v3, listenKeyExpired on /ws/<listenKey>", async () => {
    const carol = await createTrader(harness, { funds: { USD: "10" } });
    const listenKey = ((await userDataStream("POST", carol.keyId)).body as { listenKey: string }).listenKey;
    const stream = await openSocket(`${wsBase}/ws/${listenKey}`);
    const api = await openSocket(`${wsBase}/ws-api/v3`);
    api.socket.send(subscribeRequest(carol, "sub"));
    expect(await api.next((frame) => frame.id === "sub")).toMatchObject({ result: { subscriptionId: 0 } });
    expect(await harness.exchange.accounts.setUserStatus(carol.userId, "frozen")).toBe(true);
    expect(await api.next((frame) => frame.subscriptionId === 0)).toMatchObject({
      event: { e: "eventStreamTerminated", E: expect.any(Number) },
    });
    expect(await stream.next((frame) => frame.e === "listenKeyExpired")).toMatchObject({ listenKey });
    expect(await stream.closed).toBe(1000);
    expect(userData.isListenKey(listenKey)).toBe(false);
    api.socket.send(JSON.stringify({ id: "subs", method: "session.subscriptions" }));
    expect(await api.next((frame) => frame.id === "subs")).toMatchObject({ result: [] });
    api.socket.close();
  });

  it("close a socket flooding past EXMO's message rate (after -1003 answers)", async () => {
    const api = await openSocket(`${wsBase}/ws-api/v3`);
    for (let index = 0; index < 40; index += 1)
      api.socket.send(JSON.stringify({ id: index, method: "ping" }));
    expect(await api.closed).toBe(1008);
    // A burst of 10 is served (more only if the bucket refilled meanwhile), the rest refused.
    const served = api.frames.filter((frame) => frame.status === 200).length;
    expect(served).toBeGreaterThanOrEqual(10);
    expect(served).toBeLessThan(20);
    expect(api.frames.some((frame) => (frame.error as { code?: number })?.code === -1003)).toBe(true);
  });
});

describe("bounds", () => {
  it("listen keys expire 60 minutes after their last keepalive, one per API key, at most the cap", () => {
    let nowMs = 1_000_000;
    const registry = new ListenKeyRegistry(() => nowMs, 2);
    const ended: [string, ListenKeyEndReason][] = [];
    registry.onEnd((entry, reason) => ended.push([entry.listenKey, reason]));
    const first = registry.create("key-a", 1);
    expect(registry.create("key-a", 1)).toBe(first);
    const second = registry.create("key-b", 2);
    expect(registry.create("key-c", 3)).toBeNull();
    nowMs += LISTEN_KEY_LIFETIME_MS - 1;
    expect(registry.keepAlive(first?.listenKey ?? "", "key-a")).toBe(true);
    nowMs += 1;
    registry.sweep();
    expect(ended).toEqual([[second?.listenKey, "expired"]]);
    expect(registry.get(first?.listenKey ?? "")).toBe(first);
    nowMs += LISTEN_KEY_LIFETIME_MS;
    expect(registry.get(first?.listenKey ?? "")).toBeUndefined();
    expect(registry.keepAlive(first?.listenKey ?? "", "key-a")).toBe(false);
    expect(registry.size).toBe(0);
  });

  it("terminate a socket whose unsent output passes the buffered-bytes cap", async () => {
    const slow = new BinanceUserData(harness.exchange, { secretBox: harness.secretBox });
    // A socket that never drains: what a client too slow to read looks like from here.
    const socket = Object.assign(new EventEmitter(), {
      readyState: 1,
      bufferedAmount: 5 * 1024 * 1024,
      sent: [] as string[],
      terminated: false,
      send(text: string) {
        this.sent.push(text);
      },
      terminate() {
        this.terminated = true;
      },
      close() {},
      ping() {},
    });
    try {
      slow.openWsApi(socket as unknown as WebSocket, "127.0.0.1");
      expect(slow.connectionCount).toBe(1);
      socket.emit("message", Buffer.from(JSON.stringify({ id: 1, method: "ping" })), false);
      await new Promise((resolve) => setImmediate(resolve));
      expect(socket.terminated).toBe(true);
      expect(socket.sent).toEqual([]);
      expect(slow.connectionCount).toBe(0);
    } finally {
      await slow.close();
    }
  });
});

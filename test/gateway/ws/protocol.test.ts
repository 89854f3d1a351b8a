// The EXMO v1 WebSocket protocol frame by frame with raw `ws` clients against a live gateway:
// every frame type, every limit and every kind of bad input (docs/SECURITY.md#bad-input: a clear error in the
// API's own format, and nothing changes).

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { UnstampedCommand } from "../../../src/core/commands.ts";
import { exmoError } from "../../../src/gateway/exmo/errors.ts";
import { balancesOfUser } from "../../../src/store/queries.ts";
import { limitOrder } from "../../support/orders.ts";

/** A limit order on BTC_USD with a client id. */
function orderWithClientId(...args: [number, "buy" | "sell", number, number, number]): UnstampedCommand {
  const [userId, side, priceTicks, quantityLots, clientOrderId] = args;
  const command = limitOrder(userId, side, priceTicks, quantityLots);
  if (command.kind !== "placeOrder") throw new Error("limitOrder builds placeOrder");
  return { ...command, clientOrderId };
}

import {
  byEvent,
  createTrader,
  expectAccepted,
  type Frame,
  type Harness,
  loginFrame,
  RawClient,
  startHarness,
  type Trader,
} from "./harness.ts";

const LOGIN_DEADLINE_MS = 400;
const PING_INTERVAL_MS = 200;
const MAX_CONNECTIONS_PER_IP = 8;

let harness: Harness;
let maker: Trader;
let taker: Trader;
const clients: RawClient[] = [];

async function connect(path: "public" | "private", options = {}): Promise<RawClient> {
  const client = await RawClient.connect(`${harness.url}/v1/${path}`, options);
  clients.push(client);
  await client.next(byEvent("info"));
  return client;
}

function errorOf(kind: Parameters<typeof exmoError>[0], detail?: string) {
  return exmoError(kind, detail);
}

beforeAll(async () => {
  harness = await startHarness({
    loginDeadlineMs: LOGIN_DEADLINE_MS,
    pingIntervalMs: PING_INTERVAL_MS,
    maxConnectionsPerIp: MAX_CONNECTIONS_PER_IP,
  });
  // USD has 6 decimals, BTC 8: 100,000 USD and 10 BTC each.
  maker = await createTrader(harness, { USD: 100_000_000_000, BTC: 1_000_000_000 });
  taker = await createTrader(harness, { USD: 100_000_000_000, BTC: 1_000_000_000 });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.terminate()));
  // The server counts a socket until its TCP connection is gone.
  while (harness.gateway.connectionCount > 0) await new Promise((resolve) => setTimeout(resolve, 5));
});

afterAll(async () => {
  await harness.close();
});

describe("public topics", () => {
  it("greets, acks each topic with the request id, sends snapshots then updates with ts in ms", async () => {
    const client = await RawClient.connect(`${harness.url}/v1/public`);
    clients.push(client);
    const greeting = await client.next();
    expect(greeting).toMatchObject({ event: "info", code: 1, message: "connection established" });
    expect(typeof greeting.session_id).toBe("string");
    expect(Math.abs(greeting.ts - Date.now())).toBeLessThan(5_000);

    client.send({
      method: "subscribe",
      id: 7,
      topics: ["spot/ticker:BTC_USD", "spot/trades:BTC_USD", "spot/order_book_updates:BTC_USD"],
    });
    for (const topic of ["spot/ticker:BTC_USD", "spot/trades:BTC_USD", "spot/order_book_updates:BTC_USD"])
      expect(await client.next(byEvent("subscribed", topic))).toMatchObject({ id: 7, topic });
    const ticker = await client.next(byEvent("snapshot", "spot/ticker:BTC_USD"));
    expect(ticker.data).toMatchObject({ buy_price: "0", sell_price: "0", last_trade: "0", vol: "0" });
    const book = await client.next(byEvent("snapshot", "spot/order_book_updates:BTC_USD"));
    expect(book.data).toEqual({ ask: [], bid: [] });

    // A resting ask of 0.0100 BTC at 64000.00, then a bid that takes 0.0040 of it.
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_400_000, 100)));
    const added = await client.next(byEvent("update", "spot/order_book_updates:BTC_USD"));
    expect(added.data).toEqual({ ask: [["64000", "0.01", "640"]], bid: [] });
    const quoted = await client.next(byEvent("update", "spot/ticker:BTC_USD"));
    expect(quoted.data).toMatchObject({ sell_price: "64000", buy_price: "0" });

    const taken = await harness.exchange.submit(limitOrder(taker.userId, "buy", 6_400_000, 40));
    expectAccepted(taken);
    const trade = taken.events.find((event) => event.type === "trade");
    if (trade?.type !== "trade") throw new Error("expected a trade");
    const trades = await client.next(byEvent("update", "spot/trades:BTC_USD"));
    expect(trades.data).toEqual([
      {
        trade_id: trade.tradeId,
        type: "buy",
        price: "64000",
        quantity: "0.004",
        amount: "256",
        date: Math.floor(trade.timestampMs / 1000),
      },
    ]);
    const reduced = await client.next(byEvent("update", "spot/order_book_updates:BTC_USD"));
    expect(reduced.data).toEqual({ ask: [["64000", "0.006", "384"]], bid: [] });
    const traded = await client.next(byEvent("update", "spot/ticker:BTC_USD"));
    expect(traded.data).toMatchObject({
      last_trade: "64000",
      high: "64000",
      low: "64000",
      vol: "0.004",
      vol_curr: "256",
    });

    // Taking the rest deletes the level: quantity "0".
    expectAccepted(await harness.exchange.submit(limitOrder(taker.userId, "buy", 6_400_000, 60)));
    const deleted = await client.next(byEvent("update", "spot/order_book_updates:BTC_USD"));
    expect(deleted.data).toEqual({ ask: [["64000", "0", "0"]], bid: [] });

    client.send({ method: "unsubscribe", id: 8, topics: ["spot/trades:BTC_USD"] });
    expect(await client.next(byEvent("unsubscribed"))).toMatchObject({ id: 8, topic: "spot/trades:BTC_USD" });
    for (const frame of client.frames) expect(Number.isSafeInteger(frame.ts)).toBe(true);
  });

  it("order_book_snapshots sends the full top of book after each change", async () => {
    const client = await connect("public");
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "buy", 6_300_000, 20)));
    client.send({ method: "subscribe", id: 1, topics: ["spot/order_book_snapshots:BTC_USD"] });
    await client.next(byEvent("subscribed", "spot/order_book_snapshots:BTC_USD"));
    const first = await client.next(byEvent("update", "spot/order_book_snapshots:BTC_USD"));
    expect(first.data).toEqual({ ask: [], bid: [["63000", "0.002", "126"]] });
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "buy", 6_350_000, 10)));
    const second = await client.next(byEvent("update", "spot/order_book_snapshots:BTC_USD"));
    expect(second.data).toEqual({
      ask: [],
      bid: [
        ["63500", "0.001", "63.5"],
        ["63000", "0.002", "126"],
      ],
    });
    // A second watcher of the same market gets the current book at once.
    const other = await connect("public");
    other.send({ method: "subscribe", id: 2, topics: ["spot/order_book_snapshots:BTC_USD"] });
    expect((await other.next(byEvent("update", "spot/order_book_snapshots:BTC_USD"))).data).toEqual(
      second.data,
    );
  });
});

describe("bad input gets an EXMO error frame and changes nothing", () => {
  const cases: [string, unknown, ReturnType<typeof errorOf>, number | undefined][] = [
    ["malformed JSON", "{nope", errorOf("invalidParameter", "message"), undefined],
    ["a JSON array", "[1,2]", errorOf("invalidParameter", "message"), undefined],
    ["no method", { id: 3, topics: [] }, errorOf("missingParameter", "method"), 3],
    ["unknown method", { method: "ping", id: 4 }, errorOf("unknownFunction", "ping"), 4],
    [
      "topics not a list",
      { method: "subscribe", id: 5, topics: "spot/ticker:BTC_USD" },
      errorOf("invalidParameter", "topics"),
      5,
    ],
    [
      "unknown channel",
      { method: "subscribe", id: 6, topics: ["spot/nope:BTC_USD"] },
      errorOf("unknownFunction", "spot/nope:BTC_USD"),
      6,
    ],
    [
      "unknown pair",
      { method: "subscribe", id: 9, topics: ["spot/ticker:NOPE_USD"] },
      errorOf("unknownPair", "NOPE_USD"),
      9,
    ],
    [
      "lower-case pair",
      { method: "subscribe", id: 10, topics: ["spot/ticker:btc_usd"] },
      errorOf("unknownPair", "btc_usd"),
      10,
    ],
    [
      "private topic on the public path",
      { method: "subscribe", id: 11, topics: ["spot/wallet"] },
      errorOf("unknownFunction", "spot/wallet"),
      11,
    ],
    [
      "login on the public path",
      { method: "login", id: 12, api_key: "K-x", sign: "x", nonce: 1 },
      errorOf("unknownFunction", "login on /v1/public"),
      12,
    ],
    [
      "unsubscribe of a topic never subscribed",
      { method: "unsubscribe", id: 13, topics: ["spot/ticker:ETH_USD"] },
      errorOf("invalidParameter", "topics: not subscribed to spot/ticker:ETH_USD"),
      13,
    ],
  ];
  for (const [name, message, expected, id] of cases)
    it(name, async () => {
      const client = await connect("public");
      client.send(message);
      const frame = await client.next();
      expect(frame).toEqual({
        ts: frame.ts,
        event: "error",
        ...(id === undefined ? {} : { id }),
        ...expected,
      });
      // Still usable, and nothing was subscribed by the bad request.
      client.send({ method: "subscribe", id: 99, topics: ["spot/trades:ETH_USD"] });
      expect(await client.next()).toMatchObject({
        event: "subscribed",
        id: 99,
        topic: "spot/trades:ETH_USD",
      });
      expect(client.pending()).toEqual([]);
    });

  it("a binary frame is refused like malformed JSON", async () => {
    const client = await connect("public");
    client.socket.send(Buffer.from("{}"), { binary: true });
    expect(await client.next()).toMatchObject({ event: "error", ...errorOf("invalidParameter", "message") });
  });

  it("a frame over 64 KiB closes the socket with 1009 (ws cannot skip the rest of a frame)", async () => {
    const client = await connect("public");
    client.send({ method: "subscribe", id: 1, topics: ["x".repeat(64 * 1024)] });
    expect(await client.closed).toBe(1009);
  });

  it("at most maxTopicsPerConnection topics; the rest get limitReached", async () => {
    const small = await startHarness({ maxTopicsPerConnection: 3 });
    try {
      const client = await RawClient.connect(`${small.url}/v1/public`);
      clients.push(client);
      await client.next(byEvent("info"));
      const topics = [
        "spot/ticker:BTC_USD",
        "spot/ticker:ETH_USD",
        "spot/ticker:ETH_BTC",
        "spot/ticker:BTC_USDT",
      ];
      client.send({ method: "subscribe", id: 1, topics });
      for (const topic of topics.slice(0, 3)) await client.next(byEvent("subscribed", topic));
      const refused = await client.next(byEvent("error"));
      expect(refused).toMatchObject({ id: 1, ...errorOf("limitReached", "at most 3 topics") });
      // Unsubscribing frees room.
      client.send({ method: "unsubscribe", id: 2, topics: ["spot/ticker:BTC_USD"] });
      await client.next(byEvent("unsubscribed"));
      client.send({ method: "subscribe", id: 3, topics: ["spot/ticker:BTC_USDT"] });
      await client.next(byEvent("subscribed", "spot/ticker:BTC_USDT"));
    } finally {
      await small.close();
    }
  });

  it("more than 10 messages a second get rateLimited frames; a flood is closed with 1008", async () => {
    const client = await connect("public");
    for (let index = 0; index < 12; index++)
      client.send({ method: "subscribe", id: index, topics: ["spot/ticker:ETH_BTC"] });
    const limited = await client.next(byEvent("error"));
    expect(limited).toMatchObject(errorOf("rateLimited"));
    expect(limited.id).toBeUndefined();
    const acks = client.frames.filter((frame) => frame.event === "subscribed");
    expect(acks.length).toBeLessThanOrEqual(10);
    for (let index = 0; index < 40; index++) client.send({ method: "subscribe", id: 100, topics: [] });
    expect(await client.closed).toBe(1008);
  });

  it("at most maxConnectionsPerIp sockets from one address; the next upgrade gets HTTP 429", async () => {
    for (let index = 0; index < MAX_CONNECTIONS_PER_IP; index++) await connect("public");
    await expect(RawClient.connect(`${harness.url}/v1/public`)).rejects.toThrow(/429/);
    // Closing one frees its slot.
    await clients.pop()!.terminate();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await connect("public");
  });

  it("counts IPv6 clients by /64 for the per-address cap, as REST's rate limit does", async () => {
    // The test process has only ::1, so each upgrade is given the address the test wants.
    const addresses: string[] = [];
    const fake = (request: { socket: object }) => {
      const address = addresses.shift();
      if (address !== undefined) Object.defineProperty(request.socket, "remoteAddress", { value: address });
    };
    harness.server.prependListener("upgrade", fake);
    try {
      for (let index = 0; index < MAX_CONNECTIONS_PER_IP; index++) {
        addresses.push(`2001:db8:0:7::${(index + 1).toString(16)}`);
        await connect("public");
      }
      // Another address of the same /64 is the same subscriber.
      addresses.push("2001:db8:0:7:ffff:ffff:ffff:fffe");
      await expect(RawClient.connect(`${harness.url}/v1/public`)).rejects.toThrow(/429/);
      // Another /64 is someone else.
      addresses.push("2001:db8:0:8::1");
      await connect("public");
    } finally {
      harness.server.off("upgrade", fake);
    }
  });

  it("upgrades to other paths are refused with 404", async () => {
    await expect(RawClient.connect(`${harness.url}/v1/margin/private`)).rejects.toThrow(/404/);
    await expect(RawClient.connect(`${harness.url}/`)).rejects.toThrow(/404/);
  });

  it("a peer that does not answer pings is dropped", async () => {
    const client = await connect("public", { autoPong: false });
    const code = await client.closed;
    expect(code).toBe(1006);
  });
});

describe("login and private topics", () => {
  async function expectLoginRefused(frame: Record<string, unknown>, kind: Parameters<typeof errorOf>[0]) {
    const client = await connect("private");
    client.send(frame);
    expect(await client.next()).toMatchObject({ event: "error", id: frame.id, ...errorOf(kind) });
    // Still not logged in: private topics stay closed.
    client.send({ method: "subscribe", id: 50, topics: ["spot/wallet"] });
    expect(await client.next()).toMatchObject({
      event: "error",
      id: 50,
      ...errorOf("noPermission", "login first"),
    });
    client.close();
  }

  /** The key's last nonce as the core holds it (src/core/engine/api-nonces.ts). */
  const coreNonce = (keyId: string): number | undefined =>
    harness.exchange.internals.core.exportState().apiNonces.find(([id]) => id === keyId)?.[1];

  it("refuses a bad signature, an unknown key, a stale nonce, a bad nonce, a key without info scope", async () => {
    const nonceBefore = coreNonce(maker.keyId);
    const good = loginFrame(maker, Date.now(), 21);
    await expectLoginRefused({ ...good, sign: loginFrame(taker, Date.now(), 21).sign }, "badSignature");
    // A bad signature must not burn the nonce (src/gateway/auth/nonce.ts).
    expect(coreNonce(maker.keyId)).toBe(nonceBefore);
    await expectLoginRefused({ ...good, api_key: `K-${"0".repeat(40)}` }, "unknownApiKey");
    await expectLoginRefused({ ...good, api_key: "not-a-key" }, "unknownApiKey");
    await expectLoginRefused({ ...good, nonce: 1.5 }, "nonceMalformed");
    await expectLoginRefused({ ...good, nonce: -3 }, "nonceNotPositive");

    const fresh = Date.now() + 1_000;
    const client = await connect("private");
    client.send(loginFrame(maker, fresh, 22));
    expect(await client.next()).toMatchObject({ event: "logged_in", id: 22 });
    client.close();
    // The same nonce again, and a lower one: a replay.
    await expectLoginRefused(loginFrame(maker, fresh, 23), "invalidNonce");
    await expectLoginRefused(loginFrame(maker, fresh - 1, 24), "invalidNonce");
    expect(coreNonce(maker.keyId)).toBe(fresh);

    const readOnly = await createTrader(harness, {}, { scopes: ["trade"] });
    await expectLoginRefused(loginFrame(readOnly, Date.now(), 25), "noPermission");
    const elsewhere = await createTrader(harness, {}, { ipAllowList: ["10.1.2.3"] });
    await expectLoginRefused(loginFrame(elsewhere, Date.now(), 26), "ipNotAllowed");
  });

  it("refuses implausible nonces with their own 40009 message, even when signed, and never locks the key", async () => {
    const owner = await createTrader(harness, {});
    const { nonce: _dropped, ...withoutNonce } = loginFrame(owner, Date.now(), 31);
    const cases: ReadonlyArray<[Record<string, unknown>, Parameters<typeof errorOf>[0], string]> = [
      [withoutNonce, "nonceMissing", "The nonce parameter is missing"],
      [{ ...loginFrame(owner, Date.now(), 32), nonce: String(Date.now()) }, "nonceMalformed", ""],
      // The nonce is checked before the signature: these two cannot even be signed.
      [
        { ...loginFrame(owner, Date.now(), 33), nonce: 0 },
        "nonceNotPositive",
        "The nonce parameter must be greater than zero",
      ],
      [{ ...loginFrame(owner, Date.now(), 34), nonce: Number.MAX_SAFE_INTEGER + 1 }, "nonceTooLarge", ""],
      // Signed with the real secret: one accepted 2^53 − 1 would lock the key for good.
      [
        loginFrame(owner, Number.MAX_SAFE_INTEGER, 35),
        "nonceTooFarAhead",
        "The nonce parameter is more than one day ahead of the server clock read as milliseconds",
      ],
      [loginFrame(owner, Date.now() * 1000, 36), "nonceTooFarAhead", ""],
    ];
    const nonceBefore = coreNonce(owner.keyId);
    for (const [frame, kind, message] of cases) {
      await expectLoginRefused(frame, kind);
      if (message !== "") expect(errorOf(kind)).toEqual({ code: 40009, message });
      expect(coreNonce(owner.keyId)).toBe(nonceBefore);
    }
    const client = await connect("private");
    client.send(loginFrame(owner, Date.now(), 37));
    expect(await client.next()).toMatchObject({ event: "logged_in", id: 37 });
  });

  it("a private socket that does not log in before the deadline is closed", async () => {
    const client = await connect("private");
    const started = Date.now();
    const frame = await client.next(byEvent("error"), LOGIN_DEADLINE_MS * 10);
    expect(frame).toMatchObject(errorOf("noPermission", "login deadline passed"));
    expect(await client.closed).toBe(1008);
    expect(Date.now() - started).toBeGreaterThanOrEqual(LOGIN_DEADLINE_MS - 50);
  });

  it("a second login on one socket is refused", async () => {
    const client = await connect("private");
    client.send(loginFrame(taker, Date.now() + 2_000, 1));
    await client.next(byEvent("logged_in"));
    client.send(loginFrame(taker, Date.now() + 3_000, 2));
    expect(await client.next()).toMatchObject({
      event: "error",
      id: 2,
      ...errorOf("invalidParameter", "login: already logged in"),
    });
  });

  it("wallet, orders and user_trades: snapshots from the store, updates from the core's events", async () => {
    const trader = await createTrader(harness, { USD: 50_000_000_000, BTC: 100_000_000 });
    const resting = await harness.exchange.submit(orderWithClientId(trader.userId, "buy", 6_000_000, 5, 0));
    expectAccepted(resting);
    const client = await connect("private");
    client.send(loginFrame(trader, Date.now() + 5_000, 1));
    expect(await client.next()).toMatchObject({ event: "logged_in", id: 1 });
    client.send({ method: "subscribe", id: 2, topics: ["spot/wallet", "spot/orders", "spot/user_trades"] });

    await client.next(byEvent("subscribed", "spot/wallet"));
    const wallet = await client.next(byEvent("snapshot", "spot/wallet"));
    const stored = await balancesOfUser(harness.exchange.internals.store.db, trader.userId);
    const usd = stored.find((row) => row.assetId === harness.exchange.assetByCode("USD")!.assetId)!;
    // 0.0005 BTC at 60000 holds 30 USD of the 50,000.
    expect(usd).toMatchObject({ availableUnits: 49_970_000_000, heldUnits: 30_000_000 });
    expect(wallet.data).toEqual({
      balances: { BTC: "1", ETH: "0", USDT: "0", USD: "49970" },
      reserved: { BTC: "0", ETH: "0", USDT: "0", USD: "30" },
    });
    await client.next(byEvent("subscribed", "spot/orders"));
    const orders = await client.next(byEvent("snapshot", "spot/orders"));
    expect(orders.data).toEqual([
      expect.objectContaining({
        order_id: String(resting.sequence),
        pair: "BTC_USD",
        type: "buy",
        price: "60000",
        quantity: "0.0005",
        original_quantity: "0.0005",
        amount: "30",
        status: "open",
      }),
    ]);
    await client.next(byEvent("subscribed", "spot/user_trades"));

    // The trader sells 0.0002 BTC into the maker's bid at 63500 (from the snapshot test): a taker fill.
    const sold = await harness.exchange.submit(orderWithClientId(trader.userId, "sell", 6_350_000, 2, 77));
    expectAccepted(sold);
    const accepted = await client.next(byEvent("update", "spot/orders"));
    expect(accepted.data).toMatchObject({
      order_id: String(sold.sequence),
      client_id: "77",
      type: "sell",
      status: "open",
    });
    const filled = (await client.next(byEvent("update", "spot/orders"))) as Frame & {
      data: Record<string, string>;
    };
    expect(filled.data).toMatchObject({
      quantity: "0",
      last_trade_price: "63500",
      last_trade_quantity: "0.0002",
    });
    const mine = await client.next(byEvent("update", "spot/user_trades"));
    expect(mine.data).toMatchObject({
      type: "sell",
      pair: "BTC_USD",
      order_id: sold.sequence,
      client_id: 77,
      price: "63500",
      quantity: "0.0002",
      amount: "12.7",
      exec_type: "taker",
      commission_currency: "USD",
      commission_amount: "0.0381",
      commission_percent: "0.3",
    });
    const done = await client.next(byEvent("update", "spot/orders"));
    expect(done.data).toMatchObject({ order_id: String(sold.sequence), status: "closed" });
    // Balance updates carry the values after the command, as the store has them.
    await harness.exchange.whenProjected(sold.sequence);
    const after = await balancesOfUser(harness.exchange.internals.store.db, trader.userId);
    const walletUpdates = client.frames.filter(
      (frame) => frame.event === "update" && frame.topic === "spot/wallet",
    );
    const lastOf = (code: string) =>
      walletUpdates.filter((frame) => (frame.data as { currency: string }).currency === code).at(-1)?.data;
    const row = (code: string) =>
      after.find((balance) => balance.assetId === harness.exchange.assetByCode(code)!.assetId)!;
    expect(lastOf("USD")).toEqual({
      currency: "USD",
      balance: String(row("USD").availableUnits / 1e6),
      reserved: "30",
    });
    expect(lastOf("BTC")).toEqual({ currency: "BTC", balance: "0.9998", reserved: "0" });
    expect(row("BTC").availableUnits).toBe(99_980_000);

    // A cancel ends the resting order as cancelled.
    expectAccepted(
      await harness.exchange.submit({
        kind: "cancelOrder",
        userId: trader.userId,
        orderId: resting.sequence,
      }),
    );
    const cancelled = await client.next(
      (frame) =>
        frame.event === "update" &&
        frame.topic === "spot/orders" &&
        (frame.data as { order_id: string }).order_id === String(resting.sequence),
    );
    expect(cancelled.data).toMatchObject({ status: "cancelled", quantity: "0.0005" });
  });
});

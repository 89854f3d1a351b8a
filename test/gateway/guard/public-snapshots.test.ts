// Public market data from snapshots rebuilt at most every 100 ms (issue 10 §3), and degraded
// mode on REST (public answers only from cache, order entry only for allow-listed keys, cancels
// always), against a real gateway whose clock the test moves.

import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { publicRoutes } from "../../../src/gateway/exmo/public-routes.ts";
import {
  PUBLIC_SNAPSHOT_MAX_AGE_MS,
  PublicSnapshots,
  SOURCE_MAX_AGE_MS,
} from "../../../src/gateway/exmo/public-snapshots.ts";
import { stateApartFromNonces } from "../../support/core-state.ts";
import {
  createTrader,
  type Harness,
  publicGet,
  type RawResponse,
  signedPost,
  startHarness,
  type Trader,
} from "../support/rest-harness.ts";

let harness: Harness;
let maker: Trader;
let offsetMs = 0;
/** Frozen unless the test moves it: Date.now() at start plus offsetMs. */
const startMs = Date.now();
const clock = (): number => startMs + offsetMs;

beforeAll(async () => {
  harness = await startHarness({ clock });
  maker = await createTrader(harness, { funds: { USD: "100000", BTC: "10" } });
});
afterAll(async () => {
  harness.gateway.guardControl.setDegraded({ on: false, actor: "test" });
  await harness.close();
});

function inject(url: string) {
  return harness.gateway.fastify.inject({ method: "GET", url });
}

function errorCode(response: RawResponse): number | null {
  const body = response.body as { result?: unknown; error?: unknown } | null;
  if (body === null || body.result !== false || typeof body.error !== "string") return null;
  return Number(/^Error (\d+): /.exec(body.error)?.[1]);
}

function bidPrices(body: unknown, pair: string): string[] {
  const book = (body as Record<string, { bid: [string, string, string][] }>)[pair];
  return book.bid.map((level) => level[0]);
}

it("1,000 ticker requests within 100 ms are answered from one build, byte-identical JSON", async () => {
  offsetMs += 1_000;
  const tickers = vi.spyOn(harness.exchange.marketData, "tickers");
  const answers = await Promise.all(Array.from({ length: 1_000 }, () => inject("/v1.1/ticker")));
  expect(tickers).toHaveBeenCalledTimes(1);
  expect(new Set(answers.map((answer) => answer.body)).size).toBe(1);
  expect(answers[0].statusCode).toBe(200);
  expect(answers[0].headers["content-type"]).toMatch(/^application\/json/);
  expect(Object.keys(JSON.parse(answers[0].body) as object)).toContain("BTC_USD");
  // 99 ms later still the same build; at 100 ms a new one.
  offsetMs += 99;
  await inject("/v1.1/ticker");
  expect(tickers).toHaveBeenCalledTimes(1);
  offsetMs += 1;
  await inject("/v1.1/ticker");
  expect(tickers).toHaveBeenCalledTimes(2);
  tickers.mockRestore();
});

it("junk parameters share the canonical entry (and a POST the GET's)", async () => {
  offsetMs += 1_000;
  const tickers = vi.spyOn(harness.exchange.marketData, "tickers");
  for (let index = 0; index < 200; index++) await inject(`/v1.1/ticker?junk${index}=${index}&x=${index}`);
  await harness.gateway.fastify.inject({ method: "POST", url: "/v1.1/ticker", payload: "" });
  expect(tickers).toHaveBeenCalledTimes(1);
  // Parameters the route reads are part of the key: limit=1 is its own answer.
  const books = vi.spyOn(harness.exchange.marketData, "orderBook");
  await inject("/v1.1/order_book?pair=BTC_USD&junk=1");
  await inject("/v1.1/order_book?junk=2&pair=BTC_USD");
  expect(books).toHaveBeenCalledTimes(1);
  await inject("/v1.1/order_book?pair=BTC_USD&limit=1");
  expect(books).toHaveBeenCalledTimes(2);
  tickers.mockRestore();
  books.mockRestore();
});

it("a new order shows in order_book once the 100 ms snapshot expires, not before", async () => {
  offsetMs += 1_000;
  const before = await publicGet(harness, "/v1.1/order_book?pair=BTC_USD");
  expect(bidPrices(before.body, "BTC_USD")).not.toContain("41234");
  const placed = await signedPost(harness, maker, "order_create", {
    pair: "BTC_USD",
    quantity: "0.001",
    price: "41234",
    type: "buy",
  });
  expect(placed.body).toMatchObject({ result: true });
  offsetMs += 50;
  const cached = await publicGet(harness, "/v1.1/order_book?pair=BTC_USD");
  expect(bidPrices(cached.body, "BTC_USD")).not.toContain("41234");
  offsetMs += 50;
  // The market data under it runs on the exchange's (real) clock: at most SOURCE_MAX_AGE_MS old.
  await new Promise((resolve) => setTimeout(resolve, SOURCE_MAX_AGE_MS + 5));
  const fresh = await publicGet(harness, "/v1.1/order_book?pair=BTC_USD");
  expect(bidPrices(fresh.body, "BTC_USD")).toContain("41234");
});

it("on real clocks a new order is in order_book and ticker within about 100 ms", async () => {
  const real = await startHarness();
  try {
    const trader = await createTrader(real, { funds: { USD: "1000" } });
    // Warm the snapshots, so the change has to wait out a cached answer.
    await publicGet(real, "/v1.1/order_book?pair=BTC_USD");
    await publicGet(real, "/v1.1/ticker");
    const placed = await signedPost(real, trader, "order_create", {
      pair: "BTC_USD",
      quantity: "0.001",
      price: "42345",
      type: "buy",
    });
    expect(placed.body).toMatchObject({ result: true });
    const acceptedAt = Date.now();
    /** Milliseconds from acceptance until `shows` holds for the answer at `path` (null: not in 2 s). */
    const delayUntil = async (path: string, shows: (body: unknown) => boolean): Promise<number | null> => {
      while (Date.now() - acceptedAt < 2_000) {
        if (shows((await publicGet(real, path)).body)) return Date.now() - acceptedAt;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return null;
    };
    const [bookDelay, tickerDelay] = await Promise.all([
      delayUntil("/v1.1/order_book?pair=BTC_USD", (body) => bidPrices(body, "BTC_USD").includes("42345")),
      delayUntil(
        "/v1.1/ticker",
        (body) => (body as Record<string, { buy_price: string }>).BTC_USD.buy_price === "42345",
      ),
    ]);
    // 100 ms snapshots over 10 ms market data, plus scheduling slack on a busy machine.
    const bound = PUBLIC_SNAPSHOT_MAX_AGE_MS + SOURCE_MAX_AGE_MS + 90;
    expect(bookDelay).not.toBeNull();
    expect(bookDelay).toBeLessThanOrEqual(bound);
    expect(tickerDelay).not.toBeNull();
    expect(tickerDelay).toBeLessThanOrEqual(bound);
  } finally {
    await real.close();
  }
});

it("errors are not cached: a refused request builds nothing, the right one then answers", async () => {
  offsetMs += 1_000;
  const missing = await publicGet(harness, "/v1.1/order_book");
  expect(errorCode(missing)).toBe(50013);
  const bad = await publicGet(harness, "/v1.1/candles_history?symbol=BTC_USD&resolution=7&from=1&to=2");
  expect(errorCode(bad)).toBe(59001);
  const good = await publicGet(harness, "/v1.1/candles_history?symbol=BTC_USD&resolution=1&from=1&to=2");
  expect(good.body).toEqual({ candles: [] });
});

it("entries and bytes are bounded: the oldest build goes first", async () => {
  let nowMs = 0;
  const snapshots = new PublicSnapshots({
    clock: () => nowMs,
    isDegraded: () => false,
    maxEntries: 3,
  });
  const orderBook = publicRoutes({ exchange: harness.exchange, custody: null }).find(
    (route) => route.path === "order_book",
  );
  if (orderBook === undefined) throw new Error("no order_book route");
  const cached = snapshots.wrap(orderBook);
  for (let limit = 1; limit <= 10; limit++) await cached.run({ pair: "BTC_USD", limit: String(limit) }, null);
  expect(snapshots.entryCount).toBe(3);
  expect(snapshots.buildCount).toBe(10);
  // limit=10 is still there, limit=1 was evicted.
  await cached.run({ pair: "BTC_USD", limit: "10" }, null);
  expect(snapshots.buildCount).toBe(10);
  await cached.run({ pair: "BTC_USD", limit: "1" }, null);
  expect(snapshots.buildCount).toBe(11);
  nowMs += 100;
  const tiny = new PublicSnapshots({ clock: () => nowMs, isDegraded: () => false, maxBytes: 10 });
  await tiny.wrap(orderBook).run({ pair: "BTC_USD" }, null);
  expect(tiny.entryCount).toBe(0);
});

it("degraded: cached public answers go on, a miss is 503 + Retry-After 59036; order entry only for allow-listed keys; cancels go on", async () => {
  offsetMs += 1_000;
  const other = await createTrader(harness, { funds: { USD: "1000" } });
  const resting = await signedPost(harness, other, "order_create", {
    pair: "BTC_USD",
    quantity: "0.001",
    price: "40001",
    type: "buy",
  });
  const restingId = String((resting.body as { order_id: number }).order_id);
  await publicGet(harness, "/v1.1/ticker");
  harness.gateway.guardControl.setDegraded({
    on: true,
    actor: "test",
    reason: "flood",
    allowListedKeyIds: [maker.keyId],
  });
  try {
    const ticker = await publicGet(harness, "/v1.1/ticker");
    expect(ticker.status).toBe(200);
    expect(ticker.body).toHaveProperty("BTC_USD");
    const miss = await publicGet(harness, "/v1.1/order_book?pair=ETH_USD&limit=7");
    expect(miss.status).toBe(503);
    expect(
      Number((await fetch(`${harness.baseUrl}/v1.1/trades?pair=ETH_USD&limit=3`)).headers.get("retry-after")),
    ).toBeGreaterThan(0);
    expect(errorCode(miss)).toBe(59036);
    // Cached entries are still rebuilt (less often), never older than a second.
    offsetMs += 1_000;
    expect((await publicGet(harness, "/v1.1/ticker")).status).toBe(200);

    const before = stateApartFromNonces(harness.exchange.internals.core);
    const refused = await signedPost(harness, other, "order_create", {
      pair: "BTC_USD",
      quantity: "0.001",
      price: "40002",
      type: "buy",
    });
    expect(refused.status).toBe(503);
    expect(errorCode(refused)).toBe(59036);
    expect((refused.body as { error: string }).error).toContain("allow-listed");
    expect(stateApartFromNonces(harness.exchange.internals.core)).toBe(before);

    const allowed = await signedPost(harness, maker, "order_create", {
      pair: "BTC_USD",
      quantity: "0.001",
      price: "40003",
      type: "buy",
    });
    expect(allowed.body).toMatchObject({ result: true });

    const cancel = await signedPost(harness, other, "order_cancel", { order_id: restingId });
    expect(cancel.body).toMatchObject({ result: true });
    // Operators see it in /metrics too.
    expect(await (await fetch(`${harness.baseUrl}/metrics`)).text()).toMatch(/^bulwark_guard_degraded 1$/m);
  } finally {
    harness.gateway.guardControl.setDegraded({ on: false, actor: "test" });
  }
  const after = await publicGet(harness, "/v1.1/order_book?pair=ETH_USD&limit=7");
  expect(after.status).toBe(200);
  expect(await (await fetch(`${harness.baseUrl}/metrics`)).text()).toMatch(/^bulwark_guard_degraded 0$/m);
  const orderAgain = await signedPost(harness, other, "order_create", {
    pair: "BTC_USD",
    quantity: "0.001",
    price: "40004",
    type: "buy",
  });
  expect(orderAgain.body).toMatchObject({ result: true });
});

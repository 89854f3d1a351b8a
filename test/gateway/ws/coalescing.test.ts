// Market data coalesced per client when it falls behind (docs/API.md#ws-coalescing), with a real
// slow reader: the client's socket is paused, so the server's send buffer fills for real (after
// the kernel's few MB of loopback buffers). Past coalesceBufferedBytes the connection stops
// getting every frame; once it reads again it gets a fresh order-book snapshot, the latest book
// snapshot and ticker, and every trade, and its book agrees with the exchange's.

import type { Socket } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { limitOrder } from "../../support/orders.ts";
import {
  byEvent,
  createTrader,
  expectAccepted,
  type Frame,
  type Harness,
  RawClient,
  startHarness,
  type Trader,
} from "./harness.ts";

const PAIR = "BTC_USD";
const UPDATES = `spot/order_book_updates:${PAIR}`;
const SNAPSHOTS = `spot/order_book_snapshots:${PAIR}`;
const TICKER = `spot/ticker:${PAIR}`;
const TRADES = `spot/trades:${PAIR}`;
/** Price levels per side of the deep book the slow client asks for again and again. */
const LEVELS_PER_SIDE = 1_000;
const ASK_TICKS = 6_400_000;
const BID_TICKS = 6_300_000;
/** Book changes (each a trade) made while the client is behind. */
const TRADES_WHILE_BEHIND = 60;

let harness: Harness;
let maker: Trader;
let taker: Trader;

beforeAll(async () => {
  harness = await startHarness({
    coalesceBufferedBytes: 64 * 1024,
    coalesceCheckIntervalMs: 20,
    // The slow client resubscribes quickly to fill the buffers; those limits are not under test.
    maxInboundMessagesPerSecond: 10_000,
    maxPendingInboundMessages: 10_000,
  });
  maker = await createTrader(harness, { BTC: 1_000_000_000_000, USD: 1_000_000_000_000 });
  taker = await createTrader(harness, { USD: 1_000_000_000_000 });
  // A deep book: a fresh order_book_updates snapshot is ~100 KB.
  for (let batch = 0; batch < LEVELS_PER_SIDE; batch += 100)
    await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        Promise.all([
          harness.exchange.submit(limitOrder(maker.userId, "sell", ASK_TICKS + batch + index, 100)),
          harness.exchange.submit(limitOrder(maker.userId, "buy", BID_TICKS - batch - index, 100)),
        ]),
      ),
    );
});
afterAll(async () => {
  await harness.close();
});

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

type Book = { bid: Map<string, string>; ask: Map<string, string> };

/** The client's order_book_updates book: the last snapshot, then every update after it. */
function replayBook(frames: readonly Frame[]): Book {
  const book: Book = { bid: new Map(), ask: new Map() };
  for (const frame of frames) {
    if (frame.topic !== UPDATES || (frame.event !== "snapshot" && frame.event !== "update")) continue;
    const data = frame.data as { bid: string[][]; ask: string[][] };
    if (frame.event === "snapshot") {
      book.bid.clear();
      book.ask.clear();
    }
    for (const side of ["bid", "ask"] as const)
      for (const [price, quantity] of data[side])
        if (quantity === "0") book[side].delete(price);
        else book[side].set(price, quantity);
  }
  return book;
}

function topOf(levels: Map<string, string>, descending: boolean, count: number): string[][] {
  return [...levels.entries()]
    .sort(([left], [right]) => (descending ? Number(right) - Number(left) : Number(left) - Number(right)))
    .slice(0, count);
}

it("a paused reader gets coalesced market data, then the latest state and every trade, and is not dropped", async () => {
  const client = await RawClient.connect(`${harness.url}/v1/public`);
  client.send({ method: "subscribe", id: 1, topics: [UPDATES, SNAPSHOTS, TICKER, TRADES] });
  for (let index = 0; index < 4; index++) await client.next(byEvent("subscribed"));
  await client.next(byEvent("snapshot", UPDATES));
  // `ws` keeps its net.Socket private; pausing it is what a client that stops reading does.
  const tcp = (client.socket as unknown as { _socket: Socket })._socket;
  tcp.pause();
  const pausedAt = client.frames.length;

  // Fill the kernel's buffers and then the server's: each resubscription is a ~100 KB snapshot.
  for (let cycle = 0; cycle < 200 && harness.gateway.coalescingCount === 0; cycle++) {
    client.send({ method: "unsubscribe", id: 10, topics: [UPDATES] });
    client.send({ method: "subscribe", id: 11, topics: [UPDATES] });
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(harness.gateway.coalescingCount).toBe(1);

  // Every change now: a trade at the best ask, a new bid level.
  for (let index = 0; index < TRADES_WHILE_BEHIND; index++) {
    expectAccepted(await harness.exchange.submit(limitOrder(taker.userId, "buy", ASK_TICKS, 1)));
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "buy", BID_TICKS + 1 + index, 1)));
  }
  // Still behind (nothing was read), and still connected.
  expect(harness.gateway.coalescingCount).toBe(1);
  expect(client.closeCode).toBeNull();

  tcp.resume();
  await until(() => harness.gateway.coalescingCount === 0, 10_000);
  // The held-back state follows the drain: wait for the trades, then for quiet.
  const tradesAfterPause = () =>
    client.frames
      .slice(pausedAt)
      .filter((frame) => frame.topic === TRADES && frame.event === "update")
      .reduce((sum, frame) => sum + (frame.data as unknown[]).length, 0);
  await until(() => tradesAfterPause() === TRADES_WHILE_BEHIND, 10_000);
  let seen = -1;
  while (seen !== client.frames.length) {
    seen = client.frames.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(client.closeCode).toBeNull();

  const after = client.frames.slice(pausedAt);
  // Coalesced: far fewer book-snapshot and ticker frames than changes (120 book changes, 60 trades).
  expect(after.filter((frame) => frame.topic === SNAPSHOTS).length).toBeLessThan(10);
  expect(after.filter((frame) => frame.topic === TICKER).length).toBeLessThan(10);
  // Trades: every one, in order, none dropped.
  const trades = after
    .filter((frame) => frame.topic === TRADES && frame.event === "update")
    .flatMap((frame) => frame.data as { trade_id: number }[]);
  expect(trades).toHaveLength(TRADES_WHILE_BEHIND);
  const ids = trades.map((trade) => trade.trade_id);
  expect([...ids].sort((left, right) => left - right)).toEqual(ids);

  // The book: a fresh snapshot came after the pause, and the replayed book is the exchange's.
  expect(after.some((frame) => frame.topic === UPDATES && frame.event === "snapshot")).toBe(true);
  const book = replayBook(client.frames);
  const market = harness.exchange.marketBySymbol(PAIR)!;
  const exchangeBook = harness.exchange.marketData.orderBook(market.config.marketId, 25)!;
  const expectedBids = exchangeBook.bids.map((level) => [
    market.units.formatPrice(level.priceTicks),
    market.units.formatQuantity(level.quantityLots),
  ]);
  const expectedAsks = exchangeBook.asks.map((level) => [
    market.units.formatPrice(level.priceTicks),
    market.units.formatQuantity(level.quantityLots),
  ]);
  expect(topOf(book.bid, true, 25)).toEqual(expectedBids);
  expect(topOf(book.ask, false, 25)).toEqual(expectedAsks);
  // The newest order_book_snapshots frame is the same top of book.
  const newest = after.filter((frame) => frame.topic === SNAPSHOTS && frame.event === "update").at(-1)!
    .data as { bid: string[][] };
  expect(newest.bid.map((level) => level.slice(0, 2))).toEqual(expectedBids);

  // Live again: the next change arrives as an update.
  const before = client.frames.length;
  expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "buy", BID_TICKS + 500, 1)));
  await until(
    () => client.frames.slice(before).some((frame) => frame.topic === UPDATES && frame.event === "update"),
    2_000,
  );
  await client.terminate();
});

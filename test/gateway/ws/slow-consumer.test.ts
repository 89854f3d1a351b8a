// The slow-consumer rule (docs/SECURITY.md#websocket-limits: dropped when more than 4 MiB is buffered) on a fake socket
// whose buffer never drains (coalescing.test.ts has the real slow reader): market data is held
// back first (coalescing), so what fills the buffer here is what is never coalesced.

import { afterAll, beforeAll, expect, it } from "vitest";
import { BookSnapshots } from "../../../src/gateway/ws/book-snapshots.ts";
import { type FrameSocket, WsConnection } from "../../../src/gateway/ws/connection.ts";
import { MAX_BUFFERED_BYTES, resolveWsLimits, type WsLimits } from "../../../src/gateway/ws/limits.ts";
import { PrivateFeed } from "../../../src/gateway/ws/private-feed.ts";
import { limitOrder } from "../../support/orders.ts";
import { createTrader, expectAccepted, type Harness, startHarness } from "./harness.ts";

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness.close();
});

class StuckSocket {
  readyState = 1;
  bufferedAmount = 0;
  terminated = false;
  readonly sent: string[] = [];
  send(data: string): void {
    this.sent.push(data);
    this.bufferedAmount += Buffer.byteLength(data);
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
  close(): void {}
}

function stuckConnection(socket: StuckSocket, limits: Partial<WsLimits>) {
  const feed = new PrivateFeed(harness.exchange);
  const books = new BookSnapshots(harness.exchange);
  const connection = new WsConnection(socket as unknown as FrameSocket, "public", "127.0.0.1", {
    exchange: harness.exchange,
    feed,
    books,
    secretBox: harness.secretBox,
    limits: resolveWsLimits(limits),
    clock: Date.now,
  });
  connection.start();
  return {
    connection,
    subscribe(topics: string[]) {
      connection.receive(Buffer.from(JSON.stringify({ method: "subscribe", id: 1, topics })), false);
    },
    close() {
      connection.dispose();
      feed.close();
      books.close();
    },
  };
}

it("a connection whose unsent output passes maxBufferedBytes is terminated and stops receiving", async () => {
  expect(MAX_BUFFERED_BYTES).toBe(4 * 1024 * 1024);
  const socket = new StuckSocket();
  // Market data is held back past 1,000 bytes (coalescing.test.ts); what is not market data
  // (here a notice) still counts, and past 4,000 the client is dropped.
  const stuck = stuckConnection(socket, { coalesceBufferedBytes: 1_000, maxBufferedBytes: 4_000 });
  stuck.subscribe(["spot/ticker:BTC_USD", "spot/order_book_updates:BTC_USD"]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(socket.terminated).toBe(false);
  const maker = await createTrader(harness, { BTC: 1_000_000_000 });
  for (let index = 0; index < 20; index++)
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_400_000 + index, 1)));
  expect(stuck.connection.coalescing).toBe(true);
  expect(socket.terminated).toBe(false);
  const heldBack = socket.sent.length;
  expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_400_100, 1)));
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(socket.sent.length).toBe(heldBack);
  stuck.connection.sendSerialized(JSON.stringify({ event: "info", message: "x".repeat(4_000) }));
  expect(socket.terminated).toBe(true);
  expect(socket.bufferedAmount).toBeGreaterThan(4_000);
  // Dropped: later market data is not sent any more.
  const sentAtDrop = socket.sent.length;
  expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_500_000, 1)));
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(socket.sent.length).toBe(sentAtDrop);
  stuck.close();
});

it("trades are never dropped silently: a stuck client past maxCoalescedTrades is dropped", async () => {
  const socket = new StuckSocket();
  const stuck = stuckConnection(socket, {
    coalesceBufferedBytes: 300,
    maxBufferedBytes: 1_000_000,
    maxCoalescedTrades: 5,
  });
  stuck.subscribe(["spot/trades:BTC_USD", "spot/ticker:BTC_USD"]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const maker = await createTrader(harness, { BTC: 1_000_000_000 });
  const taker = await createTrader(harness, { USD: 100_000_000_000 });
  for (let index = 0; index < 10 && !socket.terminated; index++) {
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_400_000, 1)));
    expectAccepted(await harness.exchange.submit(limitOrder(taker.userId, "buy", 6_400_000, 1)));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(socket.terminated).toBe(true);
  stuck.close();
});

// The slow-consumer rule (docs/SECURITY.md#websocket-limits: dropped when more than 4 MiB is buffered) on a fake socket
// whose buffer never drains: loopback TCP buffers are too large to fill reliably in a test.

import { afterAll, beforeAll, expect, it } from "vitest";
import { BookSnapshots } from "../../../src/gateway/ws/book-snapshots.ts";
import { type FrameSocket, WsConnection } from "../../../src/gateway/ws/connection.ts";
import { MAX_BUFFERED_BYTES, resolveWsLimits } from "../../../src/gateway/ws/limits.ts";
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

it("a connection whose unsent output passes maxBufferedBytes is terminated and stops receiving", async () => {
  expect(MAX_BUFFERED_BYTES).toBe(4 * 1024 * 1024);
  const socket = new StuckSocket();
  const limits = resolveWsLimits({ maxBufferedBytes: 2_000 });
  const feed = new PrivateFeed(harness.exchange);
  const books = new BookSnapshots(harness.exchange);
  const connection = new WsConnection(socket as unknown as FrameSocket, "public", "127.0.0.1", {
    exchange: harness.exchange,
    feed,
    books,
    secretBox: harness.secretBox,
    limits,
    clock: Date.now,
  });
  connection.start();
  connection.receive(
    Buffer.from(
      JSON.stringify({
        method: "subscribe",
        id: 1,
        topics: ["spot/ticker:BTC_USD", "spot/order_book_updates:BTC_USD"],
      }),
    ),
    false,
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(socket.terminated).toBe(false);
  const maker = await createTrader(harness, { BTC: 1_000_000_000 });
  for (let index = 0; index < 20 && !socket.terminated; index++)
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_400_000 + index, 1)));
  expect(socket.terminated).toBe(true);
  expect(socket.bufferedAmount).toBeGreaterThan(limits.maxBufferedBytes);
  // Dropped: later market data is not sent any more.
  const sentAtDrop = socket.sent.length;
  expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_500_000, 1)));
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(socket.sent.length).toBe(sentAtDrop);
  feed.close();
  books.close();
});

// The WebSocket limits not covered by protocol.test.ts (docs/SECURITY.md#websocket-limits): the
// idle timeout, the maximum connection lifetime, the gateway-wide connection cap, and degraded
// mode's refusal of new public connections; on real sockets with short timers.

import { get } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { GuardControl } from "../../../src/gateway/guard/guard-control.ts";
import {
  IDLE_CLOSE_REASON,
  IDLE_INFO_CODE,
  LIFETIME_CLOSE_REASON,
  LIFETIME_INFO_CODE,
} from "../../../src/gateway/ws/connection.ts";
import {
  IDLE_TIMEOUT_MS,
  MAX_CONNECTION_LIFETIME_MS,
  resolveWsLimits,
} from "../../../src/gateway/ws/limits.ts";
import { limitOrder } from "../../support/orders.ts";
import {
  byEvent,
  createTrader,
  expectAccepted,
  type Harness,
  loginFrame,
  RawClient,
  startHarness,
} from "./harness.ts";

let harness: Harness | null = null;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.terminate();
  await harness?.close();
  harness = null;
});

async function connect(on: Harness, path: "public" | "private", options = {}): Promise<RawClient> {
  const client = await RawClient.connect(`${on.url}/v1/${path}`, options);
  clients.push(client);
  await client.next(byEvent("info"));
  return client;
}

/** An upgrade request by hand, to read the refusal's status and headers. */
function rawUpgrade(on: Harness, path: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = get(`${on.url.replace("ws:", "http:")}${path}`, {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      },
    });
    request.once("response", (response) => {
      const retryAfter = response.headers["retry-after"];
      response.resume();
      resolve({
        status: response.statusCode ?? 0,
        retryAfter: typeof retryAfter === "string" ? retryAfter : undefined,
      });
    });
    request.once("upgrade", (_response, socket) => {
      socket.destroy();
      reject(new Error("upgraded"));
    });
    request.once("error", reject);
  });
}

function closeReason(client: RawClient): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    client.socket.once("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
}

describe("idle timeout", () => {
  it("closes a socket that subscribes to nothing and says nothing, with an info frame and 1000", async () => {
    expect(IDLE_TIMEOUT_MS).toBe(60_000);
    const on = await startHarness({ idleTimeoutMs: 300, timeoutCheckIntervalMs: 20 });
    harness = on;
    const client = await connect(on, "public");
    const started = Date.now();
    const closed = closeReason(client);
    const info = await client.next(byEvent("info"), 2_000);
    expect(info).toMatchObject({ code: IDLE_INFO_CODE, message: IDLE_CLOSE_REASON });
    expect(await closed).toEqual({ code: 1000, reason: IDLE_CLOSE_REASON });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("a message resets it; a quiet subscriber answering pings stays; one not answering is idle", async () => {
    const on = await startHarness({ idleTimeoutMs: 300, timeoutCheckIntervalMs: 20, pingIntervalMs: 100 });
    harness = on;
    const talker = await connect(on, "public");
    const subscriber = await connect(on, "public");
    subscriber.send({ method: "subscribe", id: 1, topics: ["spot/ticker:BTC_USD"] });
    await subscriber.next(byEvent("subscribed"));
    for (let index = 0; index < 6; index++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      talker.send({ method: "subscribe", id: index, topics: ["spot/no_such_topic:BTC_USD"] });
    }
    // 600 ms: twice the idle timeout; both still open.
    expect(talker.closeCode).toBeNull();
    expect(subscriber.closeCode).toBeNull();
    // A topic holder that does not answer pings is not kept by its topics.
    const mute = await connect(on, "public", { autoPong: false });
    mute.send({ method: "subscribe", id: 1, topics: ["spot/ticker:BTC_USD"] });
    await mute.next(byEvent("subscribed"));
    expect(await mute.closed).not.toBe(0);
    expect(subscriber.closeCode).toBeNull();
  });
});

describe("maximum connection lifetime", () => {
  it("ends a busy connection at its lifetime with an info frame and 1001, and cancels no armed orders", async () => {
    expect(MAX_CONNECTION_LIFETIME_MS).toBe(24 * 60 * 60_000);
    const on = await startHarness({
      maxConnectionLifetimeMs: 600,
      idleTimeoutMs: 60_000,
      timeoutCheckIntervalMs: 20,
    });
    harness = on;
    const trader = await createTrader(on, { USD: 100_000_000_000 });
    expectAccepted(await on.exchange.submit(limitOrder(trader.userId, "buy", 5_000_000, 1)));
    const client = await connect(on, "private");
    client.send(loginFrame(trader, Date.now()));
    await client.next(byEvent("logged_in"));
    client.send({ method: "cancel_on_disconnect", id: 2, enabled: true });
    await client.next(byEvent("cancel_on_disconnect"));
    const opened = Date.now();
    const closed = closeReason(client);
    const info = await client.next(byEvent("info"), 2_000);
    expect(info).toMatchObject({ code: LIFETIME_INFO_CODE, message: LIFETIME_CLOSE_REASON });
    expect(await closed).toEqual({ code: 1001, reason: LIFETIME_CLOSE_REASON });
    // Lifetime less up to 10 % jitter, checked every 20 ms.
    expect(Date.now() - opened).toBeGreaterThanOrEqual(400);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const usd = on.exchange.assetByCode("USD")!.assetId;
    expect(on.exchange.balance(trader.userId, usd).heldUnits).toBeGreaterThan(0);
    await on.exchange.whenProjected(on.exchange.status().lastSequence);
    expect(await on.exchange.reads.openOrdersOfUser(trader.userId, { limit: 10 })).toHaveLength(1);
  });
});

describe("connection caps and degraded mode at the upgrade", () => {
  it("a full gateway refuses the next upgrade with 503", async () => {
    const on = await startHarness({ maxConnections: 2 });
    harness = on;
    await connect(on, "public");
    await connect(on, "private");
    await expect(RawClient.connect(`${on.url}/v1/public`)).rejects.toThrow(/503/);
  });

  it("degraded mode refuses new public connections with 503 + Retry-After; private ones and open ones stay", async () => {
    const guardControl = new GuardControl(null);
    const on = await startHarness({}, { guardControl });
    harness = on;
    const open = await connect(on, "public");
    open.send({ method: "subscribe", id: 1, topics: ["spot/ticker:BTC_USD"] });
    await open.next(byEvent("subscribed"));
    guardControl.setDegraded({ on: true, actor: "test", reason: "flood" });
    const refused = await rawUpgrade(on, "/v1/public");
    expect(refused.status).toBe(503);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    await expect(RawClient.connect(`${on.url}/v1/public`)).rejects.toThrow(/503/);
    const privateClient = await connect(on, "private");
    expect(privateClient.closeCode).toBeNull();
    // The open public connection still gets market data.
    const maker = await createTrader(on, { BTC: 1_000_000_000 });
    expectAccepted(await on.exchange.submit(limitOrder(maker.userId, "sell", 6_400_000, 1)));
    await open.next(byEvent("update", "spot/ticker:BTC_USD"));
    guardControl.setDegraded({ on: false, actor: "test" });
    await connect(on, "public");
  });

  it("counts connections per address by the gateway's client-address rule (a trusted proxy's forwarded address)", async () => {
    const on = await startHarness(
      { maxConnectionsPerIp: 1 },
      { clientAddress: (peer, headers) => String(headers["x-forwarded-for"] ?? peer) },
    );
    harness = on;
    const from = (address: string) => ({ headers: { "x-forwarded-for": address } });
    await connect(on, "public", from("198.51.100.1"));
    await connect(on, "public", from("198.51.100.2"));
    await expect(RawClient.connect(`${on.url}/v1/public`, from("198.51.100.1"))).rejects.toThrow(/429/);
  });

  it("refuses a coalescing threshold at or above the slow-consumer drop", () => {
    expect(() => resolveWsLimits({ coalesceBufferedBytes: 4 * 1024 * 1024 })).toThrow(RangeError);
  });
});

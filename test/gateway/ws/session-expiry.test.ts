// A private WebSocket feed opened with a browser session ends when the session expires
// (docs/API.md#sessions): past its absolute lifetime, or idle (no session request: the feed's own
// frames do not count) for the idle timeout, with the same error frame and close as a revoke. A
// session request in between (REST touches last-seen) keeps it; a key-signed feed never ends so.
// The gateway and the session API share a clock the tests move forward; expiry checks run every
// 20 ms here.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionTimes } from "../../../src/gateway/session/session-auth.ts";
import { CLOSE_POLICY_VIOLATION } from "../../../src/gateway/ws/connection.ts";
import { attachWebSocket, type WebSocketGateway } from "../../../src/gateway/ws/server.ts";
import { createTrader, type Harness, startHarness } from "../support/rest-harness.ts";
import { byEvent, loginFrame, RawClient } from "./harness.ts";

const MINUTE_MS = 60 * 1000;
const TIMES: SessionTimes = { idleTimeoutMs: 30 * MINUTE_MS, absoluteTimeoutMs: 60 * MINUTE_MS };
const CHECK_INTERVAL_MS = 20;
/** Long enough for several expiry checks to have run. */
const SEVERAL_CHECKS_MS = 10 * CHECK_INTERVAL_MS;
const ENDED_MESSAGE = "session ended; log in again";

let harness: Harness;
let webSocket: WebSocketGateway;
const clients: RawClient[] = [];
let counter = 0;
/** Only ever moves forward: every test's users are created at the clock's current time. */
let clockOffsetMs = 0;
const clock = (): number => Date.now() + clockOffsetMs;

beforeAll(async () => {
  harness = await startHarness({
    clock,
    session: { passwordScrypt: { logN: 10, blockSize: 8, parallelization: 1 }, times: TIMES },
  });
  webSocket = attachWebSocket(harness.gateway.server, harness.exchange, {
    secretBox: harness.secretBox,
    clock,
    sessionTimes: TIMES,
    limits: { sessionCheckIntervalMs: CHECK_INTERVAL_MS },
  });
});
afterAll(async () => {
  for (const client of clients) await client.terminate();
  await webSocket?.close();
  await harness?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A signed-up user's cookies (name=value; …). */
async function signUp(): Promise<string> {
  counter += 1;
  const response = await fetch(`${harness.baseUrl}/api/v1/session/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      email: `ws-expiry-${counter}-${process.pid}@example.test`,
      password: "correct horse battery",
    }),
  });
  expect(response.status).toBe(201);
  return response.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .join("; ");
}

async function connect(headers: Record<string, string> = {}): Promise<RawClient> {
  const client = await RawClient.connect(`${harness.baseUrl.replace("http", "ws")}/v1/private`, { headers });
  clients.push(client);
  await client.next(byEvent("info"));
  return client;
}

/** A session feed, logged in and subscribed to spot/wallet. */
async function sessionFeed(cookie: string): Promise<RawClient> {
  const client = await connect({ cookie, origin: harness.baseUrl });
  client.send({ method: "login", id: 1, session: true });
  await client.next(byEvent("logged_in"));
  client.send({ method: "subscribe", id: 2, topics: ["spot/wallet"] });
  await client.next(byEvent("snapshot", "spot/wallet"));
  return client;
}

/** A REST session request: the person uses the page, so the session's last-seen moves. */
async function useSession(cookie: string): Promise<void> {
  const response = await fetch(`${harness.baseUrl}/api/v1/session/me`, { headers: { cookie } });
  expect(response.status).toBe(200);
}

/** The feed still runs: after several checks it answers a subscribe and got no error. */
async function expectLive(client: RawClient, id: number): Promise<void> {
  await sleep(SEVERAL_CHECKS_MS);
  client.send({ method: "subscribe", id, topics: ["spot/orders"] });
  await client.next((frame) => frame.event === "subscribed" && frame.id === id);
  expect(client.closeCode).toBeNull();
  expect(client.frames.some((frame) => frame.event === "error")).toBe(false);
}

/** Ended within a second (many checks): the revoke's error frame, then close 1008. */
async function expectEnded(client: RawClient): Promise<void> {
  const closeCode = await Promise.race([client.closed, sleep(1_000).then(() => "still open")]);
  expect(closeCode).toBe(CLOSE_POLICY_VIOLATION);
  expect(client.frames[client.frames.length - 1]).toMatchObject({
    event: "error",
    code: 40032,
    message: expect.stringContaining(ENDED_MESSAGE),
  });
}

describe("a session feed ends when its session expires", () => {
  it("ends past the absolute lifetime, even when the session was used all along", async () => {
    const cookie = await signUp();
    const client = await sessionFeed(cookie);
    clockOffsetMs += 25 * MINUTE_MS;
    await useSession(cookie);
    clockOffsetMs += 25 * MINUTE_MS;
    await useSession(cookie);
    await expectLive(client, 3);
    // 61 min after login, 11 min after the last use: only the absolute lifetime has passed.
    clockOffsetMs += 11 * MINUTE_MS;
    await expectEnded(client);
  });

  it("ends past the idle timeout when only the feed itself was busy", async () => {
    const cookie = await signUp();
    const client = await sessionFeed(cookie);
    clockOffsetMs += 20 * MINUTE_MS;
    // The feed's own frames are not use of the session.
    await expectLive(client, 3);
    clockOffsetMs += 11 * MINUTE_MS;
    await expectEnded(client);
    // The session itself is expired too: a new login on the page is refused.
    const again = await connect({ cookie, origin: harness.baseUrl });
    again.send({ method: "login", id: 9, session: true });
    expect(String((await again.next(byEvent("error"))).message)).toContain("session expired");
  });

  it("stays past the idle timeout counted from login when the session was used in between", async () => {
    const cookie = await signUp();
    const client = await sessionFeed(cookie);
    await sleep(SEVERAL_CHECKS_MS);
    clockOffsetMs += 20 * MINUTE_MS;
    await useSession(cookie);
    // 40 min after login (its first expiry as read), 20 min after the last use.
    clockOffsetMs += 20 * MINUTE_MS;
    await expectLive(client, 3);
    // 31 min after the last use, with no use since.
    clockOffsetMs += 11 * MINUTE_MS;
    await expectEnded(client);
  });

  it("never ends a feed logged in with an API key", async () => {
    const trader = await createTrader(harness, { scopes: ["info"] });
    const keyed = await connect();
    keyed.send(loginFrame(trader, clock(), 1));
    await keyed.next(byEvent("logged_in"));
    const cookie = await signUp();
    const bySession = await sessionFeed(cookie);
    clockOffsetMs += 13 * 60 * MINUTE_MS;
    await expectEnded(bySession);
    await expectLive(keyed, 2);
  });
});

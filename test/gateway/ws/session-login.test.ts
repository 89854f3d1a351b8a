// The private WebSocket with a browser session (docs/API.md#sessions): `{"method":"login",
// "session":true}` on /v1/private, authenticated by the cookie the upgrade carried; the feed then
// follows the session (a logout ends it at once), and a page of another site, a missing cookie or
// a malformed login frame gets an error and no feed.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE_POLICY_VIOLATION } from "../../../src/gateway/ws/connection.ts";
import { attachWebSocket, type WebSocketGateway } from "../../../src/gateway/ws/server.ts";
import { fund, type Harness, startHarness } from "../support/rest-harness.ts";
import { type Frame, RawClient } from "./harness.ts";

let harness: Harness;
let webSocket: WebSocketGateway;
const clients: RawClient[] = [];
let counter = 0;

beforeAll(async () => {
  harness = await startHarness({
    session: { passwordScrypt: { logN: 10, blockSize: 8, parallelization: 1 } },
  });
  webSocket = attachWebSocket(harness.gateway.server, harness.exchange, { secretBox: harness.secretBox });
});
afterAll(async () => {
  for (const client of clients) await client.terminate();
  await webSocket?.close();
  await harness?.close();
});

const byEvent =
  (event: string, topic?: string) =>
  (frame: Frame): boolean =>
    frame.event === event && (topic === undefined || frame.topic === topic);

/** A signed-up user's cookies (name=value; …) and CSRF token. */
async function signUp(): Promise<{ userId: number; cookie: string; csrf: string }> {
  counter += 1;
  const response = await fetch(`${harness.baseUrl}/api/v1/session/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      email: `ws-session-${counter}-${process.pid}@example.test`,
      password: "correct horse battery",
    }),
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { userId: number; csrfToken: string };
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .join("; ");
  return { userId: body.userId, cookie, csrf: body.csrfToken };
}

async function connect(headers: Record<string, string>): Promise<RawClient> {
  const client = await RawClient.connect(`${harness.baseUrl.replace("http", "ws")}/v1/private`, { headers });
  clients.push(client);
  await client.next(byEvent("info"));
  return client;
}

function sessionPost(user: { cookie: string; csrf: string }, path: string, body: string): Promise<Response> {
  return fetch(`${harness.baseUrl}${path}`, {
    method: "POST",
    headers: {
      cookie: user.cookie,
      "x-csrf-token": user.csrf,
      "content-type": path.includes("/private/") ? "application/x-www-form-urlencoded" : "application/json",
    },
    body,
  });
}

describe("private WebSocket login with a session", () => {
  it("logs in with the upgrade's cookie, streams the user's orders, and ends at the session's logout", async () => {
    const user = await signUp();
    await fund(harness, user.userId, { USD: "1000" });
    const client = await connect({ cookie: user.cookie, origin: harness.baseUrl });
    client.send({ method: "login", id: 1, session: true });
    await client.next(byEvent("logged_in"));
    client.send({ method: "subscribe", id: 2, topics: ["spot/orders"] });
    await client.next(byEvent("snapshot", "spot/orders"));

    const placed = await sessionPost(
      user,
      "/api/v1/private/order_create",
      "pair=BTC_USD&quantity=0.01&price=10000&type=buy",
    );
    expect(await placed.json()).toMatchObject({ result: true });
    const update = await client.next(byEvent("update", "spot/orders"));
    expect(update.data).toMatchObject({ status: "open", pair: "BTC_USD" });

    expect((await sessionPost(user, "/api/v1/session/logout", "{}")).status).toBe(200);
    expect(await client.closed).toBe(CLOSE_POLICY_VIOLATION);
    expect(client.frames[client.frames.length - 1]).toMatchObject({ event: "error", code: 40032 });
  });

  it("refuses another site's page, no cookie, and a malformed session login, with no feed", async () => {
    const user = await signUp();
    const foreign = await connect({ cookie: user.cookie, origin: "https://evil.example" });
    foreign.send({ method: "login", id: 1, session: true });
    const refused = await foreign.next(byEvent("error"));
    expect(refused).toMatchObject({ id: 1, code: 40032 });
    expect(String(refused.message)).toContain("another site");
    foreign.send({ method: "subscribe", id: 2, topics: ["spot/orders"] });
    expect(await foreign.next(byEvent("error"))).toMatchObject({ id: 2, code: 40032 });

    const anonymous = await connect({ origin: harness.baseUrl });
    anonymous.send({ method: "login", id: 3, session: true });
    expect(String((await anonymous.next(byEvent("error"))).message)).toContain("not logged in");

    const malformed = await connect({ cookie: user.cookie, origin: harness.baseUrl });
    malformed.send({ method: "login", id: 4, session: "yes" });
    expect(await malformed.next(byEvent("error"))).toMatchObject({ id: 4, code: 59001 });
    expect(malformed.frames.some((frame) => frame.event === "logged_in")).toBe(false);
  });
});

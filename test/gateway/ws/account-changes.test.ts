// A logged-in WebSocket follows its account (outside test, issue 6 point 7): revoking its API key
// or freezing its user closes the private session and the connection at once, with an EXMO error
// frame first, and nothing more is sent on it; sessions of other users and keys are unaffected.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { apiSecretContext, generateApiKey } from "../../../src/accounts/api-keys.ts";
import { exmoError } from "../../../src/gateway/exmo/errors.ts";
import { limitOrder } from "../../support/orders.ts";
import {
  byEvent,
  createTrader,
  expectAccepted,
  type Harness,
  loginFrame,
  RawClient,
  startHarness,
  type Trader,
} from "./harness.ts";

const CLOSE_POLICY_VIOLATION = 1008;
/** How long a test waits to be sure a frame does not come. */
const QUIET_MS = 150;
/** How long a test waits for a connection that must close. */
const CLOSE_WAIT_MS = 5_000;
const FUNDS = { USD: 100_000_000_000, BTC: 1_000_000_000 };

let harness: Harness;
const clients: RawClient[] = [];
let nonce = Date.now();

beforeAll(async () => {
  harness = await startHarness();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.terminate()));
  while (harness.gateway.connectionCount > 0) await new Promise((resolve) => setTimeout(resolve, 5));
});

afterAll(async () => {
  await harness.close();
});

async function connect(): Promise<RawClient> {
  const client = await RawClient.connect(`${harness.url}/v1/private`);
  clients.push(client);
  await client.next(byEvent("info"));
  return client;
}

/** Logged in and subscribed to spot/wallet and spot/orders, snapshots received. */
async function privateClient(trader: Trader): Promise<RawClient> {
  const client = await connect();
  nonce += 1;
  client.send(loginFrame(trader, nonce, 1));
  await client.next(byEvent("logged_in"));
  client.send({ method: "subscribe", id: 2, topics: ["spot/wallet", "spot/orders"] });
  await client.next(byEvent("snapshot", "spot/wallet"));
  await client.next(byEvent("snapshot", "spot/orders"));
  return client;
}

/** A second info+trade key for the trader's user. */
async function secondKey(trader: Trader): Promise<Trader> {
  const { keyId, secret } = generateApiKey();
  const created = await harness.exchange.accounts.createApiKey({
    keyId,
    userId: trader.userId,
    secretCiphertext: Buffer.from(harness.secretBox.seal(secret, apiSecretContext(keyId)), "utf8"),
    scopes: ["info", "trade"],
    ipAllowList: [],
    createdMs: Date.now(),
  });
  if (!created) throw new Error("key exists");
  return { userId: trader.userId, keyId, secret };
}

async function restingBuy(trader: Trader, priceTicks: number): Promise<void> {
  expectAccepted(await harness.exchange.submit(limitOrder(trader.userId, "buy", priceTicks, 1)));
}

async function quiet(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
}

/** The error frame, then close 1008; returns how many frames the client had at the close. */
async function expectClosedWith(
  client: RawClient,
  error: { code: number; message: string },
): Promise<number> {
  const timeout = new Promise<string>((resolve) =>
    setTimeout(() => resolve("still open"), CLOSE_WAIT_MS).unref(),
  );
  expect(await Promise.race([client.closed, timeout])).toBe(CLOSE_POLICY_VIOLATION);
  const last = client.frames[client.frames.length - 1];
  expect(last).toMatchObject({ event: "error", code: error.code, message: error.message });
  return client.frames.length;
}

/** The other session keeps receiving its own updates. */
async function expectStillServed(client: RawClient, trader: Trader, priceTicks: number): Promise<void> {
  await restingBuy(trader, priceTicks);
  const update = await client.next(byEvent("update", "spot/orders"));
  expect(update.data).toMatchObject({ status: "open" });
  expect(client.closeCode).toBeNull();
}

describe("a private WebSocket follows its account", () => {
  it("revoking the key closes its session with 40017 and close 1008; nothing more is sent; another user's session goes on", async () => {
    const alice = await createTrader(harness, FUNDS);
    const bob = await createTrader(harness, FUNDS);
    const aliceClient = await privateClient(alice);
    const bobClient = await privateClient(bob);

    expect(await harness.exchange.accounts.revokeApiKey(alice.keyId, Date.now())).toBe(true);
    // Sent at once after the revocation: refused with the rest of the connection.
    aliceClient.send({ method: "subscribe", id: 3, topics: ["spot/user_trades"] });
    const framesAtClose = await expectClosedWith(aliceClient, exmoError("unknownApiKey", "API key revoked"));
    expect(aliceClient.frames.some((frame) => frame.event === "subscribed" && frame.id === 3)).toBe(false);

    // Alice's account keeps changing; her closed session hears nothing of it.
    await restingBuy(alice, 5_000_000);
    await expectStillServed(bobClient, bob, 5_000_001);
    await quiet();
    expect(aliceClient.frames.length).toBe(framesAtClose);

    // And the revoked key cannot log in again.
    const again = await connect();
    nonce += 1;
    again.send(loginFrame(alice, nonce, 9));
    expect(await again.next(byEvent("error"))).toMatchObject({
      id: 9,
      code: exmoError("unknownApiKey").code,
    });
  });

  it("freezing the user closes every session of the user (each key) with 40033; other users go on", async () => {
    const carol = await createTrader(harness, FUNDS);
    const carolOtherKey = await secondKey(carol);
    const dave = await createTrader(harness, FUNDS);
    const carolClients = [await privateClient(carol), await privateClient(carolOtherKey)];
    const daveClient = await privateClient(dave);

    expect(await harness.exchange.accounts.setUserStatus(carol.userId, "frozen")).toBe(true);
    const counts = await Promise.all(
      carolClients.map((client) => expectClosedWith(client, exmoError("userBlocked", "user is frozen"))),
    );

    await restingBuy(carol, 5_000_010);
    await expectStillServed(daveClient, dave, 5_000_011);
    await quiet();
    expect(carolClients.map((client) => client.frames.length)).toEqual(counts);
  });

  it("changes that keep access (unfreeze of an active user, a new key, another key revoked) close nothing", async () => {
    const erin = await createTrader(harness, FUNDS);
    const erinOtherKey = await secondKey(erin);
    const erinClient = await privateClient(erin);

    expect(await harness.exchange.accounts.setUserStatus(erin.userId, "active")).toBe(true);
    await secondKey(erin);
    expect(await harness.exchange.accounts.revokeApiKey(erinOtherKey.keyId, Date.now())).toBe(true);
    await quiet();
    await expectStillServed(erinClient, erin, 5_000_020);
  });

  it("a key revoked while its login is under way never gets a private frame", async () => {
    for (let round = 0; round < 8; round++) {
      const frank = await createTrader(harness, FUNDS);
      const client = await connect();
      nonce += 1;
      client.send(loginFrame(frank, nonce, 1));
      // Revoke after 0..7 event-loop turns, so the change lands at different steps of the login.
      for (let turn = 0; turn < round; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(await harness.exchange.accounts.revokeApiKey(frank.keyId, Date.now())).toBe(true);
      if (client.closeCode === null) client.send({ method: "subscribe", id: 2, topics: ["spot/wallet"] });
      await quiet();
      expect(client.frames.some((frame) => frame.event === "snapshot" && frame.topic === "spot/wallet")).toBe(
        false,
      );
      // Either refused at login (still open, logged out) or closed after it.
      const loggedIn = client.frames.some((frame) => frame.event === "logged_in");
      if (loggedIn) expect(client.closeCode).toBe(CLOSE_POLICY_VIOLATION);
    }
  });
});

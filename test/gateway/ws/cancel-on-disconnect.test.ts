// Cancel-on-disconnect (issue 10 §3, docs/API.md#ws-cancel-on-disconnect): a logged-in private
// connection that armed it has all its user's open orders cancelled when it drops (here: a real
// socket destroyed mid-session, no close frame), once; unarmed, disarmed, refused or malformed
// requests leave the orders alone, and so does the server's own graceful shutdown.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
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

const FUNDS = { USD: 100_000_000_000, BTC: 1_000_000_000 };
/** The brief's bound: orders gone within a second of the drop. */
const CANCEL_WITHIN_MS = 1_000;
/** How long a test waits to be sure nothing was cancelled. */
const QUIET_MS = 150;
const POLL_MS = 10;

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

async function loggedIn(on: Harness, trader: Trader): Promise<RawClient> {
  const client = await RawClient.connect(`${on.url}/v1/private`);
  clients.push(client);
  await client.next(byEvent("info"));
  nonce += 1;
  client.send(loginFrame(trader, nonce, 1));
  await client.next(byEvent("logged_in"));
  return client;
}

/** BTC_USD at 50,000 USD (a tick is 0.01 USD): a notional above the market's 1 USD minimum. */
const BTC_PRICE_TICKS = 5_000_000;
/** ETH_USD at 2,000 USD. */
const ETH_PRICE_TICKS = 200_000;

/** Two resting buys on BTC_USD and one on ETH_USD (nobody sells: they rest). */
async function restingOrders(on: Harness, trader: Trader): Promise<void> {
  for (const command of [
    limitOrder(trader.userId, "buy", BTC_PRICE_TICKS, 1),
    limitOrder(trader.userId, "buy", BTC_PRICE_TICKS + 1, 2),
    limitOrder(trader.userId, "buy", ETH_PRICE_TICKS, 1, { marketId: 2 }),
  ])
    expectAccepted(await on.exchange.submit(command));
}

/** The user's open orders as the read models have them, once they show every command so far. */
async function openOrderCount(on: Harness, trader: Trader): Promise<number> {
  await on.exchange.whenProjected(on.exchange.status().lastSequence);
  return (await on.exchange.reads.openOrdersOfUser(trader.userId, { limit: 100 })).length;
}

/** USD held by the core for the user's orders (ahead of the read models). */
function heldUsd(on: Harness, trader: Trader): number {
  return on.exchange.balance(trader.userId, on.exchange.assetByCode("USD")!.assetId).heldUnits;
}

async function expectCancelledSoon(on: Harness, trader: Trader): Promise<void> {
  const deadline = Date.now() + CANCEL_WITHIN_MS;
  while (heldUsd(on, trader) !== 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  expect(heldUsd(on, trader)).toBe(0);
  expect(await openOrderCount(on, trader)).toBe(0);
}

async function expectStillOpen(on: Harness, trader: Trader, orders = 3): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  expect(heldUsd(on, trader)).toBeGreaterThan(0);
  expect(await openOrderCount(on, trader)).toBe(orders);
}

async function arm(client: RawClient, id: number, enabled = true): Promise<void> {
  client.send({ method: "cancel_on_disconnect", id, enabled });
  expect(await client.next((frame) => frame.id === id)).toMatchObject({
    event: "cancel_on_disconnect",
    id,
    enabled,
  });
}

describe("cancel-on-disconnect", () => {
  it("cancels every open order of the user when an armed socket is destroyed mid-session", async () => {
    const trader = await createTrader(harness, FUNDS);
    await restingOrders(harness, trader);
    const client = await loggedIn(harness, trader);
    await arm(client, 2);
    expect(await openOrderCount(harness, trader)).toBe(3);
    // A real drop: the client's TCP socket goes away without a close frame.
    await client.terminate();
    await expectCancelledSoon(harness, trader);
  });

  it("cancels too when the client closes normally, and orders placed later are left alone", async () => {
    const trader = await createTrader(harness, FUNDS);
    await restingOrders(harness, trader);
    const client = await loggedIn(harness, trader);
    await arm(client, 2);
    client.close();
    await client.closed;
    await expectCancelledSoon(harness, trader);
    // One cancelAll per closing connection: a new order after it stays.
    expectAccepted(await harness.exchange.submit(limitOrder(trader.userId, "buy", BTC_PRICE_TICKS, 1)));
    await expectStillOpen(harness, trader, 1);
  });

  it("leaves the orders when the connection never armed it", async () => {
    const trader = await createTrader(harness, FUNDS);
    await restingOrders(harness, trader);
    const client = await loggedIn(harness, trader);
    await client.terminate();
    await expectStillOpen(harness, trader);
  });

  it("leaves the orders when it was disarmed again", async () => {
    const trader = await createTrader(harness, FUNDS);
    await restingOrders(harness, trader);
    const client = await loggedIn(harness, trader);
    await arm(client, 2, true);
    await arm(client, 3, false);
    await client.terminate();
    await expectStillOpen(harness, trader);
  });

  it("is per connection: the armed one dropping cancels though another of the user's stays open", async () => {
    const trader = await createTrader(harness, FUNDS);
    await restingOrders(harness, trader);
    const armed = await loggedIn(harness, trader);
    const other = await loggedIn(harness, trader);
    await arm(armed, 2);
    await armed.terminate();
    await expectCancelledSoon(harness, trader);
    // The other connection is unaffected and, unarmed, cancels nothing when it goes.
    other.send({ method: "subscribe", id: 4, topics: ["spot/wallet"] });
    await other.next(byEvent("subscribed", "spot/wallet"));
    expectAccepted(await harness.exchange.submit(limitOrder(trader.userId, "buy", BTC_PRICE_TICKS, 1)));
    await other.terminate();
    await expectStillOpen(harness, trader, 1);
  });

  it("refuses arming before login, and that refusal arms nothing", async () => {
    const trader = await createTrader(harness, FUNDS);
    await restingOrders(harness, trader);
    const client = await RawClient.connect(`${harness.url}/v1/private`);
    clients.push(client);
    await client.next(byEvent("info"));
    client.send({ method: "cancel_on_disconnect", id: 7, enabled: true });
    expect(await client.next(byEvent("error"))).toMatchObject({
      id: 7,
      ...exmoError("noPermission", "login first"),
    });
    nonce += 1;
    client.send(loginFrame(trader, nonce, 8));
    await client.next(byEvent("logged_in"));
    await client.terminate();
    await expectStillOpen(harness, trader);
  });

  it("refuses it on /v1/public", async () => {
    const client = await RawClient.connect(`${harness.url}/v1/public`);
    clients.push(client);
    await client.next(byEvent("info"));
    client.send({ method: "cancel_on_disconnect", id: 3, enabled: true });
    expect(await client.next(byEvent("error"))).toMatchObject({
      id: 3,
      ...exmoError("unknownFunction", "cancel_on_disconnect on /v1/public"),
    });
  });

  it("refuses a malformed frame with the field named, and nothing is armed", async () => {
    const trader = await createTrader(harness, FUNDS);
    await restingOrders(harness, trader);
    const client = await loggedIn(harness, trader);
    client.send({ method: "cancel_on_disconnect", id: 5, enabled: "yes" });
    expect(await client.next(byEvent("error"))).toMatchObject({
      id: 5,
      ...exmoError("invalidParameter", "enabled"),
    });
    client.send({ method: "cancel_on_disconnect", id: 6 });
    expect(await client.next(byEvent("error"))).toMatchObject({
      id: 6,
      ...exmoError("invalidParameter", "enabled"),
    });
    await client.terminate();
    await expectStillOpen(harness, trader);
  });

  it("refuses arming with a key that may not trade", async () => {
    const trader = await createTrader(harness, FUNDS);
    await restingOrders(harness, trader);
    const readOnly = await createTrader(harness, {}, { scopes: ["info"] });
    const client = await loggedIn(harness, readOnly);
    client.send({ method: "cancel_on_disconnect", id: 2, enabled: true });
    expect(await client.next(byEvent("error"))).toMatchObject({
      id: 2,
      ...exmoError("noPermission", "key lacks scope trade"),
    });
    // Disarming needs no trade scope: it cancels nothing.
    await arm(client, 3, false);
    await client.terminate();
    await expectStillOpen(harness, trader);
  });
});

describe("cancel-on-disconnect and a dead peer", () => {
  it("cancels when the server drops a peer that stopped answering pings", async () => {
    const own = await startHarness({ pingIntervalMs: 100 });
    try {
      const trader = await createTrader(own, FUNDS);
      await restingOrders(own, trader);
      // A peer whose network went quiet: it never answers the protocol pings.
      const client = await RawClient.connect(`${own.url}/v1/private`, { autoPong: false });
      clients.push(client);
      await client.next(byEvent("info"));
      nonce += 1;
      client.send(loginFrame(trader, nonce, 1));
      await client.next(byEvent("logged_in"));
      await arm(client, 2);
      expect(heldUsd(own, trader)).toBeGreaterThan(0);
      // Dropped at the second ping (about 200 ms), without a close frame.
      expect(await client.closed).toBe(1006);
      await expectCancelledSoon(own, trader);
    } finally {
      await own.close();
    }
  });
});

describe("cancel-on-disconnect and the server's shutdown", () => {
  it("a graceful shutdown of the gateway cancels nothing", async () => {
    const own = await startHarness();
    try {
      const trader = await createTrader(own, FUNDS);
      await restingOrders(own, trader);
      const client = await loggedIn(own, trader);
      await arm(client, 2);
      await own.gateway.close();
      expect(await client.closed).toBe(1001);
      await expectStillOpen(own, trader);
    } finally {
      await own.close();
    }
  });
});

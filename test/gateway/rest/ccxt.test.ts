// ccxt 4.5.73 `exmo` against the REST gateway on SQLite: every unified REST method it can call
// on a spot exchange, and the error mapping, RateLimitExceeded (40034) included.

import ccxt from "ccxt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMIT } from "../../../src/gateway/guard/rate-limit.ts";
import { stateApartFromNonces } from "../../support/core-state.ts";
import { ccxtExmo, createTrader, type Harness, nextNonce, startHarness } from "../support/rest-harness.ts";
import { runCcxtTradingFlow } from "./ccxt-flow.ts";

describe("ccxt exmo against the gateway (SQLite)", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness.close();
  });

  it("runs a trading session through every unified REST method, matching core and store", async () => {
    const { calls } = await runCcxtTradingFlow(harness, { full: true });
    expect(calls.length).toBeGreaterThan(20);
    expect(() => harness.exchange.internals.core.checkInvariants()).not.toThrow();
  });
});

describe("ccxt exmo against the production rate limit", () => {
  let harness: Harness;
  beforeAll(async () => {
    // The production default (10 req/s, burst 20) on the real clock.
    harness = await startHarness({ rateLimit: {} });
  });
  afterAll(async () => {
    await harness.close();
  });

  it("a client with its rate limiter off gets RateLimitExceeded, and nothing changed", async () => {
    const trader = await createTrader(harness, { funds: { USD: "1000" } });
    const client = ccxtExmo(harness, trader);
    client.enableRateLimit = false;
    // Its own strictly increasing nonces: without the limiter two calls can share a millisecond.
    client.nonce = () => nextNonce();
    let served = 0;
    let error: unknown = null;
    for (let call = 0; call < 3 * DEFAULT_RATE_LIMIT.burst && error === null; call++) {
      try {
        await client.privatePostUserInfo();
        served++;
      } catch (caught) {
        error = caught;
      }
    }
    expect(error).toBeInstanceOf(ccxt.RateLimitExceeded);
    expect(String(error)).toContain("Error 40034");
    expect(served).toBeGreaterThanOrEqual(DEFAULT_RATE_LIMIT.burst);
    // A client that waits as Retry-After says (the rest of the limiter's window) is served again.
    const retryAfterSeconds = Number(
      client.last_response_headers?.["Retry-After"] ?? client.last_response_headers?.["retry-after"],
    );
    expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(retryAfterSeconds).toBeLessThanOrEqual(2);
    const before = stateApartFromNonces(harness.exchange.internals.core);
    await new Promise((resolve) => setTimeout(resolve, retryAfterSeconds * 1_000));
    const info = (await client.privatePostUserInfo()) as { uid: number };
    expect(info.uid).toBe(trader.userId);
    expect(stateApartFromNonces(harness.exchange.internals.core)).toBe(before);
  });
});

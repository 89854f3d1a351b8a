// ccxt 4.5.73 `exmo` against the REST gateway on SQLite: every unified REST method it can call
// on a spot exchange. RateLimitExceeded (40034) comes with the flood guard and is tested there.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/rest-harness.ts";
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
    expect(() => harness.exchange.core.checkInvariants()).not.toThrow();
  });
});

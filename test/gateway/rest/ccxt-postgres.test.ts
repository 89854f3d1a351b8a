// One smoke run of the ccxt session against the store on PostgreSQL (a schema of its own,
// dropped afterwards): the reads the gateway makes must agree on both engines.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/rest-harness.ts";
import { runCcxtTradingFlow } from "./ccxt-flow.ts";

describe("ccxt exmo against the gateway (PostgreSQL)", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ postgres: true });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("runs the trading session with the store on PostgreSQL", async () => {
    expect(harness.exchange.internals.store.engine).toBe("postgres");
    const { calls } = await runCcxtTradingFlow(harness, { full: false });
    expect(calls).toContain("fetchMyTrades");
    expect(() => harness.exchange.internals.core.checkInvariants()).not.toThrow();
  });
});

// Priority and shedding (src/gateway/guard/load-shedder.ts): the pure decision (level + class →
// shed?), the pressure a sample shows, the level's movement, the cancels' 10/s floor, and over
// real HTTP with an injected sampler: public requests get 503 + Retry-After + EXMO 59037 while
// order entry and cancels pass; cancels are shed last.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRestBody } from "../../../src/gateway/auth/signature.ts";
import {
  CANCEL_FLOOR_PER_SECOND,
  CancelFloor,
  DEFAULT_PRESSURE_THRESHOLDS,
  type LoadSample,
  LoadShedder,
  type PressureLevel,
  pressureOf,
  SHED_CLASSES,
  shouldShed,
} from "../../../src/gateway/guard/load-shedder.ts";
import { createTrader, type Harness, nextNonce, startHarness, type Trader } from "../support/rest-harness.ts";

const calm: LoadSample = { eventLoopDelayMs: 1, eventLoopDelayMaxMs: 2, utilization: 0.2, queueDepth: 0 };
const withDelay = (eventLoopDelayMs: number): LoadSample => ({ ...calm, eventLoopDelayMs });

describe("the decision", () => {
  it("sheds the lowest classes first and cancels only at the top", () => {
    const shedAt = (level: PressureLevel) => SHED_CLASSES.filter((shedClass) => shouldShed(level, shedClass));
    expect(shedAt(0)).toEqual([]);
    expect(shedAt(1)).toEqual(["other"]);
    expect(shedAt(2)).toEqual(["other", "publicData"]);
    expect(shedAt(3)).toEqual(["other", "publicData", "privateRead"]);
    expect(shedAt(4)).toEqual(["other", "publicData", "privateRead", "orderEntry"]);
    expect(shedAt(5)).toEqual(["other", "publicData", "privateRead", "orderEntry", "cancel"]);
  });

  it("a sample's pressure is the worst of delay, utilisation and queue depth", () => {
    const t = DEFAULT_PRESSURE_THRESHOLDS;
    expect(pressureOf(calm, t)).toBe(0);
    expect(pressureOf(withDelay(75), t)).toBe(1);
    expect(pressureOf(withDelay(150), t)).toBe(2);
    expect(pressureOf(withDelay(10_000), t)).toBe(5);
    // Full utilisation alone sheds no more than the two lowest classes.
    expect(pressureOf({ ...calm, utilization: 1 }, t)).toBe(2);
    expect(pressureOf({ ...calm, queueDepth: 30_000 }, t)).toBe(3);
  });

  it("the level rises on two samples in a row and falls one step per sample", () => {
    let sample = calm;
    const shedder = new LoadShedder({ sampler: () => sample, enabled: true });
    sample = withDelay(10_000);
    expect(shedder.sampleNow()).toBe(0); // one slow sample (a GC pause) sheds nothing
    expect(shedder.sampleNow()).toBe(5);
    sample = calm;
    expect([shedder.sampleNow(), shedder.sampleNow(), shedder.sampleNow()]).toEqual([4, 3, 2]);
    const off = new LoadShedder({ sampler: () => withDelay(10_000), enabled: false });
    off.sampleNow();
    off.sampleNow();
    expect(off.observedLevel).toBe(5);
    expect(off.level).toBe(0);
    expect(off.shed("other")).toBe(false);
  });

  it("the real sampler reads the event loop", async () => {
    const shedder = new LoadShedder({ queueDepth: () => 7 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const until = performance.now() + 150;
    while (performance.now() < until) {
      // Block the loop for 150 ms: the next sample must see a long delay.
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    shedder.sampleNow();
    shedder.stop();
    expect(shedder.lastSample.queueDepth).toBe(7);
    expect(shedder.lastSample.eventLoopDelayMaxMs).toBeGreaterThan(50);
  });

  it("each key keeps 10 cancels a second; an unsigned cancel has none", async () => {
    const floor = new CancelFloor();
    const results: boolean[] = [];
    for (let i = 0; i <= CANCEL_FLOOR_PER_SECOND; i++) results.push(await floor.within("K-one"));
    expect(results).toEqual([...new Array<boolean>(CANCEL_FLOOR_PER_SECOND).fill(true), false]);
    expect(await floor.within("K-two")).toBe(true);
    expect(await floor.within(null)).toBe(false);
  });
});

describe("over HTTP under forced pressure", () => {
  let harness: Harness;
  let sample = calm;
  let trader: Trader;
  const force = async (next: LoadSample) => {
    sample = next;
    const shedder = harness.gateway.loadShedder;
    if (shedder === null) throw new Error("no load shedder");
    shedder.sampleNow();
    shedder.sampleNow();
  };
  const send = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${harness.baseUrl}${path}`, init);
    const text = await response.text();
    return { status: response.status, retryAfter: response.headers.get("retry-after"), text };
  };
  const signedPost = (path: string, fields: Record<string, string>, sign = true) => {
    const body = new URLSearchParams({ nonce: String(nextNonce()), ...fields }).toString();
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      key: trader.keyId,
    };
    if (sign) headers.sign = signRestBody(trader.secret, body);
    return send(`/v1.1/${path}`, { method: "POST", body, headers });
  };
  const SHED_BODY =
    '{"result":false,"error":"Error 59037: Server is overloaded, request shed, try again later"}';

  beforeAll(async () => {
    harness = await startHarness({
      // Sampled only when the test says (an interval far longer than the test).
      guard: { loadShedding: { enabled: true, sampler: () => sample, intervalMs: 3_600_000 } },
    });
    trader = await createTrader(harness, { funds: { USD: "100000" } });
  });
  afterAll(() => harness.close());

  it("public data gets 503 + Retry-After + 59037 while order entry and cancels pass", async () => {
    await force(withDelay(150)); // level 2
    const ticker = await send("/v1.1/ticker");
    expect(ticker.status).toBe(503);
    expect(ticker.retryAfter).toBe("1");
    expect(ticker.text).toBe(SHED_BODY);
    expect((await send("/nope")).status).toBe(503);
    // /health and /metrics answer throughout.
    expect((await send("/health")).status).toBe(200);
    const placed = await signedPost("order_create", {
      pair: "BTC_USD",
      quantity: "0.001",
      price: "30000",
      type: "buy",
    });
    const orderId = (JSON.parse(placed.text) as { order_id?: number }).order_id;
    expect(typeof orderId).toBe("number");
    expect((await signedPost("user_info", {})).status).toBe(200);
    const cancelled = await signedPost("order_cancel", { order_id: String(orderId) });
    expect(JSON.parse(cancelled.text)).toEqual({ result: true, error: "" });
    const metrics = await send("/metrics");
    expect(metrics.text).toMatch(/bulwark_guard_shed_total\{class="publicData"\} [1-9]/);
    expect(metrics.text).toMatch(/bulwark_guard_pressure_level 2/);
  });

  it("at level 4 order entry is shed too, cancels still pass; at 5 only cancels within the floor", async () => {
    await force(withDelay(500)); // level 4
    const refused = await signedPost("order_create", {
      pair: "BTC_USD",
      quantity: "0.001",
      price: "30000",
      type: "buy",
    });
    expect(refused.status).toBe(503);
    expect(refused.text).toBe(SHED_BODY);
    const cancel = await signedPost("order_cancel", { order_id: "999999" });
    expect(cancel.status).toBe(200);
    expect(cancel.text).not.toContain("59037");
    await force(withDelay(10_000)); // level 5
    const signedCancel = await signedPost("order_cancel", { order_id: "999999" });
    expect(signedCancel.text).not.toContain("59037");
    const unsigned = await signedPost("order_cancel", { order_id: "999999" }, false);
    expect(unsigned.status).toBe(503);
    // A key id never proven here gets no floor (a flood of made-up ids cannot ride it).
    const stranger = await send("/v1.1/order_cancel", {
      method: "POST",
      body: `nonce=${nextNonce()}&order_id=1`,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        key: `K-${"f".repeat(40)}`,
        sign: "00",
      },
    });
    expect(stranger.status).toBe(503);
    // Calm again: everything is served.
    await force(calm);
    for (let i = 0; i < 5; i++) await force(calm);
    expect((await send("/v1.1/ticker")).status).toBe(200);
  });
});

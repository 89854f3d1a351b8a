// The guard's rate limit over real HTTP (docs/SECURITY.md#flood-resilience, docs/API.md#rate-limits):
// per-address, per-key and per-user budgets, 40034 with Retry-After, weighted costs, cancels' own
// budget, the refund that keeps a flood on a known key id from locking its owner out, and a
// refused request changing nothing (core state, nonces).
//
// The engine counts fixed windows of ceil(burst / rate) seconds (rate-limiter-flexible). So that
// no window ends in the middle of a test on a loaded machine, the budgets here have the defaults'
// burst over long windows (20 points per 20 s; cancels 100 per 10 s; health 100 per 100 s); the
// defaults' own window and refill are checked on the limiter in test/gateway/guard/.
//
// Clients come from distinct loopback addresses (127.0.0.x; Linux routes all of 127/8 to lo), so
// one test process can be several "IPs".

import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRestBody } from "../../../src/gateway/auth/signature.ts";
import { DEFAULT_RATE_LIMIT } from "../../../src/gateway/guard/rate-limit.ts";
import { createTrader, type Harness, nextNonce, startHarness, type Trader } from "../support/rest-harness.ts";

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: { result?: boolean; error?: string } & Record<string, unknown>;
  text: string;
}

let harness: Harness;
let port = 0;
let nextAddress = 10;
/** A loopback address no earlier test used: a client with fresh budgets. */
const freshAddress = () => `127.0.0.${nextAddress++}`;

function send(from: string, method: "GET" | "POST", path: string, body = "", headers = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: "127.0.0.1",
        port,
        localAddress: from,
        method,
        path,
        agent: false,
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: Answer["body"] = {};
          try {
            parsed = JSON.parse(text) as Answer["body"];
          } catch {
            parsed = {};
          }
          const retryAfter = response.headers["retry-after"];
          resolve({ status: response.statusCode ?? 0, retryAfter, body: parsed, text });
        });
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

const ticker = (from: string) => send(from, "GET", "/v1.1/ticker");

function signed(
  from: string,
  trader: Trader,
  path: string,
  fields: Record<string, string> = {},
  options: { nonce?: number; secret?: string } = {},
): Promise<Answer> {
  const body = new URLSearchParams({ nonce: String(options.nonce ?? nextNonce()), ...fields }).toString();
  return send(from, "POST", `/v1.1/${path}`, body, {
    key: trader.keyId,
    sign: signRestBody(options.secret ?? trader.secret, body),
  });
}

const isRateLimited = (answer: Answer) =>
  answer.status === 200 && answer.body.result === false && /^Error 40034: /.test(answer.body.error ?? "");

/** Sends `count` requests one after another; the clock does not move, so order is exact. */
async function burst(count: number, sendOne: () => Promise<Answer>): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < count; i++) answers.push(await sendOne());
  return answers;
}

const BURST = DEFAULT_RATE_LIMIT.burst;
const HEALTH_BURST = DEFAULT_RATE_LIMIT.health.burst;
/** Gives an address its budgets back (what the end of its window does). */
const refill = (address: string) => harness.gateway.guardControl.liftBan("ip", address);

beforeAll(async () => {
  harness = await startHarness({
    rateLimit: {
      requestsPerSecond: 1,
      burst: BURST,
      cancel: { requestsPerSecond: 10, burst: 100 },
      health: { requestsPerSecond: 1, burst: HEALTH_BURST },
    },
  });
  port = Number(new URL(harness.baseUrl).port);
});
afterAll(async () => {
  await harness.close();
});

describe("rate limit per address", () => {
  it("admits EXMO's burst, then answers 40034 with HTTP 200 and Retry-After", async () => {
    const from = freshAddress();
    const answers = await burst(BURST, () => ticker(from));
    expect(answers.every((answer) => answer.status === 200 && answer.body.result !== false)).toBe(true);
    const refused = await ticker(from);
    expect(isRateLimited(refused)).toBe(true);
    expect(refused.body).toEqual({
      result: false,
      error: "Error 40034: Access is denied, rate limit is exceeded",
    });
    // The rest of the window, in whole seconds.
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(19);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(20);
    // Another address is not affected.
    expect(isRateLimited(await ticker(freshAddress()))).toBe(false);
  });

  it("weighs requests: a deep order book costs more than a ticker", async () => {
    const from = freshAddress();
    // limit=1000 costs 5 points: four fit in the burst of 20, the fifth does not.
    const deep = () => send(from, "GET", "/v1.1/order_book?pair=BTC_USD&limit=1000");
    const deepAnswers = await burst(5, deep);
    expect(deepAnswers.map(isRateLimited)).toEqual([false, false, false, false, true]);
    const other = freshAddress();
    // Ten books of limit 300 (2 points each) fill the same burst.
    const books = await burst(11, () => send(other, "GET", "/v1.1/order_book?pair=BTC_USD&limit=300"));
    expect(books.map(isRateLimited)).toEqual([...new Array<boolean>(10).fill(false), true]);
  });

  it("an address's budget comes back when its window is cleared", async () => {
    const from = freshAddress();
    await burst(BURST, () => ticker(from));
    expect(isRateLimited(await ticker(from))).toBe(true);
    await refill(from);
    const answers = await burst(BURST + 1, () => ticker(from));
    expect(answers.map(isRateLimited)).toEqual([...new Array<boolean>(BURST).fill(false), true]);
  });

  it("limits private requests with unsigned or malformed keys by address alone", async () => {
    const from = freshAddress();
    const answers = await burst(BURST + 1, () =>
      send(from, "POST", "/v1.1/user_info", `nonce=${nextNonce()}`, { key: "not-a-key", sign: "00" }),
    );
    expect(answers.slice(0, BURST).every((answer) => /^Error 40017: /.test(answer.body.error ?? ""))).toBe(
      true,
    );
    expect(isRateLimited(answers[BURST])).toBe(true);
  });
});

describe("rate limit per API key", () => {
  it("one key spread over several addresses still gets one key's budget", async () => {
    const trader = await createTrader(harness);
    const [a, b, c] = [freshAddress(), freshAddress(), freshAddress()];
    const fromA = await burst(BURST / 2, () => signed(a, trader, "user_info"));
    const fromB = await burst(BURST / 2, () => signed(b, trader, "user_info"));
    expect([...fromA, ...fromB].every((answer) => answer.body.uid === trader.userId)).toBe(true);
    const refused = await signed(c, trader, "user_info");
    expect(isRateLimited(refused)).toBe(true);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    // Address c has budget left: another key from it is served.
    const other = await createTrader(harness);
    expect((await signed(c, other, "user_info")).body.uid).toBe(other.userId);

    const metrics = await send(freshAddress(), "GET", "/metrics");
    expect(metrics.text).toContain('bulwark_guard_rate_limited_total{priority="privateRead",limit="key"} 1');
    expect(metrics.text).toContain('bulwark_guard_rejections_total{reason="limit",scope="key"} 1');
  });

  it("a flood of bad signatures on someone's key id costs the flooder, not the key's owner", async () => {
    const victim = await createTrader(harness);
    const flooder = freshAddress();
    const forged = await burst(BURST + 5, () =>
      signed(flooder, victim, "user_info", {}, { secret: `S-${"0".repeat(64)}` }),
    );
    expect(forged.slice(0, BURST).every((answer) => /^Error 40005: /.test(answer.body.error ?? ""))).toBe(
      true,
    );
    expect(forged.slice(BURST).every(isRateLimited)).toBe(true);
    // The owner, from its own address, has its whole budget.
    const owner = freshAddress();
    const own = await burst(BURST, () => signed(owner, victim, "user_info"));
    expect(own.every((answer) => answer.body.uid === victim.userId)).toBe(true);
  });

  it("requests proven to be the key's stay charged even when they fail (stale nonce)", async () => {
    const trader = await createTrader(harness);
    const nonce = nextNonce();
    expect((await signed(freshAddress(), trader, "user_info", {}, { nonce })).body.uid).toBe(trader.userId);
    const stale = await burst(BURST - 1, () => signed(freshAddress(), trader, "user_info", {}, { nonce }));
    expect(stale.every((answer) => /^Error 40009: /.test(answer.body.error ?? ""))).toBe(true);
    expect(isRateLimited(await signed(freshAddress(), trader, "user_info"))).toBe(true);
  });
});

describe("escalating bans over HTTP", () => {
  it("an address refused more than 50 times in 10 s is banned for 60 s, listed, counted, and can be lifted", async () => {
    const from = freshAddress();
    const answers = await burst(BURST + 51, () => ticker(from));
    expect(answers.slice(0, BURST).some(isRateLimited)).toBe(false);
    expect(answers.slice(BURST).every(isRateLimited)).toBe(true);
    // The 51st refusal earned the ban: its Retry-After is the ban's 60 s.
    expect(answers[BURST + 50].retryAfter).toBe("60");
    const banned = await ticker(from);
    expect(isRateLimited(banned)).toBe(true);
    expect(Number(banned.retryAfter)).toBeGreaterThan(55);
    const bans = harness.gateway.guardControl.listBans(10);
    expect(bans[0]).toMatchObject({ scope: "ip", subject: from, level: 1 });
    expect(bans[0].untilMs - bans[0].sinceMs).toBe(60_000);
    const metrics = await send(freshAddress(), "GET", "/metrics");
    expect(metrics.text).toContain('bulwark_guard_bans_issued_total{scope="ip"} 1');
    expect(metrics.text).toMatch(/bulwark_guard_bans_active [1-9]/);
    expect(metrics.text).toMatch(/bulwark_guard_rejections_total\{reason="banned",scope="ip"\} [1-9]/);
    expect(await harness.gateway.guardControl.liftBan("ip", from)).toBe(true);
    expect(isRateLimited(await ticker(from))).toBe(false);
  });
});

describe("cancels and refused requests", () => {
  it("a market maker throttled on order entry can still cancel", async () => {
    const maker = await createTrader(harness, { funds: { USD: "100000" } });
    const from = freshAddress();
    const orderIds: number[] = [];
    for (let i = 0; i < BURST; i++) {
      const placed = await signed(from, maker, "order_create", {
        pair: "BTC_USD",
        quantity: "0.001",
        price: String(30000 + i),
        type: "buy",
      });
      orderIds.push(placed.body.order_id as number);
    }
    expect(orderIds.every((id) => typeof id === "number")).toBe(true);
    const throttled = await signed(from, maker, "order_create", {
      pair: "BTC_USD",
      quantity: "0.001",
      price: "29000",
      type: "buy",
    });
    expect(isRateLimited(throttled)).toBe(true);
    // Private reads share the throttled budget…
    expect(isRateLimited(await signed(from, maker, "user_info"))).toBe(true);
    // …cancels have their own.
    for (const orderId of orderIds) {
      const cancelled = await signed(from, maker, "order_cancel", { order_id: String(orderId) });
      expect(cancelled.body).toEqual({ result: true, error: "" });
    }
  });

  it("a refused order entry changes nothing: no command, and its nonce is still unused", async () => {
    const trader = await createTrader(harness, { funds: { USD: "100000" } });
    const from = freshAddress();
    await burst(BURST, () => signed(from, trader, "user_info"));
    const before = harness.exchange.internals.core.stateHash();
    const lastSequence = harness.exchange.internals.core.lastSequence;
    const nonce = nextNonce();
    const order = { pair: "BTC_USD", quantity: "0.001", price: "31000", type: "buy" };
    expect(isRateLimited(await signed(from, trader, "order_create", order, { nonce }))).toBe(true);
    expect(harness.exchange.internals.core.stateHash()).toBe(before);
    expect(harness.exchange.internals.core.lastSequence).toBe(lastSequence);
    // Once the budget is back, the very same nonce is accepted: the refusal did not consume it.
    await refill(from);
    await harness.gateway.guardControl.liftBan("key", trader.keyId);
    await harness.gateway.guardControl.liftBan("user", String(trader.userId));
    const placed = await signed(from, trader, "order_create", order, { nonce });
    expect(typeof placed.body.order_id).toBe("number");
  });
});

describe("paths outside EXMO's API", () => {
  const RATE_LIMITED = { result: false, error: "Error 40034: Access is denied, rate limit is exceeded" };

  it.each([["/docs"], ["/openapi.json"], ["/metrics"], ["/nope"], ["/operator/v1/markets"]])(
    "%s is charged to the address's budget and refused with HTTP 429 and an EXMO body",
    async (path) => {
      const from = freshAddress();
      const before = harness.exchange.internals.core.stateHash();
      // /docs, /openapi.json and /metrics are whole documents: 2 points each.
      const cost = path === "/nope" || path.startsWith("/operator") ? 1 : 2;
      const answers = await burst(BURST / cost, () => send(from, "GET", path));
      expect(answers.every((answer) => answer.status !== 429)).toBe(true);
      const refused = await send(from, "GET", path);
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(refused.body).toEqual(RATE_LIMITED);
      // The same budget as the EXMO routes: the address is out of both.
      expect(isRateLimited(await ticker(from))).toBe(true);
      expect(harness.exchange.internals.core.stateHash()).toBe(before);
    },
  );

  it("/health has its own generous budget and never answers 200 with an error body", async () => {
    const from = freshAddress();
    // An address that exhausted its general budget still gets health answers.
    await burst(BURST, () => ticker(from));
    expect(isRateLimited(await ticker(from))).toBe(true);
    const answers = await burst(HEALTH_BURST + 1, () => send(from, "GET", "/health"));
    const admitted = answers.slice(0, HEALTH_BURST);
    expect(admitted.every((answer) => answer.status === 200 && answer.body.status === "ok")).toBe(true);
    const refused = answers[HEALTH_BURST];
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused.body).toEqual(RATE_LIMITED);
    for (const answer of answers) expect(answer.status === 200 && answer.body.result === false).toBe(false);
    await refill(from);
    expect((await send(from, "GET", "/health")).status).toBe(200);
  });
});

// The REST rate limiter on its own (src/gateway/guard/rate-limit.ts, bans.ts, route-costs.ts): the
// defaults' window, refill in real time, weights, per-user budgets across keys, tiers, cancels'
// floor, escalating bans and the BanRegistry GuardControl lists and lifts.

import { afterEach, describe, expect, it } from "vitest";
import { addressGroupKey } from "../../../src/accounts/api-keys.ts";
import { BanTable } from "../../../src/gateway/guard/bans.ts";
import { GuardControl } from "../../../src/gateway/guard/guard-control.ts";
import {
  type AdmitDecision,
  addressBucketKey,
  budgetWindow,
  DEFAULT_RATE_LIMIT,
  type RateLimitOptions,
  RequestRateLimiter,
} from "../../../src/gateway/guard/rate-limit.ts";
import { MAX_COST_POINTS, routeCostPoints } from "../../../src/gateway/guard/route-costs.ts";

const KEY_A = `K-${"a".repeat(40)}`;
const KEY_B = `K-${"b".repeat(40)}`;
const SIGN = "00";

const limiters: RequestRateLimiter[] = [];
function limiter(options: RateLimitOptions = {}): RequestRateLimiter {
  const made = new RequestRateLimiter(options);
  limiters.push(made);
  return made;
}
afterEach(async () => {
  for (const made of limiters.splice(0)) await made.close();
});

async function admitMany(count: number, admit: () => Promise<AdmitDecision>): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < count; i++) out.push((await admit()).admitted);
  return out;
}

const trues = (n: number) => new Array<boolean>(n).fill(true);

describe("addresses", () => {
  it("group as every per-address limit does (IPv4 as is, IPv4-mapped as IPv4, IPv6 by /64)", () => {
    for (const ip of [
      "10.9.9.9",
      "255.255.255.255",
      "0.0.0.0",
      "1.2.3.4",
      "010.1.1.1",
      "256.1.1.1",
      "::ffff:1.2.3.4",
      "2001:db8::1",
      "x",
    ])
      expect(addressBucketKey(ip)).toBe(addressGroupKey(ip));
    expect(addressBucketKey("::ffff:1.2.3.4")).toBe("1.2.3.4");
    expect(addressBucketKey("2001:db8:0:0:1::1")).toBe(addressBucketKey("2001:db8::2"));
  });
});

describe("budgets", () => {
  it("the defaults are EXMO's 10/s with a burst of 20: 20 points per 2 s window", () => {
    expect(budgetWindow(DEFAULT_RATE_LIMIT)).toEqual({ points: 20, durationSeconds: 2 });
    expect(budgetWindow(DEFAULT_RATE_LIMIT.cancel)).toEqual({ points: 100, durationSeconds: 2 });
  });

  it("refuses past the burst and admits again once the window has passed (real time)", async () => {
    const limit = limiter({ requestsPerSecond: 5, burst: 5 });
    const ip = "198.51.100.1";
    const first = await admitMany(6, () => limit.admitAddress(ip, "general"));
    expect(first).toEqual([...trues(5), false]);
    const refused = await limit.admitAddress(ip, "general");
    expect(refused).toMatchObject({ admitted: false, scope: "ip", reason: "limit", retryAfterSeconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await limit.admitAddress(ip, "general")).admitted).toBe(true);
  });

  it("weights: a request costs its route's points", async () => {
    const limit = limiter();
    const ip = "198.51.100.2";
    const deep = routeCostPoints("order_book", "GET", "pair=BTC_USD&limit=1000");
    expect(deep).toBe(5);
    const answers = await admitMany(5, () =>
      limit.admit({
        ip,
        priority: "publicData",
        costPoints: deep,
        keyHeader: undefined,
        signHeader: undefined,
      }),
    );
    expect(answers).toEqual([true, true, true, true, false]);
  });

  it("the weights table: a ticker is 1, depth and history more, capped", () => {
    expect(routeCostPoints("ticker", "GET", undefined)).toBe(1);
    expect(routeCostPoints("order_book", "GET", undefined)).toBe(1);
    expect(routeCostPoints("order_book", "GET", "limit=300")).toBe(2);
    // A POST's limit may be in its unread body: charged the largest.
    expect(routeCostPoints("order_book", "POST", undefined)).toBe(5);
    expect(routeCostPoints("trades", "GET", "pair=BTC_USD,ETH_USD,LTC_USD")).toBe(3);
    expect(routeCostPoints("order_book", "GET", "pair=A_B,C_D,E_F&limit=1000")).toBe(MAX_COST_POINTS);
    expect(routeCostPoints("candles_history", "GET", undefined)).toBe(1);
    expect(routeCostPoints("user_trades", "POST", undefined)).toBe(5);
    expect(routeCostPoints("order_create", "POST", undefined)).toBe(1);
    expect(routeCostPoints("no_such_route", "GET", undefined)).toBe(1);
    expect(routeCostPoints("__proto__", "GET", undefined)).toBe(1);
  });

  it("a user with two keys gets one user's budget once its keys have authenticated", async () => {
    const limit = limiter({ requestsPerSecond: 1, burst: 10 });
    limit.authenticated(KEY_A, 7);
    limit.authenticated(KEY_B, 7);
    const viaA = () =>
      limit.admit({ ip: "198.51.100.3", priority: "privateRead", keyHeader: KEY_A, signHeader: SIGN });
    const viaB = () =>
      limit.admit({ ip: "198.51.100.4", priority: "privateRead", keyHeader: KEY_B, signHeader: SIGN });
    expect(await admitMany(5, viaA)).toEqual(trues(5));
    expect(await admitMany(5, viaB)).toEqual(trues(5));
    const refused = await viaB();
    expect(refused).toMatchObject({ admitted: false, scope: "user" });
    // The refused request's key points were given back: key B alone has 5 left for another user.
    limit.authenticated(KEY_B, 8);
    const viaBElsewhere = () =>
      limit.admit({ ip: "198.51.100.8", priority: "privateRead", keyHeader: KEY_B, signHeader: SIGN });
    expect(await admitMany(5, viaBElsewhere)).toEqual(trues(5));
    expect(await viaBElsewhere()).toMatchObject({ admitted: false, scope: "key" });
  });

  it("a market-maker tier gets more than the default, on its key and its address", async () => {
    const limit = limiter({
      requestsPerSecond: 1,
      burst: 5,
      tiers: { marketMaker: { requestsPerSecond: 10, burst: 50 } },
      keyTiers: { [KEY_A]: "marketMaker" },
    });
    const maker = () =>
      limit.admit({ ip: "198.51.100.5", priority: "orderEntry", keyHeader: KEY_A, signHeader: SIGN });
    const plain = () =>
      limit.admit({ ip: "198.51.100.6", priority: "orderEntry", keyHeader: KEY_B, signHeader: SIGN });
    expect(await admitMany(51, maker)).toEqual([...trues(50), false]);
    expect(await admitMany(6, plain)).toEqual([...trues(5), false]);
    expect(limit.tierOf(KEY_A)).toBe("marketMaker");
    expect(limit.tierOf(KEY_B)).toBe("default");
  });

  it("cancels have their own budget and can never be configured below 10/s", async () => {
    const limit = limiter({ requestsPerSecond: 1, burst: 2, cancel: { requestsPerSecond: 10, burst: 20 } });
    const ip = "198.51.100.7";
    const order = () => limit.admit({ ip, priority: "orderEntry", keyHeader: KEY_A, signHeader: SIGN });
    const cancel = () => limit.admit({ ip, priority: "cancel", keyHeader: KEY_A, signHeader: SIGN });
    expect(await admitMany(3, order)).toEqual([true, true, false]);
    expect(await admitMany(20, cancel)).toEqual(trues(20));
    expect(() => new RequestRateLimiter({ cancel: { requestsPerSecond: 5 } })).toThrow(RangeError);
    expect(() => new RequestRateLimiter({ tiers: { slow: { cancel: { requestsPerSecond: 2 } } } })).toThrow(
      /below 10/,
    );
    expect(() => new RequestRateLimiter({ keyTiers: { [KEY_A]: "nope" } })).toThrow(/unknown tier/);
  });

  it("an unproven key charge is given back (key and user)", async () => {
    const limit = limiter({ requestsPerSecond: 1, burst: 3 });
    limit.authenticated(KEY_A, 9);
    for (let i = 0; i < 10; i++) {
      const decision = await limit.admit({
        ip: `198.51.100.${100 + i}`,
        priority: "privateRead",
        keyHeader: KEY_A,
        signHeader: SIGN,
      });
      expect(decision.admitted).toBe(true);
      if (decision.admitted && decision.keyCharge !== null) await limit.refundUnproven(decision.keyCharge);
    }
  });
});

describe("escalating bans", () => {
  it("a subject refused past the threshold is banned 60 s, then 5 min; banned requests are refused early", async () => {
    let nowMs = Date.UTC(2026, 0, 1);
    const limit = limiter({
      requestsPerSecond: 1,
      burst: 2,
      bans: { refusalsBeforeBan: 3, refusalWindowSeconds: 10 },
      clock: () => nowMs,
    });
    const ip = "198.51.100.20";
    const ticker = () => limit.admitAddress(ip, "general");
    await admitMany(2, ticker);
    const refusals = [];
    for (let i = 0; i < 4; i++) refusals.push(await ticker());
    expect(refusals.slice(0, 3).map((r) => !r.admitted && r.reason)).toEqual(["limit", "limit", "limit"]);
    expect(refusals[3]).toMatchObject({ admitted: false, reason: "banned", retryAfterSeconds: 60 });
    const banned = limit.list(10);
    expect(banned).toEqual([{ scope: "ip", subject: ip, level: 1, sinceMs: nowMs, untilMs: nowMs + 60_000 }]);
    nowMs += 30_000;
    expect(await ticker()).toMatchObject({ admitted: false, reason: "banned", retryAfterSeconds: 30 });
    // The ban ends; the next offence within the memory window is level 2: 5 minutes.
    nowMs += 31_000;
    expect(limit.list(10)).toEqual([]);
    await limit.lift("ip", "203.0.113.99"); // another subject: no effect
    const ban2 = await (async () => {
      for (let i = 0; i < 10; i++) {
        const decision = await ticker();
        if (!decision.admitted && decision.ban !== null) return decision.ban;
      }
      return null;
    })();
    expect(ban2).toMatchObject({ scope: "ip", subject: ip, level: 2, untilMs: nowMs + 300_000 });
  });

  it("GuardControl lists bans newest first and lifts one (its counters cleared too)", async () => {
    let nowMs = Date.UTC(2026, 0, 2);
    const limit = limiter({
      requestsPerSecond: 1,
      burst: 1,
      bans: { refusalsBeforeBan: 1 },
      clock: () => nowMs,
    });
    const control = new GuardControl(limit);
    for (const ip of ["198.51.100.30", "198.51.100.31"]) {
      await admitMany(3, () => limit.admitAddress(ip, "general"));
      nowMs += 1_000;
    }
    const listed = control.listBans(10);
    expect(listed.map((ban) => ban.subject)).toEqual(["198.51.100.31", "198.51.100.30"]);
    expect(control.listBans(1)).toHaveLength(1);
    expect(await control.liftBan("ip", "198.51.100.31")).toBe(true);
    expect(await control.liftBan("ip", "198.51.100.31")).toBe(false);
    expect(control.listBans(10).map((ban) => ban.subject)).toEqual(["198.51.100.30"]);
    // Lifted and its window cleared: admitted at once.
    expect((await limit.admitAddress("198.51.100.31", "general")).admitted).toBe(true);
    expect((await limit.admitAddress("198.51.100.30", "general")).admitted).toBe(false);
  });

  it("cancels ignore key bans (never below their own budget) but not address bans", async () => {
    const nowMs = Date.UTC(2026, 0, 3);
    const limit = limiter({
      requestsPerSecond: 1,
      burst: 1,
      bans: { refusalsBeforeBan: 1 },
      clock: () => nowMs,
    });
    const spread = (i: number) => `198.51.100.${40 + i}`;
    // Key A is refused from several addresses until banned.
    for (let i = 0; i < 4; i++)
      await limit.admit({ ip: spread(i), priority: "orderEntry", keyHeader: KEY_A, signHeader: SIGN });
    expect(limit.list(10).map((ban) => ban.scope)).toContain("key");
    const cancel = await limit.admit({
      ip: spread(9),
      priority: "cancel",
      keyHeader: KEY_A,
      signHeader: SIGN,
    });
    expect(cancel.admitted).toBe(true);
  });

  it("the ban tables are bounded", () => {
    const table = new BanTable({ refusalsBeforeBan: 1, maxTrackedSubjects: 3 });
    for (let i = 0; i < 10; i++) {
      table.recordRefusal("ip", `s${i}`, 1_000);
      table.recordRefusal("ip", `s${i}`, 1_000);
    }
    expect(table.list(100, 1_000)).toHaveLength(3);
    expect(table.issued).toBe(10);
  });
});

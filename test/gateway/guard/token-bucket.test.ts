import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TokenBucketTable } from "../../../src/gateway/guard/token-bucket.ts";

const table = (ratePerSecond: number, burst: number, maxKeys = 1000) =>
  new TokenBucketTable({ ratePerSecond, burst, maxKeys });

/** Events: a step of the clock (ms, possibly fractional) then a take on one of a few keys. */
const events = fc.array(
  fc.record({
    stepMs: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 0, max: 50 }),
      fc.double({ min: 0, max: 400, noNaN: true }),
    ),
    key: fc.constantFrom("a", "b", "c"),
  }),
  { maxLength: 300 },
);
const policy = fc.record({
  ratePerSecond: fc.oneof(
    fc.integer({ min: 1, max: 200 }),
    fc.integer({ min: 1, max: 5000 }).map((n) => n / 1000),
  ),
  burst: fc.integer({ min: 1, max: 40 }),
});

describe("TokenBucketTable", () => {
  it("admits the burst at once, then refuses with the time until the next token", () => {
    const buckets = table(10, 20);
    for (let i = 0; i < 20; i++) expect(buckets.take("k", 1000).admitted).toBe(true);
    expect(buckets.take("k", 1000)).toEqual({ admitted: false, retryAfterMs: 100 });
    expect(buckets.take("k", 1050)).toEqual({ admitted: false, retryAfterMs: 50 });
    expect(buckets.take("k", 1100).admitted).toBe(true);
    expect(buckets.take("k", 1100).admitted).toBe(false);
    // A quiet spell refills to the burst, never beyond it.
    expect(buckets.tokens("k", 60_000)).toBe(20);
  });

  it("keeps keys apart", () => {
    const buckets = table(1, 1);
    expect(buckets.take("a", 0).admitted).toBe(true);
    expect(buckets.take("a", 0).admitted).toBe(false);
    expect(buckets.take("b", 0).admitted).toBe(true);
  });

  it("carries sub-millisecond time instead of losing it", () => {
    const buckets = table(1000, 2);
    expect(buckets.take("k", 0, 2).admitted).toBe(true);
    // 0.4 ms steps: a clock like performance.now() must still refill one token per ms while
    // the bucket is below its burst (a full bucket wastes time, as any token bucket does).
    let admitted = 0;
    for (let t = 0.4; t <= 100; t += 0.4) if (buckets.take("k", t).admitted) admitted++;
    expect(admitted).toBeGreaterThanOrEqual(98);
    expect(admitted).toBeLessThanOrEqual(100);
  });

  it("ignores a clock stepping back: no refill, no drain", () => {
    const buckets = table(10, 2);
    buckets.take("k", 10_000);
    buckets.take("k", 10_000);
    expect(buckets.take("k", 5_000).admitted).toBe(false);
    expect(buckets.take("k", 10_100).admitted).toBe(true);
  });

  it("refunds up to the burst, and only keys it tracks", () => {
    const buckets = table(1, 3);
    buckets.take("k", 0);
    buckets.refund("k");
    buckets.refund("k");
    expect(buckets.tokens("k", 0)).toBe(3);
    buckets.refund("unknown");
    expect(buckets.size).toBe(1);
  });

  it("a cost above the burst is refused with the time to a full bucket", () => {
    const buckets = table(10, 5);
    expect(buckets.take("k", 0, 6)).toEqual({ admitted: false, retryAfterMs: 1 });
    buckets.take("k", 0, 5);
    expect(buckets.take("k", 0, 6)).toEqual({ admitted: false, retryAfterMs: 500 });
  });

  it("refuses nonsense configuration", () => {
    expect(() => table(0, 1)).toThrow(RangeError);
    expect(() => table(Number.NaN, 1)).toThrow(RangeError);
    expect(() => table(1, 0)).toThrow(RangeError);
    expect(() => table(1, 1.5)).toThrow(RangeError);
    expect(() => table(1, 1, 0)).toThrow(RangeError);
    expect(() => table(1, 1).take("k", 0, 0)).toThrow(RangeError);
  });

  it("evicts the least recently used key beyond maxKeys", () => {
    const buckets = table(1, 1, 2);
    buckets.take("a", 0);
    buckets.take("b", 0);
    buckets.take("a", 0); // a is now the most recently used
    buckets.take("c", 0); // evicts b
    expect(buckets.size).toBe(2);
    expect(buckets.take("a", 0).admitted).toBe(false); // still tracked, still empty
    expect(buckets.take("b", 0).admitted).toBe(true); // came back full; evicts c
    expect(buckets.size).toBe(2);
  });

  it("property: over any interval a key gets at most burst + rate × elapsed", () => {
    fc.assert(
      fc.property(policy, events, ({ ratePerSecond, burst }, steps) => {
        const buckets = table(ratePerSecond, burst);
        let now = 1_000;
        const admittedAt: Record<string, number[]> = { a: [], b: [], c: [] };
        for (const { stepMs, key } of steps) {
          now += stepMs;
          if (buckets.take(key, now).admitted) admittedAt[key].push(now);
        }
        for (const times of Object.values(admittedAt)) {
          // Every window [times[i], times[j]] holds j - i + 1 admissions.
          for (let i = 0; i < times.length; i++)
            for (let j = i; j < times.length; j++) {
              const bound = burst + (ratePerSecond * (times[j] - times[i])) / 1000;
              expect(j - i + 1).toBeLessThanOrEqual(bound + 1e-9);
            }
        }
      }),
    );
  });

  it("property: a refusal's retryAfterMs is exact — refused just before, admitted at it", () => {
    fc.assert(
      fc.property(policy, events, ({ ratePerSecond, burst }, steps) => {
        let now = 0;
        for (const { stepMs, key } of steps) {
          // Whole-ms clock here, so "just before" is one millisecond earlier.
          now += Math.floor(stepMs);
          const buckets = table(ratePerSecond, burst);
          for (let i = 0; i < burst; i++) buckets.take(key, now);
          const refused = buckets.take(key, now);
          expect(refused.admitted).toBe(false);
          if (refused.retryAfterMs > 1)
            expect(buckets.take(key, now + refused.retryAfterMs - 1).admitted).toBe(false);
          expect(buckets.take(key, now + refused.retryAfterMs).admitted).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("property: never more than maxKeys tracked, and a quiet key refills to the burst", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }),
        (maxKeys, keys) => {
          const buckets = table(5, 3, maxKeys);
          let now = 0;
          for (const key of keys) {
            now += 7;
            buckets.take(String(key), now);
            expect(buckets.size).toBeLessThanOrEqual(maxKeys);
          }
          for (const key of keys) expect(buckets.tokens(String(key), now + 600)).toBe(3);
        },
      ),
    );
  });
});

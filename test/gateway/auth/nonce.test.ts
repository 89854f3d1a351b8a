import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkNonceValue,
  isValidNonceValue,
  MAX_NONCE,
  MAX_NONCE_AHEAD_MS,
  MemoryNonceStore,
  nonceErrorKind,
  nonceProblem,
  parseNonce,
} from "../../../src/gateway/auth/nonce.ts";
import { exmoError } from "../../../src/gateway/exmo/errors.ts";

describe("parseNonce", () => {
  it.each([
    ["1", 1],
    ["1795490921324", 1795490921324],
    ["9007199254740991", MAX_NONCE],
  ])("%s is %i", (text, nonce) => {
    expect(parseNonce(text)).toEqual({ ok: true, nonce });
  });

  it.each([
    [undefined, "missing"],
    ["", "missing"],
    ["0", "notPositive"],
    ["01", "malformed"],
    ["-1", "malformed"],
    ["+1", "malformed"],
    ["1.0", "malformed"],
    ["1.5", "malformed"],
    ["1e3", "malformed"],
    [" 1", "malformed"],
    ["1 ", "malformed"],
    ["0x10", "malformed"],
    ["1".repeat(17).replace(/^1/, "a"), "malformed"],
    ["9007199254740992", "tooLarge"],
    ["99999999999999999999", "tooLarge"],
    ["1".repeat(1000), "tooLarge"],
  ])("%j fails as %s", (text, failure) => {
    expect(parseNonce(text)).toEqual({ ok: false, failure });
  });

  it("round-trips every positive safe integer and never throws on junk", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_NONCE }), (n) => {
        expect(parseNonce(String(n))).toEqual({ ok: true, nonce: n });
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const parsed = parseNonce(text);
        if (parsed.ok) expect(String(parsed.nonce)).toBe(text);
      }),
    );
  });
});

describe("plausible nonces (a day ahead of the clock in ms at most)", () => {
  const now = Date.UTC(2026, 10, 29, 12, 0, 0);

  it("accepts small counters, seconds and milliseconds up to a day ahead", () => {
    for (const nonce of [1, 2, 3, Math.floor(now / 1000), now, now + MAX_NONCE_AHEAD_MS]) {
      expect(parseNonce(String(nonce), now)).toEqual({ ok: true, nonce });
      expect(checkNonceValue(nonce, now)).toEqual({ ok: true, nonce });
    }
  });

  it("refuses a microsecond timestamp, 2^53 − 1 and anything past a day ahead", () => {
    for (const nonce of [now + MAX_NONCE_AHEAD_MS + 1, now * 1000, MAX_NONCE]) {
      expect(parseNonce(String(nonce), now)).toEqual({ ok: false, failure: "tooFarAhead" });
      expect(checkNonceValue(nonce, now)).toEqual({ ok: false, failure: "tooFarAhead" });
    }
  });

  it.each([
    [undefined, "missing"],
    [null, "missing"],
    ["1795490921324", "malformed"],
    [1.5, "malformed"],
    [Number.NaN, "malformed"],
    [0, "notPositive"],
    [-3, "notPositive"],
    [MAX_NONCE + 1, "tooLarge"],
  ])("a WS login nonce %j fails as %s", (value, failure) => {
    expect(checkNonceValue(value, now)).toEqual({ ok: false, failure });
  });

  it("every refusal has its own 40009 message, none claiming the nonce was used before", () => {
    const messages = new Set<string>();
    for (const failure of ["missing", "malformed", "notPositive", "tooLarge", "tooFarAhead"] as const) {
      const { code, message } = exmoError(nonceErrorKind(failure));
      expect(code).toBe(40009);
      expect(message).not.toMatch(/used before/);
      messages.add(message);
    }
    expect(messages.size).toBe(5);
  });
});

describe("nonce rule", () => {
  it("accepts the first nonce of a key and strictly greater ones after", () => {
    expect(nonceProblem(null, 1)).toBeNull();
    expect(nonceProblem(100, 101)).toBeNull();
    expect(nonceProblem(100, MAX_NONCE)).toBeNull();
  });

  it("rejects equal (a replay) and lower nonces", () => {
    expect(nonceProblem(100, 100)).toBe("notIncreasing");
    expect(nonceProblem(100, 99)).toBe("notIncreasing");
    expect(nonceProblem(MAX_NONCE, MAX_NONCE)).toBe("notIncreasing");
  });

  it("rejects non-integer, non-positive and huge values", () => {
    expect(nonceProblem(null, 1.5)).toBe("malformed");
    expect(nonceProblem(null, 0)).toBe("malformed");
    expect(nonceProblem(null, -5)).toBe("malformed");
    expect(nonceProblem(null, Number.NaN)).toBe("malformed");
    expect(nonceProblem(null, Number.POSITIVE_INFINITY)).toBe("malformed");
    expect(nonceProblem(null, MAX_NONCE + 1)).toBe("tooLarge");
    expect(nonceProblem(null, 1e300)).toBe("tooLarge");
    expect(isValidNonceValue("5")).toBe(false);
    expect(isValidNonceValue(5)).toBe(true);
  });

  it("is exactly 'greater than the last' over all valid pairs", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_NONCE }),
        fc.integer({ min: 1, max: MAX_NONCE }),
        (last, n) => {
          expect(nonceProblem(last, n) === null).toBe(n > last);
        },
      ),
    );
  });
});

describe("MemoryNonceStore", () => {
  it("advances per key independently and refuses replays", async () => {
    const store = new MemoryNonceStore();
    expect(await store.lastNonce("K-a")).toBeNull();
    expect(await store.advance("K-a", 10)).toBeNull();
    expect(await store.advance("K-a", 10)).toBe("notIncreasing");
    expect(await store.advance("K-a", 9)).toBe("notIncreasing");
    expect(await store.advance("K-b", 5)).toBeNull(); // another key has its own sequence
    expect(await store.advance("K-a", 11)).toBeNull();
    expect(await store.lastNonce("K-a")).toBe(11);
    expect(await store.lastNonce("K-b")).toBe(5);
  });

  it("a refused nonce changes nothing", async () => {
    const store = new MemoryNonceStore();
    await store.advance("K-a", 50);
    expect(await store.advance("K-a", 1.5)).toBe("malformed");
    expect(await store.advance("K-a", 20)).toBe("notIncreasing");
    expect(await store.lastNonce("K-a")).toBe(50);
  });

  it("of two concurrent requests with the same nonce, exactly one wins", async () => {
    const store = new MemoryNonceStore();
    const results = await Promise.all([store.advance("K-a", 7), store.advance("K-a", 7)]);
    expect(results.filter((r) => r === null)).toHaveLength(1);
  });

  it("accepts a sequence exactly when it is strictly increasing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 1000 }), { maxLength: 30 }), async (nonces) => {
        const store = new MemoryNonceStore();
        let last = 0;
        for (const n of nonces) {
          const problem = await store.advance("K-x", n);
          expect(problem === null).toBe(n > last);
          if (problem === null) last = n;
        }
        expect(await store.lastNonce("K-x")).toBe(last === 0 ? null : last);
      }),
    );
  });

  it("is bounded in keys", async () => {
    const store = new MemoryNonceStore(2);
    await store.advance("K-1", 1);
    await store.advance("K-2", 1);
    await expect(store.advance("K-3", 1)).rejects.toThrow(/full/);
    expect(await store.advance("K-1", 2)).toBeNull(); // existing keys still advance
    expect(() => new MemoryNonceStore(0)).toThrow(RangeError);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decimalPlaces,
  formatUnits,
  MAX_DECIMAL_TEXT_LENGTH,
  parseDecimal,
  parseDecimalBig,
} from "../../src/units/decimal.ts";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const anyScale = fc.integer({ min: 0, max: 18 });
const safeUnits = fc.oneof(
  fc.integer({ min: 0, max: MAX_SAFE }),
  fc.constantFrom(0, 1, 9, 10, 99, 100, MAX_SAFE, MAX_SAFE - 1),
);

describe("parseDecimal: exact examples", () => {
  it.each([
    ["0", 8, 0],
    ["1", 8, 100_000_000],
    ["0.001", 8, 100_000],
    ["64000", 6, 64_000_000_000],
    ["64000.5", 6, 64_000_500_000],
    ["0.00000001", 8, 1],
    ["0.10", 1, 1], // trailing zeros beyond the scale keep the value exact
    ["1.000000000000000000000", 0, 1],
    ["007", 0, 7],
    ["9007199254740991", 0, MAX_SAFE],
    ["90071992.54740991", 8, MAX_SAFE],
  ])("%s at scale %i is %i units", (text, scale, units) => {
    expect(parseDecimal(text, scale)).toEqual({ ok: true, value: units });
  });

  it.each([
    ["", "malformed"],
    [" 1", "malformed"],
    ["1 ", "malformed"],
    ["1\n", "malformed"],
    ["+1", "malformed"],
    ["1e3", "malformed"],
    ["1E-3", "malformed"],
    [".5", "malformed"],
    ["5.", "malformed"],
    ["1.2.3", "malformed"],
    ["1,5", "malformed"],
    ["0x10", "malformed"],
    ["NaN", "malformed"],
    ["Infinity", "malformed"],
    ["-", "malformed"],
    ["--1", "malformed"],
    ["١", "malformed"], // a non-ASCII digit
    ["1".repeat(MAX_DECIMAL_TEXT_LENGTH + 1), "malformed"],
    ["-1", "negative"],
    ["-0", "negative"],
    ["0.000000001", "tooPrecise"],
    ["1.123456789", "tooPrecise"],
    ["90071992.54740992", "tooLarge"],
    ["1".repeat(MAX_DECIMAL_TEXT_LENGTH), "tooLarge"],
  ])("%j at scale 8 fails as %s", (text, failure) => {
    expect(parseDecimal(text, 8)).toEqual({ ok: false, failure });
  });

  it("accepts negatives only when asked", () => {
    expect(parseDecimal("-0.5", 1, { allowNegative: true })).toEqual({ ok: true, value: -5 });
    expect(parseDecimal("-9007199254740992", 0, { allowNegative: true })).toEqual({
      ok: false,
      failure: "tooLarge",
    });
  });

  it("honours a smaller maxUnits and refuses a larger one than a number can hold", () => {
    expect(parseDecimal("10", 0, { maxUnits: 10n })).toEqual({ ok: true, value: 10 });
    expect(parseDecimal("11", 0, { maxUnits: 10n })).toEqual({ ok: false, failure: "tooLarge" });
    expect(() => parseDecimal("1", 0, { maxUnits: BigInt(MAX_SAFE) + 1n })).toThrow(RangeError);
  });

  it("parseDecimalBig goes beyond the safe range when told to", () => {
    expect(parseDecimalBig("123456789012345678901234567890", 18, { maxUnits: 10n ** 60n })).toEqual({
      ok: true,
      value: 123456789012345678901234567890n * 10n ** 18n,
    });
  });

  it("rejects a bad scale as a programming error", () => {
    expect(() => parseDecimal("1", -1)).toThrow(RangeError);
    expect(() => parseDecimal("1", 19)).toThrow(RangeError);
    expect(() => parseDecimal("1", 1.5)).toThrow(RangeError);
  });
});

describe("formatUnits: exact examples", () => {
  it.each([
    [0, 8, "0"],
    [1, 8, "0.00000001"],
    [100_000, 8, "0.001"],
    [100_000_000, 8, "1"],
    [123_450_000, 8, "1.2345"],
    [64_000_000_000, 6, "64000"],
    [-5, 1, "-0.5"],
    [MAX_SAFE, 0, "9007199254740991"],
    [MAX_SAFE, 18, "0.009007199254740991"],
    [10n ** 30n, 18, "1000000000000"],
  ])("%s units at scale %i is %s", (units, scale, text) => {
    expect(formatUnits(units, scale)).toBe(text);
  });

  it("refuses unsafe or fractional numbers", () => {
    expect(() => formatUnits(MAX_SAFE + 1, 0)).toThrow(RangeError);
    expect(() => formatUnits(0.5, 0)).toThrow(RangeError);
    expect(() => formatUnits(Number.NaN, 0)).toThrow(RangeError);
  });

  it("decimalPlaces counts the significant fraction digits", () => {
    expect(decimalPlaces(1n, 8)).toBe(8);
    expect(decimalPlaces(100_000_000n, 8)).toBe(0);
    expect(decimalPlaces(10n, 2)).toBe(1);
  });
});

describe("decimal properties", () => {
  it("format then parse is the identity on safe units", () => {
    fc.assert(
      fc.property(safeUnits, anyScale, (units, scale) => {
        expect(parseDecimal(formatUnits(units, scale), scale)).toEqual({ ok: true, value: units });
      }),
      { numRuns: 2000 },
    );
  });

  it("format then parse is the identity on negative units when negatives are allowed", () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_SAFE, max: MAX_SAFE }), anyScale, (units, scale) => {
        const parsed = parseDecimal(formatUnits(units, scale), scale, { allowNegative: true });
        expect(parsed).toEqual({ ok: true, value: units });
      }),
    );
  });

  it("formatted text is canonical: no exponent, no trailing fraction zeros, no leading zeros", () => {
    fc.assert(
      fc.property(safeUnits, anyScale, (units, scale) => {
        const text = formatUnits(units, scale);
        expect(text).toMatch(/^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/);
      }),
    );
  });

  it("parse agrees with an independent string model of the value", () => {
    // Build the text from integer and fraction digit strings, and the expected units from
    // the same digits, so the test does not reuse the parser's own arithmetic.
    const digits = (max: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), maxLength: max });
    fc.assert(
      fc.property(
        digits(20).filter((s) => s.length > 0),
        digits(20),
        anyScale,
        (integerDigits, fractionDigits, scale) => {
          const text = fractionDigits.length > 0 ? `${integerDigits}.${fractionDigits}` : integerDigits;
          const parsed = parseDecimalBig(text, scale, { maxUnits: 10n ** 60n });
          if (text.length > MAX_DECIMAL_TEXT_LENGTH) {
            expect(parsed).toEqual({ ok: false, failure: "malformed" });
            return;
          }
          const significantFraction = fractionDigits.replace(/0+$/, "");
          if (significantFraction.length > scale) {
            expect(parsed).toEqual({ ok: false, failure: "tooPrecise" });
            return;
          }
          let expected = 0n;
          for (const ch of integerDigits + significantFraction.padEnd(scale, "0")) {
            expected = expected * 10n + BigInt(ch.charCodeAt(0) - 48);
          }
          expect(parsed).toEqual({ ok: true, value: expected });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("any string outside the grammar is malformed and never throws", () => {
    const grammar = /^-?[0-9]+(\.[0-9]+)?$/;
    const fuzz = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.string({ unit: fc.constantFrom(..."0123456789.-+eE xX_,\t\u00a0"), maxLength: 45 }),
      fc.string({ unit: "grapheme", maxLength: 20 }),
    );
    fc.assert(
      fc.property(fuzz, anyScale, (text, scale) => {
        const parsed = parseDecimal(text, scale);
        if (!grammar.test(text) || text.length > MAX_DECIMAL_TEXT_LENGTH) {
          expect(parsed).toEqual({ ok: false, failure: "malformed" });
        } else if (text.startsWith("-")) {
          expect(parsed).toEqual({ ok: false, failure: "negative" });
        } else {
          expect(parsed.ok || parsed.failure === "tooPrecise" || parsed.failure === "tooLarge").toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("too many significant decimals are rejected, never rounded", () => {
    fc.assert(
      fc.property(
        safeUnits,
        fc.integer({ min: 0, max: 17 }),
        fc.integer({ min: 1, max: 9 }),
        (units, scale, d) => {
          // Append one non-zero digit beyond the scale.
          const base = formatUnits(units, scale);
          const text = base.includes(".")
            ? `${base}${"0".repeat(scale - base.split(".")[1].length)}${d}`
            : `${base}.${"0".repeat(scale)}${d}`;
          fc.pre(text.length <= MAX_DECIMAL_TEXT_LENGTH);
          expect(parseDecimal(text, scale)).toEqual({ ok: false, failure: "tooPrecise" });
        },
      ),
    );
  });

  it("values just beyond the safe range are tooLarge at every scale", () => {
    fc.assert(
      fc.property(anyScale, fc.bigInt({ min: 1n, max: 10n ** 20n }), (scale, excess) => {
        const text = formatUnits(BigInt(MAX_SAFE) + excess, scale);
        fc.pre(text.length <= MAX_DECIMAL_TEXT_LENGTH);
        expect(parseDecimal(text, scale)).toEqual({ ok: false, failure: "tooLarge" });
      }),
    );
  });
});

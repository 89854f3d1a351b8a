// The exact JSON reader behind the Bitcoin Core adapter: numbers keep their text, and BTC amounts
// become satoshi by digit arithmetic, never through a double.
import { describe, expect, it } from "vitest";
import {
  btcToSatoshi,
  isJsonObject,
  JsonParseError,
  MAX_JSON_DEPTH,
  parseJson,
  RpcNumber,
  satoshiToBtc,
} from "../../../src/chains/bitcoin/core-rpc-json.ts";

describe("btcToSatoshi", () => {
  it("converts Bitcoin Core's 8-decimal amounts exactly, where a float multiply does not", () => {
    // The traps: each of these times 1e8 as a double is not the integer it should be.
    expect(0.29 * 1e8).not.toBe(29_000_000);
    expect(btcToSatoshi("0.29000000")).toBe(29_000_000n);
    expect(1.15 * 1e8).not.toBe(115_000_000);
    expect(btcToSatoshi("1.15000000")).toBe(115_000_000n);
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(btcToSatoshi("0.10000000") + btcToSatoshi("0.20000000")).toBe(btcToSatoshi("0.30000000"));
    expect(btcToSatoshi("20999999.97690000")).toBe(2_099_999_997_690_000n);
    expect(Math.trunc(Number("20999999.97690005") * 1e8)).not.toBe(2_099_999_997_690_005);
    expect(btcToSatoshi("20999999.97690005")).toBe(2_099_999_997_690_005n);
    expect(btcToSatoshi("21000000.00000000")).toBe(2_100_000_000_000_000n);
  });

  it("reads every JSON number form: exponents, no decimals, signs, trailing zeros", () => {
    expect(btcToSatoshi("1e-8")).toBe(1n);
    expect(btcToSatoshi("1E-8")).toBe(1n);
    expect(btcToSatoshi("0.00000001")).toBe(1n);
    expect(btcToSatoshi("1")).toBe(100_000_000n);
    expect(btcToSatoshi("0")).toBe(0n);
    expect(btcToSatoshi("-0.5")).toBe(-50_000_000n);
    expect(btcToSatoshi("2.1e7")).toBe(2_100_000_000_000_000n);
    expect(btcToSatoshi("12345e-8")).toBe(12_345n);
    expect(btcToSatoshi("0.00012345")).toBe(12_345n);
    expect(btcToSatoshi("0.1000000000000")).toBe(10_000_000n);
    expect(btcToSatoshi("0.00000000")).toBe(0n);
  });

  it("refuses fractions of a satoshi, non-numbers and absurd exponents", () => {
    expect(() => btcToSatoshi("0.000000001")).toThrow(/fraction of a satoshi/);
    expect(() => btcToSatoshi("1e-9")).toThrow(/fraction of a satoshi/);
    expect(() => btcToSatoshi("0.123456789")).toThrow(/fraction of a satoshi/);
    for (const text of ["", "abc", "1.", ".5", "0x10", "1e", "--1", "NaN", "Infinity", " 1"])
      expect(() => btcToSatoshi(text), text).toThrow(RangeError);
    expect(() => btcToSatoshi("1e400")).toThrow(/exponent/);
    expect(() => btcToSatoshi("1".repeat(100))).toThrow(/too long/);
  });

  it("round-trips with satoshiToBtc", () => {
    for (const sat of [0n, 1n, 29_000_000n, 2_099_999_997_690_000n, -150_000_000n]) {
      expect(btcToSatoshi(satoshiToBtc(sat))).toBe(sat);
    }
    expect(satoshiToBtc(1n)).toBe("0.00000001");
    expect(satoshiToBtc(2_000_000n)).toBe("0.02000000");
    expect(satoshiToBtc(-150_000_000n)).toBe("-1.50000000");
  });
});

describe("parseJson", () => {
  it("keeps every number as its source text", () => {
    const value = parseJson('{"value": 20999999.97690000, "n": 0, "small": 1e-8, "list": [-0.5, 12]}');
    expect(isJsonObject(value)).toBe(true);
    if (!isJsonObject(value)) return;
    expect(value.value).toBeInstanceOf(RpcNumber);
    expect((value.value as RpcNumber).text).toBe("20999999.97690000");
    expect((value.value as RpcNumber).toSatoshi()).toBe(2_099_999_997_690_000n);
    expect((value.n as RpcNumber).toSafeInteger()).toBe(0);
    expect((value.small as RpcNumber).toSatoshi()).toBe(1n);
    expect((value.list as RpcNumber[]).map((n) => n.text)).toEqual(["-0.5", "12"]);
  });

  it("reads a number that ends the text", () => {
    for (const text of ["12", "-0", "1e5", "0.5", "  7  "])
      expect((parseJson(text) as RpcNumber).text).toBe(text.trim());
  });

  it("reads strings (escapes, unicode), literals and nesting like JSON.parse", () => {
    const text = '{"a": "x\\"y\\\\z\\n\\u00e9", "b": "é漢", "c": [true, false, null, {}, []], "d": ""}';
    const value = parseJson(text);
    expect(JSON.parse(JSON.stringify(value))).toEqual(JSON.parse(text));
  });

  it("treats __proto__ as an ordinary key", () => {
    const value = parseJson('{"__proto__": {"polluted": true}, "x": 1}');
    expect(isJsonObject(value)).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    if (isJsonObject(value)) expect(Object.keys(value)).toEqual(["__proto__", "x"]);
  });

  it("refuses what is not strict JSON", () => {
    for (const text of [
      "",
      "{",
      '{"a":1,}',
      "[1,]",
      "01",
      "1.",
      ".5",
      "+1",
      "NaN",
      "[1] x",
      '{"a" 1}',
      "{a: 1}",
      '"unterminated',
      '"tab\there"',
      '"bad \\x escape"',
      "tru",
      "[1 2]",
    ])
      expect(() => parseJson(text), JSON.stringify(text)).toThrow(JsonParseError);
  });

  it("bounds the nesting depth", () => {
    expect(() => parseJson("[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH))).not.toThrow();
    const deep = "[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1);
    expect(() => parseJson(deep)).toThrow(/nesting/);
  });

  it("parses a few megabytes quickly", () => {
    const tx = '{"txid":"00","vout":[{"value":0.29000000,"n":0,"scriptPubKey":{"address":"bcrt1q"}}]}';
    const text = `[${Array.from({ length: 40_000 }, () => tx).join(",")}]`;
    const started = performance.now();
    const value = parseJson(text) as unknown[];
    expect(value).toHaveLength(40_000);
    // A guard against accidental quadratic work, loose enough for a loaded machine.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

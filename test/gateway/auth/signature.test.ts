import ccxt from "ccxt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_SIGNED_BODY_BYTES,
  signRestBody,
  signWsLogin,
  verifyRestSignature,
  verifyWsLoginSignature,
} from "../../../src/gateway/auth/signature.ts";

// RFC 4231 test case 2 for HMAC-SHA-512: a vector fixed outside this codebase.
const RFC4231_KEY = "Jefe";
const RFC4231_DATA = "what do ya want for nothing?";
const RFC4231_HEX =
  "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";

// Captured from a stock ccxt 4.5.73 client (docs/API.md#signing-example), secret "S-test".
const CAPTURED_REST = [
  {
    body: "nonce=1795490921577&pair=BTC_USD&quantity=0.001&price=64000&type=buy",
    sign: "4a1309a58d6d5839c5a945a05b59aa25ba62ee24aa7ab822d0701170035c10c10572525621676f926a9116f3404be801d534618e1654e41b6581d1663314cbe5",
  },
  {
    body: "nonce=1795490921324",
    sign: "c075ee951362fb1d803e73f3a9419badfdfb15b61ccc23df953c5b6f3773925567103cd5e3bb5490b75c45af66f639cca4328d9aa935f28dda3a4f237991eef4",
  },
];
const CAPTURED_WS = {
  apiKey: "K-test",
  nonce: 1795490946850,
  sign: "+Yerbxlyy3uDX9KYpkCTherH79I+7oVU09tXc7SyaQjQyHL8KYg83+s8hDKpBepLbmJ/QI6j8IFUuyDyONptyQ==",
};

describe("REST signature", () => {
  it("matches RFC 4231 test case 2", () => {
    expect(signRestBody(RFC4231_KEY, RFC4231_DATA)).toBe(RFC4231_HEX);
    expect(verifyRestSignature(RFC4231_KEY, Buffer.from(RFC4231_DATA), RFC4231_HEX)).toBe(true);
  });

  it.each(CAPTURED_REST)("verifies the captured ccxt request $body", ({ body, sign }) => {
    expect(signRestBody("S-test", body)).toBe(sign);
    expect(verifyRestSignature("S-test", Buffer.from(body, "utf8"), sign)).toBe(true);
    expect(verifyRestSignature("S-test", body, sign.toUpperCase())).toBe(true);
  });

  it("rejects a wrong secret, a changed body, a reordered body and malformed headers", () => {
    const { body, sign } = CAPTURED_REST[0];
    expect(verifyRestSignature("S-tesT", body, sign)).toBe(false);
    expect(verifyRestSignature("S-test", body.replace("0.001", "0.002"), sign)).toBe(false);
    // Same fields, different order: why the raw body must be verified, never a re-serialisation.
    expect(
      verifyRestSignature(
        "S-test",
        "pair=BTC_USD&nonce=1795490921577&quantity=0.001&price=64000&type=buy",
        sign,
      ),
    ).toBe(false);
    expect(verifyRestSignature("S-test", body, undefined)).toBe(false);
    expect(verifyRestSignature("S-test", body, "")).toBe(false);
    expect(verifyRestSignature("S-test", body, sign.slice(0, 127))).toBe(false);
    expect(verifyRestSignature("S-test", body, `${sign}0`)).toBe(false);
    expect(verifyRestSignature("S-test", body, `${sign.slice(0, 127)}g`)).toBe(false);
    expect(verifyRestSignature("S-test", body, ` ${sign.slice(1)}`)).toBe(false);
  });

  it("refuses bodies over the bound without hashing them", () => {
    const big = Buffer.alloc(MAX_SIGNED_BODY_BYTES + 1, 0x61);
    expect(verifyRestSignature("S-test", big, signRestBody("S-test", big))).toBe(false);
  });

  it("agrees with ccxt's own signer for any params", () => {
    const ex = new ccxt.exmo({ apiKey: "K-abc", secret: "S-prop" });
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z_]{1,10}$/), fc.string({ maxLength: 30 }), { maxKeys: 6 }),
        (params) => {
          const signed = ex.sign("order_create", "private", "POST", params);
          const body = String(signed.body);
          const sign = String(signed.headers?.Sign);
          expect(body.startsWith("nonce=")).toBe(true);
          expect(verifyRestSignature("S-prop", body, sign)).toBe(true);
          expect(signRestBody("S-prop", body)).toBe(sign);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a single flipped bit anywhere in the body fails", () => {
    const body = Buffer.from(CAPTURED_REST[0].body);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: body.length * 8 - 1 }), (bit) => {
        const changed = Buffer.from(body);
        changed[bit >> 3] ^= 1 << (bit & 7);
        expect(verifyRestSignature("S-test", changed, CAPTURED_REST[0].sign)).toBe(false);
      }),
    );
  });
});

describe("WS login signature", () => {
  it("verifies the captured ccxt login frame", () => {
    const { apiKey, nonce, sign } = CAPTURED_WS;
    expect(signWsLogin("S-test", apiKey, nonce)).toBe(sign);
    expect(verifyWsLoginSignature("S-test", apiKey, nonce, sign)).toBe(true);
  });

  it("rejects another nonce, key or secret, hex instead of base64, and junk", () => {
    const { apiKey, nonce, sign } = CAPTURED_WS;
    expect(verifyWsLoginSignature("S-test", apiKey, nonce + 1, sign)).toBe(false);
    expect(verifyWsLoginSignature("S-test", "K-tesu", nonce, sign)).toBe(false);
    expect(verifyWsLoginSignature("S-other", apiKey, nonce, sign)).toBe(false);
    const hex = Buffer.from(sign, "base64").toString("hex");
    expect(verifyWsLoginSignature("S-test", apiKey, nonce, hex)).toBe(false);
    expect(verifyWsLoginSignature("S-test", apiKey, nonce, sign.slice(0, -2))).toBe(false);
    expect(verifyWsLoginSignature("S-test", apiKey, nonce, undefined)).toBe(false);
    expect(verifyWsLoginSignature("S-test", apiKey, 1.5, sign)).toBe(false);
    expect(verifyWsLoginSignature("S-test", apiKey, 0, sign)).toBe(false);
    expect(verifyWsLoginSignature("S-test", "", nonce, sign)).toBe(false);
  });

  it("refuses to sign with an empty or oversized secret", () => {
    expect(() => signRestBody("", "x")).toThrow(RangeError);
    expect(() => signRestBody("s".repeat(257), "x")).toThrow(RangeError);
    expect(() => signWsLogin("S-test", "K-test", -1)).toThrow(RangeError);
  });
});

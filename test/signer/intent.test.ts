import { describe, expect, it } from "vitest";
import {
  decodeIntent,
  encodeIntent,
  IntentError,
  intentToWire,
  parseIntentWire,
  parseSignedIntentWire,
  signIntent,
  verifyIntentSignature,
} from "../../src/signer/intent.ts";
import { makeIntent, POLICY_PUBLIC, POLICY_SECRET } from "./helpers.ts";

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof IntentError) return error.code;
    throw error;
  }
  return "accepted";
}

describe("intent encoding", () => {
  it("round-trips through the canonical bytes and the wire form", () => {
    const intent = makeIntent({ amount: (1n << 255n) + 7n, kind: "sweepToCold", to: "cold-1" });
    const bytes = encodeIntent(intent);
    expect(decodeIntent(bytes)).toEqual(intent);
    expect(encodeIntent(decodeIntent(bytes))).toEqual(bytes);
    expect(parseIntentWire(JSON.parse(JSON.stringify(intentToWire(intent))))).toEqual(intent);
  });

  it("is deterministic and versioned, and a changed field changes the bytes", () => {
    const intent = makeIntent();
    const bytes = encodeIntent(intent);
    expect(Buffer.from(bytes.subarray(0, 4)).toString("latin1")).toBe("BWI\x01");
    expect(encodeIntent({ ...intent })).toEqual(bytes);
    expect(encodeIntent({ ...intent, amount: intent.amount + 1n })).not.toEqual(bytes);
  });

  it("decoding refuses truncation, trailing bytes, another version and non-minimal amounts", () => {
    const bytes = encodeIntent(makeIntent());
    expect(codeOf(() => decodeIntent(bytes.subarray(0, bytes.length - 1)))).toBe("malformed-intent");
    expect(codeOf(() => decodeIntent(new Uint8Array([...bytes, 0])))).toBe("malformed-intent");
    const otherVersion = bytes.slice();
    otherVersion[3] = 2;
    expect(codeOf(() => decodeIntent(otherVersion))).toBe("malformed-intent");
    expect(codeOf(() => decodeIntent(new Uint8Array([0x42])))).toBe("malformed-intent");
  });

  it("verifies custody's signature and nothing else", () => {
    const intent = makeIntent();
    const { bytes, signature } = signIntent(intent, POLICY_SECRET);
    expect(verifyIntentSignature({ intent, bytes, signature }, POLICY_PUBLIC)).toBe(true);
    const flipped = signature.slice();
    flipped[0] ^= 1;
    expect(verifyIntentSignature({ intent, bytes, signature: flipped }, POLICY_PUBLIC)).toBe(false);
    const other = encodeIntent({ ...intent, to: "thief" });
    expect(verifyIntentSignature({ intent, bytes: other, signature }, POLICY_PUBLIC)).toBe(false);
  });
});

describe("strict wire parsing", () => {
  const wire = () => intentToWire(makeIntent()) as unknown as Record<string, unknown>;

  it.each([
    ["unknown field", { extra: 1 }, "unknown-field"],
    ["amount with a leading zero", { amount: "0100" }, "out-of-range"],
    ["negative amount", { amount: "-1" }, "out-of-range"],
    ["fractional amount", { amount: "1.5" }, "out-of-range"],
    ["zero amount", { amount: "0" }, "out-of-range"],
    ["amount over 2^256 - 1", { amount: (1n << 256n).toString() }, "out-of-range"],
    ["numeric amount", { amount: 100 }, "malformed-intent"],
    ["short intent id", { intentId: "abcd" }, "out-of-range"],
    ["uppercase intent id", { intentId: "A".repeat(32) }, "out-of-range"],
    ["unknown kind", { kind: "steal" }, "out-of-range"],
    ["empty destination", { to: "" }, "out-of-range"],
    ["destination with a space", { to: "a b" }, "out-of-range"],
    ["over-long destination", { to: "a".repeat(129) }, "out-of-range"],
    ["lowercase asset", { asset: "btc" }, "out-of-range"],
    ["fractional expiry", { expiresAtMs: 1.5 }, "out-of-range"],
    ["string expiry", { expiresAtMs: "1" }, "malformed-intent"],
    ["non-canonical base64", { payload: "eyJ=" }, "malformed-intent"],
    ["bad base64", { payload: "!!!" }, "out-of-range"],
    ["empty payload", { payload: "" }, "out-of-range"],
    ["oversized payload", { payload: Buffer.alloc(32 * 1024 + 1).toString("base64") }, "out-of-range"],
  ])("refuses a %s", (_name, change, code) => {
    expect(codeOf(() => parseIntentWire({ ...wire(), ...change }))).toBe(code);
  });

  it("refuses a missing field, a non-object and a malformed signature", () => {
    const { to: _to, ...missing } = wire();
    expect(codeOf(() => parseIntentWire(missing))).toBe("missing-field");
    expect(codeOf(() => parseIntentWire([]))).toBe("malformed-intent");
    expect(codeOf(() => parseIntentWire(null))).toBe("malformed-intent");
    expect(codeOf(() => parseSignedIntentWire(wire(), "00"))).toBe("malformed-intent");
    expect(codeOf(() => parseSignedIntentWire(wire(), "G".repeat(128)))).toBe("malformed-intent");
  });
});

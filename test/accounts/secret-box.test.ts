import { createDecipheriv, hkdfSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  generateServerKey,
  MAX_SEALED_PLAINTEXT_BYTES,
  parseServerKey,
  SecretBox,
} from "../../src/accounts/secret-box.ts";

const KEY_A = Buffer.alloc(32, 1);
const KEY_B = Buffer.alloc(32, 2);
const CONTEXT = "api-key:K-0123";

function decodePayload(sealed: string): Buffer {
  return Buffer.from(sealed.split(".")[2], "base64url");
}

function withPayload(sealed: string, payload: Buffer): string {
  const [version, keyId] = sealed.split(".");
  return `${version}.${keyId}.${payload.toString("base64url")}`;
}

describe("SecretBox", () => {
  it("round-trips strings and bytes", () => {
    const box = new SecretBox(KEY_A);
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }), (text, bytes) => {
        const openedText = box.open(box.seal(text, CONTEXT), CONTEXT);
        expect(openedText.ok && openedText.plaintext.toString("utf8")).toBe(text);
        const openedBytes = box.open(box.seal(bytes, CONTEXT), CONTEXT);
        expect(openedBytes.ok && [...openedBytes.plaintext]).toEqual([...bytes]);
      }),
      { numRuns: 200 },
    );
  });

  it("uses a fresh IV: the same secret seals differently each time", () => {
    const box = new SecretBox(KEY_A);
    expect(box.seal("S-secret", CONTEXT)).not.toBe(box.seal("S-secret", CONTEXT));
  });

  it("writes the documented format, decryptable by an independent AES-256-GCM with the documented HKDF", () => {
    const box = new SecretBox(KEY_A);
    const sealed = box.seal("S-secret", CONTEXT);
    expect(sealed).toMatch(/^bsb1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/);
    const keyId = Buffer.from(
      hkdfSync("sha256", KEY_A, "bulwark-secret-box", "bulwark/secret-box/v1/key-id", 4),
    ).toString("hex");
    expect(sealed.split(".")[1]).toBe(keyId);
    const key = Buffer.from(
      hkdfSync("sha256", KEY_A, "bulwark-secret-box", "bulwark/secret-box/v1/aes-256-gcm", 32),
    );
    const payload = decodePayload(sealed);
    const decipher = createDecipheriv("aes-256-gcm", key, payload.subarray(0, 12));
    decipher.setAAD(Buffer.from(`bsb1.${keyId}.${CONTEXT}`));
    decipher.setAuthTag(payload.subarray(payload.length - 16));
    const plain = Buffer.concat([
      decipher.update(payload.subarray(12, payload.length - 16)),
      decipher.final(),
    ]);
    expect(plain.toString()).toBe("S-secret");
  });

  it("detects any flipped bit of iv, ciphertext or tag", () => {
    const box = new SecretBox(KEY_A);
    const sealed = box.seal("S-0123456789abcdef", CONTEXT);
    const payload = decodePayload(sealed);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: payload.length * 8 - 1 }), (bit) => {
        const changed = Buffer.from(payload);
        changed[bit >> 3] ^= 1 << (bit & 7);
        expect(box.open(withPayload(sealed, changed), CONTEXT)).toEqual({ ok: false, failure: "tampered" });
      }),
      { numRuns: 300 },
    );
  });

  it("detects a truncated or extended payload and a changed text character", () => {
    const box = new SecretBox(KEY_A);
    const sealed = box.seal("S-0123456789abcdef", CONTEXT);
    const payload = decodePayload(sealed);
    expect(box.open(withPayload(sealed, payload.subarray(0, payload.length - 1)), CONTEXT).ok).toBe(false);
    expect(box.open(withPayload(sealed, Buffer.concat([payload, Buffer.from([0])])), CONTEXT).ok).toBe(false);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: sealed.length - 1 }),
        fc.constantFrom(..."AZaz09_-.x"),
        (i, ch) => {
          fc.pre(sealed[i] !== ch);
          const changed = sealed.slice(0, i) + ch + sealed.slice(i + 1);
          expect(box.open(changed, CONTEXT).ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("binds the value to its context: a secret moved to another key's row does not open", () => {
    const box = new SecretBox(KEY_A);
    const sealed = box.seal("S-secret", "api-key:K-1");
    expect(box.open(sealed, "api-key:K-2")).toEqual({ ok: false, failure: "tampered" });
  });

  it("says wrongKey for a value sealed under another server key", () => {
    const sealed = new SecretBox(KEY_B).seal("S-secret", CONTEXT);
    expect(new SecretBox(KEY_A).open(sealed, CONTEXT)).toEqual({ ok: false, failure: "wrongKey" });
    // And a forged key id does not get past authentication.
    const a = new SecretBox(KEY_A);
    const forged = sealed.replace(/^bsb1\.[0-9a-f]{8}\./, `bsb1.${a.keyId}.`);
    expect(a.open(forged, CONTEXT)).toEqual({ ok: false, failure: "tampered" });
  });

  it("calls junk malformed and never throws on it", () => {
    const box = new SecretBox(KEY_A);
    for (const junk of [
      "",
      "bsb1",
      "bsb2.00000000.AAAA",
      `bsb1.${box.keyId}.`,
      `bsb1.${box.keyId}.AAAA`,
      "x".repeat(10_000),
    ]) {
      expect(box.open(junk, CONTEXT)).toEqual({ ok: false, failure: "malformed" });
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (junk) => {
        expect(box.open(junk, CONTEXT).ok).toBe(false);
      }),
    );
  });

  it("bounds plaintext, context and key size", () => {
    const box = new SecretBox(KEY_A);
    expect(() => box.seal(Buffer.alloc(MAX_SEALED_PLAINTEXT_BYTES + 1), CONTEXT)).toThrow(RangeError);
    expect(box.open(box.seal(Buffer.alloc(MAX_SEALED_PLAINTEXT_BYTES), CONTEXT), CONTEXT).ok).toBe(true);
    expect(() => box.seal("x", "")).toThrow(RangeError);
    expect(() => box.seal("x", "c".repeat(257))).toThrow(RangeError);
    expect(() => new SecretBox(Buffer.alloc(31))).toThrow(RangeError);
  });
});

describe("server keys", () => {
  it("generates 32-byte keys that parse back", () => {
    const text = generateServerKey();
    expect(parseServerKey(text)).toHaveLength(32);
    expect(generateServerKey()).not.toBe(text);
  });

  it("accepts base64 and base64url of exactly 32 bytes only", () => {
    expect(parseServerKey(KEY_A.toString("base64"))).toEqual(KEY_A);
    expect(parseServerKey(Buffer.alloc(32, 0xfb).toString("base64url"))).toEqual(Buffer.alloc(32, 0xfb));
    expect(() => parseServerKey(Buffer.alloc(31).toString("base64"))).toThrow();
    expect(() => parseServerKey(Buffer.alloc(33).toString("base64"))).toThrow();
    expect(() => parseServerKey(`${KEY_A.toString("base64")} `)).toThrow();
    expect(() => parseServerKey("")).toThrow();
  });
});

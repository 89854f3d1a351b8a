import { describe, expect, it } from "vitest";
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  MAX_PASSWORD_BYTES,
  needsRehash,
  passwordPolicyProblem,
  type ScryptParams,
  verifyPassword,
} from "../../src/accounts/passwords.ts";

// Cheap parameters keep the suite fast; the stored string carries them, so verify uses them too.
const FAST: ScryptParams = { logN: 10, blockSize: 8, parallelization: 1 };

describe("passwords", () => {
  it("verifies the right password and rejects wrong ones", async () => {
    const stored = await hashPassword("correct horse battery staple", FAST);
    expect(await verifyPassword("correct horse battery staple", stored)).toBe(true);
    expect(await verifyPassword("correct horse battery stapl", stored)).toBe(false);
    expect(await verifyPassword("Correct horse battery staple", stored)).toBe(false);
    expect(await verifyPassword("correct horse battery staple ", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
    expect(await verifyPassword("x".repeat(MAX_PASSWORD_BYTES + 1), stored)).toBe(false);
  });

  it("writes the parameters and a per-hash salt into the string", async () => {
    const a = await hashPassword("same password", FAST);
    const b = await hashPassword("same password", FAST);
    expect(a).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(a.split("$")[3]).not.toBe(b.split("$")[3]);
  });

  it("matches an independently computed scrypt hash", async () => {
    const { scryptSync } = await import("node:crypto");
    const salt = Buffer.alloc(16, 7);
    const hash = scryptSync("hunter2!", salt, 32, { N: 1024, r: 8, p: 1 });
    const stored = `$scrypt$ln=10,r=8,p=1$${salt.toString("base64").replace(/=+$/, "")}$${hash.toString("base64").replace(/=+$/, "")}`;
    expect(await verifyPassword("hunter2!", stored)).toBe(true);
    expect(await verifyPassword("hunter2?", stored)).toBe(false);
  });

  it("normalizes Unicode so composed and decomposed forms are the same password", async () => {
    const stored = await hashPassword("caf\u00e9-pass", FAST);
    expect(await verifyPassword("cafe\u0301-pass", stored)).toBe(true);
  });

  it("uses the default cost when none is given", async () => {
    const stored = await hashPassword("default cost pw");
    const { logN, blockSize, parallelization } = DEFAULT_SCRYPT_PARAMS;
    expect(stored.startsWith(`$scrypt$ln=${logN},r=${blockSize},p=${parallelization}$`)).toBe(true);
    expect(await verifyPassword("default cost pw", stored)).toBe(true);
    expect(needsRehash(stored)).toBe(false);
  });

  it("says when a hash should be upgraded", async () => {
    const stored = await hashPassword("password1", FAST);
    expect(needsRehash(stored)).toBe(true);
    expect(needsRehash(stored, FAST)).toBe(false);
  });

  it("throws on a corrupt or out-of-bounds stored hash instead of reporting a failed login", async () => {
    const good = await hashPassword("password1", FAST);
    await expect(verifyPassword("password1", "plain")).rejects.toThrow(/malformed/);
    await expect(verifyPassword("password1", good.replace("ln=10", "ln=30"))).rejects.toThrow(/logN/);
    await expect(verifyPassword("password1", good.replace("r=8", "r=99"))).rejects.toThrow(/blockSize/);
    await expect(verifyPassword("password1", good.replace("ln=10,r=8", "ln=20,r=16"))).rejects.toThrow(
      /memory/,
    );
    await expect(verifyPassword("password1", good.slice(0, -1))).rejects.toThrow(/malformed/);
  });

  it("refuses to hash out-of-bounds input", async () => {
    await expect(hashPassword("", FAST)).rejects.toThrow(RangeError);
    await expect(hashPassword("x".repeat(MAX_PASSWORD_BYTES + 1), FAST)).rejects.toThrow(RangeError);
    await expect(hashPassword("password1", { ...FAST, logN: 9 })).rejects.toThrow(RangeError);
  });

  it("has a registration policy", () => {
    expect(passwordPolicyProblem("short")).toBe("tooShort");
    expect(passwordPolicyProblem("\u00e9".repeat(8))).toBeNull();
    expect(passwordPolicyProblem("x".repeat(MAX_PASSWORD_BYTES + 1))).toBe("tooLong");
    expect(passwordPolicyProblem("long enough")).toBeNull();
  });
});

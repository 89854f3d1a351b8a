import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { initKeystore, KEYSTORE_FILE, Keystore } from "../../src/signer/keystore.ts";
import { fakePlugin } from "./fake-plugin.ts";
import { SMALL_SCRYPT, tempDir } from "./helpers.ts";

const PASSPHRASE = "correct horse battery staple";
const SEED = new Uint8Array(32).map((_, i) => i + 1);
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

function keystoreDir(): string {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  return join(dir, "keystore");
}

describe("the keystore", () => {
  it("encrypts the seed at rest, 0600 in 0700, and opens with the passphrase", () => {
    const dir = keystoreDir();
    initKeystore(dir, PASSPHRASE, SEED, SMALL_SCRYPT);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, KEYSTORE_FILE)).mode & 0o777).toBe(0o600);
    const text = readFileSync(join(dir, KEYSTORE_FILE), "utf8");
    expect(text).not.toContain(Buffer.from(SEED).toString("hex"));
    expect(JSON.parse(text).kdf).toMatchObject({ name: "scrypt", N: SMALL_SCRYPT.N });
    const keystore = Keystore.open(dir, PASSPHRASE);
    expect(keystore.hotKeys("fakechain").seed).toEqual(SEED);
    const exported = keystore.exportPublicKeys(fakePlugin);
    expect(exported).toHaveLength(1);
    expect(JSON.stringify(exported)).not.toContain(Buffer.from(SEED).toString("hex"));
    keystore.close();
    expect(() => keystore.hotKeys("fakechain")).toThrow(/closed/);
  });

  it("fails clearly on a wrong passphrase or an altered file", () => {
    const dir = keystoreDir();
    initKeystore(dir, PASSPHRASE, SEED, SMALL_SCRYPT);
    expect(() => Keystore.open(dir, "wrong passphrase")).toThrow(/wrong passphrase/);
    const path = join(dir, KEYSTORE_FILE);
    const file = JSON.parse(readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify({ ...file, kdf: { ...file.kdf, N: 2 ** 11 } }));
    expect(() => Keystore.open(dir, PASSPHRASE)).toThrow(/wrong passphrase/);
  });

  it("refuses to overwrite a keystore, a short passphrase and a short seed", () => {
    const dir = keystoreDir();
    initKeystore(dir, PASSPHRASE, SEED, SMALL_SCRYPT);
    expect(() => initKeystore(dir, PASSPHRASE, SEED, SMALL_SCRYPT)).toThrow(/already exists/);
    expect(() => initKeystore(keystoreDir(), "short", SEED, SMALL_SCRYPT)).toThrow(/at least 8/);
    expect(() => initKeystore(keystoreDir(), PASSPHRASE, SEED.subarray(0, 8), SMALL_SCRYPT)).toThrow(
      /16 to 64/,
    );
  });

  it("refuses a group- or world-readable file or directory", () => {
    const dir = keystoreDir();
    initKeystore(dir, PASSPHRASE, SEED, SMALL_SCRYPT);
    chmodSync(join(dir, KEYSTORE_FILE), 0o640);
    expect(() => Keystore.open(dir, PASSPHRASE)).toThrow(/group or others/);
    chmodSync(join(dir, KEYSTORE_FILE), 0o600);
    chmodSync(dir, 0o705);
    expect(() => Keystore.open(dir, PASSPHRASE)).toThrow(/group or others/);
    chmodSync(dir, 0o700);
    expect(() => Keystore.open(dir, PASSPHRASE).close()).not.toThrow();
  });

  it("create writes, reads back and opens the keystore in one go, and refuses an existing one", () => {
    const dir = keystoreDir();
    const created = Keystore.create(dir, PASSPHRASE, SEED, SMALL_SCRYPT);
    expect(created.hotKeys("fakechain").seed).toEqual(SEED);
    created.close();
    expect(readdirSync(dir)).toEqual([KEYSTORE_FILE]);
    expect(Keystore.open(dir, PASSPHRASE).hotKeys("fakechain").seed).toEqual(SEED);
    const before = readFileSync(join(dir, KEYSTORE_FILE));
    expect(() => Keystore.create(dir, PASSPHRASE, new Uint8Array(32), SMALL_SCRYPT)).toThrow(
      /already exists/,
    );
    expect(readFileSync(join(dir, KEYSTORE_FILE)).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual([KEYSTORE_FILE]);
    expect(() => Keystore.create(keystoreDir(), "short", SEED, SMALL_SCRYPT)).toThrow(/at least 8/);
  });
});

// The hot seed, encrypted at rest: AES-256-GCM under a key derived with scrypt from the operator's
// passphrase (given by an env var or a prompt by the caller, never a file in the repository). The
// file is 0600 in a 0700 directory; opening refuses anything group or world accessible. The seed
// never leaves the signer: the Keystore hands it to chain plugins as HotKeys inside this process,
// and exports only public keys (through the plugin's exportPublicKeys).
//
// File (JSON): version, kdf (scrypt N, r, p, salt), iv, tag, ciphertext. The header fields are the
// GCM additional data, so a changed parameter fails authentication like a wrong passphrase.
//
// Generations (`bulwark wallet rotate`): keystore.json holds generation 0's seed, keystore-<g>.json
// generation g's, each its own fresh seed under the same passphrase. Opening decrypts all of them
// (the signer still signs sweeps out of an old generation's addresses); the newest is the active one.

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { scrypt } from "@noble/hashes/scrypt.js";
import type { ChainSigningPlugin, ExportedPublicKey, HotKeys } from "../chains/signing.ts";
import { ensurePrivateDir, requireOwnerOnly } from "./state.ts";

export const KEYSTORE_FILE = "keystore.json";
/** Generations a keystore may hold (the devnet plugin's MAX_GENERATIONS): a bound on files opened. */
export const MAX_KEYSTORE_GENERATIONS = 16;

/** The file of generation `generation`: keystore.json for the first, keystore-<g>.json after. */
export function keystoreFileOf(generation: number): string {
  if (!Number.isSafeInteger(generation) || generation < 0 || generation >= MAX_KEYSTORE_GENERATIONS)
    throw new KeystoreError(`keystore generation must be in 0..${MAX_KEYSTORE_GENERATIONS - 1}`);
  return generation === 0 ? KEYSTORE_FILE : `keystore-${generation}.json`;
}

/** How many generations the keystore in `dir` holds (0: none); files must follow one another. */
export function keystoreGenerations(dir: string): number {
  let count = 0;
  while (count < MAX_KEYSTORE_GENERATIONS && existsSync(join(dir, keystoreFileOf(count)))) count++;
  return count;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Strong default: 2^17 × 8 × 128 B = 128 MiB, about half a second. Tests pass smaller ones. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };

export class KeystoreError extends Error {
  override name = "KeystoreError";
}

interface KeystoreFile {
  version: 1;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: "aes-256-gcm";
  iv: string;
  tag: string;
  ciphertext: string;
}

function deriveKey(passphrase: string, salt: Uint8Array, params: ScryptParams): Uint8Array {
  if (passphrase.length < 8) throw new KeystoreError("the passphrase must have at least 8 characters");
  const isPowerOfTwo = Number.isSafeInteger(params.N) && params.N >= 2 && (params.N & (params.N - 1)) === 0;
  if (!isPowerOfTwo || params.N > 2 ** 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16)
    throw new KeystoreError("scrypt parameters out of range");
  return scrypt(passphrase.normalize("NFKC"), salt, { ...params, dkLen: 32, maxmem: 2 ** 31 });
}

function additionalData(file: Pick<KeystoreFile, "version" | "kdf" | "cipher">): Buffer {
  const { N, r, p, salt } = file.kdf;
  return Buffer.from(`bulwark-keystore:${file.version}:${file.cipher}:scrypt:${N}:${r}:${p}:${salt}`);
}

/**
 * Creates the keystore in `dir` (0700, created if missing) from caller-given entropy (16 to 64
 * bytes: the seed). Refuses to overwrite an existing keystore.
 */
export function initKeystore(
  dir: string,
  passphrase: string,
  entropy: Uint8Array,
  params: ScryptParams = DEFAULT_SCRYPT,
): void {
  writeKeystore(dir, passphrase, entropy, params).fill(0);
}

/** Writes the keystore file; returns the derived key (the caller wipes it). */
function writeKeystore(
  dir: string,
  passphrase: string,
  entropy: Uint8Array,
  params: ScryptParams,
  fileName: string = KEYSTORE_FILE,
): Uint8Array {
  if (entropy.length < 16 || entropy.length > 64) throw new KeystoreError("the seed must be 16 to 64 bytes");
  ensurePrivateDir(dir, "keystore directory");
  const path = join(dir, fileName);
  if (existsSync(path))
    throw new KeystoreError(`a keystore already exists at ${path}; refusing to overwrite it`);
  const salt = randomBytes(16);
  const key = deriveKey(passphrase, salt, params);
  const iv = randomBytes(12);
  const head = {
    version: 1 as const,
    kdf: { name: "scrypt" as const, ...params, salt: salt.toString("hex") },
  };
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(additionalData({ ...head, cipher: "aes-256-gcm" }));
  const ciphertext = Buffer.concat([cipher.update(entropy), cipher.final()]);
  const file: KeystoreFile = {
    ...head,
    cipher: "aes-256-gcm",
    iv: iv.toString("hex"),
    tag: cipher.getAuthTag().toString("hex"),
    ciphertext: ciphertext.toString("hex"),
  };
  const temporary = `${path}.tmp-${process.pid}`;
  rmSync(temporary, { force: true }); // left by a crashed process that had this pid
  try {
    const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // link, not rename: a keystore another process made meanwhile is never replaced (EEXIST).
    linkSync(temporary, path);
  } catch (error) {
    key.fill(0);
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new KeystoreError(`a keystore already exists at ${path}; refusing to overwrite it`);
    throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
  const dirFd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return key;
}

function parseFile(text: string): KeystoreFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KeystoreError("the keystore file is not valid JSON");
  }
  const file = value as KeystoreFile;
  const hex = (s: unknown) => typeof s === "string" && /^[0-9a-f]+$/.test(s);
  if (
    file?.version !== 1 ||
    file.cipher !== "aes-256-gcm" ||
    file.kdf?.name !== "scrypt" ||
    ![file.kdf.N, file.kdf.r, file.kdf.p].every(Number.isSafeInteger) ||
    !hex(file.kdf.salt) ||
    !hex(file.iv) ||
    !hex(file.tag) ||
    !hex(file.ciphertext)
  )
    throw new KeystoreError("the keystore file is not a version 1 keystore");
  return file;
}

function readKeystoreFile(dir: string, fileName: string = KEYSTORE_FILE): KeystoreFile {
  requireOwnerOnly(dir, "keystore directory");
  const path = join(dir, fileName);
  requireOwnerOnly(path, "keystore file");
  return parseFile(readFileSync(path, "utf8"));
}

function decrypt(file: KeystoreFile, key: Uint8Array): Uint8Array {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(file.iv, "hex"));
    decipher.setAAD(additionalData(file));
    decipher.setAuthTag(Buffer.from(file.tag, "hex"));
    return new Uint8Array(
      Buffer.concat([decipher.update(Buffer.from(file.ciphertext, "hex")), decipher.final()]),
    );
  } catch {
    throw new KeystoreError(
      "wrong passphrase (or the keystore file was altered): cannot decrypt the hot seed",
    );
  }
}

function openGeneration(dir: string, passphrase: string, generation: number): Uint8Array {
  const file = readKeystoreFile(dir, keystoreFileOf(generation));
  const key = deriveKey(passphrase, Buffer.from(file.kdf.salt, "hex"), file.kdf);
  try {
    return decrypt(file, key);
  } finally {
    key.fill(0);
  }
}

/** The decrypted seeds (one per generation, the newest last), held in this process only. */
export class Keystore {
  #seeds: Uint8Array[] | undefined;

  private constructor(seeds: Uint8Array[]) {
    if (seeds.length < 1 || seeds.length > MAX_KEYSTORE_GENERATIONS)
      throw new KeystoreError(`a keystore holds 1 to ${MAX_KEYSTORE_GENERATIONS} generations`);
    this.#seeds = seeds;
  }

  /** Opens every generation of the keystore in `dir`; a wrong passphrase fails with a KeystoreError saying so. */
  static open(dir: string, passphrase: string): Keystore {
    const count = Math.max(1, keystoreGenerations(dir));
    const seeds: Uint8Array[] = [];
    try {
      for (let generation = 0; generation < count; generation++)
        seeds.push(openGeneration(dir, passphrase, generation));
    } catch (error) {
      for (const seed of seeds) seed.fill(0);
      throw error;
    }
    return new Keystore(seeds);
  }

  /**
   * `wallet rotate`: opens the keystore (every generation decrypts under `passphrase`, so a typo
   * cannot start a generation nobody can open with the others), writes the next generation from
   * caller-given entropy, reads it back, and returns the keystore with it as the newest.
   */
  static addGeneration(
    dir: string,
    passphrase: string,
    entropy: Uint8Array,
    params: ScryptParams = DEFAULT_SCRYPT,
  ): Keystore {
    const keystore = Keystore.open(dir, passphrase);
    try {
      const generation = keystore.generations;
      if (generation >= MAX_KEYSTORE_GENERATIONS)
        throw new KeystoreError(`the keystore holds ${generation} generations, the most it may`);
      const fileName = keystoreFileOf(generation);
      const key = writeKeystore(dir, passphrase, entropy, params, fileName);
      let seed: Uint8Array;
      try {
        seed = decrypt(readKeystoreFile(dir, fileName), key);
      } finally {
        key.fill(0);
      }
      if (seed.length !== entropy.length || !seed.every((byte, i) => byte === entropy[i]))
        throw new KeystoreError("the keystore generation read back does not hold the seed written");
      keystore.#seeds?.push(seed);
      return keystore;
    } catch (error) {
      keystore.close();
      throw error;
    }
  }

  /** How many generations are open (1 + the rotations). */
  get generations(): number {
    if (!this.#seeds) throw new KeystoreError("the keystore is closed");
    return this.#seeds.length;
  }

  /**
   * initKeystore, then opens what it wrote with the key it derived (one scrypt run, not two): the
   * file is read back and decrypted before any public key can leave, so addresses are never
   * handed out for a keystore that cannot be opened.
   */
  static create(
    dir: string,
    passphrase: string,
    entropy: Uint8Array,
    params: ScryptParams = DEFAULT_SCRYPT,
  ): Keystore {
    const key = writeKeystore(dir, passphrase, entropy, params);
    try {
      const seed = decrypt(readKeystoreFile(dir), key);
      if (seed.length !== entropy.length || !seed.every((byte, i) => byte === entropy[i]))
        throw new KeystoreError("the keystore read back does not hold the seed written");
      return new Keystore([seed]);
    } finally {
      key.fill(0);
    }
  }

  /** The key material a chain plugin signs with; valid until close(). */
  hotKeys(chain: string): HotKeys {
    const seeds = this.#seeds;
    if (!seeds) throw new KeystoreError("the keystore is closed");
    const newest = seeds[seeds.length - 1];
    // One generation: exactly the keys of before rotations existed (plugins without generations).
    if (seeds.length === 1) return Object.freeze({ chain, seed: newest });
    return Object.freeze({ chain, seed: newest, seeds: Object.freeze([...seeds]) });
  }

  /**
   * The hook for `wallet rotate`: every generation's public keys, oldest first, each as the plugin
   * exports them for the keystore as it stood when that generation was the newest.
   */
  exportGenerationPublicKeys(plugin: ChainSigningPlugin): ExportedPublicKey[][] {
    const seeds = this.#seeds;
    if (!seeds) throw new KeystoreError("the keystore is closed");
    return seeds.map((seed, generation) =>
      plugin.exportPublicKeys(
        generation === 0
          ? { chain: plugin.chain, seed }
          : { chain: plugin.chain, seed, seeds: seeds.slice(0, generation + 1) },
      ),
    );
  }

  /** The hook for `wallet init`: only public keys leave, through the chain plugin. */
  exportPublicKeys(plugin: ChainSigningPlugin): ExportedPublicKey[] {
    return plugin.exportPublicKeys(this.hotKeys(plugin.chain));
  }

  /** Overwrites the seed in memory. */
  close(): void {
    for (const seed of this.#seeds ?? []) seed.fill(0);
    this.#seeds = undefined;
  }
}

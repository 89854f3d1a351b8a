// The signer's configuration, given by its parent as a JSON file: which chain, where its socket,
// state and keystore live, custody's policy public key, the caps per asset and the cold addresses.
// Parsed strictly: an unknown field or a bad value stops the signer before it listens.

import type { ScryptParams } from "./keystore.ts";
import type { AssetCaps, PolicyConfig } from "./policy.ts";

export interface SignerConfig extends PolicyConfig {
  socketPath: string;
  stateDir: string;
  keystoreDir: string;
  /** A seen id is kept this long past its expiry. */
  seenMarginMs: number;
  /** The env var holding the keystore passphrase. */
  passphraseEnv: string;
  /** scrypt parameters for `init` (opening reads them from the keystore file). */
  scrypt?: ScryptParams;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const FIELDS = [
  "chain",
  "socketPath",
  "stateDir",
  "keystoreDir",
  "policyPublicKey",
  "caps",
  "coldAddresses",
  "maxFutureMs",
  "seenMarginMs",
  "passphraseEnv",
  "scrypt",
];
const CAP_FIELDS = ["perTransaction", "per10m", "per1h", "per24h"] as const;

function fail(message: string): never {
  throw new ConfigError(`signer config: ${message}`);
}

function text(value: unknown, name: string): string {
  if (typeof value !== "string" || value.length === 0) fail(`${name} must be a non-empty string`);
  return value;
}

function positiveMs(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) <= 0) fail(`${name} must be a positive integer`);
  return value as number;
}

export function parseSignerConfig(value: unknown): SignerConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail("must be a JSON object");
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) if (!FIELDS.includes(key)) fail(`unknown field ${key}`);
  const key = text(raw.policyPublicKey, "policyPublicKey");
  if (!/^[0-9a-f]{64}$/.test(key)) fail("policyPublicKey must be 64 lowercase hex digits (Ed25519)");
  if (typeof raw.caps !== "object" || raw.caps === null || Array.isArray(raw.caps))
    fail("caps must be an object");
  const caps = new Map<string, AssetCaps>();
  for (const [asset, assetCaps] of Object.entries(raw.caps as Record<string, unknown>)) {
    if (!/^[A-Z][A-Z0-9]{0,15}$/.test(asset)) fail(`caps: bad asset ${asset}`);
    const entry = (assetCaps ?? {}) as Record<string, unknown>;
    for (const field of Object.keys(entry))
      if (!(CAP_FIELDS as readonly string[]).includes(field)) fail(`caps.${asset}: unknown field ${field}`);
    const parsed = {} as AssetCaps;
    for (const field of CAP_FIELDS) {
      const amount = entry[field];
      if (typeof amount !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(amount))
        fail(`caps.${asset}.${field} must be a decimal integer string`);
      parsed[field] = BigInt(amount);
    }
    caps.set(asset, parsed);
  }
  if (
    !Array.isArray(raw.coldAddresses) ||
    !raw.coldAddresses.every((a) => typeof a === "string" && a.length > 0)
  )
    fail("coldAddresses must be an array of addresses");
  let scrypt: ScryptParams | undefined;
  if (raw.scrypt !== undefined) {
    const s = raw.scrypt as Record<string, unknown>;
    if (![s?.N, s?.r, s?.p].every(Number.isSafeInteger)) fail("scrypt must be { N, r, p }");
    scrypt = { N: s.N as number, r: s.r as number, p: s.p as number };
  }
  return {
    chain: text(raw.chain, "chain"),
    socketPath: text(raw.socketPath, "socketPath"),
    stateDir: text(raw.stateDir, "stateDir"),
    keystoreDir: text(raw.keystoreDir, "keystoreDir"),
    policyPublicKey: new Uint8Array(Buffer.from(key, "hex")),
    caps,
    coldAddresses: new Set(raw.coldAddresses as string[]),
    maxFutureMs: positiveMs(raw.maxFutureMs, "maxFutureMs", 60 * 60_000),
    seenMarginMs: positiveMs(raw.seenMarginMs, "seenMarginMs", 10 * 60_000),
    passphraseEnv:
      raw.passphraseEnv === undefined
        ? "BULWARK_SIGNER_PASSPHRASE"
        : text(raw.passphraseEnv, "passphraseEnv"),
    scrypt,
  };
}

// The signer's configuration, given by its parent as a JSON file: which chain, where its socket,
// state and keystore live, custody's policy public key, the caps per asset and the cold addresses;
// for an Ethereum chain also its `ethereum` section (chain id, token contracts, derivation bounds),
// which the signing plugin is built from (plugins.ts). Parsed strictly: an unknown field or a bad
// value stops the signer before it listens.

import { isAddress } from "viem";
import type { ScryptParams } from "./keystore.ts";
import type { AssetCaps, PolicyConfig } from "./policy.ts";

/** What the Ethereum signing plugin of an Ethereum chain is built from (the config's `ethereum`). */
export interface EthereumSignerConfig {
  /** EIP-155 chain id every signed transaction carries (1 mainnet, 11155111 Sepolia, 31337 Anvil). */
  chainId: number;
  /** The native coin's symbol (default ETH). */
  nativeSymbol: string;
  /** ERC-20 contracts the hot wallet pays, by symbol; contracts lower case. */
  tokens: ReadonlyMap<string, string>;
  /** BIP44 accounts m/44'/60'/0'.. searched and exported (default 2: 0 hot, 1 deposit addresses). */
  accounts: number;
  /** Address indexes searched per account for the sender of a payload (default 1,000). */
  addressesPerAccount: number;
}

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
  /** Present exactly when `chain` is an Ethereum chain (ethereum, ethereum-<network>, anvil). */
  ethereum?: EthereumSignerConfig;
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
  "ethereum",
];
const CAP_FIELDS = ["perTransaction", "per10m", "per1h", "per24h"] as const;
const ETHEREUM_FIELDS = ["chainId", "nativeSymbol", "tokens", "accounts", "addressesPerAccount"];
const ASSET_SYMBOL = /^[A-Z][A-Z0-9]{0,15}$/;
/** Chains the Ethereum plugin signs for: `ethereum`, `ethereum-<network>`, `anvil`, `anvil-<name>`. */
const ETHEREUM_CHAIN = /^(ethereum|anvil)(-[a-z0-9]+)*$/;
/** BIP32 non-hardened indexes: 0..2^31-1, so at most 2^31 of them. */
const MAX_DERIVATION_COUNT = 2 ** 31;
/** More accounts than this is a typo (each is derived and exported). */
const MAX_ETHEREUM_ACCOUNTS = 1_000;

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

/** Whether a chain name is one the Ethereum plugin serves (its config then needs `ethereum`). */
export function isEthereumChain(chain: string): boolean {
  return ETHEREUM_CHAIN.test(chain);
}

function count(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > max)
    fail(`${name} must be an integer in 1..${max}`);
  return value as number;
}

function parseEthereum(value: unknown): EthereumSignerConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail("ethereum must be an object");
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw))
    if (!ETHEREUM_FIELDS.includes(key)) fail(`ethereum: unknown field ${key}`);
  const chainId = raw.chainId;
  if (!Number.isSafeInteger(chainId) || (chainId as number) < 1)
    fail("ethereum.chainId must be a positive integer");
  const nativeSymbol =
    raw.nativeSymbol === undefined ? "ETH" : text(raw.nativeSymbol, "ethereum.nativeSymbol");
  if (!ASSET_SYMBOL.test(nativeSymbol)) fail(`ethereum.nativeSymbol: bad asset ${nativeSymbol}`);
  const tokens = new Map<string, string>();
  if (raw.tokens !== undefined) {
    if (typeof raw.tokens !== "object" || raw.tokens === null || Array.isArray(raw.tokens))
      fail("ethereum.tokens must be an object of contract addresses by symbol");
    const contracts = new Set<string>();
    for (const [symbol, contract] of Object.entries(raw.tokens as Record<string, unknown>)) {
      if (!ASSET_SYMBOL.test(symbol)) fail(`ethereum.tokens: bad asset ${symbol}`);
      if (symbol === nativeSymbol) fail(`ethereum.tokens: ${symbol} is the native coin`);
      // One case, or mixed case with a valid EIP-55 checksum (a typo, most likely, otherwise).
      if (typeof contract !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(contract))
        fail(`ethereum.tokens.${symbol} must be a 0x contract address`);
      const hex = contract.slice(2);
      if (hex !== hex.toLowerCase() && hex !== hex.toUpperCase() && !isAddress(contract, { strict: true }))
        fail(`ethereum.tokens.${symbol}: bad EIP-55 checksum`);
      const lower = `0x${hex.toLowerCase()}`;
      if (lower === `0x${"00".repeat(20)}`) fail(`ethereum.tokens.${symbol} is the zero address`);
      if (contracts.has(lower)) fail(`ethereum.tokens: contract ${lower} is listed twice`);
      contracts.add(lower);
      tokens.set(symbol, lower);
    }
  }
  return {
    chainId: chainId as number,
    nativeSymbol,
    tokens,
    accounts: count(raw.accounts, "ethereum.accounts", 2, MAX_ETHEREUM_ACCOUNTS),
    addressesPerAccount: count(
      raw.addressesPerAccount,
      "ethereum.addressesPerAccount",
      1_000,
      MAX_DERIVATION_COUNT,
    ),
  };
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
  const chain = text(raw.chain, "chain");
  let ethereum: EthereumSignerConfig | undefined;
  if (isEthereumChain(chain)) {
    if (raw.ethereum === undefined)
      fail(`chain ${chain} is an Ethereum chain: an ethereum section is required`);
    ethereum = parseEthereum(raw.ethereum);
  } else if (raw.ethereum !== undefined)
    fail(`ethereum is for Ethereum chains (ethereum, ethereum-<network>, anvil), not ${chain}`);
  return {
    chain,
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
    ...(ethereum === undefined ? {} : { ethereum }),
  };
}

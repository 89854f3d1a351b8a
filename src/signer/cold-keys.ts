// The cold wallet's key (docs/CUSTODY.md, "Cold wallet"): a keystore of its own (a fresh seed under
// scrypt + AES-256-GCM, src/signer/keystore.ts) whose account m/44'/coin'/2'/0/0 holds the chain's
// cold coins. Shared by `bulwark cold keygen | sign` (src/cli/cold.ts, on the offline machine) and
// the demo's cold keygen child (src/signer/cold-main.ts): never run inside the exchange process,
// which must hold no private key (test/custody/no-key-material.test.ts).
//
// Loaded by every `bulwark` run through the CLI, so the heavy modules (BIP32, the devnet codecs,
// the keystore's crypto) are imported inside the functions that use them.

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ScryptParams } from "./keystore.ts";

/** The cold wallet's BIP32 account under the devnet coin type: m/44'/coin'/2'/0/0 (hot is 0', deposits 1'). */
export const COLD_ACCOUNT = 2;
/** The env var that carries a cold keystore's passphrase (`cold keygen | sign`, the demo's cold keygen child). */
export const COLD_PASSPHRASE_ENV = "BULWARK_COLD_PASSPHRASE";

export interface ColdChain {
  /** Short name the CLI accepts (`--chain btc`). */
  id: string;
  name: string;
  kind: "utxo" | "account";
}

export const COLD_CHAINS: readonly ColdChain[] = [
  { id: "btc", name: "devnet-btc", kind: "utxo" },
  { id: "eth", name: "devnet-eth", kind: "account" },
];

/** The chain named `wanted` (its id or full name, any case), or undefined. */
export function coldChainNamed(wanted: string): ColdChain | undefined {
  const key = wanted.trim().toLowerCase();
  return COLD_CHAINS.find((chain) => chain.id === key || chain.name === key);
}

/** No keystore where one was expected (`cold sign` before `cold keygen`). */
export class ColdKeystoreMissingError extends Error {
  override name = "ColdKeystoreMissingError";
}

/**
 * Opens the keystore in `dir` with the passphrase, or creates it from 32 fresh random bytes when
 * it is missing and `create` is set (scrypt `params`; opening reads them from the file). A wrong
 * passphrase fails with a KeystoreError saying so. The caller closes the keystore.
 */
export async function openColdKeystore(
  dir: string,
  passphrase: string,
  create: boolean,
  params?: ScryptParams,
) {
  const { Keystore, KEYSTORE_FILE } = await import("./keystore.ts");
  const { randomBytes } = await import("node:crypto");
  if (existsSync(join(dir, KEYSTORE_FILE)))
    return { keystore: Keystore.open(dir, passphrase), created: false };
  if (!create) throw new ColdKeystoreMissingError(`no cold keystore in ${dir} (bulwark cold keygen)`);
  const entropy = randomBytes(32);
  try {
    return { keystore: Keystore.create(dir, passphrase, entropy, params), created: true };
  } finally {
    entropy.fill(0);
  }
}

/** The cold key m/44'/coin'/2'/0/0 of `seed` and its address (the caller wipes the key). */
export async function coldKeyOf(
  seed: Uint8Array,
  chain: ColdChain,
): Promise<{ privateKey: Uint8Array; address: string; xpub: string; path: string }> {
  const [{ HDKey }, signing, keys, { DEFAULT_UTXO_PREFIX }] = await Promise.all([
    import("@scure/bip32"),
    import("../chains/devnet/signing.ts"),
    import("../chains/devnet/keys.ts"),
    import("../chains/devnet/utxo.ts"),
  ]);
  const accountPath = signing.devnetAccountPath(chain.kind, COLD_ACCOUNT);
  const path = `${accountPath}/0/0`;
  const master = HDKey.fromMasterSeed(seed, signing.DEVNET_KEY_VERSIONS);
  const account = master.derive(accountPath);
  const node = account.deriveChild(0).deriveChild(0);
  try {
    if (node.privateKey === null || node.publicKey === null) throw new Error("derivation produced no key");
    const privateKey = new Uint8Array(node.privateKey);
    const address =
      chain.kind === "utxo"
        ? keys.utxoAddress(node.publicKey, DEFAULT_UTXO_PREFIX)
        : keys.accountAddress(node.publicKey);
    return { privateKey, address, xpub: account.publicExtendedKey, path };
  } finally {
    for (const wipe of [node, account, master]) wipe.wipePrivateData();
  }
}

/** What keygen tells: public facts only. */
export interface ColdKeygenResult {
  chain: string;
  address: string;
  /** The cold account's extended public key (m/44'/coin'/2'), watch-only. */
  xpub: string;
  path: string;
  keystoreDir: string;
  /** False when the keystore existed and was only opened (the same address as before). */
  created: boolean;
}

/** `cold keygen`: the keystore in `dir` (created when missing) and the chain's cold address; the key is wiped. */
export async function coldKeygen(
  chain: ColdChain,
  dir: string,
  passphrase: string,
  params?: ScryptParams,
): Promise<ColdKeygenResult> {
  const { keystore, created } = await openColdKeystore(dir, passphrase, true, params);
  try {
    const key = await coldKeyOf(keystore.hotKeys(chain.name).seed, chain);
    key.privateKey.fill(0);
    return {
      chain: chain.name,
      address: key.address,
      xpub: key.xpub,
      path: key.path,
      keystoreDir: dir,
      created,
    };
  } finally {
    keystore.close();
  }
}

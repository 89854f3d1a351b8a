// The private key material of a data dir's devnet wallets, as byte strings to search for: each
// chain's hot seed (opened from its keystore with the passphrase, as only the signer does) and
// the private keys derived from it on the layout of src/chains/devnet/signing.ts: the master key,
// m/44' and m/44'/coin', both accounts (hot 0', deposit 1'), the first hot receive and change
// keys and the first deposit keys; as raw bytes, hex, base64, and the tprv serialisations of the
// extended keys.

import { HDKey } from "@scure/bip32";
import { accountAddress, publicKeyOf, utxoAddress } from "../../src/chains/devnet/keys.ts";
import {
  DEPOSIT_ACCOUNT,
  DEVNET_COIN_TYPES,
  DEVNET_KEY_VERSIONS,
  type DevnetKind,
  devnetAccountPath,
  HOT_ACCOUNT,
} from "../../src/chains/devnet/signing.ts";
import { DEFAULT_UTXO_PREFIX } from "../../src/chains/devnet/utxo.ts";
import { signerPaths } from "../../src/server/signers.ts";
import { COLD_ACCOUNT } from "../../src/signer/cold-keys.ts";
import { Keystore } from "../../src/signer/keystore.ts";

export const WALLET_KINDS: ReadonlyArray<{ chain: string; kind: DevnetKind }> = [
  { chain: "devnet-btc", kind: "utxo" },
  { chain: "devnet-eth", kind: "account" },
];
export const HOT_INDEXES = 2;
export const DEPOSIT_INDEXES = 4;

export interface Secret {
  /** e.g. "devnet-btc m/44'/9001'/0'/0/1". */
  name: string;
  bytes: Uint8Array;
  /** The tprv… serialisation, for extended keys. */
  extended?: string;
}

export interface WalletSecrets {
  chain: string;
  kind: DevnetKind;
  seed: Uint8Array;
  secrets: Secret[];
  /**
   * Public, and held by custody (its watch-only deposit deriver): the deposit account's chain
   * code, 32 bytes shaped like a private key. A positive control for searches of raw bytes.
   */
  depositChainCode: Uint8Array;
  /** The devnet-btc addresses of the derived hot /0/0 key and of the deposit keys /0/i (utxo only). */
  hotAddress: string | null;
  depositAddresses: string[];
}

function keyOf(node: HDKey, what: string): Uint8Array {
  if (node.privateKey === null) throw new Error(`${what}: no private key`);
  return new Uint8Array(node.privateKey);
}

/** Opens the chain's keystore and derives its secrets. */
export function walletSecrets(
  dataDir: string,
  passphrase: string,
  chain: string,
  kind: DevnetKind,
): WalletSecrets {
  const keystore = Keystore.open(signerPaths(dataDir, chain).keystoreDir, passphrase);
  let seed: Uint8Array;
  try {
    seed = new Uint8Array(keystore.hotKeys(chain).seed);
  } finally {
    keystore.close();
  }
  const master = HDKey.fromMasterSeed(seed, DEVNET_KEY_VERSIONS);
  const secrets: Secret[] = [{ name: `${chain} seed`, bytes: seed }];
  const extended = (path: string) => {
    const node = path === "m" ? master : master.derive(path);
    secrets.push({ name: `${chain} ${path}`, bytes: keyOf(node, path), extended: node.privateExtendedKey });
    return node;
  };
  extended("m");
  extended(`m/44'`);
  extended(`m/44'/${DEVNET_COIN_TYPES[kind]}'`);
  const hot = extended(devnetAccountPath(kind, HOT_ACCOUNT));
  const deposit = extended(devnetAccountPath(kind, DEPOSIT_ACCOUNT));
  const leaf = (account: HDKey, accountPath: string, change: 0 | 1, index: number) => {
    const node = account.deriveChild(change).deriveChild(index);
    const bytes = keyOf(node, `${accountPath}/${change}/${index}`);
    secrets.push({ name: `${chain} ${accountPath}/${change}/${index}`, bytes });
    return bytes;
  };
  const hotPath = devnetAccountPath(kind, HOT_ACCOUNT);
  const depositPath = devnetAccountPath(kind, DEPOSIT_ACCOUNT);
  const hotKeys: Uint8Array[] = [];
  for (let index = 0; index < HOT_INDEXES; index++) {
    hotKeys.push(leaf(hot, hotPath, 0, index));
    leaf(hot, hotPath, 1, index);
  }
  const depositKeys: Uint8Array[] = [];
  for (let index = 0; index < DEPOSIT_INDEXES; index++)
    depositKeys.push(leaf(deposit, depositPath, 0, index));
  const utxo = kind === "utxo";
  if (deposit.chainCode === null) throw new Error("the deposit account has no chain code");
  return {
    chain,
    kind,
    seed,
    secrets,
    depositChainCode: new Uint8Array(deposit.chainCode),
    hotAddress: utxo ? utxoAddress(publicKeyOf(hotKeys[0]), DEFAULT_UTXO_PREFIX) : null,
    depositAddresses: utxo
      ? depositKeys.map((key) => utxoAddress(publicKeyOf(key), DEFAULT_UTXO_PREFIX))
      : [],
  };
}

/**
 * A cold keystore's secrets (src/signer/cold-keys.ts): its seed, the master key, m/44',
 * m/44'/coin', the cold account m/44'/coin'/2' and its key /0/0; and the cold address that key
 * pays from (a control: it is the one in custody/<chain>.cold.json).
 */
export function coldWalletSecrets(
  keystoreDir: string,
  passphrase: string,
  chain: string,
  kind: DevnetKind,
): { chain: string; seed: Uint8Array; secrets: Secret[]; address: string } {
  const keystore = Keystore.open(keystoreDir, passphrase);
  let seed: Uint8Array;
  try {
    seed = new Uint8Array(keystore.hotKeys(chain).seed);
  } finally {
    keystore.close();
  }
  const master = HDKey.fromMasterSeed(seed, DEVNET_KEY_VERSIONS);
  const secrets: Secret[] = [{ name: `${chain} cold seed`, bytes: seed }];
  const extended = (path: string) => {
    const node = path === "m" ? master : master.derive(path);
    secrets.push({
      name: `${chain} cold ${path}`,
      bytes: keyOf(node, path),
      extended: node.privateExtendedKey,
    });
    return node;
  };
  extended("m");
  extended(`m/44'`);
  extended(`m/44'/${DEVNET_COIN_TYPES[kind]}'`);
  const accountPath = devnetAccountPath(kind, COLD_ACCOUNT);
  const leaf = extended(accountPath).deriveChild(0).deriveChild(0);
  const key = keyOf(leaf, `${accountPath}/0/0`);
  secrets.push({ name: `${chain} cold ${accountPath}/0/0`, bytes: key });
  const publicKey = publicKeyOf(key);
  const address = kind === "utxo" ? utxoAddress(publicKey, DEFAULT_UTXO_PREFIX) : accountAddress(publicKey);
  return { chain, seed, secrets, address };
}

/** Text encodings a secret could be written in: hex (both cases), base64, base64url. */
export function textForms(bytes: Uint8Array): Record<string, string> {
  const buffer = Buffer.from(bytes);
  const hex = buffer.toString("hex");
  return {
    hex,
    HEX: hex.toUpperCase(),
    base64: buffer.toString("base64"),
    base64url: buffer.toString("base64url"),
  };
}

/** Any BIP32 extended private key (xprv mainnet, tprv test networks) in text. */
export const EXTENDED_PRIVATE_KEY = /[xt]prv[1-9A-HJ-NP-Za-km-z]{100,}/;

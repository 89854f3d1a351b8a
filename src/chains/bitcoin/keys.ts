// BIP84 keys: m / 84' / coin' / account' / chain / index, P2WPKH (bech32) addresses.
//
// The signer holds the seed and exports one account's extended *public* key (`exportAccount`).
// Custody keeps only that export and derives addresses from it (`watchOnlyAccount`,
// `deriveAddress`): it can watch and build transactions but never sign. Chain 0 is receive
// (deposit addresses), chain 1 is change. Moving deposits to a fresh account after an incident
// is a new `account` number; old accounts stay watchable.

import { HARDENED_OFFSET, HDKey } from "@scure/bip32";
import { p2wpkh } from "@scure/btc-signer";
import { type BitcoinNetwork, type BitcoinNetworkName, bitcoinNetwork } from "./network.ts";

export const BIP84_PURPOSE = 84;
export const RECEIVE_CHAIN = 0;
export const CHANGE_CHAIN = 1;
export type AddressChain = typeof RECEIVE_CHAIN | typeof CHANGE_CHAIN;
/** Largest non-hardened index (BIP32: indexes at or above 2^31 are hardened). */
export const MAX_CHILD_INDEX = HARDENED_OFFSET - 1;
/** Longest extended-key text accepted (a base58check xpub is 111 characters). */
export const MAX_EXTENDED_KEY_LENGTH = 120;
/** Depth of an account key: purpose / coin / account below the master. */
const ACCOUNT_DEPTH = 3;

/** What the signer hands custody for one account: public data only. */
export interface AccountExport {
  network: BitcoinNetworkName;
  account: number;
  /** Fingerprint of the master key (BIP32), as PSBTs carry it in their derivation fields. */
  masterFingerprint: number;
  /** Standard BIP32 serialization (xpub mainnet, tpub test networks): what descriptors use. */
  xpub: string;
  /** SLIP-132 serialization (zpub mainnet, vpub test networks): what wallets show for BIP84. */
  zpub: string;
}

/** Custody's parsed view of an account: the public key tree and where it sits. */
export interface WatchOnlyAccount {
  network: BitcoinNetwork;
  account: number;
  masterFingerprint: number;
  /** Public-only node at m/84'/coin'/account'. */
  node: HDKey;
  /** Its receive (0) and change (1) children, derived once: each address is then one step. */
  chainNodes: readonly [HDKey, HDKey];
}

export interface DerivedAddress {
  address: string;
  /** 33-byte compressed public key. */
  publicKey: Uint8Array;
  /** The P2WPKH output script (0x0014 || hash160(publicKey)). */
  script: Uint8Array;
  /** Full BIP32 path from the master, hardened entries with HARDENED_OFFSET added. */
  path: number[];
}

export function checkAccountNumber(account: number): void {
  if (!Number.isInteger(account) || account < 0 || account > MAX_CHILD_INDEX)
    throw new Error(`account must be an integer in 0..${MAX_CHILD_INDEX}, got ${account}`);
}

function checkChild(chain: number, index: number): void {
  if (chain !== RECEIVE_CHAIN && chain !== CHANGE_CHAIN)
    throw new Error(`chain must be 0 or 1, got ${chain}`);
  if (!Number.isInteger(index) || index < 0 || index > MAX_CHILD_INDEX)
    throw new Error(`index must be an integer in 0..${MAX_CHILD_INDEX}, got ${index}`);
}

/** m/84'/coin'/account' as numbers. */
export function accountPath(network: BitcoinNetwork, account: number): number[] {
  checkAccountNumber(account);
  return [BIP84_PURPOSE + HARDENED_OFFSET, network.coinType + HARDENED_OFFSET, account + HARDENED_OFFSET];
}

/** A path in text form, hardened steps marked with ' (m/84'/0'/0'/0/5). */
export function formatPath(path: readonly number[]): string {
  return [
    "m",
    ...path.map((step) => (step >= HARDENED_OFFSET ? `${step - HARDENED_OFFSET}'` : `${step}`)),
  ].join("/");
}

/** The BIP32 master node of `seed`, serialized with the network's BIP32 versions. Signer only. */
export function masterNode(seed: Uint8Array, networkName: BitcoinNetworkName): HDKey {
  return HDKey.fromMasterSeed(seed, bitcoinNetwork(networkName).bip32);
}

/** Re-serializes a node under other version bytes (xpub ⇄ zpub); the key material is the same. */
function withVersions(node: HDKey, versions: { private: number; public: number }): HDKey {
  return new HDKey({
    versions,
    depth: node.depth,
    index: node.index,
    parentFingerprint: node.parentFingerprint,
    chainCode: node.chainCode ?? undefined,
    publicKey: node.privateKey === null ? (node.publicKey ?? undefined) : undefined,
    privateKey: node.privateKey ?? undefined,
  });
}

/** Signer side: the account's extended public keys. No private material leaves this function. */
export function exportAccount(
  seed: Uint8Array,
  networkName: BitcoinNetworkName,
  account: number,
): AccountExport {
  const network = bitcoinNetwork(networkName);
  const master = masterNode(seed, networkName);
  const node = master.derive(formatPath(accountPath(network, account)));
  const publicNode = withVersions(node, network.bip32).wipePrivateData();
  return {
    network: networkName,
    account,
    masterFingerprint: master.fingerprint,
    xpub: publicNode.publicExtendedKey,
    zpub: withVersions(publicNode, network.bip84).publicExtendedKey,
  };
}

/** The one public version among this network's two that `text` starts with, or a clear refusal. */
function publicVersionsFor(text: string, network: BitcoinNetwork): { private: number; public: number } {
  for (const versions of [network.bip32, network.bip84]) {
    try {
      const node = HDKey.fromExtendedKey(text, versions);
      if (node.privateKey !== null) throw new Error("private");
      return versions;
    } catch (error) {
      if (error instanceof Error && error.message === "private")
        throw new Error("an extended private key was given where only a public one belongs");
    }
  }
  throw new Error(`not an extended public key of ${network.name} (xpub/zpub or tpub/vpub)`);
}

/**
 * Custody side: parse an exported account (xpub or zpub form) into a watch-only account. Refuses
 * extended private keys, keys of another network, and keys not at account depth.
 */
export function watchOnlyAccount(exported: AccountExport): WatchOnlyAccount {
  const network = bitcoinNetwork(exported.network);
  checkAccountNumber(exported.account);
  const text = exported.xpub;
  if (typeof text !== "string" || text.length > MAX_EXTENDED_KEY_LENGTH)
    throw new Error("extended public key missing or too long");
  const node = HDKey.fromExtendedKey(text, publicVersionsFor(text, network));
  if (node.depth !== ACCOUNT_DEPTH) throw new Error(`account key must be at depth 3, got ${node.depth}`);
  if (node.index !== exported.account + HARDENED_OFFSET)
    throw new Error(`account key is for account ${node.index - HARDENED_OFFSET}, not ${exported.account}`);
  const chainNodes = [node.deriveChild(RECEIVE_CHAIN), node.deriveChild(CHANGE_CHAIN)] as const;
  return {
    network,
    account: exported.account,
    masterFingerprint: exported.masterFingerprint >>> 0,
    node,
    chainNodes,
  };
}

/** Parses a bare xpub/zpub (tpub/vpub) text into a watch-only account. */
export function watchOnlyFromExtendedKey(
  text: string,
  networkName: BitcoinNetworkName,
  masterFingerprint: number,
): WatchOnlyAccount {
  if (text.length > MAX_EXTENDED_KEY_LENGTH) throw new Error("extended public key too long");
  const network = bitcoinNetwork(networkName);
  const node = HDKey.fromExtendedKey(text, publicVersionsFor(text, network));
  if (node.depth !== ACCOUNT_DEPTH) throw new Error(`account key must be at depth 3, got ${node.depth}`);
  return watchOnlyAccount({
    network: networkName,
    account: node.index - HARDENED_OFFSET,
    masterFingerprint,
    xpub: withVersions(node, network.bip32).publicExtendedKey,
    zpub: withVersions(node, network.bip84).publicExtendedKey,
  });
}

/** The P2WPKH address of `publicKey` on `network`. */
export function p2wpkhAddress(
  publicKey: Uint8Array,
  network: BitcoinNetwork,
): { address: string; script: Uint8Array } {
  const payment = p2wpkh(publicKey, network.params);
  if (payment.address === undefined) throw new Error("p2wpkh produced no address");
  return { address: payment.address, script: payment.script };
}

/** Custody side: the address at chain/index of a watch-only account, from public keys only. */
export function deriveAddress(account: WatchOnlyAccount, chain: AddressChain, index: number): DerivedAddress {
  checkChild(chain, index);
  const publicKey = account.chainNodes[chain].deriveChild(index).publicKey;
  if (publicKey === null) throw new Error("derivation produced no public key");
  return {
    ...p2wpkhAddress(publicKey, account.network),
    publicKey,
    path: [...accountPath(account.network, account.account), chain, index],
  };
}

/**
 * Signer side: the private node at a full path. The path must be BIP84 for this network
 * (m/84'/coin'/account'/chain/index) so a PSBT cannot make the signer use keys of another tree.
 */
export function signingNode(master: HDKey, network: BitcoinNetwork, path: readonly number[]): HDKey {
  if (!isBip84Path(network, path)) throw new Error(`not a BIP84 ${network.name} path: ${formatPath(path)}`);
  const node = master.derive(formatPath(path));
  if (node.privateKey === null) throw new Error("signing node has no private key");
  return node;
}

/** m/84'/coin'/account'/(0|1)/index with this network's coin type. */
export function isBip84Path(network: BitcoinNetwork, path: readonly number[]): boolean {
  if (path.length !== 5) return false;
  const [purpose, coin, account, chain, index] = path;
  return (
    purpose === BIP84_PURPOSE + HARDENED_OFFSET &&
    coin === network.coinType + HARDENED_OFFSET &&
    account >= HARDENED_OFFSET &&
    account <= 0xffffffff &&
    (chain === RECEIVE_CHAIN || chain === CHANGE_CHAIN) &&
    Number.isInteger(index) &&
    index >= 0 &&
    index <= MAX_CHILD_INDEX
  );
}

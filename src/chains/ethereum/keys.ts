// BIP44 Ethereum keys: m / 44' / 60' / account' / 0 / index, the path every Ethereum wallet uses.
//
// The signer holds the seed and exports each account's extended *public* key (m/44'/60'/account');
// custody derives deposit and hot addresses from that export alone (`addressFromAccountXpub`), so
// it can watch and build transactions but never sign. An address is the last 20 bytes of the
// keccak-256 of the uncompressed public key, in lower case (the adapter's canonical form).

import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { HARDENED_OFFSET, HDKey } from "@scure/bip32";

export const BIP44_PURPOSE = 44;
/** SLIP-44 coin type of Ether. */
export const ETH_COIN_TYPE = 60;
/** The external chain: the only one Ethereum wallets use (no change addresses). */
export const EXTERNAL_CHAIN = 0;
/** Largest non-hardened index (BIP32: indexes at or above 2^31 are hardened). */
export const MAX_CHILD_INDEX = HARDENED_OFFSET - 1;
/** Longest extended-key text accepted (a base58check xpub is 111 characters). */
export const MAX_EXTENDED_KEY_LENGTH = 120;
const ACCOUNT_DEPTH = 3;

export function checkChildIndex(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_CHILD_INDEX)
    throw new RangeError(`${what} must be an integer in 0..${MAX_CHILD_INDEX}, got ${n}`);
}

/** "m/44'/60'/<account>'" */
export function accountPath(account: number): string {
  checkChildIndex("account", account);
  return `m/${BIP44_PURPOSE}'/${ETH_COIN_TYPE}'/${account}'`;
}

/** "m/44'/60'/<account>'/0/<index>" */
export function addressPath(account: number, index: number): string {
  checkChildIndex("index", index);
  return `${accountPath(account)}/${EXTERNAL_CHAIN}/${index}`;
}

/** The address of a secp256k1 public key (compressed or uncompressed), lower case. */
export function addressOfPublicKey(publicKey: Uint8Array): string {
  const uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false);
  return `0x${bytesToHex(keccak_256(uncompressed.subarray(1)).subarray(12))}`;
}

/** The external-chain node (m/44'/60'/account'/0) of a seed: each address is then one step. */
export function externalChainNode(seed: Uint8Array, account: number): HDKey {
  return HDKey.fromMasterSeed(seed).derive(accountPath(account)).deriveChild(EXTERNAL_CHAIN);
}

/** The account's extended public key (xpub of m/44'/60'/account'): what custody is given. */
export function exportAccountXpub(seed: Uint8Array, account: number): string {
  return HDKey.fromMasterSeed(seed).derive(accountPath(account)).publicExtendedKey;
}

/** Custody's side: the external-chain node of an account xpub, checked to be an account key. */
export function watchOnlyAccount(xpub: string): HDKey {
  if (xpub.length > MAX_EXTENDED_KEY_LENGTH) throw new Error("extended key too long");
  const node = HDKey.fromExtendedKey(xpub);
  if (node.privateKey) throw new Error("a private extended key was given where a public one belongs");
  if (node.depth !== ACCOUNT_DEPTH)
    throw new Error(`expected an account key (depth ${ACCOUNT_DEPTH}), got depth ${node.depth}`);
  return node.deriveChild(EXTERNAL_CHAIN);
}

/** Address `index` of a watch-only account (from `watchOnlyAccount`). */
export function addressAt(externalNode: HDKey, index: number): string {
  checkChildIndex("index", index);
  const pub = externalNode.deriveChild(index).publicKey;
  if (!pub) throw new Error("derivation gave no public key");
  return addressOfPublicKey(pub);
}

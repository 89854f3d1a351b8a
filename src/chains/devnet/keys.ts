// Keys, addresses and signatures of the devnet chains: secp256k1 (the curve BIP32 derives, so a
// custody xpub yields devnet addresses), ECDSA over a domain-separated SHA-256 digest of the
// canonical payload, low-S only.
//
// A signed transaction is an envelope around the unsigned payload:
//   u8 version (1) | u32 payload length | payload | u8 witness count | witnesses
// and each witness is a 33-byte compressed public key followed by a 64-byte compact signature.
// The txid covers the payload only, so signatures cannot change it.
//
// Addresses. UTXO chain: `<prefix>1` + 32 bech32-alphabet characters (the 20-byte SHA-256 prefix
// of the public key) + a 6-character checksum (SHA-256 of the rest): bech32-looking, not BIP173.
// Account chain: Ethereum's rule, `0x` + the last 20 bytes of keccak256 of the uncompressed key.

import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { ByteReader, ByteWriter, DevnetFormatError, toHex } from "./codec.ts";

export const PUBLIC_KEY_BYTES = 33;
export const SIGNATURE_BYTES = 64;
export const WITNESS_BYTES = PUBLIC_KEY_BYTES + SIGNATURE_BYTES;
export const ENVELOPE_VERSION = 1;
/** Largest payload the devnet accepts (a transaction with many outputs stays well below). */
export const MAX_PAYLOAD_BYTES = 1 << 20;
export const MAX_WITNESSES = 255;

const DIGEST_DOMAIN = new TextEncoder().encode("bulwark-devnet-tx/v1");

export function newPrivateKey(): Uint8Array {
  return secp256k1.utils.randomSecretKey();
}

/** A deterministic private key from a seed string (tests, benches, demo accounts). */
export function privateKeyFromSeed(seed: string): Uint8Array {
  let key = sha256(new TextEncoder().encode(`bulwark-devnet-key:${seed}`));
  while (!secp256k1.utils.isValidSecretKey(key)) key = sha256(key);
  return key;
}

export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return secp256k1.getPublicKey(privateKey, true);
}

/** The digest a signer signs: SHA-256 of a fixed domain tag and the canonical payload. */
export function signingDigest(payload: Uint8Array): Uint8Array {
  const input = new Uint8Array(DIGEST_DOMAIN.length + payload.length);
  input.set(DIGEST_DOMAIN);
  input.set(payload, DIGEST_DOMAIN.length);
  return sha256(input);
}

/** Signs a payload: returns the witness (public key + signature) to attach to it. */
export function sign(payload: Uint8Array, privateKey: Uint8Array): Uint8Array {
  const signature = secp256k1.sign(signingDigest(payload), privateKey, { prehash: false, lowS: true });
  const witness = new Uint8Array(WITNESS_BYTES);
  witness.set(publicKeyOf(privateKey));
  witness.set(signature, PUBLIC_KEY_BYTES);
  return witness;
}

export function verifyWitness(
  payload: Uint8Array,
  witness: Uint8Array,
  digest = signingDigest(payload),
): boolean {
  if (witness.length !== WITNESS_BYTES) return false;
  try {
    return secp256k1.verify(
      witness.subarray(PUBLIC_KEY_BYTES),
      digest,
      witness.subarray(0, PUBLIC_KEY_BYTES),
      {
        prehash: false,
        lowS: true,
      },
    );
  } catch {
    return false;
  }
}

export interface Envelope {
  payload: Uint8Array;
  witnesses: Uint8Array[];
}

export function encodeEnvelope(payload: Uint8Array, witnesses: readonly Uint8Array[]): Uint8Array {
  if (witnesses.length > MAX_WITNESSES) throw new DevnetFormatError(`more than ${MAX_WITNESSES} witnesses`);
  const w = new ByteWriter().u8(ENVELOPE_VERSION).bytes(payload).u8(witnesses.length);
  for (const witness of witnesses) {
    if (witness.length !== WITNESS_BYTES) throw new DevnetFormatError(`witness of ${witness.length} bytes`);
    w.raw(witness);
  }
  return w.finish();
}

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (version !== ENVELOPE_VERSION) throw new DevnetFormatError(`unknown envelope version ${version}`);
  const payload = r.bytes(MAX_PAYLOAD_BYTES);
  const count = r.u8();
  const witnesses: Uint8Array[] = [];
  for (let i = 0; i < count; i++) witnesses.push(r.raw(WITNESS_BYTES));
  r.end();
  return { payload, witnesses };
}

/** Signs with each key (one witness per key, in order) and returns the signed envelope. */
export function signPayload(payload: Uint8Array, privateKeys: readonly Uint8Array[]): Uint8Array {
  return encodeEnvelope(
    payload,
    privateKeys.map((key) => sign(payload, key)),
  );
}

// --- addresses --------------------------------------------------------------------------------

const ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const ALPHABET_INDEX = new Map([...ALPHABET].map((c, i) => [c, i]));
const UTXO_DATA_CHARS = 32; // 20 bytes = 160 bits = 32 five-bit groups
const UTXO_CHECKSUM_CHARS = 6;

function toFiveBit(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

function utxoChecksum(prefixAndData: string): string {
  return toFiveBit(sha256(new TextEncoder().encode(prefixAndData))).slice(0, UTXO_CHECKSUM_CHARS);
}

/** The UTXO chain's address of a compressed public key. */
export function utxoAddress(publicKey: Uint8Array, prefix: string): string {
  if (publicKey.length !== PUBLIC_KEY_BYTES) throw new DevnetFormatError("expected a compressed public key");
  const body = `${prefix}1${toFiveBit(sha256(publicKey).subarray(0, 20))}`;
  return body + utxoChecksum(body);
}

/** The canonical (lower-case) UTXO address, or null when malformed or its checksum is wrong. */
export function normalizeUtxoAddress(address: string, prefix: string): string | null {
  const a = address.toLowerCase();
  const head = `${prefix}1`;
  if (a.length !== head.length + UTXO_DATA_CHARS + UTXO_CHECKSUM_CHARS || !a.startsWith(head)) return null;
  for (let i = head.length; i < a.length; i++) if (!ALPHABET_INDEX.has(a[i])) return null;
  const body = a.slice(0, head.length + UTXO_DATA_CHARS);
  return utxoChecksum(body) === a.slice(body.length) ? a : null;
}

/** The account chain's address of a compressed public key (Ethereum's derivation, lower case). */
export function accountAddress(publicKey: Uint8Array): string {
  const uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false);
  return `0x${toHex(keccak_256(uncompressed.subarray(1)).subarray(12))}`;
}

export function normalizeAccountAddress(address: string): string | null {
  return /^0x[0-9a-fA-F]{40}$/.test(address) ? address.toLowerCase() : null;
}

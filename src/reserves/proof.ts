// Proof of reserves as JSON (docs/RESERVES.md): the signed publication of one asset's tree, a
// user's inclusion proof, and the offline check of both. Pure: the CLI (`bulwark reserves verify`)
// and a web page run the same verifyReservesProof.
//
// Integers that can exceed 2^53 (sums, balances) are decimal strings of ledger units; hashes and
// keys lowercase hex. The signature is Ed25519 over statementBytes(): a fixed-order array of every
// field but the signature, so the verifier never depends on the JSON's key order.

import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { formatUnits } from "../units/decimal.ts";
import {
  HASH_BYTES,
  MAX_PROOF_LENGTH,
  MAX_SUM_UNITS,
  type ProofStep,
  proofLength,
  rootFromPath,
} from "./sum-tree.ts";

export const PUBLICATION_FORMAT = "bulwark-reserves-publication/1";
export const PROOF_FORMAT = "bulwark-reserves-proof/1";
const STATEMENT_PREFIX = "bulwark-reserves-statement/1\n";
/** Reserve addresses one publication lists. */
export const MAX_RESERVE_ADDRESSES = 10_000;
/** Longest proof file the verifier reads. */
export const MAX_PROOF_TEXT_BYTES = 4 * 1024 * 1024;

/** An exchange address whose coins count as reserves. */
export interface ReserveAddress {
  chain: string;
  /** hot, change, cold, deposit, retiredHot. */
  role: string;
  address: string;
  /** Ledger units on chain when published. */
  balanceUnits: string;
}

/** One asset's signed figures: customer liabilities (the tree) next to the coins on chain. */
export interface ReservesPublication {
  format: typeof PUBLICATION_FORMAT;
  publicationId: number;
  asset: string;
  /** Decimal places of the asset's ledger units. */
  scale: number;
  createdAtMs: number;
  leafCount: number;
  rootHash: string;
  /** The root's sum: every user's available + held. */
  liabilitiesUnits: string;
  /** The sum of reserveAddresses' balances. */
  reservesUnits: string;
  reserveAddresses: ReserveAddress[];
  /** reserves ≥ liabilities. */
  fullyBacked: boolean;
  /** Ed25519 public key (hex) of the exchange's reserves key. */
  publicKey: string;
  signature: string;
}

export interface ReservesProof {
  format: typeof PROOF_FORMAT;
  publication: ReservesPublication;
  leaf: { accountId: number; salt: string; balanceUnits: string; leafIndex: number };
  /** Siblings from the leaf up. */
  path: { hash: string; sumUnits: string }[];
}

export type UnsignedPublication = Omit<
  ReservesPublication,
  "signature" | "publicKey" | "format" | "fullyBacked"
>;

/** What the reserves key signs. */
export function statementBytes(p: Omit<ReservesPublication, "signature">): Uint8Array {
  const fields = [
    PUBLICATION_FORMAT,
    p.publicationId,
    p.asset,
    p.scale,
    p.createdAtMs,
    p.leafCount,
    p.rootHash,
    p.liabilitiesUnits,
    p.reservesUnits,
    p.reserveAddresses.map((a) => [a.chain, a.role, a.address, a.balanceUnits]),
    p.fullyBacked,
    p.publicKey,
  ];
  return new TextEncoder().encode(STATEMENT_PREFIX + JSON.stringify(fields));
}

/** Signs a publication with the reserves key (32-byte Ed25519 secret). */
export function signPublication(unsigned: UnsignedPublication, secretKey: Uint8Array): ReservesPublication {
  const reserves = BigInt(unsigned.reservesUnits);
  const liabilities = BigInt(unsigned.liabilitiesUnits);
  const body: Omit<ReservesPublication, "signature"> = {
    format: PUBLICATION_FORMAT,
    ...unsigned,
    fullyBacked: reserves >= liabilities,
    publicKey: bytesToHex(ed25519.getPublicKey(secretKey)),
  };
  return { ...body, signature: bytesToHex(ed25519.sign(statementBytes(body), secretKey)) };
}

/** A proof's JSON from a tree's proof(). */
export function proofJson(
  publication: ReservesPublication,
  proof: { leafIndex: number; accountId: number; salt: Uint8Array; balanceUnits: bigint; path: ProofStep[] },
): ReservesProof {
  return {
    format: PROOF_FORMAT,
    publication,
    leaf: {
      accountId: proof.accountId,
      salt: bytesToHex(proof.salt),
      balanceUnits: proof.balanceUnits.toString(),
      leafIndex: proof.leafIndex,
    },
    path: proof.path.map((step) => ({ hash: bytesToHex(step.hash), sumUnits: step.sumUnits.toString() })),
  };
}

export type VerifyResult =
  | {
      ok: true;
      publicationId: number;
      asset: string;
      accountId: number;
      /** The user's balance, whole coins. */
      balance: string;
      liabilities: string;
      reserves: string;
      fullyBacked: boolean;
      rootHash: string;
      publicKey: string;
    }
  | { ok: false; reason: string };

class ProofError extends Error {}

function fail(reason: string): never {
  throw new ProofError(reason);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function hex(value: unknown, bytes: number, what: string): string {
  if (typeof value !== "string" || value.length !== bytes * 2 || !/^[0-9a-f]+$/.test(value))
    fail(`${what} is not ${bytes} bytes of lowercase hex`);
  return value;
}

function units(value: unknown, what: string): bigint {
  if (typeof value !== "string") fail(`${what} is not a decimal string`);
  if (value.startsWith("-")) fail(`${what} is negative (${value})`);
  if (!/^(0|[1-9][0-9]{0,19})$/.test(value))
    fail(`${what} is not a whole number of units (${JSON.stringify(value)})`);
  const parsed = BigInt(value);
  if (parsed > MAX_SUM_UNITS) fail(`${what} does not fit 64 bits`);
  return parsed;
}

function integer(value: unknown, min: number, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min)
    fail(`${what} is not an integer ≥ ${min}`);
  return value;
}

function text(value: unknown, maxLength: number, what: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > maxLength)
    fail(`${what} is not a string of 1..${maxLength} characters`);
  return value;
}

function readPublication(value: unknown): ReservesPublication {
  const p = record(value, "the publication");
  if (p.format !== PUBLICATION_FORMAT) fail(`the publication's format is not ${PUBLICATION_FORMAT}`);
  const addresses = p.reserveAddresses;
  if (!Array.isArray(addresses) || addresses.length > MAX_RESERVE_ADDRESSES)
    fail(`reserveAddresses is not a list of at most ${MAX_RESERVE_ADDRESSES}`);
  if (typeof p.fullyBacked !== "boolean") fail("fullyBacked is not a boolean");
  return {
    format: PUBLICATION_FORMAT,
    publicationId: integer(p.publicationId, 1, "publicationId"),
    asset: text(p.asset, 16, "asset"),
    scale: Math.min(integer(p.scale, 0, "scale"), 19),
    createdAtMs: integer(p.createdAtMs, 0, "createdAtMs"),
    leafCount: integer(p.leafCount, 0, "leafCount"),
    rootHash: hex(p.rootHash, HASH_BYTES, "rootHash"),
    liabilitiesUnits: units(p.liabilitiesUnits, "liabilitiesUnits").toString(),
    reservesUnits: units(p.reservesUnits, "reservesUnits").toString(),
    reserveAddresses: addresses.map((entry, index) => {
      const a = record(entry, `reserve address ${index}`);
      return {
        chain: text(a.chain, 32, `reserve address ${index}'s chain`),
        role: text(a.role, 16, `reserve address ${index}'s role`),
        address: text(a.address, 128, `reserve address ${index}'s address`),
        balanceUnits: units(a.balanceUnits, `reserve address ${index}'s balance`).toString(),
      };
    }),
    fullyBacked: p.fullyBacked,
    publicKey: hex(p.publicKey, 32, "publicKey"),
    signature: hex(p.signature, 64, "signature"),
  };
}

/** The signature over a read publication, and its reserve figures adding up; throws ProofError. */
function checkSignedFigures(publication: ReservesPublication): { reserves: bigint; fullyBacked: boolean } {
  const { signature, ...body } = publication;
  if (!ed25519.verify(hexToBytes(signature), statementBytes(body), hexToBytes(publication.publicKey)))
    fail("bad signature: the reserves key did not sign this publication");
  let reserves = 0n;
  for (const address of publication.reserveAddresses) reserves += BigInt(address.balanceUnits);
  if (reserves.toString() !== publication.reservesUnits)
    fail(
      `the reserve addresses add up to ${reserves} units, the publication says ${publication.reservesUnits}`,
    );
  const fullyBacked = reserves >= BigInt(publication.liabilitiesUnits);
  if (fullyBacked !== publication.fullyBacked) fail("fullyBacked does not match the figures");
  return { reserves, fullyBacked };
}

/**
 * Checks a publication alone (the public list's entries, docs/RESERVES.md): its fields, the
 * signature by its key (and by `publicKeyHex` when given), and its reserve figures adding up. The
 * same checks verifyReservesProof makes of a proof's publication. Never throws.
 */
export function verifyPublication(
  value: unknown,
  options: { publicKeyHex?: string } = {},
): { ok: true; publication: ReservesPublication } | { ok: false; reason: string } {
  try {
    const publication = readPublication(value);
    if (
      options.publicKeyHex !== undefined &&
      options.publicKeyHex.trim().toLowerCase() !== publication.publicKey
    )
      fail(`the publication is signed by key ${publication.publicKey}, not the exchange's key you gave`);
    checkSignedFigures(publication);
    return { ok: true, publication };
  } catch (error) {
    if (error instanceof ProofError || error instanceof RangeError)
      return { ok: false, reason: error.message };
    throw error;
  }
}

/**
 * Checks a user's proof offline against the root they were given (hex), and optionally the
 * exchange's reserves public key: the leaf and every sum non-negative, the path summing up to the
 * published root and total, the signature, and the reserve figure adding up. Never throws.
 */
export function verifyReservesProof(
  proofValue: unknown,
  expectedRootHex: string,
  options: { publicKeyHex?: string } = {},
): VerifyResult {
  try {
    return check(proofValue, expectedRootHex, options);
  } catch (error) {
    if (error instanceof ProofError) return { ok: false, reason: error.message };
    if (error instanceof RangeError) return { ok: false, reason: error.message };
    throw error;
  }
}

function check(
  proofValue: unknown,
  expectedRootHex: string,
  options: { publicKeyHex?: string },
): VerifyResult {
  const expectedRoot = hex(expectedRootHex.trim().toLowerCase(), HASH_BYTES, "the root you were given");
  const proof = record(proofValue, "the proof");
  if (proof.format !== PROOF_FORMAT) fail(`the proof's format is not ${PROOF_FORMAT}`);
  const publication = readPublication(proof.publication);
  const leaf = record(proof.leaf, "the leaf");
  const balanceUnits = units(leaf.balanceUnits, "your balance");
  const accountId = integer(leaf.accountId, 1, "accountId");
  const leafIndex = integer(leaf.leafIndex, 0, "leafIndex");
  const salt = hexToBytes(hex(leaf.salt, HASH_BYTES, "the salt"));
  if (leafIndex >= publication.leafCount)
    fail(`leafIndex ${leafIndex} is outside the ${publication.leafCount} leaves`);
  const rawPath = proof.path;
  if (!Array.isArray(rawPath) || rawPath.length > MAX_PROOF_LENGTH)
    fail("the path is not a list of siblings");
  if (rawPath.length !== proofLength(publication.leafCount))
    fail(
      `the path has ${rawPath.length} siblings, a tree of ${publication.leafCount} leaves needs ${proofLength(publication.leafCount)}`,
    );
  const path = rawPath.map((entry, index) => {
    const step = record(entry, `sibling ${index}`);
    return {
      hash: hexToBytes(hex(step.hash, HASH_BYTES, `sibling ${index}'s hash`)),
      sumUnits: units(step.sumUnits, `sibling ${index}'s sum`),
    };
  });
  const root = rootFromPath({ salt, accountId, balanceUnits, leafIndex }, path);
  const rootHex = bytesToHex(root.hash);
  if (root.sumUnits.toString() !== publication.liabilitiesUnits)
    fail(
      `the proof does not sum: the path adds up to ${root.sumUnits} units, the publication says ${publication.liabilitiesUnits}`,
    );
  if (rootHex !== publication.rootHash)
    fail(`the path leads to root ${rootHex}, the publication says ${publication.rootHash}`);
  if (rootHex !== expectedRoot)
    fail(`wrong root: the proof is for root ${rootHex}, you were given ${expectedRoot}`);
  if (
    options.publicKeyHex !== undefined &&
    options.publicKeyHex.trim().toLowerCase() !== publication.publicKey
  )
    fail(`the publication is signed by key ${publication.publicKey}, not the exchange's key you gave`);
  const { reserves, fullyBacked } = checkSignedFigures(publication);
  const scale = publication.scale <= 18 ? publication.scale : fail("scale is above 18");
  return {
    ok: true,
    publicationId: publication.publicationId,
    asset: publication.asset,
    accountId,
    balance: formatUnits(balanceUnits, scale),
    liabilities: formatUnits(BigInt(publication.liabilitiesUnits), scale),
    reserves: formatUnits(reserves, scale),
    fullyBacked,
    rootHash: rootHex,
    publicKey: publication.publicKey,
  };
}

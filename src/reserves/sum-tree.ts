// The Merkle sum tree of proof of reserves (docs/RESERVES.md): one per asset and publication,
// over every user's liability (available + held, ledger units). A leaf commits to a per-user salt,
// the account id and the balance; an internal node to both children's hashes and sums, and its
// sum is theirs added. The root's sum is the total the exchange owes. Pure: no I/O, no clock, so
// the CLI's verifier and a web page can use the same code.
//
// Byte layouts (integers unsigned big endian; every hash SHA-256, domain-separated by the first byte):
//   salt:  0x03 | reserves secret (32) | publicationId u64 | accountId u64        (49 bytes)
//   leaf:  0x00 | salt (32) | accountId u64 | balance u64                         (49 bytes)
//   node:  0x01 | left hash (32) | left sum u64 | right hash (32) | right sum u64 (81 bytes)
//   empty: 0x02 (the sibling of a level's odd last node, sum 0)
// Leaves are in ascending account id. A one-leaf tree's root is the leaf.
//
// Speed (bench/reserves.bench.ts): the hashes of a level live in one Uint8Array and the sums in one
// BigUint64Array; every hash input is written into one pre-allocated buffer and hashed by a
// SHA-256 state cloned from a fresh one, so building allocates per level, not per node.

import { sha256 } from "@noble/hashes/sha2.js";

export const HASH_BYTES = 32;
export const LEAF_TAG = 0x00;
export const NODE_TAG = 0x01;
export const EMPTY_TAG = 0x02;
export const SALT_TAG = 0x03;
/** Leaves one tree takes: 2^24 users per asset, far above the 1,000,000 the bench builds. */
export const MAX_LEAVES = 1 << 24;
/** A sum must fit the u64 it is hashed as. */
export const MAX_SUM_UNITS = (1n << 64n) - 1n;
/** Levels above the leaves for MAX_LEAVES: a proof longer than this is malformed. */
export const MAX_PROOF_LENGTH = 24;
/** The reserves secret the salts are derived from. */
export const RESERVES_SECRET_BYTES = 32;

const LEAF_INPUT_BYTES = 1 + HASH_BYTES + 8 + 8;
const NODE_INPUT_BYTES = 1 + HASH_BYTES + 8 + HASH_BYTES + 8;
const SALT_INPUT_BYTES = 1 + RESERVES_SECRET_BYTES + 8 + 8;

/** SHA-256 over pre-allocated buffers: one fresh state cloned per hash instead of a new hasher. */
class Hasher {
  private readonly fresh = sha256.create();
  private readonly work = sha256.create();
  /**
   * The working state's own 64-byte block buffer: digesting into it lets noble reuse its cached
   * DataView instead of allocating one per hash (noble's digestInto special-cases `out === buffer`).
   */
  private readonly block = (this.work as unknown as { buffer: Uint8Array }).buffer;

  /** Hashes `input` into out[outOffset, outOffset + 32). */
  hashInto(input: Uint8Array, out: Uint8Array, outOffset: number): void {
    this.fresh._cloneInto(this.work);
    this.work.update(input);
    this.work.digestInto(this.block);
    const block = this.block;
    for (let index = 0; index < HASH_BYTES; index++) out[outOffset + index] = block[index];
  }
}

/** The empty node's hash: SHA-256 of the single byte EMPTY_TAG. */
export const EMPTY_HASH: Uint8Array = sha256(Uint8Array.of(EMPTY_TAG));

function putU64(view: DataView, offset: number, value: bigint): void {
  view.setBigUint64(offset, value, false);
}

function checkSum(sum: bigint, what: string): void {
  if (sum < 0n) throw new RangeError(`${what} is negative (${sum})`);
  if (sum > MAX_SUM_UNITS) throw new RangeError(`${what} does not fit 64 bits (${sum})`);
}

/** The leaves of one tree: ascending, unique account ids and their liabilities (ledger units, ≥ 0). */
export interface SumTreeLeaves {
  accountIds: ArrayLike<number>;
  balancesUnits: ArrayLike<bigint>;
}

/** Which publication a tree belongs to, and the secret its users' salts derive from. */
export interface SaltSource {
  secret: Uint8Array;
  publicationId: number;
}

/** Derives salts one after another into a shared buffer (the tree copies each into its leaf input). */
export class SaltDeriver {
  private readonly input = new Uint8Array(SALT_INPUT_BYTES);
  private readonly view = new DataView(this.input.buffer);
  private readonly hasher = new Hasher();

  constructor(source: SaltSource) {
    if (source.secret.length !== RESERVES_SECRET_BYTES)
      throw new RangeError(`the reserves secret must be ${RESERVES_SECRET_BYTES} bytes`);
    if (!Number.isSafeInteger(source.publicationId) || source.publicationId < 1)
      throw new RangeError("publicationId must be a safe integer ≥ 1");
    this.input[0] = SALT_TAG;
    this.input.set(source.secret, 1);
    putU64(this.view, 1 + RESERVES_SECRET_BYTES, BigInt(source.publicationId));
  }

  /** The salt of `accountId` into out[offset, offset + 32). */
  saltInto(accountId: number, out: Uint8Array, offset: number): void {
    this.view.setUint32(1 + RESERVES_SECRET_BYTES + 8, Math.floor(accountId / 2 ** 32), false);
    this.view.setUint32(1 + RESERVES_SECRET_BYTES + 12, accountId >>> 0, false);
    this.hasher.hashInto(this.input, out, offset);
  }

  salt(accountId: number): Uint8Array {
    const out = new Uint8Array(HASH_BYTES);
    this.saltInto(accountId, out, 0);
    return out;
  }
}

/** A leaf's hash (used by the verifier; the builder writes the same bytes in place). */
export function leafHash(salt: Uint8Array, accountId: number, balanceUnits: bigint): Uint8Array {
  checkSum(balanceUnits, "a balance");
  if (salt.length !== HASH_BYTES) throw new RangeError("a salt is 32 bytes");
  checkAccountId(accountId);
  const input = new Uint8Array(LEAF_INPUT_BYTES);
  const view = new DataView(input.buffer);
  input[0] = LEAF_TAG;
  input.set(salt, 1);
  putU64(view, 1 + HASH_BYTES, BigInt(accountId));
  putU64(view, 1 + HASH_BYTES + 8, balanceUnits);
  return sha256(input);
}

/** An internal node's hash and sum (used by the verifier; throws on a negative or too large sum). */
export function nodeOf(
  left: { hash: Uint8Array; sumUnits: bigint },
  right: { hash: Uint8Array; sumUnits: bigint },
): { hash: Uint8Array; sumUnits: bigint } {
  checkSum(left.sumUnits, "a left sum");
  checkSum(right.sumUnits, "a right sum");
  const sumUnits = left.sumUnits + right.sumUnits;
  checkSum(sumUnits, "a node's sum");
  const input = new Uint8Array(NODE_INPUT_BYTES);
  const view = new DataView(input.buffer);
  input[0] = NODE_TAG;
  input.set(left.hash, 1);
  putU64(view, 1 + HASH_BYTES, left.sumUnits);
  input.set(right.hash, 1 + HASH_BYTES + 8);
  putU64(view, 1 + 2 * HASH_BYTES + 8, right.sumUnits);
  return { hash: sha256(input), sumUnits };
}

/** 32 bytes without a subarray view per call (the build copies two per node). */
function copyHash(from: Uint8Array, fromOffset: number, to: Uint8Array, toOffset: number): void {
  for (let index = 0; index < HASH_BYTES; index++) to[toOffset + index] = from[fromOffset + index];
}

function checkAccountId(accountId: number): void {
  if (!Number.isSafeInteger(accountId) || accountId < 1)
    throw new RangeError(`account id ${accountId} is not a safe integer ≥ 1`);
}

/** One sibling on the way from a leaf to the root. */
export interface ProofStep {
  hash: Uint8Array;
  sumUnits: bigint;
}

/** Levels above `leafCount` leaves: the length of every proof of that tree. */
export function proofLength(leafCount: number): number {
  let length = 0;
  for (let count = leafCount; count > 1; count = Math.ceil(count / 2)) length += 1;
  return length;
}

export class SumTree {
  /** Level 0 is the leaves; the last level holds the root alone. */
  private constructor(
    private readonly hashes: Uint8Array[],
    private readonly sums: BigUint64Array[],
    private readonly accountIds: Float64Array,
    readonly saltSource: SaltSource,
  ) {}

  /**
   * Builds the tree. Throws RangeError on a negative or too large balance, an account id that is
   * not ≥ 1 or not ascending, more than MAX_LEAVES leaves, or a total beyond 64 bits.
   */
  static build(leaves: SumTreeLeaves, saltSource: SaltSource): SumTree {
    const count = leaves.accountIds.length;
    if (leaves.balancesUnits.length !== count) throw new RangeError("one balance per account id");
    if (count > MAX_LEAVES) throw new RangeError(`more than ${MAX_LEAVES} leaves`);
    const salts = new SaltDeriver(saltSource);
    const hasher = new Hasher();
    const accountIds = new Float64Array(count);
    const leafHashes = new Uint8Array(Math.max(count, 1) * HASH_BYTES);
    const leafSums = new BigUint64Array(Math.max(count, 1));
    const input = new Uint8Array(LEAF_INPUT_BYTES);
    const view = new DataView(input.buffer);
    input[0] = LEAF_TAG;
    let previousId = 0;
    for (let index = 0; index < count; index++) {
      const accountId = leaves.accountIds[index];
      const balance = leaves.balancesUnits[index];
      checkAccountId(accountId);
      if (accountId <= previousId) throw new RangeError("account ids must be ascending and unique");
      if (typeof balance !== "bigint" || balance < 0n || balance > MAX_SUM_UNITS)
        throw new RangeError(`account ${accountId} has a negative or too large balance (${balance})`);
      previousId = accountId;
      accountIds[index] = accountId;
      salts.saltInto(accountId, input, 1);
      view.setUint32(1 + HASH_BYTES, Math.floor(accountId / 2 ** 32), false);
      view.setUint32(1 + HASH_BYTES + 4, accountId >>> 0, false);
      putU64(view, 1 + HASH_BYTES + 8, balance);
      hasher.hashInto(input, leafHashes, index * HASH_BYTES);
      leafSums[index] = balance;
    }
    if (count === 0) {
      leafHashes.set(EMPTY_HASH, 0);
      leafSums[0] = 0n;
    }
    const hashes = [leafHashes];
    const sums = [leafSums];
    const nodeInput = new Uint8Array(NODE_INPUT_BYTES);
    const nodeView = new DataView(nodeInput.buffer);
    nodeInput[0] = NODE_TAG;
    for (let width = Math.max(count, 1); width > 1; ) {
      const below = hashes[hashes.length - 1];
      const belowSums = sums[sums.length - 1];
      const nextWidth = Math.ceil(width / 2);
      const level = new Uint8Array(nextWidth * HASH_BYTES);
      const levelSums = new BigUint64Array(nextWidth);
      for (let index = 0; index < nextWidth; index++) {
        const left = 2 * index;
        const right = left + 1;
        const leftSum = belowSums[left];
        copyHash(below, left * HASH_BYTES, nodeInput, 1);
        putU64(nodeView, 1 + HASH_BYTES, leftSum);
        let rightSum = 0n;
        if (right < width) {
          rightSum = belowSums[right];
          copyHash(below, right * HASH_BYTES, nodeInput, 1 + HASH_BYTES + 8);
        } else {
          nodeInput.set(EMPTY_HASH, 1 + HASH_BYTES + 8);
        }
        putU64(nodeView, 1 + 2 * HASH_BYTES + 8, rightSum);
        const sum = leftSum + rightSum;
        if (sum > MAX_SUM_UNITS) throw new RangeError("the total does not fit 64 bits");
        levelSums[index] = sum;
        hasher.hashInto(nodeInput, level, index * HASH_BYTES);
      }
      hashes.push(level);
      sums.push(levelSums);
      width = nextWidth;
    }
    return new SumTree(hashes, sums, accountIds, saltSource);
  }

  get leafCount(): number {
    return this.accountIds.length;
  }

  get root(): Uint8Array {
    return this.hashes[this.hashes.length - 1].slice(0, HASH_BYTES);
  }

  get totalUnits(): bigint {
    return this.sums[this.sums.length - 1][0];
  }

  /** The leaf index of an account, or -1 (binary search: leaves are in ascending account id). */
  indexOf(accountId: number): number {
    let low = 0;
    let high = this.accountIds.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = this.accountIds[middle];
      if (value === accountId) return middle;
      if (value < accountId) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  /** Everything a user needs to check their leaf is in the root. */
  proof(leafIndex: number): {
    leafIndex: number;
    accountId: number;
    salt: Uint8Array;
    balanceUnits: bigint;
    path: ProofStep[];
  } {
    if (!Number.isInteger(leafIndex) || leafIndex < 0 || leafIndex >= this.leafCount)
      throw new RangeError(`no leaf ${leafIndex}`);
    const path: ProofStep[] = [];
    let index = leafIndex;
    for (let level = 0; level < this.hashes.length - 1; level++) {
      const sibling = index ^ 1;
      const width = this.sums[level].length;
      if (sibling < width)
        path.push({
          hash: this.hashes[level].slice(sibling * HASH_BYTES, sibling * HASH_BYTES + HASH_BYTES),
          sumUnits: this.sums[level][sibling],
        });
      else path.push({ hash: EMPTY_HASH.slice(), sumUnits: 0n });
      index >>= 1;
    }
    const accountId = this.accountIds[leafIndex];
    return {
      leafIndex,
      accountId,
      salt: new SaltDeriver(this.saltSource).salt(accountId),
      balanceUnits: this.sums[0][leafIndex],
      path,
    };
  }
}

/**
 * Recomputes the root from a leaf and its path: the sibling is on the right where the index's bit
 * is 0. Throws RangeError on a negative or too large sum anywhere.
 */
export function rootFromPath(
  leaf: { salt: Uint8Array; accountId: number; balanceUnits: bigint; leafIndex: number },
  path: readonly ProofStep[],
): { hash: Uint8Array; sumUnits: bigint } {
  let node = { hash: leafHash(leaf.salt, leaf.accountId, leaf.balanceUnits), sumUnits: leaf.balanceUnits };
  let index = leaf.leafIndex;
  for (const step of path) {
    node = (index & 1) === 0 ? nodeOf(node, step) : nodeOf(step, node);
    index = Math.floor(index / 2);
  }
  return node;
}

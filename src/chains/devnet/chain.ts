// The machinery both devnet chains share: blocks, a fee-ordered mempool, mining on demand or on
// a timer, reorgs of a chosen depth, stuck and dropped transactions, a faucet, the state file,
// and the chain-independent half of the adapter (scan, reorg detection, confirmations, lookup,
// broadcast). A chain flavour (utxo.ts, account.ts) supplies its transaction format and its
// ledger state through `DevnetRules`.
//
// Determinism: no wall clock, no randomness. A block's hash covers the chain name, height, parent
// hash, a salt (bumped by every reorg, so replacement blocks get new hashes) and its txids.
//
// State: the blocks and the mempool are the state; balances are derived by replaying the blocks
// (signatures were checked when the transactions were admitted, so replay skips them). With a
// `dir`, every change rewrites `<dir>/<chain>.devnet` atomically; `open` replays it.

import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  type BlockRef,
  type ChainAsset,
  type ChainLimits,
  checkLimit,
  type Outflow,
  type ReorgReport,
  type ScanResult,
  type TransactionStatus,
  type Transfer,
} from "../adapter.ts";
import { ByteReader, ByteWriter, DevnetFormatError, equalBytes, fromHex, toHex } from "./codec.ts";
import { MAX_PAYLOAD_BYTES } from "./keys.ts";
import { readFileIfExists, writeFileAtomic } from "./persist.ts";

/** A transaction the chain refuses (bad signature, double spend, nonce reuse, funds, format). */
export class DevnetRejectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DevnetRejectError";
  }
}

export interface DevnetOutput {
  address: string;
  asset: string;
  amount: bigint;
}

/** A decoded transaction: what every flavour's decoder returns at least. */
export interface DevnetTx {
  txid: string;
  /** The signed envelope as broadcast (faucet transactions: an envelope without witnesses). */
  bytes: Uint8Array;
  faucet: boolean;
  outputs: DevnetOutput[];
}

/** What a chain flavour supplies to the shared machinery. */
export interface DevnetRules<T extends DevnetTx, S> {
  decode(bytes: Uint8Array): T;
  newState(): S;
  cloneState(state: S): S;
  /** Throws DevnetRejectError when `tx` cannot apply to `state`; returns its fee rate. */
  check(state: S, tx: T, verifySignatures: boolean): bigint;
  apply(state: S, tx: T): void;
}

export interface DevnetOptions {
  /** Directory of the state file; in memory only when absent. */
  dir?: string;
  limits?: Partial<ChainLimits>;
  /** Most transactions in one block (default 20,000). */
  maxTxsPerBlock?: number;
  /** Most transactions waiting in the mempool; the lowest fee rate is evicted beyond it (default 50,000). */
  mempoolCapacity?: number;
  /** Blocks a transaction may wait before it is dropped (default 25). */
  dropAfterBlocks?: number;
  /** Lowest fee rate mined (default 1); below it a transaction stays pending. */
  minFeeRate?: bigint;
}

export const DEFAULT_LIMITS: ChainLimits = {
  maxWatchedAddresses: 1_000_000,
  maxBlocksPerScan: 1_000,
  maxTransfersPerBlock: 50_000,
  maxReorgCheckBlocks: 1_000,
  maxPaymentSources: 100,
};
const MAX_DROPPED_REMEMBERED = 100_000;
const STATE_MAGIC = "bulwark-devnet-state";
const STATE_VERSION = 1;

interface Block<T> {
  height: number;
  hash: string;
  prevHash: string;
  salt: number;
  txs: T[];
  /** Every output of every transaction, flattened once so a scan is a set lookup per output. */
  outputs: { tx: T; index: number; address: string; asset: string; amount: bigint }[];
}

interface MempoolEntry<T> {
  tx: T;
  feeRate: bigint;
  seq: number;
  enteredHeight: number;
}

export interface ReorgOptions {
  /** Txids the replacement blocks leave out. */
  omit?: Iterable<string>;
  /** Where omitted transactions go: back to the mempool (default) or dropped. */
  omitted?: "mempool" | "dropped";
}

export abstract class DevnetChain<T extends DevnetTx, S> {
  readonly limits: ChainLimits;
  protected confirmed: S;
  /** The confirmed state with the mempool applied in arrival order: what new transactions must fit. */
  protected pending: S;
  private readonly blocks: Block<T>[] = [];
  private readonly txHeight = new Map<string, number>();
  private readonly mempool = new Map<string, MempoolEntry<T>>();
  private readonly dropped = new Map<string, string>();
  private nextSeq = 0;
  private faucetCounter = 0n;
  private reorgSalt = 0;
  private minFee: bigint;
  private readonly maxTxsPerBlock: number;
  private readonly mempoolCapacity: number;
  private readonly dropAfterBlocks: number;
  private readonly file: string | null;
  private timer: NodeJS.Timeout | null = null;

  protected constructor(
    readonly chain: string,
    readonly assets: readonly ChainAsset[],
    protected readonly rules: DevnetRules<T, S>,
    options: DevnetOptions,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.maxTxsPerBlock = options.maxTxsPerBlock ?? 20_000;
    this.mempoolCapacity = options.mempoolCapacity ?? 50_000;
    this.dropAfterBlocks = options.dropAfterBlocks ?? 25;
    this.minFee = options.minFeeRate ?? 1n;
    this.file = options.dir === undefined ? null : join(options.dir, `${chain}.devnet`);
    this.confirmed = rules.newState();
    this.pending = rules.newState();
    this.pushBlock([], 0);
    const saved = this.file === null ? null : readFileIfExists(this.file);
    if (saved !== null) this.load(saved);
  }

  // --- adapter: reading the chain ----------------------------------------------------------------

  abstract normalizeAddress(address: string): string | null;

  async height(): Promise<number> {
    return this.tip;
  }

  get tip(): number {
    return this.blocks.length - 1;
  }

  async blockHash(height: number): Promise<string | null> {
    return this.blocks[height]?.hash ?? null;
  }

  async scan(fromHeight: number, toHeight: number, watched: ReadonlySet<string>): Promise<ScanResult> {
    return this.scanSync(fromHeight, toHeight, watched);
  }

  scanSync(fromHeight: number, toHeight: number, watched: ReadonlySet<string>): ScanResult {
    if (
      !Number.isInteger(fromHeight) ||
      !Number.isInteger(toHeight) ||
      fromHeight < 0 ||
      toHeight < fromHeight
    )
      throw new RangeError(`bad block range ${fromHeight}..${toHeight}`);
    if (toHeight > this.tip) throw new RangeError(`block ${toHeight} is above the tip ${this.tip}`);
    checkLimit(this.limits, "maxBlocksPerScan", toHeight - fromHeight + 1);
    checkLimit(this.limits, "maxWatchedAddresses", watched.size);
    const transfers: Transfer[] = [];
    const blocks: BlockRef[] = [];
    for (let h = fromHeight; h <= toHeight; h++) {
      const block = this.blocks[h];
      checkLimit(this.limits, "maxTransfersPerBlock", block.outputs.length);
      blocks.push({ height: h, hash: block.hash });
      for (const out of block.outputs) {
        if (!watched.has(out.address)) continue;
        transfers.push({
          chain: this.chain,
          txid: out.tx.txid,
          outputIndex: out.index,
          address: out.address,
          asset: out.asset,
          amount: out.amount,
          blockHeight: h,
          blockHash: block.hash,
        });
      }
    }
    return { transfers, blocks };
  }

  async scanOutflows(fromHeight: number, toHeight: number, watched: ReadonlySet<string>): Promise<Outflow[]> {
    return this.scanOutflowsSync(fromHeight, toHeight, watched);
  }

  /** Transactions spending from watched addresses (the flavour says what a transaction spends). */
  scanOutflowsSync(fromHeight: number, toHeight: number, watched: ReadonlySet<string>): Outflow[] {
    // The same range checks and limits as a deposit scan.
    this.scanSync(fromHeight, toHeight, new Set());
    checkLimit(this.limits, "maxWatchedAddresses", watched.size);
    const outflows: Outflow[] = [];
    for (let h = fromHeight; h <= toHeight; h++) {
      const block = this.blocks[h];
      checkLimit(this.limits, "maxTransfersPerBlock", block.txs.length);
      for (const tx of block.txs) {
        if (tx.faucet) continue;
        const from = new Set<string>();
        const amounts = new Map<string, bigint>();
        for (const spend of this.spendsOf(tx)) {
          if (!watched.has(spend.address)) continue;
          from.add(spend.address);
          amounts.set(spend.asset, (amounts.get(spend.asset) ?? 0n) + spend.amount);
        }
        if (from.size === 0) continue;
        outflows.push({
          chain: this.chain,
          txid: tx.txid,
          from: [...from],
          amounts: [...amounts].map(([asset, amount]) => ({ asset, amount })),
          blockHeight: h,
          blockHash: block.hash,
        });
      }
    }
    return outflows;
  }

  /** What a transaction takes from each address it spends from (fees included), per asset. */
  protected abstract spendsOf(tx: T): { address: string; asset: string; amount: bigint }[];

  async detectReorg(known: readonly BlockRef[]): Promise<ReorgReport | null> {
    checkLimit(this.limits, "maxReorgCheckBlocks", known.length);
    const sorted = [...known].sort((a, b) => a.height - b.height);
    const replaced = sorted.filter((b) => this.blocks[b.height]?.hash !== b.hash);
    if (replaced.length === 0) return null;
    // The fork point is the highest remembered block below the first change (it still matches,
    // as every change above it was found first); with none remembered, the height just below.
    // A scanner that remembers its last blocks contiguously gets the exact fork point.
    const firstChanged = replaced[0].height;
    let forkHeight = firstChanged - 1;
    const below = sorted.filter((b) => b.height < firstChanged);
    if (below.length > 0) forkHeight = below[below.length - 1].height;
    return { forkHeight, replaced };
  }

  async confirmations(txid: string): Promise<number> {
    const height = this.txHeight.get(txid);
    return height === undefined ? 0 : this.tip - height + 1;
  }

  async lookup(txid: string): Promise<TransactionStatus> {
    return this.lookupSync(txid);
  }

  lookupSync(txid: string): TransactionStatus {
    const height = this.txHeight.get(txid);
    if (height !== undefined)
      return {
        status: "confirmed",
        blockHeight: height,
        blockHash: this.blocks[height].hash,
        confirmations: this.tip - height + 1,
      };
    const entry = this.mempool.get(txid);
    if (entry !== undefined)
      return !entry.tx.faucet && entry.feeRate < this.minFee
        ? { status: "pending", reason: `fee rate ${entry.feeRate} below the minimum ${this.minFee}` }
        : { status: "pending" };
    const reason = this.dropped.get(txid);
    if (reason !== undefined) return { status: "dropped", reason };
    return { status: "not-found" };
  }

  /** Fee rate that gets a transaction into the next block: the minimum, or above a full block's worth. */
  protected nextBlockFeeRate(): bigint {
    const rates = [...this.mempool.values()].filter((e) => !e.tx.faucet).map((e) => e.feeRate);
    if (rates.length < this.maxTxsPerBlock) return this.minFee;
    rates.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    const floor = rates[this.maxTxsPerBlock - 1] + 1n;
    return floor > this.minFee ? floor : this.minFee;
  }

  get minFeeRate(): bigint {
    return this.minFee;
  }

  /** Raises or lowers the lowest fee rate mined (makes transactions stuck, or unsticks them). */
  setMinFeeRate(rate: bigint): void {
    if (rate < 0n) throw new RangeError("negative fee rate");
    this.minFee = rate;
    this.save();
  }

  // --- adapter: writing ------------------------------------------------------------------------

  async broadcast(signed: Uint8Array): Promise<string> {
    return this.broadcastSync(signed);
  }

  broadcastSync(signed: Uint8Array): string {
    let tx: T;
    try {
      tx = this.rules.decode(signed);
    } catch (error) {
      if (error instanceof DevnetFormatError)
        throw new DevnetRejectError(`malformed transaction: ${error.message}`);
      throw error;
    }
    if (tx.faucet) throw new DevnetRejectError("faucet transactions come from the faucet only");
    if (this.txHeight.has(tx.txid))
      throw new DevnetRejectError(`transaction ${tx.txid} is already in a block`);
    if (this.mempool.has(tx.txid)) return tx.txid;
    const feeRate = this.rules.check(this.pending, tx, true);
    if (this.mempool.size >= this.mempoolCapacity) {
      const lowest = this.lowestFeeEntry();
      if (lowest === null || lowest.feeRate >= feeRate) throw new DevnetRejectError("mempool full");
      this.drop(lowest.tx.txid, "evicted: mempool full");
      this.rebuildPending();
      this.rules.check(this.pending, tx, false);
    }
    this.rules.apply(this.pending, tx);
    this.dropped.delete(tx.txid);
    this.mempool.set(tx.txid, { tx, feeRate, seq: this.nextSeq++, enteredHeight: this.tip });
    this.save();
    return tx.txid;
  }

  /** An outside sender pays `address`: a transaction of its own, mined in the next block. */
  faucet(address: string, asset: string, amount: bigint): string {
    const canonical = this.normalizeAddress(address);
    if (canonical === null) throw new DevnetRejectError(`not a ${this.chain} address: ${address}`);
    if (!this.assets.some((a) => a.symbol === asset))
      throw new DevnetRejectError(`${this.chain} has no asset ${asset}`);
    if (amount <= 0n) throw new DevnetRejectError("faucet amount must be positive");
    const tx = this.rules.decode(this.faucetTransaction(canonical, asset, amount, this.faucetCounter++));
    this.rules.apply(this.pending, tx);
    this.mempool.set(tx.txid, { tx, feeRate: 0n, seq: this.nextSeq++, enteredHeight: this.tip });
    this.save();
    return tx.txid;
  }

  protected abstract faucetTransaction(
    address: string,
    asset: string,
    amount: bigint,
    nonce: bigint,
  ): Uint8Array;

  // --- producing blocks --------------------------------------------------------------------------

  /** Mines `n` blocks now; returns their hashes. */
  mine(n = 1): string[] {
    const hashes: string[] = [];
    for (let i = 0; i < n; i++) hashes.push(this.mineOne());
    this.save();
    return hashes;
  }

  /** Mines one block every `intervalMs` until `stopMining` (or `close`). */
  startMining(intervalMs: number): void {
    this.stopMining();
    this.timer = setInterval(() => this.mine(1), intervalMs);
    this.timer.unref();
  }

  stopMining(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  close(): void {
    this.stopMining();
    this.save();
  }

  private mineOne(): string {
    const height = this.tip + 1;
    for (const entry of [...this.mempool.values()])
      if (!entry.tx.faucet && height - entry.enteredHeight > this.dropAfterBlocks)
        this.drop(entry.tx.txid, `expired: pending for more than ${this.dropAfterBlocks} blocks`);
    const candidates = [...this.mempool.values()]
      .filter((e) => e.tx.faucet || e.feeRate >= this.minFee)
      .sort((a, b) =>
        a.tx.faucet !== b.tx.faucet
          ? a.tx.faucet
            ? -1
            : 1
          : a.tx.faucet || a.feeRate === b.feeRate
            ? a.seq - b.seq
            : a.feeRate > b.feeRate
              ? -1
              : 1,
      );
    const work = this.rules.cloneState(this.confirmed);
    const included: T[] = [];
    const taken = new Set<string>();
    let outputs = 0;
    let progress = true;
    // Several passes, so a child whose fee rate beats its parent's goes in after the parent.
    while (progress && included.length < this.maxTxsPerBlock) {
      progress = false;
      for (const entry of candidates) {
        if (taken.has(entry.tx.txid) || included.length >= this.maxTxsPerBlock) continue;
        if (outputs + entry.tx.outputs.length > this.limits.maxTransfersPerBlock) continue;
        try {
          this.rules.check(work, entry.tx, false);
        } catch (error) {
          if (error instanceof DevnetRejectError) continue;
          throw error;
        }
        this.rules.apply(work, entry.tx);
        included.push(entry.tx);
        taken.add(entry.tx.txid);
        outputs += entry.tx.outputs.length;
        progress = true;
      }
    }
    for (const tx of included) this.mempool.delete(tx.txid);
    this.confirmed = work;
    const hash = this.pushBlock(included, this.reorgSalt);
    this.rebuildPending();
    return hash;
  }

  private pushBlock(txs: T[], salt: number): string {
    const height = this.blocks.length;
    const prevHash = height === 0 ? "00".repeat(32) : this.blocks[height - 1].hash;
    const header = new ByteWriter()
      .string(this.chain)
      .u32(height)
      .raw(fromHex(prevHash))
      .u32(salt)
      .u32(txs.length);
    for (const tx of txs) header.raw(fromHex(tx.txid));
    const hash = toHex(sha256(header.finish()));
    const outputs: Block<T>["outputs"] = [];
    for (const tx of txs) {
      tx.outputs.forEach((out, index) => {
        outputs.push({ tx, index, address: out.address, asset: out.asset, amount: out.amount });
      });
      this.txHeight.set(tx.txid, height);
    }
    this.blocks.push({ height, hash, prevHash, salt, txs, outputs });
    return hash;
  }

  /**
   * Replaces the last `depth` blocks with as many new ones (new hashes) carrying the same
   * transactions minus `omit`; omitted ones go back to the mempool or are dropped, and any that
   * no longer apply (they spent an omitted output) go back to the mempool. Returns the fork
   * height: the highest block left unchanged.
   */
  reorg(depth: number, options: ReorgOptions = {}): number {
    if (!Number.isInteger(depth) || depth < 1 || depth > this.tip)
      throw new RangeError(`reorg depth must be 1..${this.tip}, got ${depth}`);
    const omit = new Set(options.omit ?? []);
    const removed = this.blocks.splice(this.blocks.length - depth, depth);
    for (const block of removed) for (const tx of block.txs) this.txHeight.delete(tx.txid);
    this.confirmed = this.replay();
    this.reorgSalt++;
    const returned: T[] = [];
    for (const block of removed) {
      const kept: T[] = [];
      for (const tx of block.txs) {
        if (omit.has(tx.txid)) {
          if (options.omitted === "dropped") this.drop(tx.txid, "removed by a reorg");
          else returned.push(tx);
          continue;
        }
        try {
          this.rules.check(this.confirmed, tx, false);
          this.rules.apply(this.confirmed, tx);
          kept.push(tx);
        } catch (error) {
          if (!(error instanceof DevnetRejectError)) throw error;
          returned.push(tx);
        }
      }
      this.pushBlock(kept, this.reorgSalt);
    }
    const waiting = [...this.mempool.values()].sort((a, b) => a.seq - b.seq);
    this.mempool.clear();
    for (const tx of returned)
      this.mempool.set(tx.txid, { tx, feeRate: 0n, seq: this.nextSeq++, enteredHeight: this.tip });
    for (const entry of waiting) this.mempool.set(entry.tx.txid, entry);
    this.rebuildPending();
    this.save();
    return this.tip - depth;
  }

  // --- mempool upkeep ----------------------------------------------------------------------------

  private drop(txid: string, reason: string): void {
    this.mempool.delete(txid);
    this.dropped.set(txid, reason);
    if (this.dropped.size > MAX_DROPPED_REMEMBERED)
      this.dropped.delete(this.dropped.keys().next().value as string);
  }

  private lowestFeeEntry(): MempoolEntry<T> | null {
    let lowest: MempoolEntry<T> | null = null;
    for (const e of this.mempool.values())
      if (!e.tx.faucet && (lowest === null || e.feeRate < lowest.feeRate)) lowest = e;
    return lowest;
  }

  /** Recomputes the pending state; a waiting transaction that no longer applies is dropped. */
  private rebuildPending(): void {
    this.pending = this.rules.cloneState(this.confirmed);
    const waiting = [...this.mempool.values()].sort((a, b) => a.seq - b.seq);
    for (const entry of waiting) {
      try {
        entry.feeRate = entry.tx.faucet ? 0n : this.rules.check(this.pending, entry.tx, false);
        this.rules.apply(this.pending, entry.tx);
      } catch (error) {
        if (!(error instanceof DevnetRejectError)) throw error;
        this.drop(entry.tx.txid, `conflict: ${error.message}`);
      }
    }
  }

  private replay(): S {
    const state = this.rules.newState();
    for (const block of this.blocks)
      for (const tx of block.txs) {
        this.rules.check(state, tx, false);
        this.rules.apply(state, tx);
      }
    return state;
  }

  // --- state file --------------------------------------------------------------------------------

  /** Canonical bytes of the whole chain state (blocks, mempool, dropped, counters). */
  serialize(): Uint8Array {
    const w = new ByteWriter().string(STATE_MAGIC).u8(STATE_VERSION).string(this.chain);
    w.uint(this.faucetCounter, 8).u32(this.reorgSalt).uint(this.minFee, 16).uint(BigInt(this.nextSeq), 8);
    w.u32(this.blocks.length - 1);
    for (const block of this.blocks.slice(1)) {
      w.u32(block.salt).u32(block.txs.length);
      for (const tx of block.txs) w.bytes(tx.bytes);
    }
    const waiting = [...this.mempool.values()].sort((a, b) => a.seq - b.seq);
    w.u32(waiting.length);
    for (const e of waiting) w.bytes(e.tx.bytes).uint(BigInt(e.seq), 8).u32(e.enteredHeight);
    w.u32(this.dropped.size);
    for (const [txid, reason] of this.dropped) w.raw(fromHex(txid)).string(reason);
    const body = w.finish();
    return new ByteWriter().raw(body).raw(sha256(body)).finish();
  }

  /** SHA-256 of `serialize()`, hex: equal hashes mean equal chains. */
  stateHash(): string {
    return toHex(sha256(this.serialize()));
  }

  private save(): void {
    if (this.file !== null) writeFileAtomic(this.file, this.serialize());
  }

  private load(bytes: Uint8Array): void {
    if (bytes.length < 32 || !equalBytes(sha256(bytes.subarray(0, -32)), bytes.subarray(-32)))
      throw new DevnetFormatError(`${this.file}: checksum mismatch`);
    const r = new ByteReader(bytes.subarray(0, -32));
    if (r.string() !== STATE_MAGIC || r.u8() !== STATE_VERSION)
      throw new DevnetFormatError("not a devnet state file");
    const chain = r.string();
    if (chain !== this.chain) throw new DevnetFormatError(`state file of ${chain}, expected ${this.chain}`);
    this.faucetCounter = r.uint(8);
    this.reorgSalt = r.u32();
    this.minFee = r.uint(16);
    this.nextSeq = Number(r.uint(8));
    const blockCount = r.u32();
    for (let i = 0; i < blockCount; i++) {
      const salt = r.u32();
      const txs: T[] = [];
      const n = r.u32();
      for (let j = 0; j < n; j++) {
        const tx = this.rules.decode(r.bytes(MAX_PAYLOAD_BYTES * 2));
        this.rules.check(this.confirmed, tx, false);
        this.rules.apply(this.confirmed, tx);
        txs.push(tx);
      }
      this.pushBlock(txs, salt);
    }
    const waiting = r.u32();
    for (let i = 0; i < waiting; i++) {
      const tx = this.rules.decode(r.bytes(MAX_PAYLOAD_BYTES * 2));
      const seq = Number(r.uint(8));
      this.mempool.set(tx.txid, { tx, feeRate: 0n, seq, enteredHeight: r.u32() });
    }
    const droppedCount = r.u32();
    for (let i = 0; i < droppedCount; i++) this.dropped.set(toHex(r.raw(32)), r.string());
    r.end();
    this.rebuildPending();
  }
}

// The deposit watcher of one chain: follows the chain's blocks, finds transfers to the exchange's
// deposit addresses, and credits each through the core (`creditDeposit`) once it has the chain's
// confirmation count. One `poll()` does one bounded step:
//   1. read the tip; compare the remembered recent block hashes with the chain (`detectReorg`);
//   2. scan at most `maxBlocksPerPoll` new blocks for transfers to watched addresses (the watched
//      set split into pages of the adapter's limit; owners looked up in pages of the store's);
//   3. keep unconfirmed transfers in memory (at most `maxPending`; a scan that would overflow
//      stops before the block that does, and continues next poll);
//   4. credit those with enough confirmations: amount = `chainToLedger` at the asset's scale,
//      rounded down, the dust (below one ledger unit) returned in the result and logged; the
//      credits are submitted in order, at most `maxCreditsInFlight` not yet projected at once
//      (one journal write makes a whole group durable), and the poll returns once the store has
//      them all;
//   5. save the scanner state (height + recent hashes).
//
// Watched set: every deposit address of the chain, whatever its derivation account, so deposits
// to addresses of an older (rotated) deposit xpub are still credited.
//
// Minimum deposit (per asset, chain base units; at least one ledger unit): a transfer below it is
// not credited; it is returned in `belowMinimum` and logged, and stays on chain for the operator.
//
// Restarts and idempotency: the core refuses a second credit of one chain:txid:output with
// `duplicateDeposit`, which the watcher counts as "already credited". At start the watcher
// rescans from the oldest remembered block hash (the window is longer than the confirmation
// count), so transfers that were unconfirmed at the last save are found again and those credited
// before are recognised (and remembered for the reorg policy below) without crediting twice.
//
// REORG POLICY. A reorg is detected by the remembered hashes; every transfer this watcher knows
// in a block above the fork point is looked up on the new chain (`lookup`): if it is confirmed
// in a block still, it just moves; otherwise the reorg removed it:
//   - removed BEFORE crediting: dropped (forgotten; never credited). If it is mined again later,
//     the scan finds it as a new transfer and it is credited after its confirmations then.
//   - removed AFTER crediting: the core's credit stands. The user keeps the balance and the loss
//     (coins the exchange no longer has) is the exchange's; no user balance is ever edited
//     silently. The watcher reports it: returned in the poll's `reorgedAfterCredit`, kept in a
//     bounded list (`reported()`), and logged. The operator decides (wait for the transaction to
//     be mined again, recover from the user, or write it off) through audited operator commands.
// A reorg deeper than the remembered window, or one that happens while the watcher is stopped
// and removes transfers it credited before its last window, can only be reported by its blocks.

import type { ChainAdapter, ChainAsset, Transfer } from "../chains/adapter.ts";
import type { CommandResult, ExchangeBoundary, ScannerState } from "../exchange/boundary.ts";
import { CUSTODY_LIMITS } from "../exchange/boundary.ts";
import { chainToLedger } from "../units/chain-units.ts";
import { formatUnits } from "../units/decimal.ts";
import type { DepositAddresses } from "./deposit-addresses.ts";
import { MAX_PENDING_DEPOSITS_SHOWN, type PendingDepositView } from "./port.ts";

/** A chain asset the watcher credits, and to which core asset. */
export interface DepositAssetConfig {
  /** The chain's asset symbol (`ChainAsset.symbol`), e.g. "USDT". */
  symbol: string;
  /** The core's asset id. */
  assetId: number;
  /** Smallest deposit credited, in chain base units (default: one ledger unit). */
  minDepositBaseUnits?: bigint;
}

export interface DepositWatcherOptions {
  exchange: Pick<ExchangeBoundary, "submit" | "whenProjected" | "asset" | "custody">;
  adapter: ChainAdapter;
  /** Confirmations before a transfer is credited (1: in the tip block). */
  confirmations: number;
  assets: readonly DepositAssetConfig[];
  /** Assigns addresses; the watcher watches each one it hands out. */
  addresses?: DepositAddresses;
  /** First height scanned when no state is saved (default 0). */
  startHeight?: number;
  /** Blocks scanned per poll (default 100, at most the adapter's maxBlocksPerScan). */
  maxBlocksPerPoll?: number;
  /** Recent block hashes remembered (default max(64, 4 × confirmations), bounded by the store and adapter). */
  recentWindow?: number;
  /** Unconfirmed transfers held in memory (default 100,000). */
  maxPending?: number;
  /** Reorged-after-credit reports kept (default 1,000). */
  maxReported?: number;
  /** Addresses per page when loading the watched set (default the store's lookup limit). */
  addressPageSize?: number;
  /**
   * Credits submitted and not yet projected into the store, at most (default 1,024): the
   * sequencer makes concurrent submits durable with one journal write. Bounded so that a large
   * block never fills the sequencer's queue (100,000 commands by default), which the API's
   * commands share, nor runs the projector far behind: its transactions hold SQLite's write lock,
   * which the main thread's writes (API nonces, this watcher's scanner state) wait for.
   */
  maxCreditsInFlight?: number;
  clock?: () => number;
  log?: (message: string) => void;
  /**
   * True for a transaction of the exchange's own (a gas top-up sent to a deposit address): it is
   * on the books as a wallet movement already and is never a user's deposit.
   */
  isInternalTransfer?: (txid: string) => boolean;
}

export interface CreditedDeposit {
  transfer: Transfer;
  userId: number;
  assetId: number;
  amountUnits: number;
  /** Chain base units below one ledger unit that were not credited. */
  dustBaseUnits: bigint;
  sequence: number;
}

export interface ReorgedAfterCredit {
  transfer: Transfer;
  userId: number;
  assetId: number;
  amountUnits: number;
  detectedAtHeight: number;
  detectedMs: number;
}

export interface PollResult {
  tip: number;
  /** Blocks scanned this poll (from..to), or null when none. */
  scanned: { from: number; to: number } | null;
  reorg: { forkHeight: number; replacedBlocks: number } | null;
  credited: CreditedDeposit[];
  /** Found confirmed but the core had it already (a restart or rescan). */
  alreadyCredited: Transfer[];
  belowMinimum: Transfer[];
  /** Removed by a reorg before crediting. */
  dropped: Transfer[];
  reorgedAfterCredit: ReorgedAfterCredit[];
  /** Credits the core refused for another reason; retried next poll. */
  failed: { transfer: Transfer; reason: string }[];
  /** Unconfirmed transfers held after this poll. */
  pending: number;
}

interface Known {
  transfer: Transfer;
  userId: number;
  assetId: number;
}

/** A credit submitted and not yet settled (creditConfirmed). */
interface InFlightCredit {
  key: string;
  known: Known;
  assetId: number;
  units: number;
  dustBaseUnits: bigint;
  outcome: Promise<CommandResult>;
}

interface Settled extends Known {
  outcome: "credited" | "belowMinimum";
  amountUnits: number;
}

const DEFAULT_MAX_CREDITS_IN_FLIGHT = 1_024;

const keyOf = (t: Transfer): string => `${t.txid}:${t.outputIndex}`;

export class DepositWatcher {
  readonly chain: string;
  private readonly adapter: ChainAdapter;
  private readonly exchange: DepositWatcherOptions["exchange"];
  private readonly confirmations: number;
  private readonly assets = new Map<
    string,
    { chainAsset: ChainAsset; assetId: number; code: string; scale: number; min: bigint }
  >();
  private readonly maxBlocksPerPoll: number;
  private readonly recentWindow: number;
  private readonly maxPending: number;
  private readonly maxReported: number;
  private readonly addressPageSize: number;
  private readonly maxCreditsInFlight: number;
  private readonly clock: () => number;
  private readonly log: (message: string) => void;
  private readonly watched = new Set<string>();
  /** Consecutive [height, hash] of the last scanned blocks, the last at the highest scanned. */
  private recent: { height: number; hash: string }[] = [];
  /** The next height to scan. */
  private next: number;
  private readonly pending = new Map<string, Known>();
  /** The pending transfers per user (key → when first seen), for `pendingOf`; kept with `pending`. */
  private readonly pendingByUser = new Map<number, Map<string, number>>();
  /** The tip of the last poll: the pending transfers' confirmations are counted against it. */
  private lastTip = 0;
  /** Credited or below-minimum transfers within the remembered window (for the reorg policy). */
  private readonly settled = new Map<string, Settled>();
  private readonly reports: ReorgedAfterCredit[] = [];
  private started = false;
  private polling: Promise<PollResult> | null = null;
  private readonly isInternalTransfer: (txid: string) => boolean;

  constructor(options: DepositWatcherOptions) {
    const adapter = options.adapter;
    this.adapter = adapter;
    this.chain = adapter.chain;
    this.exchange = options.exchange;
    if (!Number.isInteger(options.confirmations) || options.confirmations < 1)
      throw new RangeError("confirmations must be an integer ≥ 1");
    this.confirmations = options.confirmations;
    for (const config of options.assets) {
      const chainAsset = adapter.assets.find((a) => a.symbol === config.symbol);
      if (chainAsset === undefined) throw new Error(`${this.chain} carries no asset ${config.symbol}`);
      const asset = options.exchange.asset(config.assetId);
      if (asset === undefined) throw new Error(`the exchange has no asset ${config.assetId}`);
      const oneUnit =
        chainAsset.decimals > asset.scale ? 10n ** BigInt(chainAsset.decimals - asset.scale) : 1n;
      const min = config.minDepositBaseUnits ?? oneUnit;
      this.assets.set(config.symbol, {
        chainAsset,
        assetId: asset.assetId,
        code: asset.code,
        scale: asset.scale,
        min: min > oneUnit ? min : oneUnit,
      });
    }
    this.maxBlocksPerPoll = Math.min(options.maxBlocksPerPoll ?? 100, adapter.limits.maxBlocksPerScan);
    this.recentWindow = Math.min(
      options.recentWindow ?? Math.max(64, 4 * this.confirmations),
      CUSTODY_LIMITS.maxRecentHashes,
      adapter.limits.maxReorgCheckBlocks,
    );
    if (this.recentWindow <= this.confirmations)
      throw new RangeError("the recent hash window must be longer than the confirmation count");
    this.maxPending = options.maxPending ?? 100_000;
    this.maxReported = options.maxReported ?? 1_000;
    this.addressPageSize = Math.min(
      options.addressPageSize ?? CUSTODY_LIMITS.maxAddressesPerLookup,
      CUSTODY_LIMITS.maxAddressesPerLookup,
    );
    this.maxCreditsInFlight = options.maxCreditsInFlight ?? DEFAULT_MAX_CREDITS_IN_FLIGHT;
    if (!Number.isSafeInteger(this.maxCreditsInFlight) || this.maxCreditsInFlight < 1)
      throw new RangeError("maxCreditsInFlight must be an integer ≥ 1");
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? ((message) => console.info(message));
    this.next = options.startHeight ?? 0;
    this.isInternalTransfer = options.isInternalTransfer ?? (() => false);
    options.addresses?.onAssigned((record) => {
      if (record.chain === this.chain) this.watched.add(record.address);
    });
  }

  /** Loads the watched set (all derivation accounts) and the saved scanner position. */
  async start(): Promise<void> {
    let after: { account: number; index: number } | undefined;
    for (;;) {
      const page = await this.exchange.custody.depositAddressesOfChain(this.chain, {
        after,
        limit: this.addressPageSize,
      });
      for (const record of page) this.watched.add(record.address);
      if (page.length < this.addressPageSize) break;
      const last = page[page.length - 1];
      after = { account: last.account, index: last.index };
    }
    const saved = await this.exchange.custody.getScannerState(this.chain);
    if (saved !== undefined) {
      this.recent = saved.recentHashes.map(([height, hash]) => ({ height, hash }));
      // Rescan the remembered window: unconfirmed transfers of the last run are in it.
      this.next = this.recent.length > 0 ? this.recent[0].height : saved.height + 1;
    }
    this.started = true;
  }

  /** Adds an address to the watched set (one assigned elsewhere). */
  watch(address: string): void {
    this.watched.add(address);
  }

  get watchedCount(): number {
    return this.watched.size;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * The user's transfers seen and not yet credited, most recently seen first, at most `limit`
   * (≤ MAX_PENDING_DEPOSITS_SHOWN), with their confirmations at the last poll's tip.
   */
  pendingOf(userId: number, limit: number): PendingDepositView[] {
    const keys = this.pendingByUser.get(userId);
    const cap = Math.min(Math.max(0, Math.floor(limit)), MAX_PENDING_DEPOSITS_SHOWN);
    if (keys === undefined || cap === 0) return [];
    // Insertion order is the order seen; the last `cap` keys, without copying a large set.
    const newest: [string, number][] = [];
    for (const entry of keys) {
      newest.push(entry);
      if (newest.length > cap) newest.shift();
    }
    const views: PendingDepositView[] = [];
    for (const [key, seenMs] of newest.reverse()) {
      const known = this.pending.get(key);
      const asset = known === undefined ? undefined : this.assets.get(known.transfer.asset);
      if (known === undefined || asset === undefined) continue;
      const { transfer } = known;
      const seen = this.lastTip - transfer.blockHeight + 1;
      views.push({
        currency: asset.code,
        chain: this.chain,
        txId: transfer.txid,
        outputIndex: transfer.outputIndex,
        amount: formatUnits(
          chainToLedger(transfer.amount, asset.chainAsset.decimals, asset.scale).units,
          asset.scale,
        ),
        confirmations: Math.min(Math.max(0, seen), this.confirmations),
        confirmationsNeeded: this.confirmations,
        blockHeight: transfer.blockHeight,
        seenMs,
      });
    }
    return views;
  }

  private holdPending(key: string, known: Known): void {
    this.pending.set(key, known);
    let keys = this.pendingByUser.get(known.userId);
    if (keys === undefined) {
      keys = new Map();
      this.pendingByUser.set(known.userId, keys);
    }
    if (!keys.has(key)) keys.set(key, this.clock());
  }

  private forgetPending(key: string): void {
    const known = this.pending.get(key);
    this.pending.delete(key);
    if (known === undefined) return;
    const keys = this.pendingByUser.get(known.userId);
    keys?.delete(key);
    if (keys?.size === 0) this.pendingByUser.delete(known.userId);
  }

  /** Transfers removed by a reorg after they were credited (most recent last, bounded). */
  reported(): readonly ReorgedAfterCredit[] {
    return this.reports;
  }

  /** One bounded step; concurrent calls share the running one. */
  /** The deposit addresses watched (every derivation account): reconciliation reads their outflows and balances. */
  watchedAddresses(): ReadonlySet<string> {
    return this.watched;
  }

  poll(): Promise<PollResult> {
    if (!this.started) return Promise.reject(new Error("DepositWatcher.start() first"));
    if (this.polling === null)
      this.polling = this.pollOnce().finally(() => {
        this.polling = null;
      });
    return this.polling;
  }

  private async pollOnce(): Promise<PollResult> {
    const tip = await this.adapter.height();
    this.lastTip = tip;
    const result: PollResult = {
      tip,
      scanned: null,
      reorg: null,
      credited: [],
      alreadyCredited: [],
      belowMinimum: [],
      dropped: [],
      reorgedAfterCredit: [],
      failed: [],
      pending: 0,
    };
    if (this.recent.length > 0) {
      const report = await this.adapter.detectReorg(this.recent);
      if (report !== null) await this.handleReorg(report.forkHeight, report.replaced.length, tip, result);
    }
    await this.scan(tip, result);
    await this.creditConfirmed(tip, result);
    this.evictSettled();
    const last = this.recent[this.recent.length - 1];
    if (last !== undefined) {
      const state: ScannerState = {
        chain: this.chain,
        height: last.height,
        recentHashes: this.recent.map((b) => [b.height, b.hash]),
        updatedMs: this.clock(),
      };
      await this.exchange.custody.saveScannerState(state);
    }
    result.pending = this.pending.size;
    return result;
  }

  private async handleReorg(
    forkHeight: number,
    replaced: number,
    tip: number,
    result: PollResult,
  ): Promise<void> {
    this.log(`${this.chain}: reorg above height ${forkHeight} (${replaced} remembered blocks replaced)`);
    result.reorg = { forkHeight, replacedBlocks: replaced };
    this.recent = this.recent.filter((b) => b.height <= forkHeight);
    if (this.next > forkHeight + 1) this.next = forkHeight + 1;
    const status = new Map<string, { height: number; hash: string } | null>();
    const whereNow = async (txid: string) => {
      let found = status.get(txid);
      if (found === undefined) {
        const s = await this.adapter.lookup(txid);
        found = s.status === "confirmed" ? { height: s.blockHeight, hash: s.blockHash } : null;
        status.set(txid, found);
      }
      return found;
    };
    for (const [key, known] of [...this.pending]) {
      if (known.transfer.blockHeight <= forkHeight) continue;
      const now = await whereNow(known.transfer.txid);
      if (now !== null) known.transfer = { ...known.transfer, blockHeight: now.height, blockHash: now.hash };
      else {
        this.forgetPending(key);
        result.dropped.push(known.transfer);
        this.log(`${this.chain}: unconfirmed deposit ${key} removed by a reorg; dropped, not credited`);
      }
    }
    for (const [key, settled] of [...this.settled]) {
      if (settled.transfer.blockHeight <= forkHeight) continue;
      const now = await whereNow(settled.transfer.txid);
      if (now !== null) {
        settled.transfer = { ...settled.transfer, blockHeight: now.height, blockHash: now.hash };
        continue;
      }
      this.settled.delete(key);
      if (settled.outcome !== "credited") continue;
      const report: ReorgedAfterCredit = {
        transfer: settled.transfer,
        userId: settled.userId,
        assetId: settled.assetId,
        amountUnits: settled.amountUnits,
        detectedAtHeight: tip,
        detectedMs: this.clock(),
      };
      result.reorgedAfterCredit.push(report);
      this.reports.push(report);
      if (this.reports.length > this.maxReported) this.reports.shift();
      this.log(
        `${this.chain}: CREDITED deposit ${key} (user ${settled.userId}, asset ${settled.assetId}, ` +
          `${settled.amountUnits} units) was removed by a reorg; the credit stands, operator to decide`,
      );
    }
  }

  private async scan(tip: number, result: PollResult): Promise<void> {
    const from = this.next;
    let to = Math.min(tip, from + this.maxBlocksPerPoll - 1);
    if (from > to) return;
    const pageSize = this.adapter.limits.maxWatchedAddresses;
    const pages: Set<string>[] = [];
    if (this.watched.size <= pageSize) pages.push(this.watched);
    else {
      let page = new Set<string>();
      for (const address of this.watched) {
        page.add(address);
        if (page.size === pageSize) {
          pages.push(page);
          page = new Set();
        }
      }
      if (page.size > 0) pages.push(page);
    }
    let blocks: { height: number; hash: string }[] = [];
    let transfers: Transfer[] = [];
    for (const [i, page] of pages.entries()) {
      const scanned = await this.adapter.scan(from, to, page);
      if (i === 0) blocks = scanned.blocks;
      transfers.push(...scanned.transfers);
    }
    if (pages.length > 1) transfers.sort((a, b) => a.blockHeight - b.blockHeight);
    transfers = transfers.filter((t) => this.assets.has(t.asset));
    // Bound the unconfirmed set: stop before the block that would overflow it.
    let room = this.maxPending - this.pending.size;
    for (let i = 0; i < transfers.length; i++) {
      const t = transfers[i];
      if (this.pending.has(keyOf(t)) || this.settled.has(keyOf(t))) continue;
      if (--room < 0) {
        if (t.blockHeight === from)
          throw new Error(
            `${this.chain}: more than ${this.maxPending} unconfirmed deposits; raise maxPending`,
          );
        to = t.blockHeight - 1;
        transfers = transfers.filter((x) => x.blockHeight <= to);
        blocks = blocks.filter((b) => b.height <= to);
        break;
      }
    }
    const owners = new Map<string, number>();
    const addresses = [...new Set(transfers.map((t) => t.address))];
    for (let i = 0; i < addresses.length; i += CUSTODY_LIMITS.maxAddressesPerLookup) {
      const found = await this.exchange.custody.depositAddressOwners(
        this.chain,
        addresses.slice(i, i + CUSTODY_LIMITS.maxAddressesPerLookup),
      );
      for (const [address, record] of found) owners.set(address, record.userId);
    }
    for (const transfer of transfers) {
      const key = keyOf(transfer);
      const settled = this.settled.get(key);
      if (settled !== undefined) {
        settled.transfer = transfer;
        continue;
      }
      const userId = owners.get(transfer.address);
      const asset = this.assets.get(transfer.asset);
      if (userId === undefined || asset === undefined) continue;
      if (this.isInternalTransfer(transfer.txid)) continue;
      this.holdPending(key, { transfer, userId, assetId: asset.assetId });
    }
    this.recent = [...this.recent.filter((b) => b.height < from), ...blocks].slice(-this.recentWindow);
    this.next = to + 1;
    result.scanned = { from, to };
  }

  /**
   * Submits the confirmed transfers' credits in pending order, up to `maxCreditsInFlight` not yet
   * projected at once: the sequencer stamps them in submission order (so the sequence order is
   * the one-at-a-time order) and makes each batch of concurrent submits durable with one journal
   * write, where one await per credit paid one write each (a 10,000-transfer block: ~3 s instead
   * of ~30 s on a loaded 2-core machine; bench/deposit-credit.bench.ts). Outcomes are handled in
   * the same order; a credit leaves the window once the store has it, so the projector trails by
   * at most the window and the store is up to date when the poll returns. If a submit throws
   * (the sequencer stopped or its queue is full), no more are submitted, the ones in flight are
   * settled as usual (kept when credited), the first error is thrown, and the rest stay pending
   * for the next poll.
   */
  private async creditConfirmed(tip: number, result: PollResult): Promise<void> {
    const ready = [...this.pending].filter(([, k]) => tip - k.transfer.blockHeight + 1 >= this.confirmations);
    const inFlight: InFlightCredit[] = [];
    let error: { cause: unknown } | null = null;
    const settleOldest = async () => {
      const credit = inFlight.shift();
      if (credit === undefined) return;
      try {
        const outcome = await credit.outcome;
        this.settleCredit(credit, outcome, result);
        await this.exchange.whenProjected(outcome.sequence);
      } catch (cause) {
        error ??= { cause };
      }
    };
    for (const [key, known] of ready) {
      if (error !== null) break;
      const { transfer } = known;
      const asset = this.assets.get(transfer.asset);
      if (asset === undefined) continue;
      if (transfer.amount < asset.min) {
        this.forgetPending(key);
        this.settled.set(key, { ...known, outcome: "belowMinimum", amountUnits: 0 });
        result.belowMinimum.push(transfer);
        this.log(
          `${this.chain}: deposit ${key} of ${transfer.amount} ${transfer.asset} base units to user ` +
            `${known.userId} is below the minimum ${asset.min}; not credited`,
        );
        continue;
      }
      const { units, dustBaseUnits } = chainToLedger(transfer.amount, asset.chainAsset.decimals, asset.scale);
      let outcome: Promise<CommandResult>;
      try {
        outcome = this.exchange.submit({
          kind: "creditDeposit",
          userId: known.userId,
          assetId: asset.assetId,
          amountUnits: units,
          chain: this.chain,
          txId: transfer.txid,
          outputIndex: transfer.outputIndex,
        });
      } catch (cause) {
        outcome = Promise.reject(cause);
      }
      // Handled in settleOldest; until then a rejection must not count as unhandled.
      outcome.catch(() => undefined);
      inFlight.push({ key, known, assetId: asset.assetId, units, dustBaseUnits, outcome });
      if (inFlight.length >= this.maxCreditsInFlight) await settleOldest();
    }
    while (inFlight.length > 0) await settleOldest();
    if (error !== null) throw (error as { cause: unknown }).cause;
  }

  private settleCredit(credit: InFlightCredit, outcome: CommandResult, result: PollResult): void {
    const { key, known, units, dustBaseUnits } = credit;
    const { transfer } = known;
    const rejected = outcome.events.find((e) => e.type === "rejected");
    if (rejected !== undefined && rejected.type === "rejected" && rejected.reason !== "duplicateDeposit") {
      result.failed.push({ transfer, reason: rejected.reason });
      this.log(`${this.chain}: crediting deposit ${key} was refused (${rejected.reason}); retrying`);
      return;
    }
    this.forgetPending(key);
    this.settled.set(key, { ...known, outcome: "credited", amountUnits: units });
    if (rejected !== undefined) {
      result.alreadyCredited.push(transfer);
      return;
    }
    result.credited.push({
      transfer,
      userId: known.userId,
      assetId: credit.assetId,
      amountUnits: units,
      dustBaseUnits,
      sequence: outcome.sequence,
    });
    if (dustBaseUnits > 0n)
      this.log(
        `${this.chain}: deposit ${key} credited ${units} units; dust of ${dustBaseUnits} ` +
          `${transfer.asset} base units below one ledger unit not credited`,
      );
  }

  /** Forgets settled transfers below the remembered window (a reorg there is beyond handling). */
  private evictSettled(): void {
    const floor = this.recent[0]?.height ?? 0;
    for (const [key, settled] of this.settled)
      if (settled.transfer.blockHeight < floor) this.settled.delete(key);
    const max = this.maxPending;
    if (this.settled.size > max)
      for (const key of [...this.settled.keys()].slice(0, this.settled.size - max)) this.settled.delete(key);
  }
}

// Reconciliation, the pure half: given what the chain shows and what the books say, the verdict.
// Custody runs it after every block range its deposit watcher scans (src/custody/reconciler.ts
// does the reading); a verdict other than "ok" trips the chain's breaker (breaker.ts).
//
//   1. Outflows: every transaction spending from an exchange address (hot, change, retired hot,
//      deposit addresses, cold) must be one the chain's signer signed (its signature log) or a
//      cold refill custody imported (cold spends are signed offline). Anything else is an
//      UNMATCHED OUTFLOW. An outflow the signer could not be asked about yet is "unverified" and
//      asked about again after the next block (never silently dropped).
//   2. Balances, per asset, in chain base units: coins at the hot, cold and deposit addresses
//      against the books' wallet accounts (walletHot + walletCold + walletDepositAddresses +
//      walletInFlight), in total and per part (hot, cold, deposit addresses). The books lag the
//      chain by design: a payment is on the books once it is confirmed and recorded, so a SHORTFALL
//      up to the payments built, signed or broadcast and not yet recorded is expected (the
//      allowance: in total the network fees and withdrawals in flight; per part everything in
//      flight out of it). A shortfall beyond it is a RECONCILIATION BREAK. A surplus (deposits not
//      yet credited, dust below a ledger unit, fees rounded up on the books) never trips.
//
// Results are kept per chain as a bounded time series (ReconciliationLog below): the last
// MAX_RESULTS_KEPT in a JSON-lines file in custody's state directory beside the chain's transfer
// journal. A file rather than a store table: reconciliation is custody's own record, written every
// block by one writer, read back newest-first; the store's tables are the core's projection, and
// the security-relevant events (trips, resumes) go to the audit log and the incident timeline.

import { closeSync, constants, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Outflow } from "../chains/adapter.ts";
import { writeFileAtomic } from "../chains/devnet/persist.ts";
import { formatUnits } from "../units/decimal.ts";
import type { AssetReconciliation, ReconciledOutflow, ReconciliationResult } from "./port.ts";

/** Results kept per chain (memory and file). */
export const MAX_RESULTS_KEPT = 1_000;
/** Outflows listed in one result (the counts cover them all). */
export const MAX_OUTFLOWS_LISTED = 100;

/** One asset's figures, all in the chain's base units of the asset. */
export interface AssetFigures {
  asset: string;
  /** Chain decimals of the asset (formats the result in whole coins). */
  decimals: number;
  chain: { hot: bigint; cold: bigint; depositAddresses: bigint };
  /** The books' coins (minus the wallet accounts' balances), converted to base units. */
  books: { hot: bigint; cold: bigint; depositAddresses: bigint; inFlight: bigint };
  /**
   * Payments not yet on the books: how far the chain may be below them, in total (network fees,
   * withdrawals) and per part (everything in flight out of it: amounts and fees).
   */
  allowance: { total: bigint; hot: bigint; cold: bigint; depositAddresses: bigint };
  /**
   * Rounding the books may carry against the chain (ROUNDING_TOLERANCE_UNITS ledger units, when
   * the chain has more decimals than the ledger), added to every allowance.
   */
  roundingTolerance: bigint;
}

/**
 * Ledger units of rounding tolerated when the chain is finer than the ledger (ETH: 18 decimals,
 * 8 on the books). Deposits are credited rounded down and a sweep's fee from a deposit address is
 * booked rounded down, so the books of a deposit address can be ahead of the chain by less than a
 * unit per sweep; the differences have both signs and stay small. 1,000 units of ETH is 0.00001 ETH.
 */
export const ROUNDING_TOLERANCE_UNITS = 1_000n;

/** The tolerance in base units for an asset (0 when the chain is not finer than the ledger). */
export function roundingToleranceOf(decimals: number, scale: number): bigint {
  return decimals > scale ? ROUNDING_TOLERANCE_UNITS * 10n ** BigInt(decimals - scale) : 0n;
}

const PARTS = ["hot", "cold", "depositAddresses"] as const;

/** The balance check of one asset. Pure. */
export function reconcileAsset(figures: AssetFigures): AssetReconciliation {
  const { chain, books, decimals, roundingTolerance } = figures;
  if (Object.values(figures.allowance).some((value) => value < 0n) || roundingTolerance < 0n)
    throw new RangeError("allowance must be ≥ 0");
  const allowance = {
    total: figures.allowance.total + roundingTolerance,
    hot: figures.allowance.hot + roundingTolerance,
    cold: figures.allowance.cold + roundingTolerance,
    depositAddresses: figures.allowance.depositAddresses + roundingTolerance,
  };
  const chainTotal = chain.hot + chain.cold + chain.depositAddresses;
  const booksTotal = books.hot + books.cold + books.depositAddresses + books.inFlight;
  const residual = chainTotal - booksTotal;
  const coins = (value: bigint) => formatUnits(value, decimals);
  const shortfalls: AssetReconciliation["shortfalls"] = [];
  if (-residual > allowance.total)
    shortfalls.push({ part: "total", shortfall: coins(-residual), allowance: coins(allowance.total) });
  for (const part of PARTS) {
    // Coins on the books' walletInFlight are between parts: they excuse any part's shortfall.
    const short = books[part] - chain[part];
    if (short > allowance[part] + books.inFlight)
      shortfalls.push({ part, shortfall: coins(short), allowance: coins(allowance[part] + books.inFlight) });
  }
  return {
    asset: figures.asset,
    onChain: {
      hot: coins(chain.hot),
      cold: coins(chain.cold),
      depositAddresses: coins(chain.depositAddresses),
      total: coins(chainTotal),
    },
    onBooks: {
      hot: coins(books.hot),
      cold: coins(books.cold),
      depositAddresses: coins(books.depositAddresses),
      inFlight: coins(books.inFlight),
      total: coins(booksTotal),
    },
    allowance: coins(allowance.total),
    residual: coins(residual),
    shortfalls,
    break: shortfalls.length > 0,
  };
}

/** Ledger units (a wallet account's coins) → chain base units, exactly. */
export function ledgerUnitsToBase(units: number, decimals: number, scale: number): bigint {
  if (!Number.isSafeInteger(units)) throw new RangeError(`units must be a safe integer, got ${units}`);
  const big = BigInt(units);
  return decimals >= scale ? big * 10n ** BigInt(decimals - scale) : big / 10n ** BigInt(scale - decimals);
}

/** Matches outflows against the signer's txids and the imported cold spends. Pure. */
export function matchOutflows(
  outflows: readonly Outflow[],
  signedTxIds: ReadonlySet<string>,
  coldRefillTxIds: ReadonlySet<string>,
  decimalsOf: (asset: string) => number,
  acknowledgedTxIds: ReadonlySet<string> = new Set(),
): ReconciledOutflow[] {
  return outflows.map((outflow) => ({
    txid: outflow.txid,
    blockHeight: outflow.blockHeight,
    from: [...outflow.from],
    amounts: outflow.amounts.map((entry) => ({
      asset: entry.asset,
      amount: formatUnits(entry.amount, decimalsOf(entry.asset)),
    })),
    matchedBy: signedTxIds.has(outflow.txid)
      ? "signer"
      : coldRefillTxIds.has(outflow.txid)
        ? "coldRefill"
        : acknowledgedTxIds.has(outflow.txid)
          ? "acknowledged"
          : null,
  }));
}

/** The verdict: an unmatched outflow first (a theft), then a break. Pure. */
export function verdictOf(
  unmatched: number,
  assets: readonly AssetReconciliation[] | null,
): ReconciliationResult["verdict"] {
  if (unmatched > 0) return "unmatchedOutflow";
  if (assets?.some((asset) => asset.break) === true) return "reconciliationBreak";
  return "ok";
}

/** Assembles a result (the outflow list cut to MAX_OUTFLOWS_LISTED, unmatched ones first). Pure. */
export function reconciliationResult(input: {
  chain: string;
  fromHeight: number;
  toHeight: number;
  atMs: number;
  outflows: readonly ReconciledOutflow[];
  unverified: number;
  assets: AssetReconciliation[] | null;
  depositAddressesCovered: boolean;
  note: string | null;
}): ReconciliationResult {
  const unmatched = input.outflows.filter((outflow) => outflow.matchedBy === null);
  const matched = input.outflows.filter((outflow) => outflow.matchedBy !== null);
  return {
    chain: input.chain,
    fromHeight: input.fromHeight,
    toHeight: input.toHeight,
    atMs: input.atMs,
    outflows: [...unmatched, ...matched].slice(0, MAX_OUTFLOWS_LISTED),
    unmatched: unmatched.length,
    unverified: input.unverified,
    assets: input.assets,
    depositAddressesCovered: input.depositAddressesCovered,
    verdict: verdictOf(unmatched.length, input.assets),
    note: input.note,
  };
}

const LOG_FILE = "reconciliations.jsonl";

/**
 * One chain's results: the newest MAX_RESULTS_KEPT in memory, appended to a JSON-lines file
 * (fsynced); the file is rewritten with the kept ones once it holds twice that, so it stays
 * bounded. A torn or unreadable line (a crash mid-append) is skipped when reading back.
 */
export class ReconciliationLog {
  private readonly path: string;
  private readonly results: ReconciliationResult[] = [];
  private linesInFile = 0;

  /** `maxKept`: MAX_RESULTS_KEPT (a smaller bound for tests). */
  constructor(
    dir: string,
    private readonly maxKept = MAX_RESULTS_KEPT,
  ) {
    if (!Number.isSafeInteger(maxKept) || maxKept < 1) throw new RangeError("maxKept must be ≥ 1");
    this.path = join(dir, LOG_FILE);
    let text = "";
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const lines = text.split("\n").filter((line) => line.length > 0);
    this.linesInFile = lines.length;
    for (const line of lines.slice(-maxKept)) {
      try {
        // Written by append() below from a ReconciliationResult.
        this.results.push(JSON.parse(line) as ReconciliationResult);
      } catch {
        // a torn last line: never acknowledged
      }
    }
  }

  append(result: ReconciliationResult): void {
    this.results.push(result);
    if (this.results.length > this.maxKept) this.results.shift();
    if (this.linesInFile + 1 >= 2 * this.maxKept) {
      const body = this.results.map((entry) => `${JSON.stringify(entry)}\n`).join("");
      writeFileAtomic(this.path, new TextEncoder().encode(body));
      this.linesInFile = this.results.length;
      return;
    }
    const fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
    try {
      writeSync(fd, `${JSON.stringify(result)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.linesInFile++;
  }

  /** Newest first, at most `limit`. */
  newest(limit: number): ReconciliationResult[] {
    const count = Math.max(0, Math.min(limit, this.results.length));
    return this.results.slice(this.results.length - count).reverse();
  }

  get last(): ReconciliationResult | null {
    return this.results[this.results.length - 1] ?? null;
  }
}

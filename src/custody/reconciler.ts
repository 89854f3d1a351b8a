// Reconciliation, the reading half (the verdicts are reconciliation.ts's): after every block range
// the chain's deposit watcher scans, read the range's outflows from exchange addresses, ask the
// signer which of them it signed, read the balances of the exchange's addresses and the books, and
// hand the figures to the pure functions. One per chain; runs inside the chain's tick, so the
// withdrawal pipeline and the internal transfers do not move while it reads.
//
// What the balance check covers: the hot addresses (receive and change, and rotated-out hot
// wallets), the cold address, and every deposit address of the chain while the chain has at most
// MAX_DEPOSIT_ADDRESSES_CHECKED of them. Above that, reading them all every block is too much for
// a node: the deposit addresses (and the books' walletDepositAddresses) are left out of the
// comparison on both sides, and the result says `depositAddressesCovered: false`; their outflows
// are still checked one by one, which is what catches a theft from them.
//
// The chain can move during the reads (a block mined between the hot and the deposit balances
// would count a sweep twice or not at all): the tip is read before and after, and the balance check
// is repeated (at most BALANCE_ATTEMPTS times) until it was read at one height, else skipped with a note.

import type { ChainAdapter, Outflow } from "../chains/adapter.ts";
import type { AssetConfig } from "../core/config.ts";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import type { AssetReconciliation, ReconciliationResult } from "./port.ts";
import {
  type AssetFigures,
  ledgerUnitsToBase,
  matchOutflows,
  type ReconciliationLog,
  reconcileAsset,
  reconciliationResult,
  roundingToleranceOf,
} from "./reconciliation.ts";

/** Deposit addresses whose balances one check reads (see the header). */
export const MAX_DEPOSIT_ADDRESSES_CHECKED = 10_000;
/** Outflows waiting for the signer's answer, at most; beyond it the oldest count as unmatched. */
export const MAX_UNVERIFIED_OUTFLOWS = 4_096;
/** Transaction ids per `signed` question (the signer's own limit). */
const SIGNED_QUERY_SIZE = 256;
const BALANCE_ATTEMPTS = 3;

export interface ReconcilerSigner {
  /** Which of `txIds` (≤ 256) the signer signed; throws when it cannot be reached. */
  signed?(
    txIds: readonly string[],
  ): Promise<{ ok: true; signed: string[] } | { ok: false; code: string; detail: string }>;
}

export interface ReconcilerOptions {
  chain: string;
  adapter: ChainAdapter;
  exchange: Pick<ExchangeBoundary, "walletBooks">;
  signer: ReconcilerSigner | null;
  currencies: readonly { currency: string; asset: AssetConfig; decimals: number }[];
  /** Hot (receive, change, retired generations), read at each check (a rotation changes them). */
  hotAddresses: () => string[];
  coldAddress: string | null;
  depositAddresses: () => ReadonlySet<string>;
  balanceOf: (address: string, asset: string) => Promise<bigint>;
  /** Payments not yet on the books, per chain asset, base units (see AssetFigures.allowance). */
  allowance: (depositAddressesCovered: boolean) => Promise<Map<string, AssetFigures["allowance"]>>;
  /** Txids of cold spends custody imported (cold refills). */
  coldRefillTxIds: () => Set<string>;
  /** Unmatched outflows operators acknowledged when they resumed the breaker. */
  acknowledgedTxIds?: () => ReadonlySet<string>;
  log: ReconciliationLog;
  clock: () => number;
}

export class ChainReconciler {
  /** Outflows not yet matched or refused: the signer was down, or the adapter cannot tell. */
  private unverified: Outflow[] = [];
  private unmatchedTotal = 0;

  constructor(private readonly options: ReconcilerOptions) {}

  /** Outflows found unmatched since this reconciler started. */
  get unmatchedOutflowsTotal(): number {
    return this.unmatchedTotal;
  }

  /**
   * Reconciles the scanned blocks fromHeight..toHeight (their outflows; the balances too when
   * `checkBalances`: once the watcher has caught up with the tip); appends and returns the result.
   */
  async afterScan(fromHeight: number, toHeight: number, checkBalances = true): Promise<ReconciliationResult> {
    const { adapter, chain } = this.options;
    const notes: string[] = [];
    const watched = new Set<string>([...this.options.hotAddresses(), ...this.options.depositAddresses()]);
    if (this.options.coldAddress !== null) watched.add(this.options.coldAddress);
    let found: Outflow[] = [];
    if (adapter.scanOutflows === undefined) notes.push(`the ${chain} adapter cannot scan outflows`);
    else {
      const pageSize = adapter.limits.maxWatchedAddresses;
      let page = new Set<string>();
      const pages: Set<string>[] = [];
      for (const address of watched) {
        page.add(address);
        if (page.size === pageSize) {
          pages.push(page);
          page = new Set();
        }
      }
      if (page.size > 0) pages.push(page);
      const byTxid = new Map<string, Outflow>();
      for (const addresses of pages)
        for (const outflow of await adapter.scanOutflows(fromHeight, toHeight, addresses)) {
          const known = byTxid.get(outflow.txid);
          if (known === undefined) byTxid.set(outflow.txid, outflow);
          else {
            // One transaction spending from addresses of two pages: merge.
            known.from.push(...outflow.from.filter((address) => !known.from.includes(address)));
            for (const entry of outflow.amounts) {
              const same = known.amounts.find((amount) => amount.asset === entry.asset);
              if (same === undefined) known.amounts.push({ ...entry });
              else same.amount += entry.amount;
            }
          }
        }
      found = [...byTxid.values()];
    }
    // Outflows carried from earlier checks first (a rescan after a reorg finds some again).
    const toCheck = new Map<string, Outflow>();
    for (const outflow of [...this.unverified, ...found]) toCheck.set(outflow.txid, outflow);
    const candidates = [...toCheck.values()];
    const signedTxIds = new Set<string>();
    let answered = adapter.scanOutflows !== undefined;
    const signer = this.options.signer;
    if (candidates.length > 0 && answered) {
      if (signer?.signed === undefined) {
        answered = false;
        notes.push("no signer to ask: outflows unverified");
      } else
        try {
          for (let i = 0; i < candidates.length; i += SIGNED_QUERY_SIZE) {
            const answer = await signer.signed(candidates.slice(i, i + SIGNED_QUERY_SIZE).map((o) => o.txid));
            if (!answer.ok) throw new Error(`${answer.code}: ${answer.detail}`);
            for (const txId of answer.signed) signedTxIds.add(txId);
          }
        } catch (error) {
          answered = false;
          notes.push(
            `the signer did not answer (${(error as Error).message.slice(0, 200)}): outflows unverified`,
          );
        }
    }
    const decimalsOf = (asset: string) =>
      adapter.assets.find((entry) => entry.symbol === asset)?.decimals ?? 0;
    let reconciled = answered
      ? matchOutflows(
          candidates,
          signedTxIds,
          this.options.coldRefillTxIds(),
          decimalsOf,
          this.options.acknowledgedTxIds?.(),
        )
      : [];
    if (answered) this.unverified = [];
    else {
      this.unverified = candidates;
      // Bounded: the oldest beyond the limit are not left waiting forever; unmatched trips.
      if (this.unverified.length > MAX_UNVERIFIED_OUTFLOWS) {
        const overflow = this.unverified.splice(0, this.unverified.length - MAX_UNVERIFIED_OUTFLOWS);
        reconciled = matchOutflows(
          overflow,
          new Set(),
          this.options.coldRefillTxIds(),
          decimalsOf,
          this.options.acknowledgedTxIds?.(),
        );
        notes.push(`${overflow.length} outflows waited too long for the signer: counted unmatched`);
      }
    }
    const unmatched = reconciled.filter((outflow) => outflow.matchedBy === null).length;
    this.unmatchedTotal += unmatched;
    const balances = checkBalances
      ? await this.balances()
      : { assets: null, depositAddressesCovered: true, note: "catching up: balances compared at the tip" };
    if (balances.note !== null) notes.push(balances.note);
    const result = reconciliationResult({
      chain,
      fromHeight,
      toHeight,
      atMs: this.options.clock(),
      outflows: reconciled,
      unverified: this.unverified.length,
      assets: balances.assets,
      depositAddressesCovered: balances.depositAddressesCovered,
      note: notes.length === 0 ? null : notes.join("; "),
    });
    this.options.log.append(result);
    return result;
  }

  private async balances(): Promise<{
    assets: AssetReconciliation[] | null;
    depositAddressesCovered: boolean;
    note: string | null;
  }> {
    const deposits = this.options.depositAddresses();
    const covered = deposits.size <= MAX_DEPOSIT_ADDRESSES_CHECKED;
    for (let attempt = 0; attempt < BALANCE_ATTEMPTS; attempt++) {
      const before = await this.options.adapter.height();
      const figures = await this.readFigures(covered ? deposits : new Set());
      const after = await this.options.adapter.height();
      if (before !== after) continue;
      const allowance = await this.options.allowance(covered);
      const assets = figures.map((entry) =>
        reconcileAsset({
          ...entry,
          books: covered ? entry.books : { ...entry.books, depositAddresses: 0n },
          allowance: allowance.get(entry.asset) ?? { total: 0n, hot: 0n, cold: 0n, depositAddresses: 0n },
        }),
      );
      return { assets, depositAddressesCovered: covered, note: null };
    }
    return {
      assets: null,
      depositAddressesCovered: covered,
      note: `the chain moved during ${BALANCE_ATTEMPTS} balance reads: balances not compared this time`,
    };
  }

  private async readFigures(deposits: ReadonlySet<string>): Promise<Omit<AssetFigures, "allowance">[]> {
    const { balanceOf, coldAddress, exchange } = this.options;
    const hot = this.options.hotAddresses();
    const figures: Omit<AssetFigures, "allowance">[] = [];

    for (const { currency, asset, decimals } of this.options.currencies) {
      let hotBase = 0n;
      for (const address of hot) hotBase += await balanceOf(address, currency);
      const coldBase = coldAddress === null ? 0n : await balanceOf(coldAddress, currency);
      let depositBase = 0n;
      for (const address of deposits) depositBase += await balanceOf(address, currency);
      // A wallet account's balance is minus the coins it holds.
      const books = exchange.walletBooks(asset.assetId).systemUnits;
      const base = (units: number) => ledgerUnitsToBase(-units, decimals, asset.scale);
      figures.push({
        asset: currency,
        decimals,
        roundingTolerance: roundingToleranceOf(decimals, asset.scale),
        chain: { hot: hotBase, cold: coldBase, depositAddresses: depositBase },
        books: {
          hot: base(books.walletHot),
          cold: base(books.walletCold),
          depositAddresses: base(books.walletDepositAddresses),
          inFlight: base(books.walletInFlight),
        },
      });
    }
    return figures;
  }
}

// The custody service: one ChainCustody per blockchain (deposit watcher, withdrawal pipeline,
// sweeps between the exchange's own wallets), and the CustodyPort the gateway and the operator API
// use. It holds watch-only public keys and custody's Ed25519 policy key, never a private key of a
// chain: every transaction is signed by the chain's signer process (src/signer/).
//
// Each chain steps forward on a timer (`tickMs`) and whenever a request or an approval arrives:
// poll the deposit watcher (credits after confirmations), advance the withdrawal pipeline, plan and
// advance internal transfers (deposit sweeps into hot, hot above its cap into cold).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { apiKeyPolicyProblem, cidrContains, parseAllowListEntries, parseIp } from "../accounts/api-keys.ts";
import type { ChainAdapter, UnsignedTransaction } from "../chains/adapter.ts";
import { type DevnetKind, devnetAddressFromXpub } from "../chains/devnet/signing.ts";
import type { AssetConfig } from "../core/config.ts";
import type { ExchangeBoundary, JsonValue, PipelineWithdrawal } from "../exchange/boundary.ts";
import type { IncidentPort } from "../incidents/port.ts";
import { chainToLedger, ledgerToChain } from "../units/chain-units.ts";
import { formatUnits, parseDecimalBig } from "../units/decimal.ts";
import { type BreakerSigner, Breakers } from "./breaker.ts";
import { ColdRefills, highestRefillId, readColdRefillPolicy } from "./cold-refills.ts";
import { type ChainCustodyConfig, type CurrencyCustodyConfig, DEFAULT_TICK_MS, hotBounds } from "./config.ts";
import { DepositAddresses, type DepositDeriver, devnetDepositDeriver } from "./deposit-addresses.ts";
import { DepositWatcher } from "./deposit-watcher.ts";
import { InternalTransfers } from "./internal-transfers.ts";
import {
  type BreakerResumeRequest,
  type BreakerTripRequest,
  type BreakerView,
  type ChainCustodyStatus,
  type ColdRefillExport,
  type ColdRefillPort,
  type ColdRefillRequest,
  type ColdRefillView,
  type CurrencyTerms,
  CustodyError,
  type CustodyPort,
  type CustodyStatusReport,
  MAX_SWEEPS_LISTED,
  type ReconciliationResult,
  type ReserveAddressReport,
  type SweepView,
  type WithdrawalRequest,
  type WithdrawalStep,
  type WithdrawalView,
} from "./port.ts";
import { ChainReconciler, type ReconcilerSigner } from "./reconciler.ts";
import { ReconciliationLog } from "./reconciliation.ts";
import { listReserveAddresses } from "./reserve-addresses.ts";
import { planHotRotation, type RetiredHotWallet } from "./rotation.ts";
import { REJECTABLE_STEPS, type SignerPort, WithdrawalPipeline } from "./withdrawal-pipeline.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Deposit addresses one sweep pass looks at (the rest on later passes). */
const SWEEP_ADDRESSES_PER_PASS = 200;
/** Watcher polls per tick while the scanner catches up. */
const MAX_POLLS_PER_TICK = 20;
const MAX_LIST_LIMIT = 1_000;
/** A withdrawal request is answered once it reaches one of these (the funds are held, or it was refused). */
const ANSWER_AFTER_STEPS: ReadonlySet<string> = new Set([
  "approved",
  "awaitingApproval",
  "rejected",
  "failed",
]);

/**
 * Signer status as custody reads it (budget left per asset and window); the breaker's halt and
 * resume, and reconciliation's `signed` question (optional: a double without them has no breaker
 * halt and leaves outflows unverified).
 */
export interface SignerStatusPort extends SignerPort, BreakerSigner, ReconcilerSigner {
  status(): Promise<
    | {
        ok: true;
        halted?: unknown;
        budgets?: { asset: string; windows: { window: string; left: string }[] }[];
      }
    | { ok: false; code: string; detail: string }
  >;
}

/** A chain's wallet as custody sees it: addresses only, derived from watch-only public keys. */
export interface ChainWallet {
  hotAddress: string;
  /** Where a UTXO wallet's change goes (spendable hot coins too); null on account chains. */
  changeAddress: string | null;
  /** One deposit address per user, from the deposit xpub. */
  deposit: DepositDeriver;
  /** Older wallet generations' hot wallets (`wallet rotate`): emptied into this one, never paid. */
  retiredHot?: readonly RetiredHotWallet[];
}

/** A devnet chain's wallet from the xpubs its signer exported (hot /0/0, change /1/0, deposits /0/i). */
export function devnetChainWallet(
  kind: DevnetKind,
  publicKeys: { hot: string; deposit: string },
): ChainWallet {
  return {
    hotAddress: devnetAddressFromXpub(kind, publicKeys.hot, 0, 0),
    changeAddress: kind === "account" ? null : devnetAddressFromXpub(kind, publicKeys.hot, 1, 0),
    deposit: devnetDepositDeriver(kind, publicKeys.deposit),
  };
}

/** Everything custody needs to run one chain. */
export interface ChainCustodyParts {
  config: ChainCustodyConfig;
  adapter: ChainAdapter;
  /** How addresses derive from the exported xpubs (the devnet flavours). */
  kind: "utxo" | "account";
  /** The hot and deposit addresses, derived from the signer's exported public keys; null until `bulwark wallet init --chain` ran. */
  wallet: ChainWallet | null;
  signer: SignerStatusPort | null;
  /** Configured cold address (watch-only); null: no sweeps to cold. */
  coldAddress: string | null;
  /** On-chain balance of an address (confirmed), base units. */
  balanceOf(address: string, asset: string): Promise<bigint>;
  /** The native coin the chain pays fees in. */
  feeAsset: string;
  /** Decimals per chain asset. */
  chainDecimals: ReadonlyMap<string, number>;
}

export interface CustodyServiceOptions {
  exchange: ExchangeBoundary;
  chains: ChainCustodyParts[];
  policySecretKey: Uint8Array;
  /** Where custody keeps its per-chain files (internal transfer journals). */
  stateDir: string;
  tickMs?: number;
  clock?: () => number;
  log?: (message: string) => void;
  /** Called after every persisted withdrawal step (metrics; the crash drill kills the process here). */
  onWithdrawalStep?: (withdrawalId: number, step: WithdrawalStep) => void | Promise<void>;
  /** Where breaker trips open incidents and send notices (src/incidents/); none: audit log only. */
  incidents?: IncidentPort;
  /** Production mode: resuming a breaker needs two distinct approvers (default false; demo never). */
  productionMode?: boolean;
}

class ChainCustody {
  readonly watcher: DepositWatcher | null = null;
  readonly pipeline: WithdrawalPipeline;
  readonly transfers: InternalTransfers;
  /** The active generation's; replaced by useWallet (`wallet rotate`). */
  hotAddress: string | null;
  changeAddress: string | null;
  retiredHot: readonly RetiredHotWallet[];
  private sweepCursor: { account: number; index: number } | undefined;
  private watcherStarted: Promise<void> | null = null;
  private reorgedAfterCredit = 0;
  /** Reconciliation after every scanned block range (null without a wallet: nothing to watch). */
  readonly reconciler: ChainReconciler | null = null;
  readonly reconciliations: ReconciliationLog;
  /** The first scanned height whose reconciliation failed (the chain's node erred): retried next tick. */
  private unreconciledFrom: number | null = null;

  constructor(
    readonly parts: ChainCustodyParts,
    private readonly service: CustodyService,
    addresses: DepositAddresses,
  ) {
    const { config, adapter, wallet } = parts;
    const exchange = service.exchange;
    this.hotAddress = wallet?.hotAddress ?? null;
    this.changeAddress = wallet?.changeAddress ?? null;
    this.retiredHot = wallet?.retiredHot ?? [];
    if (wallet !== null) {
      addresses.setDeriver(config.chain, wallet.deposit);
      this.watcher = new DepositWatcher({
        exchange,
        adapter,
        confirmations: config.confirmations,
        addresses,
        assets: config.currencies.map((currency) => {
          const asset = service.assetOf(currency.currency);
          const decimals = parts.chainDecimals.get(currency.currency) ?? 0;
          return {
            symbol: currency.currency,
            assetId: asset.assetId,
            minDepositBaseUnits: ledgerToChain(currency.minDepositUnits, decimals, asset.scale).baseUnits,
          };
        }),
        log: service.log,
        isInternalTransfer: (txid) => this.transfers.hasTransaction(txid),
      });
    }
    const assets = new Map(config.currencies.map((c) => [c.currency, service.assetOf(c.currency)]));
    const feeAssetConfig = exchange.assetByCode(parts.feeAsset);
    if (feeAssetConfig !== undefined) assets.set(parts.feeAsset, feeAssetConfig);
    this.pipeline = new WithdrawalPipeline({
      exchange,
      adapter,
      config,
      hotAddress: () => this.requireHot(),
      ...(this.changeAddress === null ? {} : { changeAddress: () => this.changeAddress as string }),
      policySecretKey: service.policySecretKey,
      signer: parts.signer,
      assets,
      chainDecimals: parts.chainDecimals,
      feeAsset: parts.feeAsset,
      clock: service.clock,
      log: service.log,
      ...(service.onWithdrawalStep === undefined ? {} : { onStep: service.onWithdrawalStep }),
      hotPaymentPending: (exceptWithdrawalId) => this.hotPaymentPending(exceptWithdrawalId),
      paused: () => this.tripped,
    });
    const dir = join(service.stateDir, config.chain);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.transfers = new InternalTransfers({
      dir,
      chain: config.chain,
      exchange,
      adapter,
      signer: parts.signer,
      policySecretKey: service.policySecretKey,
      chainDecimals: parts.chainDecimals,
      feeAsset: parts.feeAsset,
      confirmations: config.confirmations,
      intentLifetimeMs: config.intentLifetimeMs,
      clock: service.clock,
      log: service.log,
      paused: () => this.tripped,
    });
    this.reconciliations = new ReconciliationLog(dir);
    const watcher = this.watcher;
    if (watcher !== null)
      this.reconciler = new ChainReconciler({
        chain: config.chain,
        adapter,
        exchange,
        signer: parts.signer,
        currencies: config.currencies.map((currency) => ({
          currency: currency.currency,
          asset: service.assetOf(currency.currency),
          decimals: parts.chainDecimals.get(currency.currency) ?? 0,
        })),
        hotAddresses: () => this.hotAddresses(),
        coldAddress: parts.coldAddress,
        depositAddresses: () => watcher.watchedAddresses(),
        balanceOf: parts.balanceOf,
        allowance: (covered) => this.paymentsNotOnBooks(covered),
        coldRefillTxIds: () => service.coldRefillTxIds(config.chain),
        acknowledgedTxIds: () => service.breakerBoard.acknowledged(config.chain),
        log: this.reconciliations,
        clock: service.clock,
      });
  }

  /** The breaker of this chain is tripped: nothing is signed, broadcast, swept or refilled. */
  get tripped(): boolean {
    return this.service.breakerBoard.isTripped(this.parts.config.chain);
  }

  /** Every hot address: receive, change, and the rotated-out generations'. */
  hotAddresses(): string[] {
    const addresses = [this.hotAddress, this.changeAddress];
    for (const retired of this.retiredHot) addresses.push(retired.hotAddress, retired.changeAddress);
    return [...new Set(addresses.filter((address): address is string => address !== null))];
  }

  /**
   * Payments that can be on the chain and are not on the books yet, per chain asset (base units):
   * withdrawals from signing to confirmed (amount and network fee, out of hot), internal transfers
   * not recorded (amount and fee out of their source; only the fee leaves the exchange, plus the
   * amount when it touches deposit addresses left out of the check), cold refills imported to
   * confirmed (amount and fee out of cold; the fee leaves). Reconciliation allows shortfalls up to these.
   */
  async paymentsNotOnBooks(
    depositAddressesCovered: boolean,
  ): Promise<Map<string, { total: bigint; hot: bigint; cold: bigint; depositAddresses: bigint }>> {
    const { config, feeAsset, chainDecimals } = this.parts;
    const allowance = new Map<
      string,
      { total: bigint; hot: bigint; cold: bigint; depositAddresses: bigint }
    >();
    const add = (
      asset: string,
      part: "hot" | "cold" | "depositAddresses" | null,
      amount: bigint,
      leaves: boolean,
    ) => {
      let entry = allowance.get(asset);
      if (entry === undefined) {
        entry = { total: 0n, hot: 0n, cold: 0n, depositAddresses: 0n };
        allowance.set(asset, entry);
      }
      if (part !== null) entry[part] += amount;
      if (leaves) entry.total += amount;
    };
    const partOf = (account: string) =>
      account === "walletHot"
        ? "hot"
        : account === "walletCold"
          ? "cold"
          : account === "walletDepositAddresses"
            ? "depositAddresses"
            : null;
    const withdrawals = await this.service.exchange.custody.listWithdrawals({
      chain: config.chain,
      steps: ["signing", "signed", "broadcast", "confirmed"],
      limit: MAX_LIST_LIMIT,
    });
    for (const row of withdrawals) {
      add(row.currency, "hot", row.chainAmount, true);
      add(feeAsset, "hot", row.networkFee ?? 0n, true);
    }
    for (const job of this.transfers.active()) {
      const uncovered =
        !depositAddressesCovered &&
        (job.from === "walletDepositAddresses" || job.to === "walletDepositAddresses");
      add(job.asset, partOf(job.from), BigInt(job.amount), uncovered);
      add(feeAsset, partOf(job.from), BigInt(job.fee), true);
    }
    for (const refill of await this.service.coldRefillsOf(config.chain))
      if (refill.step === "imported" || refill.step === "broadcast" || refill.step === "confirmed") {
        // Base units of an 18-decimal chain are beyond 2^53: no ledger bound here.
        const baseUnits = { maxUnits: 1n << 255n };
        const amount = parseDecimalBig(refill.amount, chainDecimals.get(refill.currency) ?? 0, baseUnits);
        if (amount.ok) add(refill.currency, "cold", amount.value, false);
        const fee =
          refill.fee === null
            ? null
            : parseDecimalBig(refill.fee, chainDecimals.get(refill.feeAsset) ?? 0, baseUnits);
        if (fee?.ok === true) add(refill.feeAsset, "cold", fee.value, true);
      }
    return allowance;
  }

  /**
   * Reconciles a scanned range, with any range a failed attempt left (in chunks the adapter
   * accepts). A failure (the node did not answer) is logged and the range kept for the next tick:
   * a block is never skipped, and the pipeline still moves (it needs the same node anyway).
   */
  private async reconcileSafely(fromHeight: number, toHeight: number, checkBalances: boolean): Promise<void> {
    const start = Math.min(this.unreconciledFrom ?? fromHeight, fromHeight);
    const chunk = Math.max(1, this.parts.adapter.limits.maxBlocksPerScan);
    try {
      for (let from = start; from <= toHeight; from += chunk) {
        const to = Math.min(toHeight, from + chunk - 1);
        await this.reconcile(from, to, checkBalances && to === toHeight);
        this.unreconciledFrom = to + 1 > toHeight ? null : to + 1;
      }
    } catch (error) {
      this.unreconciledFrom ??= start;
      this.service.log(
        `${this.parts.config.chain}: reconciliation of blocks ${start}..${toHeight} failed, retried next tick: ${(error as Error).message}`,
      );
    }
  }

  /** Reconciles a scanned range; a verdict other than ok trips the breaker. */
  private async reconcile(fromHeight: number, toHeight: number, checkBalances: boolean): Promise<void> {
    if (this.reconciler === null) return;
    const detectedAtMs = this.service.clock();
    const result = await this.reconciler.afterScan(fromHeight, toHeight, checkBalances);
    if (result.verdict === "ok") return;
    const chain = this.parts.config.chain;
    const unmatched = result.outflows.filter((outflow) => outflow.matchedBy === null);
    const broken = (result.assets ?? []).filter((asset) => asset.break);
    const reason =
      result.verdict === "unmatchedOutflow"
        ? `unmatched outflow: ${unmatched.map((outflow) => outflow.txid).join(", ")}`
        : `reconciliation break: ${broken
            .flatMap((asset) =>
              asset.shortfalls.map(
                (short) =>
                  `${asset.asset} ${short.part} short ${short.shortfall} beyond ${short.allowance} in flight`,
              ),
            )
            .join("; ")}`;
    this.service.log(`${chain}: ${reason} (blocks ${fromHeight}..${toHeight})`);
    await this.service.breakerBoard.tripAutomatically(
      chain,
      result.verdict,
      reason.slice(0, 500),
      {
        blockHeight: unmatched[0]?.blockHeight ?? toHeight,
        fromHeight,
        toHeight,
        txids: unmatched.map((outflow) => outflow.txid),
        outflows: unmatched,
        residuals: (result.assets ?? []).map((asset) => ({
          asset: asset.asset,
          residual: asset.residual,
          allowance: asset.allowance,
          shortfalls: asset.shortfalls,
          break: asset.break,
        })),
      },
      detectedAtMs,
    );
  }

  /**
   * A payment from the hot wallet built and not yet on the chain: a withdrawal in signing or
   * signed, or a transfer from hot (gas top-up, cold sweep) not yet broadcast. Hot payments are
   * built one at a time, so two never take the same nonce or coins.
   */
  async hotPaymentPending(exceptWithdrawalId = 0): Promise<boolean> {
    if (
      this.transfers
        .active()
        .some((job) => job.from === "walletHot" && (job.step === "signing" || job.step === "signed"))
    )
      return true;
    const unsent = await this.service.exchange.custody.listWithdrawals({
      chain: this.parts.config.chain,
      steps: ["signing", "signed"],
      limit: 2,
    });
    return unsent.some((row) => row.withdrawalId !== exceptWithdrawalId);
  }

  get ready(): boolean {
    return this.parts.wallet !== null;
  }

  private requireHot(): string {
    if (this.hotAddress === null) throw new Error(`${this.parts.config.chain}: wallet not initialised`);
    return this.hotAddress;
  }

  async tick(): Promise<void> {
    if (this.watcher !== null) {
      const watcher = this.watcher;
      this.watcherStarted ??= watcher.start().catch((error: unknown) => {
        this.watcherStarted = null;
        throw error;
      });
      await this.watcherStarted;
    }
    if (this.watcher !== null)
      for (let polls = 0; polls < MAX_POLLS_PER_TICK; polls++) {
        const result = await this.watcher.poll();
        this.reorgedAfterCredit += result.reorgedAfterCredit.length;
        // Every block the watcher scans is reconciled before anything else moves (balances once caught up).
        if (result.scanned !== null)
          await this.reconcileSafely(result.scanned.from, result.scanned.to, result.scanned.to >= result.tip);
        if (result.scanned === null || result.scanned.to >= result.tip) break;
      }
    // Tripped: the signer is halted again until it has answered (it may have restarted since).
    if (this.tripped) await this.service.breakerBoard.reassertHalts();
    await this.pipeline.advanceAll();
    // Tripped: no sweep, gas top-up or cold sweep is planned; transfers already broadcast still finish.
    if (this.tripped) await this.transfers.advanceAll();
    else if (this.ready && this.parts.signer !== null) {
      await this.planDepositSweeps();
      await this.planColdSweeps();
      await planHotRotation(this.rotationParts());
      await this.transfers.advanceAll();
    }
    // Cold → hot refills: broadcast ones to confirmed and recorded, and the below-floor request.
    if (this.ready) await this.service.advanceColdRefills(this.parts.config.chain);
  }

  /** `wallet rotate`: pay from and sweep into the new generation's hot wallet from now on. */
  useWallet(wallet: ChainWallet): void {
    if (this.parts.wallet === null) throw new Error(`${this.parts.config.chain}: wallet not initialised`);
    this.hotAddress = wallet.hotAddress;
    this.changeAddress = wallet.changeAddress;
    this.retiredHot = wallet.retiredHot ?? [];
  }

  private rotationParts(): Parameters<typeof planHotRotation>[0] {
    const { config, kind, adapter, feeAsset, chainDecimals } = this.parts;
    return {
      chain: config.chain,
      kind,
      adapter,
      currencies: config.currencies,
      feeAsset,
      chainDecimals,
      assetOf: (code) => this.service.assetOf(code),
      balanceOf: (address, asset) => this.parts.balanceOf(address, asset),
      transfers: this.transfers,
      hotAddress: this.requireHot(),
      changeAddress: this.changeAddress,
      retired: this.retiredHot,
      hotPaymentPending: () => this.hotPaymentPending(),
      log: this.service.log,
    };
  }

  /** Deposit addresses holding at least the sweep threshold are swept into the hot wallet. */
  private async planDepositSweeps(): Promise<void> {
    const { config, kind, adapter } = this.parts;
    const exchange = this.service.exchange;
    const page = await exchange.custody.depositAddressesOfChain(config.chain, {
      ...(this.sweepCursor === undefined ? {} : { after: this.sweepCursor }),
      limit: SWEEP_ADDRESSES_PER_PASS,
    });
    const last = page[page.length - 1];
    this.sweepCursor = last === undefined ? undefined : { account: last.account, index: last.index };
    const busy = new Set(this.transfers.active().map((job) => `${job.asset}:${job.intent.to}:${job.from}`));
    const busyAddresses = new Set(
      this.transfers.active().flatMap((job) => (job.sourceAddress === undefined ? [] : [job.sourceAddress])),
    );
    for (const currency of config.currencies) {
      if (busy.has(`${currency.currency}:${this.requireHot()}:walletDepositAddresses`)) continue;
      const decimals = this.parts.chainDecimals.get(currency.currency) ?? 0;
      const asset = this.service.assetOf(currency.currency);
      const threshold = ledgerToChain(currency.sweepThresholdUnits, decimals, asset.scale).baseUnits;
      const sources: { address: string; balance: bigint }[] = [];
      for (const record of page) {
        if (busyAddresses.has(record.address)) continue;
        const balance = await this.parts.balanceOf(record.address, currency.currency);
        if (balance >= threshold) sources.push({ address: record.address, balance });
      }
      if (sources.length === 0) continue;
      if (kind === "account" && currency.currency !== this.parts.feeAsset) {
        // A token at a deposit address: gas first (refillGas from hot), the token sweep once it is there.
        for (const source of sources) {
          await this.planTokenSweep(currency, source, decimals, asset);
          busyAddresses.add(source.address);
        }
        continue;
      }
      const batches =
        kind === "utxo"
          ? [sources.slice(0, adapter.limits.maxPaymentSources)]
          : sources.map((source) => [source]);
      for (const batch of batches) await this.planSweep(currency, batch, decimals, asset);
    }
  }

  /**
   * A token deposit on an account chain: the deposit address pays the token sweep's fee in the
   * native coin, so when it holds less than that fee the hot wallet first sends it the fee
   * (refillGas; on the books hot → deposit addresses, and the top-up's own fee hot → network fees).
   */
  private async planTokenSweep(
    currency: CurrencyCustodyConfig,
    source: { address: string; balance: bigint },
    decimals: number,
    asset: AssetConfig,
  ): Promise<void> {
    const { adapter, feeAsset } = this.parts;
    const estimate = await adapter.estimateFee(currency.currency);
    const gas = await this.parts.balanceOf(source.address, feeAsset);
    if (gas < estimate.typicalFee) {
      if (await this.hotPaymentPending()) return;
      // Twice the fee: the fee rate may rise before the sweep is mined.
      const topUp = estimate.typicalFee * 2n - gas;
      let unsigned: UnsignedTransaction;
      try {
        unsigned = await adapter.buildPayment({
          sources: [this.requireHot()],
          to: source.address,
          asset: feeAsset,
          amount: topUp,
        });
      } catch (error) {
        this.service.log(`${this.parts.config.chain}: gas top-up not built: ${(error as Error).message}`);
        return;
      }
      this.transfers.plan({
        kind: "refillGas",
        asset: feeAsset,
        from: "walletHot",
        to: "walletDepositAddresses",
        toAddress: source.address,
        sourceAddress: source.address,
        amount: topUp,
        unsigned,
      });
      return;
    }
    const amount = roundDownToLedger(source.balance, decimals, asset.scale);
    if (amount <= 0n) return;
    let unsigned: UnsignedTransaction;
    try {
      unsigned = await adapter.buildPayment({
        sources: [source.address],
        to: this.requireHot(),
        asset: currency.currency,
        amount,
        feeRate: estimate.feeRate,
      });
    } catch (error) {
      this.service.log(`${this.parts.config.chain}: token sweep not built: ${(error as Error).message}`);
      return;
    }
    this.transfers.plan({
      kind: "depositSweep",
      asset: currency.currency,
      from: "walletDepositAddresses",
      to: "walletHot",
      toAddress: this.requireHot(),
      sourceAddress: source.address,
      amount,
      unsigned,
    });
  }

  private async planSweep(
    currency: CurrencyCustodyConfig,
    batch: { address: string; balance: bigint }[],
    decimals: number,
    asset: AssetConfig,
  ): Promise<void> {
    const { adapter, kind } = this.parts;
    const total = batch.reduce((sum, source) => sum + source.balance, 0n);
    // On an account chain both builds at one fee rate (EIP-1559: maxFeePerGas): a fee read anew for
    // the second build, after a block that raised the base fee, would ask for value + gas × a higher
    // maxFeePerGas than the address holds, and the node would refuse the signed sweep.
    const feeRate = kind === "account" ? (await adapter.estimateFee(currency.currency)).feeRate : undefined;
    const request = {
      sources: batch.map((source) => source.address),
      to: this.requireHot(),
      asset: currency.currency,
      ...(feeRate === undefined ? {} : { feeRate }),
    };
    // Build once to learn the fee, then for the whole balance minus the fee (nothing left behind).
    const probe = await adapter.buildPayment({ ...request, amount: total / 2n });
    const amount = roundDownToLedger(total - probe.fee, decimals, asset.scale);
    if (amount <= 0n) return;
    let unsigned: UnsignedTransaction;
    try {
      unsigned = await adapter.buildPayment({ ...request, amount });
    } catch (error) {
      this.service.log(`${this.parts.config.chain}: deposit sweep not built: ${(error as Error).message}`);
      return;
    }
    this.transfers.plan({
      kind: "depositSweep",
      asset: currency.currency,
      from: "walletDepositAddresses",
      to: "walletHot",
      toAddress: this.requireHot(),
      ...(batch.length === 1 ? { sourceAddress: batch[0].address } : {}),
      amount,
      unsigned,
    });
  }

  /** Above the hot cap, the excess over the target goes to the configured cold address. */
  private async planColdSweeps(): Promise<void> {
    const cold = this.parts.coldAddress;
    if (cold === null) return;
    if (this.transfers.active().some((job) => job.kind === "sweepToCold")) return;
    if (await this.hotPaymentPending()) return;
    for (const currency of this.parts.config.currencies) {
      const asset = this.service.assetOf(currency.currency);
      const books = this.service.exchange.walletBooks(asset.assetId);
      const hotUnits = -books.systemUnits.walletHot;
      const bounds = hotBounds(currency, books.customerLiabilitiesUnits);
      if (hotUnits <= bounds.capUnits) continue;
      const decimals = this.parts.chainDecimals.get(currency.currency) ?? 0;
      const amount = ledgerToChain(hotUnits - bounds.targetUnits, decimals, asset.scale).baseUnits;
      let unsigned: UnsignedTransaction;
      try {
        unsigned = await this.parts.adapter.buildPayment({
          sources:
            this.changeAddress === null ? [this.requireHot()] : [this.requireHot(), this.changeAddress],
          to: cold,
          asset: currency.currency,
          amount,
          ...(this.changeAddress === null ? {} : { changeAddress: this.changeAddress }),
        });
      } catch (error) {
        this.service.log(`${this.parts.config.chain}: cold sweep not built: ${(error as Error).message}`);
        continue;
      }
      this.transfers.plan({
        kind: "sweepToCold",
        asset: currency.currency,
        from: "walletHot",
        to: "walletCold",
        toAddress: cold,
        amount,
        unsigned,
      });
      return;
    }
  }

  async status(): Promise<ChainCustodyStatus> {
    const { config, adapter, signer } = this.parts;
    const exchange = this.service.exchange;
    const scanner = await exchange.custody.getScannerState(config.chain);
    let chainHeight: number | null = null;
    try {
      chainHeight = await adapter.height();
    } catch {
      chainHeight = null;
    }
    let signerUp = false;
    let signerHalted = false;
    let budgets: { asset: string; windows: { window: string; left: string }[] }[] = [];
    if (signer !== null)
      try {
        const answer = await signer.status();
        if (answer.ok) {
          signerUp = true;
          signerHalted = Array.isArray(answer.halted) && answer.halted.length > 0;
          budgets = answer.budgets ?? [];
        }
      } catch {
        signerUp = false;
      }
    const pending = await exchange.custody.listWithdrawals({
      chain: config.chain,
      steps: [
        "requested",
        "held",
        "awaitingApproval",
        "approved",
        "signing",
        "signed",
        "broadcast",
        "confirmed",
        "stuck",
      ],
      limit: MAX_LIST_LIMIT,
    });
    const balances = [];
    for (const currency of config.currencies) {
      const asset = this.service.assetOf(currency.currency);
      const decimals = this.parts.chainDecimals.get(currency.currency) ?? 0;
      const books = exchange.walletBooks(asset.assetId);
      const bounds = hotBounds(currency, books.customerLiabilitiesUnits);
      const format = (units: number) => formatUnits(units, asset.scale);
      const onChain = async (address: string | null) => {
        if (address === null) return null;
        try {
          const baseUnits = await this.parts.balanceOf(address, currency.currency);
          return formatUnits(chainToLedger(baseUnits, decimals, asset.scale).units, asset.scale);
        } catch {
          return null;
        }
      };
      // The hot wallet's coins: its receive address and, on a UTXO chain, its change address.
      const hotOnChain = async () => {
        if (this.hotAddress === null) return null;
        try {
          let baseUnits = await this.parts.balanceOf(this.hotAddress, currency.currency);
          if (this.changeAddress !== null)
            baseUnits += await this.parts.balanceOf(this.changeAddress, currency.currency);
          return formatUnits(chainToLedger(baseUnits, decimals, asset.scale).units, asset.scale);
        } catch {
          return null;
        }
      };
      const budget = budgets.find((entry) => entry.asset === currency.currency);
      balances.push({
        currency: currency.currency,
        onChain: {
          hot: await hotOnChain(),
          cold: await onChain(this.parts.coldAddress),
          depositAddresses: null,
        },
        onBooks: {
          hot: format(-books.systemUnits.walletHot),
          cold: format(-books.systemUnits.walletCold),
          inFlight: format(-books.systemUnits.walletInFlight),
          depositAddresses: format(-books.systemUnits.walletDepositAddresses),
        },
        customerLiabilities: format(books.customerLiabilitiesUnits),
        hotCap: format(bounds.capUnits),
        hotTarget: format(bounds.targetUnits),
        hotFloor: format(bounds.floorUnits),
        signerBudgetLeft: (budget?.windows ?? []).map((window) => ({
          window: window.window,
          left: formatUnits(chainToLedger(BigInt(window.left), decimals, asset.scale).units, asset.scale),
        })),
      });
    }
    return {
      chain: config.chain,
      currencies: config.currencies.map((currency) => currency.currency),
      walletReady: this.ready,
      signerUp,
      signerHalted,
      scannerHeight: scanner?.height ?? null,
      chainHeight,
      pendingWithdrawals: pending.length,
      balances,
      reorgedAfterCredit: this.reorgedAfterCredit,
    };
  }
}

function roundDownToLedger(baseUnits: bigint, decimals: number, scale: number): bigint {
  if (decimals <= scale) return baseUnits;
  const step = 10n ** BigInt(decimals - scale);
  return (baseUnits / step) * step;
}

export class CustodyService implements CustodyPort, ColdRefillPort {
  readonly exchange: ExchangeBoundary;
  readonly policySecretKey: Uint8Array;
  readonly stateDir: string;
  readonly clock: () => number;
  readonly log: (message: string) => void;
  readonly onWithdrawalStep: CustodyServiceOptions["onWithdrawalStep"];
  /** Every chain's breaker (src/custody/breaker.ts). */
  readonly breakerBoard: Breakers;
  readonly productionMode: boolean;
  private readonly chains = new Map<string, ChainCustody>();
  /** currency → its chain. */
  private readonly currencyChain = new Map<string, ChainCustody>();
  private readonly addresses: DepositAddresses;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private readonly tickMs: number;
  private stopped = false;
  /** Serialises withdrawal requests, so limits and balances are checked against settled rows. */
  private requestQueue: Promise<unknown> = Promise.resolve();

  constructor(options: CustodyServiceOptions) {
    this.exchange = options.exchange;
    this.policySecretKey = options.policySecretKey;
    this.stateDir = options.stateDir;
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.onWithdrawalStep = options.onWithdrawalStep;
    this.addresses = new DepositAddresses(options.exchange.custody, this.clock);
    this.productionMode = options.productionMode ?? false;
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    this.breakerBoard = new Breakers({
      stateDir: options.stateDir,
      chains: options.chains.map((parts) => parts.config.chain),
      signerOf: (chain) => this.chains.get(chain)?.parts.signer ?? null,
      audit: (entry) =>
        // Breaker details are JSON (strings, numbers, arrays of them) built by breaker.ts and reconcile().
        options.exchange.audit.append({ tsMs: this.clock(), ...entry, details: entry.details as JsonValue }),
      ...(options.incidents === undefined ? {} : { incidents: options.incidents }),
      productionMode: this.productionMode,
      clock: this.clock,
      log: this.log,
    });
    for (const parts of options.chains) {
      const chain = new ChainCustody(parts, this, this.addresses);
      this.chains.set(parts.config.chain, chain);
      for (const currency of parts.config.currencies) this.currencyChain.set(currency.currency, chain);
    }
  }

  assetOf(code: string): AssetConfig {
    const asset = this.exchange.assetByCode(code);
    if (asset === undefined) throw new Error(`custody: the exchange has no asset ${code}`);
    return asset;
  }

  /** Starts the timer; every chain steps once per tick. */
  start(): void {
    if (this.timer !== null || this.stopped) return;
    // A breaker tripped before a restart stays tripped: its signer is halted again now.
    void this.breakerBoard.reassertHalts();
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
    void this.tick();
  }

  /** One step of every chain; concurrent calls share the running one. */
  tick(): Promise<void> {
    if (this.ticking === null)
      this.ticking = this.tickChains().finally(() => {
        this.ticking = null;
      });
    return this.ticking;
  }

  private async tickChains(): Promise<void> {
    for (const chain of this.chains.values()) {
      if (this.stopped) return;
      try {
        await chain.tick();
      } catch (error) {
        this.log(`custody ${chain.parts.config.chain}: ${(error as Error).message}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
  }

  chainOf(chain: string): ChainCustody | undefined {
    return this.chains.get(chain);
  }

  /**
   * `wallet rotate`: the chain's new active generation (src/custody/rotation.ts). New deposit
   * addresses derive from its account from the next request on; payments leave from its hot wallet;
   * the retired hot wallets are emptied into it by the next ticks.
   */
  rotateWallet(chain: string, wallet: ChainWallet): void {
    const custody = this.chains.get(chain);
    if (custody === undefined) throw new Error(`custody has no chain ${chain}`);
    custody.useWallet(wallet);
    this.addresses.setDeriver(chain, wallet.deposit);
    void this.tick();
  }

  // ---- CustodyPort ------------------------------------------------------------------------------

  terms(): CurrencyTerms[] {
    const terms: CurrencyTerms[] = [];
    for (const chain of this.chains.values())
      for (const currency of chain.parts.config.currencies) {
        const asset = this.assetOf(currency.currency);
        const format = (units: number) => formatUnits(units, asset.scale);
        terms.push({
          currency: currency.currency,
          chain: chain.parts.config.chain,
          network: currency.network,
          confirmations: chain.parts.config.confirmations,
          depositEnabled: chain.ready,
          withdrawEnabled: chain.ready && chain.parts.signer !== null,
          minDeposit: format(currency.minDepositUnits),
          minWithdraw: format(currency.minWithdrawUnits),
          maxWithdraw: format(currency.maxWithdrawUnits),
          withdrawFee: format(currency.withdrawFeeUnits),
        });
      }
    return terms;
  }

  private chainForCurrency(currency: string): { chain: ChainCustody; config: CurrencyCustodyConfig } {
    const chain = typeof currency === "string" ? this.currencyChain.get(currency) : undefined;
    const config = chain?.parts.config.currencies.find((c) => c.currency === currency);
    if (chain === undefined || config === undefined)
      throw new CustodyError("unknownCurrency", "this currency has no deposits or withdrawals");
    return { chain, config };
  }

  async depositAddress(userId: number, currency: string) {
    const { chain } = this.chainForCurrency(currency);
    if (!chain.ready)
      throw new CustodyError(
        "walletNotAvailable",
        `the ${chain.parts.config.chain} wallet is not set up yet`,
      );
    const record = await this.addresses.depositAddress(userId, chain.parts.config.chain);
    return { currency, chain: record.chain, address: record.address };
  }

  requestWithdrawal(request: WithdrawalRequest): Promise<WithdrawalView> {
    const run = this.requestQueue.catch(() => undefined).then(() => this.admitWithdrawal(request));
    this.requestQueue = run;
    return run;
  }

  /** Every check that can refuse, in an order where a refusal changes nothing; then the row and the hold. */
  private async admitWithdrawal(request: WithdrawalRequest): Promise<WithdrawalView> {
    const { chain, config } = this.chainForCurrency(request.currency);
    const chainConfig = chain.parts.config;
    if (!chain.ready || chain.parts.signer === null)
      throw new CustodyError("walletNotAvailable", `the ${chainConfig.chain} wallet is not set up yet`);
    if (chain.tripped) throw this.breakerRefusal(chainConfig.chain);
    const asset = this.assetOf(config.currency);
    const parsed = parseDecimalBig(request.amount, asset.scale);
    if (!parsed.ok)
      throw new CustodyError(
        "badAmount",
        parsed.failure === "tooPrecise"
          ? `amount has more than ${asset.scale} decimals`
          : "amount must be a positive decimal number",
      );
    const amountUnits = Number(parsed.value);
    if (amountUnits < config.minWithdrawUnits || amountUnits <= config.withdrawFeeUnits)
      throw new CustodyError(
        "belowMinimum",
        `the minimum withdrawal is ${formatUnits(config.minWithdrawUnits, asset.scale)} ${config.currency}`,
      );
    if (amountUnits > config.maxWithdrawUnits)
      throw new CustodyError(
        "aboveLimit",
        `the maximum withdrawal is ${formatUnits(config.maxWithdrawUnits, asset.scale)} ${config.currency}`,
      );
    const address = await this.checkDestination(chain, request.address);
    await this.checkProof(request, false);
    const accounts = this.exchange.accounts;
    const nowMs = this.clock();
    if (await accounts.withdrawalsLocked(request.userId, nowMs))
      throw new CustodyError(
        "withdrawalsLocked",
        "withdrawals are locked for 24 hours after a password or 2FA change",
      );
    const entry = await accounts.addressEntry(request.userId, config.currency, address);
    if (entry === undefined)
      throw new CustodyError("addressNotInBook", "add the address to your address book first");
    if (entry.activeFromMs > nowMs)
      throw new CustodyError(
        "addressNotActive",
        `the address becomes usable at ${new Date(entry.activeFromMs).toISOString()}`,
      );
    await this.checkLimits(request.userId, asset, config, amountUnits, nowMs);
    if (this.exchange.balance(request.userId, asset.assetId).availableUnits < amountUnits)
      throw new CustodyError("insufficientFunds", "not enough available balance");
    // Last: a TOTP code is used up when it is checked.
    await this.checkProof(request, true);
    const decimals = chain.parts.chainDecimals.get(config.currency) ?? 0;
    const chainAmount = ledgerToChain(amountUnits - config.withdrawFeeUnits, decimals, asset.scale).baseUnits;
    const row = await this.exchange.custody.insertWithdrawal({
      userId: request.userId,
      chain: chainConfig.chain,
      currency: config.currency,
      assetId: asset.assetId,
      amountUnits,
      feeUnits: config.withdrawFeeUnits,
      chainAmount,
      destination: address,
      via: request.proof.kind,
      approvalsNeeded: amountUnits >= config.approvalThresholdUnits ? 2 : 0,
      requestedMs: nowMs,
    });
    await chain.pipeline.advance(row.withdrawalId, ANSWER_AFTER_STEPS);
    const view = await this.withdrawal(row.withdrawalId);
    if (view === undefined) throw new Error(`withdrawal ${row.withdrawalId} vanished`);
    if (view.step === "rejected") throw new CustodyError("insufficientFunds", view.reason ?? "refused");
    void this.tick();
    return view;
  }

  private async checkDestination(chain: ChainCustody, text: string): Promise<string> {
    if (typeof text !== "string" || text.length === 0 || text.length > 128)
      throw new CustodyError("badAddress", "address is missing or too long");
    const address = chain.parts.adapter.normalizeAddress(text);
    if (address === null)
      throw new CustodyError("badAddress", `not an address of the ${chain.parts.config.chain} chain`);
    const own = await this.exchange.custody.depositAddressOwners(chain.parts.config.chain, [address]);
    if (
      own.size > 0 ||
      address === chain.hotAddress ||
      address === chain.changeAddress ||
      chain.retiredHot.some((wallet) => address === wallet.hotAddress || address === wallet.changeAddress) ||
      address === chain.parts.coldAddress
    )
      throw new CustodyError("badAddress", "that is an address of this exchange");
    return address;
  }

  /** `consume` false: checks that do not use anything up; true: the TOTP code itself. */
  private async checkProof(request: WithdrawalRequest, consume: boolean): Promise<void> {
    const proof = request.proof;
    const accounts = this.exchange.accounts;
    if (proof.kind === "operator") return;
    if (proof.kind === "apiKey") {
      if (consume) return;
      const key = await accounts.apiKey(proof.keyId);
      if (key === undefined || key.userId !== request.userId || key.revokedMs !== null)
        throw new CustodyError("withdrawScopeRequired", "this API key cannot withdraw");
      if (!key.scopes.includes("withdraw"))
        throw new CustodyError("withdrawScopeRequired", "this API key lacks the withdraw scope");
      // Checked again now, not only when the key was made: a key stored before the rule for narrow
      // blocks, or with an allow-list edited since, must not withdraw from a broad range.
      const allowList = parseAllowListEntries(key.ipAllowList);
      if (!allowList.ok)
        throw new CustodyError("ipNotAllowed", "this key's IP allow-list cannot be read: make a new key");
      const problem = apiKeyPolicyProblem(new Set(["withdraw"]), allowList.entries);
      if (problem !== null) throw new CustodyError("ipNotAllowed", `this key cannot withdraw: ${problem}`);
      const ip = parseIp(proof.clientIp);
      const allowed = ip !== null && allowList.entries.some((cidr) => cidrContains(cidr, ip));
      if (!allowed) throw new CustodyError("ipNotAllowed", "this IP is not in the key's allow-list");
      return;
    }
    if (!consume) {
      if (!(await accounts.totpEnabled(request.userId)))
        throw new CustodyError("twoFactorRequired", "enable two-factor authentication to withdraw");
      if (typeof proof.code !== "string" || !/^[0-9]{6}$/.test(proof.code))
        throw new CustodyError("twoFactorInvalid", "the 2FA code is 6 digits");
      return;
    }
    const verdict = await accounts.verifyTotp(request.userId, proof.code, this.clock());
    if (verdict === "notEnabled")
      throw new CustodyError("twoFactorRequired", "enable two-factor authentication to withdraw");
    if (verdict !== "ok") throw new CustodyError("twoFactorInvalid", "wait for the next code and try again");
  }

  private async checkLimits(
    userId: number,
    asset: AssetConfig,
    config: CurrencyCustodyConfig,
    amountUnits: number,
    nowMs: number,
  ): Promise<void> {
    const custody = this.exchange.custody;
    const format = (units: number) => `${formatUnits(units, asset.scale)} ${config.currency}`;
    const day = await custody.withdrawnUnitsSince({
      assetId: asset.assetId,
      userId,
      sinceMs: nowMs - DAY_MS,
    });
    if (day + amountUnits > config.userLimit24hUnits)
      throw new CustodyError("aboveLimit", `above your 24 h limit of ${format(config.userLimit24hUnits)}`);
    const month = await custody.withdrawnUnitsSince({
      assetId: asset.assetId,
      userId,
      sinceMs: Math.max(0, nowMs - 30 * DAY_MS),
    });
    if (month + amountUnits > config.userLimit30dUnits)
      throw new CustodyError("aboveLimit", `above your 30-day limit of ${format(config.userLimit30dUnits)}`);
    const hour = await custody.withdrawnUnitsSince({ assetId: asset.assetId, sinceMs: nowMs - HOUR_MS });
    if (hour + amountUnits > config.platformHourlyLimitUnits)
      throw new CustodyError("aboveLimit", "the platform's hourly withdrawal limit is reached; try later");
  }

  private view(row: PipelineWithdrawal): WithdrawalView {
    const asset = this.assetOf(row.currency);
    return {
      withdrawalId: row.withdrawalId,
      userId: row.userId,
      currency: row.currency,
      chain: row.chain,
      amount: formatUnits(row.amountUnits, asset.scale),
      fee: formatUnits(row.feeUnits, asset.scale),
      address: row.destination,
      step: row.step as WithdrawalStep,
      txId: row.txId,
      confirmations: row.confirmations,
      reason: row.reason,
      approvals: row.approvals,
      approvalsNeeded: row.approvalsNeeded,
      requestedMs: row.requestedMs,
      history: row.history.map((entry) => ({ step: entry.step as WithdrawalStep, atMs: entry.atMs })),
    };
  }

  /** The user's deposits seen and not yet credited, every chain's, most recently seen first (port.ts). */
  pendingDeposits(userId: number, limit: number) {
    const views = [];
    for (const chain of this.chains.values()) views.push(...(chain.watcher?.pendingOf(userId, limit) ?? []));
    return views.sort((a, b) => b.seenMs - a.seenMs).slice(0, Math.max(0, limit));
  }

  async withdrawal(withdrawalId: number): Promise<WithdrawalView | undefined> {
    if (!Number.isSafeInteger(withdrawalId) || withdrawalId < 1) return undefined;
    const row = await this.exchange.custody.getWithdrawal(withdrawalId);
    return row === undefined ? undefined : this.view(row);
  }

  async withdrawals(filter: {
    userId?: number;
    step?: WithdrawalStep;
    limit: number;
  }): Promise<WithdrawalView[]> {
    const rows = await this.exchange.custody.listWithdrawals({
      ...(filter.userId === undefined ? {} : { userId: filter.userId }),
      ...(filter.step === undefined ? {} : { steps: [filter.step] }),
      limit: Math.min(Math.max(1, filter.limit), MAX_LIST_LIMIT),
    });
    return rows.map((row) => this.view(row));
  }

  private async requireWithdrawal(withdrawalId: number): Promise<PipelineWithdrawal> {
    const row =
      Number.isSafeInteger(withdrawalId) && withdrawalId > 0
        ? await this.exchange.custody.getWithdrawal(withdrawalId)
        : undefined;
    if (row === undefined) throw new CustodyError("notFound", `no withdrawal ${withdrawalId}`);
    return row;
  }

  async approveWithdrawal(withdrawalId: number, approver: string): Promise<WithdrawalView> {
    const row = await this.requireWithdrawal(withdrawalId);
    if (row.step !== "awaitingApproval")
      throw new CustodyError("wrongStep", `withdrawal ${withdrawalId} is ${row.step}, not awaiting approval`);
    if (row.approvals.includes(approver))
      throw new CustodyError("approvalRefused", `${approver} approved this withdrawal already`);
    const approvals = [...row.approvals, approver];
    const done = approvals.length >= row.approvalsNeeded;
    const moved = await this.exchange.custody.updateWithdrawal(withdrawalId, "awaitingApproval", {
      step: done ? "approved" : "awaitingApproval",
      atMs: this.clock(),
      approvals,
    });
    if (!moved) throw new CustodyError("wrongStep", `withdrawal ${withdrawalId} moved on meanwhile`);
    if (done) void this.tick();
    return this.view(await this.requireWithdrawal(withdrawalId));
  }

  async rejectWithdrawal(withdrawalId: number, actor: string, reason: string): Promise<WithdrawalView> {
    const row = await this.requireWithdrawal(withdrawalId);
    if (!(REJECTABLE_STEPS as readonly string[]).includes(row.step))
      throw new CustodyError(
        "wrongStep",
        `withdrawal ${withdrawalId} is ${row.step}: it can no longer be rejected`,
      );
    const chain = this.chains.get(row.chain);
    if (chain === undefined) throw new CustodyError("notFound", `no chain ${row.chain}`);
    await chain.pipeline.release(row, `rejected by ${actor}: ${reason}`.slice(0, 500));
    return this.view(await this.requireWithdrawal(withdrawalId));
  }

  /** Every exchange address and its coins, for proof of reserves (src/custody/reserve-addresses.ts). */
  async reserveAddresses(): Promise<ReserveAddressReport> {
    const chains = [...this.chains.values()].map((chain) => ({
      chain: chain.parts.config.chain,
      currencies: chain.parts.config.currencies,
      hotAddress: chain.hotAddress,
      changeAddress: chain.changeAddress,
      retiredHot: chain.retiredHot,
      coldAddress: chain.parts.coldAddress,
      chainDecimals: chain.parts.chainDecimals,
      balanceOf: (address: string, asset: string) => chain.parts.balanceOf(address, asset),
    }));
    return listReserveAddresses(this.exchange, chains, (currency) => this.assetOf(currency));
  }

  async status(): Promise<CustodyStatusReport> {
    const chains: ChainCustodyStatus[] = [];
    for (const chain of this.chains.values())
      chains.push({
        ...(await chain.status()),
        breaker: this.breakerBoard.view(chain.parts.config.chain),
        lastReconciliation: chain.reconciliations.last,
        unmatchedOutflowsTotal: chain.reconciler?.unmatchedOutflowsTotal ?? 0,
      });
    return { chains };
  }

  // ---- the breaker and reconciliation (src/custody/breaker.ts, reconciliation.ts) --------------

  /** The refusal of anything that would move coins on a chain whose breaker is tripped. */
  private breakerRefusal(chain: string): CustodyError {
    // Shown to users as the EXMO error's detail (at most 120 characters): no cause, no txids.
    const incidentId = this.breakerBoard.view(chain).incidentId;
    return new CustodyError(
      "withdrawalsDisabled",
      `the ${chain} breaker is tripped${incidentId === null ? "" : ` (incident ${incidentId})`}: withdrawals are paused until an operator resumes it`,
    );
  }

  async breakers(): Promise<BreakerView[]> {
    return this.breakerBoard.views();
  }

  async tripBreaker(request: BreakerTripRequest): Promise<BreakerView[]> {
    const views = await this.breakerBoard.tripByOperator(request);
    return views;
  }

  async resumeBreaker(request: BreakerResumeRequest): Promise<BreakerView> {
    const view = await this.breakerBoard.resume(request);
    void this.tick();
    return view;
  }

  async sweeps(input: { chain?: string; limit: number }): Promise<SweepView[]> {
    const { chain, limit } = input;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SWEEPS_LISTED)
      throw new CustodyError("invalidRequest", `limit must be a whole number 1..${MAX_SWEEPS_LISTED}`);
    const custody = chain === undefined ? undefined : this.chains.get(chain);
    if (chain !== undefined && custody === undefined)
      throw new CustodyError(
        "notFound",
        `custody has no chain ${String(chain).slice(0, 40)}; its chains are ${[...this.chains.keys()].join(", ")}`,
      );
    const chains = custody === undefined ? [...this.chains.values()] : [custody];
    // Each journal holds at most MAX_JOBS unfinished and 200 finished jobs: sorting them all is bounded.
    return chains
      .flatMap((one) => one.transfers.all().map((job) => ({ one, job })))
      .sort((a, b) => b.job.createdMs - a.job.createdMs || b.job.updatedMs - a.job.updatedMs)
      .slice(0, limit)
      .map(({ one, job }): SweepView => {
        const { chainDecimals, feeAsset, config } = one.parts;
        return {
          sweepId: job.jobId,
          chain: config.chain,
          kind: job.kind,
          currency: job.asset,
          amount: formatUnits(BigInt(job.amount), chainDecimals.get(job.asset) ?? 0),
          fee: formatUnits(BigInt(job.fee), chainDecimals.get(feeAsset) ?? 0),
          feeAsset,
          from: job.from,
          to: job.to,
          sourceAddress: job.sourceAddress ?? null,
          toAddress: job.intent.to,
          step: job.step,
          txId: job.txId,
          reason: job.reason,
          createdMs: job.createdMs,
          updatedMs: job.updatedMs,
        };
      });
  }

  async reconciliations(chain: string, limit: number): Promise<ReconciliationResult[]> {
    const custody = typeof chain === "string" ? this.chains.get(chain) : undefined;
    if (custody === undefined)
      throw new CustodyError(
        "notFound",
        `custody has no chain ${String(chain).slice(0, 40)}; its chains are ${[...this.chains.keys()].join(", ")}`,
      );
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)
      throw new CustodyError("invalidRequest", `limit must be a whole number 1..${MAX_LIST_LIMIT}`);
    return custody.reconciliations.newest(limit);
  }

  /** Txids of the chain's cold spends custody imported (matched by reconciliation, not by the signer). */
  coldRefillTxIds(chain: string): Set<string> {
    const book = this.refillBooks().get(chain);
    const ids = new Set<string>();
    if (book !== undefined) for (const view of book.views()) if (view.txId !== null) ids.add(view.txId);
    return ids;
  }

  /** The chain's refills (empty for a chain refills do not serve). */
  async coldRefillsOf(chain: string): Promise<ColdRefillView[]> {
    return this.refillBooks().get(chain)?.views() ?? [];
  }

  // ---- cold wallet: cold → hot refills (src/custody/cold-refills.ts) ----------------------------

  /** Each chain's refill journal, opened on first use; null before that. */
  private coldRefillBooks: Map<string, ColdRefills> | null = null;
  /** The last refill id handed out (ids are unique across chains). */
  private lastColdRefillId = 0;

  /** The chains' refill journals, under the policy of `<stateDir>/cold-refills.json` (or the defaults). */
  private refillBooks(): Map<string, ColdRefills> {
    if (this.coldRefillBooks !== null) return this.coldRefillBooks;
    const policy = readColdRefillPolicy(this.stateDir);
    const books = new Map<string, ColdRefills>();
    for (const chain of this.chains.values()) {
      const { config, adapter, coldAddress, chainDecimals, feeAsset } = chain.parts;
      const dir = join(this.stateDir, config.chain);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      books.set(
        config.chain,
        new ColdRefills({
          dir,
          chain: config.chain,
          adapter,
          exchange: this.exchange,
          currencies: config.currencies,
          coldAddress,
          hotAddress: chain.hotAddress,
          chainDecimals,
          feeAsset,
          confirmations: config.confirmations,
          policy,
          allocateId: () => ++this.lastColdRefillId,
          paused: () => this.breakerBoard.isTripped(config.chain),
          clock: this.clock,
          log: this.log,
        }),
      );
    }
    this.lastColdRefillId = Math.max(
      highestRefillId(this.stateDir),
      ...[...books.values()].map((book) => book.highestId),
    );
    this.coldRefillBooks = books;
    return books;
  }

  private refillBookOfChain(chain: string): ColdRefills {
    const book = typeof chain === "string" ? this.refillBooks().get(chain) : undefined;
    if (book === undefined)
      throw new CustodyError(
        "notFound",
        `custody has no chain ${String(chain).slice(0, 40)}; its chains are ${[...this.chains.keys()].join(", ")}`,
      );
    return book;
  }

  private refillBookOf(refillId: number): ColdRefills {
    const book = Number.isSafeInteger(refillId)
      ? [...this.refillBooks().values()].find((candidate) => candidate.has(refillId))
      : undefined;
    if (book === undefined) throw new CustodyError("notFound", `no cold refill ${String(refillId)}`);
    return book;
  }

  /** One chain's refill step (ChainCustody.tick). */
  async advanceColdRefills(chain: string): Promise<void> {
    return this.refillBookOfChain(chain).advance();
  }

  async coldRefills(chain?: string): Promise<ColdRefillView[]> {
    const books = chain === undefined ? [...this.refillBooks().values()] : [this.refillBookOfChain(chain)];
    return books.flatMap((book) => book.views()).sort((a, b) => b.refillId - a.refillId);
  }

  async requestColdRefill(request: ColdRefillRequest): Promise<ColdRefillView> {
    const book = this.refillBookOfChain(request.chain);
    if (this.breakerBoard.isTripped(request.chain)) throw this.breakerRefusal(request.chain);
    return book.request({
      asset: request.currency,
      amount: request.amount,
      requestedBy: request.actor,
      reason: request.reason,
    });
  }

  async approveColdRefill(refillId: number, approver: string): Promise<ColdRefillView> {
    return this.refillBookOf(refillId).approve(refillId, approver);
  }

  async exportColdRefill(
    refillId: number,
    actor: string,
  ): Promise<{ refill: ColdRefillView; export: ColdRefillExport }> {
    return this.refillBookOf(refillId).export(refillId, actor);
  }

  async importColdRefill(refillId: number, signedTxBase64: string, actor: string): Promise<ColdRefillView> {
    return this.refillBookOf(refillId).import(refillId, signedTxBase64, actor);
  }

  async broadcastColdRefill(refillId: number, actor: string): Promise<ColdRefillView> {
    const book = this.refillBookOf(refillId);
    const refill = book.views().find((view) => view.refillId === refillId);
    if (refill !== undefined && this.breakerBoard.isTripped(refill.chain))
      throw this.breakerRefusal(refill.chain);
    const view = await book.broadcast(refillId, actor);
    void this.tick();
    return view;
  }

  async cancelColdRefill(refillId: number, actor: string, reason: string): Promise<ColdRefillView> {
    return this.refillBookOf(refillId).cancel(refillId, actor, reason);
  }
}

// Ethereum deposit sweeps: the ETH and ERC-20 tokens users deposit to their derived addresses are
// moved to the hot address, with a gas top-up from the hot address first when a deposit address
// holding tokens has no ether to pay the transfer. Each sweep is a job, a persisted state machine
// whose every step is written to the journal (`SweepJournal`) BEFORE it is acted on, so a process
// killed at any point resumes each job from its last persisted step:
//
//   ETH:    planned → sweepSigned → sweepBroadcast → sweepConfirmed → done
//   token:  planned → gasTopUpSigned → gasTopUpBroadcast → gasTopUpConfirmed
//                   → sweepSigned → sweepBroadcast → sweepConfirmed → done
//   (or failed, with the reason; or cancelled when there was nothing left to move)
//
// A job is made of legs (the gas top-ups, then the sweep); a leg goes intent → signed → broadcast
// → confirmed. The rules that keep a sweep exactly-once:
//   - the intent (with its unsigned transaction) is persisted before it is sent to the signer;
//     after a restart the identical intent is sent again (the signer re-signs an identical intent
//     idempotently; when it answers `reused-id` instead, the signature was made but its answer was
//     lost before it was persisted: it was never broadcast, since only persisted signed bytes are
//     ever broadcast, so the leg is planned again, or followed on chain when the signer names the
//     transaction it signed);
//   - the signed bytes are persisted before they are broadcast, and the same bytes are broadcast
//     again (same transaction id) after a restart or when the node lost them;
//   - a leg is replaced by a new transaction only when its own can never be mined: its sender's
//     nonce was used by another transaction in a block `confirmations` deep, or it was never
//     signed;
//   - one job per deposit address at a time (any asset), so two jobs never race for one address's
//     ether or nonce.
//
// Amounts: an ETH sweep moves balance − gas × maxFeePerGas (the most the fee can be), so the
// difference between that and the fee actually paid (gas used × effective price) stays on the
// deposit address as dust; the job records it (`leftoverNativeBaseUnits`). A token's top-up is
// gas × maxFeePerGas of the token transfer as built at the current EIP-1559 fees, minus the ether
// the address already holds (earlier dust is used first; no top-up when it suffices); the sweep is
// then built at that same maxFeePerGas, so the top-up pays for it. A sweep whose gas rose between
// the top-up and the sweep gets one more top-up for the difference (at most `maxTopUpsPerJob`).
// Only deposits `confirmations` deep are swept (balances are read at that depth), so a sweep never
// moves coins the deposit watcher has not credited yet.
//
// The ledger: each confirmed leg is reported through `report`, at least once: a crash between the
// report and persisting it repeats the same report (same `movementId`, same txId), so the receiver
// records a movement once per (asset, txId, from, to), as custody's `walletMovementExists` does. A
// sweep reports walletDepositAddresses → walletHot of its asset and its fee in ETH (paid from the
// deposit address, to networkFees); a top-up reports walletHot → walletDepositAddresses of ETH and
// its fee (paid from the hot address). A reverted transaction reports its fee with a zero amount,
// and fails the job.
//
// Bounded: jobs in flight, jobs created, steps taken and addresses read per tick, superseded legs
// and top-ups per job, and jobs kept in the journal (finished ones beyond `keepFinishedJobs` are
// removed; failed ones stay until an operator dismisses them, and block their address meanwhile).
//
// Custody does not import the signer (scripts/check-imports.mjs): the intent is a local copy of the
// fields of src/signer/intent.ts's `Intent` that a sweep uses, and `sign` (wired by the composition
// root: encode, sign with custody's policy key, send to the signer process) is injected.

import { randomBytes } from "node:crypto";
import {
  createPublicClient,
  type Hex,
  http,
  keccak256,
  type PublicClient,
  parseTransaction,
  recoverTransactionAddress,
  serializeTransaction,
  toHex,
} from "viem";
import type { ChainAsset, PaymentRequest, UnsignedTransaction } from "../chains/adapter.ts";
import type { EthereumAdapter } from "../chains/ethereum/adapter.ts";
import {
  type DecodedPayload,
  decodeEthereumPayload,
  type PayloadContext,
} from "../chains/ethereum/payload.ts";

// ---- What the sweeper is given ------------------------------------------------------------------

/** The fields of the signer's intent (src/signer/intent.ts) a sweep uses; the same shape. */
export interface SweepIntent {
  /** 16 random bytes, lowercase hex. */
  intentId: string;
  chain: string;
  asset: string;
  kind: "depositSweep" | "refillGas";
  to: string;
  /** Base units, > 0. */
  amount: bigint;
  expiresAtMs: number;
  /** The unsigned transaction (the adapter's payload). */
  payload: Uint8Array;
}

export interface SignedSweep {
  txId: string;
  signedTx: Uint8Array;
}

/**
 * Signs an intent through the signer. Resolves with the signed transaction; rejects with a
 * `SignRefusedError` when the signer refused (its code and detail), with anything else when the
 * signer could not be reached (retried next tick).
 */
export type SweepSign = (intent: SweepIntent) => Promise<SignedSweep>;

/** The signer's refusal, as its answer gives it (`{ ok: false, code, detail }`). */
export class SignRefusedError extends Error {
  override name = "SignRefusedError";
  constructor(
    readonly code: string,
    readonly detail: string,
    /** For `reused-id`: the transaction the signer recorded for that intent id, when it says. */
    readonly txId?: string,
  ) {
    super(`signer refused (${code}): ${detail}`);
  }
}

/**
 * Refusals that wait (the same intent is sent again next tick) instead of failing the job: a halt,
 * a window budget spent, a signer whose log cannot be written until it restarts.
 */
const WAIT_REFUSALS = new Set([
  "halted",
  "window-cap-10m",
  "window-cap-1h",
  "window-cap-24h",
  "state-failed",
]);
/** Refusals after which the leg is planned again with a new intent. */
const REPLAN_REFUSALS = new Set(["expired", "expiry-too-far"]);

/** One movement between the exchange's wallets, for the core's `recordWalletMovement`. */
export interface WalletMovementReport {
  /** Stable per leg (job id + intent id): a repeated report carries the same id. */
  movementId: string;
  jobId: string;
  chain: string;
  /** The deposit address the job sweeps. */
  address: string;
  from: "walletDepositAddresses" | "walletHot";
  to: "walletHot" | "walletDepositAddresses";
  asset: string;
  /** Chain base units moved (0 for a reverted transaction: only its fee was paid). */
  amountBaseUnits: bigint;
  /** The network fee actually paid (gas used × effective gas price), from `from`, to networkFees. */
  feeBaseUnits: bigint;
  feeAsset: string;
  txId: string;
}

/** Reads the sweeper needs beyond the adapter: balances and nonces at a height, receipts. */
export interface EthereumSweepReads {
  /** Wei held by `address` at `height` (the latest block when absent). */
  nativeBalance(address: string, height?: number): Promise<bigint>;
  /** Token base units held by `address` at `height` (latest when absent). */
  tokenBalance(contract: string, address: string, height?: number): Promise<bigint>;
  /** Transactions `address` has sent in blocks up to `height` (its next nonce there). */
  nonceAt(address: string, height: number): Promise<number>;
  /** The receipt of a mined transaction, or null. */
  receipt(txId: string): Promise<{ blockHeight: number; succeeded: boolean; feeBaseUnits: bigint } | null>;
}

/** Reads over viem's public client (or a JSON-RPC URL). */
export function viemSweepReads(clientOrUrl: PublicClient | string, timeoutMs = 10_000): EthereumSweepReads {
  const client =
    typeof clientOrUrl === "string"
      ? createPublicClient({ transport: http(clientOrUrl, { timeout: timeoutMs }) })
      : clientOrUrl;
  const at = (height?: number) => (height === undefined ? {} : { blockNumber: BigInt(height) });
  return {
    nativeBalance: (address, height) => client.getBalance({ address: address as Hex, ...at(height) }),
    async tokenBalance(contract, address, height) {
      const data = `0x70a08231${address.slice(2).toLowerCase().padStart(64, "0")}` as Hex;
      const out = await client.request({
        method: "eth_call",
        params: [{ to: contract as Hex, data }, height === undefined ? "latest" : toHex(height)],
      });
      if (typeof out !== "string" || !/^0x[0-9a-fA-F]{1,64}$/.test(out))
        throw new Error(`balanceOf on ${contract} answered ${String(out).slice(0, 80)}`);
      return BigInt(out);
    },
    nonceAt: (address, height) =>
      client.getTransactionCount({ address: address as Hex, blockNumber: BigInt(height) }),
    async receipt(txId) {
      const r = await client.getTransactionReceipt({ hash: txId as Hex }).catch((e: unknown) => {
        if (((e as { name?: string })?.name ?? "").endsWith("NotFoundError")) return null;
        throw e;
      });
      if (r === null) return null;
      return {
        blockHeight: Number(r.blockNumber),
        succeeded: r.status === "success",
        feeBaseUnits: r.gasUsed * r.effectiveGasPrice,
      };
    },
  };
}

/** What the sweeper uses of the ethereum adapter. */
export type SweepAdapter = Pick<
  EthereumAdapter,
  | "chain"
  | "chainId"
  | "assets"
  | "normalizeAddress"
  | "height"
  | "feesPerGas"
  | "buildPayment"
  | "broadcast"
  | "lookup"
>;

/**
 * The deposit addresses to look at, in pages: those after `after` in the source's own order
 * (from the first when undefined), at most `limit`. An empty page ends a round.
 */
export type DepositAddressSource = (after: string | undefined, limit: number) => Promise<readonly string[]>;

/** An asset the sweeper moves, and the smallest balance worth a sweep (chain base units). */
export interface SweepAssetConfig {
  symbol: string;
  minSweepBaseUnits: bigint;
}

// ---- Jobs ---------------------------------------------------------------------------------------

export type SweepStep =
  | "planned"
  | "gasTopUpSigned"
  | "gasTopUpBroadcast"
  | "gasTopUpConfirmed"
  | "sweepSigned"
  | "sweepBroadcast"
  | "sweepConfirmed"
  | "done"
  | "failed"
  | "cancelled";

export type LegStatus = "intent" | "signed" | "broadcast" | "confirmed";

export interface SweepLeg {
  kind: "gasTopUp" | "sweep";
  intent: SweepIntent;
  /** The sender and its nonce in the unsigned transaction. */
  from: string;
  nonce: number;
  /** gas × maxFeePerGas: the most the transaction can pay. */
  maxFeeBaseUnits: bigint;
  status: LegStatus;
  txId: string | null;
  /** The signed bytes, persisted before they are broadcast (null when the signer only named the txId). */
  signedTx: Uint8Array | null;
  broadcastMs: number | null;
  confirmedHeight: number | null;
  /** The fee actually paid, once mined. */
  feeBaseUnits: bigint | null;
  /** Mined but reverted: the fee was paid, nothing moved. */
  reverted: boolean;
  reported: boolean;
}

export interface SupersededLeg {
  kind: SweepLeg["kind"];
  intentId: string;
  txId: string | null;
  reason: string;
  atMs: number;
}

export interface SweepJob {
  id: string;
  chain: string;
  /** The deposit address swept. */
  address: string;
  asset: string;
  /** The token contract, or null for ETH. */
  contract: string | null;
  step: SweepStep;
  createdMs: number;
  updatedMs: number;
  /** The balance found when the job was planned. */
  plannedBaseUnits: bigint;
  /** Token jobs: the maxFeePerGas the sweep is built with (its top-ups are sized for it). */
  feeRate: bigint | null;
  topUps: SweepLeg[];
  sweep: SweepLeg | null;
  /** Legs replaced by a new transaction, most recent last (bounded). */
  superseded: SupersededLeg[];
  /** Replacements so far (the job fails beyond `maxReplans`). */
  replans: number;
  /** ETH left on the deposit address once the sweep confirmed (the fee margin not spent). */
  leftoverNativeBaseUnits: bigint | null;
  failure: { code: string; reason: string; atMs: number } | null;
}

/** Persistence of the jobs: every `save` is atomic and durable before it resolves. */
export interface SweepJournal {
  load(): Promise<SweepJob[]>;
  save(job: SweepJob): Promise<void>;
  remove(jobId: string): Promise<void>;
}

export class SweepJournalError extends Error {
  override name = "SweepJournalError";
}

const TERMINAL: ReadonlySet<SweepStep> = new Set(["done", "failed", "cancelled"]);
export const isTerminal = (job: SweepJob): boolean => TERMINAL.has(job.step);
const FINISHED: ReadonlySet<SweepStep> = new Set(["done", "cancelled"]);
/** A payload's header before the unsigned transaction: version, chain tag, 20-byte sender. */
const PAYLOAD_HEADER = 22;
/** Superseded legs a job keeps (the most recent). */
export const MAX_SUPERSEDED_KEPT = 10;

/** The step a job's legs say it is at (`failed`, `cancelled` and `done` are kept as set). */
export function stepOf(job: SweepJob): SweepStep {
  if (isTerminal(job)) return job.step;
  const legs = [...job.topUps, ...(job.sweep ? [job.sweep] : [])].filter((l) => l.status !== "intent");
  const last = legs[legs.length - 1];
  if (last === undefined) return "planned";
  const status =
    last.status === "signed" ? "Signed" : last.status === "broadcast" ? "Broadcast" : "Confirmed";
  return `${last.kind}${status}` as SweepStep;
}

// ---- The sweeper --------------------------------------------------------------------------------

export interface EthereumSweeperOptions {
  adapter: SweepAdapter;
  reads: EthereumSweepReads;
  journal: SweepJournal;
  sign: SweepSign;
  /** Where sweeps go and top-ups come from (a hot-wallet address the signer owns). */
  hotAddress: string;
  depositAddresses: DepositAddressSource;
  /** The assets swept (native and/or configured tokens), with their thresholds. */
  assets: readonly SweepAssetConfig[];
  /** Called once per confirmed leg (again after a crash before it was persisted: same movementId). */
  report: (movement: WalletMovementReport) => Promise<void>;
  /** Depth of deposits swept and of transactions before they count as confirmed (1: the tip block). */
  confirmations: number;
  /** Jobs not finished at once (default 50). */
  maxJobsInFlight?: number;
  /** Jobs created per tick (default 10). */
  maxNewJobsPerTick?: number;
  /** Steps (a sign, a broadcast, a lookup, a report, a plan) per tick over all jobs (default 200). */
  maxStepsPerTick?: number;
  /** Deposit addresses whose balances are read per tick (default 200). */
  maxAddressesPerTick?: number;
  /** Jobs in the journal, finished and failed included; no new job beyond (default 10,000). */
  maxStoredJobs?: number;
  /** Finished (done, cancelled) jobs kept, most recent (default 1,000). */
  keepFinishedJobs?: number;
  /** Gas top-ups per job (default 3). */
  maxTopUpsPerJob?: number;
  /** Legs replaced by new transactions per job before it fails (default 10). */
  maxReplans?: number;
  /** Failed broadcasts of one leg in this process before the job fails (default 20). */
  maxBroadcastAttempts?: number;
  /** A broadcast transaction the node does not know is sent again after this (default 60 s). */
  rebroadcastAfterMs?: number;
  /** Intents expire this long after they are made (default 10 min; the signer allows up to 1 h). */
  intentTtlMs?: number;
  clock?: () => number;
  log?: (message: string) => void;
  /** 16-byte ids, hex (default crypto random). */
  newId?: () => string;
}

export interface SweepTickResult {
  /** Jobs created this tick. */
  created: string[];
  /** Steps taken. */
  steps: number;
  /** Jobs that reached done, failed or cancelled this tick. */
  done: string[];
  failed: string[];
  cancelled: string[];
  /** Jobs not finished after this tick. */
  active: number;
}

/** A job as seen from outside (a copy), with the last transient error of this process. */
export type SweepJobView = SweepJob & { lastError: string | null };

type Progress = "progressed" | "wait";

class JournalBroken extends Error {}

export class EthereumSweeper {
  readonly chain: string;
  private readonly adapter: SweepAdapter;
  private readonly reads: EthereumSweepReads;
  private readonly journal: SweepJournal;
  private readonly sign: SweepSign;
  private readonly hot: string;
  private readonly source: DepositAddressSource;
  private readonly report: (movement: WalletMovementReport) => Promise<void>;
  private readonly confirmations: number;
  private readonly native: ChainAsset;
  private readonly payloadContext: PayloadContext;
  /** symbol → threshold and contract (null for the native coin). */
  private readonly assets = new Map<string, { min: bigint; contract: string | null }>();
  private readonly limits: Required<
    Pick<
      EthereumSweeperOptions,
      | "maxJobsInFlight"
      | "maxNewJobsPerTick"
      | "maxStepsPerTick"
      | "maxAddressesPerTick"
      | "maxStoredJobs"
      | "keepFinishedJobs"
      | "maxTopUpsPerJob"
      | "maxReplans"
      | "maxBroadcastAttempts"
      | "rebroadcastAfterMs"
      | "intentTtlMs"
    >
  >;
  private readonly clock: () => number;
  private readonly log: (message: string) => void;
  private readonly newId: () => string;
  private readonly jobsById = new Map<string, SweepJob>();
  /** Transient errors (RPC, signer unreachable), in memory only. */
  private readonly lastErrors = new Map<string, string>();
  private readonly broadcastAttempts = new Map<string, number>();
  /** Addresses to look at first (nudged by the deposit watcher), bounded. */
  private readonly nudged = new Set<string>();
  private cursor: string | undefined;
  private loaded = false;
  private broken: string | null = null;
  private ticking: Promise<SweepTickResult> | null = null;

  constructor(options: EthereumSweeperOptions) {
    this.adapter = options.adapter;
    this.chain = options.adapter.chain;
    this.reads = options.reads;
    this.journal = options.journal;
    this.sign = options.sign;
    this.source = options.depositAddresses;
    this.report = options.report;
    if (!Number.isInteger(options.confirmations) || options.confirmations < 1)
      throw new RangeError("confirmations must be an integer ≥ 1");
    this.confirmations = options.confirmations;
    const hot = options.adapter.normalizeAddress(options.hotAddress);
    if (hot === null) throw new Error(`not an ethereum address: ${options.hotAddress}`);
    this.hot = hot;
    const native = options.adapter.assets.find((a) => a.contract === undefined);
    if (native === undefined) throw new Error(`${this.chain} has no native asset`);
    this.native = native;
    const tokens = new Map<string, string>();
    for (const a of options.adapter.assets) if (a.contract !== undefined) tokens.set(a.contract, a.symbol);
    this.payloadContext = { chainId: options.adapter.chainId, nativeSymbol: native.symbol, tokens };
    for (const config of options.assets) {
      const asset = options.adapter.assets.find((a) => a.symbol === config.symbol);
      if (asset === undefined) throw new Error(`${this.chain} carries no asset ${config.symbol}`);
      if (typeof config.minSweepBaseUnits !== "bigint" || config.minSweepBaseUnits <= 0n)
        throw new RangeError(`minSweepBaseUnits of ${config.symbol} must be a positive bigint`);
      this.assets.set(config.symbol, { min: config.minSweepBaseUnits, contract: asset.contract ?? null });
    }
    this.limits = {
      maxJobsInFlight: options.maxJobsInFlight ?? 50,
      maxNewJobsPerTick: options.maxNewJobsPerTick ?? 10,
      maxStepsPerTick: options.maxStepsPerTick ?? 200,
      maxAddressesPerTick: options.maxAddressesPerTick ?? 200,
      maxStoredJobs: options.maxStoredJobs ?? 10_000,
      keepFinishedJobs: options.keepFinishedJobs ?? 1_000,
      maxTopUpsPerJob: options.maxTopUpsPerJob ?? 3,
      maxReplans: options.maxReplans ?? 10,
      maxBroadcastAttempts: options.maxBroadcastAttempts ?? 20,
      rebroadcastAfterMs: options.rebroadcastAfterMs ?? 60_000,
      intentTtlMs: options.intentTtlMs ?? 10 * 60_000,
    };
    for (const [name, value] of Object.entries(this.limits))
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be an integer ≥ 0`);
    if (this.limits.maxTopUpsPerJob > 16) throw new RangeError("maxTopUpsPerJob must be at most 16");
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? ((message) => console.info(message));
    this.newId = options.newId ?? (() => randomBytes(16).toString("hex"));
  }

  /** Loads the journal: every unfinished job resumes from its persisted step on the next tick. */
  async start(): Promise<void> {
    if (this.loaded) return;
    const jobs = await this.journal.load();
    if (jobs.length > this.limits.maxStoredJobs)
      throw new Error(`the sweep journal holds ${jobs.length} jobs, more than ${this.limits.maxStoredJobs}`);
    for (const job of jobs) {
      if (job.chain !== this.chain)
        throw new Error(`sweep job ${job.id} is of ${job.chain}, not ${this.chain}`);
      this.jobsById.set(job.id, job);
    }
    this.loaded = true;
  }

  /** Every job (copies), oldest first, with this process's last transient error of each. */
  jobs(): SweepJobView[] {
    return this.ordered().map((job) => ({
      ...structuredClone(job),
      lastError: this.lastErrors.get(job.id) ?? null,
    }));
  }

  job(id: string): SweepJobView | undefined {
    const job = this.jobsById.get(id);
    return job === undefined
      ? undefined
      : { ...structuredClone(job), lastError: this.lastErrors.get(id) ?? null };
  }

  /** Looks at `address` first on the next tick (e.g. the deposit watcher credited a deposit to it). */
  nudge(address: string): void {
    const canonical = this.adapter.normalizeAddress(address);
    if (canonical !== null && this.nudged.size < this.limits.maxAddressesPerTick) this.nudged.add(canonical);
  }

  /**
   * Removes a failed (or finished) job, freeing its address for a new job. An operator's act: a
   * failed job whose leg was signed may still be broadcast by nobody but this journal, yet check
   * the chain for its `txId` before dismissing it.
   */
  async dismiss(jobId: string): Promise<void> {
    await this.ticking?.catch(() => undefined);
    const job = this.jobsById.get(jobId);
    if (job === undefined) throw new Error(`no sweep job ${jobId}`);
    if (!isTerminal(job)) throw new Error(`sweep job ${jobId} is ${job.step}, not finished or failed`);
    await this.journal.remove(jobId);
    this.jobsById.delete(jobId);
    this.lastErrors.delete(jobId);
  }

  /** One bounded round: plan new jobs, then advance the unfinished ones. Concurrent calls share it. */
  tick(): Promise<SweepTickResult> {
    if (this.ticking === null)
      this.ticking = this.tickOnce().finally(() => {
        this.ticking = null;
      });
    return this.ticking;
  }

  private async tickOnce(): Promise<SweepTickResult> {
    if (this.broken !== null)
      throw new SweepJournalError(`the sweep journal failed earlier (${this.broken}): restart the sweeper`);
    await this.start();
    const result: SweepTickResult = { created: [], steps: 0, done: [], failed: [], cancelled: [], active: 0 };
    try {
      await this.plan(result);
    } catch (error) {
      if (error instanceof JournalBroken) throw new SweepJournalError(error.message);
      this.log(`${this.chain}: sweep planning failed (${(error as Error).message}); next tick`);
    }
    // Oldest first: jobs in flight get the step budget before the ones just planned.
    const budget = { steps: this.limits.maxStepsPerTick };
    for (const job of this.ordered()) {
      if (isTerminal(job)) continue;
      if (budget.steps <= 0) break;
      await this.guard(job.id, () => this.advance(job.id, budget, result));
      const after = this.jobsById.get(job.id) as SweepJob;
      if (after.step === "done") result.done.push(job.id);
      else if (after.step === "failed") result.failed.push(job.id);
      else if (after.step === "cancelled") result.cancelled.push(job.id);
    }
    await this.pruneFinished();
    result.active = this.ordered().filter((j) => !isTerminal(j)).length;
    return result;
  }

  /** Runs a job's work; a transient error is kept as the job's last error, a journal error stops all. */
  private async guard(jobId: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (error instanceof JournalBroken) throw new SweepJournalError(error.message);
      const message = (error as Error).message.split("\n")[0];
      this.lastErrors.set(jobId, message);
      this.log(`${this.chain}: sweep job ${jobId}: ${message}; next tick`);
    }
  }

  private ordered(): SweepJob[] {
    return [...this.jobsById.values()].sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1));
  }

  /** Saves the job (durably) and only then makes it the job in memory. */
  private async persist(job: SweepJob): Promise<SweepJob> {
    job.step = stepOf(job);
    job.updatedMs = this.clock();
    try {
      await this.journal.save(job);
    } catch (error) {
      // What is on disk is unknown now: stop, and let a restart read the journal again.
      this.broken = (error as Error).message;
      throw new JournalBroken(`saving sweep job ${job.id} failed: ${this.broken}`);
    }
    this.jobsById.set(job.id, job);
    return job;
  }

  /** A copy of the job to change and persist. */
  private draft(jobId: string): SweepJob {
    return structuredClone(this.jobsById.get(jobId) as SweepJob);
  }

  // ---- Advancing a job ----

  private async advance(jobId: string, budget: { steps: number }, result: SweepTickResult): Promise<void> {
    while (budget.steps > 0) {
      const job = this.jobsById.get(jobId) as SweepJob;
      if (isTerminal(job)) return;
      budget.steps--;
      result.steps++;
      const progress = await this.step(job);
      if (progress === "wait") return;
    }
  }

  /** The one next action of a job. */
  private async step(job: SweepJob): Promise<Progress> {
    const legs = [...job.topUps, ...(job.sweep ? [job.sweep] : [])];
    const active = legs.find((l) => l.status !== "confirmed");
    if (active !== undefined) {
      if (active.status === "intent") return this.signLeg(job, active);
      if (active.status === "signed") return this.broadcastLeg(job, active);
      return this.followLeg(job, active);
    }
    const unreported = legs.find((l) => !l.reported);
    if (unreported !== undefined) return this.reportLeg(job, unreported);
    const reverted = legs.find((l) => l.reverted);
    if (reverted !== undefined)
      return this.fail(
        job,
        "reverted",
        `the ${reverted.kind} ${reverted.txId} was mined but reverted (its fee was paid)`,
      );
    if (job.sweep !== null) {
      const draft = this.draft(job.id);
      draft.leftoverNativeBaseUnits = await this.reads.nativeBalance(job.address);
      draft.step = "done";
      await this.persist(draft);
      this.log(
        `${this.chain}: swept ${job.sweep.intent.amount} ${job.asset} from ${job.address} to ${this.hot} ` +
          `(${job.sweep.txId}); ${draft.leftoverNativeBaseUnits} wei left on the address`,
      );
      return "progressed";
    }
    return job.contract === null ? this.planNativeSweep(job) : this.planTokenLeg(job);
  }

  /** The highest block whose state counts (`confirmations` deep). */
  private async settledHeight(): Promise<number> {
    return Math.max(0, (await this.adapter.height()) - this.confirmations + 1);
  }

  private async planNativeSweep(job: SweepJob): Promise<Progress> {
    const settled = await this.settledHeight();
    const [atDepth, latest, fees] = await Promise.all([
      this.reads.nativeBalance(job.address, settled),
      this.reads.nativeBalance(job.address),
      this.adapter.feesPerGas(),
    ]);
    const balance = atDepth < latest ? atDepth : latest;
    const rate = fees.maxFeePerGas;
    const min = (this.assets.get(job.asset) as { min: bigint }).min;
    if (balance < min) return this.cancel(job, `the balance ${balance} is below the threshold ${min}`);
    // 21,000 gas to an account; rebuilt once when the node asks for more (a hot address with code).
    let gas = 21_000n;
    for (let attempt = 0; attempt < 2; attempt++) {
      const amount = balance - gas * rate;
      if (amount <= 0n) return this.cancel(job, `the balance ${balance} does not pay the fee ${gas * rate}`);
      const built = await this.build(job.address, this.hot, job.asset, amount, rate);
      if (built.decoded.tx.gas * rate + amount <= balance)
        return this.addLeg(this.draft(job.id), "sweep", "depositSweep", this.hot, job.asset, amount, built);
      gas = built.decoded.tx.gas;
    }
    return this.fail(job, "cannot-build", `the sweep's fee does not fit the balance ${balance}`);
  }

  /** A token job's next leg: the sweep when the address holds the gas, else a top-up. */
  private async planTokenLeg(job: SweepJob): Promise<Progress> {
    const contract = job.contract as string;
    const settled = await this.settledHeight();
    const [atDepth, latest] = await Promise.all([
      this.reads.tokenBalance(contract, job.address, settled),
      this.reads.tokenBalance(contract, job.address),
    ]);
    const amount = atDepth < latest ? atDepth : latest;
    const min = (this.assets.get(job.asset) as { min: bigint }).min;
    if (amount < min) return this.cancel(job, `the token balance ${amount} is below the threshold ${min}`);
    const rate = job.feeRate ?? (await this.adapter.feesPerGas()).maxFeePerGas;
    const sweep = await this.build(job.address, this.hot, job.asset, amount, rate);
    const need = sweep.decoded.tx.gas * rate;
    // The ether already there pays first (dust of earlier top-ups, or the user's own, once credited).
    const [haveAtDepth, haveLatest] = await Promise.all([
      this.reads.nativeBalance(job.address, settled),
      this.reads.nativeBalance(job.address),
    ]);
    const have = haveAtDepth < haveLatest ? haveAtDepth : haveLatest;
    if (have >= need) {
      const draft = this.draft(job.id);
      draft.feeRate = rate;
      return this.addLeg(draft, "sweep", "depositSweep", this.hot, job.asset, amount, sweep);
    }
    if (job.topUps.length >= this.limits.maxTopUpsPerJob)
      return this.fail(
        job,
        "gas-short",
        `after ${job.topUps.length} top-ups the address holds ${have} wei, the sweep needs ${need}`,
      );
    const topUp = await this.build(this.hot, job.address, this.native.symbol, need - have);
    const draft = this.draft(job.id);
    draft.feeRate = rate;
    return this.addLeg(draft, "gasTopUp", "refillGas", job.address, this.native.symbol, need - have, topUp);
  }

  private async build(
    from: string,
    to: string,
    asset: string,
    amount: bigint,
    feeRate?: bigint,
  ): Promise<{ unsigned: UnsignedTransaction; decoded: DecodedPayload }> {
    const request: PaymentRequest = { sources: [from], to, asset, amount, feeRate };
    const unsigned = await this.adapter.buildPayment(request);
    const decoded = decodeEthereumPayload(unsigned.payload, this.payloadContext);
    // What is signed must be what was asked for, whatever the adapter did.
    if (
      decoded.from !== from ||
      decoded.payment.to !== to ||
      decoded.payment.asset !== asset ||
      decoded.payment.amount !== amount ||
      (feeRate !== undefined && decoded.tx.maxFeePerGas !== feeRate)
    )
      throw new Error(`the adapter built a payment other than ${amount} ${asset} ${from} → ${to}`);
    return { unsigned, decoded };
  }

  /** Adds a leg (its intent, not yet signed) to `draft` and persists it: the intent is durable before it is sent. */
  private async addLeg(
    draft: SweepJob,
    kind: SweepLeg["kind"],
    intentKind: SweepIntent["kind"],
    to: string,
    asset: string,
    amount: bigint,
    built: { unsigned: UnsignedTransaction; decoded: DecodedPayload },
  ): Promise<Progress> {
    const leg: SweepLeg = {
      kind,
      intent: {
        intentId: this.newId(),
        chain: this.chain,
        asset,
        kind: intentKind,
        to,
        amount,
        expiresAtMs: this.clock() + this.limits.intentTtlMs,
        payload: built.unsigned.payload,
      },
      from: built.decoded.from,
      nonce: built.decoded.tx.nonce,
      maxFeeBaseUnits: built.decoded.fee,
      status: "intent",
      txId: null,
      signedTx: null,
      broadcastMs: null,
      confirmedHeight: null,
      feeBaseUnits: null,
      reverted: false,
      reported: false,
    };
    if (kind === "sweep") draft.sweep = leg;
    else draft.topUps.push(leg);
    await this.persist(draft);
    return "progressed";
  }

  /** The draft's copy of `leg` (same intent id). */
  private legOf(draft: SweepJob, leg: SweepLeg): SweepLeg {
    const found = [...draft.topUps, ...(draft.sweep ? [draft.sweep] : [])].find(
      (l) => l.intent.intentId === leg.intent.intentId,
    );
    if (found === undefined) throw new Error(`leg ${leg.intent.intentId} not in job ${draft.id}`);
    return found;
  }

  /** Drops a leg whose transaction can never be mined; the next step plans it again. */
  private async supersede(job: SweepJob, leg: SweepLeg, reason: string): Promise<Progress> {
    const draft = this.draft(job.id);
    if (leg.kind === "sweep") draft.sweep = null;
    else draft.topUps = draft.topUps.filter((l) => l.intent.intentId !== leg.intent.intentId);
    draft.superseded.push({
      kind: leg.kind,
      intentId: leg.intent.intentId,
      txId: leg.txId,
      reason,
      atMs: this.clock(),
    });
    if (draft.superseded.length > MAX_SUPERSEDED_KEPT) draft.superseded.shift();
    draft.replans++;
    this.broadcastAttempts.delete(leg.intent.intentId);
    this.log(`${this.chain}: sweep job ${job.id}: ${leg.kind} ${leg.intent.intentId} replaced: ${reason}`);
    if (draft.replans > this.limits.maxReplans) {
      draft.step = "failed";
      draft.failure = {
        code: "too-many-replans",
        reason: `${draft.replans} legs replaced; the last: ${reason}`,
        atMs: this.clock(),
      };
    }
    await this.persist(draft);
    return "progressed";
  }

  private async fail(job: SweepJob, code: string, reason: string): Promise<Progress> {
    const draft = this.draft(job.id);
    draft.step = "failed";
    draft.failure = { code, reason, atMs: this.clock() };
    await this.persist(draft);
    this.log(
      `${this.chain}: sweep job ${job.id} (${job.asset} at ${job.address}) FAILED: ${code}: ${reason}`,
    );
    return "wait";
  }

  private async cancel(job: SweepJob, reason: string): Promise<Progress> {
    const draft = this.draft(job.id);
    draft.step = "cancelled";
    draft.failure = { code: "nothing-to-sweep", reason, atMs: this.clock() };
    await this.persist(draft);
    this.log(`${this.chain}: sweep job ${job.id} cancelled: ${reason}`);
    return "wait";
  }

  private async signLeg(job: SweepJob, leg: SweepLeg): Promise<Progress> {
    // The persisted intent is sent as it is, even past its expiry: if it was signed before a crash
    // the signer answers the same transaction (a repeat); if not, it refuses it as expired and the
    // leg is planned again.
    let answer: SignedSweep;
    try {
      answer = await this.sign(leg.intent);
    } catch (error) {
      if (!(error instanceof SignRefusedError)) throw error;
      return this.refused(job, leg, error);
    }
    const txId = answer.txId.toLowerCase();
    const problem = await this.checkSigned(leg, answer.signedTx, txId);
    if (problem !== null) return this.fail(job, "bad-signature", problem);
    const draft = this.draft(job.id);
    const mine = this.legOf(draft, leg);
    mine.status = "signed";
    mine.txId = txId;
    mine.signedTx = answer.signedTx;
    await this.persist(draft);
    return "progressed";
  }

  private async refused(job: SweepJob, leg: SweepLeg, refusal: SignRefusedError): Promise<Progress> {
    if (refusal.code === "reused-id") {
      // Signed before, its answer lost before it was persisted (so never broadcast by us). When
      // the signer names the transaction and the chain has it, follow it; otherwise plan again.
      if (refusal.txId !== undefined && /^0x[0-9a-fA-F]{64}$/.test(refusal.txId)) {
        const txId = refusal.txId.toLowerCase();
        const status = await this.adapter.lookup(txId);
        if (status.status === "confirmed" || status.status === "pending") {
          const draft = this.draft(job.id);
          const mine = this.legOf(draft, leg);
          mine.status = "broadcast";
          mine.txId = txId;
          mine.broadcastMs = this.clock();
          await this.persist(draft);
          return "progressed";
        }
      }
      return this.supersede(
        job,
        leg,
        "signed before a restart but never broadcast (the signer answered reused-id)",
      );
    }
    if (REPLAN_REFUSALS.has(refusal.code))
      return this.supersede(job, leg, `the signer refused: ${refusal.code}`);
    if (WAIT_REFUSALS.has(refusal.code)) {
      this.lastErrors.set(job.id, refusal.message);
      return "wait";
    }
    return this.fail(job, refusal.code, refusal.detail);
  }

  /** Null when `signedTx` is the leg's unsigned transaction signed by its sender, with id `txId`. */
  private async checkSigned(leg: SweepLeg, signedTx: Uint8Array, txId: string): Promise<string | null> {
    try {
      const hex = toHex(signedTx);
      if (keccak256(hex) !== txId) return `the signer's txId ${txId} is not the hash of its transaction`;
      const { r: _r, s: _s, v: _v, yParity: _y, ...unsigned } = parseTransaction(hex);
      if (serializeTransaction(unsigned) !== toHex(leg.intent.payload.subarray(PAYLOAD_HEADER)))
        return "the signer signed another transaction than the intent's";
      const from = await recoverTransactionAddress({ serializedTransaction: hex as `0x02${string}` });
      if (from.toLowerCase() !== leg.from)
        return `the signature is by ${from.toLowerCase()}, not ${leg.from}`;
      return null;
    } catch (error) {
      return `unreadable signed transaction: ${(error as Error).message.split("\n")[0]}`;
    }
  }

  private async broadcastLeg(job: SweepJob, leg: SweepLeg): Promise<Progress> {
    const txId = leg.txId as string;
    try {
      const sent = await this.adapter.broadcast(leg.signedTx as Uint8Array);
      if (sent !== txId) throw new Error(`the node answered ${sent} for ${txId}`);
    } catch (error) {
      // Sent before (a restart after broadcasting, before persisting it) or refused: ask the chain.
      const where = await this.whereIs(leg);
      if (where === "replaced")
        return this.supersede(job, leg, `nonce ${leg.nonce} of ${leg.from} was used by another transaction`);
      if (where === "absent") {
        const attempts = (this.broadcastAttempts.get(leg.intent.intentId) ?? 0) + 1;
        this.broadcastAttempts.set(leg.intent.intentId, attempts);
        const message = (error as Error).message.split("\n")[0];
        if (attempts >= this.limits.maxBroadcastAttempts)
          return this.fail(
            job,
            "broadcast-failed",
            `${attempts} broadcasts of ${txId} failed, the last: ${message}`,
          );
        this.lastErrors.set(job.id, `broadcast of ${txId} failed: ${message}`);
        return "wait";
      }
    }
    const draft = this.draft(job.id);
    const mine = this.legOf(draft, leg);
    mine.status = "broadcast";
    mine.broadcastMs = this.clock();
    await this.persist(draft);
    return "progressed";
  }

  /**
   * Where a leg's transaction is: mined or pending ("seen"), not known while its nonce is still
   * free ("absent"), or not mined while its sender's nonce was used by another transaction in a
   * block `confirmations` deep ("replaced": it can never be mined). The nonce is read before the
   * transaction, so a transaction mined between the two reads is seen, not taken for replaced.
   */
  private async whereIs(leg: SweepLeg): Promise<"seen" | "absent" | "replaced"> {
    const settled = await this.settledHeight();
    const used = await this.reads.nonceAt(leg.from, settled);
    const txId = leg.txId as string;
    if ((await this.reads.receipt(txId)) !== null) return "seen";
    const status = await this.adapter.lookup(txId);
    if (status.status === "pending" || status.status === "confirmed") return "seen";
    return used > leg.nonce ? "replaced" : "absent";
  }

  private async followLeg(job: SweepJob, leg: SweepLeg): Promise<Progress> {
    const txId = leg.txId as string;
    const tip = await this.adapter.height();
    const receipt = await this.reads.receipt(txId);
    if (receipt !== null) {
      if (tip - receipt.blockHeight + 1 < this.confirmations) return "wait";
      const draft = this.draft(job.id);
      const mine = this.legOf(draft, leg);
      mine.status = "confirmed";
      mine.confirmedHeight = receipt.blockHeight;
      mine.feeBaseUnits = receipt.feeBaseUnits;
      mine.reverted = !receipt.succeeded;
      this.lastErrors.delete(job.id);
      await this.persist(draft);
      return "progressed";
    }
    const where = await this.whereIs(leg);
    if (where === "replaced")
      return this.supersede(job, leg, `nonce ${leg.nonce} of ${leg.from} was used by another transaction`);
    if (where === "absent" && leg.signedTx !== null) {
      const since = this.clock() - (leg.broadcastMs ?? 0);
      if (since >= this.limits.rebroadcastAfterMs) {
        // The node lost it (restarted, evicted it): the same bytes again.
        try {
          await this.adapter.broadcast(leg.signedTx);
        } catch (error) {
          this.lastErrors.set(
            job.id,
            `rebroadcast of ${txId} failed: ${(error as Error).message.split("\n")[0]}`,
          );
        }
        const draft = this.draft(job.id);
        this.legOf(draft, leg).broadcastMs = this.clock();
        await this.persist(draft);
      }
    }
    if (where === "seen") {
      const status = await this.adapter.lookup(txId);
      if (status.status === "pending" && status.reason !== undefined)
        this.lastErrors.set(job.id, status.reason);
    }
    return "wait";
  }

  private async reportLeg(job: SweepJob, leg: SweepLeg): Promise<Progress> {
    const sweep = leg.kind === "sweep";
    await this.report({
      movementId: `${job.id}:${leg.intent.intentId}`,
      jobId: job.id,
      chain: this.chain,
      address: job.address,
      from: sweep ? "walletDepositAddresses" : "walletHot",
      to: sweep ? "walletHot" : "walletDepositAddresses",
      asset: leg.intent.asset,
      amountBaseUnits: leg.reverted ? 0n : leg.intent.amount,
      feeBaseUnits: leg.feeBaseUnits ?? 0n,
      feeAsset: this.native.symbol,
      txId: leg.txId as string,
    });
    const draft = this.draft(job.id);
    this.legOf(draft, leg).reported = true;
    await this.persist(draft);
    return "progressed";
  }

  // ---- Planning new jobs ----

  private async plan(result: SweepTickResult): Promise<void> {
    const jobs = [...this.jobsById.values()];
    const inFlight = jobs.filter((j) => !isTerminal(j)).length;
    const room = Math.min(
      this.limits.maxNewJobsPerTick,
      this.limits.maxJobsInFlight - inFlight,
      this.limits.maxStoredJobs - jobs.length,
    );
    if (room <= 0) return;
    // An address with a job not finished, or failed (until dismissed), gets no new job.
    const busy = new Set(jobs.filter((j) => !FINISHED.has(j.step)).map((j) => j.address));
    const nudged = [...this.nudged];
    this.nudged.clear();
    const asked = Math.max(0, this.limits.maxAddressesPerTick - nudged.length);
    const page = asked === 0 ? [] : await this.source(this.cursor, asked);
    if (page.length > asked)
      throw new Error(`the deposit address source returned ${page.length} addresses, ${asked} asked`);
    // A short page ends the round: the next tick starts again from the first address.
    if (page.length < asked) this.cursor = undefined;
    // The tip and fees are read once, and only when some address is to be looked at.
    let chainState: Promise<{ settled: number; nativeFloor: bigint }> | undefined;
    const state = () => {
      chainState ??= (async () => {
        const nativeFloor = this.assets.has(this.native.symbol)
          ? 21_000n * (await this.adapter.feesPerGas()).maxFeePerGas
          : 0n;
        return { settled: await this.settledHeight(), nativeFloor };
      })();
      return chainState;
    };
    const context = { busy, state, room, result };
    await this.examine(nudged, context);
    // Source addresses are read in chunks; the cursor moves past the chunks read, so the ones left
    // when the room ran out are read first next tick.
    for (let i = 0; i < page.length && context.room > 0; i += 16) {
      const chunk = page.slice(i, i + 16);
      await this.examine(chunk, context);
      if (page.length === asked) this.cursor = chunk[chunk.length - 1];
    }
  }

  /** Reads the balances of `addresses` (at the settled height) and plans a job for each worth it. */
  private async examine(
    addresses: readonly string[],
    context: {
      busy: Set<string>;
      state: () => Promise<{ settled: number; nativeFloor: bigint }>;
      room: number;
      result: SweepTickResult;
    },
  ): Promise<void> {
    const candidates = [
      ...new Set(
        addresses
          .map((a) => this.adapter.normalizeAddress(a))
          .filter((a): a is string => a !== null && a !== this.hot && !context.busy.has(a)),
      ),
    ].slice(0, this.limits.maxAddressesPerTick);
    if (candidates.length === 0) return;
    const { settled, nativeFloor } = await context.state();
    const nativeConfig = this.assets.get(this.native.symbol);
    const tokens = [...this.assets].filter(([, a]) => a.contract !== null);
    for (let i = 0; i < candidates.length && context.room > 0; i += 16) {
      const found = await Promise.all(
        candidates.slice(i, i + 16).map(async (address) => {
          // Tokens first: their sweep can use the address's own ether for gas; ETH is swept after.
          for (const [symbol, token] of tokens) {
            const balance = await this.reads.tokenBalance(token.contract as string, address, settled);
            if (balance >= token.min) return { address, symbol, contract: token.contract, balance };
          }
          if (nativeConfig !== undefined) {
            const balance = await this.reads.nativeBalance(address, settled);
            if (balance >= nativeConfig.min && balance > nativeFloor)
              return { address, symbol: this.native.symbol, contract: null, balance };
          }
          return null;
        }),
      );
      for (const hit of found) {
        if (hit === null || context.room <= 0) continue;
        const now = this.clock();
        const job: SweepJob = {
          id: this.newId(),
          chain: this.chain,
          address: hit.address,
          asset: hit.symbol,
          contract: hit.contract,
          step: "planned",
          createdMs: now,
          updatedMs: now,
          plannedBaseUnits: hit.balance,
          feeRate: null,
          topUps: [],
          sweep: null,
          superseded: [],
          replans: 0,
          leftoverNativeBaseUnits: null,
          failure: null,
        };
        await this.persist(job);
        context.busy.add(hit.address);
        context.result.created.push(job.id);
        context.room--;
        this.log(
          `${this.chain}: sweep job ${job.id} planned: ${hit.balance} ${hit.symbol} at ${hit.address}`,
        );
      }
    }
  }

  private async pruneFinished(): Promise<void> {
    const finished = this.ordered().filter((j) => FINISHED.has(j.step));
    const excess = finished.length - this.limits.keepFinishedJobs;
    for (const job of finished.slice(0, Math.max(0, excess))) {
      try {
        await this.journal.remove(job.id);
      } catch (error) {
        this.log(`${this.chain}: removing finished sweep job ${job.id} failed: ${(error as Error).message}`);
        return;
      }
      this.jobsById.delete(job.id);
      this.lastErrors.delete(job.id);
    }
  }
}

// Custody's narrow face for the edges (the EXMO gateway, the operator API, the CLI through it):
// what a person or a bot may ask of the wallets. Types only, so the gateway and the operator layer
// can import it without importing custody's machinery (scripts/check-imports.mjs allows this file
// and nothing else of custody/ to them). The implementation is custody-service.ts.
//
// Amounts cross this boundary as exact decimal strings in whole coins ("0.015"), as on the wire;
// custody parses them against the asset's scale and refuses extra decimals.

/** Why custody refused a request; the gateway maps each to one EXMO error (gateway/exmo/errors.ts). */
export const CUSTODY_ERROR_CODES = [
  /** No such currency, or it has no chain. */
  "unknownCurrency",
  /** The chain's wallet is not set up (no `bulwark wallet init`) or its signer is not running. */
  "walletNotAvailable",
  /** Withdrawals of this currency are paused (operator, breaker, signer halted). */
  "withdrawalsDisabled",
  /** Not an address of the currency's chain, or one of the exchange's own. */
  "badAddress",
  /** More decimals than the currency has, or not a decimal number. */
  "badAmount",
  "belowMinimum",
  /** Above the per-withdrawal maximum, the user's 24 h / 30 d limit or the platform's hourly limit. */
  "aboveLimit",
  "insufficientFunds",
  /** TOTP is not enabled for the user (needed for web and CLI withdrawals). */
  "twoFactorRequired",
  /** Wrong or replayed TOTP code. */
  "twoFactorInvalid",
  /** The destination is not in the user's address book. */
  "addressNotInBook",
  /** In the address book, still inside its activation delay. */
  "addressNotActive",
  /** An API key without the withdraw scope. */
  "withdrawScopeRequired",
  /** The request's IP is not in the withdraw key's allow-list. */
  "ipNotAllowed",
  /** 24 h after a password or 2FA change (docs/SECURITY.md). */
  "withdrawalsLocked",
  "notFound",
  /** The withdrawal is not in a step where this action applies. */
  "wrongStep",
  /** An approver approved already, or the requester approves their own. */
  "approvalRefused",
  /** A malformed operator request (an empty reason, no approver); nothing changed. */
  "invalidRequest",
] as const;
export type CustodyErrorCode = (typeof CUSTODY_ERROR_CODES)[number];

export class CustodyError extends Error {
  override name = "CustodyError";
  constructor(
    readonly code: CustodyErrorCode,
    /** Safe to show the requester: says what to fix, never echoes secrets. */
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

/** One currency's deposit and withdrawal terms, as payments/providers/crypto/list shows them. */
export interface CurrencyTerms {
  currency: string;
  /** Custody's chain id, e.g. "devnet-btc". */
  chain: string;
  /** The network name a client sees (EXMO's provider "name"), e.g. "BTC" or "ERC20". */
  network: string;
  confirmations: number;
  depositEnabled: boolean;
  withdrawEnabled: boolean;
  /** Decimal strings in whole coins. */
  minDeposit: string;
  minWithdraw: string;
  maxWithdraw: string;
  /** The exchange's flat withdrawal fee, charged on top of nothing: part of the amount requested. */
  withdrawFee: string;
}

/** Proof that the user asked: a withdraw-scoped API key from an allowed IP, a TOTP code, or an operator. */
export type WithdrawalProof =
  | { kind: "apiKey"; keyId: string; clientIp: string }
  | { kind: "totp"; code: string }
  | { kind: "operator"; actor: string };

export interface WithdrawalRequest {
  userId: number;
  currency: string;
  /** Whole coins, exact decimal: what leaves the user's balance (the fee included). */
  amount: string;
  address: string;
  proof: WithdrawalProof;
}

/**
 * The pipeline's steps, in order. Every step is persisted before the next starts; a restart
 * resumes from the last one. Terminal: settled, rejected (never held or released after a refusal),
 * failed (released). `stuck` waits for an operator: custody cannot prove the coins did not leave.
 */
export const WITHDRAWAL_STEPS = [
  "requested",
  "held",
  "awaitingApproval",
  "approved",
  "signing",
  "signed",
  "broadcast",
  "confirmed",
  "settled",
  "rejected",
  "failed",
  "stuck",
] as const;
export type WithdrawalStep = (typeof WITHDRAWAL_STEPS)[number];

export interface WithdrawalView {
  withdrawalId: number;
  userId: number;
  currency: string;
  chain: string;
  /** Whole coins: the user's debit, the fee included. */
  amount: string;
  fee: string;
  address: string;
  step: WithdrawalStep;
  txId: string | null;
  confirmations: number;
  /** Why it was rejected, failed or is stuck. */
  reason: string | null;
  /** Operators who approved, in order. */
  approvals: string[];
  approvalsNeeded: number;
  requestedMs: number;
  /** Each step reached, with when. */
  history: { step: WithdrawalStep; atMs: number }[];
}

/** Most pending deposits `pendingDeposits` answers for one user. */
export const MAX_PENDING_DEPOSITS_SHOWN = 50;

/**
 * A transfer to one of the user's deposit addresses that the deposit watcher has seen in a block
 * and not yet credited: it waits for its confirmations (a reorg may still drop it).
 */
export interface PendingDepositView {
  currency: string;
  chain: string;
  txId: string;
  outputIndex: number;
  /** Whole coins as the chain pays them, cut to the asset's ledger scale (what will be credited). */
  amount: string;
  /** The chain's confirmations so far (1: in the tip block) and the count that credits it. */
  confirmations: number;
  confirmationsNeeded: number;
  blockHeight: number;
  /** When the watcher first saw it (epoch ms; a restart sees it again). */
  seenMs: number;
}

/** Most sweeps `sweeps` answers in one call. */
export const MAX_SWEEPS_LISTED = 200;

/**
 * Transfers between the exchange's own wallets on one chain (src/custody/internal-transfers.ts):
 * depositSweep (a deposit address → hot), sweepToCold (hot above its cap → cold), refillGas (hot →
 * a token deposit address, the gas its token sweep pays), rotateHot (a rotated-out hot → the new one).
 */
export const SWEEP_KINDS = ["depositSweep", "sweepToCold", "refillGas", "rotateHot"] as const;
export type SweepKind = (typeof SWEEP_KINDS)[number];

/** A transfer's steps: each persisted before the next; recorded = on the books, once. */
export const SWEEP_STEPS = ["signing", "signed", "broadcast", "confirmed", "recorded", "failed"] as const;
export type SweepStep = (typeof SWEEP_STEPS)[number];

/** One sweep as custody's journal holds it (the unfinished ones and the last finished ones per chain). */
export interface SweepView {
  /** The job's id (its intent's id, 32 hex digits). */
  sweepId: string;
  chain: string;
  kind: SweepKind;
  /** The chain asset moved (BTC, ETH, USDT). */
  currency: string;
  /** Whole coins arriving at the destination, at the chain's full precision. */
  amount: string;
  /** The network fee, whole coins of `feeAsset`. */
  fee: string;
  feeAsset: string;
  /** The wallet accounts on the books: walletDepositAddresses, walletHot, walletCold. */
  from: string;
  to: string;
  /** The deposit address swept (or topped up with gas); null for hot → cold and rotations. */
  sourceAddress: string | null;
  toAddress: string;
  step: SweepStep;
  txId: string | null;
  /** Why it failed (never signed, or refused at broadcast: nothing moved). */
  reason: string | null;
  createdMs: number;
  updatedMs: number;
}

export interface ChainCustodyStatus {
  chain: string;
  currencies: string[];
  /** Whether `bulwark wallet init` ran for the chain, and whether its signer answers. */
  walletReady: boolean;
  signerUp: boolean;
  signerHalted: boolean;
  scannerHeight: number | null;
  chainHeight: number | null;
  pendingWithdrawals: number;
  /** Per currency, decimal strings in whole coins. */
  balances: {
    currency: string;
    /** Coins on chain at hot / cold / deposit addresses (null when unknown). */
    onChain: { hot: string | null; cold: string | null; depositAddresses: string | null };
    /** The wallet accounts on the books (positive: coins the exchange holds there). */
    onBooks: { hot: string; cold: string; inFlight: string; depositAddresses: string };
    customerLiabilities: string;
    hotCap: string;
    hotTarget: string;
    hotFloor: string;
    /** Signer's budget left per window, from its own status. */
    signerBudgetLeft: { window: string; left: string }[];
  }[];
  /** Deposits credited after a reorg removed them (reorg policy), kept for the operator. */
  reorgedAfterCredit: number;
  /** The chain's breaker (absent from a custody without one). */
  breaker?: BreakerView;
  /** The newest reconciliation, null before the first. */
  lastReconciliation?: ReconciliationResult | null;
  /** Outflows found unmatched since custody started. */
  unmatchedOutflowsTotal?: number;
}

export interface CustodyStatusReport {
  chains: ChainCustodyStatus[];
}

// ---- reconciliation and the breaker (src/custody/reconciliation.ts, breaker.ts) ----------------

/** A chain's breaker. Tripped: no signing, withdrawals and sweeps paused, until an operator resumes it. */
export interface BreakerView {
  chain: string;
  state: "closed" | "tripped";
  reason: string | null;
  trippedAtMs: number | null;
  trippedBy: string | null;
  incidentId: number | null;
  cause: "unmatchedOutflow" | "reconciliationBreak" | "operator" | null;
}

export interface BreakerTripRequest {
  /** A custody chain ("devnet-btc"), or "all". */
  chain: string | "all";
  /** Who trips it: "operator:alice". */
  actor: string;
  /** 3..500 printable characters. */
  reason: string;
  /** An open incident to attach the trip to; without it an incident of kind "operator" is opened. */
  incidentId?: number;
}

export interface BreakerResumeRequest {
  chain: string;
  /** Who resumes it: one operator, or two distinct ones when production mode is on. */
  approvers: string[];
  reason: string;
}

/** An outgoing chain transaction from an exchange address, and what it was matched against. */
export interface ReconciledOutflow {
  txid: string;
  blockHeight: number;
  /** The exchange addresses it spent from. */
  from: string[];
  /** Per asset, whole coins (gross: payment, change and fee as the chain reports them). */
  amounts: { asset: string; amount: string }[];
  /**
   * signer: in the signer's signature log; coldRefill: a cold spend custody imported;
   * acknowledged: found unmatched before and acknowledged by the operators who resumed the breaker
   * (a rescan after a restart or a reorg meets it again); null: unmatched.
   */
  matchedBy: "signer" | "coldRefill" | "acknowledged" | null;
}

/** One asset's balances: the chain against the books, in whole coins (decimal strings). */
export interface AssetReconciliation {
  asset: string;
  /** Coins at hot (+ change), cold and the deposit addresses covered (see `depositAddressesCovered`). */
  onChain: { hot: string; cold: string; depositAddresses: string; total: string };
  /** The books' wallet accounts for the same addresses (walletInFlight included). */
  onBooks: { hot: string; cold: string; depositAddresses: string; inFlight: string; total: string };
  /** Payments built, signed or broadcast and not yet on the books (fees, withdrawals), allowed as a total shortfall. */
  allowance: string;
  /** onChain.total − onBooks.total: negative is a shortfall, positive a surplus (uncredited deposits, dust). */
  residual: string;
  /**
   * The parts short beyond what is in flight out of them: the total, or one kind of address (the
   * books say hot holds coins the hot addresses do not have, even when the total matches).
   */
  shortfalls: { part: "total" | "hot" | "cold" | "depositAddresses"; shortfall: string; allowance: string }[];
  /** Any shortfall: a reconciliation break. */
  break: boolean;
}

/** One reconciliation of one chain, after a scanned block range. */
export interface ReconciliationResult {
  chain: string;
  /** The blocks whose outflows were checked (the watcher's scan), inclusive. */
  fromHeight: number;
  toHeight: number;
  atMs: number;
  outflows: ReconciledOutflow[];
  /** Outflows not matched: each one trips the breaker. */
  unmatched: number;
  /** Outflows not yet checked (the signer did not answer, or the adapter cannot scan outflows); retried. */
  unverified: number;
  /** Null when the balance check was skipped this time (`note` says why: the chain moved during it, …). */
  assets: AssetReconciliation[] | null;
  /** False when the chain has more deposit addresses than one check reads: they are left out on both sides. */
  depositAddressesCovered: boolean;
  verdict: "ok" | "unmatchedOutflow" | "reconciliationBreak";
  note: string | null;
}

/**
 * Cold → hot refills (ColdRefillPort below) are optional here so a custody without a cold wallet
 * (a test double, a chain set without one) still is a CustodyPort; CustodyService has them all.
 */
export interface CustodyPort extends Partial<ColdRefillPort> {
  /** Every currency custody serves, with its terms. */
  terms(): CurrencyTerms[];
  /** The user's deposit address for the currency: stored, or derived and stored. */
  depositAddress(
    userId: number,
    currency: string,
  ): Promise<{ currency: string; chain: string; address: string }>;
  /**
   * The user's deposits seen on chain and not yet credited, newest first, at most `limit`
   * (≤ MAX_PENDING_DEPOSITS_SHOWN). In memory: what the watchers hold now. Optional so a test
   * double need not have one; CustodyService has it.
   */
  pendingDeposits?(userId: number, limit: number): PendingDepositView[];
  /** Validates and starts a withdrawal; resolves once it is held (or throws CustodyError, changing nothing). */
  requestWithdrawal(request: WithdrawalRequest): Promise<WithdrawalView>;
  withdrawal(withdrawalId: number): Promise<WithdrawalView | undefined>;
  /** Newest first, at most `limit` (≤ 1,000). */
  withdrawals(filter: { userId?: number; step?: WithdrawalStep; limit: number }): Promise<WithdrawalView[]>;
  /** An operator approves a withdrawal waiting for approvals (two different approvers above the threshold). */
  approveWithdrawal(withdrawalId: number, approver: string): Promise<WithdrawalView>;
  /** An operator rejects a withdrawal not yet signed: the hold is released with the reason. */
  rejectWithdrawal(withdrawalId: number, actor: string, reason: string): Promise<WithdrawalView>;
  status(): Promise<CustodyStatusReport>;
  /**
   * Production mode: a breaker's resume needs two distinct approvers (the operator console then
   * collects them one login at a time). Absent (a test double) counts as off.
   */
  readonly productionMode?: boolean;
  /** Every chain's breaker. */
  breakers(): Promise<BreakerView[]>;
  /** Trips one chain's breaker (or every chain's): signer halted, withdrawals and sweeps paused. */
  tripBreaker(request: BreakerTripRequest): Promise<BreakerView[]>;
  /** Closes a tripped breaker: needs a reason, and two distinct approvers in production mode. */
  resumeBreaker(request: BreakerResumeRequest): Promise<BreakerView>;
  /** The chain's last reconciliations, newest first, at most `limit` (≤ 1,000). */
  reconciliations(chain: string, limit: number): Promise<ReconciliationResult[]>;
  /**
   * Sweeps of one chain or all, newest first (by creation), at most `limit` (1..MAX_SWEEPS_LISTED).
   * Optional so a test double need not have one; CustodyService has it.
   */
  sweeps?(input: { chain?: string; limit: number }): Promise<SweepView[]>;
  /**
   * Every exchange address with its confirmed coins per currency, read from the chain now (proof
   * of reserves). Optional so a test double need not have one; CustodyService has it.
   */
  reserveAddresses?(): Promise<ReserveAddressReport>;
}

/** An exchange address and its coins of one currency (src/custody/reserve-addresses.ts). */
export interface ReserveAddressView {
  chain: string;
  currency: string;
  role: "hot" | "change" | "retiredHot" | "cold" | "deposit";
  address: string;
  /** Ledger units. */
  balanceUnits: number;
  /** Whole coins. */
  balance: string;
}

export interface ReserveAddressReport {
  /** Deposit addresses with no coins are left out. */
  addresses: ReserveAddressView[];
  /** False when a chain has more deposit addresses than one listing reads. */
  complete: boolean;
}

// ---- the cold wallet: cold → hot refills (src/custody/cold-refills.ts) -----------------------

/**
 * A refill's steps, in order. `requested` waits for M distinct approvers (never the requester);
 * `approved` waits out the time lock, then `exported` holds the unsigned payload (cold → hot) for
 * offline signing; `imported` holds the signed bytes, checked to be exactly that payload;
 * `broadcast` → `confirmed` → `recorded` (cold → hot on the books, once). `cancelled` before
 * broadcast.
 */
export const COLD_REFILL_STEPS = [
  "requested",
  "approved",
  "exported",
  "imported",
  "broadcast",
  "confirmed",
  "recorded",
  "cancelled",
] as const;
export type ColdRefillStep = (typeof COLD_REFILL_STEPS)[number];

/** Who asks for a refill on its own: custody, when a hot wallet falls below its floor. */
export const COLD_REFILL_SYSTEM_REQUESTER = "system:custody";

/** Refusals particular to refills (the shared ones are CustodyError). */
export const COLD_REFILL_ERROR_CODES = [
  /** Approved, but the time lock after the M-th approval has not passed. */
  "timeLocked",
  /** The signed bytes are not the exported payload signed by its signers. */
  "badSignedTransaction",
  /** The chain refused the transaction (coins spent meanwhile, a used nonce, …). */
  "chainRefused",
  /** No cold address (or no hot wallet) on this chain, or a chain refills do not serve. */
  "coldWalletNotConfigured",
] as const;
export type ColdRefillErrorCode = (typeof COLD_REFILL_ERROR_CODES)[number];

export class ColdRefillError extends Error {
  override name = "ColdRefillError";
  constructor(
    readonly code: ColdRefillErrorCode,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

export interface ColdRefillView {
  refillId: number;
  chain: string;
  currency: string;
  /** Whole coins arriving at the hot wallet. */
  amount: string;
  /** The network fee the cold wallet pays, whole coins of `feeAsset` (null before export). */
  fee: string | null;
  feeAsset: string;
  /** Cold address paying, hot address paid. */
  from: string;
  to: string;
  step: ColdRefillStep;
  requestedBy: string;
  reason: string;
  requestedMs: number;
  approvals: { approver: string; atMs: number }[];
  approvalsNeeded: number;
  /** When export becomes allowed (the M-th approval + the time lock); null before it. */
  exportableFromMs: number | null;
  txId: string | null;
  confirmations: number;
  cancelledBy: string | null;
  cancelReason: string | null;
  history: { step: ColdRefillStep; atMs: number; by: string }[];
}

/** What `cold export` writes for the offline signer: the unsigned payload and what it claims to pay. */
export interface ColdRefillExport {
  format: "bulwark-cold-refill/v1";
  refillId: number;
  chain: string;
  currency: string;
  /** Whole coins, and the same in the chain's base units. */
  amount: string;
  amountBaseUnits: string;
  from: string;
  to: string;
  /** Network fee, base units of `feeAsset`. */
  feeBaseUnits: string;
  feeAsset: string;
  /** Addresses whose signatures the payload needs, in order (the cold address). */
  signers: string[];
  /** The chain's canonical unsigned payload (devnet), base64. */
  payloadBase64: string;
}

export interface ColdRefillRequest {
  chain: string;
  currency: string;
  /** Whole coins, exact decimal. */
  amount: string;
  actor: string;
  reason: string;
}

/** The cold-refill half of custody's port (CustodyService implements it; optional in CustodyPort). */
export interface ColdRefillPort {
  /** Refills, newest first (open ones and the last finished ones), of one chain or all. */
  coldRefills(chain?: string): Promise<ColdRefillView[]>;
  requestColdRefill(request: ColdRefillRequest): Promise<ColdRefillView>;
  /** One approval; the M-th moves it to `approved` (exportable after the time lock). */
  approveColdRefill(refillId: number, approver: string): Promise<ColdRefillView>;
  /** Builds (once) and returns the unsigned payload; refused before approval and the time lock. */
  exportColdRefill(
    refillId: number,
    actor: string,
  ): Promise<{ refill: ColdRefillView; export: ColdRefillExport }>;
  /** The offline-signed transaction (base64); refused unless it is exactly the exported payload, signed by its signers. */
  importColdRefill(refillId: number, signedTxBase64: string, actor: string): Promise<ColdRefillView>;
  broadcastColdRefill(refillId: number, actor: string): Promise<ColdRefillView>;
  cancelColdRefill(refillId: number, actor: string, reason: string): Promise<ColdRefillView>;
}

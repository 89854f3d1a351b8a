// THE boundary between the exchange and the layers above it (gateway, operator, demo, CLI).
// Those layers import this file and nothing else from exchange/, runtime/, store/ or journal/
// (scripts/check-imports.mjs enforces it), so cluster mode can put a network behind this
// interface without touching them. Four things cross it:
//   1. commands: submit one and await its durable result (journal before acknowledge);
//   2. read models: reference data (assets, markets), the store's projections, market data;
//   3. events: attach a handler to a stage of the one declared event pipeline;
//   4. status: how far the sequencer, the journal and the projector are, for health and metrics.
// Accounts (users, API keys, nonces) are their own service, handed out here too.

import type { Accounts } from "../accounts/accounts.ts";
import type { UnstampedCommand, WalletAccount } from "../core/commands.ts";
import type { AssetConfig, MarketConfig } from "../core/config.ts";
import type { CoreEvent } from "../core/events.ts";
import type { IncidentCoverView, SystemAccount } from "../core/state-view.ts";
import type { MarketData } from "../marketdata/market-data.ts";
import type { DepositAddressRecord, ScannerState } from "../store/custody.ts";
import type {
  NewPipelineWithdrawal,
  PipelinePatch,
  PipelineWithdrawal,
} from "../store/custody-withdrawals.ts";
import type { IncidentStore } from "../store/incidents.ts";
import type { StoreEngine } from "../store/migrations.ts";
import type { OperatorStore } from "../store/operators.ts";
import type { StoreAuditTrail, StoreReadModels } from "../store/read-models.ts";
import type { MarketUnits } from "../units/market-units.ts";
import type { EventPipelineStage, EventPipelineStats, EventStageHandler } from "./event-pipeline.ts";

export { CommandOutcomeUnknownError, SequencerQueueFullError } from "../runtime/sequencer.ts";
export type { AuditEntry, AuditVerifyResult, JsonValue } from "../store/audit-log.ts";
export { auditRowHash } from "../store/audit-log.ts";
export type { DepositAddressRecord, ScannerState } from "../store/custody.ts";
export { CUSTODY_LIMITS } from "../store/custody.ts";
export type {
  NewPipelineWithdrawal,
  PipelinePatch,
  PipelineWithdrawal,
} from "../store/custody-withdrawals.ts";
export { PIPELINE_LIMITS } from "../store/custody-withdrawals.ts";
export type {
  AuditRow,
  IncidentEntryRecord,
  IncidentRecord,
  IncidentStore,
  NewIncidentEntry,
} from "../store/incidents.ts";
export { INCIDENT_STORE_LIMITS, IncidentStoreError } from "../store/incidents.ts";
export { STORE_LIMITS } from "../store/limits.ts";
export type {
  OperatorAccountRecord,
  OperatorSessionRecord,
  OperatorStore,
  UserPageRow,
} from "../store/operators.ts";
export { OPERATOR_STORE_LIMITS } from "../store/operators.ts";
export type {
  AdjustmentRecord,
  BalanceRecord,
  FillRecord,
  MarketRecord,
  OrderRecord,
} from "../store/queries.ts";
export type { UserSnapshot } from "../store/read-models.ts";
export type { DurableBatch, EventPipelineStage, EventStageHandler } from "./event-pipeline.ts";

/** A command's durable outcome: its sequence and its events, in order. */
export interface CommandResult {
  sequence: number;
  events: CoreEvent[];
}

/** A market with what the edge needs to speak decimals about it. */
export interface MarketContext {
  config: MarketConfig;
  base: AssetConfig;
  quote: AssetConfig;
  units: MarketUnits;
}

/** The store's read models, as the layers above see them. */
export type ReadModels = StoreReadModels;
/** The hash-chained audit log. */
export type AuditTrail = StoreAuditTrail;

export interface ExchangeStatus {
  /** The last command the core applied. */
  lastSequence: number;
  /** The last command whose result was released (durable in the journal). */
  acknowledgedSequence: number;
  /** Commands waiting to enter a batch. */
  queuedCommands: number;
  /** Events waiting to be written to the store (the projector's lag). */
  projectorQueuedEvents: number;
  /** The projector's last failure, null after a success. */
  projectorLastError: unknown;
  storeEngine: StoreEngine;
  pipeline: EventPipelineStats;
}

/**
 * Custody's own persisted state (deposit addresses, scanner positions), bound to the store: what
 * the custody service reads and writes besides commands. See src/store/custody.ts.
 */
export interface CustodyStore {
  getDepositAddress(
    userId: number,
    chain: string,
    account: number,
  ): Promise<DepositAddressRecord | undefined>;
  /** The stored address, or a new one at the next index of chain + account, derived by `derive`. */
  assignDepositAddress(
    input: { userId: number; chain: string; account: number; createdMs: number },
    derive: (index: number) => string,
  ): Promise<DepositAddressRecord>;
  /** Owners of at most CUSTODY_LIMITS.maxAddressesPerLookup addresses on a chain (any account). */
  depositAddressOwners(
    chain: string,
    addresses: readonly string[],
  ): Promise<Map<string, DepositAddressRecord>>;
  /** A page of the chain's addresses in (account, index) order, after `after`. */
  depositAddressesOfChain(
    chain: string,
    options: { after?: { account: number; index: number }; limit: number },
  ): Promise<DepositAddressRecord[]>;
  getScannerState(chain: string): Promise<ScannerState | undefined>;
  saveScannerState(state: ScannerState): Promise<void>;

  // The withdrawal pipeline (src/store/custody-withdrawals.ts).
  insertWithdrawal(input: NewPipelineWithdrawal): Promise<PipelineWithdrawal>;
  /** Applies `patch` only while the withdrawal is still at `expectedStep`; false otherwise. */
  updateWithdrawal(withdrawalId: number, expectedStep: string, patch: PipelinePatch): Promise<boolean>;
  getWithdrawal(withdrawalId: number): Promise<PipelineWithdrawal | undefined>;
  listWithdrawals(filter: {
    userId?: number;
    chain?: string;
    steps?: readonly string[];
    limit: number;
  }): Promise<PipelineWithdrawal[]>;
  /** Ledger units requested (not rejected or failed) since `sinceMs`, by a user or everyone. */
  withdrawnUnitsSince(filter: { assetId: number; sinceMs: number; userId?: number }): Promise<number>;
  /** Whether a projected wallet movement with this txid between these accounts exists. */
  walletMovementExists(filter: {
    assetId: number;
    txId: string;
    from: WalletAccount;
    to: WalletAccount;
  }): Promise<boolean>;
  /** The chain details of a withdrawal in the projected `withdrawals` table (false: not projected yet). */
  setWithdrawalChainInfo(
    withdrawalId: number,
    info: { destination?: string; txId?: string; confirmations?: number; reason?: string },
  ): Promise<boolean>;
}

/** An asset's custody books as the core has them now (wallet balances are minus the coins held). */
export interface WalletBooks {
  systemUnits: Record<SystemAccount, number>;
  customerLiabilitiesUnits: number;
}

export interface ExchangeBoundary {
  /** Sequences, journals and applies a command; resolves once it is durable. */
  submit(command: UnstampedCommand): Promise<CommandResult>;
  /** Resolves when the read models show the effects of every command up to `sequence`. */
  whenProjected(sequence: number): Promise<void>;
  /** Handlers run in EVENT_PIPELINE_STAGES order; returns the detach function. */
  attach(stage: EventPipelineStage, handler: EventStageHandler): () => void;
  status(): ExchangeStatus;

  market(marketId: number): MarketContext | undefined;
  marketBySymbol(symbol: string): MarketContext | undefined;
  markets(): MarketContext[];
  asset(assetId: number): AssetConfig | undefined;
  assetByCode(code: string): AssetConfig | undefined;
  assets(): AssetConfig[];
  /** A user's balance as the core has it now (ahead of the read models). */
  balance(userId: number, assetId: number): { availableUnits: number; heldUnits: number };
  /** The asset's system accounts and customer liabilities (O(users): for custody, not per request). */
  walletBooks(assetId: number): WalletBooks;
  /** Every user's available + held of the asset, ascending user id, zeros left out (proof of reserves; O(users)). */
  customerLiabilities(assetId: number): { userIds: number[]; balancesUnits: number[] };
  /** Covered incident losses (coverIncidentLoss), by incident then asset. */
  incidentCovers(): IncidentCoverView[];

  readonly reads: ReadModels;
  readonly audit: AuditTrail;
  readonly accounts: Accounts;
  readonly marketData: MarketData;
  readonly custody: CustodyStore;
  /** Incidents and their timelines (src/store/incidents.ts), for the incident service. */
  readonly incidents: IncidentStore;
  /** Operator console accounts, their sessions and the console's pages (src/store/operators.ts). */
  readonly operators: OperatorStore;
}

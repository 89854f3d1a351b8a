// A plain, canonical view of the whole core state, used to compare the fast core with the
// reference core in tests and to read state in tools. Everything is sorted, so two cores in the
// same logical state produce deep-equal views.

import type { Command, LossCoverSource, MarketStatus, Side } from "./commands.ts";
import type { AssetConfig, MarketConfig, SelfTradePrevention } from "./config.ts";
import type { CoreEvent } from "./events.ts";

export const SYSTEM_ACCOUNTS = [
  "fees",
  "operatorEquity",
  "walletHot",
  "walletCold",
  "insuranceFund",
  "incidentLosses",
  // Appended for custody (docs/CORE.md, "Ledger"): append only, the snapshot writes them in this order.
  "walletDepositAddresses",
  "walletInFlight",
  "networkFees",
] as const;
export type SystemAccount = (typeof SYSTEM_ACCOUNTS)[number];

/**
 * The custody identity (docs/CORE.md, "Ledger"), per asset: the coins on the books, minus the sum
 * of these wallet accounts (a wallet's balance is minus the coins it holds), equal customer
 * liabilities (users' available + held) plus exchange equity (the sum of EQUITY_ACCOUNTS).
 * Every system account is in exactly one of the two lists.
 */
export const CUSTODY_WALLET_ACCOUNTS: readonly SystemAccount[] = [
  "walletHot",
  "walletCold",
  "walletInFlight",
  "walletDepositAddresses",
];
export const EQUITY_ACCOUNTS: readonly SystemAccount[] = [
  "fees",
  "operatorEquity",
  "insuranceFund",
  "incidentLosses",
  "networkFees",
];

export interface RestingOrderView {
  orderId: number;
  userId: number;
  side: Side;
  priceTicks: number;
  remainingLots: number;
  clientOrderId: number;
  selfTradePrevention: SelfTradePrevention;
}

export interface StopOrderView {
  orderId: number;
  userId: number;
  side: Side;
  triggerPriceTicks: number;
  quantityLots: number;
  heldUnits: number;
  clientOrderId: number;
  selfTradePrevention: SelfTradePrevention;
}

export interface MarketView {
  config: MarketConfig;
  status: MarketStatus;
  /** 0 before the first trade. */
  lastPriceTicks: number;
  /** Best first: bids by price descending, asks ascending; within a price, oldest first. */
  bids: RestingOrderView[];
  asks: RestingOrderView[];
  /** Ascending order id. */
  stops: StopOrderView[];
}

export interface UserBalanceView {
  userId: number;
  assetId: number;
  availableUnits: number;
  heldUnits: number;
}

export interface SystemBalanceView {
  account: SystemAccount;
  assetId: number;
  balanceUnits: number;
}

export interface CoreStateView {
  lastSequence: number;
  nextTradeId: number;
  assets: AssetConfig[];
  markets: MarketView[];
  /** Users in ascending id, then assets ascending; only entries with a non-zero available or held. */
  userBalances: UserBalanceView[];
  /** Non-zero entries, by account order above then asset id. */
  systemBalances: SystemBalanceView[];
  userCount: number;
  /** Pending withdrawal holds, ascending withdrawal id. */
  withdrawalHolds: WithdrawalHoldView[];
  /** Credited deposits' keys (depositKey in wallet/deposit-keys.ts), sorted. */
  depositKeys: string[];
  /** Each API key's last accepted nonce, as [keyId, nonce], by key id. */
  apiNonces: [string, number][];
  /** Covered incident losses, by incident id then asset id. */
  incidentCovers: IncidentCoverView[];
}

export interface IncidentCoverView {
  incidentId: number;
  assetId: number;
  amountUnits: number;
  source: LossCoverSource;
}

export interface WithdrawalHoldView {
  withdrawalId: number;
  userId: number;
  assetId: number;
  amountUnits: number;
  feeUnits: number;
}

/** What both the fast core and the reference core offer. */
export interface CoreMachine {
  /** Applies commands in order, appending their events to `events`. */
  applyBatch(commands: readonly Command[], events: CoreEvent[]): void;
  exportState(): CoreStateView;
  /** Throws if a ledger or book invariant is broken. */
  checkInvariants(): void;
}

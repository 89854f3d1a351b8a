// A plain, canonical view of the whole core state, used to compare the fast core with the
// reference core in tests and to read state in tools. Everything is sorted, so two cores in the
// same logical state produce deep-equal views.

import type { Command, MarketStatus, Side } from "./commands.ts";
import type { AssetConfig, MarketConfig, SelfTradePrevention } from "./config.ts";
import type { CoreEvent } from "./events.ts";

export const SYSTEM_ACCOUNTS = [
  "fees",
  "operatorEquity",
  "walletHot",
  "walletCold",
  "insuranceFund",
  "incidentLosses",
] as const;
export type SystemAccount = (typeof SYSTEM_ACCOUNTS)[number];

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
}

/** What both the fast core and the reference core offer. */
export interface CoreMachine {
  /** Applies commands in order, appending their events to `events`. */
  applyBatch(commands: readonly Command[], events: CoreEvent[]): void;
  exportState(): CoreStateView;
  /** Throws if a ledger or book invariant is broken. */
  checkInvariants(): void;
}

// Events: everything the core tells the world. Each carries the sequence of the command that
// caused it. Amounts are integers: ticks, lots, or ledger units of an asset.

import type {
  InsuranceFundingWallet,
  LossCoverSource,
  MarketStatus,
  OrderType,
  Side,
  TimeInForce,
  WalletAccount,
} from "./commands.ts";
import type { AssetConfig, MarketConfig } from "./config.ts";

/** Why a command changed nothing. `src/gateway` maps each one to an EXMO error code in one table. */
export type RejectReason =
  | "invalidCommand"
  | "unknownMarket"
  | "marketSuspended"
  | "unknownAsset"
  | "invalidPrice"
  | "invalidQuantity"
  | "invalidNotional"
  | "insufficientFunds"
  | "postOnlyWouldTake"
  | "fokCannotFill"
  | "noLiquidity"
  | "orderNotFound"
  | "tooManyOpenOrders"
  | "tooManyStopOrders"
  | "tooManyUsers"
  | "alreadyExists"
  | "limitReached"
  /** creditDeposit: this chain + transaction + output was credited already. */
  | "duplicateDeposit"
  /** holdWithdrawal: a hold with this withdrawal id is pending. */
  | "withdrawalExists"
  /** settleWithdrawal / releaseWithdrawal: no pending hold with this id. */
  | "withdrawalNotFound"
  /** A signed request's nonce is not greater than the last one accepted for its key (a replay). */
  | "staleNonce";

/** Why an accepted order left the book (or never rested). */
export type DoneReason =
  /** Fully filled, or a marketTotal order whose money is used up to the last whole lot. */
  | "filled"
  /** Cancelled by its owner or by cancelAll / cancelByClientId. */
  | "cancelled"
  /** Cancelled by self-trade prevention. */
  | "selfTrade"
  /** IOC / market remainder that found nothing more to trade against. */
  | "expired"
  /** A market buy (or fired stop) whose money ran out before its quantity was filled. */
  | "insufficientFunds";

export interface RejectedEvent {
  type: "rejected";
  sequence: number;
  reason: RejectReason;
  /** The user the command was for, 0 when none (operator commands). */
  userId: number;
  clientOrderId: number;
}

export interface OrderAcceptedEvent {
  type: "orderAccepted";
  sequence: number;
  timestampMs: number;
  orderId: number;
  userId: number;
  marketId: number;
  side: Side;
  orderType: OrderType;
  priceTicks: number;
  quantityLots: number;
  quoteAmountUnits: number;
  triggerPriceTicks: number;
  clientOrderId: number;
  /** The command's clientOrderText, null when it had none. */
  clientOrderText: string | null;
  /** The command's time in force and post-only flag (what the order was asked to do). */
  timeInForce: TimeInForce;
  postOnly: boolean;
  /** What the order holds from the user's available balance (quote for buys, base for sells). */
  heldUnits: number;
}

export interface TradeEvent {
  type: "trade";
  sequence: number;
  timestampMs: number;
  tradeId: number;
  marketId: number;
  priceTicks: number;
  quantityLots: number;
  /** priceTicks * quantityLots * quoteUnitsPerTickLot. */
  notionalUnits: number;
  takerSide: Side;
  makerOrderId: number;
  takerOrderId: number;
  makerUserId: number;
  takerUserId: number;
  /** Buyer's fee in base units (the buyer receives base). */
  buyerFeeUnits: number;
  /** Seller's fee in quote units (the seller receives quote). */
  sellerFeeUnits: number;
}

export interface OrderDoneEvent {
  type: "orderDone";
  sequence: number;
  orderId: number;
  userId: number;
  marketId: number;
  reason: DoneReason;
  /** Unfilled lots (for marketTotal orders: 0). */
  remainingLots: number;
  /** Hold returned to the user's available balance. */
  releasedUnits: number;
}

export interface StopTriggeredEvent {
  type: "stopTriggered";
  sequence: number;
  orderId: number;
  userId: number;
  marketId: number;
  lastPriceTicks: number;
}

export interface BalanceAdjustedEvent {
  type: "balanceAdjusted";
  sequence: number;
  timestampMs: number;
  userId: number;
  assetId: number;
  amountUnits: number;
  reason: string;
}

/** After each accepted command, one per (user, asset) whose balance it changed, in first-change order: the values after the command. */
export interface BalanceEvent {
  type: "balance";
  sequence: number;
  userId: number;
  assetId: number;
  availableUnits: number;
  heldUnits: number;
}

export interface AssetAddedEvent {
  type: "assetAdded";
  sequence: number;
  asset: AssetConfig;
}

export interface MarketAddedEvent {
  type: "marketAdded";
  sequence: number;
  market: MarketConfig;
}

export interface MarketStatusChangedEvent {
  type: "marketStatusChanged";
  sequence: number;
  marketId: number;
  status: MarketStatus;
}

export interface DepositCreditedEvent {
  type: "depositCredited";
  sequence: number;
  timestampMs: number;
  userId: number;
  assetId: number;
  amountUnits: number;
  chain: string;
  txId: string;
  outputIndex: number;
}

export interface WithdrawalHeldEvent {
  type: "withdrawalHeld";
  sequence: number;
  timestampMs: number;
  withdrawalId: number;
  userId: number;
  assetId: number;
  amountUnits: number;
  feeUnits: number;
}

/** settleWithdrawal and releaseWithdrawal: the hold as it was. */
export interface WithdrawalDoneEvent {
  type: "withdrawalSettled" | "withdrawalReleased";
  sequence: number;
  timestampMs: number;
  withdrawalId: number;
  userId: number;
  assetId: number;
  amountUnits: number;
  feeUnits: number;
}

export interface WalletMovementEvent {
  type: "walletMovement";
  sequence: number;
  timestampMs: number;
  assetId: number;
  from: WalletAccount;
  to: WalletAccount;
  amountUnits: number;
  txId: string;
}

/** coverIncidentLoss: walletHot → incidentLosses → charged to `source`, all `amountUnits`. */
export interface IncidentLossCoveredEvent {
  type: "incidentLossCovered";
  sequence: number;
  timestampMs: number;
  incidentId: number;
  assetId: number;
  amountUnits: number;
  source: LossCoverSource;
}

/** fundInsurance: `wallet` holds amountUnits more coins, owned by the insurance fund. */
export interface InsuranceFundedEvent {
  type: "insuranceFunded";
  sequence: number;
  timestampMs: number;
  assetId: number;
  wallet: InsuranceFundingWallet;
  amountUnits: number;
  txId: string;
}

export type CoreEvent =
  | RejectedEvent
  | OrderAcceptedEvent
  | TradeEvent
  | OrderDoneEvent
  | StopTriggeredEvent
  | BalanceAdjustedEvent
  | BalanceEvent
  | AssetAddedEvent
  | MarketAddedEvent
  | MarketStatusChangedEvent
  | DepositCreditedEvent
  | WithdrawalHeldEvent
  | WithdrawalDoneEvent
  | WalletMovementEvent
  | IncidentLossCoveredEvent
  | InsuranceFundedEvent;

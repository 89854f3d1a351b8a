// Commands: the only way to change core state. Every command is stamped by the sequencer with
// a strictly increasing `sequence` and a `timestampMs` before the core sees it; the core reads no
// clock. A placed order's id is the sequence number of the command that placed it.

import type { AssetConfig, MarketConfig, SelfTradePrevention } from "./config.ts";

export type Side = "buy" | "sell";

/**
 * Every order type, the one list the rest of the code derives from (docs/CORE.md, "Adding an
 * order type", lists every place a new one needs). APPEND ONLY: an order type's index here is
 * its code in the journal (src/journal/command-codec.ts), so reordering would change replay.
 *
 * limit: rests at priceTicks unless IOC/FOK.
 * market: by base quantity (quantityLots); a buy spends at most the user's available quote.
 * marketTotal: by quote amount (quoteAmountUnits): a buy spends at most it, a sell receives at most it (gross).
 * stopMarket: rests as a trigger at triggerPriceTicks, then fires as a market order of quantityLots.
 */
export const ORDER_TYPES = ["limit", "market", "marketTotal", "stopMarket"] as const;
export type OrderType = (typeof ORDER_TYPES)[number];

/** Whether `value` is one of ORDER_TYPES (commands come from outside: the type is not a guarantee). */
export function isOrderType(value: unknown): value is OrderType {
  return (ORDER_TYPES as readonly unknown[]).includes(value);
}
export type TimeInForce = "gtc" | "ioc" | "fok";

export interface CommandStamp {
  sequence: number;
  timestampMs: number;
}

export interface PlaceOrderCommand extends CommandStamp {
  kind: "placeOrder";
  userId: number;
  marketId: number;
  side: Side;
  orderType: OrderType;
  /** limit only; 0 otherwise. */
  priceTicks: number;
  /** limit, market and stopMarket; 0 for marketTotal. */
  quantityLots: number;
  /** marketTotal only; 0 otherwise. */
  quoteAmountUnits: number;
  /** stopMarket only; 0 otherwise. */
  triggerPriceTicks: number;
  /** limit only; market orders behave as IOC. */
  timeInForce: TimeInForce;
  /** limit GTC only: rejected if it would take. */
  postOnly: boolean;
  /** The client's own id, 0 when none. */
  clientOrderId: number;
  /** null: the market's default. */
  selfTradePrevention: SelfTradePrevention | null;
}

export interface CancelOrderCommand extends CommandStamp {
  kind: "cancelOrder";
  userId: number;
  orderId: number;
}

/** Cancels every open order (resting or stop) of the user carrying this client id; marketId 0 = all markets. */
export interface CancelByClientIdCommand extends CommandStamp {
  kind: "cancelByClientId";
  userId: number;
  marketId: number;
  clientOrderId: number;
}

/** marketId 0 = all markets. */
export interface CancelAllCommand extends CommandStamp {
  kind: "cancelAll";
  userId: number;
  marketId: number;
}

/** Operator credit (amount > 0) or debit (amount < 0) of a user's available balance against operator equity. */
export interface AdjustBalanceCommand extends CommandStamp {
  kind: "adjustBalance";
  userId: number;
  assetId: number;
  amountUnits: number;
  /** Why, for the audit trail: 1..200 characters. */
  reason: string;
}

export interface AddAssetCommand extends CommandStamp {
  kind: "addAsset";
  asset: AssetConfig;
}

export interface AddMarketCommand extends CommandStamp {
  kind: "addMarket";
  market: MarketConfig;
}

/** Suspended markets accept cancels only; resuming lets orders in again. */
export interface SetMarketStatusCommand extends CommandStamp {
  kind: "setMarketStatus";
  marketId: number;
  status: MarketStatus;
}

export type MarketStatus = "active" | "suspended";

export type Command =
  | PlaceOrderCommand
  | CancelOrderCommand
  | CancelByClientIdCommand
  | CancelAllCommand
  | AdjustBalanceCommand
  | AddAssetCommand
  | AddMarketCommand
  | SetMarketStatusCommand;

/** A command before the sequencer stamps it. */
export type UnstampedCommand = Command extends infer C
  ? C extends Command
    ? Omit<C, "sequence" | "timestampMs">
    : never
  : never;

export const MAX_REASON_LENGTH = 200;

// Read queries the gateway answers private EXMO calls from (docs/API.md#private-endpoints) and the
// console reads. Every list is bounded by an explicit limit (≤ STORE_LIMITS.maxLimit) and offset
// (≤ STORE_LIMITS.maxOffset); every order is total (ties broken by a unique key), so paging is stable.

import type { Kysely } from "kysely";
import type { Side } from "../core/commands.ts";
import type { MarketConfig } from "../core/config.ts";
import type { DoneReason } from "../core/events.ts";
import {
  checkAssetId,
  checkId,
  checkIntegerIn,
  checkLimit,
  checkMarketId,
  checkOffset,
  checkUserId,
  STORE_LIMITS,
} from "./limits.ts";
import type {
  AssetRow,
  BalanceCause,
  BalanceHistoryRow,
  BalanceRow,
  FillRow,
  MarketRow,
  OrderRow,
  OrderStatus,
  StoreDatabase,
  TradeRow,
} from "./schema.ts";

type Db = Kysely<StoreDatabase>;

export interface OrderRecord {
  orderId: number;
  userId: number;
  marketId: number;
  side: Side;
  orderType: OrderRow["order_type"];
  priceTicks: number;
  quantityLots: number;
  quoteAmountUnits: number;
  triggerPriceTicks: number;
  clientOrderId: number;
  /** The client's id as text (the Binance dialect's), null when none. */
  clientOrderText: string | null;
  timeInForce: "gtc" | "ioc" | "fok";
  postOnly: boolean;
  heldUnits: number;
  status: OrderStatus;
  doneReason: DoneReason | null;
  filledLots: number;
  filledQuoteUnits: number;
  feeUnits: number;
  remainingLots: number;
  releasedUnits: number;
  triggeredMs: number | null;
  createdMs: number;
  updatedMs: number;
}

/** One side of a trade as its user sees it. */
export interface FillRecord {
  tradeId: number;
  orderId: number;
  userId: number;
  marketId: number;
  side: Side;
  role: "maker" | "taker";
  clientOrderId: number;
  priceTicks: number;
  quantityLots: number;
  notionalUnits: number;
  feeUnits: number;
  feeAssetId: number;
  feeRatePpm: number;
  tsMs: number;
}

export interface TradeRecord {
  tradeId: number;
  marketId: number;
  priceTicks: number;
  quantityLots: number;
  notionalUnits: number;
  takerSide: Side;
  makerOrderId: number;
  takerOrderId: number;
  makerUserId: number;
  takerUserId: number;
  buyerFeeUnits: number;
  sellerFeeUnits: number;
  tsMs: number;
}

export interface BalanceRecord {
  userId: number;
  assetId: number;
  availableUnits: number;
  heldUnits: number;
  updatedSequence: number;
}

export interface BalanceHistoryRecord {
  userId: number;
  assetId: number;
  sequence: number;
  availableUnits: number;
  heldUnits: number;
  availableDeltaUnits: number;
  heldDeltaUnits: number;
  cause: BalanceCause;
  tsMs: number;
}

export interface MarketRecord {
  marketId: number;
  symbol: string;
  status: "active" | "suspended";
  config: MarketConfig;
}

export interface AssetRecord {
  assetId: number;
  code: string;
  scale: number;
}

// ---- row mapping ---------------------------------------------------------------------------------

function toOrder(row: OrderRow): OrderRecord {
  return {
    orderId: row.order_id,
    userId: row.user_id,
    marketId: row.market_id,
    side: row.side,
    orderType: row.order_type,
    priceTicks: row.price_ticks,
    quantityLots: row.quantity_lots,
    quoteAmountUnits: row.quote_amount_units,
    triggerPriceTicks: row.trigger_price_ticks,
    clientOrderId: row.client_order_id,
    clientOrderText: row.client_order_text,
    timeInForce: row.time_in_force,
    postOnly: row.post_only === 1,
    heldUnits: row.held_units,
    status: row.status,
    // Only the projector writes this column, always from a DoneReason.
    doneReason: row.done_reason as DoneReason | null,
    filledLots: row.filled_lots,
    filledQuoteUnits: row.filled_quote_units,
    feeUnits: row.fee_units,
    remainingLots: row.remaining_lots,
    releasedUnits: row.released_units,
    triggeredMs: row.triggered_ms,
    createdMs: row.created_ms,
    updatedMs: row.updated_ms,
  };
}

function toFill(row: FillRow): FillRecord {
  return {
    tradeId: row.trade_id,
    orderId: row.order_id,
    userId: row.user_id,
    marketId: row.market_id,
    side: row.side,
    role: row.role,
    clientOrderId: row.client_order_id,
    priceTicks: row.price_ticks,
    quantityLots: row.quantity_lots,
    notionalUnits: row.notional_units,
    feeUnits: row.fee_units,
    feeAssetId: row.fee_asset_id,
    feeRatePpm: row.fee_rate_ppm,
    tsMs: row.ts_ms,
  };
}

export function toTrade(row: TradeRow): TradeRecord {
  return {
    tradeId: row.trade_id,
    marketId: row.market_id,
    priceTicks: row.price_ticks,
    quantityLots: row.quantity_lots,
    notionalUnits: row.notional_units,
    takerSide: row.taker_side,
    makerOrderId: row.maker_order_id,
    takerOrderId: row.taker_order_id,
    makerUserId: row.maker_user_id,
    takerUserId: row.taker_user_id,
    buyerFeeUnits: row.buyer_fee_units,
    sellerFeeUnits: row.seller_fee_units,
    tsMs: row.ts_ms,
  };
}

function toBalance(row: BalanceRow): BalanceRecord {
  return {
    userId: row.user_id,
    assetId: row.asset_id,
    availableUnits: row.available_units,
    heldUnits: row.held_units,
    updatedSequence: row.updated_sequence,
  };
}

function toBalanceHistory(row: BalanceHistoryRow): BalanceHistoryRecord {
  return {
    userId: row.user_id,
    assetId: row.asset_id,
    sequence: row.sequence,
    availableUnits: row.available_units,
    heldUnits: row.held_units,
    availableDeltaUnits: row.available_delta_units,
    heldDeltaUnits: row.held_delta_units,
    cause: row.cause,
    tsMs: row.ts_ms,
  };
}

function toMarket(row: MarketRow): MarketRecord {
  // config_json is written by the projector from the core's MarketConfig and never edited.
  return {
    marketId: row.market_id,
    symbol: row.symbol,
    status: row.status,
    config: JSON.parse(row.config_json) as MarketConfig,
  };
}

function toAsset(row: AssetRow): AssetRecord {
  return { assetId: row.asset_id, code: row.code, scale: row.scale };
}

// ---- orders --------------------------------------------------------------------------------------

export async function getOrder(db: Db, orderId: number): Promise<OrderRecord | undefined> {
  const row = await db
    .selectFrom("orders")
    .selectAll()
    .where("order_id", "=", checkId("orderId", orderId))
    .executeTakeFirst();
  return row === undefined ? undefined : toOrder(row);
}

/** Open orders (resting and untriggered stops) of a user, oldest first; all markets unless marketId. */
export async function openOrdersOfUser(
  db: Db,
  userId: number,
  options: { marketId?: number; limit: number },
): Promise<OrderRecord[]> {
  let query = db
    .selectFrom("orders")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("status", "=", "open");
  if (options.marketId !== undefined) query = query.where("market_id", "=", checkMarketId(options.marketId));
  const rows = await query.orderBy("order_id", "asc").limit(checkLimit(options.limit)).execute();
  return rows.map(toOrder);
}

/** Cancelled orders of a user (by the owner or by self-trade prevention), newest first. */
export async function cancelledOrdersOfUser(
  db: Db,
  userId: number,
  options: { offset: number; limit: number },
): Promise<OrderRecord[]> {
  const rows = await db
    .selectFrom("orders")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("status", "=", "cancelled")
    .orderBy("order_id", "desc")
    .limit(checkLimit(options.limit))
    .offset(checkOffset(options.offset))
    .execute();
  return rows.map(toOrder);
}

/**
 * A window of a user's orders or fills in one market (the Binance dialect's allOrders and
 * myTrades): ids from `fromId` up, oldest first; or, without fromId, the newest `limit` inside
 * [startMs, endMs], returned oldest first.
 */
export interface HistoryWindow {
  marketId: number;
  fromId?: number;
  startMs?: number;
  endMs?: number;
  limit: number;
}

function checkTime(name: string, value: number | undefined): number | undefined {
  return value === undefined ? undefined : checkIntegerIn(name, value, 0, Number.MAX_SAFE_INTEGER);
}

/** Orders of a user in one market, any status (see HistoryWindow). */
export async function ordersOfUserInMarket(
  db: Db,
  userId: number,
  window: HistoryWindow,
): Promise<OrderRecord[]> {
  let query = db
    .selectFrom("orders")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("market_id", "=", checkMarketId(window.marketId));
  const startMs = checkTime("startMs", window.startMs);
  const endMs = checkTime("endMs", window.endMs);
  if (startMs !== undefined) query = query.where("created_ms", ">=", startMs);
  if (endMs !== undefined) query = query.where("created_ms", "<=", endMs);
  const limit = checkLimit(window.limit);
  if (window.fromId !== undefined) {
    const rows = await query
      .where("order_id", ">=", checkId("fromId", window.fromId))
      .orderBy("order_id", "asc")
      .limit(limit)
      .execute();
    return rows.map(toOrder);
  }
  const rows = await query.orderBy("order_id", "desc").limit(limit).execute();
  return rows.reverse().map(toOrder);
}

/** The newest order of a user in a market carrying this client order id (0 is nobody's). */
export async function orderOfUserByClientId(
  db: Db,
  userId: number,
  marketId: number,
  clientOrderId: number,
): Promise<OrderRecord | undefined> {
  const row = await db
    .selectFrom("orders")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("client_order_id", "=", checkId("clientOrderId", clientOrderId))
    .where("market_id", "=", checkMarketId(marketId))
    .orderBy("order_id", "desc")
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? undefined : toOrder(row);
}

// ---- trades --------------------------------------------------------------------------------------

/** A user's fills in one market by trade id (see HistoryWindow), optionally of one order. */
export async function fillsOfUserInMarket(
  db: Db,
  userId: number,
  window: HistoryWindow & { orderId?: number },
): Promise<FillRecord[]> {
  let query = db
    .selectFrom("fills")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("market_id", "=", checkMarketId(window.marketId));
  if (window.orderId !== undefined) query = query.where("order_id", "=", checkId("orderId", window.orderId));
  const startMs = checkTime("startMs", window.startMs);
  const endMs = checkTime("endMs", window.endMs);
  if (startMs !== undefined) query = query.where("ts_ms", ">=", startMs);
  if (endMs !== undefined) query = query.where("ts_ms", "<=", endMs);
  const limit = checkLimit(window.limit);
  if (window.fromId !== undefined) {
    const rows = await query
      .where("trade_id", ">=", checkId("fromId", window.fromId))
      .orderBy("trade_id", "asc")
      .orderBy("side", "asc")
      .limit(limit)
      .execute();
    return rows.map(toFill);
  }
  const rows = await query.orderBy("trade_id", "desc").orderBy("side", "desc").limit(limit).execute();
  return rows.reverse().map(toFill);
}

/** A user's fills in one market, newest first (EXMO user_trades). */
export async function fillsOfUser(
  db: Db,
  userId: number,
  options: { marketId: number; offset: number; limit: number },
): Promise<FillRecord[]> {
  const rows = await db
    .selectFrom("fills")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("market_id", "=", checkMarketId(options.marketId))
    .orderBy("trade_id", "desc")
    .orderBy("side", "asc")
    .limit(checkLimit(options.limit))
    .offset(checkOffset(options.offset))
    .execute();
  return rows.map(toFill);
}

/** The fills of one order, oldest first (EXMO order_trades). */
export async function fillsOfOrder(
  db: Db,
  orderId: number,
  options: { limit: number },
): Promise<FillRecord[]> {
  const rows = await db
    .selectFrom("fills")
    .selectAll()
    .where("order_id", "=", checkId("orderId", orderId))
    .orderBy("trade_id", "asc")
    .limit(checkLimit(options.limit))
    .execute();
  return rows.map(toFill);
}

/** Trades of a market, newest first. */
export async function tradesOfMarket(
  db: Db,
  marketId: number,
  options: { offset: number; limit: number },
): Promise<TradeRecord[]> {
  const rows = await db
    .selectFrom("trades")
    .selectAll()
    .where("market_id", "=", checkMarketId(marketId))
    .orderBy("trade_id", "desc")
    .limit(checkLimit(options.limit))
    .offset(checkOffset(options.offset))
    .execute();
  return rows.map(toTrade);
}

// ---- balances ------------------------------------------------------------------------------------

/** Every asset the user has (or had) a balance in, by asset id; zero balances included. */
export async function balancesOfUser(db: Db, userId: number): Promise<BalanceRecord[]> {
  const rows = await db
    .selectFrom("balances")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .orderBy("asset_id", "asc")
    .limit(STORE_LIMITS.maxLimit)
    .execute();
  return rows.map(toBalance);
}

/** Balance changes of a user, newest first; one asset or all. */
export async function balanceHistoryOfUser(
  db: Db,
  userId: number,
  options: { assetId?: number; offset: number; limit: number },
): Promise<BalanceHistoryRecord[]> {
  let query = db.selectFrom("balance_history").selectAll().where("user_id", "=", checkUserId(userId));
  if (options.assetId !== undefined) query = query.where("asset_id", "=", checkAssetId(options.assetId));
  const rows = await query
    .orderBy("sequence", "desc")
    .orderBy("asset_id", "asc")
    .limit(checkLimit(options.limit))
    .offset(checkOffset(options.offset))
    .execute();
  return rows.map(toBalanceHistory);
}

export interface AdjustmentRecord {
  sequence: number;
  userId: number;
  assetId: number;
  amountUnits: number;
  reason: string;
  tsMs: number;
}

/** Operator credits and debits of a user, newest first (deposits and withdrawals until custody has its own). */
export async function adjustmentsOfUser(
  db: Db,
  userId: number,
  options: { offset: number; limit: number },
): Promise<AdjustmentRecord[]> {
  const rows = await db
    .selectFrom("adjustments")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .orderBy("sequence", "desc")
    .limit(checkLimit(options.limit))
    .offset(checkOffset(options.offset))
    .execute();
  return rows.map((row) => ({
    sequence: row.sequence,
    userId: row.user_id,
    assetId: row.asset_id,
    amountUnits: row.amount_units,
    reason: row.reason,
    tsMs: row.ts_ms,
  }));
}

// ---- reference data ------------------------------------------------------------------------------

export async function listMarkets(db: Db): Promise<MarketRecord[]> {
  const rows = await db.selectFrom("markets").selectAll().orderBy("market_id").limit(0xffff).execute();
  return rows.map(toMarket);
}

export async function listAssets(db: Db): Promise<AssetRecord[]> {
  const rows = await db.selectFrom("assets").selectAll().orderBy("asset_id").limit(0xffff).execute();
  return rows.map(toAsset);
}

/** The cursor of the projector: the sequence the read models are current to. */
export async function projectedSequence(db: Db): Promise<number> {
  const row = await db.selectFrom("projector_state").select("last_sequence").executeTakeFirst();
  return row?.last_sequence ?? 0;
}

// Binance answer shapes for orders and a user's trades, from the store's records (exact decimals
// from the market's integer units). The same order reads the same through EXMO's dialect
// (exmo/format.ts): ids, quantities, fills, fees and times come from the same rows.

import type { AssetConfig } from "../../core/config.ts";
import type { CoreEvent, OrderAcceptedEvent } from "../../core/events.ts";
import type { FillRecord, MarketContext, OrderRecord } from "../../exchange/boundary.ts";
import { formatUnits } from "../../units/decimal.ts";
import { binanceSymbol } from "./format.ts";
import { binanceStpName } from "./order-params.ts";
import {
  binanceClientOrderId,
  binanceOrderStatus,
  binanceOrderType,
  binanceTimeInForce,
} from "./order-vocabulary.ts";

/** Bulwark has no order lists (OCO): every order's orderListId is -1, as Binance writes it. */
const NO_ORDER_LIST = -1;

function zero(scale: number): string {
  return formatUnits(0, scale);
}

/** Base quantity of an order: asked lots, or for a quote-sized market order what it bought/sold. */
function originalLots(order: OrderRecord): number {
  return order.orderType === "marketTotal" ? order.filledLots : order.quantityLots;
}

export function clientOrderIdOf(order: OrderRecord): string {
  return binanceClientOrderId(order.orderId, order.clientOrderId, order.clientOrderText);
}

/** The fields every order answer carries (RESULT, query, cancel). */
function orderCore(market: MarketContext, order: OrderRecord) {
  const units = market.units;
  return {
    symbol: binanceSymbol(market),
    orderId: order.orderId,
    orderListId: NO_ORDER_LIST,
    clientOrderId: clientOrderIdOf(order),
    price: order.orderType === "limit" ? units.formatPrice(order.priceTicks) : zero(units.pricePrecision),
    origQty: units.formatQuantity(originalLots(order)),
    executedQty: units.formatQuantity(order.filledLots),
    cummulativeQuoteQty: units.formatQuote(order.filledQuoteUnits),
    status: binanceOrderStatus(order.status === "open" ? null : order.doneReason, order.filledLots),
    timeInForce: binanceTimeInForce(order.timeInForce),
    type: binanceOrderType(order.orderType, order.postOnly),
    side: order.side === "buy" ? "BUY" : "SELL",
  };
}

/** A stop order works once triggered; every other order from its creation. */
function workingTimeMs(order: OrderRecord): number {
  if (order.orderType !== "stopMarket") return order.createdMs;
  return order.triggeredMs ?? -1;
}

/** GET /api/v3/order, openOrders, allOrders. */
export function formatBinanceOrder(market: MarketContext, order: OrderRecord) {
  const units = market.units;
  return {
    ...orderCore(market, order),
    stopPrice:
      order.orderType === "stopMarket"
        ? units.formatPrice(order.triggerPriceTicks)
        : zero(units.pricePrecision),
    icebergQty: zero(market.base.scale),
    time: order.createdMs,
    updateTime: order.updatedMs,
    isWorking: workingTimeMs(order) !== -1,
    workingTime: workingTimeMs(order),
    origQuoteOrderQty:
      order.orderType === "marketTotal"
        ? units.formatQuote(order.quoteAmountUnits)
        : zero(market.quote.scale),
    selfTradePreventionMode: binanceStpName(market.config.selfTradePrevention),
  };
}

/** DELETE /api/v3/order and openOrders: the order as the cancel left it. */
export function formatBinanceCancel(market: MarketContext, order: OrderRecord, transactTimeMs: number) {
  return {
    ...orderCore(market, order),
    origClientOrderId: clientOrderIdOf(order),
    transactTime: transactTimeMs,
    origQuoteOrderQty:
      order.orderType === "marketTotal"
        ? market.units.formatQuote(order.quoteAmountUnits)
        : zero(market.quote.scale),
    selfTradePreventionMode: binanceStpName(market.config.selfTradePrevention),
  };
}

/** POST /api/v3/order with newOrderRespType ACK. */
export function formatBinanceAck(
  market: MarketContext,
  orderId: number,
  clientOrderId: string,
  transactTimeMs: number,
) {
  return {
    symbol: binanceSymbol(market),
    orderId,
    orderListId: NO_ORDER_LIST,
    clientOrderId,
    transactTime: transactTimeMs,
  };
}

/** POST /api/v3/order with RESULT (fills null) or FULL (its fills). */
export function formatBinanceNewOrder(
  market: MarketContext,
  order: OrderRecord,
  transactTimeMs: number,
  selfTradePreventionMode: string,
  fills: readonly FillRecord[] | null,
  feeAsset: (assetId: number) => AssetConfig | undefined,
) {
  const answer = {
    ...orderCore(market, order),
    transactTime: transactTimeMs,
    origQuoteOrderQty:
      order.orderType === "marketTotal"
        ? market.units.formatQuote(order.quoteAmountUnits)
        : zero(market.quote.scale),
    workingTime: workingTimeMs(order),
    selfTradePreventionMode,
    // Conditional fields appear only on the orders that have them, as on Binance.
    ...(order.orderType === "stopMarket"
      ? { stopPrice: market.units.formatPrice(order.triggerPriceTicks) }
      : {}),
  };
  if (fills === null) return answer;
  return {
    ...answer,
    fills: fills.map((fill) => {
      const asset = feeAsset(fill.feeAssetId);
      return {
        price: market.units.formatPrice(fill.priceTicks),
        qty: market.units.formatQuantity(fill.quantityLots),
        commission: formatUnits(fill.feeUnits, asset?.scale ?? 0),
        commissionAsset: asset?.code ?? "",
        tradeId: fill.tradeId,
      };
    }),
  };
}

/** GET /api/v3/myTrades: one side of a trade as its user sees it. */
export function formatBinanceMyTrade(
  market: MarketContext,
  fill: FillRecord,
  feeAsset: AssetConfig | undefined,
) {
  const units = market.units;
  return {
    symbol: binanceSymbol(market),
    id: fill.tradeId,
    orderId: fill.orderId,
    orderListId: NO_ORDER_LIST,
    price: units.formatPrice(fill.priceTicks),
    qty: units.formatQuantity(fill.quantityLots),
    quoteQty: units.formatQuote(fill.notionalUnits),
    commission: formatUnits(fill.feeUnits, feeAsset?.scale ?? 0),
    commissionAsset: feeAsset?.code ?? "",
    time: fill.tsMs,
    isBuyer: fill.side === "buy",
    isMaker: fill.role === "maker",
    isBestMatch: true,
  };
}

/**
 * A new order as its own command left it, from that command's events: what the store will show
 * once it has projected them (store/projection.ts folds the same events the same way), so POST
 * /api/v3/order answers RESULT and FULL without waiting for the projector. The order is the
 * taker of every trade in its command (a resting order trades as maker only in later commands).
 */
export function newOrderFromEvents(
  market: MarketContext,
  accepted: OrderAcceptedEvent,
  events: readonly CoreEvent[],
): { order: OrderRecord; fills: FillRecord[] } {
  const isBuy = accepted.side === "buy";
  const config = market.config;
  const order: OrderRecord = {
    orderId: accepted.orderId,
    userId: accepted.userId,
    marketId: accepted.marketId,
    side: accepted.side,
    orderType: accepted.orderType,
    priceTicks: accepted.priceTicks,
    quantityLots: accepted.quantityLots,
    quoteAmountUnits: accepted.quoteAmountUnits,
    triggerPriceTicks: accepted.triggerPriceTicks,
    clientOrderId: accepted.clientOrderId,
    clientOrderText: accepted.clientOrderText,
    timeInForce: accepted.timeInForce,
    postOnly: accepted.postOnly,
    heldUnits: accepted.heldUnits,
    status: "open",
    doneReason: null,
    filledLots: 0,
    filledQuoteUnits: 0,
    feeUnits: 0,
    remainingLots: accepted.quantityLots,
    releasedUnits: 0,
    triggeredMs: null,
    createdMs: accepted.timestampMs,
    updatedMs: accepted.timestampMs,
  };
  const fills: FillRecord[] = [];
  for (const event of events) {
    if (event.type === "stopTriggered" && event.orderId === order.orderId)
      order.triggeredMs = accepted.timestampMs;
    if (event.type === "trade" && event.takerOrderId === order.orderId) {
      const feeUnits = isBuy ? event.buyerFeeUnits : event.sellerFeeUnits;
      order.filledLots += event.quantityLots;
      order.filledQuoteUnits += event.notionalUnits;
      order.feeUnits += feeUnits;
      order.remainingLots = order.quantityLots === 0 ? 0 : order.quantityLots - order.filledLots;
      order.updatedMs = event.timestampMs;
      fills.push({
        tradeId: event.tradeId,
        orderId: order.orderId,
        userId: order.userId,
        marketId: event.marketId,
        side: order.side,
        role: "taker",
        clientOrderId: order.clientOrderId,
        priceTicks: event.priceTicks,
        quantityLots: event.quantityLots,
        notionalUnits: event.notionalUnits,
        feeUnits,
        feeAssetId: isBuy ? config.baseAssetId : config.quoteAssetId,
        feeRatePpm: config.takerFeePpm,
        tsMs: event.timestampMs,
      });
    }
    if (event.type === "orderDone" && event.orderId === order.orderId) {
      order.doneReason = event.reason;
      order.status =
        event.reason === "filled"
          ? "filled"
          : event.reason === "cancelled" || event.reason === "selfTrade"
            ? "cancelled"
            : "expired";
      order.remainingLots = event.remainingLots;
      order.releasedUnits = event.releasedUnits;
    }
  }
  return { order, fills };
}

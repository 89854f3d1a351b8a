// Core integers → EXMO's wire shapes (docs/API.md#conventions, docs/API.md#endpoints): decimal strings for money, seconds for
// most timestamps, milliseconds for candles, numbers for candle values.

import type { AssetConfig } from "../../core/config.ts";
import type { FillRecord, MarketContext, OrderRecord } from "../../exchange/boundary.ts";
import type { Candle } from "../../marketdata/candles.ts";
import type { DepthLevel, DepthSnapshot } from "../../marketdata/depth.ts";
import type { Ticker } from "../../marketdata/ticker.ts";
import type { PublicTrade } from "../../marketdata/trades.ts";
import { formatUnits, MAX_DECIMAL_SCALE } from "../../units/decimal.ts";
import { feePercentText } from "../../units/market-units.ts";
import type { WalletOperationRecord } from "./wallet-types.ts";

/** Extra decimals an average price gets beyond the tick, so a VWAP is not shown as a tick. */
const AVERAGE_EXTRA_DECIMALS = 8;

export function seconds(timestampMs: number): number {
  return Math.floor(timestampMs / 1000);
}

/** An exact ratio of ticks as a price, rounded down at tick precision + AVERAGE_EXTRA_DECIMALS. */
function ratioPrice(market: MarketContext, numerator: bigint, denominator: bigint): string {
  if (denominator === 0n) return "0";
  const units = market.units;
  const scale = Math.min(MAX_DECIMAL_SCALE, units.pricePrecision + AVERAGE_EXTRA_DECIMALS);
  const steps =
    (numerator * units.priceStepsPerTick * 10n ** BigInt(scale - units.pricePrecision)) / denominator;
  return formatUnits(steps, scale);
}

/**
 * EXMO's ticker object. `updated` is the time of the last event on the pair in seconds, or, for a
 * pair nothing ever happened on, `nowMs` (the server's time): never 0, which clients such as ccxt
 * read as a timestamp in 1970. Prices with nothing behind them (no bid, no trade in 24 h) are "0",
 * as EXMO writes them and ccxt reads as absent.
 */
export function formatTicker(
  market: MarketContext,
  ticker: Ticker,
  nowMs: number = Date.now(),
): Record<string, string | number> {
  const units = market.units;
  return {
    buy_price: units.formatPrice(ticker.bestBidTicks),
    sell_price: units.formatPrice(ticker.bestAskTicks),
    last_trade: units.formatPrice(ticker.lastPriceTicks),
    high: units.formatPrice(ticker.highTicks),
    low: units.formatPrice(ticker.lowTicks),
    avg: ratioPrice(market, ticker.averagePriceTicks.numerator, ticker.averagePriceTicks.denominator),
    vol: units.formatBase(ticker.volumeBaseLots * units.lotSizeBaseUnits),
    vol_curr: units.formatQuote(ticker.volumeQuoteUnits),
    updated: seconds(ticker.updatedMs > 0 ? ticker.updatedMs : nowMs),
  };
}

function bookSide(market: MarketContext, levels: readonly DepthLevel[]) {
  const units = market.units;
  let quantityLots = 0n;
  let amountUnits = 0n;
  const rows = levels.map((level) => {
    const notional = units.notionalUnits(level.priceTicks, level.quantityLots);
    quantityLots += BigInt(level.quantityLots);
    amountUnits += notional;
    return [
      units.formatPrice(level.priceTicks),
      units.formatQuantity(level.quantityLots),
      units.formatQuote(notional),
    ];
  });
  return {
    rows,
    quantity: units.formatBase(quantityLots * units.lotSizeBaseUnits),
    amount: units.formatQuote(amountUnits),
    top: levels.length === 0 ? "0" : units.formatPrice(levels[0].priceTicks),
  };
}

export function formatOrderBook(market: MarketContext, book: DepthSnapshot): Record<string, unknown> {
  const asks = bookSide(market, book.asks);
  const bids = bookSide(market, book.bids);
  return {
    ask_quantity: asks.quantity,
    ask_amount: asks.amount,
    ask_top: asks.top,
    bid_quantity: bids.quantity,
    bid_amount: bids.amount,
    bid_top: bids.top,
    ask: asks.rows,
    bid: bids.rows,
  };
}

export function formatPublicTrade(
  market: MarketContext,
  trade: PublicTrade,
): Record<string, string | number> {
  const units = market.units;
  return {
    trade_id: trade.tradeId,
    date: seconds(trade.timestampMs),
    type: trade.takerSide,
    quantity: units.formatQuantity(trade.quantityLots),
    price: units.formatPrice(trade.priceTicks),
    amount: units.formatQuote(trade.notionalUnits),
  };
}

export function formatCandle(market: MarketContext, candle: Candle): Record<string, number> {
  const units = market.units;
  // EXMO's docs show candle values as JSON numbers; a double is what every chart reads anyway.
  return {
    t: candle.openTimeMs,
    o: Number(units.formatPrice(candle.openTicks)),
    c: Number(units.formatPrice(candle.closeTicks)),
    h: Number(units.formatPrice(candle.highTicks)),
    l: Number(units.formatPrice(candle.lowTicks)),
    v: Number(units.formatBase(candle.volumeLots * units.lotSizeBaseUnits)),
  };
}

function isStop(order: OrderRecord): boolean {
  return order.orderType === "stopMarket";
}

/** A row of user_open_orders / user_cancelled_orders (docs/API.md#user-open-orders, docs/API.md#user-cancelled-orders; stop orders per docs/API.md#stop-market-orders). */
export function formatOrder(market: MarketContext, order: OrderRecord): Record<string, string> {
  const units = market.units;
  const created = String(seconds(order.createdMs));
  if (isStop(order)) {
    return {
      parent_order_id: String(order.orderId),
      client_id: String(order.clientOrderId),
      created,
      type: `stop_market_${order.side}`,
      pair: units.symbol,
      quantity: units.formatQuantity(order.remainingLots),
      trigger_price: units.formatPrice(order.triggerPriceTicks),
      amount: units.formatQuote(units.notionalUnits(order.triggerPriceTicks, order.remainingLots)),
    };
  }
  return {
    order_id: String(order.orderId),
    client_id: String(order.clientOrderId),
    created,
    type: order.side,
    pair: units.symbol,
    quantity: units.formatQuantity(order.remainingLots),
    price: units.formatPrice(order.priceTicks),
    amount: units.formatQuote(units.notionalUnits(order.priceTicks, order.remainingLots)),
  };
}

/** A row of user_trades / order_trades (docs/API.md#user-trades). */
export function formatFill(
  market: MarketContext,
  fill: FillRecord,
  feeAsset: AssetConfig | undefined,
): Record<string, string | number> {
  const units = market.units;
  const feeScale = feeAsset?.scale ?? (fill.side === "buy" ? units.baseScale : units.quoteScale);
  return {
    trade_id: fill.tradeId,
    client_id: fill.clientOrderId,
    date: seconds(fill.tsMs),
    type: fill.side,
    pair: units.symbol,
    order_id: fill.orderId,
    parent_order_id: 0,
    quantity: units.formatQuantity(fill.quantityLots),
    price: units.formatPrice(fill.priceTicks),
    amount: units.formatQuote(fill.notionalUnits),
    exec_type: fill.role,
    commission_amount: formatUnits(fill.feeUnits, feeScale),
    commission_currency: feeAsset?.code ?? "",
    commission_percent: feePercentText(fill.feeRatePpm),
  };
}

/**
 * EXMO's status words for a deposit or withdrawal, chosen for what ccxt 4.5.73's
 * parseTransactionStatus makes of them (lower-cased): "paid" → ok, "processing" → pending, and
 * "canceled" passed through as ccxt's unified "canceled" (a released hold: failed or rejected).
 */
export function walletStatusWord(operation: WalletOperationRecord): "Paid" | "Processing" | "Canceled" {
  if (operation.status === "held") return "Processing";
  if (operation.status === "released") return "Canceled";
  return "Paid";
}

/** EXMO's order_id of an operation: custody's withdrawal id (withdraw_crypt's task_id), or the deposit's operation id. */
export function walletOrderId(operation: WalletOperationRecord): number {
  return operation.kind === "withdrawal" && operation.withdrawalId !== null
    ? operation.withdrawalId
    : operation.operationId;
}

/**
 * A row of wallet_operations (docs/API.md#wallet-endpoints). `amount` is what reaches the chain
 * (for a withdrawal: the user's debit minus `commission`), because ccxt takes it as is for type
 * "withdraw"; the tx id is in `extra.txid` ("" until known), where ccxt looks for it.
 * `provider` is the currency's network (providers.ts), ccxt's `network`.
 */
export function formatWalletOperation(
  operation: WalletOperationRecord,
  asset: AssetConfig,
  provider: string = asset.code,
): Record<string, unknown> {
  const isWithdrawal = operation.kind === "withdrawal";
  const destination = operation.destination ?? "";
  return {
    operation_id: operation.operationId,
    created: seconds(operation.createdMs),
    updated: seconds(operation.updatedMs),
    type: isWithdrawal ? "withdraw" : "deposit",
    currency: asset.code,
    status: walletStatusWord(operation),
    amount: formatUnits(operation.amountUnits - operation.feeUnits, asset.scale),
    provider,
    commission: formatUnits(operation.feeUnits, asset.scale),
    account: isWithdrawal && destination !== "" ? `${asset.code}: ${destination}` : "",
    order_id: walletOrderId(operation),
    provider_type: "crypto",
    crypto_address: destination,
    card_number: "",
    wallet_address: "",
    email: "",
    phone: "",
    extra: {
      txid: operation.txId ?? "",
      confirmations: operation.confirmations,
      excode: "",
      invoice: "",
    },
    error: operation.reason ?? "",
  };
}

/**
 * A row of wallet_history's `history`. As on EXMO a withdrawal's `amount` is negative and is the
 * user's whole debit; `commission` (a Bulwark addition) is the part kept as the fee, which ccxt
 * subtracts for type "withdrawal", so ccxt reads the same amount and fee as from wallet_operations.
 * `provider` as in formatWalletOperation.
 */
export function formatWalletHistoryRow(
  operation: WalletOperationRecord,
  asset: AssetConfig,
  provider: string = asset.code,
): Record<string, unknown> {
  const isWithdrawal = operation.kind === "withdrawal";
  const amount = formatUnits(operation.amountUnits, asset.scale);
  return {
    dt: seconds(operation.createdMs),
    type: isWithdrawal ? "withdrawal" : "deposit",
    curr: asset.code,
    status: walletStatusWord(operation).toLowerCase(),
    provider,
    amount: isWithdrawal ? `-${amount}` : amount,
    commission: formatUnits(operation.feeUnits, asset.scale),
    account: isWithdrawal && operation.destination !== null ? `${asset.code}: ${operation.destination}` : "",
    txid: operation.txId ?? "",
    order_id: walletOrderId(operation),
  };
}

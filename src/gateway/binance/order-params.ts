// Binance order parameters → a placeOrder command, every check done here first with Binance's
// error for it (docs/API.md#binance-orders). Pure: the market comes from the caller, nothing is
// read or written. The order types served are exchangeInfo's (format.ts): LIMIT (GTC/IOC/FOK),
// LIMIT_MAKER (post-only), MARKET (by `quantity`, or by `quoteOrderQty` = Bulwark's marketTotal)
// and STOP_LOSS (a stop-market order at `stopPrice`).

import type { PlaceOrderCommand, TimeInForce } from "../../core/commands.ts";
import type { SelfTradePrevention } from "../../core/config.ts";
import type { MarketContext } from "../../exchange/boundary.ts";
import type { DecimalResult } from "../../units/decimal.ts";
import { BinanceFailure } from "./errors.ts";
import {
  clientOrderNumberOf,
  clientOrderTextOf,
  isValidClientOrderId,
  MAX_CLIENT_ORDER_ID_LENGTH,
} from "./order-vocabulary.ts";

type PlaceOrderRequest = Omit<PlaceOrderCommand, "sequence" | "timestampMs">;
export type NewOrderResponseType = "ACK" | "RESULT" | "FULL";

const SIDES: Readonly<Record<string, "buy" | "sell">> = { BUY: "buy", SELL: "sell" };
const TIMES_IN_FORCE: Readonly<Record<string, TimeInForce>> = { GTC: "gtc", IOC: "ioc", FOK: "fok" };
/** Binance's modes → the core's; NONE (self-trades allowed) is not offered. */
const STP_MODES: Readonly<Record<string, SelfTradePrevention>> = {
  EXPIRE_TAKER: "cancelIncoming",
  EXPIRE_MAKER: "cancelResting",
  EXPIRE_BOTH: "cancelBoth",
};
const RESPONSE_TYPES: readonly NewOrderResponseType[] = ["ACK", "RESULT", "FULL"];
/** Longest decimal text accepted for a price or quantity. */
const MAX_DECIMAL_TEXT = 40;
const ORDER_TYPES_SERVED = new Set(["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS"]);
/** Binance order types Bulwark does not offer: refused as such, not as unknown words. */
const ORDER_TYPES_NOT_SERVED = new Set(["STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]);

export type Params = Readonly<Record<string, string>>;

export interface ParsedNewOrder {
  command: PlaceOrderRequest;
  responseType: NewOrderResponseType;
  /** The STP mode the order was placed with, as Binance names it. */
  selfTradePreventionMode: string;
}

function required(params: Params, name: string): string {
  const value = params[name];
  if (value === undefined || value === "") throw new BinanceFailure("mandatoryParamMissing", name);
  return value;
}

function notAllowed(params: Params, name: string): void {
  if (params[name] !== undefined) throw new BinanceFailure("paramNotRequired", name);
}

function decimalsOf(text: string): number {
  const at = text.indexOf(".");
  return at === -1 ? 0 : text.length - at - 1;
}

/** A decimal parameter's failure as Binance says it: syntax -1100, too many decimals -1111, else the filter. */
function unwrapDecimal(
  result: DecimalResult<number>,
  name: string,
  text: string,
  scale: number,
  filter: string,
): number {
  if (result.ok) return result.value;
  if (result.failure === "tooPrecise" && decimalsOf(text) > scale)
    throw new BinanceFailure("tooMuchPrecision", name);
  if (result.failure === "tooPrecise" || result.failure === "tooLarge")
    throw new BinanceFailure("filterFailure", filter);
  throw new BinanceFailure(
    "illegalChars",
    name,
    `Illegal characters found in parameter '${name}'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.`,
  );
}

function decimalText(params: Params, name: string): string {
  const text = required(params, name);
  if (text.length > MAX_DECIMAL_TEXT) throw new BinanceFailure("illegalChars", name);
  return text;
}

function parsePriceTicks(market: MarketContext, params: Params, name: string): number {
  const text = decimalText(params, name);
  const ticks = unwrapDecimal(
    market.units.parsePrice(text),
    name,
    text,
    market.units.pricePrecision,
    "PRICE_FILTER",
  );
  if (ticks === 0 || market.units.priceLimitProblem(ticks) !== null)
    throw new BinanceFailure("filterFailure", "PRICE_FILTER");
  return ticks;
}

function parseLots(market: MarketContext, params: Params, filter: "LOT_SIZE" | "MARKET_LOT_SIZE"): number {
  const text = decimalText(params, "quantity");
  const lots = unwrapDecimal(market.units.parseQuantity(text), "quantity", text, market.base.scale, filter);
  if (lots === 0 || market.units.quantityLimitProblem(lots) !== null)
    throw new BinanceFailure("filterFailure", filter);
  return lots;
}

function parseQuoteOrderQty(market: MarketContext, params: Params): number {
  const text = decimalText(params, "quoteOrderQty");
  const units = unwrapDecimal(
    market.units.parseQuoteAmount(text),
    "quoteOrderQty",
    text,
    market.quote.scale,
    "NOTIONAL",
  );
  if (units === 0 || market.units.notionalLimitProblem(units) !== null)
    throw new BinanceFailure("filterFailure", "NOTIONAL");
  return units;
}

function checkNotional(market: MarketContext, priceTicks: number, quantityLots: number): void {
  if (market.units.notionalLimitProblem(market.units.notionalUnits(priceTicks, quantityLots)) !== null)
    throw new BinanceFailure("filterFailure", "NOTIONAL");
}

function parseEnum<T>(
  table: Readonly<Record<string, T>>,
  value: string,
  kind: "invalidSide" | "invalidTimeInForce",
): T {
  const parsed = Object.hasOwn(table, value) ? table[value] : undefined;
  if (parsed === undefined) throw new BinanceFailure(kind);
  return parsed;
}

/** newClientOrderId → the core's number and the text to journal (null for a number's digits). */
export function parseClientOrderId(
  name: string,
  text: string | undefined,
): { number: number; text: string | null } {
  if (text === undefined) return { number: 0, text: null };
  if (text.length > MAX_CLIENT_ORDER_ID_LENGTH || !isValidClientOrderId(text))
    throw new BinanceFailure(
      "illegalChars",
      name,
      `Illegal characters found in parameter '${name}'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.`,
    );
  return { number: clientOrderNumberOf(text), text: clientOrderTextOf(text) };
}

function parseResponseType(params: Params, orderType: string): NewOrderResponseType {
  const text = params.newOrderRespType;
  // Binance's default: FULL for MARKET and LIMIT, ACK for the others.
  if (text === undefined) return orderType === "MARKET" || orderType === "LIMIT" ? "FULL" : "ACK";
  if (!(RESPONSE_TYPES as readonly string[]).includes(text))
    throw new BinanceFailure("invalidParamValue", "newOrderRespType");
  return text as NewOrderResponseType;
}

function parseSelfTradePrevention(
  params: Params,
  market: MarketContext,
): { mode: SelfTradePrevention | null; name: string } {
  const text = params.selfTradePreventionMode;
  if (text === undefined) return { mode: null, name: binanceStpName(market.config.selfTradePrevention) };
  const mode = Object.hasOwn(STP_MODES, text) ? STP_MODES[text] : undefined;
  if (mode === undefined) throw new BinanceFailure("invalidParamValue", "selfTradePreventionMode");
  return { mode, name: text };
}

/** The core's STP policy as Binance names it. */
export function binanceStpName(mode: SelfTradePrevention): string {
  for (const [name, value] of Object.entries(STP_MODES)) if (value === mode) return name;
  return "EXPIRE_TAKER";
}

/** Refuses what Bulwark does not offer on any order (iceberg parts, trailing stops, strategies). */
function refuseUnoffered(params: Params): void {
  const iceberg = params.icebergQty;
  if (iceberg !== undefined && !/^0*(\.0*)?$/.test(iceberg))
    throw new BinanceFailure("invalidParamValue", "icebergQty");
  notAllowed(params, "trailingDelta");
  notAllowed(params, "pegPriceType");
}

/** POST /api/v3/order's parameters → the command (and how to answer), or a BinanceFailure. */
export function parseNewOrder(market: MarketContext, userId: number, params: Params): ParsedNewOrder {
  const side = parseEnum(SIDES, required(params, "side"), "invalidSide");
  const orderType = required(params, "type");
  if (ORDER_TYPES_NOT_SERVED.has(orderType)) throw new BinanceFailure("orderTypeNotOffered", orderType);
  if (!ORDER_TYPES_SERVED.has(orderType)) throw new BinanceFailure("invalidOrderType");
  refuseUnoffered(params);
  const clientId = parseClientOrderId("newClientOrderId", params.newClientOrderId);
  const stp = parseSelfTradePrevention(params, market);
  const base: PlaceOrderRequest = {
    kind: "placeOrder",
    userId,
    marketId: market.config.marketId,
    side,
    orderType: "limit",
    priceTicks: 0,
    quantityLots: 0,
    quoteAmountUnits: 0,
    triggerPriceTicks: 0,
    timeInForce: "gtc",
    postOnly: false,
    clientOrderId: clientId.number,
    ...(clientId.text === null ? {} : { clientOrderText: clientId.text }),
    selfTradePrevention: stp.mode,
  };
  const answer = { responseType: parseResponseType(params, orderType), selfTradePreventionMode: stp.name };
  return { command: orderFields(orderType, market, params, base), ...answer };
}

function orderFields(
  orderType: string,
  market: MarketContext,
  params: Params,
  base: PlaceOrderRequest,
): PlaceOrderRequest {
  switch (orderType) {
    case "LIMIT":
    case "LIMIT_MAKER": {
      notAllowed(params, "stopPrice");
      notAllowed(params, "quoteOrderQty");
      const timeInForce =
        orderType === "LIMIT"
          ? parseEnum(TIMES_IN_FORCE, required(params, "timeInForce"), "invalidTimeInForce")
          : "gtc";
      // A LIMIT_MAKER rests or is refused: a time in force other than GTC would contradict it.
      if (orderType === "LIMIT_MAKER" && params.timeInForce !== undefined && params.timeInForce !== "GTC")
        throw new BinanceFailure("paramNotRequired", "timeInForce");
      const quantityLots = parseLots(market, params, "LOT_SIZE");
      const priceTicks = parsePriceTicks(market, params, "price");
      checkNotional(market, priceTicks, quantityLots);
      return { ...base, priceTicks, quantityLots, timeInForce, postOnly: orderType === "LIMIT_MAKER" };
    }
    case "MARKET": {
      notAllowed(params, "price");
      notAllowed(params, "stopPrice");
      notAllowed(params, "timeInForce");
      const byQuantity = params.quantity !== undefined;
      const byQuote = params.quoteOrderQty !== undefined;
      if (byQuantity && byQuote) throw new BinanceFailure("paramNotRequired", "quoteOrderQty");
      if (!byQuantity && !byQuote) throw new BinanceFailure("quantityOrQuoteMissing");
      if (byQuote)
        return { ...base, orderType: "marketTotal", quoteAmountUnits: parseQuoteOrderQty(market, params) };
      return { ...base, orderType: "market", quantityLots: parseLots(market, params, "MARKET_LOT_SIZE") };
    }
    default: {
      // STOP_LOSS: a market order of `quantity` once the last trade reaches stopPrice.
      notAllowed(params, "price");
      notAllowed(params, "timeInForce");
      notAllowed(params, "quoteOrderQty");
      const quantityLots = parseLots(market, params, "MARKET_LOT_SIZE");
      const triggerPriceTicks = parsePriceTicks(market, params, "stopPrice");
      checkNotional(market, triggerPriceTicks, quantityLots);
      return { ...base, orderType: "stopMarket", quantityLots, triggerPriceTicks };
    }
  }
}

// EXMO v1.1 private spot endpoints (docs/API.md#private-endpoints). Writes become core
// commands through exchange.submit (durable when it resolves); reads come from the store after it
// has projected the caller's own last write (WriteWatermarks), so a client always sees what it
// just did. Wallet endpoints are in wallet-routes.ts.

import { z } from "zod";
import type { UnstampedCommand } from "../../core/commands.ts";
import type { CoreEvent } from "../../core/events.ts";
import type { CustodyPort } from "../../custody/port.ts";
import {
  type ExchangeBoundary,
  type FillRecord,
  type MarketContext,
  SequencerQueueFullError,
  STORE_LIMITS,
} from "../../exchange/boundary.ts";
import type { ReservesPort } from "../../reserves/port.ts";
import { formatUnits } from "../../units/decimal.ts";
import { formatFill, formatOrder } from "./format.ts";
import {
  checkNotional,
  optionalInteger,
  parseInteger,
  parseLimitPrice,
  parsePairList,
  parseQuantityLots,
  parseQuoteAmount,
  requireMarket,
} from "./parse.ts";
import { reservesRoutes } from "./reserves-routes.ts";
import { type CallerIdentity, ExmoFailure, type ExmoRoute, privateRoute, text } from "./route.ts";
import { walletRoutes } from "./wallet-routes.ts";
import type { WriteWatermarks } from "./write-watermarks.ts";

/**
 * Order routes carry a handful of short fields (a signed order_create is ~150 bytes): 4 KiB leaves
 * room for any client while a flood of large bodies is refused before it is buffered
 * (docs/SECURITY.md#http-limits).
 */
export const ORDER_BODY_LIMIT_BYTES = 4 * 1024;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1_000;
const MAX_USER_TRADE_PAIRS = 16;
const ID_TEXT = 16;
const DECIMAL_TEXT = 40;
const MAX_OPEN_ORDERS_READ = STORE_LIMITS.maxLimit;
const MAX_FILLS_PER_ORDER = STORE_LIMITS.maxLimit;

const ORDER_TYPES = [
  "buy",
  "sell",
  "market_buy",
  "market_sell",
  "market_buy_total",
  "market_sell_total",
] as const;
type OrderTypeText = (typeof ORDER_TYPES)[number];

export interface PrivateRouteContext {
  exchange: ExchangeBoundary;
  watermarks: WriteWatermarks;
  /** Deposits and withdrawals (wallet-routes.ts); null: not connected, the wallet writes answer 59014. */
  custody: CustodyPort | null;
  /** Proof of reserves (reserves-routes.ts); absent or null: reserves_proof answers 59035. */
  reserves?: ReservesPort | null;
}

/**
 * Submits the caller's command; a rejection becomes its EXMO error, other events are returned.
 * The command carries the signed request's nonce (the request's one durable record).
 */
/** The commands a signed request submits, which can carry its nonce. */
type SignableCommand = Extract<
  UnstampedCommand,
  { kind: "placeOrder" | "cancelOrder" | "cancelByClientId" | "cancelAll" }
>;
type PlaceOrderRequest = Extract<UnstampedCommand, { kind: "placeOrder" }>;

async function submitFor(
  context: PrivateRouteContext,
  caller: CallerIdentity,
  command: SignableCommand,
  rejectDetail?: string,
): Promise<{ sequence: number; events: CoreEvent[] }> {
  const userId = caller.userId;
  const nonce = caller.requestNonce?.take();
  let result: { sequence: number; events: CoreEvent[] };
  try {
    result = await context.exchange.submit(nonce === undefined ? command : { ...command, nonce });
  } catch (error) {
    if (error instanceof SequencerQueueFullError) throw new ExmoFailure("busy");
    throw error;
  }
  context.watermarks.record(userId, result.sequence);
  const rejected = result.events.find((event) => event.type === "rejected");
  if (rejected !== undefined) throw new ExmoFailure(rejected.reason, rejectDetail);
  return result;
}

/** Waits until the store shows everything this gateway wrote for the user. */
async function viewFor(context: PrivateRouteContext, userId: number): Promise<void> {
  await context.exchange.whenProjected(context.watermarks.sequenceFor(userId));
}

function clientId(value: string | undefined): number {
  return optionalInteger("client_id", value, 0, 0, Number.MAX_SAFE_INTEGER);
}

function baseOrder(caller: CallerIdentity, market: MarketContext, clientOrderId: number) {
  return {
    kind: "placeOrder" as const,
    userId: caller.userId,
    marketId: market.config.marketId,
    priceTicks: 0,
    quantityLots: 0,
    quoteAmountUnits: 0,
    triggerPriceTicks: 0,
    timeInForce: "gtc" as const,
    postOnly: false,
    clientOrderId,
    selfTradePrevention: null,
  };
}

interface OrderCreateParams {
  pair: string;
  quantity: string;
  price?: string;
  type: OrderTypeText;
  exec_type?: "post_only" | "ioc" | "fok";
  client_id?: string;
}

/** EXMO order_create fields → a placeOrder command, every limit checked here first (docs/API.md#order-create). */
export function orderCreateCommand(
  exchange: ExchangeBoundary,
  caller: CallerIdentity,
  params: OrderCreateParams,
): PlaceOrderRequest {
  const market = requireMarket((symbol) => exchange.marketBySymbol(symbol), params.pair);
  const base = baseOrder(caller, market, clientId(params.client_id));
  const side = params.type.includes("buy") ? ("buy" as const) : ("sell" as const);
  if (params.type !== "buy" && params.type !== "sell") {
    if (params.exec_type !== undefined) throw new ExmoFailure("invalidParameter", "exec_type");
    // ccxt sends price=0 on market orders (or the caller's price); either way it must parse.
    if (params.price !== undefined && !market.units.parsePrice(params.price).ok)
      throw new ExmoFailure("invalidParameter", "price");
    if (params.type.endsWith("_total"))
      return {
        ...base,
        side,
        orderType: "marketTotal",
        quoteAmountUnits: parseQuoteAmount(market, "quantity", params.quantity),
      };
    return {
      ...base,
      side,
      orderType: "market",
      quantityLots: parseQuantityLots(market, "quantity", params.quantity),
    };
  }
  if (params.price === undefined) throw new ExmoFailure("missingParameter", "price");
  const quantityLots = parseQuantityLots(market, "quantity", params.quantity);
  const priceTicks = parseLimitPrice(market, "price", params.price);
  checkNotional(market, priceTicks, quantityLots);
  return {
    ...base,
    side,
    orderType: "limit",
    priceTicks,
    quantityLots,
    timeInForce: params.exec_type === "ioc" || params.exec_type === "fok" ? params.exec_type : "gtc",
    postOnly: params.exec_type === "post_only",
  };
}

function orderIdOf(events: readonly CoreEvent[]): number {
  const accepted = events.find((event) => event.type === "orderAccepted");
  if (accepted === undefined)
    throw new ExmoFailure("internalError", "accepted command without orderAccepted");
  return accepted.orderId;
}

function fillTotals(fills: readonly FillRecord[], market: MarketContext) {
  let baseUnits = 0n;
  let quoteUnits = 0n;
  for (const fill of fills) {
    baseUnits += BigInt(fill.quantityLots) * market.units.lotSizeBaseUnits;
    quoteUnits += BigInt(fill.notionalUnits);
  }
  return { base: market.units.formatBase(baseUnits), quote: market.units.formatQuote(quoteUnits) };
}

function orderRoutes(context: PrivateRouteContext): ExmoRoute[] {
  const { exchange } = context;
  return [
    privateRoute({
      path: "order_create",
      nonceInCommand: true,
      summary: "Place a limit (buy/sell) or market (market_buy/_sell, market_buy_total/_sell_total) order",
      scope: "trade",
      priority: "orderEntry",
      bodyLimitBytes: ORDER_BODY_LIMIT_BYTES,
      params: z.object({
        pair: text(32),
        quantity: text(DECIMAL_TEXT),
        price: text(DECIMAL_TEXT).optional(),
        type: z.enum(ORDER_TYPES),
        exec_type: z.enum(["post_only", "ioc", "fok"]).optional(),
        client_id: text(ID_TEXT).optional(),
      }),
      handle: async (params, caller) => {
        const command = orderCreateCommand(exchange, caller, params);
        const { events } = await submitFor(context, caller, command);
        const clientOrderId = command.kind === "placeOrder" ? command.clientOrderId : 0;
        return { result: true, error: "", order_id: orderIdOf(events), client_id: clientOrderId };
      },
    }),
    privateRoute({
      path: "order_cancel",
      nonceInCommand: true,
      summary: "Cancel an open order (limit or stop) by id",
      scope: "trade",
      priority: "cancel",
      bodyLimitBytes: ORDER_BODY_LIMIT_BYTES,
      params: z.object({ order_id: text(ID_TEXT) }),
      handle: async (params, caller) => {
        const orderId = parseInteger("order_id", params.order_id, 1, Number.MAX_SAFE_INTEGER);
        await submitFor(
          context,
          caller,
          { kind: "cancelOrder", userId: caller.userId, orderId },
          String(orderId),
        );
        return { result: true, error: "" };
      },
    }),
    privateRoute({
      path: "stop_market_order_create",
      nonceInCommand: true,
      summary: "Place a stop-market order that fires when the last trade price reaches trigger_price",
      scope: "trade",
      priority: "orderEntry",
      bodyLimitBytes: ORDER_BODY_LIMIT_BYTES,
      params: z.object({
        pair: text(32),
        quantity: text(DECIMAL_TEXT),
        trigger_price: text(DECIMAL_TEXT),
        type: z.enum(["buy", "sell"]),
        client_id: text(ID_TEXT).optional(),
      }),
      handle: async (params, caller) => {
        const market = requireMarket((symbol) => exchange.marketBySymbol(symbol), params.pair);
        const clientOrderId = clientId(params.client_id);
        const quantityLots = parseQuantityLots(market, "quantity", params.quantity);
        const triggerPriceTicks = parseLimitPrice(market, "trigger_price", params.trigger_price);
        checkNotional(market, triggerPriceTicks, quantityLots);
        const command: PlaceOrderRequest = {
          ...baseOrder(caller, market, clientOrderId),
          side: params.type,
          orderType: "stopMarket",
          quantityLots,
          triggerPriceTicks,
        };
        const orderId = orderIdOf((await submitFor(context, caller, command)).events);
        return { client_id: clientOrderId, parent_order_id: orderId, parent_order_id_str: String(orderId) };
      },
    }),
    privateRoute({
      path: "stop_market_order_cancel",
      nonceInCommand: true,
      summary: "Cancel an open stop-market order by its parent_order_id",
      scope: "trade",
      priority: "cancel",
      bodyLimitBytes: ORDER_BODY_LIMIT_BYTES,
      params: z.object({ parent_order_id: text(ID_TEXT) }),
      handle: async (params, caller) => {
        const orderId = parseInteger("parent_order_id", params.parent_order_id, 1, Number.MAX_SAFE_INTEGER);
        // Only stop orders: the store says which kind it is once the caller's writes are in.
        await viewFor(context, caller.userId);
        const order = await exchange.reads.order(orderId);
        if (order === undefined || order.userId !== caller.userId || order.orderType !== "stopMarket")
          throw new ExmoFailure("orderNotFound", String(orderId));
        await submitFor(
          context,
          caller,
          { kind: "cancelOrder", userId: caller.userId, orderId },
          String(orderId),
        );
        return {};
      },
    }),
  ];
}

function readRoutes(context: PrivateRouteContext): ExmoRoute[] {
  const { exchange } = context;
  const reads = exchange.reads;
  const marketLookup = (symbol: string) => exchange.marketBySymbol(symbol);
  const marketOf = (marketId: number): MarketContext => {
    const market = exchange.market(marketId);
    if (market === undefined) throw new ExmoFailure("internalError", `unknown market ${marketId}`);
    return market;
  };
  return [
    privateRoute({
      path: "user_info",
      summary: "Available (balances) and held (reserved) money of every currency",
      scope: "info",
      priority: "privateRead",
      params: z.object({}),
      handle: async (_params, caller) => {
        await viewFor(context, caller.userId);
        const rows = await reads.balancesOfUser(caller.userId);
        const balances: Record<string, string> = {};
        const reserved: Record<string, string> = {};
        for (const asset of exchange.assets()) {
          const row = rows.find((balance) => balance.assetId === asset.assetId);
          balances[asset.code] = formatUnits(row?.availableUnits ?? 0, asset.scale);
          reserved[asset.code] = formatUnits(row?.heldUnits ?? 0, asset.scale);
        }
        return { uid: caller.userId, server_date: Math.floor(Date.now() / 1000), balances, reserved };
      },
    }),
    privateRoute({
      path: "user_open_orders",
      summary: "Open limit and stop orders, keyed by pair (optional pair filter)",
      scope: "info",
      priority: "privateRead",
      params: z.object({ pair: text(32).optional() }),
      handle: async (params, caller) => {
        const market = params.pair === undefined ? undefined : requireMarket(marketLookup, params.pair);
        await viewFor(context, caller.userId);
        const orders = await reads.openOrdersOfUser(caller.userId, {
          marketId: market?.config.marketId,
          limit: MAX_OPEN_ORDERS_READ,
        });
        const result: Record<string, Record<string, string>[]> = {};
        for (const order of orders) {
          const orderMarket = marketOf(order.marketId);
          const rows = result[orderMarket.units.symbol] ?? [];
          rows.push(formatOrder(orderMarket, order));
          result[orderMarket.units.symbol] = rows;
        }
        return result;
      },
    }),
    privateRoute({
      path: "user_trades",
      summary: "The caller's trades in one or several comma-separated pairs, newest first",
      scope: "info",
      priority: "privateRead",
      params: z.object({
        pair: text(MAX_USER_TRADE_PAIRS * 21),
        limit: text(8).optional(),
        offset: text(8).optional(),
      }),
      handle: async (params, caller) => {
        const limit = optionalInteger("limit", params.limit, DEFAULT_PAGE, 1, MAX_PAGE);
        const offset = optionalInteger("offset", params.offset, 0, 0, STORE_LIMITS.maxOffset);
        const markets = parsePairList("pair", params.pair, MAX_USER_TRADE_PAIRS).map((pair) =>
          requireMarket(marketLookup, pair),
        );
        await viewFor(context, caller.userId);
        const result: Record<string, unknown[]> = {};
        for (const market of markets) {
          const fills = await reads.fillsOfUser(caller.userId, {
            marketId: market.config.marketId,
            offset,
            limit,
          });
          result[market.units.symbol] = fills.map((fill) =>
            formatFill(market, fill, exchange.asset(fill.feeAssetId)),
          );
        }
        return result;
      },
    }),
    privateRoute({
      path: "user_cancelled_orders",
      summary: "The caller's cancelled orders, newest first, as a flat array",
      scope: "info",
      priority: "privateRead",
      params: z.object({ limit: text(8).optional(), offset: text(8).optional() }),
      handle: async (params, caller) => {
        const limit = optionalInteger("limit", params.limit, DEFAULT_PAGE, 1, MAX_PAGE);
        const offset = optionalInteger("offset", params.offset, 0, 0, STORE_LIMITS.maxOffset);
        await viewFor(context, caller.userId);
        const orders = await reads.cancelledOrdersOfUser(caller.userId, { offset, limit });
        return orders.map((order) => formatOrder(marketOf(order.marketId), order));
      },
    }),
    privateRoute({
      path: "order_trades",
      summary: "Trades of one of the caller's orders (an order without trades is not found, as on EXMO)",
      scope: "info",
      priority: "privateRead",
      params: z.object({ order_id: text(ID_TEXT) }),
      handle: async (params, caller) => {
        const orderId = parseInteger("order_id", params.order_id, 1, Number.MAX_SAFE_INTEGER);
        await viewFor(context, caller.userId);
        const order = await reads.order(orderId);
        if (order === undefined || order.userId !== caller.userId)
          throw new ExmoFailure("orderHasNoTrades", String(orderId));
        const fills = await reads.fillsOfOrder(orderId, { limit: MAX_FILLS_PER_ORDER });
        if (fills.length === 0) throw new ExmoFailure("orderHasNoTrades", String(orderId));
        const market = marketOf(order.marketId);
        const totals = fillTotals(fills, market);
        const isBuy = order.side === "buy";
        return {
          type: order.side,
          in_currency: isBuy ? market.base.code : market.quote.code,
          in_amount: isBuy ? totals.base : totals.quote,
          out_currency: isBuy ? market.quote.code : market.base.code,
          out_amount: isBuy ? totals.quote : totals.base,
          trades: fills.map((fill) => formatFill(market, fill, exchange.asset(fill.feeAssetId))),
        };
      },
    }),
    privateRoute({
      path: "margin/pair/list",
      summary:
        "Every spot pair's order limits and fees, with no leverage and no position (Bulwark has no margin " +
        "trading); ccxt reads its fees and maximum quantity here (docs/API.md#margin-pair-list)",
      scope: "info",
      priority: "privateRead",
      params: z.object({}),
      handle: () => ({ pairs: exchange.markets().map(spotPairAsMarginRow) }),
    }),
  ];
}

/**
 * One row of `margin/pair/list` for a spot pair (docs/API.md#margin-pair-list). Stock ccxt reads
 * this list, not `pair_settings`, for its default fetchTradingFees (`trade_maker_fee`,
 * `trade_taker_fee`), and takes a market's limits.amount.max as the larger of the spot and this
 * list's `max_order_quantity`, leaving it undefined for a pair missing here. So every pair is
 * listed with its spot limits and fees, and with what says no margin is offered: leverage 1 and a
 * largest position of 0. The margin order endpoints stay unserved (40015).
 */
function spotPairAsMarginRow(market: MarketContext) {
  const units = market.units;
  return {
    name: units.symbol,
    max_price_precision: units.pricePrecision,
    min_order_quantity: units.minQuantity,
    max_order_quantity: units.maxQuantity,
    min_order_price: units.minPrice,
    max_order_price: units.maxPrice,
    trade_maker_fee: units.makerFeePercent,
    trade_taker_fee: units.takerFeePercent,
    max_leverage: "1",
    default_leverage: "1",
    max_position_quantity: "0",
  };
}

export function privateRoutes(context: PrivateRouteContext): ExmoRoute[] {
  return [
    ...orderRoutes(context),
    ...readRoutes(context),
    ...walletRoutes(context),
    ...reservesRoutes({ exchange: context.exchange, reserves: context.reserves ?? null }),
  ];
}

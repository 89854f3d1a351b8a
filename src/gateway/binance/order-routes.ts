// Binance Spot API v3 order endpoints (docs/API.md#binance-orders): place, test, query, cancel one
// or all of a symbol, open orders, all orders, the caller's trades. Writes become the same core
// commands as EXMO's order_create / order_cancel / cancel-all (one implementation, two front
// doors); a write is accepted once per signature (mount.ts, replay-guard.ts). Reads come from the
// store after it has projected this gateway's last write for the user (the shared
// WriteWatermarks), so an order placed through either dialect shows at once in both.

import type { UnstampedCommand } from "../../core/commands.ts";
import type { CoreEvent } from "../../core/events.ts";
import {
  type ExchangeBoundary,
  type MarketContext,
  type OrderRecord,
  SequencerQueueFullError,
  STORE_LIMITS,
} from "../../exchange/boundary.ts";
import type { ExmoErrorKind } from "../exmo/errors.ts";
import { ORDER_BODY_LIMIT_BYTES } from "../exmo/private-routes.ts";
import type { WriteWatermarks } from "../exmo/write-watermarks.ts";
import type { BinanceCaller } from "./auth.ts";
import { BinanceFailure, binanceOrderFailure } from "./errors.ts";
import {
  clientOrderIdOf,
  formatBinanceAck,
  formatBinanceCancel,
  formatBinanceMyTrade,
  formatBinanceNewOrder,
  formatBinanceOrder,
  newOrderFromEvents,
} from "./order-format.ts";
import { type Params, parseClientOrderId, parseNewOrder } from "./order-params.ts";
import { binanceClientOrderId, generatedClientOrderIdTarget } from "./order-vocabulary.ts";
import { requireSymbol } from "./public-routes.ts";
import type { BinanceSignedRoute } from "./signed-routes.ts";

/** Binance's default and largest page of allOrders and myTrades. */
const DEFAULT_HISTORY_LIMIT = 500;
const MAX_HISTORY_LIMIT = 1_000;
/** Fills one order answer lists (FULL): an order rarely has more; the rest are in myTrades. */
const MAX_FILLS_PER_ANSWER = 1_000;
const MAX_OPEN_ORDERS_READ = STORE_LIMITS.maxLimit;
const INTEGER_TEXT = /^[0-9]{1,16}$/;

export interface BinanceOrderContext {
  exchange: ExchangeBoundary;
  watermarks?: WriteWatermarks;
}

type SubmitResult = { sequence: number; events: CoreEvent[] };

function optionalInteger(params: Params, name: string, min: number, max: number): number | undefined {
  const text = params[name];
  if (text === undefined) return undefined;
  if (text === "") throw new BinanceFailure("paramEmpty", name);
  if (!INTEGER_TEXT.test(text))
    throw new BinanceFailure(
      "illegalChars",
      name,
      `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,16}$'.`,
    );
  const value = Number(text);
  if (value < min || value > max)
    throw new BinanceFailure(
      "illegalChars",
      name,
      `Illegal characters found in parameter '${name}'; legal range is '${min}..${max}'.`,
    );
  return value;
}

/** Which order a query or cancel names: by id, or by the caller's client order id. */
type OrderName = { orderId: number } | { clientOrderNumber: number; clientOrderText: string };

function orderNameOf(params: Params): OrderName {
  const orderId = optionalInteger(params, "orderId", 1, Number.MAX_SAFE_INTEGER);
  if (orderId !== undefined) return { orderId };
  const text = params.origClientOrderId;
  if (text === undefined || text === "")
    throw new BinanceFailure(
      "mandatoryParamMissing",
      "orderId",
      "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
    );
  const generated = generatedClientOrderIdTarget(text);
  if (generated !== null) return { orderId: generated };
  return { clientOrderNumber: parseClientOrderId("origClientOrderId", text).number, clientOrderText: text };
}

export function binanceOrderRoutes(context: BinanceOrderContext): BinanceSignedRoute[] {
  const { exchange, watermarks } = context;
  const reads = exchange.reads;

  const viewFor = async (userId: number) => {
    if (watermarks !== undefined) await exchange.whenProjected(watermarks.sequenceFor(userId));
  };

  const submit = async (caller: BinanceCaller, command: UnstampedCommand): Promise<SubmitResult> => {
    let result: SubmitResult;
    try {
      result = await exchange.submit(command);
    } catch (error) {
      if (error instanceof SequencerQueueFullError) throw new BinanceFailure("serverBusy");
      throw error;
    }
    watermarks?.record(caller.userId, result.sequence);
    return result;
  };

  const refusalOf = (events: readonly CoreEvent[]) => {
    const rejected = events.find((event) => event.type === "rejected");
    return rejected === undefined ? null : binanceOrderFailure(rejected.reason as ExmoErrorKind);
  };

  /** The caller's order in `market` named by `name` as the store has it, or undefined. */
  const findOrder = async (caller: BinanceCaller, market: MarketContext, name: OrderName) => {
    await viewFor(caller.userId);
    const order =
      "orderId" in name
        ? await reads.order(name.orderId)
        : await reads.orderOfUserByClientId(caller.userId, market.config.marketId, name.clientOrderNumber);
    if (order === undefined || order.userId !== caller.userId) return undefined;
    if (order.marketId !== market.config.marketId) return undefined;
    // A hashed text names only the order that carries that very text.
    if ("clientOrderText" in name && clientOrderIdOf(order) !== name.clientOrderText) return undefined;
    return order;
  };

  const projectedOrder = async (sequence: number, orderId: number): Promise<OrderRecord> => {
    await exchange.whenProjected(sequence);
    const order = await reads.order(orderId);
    if (order === undefined) throw new BinanceFailure("unknown");
    return order;
  };

  const marketOf = (marketId: number): MarketContext => {
    const market = exchange.market(marketId);
    if (market === undefined) throw new BinanceFailure("unknown");
    return market;
  };

  const placeOrValidate = async (params: Params, caller: BinanceCaller, placing: boolean) => {
    const market = requireSymbol(exchange, params);
    const parsed = parseNewOrder(market, caller.userId, params);
    const command = parsed.command;
    if (command.clientOrderId !== 0) {
      // Binance refuses a client order id that an open order of the caller already carries.
      const existing = await findOrder(caller, market, {
        clientOrderNumber: command.clientOrderId,
        clientOrderText: binanceClientOrderId(0, command.clientOrderId, command.clientOrderText ?? null),
      });
      if (existing?.status === "open") throw new BinanceFailure("orderRejected", "Duplicate order sent.");
    }
    if (!placing) return { market, parsed, result: null };
    const result = await submit(caller, command);
    const refusal = refusalOf(result.events);
    if (refusal !== null) throw refusal;
    return { market, parsed, result };
  };

  return [
    {
      method: "POST",
      url: "/api/v3/order",
      costPath: "binance:order",
      scope: "trade",
      priority: "orderEntry",
      write: true,
      bodyLimitBytes: ORDER_BODY_LIMIT_BYTES,
      handle: async (params, caller) => {
        const { market, parsed, result } = await placeOrValidate(params, caller, true);
        if (result === null) throw new BinanceFailure("unknown");
        const accepted = result.events.find((event) => event.type === "orderAccepted");
        if (accepted === undefined) throw new BinanceFailure("unknown");
        const command = parsed.command;
        const clientOrderId = binanceClientOrderId(
          accepted.orderId,
          command.clientOrderId,
          command.clientOrderText ?? null,
        );
        if (parsed.responseType === "ACK")
          return formatBinanceAck(market, accepted.orderId, clientOrderId, accepted.timestampMs);
        // From the command's own events: no wait for the projector on the order entry path.
        const { order, fills } = newOrderFromEvents(market, accepted, result.events);
        return formatBinanceNewOrder(
          market,
          order,
          accepted.timestampMs,
          parsed.selfTradePreventionMode,
          parsed.responseType === "FULL" ? fills.slice(0, MAX_FILLS_PER_ANSWER) : null,
          (assetId) => exchange.asset(assetId),
        );
      },
    },
    {
      // Validates exactly as /api/v3/order does and places nothing (no command, no journal).
      method: "POST",
      url: "/api/v3/order/test",
      costPath: "binance:order/test",
      scope: "trade",
      priority: "orderEntry",
      bodyLimitBytes: ORDER_BODY_LIMIT_BYTES,
      handle: async (params, caller) => {
        const { market } = await placeOrValidate(params, caller, false);
        if (params.computeCommissionRates !== "true") return {};
        const rate = (ppm: number) => (ppm / 1_000_000).toFixed(6);
        return {
          standardCommissionForOrder: {
            maker: rate(market.config.makerFeePpm),
            taker: rate(market.config.takerFeePpm),
          },
          specialCommissionForOrder: { maker: "0.000000", taker: "0.000000" },
          taxCommissionForOrder: { maker: "0.000000", taker: "0.000000" },
          discount: {
            enabledForAccount: false,
            enabledForSymbol: false,
            discountAsset: "",
            discount: "0.000000",
          },
        };
      },
    },
    {
      method: "GET",
      url: "/api/v3/order",
      costPath: "binance:order:get",
      scope: "info",
      handle: async (params, caller) => {
        const market = requireSymbol(exchange, params);
        const order = await findOrder(caller, market, orderNameOf(params));
        if (order === undefined) throw new BinanceFailure("orderDoesNotExist");
        return formatBinanceOrder(market, order);
      },
    },
    {
      method: "DELETE",
      url: "/api/v3/order",
      costPath: "binance:order:delete",
      scope: "trade",
      priority: "cancel",
      write: true,
      bodyLimitBytes: ORDER_BODY_LIMIT_BYTES,
      handle: async (params, caller) => {
        const market = requireSymbol(exchange, params);
        const name = orderNameOf(params);
        const found = await findOrder(caller, market, name);
        // An order the store does not show yet (placed a moment ago through another gateway) is
        // still the core's to cancel by id; by client id it must be known here first.
        if (found === undefined && !("orderId" in name))
          throw new BinanceFailure("cancelRejected", "Unknown order sent.");
        if (found !== undefined && found.status !== "open")
          throw new BinanceFailure("cancelRejected", "Unknown order sent.");
        const orderId = found?.orderId ?? ("orderId" in name ? name.orderId : 0);
        const result = await submit(caller, { kind: "cancelOrder", userId: caller.userId, orderId });
        const refusal = refusalOf(result.events);
        if (refusal !== null) throw refusal;
        const order = await projectedOrder(result.sequence, orderId);
        if (order.marketId !== market.config.marketId) throw new BinanceFailure("unknown");
        // The cancel's time is the order's last update (the cancel command's timestamp).
        return formatBinanceCancel(market, order, order.updatedMs);
      },
    },
    {
      method: "DELETE",
      url: "/api/v3/openOrders",
      costPath: "binance:openOrders:delete",
      scope: "trade",
      priority: "cancel",
      write: true,
      bodyLimitBytes: ORDER_BODY_LIMIT_BYTES,
      handle: async (params, caller) => {
        const market = requireSymbol(exchange, params);
        const result = await submit(caller, {
          kind: "cancelAll",
          userId: caller.userId,
          marketId: market.config.marketId,
        });
        const refusal = refusalOf(result.events);
        if (refusal !== null) {
          // Nothing open in the symbol: nothing cancelled, an empty list.
          if (refusal.kind === "cancelRejected") return [];
          throw refusal;
        }
        const cancelledIds = result.events.flatMap((event) =>
          event.type === "orderDone" && event.userId === caller.userId ? [event.orderId] : [],
        );
        await exchange.whenProjected(result.sequence);
        const answers = [];
        for (const orderId of cancelledIds) {
          const order = await reads.order(orderId);
          if (order !== undefined) answers.push(formatBinanceCancel(market, order, order.updatedMs));
        }
        return answers;
      },
    },
    {
      method: "GET",
      url: "/api/v3/openOrders",
      costPath: "binance:openOrders",
      scope: "info",
      handle: async (params, caller) => {
        const market = params.symbol === undefined ? undefined : requireSymbol(exchange, params);
        await viewFor(caller.userId);
        const orders = await reads.openOrdersOfUser(caller.userId, {
          ...(market === undefined ? {} : { marketId: market.config.marketId }),
          limit: MAX_OPEN_ORDERS_READ,
        });
        return orders.map((order) => formatBinanceOrder(marketOf(order.marketId), order));
      },
    },
    {
      method: "GET",
      url: "/api/v3/allOrders",
      costPath: "binance:allOrders",
      scope: "info",
      handle: async (params, caller) => {
        const market = requireSymbol(exchange, params);
        const window = historyWindow(params, market, "orderId");
        await viewFor(caller.userId);
        const orders = await reads.ordersOfUserInMarket(caller.userId, window);
        return orders.map((order) => formatBinanceOrder(market, order));
      },
    },
    {
      method: "GET",
      url: "/api/v3/myTrades",
      costPath: "binance:myTrades",
      scope: "info",
      handle: async (params, caller) => {
        const market = requireSymbol(exchange, params);
        const window = historyWindow(params, market, "fromId");
        const orderId = optionalInteger(params, "orderId", 1, Number.MAX_SAFE_INTEGER);
        if (orderId !== undefined && window.fromId !== undefined)
          throw new BinanceFailure("badParameterCombination");
        await viewFor(caller.userId);
        const fills = await reads.fillsOfUserInMarket(caller.userId, {
          ...window,
          ...(orderId === undefined ? {} : { orderId }),
        });
        return fills.map((fill) => formatBinanceMyTrade(market, fill, exchange.asset(fill.feeAssetId)));
      },
    },
  ];
}

/** allOrders' and myTrades' window: `fromName` (orderId / fromId), startTime, endTime, limit. */
function historyWindow(params: Params, market: MarketContext, fromName: "orderId" | "fromId") {
  const fromId = optionalInteger(params, fromName, 1, Number.MAX_SAFE_INTEGER);
  const startMs = optionalInteger(params, "startTime", 0, Number.MAX_SAFE_INTEGER);
  const endMs = optionalInteger(params, "endTime", 0, Number.MAX_SAFE_INTEGER);
  if (startMs !== undefined && endMs !== undefined && startMs > endMs)
    throw new BinanceFailure("badParameterCombination");
  const limit = optionalInteger(params, "limit", 1, MAX_HISTORY_LIMIT) ?? DEFAULT_HISTORY_LIMIT;
  return {
    marketId: market.config.marketId,
    ...(fromId === undefined ? {} : { fromId }),
    ...(startMs === undefined ? {} : { startMs }),
    ...(endMs === undefined ? {} : { endMs }),
    limit,
  };
}

// What one request costs the rate limit, in points (docs/API.md#rate-limits): THE table of weights,
// one row per EXMO route path, read by the guard hook before the body is read. A point is one
// request of the cheapest kind (ticker): the defaults give 10 points/s with a burst of 20, so a
// client sending only cheap requests gets exactly EXMO's published 10 requests/s.
//
// Routes whose work grows with a `limit` parameter (order_book, trades) cost more for a bigger
// limit. The guard runs before the body is read, so only a query-string limit can be seen: a
// POST to such a route without one is charged its largest cost (ccxt sends public calls as GET,
// with the limit in the query). A pair list costs per pair, capped at MAX_COST_POINTS so every
// request stays admissible within the default burst.

/** No request costs more than this (below the default burst of 20, so every request can pass). */
export const MAX_COST_POINTS = 10;

interface RouteCost {
  /** Points at the route's default (or absent) limit. */
  basePoints: number;
  /** Routes sized by `limit`: the points for a limit above each threshold (ascending). */
  byLimit?: readonly { above: number; points: number }[];
  /** Charged per comma-separated pair in `pair`. */
  perPair?: boolean;
}

/** Rows by route path (after /v1.1/). A route not listed costs 1. */
export const ROUTE_COST_POINTS: Readonly<Record<string, RouteCost>> = {
  // Public market data: answered from snapshots rebuilt at most every 100 ms whatever the rate
  // (exmo/public-snapshots.ts), so cheap; deep books and trade lists cost a little more. The web
  // app's markets page (a ticker, and a day of hourly candles for each pair) fits in one burst.
  ticker: { basePoints: 1 },
  pair_settings: { basePoints: 1 },
  currency: { basePoints: 1 },
  "currency/list/extended": { basePoints: 1 },
  "payments/providers/crypto/list": { basePoints: 1 },
  required_amount: { basePoints: 1 },
  order_book: {
    basePoints: 1,
    byLimit: [
      { above: 100, points: 2 },
      { above: 500, points: 5 },
    ],
    perPair: true,
  },
  trades: { basePoints: 1, byLimit: [{ above: 100, points: 2 }], perPair: true },
  candles_history: { basePoints: 1 },
  // Private reads: store queries, heavier for history pages.
  user_info: { basePoints: 1 },
  user_open_orders: { basePoints: 2 },
  user_trades: { basePoints: 5 },
  user_cancelled_orders: { basePoints: 3 },
  order_trades: { basePoints: 2 },
  "margin/pair/list": { basePoints: 2 },
  deposit_address: { basePoints: 2 },
  withdraw_get_txid: { basePoints: 1 },
  wallet_history: { basePoints: 3 },
  wallet_operations: { basePoints: 3 },
  reserves_proof: { basePoints: 5 },
  // Order entry and cancels: one point each (cancels on their own budget).
  order_create: { basePoints: 1 },
  stop_market_order_create: { basePoints: 1 },
  withdraw_crypt: { basePoints: 5 },
  order_cancel: { basePoints: 1 },
  stop_market_order_cancel: { basePoints: 1 },
  // The Binance dialect's public market data (gateway/binance/), answered from 100 ms caches too;
  // deep books and long trade lists cost more, as Binance weighs them.
  "binance:ping": { basePoints: 1 },
  "binance:time": { basePoints: 1 },
  "binance:exchangeInfo": { basePoints: 2 },
  "binance:depth": {
    basePoints: 1,
    byLimit: [
      { above: 100, points: 2 },
      { above: 500, points: 5 },
    ],
  },
  "binance:trades": { basePoints: 1, byLimit: [{ above: 100, points: 2 }] },
  "binance:aggTrades": { basePoints: 1, byLimit: [{ above: 100, points: 2 }] },
  "binance:klines": { basePoints: 1, byLimit: [{ above: 500, points: 2 }] },
  "binance:ticker/24hr": { basePoints: 2 },
  "binance:ticker/price": { basePoints: 1 },
  "binance:ticker/bookTicker": { basePoints: 1 },
  "binance:avgPrice": { basePoints: 1 },
  // Its signed reads (priority privateRead): store queries like user_info; margin lists are empty.
  "binance:account": { basePoints: 2 },
  "binance:capital/config/getall": { basePoints: 2 },
  "binance:margin/allPairs": { basePoints: 1 },
  "binance:margin/isolated/allPairs": { basePoints: 1 },
  // Binance orders: entry and cancels cost what EXMO's do; history reads a little more.
  "binance:order": { basePoints: 1 },
  "binance:order/test": { basePoints: 1 },
  "binance:order:get": { basePoints: 1 },
  "binance:order:delete": { basePoints: 1 },
  "binance:openOrders:delete": { basePoints: 1 },
  "binance:openOrders": { basePoints: 2 },
  "binance:allOrders": { basePoints: 2 },
  "binance:myTrades": { basePoints: 2 },
  // Listen keys of the user data streams (POST/PUT/DELETE /api/v3/userDataStream): Binance weight 2.
  "binance:userDataStream": { basePoints: 2 },
  // Its wallet endpoints, weighed as EXMO's deposit_address, withdraw_crypt, wallet_operations.
  "binance:capital/deposit/address": { basePoints: 2 },
  "binance:capital/withdraw/apply": { basePoints: 5 },
  "binance:capital/deposit/hisrec": { basePoints: 3 },
  "binance:capital/withdraw/history": { basePoints: 3 },
  "binance:asset/tradeFee": { basePoints: 1 },
};

/** Points of a request outside EXMO's routes: /docs, /openapi.json, /metrics are whole documents. */
export const OPS_COST_POINTS: Readonly<Record<string, number>> = {
  "/docs": 2,
  "/openapi.json": 2,
  "/metrics": 2,
};

/** Longest query string looked at for `limit` and `pair` (the router bounds the rest). */
const MAX_QUERY_SCAN = 2_048;

/**
 * The points one request to `routePath` (after /v1.1/) costs. `query` is the raw query string
 * (without "?"), or undefined when there is none; `method` is the HTTP method.
 */
export function routeCostPoints(routePath: string, method: string, query: string | undefined): number {
  const row = Object.hasOwn(ROUTE_COST_POINTS, routePath) ? ROUTE_COST_POINTS[routePath] : undefined;
  if (row === undefined) return 1;
  if (row.byLimit === undefined && row.perPair !== true) return row.basePoints;
  const params = query === undefined ? null : new URLSearchParams(query.slice(0, MAX_QUERY_SCAN));
  let points = row.basePoints;
  if (row.byLimit !== undefined) {
    const limitText = params?.get("limit") ?? null;
    // A POST may carry its limit in the body, which is not read yet: charge the largest.
    const limit =
      limitText === null ? (method === "GET" ? 0 : Number.POSITIVE_INFINITY) : Number.parseInt(limitText, 10);
    for (const step of row.byLimit) if (!(limit <= step.above)) points = step.points;
  }
  if (row.perPair === true) {
    const pairText = params?.get("pair") ?? "";
    const pairs = pairText === "" ? 1 : pairText.split(",").length;
    points *= pairs;
  }
  return Math.min(MAX_COST_POINTS, Math.max(1, points));
}

// Binance Spot API v3's error table (https://developers.binance.com/docs/binance-spot-api-docs/errors):
// every refusal of the /api/v3 dialect is one of these kinds, answered as {"code":…,"msg":…}
// with Binance's HTTP status (4XX: the request was wrong; 429: the limit, 5XX: Bulwark's
// side). Messages are Binance's exact text where clients match on it (ccxt matches codes,
// freqtrade-style bots sometimes the text).

import { type ExmoErrorKind, sanitizeErrorDetail } from "../exmo/errors.ts";

export type BinanceErrorKind =
  | "unknown"
  | "tooManyRequests"
  | "serverBusy"
  | "illegalChars"
  | "tooManyParameters"
  | "mandatoryParamMissing"
  | "paramEmpty"
  | "invalidInterval"
  | "invalidSymbol"
  | "unknownEndpoint"
  | "badParameterCombination"
  | "timestampOutsideRecvWindow"
  | "badSignature"
  | "invalidListenKey"
  | "badRecvWindow"
  | "badApiKeyFormat"
  | "rejectedApiKey"
  | "replayedRequest"
  | "payloadTooLarge"
  | "malformedRequest"
  | "requestTimeout"
  // Orders (order-params.ts, order-routes.ts).
  | "tooMuchPrecision"
  | "filterFailure"
  | "invalidSide"
  | "invalidOrderType"
  | "invalidTimeInForce"
  | "orderTypeNotOffered"
  | "quantityOrQuoteMissing"
  | "orderRejected"
  | "cancelRejected"
  | "orderDoesNotExist"
  // The wallet endpoints (wallet-routes.ts), from EXMO's wallet refusals through binanceKindOfExmo.
  | "paramNotRequired"
  | "invalidParamValue"
  | "timeRangeTooLong"
  | "unknownCoin"
  | "walletNotAvailable"
  | "withdrawalsDisabled"
  | "amountNotMultipleOfUnit"
  | "belowMinimumWithdrawal"
  | "aboveWithdrawalLimit"
  | "insufficientBalance"
  | "twoFactorRequired"
  | "twoFactorInvalid"
  | "withdrawalsLocked"
  | "badAddress"
  | "addressNotInBook"
  | "addressNotActive"
  | "withdrawalNotFound";

interface BinanceErrorRow {
  code: number;
  status: number;
  /** Binance's message; `%s` is replaced by the detail (a parameter name, usually). */
  msg: string;
}

export const BINANCE_ERRORS: Readonly<Record<BinanceErrorKind, BinanceErrorRow>> = {
  unknown: { code: -1000, status: 500, msg: "An unknown error occurred while processing the request." },
  tooManyRequests: {
    code: -1003,
    status: 429,
    msg: "Too many requests; current limit of IP's request weight is exceeded. Please use WebSocket Streams for live updates to avoid polling the API.",
  },
  serverBusy: {
    code: -1008,
    status: 503,
    msg: "Server is currently overloaded with other requests. Please try again in a few minutes.",
  },
  illegalChars: { code: -1100, status: 400, msg: "Illegal characters found in parameter '%s'." },
  tooManyParameters: { code: -1101, status: 400, msg: "Too many parameters sent for this endpoint." },
  mandatoryParamMissing: {
    code: -1102,
    status: 400,
    msg: "Mandatory parameter '%s' was not sent, was empty/null, or malformed.",
  },
  paramEmpty: { code: -1105, status: 400, msg: "Parameter '%s' was empty." },
  invalidInterval: { code: -1120, status: 400, msg: "Invalid interval." },
  invalidSymbol: { code: -1121, status: 400, msg: "Invalid symbol." },
  // Binance answers an unknown path with a bare 404; Bulwark says which path in the usual shape.
  unknownEndpoint: {
    code: -1000,
    status: 404,
    msg: "Unknown endpoint: %s (docs/API.md#binance-spot-api-v3 lists the Binance endpoints Bulwark serves).",
  },
  badParameterCombination: { code: -1128, status: 400, msg: "Combination of optional parameters invalid." },
  // Signed requests (auth.ts). Every refusal of a key, its scope, its IP or its user is the one
  // -2015, as on Binance: a caller without the secret learns nothing about which check failed.
  timestampOutsideRecvWindow: {
    code: -1021,
    status: 400,
    msg: "Timestamp for this request is outside of the recvWindow.",
  },
  badSignature: { code: -1022, status: 400, msg: "Signature for this request is not valid." },
  // Listen keys (user-data/listen-keys.ts): unknown, expired, deleted, or another API key's.
  invalidListenKey: { code: -1125, status: 400, msg: "This listenKey does not exist." },
  badRecvWindow: { code: -1131, status: 400, msg: "recvWindow must be less than 60000" },
  badApiKeyFormat: { code: -2014, status: 401, msg: "API-key format invalid." },
  rejectedApiKey: { code: -2015, status: 401, msg: "Invalid API-key, IP, or permissions for action." },
  // Orders. A price, quantity or notional outside the symbol's filters is -1013 naming the filter,
  // as on Binance (ccxt raises InvalidOrder for LOT_SIZE / PRICE_FILTER bodies).
  tooMuchPrecision: { code: -1111, status: 400, msg: "Parameter '%s' has too much precision." },
  filterFailure: { code: -1013, status: 400, msg: "Filter failure: %s" },
  invalidSide: { code: -1117, status: 400, msg: "Invalid side." },
  invalidOrderType: { code: -1116, status: 400, msg: "Invalid orderType." },
  invalidTimeInForce: { code: -1115, status: 400, msg: "Invalid timeInForce." },
  orderTypeNotOffered: {
    code: -1116,
    status: 400,
    msg: "Invalid orderType. %s is not offered: exchangeInfo's orderTypes lists the ones that are.",
  },
  quantityOrQuoteMissing: {
    code: -1102,
    status: 400,
    msg: "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
  },
  // NEW_ORDER_REJECTED: the core refused the order; the message says why (BINANCE_ORDER_REJECTIONS).
  orderRejected: { code: -2010, status: 400, msg: "%s" },
  // CANCEL_REJECTED.
  cancelRejected: { code: -2011, status: 400, msg: "%s" },
  orderDoesNotExist: { code: -2013, status: 400, msg: "Order does not exist." },
  // The HTTP layer's refusals (body size, content type, slow requests), before a route runs.
  payloadTooLarge: { code: -1000, status: 413, msg: "Request body too large." },
  malformedRequest: {
    code: -1100,
    status: 400,
    msg: "Illegal characters found in the request: it does not parse.",
  },
  requestTimeout: {
    code: -1007,
    status: 408,
    msg: "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
  },
  // A signed write is accepted once per signature (replay-guard.ts); Binance has no such code, so
  // the timestamp family's: a client signs again with a fresh timestamp (ccxt: InvalidNonce).
  replayedRequest: {
    code: -1021,
    status: 400,
    msg: "Timestamp for this request is outside of the recvWindow: this signed request was already received.",
  },
  // ---- wallet (/sapi/v1/capital/..., wallet-routes.ts) ------------------------------------------
  // Binance's documented -4xxx wallet codes where one means the same refusal (its Wallet API error
  // list; ccxt 4.5.84's `spot` table names them), else the general -1xxx parameter codes. A `%s`
  // takes the refusal's detail; rows without one get it appended (binanceFailureOfExmo). Which
  // class ccxt raises for a -4xxx code depends on the URL it was given: its spot table (for
  // api.<hostname> URLs) differs from its generic table (any other URL, e.g. Bulwark's own), so
  // the balance refusal also carries Binance's exact "insufficient balance" text, which ccxt
  // matches first whatever the URL (InsufficientFunds).
  paramNotRequired: { code: -1106, status: 400, msg: "Parameter '%s' sent when not required." },
  invalidParamValue: { code: -1130, status: 400, msg: "Data sent for parameter '%s' is not valid." },
  timeRangeTooLong: { code: -4047, status: 400, msg: "Time interval must be within 0-90 days" },
  unknownCoin: { code: -4018, status: 400, msg: "We don't have this asset." },
  // Custody not connected, or the chain's wallet not set up or its signer down.
  walletNotAvailable: {
    code: -4019,
    status: 400,
    msg: "Current asset is not open for deposits and withdrawals: the wallet is not available yet, try again later.",
  },
  // Paused by an operator, the chain's breaker, or a halted signer (the detail says which).
  withdrawalsDisabled: { code: -4019, status: 400, msg: "Current asset is not open for withdrawal:" },
  amountNotMultipleOfUnit: {
    code: -4021,
    status: 400,
    msg: "Asset withdrawal must be an integer multiple of the coin's smallest unit:",
  },
  belowMinimumWithdrawal: { code: -4022, status: 400, msg: "Not less than the minimum pick-up quantity:" },
  // Per withdrawal, the user's 24 h / 30 d limits or the platform's hourly one (the detail says which).
  aboveWithdrawalLimit: { code: -4023, status: 400, msg: "The withdrawal exceeds the maximum amount:" },
  insufficientBalance: {
    code: -4026,
    status: 400,
    msg: "Account has insufficient balance for requested action.",
  },
  // TOTP proofs come from the web and the CLI, never from an API key; listed so every refusal maps.
  twoFactorRequired: { code: -4013, status: 400, msg: "2FA is not opened." },
  twoFactorInvalid: { code: -4032, status: 400, msg: "Withdraw verification exception." },
  withdrawalsLocked: {
    code: -4016,
    status: 400,
    msg: "Within 24 hours after password modification, withdrawal is prohibited.",
  },
  // Not an address of the coin's chain, or one of the exchange's own.
  badAddress: { code: -4033, status: 400, msg: "Illegal address." },
  addressNotInBook: {
    code: -4035,
    status: 400,
    msg: "This address is not on the whitelist. Please join and try again.",
  },
  addressNotActive: { code: -4036, status: 400, msg: "The new address cannot be withdrawn to yet:" },
  withdrawalNotFound: { code: -4029, status: 400, msg: "The withdrawal record does not exist." },
};

/**
 * EXMO's domain refusals (gateway/exmo/errors.ts) → this table, for the pipelines both dialects
 * share (exmo/wallet-routes.ts requestCustodyWithdrawal, depositAddresses): THE one mapping, so a
 * refusal reads the same whichever door it came through. `detail` replaces the refusal's own
 * (a parameter name). Kinds the shared pipelines never raise are absent and answer -1000.
 */
export const BINANCE_KIND_OF_EXMO: Readonly<
  Partial<Record<ExmoErrorKind, { kind: BinanceErrorKind; detail?: string }>>
> = {
  missingParameter: { kind: "mandatoryParamMissing" },
  invalidParameter: { kind: "illegalChars" },
  unknownAsset: { kind: "unknownCoin" },
  walletNotAvailable: { kind: "walletNotAvailable" },
  withdrawalsDisabled: { kind: "withdrawalsDisabled" },
  amountTooPrecise: { kind: "amountNotMultipleOfUnit" },
  badAddress: { kind: "badAddress" },
  belowMinimumWithdrawal: { kind: "belowMinimumWithdrawal" },
  aboveWithdrawalLimit: { kind: "aboveWithdrawalLimit" },
  insufficientFunds: { kind: "insufficientBalance" },
  addressNotInBook: { kind: "addressNotInBook" },
  addressNotActive: { kind: "addressNotActive" },
  twoFactorRequired: { kind: "twoFactorRequired" },
  twoFactorInvalid: { kind: "twoFactorInvalid" },
  withdrawalsLocked: { kind: "withdrawalsLocked" },
  // Binance names the parameter: the network sent is not the coin's, a memo the coin does not take.
  networkNotSupported: { kind: "invalidParamValue", detail: "network" },
  memoNotSupported: { kind: "paramNotRequired", detail: "addressTag" },
  withdrawalNotFound: { kind: "withdrawalNotFound" },
  // Custody's own key checks (withdrawScopeRequired, ipNotAllowed): authentication refuses these first.
  noPermission: { kind: "rejectedApiKey" },
  ipNotAllowed: { kind: "rejectedApiKey" },
  userBlocked: { kind: "rejectedApiKey" },
  busy: { kind: "serverBusy" },
  overloaded: { kind: "serverBusy" },
  degraded: { kind: "serverBusy" },
  internalError: { kind: "unknown" },
};

export function binanceKindOfExmo(kind: ExmoErrorKind): { kind: BinanceErrorKind; detail?: string } {
  return BINANCE_KIND_OF_EXMO[kind] ?? { kind: "unknown" };
}

/**
 * An EXMO-table refusal as Binance's: the mapped row, its `%s` filled with the detail (made safe:
 * printable, bounded), or the detail appended to a row ending in ":" (dropped otherwise).
 */
export function binanceFailureOfExmo(kind: ExmoErrorKind, detail?: string): BinanceFailure {
  const mapped = binanceKindOfExmo(kind);
  const shown = mapped.detail ?? (detail === undefined ? undefined : sanitizeErrorDetail(detail));
  const row = BINANCE_ERRORS[mapped.kind];
  if (row.msg.includes("%s")) return new BinanceFailure(mapped.kind, shown ?? "");
  if (!row.msg.endsWith(":")) return new BinanceFailure(mapped.kind, shown);
  const msg = shown === undefined || shown === "" ? row.msg.slice(0, -1) : `${row.msg} ${shown}`;
  return new BinanceFailure(mapped.kind, shown, msg);
}

/**
 * The core's order refusals (RejectReason, the same kinds EXMO's table answers) as Binance says
 * them on the order endpoints: -2010 NEW_ORDER_REJECTED with Binance's own message where it has
 * one (clients match "Account has insufficient balance for requested action." and "Order would
 * immediately match and take."), -2011 for a cancel of nothing. Kinds not listed answer -1000.
 */
export const BINANCE_ORDER_REJECTIONS: Readonly<
  Partial<Record<ExmoErrorKind, { kind: BinanceErrorKind; detail?: string }>>
> = {
  insufficientFunds: {
    kind: "orderRejected",
    detail: "Account has insufficient balance for requested action.",
  },
  postOnlyWouldTake: { kind: "orderRejected", detail: "Order would immediately match and take." },
  fokCannotFill: {
    kind: "orderRejected",
    detail: "Order would not be filled completely (FOK): nothing was traded.",
  },
  noLiquidity: {
    kind: "orderRejected",
    detail: "Order could not be filled: no liquidity on the other side.",
  },
  marketSuspended: { kind: "orderRejected", detail: "Market is closed." },
  unknownMarket: { kind: "invalidSymbol" },
  tooManyOpenOrders: { kind: "orderRejected", detail: "Filter failure: MAX_NUM_ORDERS" },
  tooManyStopOrders: { kind: "orderRejected", detail: "Filter failure: MAX_NUM_ALGO_ORDERS" },
  invalidPrice: { kind: "filterFailure", detail: "PRICE_FILTER" },
  invalidQuantity: { kind: "filterFailure", detail: "LOT_SIZE" },
  invalidNotional: { kind: "filterFailure", detail: "NOTIONAL" },
  invalidCommand: { kind: "orderRejected", detail: "The order's parameters do not go together." },
  limitReached: { kind: "orderRejected", detail: "Filter failure: MAX_NUM_ORDERS" },
  orderNotFound: { kind: "cancelRejected", detail: "Unknown order sent." },
  busy: { kind: "serverBusy" },
};

/** A core refusal of an order or cancel (RejectReason) as the Binance failure to answer. */
export function binanceOrderFailure(reason: ExmoErrorKind): BinanceFailure {
  const mapped = BINANCE_ORDER_REJECTIONS[reason] ?? { kind: "unknown" as const };
  return new BinanceFailure(mapped.kind, mapped.detail);
}

export interface BinanceErrorBody {
  code: number;
  msg: string;
}

/** A refusal raised by a Binance route; the mount answers it with the table's status and body. */
export class BinanceFailure extends Error {
  constructor(
    readonly kind: BinanceErrorKind,
    readonly detail?: string,
    /** A message replacing the table's (Binance's -1100 family names the exact problem). */
    readonly overrideMsg?: string,
  ) {
    super(`${kind}${detail === undefined ? "" : `: ${detail}`}`);
  }
}

export function binanceError(kind: BinanceErrorKind, detail?: string, overrideMsg?: string) {
  const row = BINANCE_ERRORS[kind];
  const msg = overrideMsg ?? row.msg.replace("%s", detail ?? "");
  return { status: row.status, body: { code: row.code, msg } satisfies BinanceErrorBody };
}

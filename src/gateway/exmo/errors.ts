// THE table from every domain error to EXMO's `{code, message}`. Nothing else in the gateway
// invents an error code. The wire form is `{"result":false,"error":"Error NNNNN: text"}`
// (docs/API.md#errors); ccxt takes the second word before the first colon as the code, looks it up
// in its exact table, then matches its broad substrings against the whole message, and
// otherwise throws ExchangeError.
//
// Codes come from ccxt 4.5.73's exact table wherever one fits the meaning, so ccxt raises the
// right exception class. Errors with no known EXMO code get Bulwark codes in 59001..59999, a
// range with no known EXMO meaning, so a client keyed on real EXMO codes never misreads them;
// ccxt raises ExchangeError for those. Each row says why.

import type { RejectReason } from "../../core/events.ts";

/** The ccxt exception class a client gets for an error body (ccxt 4.5.73 `exmo.handleErrors`). */
export type CcxtErrorClass =
  | "AuthenticationError"
  | "BadRequest"
  | "ExchangeError"
  | "InsufficientFunds"
  | "InvalidNonce"
  | "InvalidOrder"
  | "OnMaintenance"
  | "OrderNotFound"
  | "PermissionDenied"
  | "RateLimitExceeded";

/** Errors found by the gateway itself, before or instead of the core. */
export type GatewayError =
  | "badSignature"
  | "invalidNonce"
  | "nonceMissing"
  | "nonceMalformed"
  | "nonceNotPositive"
  | "nonceTooLarge"
  | "nonceTooFarAhead"
  | "unknownFunction"
  | "maintenance"
  | "unknownApiKey"
  | "noPermission"
  | "ipNotAllowed"
  | "userBlocked"
  | "rateLimited"
  | "missingParameter"
  | "invalidParameter"
  | "unknownPair"
  | "priceTooLow"
  | "priceTooHigh"
  | "quantityTooLow"
  | "quantityTooHigh"
  | "amountOutOfRange"
  | "tooPrecise"
  | "orderHasNoTrades"
  | "walletNotAvailable"
  | "withdrawalsDisabled"
  | "candleRangeTooLong"
  | "busy"
  | "payloadTooLarge"
  | "requestTimeout"
  | "internalError";

export type ExmoErrorKind = RejectReason | GatewayError;

export interface ExmoErrorEntry {
  code: number;
  /** Message without a detail. */
  text: string;
  /** Message with a detail put at `{}`; rows without one append the detail after ": ". */
  detailTemplate?: string;
  /** What ccxt 4.5.73 raises for this row (checked by test/gateway/exmo/errors.test.ts). */
  ccxtClass: CcxtErrorClass;
}

/** Longest detail put into a message: details can echo client input (parameter names, ids). */
export const MAX_ERROR_DETAIL_LENGTH = 120;

// Codes with no EXMO equivalent known to us (see the header comment).
const BULWARK_INVALID_PARAMETER = 59001;
const BULWARK_INVALID_COMMAND = 59002;
const BULWARK_UNKNOWN_PAIR = 59003;
const BULWARK_PAIR_SUSPENDED = 59004;
const BULWARK_UNKNOWN_CURRENCY = 59005;
const BULWARK_POST_ONLY = 59006;
const BULWARK_FOK = 59007;
const BULWARK_NO_LIQUIDITY = 59008;
const BULWARK_TOO_MANY_OPEN_ORDERS = 59009;
const BULWARK_TOO_MANY_STOP_ORDERS = 59010;
const BULWARK_TOO_MANY_USERS = 59011;
const BULWARK_ALREADY_EXISTS = 59012;
const BULWARK_CAPACITY = 59013;
const BULWARK_WALLET_NOT_AVAILABLE = 59014;
const BULWARK_WITHDRAWALS_DISABLED = 59015;
const BULWARK_CANDLE_RANGE = 59016;
const BULWARK_BUSY = 59017;
const BULWARK_PAYLOAD_TOO_LARGE = 59018;
const BULWARK_REQUEST_TIMEOUT = 59019;
// Custody's core rejections (issue 7 §1): custody submits these commands, so a client sees
// them only through a wallet endpoint that reports a deposit's or withdrawal's failure.
const BULWARK_DUPLICATE_DEPOSIT = 59020;
const BULWARK_WITHDRAWAL_EXISTS = 59021;
const BULWARK_WITHDRAWAL_NOT_FOUND = 59022;
const BULWARK_INTERNAL = 59999;

export const EXMO_ERRORS: { readonly [K in ExmoErrorKind]: ExmoErrorEntry } = {
  // ---- core RejectReasons -------------------------------------------------------------------
  // Fields inconsistent with the order type: the gateway's validation should have caught it, so
  // reaching the core means a gateway bug or an odd combination. No EXMO code is known.
  invalidCommand: {
    code: BULWARK_INVALID_COMMAND,
    text: "Invalid order parameters",
    ccxtClass: "ExchangeError",
  },
  // Private endpoints naming a pair we do not list (public ones leave it out instead, docs/API.md#errors).
  unknownMarket: { code: BULWARK_UNKNOWN_PAIR, text: "Pair is not supported", ccxtClass: "ExchangeError" },
  // Not 40016: that tells ccxt the whole exchange is down (OnMaintenance, retried); a suspended
  // pair is an operator decision about one market.
  marketSuspended: {
    code: BULWARK_PAIR_SUSPENDED,
    text: "Trading on this pair is suspended",
    ccxtClass: "ExchangeError",
  },
  unknownAsset: {
    code: BULWARK_UNKNOWN_CURRENCY,
    text: "Currency is not supported",
    ccxtClass: "ExchangeError",
  },
  // The core does not say which bound; the gateway checks first and uses priceTooLow/High.
  // 50319 keeps ccxt's InvalidOrder.
  invalidPrice: {
    code: 50319,
    text: "Price by order is outside the permissible range for this pair",
    ccxtClass: "InvalidOrder",
  },
  // 50277 is EXMO's "Quantity by order is less than permissible minimum"; same family.
  invalidQuantity: {
    code: 50277,
    text: "Quantity by order is outside the permissible range for this pair",
    ccxtClass: "InvalidOrder",
  },
  // EXMO's code for amount limits is unknown; 50277 (quantity limits) keeps ccxt's InvalidOrder,
  // and the client fixes it by changing the quantity.
  invalidNotional: {
    code: 50277,
    text: "Amount by order is outside the permissible range for this pair",
    ccxtClass: "InvalidOrder",
  },
  insufficientFunds: { code: 50052, text: "Insufficient funds", ccxtClass: "InsufficientFunds" },
  // ccxt's exmo has no code for these three; InvalidOrder codes all mean "outside pair limits",
  // which would mislead. Distinct codes, ExchangeError, with a message that says what happened.
  postOnlyWouldTake: {
    code: BULWARK_POST_ONLY,
    text: "Post-only order would be executed immediately",
    ccxtClass: "ExchangeError",
  },
  fokCannotFill: {
    code: BULWARK_FOK,
    text: "Fill-or-kill order cannot be filled completely",
    ccxtClass: "ExchangeError",
  },
  noLiquidity: {
    code: BULWARK_NO_LIQUIDITY,
    text: "There are no orders to execute a market order against",
    ccxtClass: "ExchangeError",
  },
  // EXMO's text for cancelling an unknown, closed or cancelled order; ccxt: OrderNotFound.
  orderNotFound: {
    code: 50173,
    text: "Order was not found.",
    detailTemplate: "Order with id {} was not found.",
    ccxtClass: "OrderNotFound",
  },
  tooManyOpenOrders: {
    code: BULWARK_TOO_MANY_OPEN_ORDERS,
    text: "Too many open orders",
    ccxtClass: "ExchangeError",
  },
  tooManyStopOrders: {
    code: BULWARK_TOO_MANY_STOP_ORDERS,
    text: "Too many stop orders on this pair",
    ccxtClass: "ExchangeError",
  },
  tooManyUsers: { code: BULWARK_TOO_MANY_USERS, text: "User limit reached", ccxtClass: "ExchangeError" },
  alreadyExists: { code: BULWARK_ALREADY_EXISTS, text: "Already exists", ccxtClass: "ExchangeError" },
  limitReached: {
    code: BULWARK_CAPACITY,
    text: "Exchange capacity limit reached",
    ccxtClass: "ExchangeError",
  },
  duplicateDeposit: {
    code: BULWARK_DUPLICATE_DEPOSIT,
    text: "Deposit already credited",
    ccxtClass: "ExchangeError",
  },
  withdrawalExists: {
    code: BULWARK_WITHDRAWAL_EXISTS,
    text: "Withdrawal already exists",
    ccxtClass: "ExchangeError",
  },
  withdrawalNotFound: {
    code: BULWARK_WITHDRAWAL_NOT_FOUND,
    text: "Withdrawal not found",
    ccxtClass: "ExchangeError",
  },

  // ---- gateway errors ------------------------------------------------------------------------
  // ccxt's exact table, with the wording from its comments where it quotes EXMO.
  badSignature: {
    code: 40005,
    text: "Authorization error, incorrect signature",
    ccxtClass: "AuthenticationError",
  },
  // A repeated or lower nonce (docs/API.md#nonce). EXMO's text; ccxt: InvalidNonce.
  invalidNonce: {
    code: 40009,
    text: "The nonce parameter is less or equal than what was used before",
    ccxtClass: "InvalidNonce",
  },
  // The other nonce refusals share EXMO's 40009 (ccxt: InvalidNonce), each with a text that says
  // what is wrong instead of claiming the nonce was used before.
  nonceMissing: {
    code: 40009,
    text: "The nonce parameter is missing",
    ccxtClass: "InvalidNonce",
  },
  nonceMalformed: {
    code: 40009,
    text: "The nonce parameter must be a whole number in plain decimal digits",
    ccxtClass: "InvalidNonce",
  },
  nonceNotPositive: {
    code: 40009,
    text: "The nonce parameter must be greater than zero",
    ccxtClass: "InvalidNonce",
  },
  nonceTooLarge: {
    code: 40009,
    text: "The nonce parameter is above 9007199254740991 (2^53 - 1)",
    ccxtClass: "InvalidNonce",
  },
  nonceTooFarAhead: {
    code: 40009,
    text: "The nonce parameter is more than one day ahead of the server clock read as milliseconds",
    ccxtClass: "InvalidNonce",
  },
  // EXMO's wire text; the detail is the path, e.g. "/v1.1/nope/".
  unknownFunction: {
    code: 40015,
    text: "API function do not exist",
    detailTemplate: "API function do not exist - {}",
    ccxtClass: "ExchangeError",
  },
  maintenance: { code: 40016, text: "Maintenance work in progress", ccxtClass: "OnMaintenance" },
  unknownApiKey: { code: 40017, text: "Wrong API Key", ccxtClass: "AuthenticationError" },
  noPermission: { code: 40032, text: "Access is denied for this API key", ccxtClass: "PermissionDenied" },
  // The key's IP allow-list does not contain the caller: same class as a missing scope.
  ipNotAllowed: {
    code: 40032,
    text: "Access is denied for this API key from this IP address",
    ccxtClass: "PermissionDenied",
  },
  userBlocked: {
    code: 40033,
    text: "Access is denied, this resources are temporarily blocked to user",
    ccxtClass: "PermissionDenied",
  },
  rateLimited: {
    code: 40034,
    text: "Access is denied, rate limit is exceeded",
    ccxtClass: "RateLimitExceeded",
  },
  // EXMO's wire text; ccxt has no row for 50013, so ExchangeError.
  missingParameter: {
    code: 50013,
    text: "Parameter is not specified",
    detailTemplate: "Parameter '{}' is not specified",
    ccxtClass: "ExchangeError",
  },
  // A value that does not parse (bad decimal, non-integer id). The words "invalid syntax" are
  // one of ccxt's broad matches and make this BadRequest, which is what it is.
  invalidParameter: {
    code: BULWARK_INVALID_PARAMETER,
    text: "Parameter has invalid syntax",
    detailTemplate: "Parameter '{}' has invalid syntax",
    ccxtClass: "BadRequest",
  },
  unknownPair: {
    code: BULWARK_UNKNOWN_PAIR,
    text: "Pair is not supported",
    detailTemplate: "Pair '{}' is not supported",
    ccxtClass: "ExchangeError",
  },
  // The four InvalidOrder codes of ccxt's table, each for the limit it names.
  priceTooLow: {
    code: 50319,
    text: "Price by order is less than permissible minimum for this pair",
    ccxtClass: "InvalidOrder",
  },
  priceTooHigh: {
    code: 50321,
    text: "Price by order is more than permissible maximum for this pair",
    ccxtClass: "InvalidOrder",
  },
  quantityTooLow: {
    code: 50277,
    text: "Quantity by order is less than permissible minimum for this pair",
    ccxtClass: "InvalidOrder",
  },
  // EXMO's own code for the maximum is unknown; 50277 keeps InvalidOrder.
  quantityTooHigh: {
    code: 50277,
    text: "Quantity by order is more than permissible maximum for this pair",
    ccxtClass: "InvalidOrder",
  },
  amountOutOfRange: {
    code: 50277,
    text: "Amount by order is outside the permissible range for this pair",
    ccxtClass: "InvalidOrder",
  },
  // A price off the tick grid or a quantity that is not whole lots; detail names the field
  // and pair, e.g. "price for pair BTC_USD".
  tooPrecise: {
    code: 50381,
    text: "More decimal places than permitted for this pair",
    ccxtClass: "InvalidOrder",
  },
  // order_trades for an order with no trades, or none at all (docs/API.md#order-trades).
  orderHasNoTrades: {
    code: 50304,
    text: "Order was not found",
    detailTemplate: "Order was not found '{}'",
    ccxtClass: "OrderNotFound",
  },
  // Deposit address not derived yet, or the chain's wallet not connected.
  walletNotAvailable: {
    code: BULWARK_WALLET_NOT_AVAILABLE,
    text: "Wallet is not available yet, try again later",
    ccxtClass: "ExchangeError",
  },
  // The chain's breaker is tripped or withdrawals are paused by an operator (docs/SECURITY.md#custody-targets).
  withdrawalsDisabled: {
    code: BULWARK_WITHDRAWALS_DISABLED,
    text: "Withdrawals of this currency are temporarily disabled",
    ccxtClass: "ExchangeError",
  },
  // candles_history asked for more candles than one answer holds; the words "range period is too
  // long" are ccxt's broad match for BadRequest, so ccxt users see the class the problem has.
  candleRangeTooLong: {
    code: BULWARK_CANDLE_RANGE,
    text: "Candles range period is too long",
    ccxtClass: "BadRequest",
  },
  // The sequencer's input queue is full: nothing was done, the client may retry. Not 40016
  // (OnMaintenance says the whole exchange is down) and not 40034 (the client did nothing wrong).
  busy: { code: BULWARK_BUSY, text: "Exchange is busy, try again later", ccxtClass: "ExchangeError" },
  // Body, header or parameter count beyond the gateway's limits (docs/SECURITY.md#http-limits).
  payloadTooLarge: {
    code: BULWARK_PAYLOAD_TOO_LARGE,
    text: "Request is too large",
    ccxtClass: "ExchangeError",
  },
  // The headers or the whole request did not arrive within the HTTP limits (HTTP 408).
  requestTimeout: {
    code: BULWARK_REQUEST_TIMEOUT,
    text: "Request was not received in time",
    ccxtClass: "ExchangeError",
  },
  internalError: { code: BULWARK_INTERNAL, text: "Internal error", ccxtClass: "ExchangeError" },
};

export interface ExmoError {
  code: number;
  message: string;
}

export interface ExmoErrorBody {
  result: false;
  error: string;
}

const PLACEHOLDER = "{}";
// Controls, and any character outside printable ASCII: the message lands in logs and JSON.
const UNPRINTABLE = /[^\x20-\x7e]/g;
// ccxt's broad-match substrings (exmo.js `exceptions.broad`). A detail echoing client input must
// not contain one, or it would change the exception class the row promises.
const CCXT_BROAD_SUBSTRINGS = ["range period is too long", "invalid syntax", "API rate limit exceeded"];

/** Makes a detail safe to embed: printable ASCII, bounded length, no ccxt broad-match phrase. */
export function sanitizeErrorDetail(detail: string): string {
  let safe = detail.replace(UNPRINTABLE, "?");
  if (safe.length > MAX_ERROR_DETAIL_LENGTH) safe = `${safe.slice(0, MAX_ERROR_DETAIL_LENGTH)}...`;
  for (const phrase of CCXT_BROAD_SUBSTRINGS) {
    safe = safe.replaceAll(phrase, phrase.replaceAll(" ", "_"));
  }
  return safe;
}

/** `{code, message}` of a domain error; used for REST bodies and WS `error` frames alike. */
export function exmoError(kind: ExmoErrorKind, detail?: string): ExmoError {
  const entry = EXMO_ERRORS[kind];
  if (detail === undefined || detail === "") return { code: entry.code, message: entry.text };
  const safe = sanitizeErrorDetail(detail);
  const message =
    entry.detailTemplate === undefined
      ? `${entry.text}: ${safe}`
      : entry.detailTemplate.replace(PLACEHOLDER, () => safe);
  return { code: entry.code, message };
}

/** The canonical EXMO failure body: `{ result: false, error: "Error NNNNN: text" }`. */
export function exmoErrorBody(kind: ExmoErrorKind, detail?: string): ExmoErrorBody {
  const { code, message } = exmoError(kind, detail);
  return { result: false, error: `Error ${code}: ${message}` };
}

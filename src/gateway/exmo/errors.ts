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
import type { CustodyErrorCode } from "../../custody/port.ts";

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
  | "degraded"
  | "overloaded"
  | "internalError";

/** Custody's refusals of a wallet request (deposit_address, withdraw_crypt), see CUSTODY_ERRORS. */
export type WalletError =
  | "amountTooPrecise"
  | "badAddress"
  | "belowMinimumWithdrawal"
  | "aboveWithdrawalLimit"
  | "addressNotInBook"
  | "addressNotActive"
  | "twoFactorRequired"
  | "twoFactorInvalid"
  | "withdrawalsLocked"
  | "networkNotSupported"
  | "memoNotSupported"
  | "withdrawalWrongStep"
  | "approvalRefused"
  | "reservesProofNotFound";

export type ExmoErrorKind = RejectReason | GatewayError | WalletError;

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
// Custody's refusals of a withdrawal (src/custody/port.ts CustodyErrorCode): EXMO's codes for
// them are unknown, and ccxt 4.5.73's exmo has no code or phrase for InvalidAddress, so these
// are ExchangeError; the message says what to fix.
const BULWARK_BAD_ADDRESS = 59023;
const BULWARK_BELOW_MINIMUM = 59024;
const BULWARK_ABOVE_LIMIT = 59025;
const BULWARK_ADDRESS_NOT_IN_BOOK = 59026;
const BULWARK_ADDRESS_NOT_ACTIVE = 59027;
const BULWARK_TWO_FACTOR_REQUIRED = 59028;
const BULWARK_TWO_FACTOR_INVALID = 59029;
const BULWARK_WITHDRAWALS_LOCKED = 59030;
const BULWARK_NETWORK_NOT_SUPPORTED = 59031;
const BULWARK_MEMO_NOT_SUPPORTED = 59032;
const BULWARK_WITHDRAWAL_WRONG_STEP = 59033;
const BULWARK_APPROVAL_REFUSED = 59034;
// Proof of reserves (issue 8 §6): reserves_proof when nothing was published, or the caller held none.
const BULWARK_RESERVES_PROOF_NOT_FOUND = 59035;
// Degraded mode (issue 10 §3, docs/SECURITY.md#degraded-mode): an operator switched it on.
const BULWARK_DEGRADED = 59036;
// Load shedding (issue 10 §3): the gateway is under pressure and this class is shed first.
const BULWARK_OVERLOADED = 59037;
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
  // The same refusal made by the core, which holds each key's last nonce (src/core/engine/api-nonces.ts).
  staleNonce: {
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
  // Custody is not connected to this gateway, or the chain's wallet is not set up (no
  // `bulwark wallet init`) or its signer is not running.
  walletNotAvailable: {
    code: BULWARK_WALLET_NOT_AVAILABLE,
    text: "Wallet is not available yet, try again later",
    ccxtClass: "ExchangeError",
  },
  // Withdrawals of the currency are paused: operator, the chain's breaker, or its signer halted
  // (docs/SECURITY.md#custody-targets).
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
  // Degraded mode (an operator's switch during an attack): public data not in the cache, or order
  // entry by a key not on the allow-list. HTTP 503 + Retry-After; not 40016, which tells ccxt the
  // whole exchange is down, while cancels and private reads still work.
  degraded: {
    code: BULWARK_DEGRADED,
    text: "Service is degraded, try again later",
    ccxtClass: "ExchangeError",
  },
  // Load shedding: the gateway is overloaded and sheds the lowest classes first
  // (docs/SECURITY.md#priority-classes). HTTP 503 + Retry-After; nothing was done.
  overloaded: {
    code: BULWARK_OVERLOADED,
    text: "Server is overloaded, request shed, try again later",
    ccxtClass: "ExchangeError",
  },
  internalError: { code: BULWARK_INTERNAL, text: "Internal error", ccxtClass: "ExchangeError" },

  // ---- wallet errors (custody's refusals, docs/API.md#wallet-endpoints) ----------------------
  // A withdrawal amount with more decimals than the currency has: EXMO's decimal-places code
  // (ccxt: InvalidOrder), worded for a currency; the detail says how many decimals it has.
  amountTooPrecise: {
    code: 50381,
    text: "More decimal places than permitted for this currency",
    ccxtClass: "InvalidOrder",
  },
  // Not an address of the currency's chain, or one of the exchange's own (deposit, hot, cold).
  badAddress: {
    code: BULWARK_BAD_ADDRESS,
    text: "Address is not valid for this currency",
    ccxtClass: "ExchangeError",
  },
  // The detail names the minimum (the fee included).
  belowMinimumWithdrawal: {
    code: BULWARK_BELOW_MINIMUM,
    text: "Amount is below the minimum withdrawal",
    ccxtClass: "ExchangeError",
  },
  // Per withdrawal, the user's 24 h / 30 d limits or the platform's hourly limit; the detail says which.
  aboveWithdrawalLimit: {
    code: BULWARK_ABOVE_LIMIT,
    text: "Amount is above the withdrawal limit",
    ccxtClass: "ExchangeError",
  },
  addressNotInBook: {
    code: BULWARK_ADDRESS_NOT_IN_BOOK,
    text: "Address is not in the address book",
    ccxtClass: "ExchangeError",
  },
  // In the book, inside its activation delay; the detail says from when it is usable.
  addressNotActive: {
    code: BULWARK_ADDRESS_NOT_ACTIVE,
    text: "Address is not active yet",
    ccxtClass: "ExchangeError",
  },
  // TOTP proofs come from the web and the CLI, never from an API key; listed so every custody
  // refusal has its row.
  twoFactorRequired: {
    code: BULWARK_TWO_FACTOR_REQUIRED,
    text: "Two-factor authentication is required",
    ccxtClass: "ExchangeError",
  },
  twoFactorInvalid: {
    code: BULWARK_TWO_FACTOR_INVALID,
    text: "Two-factor code is wrong or already used",
    ccxtClass: "ExchangeError",
  },
  // 24 h after a password or 2FA change. Not 40033 (the user is frozen), which ccxt
  // users may read as "this account is blocked".
  withdrawalsLocked: {
    code: BULWARK_WITHDRAWALS_LOCKED,
    text: "Withdrawals are locked for 24 hours after a security change",
    ccxtClass: "ExchangeError",
  },
  // withdraw_crypt's `transport` names another network than the currency's.
  networkNotSupported: {
    code: BULWARK_NETWORK_NOT_SUPPORTED,
    text: "Network is not supported for this currency",
    ccxtClass: "ExchangeError",
  },
  // withdraw_crypt's `invoice` (ccxt's tag): no currency served here has a memo, and dropping
  // one silently could lose the coins at a destination that needs it.
  memoNotSupported: {
    code: BULWARK_MEMO_NOT_SUPPORTED,
    text: "This currency takes no memo (invoice)",
    ccxtClass: "ExchangeError",
  },
  // Operator actions on a withdrawal (approve, reject); clients of the EXMO API never see these two.
  withdrawalWrongStep: {
    code: BULWARK_WITHDRAWAL_WRONG_STEP,
    text: "Withdrawal is not in a step where this applies",
    ccxtClass: "ExchangeError",
  },
  approvalRefused: {
    code: BULWARK_APPROVAL_REFUSED,
    text: "Approval refused",
    ccxtClass: "ExchangeError",
  },
  reservesProofNotFound: {
    code: BULWARK_RESERVES_PROOF_NOT_FOUND,
    text: "No proof of reserves for this currency and account",
    ccxtClass: "ExchangeError",
  },
};

/**
 * Every custody refusal (src/custody/port.ts) → its row above. `detail`, when set, replaces
 * custody's own detail (a row whose template names a parameter); otherwise custody's detail,
 * which is safe to show the requester, follows the row's text.
 */
export const CUSTODY_ERRORS: {
  readonly [C in CustodyErrorCode]: { kind: ExmoErrorKind; detail?: string };
} = {
  unknownCurrency: { kind: "unknownAsset" },
  walletNotAvailable: { kind: "walletNotAvailable" },
  withdrawalsDisabled: { kind: "withdrawalsDisabled" },
  badAddress: { kind: "badAddress" },
  // The gateway refuses malformed and too precise amounts itself (invalidParameter,
  // amountTooPrecise) before custody sees them.
  badAmount: { kind: "invalidParameter", detail: "amount" },
  belowMinimum: { kind: "belowMinimumWithdrawal" },
  aboveLimit: { kind: "aboveWithdrawalLimit" },
  insufficientFunds: { kind: "insufficientFunds" },
  twoFactorRequired: { kind: "twoFactorRequired" },
  twoFactorInvalid: { kind: "twoFactorInvalid" },
  addressNotInBook: { kind: "addressNotInBook" },
  addressNotActive: { kind: "addressNotActive" },
  // The gateway's own authentication refuses these first (same rows); custody checks again.
  withdrawScopeRequired: { kind: "noPermission" },
  ipNotAllowed: { kind: "ipNotAllowed" },
  withdrawalsLocked: { kind: "withdrawalsLocked" },
  notFound: { kind: "withdrawalNotFound" },
  wrongStep: { kind: "withdrawalWrongStep" },
  approvalRefused: { kind: "approvalRefused" },
  // Operator requests only (the breaker); a user's request never reaches custody malformed.
  invalidRequest: { kind: "invalidParameter", detail: "request" },
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

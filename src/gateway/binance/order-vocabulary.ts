// The Binance dialect's words for Bulwark's orders: types, time in force, statuses and client
// order ids, shared by the REST order routes and the user data stream (executionReport), so both
// say the same thing of the same order. Pure functions.
//
// Client order ids. Bulwark's core keeps a number per order (EXMO's `client_id`, 0 = none);
// Binance's is a string of at most 36 characters of [.A-Z:/a-z0-9_-]. The mapping, in both
// directions, survives restarts without a table:
//   - a string of digits naming a safe integer (no leading zero) is that number, so EXMO's
//     client_id 42 is Binance's "42" and back;
//   - any other string is hashed to a number in [2^52, 2^53) (SHA-256, 52 bits), and the string
//     itself travels with the order (placeOrder's clientOrderText, journaled, projected), so the
//     dialect shows it back exactly; EXMO shows the number;
//   - an order placed without one shows Binance "bulwark-<orderId>", which names it back.

import { sha256 } from "@noble/hashes/sha2.js";
import type { OrderType, TimeInForce } from "../../core/commands.ts";
import type { DoneReason } from "../../core/events.ts";

export const MAX_CLIENT_ORDER_ID_LENGTH = 36;
const CLIENT_ORDER_ID_PATTERN = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const SAFE_DIGITS = /^[1-9][0-9]{0,15}$/;
const GENERATED_PREFIX = "bulwark-";
const GENERATED_PATTERN = /^bulwark-([1-9][0-9]{0,15})$/;
const HASHED_FLOOR = 2 ** 52;

export type BinanceOrderType = "LIMIT" | "LIMIT_MAKER" | "MARKET" | "STOP_LOSS";
export type BinanceTimeInForce = "GTC" | "IOC" | "FOK";
export type BinanceOrderStatus =
  | "NEW"
  | "PARTIALLY_FILLED"
  | "FILLED"
  | "CANCELED"
  | "EXPIRED"
  | "EXPIRED_IN_MATCH";

export function isValidClientOrderId(text: string): boolean {
  return CLIENT_ORDER_ID_PATTERN.test(text);
}

/** A digit string that names a safe integer ≥ 1, as that number; otherwise null. */
function safeNumberOf(text: string): number | null {
  if (!SAFE_DIGITS.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/** The number the core keeps for a Binance client order id (valid per isValidClientOrderId). */
export function clientOrderNumberOf(text: string): number {
  const digits = safeNumberOf(text);
  if (digits !== null) return digits;
  const hash = sha256(new TextEncoder().encode(text));
  // 52 bits: 6 whole bytes and the low nibble of a seventh.
  let value = (hash[0] as number) & 0x0f;
  for (let index = 1; index <= 6; index += 1) value = value * 256 + (hash[index] as number);
  return HASHED_FLOOR + value;
}

/** The text to journal with the order: null when the number alone says it (digits). */
export function clientOrderTextOf(text: string): string | null {
  return safeNumberOf(text) === null ? text : null;
}

/** What Binance shows as an order's clientOrderId. */
export function binanceClientOrderId(
  orderId: number,
  clientOrderId: number,
  clientOrderText: string | null,
): string {
  if (clientOrderText !== null) return clientOrderText;
  if (clientOrderId !== 0) return String(clientOrderId);
  return `${GENERATED_PREFIX}${orderId}`;
}

/** An origClientOrderId that names an order without a client id: its order id, else null. */
export function generatedClientOrderIdTarget(text: string): number | null {
  const match = GENERATED_PATTERN.exec(text);
  if (match === null) return null;
  const orderId = Number(match[1]);
  return Number.isSafeInteger(orderId) ? orderId : null;
}

export function binanceOrderType(orderType: OrderType, postOnly: boolean): BinanceOrderType {
  switch (orderType) {
    case "limit":
      return postOnly ? "LIMIT_MAKER" : "LIMIT";
    case "market":
    case "marketTotal":
      return "MARKET";
    case "stopMarket":
      return "STOP_LOSS";
  }
}

export function binanceTimeInForce(timeInForce: TimeInForce): BinanceTimeInForce {
  return timeInForce === "ioc" ? "IOC" : timeInForce === "fok" ? "FOK" : "GTC";
}

/** An order's Binance status from whether it is done (and why) and whether it traded. */
export function binanceOrderStatus(doneReason: DoneReason | null, filledLots: number): BinanceOrderStatus {
  if (doneReason === null) return filledLots > 0 ? "PARTIALLY_FILLED" : "NEW";
  switch (doneReason) {
    case "filled":
      return "FILLED";
    case "cancelled":
      return "CANCELED";
    case "selfTrade":
      return "EXPIRED_IN_MATCH";
    case "expired":
    case "insufficientFunds":
      return "EXPIRED";
  }
}

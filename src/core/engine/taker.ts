// The incoming (taker) order while it matches. One object per core, reused for every order and
// every fired stop, so matching allocates nothing. Matcher.accept() and Matcher.fireStop() set
// every field but stopReason (match() resets it), so nothing leaks from one order to the next.

import type { DoneReason } from "../events.ts";
import type { UserAccount } from "../ledger/ledger.ts";
import type { MarketState } from "./market-state.ts";
import { SIDE_BUY } from "./order-pool.ts";

/** How the taker's size and money are bounded while it matches: by its limit price and lots. */
export const MODE_LIMIT = 0;
/** By base quantity; a buy is also bounded by its budget (the hold). */
export const MODE_MARKET = 1;
/** By quote amount: a buy spends at most its hold, a sell receives at most `quoteLeftUnits`. */
export const MODE_TOTAL = 2;

// Self-trade prevention policies, as indexes into SELF_TRADE_PREVENTIONS.
export const STP_CANCEL_RESTING = 0;
export const STP_CANCEL_INCOMING = 1;
export const STP_CANCEL_BOTH = 2;

export class Taker {
  market: MarketState | null = null;
  user: UserAccount | null = null;
  orderId = 0;
  /** SIDE_BUY or SIDE_SELL. */
  side = SIDE_BUY;
  mode = MODE_LIMIT;
  /** MODE_LIMIT only. */
  limitPriceTicks = 0;
  /** MODE_TOTAL: Number.MAX_SAFE_INTEGER (bounded by money only). */
  remainingLots = 0;
  /** What the taker still holds (quote for buys, base for sells). */
  heldUnits = 0;
  /** marketTotal sell: quote it may still receive. */
  quoteLeftUnits = 0;
  /** Index into SELF_TRADE_PREVENTIONS. */
  selfTradePrevention = STP_CANCEL_RESTING;
  /** Why matching stopped, when the order did not fill. */
  stopReason: DoneReason = "expired";
}

// Command builders shared by tests outside test/core (which has its own richer Driver).

import type { Side, TimeInForce, UnstampedCommand } from "../../src/core/commands.ts";

/** A limit order (GTC on market 1 unless told) with no client id and the market's self-trade policy. */
export function limitOrder(
  userId: number,
  side: Side,
  priceTicks: number,
  quantityLots: number,
  options: { marketId?: number; timeInForce?: TimeInForce } = {},
): UnstampedCommand {
  const { marketId = 1, timeInForce = "gtc" } = options;
  return {
    kind: "placeOrder",
    userId,
    marketId,
    side,
    orderType: "limit",
    priceTicks,
    quantityLots,
    quoteAmountUnits: 0,
    triggerPriceTicks: 0,
    timeInForce,
    postOnly: false,
    clientOrderId: 0,
    selfTradePrevention: null,
  };
}

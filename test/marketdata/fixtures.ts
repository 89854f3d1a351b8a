// Hand-built trade events for the unit tests.

import type { Side } from "../../src/core/commands.ts";
import type { TradeEvent } from "../../src/core/events.ts";

let nextTradeId = 1;

/** A trade with quoteUnitsPerTickLot = 10 unless the notional is given. */
export function trade(
  timestampMs: number,
  priceTicks: number,
  quantityLots: number,
  takerSide: Side = "buy",
  marketId = 1,
  notionalUnits: number = priceTicks * quantityLots * 10,
): TradeEvent {
  const tradeId = nextTradeId++;
  return {
    type: "trade",
    sequence: tradeId,
    timestampMs,
    tradeId,
    marketId,
    priceTicks,
    quantityLots,
    notionalUnits,
    takerSide,
    makerOrderId: 1,
    takerOrderId: 2,
    makerUserId: 1,
    takerUserId: 2,
    buyerFeeUnits: 0,
    sellerFeeUnits: 0,
  };
}

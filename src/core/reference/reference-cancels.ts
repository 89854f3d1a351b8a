// The reference core's cancels: cancelOrder, cancelAll and cancelByClientId. Each open order
// cancelled leaves its book (or the market's stops), its hold goes back to available, and it is
// done with reason "cancelled".

import type { CancelAllCommand, CancelByClientIdCommand, CancelOrderCommand } from "../commands.ts";
import { transfer } from "./reference-ledger.ts";
import { releaseResting } from "./reference-matching.ts";
import {
  allOpenOrders,
  findMarket,
  type ReferenceState,
  Rejection,
  removeResting,
} from "./reference-state.ts";

export function cancelOrder(s: ReferenceState, c: CancelOrderCommand): void {
  // "orderNotFound unless the order is open (resting or stop) and belongs to userId."
  const found = allOpenOrders(s).find((o) => o.orderId === c.orderId && o.userId === c.userId);
  if (found === undefined) throw new Rejection("orderNotFound");
  cancelOpenOrder(s, found.marketId, found.orderId, c.sequence);
}

export function cancelAll(s: ReferenceState, c: CancelAllCommand): void {
  if (c.marketId !== 0 && findMarket(s, c.marketId) === undefined) throw new Rejection("unknownMarket");
  const toCancel = allOpenOrders(s).filter(
    (o) => o.userId === c.userId && (c.marketId === 0 || o.marketId === c.marketId),
  );
  // "cancelAll with nothing to cancel produces no event (it is not an error)"
  for (const o of toCancel) cancelOpenOrder(s, o.marketId, o.orderId, c.sequence);
}

export function cancelByClientId(s: ReferenceState, c: CancelByClientIdCommand): void {
  // The spec gives no order between these two; we check the command's own field first.
  if (!Number.isSafeInteger(c.clientOrderId) || c.clientOrderId <= 0) throw new Rejection("invalidCommand");
  if (c.marketId !== 0 && findMarket(s, c.marketId) === undefined) throw new Rejection("unknownMarket");
  const toCancel = allOpenOrders(s).filter(
    (o) =>
      o.userId === c.userId &&
      o.clientOrderId === c.clientOrderId &&
      (c.marketId === 0 || o.marketId === c.marketId),
  );
  if (toCancel.length === 0) throw new Rejection("orderNotFound");
  for (const o of toCancel) cancelOpenOrder(s, o.marketId, o.orderId, c.sequence);
}

function cancelOpenOrder(s: ReferenceState, marketId: number, orderId: number, sequence: number): void {
  const market = s.markets[marketId - 1];
  const resting = market.resting.find((o) => o.orderId === orderId);
  if (resting !== undefined) {
    removeResting(market, resting);
    releaseResting(s, market, resting, "cancelled", { sequence });
    return;
  }
  const stop = market.stops.find((st) => st.orderId === orderId);
  if (stop === undefined) throw new Error(`order ${orderId} is not open`);
  market.stops.splice(market.stops.indexOf(stop), 1);
  const assetId = stop.side === "buy" ? market.config.quoteAssetId : market.config.baseAssetId;
  transfer(
    s,
    assetId,
    { kind: "held", userId: stop.userId },
    { kind: "available", userId: stop.userId },
    stop.heldUnits,
  );
  s.pending.push({
    type: "orderDone",
    sequence,
    orderId: stop.orderId,
    userId: stop.userId,
    marketId,
    reason: "cancelled",
    remainingLots: stop.quantityLots,
    releasedUnits: stop.heldUnits,
  });
}

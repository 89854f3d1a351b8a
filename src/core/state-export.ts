// The core state as a plain, canonical CoreStateView (state-view.ts): for comparing the fast
// core with the reference core in tests, and for tools. Allocates freely; not for the hot path.

import { SELF_TRADE_PREVENTIONS } from "./config.ts";
import type { BookSide } from "./engine/book-side.ts";
import { BALANCE_AVAILABLE, BALANCE_HELD, type CoreState } from "./engine/core-state.ts";
import { NO_SLOT, type OrderPool, SIDE_NAMES } from "./engine/order-pool.ts";
import { SYSTEM_ACCOUNT_INDEX } from "./ledger/ledger.ts";
import {
  type CoreStateView,
  type MarketView,
  type RestingOrderView,
  SYSTEM_ACCOUNTS,
  type SystemBalanceView,
  type UserBalanceView,
} from "./state-view.ts";

export function exportState(state: CoreState): CoreStateView {
  const ledger = state.ledger;
  const assetCount = state.assets.length;
  const markets: MarketView[] = state.markets.map((market) => ({
    config: { ...market.config },
    status: market.status,
    lastPriceTicks: market.lastPriceTicks,
    bids: sideOrders(state.pool, market.bids),
    asks: sideOrders(state.pool, market.asks),
    stops: market.stops.map((stop) => ({
      orderId: stop.orderId,
      userId: stop.userId,
      side: stop.side,
      triggerPriceTicks: stop.triggerPriceTicks,
      quantityLots: stop.quantityLots,
      heldUnits: stop.heldUnits,
      clientOrderId: stop.clientOrderId,
      selfTradePrevention: SELF_TRADE_PREVENTIONS[stop.selfTradePrevention],
    })),
  }));
  const userBalances: UserBalanceView[] = [];
  const userIds = [...ledger.users.keys()].sort((a, b) => a - b);
  for (const userId of userIds) {
    const user = ledger.user(userId)!;
    for (let assetId = 1; assetId <= assetCount; assetId++) {
      const availableUnits = state.balanceField(user, assetId, BALANCE_AVAILABLE);
      const heldUnits = state.balanceField(user, assetId, BALANCE_HELD);
      if (availableUnits !== 0 || heldUnits !== 0)
        userBalances.push({ userId, assetId, availableUnits, heldUnits });
    }
  }
  const systemBalances: SystemBalanceView[] = [];
  for (const account of SYSTEM_ACCOUNTS) {
    for (let assetId = 1; assetId <= assetCount; assetId++) {
      const balanceUnits = ledger.systemBalance(SYSTEM_ACCOUNT_INDEX[account], assetId);
      if (balanceUnits !== 0) systemBalances.push({ account, assetId, balanceUnits });
    }
  }
  return {
    lastSequence: state.lastSequence,
    nextTradeId: state.nextTradeId,
    assets: state.assets.map((asset) => ({ ...asset })),
    markets,
    userBalances,
    systemBalances,
    userCount: ledger.users.size,
    withdrawalHolds: [...state.withdrawals.values()]
      .map((hold) => ({ ...hold }))
      .sort((a, b) => a.withdrawalId - b.withdrawalId),
    depositKeys: [...state.depositKeys.values()].sort(),
    apiNonces: state.apiNonces.sortedEntries(),
    incidentCovers: [...state.incidentCovers.values()]
      .map((cover) => ({ ...cover }))
      .sort((a, b) => a.incidentId - b.incidentId || a.assetId - b.assetId),
  };
}

/** Resting orders of a side, best price first, oldest first within a price. */
function sideOrders(pool: OrderPool, side: BookSide): RestingOrderView[] {
  const orders: RestingOrderView[] = [];
  for (let index = side.levelSlots.length - 1; index >= 0; index--) {
    for (let slot = side.levelHead[side.levelSlots[index]]; slot !== NO_SLOT; slot = pool.nextInLevel[slot]) {
      orders.push({
        orderId: pool.orderId[slot],
        userId: pool.userId[slot],
        side: SIDE_NAMES[pool.side[slot]],
        priceTicks: pool.priceTicks[slot],
        remainingLots: pool.remainingLots[slot],
        clientOrderId: pool.clientOrderId[slot],
        selfTradePrevention: SELF_TRADE_PREVENTIONS[pool.selfTradePrevention[slot]],
      });
    }
  }
  return orders;
}

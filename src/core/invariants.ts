// The core's consistency checks: ledger sums, the custody identity, book structure, and that
// every user's held balance is exactly what their open orders and pending withdrawals need. Tests run them after every command; restoring
// a snapshot runs them once. O(orders + users × assets).

import { assert } from "./assert.ts";
import type { MarketConfig } from "./config.ts";
import type { BookSide } from "./engine/book-side.ts";
import type { CoreState } from "./engine/core-state.ts";
import { NO_SLOT } from "./engine/order-pool.ts";
import { SYSTEM_ACCOUNT_INDEX } from "./ledger/ledger.ts";
import { CUSTODY_WALLET_ACCOUNTS, EQUITY_ACCOUNTS } from "./state-view.ts";
import { MAX_INCIDENT_COVERS } from "./wallet/incident-covers.ts";

/** Throws if any ledger or book invariant is broken. */
export function checkInvariants(state: CoreState): void {
  const ledger = state.ledger;
  const pool = state.pool;
  const assetCount = state.assets.length;
  for (const user of ledger.users.values()) ledger.ensureAssetSlots(user);
  ledger.checkSums(assetCount);
  // What open orders need, per user: [open order count, held of asset 1, held of asset 2, …].
  const needs = new Map<number, Float64Array>();
  const addHeld = (userId: number, assetId: number, units: number): void => {
    let need = needs.get(userId);
    if (need === undefined) {
      need = new Float64Array(assetCount + 1);
      needs.set(userId, need);
    }
    need[0] += 1;
    need[assetId] += units;
  };
  let resting = 0;
  for (const market of state.markets) {
    const config = market.config;
    resting += checkSide(state, market.bids, config, (slot) =>
      addHeld(
        pool.userId[slot],
        config.quoteAssetId,
        pool.remainingLots[slot] * pool.priceTicks[slot] * config.quoteUnitsPerTickLot,
      ),
    );
    resting += checkSide(state, market.asks, config, (slot) =>
      addHeld(pool.userId[slot], config.baseAssetId, pool.remainingLots[slot] * config.lotSizeBaseUnits),
    );
    if (market.bids.levelCount > 0 && market.asks.levelCount > 0)
      assert(market.bids.bestPrice() < market.asks.bestPrice(), `market ${config.symbol} is crossed`);
    for (const stop of market.stops) {
      addHeld(stop.userId, stop.side === "buy" ? config.quoteAssetId : config.baseAssetId, stop.heldUnits);
      assert(state.stopsById.get(stop.orderId) === stop, "stop missing from the id map");
    }
  }
  const addWithdrawal = (userId: number, assetId: number, units: number): void => {
    // A pending withdrawal holds money but is not an open order: it does not count in need[0].
    addHeld(userId, assetId, units);
    needs.get(userId)![0] -= 1;
  };
  assert(
    state.withdrawals.size <= state.limits.maxPendingWithdrawals,
    "more withdrawal holds than the limit",
  );
  assert(state.depositKeys.size <= state.limits.maxDepositKeys, "more deposit keys than the limit");
  assert(state.apiNonces.size <= state.limits.maxApiKeyNonces, "more API key nonces than the limit");
  assert(state.incidentCovers.size <= MAX_INCIDENT_COVERS, "more incident covers than the limit");
  for (const cover of state.incidentCovers.values())
    assert(
      state.assetExists(cover.assetId) && Number.isSafeInteger(cover.amountUnits) && cover.amountUnits > 0,
      `incident ${cover.incidentId} has a bad cover`,
    );
  for (const hold of state.withdrawals.values()) {
    assert(state.assetExists(hold.assetId), `withdrawal ${hold.withdrawalId} of an unknown asset`);
    assert(
      Number.isSafeInteger(hold.amountUnits) && hold.feeUnits >= 0 && hold.feeUnits < hold.amountUnits,
      `withdrawal ${hold.withdrawalId} has a bad amount or fee`,
    );
    addWithdrawal(hold.userId, hold.assetId, hold.amountUnits);
  }
  checkCustodyIdentity(state);
  assert(resting === pool.size && resting === state.orderIndex.size, "resting order count mismatch");
  assert(state.openOrderTotal === resting + state.stopsById.size, "open order total mismatch");
  for (const user of ledger.users.values()) {
    const need = needs.get(user.userId);
    assert(user.openOrderCount === (need?.[0] ?? 0), `user ${user.userId} open order count`);
    for (let assetId = 1; assetId <= assetCount; assetId++) {
      const expected = need?.[assetId] ?? 0;
      const held = ledger.held(user, assetId);
      assert(
        held === expected,
        `user ${user.userId} holds ${held} of asset ${assetId}, orders and withdrawals need ${expected}`,
      );
    }
  }
  assert(
    needs.size === 0 || [...needs.keys()].every((userId) => ledger.user(userId) !== undefined),
    "order of an unknown user",
  );
}

/** Per asset: coins on the books (minus the wallet accounts) = customer liabilities + exchange equity. */
function checkCustodyIdentity(state: CoreState): void {
  const ledger = state.ledger;
  for (let assetId = 1; assetId <= state.assets.length; assetId++) {
    let liabilities = 0;
    for (const user of ledger.users.values())
      liabilities += ledger.held(user, assetId) + ledger.available(user, assetId);
    let coins = 0;
    for (const account of CUSTODY_WALLET_ACCOUNTS)
      coins -= ledger.systemBalance(SYSTEM_ACCOUNT_INDEX[account], assetId);
    let equity = 0;
    for (const account of EQUITY_ACCOUNTS)
      equity += ledger.systemBalance(SYSTEM_ACCOUNT_INDEX[account], assetId);
    assert(
      coins === liabilities + equity,
      `asset ${assetId}: ${coins} on the books, liabilities ${liabilities} + equity ${equity}`,
    );
  }
}

/** Checks one book side's ordering and level totals; returns its order count. */
function checkSide(
  state: CoreState,
  side: BookSide,
  config: MarketConfig,
  visit: (slot: number) => void,
): number {
  const pool = state.pool;
  let count = 0;
  for (let index = 0; index < side.levelSlots.length; index++) {
    const level = side.levelSlots[index];
    const price = side.prices[index];
    assert(side.levelPrice[level] === price, "level price mismatch");
    if (index > 0)
      assert(
        side.isBid ? side.prices[index - 1] < price : side.prices[index - 1] > price,
        "prices not sorted",
      );
    let total = 0;
    let previous = NO_SLOT;
    for (let slot = side.levelHead[level]; slot !== NO_SLOT; slot = pool.nextInLevel[slot]) {
      assert(pool.priceTicks[slot] === price && pool.levelSlot[slot] === level, "order in the wrong level");
      assert(pool.previousInLevel[slot] === previous, "broken level links");
      assert(pool.remainingLots[slot] > 0, "empty order in the book");
      assert(pool.marketId[slot] === config.marketId, "order in the wrong market");
      assert(state.orderIndex.get(pool.orderId[slot]) === slot, "order missing from the id index");
      total += pool.remainingLots[slot];
      previous = slot;
      visit(slot);
      count += 1;
    }
    assert(side.levelTail[level] === previous, "broken level tail");
    assert(total > 0 && total === side.levelTotalLots[level], "level total mismatch");
  }
  return count;
}

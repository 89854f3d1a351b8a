// The reference core's state as the canonical CoreStateView, and its invariant checks: plain
// reads of its data, written as naively as the rest of the reference core.

import type { AssetConfig, CoreLimits } from "../config.ts";
import {
  type CoreStateView,
  CUSTODY_WALLET_ACCOUNTS,
  EQUITY_ACCOUNTS,
  type IncidentCoverView,
  type MarketView,
  type RestingOrderView,
  type StopOrderView,
  SYSTEM_ACCOUNTS,
  type SystemAccount,
  type SystemBalanceView,
  type UserBalanceView,
  type WithdrawalHoldView,
} from "../state-view.ts";
import {
  bestOrder,
  copyMarketConfig,
  type Market,
  type RestingOrder,
  restingHold,
  type StopOrder,
  sortedSide,
  type UserBalance,
} from "./model.ts";

/** Everything the reference core holds. */
export interface ReferenceData {
  readonly limits: CoreLimits;
  readonly lastSequence: number;
  readonly nextTradeId: number;
  readonly assets: readonly AssetConfig[];
  readonly markets: readonly Market[];
  /** userId → assetId → balance. */
  readonly users: ReadonlyMap<number, ReadonlyMap<number, UserBalance>>;
  /** account → assetId → balance. */
  readonly system: ReadonlyMap<SystemAccount, ReadonlyMap<number, number>>;
  /** withdrawalId → pending hold. */
  readonly withdrawals: ReadonlyMap<number, WithdrawalHoldView>;
  /** Keys of credited deposits. */
  readonly depositKeys: ReadonlySet<string>;
  /** Covered incident losses. */
  readonly incidentCovers: readonly IncidentCoverView[];
  /** API key id → last accepted nonce. */
  readonly apiNonces: ReadonlyMap<string, number>;
}

export function exportReferenceState(d: ReferenceData): CoreStateView {
  const markets: MarketView[] = d.markets.map((m) => ({
    config: copyMarketConfig(m.config),
    status: m.status,
    lastPriceTicks: m.lastPriceTicks,
    bids: sortedSide(m, "buy").map(restingView),
    asks: sortedSide(m, "sell").map(restingView),
    stops: [...m.stops].sort((a, b) => a.orderId - b.orderId).map(stopView),
  }));
  const userBalances: UserBalanceView[] = [];
  for (const userId of [...d.users.keys()].sort((a, b) => a - b)) {
    const byAsset = d.users.get(userId) as Map<number, UserBalance>;
    for (const assetId of [...byAsset.keys()].sort((a, b) => a - b)) {
      const b = byAsset.get(assetId) as UserBalance;
      if (b.available !== 0 || b.held !== 0) {
        userBalances.push({ userId, assetId, availableUnits: b.available, heldUnits: b.held });
      }
    }
  }
  const systemBalances: SystemBalanceView[] = [];
  for (const account of SYSTEM_ACCOUNTS) {
    const byAsset = d.system.get(account) as Map<number, number>;
    for (const assetId of [...byAsset.keys()].sort((a, b) => a - b)) {
      const balanceUnits = byAsset.get(assetId) as number;
      if (balanceUnits !== 0) systemBalances.push({ account, assetId, balanceUnits });
    }
  }
  return {
    lastSequence: d.lastSequence,
    nextTradeId: d.nextTradeId,
    assets: d.assets.map((a) => ({ ...a })),
    markets,
    userBalances,
    systemBalances,
    userCount: d.users.size,
    withdrawalHolds: [...d.withdrawals.values()]
      .map((w) => ({ ...w }))
      .sort((a, b) => a.withdrawalId - b.withdrawalId),
    depositKeys: [...d.depositKeys].sort(),
    apiNonces: [...d.apiNonces].sort((left, right) => (left[0] < right[0] ? -1 : left[0] > right[0] ? 1 : 0)),
    incidentCovers: d.incidentCovers
      .map((cover) => ({ ...cover }))
      .sort((a, b) => a.incidentId - b.incidentId || a.assetId - b.assetId),
  };
}

export function checkReferenceInvariants(d: ReferenceData): void {
  const fail = (message: string): never => {
    throw new Error(`reference core invariant broken: ${message}`);
  };
  // Per asset the sum over all accounts is 0; user accounts and fees never below 0.
  for (const asset of d.assets) {
    let sum = 0;
    for (const [userId, byAsset] of d.users) {
      const b = byAsset.get(asset.assetId);
      if (b === undefined) continue;
      if (!Number.isSafeInteger(b.available) || b.available < 0)
        fail(`user ${userId} available ${b.available}`);
      if (!Number.isSafeInteger(b.held) || b.held < 0) fail(`user ${userId} held ${b.held}`);
      sum += b.available + b.held;
    }
    for (const account of SYSTEM_ACCOUNTS) {
      const value = d.system.get(account)?.get(asset.assetId) ?? 0;
      if (!Number.isSafeInteger(value)) fail(`${account} of asset ${asset.assetId} is ${value}`);
      if (account === "fees" && value < 0) fail(`fees of asset ${asset.assetId} is ${value}`);
      sum += value;
    }
    if (sum !== 0) fail(`asset ${asset.assetId} sums to ${sum}`);
    // The custody identity: coins on the books = customer liabilities + exchange equity.
    let liabilities = 0;
    for (const byAsset of d.users.values()) {
      const b = byAsset.get(asset.assetId);
      if (b !== undefined) liabilities += b.available + b.held;
    }
    let coins = 0;
    for (const account of CUSTODY_WALLET_ACCOUNTS) coins -= d.system.get(account)?.get(asset.assetId) ?? 0;
    let equity = 0;
    for (const account of EQUITY_ACCOUNTS) equity += d.system.get(account)?.get(asset.assetId) ?? 0;
    if (coins !== liabilities + equity)
      fail(`asset ${asset.assetId}: ${coins} on the books, liabilities ${liabilities} + equity ${equity}`);
  }
  // Each user's held per asset equals what their open orders and pending withdrawals need.
  const need = new Map<string, number>();
  const addNeed = (userId: number, assetId: number, amount: number): void => {
    const key = `${userId}:${assetId}`;
    need.set(key, (need.get(key) ?? 0) + amount);
  };
  let openOrders = 0;
  const perUser = new Map<number, number>();
  for (const m of d.markets) {
    const cfg = m.config;
    for (const o of m.resting) {
      if (o.remainingLots <= 0) fail(`order ${o.orderId} rests with ${o.remainingLots} lots`);
      addNeed(o.userId, o.side === "buy" ? cfg.quoteAssetId : cfg.baseAssetId, restingHold(cfg, o));
    }
    for (const s of m.stops) {
      addNeed(s.userId, s.side === "buy" ? cfg.quoteAssetId : cfg.baseAssetId, s.heldUnits);
      const last = m.lastPriceTicks;
      if (last !== 0 && (s.side === "buy" ? last >= s.triggerPriceTicks : last <= s.triggerPriceTicks)) {
        fail(`stop ${s.orderId} is triggered but did not fire`);
      }
    }
    if (m.stops.length > d.limits.maxStopOrdersPerMarket) fail(`market ${cfg.marketId} has too many stops`);
    for (const o of [...m.resting, ...m.stops]) {
      openOrders += 1;
      perUser.set(o.userId, (perUser.get(o.userId) ?? 0) + 1);
    }
    // The book is never crossed.
    const bestBid = bestOrder(m, "buy");
    const bestAsk = bestOrder(m, "sell");
    if (bestBid !== undefined && bestAsk !== undefined && bestBid.priceTicks >= bestAsk.priceTicks) {
      fail(`market ${cfg.marketId} is crossed`);
    }
  }
  for (const w of d.withdrawals.values()) {
    if (!d.users.has(w.userId)) fail(`withdrawal ${w.withdrawalId} of unknown user ${w.userId}`);
    if (w.feeUnits < 0 || w.feeUnits >= w.amountUnits) fail(`withdrawal ${w.withdrawalId} fee ${w.feeUnits}`);
    addNeed(w.userId, w.assetId, w.amountUnits);
  }
  if (d.withdrawals.size > d.limits.maxPendingWithdrawals) fail("too many pending withdrawals");
  if (d.depositKeys.size > d.limits.maxDepositKeys) fail("too many deposit keys");
  if (d.apiNonces.size > d.limits.maxApiKeyNonces) fail("too many API key nonces");
  for (const [userId, byAsset] of d.users) {
    for (const [assetId, b] of byAsset) {
      const expected = need.get(`${userId}:${assetId}`) ?? 0;
      if (b.held !== expected)
        fail(`user ${userId} holds ${b.held} of asset ${assetId}, orders and withdrawals need ${expected}`);
      need.delete(`${userId}:${assetId}`);
    }
  }
  for (const [key, amount] of need)
    if (amount !== 0) fail(`orders of ${key} need ${amount} but nothing is held`);
  if (openOrders > d.limits.maxOpenOrders) fail("too many open orders");
  for (const [userId, count] of perUser) {
    if (count > d.limits.maxOpenOrdersPerUser) fail(`user ${userId} has ${count} open orders`);
  }
  if (d.users.size > d.limits.maxUsers) fail("too many users");
}

function restingView(o: RestingOrder): RestingOrderView {
  return {
    orderId: o.orderId,
    userId: o.userId,
    side: o.side,
    priceTicks: o.priceTicks,
    remainingLots: o.remainingLots,
    clientOrderId: o.clientOrderId,
    selfTradePrevention: o.selfTradePrevention,
  };
}

function stopView(s: StopOrder): StopOrderView {
  return {
    orderId: s.orderId,
    userId: s.userId,
    side: s.side,
    triggerPriceTicks: s.triggerPriceTicks,
    quantityLots: s.quantityLots,
    heldUnits: s.heldUnits,
    clientOrderId: s.clientOrderId,
    selfTradePrevention: s.selfTradePrevention,
  };
}

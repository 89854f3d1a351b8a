// The reference core's state: one plain object every part of it (ledger, matching, cancels,
// operator commands) reads and changes, with the lookups they share and the rejection they throw.

import type { AssetConfig, CoreLimits } from "../config.ts";
import type { CoreEvent, RejectReason } from "../events.ts";
import {
  type IncidentCoverView,
  SYSTEM_ACCOUNTS,
  type SystemAccount,
  type WithdrawalHoldView,
} from "../state-view.ts";
import type { Market, RestingOrder, UserBalance } from "./model.ts";

export interface ReferenceState {
  readonly limits: CoreLimits;
  lastSequence: number;
  nextTradeId: number;
  readonly assets: AssetConfig[];
  readonly markets: Market[];
  /** userId → assetId → balance. A user exists from their first credit. */
  readonly users: Map<number, Map<number, UserBalance>>;
  /** account → assetId → balance. */
  readonly system: Map<SystemAccount, Map<number, number>>;
  /** withdrawalId → pending hold (reference-wallet.ts). */
  readonly withdrawals: Map<number, WithdrawalHoldView>;
  /** "chain:txId:outputIndex" of every credited deposit. */
  readonly depositKeys: Set<string>;
  /** Covered incident losses, in the order covered (reference-loss-cover.ts). */
  readonly incidentCovers: IncidentCoverView[];
  /** API key id → last accepted nonce. */
  readonly apiNonces: Map<string, number>;

  // Per-command scratch: the events of the command in progress and the (user, asset) pairs it changed.
  pending: CoreEvent[];
  changed: { userId: number; assetId: number }[];
}

export function createReferenceState(limits: CoreLimits): ReferenceState {
  const state: ReferenceState = {
    limits,
    lastSequence: 0,
    nextTradeId: 1,
    assets: [],
    markets: [],
    users: new Map(),
    system: new Map(),
    withdrawals: new Map(),
    depositKeys: new Set(),
    incidentCovers: [],
    apiNonces: new Map(),
    pending: [],
    changed: [],
  };
  for (const account of SYSTEM_ACCOUNTS) state.system.set(account, new Map());
  return state;
}

/** Thrown by a command's checks: the command is rejected with `reason` and changes nothing. */
export class Rejection extends Error {
  constructor(readonly reason: RejectReason) {
    super(reason);
  }
}

export function findMarket(s: ReferenceState, marketId: number): Market | undefined {
  return s.markets.find((m) => m.config.marketId === marketId);
}

export function findAsset(s: ReferenceState, assetId: number): AssetConfig | undefined {
  return s.assets.find((a) => a.assetId === assetId);
}

export interface OpenOrderRef {
  orderId: number;
  userId: number;
  marketId: number;
  clientOrderId: number;
}

/** Every open order (resting and stop, all markets), ascending order id. */
export function allOpenOrders(s: ReferenceState): OpenOrderRef[] {
  const all: OpenOrderRef[] = [];
  for (const market of s.markets) {
    const marketId = market.config.marketId;
    for (const o of market.resting)
      all.push({ orderId: o.orderId, userId: o.userId, marketId, clientOrderId: o.clientOrderId });
    for (const st of market.stops)
      all.push({ orderId: st.orderId, userId: st.userId, marketId, clientOrderId: st.clientOrderId });
  }
  return all.sort((a, b) => a.orderId - b.orderId);
}

export function removeResting(market: Market, order: RestingOrder): void {
  const index = market.resting.indexOf(order);
  if (index < 0) throw new Error(`order ${order.orderId} is not resting`);
  market.resting.splice(index, 1);
}

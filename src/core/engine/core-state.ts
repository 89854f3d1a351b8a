// Everything the core holds between commands: the assets, the markets with their books and
// stops, the order pool and its id index, the ledger, the pending withdrawal holds, the credited
// deposits' keys, the covered incident losses, each API key's last nonce, and the counters. Core changes it by
// applying commands (through the Matcher for the books); the snapshot, the invariant checks
// and the state export only read it, and restoring a snapshot fills a fresh one.

import type { AssetConfig, CoreLimits } from "../config.ts";
import { Ledger, type UserAccount } from "../ledger/ledger.ts";
import { DepositKeys } from "../wallet/deposit-keys.ts";
import { IncidentCovers } from "../wallet/incident-covers.ts";
import { WithdrawalHolds } from "../wallet/withdrawal-holds.ts";
import { ApiNonces } from "./api-nonces.ts";
import type { BookSide } from "./book-side.ts";
import type { MarketState, StopOrder } from "./market-state.ts";
import { OrderIdIndex } from "./order-id-index.ts";
import { NO_SLOT, OrderPool } from "./order-pool.ts";

/** Which half of a user's balance of an asset: index within its [available, held, …] triple. */
export const BALANCE_AVAILABLE = 0;
export const BALANCE_HELD = 1;

export class CoreState {
  readonly pool: OrderPool;
  readonly orderIndex: OrderIdIndex;
  readonly ledger: Ledger;
  readonly assets: AssetConfig[] = [];
  readonly markets: MarketState[] = [];
  readonly stopsById = new Map<number, StopOrder>();
  /** Pending withdrawals: their amounts are in their users' held balances. */
  readonly withdrawals = new WithdrawalHolds();
  /** Keys of credited deposits. */
  readonly depositKeys = new DepositKeys();
  /** Losses written off, one per (incident, asset). */
  readonly incidentCovers = new IncidentCovers();
  /** Each API key's last accepted nonce (api-nonces.ts). */
  readonly apiNonces: ApiNonces;
  lastSequence = 0;
  nextTradeId = 1;
  /** Resting plus stop orders, all markets. */
  openOrderTotal = 0;

  constructor(readonly limits: CoreLimits) {
    this.pool = new OrderPool(limits.maxOpenOrders);
    this.orderIndex = new OrderIdIndex(limits.maxOpenOrders);
    this.ledger = new Ledger(limits.maxAssets, limits.maxUsers);
    this.apiNonces = new ApiNonces(limits.maxApiKeyNonces);
  }

  market(marketId: number): MarketState | undefined {
    return Number.isInteger(marketId) && marketId >= 1 ? this.markets[marketId - 1] : undefined;
  }

  assetExists(assetId: number): boolean {
    return Number.isInteger(assetId) && assetId >= 1 && assetId <= this.assets.length;
  }

  installAsset(asset: AssetConfig): void {
    this.assets.push(asset);
    this.ledger.assetCount = this.assets.length;
  }

  /** A user's available or held balance of an asset (0 for an asset added after the user was last touched). */
  balanceField(
    user: UserAccount,
    assetId: number,
    field: typeof BALANCE_AVAILABLE | typeof BALANCE_HELD,
  ): number {
    return user.balances[assetId * 3 + field] ?? 0;
  }

  /**
   * Registers a resting order that is already in the pool and in its book side: the owner's
   * order list, the id index and the open order counts.
   */
  indexResting(slot: number, user: UserAccount): void {
    const pool = this.pool;
    const head = user.restingOrderHead;
    pool.previousOfUser[slot] = NO_SLOT;
    pool.nextOfUser[slot] = head;
    if (head !== NO_SLOT) pool.previousOfUser[head] = slot;
    user.restingOrderHead = slot;
    this.orderIndex.set(pool.orderId[slot], slot);
    user.openOrderCount += 1;
    this.openOrderTotal += 1;
  }

  /** Takes a resting order out of its book side, the owner's list, the id index and the pool. */
  removeResting(slot: number, side: BookSide, user: UserAccount): void {
    const pool = this.pool;
    side.remove(slot);
    const previous = pool.previousOfUser[slot];
    const next = pool.nextOfUser[slot];
    if (previous === NO_SLOT) user.restingOrderHead = next;
    else pool.nextOfUser[previous] = next;
    if (next !== NO_SLOT) pool.previousOfUser[next] = previous;
    this.orderIndex.delete(pool.orderId[slot]);
    pool.free(slot);
    user.openOrderCount -= 1;
    this.openOrderTotal -= 1;
  }

  addStop(stop: StopOrder, market: MarketState, user: UserAccount): void {
    market.stops.push(stop);
    this.stopsById.set(stop.orderId, stop);
    user.openOrderCount += 1;
    this.openOrderTotal += 1;
  }

  removeStop(stop: StopOrder, market: MarketState, user: UserAccount): void {
    market.removeStop(stop);
    this.stopsById.delete(stop.orderId);
    user.openOrderCount -= 1;
    this.openOrderTotal -= 1;
  }
}

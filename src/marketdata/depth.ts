// Aggregated order book depth per market (price ticks -> total lots per side), maintained only from
// core events so it gives the same answer in the core's process and in a gateway far away.
//
// How events move lots (docs/CORE.md):
// - orderAccepted of a limit order: the order joins its level with its full quantity at once. The
//   event does not say whether it is GTC or IOC/FOK, and that does not matter: trades then reduce
//   it like any order, and an order that does not rest gets an orderDone in the same command, which
//   removes what is left. Within a command the book may look crossed for a moment; updates are
//   only taken after whole batches, and levels whose total ends where it started are not reported.
// - trade: reduces both the maker and the taker by the traded lots (whichever of them is tracked;
//   market and stop orders never are).
// - orderDone: removes the order's remaining lots. Its `remainingLots` must equal what we tracked;
//   a difference means we missed events, and serving a wrong book silently would be worse than
//   failing loudly.
//
// Memory for tracked orders: a Map from order id to a slot (~30 bytes per entry for ids below 2^30,
// ~45 bytes above, as V8 boxes large numbers), plus 11 bytes of typed-array columns per slot
// (market Uint16, side Uint8, price Uint32, remaining Uint32) and 4 bytes of free list: about 60 MB
// for 1M resting orders. Levels are a Map price -> lots plus a sorted price array per side.

import type { CoreEvent, OrderAcceptedEvent, OrderDoneEvent, TradeEvent } from "../core/events.ts";
import { MAX_DEPTH_LEVELS, MAX_MARKETS } from "./limits.ts";

export interface DepthLevel {
  priceTicks: number;
  /** Total lots resting at the price; in an update, 0 means the level is gone. */
  quantityLots: number;
}

export interface DepthSnapshot {
  marketId: number;
  /** Updates with a larger sequence follow this snapshot; the next one is updateSequence + 1. */
  updateSequence: number;
  /** Best first: bids by price descending, asks ascending. */
  bids: DepthLevel[];
  asks: DepthLevel[];
}

/** The levels that changed in one applied batch, as new totals (EXMO spot/order_book_updates). */
export interface DepthUpdate {
  marketId: number;
  /** Exactly one more than the previous update of this market (or the snapshot it follows). */
  updateSequence: number;
  bids: DepthLevel[];
  asks: DepthLevel[];
}

const SIDE_BID = 0;
const SIDE_ASK = 1;
const INITIAL_ORDER_CAPACITY = 1_024;

/** One side of one book: totals per price and the prices sorted best first. */
export class SideLevels {
  private readonly totals = new Map<number, number>();
  /** Best first. Kept sorted by binary-search insertion: O(levels) per new level, O(1) per update. */
  private readonly prices: number[] = [];
  /** price -> total before the current batch, for every level touched since the last take. */
  private readonly before = new Map<number, number>();

  constructor(private readonly descending: boolean) {}

  get levelCount(): number {
    return this.prices.length;
  }

  bestPriceTicks(): number {
    return this.prices.length === 0 ? 0 : this.prices[0];
  }

  totalAt(priceTicks: number): number {
    return this.totals.get(priceTicks) ?? 0;
  }

  add(priceTicks: number, lots: number): void {
    if (lots === 0) return;
    const old = this.totalAt(priceTicks);
    this.remember(priceTicks, old);
    const total = old + lots;
    if (!Number.isSafeInteger(total)) throw new RangeError(`depth level ${priceTicks} passed 2^53 lots`);
    if (old === 0) this.prices.splice(this.insertionIndex(priceTicks), 0, priceTicks);
    this.totals.set(priceTicks, total);
  }

  subtract(priceTicks: number, lots: number): void {
    if (lots === 0) return;
    const old = this.totalAt(priceTicks);
    if (lots > old) throw new Error(`depth level ${priceTicks} would go below zero`);
    this.remember(priceTicks, old);
    if (old === lots) {
      this.totals.delete(priceTicks);
      this.prices.splice(this.insertionIndex(priceTicks), 1);
    } else {
      this.totals.set(priceTicks, old - lots);
    }
  }

  /** Top `limit` levels, best first. */
  top(limit: number): DepthLevel[] {
    const count = Math.min(limit, this.prices.length);
    const levels: DepthLevel[] = new Array(count);
    for (let index = 0; index < count; index++) {
      const priceTicks = this.prices[index];
      levels[index] = { priceTicks, quantityLots: this.totals.get(priceTicks)! };
    }
    return levels;
  }

  /** Levels whose total differs from before the batch, best first; forgets the batch. */
  takeChanges(): DepthLevel[] {
    const changes: DepthLevel[] = [];
    for (const [priceTicks, old] of this.before) {
      const quantityLots = this.totalAt(priceTicks);
      if (quantityLots !== old) changes.push({ priceTicks, quantityLots });
    }
    this.before.clear();
    const sign = this.descending ? -1 : 1;
    return changes.sort((left, right) => sign * (left.priceTicks - right.priceTicks));
  }

  private remember(priceTicks: number, old: number): void {
    if (!this.before.has(priceTicks)) this.before.set(priceTicks, old);
  }

  private insertionIndex(priceTicks: number): number {
    return priceIndex(this.prices, priceTicks, this.descending);
  }
}

/**
 * Index of `priceTicks` in `prices` (sorted best first: descending for bids) if present, else
 * where it would be inserted. Shared by every sorted side of a book (also the Binance streams').
 */
export function priceIndex(prices: readonly number[], priceTicks: number, descending: boolean): number {
  let low = 0;
  let high = prices.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const better = descending
      ? (prices[middle] as number) > priceTicks
      : (prices[middle] as number) < priceTicks;
    if (better) low = middle + 1;
    else high = middle;
  }
  return low;
}

class MarketDepth {
  readonly sides = [new SideLevels(true), new SideLevels(false)] as const;
  updateSequence = 0;
  touched = false;
}

/** Per-order state in struct-of-arrays columns, slots reused through a free list. */
class OrderTable {
  private readonly slotByOrderId = new Map<number, number>();
  marketId = new Uint16Array(0);
  side = new Uint8Array(0);
  priceTicks = new Uint32Array(0);
  remainingLots = new Uint32Array(0);
  private freeSlots = new Int32Array(0);
  private freeCount = 0;
  private capacity = 0;

  constructor(private readonly maxOrders: number) {}

  get size(): number {
    return this.slotByOrderId.size;
  }

  slotOf(orderId: number): number | undefined {
    return this.slotByOrderId.get(orderId);
  }

  allocate(orderId: number): number {
    if (this.slotByOrderId.has(orderId)) throw new Error(`order ${orderId} is already in the depth book`);
    if (this.freeCount === 0) this.grow();
    const slot = this.freeSlots[--this.freeCount];
    this.slotByOrderId.set(orderId, slot);
    return slot;
  }

  free(orderId: number, slot: number): void {
    this.slotByOrderId.delete(orderId);
    this.freeSlots[this.freeCount++] = slot;
  }

  private grow(): void {
    const old = this.capacity;
    if (old >= this.maxOrders) throw new RangeError(`depth tracks at most ${this.maxOrders} orders`);
    const next = Math.min(this.maxOrders, Math.max(INITIAL_ORDER_CAPACITY, old * 2));
    this.marketId = copyInto(new Uint16Array(next), this.marketId);
    this.side = copyInto(new Uint8Array(next), this.side);
    this.priceTicks = copyInto(new Uint32Array(next), this.priceTicks);
    this.remainingLots = copyInto(new Uint32Array(next), this.remainingLots);
    this.freeSlots = new Int32Array(next);
    // Every old slot is in use (we only grow when none is free), so only the new ones are free.
    this.freeCount = next - old;
    for (let index = 0; index < this.freeCount; index++) this.freeSlots[index] = next - 1 - index;
    this.capacity = next;
  }
}

function copyInto<T extends Uint8Array | Uint16Array | Uint32Array>(target: T, source: T): T {
  target.set(source);
  return target;
}

/** Depth of every market. Feed it events in order, then take updates after each batch. */
export class Depth {
  private readonly markets = new Map<number, MarketDepth>();
  private readonly orders: OrderTable;
  private readonly touchedMarkets: MarketDepth[] = [];
  private readonly touchedIds: number[] = [];

  /** `maxTrackedOrders`: the core's maxOpenOrders plus one (an IOC taker is tracked while it matches). */
  constructor(maxTrackedOrders: number) {
    if (!Number.isSafeInteger(maxTrackedOrders) || maxTrackedOrders < 1)
      throw new RangeError("maxTrackedOrders must be a positive integer");
    this.orders = new OrderTable(maxTrackedOrders);
  }

  get trackedOrderCount(): number {
    return this.orders.size;
  }

  addMarket(marketId: number): void {
    if (this.markets.has(marketId)) return;
    if (this.markets.size >= MAX_MARKETS) throw new RangeError(`at most ${MAX_MARKETS} markets`);
    this.markets.set(marketId, new MarketDepth());
  }

  hasMarket(marketId: number): boolean {
    return this.markets.has(marketId);
  }

  applyEvent(event: CoreEvent): void {
    if (event.type === "orderAccepted") this.accept(event);
    else if (event.type === "trade") this.trade(event);
    else if (event.type === "orderDone") this.done(event);
  }

  /** The levels each market changed since the last call, one update per changed market. */
  takeUpdates(): DepthUpdate[] {
    const updates: DepthUpdate[] = [];
    for (let index = 0; index < this.touchedMarkets.length; index++) {
      const market = this.touchedMarkets[index];
      market.touched = false;
      const bids = market.sides[SIDE_BID].takeChanges();
      const asks = market.sides[SIDE_ASK].takeChanges();
      if (bids.length === 0 && asks.length === 0) continue;
      market.updateSequence += 1;
      updates.push({ marketId: this.touchedIds[index], updateSequence: market.updateSequence, bids, asks });
    }
    this.touchedMarkets.length = 0;
    this.touchedIds.length = 0;
    return updates;
  }

  /**
   * Top `limit` levels per side. Take it between batches (after takeUpdates): the sequence it
   * carries counts the updates already handed out.
   */
  snapshot(marketId: number, limit: number): DepthSnapshot {
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_DEPTH_LEVELS)
      throw new RangeError(`depth limit must be an integer in 0..${MAX_DEPTH_LEVELS}`);
    const market = this.market(marketId);
    return {
      marketId,
      updateSequence: market.updateSequence,
      bids: market.sides[SIDE_BID].top(limit),
      asks: market.sides[SIDE_ASK].top(limit),
    };
  }

  /** 0 when the side is empty. */
  bestBidTicks(marketId: number): number {
    return this.market(marketId).sides[SIDE_BID].bestPriceTicks();
  }

  bestAskTicks(marketId: number): number {
    return this.market(marketId).sides[SIDE_ASK].bestPriceTicks();
  }

  levelCount(marketId: number): { bids: number; asks: number } {
    const market = this.market(marketId);
    return { bids: market.sides[SIDE_BID].levelCount, asks: market.sides[SIDE_ASK].levelCount };
  }

  private market(marketId: number): MarketDepth {
    const market = this.markets.get(marketId);
    if (market === undefined) throw new Error(`depth: unknown market ${marketId}`);
    return market;
  }

  private levels(marketId: number, side: number): SideLevels {
    const market = this.market(marketId);
    if (!market.touched) {
      market.touched = true;
      this.touchedMarkets.push(market);
      this.touchedIds.push(marketId);
    }
    return market.sides[side];
  }

  private accept(event: OrderAcceptedEvent): void {
    if (event.orderType !== "limit") return;
    const orders = this.orders;
    const side = event.side === "buy" ? SIDE_BID : SIDE_ASK;
    const levels = this.levels(event.marketId, side);
    const slot = orders.allocate(event.orderId);
    orders.marketId[slot] = event.marketId;
    orders.side[slot] = side;
    orders.priceTicks[slot] = event.priceTicks;
    orders.remainingLots[slot] = event.quantityLots;
    levels.add(event.priceTicks, event.quantityLots);
  }

  private trade(event: TradeEvent): void {
    if (this.orders.slotOf(event.makerOrderId) === undefined)
      throw new Error(`depth: trade ${event.tradeId} against untracked maker ${event.makerOrderId}`);
    this.reduce(event.makerOrderId, event.quantityLots);
    this.reduce(event.takerOrderId, event.quantityLots);
  }

  private reduce(orderId: number, lots: number): void {
    const orders = this.orders;
    const slot = orders.slotOf(orderId);
    if (slot === undefined) return;
    const remaining = orders.remainingLots[slot];
    if (lots > remaining) throw new Error(`depth: order ${orderId} traded more than it had`);
    orders.remainingLots[slot] = remaining - lots;
    this.levels(orders.marketId[slot], orders.side[slot]).subtract(orders.priceTicks[slot], lots);
  }

  private done(event: OrderDoneEvent): void {
    const orders = this.orders;
    const slot = orders.slotOf(event.orderId);
    if (slot === undefined) return;
    const remaining = orders.remainingLots[slot];
    if (remaining !== event.remainingLots)
      throw new Error(
        `depth: order ${event.orderId} ended with ${event.remainingLots} lots, tracked ${remaining}`,
      );
    this.levels(orders.marketId[slot], orders.side[slot]).subtract(orders.priceTicks[slot], remaining);
    orders.free(event.orderId, slot);
  }
}

// One side (bids or asks) of one market's order book: price levels, each a doubly linked FIFO
// of order-pool slots. Prices with orders are kept in a sorted array with the best price LAST,
// so taking or adding at the top of the book is a push or pop. Cancel is O(1) in the number of
// orders at a price: the order knows its level and its neighbours.

import { assert } from "../assert.ts";
import { NO_SLOT, type OrderPool } from "./order-pool.ts";

const MIN_LEVELS = 64;

export class BookSide {
  /** Prices that have orders, best last: bids ascending, asks descending. */
  readonly prices: number[] = [];
  /** Level slot of each entry of `prices`. */
  readonly levelSlots: number[] = [];
  private readonly levelByPrice = new Map<number, number>();

  levelPrice = new Float64Array(MIN_LEVELS);
  levelHead = new Int32Array(MIN_LEVELS);
  levelTail = new Int32Array(MIN_LEVELS);
  /** Sum of remaining lots at the level: may pass 2^32, so a double. */
  levelTotalLots = new Float64Array(MIN_LEVELS);
  private levelCapacity = MIN_LEVELS;
  private levelHighWater = 0;
  private readonly freeLevels: number[] = [];

  constructor(
    /** true for bids: a higher price is better. */
    readonly isBid: boolean,
    private readonly pool: OrderPool,
  ) {}

  get levelCount(): number {
    return this.prices.length;
  }

  /** Best level slot, or NO_SLOT when the side is empty. */
  bestLevel(): number {
    const count = this.levelSlots.length;
    return count === 0 ? NO_SLOT : this.levelSlots[count - 1];
  }

  bestPrice(): number {
    const count = this.prices.length;
    return count === 0 ? 0 : this.prices[count - 1];
  }

  /** Appends the order (already filled in the pool) at the back of its price's queue. */
  append(slot: number): void {
    const pool = this.pool;
    const price = pool.priceTicks[slot];
    let level = this.levelByPrice.get(price);
    if (level === undefined) level = this.addLevel(price);
    const tail = this.levelTail[level];
    pool.levelSlot[slot] = level;
    pool.previousInLevel[slot] = tail;
    pool.nextInLevel[slot] = NO_SLOT;
    if (tail === NO_SLOT) this.levelHead[level] = slot;
    else pool.nextInLevel[tail] = slot;
    this.levelTail[level] = slot;
    this.levelTotalLots[level] += pool.remainingLots[slot];
  }

  /** Unlinks the order from its level; drops the level when it empties. Does not free the slot. */
  remove(slot: number): void {
    const pool = this.pool;
    const level = pool.levelSlot[slot];
    const previous = pool.previousInLevel[slot];
    const next = pool.nextInLevel[slot];
    if (previous === NO_SLOT) this.levelHead[level] = next;
    else pool.nextInLevel[previous] = next;
    if (next === NO_SLOT) this.levelTail[level] = previous;
    else pool.previousInLevel[next] = previous;
    this.levelTotalLots[level] -= pool.remainingLots[slot];
    if (this.levelHead[level] === NO_SLOT) this.removeLevel(level);
  }

  /** Records that a resting order lost `lots` to a fill. */
  reduce(slot: number, lots: number): void {
    this.pool.remainingLots[slot] -= lots;
    this.levelTotalLots[this.pool.levelSlot[slot]] -= lots;
  }

  private addLevel(price: number): number {
    const level = this.allocateLevel();
    this.levelPrice[level] = price;
    this.levelHead[level] = NO_SLOT;
    this.levelTail[level] = NO_SLOT;
    this.levelTotalLots[level] = 0;
    this.levelByPrice.set(price, level);
    const index = this.insertionIndex(price);
    if (index === this.prices.length) {
      this.prices.push(price);
      this.levelSlots.push(level);
    } else {
      this.prices.splice(index, 0, price);
      this.levelSlots.splice(index, 0, level);
    }
    return level;
  }

  private removeLevel(level: number): void {
    const price = this.levelPrice[level];
    this.levelByPrice.delete(price);
    const last = this.prices.length - 1;
    if (this.prices[last] === price) {
      this.prices.pop();
      this.levelSlots.pop();
    } else {
      const index = this.insertionIndex(price);
      assert(this.prices[index] === price, "level price missing from the sorted prices");
      this.prices.splice(index, 1);
      this.levelSlots.splice(index, 1);
    }
    this.freeLevels.push(level);
  }

  /** First index whose price is not worse-ordered than `price` (binary search; best is last). */
  private insertionIndex(price: number): number {
    const prices = this.prices;
    let low = 0;
    let high = prices.length;
    // Fast path: most activity is at or near the top of the book.
    if (high > 0 && this.comesBefore(prices[high - 1], price)) return high;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.comesBefore(prices[middle], price)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Whether price `a` sorts before price `b` in `prices` (is worse). */
  private comesBefore(a: number, b: number): boolean {
    return this.isBid ? a < b : a > b;
  }

  private allocateLevel(): number {
    const reused = this.freeLevels.pop();
    if (reused !== undefined) return reused;
    if (this.levelHighWater === this.levelCapacity) this.growLevels();
    const level = this.levelHighWater;
    this.levelHighWater += 1;
    return level;
  }

  private growLevels(): void {
    const capacity = this.levelCapacity * 2;
    const price = new Float64Array(capacity);
    price.set(this.levelPrice);
    const head = new Int32Array(capacity);
    head.set(this.levelHead);
    const tail = new Int32Array(capacity);
    tail.set(this.levelTail);
    const total = new Float64Array(capacity);
    total.set(this.levelTotalLots);
    this.levelPrice = price;
    this.levelHead = head;
    this.levelTail = tail;
    this.levelTotalLots = total;
    this.levelCapacity = capacity;
  }
}

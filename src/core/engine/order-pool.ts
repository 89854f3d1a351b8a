// Every resting order of every market lives in one struct-of-arrays pool: one typed-array column
// per field, indexed by slot. No object per order, so a million orders cost about 52 bytes each
// (plus the id index) and the garbage collector has nothing to trace. Slots are reused through a
// free list threaded through `nextInLevel`.

import { assert } from "../assert.ts";

export const NO_SLOT = -1;
export const SIDE_BUY = 0;
export const SIDE_SELL = 1;
/** Side names by code: SIDE_NAMES[SIDE_BUY] is "buy". */
export const SIDE_NAMES = ["buy", "sell"] as const;

const MIN_CAPACITY = 1024;

export class OrderPool {
  orderId: Float64Array = new Float64Array(MIN_CAPACITY);
  clientOrderId: Float64Array = new Float64Array(MIN_CAPACITY);
  userId: Int32Array = new Int32Array(MIN_CAPACITY);
  marketId: Uint16Array = new Uint16Array(MIN_CAPACITY);
  side: Uint8Array = new Uint8Array(MIN_CAPACITY);
  /** Index into SELF_TRADE_PREVENTIONS. */
  selfTradePrevention: Uint8Array = new Uint8Array(MIN_CAPACITY);
  priceTicks: Uint32Array = new Uint32Array(MIN_CAPACITY);
  remainingLots: Uint32Array = new Uint32Array(MIN_CAPACITY);
  /** Slot of the price level (in its book side) the order rests in. */
  levelSlot: Int32Array = new Int32Array(MIN_CAPACITY);
  previousInLevel: Int32Array = new Int32Array(MIN_CAPACITY);
  nextInLevel: Int32Array = new Int32Array(MIN_CAPACITY);
  previousOfUser: Int32Array = new Int32Array(MIN_CAPACITY);
  nextOfUser: Int32Array = new Int32Array(MIN_CAPACITY);

  private capacity = MIN_CAPACITY;
  private freeHead = NO_SLOT;
  /** Slots below this mark have been handed out at least once. */
  private highWater = 0;
  private liveCount = 0;

  constructor(private readonly maxOrders: number) {}

  get size(): number {
    return this.liveCount;
  }

  allocate(): number {
    this.liveCount += 1;
    if (this.freeHead !== NO_SLOT) {
      const slot = this.freeHead;
      this.freeHead = this.nextInLevel[slot];
      return slot;
    }
    if (this.highWater === this.capacity) this.grow();
    const slot = this.highWater;
    this.highWater += 1;
    return slot;
  }

  free(slot: number): void {
    assert(this.orderId[slot] !== 0, "freeing a free order slot");
    this.orderId[slot] = 0;
    this.nextInLevel[slot] = this.freeHead;
    this.freeHead = slot;
    this.liveCount -= 1;
  }

  /** Grows the columns once to hold `slotCount` slots (restoring a snapshot). */
  reserve(slotCount: number): void {
    let capacity = this.capacity;
    while (capacity < slotCount) capacity *= 2;
    if (capacity > this.capacity) this.growTo(capacity);
  }

  private grow(): void {
    assert(this.highWater < this.maxOrders, "order pool over maxOpenOrders");
    this.growTo(this.capacity * 2);
  }

  private growTo(capacity: number): void {
    this.orderId = growFloat64(this.orderId, capacity);
    this.clientOrderId = growFloat64(this.clientOrderId, capacity);
    this.userId = growInt32(this.userId, capacity);
    this.marketId = growUint16(this.marketId, capacity);
    this.side = growUint8(this.side, capacity);
    this.selfTradePrevention = growUint8(this.selfTradePrevention, capacity);
    this.priceTicks = growUint32(this.priceTicks, capacity);
    this.remainingLots = growUint32(this.remainingLots, capacity);
    this.levelSlot = growInt32(this.levelSlot, capacity);
    this.previousInLevel = growInt32(this.previousInLevel, capacity);
    this.nextInLevel = growInt32(this.nextInLevel, capacity);
    this.previousOfUser = growInt32(this.previousOfUser, capacity);
    this.nextOfUser = growInt32(this.nextOfUser, capacity);
    this.capacity = capacity;
  }
}

function growFloat64(old: Float64Array, capacity: number): Float64Array {
  const grown = new Float64Array(capacity);
  grown.set(old);
  return grown;
}
function growInt32(old: Int32Array, capacity: number): Int32Array {
  const grown = new Int32Array(capacity);
  grown.set(old);
  return grown;
}
function growUint32(old: Uint32Array, capacity: number): Uint32Array {
  const grown = new Uint32Array(capacity);
  grown.set(old);
  return grown;
}
function growUint16(old: Uint16Array, capacity: number): Uint16Array {
  const grown = new Uint16Array(capacity);
  grown.set(old);
  return grown;
}
function growUint8(old: Uint8Array, capacity: number): Uint8Array {
  const grown = new Uint8Array(capacity);
  grown.set(old);
  return grown;
}

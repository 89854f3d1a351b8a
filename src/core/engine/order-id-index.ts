// Maps order ids to order-pool slots: an open-addressing hash table with linear probing in typed
// arrays, so a million entries cost 24 bytes each and no garbage. Id 0 marks an empty cell.

import { assert } from "../assert.ts";

const MIN_CAPACITY = 1024;

export class OrderIdIndex {
  private keys: Float64Array;
  private values: Int32Array;
  private mask: number;
  private count = 0;

  constructor(private readonly maxEntries: number) {
    this.keys = new Float64Array(MIN_CAPACITY);
    this.values = new Int32Array(MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Fibonacci hashing of both 32-bit halves; ids are sequence numbers, so low bits alone would cluster. */
  private home(orderId: number): number {
    const low = orderId >>> 0;
    const high = (orderId / 4294967296) >>> 0;
    return (Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> 0) & this.mask;
  }

  get(orderId: number): number {
    let cell = this.home(orderId);
    for (;;) {
      const key = this.keys[cell];
      if (key === orderId) return this.values[cell];
      if (key === 0) return -1;
      cell = (cell + 1) & this.mask;
    }
  }

  set(orderId: number, slot: number): void {
    assert(orderId > 0, "order id must be positive");
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    let cell = this.home(orderId);
    for (;;) {
      const key = this.keys[cell];
      if (key === 0) break;
      assert(key !== orderId, "order id already indexed");
      cell = (cell + 1) & this.mask;
    }
    this.keys[cell] = orderId;
    this.values[cell] = slot;
    this.count += 1;
  }

  delete(orderId: number): void {
    let cell = this.home(orderId);
    while (this.keys[cell] !== orderId) {
      assert(this.keys[cell] !== 0, "deleting an order id that is not indexed");
      cell = (cell + 1) & this.mask;
    }
    this.count -= 1;
    // Backward-shift deletion keeps probe chains intact without tombstones.
    let hole = cell;
    let next = (hole + 1) & this.mask;
    while (this.keys[next] !== 0) {
      const home = this.home(this.keys[next]);
      const distanceFromHome = (next - home) & this.mask;
      const distanceFromHole = (next - hole) & this.mask;
      if (distanceFromHome >= distanceFromHole) {
        this.keys[hole] = this.keys[next];
        this.values[hole] = this.values[next];
        hole = next;
      }
      next = (next + 1) & this.mask;
    }
    this.keys[hole] = 0;
  }

  /** Sizes the table for `entryCount` entries at once (restoring a snapshot), instead of doubling repeatedly. */
  reserve(entryCount: number): void {
    while (entryCount * 2 > this.keys.length) this.grow();
  }

  private grow(): void {
    const capacity = this.keys.length * 2;
    assert(capacity <= Math.max(MIN_CAPACITY, this.maxEntries * 4), "order id index over its limit");
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Float64Array(capacity);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.count = 0;
    for (let cell = 0; cell < oldKeys.length; cell++) {
      if (oldKeys[cell] !== 0) this.set(oldKeys[cell], oldValues[cell]);
    }
  }
}

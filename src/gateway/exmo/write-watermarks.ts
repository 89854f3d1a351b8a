// Read-your-writes for private reads: the last sequence this gateway submitted for each user.
// A read waits until the store has projected that sequence, so an order placed a moment ago is
// in user_open_orders. Bounded: past `capacity` users the least recently written one is dropped,
// and its sequence raises a floor every unknown user waits for instead, so dropping an entry can
// only make a read wait longer, never show stale data. Recency is "last written": reads peek.

import { LruMap } from "../../lib/lru.ts";

export const DEFAULT_WATERMARK_CAPACITY = 100_000;

export class WriteWatermarks {
  private readonly lastSequenceByUser: LruMap<number, number>;
  private evictedFloor = 0;

  constructor(capacity = DEFAULT_WATERMARK_CAPACITY) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError("capacity must be a positive integer");
    this.lastSequenceByUser = new LruMap(capacity, (_userId, sequence) => {
      this.evictedFloor = Math.max(this.evictedFloor, sequence);
    });
  }

  record(userId: number, sequence: number): void {
    const previous = this.lastSequenceByUser.peek(userId);
    if (previous !== undefined && previous >= sequence) return;
    this.lastSequenceByUser.set(userId, sequence);
  }

  /** The sequence the store must reach before this user's reads may run. */
  sequenceFor(userId: number): number {
    return this.lastSequenceByUser.peek(userId) ?? this.evictedFloor;
  }

  get size(): number {
    return this.lastSequenceByUser.size;
  }
}

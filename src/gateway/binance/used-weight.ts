// Binance's X-MBX-USED-WEIGHT-1M: the request weight an address has used in the current minute,
// sent on every answer of the dialect so a client can pace itself before the limit refuses it.
// The weights are the guard's (guard/route-costs.ts); the guard's token buckets decide refusals,
// this only reports. Bounded: at most MAX_TRACKED_ADDRESSES address groups, the least recently
// seen dropped first (a dropped address restarts from zero, which only under-reports).

import { LruMap } from "../../lib/lru.ts";
import { addressBucketKey } from "../guard/rate-limit.ts";

export const MAX_TRACKED_ADDRESSES = 100_000;
const MINUTE_MS = 60_000;

interface MinuteWeight {
  minute: number;
  weight: number;
}

export class UsedWeightPerMinute {
  private readonly byAddress: LruMap<string, MinuteWeight>;

  constructor(
    private readonly clock: () => number,
    maxTracked: number = MAX_TRACKED_ADDRESSES,
  ) {
    this.byAddress = new LruMap(maxTracked);
  }

  /** Adds `weight` to the address's current minute; returns the minute's total. */
  charge(ip: string, weight: number): number {
    const minute = Math.floor(this.clock() / MINUTE_MS);
    const key = addressBucketKey(ip);
    const entry = this.byAddress.get(key);
    const total = entry !== undefined && entry.minute === minute ? entry.weight + weight : weight;
    this.byAddress.set(key, { minute, weight: total });
    return total;
  }
}

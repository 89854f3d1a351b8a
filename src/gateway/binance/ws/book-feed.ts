// One market's book as the Binance streams see it: fed by ONE market-data subscriber on the depth
// topic (a snapshot, then one delta per batch with consecutive update sequences — the same
// sequence REST /api/v3/depth calls lastUpdateId), shared by every socket that watches the market.
//
// It keeps a mirror of the levels (for partial books and the best bid/ask) and, per update speed,
// the levels changed since the last push with the sequence range they cover: pushed as one
// depthUpdate {U: first, u: last}, so consecutive pushes are contiguous (U = previous u + 1) and
// a client doing Binance's documented sync ends with exactly the core's book. A gap in the
// sequence (the subscriber was dropped) ends the feed: its diff watchers must resync.

import { type DepthLevel, priceIndex } from "../../../marketdata/depth.ts";
import { MAX_DEPTH_LEVELS } from "../../../marketdata/limits.ts";
import type { MarketDataUpdate } from "../../../marketdata/subscriptions.ts";
import type { StreamSpeed } from "./streams.ts";

/** Levels of a partial book stream at most (depth5/10/20): a truncated mirror is re-read below this. */
export const MAX_PARTIAL_LEVELS = 20;

/** One side: totals per price and the prices sorted best first (binary-search insertion). */
export class SortedSide {
  private readonly totals = new Map<number, number>();
  private readonly prices: number[] = [];

  constructor(private readonly descending: boolean) {}

  get size(): number {
    return this.prices.length;
  }

  clear(): void {
    this.totals.clear();
    this.prices.length = 0;
  }

  /** Sets a level's new total; 0 removes it. */
  set(priceTicks: number, quantityLots: number): void {
    const present = this.totals.has(priceTicks);
    if (quantityLots === 0) {
      if (!present) return;
      this.totals.delete(priceTicks);
      this.prices.splice(this.indexOf(priceTicks), 1);
      return;
    }
    if (!present) this.prices.splice(this.indexOf(priceTicks), 0, priceTicks);
    this.totals.set(priceTicks, quantityLots);
  }

  top(limit: number): DepthLevel[] {
    const count = Math.min(limit, this.prices.length);
    const levels: DepthLevel[] = new Array(count);
    for (let index = 0; index < count; index++) {
      const priceTicks = this.prices[index];
      levels[index] = { priceTicks, quantityLots: this.totals.get(priceTicks)! };
    }
    return levels;
  }

  best(): DepthLevel | undefined {
    const priceTicks = this.prices[0];
    return priceTicks === undefined ? undefined : { priceTicks, quantityLots: this.totals.get(priceTicks)! };
  }

  private indexOf(priceTicks: number): number {
    return priceIndex(this.prices, priceTicks, this.descending);
  }
}

/**
 * Levels changed since the last push and the sequences they cover. Its maps hold at most the
 * levels touched in one push interval, which the book's own bound (tracked orders) limits.
 */
class PendingDiff {
  /** First sequence not yet pushed. */
  from: number;
  /** Last sequence merged; from - 1 when empty. */
  to: number;
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();

  constructor(sequence: number) {
    this.from = sequence + 1;
    this.to = sequence;
  }

  merge(update: { updateSequence: number; bids: readonly DepthLevel[]; asks: readonly DepthLevel[] }): void {
    this.to = update.updateSequence;
    for (const level of update.bids) this.bids.set(level.priceTicks, level.quantityLots);
    for (const level of update.asks) this.asks.set(level.priceTicks, level.quantityLots);
  }

  /** The pending range and levels (best first), then empty from the next sequence; null when nothing is pending. */
  take(): { first: number; last: number; bids: DepthLevel[]; asks: DepthLevel[] } | null {
    if (this.to < this.from) return null;
    const taken = {
      first: this.from,
      last: this.to,
      bids: sortedLevels(this.bids, true),
      asks: sortedLevels(this.asks, false),
    };
    this.bids.clear();
    this.asks.clear();
    this.from = this.to + 1;
    return taken;
  }
}

function sortedLevels(levels: Map<number, number>, descending: boolean): DepthLevel[] {
  const sorted = [...levels].map(([priceTicks, quantityLots]) => ({ priceTicks, quantityLots }));
  return sorted.sort((left, right) =>
    descending ? right.priceTicks - left.priceTicks : left.priceTicks - right.priceTicks,
  );
}

export type FeedChange = "none" | "changed" | "lost" | "resync";

export class BookFeed {
  readonly bids = new SortedSide(true);
  readonly asks = new SortedSide(false);
  /** The sequence of the last update applied; -1 until the first snapshot. */
  sequence = -1;
  /** The snapshot held MAX_DEPTH_LEVELS on a side: deeper levels are unseen. */
  private truncated = false;
  private readonly pending = new Map<StreamSpeed, PendingDiff>();
  /** Partial books to push at the next tick of each speed. */
  readonly partialDirty = new Map<StreamSpeed, boolean>([
    ["fast", false],
    ["slow", false],
  ]);
  private bestKey = "";

  /** Applies one market-data update; "resync" asks the caller for a fresh snapshot (truncated side thinned). */
  apply(update: MarketDataUpdate): FeedChange {
    if (update.topic !== "depth") return "none";
    if (update.event === "snapshot") {
      const depth = update.depth;
      // A re-read snapshot must continue the sequence we already have (nothing was skipped).
      if (this.sequence >= 0 && depth.updateSequence !== this.sequence) return "lost";
      this.bids.clear();
      this.asks.clear();
      for (const level of depth.bids) this.bids.set(level.priceTicks, level.quantityLots);
      for (const level of depth.asks) this.asks.set(level.priceTicks, level.quantityLots);
      this.truncated = depth.bids.length >= MAX_DEPTH_LEVELS || depth.asks.length >= MAX_DEPTH_LEVELS;
      if (this.sequence < 0) {
        this.sequence = depth.updateSequence;
        this.pending.set("fast", new PendingDiff(this.sequence));
        this.pending.set("slow", new PendingDiff(this.sequence));
      }
      this.markPartialDirty();
      return "changed";
    }
    const depth = update.depth;
    if (this.sequence < 0 || depth.updateSequence !== this.sequence + 1) return "lost";
    this.sequence = depth.updateSequence;
    for (const level of depth.bids) this.bids.set(level.priceTicks, level.quantityLots);
    for (const level of depth.asks) this.asks.set(level.priceTicks, level.quantityLots);
    for (const diff of this.pending.values()) diff.merge(depth);
    this.markPartialDirty();
    if (this.truncated && (this.bids.size < MAX_PARTIAL_LEVELS || this.asks.size < MAX_PARTIAL_LEVELS))
      return "resync";
    return "changed";
  }

  /** The diff to push at this tick of `speed`, or null. */
  takeDiff(speed: StreamSpeed): ReturnType<PendingDiff["take"]> {
    return this.pending.get(speed)?.take() ?? null;
  }

  /** True when the best bid or ask (price or quantity) differs from the last time this was asked. */
  bestChanged(): boolean {
    const bid = this.bids.best();
    const ask = this.asks.best();
    const key = `${bid?.priceTicks}:${bid?.quantityLots}:${ask?.priceTicks}:${ask?.quantityLots}`;
    if (key === this.bestKey) return false;
    this.bestKey = key;
    return true;
  }

  private markPartialDirty(): void {
    this.partialDirty.set("fast", true);
    this.partialDirty.set("slow", true);
  }
}

// spot/order_book_snapshots (docs/API.md#ws-public-topics): each frame is the full top BOOK_SNAPSHOT_LEVELS of a
// book, sent after every change. One mirror per watched market is shared by all its watchers, fed
// by one market-data subscriber (depth snapshot, then deltas), so the cost per change is one sort
// per market however many connections watch it. A market's mirror exists only while watched.
//
// The depth snapshot holds the top MAX_DEPTH_LEVELS; deeper levels the mirror never saw could
// surface only after that many levels vanish, so a side that was truncated and has thinned below
// the frame size is re-read from a fresh snapshot.

import type { ExchangeBoundary, MarketContext } from "../../exchange/boundary.ts";
import type { DepthLevel } from "../../marketdata/depth.ts";
import { MAX_DEPTH_LEVELS } from "../../marketdata/limits.ts";
import type { MarketDataUpdate, Subscriber } from "../../marketdata/subscriptions.ts";
import { bookData } from "./format.ts";
import { BOOK_SNAPSHOT_LEVELS } from "./limits.ts";

export interface SnapshotWatcher {
  /** A full top-of-book frame for the market. Must not throw. */
  sendBookSnapshot(market: MarketContext, data: unknown): void;
  /** The mirror could not keep up (its subscriber was dropped): watchers must resubscribe. */
  bookFeedLost(market: MarketContext): void;
}

/** Updates drained per readable callback: the hub's queue bound, so one pass empties it. */
const MAX_DRAIN_PER_PASS = 1_024;

class MarketMirror {
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  readonly watchers = new Set<SnapshotWatcher>();
  truncated = false;
  subscriber: Subscriber | null = null;
  scheduled = false;

  constructor(readonly market: MarketContext) {}

  top(): unknown {
    return bookData(this.market, topLevels(this.bids, true), topLevels(this.asks, false));
  }
}

function topLevels(levels: Map<number, number>, descending: boolean): DepthLevel[] {
  const prices = [...levels.keys()].sort((left, right) => (descending ? right - left : left - right));
  return prices
    .slice(0, BOOK_SNAPSHOT_LEVELS)
    .map((priceTicks) => ({ priceTicks, quantityLots: levels.get(priceTicks)! }));
}

function setLevels(target: Map<number, number>, levels: readonly DepthLevel[]): void {
  for (const level of levels)
    if (level.quantityLots === 0) target.delete(level.priceTicks);
    else target.set(level.priceTicks, level.quantityLots);
}

export class BookSnapshots {
  private readonly mirrors = new Map<number, MarketMirror>();

  constructor(private readonly exchange: ExchangeBoundary) {}

  /** False when market data refuses another subscriber (its global limit). */
  watch(watcher: SnapshotWatcher, market: MarketContext): boolean {
    const marketId = market.config.marketId;
    let mirror = this.mirrors.get(marketId);
    if (mirror === undefined) {
      mirror = new MarketMirror(market);
      if (!this.open(mirror)) return false;
      this.mirrors.set(marketId, mirror);
    } else if (mirror.subscriber !== null && mirror.subscriber.queuedCount === 0) {
      // The mirror is current: the newcomer gets the book now rather than at the next change.
      watcher.sendBookSnapshot(market, mirror.top());
    }
    mirror.watchers.add(watcher);
    return true;
  }

  unwatch(watcher: SnapshotWatcher, market: MarketContext): void {
    const mirror = this.mirrors.get(market.config.marketId);
    if (mirror === undefined || !mirror.watchers.delete(watcher) || mirror.watchers.size > 0) return;
    this.mirrors.delete(market.config.marketId);
    if (mirror.subscriber !== null) this.exchange.marketData.closeSubscriber(mirror.subscriber);
    mirror.subscriber = null;
  }

  close(): void {
    for (const mirror of this.mirrors.values())
      if (mirror.subscriber !== null) this.exchange.marketData.closeSubscriber(mirror.subscriber);
    this.mirrors.clear();
  }

  private open(mirror: MarketMirror): boolean {
    const marketData = this.exchange.marketData;
    const subscriber = marketData.createSubscriber({
      onReadable: () => this.schedule(mirror),
      onDrop: () => this.lose(mirror),
    });
    if (subscriber === null) return false;
    mirror.subscriber = subscriber;
    const result = marketData.subscribe(subscriber, {
      kind: "depth",
      marketId: mirror.market.config.marketId,
    });
    return result === "subscribed";
  }

  private schedule(mirror: MarketMirror): void {
    if (mirror.scheduled) return;
    mirror.scheduled = true;
    // After the current batch is fully published, so one frame covers the whole batch.
    queueMicrotask(() => this.drain(mirror));
  }

  private drain(mirror: MarketMirror): void {
    mirror.scheduled = false;
    const subscriber = mirror.subscriber;
    if (subscriber === null) return;
    const updates = subscriber.drain(MAX_DRAIN_PER_PASS);
    if (updates.length === 0) return;
    for (const update of updates) this.apply(mirror, update);
    if (this.needsResync(mirror)) {
      this.resync(mirror);
      return;
    }
    const data = mirror.top();
    for (const watcher of mirror.watchers) watcher.sendBookSnapshot(mirror.market, data);
  }

  private apply(mirror: MarketMirror, update: MarketDataUpdate): void {
    if (update.topic !== "depth") return;
    if (update.event === "snapshot") {
      mirror.bids.clear();
      mirror.asks.clear();
      mirror.truncated =
        update.depth.bids.length >= MAX_DEPTH_LEVELS || update.depth.asks.length >= MAX_DEPTH_LEVELS;
    }
    setLevels(mirror.bids, update.depth.bids);
    setLevels(mirror.asks, update.depth.asks);
  }

  private needsResync(mirror: MarketMirror): boolean {
    return (
      mirror.truncated && (mirror.bids.size < BOOK_SNAPSHOT_LEVELS || mirror.asks.size < BOOK_SNAPSHOT_LEVELS)
    );
  }

  /** Leaving and re-joining the depth topic queues a fresh snapshot (MarketData.subscribe). */
  private resync(mirror: MarketMirror): void {
    const subscriber = mirror.subscriber;
    if (subscriber === null) return;
    const topic = { kind: "depth" as const, marketId: mirror.market.config.marketId };
    this.exchange.marketData.unsubscribe(subscriber, topic);
    if (this.exchange.marketData.subscribe(subscriber, topic) !== "subscribed") this.lose(mirror);
  }

  private lose(mirror: MarketMirror): void {
    this.mirrors.delete(mirror.market.config.marketId);
    if (mirror.subscriber !== null) this.exchange.marketData.closeSubscriber(mirror.subscriber);
    mirror.subscriber = null;
    for (const watcher of mirror.watchers) watcher.bookFeedLost(mirror.market);
    mirror.watchers.clear();
  }
}

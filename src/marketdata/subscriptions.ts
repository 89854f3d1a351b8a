// Fan-out of market data updates to WebSocket connections, with every count bounded: subscribers
// overall, subscribers per topic, topics per subscriber, and updates queued per subscriber.
//
// Each subscriber (one per WS connection) has a fixed-size queue. Publishing never blocks and never
// buffers without bound: when a subscriber's queue is full it is a slow consumer and is dropped
// (removed from every topic, queue cleared, `onDrop` called once); the WS layer then closes the
// socket and the client reconnects and resubscribes, getting fresh snapshots. The WS layer drains
// the queue when its socket can take more; `onReadable` tells it the queue stopped being empty.

import type { DepthSnapshot, DepthUpdate } from "./depth.ts";
import {
  MAX_QUEUED_UPDATES_PER_SUBSCRIBER,
  MAX_SUBSCRIBERS,
  MAX_SUBSCRIBERS_PER_TOPIC,
  MAX_TOPICS_PER_SUBSCRIBER,
} from "./limits.ts";
import type { Ticker } from "./ticker.ts";
import type { PublicTrade } from "./trades.ts";

/** ticker = EXMO spot/ticker, trades = spot/trades, depth = spot/order_book_updates. */
export type TopicKind = "ticker" | "trades" | "depth";

export interface Topic {
  kind: TopicKind;
  marketId: number;
}

export type MarketDataUpdate =
  | { topic: "ticker"; event: "snapshot" | "update"; marketId: number; ticker: Ticker }
  /** The trades of one applied batch, oldest first. */
  | { topic: "trades"; event: "update"; marketId: number; trades: PublicTrade[] }
  | { topic: "depth"; event: "snapshot"; marketId: number; depth: DepthSnapshot }
  | { topic: "depth"; event: "update"; marketId: number; depth: DepthUpdate };

export type SubscribeResult =
  | "subscribed"
  | "alreadySubscribed"
  | "unknownMarket"
  | "tooManySubscribersOnTopic"
  | "tooManyTopics"
  /** The subscriber was dropped or closed. */
  | "closed";

export type DropReason = "slowConsumer";

export interface SubscriptionLimits {
  maxSubscribers: number;
  maxSubscribersPerTopic: number;
  maxTopicsPerSubscriber: number;
  maxQueuedUpdatesPerSubscriber: number;
}

export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = {
  maxSubscribers: MAX_SUBSCRIBERS,
  maxSubscribersPerTopic: MAX_SUBSCRIBERS_PER_TOPIC,
  maxTopicsPerSubscriber: MAX_TOPICS_PER_SUBSCRIBER,
  maxQueuedUpdatesPerSubscriber: MAX_QUEUED_UPDATES_PER_SUBSCRIBER,
};

export function topicKey(topic: Topic): string {
  return `${topic.kind}:${topic.marketId}`;
}

export interface SubscriberCallbacks {
  /** The queue went from empty to non-empty: drain it when the socket can take more. Must not throw. */
  onReadable(): void;
  /** The subscriber was dropped and will get nothing more. Must not throw. */
  onDrop(reason: DropReason): void;
}

export class Subscriber {
  private readonly queue: (MarketDataUpdate | undefined)[];
  private head = 0;
  private count = 0;
  /** Topic keys, so a drop can leave every topic. */
  readonly topics = new Set<string>();
  state: "open" | "dropped" | "closed" = "open";

  constructor(
    readonly id: number,
    capacity: number,
    private readonly callbacks: SubscriberCallbacks,
  ) {
    this.queue = new Array(capacity).fill(undefined);
  }

  get queuedCount(): number {
    return this.count;
  }

  /** Takes up to `max` queued updates, oldest first. */
  drain(max: number): MarketDataUpdate[] {
    const taken = Math.max(0, Math.min(max, this.count));
    const updates: MarketDataUpdate[] = new Array(taken);
    for (let index = 0; index < taken; index++) {
      updates[index] = this.queue[this.head]!;
      this.queue[this.head] = undefined;
      this.head = this.head + 1 === this.queue.length ? 0 : this.head + 1;
    }
    this.count -= taken;
    return updates;
  }

  /** False when the queue is full: the caller drops the subscriber. */
  offer(update: MarketDataUpdate): boolean {
    if (this.count === this.queue.length) return false;
    const slot = (this.head + this.count) % this.queue.length;
    this.queue[slot] = update;
    this.count += 1;
    if (this.count === 1) this.callbacks.onReadable();
    return true;
  }

  clear(): void {
    this.queue.fill(undefined);
    this.head = 0;
    this.count = 0;
  }

  notifyDrop(reason: DropReason): void {
    this.callbacks.onDrop(reason);
  }
}

export class SubscriptionHub {
  readonly limits: SubscriptionLimits;
  private readonly byTopic = new Map<string, Set<Subscriber>>();
  private readonly subscribers = new Set<Subscriber>();
  private nextId = 1;

  constructor(limits: Partial<SubscriptionLimits> = {}) {
    this.limits = { ...DEFAULT_SUBSCRIPTION_LIMITS, ...limits };
    for (const [name, value] of Object.entries(this.limits))
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`${name} must be a positive integer`);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** A new subscriber, or null when the hub already has maxSubscribers. */
  createSubscriber(callbacks: SubscriberCallbacks): Subscriber | null {
    if (this.subscribers.size >= this.limits.maxSubscribers) return null;
    const subscriber = new Subscriber(this.nextId++, this.limits.maxQueuedUpdatesPerSubscriber, callbacks);
    this.subscribers.add(subscriber);
    return subscriber;
  }

  /** Adds the subscriber to the topic; `first` (a snapshot) is queued before any later update. */
  subscribe(subscriber: Subscriber, topic: Topic, first: MarketDataUpdate | null): SubscribeResult {
    if (subscriber.state !== "open") return "closed";
    const key = topicKey(topic);
    if (subscriber.topics.has(key)) return "alreadySubscribed";
    if (subscriber.topics.size >= this.limits.maxTopicsPerSubscriber) return "tooManyTopics";
    let members = this.byTopic.get(key);
    if (members !== undefined && members.size >= this.limits.maxSubscribersPerTopic)
      return "tooManySubscribersOnTopic";
    if (members === undefined) {
      members = new Set();
      this.byTopic.set(key, members);
    }
    members.add(subscriber);
    subscriber.topics.add(key);
    if (first !== null) this.deliver(subscriber, first);
    return subscriber.state === "open" ? "subscribed" : "closed";
  }

  unsubscribe(subscriber: Subscriber, topic: Topic): boolean {
    const key = topicKey(topic);
    if (!subscriber.topics.delete(key)) return false;
    this.leave(subscriber, key);
    return true;
  }

  /** The connection went away: forget the subscriber. */
  close(subscriber: Subscriber): void {
    if (subscriber.state === "open") subscriber.state = "closed";
    this.remove(subscriber);
  }

  hasSubscribers(topic: Topic): boolean {
    return this.byTopic.has(topicKey(topic));
  }

  topicSubscriberCount(topic: Topic): number {
    return this.byTopic.get(topicKey(topic))?.size ?? 0;
  }

  /** Queues the update for every subscriber of the topic, dropping those whose queue is full. */
  publish(topic: Topic, update: MarketDataUpdate): void {
    const members = this.byTopic.get(topicKey(topic));
    if (members === undefined) return;
    // Deleting from a Set while iterating it is safe: a dropped member is simply not visited again.
    for (const subscriber of members) this.deliver(subscriber, update);
  }

  private deliver(subscriber: Subscriber, update: MarketDataUpdate): void {
    if (subscriber.offer(update)) return;
    subscriber.state = "dropped";
    this.remove(subscriber);
    subscriber.notifyDrop("slowConsumer");
  }

  private remove(subscriber: Subscriber): void {
    for (const key of subscriber.topics) this.leave(subscriber, key);
    subscriber.topics.clear();
    subscriber.clear();
    this.subscribers.delete(subscriber);
  }

  private leave(subscriber: Subscriber, key: string): void {
    const members = this.byTopic.get(key);
    if (members === undefined) return;
    members.delete(subscriber);
    if (members.size === 0) this.byTopic.delete(key);
  }
}

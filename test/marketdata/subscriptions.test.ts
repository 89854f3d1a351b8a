import { describe, expect, it } from "vitest";
import {
  DEFAULT_SUBSCRIPTION_LIMITS,
  type DropReason,
  type MarketDataUpdate,
  SubscriptionHub,
  type Topic,
} from "../../src/marketdata/subscriptions.ts";
import { publicTrade } from "../../src/marketdata/trades.ts";
import { trade } from "./fixtures.ts";

const TRADES_1: Topic = { kind: "trades", marketId: 1 };
const DEPTH_1: Topic = { kind: "depth", marketId: 1 };

function update(price: number): MarketDataUpdate {
  return { topic: "trades", event: "update", marketId: 1, trades: [publicTrade(trade(0, price, 1))] };
}

function recorder() {
  const log = { readable: 0, drops: [] as DropReason[] };
  return {
    log,
    callbacks: {
      onReadable: () => {
        log.readable += 1;
      },
      onDrop: (reason: DropReason) => {
        log.drops.push(reason);
      },
    },
  };
}

const prices = (updates: MarketDataUpdate[]) =>
  updates.map((u) => (u.topic === "trades" ? u.trades[0].priceTicks : -1));

describe("SubscriptionHub", () => {
  it("delivers in order through a bounded queue and signals readability once per empty-to-non-empty", () => {
    const hub = new SubscriptionHub({ maxQueuedUpdatesPerSubscriber: 4 });
    const { log, callbacks } = recorder();
    const subscriber = hub.createSubscriber(callbacks)!;
    expect(hub.subscribe(subscriber, TRADES_1, null)).toBe("subscribed");
    hub.publish(TRADES_1, update(1));
    hub.publish(TRADES_1, update(2));
    hub.publish({ kind: "trades", marketId: 2 }, update(99)); // another topic: not delivered
    expect(log.readable).toBe(1);
    expect(prices(subscriber.drain(1))).toEqual([1]);
    expect(prices(subscriber.drain(10))).toEqual([2]);
    hub.publish(TRADES_1, update(3));
    expect(log.readable).toBe(2);
    // A consumer that keeps up is never dropped, however many updates pass through its queue.
    for (let index = 0; index < 100; index++) {
      hub.publish(TRADES_1, update(index));
      subscriber.drain(10);
    }
    expect(subscriber.state).toBe("open");
    expect(log.drops).toEqual([]);
  });

  it("drops a slow consumer when its queue is full, from every topic, and tells it once", () => {
    const hub = new SubscriptionHub({ maxQueuedUpdatesPerSubscriber: 3 });
    const slow = recorder();
    const fast = recorder();
    const slowSubscriber = hub.createSubscriber(slow.callbacks)!;
    const fastSubscriber = hub.createSubscriber(fast.callbacks)!;
    hub.subscribe(slowSubscriber, TRADES_1, null);
    hub.subscribe(slowSubscriber, DEPTH_1, null);
    hub.subscribe(fastSubscriber, TRADES_1, null);
    for (let price = 1; price <= 3; price++) hub.publish(TRADES_1, update(price));
    expect(slowSubscriber.state).toBe("open");
    expect(prices(fastSubscriber.drain(10))).toEqual([1, 2, 3]);
    hub.publish(TRADES_1, update(4));
    expect(slowSubscriber.state).toBe("dropped");
    expect(slow.log.drops).toEqual(["slowConsumer"]);
    expect(slowSubscriber.queuedCount).toBe(0);
    expect(slowSubscriber.drain(10)).toEqual([]);
    expect(hub.topicSubscriberCount(TRADES_1)).toBe(1);
    expect(hub.hasSubscribers(DEPTH_1)).toBe(false);
    expect(hub.subscriberCount).toBe(1);
    hub.publish(TRADES_1, update(5));
    expect(slow.log.drops).toEqual(["slowConsumer"]);
    expect(hub.subscribe(slowSubscriber, TRADES_1, null)).toBe("closed");
    expect(prices(fastSubscriber.drain(10))).toEqual([4, 5]);
  });

  it("caps subscribers per topic, topics per subscriber and subscribers overall", () => {
    const hub = new SubscriptionHub({
      maxSubscribersPerTopic: 2,
      maxTopicsPerSubscriber: 2,
      maxSubscribers: 3,
    });
    const [a, b, c] = [1, 2, 3].map(() => hub.createSubscriber(recorder().callbacks)!);
    expect(hub.createSubscriber(recorder().callbacks)).toBeNull();
    expect(hub.subscribe(a, TRADES_1, null)).toBe("subscribed");
    expect(hub.subscribe(a, TRADES_1, null)).toBe("alreadySubscribed");
    expect(hub.subscribe(b, TRADES_1, null)).toBe("subscribed");
    expect(hub.subscribe(c, TRADES_1, null)).toBe("tooManySubscribersOnTopic");
    expect(hub.subscribe(a, DEPTH_1, null)).toBe("subscribed");
    expect(hub.subscribe(a, { kind: "ticker", marketId: 1 }, null)).toBe("tooManyTopics");
    expect(hub.unsubscribe(a, TRADES_1)).toBe(true);
    expect(hub.unsubscribe(a, TRADES_1)).toBe(false);
    expect(hub.subscribe(c, TRADES_1, null)).toBe("subscribed");
    hub.close(b);
    expect(hub.subscriberCount).toBe(2);
    expect(hub.createSubscriber(recorder().callbacks)).not.toBeNull();
  });

  it("queues the first update (a snapshot) before anything published later", () => {
    const hub = new SubscriptionHub();
    const subscriber = hub.createSubscriber(recorder().callbacks)!;
    hub.subscribe(subscriber, TRADES_1, update(7));
    hub.publish(TRADES_1, update(8));
    expect(prices(subscriber.drain(10))).toEqual([7, 8]);
  });

  it("has explicit default limits and refuses nonsense ones", () => {
    expect(DEFAULT_SUBSCRIPTION_LIMITS).toEqual({
      maxSubscribers: 100_000,
      maxSubscribersPerTopic: 10_000,
      maxTopicsPerSubscriber: 64,
      maxQueuedUpdatesPerSubscriber: 1_024,
    });
    expect(() => new SubscriptionHub({ maxQueuedUpdatesPerSubscriber: 0 })).toThrow(RangeError);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Command, UnstampedCommand } from "../../src/core/commands.ts";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import type { CoreStateView, RestingOrderView } from "../../src/core/state-view.ts";
import { Depth, type DepthLevel, SideLevels } from "../../src/marketdata/depth.ts";
import { limitOrder } from "../support/orders.ts";
import { MARKETS, runThroughCore, setupCommands, stampedBatches, streamArb } from "./streams.ts";

/** A core after the setup commands, and a function that applies more commands to it and a Depth. */
function harness() {
  const core = new Core({ maxOpenOrders: 1_000, maxUsers: 100 });
  const depth = new Depth(1_001);
  for (const config of MARKETS) depth.addMarket(config.marketId);
  let sequence = 0;
  const run = (commands: UnstampedCommand[]): CoreEvent[] => {
    const events: CoreEvent[] = [];
    const stamped = commands.map(
      (command) => ({ ...command, sequence: ++sequence, timestampMs: 1_000 }) as Command,
    );
    core.applyBatch(stamped, events);
    for (const event of events) depth.applyEvent(event);
    return events;
  };
  run(setupCommands());
  depth.takeUpdates();
  return { core, depth, run };
}

const level = (priceTicks: number, quantityLots: number): DepthLevel => ({ priceTicks, quantityLots });

/** Sum of remaining lots per price, best first, from the core's own state. */
function coreLevels(orders: RestingOrderView[]): DepthLevel[] {
  const levels: DepthLevel[] = [];
  for (const order of orders) {
    const last = levels[levels.length - 1];
    if (last !== undefined && last.priceTicks === order.priceTicks) last.quantityLots += order.remainingLots;
    else levels.push(level(order.priceTicks, order.remainingLots));
  }
  return levels;
}

function expectDepthMatchesCore(depth: Depth, state: CoreStateView): void {
  for (const view of state.markets) {
    const snapshot = depth.snapshot(view.config.marketId, 1_000);
    expect(snapshot.bids).toEqual(coreLevels(view.bids));
    expect(snapshot.asks).toEqual(coreLevels(view.asks));
  }
}

describe("SideLevels", () => {
  it("keeps bids best first and reports only levels whose total changed", () => {
    const bids = new SideLevels(true);
    bids.add(10, 3);
    bids.add(12, 1);
    bids.add(11, 2);
    bids.add(10, 4);
    expect(bids.top(10)).toEqual([level(12, 1), level(11, 2), level(10, 7)]);
    expect(bids.takeChanges()).toEqual([level(12, 1), level(11, 2), level(10, 7)]);
    bids.subtract(11, 2);
    bids.add(9, 5);
    bids.subtract(9, 5); // appears and vanishes within the batch: no change to report
    bids.subtract(10, 1);
    expect(bids.takeChanges()).toEqual([level(11, 0), level(10, 6)]);
    expect(bids.top(1)).toEqual([level(12, 1)]);
    expect(bids.bestPriceTicks()).toBe(12);
  });

  it("refuses to go below zero", () => {
    const asks = new SideLevels(false);
    asks.add(5, 1);
    expect(() => asks.subtract(5, 2)).toThrow(/below zero/);
  });
});

describe("Depth from core events", () => {
  it("rests a partly filled GTC taker with what it did not trade", () => {
    const { core, depth, run } = harness();
    run([limitOrder(1, "sell", 10, 3), limitOrder(1, "sell", 11, 4), limitOrder(2, "buy", 9, 2)]);
    expect(depth.takeUpdates()).toEqual([
      { marketId: 1, updateSequence: 1, bids: [level(9, 2)], asks: [level(10, 3), level(11, 4)] },
    ]);
    // Buys 3 at 10 and 4 at 11, then rests 2 at 11.
    run([limitOrder(3, "buy", 11, 9)]);
    expect(depth.takeUpdates()).toEqual([
      { marketId: 1, updateSequence: 2, bids: [level(11, 2)], asks: [level(10, 0), level(11, 0)] },
    ]);
    expect(depth.snapshot(1, 10)).toEqual({
      marketId: 1,
      updateSequence: 2,
      bids: [level(11, 2), level(9, 2)],
      asks: [],
    });
    expect(depth.bestBidTicks(1)).toBe(11);
    expect(depth.bestAskTicks(1)).toBe(0);
    expectDepthMatchesCore(depth, core.exportState());
  });

  it("does not rest IOC or FOK remainders and reports no change when nothing moved net", () => {
    const { core, depth, run } = harness();
    run([limitOrder(1, "sell", 10, 3)]);
    depth.takeUpdates();
    run([limitOrder(2, "buy", 10, 5, { timeInForce: "ioc" })]);
    expect(depth.takeUpdates()).toEqual([{ marketId: 1, updateSequence: 2, bids: [], asks: [level(10, 0)] }]);
    run([limitOrder(2, "buy", 4, 5, { timeInForce: "ioc" })]); // nothing to trade: accepted, then expired
    expect(depth.takeUpdates()).toEqual([]);
    expect(depth.trackedOrderCount).toBe(0);
    expectDepthMatchesCore(depth, core.exportState());
  });

  it("removes a cancelled order's remaining lots", () => {
    const { core, depth, run } = harness();
    const events = run([limitOrder(1, "buy", 10, 3), limitOrder(2, "buy", 10, 4)]);
    const first = events.find((event) => event.type === "orderAccepted")!;
    depth.takeUpdates();
    run([{ kind: "cancelOrder", userId: 1, orderId: first.sequence }]);
    expect(depth.takeUpdates()).toEqual([{ marketId: 1, updateSequence: 2, bids: [level(10, 4)], asks: [] }]);
    expectDepthMatchesCore(depth, core.exportState());
  });

  it("fails loudly when a trade names a maker it never saw", () => {
    const depth = new Depth(10);
    depth.addMarket(1);
    const trade: CoreEvent = {
      type: "trade",
      sequence: 5,
      timestampMs: 0,
      tradeId: 1,
      marketId: 1,
      priceTicks: 10,
      quantityLots: 1,
      notionalUnits: 10,
      takerSide: "buy",
      makerOrderId: 3,
      takerOrderId: 5,
      makerUserId: 1,
      takerUserId: 2,
      buyerFeeUnits: 0,
      sellerFeeUnits: 0,
    };
    expect(() => depth.applyEvent(trade)).toThrow(/untracked maker 3/);
  });

  it("bounds the orders it tracks", () => {
    const { depth, run } = harness();
    const small = new Depth(1);
    small.addMarket(1);
    const events = run([limitOrder(1, "buy", 10, 1), limitOrder(1, "buy", 11, 1)]);
    const accepted = events.filter((event) => event.type === "orderAccepted");
    small.applyEvent(accepted[0]);
    expect(() => small.applyEvent(accepted[1])).toThrow(/at most 1 orders/);
    expect(depth.trackedOrderCount).toBe(2);
  });

  it("matches Core.exportState after every batch of random commands, and deltas rebuild the book", () => {
    fc.assert(
      fc.property(streamArb, (stream) => {
        const depth = new Depth(10_001);
        // A client that took a snapshot at the start and then applied every delta.
        const replica = new Map<
          number,
          { bids: Map<number, number>; asks: Map<number, number>; seq: number }
        >();
        runThroughCore(stampedBatches(stream), (events, core) => {
          for (const event of events) {
            if (event.type === "marketAdded") {
              depth.addMarket(event.market.marketId);
              replica.set(event.market.marketId, { bids: new Map(), asks: new Map(), seq: 0 });
            }
            depth.applyEvent(event);
          }
          for (const update of depth.takeUpdates()) {
            const book = replica.get(update.marketId)!;
            expect(update.updateSequence).toBe(book.seq + 1);
            book.seq = update.updateSequence;
            for (const [changes, side] of [
              [update.bids, book.bids],
              [update.asks, book.asks],
            ] as const)
              for (const change of changes)
                if (change.quantityLots === 0) side.delete(change.priceTicks);
                else side.set(change.priceTicks, change.quantityLots);
          }
          const state = core.exportState();
          expectDepthMatchesCore(depth, state);
          for (const view of state.markets) {
            const book = replica.get(view.config.marketId)!;
            const sorted = (side: Map<number, number>, sign: number) =>
              [...side].sort((a, b) => sign * (a[0] - b[0])).map(([p, q]) => level(p, q));
            expect(sorted(book.bids, -1)).toEqual(coreLevels(view.bids));
            expect(sorted(book.asks, 1)).toEqual(coreLevels(view.asks));
          }
          const resting = state.markets.reduce((sum, view) => sum + view.bids.length + view.asks.length, 0);
          expect(depth.trackedOrderCount).toBe(resting);
        });
      }),
      { numRuns: 150 },
    );
  });
});

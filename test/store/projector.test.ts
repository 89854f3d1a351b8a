// The projector against both engines, fed real event streams from the real Core.

import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { CoreEvent } from "../../src/core/events.ts";
import type { Store, StoreEngine } from "../../src/store/open-store.ts";
import type { ProjectorBatch } from "../../src/store/projection.ts";
import { Projector } from "../../src/store/projector.ts";
import { ProjectorQueue } from "../../src/store/projector-queue.ts";
import { runCoreStream } from "./core-stream.ts";
import { ENGINES, openTestStore, type TestStore } from "./engines.ts";
import {
  dumpProjection,
  expectBalances,
  expectOpenOrders,
  expectProjectionMatchesCore,
} from "./projection-checks.ts";

const RUN = runCoreStream(11, 1_500);
const STATE = RUN.core.exportState();

async function applyAll(projector: Projector, batches: readonly ProjectorBatch[]): Promise<number> {
  let applied = 0;
  for (const batch of batches) applied += (await projector.applyBatch(batch)).appliedEvents;
  return applied;
}

function mergeBatches(batches: readonly ProjectorBatch[]): ProjectorBatch {
  return { commands: batches.flatMap((b) => b.commands), events: batches.flatMap((b) => b.events) };
}

function firstBatchWith(type: CoreEvent["type"], after: number): number {
  const index = RUN.batches.findIndex(
    (batch, i) => i > after && batch.events.some((event) => event.type === type),
  );
  if (index < 0) throw new Error(`the stream has no ${type} batch after ${after}`);
  return index;
}

/** Inserts a placeholder trade with the id of the first trade of batch `index`; returns that id. */
async function blockTradeId(store: Store, index: number): Promise<number> {
  const trade = RUN.batches[index].events.find((event) => event.type === "trade");
  if (trade?.type !== "trade") throw new Error("batch has no trade");
  const zeros = { sequence: 0, market_id: 1, price_ticks: 0, quantity_lots: 0, notional_units: 0, ts_ms: 0 };
  const parties = { maker_order_id: 0, taker_order_id: 0, maker_user_id: 0, taker_user_id: 0 };
  const fees = { buyer_fee_units: 0, seller_fee_units: 0, taker_side: "buy" as const };
  await store.db
    .insertInto("trades")
    .values({ trade_id: trade.tradeId, ...zeros, ...parties, ...fees })
    .execute();
  return trade.tradeId;
}

/** Each engine's rows after the whole stream, as the fully projected fixture first dumped them. */
const FULL_DUMPS = new Map<StoreEngine, Record<string, unknown[]>>();

describe.each(ENGINES)("projector on %s", (engine) => {
  let opened: TestStore[] = [];
  const open = async () => {
    const test = await openTestStore(engine);
    opened.push(test);
    return test;
  };
  afterEach(async () => {
    for (const test of opened) await test.dispose();
    opened = [];
  });

  // Projecting the whole stream is most of a test's time (on PostgreSQL): the tests that only read
  // the result, or re-apply what changes nothing, share one store projected once.
  let full: Promise<{ test: TestStore; projector: Projector; appliedEvents: number }> | null = null;
  const fullyProjected = () =>
    (full ??= (async () => {
      const test = await openTestStore(engine);
      const projector = await Projector.open(test.store.db);
      const appliedEvents = await applyAll(projector, RUN.batches);
      FULL_DUMPS.set(engine, await dumpProjection(test.store));
      return { test, projector, appliedEvents };
    })());
  afterAll(async () => {
    if (full !== null) await (await full).test.dispose();
  });

  it("projects a real event stream to exactly what the core's state and events say", async () => {
    const {
      test: { store },
      projector,
      appliedEvents,
    } = await fullyProjected();
    expect(appliedEvents).toBe(RUN.events.length);
    expect(projector.lastSequence).toBe(STATE.lastSequence);
    await expectProjectionMatchesCore(store, RUN.events, STATE);
    // The wallet checks are not vacuous: the stream credits, holds, settles, releases and moves.
    for (const type of [
      "depositCredited",
      "withdrawalSettled",
      "withdrawalReleased",
      "walletMovement",
    ] as const)
      expect(RUN.events.some((event) => event.type === type)).toBe(true);
    const held = await store.db.selectFrom("withdrawals").select("status").execute();
    expect(new Set(held.map((row) => row.status))).toEqual(new Set(["held", "settled", "released"]));
  });

  it("matches the core's balances and open orders after every checkpoint of the stream", async () => {
    const { store } = await open();
    const projector = await Projector.open(store.db);
    let partiallyFilledOpen = 0;
    for (const [index, batch] of RUN.batches.entries()) {
      await projector.applyBatch(batch);
      const state = RUN.checkpoints.get(index);
      if (state === undefined) continue;
      await expectBalances(store, state);
      await expectOpenOrders(store, state);
      const partial = await store.db
        .selectFrom("orders")
        .select("order_id")
        .where("status", "=", "open")
        .where("filled_lots", ">", 0)
        .execute();
      partiallyFilledOpen += partial.length;
    }
    // The comparison only means something if resting orders were partly filled along the way.
    expect(partiallyFilledOpen).toBeGreaterThan(0);
  });

  it("changes nothing when batches are applied again, whole or overlapping the cursor", async () => {
    const {
      test: { store },
      projector,
    } = await fullyProjected();
    const before = FULL_DUMPS.get(engine)!;
    expect(await applyAll(projector, RUN.batches)).toBe(0);
    expect(await dumpProjection(store)).toEqual(before);

    // A second store fed with a batch that straddles its cursor ends identical.
    const other = (await open()).store;
    const otherProjector = await Projector.open(other.db);
    const cut = Math.floor(RUN.batches.length / 2);
    await applyAll(otherProjector, RUN.batches.slice(0, cut));
    const straddling = mergeBatches(RUN.batches.slice(cut - 3, cut + 4));
    const fresh = RUN.batches.slice(cut, cut + 4).reduce((sum, batch) => sum + batch.events.length, 0);
    expect((await otherProjector.applyBatch(straddling)).appliedEvents).toBe(fresh);
    await applyAll(otherProjector, RUN.batches.slice(cut + 4));
    expect(await dumpProjection(other)).toEqual(before);
  });

  it("resumes at its stored cursor after a restart, skipping what a replay feeds twice", async () => {
    const test = await open();
    const half = Math.floor(RUN.batches.length / 2);
    await applyAll(await Projector.open(test.store.db), RUN.batches.slice(0, half));
    await test.store.close();

    const reopened = await test.reopen();
    const projector = await Projector.open(reopened.db);
    expect(projector.lastSequence).toBe(RUN.batches[half - 1].commands.at(-1)!.sequence);
    // The runtime replays from an older snapshot: everything from the start again.
    const applied = await applyAll(projector, RUN.batches);
    expect(applied).toBe(RUN.batches.slice(half).reduce((sum, batch) => sum + batch.events.length, 0));
    await expectProjectionMatchesCore(reopened, RUN.events, STATE);
  });

  it("writes a batch with its cursor atomically: a failure half-way leaves no trace", async () => {
    const { store } = await open();
    const projector = await Projector.open(store.db);
    // A batch that places orders and trades: its orders are written before its trades.
    const index = firstBatchWith("trade", firstBatchWith("orderAccepted", 10));
    await applyAll(projector, RUN.batches.slice(0, index));
    const before = await dumpProjection(store);
    // Take the trade's id in advance so the trades insert fails after the orders upsert ran.
    const blocker = await blockTradeId(store, index);

    await expect(projector.applyBatch(RUN.batches[index])).rejects.toThrow();
    await store.db.deleteFrom("trades").where("trade_id", "=", blocker).execute();
    expect(await dumpProjection(store)).toEqual(before);
    expect(projector.lastSequence).toBe(RUN.batches[index - 1].commands.at(-1)!.sequence);

    await applyAll(projector, RUN.batches.slice(index));
    await expectProjectionMatchesCore(store, RUN.events, STATE);
  });

  it("refuses batches it cannot project faithfully", async () => {
    const { store } = await open();
    const projector = await Projector.open(store.db);
    const [first, second] = RUN.batches;
    await expect(projector.applyBatch({ commands: [], events: first.events })).rejects.toThrow(
      /no command stamp/,
    );
    await expect(projector.applyBatch(mergeBatches([second, first]))).rejects.toThrow(/must increase/);
    // Starting mid-stream: the fold would need orders it never saw.
    const index = firstBatchWith("orderDone", firstBatchWith("orderAccepted", 10));
    const late = RUN.batches
      .slice(index)
      .find((batch) =>
        batch.events.some(
          (event) =>
            event.type === "orderDone" &&
            !batch.events.some((e) => e.type === "orderAccepted" && e.orderId === event.orderId),
        ),
      )!;
    await applyAll(projector, RUN.batches.slice(0, 5));
    await expect(projector.applyBatch(late)).rejects.toThrow(/is not in the store/);
    expect(projector.lastSequence).toBe(RUN.batches[4].commands.at(-1)!.sequence);
  });

  it("queue: bounded, waits for room when full, merges batches and catches up", async () => {
    const { store } = await open();
    const projector = await Projector.open(store.db);
    const maxQueuedEvents = 300;
    const queue = new ProjectorQueue(projector, { maxQueuedEvents, maxEventsPerTransaction: 2_000 });
    let refused = 0;
    let largest = 0;
    for (const batch of RUN.batches) {
      if (!queue.offer(batch)) {
        refused += 1;
        await queue.push(batch);
      }
      largest = Math.max(largest, queue.queuedEvents);
    }
    await queue.flush();
    expect(refused).toBeGreaterThan(0);
    const largestBatch = Math.max(...RUN.batches.map((batch) => batch.events.length));
    expect(largest).toBeLessThanOrEqual(maxQueuedEvents + largestBatch);
    expect(queue.queuedEvents).toBe(0);
    await queue.close();
    await expectProjectionMatchesCore(store, RUN.events, STATE);
  });

  it("queue: retries a failing write until the store recovers, losing nothing", async () => {
    const { store } = await open();
    const projector = await Projector.open(store.db);
    const errors: unknown[] = [];
    const queue = new ProjectorQueue(projector, {
      retryDelayMs: 5,
      maxRetryDelayMs: 20,
      onError: (e) => errors.push(e),
    });
    const index = firstBatchWith("trade", 5);
    for (const batch of RUN.batches.slice(0, index)) queue.offer(batch);
    await queue.flush();
    const tradeId = await blockTradeId(store, index);

    for (const batch of RUN.batches.slice(index)) await queue.push(batch);
    for (let wait = 0; wait < 200 && errors.length < 2; wait++) await new Promise((r) => setTimeout(r, 10));
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(queue.queuedEvents).toBeGreaterThan(0);
    await store.db.deleteFrom("trades").where("trade_id", "=", tradeId).execute();
    await queue.flush();
    expect(queue.lastError).toBeNull();
    await queue.close();
    await expectProjectionMatchesCore(store, RUN.events, STATE);
  });
});

describe("both engines", () => {
  it("project the same stream to identical rows", async () => {
    const dumps = [];
    for (const engine of ENGINES) {
      // Taken by the engine's fixture above; projected here when a filter skipped those tests.
      const dumped = FULL_DUMPS.get(engine);
      if (dumped !== undefined) {
        dumps.push(dumped);
        continue;
      }
      const test = await openTestStore(engine);
      try {
        await applyAll(await Projector.open(test.store.db), RUN.batches);
        dumps.push(await dumpProjection(test.store));
      } finally {
        await test.dispose();
      }
    }
    expect(dumps).toHaveLength(2);
    expect(dumps[1]).toEqual(dumps[0]);
  });
});

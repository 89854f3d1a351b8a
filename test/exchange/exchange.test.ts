import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { startEmbeddedCore } from "../../src/runtime/embedded.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";
import { dropPgSchema, openStore } from "../../src/store/open-store.ts";
import { balancesOfUser, openOrdersOfUser, projectedSequence } from "../../src/store/queries.ts";
import { TEST_DATABASE_URL } from "../store/engines.ts";
import { limitOrder } from "../support/orders.ts";

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function dataDir(): string {
  const directory = mkdtempSync(join(tmpdir(), "bulwark-exchange-"));
  directories.push(directory);
  return directory;
}

const setup: UnstampedCommand[] = [
  ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
  ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
  { kind: "adjustBalance", userId: 1, assetId: 4, amountUnits: 1_000_000_000_000, reason: "fund" },
  { kind: "adjustBalance", userId: 2, assetId: 1, amountUnits: 10_000_000_000, reason: "fund" },
];

/** A stream with resting orders on both sides and some trades. */
function trading(count: number): UnstampedCommand[] {
  const commands: UnstampedCommand[] = [];
  for (let index = 0; index < count; index++) {
    commands.push(limitOrder(2, "sell", 6_400_000 + (index % 7) * 100, 1 + (index % 5)));
    commands.push(limitOrder(1, "buy", 6_399_000 + (index % 11) * 150, 1 + (index % 3)));
  }
  return commands;
}

async function submitAll(exchange: Exchange, commands: UnstampedCommand[]): Promise<number> {
  let last = 0;
  for (const command of commands) last = (await exchange.submit(command)).sequence;
  return last;
}

async function expectStoreMatchesCore(exchange: Exchange): Promise<void> {
  await exchange.whenProjected(exchange.internals.core.lastSequence);
  expect(await projectedSequence(exchange.internals.store.db)).toBe(exchange.internals.core.lastSequence);
  for (const userId of [1, 2]) {
    const stored = await balancesOfUser(exchange.internals.store.db, userId);
    for (const asset of DEFAULT_ASSETS) {
      const core = exchange.internals.core.balance(userId, asset.assetId);
      const row = stored.find((balance) => balance.assetId === asset.assetId);
      expect({ availableUnits: row?.availableUnits ?? 0, heldUnits: row?.heldUnits ?? 0 }).toEqual(core);
    }
    const open = await openOrdersOfUser(exchange.internals.store.db, userId, { limit: 10_000 });
    const resting = exchange.internals.core
      .exportState()
      .markets.flatMap((market) => [...market.bids, ...market.asks])
      .filter((order) => order.userId === userId);
    expect(open.map((order) => order.orderId).sort((a, b) => a - b)).toEqual(
      resting.map((order) => order.orderId).sort((a, b) => a - b),
    );
  }
}

/** Depth levels as market data sees them (the update counter restarts with the process). */
function depthOf(exchange: Exchange): unknown {
  const book = exchange.marketData.orderBook(1, 1000);
  return { bids: book?.bids, asks: book?.asks };
}

describe("Exchange (embedded composition)", () => {
  it("projects every durable command into the store and market data, and keeps both across a restart", async () => {
    const directory = dataDir();
    const first = await Exchange.open({ dataDir: directory });
    await submitAll(first, [...setup, ...trading(60)]);
    await expectStoreMatchesCore(first);
    const hash = first.internals.core.stateHash();
    const book = depthOf(first);
    expect(first.internals.core.restingOrderCount).toBeGreaterThan(0);
    await first.close();

    const second = await Exchange.open({ dataDir: directory });
    try {
      expect(second.internals.core.stateHash()).toBe(hash);
      expect(depthOf(second)).toEqual(book);
      expect(second.marketBySymbol("BTC_USD")?.units.formatPrice(6_400_000)).toBe("64000");
      await submitAll(second, trading(10));
      await expectStoreMatchesCore(second);
    } finally {
      await second.close();
    }
  });

  it("regenerates the events a lagging store never saw, even when newer snapshots exist", async () => {
    const directory = dataDir();
    // The core runs without a store (as after a crash before projection), snapshotting often.
    const core = await startEmbeddedCore({
      dataDir: directory,
      snapshotPolicy: { everyCommands: 25, everyMs: 60_000 },
    });
    await Promise.all([...setup, ...trading(80)].map((command) => core.sequencer.submit(command)));
    const hash = core.core.stateHash();
    await core.close();
    expect(readdirSync(join(directory, "snapshots")).length).toBeGreaterThan(0);

    const exchange = await Exchange.open({ dataDir: directory });
    try {
      expect(exchange.internals.core.stateHash()).toBe(hash);
      await expectStoreMatchesCore(exchange);
    } finally {
      await exchange.close();
    }
  });

  it("keeps an order's client text, time in force and post-only through the journal into a rebuilt store", async () => {
    const directory = dataDir();
    // Journaled by a core without a store: the store learns them only by replaying the journal.
    const core = await startEmbeddedCore({ dataDir: directory });
    for (const command of setup) await core.sequencer.submit(command);
    const order = limitOrder(1, "buy", 6_000_000, 2) as Extract<UnstampedCommand, { kind: "placeOrder" }>;
    const texted = await core.sequencer.submit({
      ...order,
      clientOrderId: 2 ** 52 + 7,
      clientOrderText: "x-bot/order:1",
      postOnly: true,
    });
    const ioc = await core.sequencer.submit(limitOrder(1, "buy", 6_000_000, 1, { timeInForce: "ioc" }));
    await core.close();

    const exchange = await Exchange.open({ dataDir: directory });
    try {
      await exchange.whenProjected(exchange.internals.core.lastSequence);
      const rested = await exchange.reads.order(texted.sequence);
      expect(rested).toMatchObject({
        clientOrderId: 2 ** 52 + 7,
        clientOrderText: "x-bot/order:1",
        timeInForce: "gtc",
        postOnly: true,
        status: "open",
      });
      expect(await exchange.reads.order(ioc.sequence)).toMatchObject({
        clientOrderText: null,
        timeInForce: "ioc",
        postOnly: false,
        status: "expired",
      });
      expect(await exchange.reads.orderOfUserByClientId(1, rested?.marketId ?? 0, 2 ** 52 + 7)).toMatchObject(
        { orderId: texted.sequence },
      );
    } finally {
      await exchange.close();
    }
  });

  it("projects from a worker thread on SQLite, and close() drains it before stopping it", async () => {
    const directory = dataDir();
    const exchange = await Exchange.open({ dataDir: directory });
    const worker = exchange.internals.projectorWorker;
    expect(worker?.running).toBe(true);
    // Submitted together and not waited for: close() must write all of it before it returns.
    const results = await Promise.all([...setup, ...trading(300)].map((command) => exchange.submit(command)));
    const last = Math.max(...results.map((result) => result.sequence));
    await exchange.close();
    expect(worker?.running).toBe(false);

    const store = await openStore({ dataDir: directory });
    try {
      expect(await projectedSequence(store.db)).toBe(last);
    } finally {
      await store.close();
    }
  });

  it("keeps the projector in process (no worker thread) on PostgreSQL", async () => {
    const pgSchema = `exchange_test_${process.pid}_${Date.now()}`;
    const exchange = await Exchange.open({ dataDir: dataDir(), databaseUrl: TEST_DATABASE_URL, pgSchema });
    try {
      expect(exchange.internals.projectorWorker).toBeNull();
      await submitAll(exchange, [...setup, ...trading(20)]);
      await expectStoreMatchesCore(exchange);
    } finally {
      await exchange.close();
      await dropPgSchema(TEST_DATABASE_URL, pgSchema);
    }
  });
});

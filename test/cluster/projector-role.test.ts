// Cluster mode's projector role (issue 12, src/cluster/projector-role.ts) on a real NATS JetStream
// and PostgreSQL: a primary core in this process journals to the stream; the projector derives
// the events from its own replica of the core and writes them to PostgreSQL. The store must equal
// the primary's core (balances, open orders, cursor = the core's sequence), after catching up
// from sequence 1, while following, and after the projector is closed or SIGKILLed mid-load and
// started again: nothing missing, nothing twice (trades and fills counted against the core's).

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.ts";
import type { ClusterCore } from "../../src/cluster/core-role.ts";
import { connectNats } from "../../src/cluster/nats-connection.ts";
import { ProjectorRole } from "../../src/cluster/projector-role.ts";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";
import { dropPgSchema, openStore, type Store } from "../../src/store/open-store.ts";
import { balancesOfUser, openOrdersOfUser, projectedSequence } from "../../src/store/queries.ts";
import { TEST_DATABASE_URL } from "../store/engines.ts";
import { nodeEntry } from "../support/node-entry.ts";
import { limitOrder } from "../support/orders.ts";
import { startPrimaryCore } from "./support.ts";

const PROJECTOR_MAIN = join(import.meta.dirname, "..", "..", "src", "cluster", "projector-main.ts");
const run = randomBytes(4).toString("hex");
const clusterName = `projector-${run}`;
const names = clusterNames(clusterName);
const USERS = [1, 2];

let connection: NatsConnection;
let primary: ClusterCore;
const schemas: string[] = [];
const stores: Store[] = [];
const children: ChildProcess[] = [];
/** What the in-process roles reported as failed (a duplicate key would show here). */
const roleErrors: string[] = [];
/** Trades the primary reported in its results: the store must hold exactly these. */
let tradeCount = 0;

async function submit(command: UnstampedCommand): Promise<number> {
  const result = await primary.submit(command);
  tradeCount += result.events.filter((event) => event.type === "trade").length;
  return result.sequence;
}

/** Submitted concurrently (the sequencer groups them into journal batches). */
async function submitAll(commands: UnstampedCommand[]): Promise<void> {
  await Promise.all(commands.map((command) => submit(command)));
}

/** Resting orders on both sides and trades between users 1 and 2. */
function trading(count: number, offset = 0): UnstampedCommand[] {
  const commands: UnstampedCommand[] = [];
  for (let index = offset; index < offset + count; index++) {
    commands.push(limitOrder(2, "sell", 6_400_000 + (index % 7) * 100, 1 + (index % 5)));
    commands.push(limitOrder(1, "buy", 6_399_000 + (index % 11) * 150, 1 + (index % 3)));
  }
  return commands;
}

/** Submits rounds of orders until `stop()` says so; resolves with the rounds sent. */
function loadUntil(stop: () => boolean): Promise<number> {
  return (async () => {
    let round = 0;
    while (!stop()) await submitAll(trading(4, round++ * 4));
    return round;
  })();
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function newSchema(): string {
  const schema = `projector_${run}_${schemas.length}`;
  schemas.push(schema);
  return schema;
}

async function openTestStore(pgSchema: string): Promise<Store> {
  const store = await openStore({ databaseUrl: TEST_DATABASE_URL, pgSchema });
  stores.push(store);
  return store;
}

async function countOf(store: Store, table: "trades" | "fills"): Promise<number> {
  const row = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<string>().as("count"))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

async function expectStoreMatchesCore(store: Store): Promise<void> {
  const core = primary.core;
  expect(await projectedSequence(store.db)).toBe(core.lastSequence);
  for (const userId of USERS) {
    const stored = await balancesOfUser(store.db, userId);
    for (const asset of DEFAULT_ASSETS) {
      const row = stored.find((balance) => balance.assetId === asset.assetId);
      expect({ availableUnits: row?.availableUnits ?? 0, heldUnits: row?.heldUnits ?? 0 }).toEqual(
        core.balance(userId, asset.assetId),
      );
    }
    const open = await openOrdersOfUser(store.db, userId, { limit: 10_000 });
    const resting = core
      .exportState()
      .markets.flatMap((market) => [...market.bids, ...market.asks])
      .filter((order) => order.userId === userId);
    expect(open.map((order) => order.orderId).sort((a, b) => a - b)).toEqual(
      resting.map((order) => order.orderId).sort((a, b) => a - b),
    );
  }
  // Trades and fills have primary keys: a command projected twice would have stalled the
  // projector on a duplicate key; one projected never would be missing here.
  expect(tradeCount).toBeGreaterThan(0);
  expect(await countOf(store, "trades")).toBe(tradeCount);
  expect(await countOf(store, "fills")).toBe(2 * tradeCount);
  expect(roleErrors).toEqual([]);
}

function startRole(pgSchema: string, maxQueuedEvents?: number): Promise<ProjectorRole> {
  return ProjectorRole.start({
    ...(maxQueuedEvents === undefined ? {} : { projectorQueue: { maxQueuedEvents } }),
    connection,
    streamName: names.streamName,
    subject: names.subject,
    databaseUrl: TEST_DATABASE_URL,
    pgSchema,
    onError: (what, error) => roleErrors.push(`${what}: ${String(error)}`),
  });
}

interface StatusLine {
  state: string;
  projectedSequence?: number;
  reason?: string;
}

interface ProjectorProcess {
  child: ChildProcess;
  waitFor(state: string, timeoutMs: number): Promise<StatusLine>;
  exited: Promise<number | null>;
}

function startProjectorProcess(pgSchema: string): ProjectorProcess {
  const child = spawn(process.execPath, nodeEntry(PROJECTOR_MAIN), {
    env: {
      ...process.env,
      BULWARK_CLUSTER_NAME: clusterName,
      BULWARK_DATABASE_URL: TEST_DATABASE_URL,
      BULWARK_PG_SCHEMA: pgSchema,
      BULWARK_STATUS_INTERVAL_MS: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const lines: StatusLine[] = [];
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    let at = stdout.indexOf("\n");
    while (at !== -1) {
      lines.push(JSON.parse(stdout.slice(0, at)) as StatusLine);
      stdout = stdout.slice(at + 1);
      at = stdout.indexOf("\n");
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return {
    child,
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
    async waitFor(state, timeoutMs) {
      await until(
        () => lines.some((line) => line.state === state) || child.exitCode !== null,
        timeoutMs,
        `projector line ${state}; stderr ${stderr}`,
      );
      const line = lines.find((seen) => seen.state === state);
      if (line === undefined) throw new Error(`projector exited ${child.exitCode}: ${stderr}`);
      return line;
    },
  };
}

beforeAll(async () => {
  connection = await connectNats(undefined, { name: "projector role test" });
  primary = await startPrimaryCore(connection, names, `projector-test-${run}`);
  for (const asset of DEFAULT_ASSETS) await submit({ kind: "addAsset", asset });
  for (const market of DEFAULT_MARKETS) await submit({ kind: "addMarket", market });
  await submit({ kind: "adjustBalance", userId: 1, assetId: 4, amountUnits: 10 ** 13, reason: "fund" });
  await submit({ kind: "adjustBalance", userId: 2, assetId: 1, amountUnits: 10 ** 11, reason: "fund" });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await primary?.close();
  for (const store of stores) await store.close();
  for (const schema of schemas) await dropPgSchema(TEST_DATABASE_URL, schema).catch(() => undefined);
  const jsm = await jetstreamManager(connection);
  await jsm.streams.delete(names.streamName).catch(() => undefined);
  // The primary's snapshot object store, where the core role keeps one (OBJ_<bucket> is its stream).
  await jsm.streams.delete(`OBJ_${clusterName}-snapshots`).catch(() => undefined);
  await new Kvm(connection)
    .open(names.leaseBucket)
    .then((kv) => kv.destroy())
    .catch(() => undefined);
  await connection.close();
});

describe("cluster projector role", () => {
  it("catches up from the journal, follows it, and after a close mid-load projects exactly what is missing", async () => {
    await submitAll(trading(40));
    const pgSchema = newSchema();
    // A queue of a few events: catching up waits for room, and so does following (it pauses).
    const first = await startRole(pgSchema, 16);
    // start() resolves once caught up: everything journaled so far is in the store.
    const store = await openTestStore(pgSchema);
    await expectStoreMatchesCore(store);
    expect(first.status()).toMatchObject({
      projectedSequence: primary.core.lastSequence,
      appliedSequence: primary.core.lastSequence,
      lagCommands: 0,
      following: true,
      lastError: null,
      failure: null,
    });

    // Following: closed while orders keep coming.
    const startedAt = first.projectedSequence;
    let stopLoad = false;
    const load = loadUntil(() => stopLoad);
    await until(() => first.projectedSequence >= startedAt + 30, 10_000, "the follower to project");
    expect(first.status().pausesForRoom).toBeGreaterThan(0);
    await first.close();
    const closedAt = await projectedSequence(store.db);
    expect(first.status().following).toBe(false);
    await submitAll(trading(20, 1_000));
    stopLoad = true;
    await load;
    expect(closedAt).toBeLessThan(primary.core.lastSequence);

    const second = await startRole(pgSchema);
    try {
      await expectStoreMatchesCore(store);
      await submitAll(trading(10, 2_000));
      await second.whenProjected(primary.core.lastSequence);
      await expectStoreMatchesCore(store);
      expect(second.status()).toMatchObject({ lagCommands: 0, following: true, queuedEvents: 0 });
    } finally {
      await second.close();
    }
  }, 30_000);

  it("refuses a store projected past the end of the stream (another cluster's store)", async () => {
    const pgSchema = schemas[0];
    const other = clusterNames(`${clusterName}-other`);
    try {
      await expect(
        ProjectorRole.start({
          connection,
          streamName: other.streamName,
          subject: other.subject,
          databaseUrl: TEST_DATABASE_URL,
          pgSchema,
        }),
      ).rejects.toThrow(/past the end of stream/);
    } finally {
      const jsm = await jetstreamManager(connection);
      await jsm.streams.delete(other.streamName).catch(() => undefined);
    }
  });

  it("a projector process SIGKILLed mid-load resumes at the store's cursor: no gap, nothing twice", async () => {
    const pgSchema = newSchema();
    // Migrated here, so the process only finds the schema (and the test reads it).
    const store = await openTestStore(pgSchema);
    const first = startProjectorProcess(pgSchema);
    const caughtUp = await first.waitFor("projecting", 20_000);
    expect(caughtUp.projectedSequence).toBeGreaterThan(0);

    let stopLoad = false;
    const load = loadUntil(() => stopLoad);
    const killAfter = (caughtUp.projectedSequence ?? 0) + 30;
    await until(
      async () => (await projectedSequence(store.db)) >= killAfter,
      10_000,
      "projection under load",
    );
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe(null);
    await submitAll(trading(20, 3_000));
    stopLoad = true;
    await load;
    expect(await projectedSequence(store.db)).toBeLessThan(primary.core.lastSequence);

    const second = startProjectorProcess(pgSchema);
    await second.waitFor("projecting", 20_000);
    await until(
      async () => (await projectedSequence(store.db)) === primary.core.lastSequence,
      10_000,
      "the restarted projector to catch up",
    );
    await expectStoreMatchesCore(store);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    const stopped = await second.waitFor("stopped", 1_000);
    expect(stopped.projectedSequence).toBe(primary.core.lastSequence);
  }, 30_000);
});

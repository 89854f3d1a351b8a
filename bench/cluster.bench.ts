// `npm run bench:cluster [-- --seconds S --runs N --concurrency C]`: durable orders per second
// through two "gateways" (two NATS connections, each a CommandBusClient with C orders in flight)
// to a cluster core process whose journal is a JetStream stream, against the embedded core
// (sequencer + file journal, fdatasync) driven the same way in this process, in the same run
// (these machines are noisy: compare the rows, not the days). Then the failover time: a standby
// core process follows the primary; the primary is SIGKILLed under load; the time from the kill
// to the standby's takeover and to the first acknowledgement it gives. Needs NATS with
// JetStream at BULWARK_NATS_URL (default 127.0.0.1:4222). Medians of the runs.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { clusterNames } from "../src/cluster/cluster-names.ts";
import { CommandBusClient, CoreBusyError, CoreUnavailableError } from "../src/cluster/command-bus.ts";
import { connectNats } from "../src/cluster/nats-connection.ts";
import type { UnstampedCommand } from "../src/core/commands.ts";
import { startEmbeddedCore } from "../src/runtime/embedded.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../src/server/default-markets.ts";
import { dropPgSchema, openStore } from "../src/store/open-store.ts";
import { projectedSequence } from "../src/store/queries.ts";
import { median, percentileSorted } from "./stats.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    runs: { type: "string", default: "3" },
    concurrency: { type: "string", default: "64" },
  },
});
const RUN_MS = Number(values.seconds) * 1000;
const RUNS = Number(values.runs);
const CONCURRENCY = Number(values.concurrency);
const GATEWAYS = 2;
const USERS = 8;
const CORE_MAIN = join(import.meta.dirname, "..", "src", "cluster", "core-main.ts");
const PROJECTOR_MAIN = join(import.meta.dirname, "..", "src", "cluster", "projector-main.ts");
const DATABASE_URL = process.env.BULWARK_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** How often the projector's lag (commands acknowledged but not yet in PostgreSQL) is sampled. */
const LAG_SAMPLE_MS = 100;

type Submit = (command: UnstampedCommand) => Promise<{ sequence: number }>;

interface RunResult {
  ordersPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

const setupCommands: UnstampedCommand[] = [
  ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
  ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
  ...Array.from({ length: USERS }, (_, index): UnstampedCommand[] => [
    {
      kind: "adjustBalance",
      userId: index + 1,
      assetId: DEFAULT_MARKETS[0].quoteAssetId,
      amountUnits: 10 ** 15,
      reason: "bench",
    },
    {
      kind: "adjustBalance",
      userId: index + 1,
      assetId: DEFAULT_MARKETS[0].baseAssetId,
      amountUnits: 10 ** 15,
      reason: "bench",
    },
  ]).flat(),
];

/** A limit order crossing now and then (both sides around one price), resting otherwise. */
function order(counter: number): UnstampedCommand {
  const side = counter % 2 === 0 ? "buy" : "sell";
  const offset = (counter * 7919) % 40;
  return {
    kind: "placeOrder",
    userId: (counter % USERS) + 1,
    marketId: DEFAULT_MARKETS[0].marketId,
    side,
    orderType: "limit",
    priceTicks: side === "buy" ? 6_000_000 - 20 + offset : 6_000_000 + 20 - offset,
    quantityLots: 1,
    quoteAmountUnits: 0,
    triggerPriceTicks: 0,
    timeInForce: "gtc",
    postOnly: false,
    clientOrderId: 0,
    selfTradePrevention: null,
  };
}

/** GATEWAYS × CONCURRENCY loops submitting orders for RUN_MS; acknowledged orders and their latencies. */
async function drive(submits: Submit[]): Promise<RunResult> {
  const latenciesMs: number[] = [];
  let counter = 0;
  const endMs = performance.now() + RUN_MS;
  let unanswered = 0;
  const loop = async (submit: Submit) => {
    while (performance.now() < endMs) {
      const startedMs = performance.now();
      try {
        await submit(order(counter++));
      } catch (error) {
        if (!(error instanceof CoreUnavailableError || error instanceof CoreBusyError)) throw error;
        unanswered += 1;
        continue;
      }
      latenciesMs.push(performance.now() - startedMs);
    }
  };
  const startMs = performance.now();
  await Promise.all(submits.flatMap((submit) => Array.from({ length: CONCURRENCY }, () => loop(submit))));
  const seconds = (performance.now() - startMs) / 1000;
  const sorted = Float64Array.from(latenciesMs).sort();
  if (unanswered > 0) console.log(`  (${unanswered} orders unanswered: busy or timed out; not counted)`);
  return {
    ordersPerSec: latenciesMs.length / seconds,
    p50Ms: percentileSorted(sorted, 50),
    p99Ms: percentileSorted(sorted, 99),
  };
}

async function embeddedRuns(): Promise<RunResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-cluster-bench-"));
  const embedded = await startEmbeddedCore({ dataDir });
  try {
    for (const command of setupCommands) await embedded.sequencer.submit(command);
    const submit: Submit = (command) => embedded.sequencer.submit(command);
    const results: RunResult[] = [];
    for (let run = 0; run < RUNS; run++)
      results.push(await drive(Array.from({ length: GATEWAYS }, () => submit)));
    return results;
  } finally {
    await embedded.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface CoreChild {
  child: ChildProcess;
  lines: { atMs: number; role: string }[];
  becomes(role: string, timeoutMs: number): Promise<{ atMs: number }>;
}

function startCore(clusterName: string, id: string): CoreChild {
  const child = spawn(process.execPath, ["--import", "tsx", CORE_MAIN], {
    env: {
      ...process.env,
      BULWARK_CLUSTER_NAME: clusterName,
      BULWARK_CORE_ID: id,
      BULWARK_LEASE_TTL_MS: "1000",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: { atMs: number; role: string }[] = [];
  let buffered = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let at = buffered.indexOf("\n"); at !== -1; at = buffered.indexOf("\n")) {
      lines.push(JSON.parse(buffered.slice(0, at)));
      buffered = buffered.slice(at + 1);
    }
  });
  return {
    child,
    lines,
    async becomes(role, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = lines.find((entry) => entry.role === role);
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`core ${id} did not become ${role}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

interface ProjectorLag {
  medianCommands: number;
  maxCommands: number;
  /** After a run's last acknowledgement, until PostgreSQL held it. */
  catchUpMs: number[];
}

async function clusterRuns(
  admin: NatsConnection,
): Promise<{ runs: RunResult[]; failover: Record<string, number>; lag: ProjectorLag }> {
  const clusterName = `bench-${randomBytes(4).toString("hex")}`;
  const names = clusterNames(clusterName);
  const pgSchema = `bench_cluster_${randomBytes(4).toString("hex")}`;
  const primary = startCore(clusterName, "bench-a");
  const projector = spawn(process.execPath, ["--import", "tsx", PROJECTOR_MAIN], {
    env: {
      ...process.env,
      BULWARK_CLUSTER_NAME: clusterName,
      BULWARK_DATABASE_URL: DATABASE_URL,
      BULWARK_PG_SCHEMA: pgSchema,
      BULWARK_STATUS_INTERVAL_MS: "0",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const store = await openStore({ databaseUrl: DATABASE_URL, pgSchema });
  const gateways = await Promise.all(
    Array.from({ length: GATEWAYS }, (_, index) =>
      connectNats(undefined, { name: `bench gateway ${index}` }),
    ),
  );
  try {
    await primary.becomes("primary", 30_000);
    const clients = gateways.map(
      (connection) =>
        new CommandBusClient(connection, {
          subject: names.commandSubject,
          timeoutMs: 1_000,
          maxInFlight: CONCURRENCY * 2,
        }),
    );
    let lastAcknowledged = 0;
    const submitVia = (client: CommandBusClient) => async (command: UnstampedCommand) => {
      const result = await client.submit(command);
      if (result.sequence > lastAcknowledged) lastAcknowledged = result.sequence;
      return result;
    };
    for (const command of setupCommands) await submitVia(clients[0] as CommandBusClient)(command);
    const lagSamples: number[] = [];
    const catchUpMs: number[] = [];
    const sampler = setInterval(() => {
      void projectedSequence(store.db).then((projected) =>
        lagSamples.push(Math.max(0, lastAcknowledged - projected)),
      );
    }, LAG_SAMPLE_MS);
    const runs: RunResult[] = [];
    for (let run = 0; run < RUNS; run++) {
      runs.push(await drive(clients.map(submitVia)));
      const target = lastAcknowledged;
      const startedMs = performance.now();
      while ((await projectedSequence(store.db)) < target)
        await new Promise((resolve) => setTimeout(resolve, 5));
      catchUpMs.push(performance.now() - startedMs);
    }
    clearInterval(sampler);
    const sortedLag = Float64Array.from(lagSamples).sort();
    const lag: ProjectorLag = {
      medianCommands: percentileSorted(sortedLag, 50),
      maxCommands: sortedLag[sortedLag.length - 1] ?? 0,
      catchUpMs,
    };

    // Failover under load: the standby follows, the primary is killed.
    const standby = startCore(clusterName, "bench-b");
    await standby.becomes("standby", 30_000);
    let killedAtMs = 0;
    let firstAckAfterKillMs = 0;
    let stop = false;
    const load = async (client: CommandBusClient) => {
      let counter = 0;
      while (!stop) {
        // Only an order sent after the kill counts: one in flight may have been answered before it.
        const sentMs = Date.now();
        try {
          await client.submit(order(counter++));
          if (killedAtMs !== 0 && sentMs > killedAtMs && firstAckAfterKillMs === 0)
            firstAckAfterKillMs = Date.now();
        } catch (error) {
          if (!(error instanceof CoreUnavailableError || error instanceof CoreBusyError)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };
    const loads = clients.flatMap((client) => Array.from({ length: 8 }, () => load(client)));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    killedAtMs = Date.now();
    primary.child.kill("SIGKILL");
    const takeover = await standby.becomes("primary", 30_000);
    while (firstAckAfterKillMs === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    stop = true;
    await Promise.all(loads);
    standby.child.kill("SIGTERM");
    return {
      runs,
      failover: { takeoverMs: takeover.atMs - killedAtMs, firstAckMs: firstAckAfterKillMs - killedAtMs },
      lag,
    };
  } finally {
    if (primary.child.exitCode === null) primary.child.kill("SIGKILL");
    projector.kill("SIGKILL");
    await store.close();
    await dropPgSchema(DATABASE_URL, pgSchema);
    for (const connection of gateways) await connection.close();
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete(names.streamName).catch(() => undefined);
    await new Kvm(admin)
      .open(names.leaseBucket)
      .then((kv) => kv.destroy())
      .catch(() => undefined);
    await new Objm(admin)
      .open(names.snapshotBucket)
      .then((objects) => objects.destroy())
      .catch(() => undefined);
  }
}

function row(name: string, results: RunResult[]): string {
  const fmt = (value: number, digits: number) => value.toFixed(digits).padStart(10);
  return `${name.padEnd(34)}${fmt(median(results.map((r) => r.ordersPerSec)), 0)}${fmt(median(results.map((r) => r.p50Ms)), 2)}${fmt(median(results.map((r) => r.p99Ms)), 2)}`;
}

const admin = await connectNats(undefined, { name: "bench:cluster" });
try {
  const embedded = await embeddedRuns();
  const cluster = await clusterRuns(admin);
  console.log(
    `\nDurable orders through ${GATEWAYS} gateways × ${CONCURRENCY} in flight, ${RUNS} runs of ${RUN_MS / 1000} s (medians)`,
  );
  console.log(
    `${"journal".padEnd(34)}${"orders/s".padStart(10)}${"p50 ms".padStart(10)}${"p99 ms".padStart(10)}`,
  );
  console.log(row("embedded: file journal, in process", embedded));
  console.log(row("cluster: JetStream journal, NATS bus", cluster.runs));
  const ratio = median(cluster.runs.map((r) => r.ordersPerSec)) / median(embedded.map((r) => r.ordersPerSec));
  console.log(`cluster / embedded: ${(ratio * 100).toFixed(1)} %`);
  console.log(
    `failover (lease ttl 1000 ms): kill → standby primary ${cluster.failover.takeoverMs} ms, → first acknowledgement ${cluster.failover.firstAckMs} ms`,
  );
  console.log(
    `projector lag (PostgreSQL behind the acknowledged journal, sampled every ${LAG_SAMPLE_MS} ms under load): ` +
      `median ${cluster.lag.medianCommands} commands, max ${cluster.lag.maxCommands}; caught up ` +
      `${median(cluster.lag.catchUpMs).toFixed(0)} ms after a run's last acknowledgement (median)`,
  );
} finally {
  await admin.close();
}

// The gateway role's exchange (src/cluster/cluster-exchange.ts) against real NATS JetStream and
// PostgreSQL: a primary ClusterCore in this process (a cluster name of its own), a small
// projector (a CoreFollower feeding the store's Projector, as the projector role does), a
// ClusterExchange and the REST gateway on it. A stock ccxt `binance` places, lists and cancels
// orders and reads its balance through the gateway; what it sees must be the primary core's.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import ccxt from "ccxt-current";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, sealApiSecret } from "../../src/accounts/api-keys.ts";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { ClusterExchange, ProjectionTimeoutError } from "../../src/cluster/cluster-exchange.ts";
import { clusterNames } from "../../src/cluster/cluster-names.ts";
import { CoreBusyError } from "../../src/cluster/command-bus.ts";
import { CoreFollower } from "../../src/cluster/core-follower.ts";
import type { ClusterCore } from "../../src/cluster/core-role.ts";
import { connectNats } from "../../src/cluster/nats-connection.ts";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { Core } from "../../src/core/core.ts";
import { CommandOutcomeUnknownError, SequencerQueueFullError } from "../../src/exchange/boundary.ts";
import { createGateway, type Gateway } from "../../src/gateway/http/server.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";
import { createApiKey, createUser } from "../../src/store/accounts.ts";
import { dropPgSchema, openStore, type Store } from "../../src/store/open-store.ts";
import { Projector } from "../../src/store/projector.ts";
import { parseDecimal } from "../../src/units/decimal.ts";
import { TEST_DATABASE_URL, UNREACHABLE_RATE_LIMIT } from "../gateway/support/rest-harness.ts";
import { nodeEntry } from "../support/node-entry.ts";
import { removeClusterState, startPrimaryCore } from "./support.ts";

const clusterName = `gw-${randomBytes(4).toString("hex")}`;
const names = clusterNames(clusterName);
const GATEWAY_MAIN = join(import.meta.dirname, "..", "..", "src", "cluster", "gateway-main.ts");
const pgSchema = `cluster_gw_${process.pid}_${randomBytes(4).toString("hex")}`;
const WHEN_PROJECTED_TIMEOUT_MS = 1_500;

let connection: NatsConnection;
let primary: ClusterCore;
let projectorStore: Store;
let projectorFollower: CoreFollower;
let exchange: ClusterExchange;
let gateway: Gateway;
let baseUrl: string;
const serverKey = randomBytes(32);
const secretBox = new SecretBox(serverKey);
const tempDir = mkdtempSync(join(tmpdir(), "bulwark-cluster-gw-"));

interface Trader {
  userId: number;
  keyId: string;
  secret: string;
}

/** The projector role in miniature: the journal applied to a replica, its events written to the store in order. */
async function startProjector(): Promise<void> {
  projectorStore = await openStore({ databaseUrl: TEST_DATABASE_URL, pgSchema });
  const projector = await Projector.open(projectorStore.db);
  let chain = Promise.resolve();
  projectorFollower = new CoreFollower({
    connection,
    streamName: names.streamName,
    core: new Core(),
    onApplied: (events, command) => {
      const batch = { events, commands: [{ sequence: command.sequence, timestampMs: command.timestampMs }] };
      chain = chain.then(async () => {
        await projector.applyBatch(batch);
      });
    },
  });
  await projectorFollower.start();
}

async function startPrimary(): Promise<void> {
  primary = await startPrimaryCore(connection, names, "test-primary");
}

async function createTrader(funds: Record<string, string>): Promise<Trader> {
  const created = await createUser(projectorStore.db, {
    email: `cluster-${randomBytes(6).toString("hex")}@example.test`,
    passwordHash: "$scrypt$unused-in-this-test",
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error("test user exists");
  const userId = created.user.userId;
  const { keyId, secret } = generateApiKey();
  await createApiKey(projectorStore.db, {
    keyId,
    userId,
    secretCiphertext: sealApiSecret(secretBox, keyId, secret),
    scopes: ["info", "trade"],
    ipAllowList: [],
    createdMs: Date.now(),
  });
  for (const [code, amount] of Object.entries(funds)) {
    const asset = exchange.assetByCode(code);
    if (asset === undefined) throw new Error(`unknown asset ${code}`);
    const units = parseDecimal(amount, asset.scale);
    if (!units.ok) throw new Error(`bad amount ${amount}`);
    await exchange.submit({
      kind: "adjustBalance",
      userId,
      assetId: asset.assetId,
      amountUnits: units.value,
      reason: "test funding",
    });
  }
  return { userId, keyId, secret };
}

function binanceClient(keys: Trader, url = baseUrl) {
  return new ccxt.binance({
    apiKey: keys.keyId,
    secret: keys.secret,
    rateLimit: 5,
    options: { defaultType: "spot", fetchMarkets: { types: ["spot"] } },
    urls: {
      api: {
        public: `${url}/api/v3`,
        private: `${url}/api/v3`,
        v1: `${url}/api/v1`,
        sapi: `${url}/sapi/v1`,
        fapiPublic: `${url}/fapi/v1`,
        dapiPublic: `${url}/dapi/v1`,
      },
    },
  });
}

/** The primary core's balance of a user, as decimals of the asset. */
function primaryBalance(userId: number, code: string): { free: number; used: number } {
  const asset = exchange.assetByCode(code);
  if (asset === undefined) throw new Error(code);
  const balance = primary.core.balance(userId, asset.assetId);
  const scale = 10 ** asset.scale;
  return { free: balance.availableUnits / scale, used: balance.heldUnits / scale };
}

beforeAll(async () => {
  connection = await connectNats(undefined, {
    name: "bulwark-test-cluster-exchange",
    maxReconnectAttempts: 0,
  });
  await startPrimary();
  await startProjector();
  exchange = await ClusterExchange.open({
    connection,
    names,
    databaseUrl: TEST_DATABASE_URL,
    pgSchema,
    accounts: { secretBox },
    busTimeoutMs: 5_000,
    whenProjectedTimeoutMs: WHEN_PROJECTED_TIMEOUT_MS,
    onBackgroundError: (what, error) => {
      throw new Error(`${what}: ${String(error)}`);
    },
  });
  const setup: UnstampedCommand[] = [
    ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
    ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
  ];
  for (const command of setup) await exchange.submit(command);
  gateway = createGateway(exchange, {
    secretBox,
    logger: pino({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
    defaultMetrics: false,
    rateLimit: UNREACHABLE_RATE_LIMIT,
  });
  const { port } = await gateway.listen();
  baseUrl = `http://127.0.0.1:${port}`;
}, 20_000);

afterAll(async () => {
  await gateway?.close();
  await exchange?.close();
  await projectorFollower?.stop();
  await projectorStore?.close();
  await primary?.close();
  await removeClusterState(connection, names);
  await connection.close();
  await dropPgSchema(TEST_DATABASE_URL, pgSchema);
  rmSync(tempDir, { recursive: true, force: true });
});

/** Runs gateway-main.ts with `env`; resolves with its first stdout line (or its exit), and the child. */
function runGatewayMain(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, nodeEntry(GATEWAY_MAIN), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const firstLine = new Promise<string | null>((resolve) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("\n")) resolve(stdout.slice(0, stdout.indexOf("\n")));
    });
    void exited.then(() => resolve(null));
  });
  return { child, firstLine, exited, stderr: () => stderr };
}

describe("ClusterExchange: a stateless gateway on the command bus, a replica and PostgreSQL", () => {
  it("learns assets and markets from the journal and answers with the primary's sequence", async () => {
    expect(exchange.marketBySymbol("BTC_USD")?.config.marketId).toBe(1);
    expect(exchange.assetByCode("USD")).toBeDefined();
    expect(exchange.assets().length).toBe(DEFAULT_ASSETS.length);
    expect(exchange.markets().length).toBe(DEFAULT_MARKETS.length);
    const status = exchange.status();
    expect(status.storeEngine).toBe("postgres");
    expect(status.lastSequence).toBe(primary.core.lastSequence);
    expect(status.acknowledgedSequence).toBe(primary.core.lastSequence);
    expect(status.queuedCommands).toBe(0);
    // CoreBusyError keeps the gateways' busy mapping working.
    expect(new CoreBusyError("x")).toBeInstanceOf(SequencerQueueFullError);
    // Attached stages get each command's events from the replica before submit() answers.
    const seen: number[] = [];
    const detach = exchange.attach("privateFeed", (batch) => {
      for (const stamp of batch.commands) seen.push(stamp.sequence);
    });
    try {
      const result = await exchange.submit({ kind: "setMarketStatus", marketId: 1, status: "active" });
      expect(seen).toEqual([result.sequence]);
    } finally {
      detach();
    }
  });

  it("ccxt binance places, lists and cancels orders and reads balances that are the primary core's", async () => {
    const trader = await createTrader({ USD: "100000", BTC: "2" });
    const maker = await createTrader({ USD: "100000", BTC: "2" });
    const client = binanceClient(trader);
    const makerClient = binanceClient(maker);
    await Promise.all([client.loadMarkets(), makerClient.loadMarkets()]);

    const bid = await client.createOrder("BTC/USD", "limit", "buy", 0.01, 30000, { clientOrderId: "cl-1" });
    expect(bid).toMatchObject({ status: "open", price: 30000, amount: 0.01, clientOrderId: "cl-1" });
    // The replica applied it before submit answered: its hold is there at once.
    expect(primaryBalance(trader.userId, "USD").used).toBe(300);
    const usd = exchange.assetByCode("USD")?.assetId ?? 0;
    expect(exchange.balance(trader.userId, usd)).toEqual(primary.core.balance(trader.userId, usd));

    // The maker's ask rests, the trader's market buy takes part of it: a trade through the bus.
    const ask = await makerClient.createOrder("BTC/USD", "limit", "sell", 0.05, 40000);
    const taken = await client.createOrder("BTC/USD", "market", "buy", 0.01);
    expect(taken).toMatchObject({ status: "closed", filled: 0.01, average: 40000 });

    const open = await client.fetchOpenOrders("BTC/USD");
    expect(open.map((order) => order.id)).toEqual([bid.id]);
    const balance = await client.fetchBalance();
    for (const code of ["USD", "BTC"]) {
      const expected = primaryBalance(trader.userId, code);
      expect({ free: balance[code]?.free, used: balance[code]?.used }).toEqual(expected);
    }

    // Market data comes from the replica's events: the trade and the maker's remaining ask.
    const trades = await client.fetchTrades("BTC/USD");
    expect(trades.map((trade) => [trade.price, trade.amount])).toEqual([[40000, 0.01]]);
    const book = await client.fetchOrderBook("BTC/USD");
    expect(book.asks[0]).toEqual([40000, 0.04]);
    expect(book.bids[0]).toEqual([30000, 0.01]);

    // A gateway started now rebuilds the same market data from the stream: trades, candles, book.
    const late = await ClusterExchange.open({ connection, names, databaseUrl: TEST_DATABASE_URL, pgSchema });
    try {
      expect(late.stateHash()).toBe(primary.core.stateHash());
      expect(late.marketData.trades(1, 0)).toEqual(exchange.marketData.trades(1, 0));
      const nowMs = Date.now();
      expect(late.marketData.candles(1, "1", 0, nowMs)).toHaveLength(1);
      expect(late.marketData.candles(1, "1", 0, nowMs)).toEqual(
        exchange.marketData.candles(1, "1", 0, nowMs),
      );
      const lateBook = late.marketData.orderBook(1, 10, 0);
      const liveBook = exchange.marketData.orderBook(1, 10, 0);
      expect([lateBook?.bids, lateBook?.asks]).toEqual([liveBook?.bids, liveBook?.asks]);
    } finally {
      await late.close();
    }

    const cancelled = await client.cancelOrder(String(bid.id), "BTC/USD");
    expect(cancelled).toMatchObject({ id: bid.id, status: "canceled" });
    await makerClient.cancelOrder(String(ask.id), "BTC/USD");
    expect(await client.fetchOpenOrders("BTC/USD")).toEqual([]);
    const after = await client.fetchBalance();
    expect({ free: after.USD?.free, used: after.USD?.used }).toEqual(primaryBalance(trader.userId, "USD"));
    expect(after.USD?.used).toBe(0);

    // The replica is the primary, state for state; the status reports the bus's answers.
    expect(exchange.stateHash()).toBe(primary.core.stateHash());
    expect(exchange.status().acknowledgedSequence).toBe(primary.core.lastSequence);
    expect(exchange.stats.replicaWaitTimeouts).toBe(0);
  });

  it("whenProjected resolves once the projector wrote the sequence and rejects after its bound", async () => {
    const last = exchange.status().lastSequence;
    await exchange.whenProjected(last);
    expect(exchange.status().projectorQueuedEvents).toBe(0);
    const startedMs = performance.now();
    await expect(exchange.whenProjected(last + 1_000)).rejects.toBeInstanceOf(ProjectionTimeoutError);
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(WHEN_PROJECTED_TIMEOUT_MS - 50);
  });

  it("gateway-main serves the cluster as a process with the shared key file, and refuses to start without one", async () => {
    const keyFile = join(tempDir, "server.key");
    writeFileSync(keyFile, `${serverKey.toString("base64")}\n`, { mode: 0o600 });
    const env = {
      BULWARK_CLUSTER_NAME: clusterName,
      BULWARK_DATABASE_URL: TEST_DATABASE_URL,
      BULWARK_PG_SCHEMA: pgSchema,
      BULWARK_PORT: "0",
      BULWARK_REDIS_URL: "",
      BULWARK_SERVER_KEY: "",
    };
    const served = runGatewayMain({ ...env, BULWARK_SECRET_KEY_FILE: keyFile });
    const keyless = runGatewayMain({ ...env, BULWARK_SECRET_KEY_FILE: "" });
    try {
      expect(await keyless.exited).toBe(1);
      expect(keyless.stderr()).toContain("BULWARK_SECRET_KEY_FILE");
      const line = await served.firstLine;
      if (line === null) throw new Error(`gateway-main exited: ${served.stderr()}`);
      const listening = (JSON.parse(line) as { listening: string }).listening;
      expect(listening).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // A key sealed by another process (this test) opens there: the same server key.
      const trader = await createTrader({ USD: "500" });
      const client = binanceClient(trader, listening);
      await client.loadMarkets();
      const order = await client.createOrder("BTC/USD", "limit", "buy", 0.001, 20000);
      const balance = await client.fetchBalance();
      expect({ free: balance.USD?.free, used: balance.USD?.used }).toEqual(
        primaryBalance(trader.userId, "USD"),
      );
      expect(balance.USD?.used).toBe(20);
      await client.cancelOrder(String(order.id), "BTC/USD");
      served.child.kill("SIGTERM");
      expect(await served.exited).toBe(0);
    } finally {
      served.child.kill("SIGKILL");
      keyless.child.kill("SIGKILL");
    }
  });

  it("with no primary, submit is busy (not applied, safe to send again) and the Binance dialect answers -1008", async () => {
    const trader = await createTrader({ USD: "1000" });
    const client = binanceClient(trader);
    await client.loadMarkets();
    const before = primary.core.lastSequence;
    await primary.close();
    const refusal = exchange.submit({
      kind: "adjustBalance",
      userId: trader.userId,
      assetId: exchange.assetByCode("USD")?.assetId ?? 0,
      amountUnits: 1,
      reason: "never applied",
    });
    // No core subscribed: nothing was applied, so the gateways answer busy (retry is safe); a
    // timeout (outcome unknown) is CommandOutcomeUnknownError instead (-1007 / EXMO requestTimeout).
    await expect(refusal).rejects.toBeInstanceOf(SequencerQueueFullError);
    await expect(client.createOrder("BTC/USD", "limit", "buy", 0.01, 30000)).rejects.toThrow(/"code":-1008/);
    expect(primary.core.lastSequence).toBe(before);
  });

  it("a core that takes the command and never answers: outcome unknown, answered -1007 by the Binance dialect", async () => {
    // A stand-in primary that takes requests and answers nothing (one that died mid-command).
    const silent = connection.subscribe(names.commandSubject, { queue: "bulwark-core" });
    const quick = await ClusterExchange.open({
      connection,
      names,
      databaseUrl: TEST_DATABASE_URL,
      pgSchema,
      busTimeoutMs: 300,
    });
    try {
      const unknown = quick.submit({
        kind: "adjustBalance",
        userId: 1,
        assetId: quick.assetByCode("USD")?.assetId ?? 0,
        amountUnits: 1,
        reason: "unknown outcome",
      });
      await expect(unknown).rejects.toBeInstanceOf(CommandOutcomeUnknownError);
      const quickGateway = createGateway(quick, {
        secretBox,
        logger: pino({ level: "silent" }),
        port: 0,
        host: "127.0.0.1",
        defaultMetrics: false,
        rateLimit: UNREACHABLE_RATE_LIMIT,
      });
      const { port } = await quickGateway.listen();
      try {
        const trader = await createTrader({});
        const client = binanceClient(trader, `http://127.0.0.1:${port}`);
        await client.loadMarkets();
        await expect(client.createOrder("BTC/USD", "limit", "buy", 0.01, 30000)).rejects.toThrow(
          /"code":-1007/,
        );
      } finally {
        await quickGateway.close();
      }
    } finally {
      silent.unsubscribe();
      await quick.close();
    }
  });
});

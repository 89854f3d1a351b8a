// The whole cluster as processes (issue 12 §2): a primary and a standby core on NATS JetStream,
// a projector into PostgreSQL, two gateways with their rate limits in Redis, and a custody process
// for devnet BTC with its signer (its own child process, on an owner-only socket). Stock ccxt 4.5.84
// `binance` clients trade through both gateways; the primary is SIGKILLed mid-load. Asserts: the
// standby takes over; every acknowledged order is in the journal, at its order id, once; no
// order is in it twice; both gateways keep serving after the switch; the projector's PostgreSQL
// reaches the new primary's sequence and matches a replay of the journal, whose state hash is the
// new primary's; one API key's budget is shared by the two gateways through Redis.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import ccxt from "ccxt-current";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, sealApiSecret } from "../../src/accounts/api-keys.ts";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { clusterNames } from "../../src/cluster/cluster-names.ts";
import { CommandBusClient } from "../../src/cluster/command-bus.ts";
import { JetStreamJournal } from "../../src/cluster/jetstream-journal.ts";
import { connectNats } from "../../src/cluster/nats-connection.ts";
import { Core } from "../../src/core/core.ts";
import { signBinancePayload } from "../../src/gateway/binance/auth.ts";
import { CommandDecoder } from "../../src/journal/command-codec.ts";
import { replayJournal } from "../../src/runtime/recovery.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";
import { DEMO_SCRYPT, initWallet } from "../../src/server/signers.ts";
import { createApiKey, createUser } from "../../src/store/accounts.ts";
import { dropPgSchema, openStore, type Store } from "../../src/store/open-store.ts";
import { balancesOfUser, projectedSequence } from "../../src/store/queries.ts";
import { TEST_DATABASE_URL } from "../gateway/support/rest-harness.ts";
import { nodeEntry } from "../support/node-entry.ts";
import { removeClusterState } from "./support.ts";

const SRC = join(import.meta.dirname, "..", "..", "src", "cluster");
const clusterName = `whole-${randomBytes(4).toString("hex")}`;
const names = clusterNames(clusterName);
const pgSchema = `cluster_whole_${process.pid}_${randomBytes(4).toString("hex")}`;
const tempDir = mkdtempSync(join(tmpdir(), "bulwark-cluster-"));
const keyFile = join(tempDir, "server.key");
const serverKey = randomBytes(32);
const secretBox = new SecretBox(serverKey);
const ORDERS_BEFORE_KILL = 12;
const ORDERS_AFTER_TAKEOVER_PER_GATEWAY = 4;

interface Proc {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: () => string;
  waitFor(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>>;
}

const children: ChildProcess[] = [];
let connection: NatsConnection;
let store: Store;
/** The first test's rate-limited trader and gateway settings, for the second. */
let limitedTrader: Trader | null = null;
let sharedGatewayEnv: Record<string, string> = {};

function run(file: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, nodeEntry(join(SRC, file)), {
    env: {
      ...process.env,
      BULWARK_CLUSTER_NAME: clusterName,
      BULWARK_DATABASE_URL: TEST_DATABASE_URL,
      BULWARK_PG_SCHEMA: pgSchema,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let stderr = "";
  let buffered = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let at = buffered.indexOf("\n"); at !== -1; at = buffered.indexOf("\n")) {
      const text = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // Not a status line (a library's log): ignored.
      }
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return {
    child,
    lines,
    stderr: () => stderr,
    async waitFor(predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = lines.find(predicate);
        if (line !== undefined) return line;
        if (Date.now() > deadline)
          throw new Error(
            `${file}: no such line in ${timeoutMs} ms; saw ${JSON.stringify(lines)}; stderr ${stderr}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

interface Trader {
  userId: number;
  keyId: string;
  secret: string;
}

async function createTrader(): Promise<Trader> {
  const created = await createUser(store.db, {
    email: `whole-${randomBytes(6).toString("hex")}@example.test`,
    passwordHash: "$scrypt$unused-in-this-test",
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error("test user exists");
  const { keyId, secret } = generateApiKey();
  await createApiKey(store.db, {
    keyId,
    userId: created.user.userId,
    secretCiphertext: sealApiSecret(secretBox, keyId, secret),
    scopes: ["info", "trade"],
    ipAllowList: [],
    createdMs: Date.now(),
  });
  return { userId: created.user.userId, keyId, secret };
}

function binanceClient(trader: Trader, url: string, clientAddress: string) {
  return new ccxt.binance({
    apiKey: trader.keyId,
    secret: trader.secret,
    rateLimit: 5,
    timeout: 5_000,
    // The gateways trust 127.0.0.1 as a proxy: each client is its own address for the limits.
    headers: { "X-Forwarded-For": clientAddress },
    options: { defaultType: "spot", fetchMarkets: { types: ["spot"] } },
    urls: {
      api: {
        public: `${url}/api/v3`,
        private: `${url}/api/v3`,
        v1: `${url}/api/v1`,
        sapi: `${url}/sapi/v1`,
      },
    },
  });
}

beforeAll(async () => {
  connection = await connectNats(undefined, { name: "whole cluster test" });
  store = await openStore({ databaseUrl: TEST_DATABASE_URL, pgSchema });
  writeFileSync(keyFile, `${serverKey.toString("base64")}\n`, { mode: 0o600 });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await removeClusterState(connection, names);
  await connection.close();
  await store.close();
  await dropPgSchema(TEST_DATABASE_URL, pgSchema);
  rmSync(tempDir, { recursive: true, force: true });
});

describe("the whole cluster as processes", () => {
  it("survives the primary's SIGKILL: both gateways serve, nothing acknowledged is lost or doubled, PostgreSQL follows", async () => {
    const coreA = run("core-main.ts", { BULWARK_CORE_ID: "whole-a", BULWARK_LEASE_TTL_MS: "1000" });
    await coreA.waitFor((line) => line.role === "primary", 30_000);
    const coreB = run("core-main.ts", { BULWARK_CORE_ID: "whole-b", BULWARK_LEASE_TTL_MS: "1000" });
    await coreB.waitFor((line) => line.role === "standby", 30_000);

    // Reference data and money, straight to the primary over the bus.
    const bus = new CommandBusClient(connection, {
      subject: names.commandSubject,
      timeoutMs: 5_000,
      maxInFlight: 8,
    });
    for (const asset of DEFAULT_ASSETS) await bus.submit({ kind: "addAsset", asset });
    for (const market of DEFAULT_MARKETS) await bus.submit({ kind: "addMarket", market });
    const traders = [await createTrader(), await createTrader()];
    const limited = await createTrader();
    const usd = DEFAULT_ASSETS.find((asset) => asset.code === "USD");
    for (const trader of traders)
      await bus.submit({
        kind: "adjustBalance",
        userId: trader.userId,
        assetId: usd?.assetId ?? 0,
        amountUnits: 10 ** 12,
        reason: "fund",
      });

    const projector = run("projector-main.ts", { BULWARK_STATUS_INTERVAL_MS: "0" });
    await projector.waitFor((line) => line.state === "projecting", 30_000);
    // Custody for devnet BTC and its signer (`bulwark wallet init` beforehand).
    const custodyDir = join(tempDir, "custody");
    mkdirSync(custodyDir, { mode: 0o700 });
    initWallet(custodyDir, "devnet-btc", "whole cluster signer", DEMO_SCRYPT);
    const custody = run("custody-main.ts", {
      BULWARK_DATA_DIR: custodyDir,
      BULWARK_CHAINS: "btc",
      BULWARK_DEVNET_BLOCK_MS: "0",
      BULWARK_SIGNER_PASSPHRASE: "whole cluster signer",
    });
    const custodyLine = await custody.waitFor((line) => line.custody === "running", 30_000);
    expect(custodyLine).toMatchObject({ chains: ["devnet-btc"], signers: ["devnet-btc"] });
    const gatewayEnv = {
      BULWARK_SECRET_KEY_FILE: keyFile,
      BULWARK_PORT: "0",
      BULWARK_REDIS_URL: "redis://127.0.0.1:6379",
      BULWARK_REDIS_PREFIX: clusterName,
      BULWARK_TRUSTED_PROXIES: "127.0.0.1",
      BULWARK_LOAD_SHEDDING: "off",
      BULWARK_RATE_LIMIT_TIERS: JSON.stringify({
        trader: {
          requestsPerSecond: 10_000,
          burst: 10_000,
          cancel: { requestsPerSecond: 10_000, burst: 10_000 },
        },
      }),
      BULWARK_KEY_TIERS: JSON.stringify(
        Object.fromEntries(traders.map((trader) => [trader.keyId, "trader"])),
      ),
    };
    limitedTrader = limited;
    sharedGatewayEnv = gatewayEnv;
    const gateways = [run("gateway-main.ts", gatewayEnv), run("gateway-main.ts", gatewayEnv)];
    const urls = await Promise.all(
      gateways.map(
        async (gateway) =>
          (await gateway.waitFor((line) => typeof line.listening === "string", 30_000)).listening as string,
      ),
    );

    // One key's budget (the default 20-point burst, /api/v3/account weighs 2) spent across both
    // gateways: ten requests in all are served, wherever they land, then both refuse.
    const accountAnswers: number[] = [];
    for (let index = 0; index < 14; index++) {
      const unsigned = `timestamp=${Date.now()}`;
      const query = `${unsigned}&signature=${signBinancePayload(limited.secret, unsigned)}`;
      const response = await fetch(`${urls[index % 2]}/api/v3/account?${query}`, {
        headers: { "X-MBX-APIKEY": limited.keyId, "X-Forwarded-For": `10.9.${index}.1` },
      });
      accountAnswers.push(response.status);
    }
    // 14 requests of 2 points against a 20-point burst refilling 10 points/s: 10 served, one more
    // for every 0.2 s the loop took. Unshared, each gateway would see 14 points and serve all 14.
    const served = accountAnswers.filter((status) => status === 200).length;
    expect(served).toBeGreaterThanOrEqual(10);
    expect(served).toBeLessThanOrEqual(12);
    expect(accountAnswers.filter((status) => status === 429).length).toBe(14 - served);

    // Custody through a gateway: a BTC deposit address from the custody process, over NATS.
    const depositClient = binanceClient(traders[0] as Trader, urls[1] as string, "10.8.1.1");
    const depositAddress = await depositClient.fetchDepositAddress("BTC");
    expect(depositAddress.address).toMatch(/^dvbtc1/);

    // Trading through both gateways while the primary dies.
    const clients = traders.map((trader, index) =>
      binanceClient(trader, urls[index] as string, `10.8.0.${index + 1}`),
    );
    await Promise.all(clients.map((client) => client.loadMarkets()));
    const acknowledged = new Map<string, number>(); // client order id → order id (= its command's sequence)
    const acksAfterTakeover = [0, 0];
    let takenOver = false;
    let stop = false;
    let next = 0;
    const trade = async (client: (typeof clients)[number], gatewayIndex: number) => {
      while (!stop) {
        const clientOrderId = `whole-${gatewayIndex}-${next++}`;
        try {
          const order = await client.createOrder("BTC/USD", "limit", "buy", 0.001, 20_000 + (next % 100), {
            newClientOrderId: clientOrderId,
          });
          acknowledged.set(clientOrderId, Number(order.id));
          if (takenOver) acksAfterTakeover[gatewayIndex] += 1;
        } catch (error) {
          // Busy, outcome unknown (-1007) or the gateway's own refusal while no core answers: never resent.
          if (!(error instanceof ccxt.BaseError)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    const trading = clients.map((client, index) => trade(client, index));
    const until = async (condition: () => boolean, timeoutMs: number, what: string) => {
      const deadline = Date.now() + timeoutMs;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await until(() => acknowledged.size >= ORDERS_BEFORE_KILL, 30_000, "orders on the first primary");
    const killedAtMs = Date.now();
    coreA.child.kill("SIGKILL");
    const takeover = await coreB.waitFor((line) => line.role === "primary", 30_000);
    takenOver = true;
    await until(
      () => acksAfterTakeover.every((count) => count >= ORDERS_AFTER_TAKEOVER_PER_GATEWAY),
      30_000,
      "both gateways serving the new primary",
    );
    stop = true;
    await Promise.all(trading);

    coreB.child.kill("SIGTERM");
    const final = await coreB.waitFor(
      (line) => line.role === "stopped" && typeof line.stateHash === "string",
      10_000,
    );
    const finalSequence = final.lastSequence as number;

    // The journal: contiguous, each client order id once, every acknowledgement at its order id.
    const journal = await JetStreamJournal.open({
      connection,
      streamName: names.streamName,
      subject: names.subject,
    });
    const decoder = new CommandDecoder();
    const sequenceOfText = new Map<string, number>();
    let expected = 1;
    journal.forEachRecord(1, (sequence, bytes, start, end) => {
      expect(sequence).toBe(expected++);
      const command = decoder.decode(bytes, start, end);
      if (command.kind !== "placeOrder" || command.clientOrderText === undefined) return;
      expect(sequenceOfText.has(command.clientOrderText)).toBe(false);
      sequenceOfText.set(command.clientOrderText, sequence);
    });
    for (const [clientOrderId, orderId] of acknowledged)
      expect(sequenceOfText.get(clientOrderId)).toBe(orderId);
    const replayed = new Core();
    replayJournal(replayed, journal, replayed.limits.maxCommandsPerBatch);
    await journal.close();
    expect(replayed.lastSequence).toBe(finalSequence);
    expect(replayed.stateHash()).toBe(final.stateHash);

    // The projector's PostgreSQL reaches the end and holds the replay's balances.
    const deadline = Date.now() + 20_000;
    while ((await projectedSequence(store.db)) < finalSequence) {
      if (Date.now() > deadline) throw new Error("the projector did not reach the journal's end");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const trader of traders) {
      const rows = await balancesOfUser(store.db, trader.userId);
      for (const asset of DEFAULT_ASSETS) {
        const row = rows.find((balance) => balance.assetId === asset.assetId);
        expect({ availableUnits: row?.availableUnits ?? 0, heldUnits: row?.heldUnits ?? 0 }).toEqual(
          replayed.balance(trader.userId, asset.assetId),
        );
      }
    }
    console.log(
      `whole cluster: kill → standby primary ${(takeover.atMs as number) - killedAtMs} ms; ${acknowledged.size} orders ` +
        `acknowledged through 2 gateways (${acksAfterTakeover.join(" + ")} after the takeover); journal ${finalSequence} records`,
    );
  }, 120_000);

  it("a gateway whose Redis is gone keeps limiting from memory", async () => {
    const trader = limitedTrader;
    if (trader === null) throw new Error("runs after the first test");
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const redis = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    );
    children.push(redis);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const gateway = run("gateway-main.ts", {
      ...sharedGatewayEnv,
      BULWARK_REDIS_URL: `redis://127.0.0.1:${port}`,
      BULWARK_REDIS_PREFIX: `${clusterName}-gone`,
    });
    const url = (await gateway.waitFor((line) => typeof line.listening === "string", 30_000))
      .listening as string;
    redis.kill("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Account reads need the store only; the key's 20-point burst holds with Redis gone.
    const statuses: number[] = [];
    for (let index = 0; index < 14; index++) {
      const unsigned = `timestamp=${Date.now()}`;
      const query = `${unsigned}&signature=${signBinancePayload(trader.secret, unsigned)}`;
      const response = await fetch(`${url}/api/v3/account?${query}`, {
        headers: { "X-MBX-APIKEY": trader.keyId, "X-Forwarded-For": `10.7.${index}.1` },
      });
      statuses.push(response.status);
    }
    // The 20-point burst (and its refill while the loop runs) from memory: not all 14 served.
    const servedFromMemory = statuses.filter((status) => status === 200).length;
    expect(servedFromMemory).toBeGreaterThanOrEqual(10);
    expect(servedFromMemory).toBeLessThanOrEqual(12);
    expect(statuses.filter((status) => status === 429).length).toBe(14 - servedFromMemory);
    gateway.child.kill("SIGTERM");
  }, 60_000);
});

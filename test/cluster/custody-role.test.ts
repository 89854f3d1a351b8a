// Cluster mode's custody role (issue 12, src/cluster/custody-main.ts) on real NATS JetStream and
// PostgreSQL: a primary ClusterCore and a projector role in this process, the custody role over
// its ClusterExchange with its own data dir (devnet chains, a BTC wallet, its signer process).
// A user's deposit address is assigned in PostgreSQL, a devnet payment to it is mined, and the
// credit reaches the primary's core over the bus (custody → bus → core), the projector's store
// and the role's replica alike. As a process it says it runs and exits 0 on SIGTERM.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.ts";
import type { ClusterCore } from "../../src/cluster/core-role.ts";
import { type RunningCustody, startCustodyRole } from "../../src/cluster/custody-main.ts";
import { connectNats } from "../../src/cluster/nats-connection.ts";
import { ProjectorRole } from "../../src/cluster/projector-role.ts";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";
import { DEMO_SCRYPT, initWallet } from "../../src/server/signers.ts";
import { dropPgSchema } from "../../src/store/open-store.ts";
import { TEST_DATABASE_URL } from "../store/engines.ts";
import { nodeEntry } from "../support/node-entry.ts";
import { removeClusterState, startPrimaryCore } from "./support.ts";

const CUSTODY_MAIN = join(import.meta.dirname, "..", "..", "src", "cluster", "custody-main.ts");
const run = randomBytes(4).toString("hex");
const clusterName = `custody-${run}`;
const names = clusterNames(clusterName);
const pgSchema = `cluster_custody_${process.pid}_${run}`;
const PASSPHRASE = `custody role test ${run}`;
const BTC = DEFAULT_ASSETS.find((asset) => asset.code === "BTC");
if (BTC === undefined) throw new Error("no BTC among the default assets");
/** 0.5 BTC in satoshis: the devnet's base units and the ledger's (scale 8) are the same here. */
const DEPOSIT_SATOSHIS = 50_000_000n;

let connection: NatsConnection;
let primary: ClusterCore;
let projector: ProjectorRole;
let custody: RunningCustody | undefined;
const roleErrors: string[] = [];
const dirs: string[] = [];

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-custody-role-"));
  dirs.push(dir);
  return dir;
}

function roleEnv(dir: string): NodeJS.ProcessEnv {
  return {
    BULWARK_CLUSTER_NAME: clusterName,
    BULWARK_DATABASE_URL: TEST_DATABASE_URL,
    BULWARK_PG_SCHEMA: pgSchema,
    BULWARK_DATA_DIR: dir,
    BULWARK_DEVNET_BLOCK_MS: "0",
    BULWARK_CUSTODY_TICK_MS: "100",
    BULWARK_SERVER_KEY: "",
    BULWARK_SECRET_KEY_FILE: "",
    BULWARK_SIGNER_PASSPHRASE: "",
  };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function startPrimary(): Promise<void> {
  primary = await startPrimaryCore(connection, names, "custody-test-primary");
}

beforeAll(async () => {
  connection = await connectNats(undefined, { name: "bulwark-test-custody-role", maxReconnectAttempts: 0 });
  await startPrimary();
  const setup: UnstampedCommand[] = [
    ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
    ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
  ];
  for (const command of setup) await primary.submit(command);
  projector = await ProjectorRole.start({
    connection,
    streamName: names.streamName,
    subject: names.subject,
    databaseUrl: TEST_DATABASE_URL,
    pgSchema,
    onError: (what, error) => roleErrors.push(`${what}: ${String(error)}`),
  });
}, 15_000);

afterAll(async () => {
  await custody?.close();
  await projector?.close();
  await primary?.close();
  await removeClusterState(connection, names);
  await connection.close();
  await dropPgSchema(TEST_DATABASE_URL, pgSchema);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}, 15_000);

describe("the custody role: devnet chains, signers and custody over the cluster's bus and store", () => {
  it("credits a mined BTC deposit on the primary core through the bus", async () => {
    const dir = dataDir();
    // `bulwark wallet init --chain devnet-btc` beforehand; the role only starts its signer.
    initWallet(dir, "devnet-btc", PASSPHRASE, DEMO_SCRYPT);
    custody = await startCustodyRole({
      ...roleEnv(dir),
      BULWARK_CHAINS: "btc",
      BULWARK_SIGNER_PASSPHRASE: PASSPHRASE,
    });
    expect(custody.chains).toEqual(["devnet-btc"]);
    expect(custody.signers?.chains()).toEqual(["devnet-btc"]);
    // Only the chain it serves: ETH and USDT are another custody process's.
    expect(custody.custody.terms().map((terms) => [terms.currency, terms.depositEnabled])).toEqual([
      ["BTC", true],
    ]);

    const created = await custody.exchange.accounts.createUser({
      email: `depositor-${run}@example.test`,
      passwordHash: "x".repeat(64),
      createdMs: Date.now(),
    });
    if (!created.ok) throw new Error("user not created");
    const userId = created.user.userId;
    // As the EXMO deposit_address route asks it: assigned once, in PostgreSQL.
    const { address } = await custody.custody.depositAddress(userId, "BTC");
    expect((await custody.custody.depositAddress(userId, "BTC")).address).toBe(address);
    const owners = await custody.exchange.custody.depositAddressOwners("devnet-btc", [address]);
    expect(owners.get(address)?.userId).toBe(userId);

    const before = primary.core.balance(userId, BTC.assetId).availableUnits;
    const sequenceBefore = primary.core.lastSequence;
    custody.devnet.btc.faucet(address, "BTC", DEPOSIT_SATOSHIS);
    custody.devnet.btc.mine(3);
    await until(
      () => primary.core.balance(userId, BTC.assetId).availableUnits > before,
      10_000,
      "the deposit's credit on the primary core",
    );
    expect(primary.core.balance(userId, BTC.assetId)).toEqual({
      availableUnits: before + Number(DEPOSIT_SATOSHIS),
      heldUnits: 0,
    });
    expect(primary.core.lastSequence).toBeGreaterThan(sequenceBefore);
    // The role's replica and the projector's store have the same credit.
    // The primary answers before the role's replica follows it (milliseconds later).
    const role = custody;
    await until(
      () => role.exchange.status().lastSequence >= primary.core.lastSequence,
      5_000,
      "the role's replica",
    );
    expect(role.exchange.balance(userId, BTC.assetId)).toEqual(primary.core.balance(userId, BTC.assetId));
    await custody.exchange.whenProjected(primary.core.lastSequence);
    const stored = await custody.exchange.reads.balancesOfUser(userId);
    expect(stored.find((row) => row.assetId === BTC.assetId)?.availableUnits).toBe(
      before + Number(DEPOSIT_SATOSHIS),
    );
    // More blocks credit nothing twice.
    custody.devnet.btc.mine(2);
    await custody.custody.tick();
    expect(primary.core.balance(userId, BTC.assetId).availableUnits).toBe(before + Number(DEPOSIT_SATOSHIS));
    expect(roleErrors).toEqual([]);

    await custody.close();
    custody = undefined;
    // Closed: the signer stopped (its socket gone) and the devnet's state saved.
    expect(existsSync(join(dir, "signers", "devnet-btc", "signer.sock"))).toBe(false);
    expect(existsSync(join(dir, "devnet", "btc"))).toBe(true);
  }, 20_000);

  it("refuses a chain it does not know, and leaves its data dir unlocked", async () => {
    const dir = dataDir();
    await expect(startCustodyRole({ ...roleEnv(dir), BULWARK_CHAINS: "doge" })).rejects.toThrow(
      /BULWARK_CHAINS names no devnet chain: doge/,
    );
    await expect(startCustodyRole({ ...roleEnv(dir), BULWARK_DATA_DIR: "" })).rejects.toThrow(
      /BULWARK_DATA_DIR is required/,
    );
    expect(existsSync(join(dir, "bulwark.lock"))).toBe(false);
  });

  it("runs as a process: one JSON line once running, exit 0 on SIGTERM", async () => {
    const dir = dataDir();
    const child = spawn(process.execPath, nodeEntry(CUSTODY_MAIN), {
      env: { ...process.env, ...roleEnv(dir), BULWARK_CHAINS: "eth" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // "close", not "exit": stderr is read to its end, for the failure's message.
    const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    const firstLine = new Promise<string | null>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes("\n")) resolve(stdout.slice(0, stdout.indexOf("\n")));
      });
      void exited.then(() => resolve(null));
    });
    try {
      const line = await firstLine;
      if (line === null) throw new Error(`custody-main exited: ${stderr}`);
      // No wallet in this data dir: custody runs (deposits wait for `wallet init`), no signer.
      expect(JSON.parse(line)).toEqual({ custody: "running", chains: ["devnet-eth"], signers: [] });
      // At once: the role handles SIGTERM from before it says it runs.
      child.kill("SIGTERM");
      expect({ code: await exited, stderr }).toEqual({ code: 0, stderr: "" });
      // The devnet's state was saved and the data dir's lock released.
      expect(readdirSync(join(dir, "devnet", "eth")).length).toBeGreaterThan(0);
      expect(existsSync(join(dir, "bulwark.lock"))).toBe(false);
    } finally {
      child.kill("SIGKILL");
    }
  }, 15_000);
});

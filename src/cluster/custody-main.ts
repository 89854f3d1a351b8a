// The custody role as a process: `node src/cluster/custody-main.ts` (or `bulwark start --role
// custody`). Custody as in embedded mode (src/server/server.ts's startCustody: the devnet chains,
// one signer process per chain, the CustodyService), over a ClusterExchange instead of the
// embedded Exchange: its commands (creditDeposit, holdWithdrawal, …) go over the NATS bus to the
// primary core, balances come from a local core replica following the journal, and its own tables
// (deposit addresses, the scanner's state, the withdrawal pipeline) are in PostgreSQL.
//
// The signers stay separate child processes on owner-only sockets under the data dir; their
// environment is PATH, HOME and TMPDIR only (signers.ts): a signer never reaches NATS or
// PostgreSQL. Settings:
//
//   BULWARK_NATS_URL           NATS with JetStream; default nats://127.0.0.1:4222
//   BULWARK_CLUSTER_NAME       the cluster's names (cluster-names.ts); default "bulwark"
//   BULWARK_DATABASE_URL       postgres://… of the store (required)
//   BULWARK_PG_SCHEMA          its schema; default "public"
//   BULWARK_DATA_DIR           this role's data dir (required; `bulwark start` passes --data-dir):
//                              the devnet chains' state, the signers' keystores and sockets,
//                              custody's policy key and state. Owner-only (0700); one process at a time.
//   BULWARK_CHAINS             the chains served, comma-separated ("btc", "eth" or "devnet-btc", …);
//                              default all. One custody process per chain: each its own data dir.
//   BULWARK_DEVNET_BLOCK_MS    ms between devnet blocks; default 10000, 0: none (mined by whoever
//                              drives the devnet, as tests do)
//   BULWARK_CUSTODY_TICK_MS    custody's step interval; default custody's (1 s)
//   BULWARK_SIGNER_PASSPHRASE  the keystores' passphrase (`bulwark wallet init` made them); without
//                              it no signer runs and withdrawals wait, deposits are still credited
//   BULWARK_SERVER_KEY / BULWARK_SECRET_KEY_FILE  optional here: the cluster's server key, for
//                              custody's checks that open sealed secrets (2FA)
//   BULWARK_LOG_LEVEL          pino level; default "warn"
//
// Prints one JSON line on stdout once running, {"custody":"running","chains":[…],"signers":[…]};
// exits 0 on SIGTERM/SIGINT (custody stopped, signers stopped, devnet state saved, exchange
// closed), 1 when the journal follower stops (the supervisor restarts it).

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { devnetCustodyConfigs } from "../custody/config.ts";
import type { CustodyService } from "../custody/custody-service.ts";
import { ensurePrivateDataDir } from "../server/data-dir.ts";
import { acquireDataDirLock } from "../server/data-dir-lock.ts";
import { DEFAULT_DEVNET_BLOCK_MS, DevnetChains, MAX_DEVNET_BLOCK_MS } from "../server/devnet.ts";
import { startCustody } from "../server/server.ts";
import type { SignerSupervisor } from "../server/signers.ts";
import { ClusterExchange } from "./cluster-exchange.ts";
import { clusterNames } from "./cluster-names.ts";
import { serveCustody } from "./custody-bus.ts";
import { clusterSecretBox } from "./gateway-main.ts";
import { connectNats } from "./nats-connection.ts";

/** Longest custody step interval accepted (one minute): slower would leave deposits waiting. */
const MAX_CUSTODY_TICK_MS = 60_000;
/** Custody requests from gateways answered at once; past it they get "busy" (walletNotAvailable). */
const CUSTODY_MAX_IN_FLIGHT = 64;

export interface RunningCustody {
  exchange: ClusterExchange;
  /** The simulated chains of this role (all of them are open; custody serves `chains`). */
  devnet: DevnetChains;
  custody: CustodyService;
  signers: SignerSupervisor | null;
  /** The chains custody serves, by their chain name ("devnet-btc"). */
  chains: string[];
  close(): Promise<void>;
}

function integerOf(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!/^[0-9]{1,7}$/.test(text) || value > max)
    throw new RangeError(`${name} must be 0..${max}, got ${text}`);
  return value;
}

/** The devnet handles BULWARK_CHAINS names ("btc" or "devnet-btc"); all when unset. */
function selectChains(devnet: DevnetChains, text: string | undefined): DevnetChains["chains"] {
  if (text === undefined || text.trim() === "") return devnet.chains;
  const wanted = text.split(",").map((name) => name.trim());
  const unknown = wanted.filter((name) => !devnet.chains.some((h) => h.id === name || h.name === name));
  if (unknown.length > 0)
    throw new Error(
      `BULWARK_CHAINS names no devnet chain: ${unknown.join(", ")} (known: ${devnet.chains.map((h) => h.id).join(", ")})`,
    );
  return devnet.chains.filter((handle) => wanted.includes(handle.id) || wanted.includes(handle.name));
}

/** The custody bus instance of a process serving `chains`: their names, when they fit a subject token. */
function custodyInstance(chains: string[]): { instance?: string } {
  const instance = [...chains].sort().join("_");
  return /^[A-Za-z0-9_-]{1,64}$/.test(instance) ? { instance } : {};
}

/** The secret box when the cluster's server key is configured; custody runs without one. */
function optionalSecretBox(env: NodeJS.ProcessEnv) {
  const configured = [env.BULWARK_SERVER_KEY, env.BULWARK_SECRET_KEY_FILE].some(
    (v) => v !== undefined && v !== "",
  );
  return configured ? { secretBox: clusterSecretBox(env) } : {};
}

/** Starts the custody role; resolves once custody runs. The caller wires signals (runCustodyRole does). */
export async function startCustodyRole(
  env: NodeJS.ProcessEnv,
  hooks: { onFailure?: (error: Error) => void } = {},
): Promise<RunningCustody> {
  const databaseUrl = env.BULWARK_DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === "")
    throw new Error("BULWARK_DATABASE_URL (postgres://…) is required: custody keeps its tables in the store");
  const dataDirText = env.BULWARK_DATA_DIR;
  if (dataDirText === undefined || dataDirText === "")
    throw new Error(
      "BULWARK_DATA_DIR is required: the devnet chains, the signers' keystores and custody's state",
    );
  const dataDir = resolve(dataDirText);
  const names = clusterNames(env.BULWARK_CLUSTER_NAME ?? "bulwark");
  const blockIntervalMs = integerOf(
    "BULWARK_DEVNET_BLOCK_MS",
    env.BULWARK_DEVNET_BLOCK_MS,
    DEFAULT_DEVNET_BLOCK_MS,
    MAX_DEVNET_BLOCK_MS,
  );
  const tickText = env.BULWARK_CUSTODY_TICK_MS;
  const custodyTickMs =
    tickText === undefined || tickText === ""
      ? undefined
      : Math.max(1, integerOf("BULWARK_CUSTODY_TICK_MS", tickText, 0, MAX_CUSTODY_TICK_MS));
  const accounts = optionalSecretBox(env);
  const logger = pino({ level: env.BULWARK_LOG_LEVEL ?? "warn" });

  ensurePrivateDataDir(dataDir);
  const lock = acquireDataDirLock(dataDir, "custody");
  const cleanups: Array<() => Promise<void> | void> = [() => lock.release()];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const connection: NatsConnection = await connectNats(env.BULWARK_NATS_URL, {
      name: `bulwark-custody ${process.pid}`,
    });
    cleanups.push(() => connection.close());
    const exchange = await ClusterExchange.open({
      connection,
      names,
      databaseUrl,
      ...(env.BULWARK_PG_SCHEMA ? { pgSchema: env.BULWARK_PG_SCHEMA } : {}),
      accounts,
      onBackgroundError: (what, error) => logger.error({ err: error }, what),
      ...(hooks.onFailure === undefined ? {} : { onFailure: hooks.onFailure }),
    });
    cleanups.push(() => exchange.close());
    // Custody's currencies are the core's assets: a cluster whose core has none yet cannot run it.
    const devnet = DevnetChains.open({ dataDir, blockIntervalMs });
    // After custody and the signers stop (cleanups run in reverse): the chains' state is saved last.
    cleanups.push(() => devnet.close());
    const served = selectChains(devnet, env.BULWARK_CHAINS);
    const missing = devnetCustodyConfigs()
      .filter((config) => served.some((handle) => handle.name === config.chain))
      .flatMap((config) => config.currencies.map((currency) => currency.currency))
      .filter((code) => exchange.assetByCode(code) === undefined);
    if (missing.length > 0)
      throw new Error(
        `the cluster's core has no asset ${missing.join(", ")} yet: add the assets, then start custody`,
      );
    devnet.start((chain, error) => logger.error({ err: error, chain }, "devnet block failed"));
    const started = await startCustody(
      { dataDir, ...(custodyTickMs === undefined ? {} : { custodyTickMs }) },
      env,
      exchange,
      { chains: served },
      false,
      logger,
      undefined,
    );
    cleanups.push(() => started.signers?.stop());
    cleanups.push(() => started.custody.stop());
    // Gateways reach custody's port over the bus (custody-bus.ts); stopped first on close, so no
    // request reaches a stopping custody.
    const custodyServer = serveCustody(connection, {
      subject: names.custodySubject,
      custody: started.custody,
      maxInFlight: CUSTODY_MAX_IN_FLIGHT,
      // Named by its chains, so a restarted process takes the same subject (gateways route by it).
      ...custodyInstance(served.map((handle) => handle.name)),
      onError: (method, error) => logger.error({ err: error, method }, "custody request failed"),
    });
    cleanups.push(() => custodyServer.stop());
    return {
      exchange,
      devnet,
      custody: started.custody,
      signers: started.signers,
      chains: served.map((handle) => handle.name),
      close: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Runs the custody role until SIGTERM/SIGINT (exit 0) or until its follower stops (exit 1). */
export async function runCustodyRole(env: NodeJS.ProcessEnv): Promise<void> {
  let exiting = false;
  let starting: Promise<RunningCustody | null> = Promise.resolve(null);
  const exit = async (code: number) => {
    if (exiting) return;
    exiting = true;
    // A signal during the start stops what the start made (signers included) once it is made.
    const running = await starting.catch(() => null);
    await running?.close().catch((error: unknown) => {
      process.stderr.write(
        `custody role: close failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    });
    process.exit(code);
  };
  // Before the ready line, not after: a supervisor may send SIGTERM the moment it reads it.
  process.once("SIGTERM", () => void exit(0));
  process.once("SIGINT", () => void exit(0));
  starting = startCustodyRole(env, {
    onFailure: (error) => {
      process.stderr.write(`custody role: journal follower stopped: ${error.message}\n`);
      void exit(1);
    },
  });
  const running = await starting;
  if (running === null || exiting) return;
  process.stdout.write(
    `${JSON.stringify({ custody: "running", chains: running.chains, signers: running.signers?.chains() ?? [] })}\n`,
  );
}

/** Run directly (node / tsx), not imported by the CLI. */
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCustodyRole(process.env).catch((error: unknown) => {
    process.stderr.write(`custody role failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}

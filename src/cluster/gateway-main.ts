// The gateway role as a process: `node src/cluster/gateway-main.ts` (or, once the CLI wires it,
// `bulwark start --role gateway`). Stateless: commands go to the primary core over NATS, events
// come from a core replica following the journal stream, reads from PostgreSQL (written by the
// projector role), rate limits from Redis (cluster-exchange.ts says how). Run as many as needed
// behind a load balancer. The wallet endpoints reach the custody role(s) over NATS
// (custody-bus.ts); without a custody role they answer walletNotAvailable. Every gateway needs the
// same settings:
//
//   BULWARK_NATS_URL         NATS with JetStream; default nats://127.0.0.1:4222
//   BULWARK_CLUSTER_NAME     names the journal stream and the command subject (cluster-names.ts); default "bulwark"
//   BULWARK_DATABASE_URL     postgres://… of the store (required)
//   BULWARK_PG_SCHEMA        its schema; default "public"
//   BULWARK_PORT             default 8080 (0 picks a free one)
//   BULWARK_HOST             default 127.0.0.1; 0.0.0.0 behind a load balancer
//   BULWARK_REDIS_URL        shared rate-limit counters and bans (and the guard's other BULWARK_*
//                            settings, src/gateway/guard/env-options.ts); without it each gateway
//                            counts on its own
//   BULWARK_SECRET_KEY_FILE  the server key (32 bytes, base64, one line, mode 0600) that seals API
//                            secrets in the store; or BULWARK_SERVER_KEY with the key itself. One
//                            of them is required and must be THE SAME in every gateway (and in
//                            whatever creates API keys): a gateway never generates its own, since
//                            a key of its own could open no stored secret.
//   BULWARK_LOG_LEVEL        pino level; default "warn"
//
// Prints one JSON line on stdout when listening, {"listening": "http://host:port"}; exits 0 on
// SIGTERM/SIGINT, 1 when the journal follower stops (its events would be frozen: the supervisor
// restarts it and it recovers from the stream).

import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { parseServerKey, SecretBox } from "../accounts/secret-box.ts";
import { BinanceUserData } from "../gateway/binance/user-data/sockets.ts";
import { guardOptionsFromEnv } from "../gateway/guard/env-options.ts";
import { createGateway } from "../gateway/http/server.ts";
import { attachWebSocket } from "../gateway/ws/server.ts";
import { ClusterExchange } from "./cluster-exchange.ts";
import { clusterNames } from "./cluster-names.ts";
import { RemoteCustodyPort } from "./custody-bus.ts";
import { connectNats } from "./nats-connection.ts";

export const SECRET_KEY_FILE_ENV = "BULWARK_SECRET_KEY_FILE";
const SERVER_KEY_ENV = "BULWARK_SERVER_KEY";
const DEFAULT_PORT = 8080;
const DEFAULT_HOST = "127.0.0.1";
/** A key file is one line of base64; anything much larger is not one. */
const MAX_KEY_FILE_BYTES = 1024;
/** Custody's answer bound: a withdrawal request checks limits, holds funds on the core and persists. */
const CUSTODY_TIMEOUT_MS = 10_000;
const CUSTODY_MAX_IN_FLIGHT = 64;
/** How stale the currencies' terms (enabled, minimums, fees) may be on a gateway. */
const CUSTODY_TERMS_REFRESH_MS = 5_000;

/** The SecretBox every gateway of the cluster shares, from BULWARK_SERVER_KEY or BULWARK_SECRET_KEY_FILE. */
export function clusterSecretBox(env: NodeJS.ProcessEnv): SecretBox {
  const inline = env[SERVER_KEY_ENV];
  if (inline !== undefined && inline !== "") return new SecretBox(parseServerKey(inline.trim()));
  const path = env[SECRET_KEY_FILE_ENV];
  if (path === undefined || path === "")
    throw new Error(
      `${SECRET_KEY_FILE_ENV} (a file holding the cluster's server key) or ${SERVER_KEY_ENV} is required: every gateway must open the same API secrets`,
    );
  const stat = statSync(path);
  if ((stat.mode & 0o077) !== 0)
    throw new Error(`${path} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`);
  if (stat.size > MAX_KEY_FILE_BYTES) throw new Error(`${path} is too large to be a server key`);
  try {
    return new SecretBox(parseServerKey(readFileSync(path, "utf8").trim()));
  } catch (error) {
    throw new Error(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function portOf(text: string | undefined): number {
  if (text === undefined || text === "") return DEFAULT_PORT;
  const port = Number(text);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535)
    throw new RangeError(`BULWARK_PORT must be 0..65535, got ${text}`);
  return port;
}

export interface RunningGateway {
  url: string;
  exchange: ClusterExchange;
  close(): Promise<void>;
}

/** Starts the gateway role; resolves once it listens. The caller wires signals (runGatewayRole does). */
export async function startGatewayRole(
  env: NodeJS.ProcessEnv,
  hooks: { onFailure?: (error: Error) => void } = {},
): Promise<RunningGateway> {
  const databaseUrl = env.BULWARK_DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === "")
    throw new Error("BULWARK_DATABASE_URL (postgres://…) is required: the gateway reads the store");
  const names = clusterNames(env.BULWARK_CLUSTER_NAME ?? "bulwark");
  const port = portOf(env.BULWARK_PORT);
  const host = env.BULWARK_HOST || DEFAULT_HOST;
  const secretBox = clusterSecretBox(env);
  // Malformed guard settings fail here, before anything connects.
  const guard = guardOptionsFromEnv(env, { loadShedding: true });
  const logger = pino({ level: env.BULWARK_LOG_LEVEL ?? "warn" });
  const connection = await connectNats(env.BULWARK_NATS_URL, { name: `bulwark-gateway ${process.pid}` });
  const cleanups: Array<() => Promise<void> | void> = [() => connection.close()];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const exchange = await ClusterExchange.open({
      connection,
      names,
      databaseUrl,
      ...(env.BULWARK_PG_SCHEMA ? { pgSchema: env.BULWARK_PG_SCHEMA } : {}),
      accounts: { secretBox },
      onBackgroundError: (what, error) => logger.error({ err: error }, what),
      ...(hooks.onFailure === undefined ? {} : { onFailure: hooks.onFailure }),
    });
    cleanups.push(() => exchange.close());
    // Custody's port over the bus (custody-bus.ts): the wallet endpoints answer while a custody
    // role serves names.custodySubject; without one they answer walletNotAvailable.
    const custody = await RemoteCustodyPort.open(connection, {
      subject: names.custodySubject,
      timeoutMs: CUSTODY_TIMEOUT_MS,
      maxInFlight: CUSTODY_MAX_IN_FLIGHT,
      termsRefreshMs: CUSTODY_TERMS_REFRESH_MS,
      onRefreshError: (error) => logger.debug({ err: error }, "custody terms refresh failed"),
    });
    cleanups.push(() => custody.close());
    const gateway = createGateway(exchange, {
      secretBox,
      custody,
      logger,
      port,
      host,
      ...guard,
      webSocketConnections: () => webSocket.connectionCount,
    });
    const webSocket = attachWebSocket(gateway.server, exchange, {
      secretBox,
      logger,
      guardControl: gateway.guardControl,
      clientAddress: gateway.clientAddress,
      binanceUserData: new BinanceUserData(exchange, { secretBox, logger }),
    });
    cleanups.push(() => gateway.close());
    cleanups.push(() => webSocket.close());
    const listening = await gateway.listen();
    const localHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
    return { url: `http://${localHost}:${listening.port}`, exchange, close: cleanUp };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Runs the gateway role until SIGTERM/SIGINT (exit 0) or until its follower stops (exit 1). */
export async function runGatewayRole(env: NodeJS.ProcessEnv): Promise<void> {
  let running: RunningGateway | null = null;
  let exiting = false;
  const exit = async (code: number) => {
    if (exiting) return;
    exiting = true;
    await running?.close().catch(() => undefined);
    process.exit(code);
  };
  running = await startGatewayRole(env, {
    onFailure: (error) => {
      process.stderr.write(`gateway role: journal follower stopped: ${error.message}\n`);
      void exit(1);
    },
  });
  // Handlers first: a supervisor may signal the moment it reads the ready line.
  process.once("SIGTERM", () => void exit(0));
  process.once("SIGINT", () => void exit(0));
  process.stdout.write(`${JSON.stringify({ listening: running.url })}\n`);
}

/** Run directly (node / tsx), not imported by the CLI. */
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runGatewayRole(process.env).catch((error: unknown) => {
    process.stderr.write(`gateway role failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}

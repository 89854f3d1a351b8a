// `bulwark start`: the whole exchange in this process until SIGINT or SIGTERM. The start log says
// where everything listens and what recovery did (snapshot, commands replayed, torn journal tail
// cut, time to open), so a slow or surprising restart explains itself.

import { resolve } from "node:path";
import { runCoreRole } from "../cluster/core-main.ts";
import { runCustodyRole } from "../cluster/custody-main.ts";
import { runGatewayRole } from "../cluster/gateway-main.ts";
import { runProjectorRole } from "../cluster/projector-main.ts";
import { coreSummary } from "../server/core-report.ts";
import { coldWalletsOf, type DemoColdWallet } from "../server/demo/cold-wallet.ts";
import { DEFAULT_DEVNET_BLOCK_MS, MAX_DEVNET_BLOCK_MS } from "../server/devnet.ts";
import { parseOperatorListen } from "../server/operator-listeners.ts";
import { DEFAULT_PORT, type ExchangeServer, startExchangeServer } from "../server/server.ts";
import { type Cli, usageError } from "./args.ts";
import { type CliIo, say } from "./io.ts";

function portOf(cli: Cli, io: CliIo): number {
  const text = cli.values.port ?? io.env.BULWARK_PORT ?? String(DEFAULT_PORT);
  const port = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || port > 65_535) throw usageError(`port must be 0..65535, got "${text}"`);
  return port;
}

function tlsOf(cli: Cli): { certPath: string; keyPath: string } | undefined {
  const cert = cli.values["tls-cert"];
  const key = cli.values["tls-key"];
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw usageError("--tls-cert and --tls-key go together");
  return { certPath: resolve(cert), keyPath: resolve(key) };
}

function operatorListenOf(cli: Cli): string | undefined {
  const text = cli.values["operator-listen"];
  if (text === undefined) return undefined;
  try {
    parseOperatorListen(text);
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
  return text;
}

function devnetBlockMsOf(cli: Cli): number {
  const text = cli.values["devnet-block-ms"];
  if (text === undefined) return DEFAULT_DEVNET_BLOCK_MS;
  const ms = Number(text);
  if (!/^[0-9]{1,7}$/.test(text) || ms > MAX_DEVNET_BLOCK_MS)
    throw usageError(
      `--devnet-block-ms must be 0..${MAX_DEVNET_BLOCK_MS} (0: blocks only on demand), got "${text}"`,
    );
  if (cli.values["no-devnet"]) throw usageError("--devnet-block-ms has no effect with --no-devnet");
  return ms;
}

export interface RecoverySummary {
  /** The snapshot recovery started from; 0: none, the journal was replayed from its start. */
  snapshotSequence: number;
  skippedSnapshots: number;
  replayedCommands: number;
  lastSequence: number;
  /** Bytes of a torn journal tail cut at open (never acknowledged), and from which file. */
  tornTailBytes: number;
  tornTailFile: string | null;
  /** Time to open the data dir: store, journal, recovery, replay projected, market data rebuilt. */
  openMs: number;
}

export function recoverySummary(server: ExchangeServer): RecoverySummary {
  const { recovery, journalOpen } = server.exchange.internals;
  return {
    snapshotSequence: recovery.snapshotSequence,
    skippedSnapshots: recovery.skippedSnapshots.length,
    replayedCommands: recovery.replayedCommandCount,
    lastSequence: recovery.lastSequence,
    tornTailBytes: journalOpen.truncatedBytes,
    tornTailFile: journalOpen.truncatedFile,
    openMs: server.openMs,
  };
}

export function recoveryText(summary: RecoverySummary): string {
  const from = summary.snapshotSequence === 0 ? "no snapshot" : `snapshot ${summary.snapshotSequence}`;
  const skipped = summary.skippedSnapshots === 0 ? "" : ` (${summary.skippedSnapshots} damaged skipped)`;
  const torn =
    summary.tornTailBytes === 0
      ? "no torn tail"
      : `torn tail of ${summary.tornTailBytes} bytes cut from ${summary.tornTailFile}`;
  return (
    `recovered: ${from}${skipped} + ${summary.replayedCommands} commands replayed → sequence ` +
    `${summary.lastSequence}; ${torn}; opened in ${summary.openMs} ms`
  );
}

/** Each devnet chain's cold wallet as custody reads it (its address file), with custody running. */
function coldWallets(server: ExchangeServer, dataDir: string): DemoColdWallet[] {
  if (server.custody === null || server.devnet === null) return [];
  return coldWalletsOf(
    dataDir,
    server.devnet.chains.map((handle) => handle.chain.chain),
  );
}

function coldText(wallets: readonly DemoColdWallet[]): string[] {
  const lines = wallets.map((wallet) =>
    wallet.address === null
      ? `  cold wallet of ${wallet.chain}: none, the hot wallet keeps everything (bulwark cold keygen, cold set-address)`
      : `  cold wallet of ${wallet.chain}: ${wallet.address}  (custody sweeps the hot wallet above its cap here)`,
  );
  const demo = wallets.flatMap((wallet) => (wallet.keystoreDir === null ? [] : [wallet.keystoreDir]));
  if (demo.length > 0)
    lines.push(
      `  demo cold keystores ${demo.join(", ")}`,
      "    (beside the data dir, as if on the offline machine; under the demo wallets' passphrase, signers/demo-passphrase)",
    );
  return lines;
}

function startedText(server: ExchangeServer, dataDir: string, recovery: RecoverySummary): string {
  const lines = [
    `Bulwark listening on ${server.url}  (data dir ${dataDir})`,
    `  ${server.listenNote}`,
    `  ${recoveryText(recovery)}`,
    `  web site: ${server.url}/  (markets, trade, wallet, account, status, reserves; operator console: ${server.url}/console)`,
    `  EXMO REST: ${server.url}/v1.1/…  WebSocket: ${server.url.replace(/^http/, "ws")}/v1/public, /v1/private`,
    `  API docs: ${server.url}/docs  health: ${server.url}/health`,
    `  operator API: ${server.operatorSocket}  (\`bulwark <command> --data-dir ${dataDir}\` goes through it)`,
  ];
  if (server.devnet !== null) {
    const every =
      server.devnet.blockIntervalMs === 0
        ? "blocks only on demand (bulwark devnet mine)"
        : `a block every ${server.devnet.blockIntervalMs} ms`;
    lines.push(
      `  devnet chains ${server.devnet.chains.map((c) => c.id).join(", ")}: ${every}; --no-devnet turns them off`,
    );
  }
  if (server.custody !== null) {
    const running = server.signers?.chains() ?? [];
    const waiting = server.custody
      .terms()
      .filter((terms) => !terms.depositEnabled)
      .map((terms) => terms.chain);
    lines.push(
      `  custody: signers running for ${running.length > 0 ? running.join(", ") : "no chain"}` +
        (waiting.length > 0
          ? `; no wallet yet for ${[...new Set(waiting)].join(", ")} (bulwark wallet init)`
          : "") +
        "; bulwark custody status",
      ...coldText(coldWallets(server, dataDir)),
    );
  }
  lines.push(
    `  status page: ${server.url}/status.html (JSON: /status); incidents: bulwark incident list`,
    server.webhooks === null
      ? "  webhooks: none (start --webhook URL, or <data-dir>/webhooks.json)"
      : `  webhooks: ${server.webhooks.config.urls.length} receiver(s), signed with the secret from ${server.webhooks.config.secretSource === "generated" || server.webhooks.config.secretSource === "file" ? "<data-dir>/webhook-secret" : server.webhooks.config.secretSource}; audit head every ${server.webhooks.config.auditHeadIntervalMs / 1000} s`,
  );
  if (server.operatorUrl !== null)
    lines.push(`  operator API on TCP: ${server.operatorUrl}  (Authorization: Bearer <operator token>)`);
  if (server.newOperatorToken !== null)
    lines.push(`  operator token (shown once; only its hash is kept): ${server.newOperatorToken}`);
  if (server.demo !== null) {
    const { demo } = server;
    lines.push(
      `  demo trader ${demo.email} / ${demo.password}`,
      `  console ${server.url}/console: ${demo.operators.map((operator) => operator.email).join(", ")} / ${demo.password}`,
      `  demo API key ${demo.apiKey.keyId}`,
      `  demo secret  ${demo.apiKey.secret}`,
      "  connect with ccxt 4.5.73 (node --input-type=module, or an .mjs file):",
      ...demo.ccxtSnippet.split("\n").map((line) => `    ${line}`),
      "    // for watch* over plain ws:// first: await ex.loadHttpProxyAgent();",
      "  or with today's ccxt (4.5.84) through the Binance dialect:",
      ...demo.ccxtBinanceSnippet.split("\n").map((line) => `    ${line}`),
      "  a demo market maker is quoting and trading; --no-demo turns it off",
    );
    const deposits = Object.entries(demo.depositAddresses);
    if (deposits.length > 0)
      lines.push(
        `  demo trader's deposit addresses: ${deposits.map(([currency, address]) => `${currency} ${address}`).join(", ")}`,
        `    (bulwark devnet faucet --chain btc|eth --address A --asset X --amount Y pays one; a deposit and a withdrawal also flow on their own)`,
      );
  }
  lines.push("  Ctrl-C stops cleanly");
  return lines.join("\n");
}

/** The roles of cluster mode (docs/cluster.md); `all` is the embedded exchange in one process. */
const CLUSTER_ROLES = ["all", "core", "gateway", "projector", "custody"] as const;
type ClusterRole = (typeof CLUSTER_ROLES)[number];

function roleOf(cli: Cli): ClusterRole {
  const role = cli.values.role ?? "all";
  if (!(CLUSTER_ROLES as readonly string[]).includes(role))
    throw usageError(`--role must be one of ${CLUSTER_ROLES.join(", ")}, got ${JSON.stringify(role)}`);
  return role as ClusterRole;
}

export async function start(cli: Cli, io: CliIo): Promise<void> {
  const role = roleOf(cli);
  // A cluster role takes its settings from the environment (BULWARK_NATS_URL, BULWARK_CLUSTER_NAME, …).
  if (role === "core") return runCoreRole(io.env);
  if (role === "gateway") return runGatewayRole(io.env);
  if (role === "projector") return runProjectorRole(io.env);
  // Custody's data dir (devnet, keystores, state): BULWARK_DATA_DIR, else --data-dir.
  if (role === "custody") return runCustodyRole({ BULWARK_DATA_DIR: cli.dataDir, ...io.env });
  const server = await startExchangeServer({
    dataDir: cli.dataDir,
    port: portOf(cli, io),
    host: cli.values.host,
    tls: tlsOf(cli),
    demo: !cli.values["no-demo"],
    operatorListen: operatorListenOf(cli),
    devnet: !cli.values["no-devnet"],
    devnetBlockMs: devnetBlockMsOf(cli),
    env: io.env,
    // Under an application-layer flood the lowest classes are shed first (BULWARK_LOAD_SHEDDING=off: never).
    loadShedding: true,
    // Absent: <data-dir>/webhooks.json (src/server/incidents.ts). The secret never comes from argv.
    ...(cli.values.webhook === undefined ? {} : { webhooks: cli.values.webhook.map((url) => ({ url })) }),
  });
  const recovery = recoverySummary(server);
  say(
    cli,
    io,
    {
      event: "started",
      dataDir: cli.dataDir,
      url: server.url,
      host: server.host,
      port: server.port,
      operatorSocket: server.operatorSocket,
      operatorUrl: server.operatorUrl,
      operatorToken: server.newOperatorToken,
      serverKeySource: server.serverKeySource,
      recovery,
      ...coreSummary(server.exchange.internals.core),
      marketDataRestore: server.marketDataRestore,
      coldWallets: coldWallets(server, cli.dataDir),
      devnet:
        server.devnet === null
          ? null
          : {
              chains: server.devnet.chains.map((c) => ({ chain: c.id, name: c.name, height: c.height() })),
              blockIntervalMs: server.devnet.blockIntervalMs,
            },
      demo:
        server.demo === null
          ? null
          : {
              email: server.demo.email,
              password: server.demo.password,
              apiKey: server.demo.apiKey.keyId,
              secret: server.demo.apiKey.secret,
              ccxt: server.demo.ccxtSnippet,
              ccxtBinance: server.demo.ccxtBinanceSnippet,
              consoleOperators: server.demo.operators,
            },
    },
    startedText(server, cli.dataDir, recovery),
  );
  await waitForStopSignal();
  await server.close();
  say(
    cli,
    io,
    { event: "stopped", lastSequence: server.exchange.status().lastSequence },
    "Stopped; journal flushed, candles saved.",
  );
}

function waitForStopSignal(): Promise<void> {
  return new Promise((resolveStop) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolveStop();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

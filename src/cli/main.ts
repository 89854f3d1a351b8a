// The `bulwark` command. Every command takes --data-dir (default ./data) and --json (one JSON
// object on stdout; on failure {"ok":false,"error":{kind,message}} and exit code 1).
//
// Commands that change state open the exchange on the data dir themselves, so they need the
// data dir's lock: while a server runs on it they refuse and point at the operator API, which
// has the same powers (see src/operator/).

import { userInfo } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadServerKey } from "../accounts/server-key.ts";
import type { Core } from "../core/core.ts";
import { Exchange } from "../exchange/exchange.ts";
import { OperatorActions, OperatorError } from "../operator/actions.ts";
import { rotateOperatorToken } from "../operator/token.ts";
import { startEmbeddedCore } from "../runtime/embedded.ts";
import { ensurePrivateDataDir } from "../server/data-dir.ts";
import { acquireDataDirLock, DataDirBusyError } from "../server/data-dir-lock.ts";
import { ensureDefaultMarkets } from "../server/default-markets.ts";
import { DEFAULT_PORT, type ExchangeServer, startExchangeServer } from "../server/server.ts";

const USAGE = `usage: bulwark <command> [options] [--data-dir DIR] [--json]

  start [--port N] [--host H] [--tls-cert FILE --tls-key FILE] [--no-demo]
        run the exchange: EXMO REST/WS API and operator API on one port (default 8080, or
        BULWARK_PORT), demo trader and market maker unless --no-demo; Ctrl-C stops cleanly
  verify                       recover, check every invariant, print last sequence and state hash
  user create --email E --password P
  user freeze|unfreeze --email E
  key create --email E --scopes info,trade[,withdraw] [--ip CIDR]...   prints key and secret
  key revoke --key K
  balance adjust --email E --asset A --amount X --reason R   debit: --amount=-X
  asset add --code C --scale N
  asset list
  market add --base B --quote Q --tick T --lot L --min-price P --max-price P --min-qty Q
             --max-qty Q --min-notional N --max-notional N --maker-fee PCT --taker-fee PCT
  market list
  market suspend|resume --symbol S
  audit verify                 walk the hash-chained audit log
  operator-token rotate        new operator API token (old one stops working at next start)
  help`;

const OPTIONS = {
  "data-dir": { type: "string", default: "data" },
  json: { type: "boolean", default: false },
  port: { type: "string" },
  host: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "no-demo": { type: "boolean", default: false },
  email: { type: "string" },
  password: { type: "string" },
  scopes: { type: "string" },
  ip: { type: "string", multiple: true },
  key: { type: "string" },
  asset: { type: "string" },
  amount: { type: "string" },
  reason: { type: "string" },
  code: { type: "string" },
  scale: { type: "string" },
  symbol: { type: "string" },
  base: { type: "string" },
  quote: { type: "string" },
  tick: { type: "string" },
  lot: { type: "string" },
  "min-price": { type: "string" },
  "max-price": { type: "string" },
  "min-qty": { type: "string" },
  "max-qty": { type: "string" },
  "min-notional": { type: "string" },
  "max-notional": { type: "string" },
  "maker-fee": { type: "string" },
  "taker-fee": { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

interface Cli {
  command: string;
  dataDir: string;
  json: boolean;
  values: Values;
}

/** A usage mistake: exit code 2 and the usage text. */
class UsageError extends Error {}

function parseCli(argv: string[]): Cli {
  let parsed: { positionals: string[]; values: Values };
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { positionals, values } = parsed;
  if (positionals.length > 2) throw new UsageError(`unexpected arguments: ${positionals.slice(2).join(" ")}`);
  return {
    command: positionals.join(" ") || "help",
    dataDir: resolve(values["data-dir"]),
    json: values.json,
    values,
  };
}

function required(cli: Cli, name: keyof Values): string {
  const value = cli.values[name];
  if (typeof value !== "string" || value === "")
    throw new UsageError(`--${name} is required for "${cli.command}"`);
  return value;
}

function say(cli: Cli, fields: object, text: string): void {
  console.log(cli.json ? JSON.stringify({ ok: true, ...fields }) : text);
}

function actor(): string {
  return `operator:cli@${userInfo().username}`;
}

/** Opens the exchange under the data dir's lock, runs `work`, and closes everything again. */
async function withActions<T>(cli: Cli, work: (actions: OperatorActions) => Promise<T>): Promise<T> {
  ensurePrivateDataDir(cli.dataDir);
  const lock = acquireDataDirLock(cli.dataDir, `cli ${cli.command}`);
  try {
    const { secretBox } = loadServerKey(cli.dataDir);
    const databaseUrl = process.env.DATABASE_URL === "" ? undefined : process.env.DATABASE_URL;
    const exchange = await Exchange.open({ dataDir: cli.dataDir, databaseUrl });
    try {
      await ensureDefaultMarkets(exchange);
      return await work(new OperatorActions(exchange, secretBox));
    } finally {
      await exchange.close();
    }
  } finally {
    lock.release();
  }
}

// ---- start ---------------------------------------------------------------------------------------

function portOf(cli: Cli): number {
  const text = cli.values.port ?? process.env.BULWARK_PORT ?? String(DEFAULT_PORT);
  const port = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || port > 65_535)
    throw new UsageError(`port must be 0..65535, got "${text}"`);
  return port;
}

function tlsOf(cli: Cli): { certPath: string; keyPath: string } | undefined {
  const cert = cli.values["tls-cert"];
  const key = cli.values["tls-key"];
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError("--tls-cert and --tls-key go together");
  return { certPath: resolve(cert), keyPath: resolve(key) };
}

function startedText(server: ExchangeServer, dataDir: string): string {
  const lines = [
    `Bulwark listening on ${server.url}  (data dir ${dataDir})`,
    `  ${server.listenNote}`,
    `  EXMO REST: ${server.url}/v1.1/…  WebSocket: ${server.url.replace(/^http/, "ws")}/v1/public, /v1/private`,
    `  API docs: ${server.url}/docs  health: ${server.url}/health`,
    `  operator API: ${server.operatorUrl}  (Authorization: Bearer <operator token>)`,
  ];
  if (server.newOperatorToken !== null)
    lines.push(`  operator token (shown once; only its hash is kept): ${server.newOperatorToken}`);
  if (server.demo !== null) {
    const { demo } = server;
    lines.push(
      `  demo trader ${demo.email} / ${demo.password}`,
      `  demo API key ${demo.apiKey.keyId}`,
      `  demo secret  ${demo.apiKey.secret}`,
      "  connect with ccxt 4.5.73 (node --input-type=module, or an .mjs file):",
      ...demo.ccxtSnippet.split("\n").map((line) => `    ${line}`),
      "    // for watch* over plain ws:// first: await ex.loadHttpProxyAgent();",
      "  a demo market maker is quoting and trading; --no-demo turns it off",
    );
  }
  lines.push("  Ctrl-C stops cleanly");
  return lines.join("\n");
}

async function start(cli: Cli): Promise<void> {
  const server = await startExchangeServer({
    dataDir: cli.dataDir,
    port: portOf(cli),
    host: cli.values.host,
    tls: tlsOf(cli),
    demo: !cli.values["no-demo"],
  });
  say(
    cli,
    {
      event: "started",
      dataDir: cli.dataDir,
      url: server.url,
      host: server.host,
      port: server.port,
      operatorUrl: server.operatorUrl,
      operatorToken: server.newOperatorToken,
      serverKeySource: server.serverKeySource,
      ...stateSummary(server.exchange.internals.core),
      marketDataRestore: server.marketDataRestore,
      demo:
        server.demo === null
          ? null
          : {
              email: server.demo.email,
              password: server.demo.password,
              apiKey: server.demo.apiKey.keyId,
              secret: server.demo.apiKey.secret,
              ccxt: server.demo.ccxtSnippet,
            },
    },
    startedText(server, cli.dataDir),
  );
  await waitForStopSignal();
  await server.close();
  say(
    cli,
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

// ---- verify ----------------------------------------------------------------------------------------

interface StateSummary {
  lastSequence: number;
  assets: string[];
  markets: string[];
  restingOrders: number;
}

function stateSummary(core: Core): StateSummary {
  return {
    lastSequence: core.lastSequence,
    assets: core.assetList().map((asset) => asset.code),
    markets: core.marketList().map((market) => market.symbol),
    restingOrders: core.restingOrderCount,
  };
}

async function verify(cli: Cli): Promise<void> {
  ensurePrivateDataDir(cli.dataDir);
  const lock = acquireDataDirLock(cli.dataDir, "cli verify");
  try {
    const embedded = await startEmbeddedCore({ dataDir: cli.dataDir });
    try {
      embedded.core.checkInvariants();
      const fields = {
        ...stateSummary(embedded.core),
        stateHash: embedded.core.stateHash(),
        invariants: "ok",
      };
      say(
        cli,
        fields,
        `last sequence ${fields.lastSequence}, ${fields.restingOrders} resting orders, invariants ok\nstate hash ${fields.stateHash}`,
      );
    } finally {
      await embedded.close();
    }
  } finally {
    lock.release();
  }
}

// ---- operator commands -------------------------------------------------------------------------

function table(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return "(none)";
  const keys = Object.keys(rows[0]);
  const widths = keys.map((key) => Math.max(key.length, ...rows.map((row) => String(row[key]).length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(keys), ...rows.map((row) => line(keys.map((key) => String(row[key]))))].join("\n");
}

async function operatorCommand(cli: Cli): Promise<boolean> {
  switch (cli.command) {
    case "user create": {
      const input = { email: required(cli, "email"), password: required(cli, "password") };
      const user = await withActions(cli, (actions) => actions.createUser(actor(), input));
      say(cli, user, `created user ${user.userId} ${user.email}`);
      return true;
    }
    case "user freeze":
    case "user unfreeze": {
      const input = {
        email: required(cli, "email"),
        status: cli.command === "user freeze" ? "frozen" : "active",
      } as const;
      const result = await withActions(cli, (actions) => actions.setUserStatus(actor(), input));
      say(cli, result, `user ${result.userId} is ${result.status}`);
      return true;
    }
    case "key create": {
      const input = {
        email: required(cli, "email"),
        scopes: required(cli, "scopes"),
        ipAllowList: cli.values.ip ?? [],
      };
      const key = await withActions(cli, (actions) => actions.createApiKey(actor(), input));
      say(
        cli,
        key,
        `key    ${key.keyId}\nsecret ${key.secret}\nscopes ${key.scopes}  (the secret is shown only now)`,
      );
      return true;
    }
    case "key revoke": {
      const input = { keyId: required(cli, "key") };
      const result = await withActions(cli, (actions) => actions.revokeApiKey(actor(), input));
      say(cli, result, `revoked ${result.keyId}`);
      return true;
    }
    case "balance adjust": {
      const input = {
        email: required(cli, "email"),
        asset: required(cli, "asset"),
        amount: required(cli, "amount"),
        reason: required(cli, "reason"),
      };
      const result = await withActions(cli, (actions) => actions.adjustBalance(actor(), input));
      say(
        cli,
        result,
        `${result.amount} ${result.asset} → user ${result.userId}: available ${result.available}, held ${result.held}`,
      );
      return true;
    }
    case "asset add": {
      const scaleText = required(cli, "scale");
      if (!/^[0-9]{1,2}$/.test(scaleText))
        throw new OperatorError("invalid", `--scale must be 0..18, got "${scaleText}"`);
      const input = { code: required(cli, "code"), scale: Number(scaleText) };
      const asset = await withActions(cli, (actions) => actions.addAsset(actor(), input));
      say(cli, asset, `added asset ${asset.code} (id ${asset.assetId}, ${asset.scale} decimals)`);
      return true;
    }
    case "asset list": {
      const assets = await withActions(cli, async (actions) => actions.listAssets());
      say(cli, { assets }, table(assets.map((asset) => ({ ...asset }))));
      return true;
    }
    case "market add": {
      const spec = {
        base: required(cli, "base"),
        quote: required(cli, "quote"),
        tick: required(cli, "tick"),
        lot: required(cli, "lot"),
        minPrice: required(cli, "min-price"),
        maxPrice: required(cli, "max-price"),
        minQuantity: required(cli, "min-qty"),
        maxQuantity: required(cli, "max-qty"),
        minNotional: required(cli, "min-notional"),
        maxNotional: required(cli, "max-notional"),
        makerFeePercent: required(cli, "maker-fee"),
        takerFeePercent: required(cli, "taker-fee"),
      };
      const market = await withActions(cli, (actions) => actions.addMarket(actor(), spec));
      say(
        cli,
        market,
        `added market ${market.symbol} (id ${market.marketId}): tick ${market.tick}, lot ${market.lot}`,
      );
      return true;
    }
    case "market list": {
      const markets = await withActions(cli, (actions) => actions.listMarkets());
      const rows = markets.map(
        ({ symbol, status, tick, lot, minNotional, makerFeePercent, takerFeePercent }) => ({
          symbol,
          status,
          tick,
          lot,
          minNotional,
          makerFeePercent,
          takerFeePercent,
        }),
      );
      say(cli, { markets }, table(rows));
      return true;
    }
    case "market suspend":
    case "market resume": {
      const input = {
        symbol: required(cli, "symbol"),
        status: cli.command === "market suspend" ? "suspended" : "active",
      } as const;
      const result = await withActions(cli, (actions) => actions.setMarketStatus(actor(), input));
      say(cli, result, `${result.symbol} is ${result.status}`);
      return true;
    }
    case "audit verify": {
      const result = await withActions(cli, (actions) => actions.verifyAudit());
      if (!result.ok) throw new OperatorError("rejected", `audit log broken: ${result.problem}`);
      say(cli, result, `audit log ok: ${result.checkedRows} rows, head ${result.head?.hash ?? "(empty)"}`);
      return true;
    }
    case "operator-token rotate": {
      ensurePrivateDataDir(cli.dataDir);
      const lock = acquireDataDirLock(cli.dataDir, "cli operator-token rotate");
      try {
        const token = rotateOperatorToken(cli.dataDir);
        say(cli, { operatorToken: token }, `new operator token (shown once): ${token}`);
      } finally {
        lock.release();
      }
      return true;
    }
    default:
      return false;
  }
}

async function main(argv: string[]): Promise<void> {
  const cli = parseCli(argv);
  if (cli.command === "start") return start(cli);
  if (cli.command === "verify") return verify(cli);
  if (cli.command === "help") {
    console.log(USAGE);
    return;
  }
  if (!(await operatorCommand(cli))) throw new UsageError(`unknown command "${cli.command}"`);
}

function errorKind(error: unknown): string {
  if (error instanceof OperatorError) return error.kind;
  if (error instanceof DataDirBusyError) return "busy";
  if (error instanceof UsageError) return "usage";
  return "failed";
}

const argv = process.argv.slice(2);
main(argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  const kind = errorKind(error);
  if (argv.includes("--json")) console.log(JSON.stringify({ ok: false, error: { kind, message } }));
  else console.error(kind === "usage" ? `${message}\n\n${USAGE}` : `error: ${message}`);
  process.exitCode = kind === "usage" ? 2 : 1;
});

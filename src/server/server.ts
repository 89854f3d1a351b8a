// `bulwark start` as a library: everything one embedded exchange process runs, composed in the
// order that keeps data safe, and torn down in the reverse order.
//
// start: data dir owner-only (0700, else refused) → lock it → server key → Exchange.open (journal
// + store recovery) → devnet chains opened and mining (unless devnet: false) → demo mode refused on a data dir with non-demo users → default
// assets and markets on a fresh exchange → market data rebuilt (trades, ticker, candles) → HTTP
// (EXMO REST gateway) → operator API (the data dir's Unix socket, and a TCP listener only when
// asked for: operator-listeners.ts) → demo accounts and market maker.
// close: demo maker → operator API → HTTP → devnet (mining stopped, state saved) → candles saved → exchange (sequencer drained, journal flushed,
// projector written, store closed) → lock released.

import { readFileSync } from "node:fs";
import pino from "pino";
import { DEFAULT_SCRYPT_PARAMS, type ScryptParams, scryptParamsProblem } from "../accounts/passwords.ts";
import { loadServerKey } from "../accounts/server-key.ts";
import { DEMO_ADDRESS_ACTIVATION_DELAY_MS } from "../custody/config.ts";
import type { CustodyService } from "../custody/custody-service.ts";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import { Exchange } from "../exchange/exchange.ts";
import type { MarketDataRestoreReport } from "../exchange/market-data-persistence.ts";
import { BinanceUserData } from "../gateway/binance/user-data/sockets.ts";
import { guardOptionsFromEnv } from "../gateway/guard/env-options.ts";
import type { RateLimitOptions } from "../gateway/guard/rate-limit.ts";
import { createGateway } from "../gateway/http/server.ts";
import { attachWebSocket } from "../gateway/ws/server.ts";
import type { IncidentService } from "../incidents/incident-service.ts";
import type { IncidentPort } from "../incidents/port.ts";
import type { WebhookAlerter } from "../incidents/webhooks.ts";
import { OperatorActions } from "../operator/actions.ts";
import { CONSOLE_PREFIX, consoleApi } from "../operator/console/console-api.ts";
import { loadOperatorToken, type OperatorToken } from "../operator/token.ts";
import { verifyCore } from "./core-report.ts";
import {
  embeddedCustody,
  readChainPublicKeys,
  readColdAddress,
  serverCustodyConfigs,
  signerCapsOf,
} from "./custody.ts";
import { DataDirModeError, ensurePrivateDataDir } from "./data-dir.ts";
import { acquireDataDirLock, DataDirBusyError, type DataDirLock } from "./data-dir-lock.ts";
import { ensureDefaultMarkets } from "./default-markets.ts";
import { ensureDemoColdWallets } from "./demo/cold-wallet.ts";
import { DemoWalletActivity, fundByDeposits } from "./demo/custody-demo.ts";
import {
  ccxtBinanceSnippet,
  ccxtSnippet,
  DEMO_ACTOR,
  DEMO_LIQUIDITY_FUNDING,
  DEMO_MAKER_EMAIL,
  DEMO_TAKER_EMAIL,
  DEMO_TRADER_EMAIL,
  DEMO_TRADER_FUNDING,
  DEMO_TRADER_PASSWORD,
  type DemoApiKey,
  demoApiKey,
  ensureFundedUser,
  randomPassword,
  refuseDemoOnNonDemoUsers,
} from "./demo/demo-accounts.ts";
import { type DemoOperator, ensureDemoOperators } from "./demo/demo-operators.ts";
import { fundDemoInsurance } from "./demo/insurance-demo.ts";
import { DemoMarketMaker } from "./demo/market-maker.ts";
import { DEFAULT_DEVNET_BLOCK_MS, DevnetChains } from "./devnet.ts";
import {
  auditWithdrawalSteps,
  startIncidents,
  type WebhookConfig,
  type WebhookOptions,
} from "./incidents.ts";
import { seedLegacyNonces } from "./legacy-nonces.ts";
import { listenOperatorApi, OPERATOR_LISTEN_ENV, parseOperatorListen } from "./operator-listeners.ts";
import { ReservesPublisher } from "./reserves.ts";
import { ensureDemoWalletsIsolated, loadOrCreatePolicyKey, SignerSupervisor } from "./signers.ts";
import { WalletRotationService } from "./wallet-rotation.ts";

export { DataDirBusyError, DataDirModeError };

export const DEFAULT_PORT = 8080;
/** This machine only: the demo account's password is published and its key printed. */
export const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_DEMO_SEED = 20_240_601;

/** Webhooks (alerts: incidents, notices, the audit head) are configured as src/server/incidents.ts says. */
export interface ExchangeServerOptions extends WebhookOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Paths of PEM files: serve HTTPS/WSS. */
  tls?: { certPath: string; keyPath: string };
  demo?: boolean;
  demoSeed?: number;
  demoTickIntervalMs?: number;
  candleSaveIntervalMs?: number;
  /** Environment for BULWARK_SERVER_KEY, BULWARK_OPERATOR_TOKEN and DATABASE_URL; default process.env. */
  env?: NodeJS.ProcessEnv;
  logger?: pino.Logger;
  clock?: () => number;
  /** The REST gateway's per-address / per-key limit (GatewayOptions.rateLimit); default EXMO's 10 req/s. */
  rateLimit?: RateLimitOptions | false;
  /**
   * Load shedding by priority class (src/gateway/guard/load-shedder.ts) unless BULWARK_LOAD_SHEDDING
   * says otherwise; default off here, on for `bulwark start` (src/cli/start.ts).
   */
  loadShedding?: boolean;
  /**
   * "HOST:PORT": also serve the operator API on TCP there (bearer token); else env
   * BULWARK_OPERATOR_LISTEN; else only on the data dir's Unix socket.
   */
  operatorListen?: string;
  /** Run the simulated chains under <data-dir>/devnet/ (default true; `start --no-devnet` turns them off). */
  devnet?: boolean;
  /** Milliseconds between devnet blocks; default DEFAULT_DEVNET_BLOCK_MS, 0 = only on demand. */
  devnetBlockMs?: number;
  /** Custody's step interval (deposits, withdrawals, sweeps); default 1 s. */
  custodyTickMs?: number;
  /**
   * Production mode: resuming a chain's breaker needs two distinct approvers (default false; a
   * demo data dir is never in production mode).
   */
  productionMode?: boolean;
  /** The demo's own deposit/withdrawal every this many ms; 0 turns it off. */
  demoWalletIntervalMs?: number;
  /**
   * The operator console's API on the public port, /api/v1/console (src/operator/console/):
   * operator logins with roles; default true.
   */
  console?: boolean;
  /**
   * Milliseconds a new withdrawal address waits before it is usable: default 24 h, in demo mode
   * DEMO_ADDRESS_ACTIVATION_DELAY_MS (browser tests pass 0 or 1000 to withdraw at once).
   */
  addressActivationDelayMs?: number;
  /** Milliseconds withdrawals wait after a 2FA or password change: default 24 h, in demo mode the same as the address delay. */
  securityChangeLockMs?: number;
  /**
   * scrypt cost of the passwords this server hashes (sign-ups, users and console operators it
   * creates, the demo's, the logins' timing dummies); default the production cost, tests lower it.
   * An option only, never the environment: a production server must not be weakened by its env.
   */
  passwordScrypt?: ScryptParams;
}

export interface DemoInfo {
  email: string;
  password: string;
  apiKey: DemoApiKey;
  ccxtSnippet: string;
  /** The same for today's ccxt through the Binance dialect. */
  ccxtBinanceSnippet: string;
  maker: DemoMarketMaker;
  /** The demo's own deposits and withdrawals (null without custody). */
  wallet: DemoWalletActivity | null;
  /** The demo trader's deposit address per currency (empty without custody). */
  depositAddresses: Record<string, string>;
  /** Console operators, one per role; their password is `password`'s. */
  operators: readonly DemoOperator[];
}

export interface ExchangeServer {
  exchange: Exchange;
  /** http(s)://host:port as a client on this machine reaches it. */
  url: string;
  /** The address it listens on (DEFAULT_HOST unless options.host). */
  host: string;
  port: number;
  /** One line for the start banner: where it listens and who can reach it. */
  listenNote: string;
  /** The operator API's Unix socket (<data-dir>/operator.sock): the CLI's way in, no token. */
  operatorSocket: string;
  /** The operator API on TCP (bearer token), only when options.operatorListen asked for it. */
  operatorUrl: string | null;
  /** Milliseconds Exchange.open took: store, journal, recovery and replay, market data rebuilt. */
  openMs: number;
  /** The operator token in clear, only when it was generated by this start (shown once). */
  newOperatorToken: string | null;
  operatorTokenSource: OperatorToken["source"];
  serverKeySource: "env" | "file" | "generated";
  marketDataRestore: MarketDataRestoreReport;
  defaultCommandsAdded: number;
  demo: DemoInfo | null;
  /** The simulated chains, or null when started with devnet: false. */
  devnet: DevnetChains | null;
  /** Custody over the devnet chains (null with devnet: false). */
  custody: CustodyService | null;
  /** The signer child processes, one per chain whose wallet is initialised. */
  signers: SignerSupervisor | null;
  /** Incidents, notices (WebSocket, status page, webhooks) and the audit head's shipping. */
  incidents: IncidentService;
  /** Proof of reserves: publications, users' proofs (src/server/reserves.ts). */
  reserves: ReservesPublisher;
  /** The webhooks' alerter and where its configuration came from; null when none is configured. */
  webhooks: { alerter: WebhookAlerter; config: WebhookConfig } | null;
  close(): Promise<void>;
}

function readTls(tls: ExchangeServerOptions["tls"]): { cert: Buffer; key: Buffer } | undefined {
  if (tls === undefined) return undefined;
  return { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) };
}

function listenNote(host: string, port: number): string {
  const loopback = host === "127.0.0.1" || host === "::1" || host === "localhost";
  if (loopback)
    return `listening on ${host}:${port}, this machine only; --host 0.0.0.0 opens it to the network`;
  return `listening on ${host}:${port}: reachable from the network (--host 127.0.0.1 keeps it on this machine)`;
}

async function setUpDemo(
  exchange: Exchange,
  actions: OperatorActions,
  loaded: ReturnType<typeof loadServerKey>,
  url: string,
  options: ExchangeServerOptions,
  logger: pino.Logger,
  custody: CustodyService | null,
  devnet: DevnetChains | null,
): Promise<DemoInfo> {
  // BTC and ETH arrive by deposits on the devnet chains when custody runs; the rest by adjustment.
  const fund = async (email: string, password: string, funding: Readonly<Record<string, string>>) => {
    const existing = await exchange.accounts.userByEmail(email);
    const userId = existing?.userId ?? (await actions.createUser(DEMO_ACTOR, { email, password })).userId;
    const byDeposit =
      custody === null || devnet === null
        ? new Set<string>()
        : await fundByDeposits(exchange, custody, devnet, userId, funding);
    const rest = Object.fromEntries(Object.entries(funding).filter(([code]) => !byDeposit.has(code)));
    await ensureFundedUser(exchange, actions, email, password, rest);
    return userId;
  };
  const traderId = await fund(DEMO_TRADER_EMAIL, DEMO_TRADER_PASSWORD, DEMO_TRADER_FUNDING);
  const makerUserId = await fund(DEMO_MAKER_EMAIL, randomPassword(), DEMO_LIQUIDITY_FUNDING);
  const takerUserId = await ensureFundedUser(
    exchange,
    actions,
    DEMO_TAKER_EMAIL,
    randomPassword(),
    DEMO_LIQUIDITY_FUNDING,
  );
  // The insurance fund, once: operator coins to the cold wallet on chain, then on the books.
  if (custody !== null && devnet !== null)
    for (const funded of await fundDemoInsurance(exchange, actions, custody, devnet, DEMO_ACTOR))
      logger.info(funded, "demo insurance fund");
  const apiKey = await demoApiKey(exchange, actions, loaded.secretBox, traderId);
  const maker = new DemoMarketMaker(exchange, {
    makerUserId,
    takerUserId,
    seed: options.demoSeed ?? DEFAULT_DEMO_SEED,
    tickIntervalMs: options.demoTickIntervalMs,
    onError: (error) => logger.warn({ err: error }, "demo market maker tick failed"),
  });
  maker.start();
  let wallet: DemoWalletActivity | null = null;
  if (custody !== null && devnet !== null && options.demoWalletIntervalMs !== 0) {
    wallet = new DemoWalletActivity({
      exchange,
      custody,
      devnet,
      traderId,
      ...(options.demoWalletIntervalMs === undefined ? {} : { intervalMs: options.demoWalletIntervalMs }),
      onError: (error) => logger.info({ err: error }, "demo wallet step"),
    });
    await wallet.prepare();
    wallet.start();
  }
  const depositAddresses: Record<string, string> = {};
  if (custody !== null)
    for (const terms of custody.terms())
      if (terms.depositEnabled)
        depositAddresses[terms.currency] = (await custody.depositAddress(traderId, terms.currency)).address;
  const operators = await ensureDemoOperators(actions);
  return {
    wallet,
    depositAddresses,
    operators,
    email: DEMO_TRADER_EMAIL,
    password: DEMO_TRADER_PASSWORD,
    apiKey,
    ccxtSnippet: ccxtSnippet(url, apiKey),
    ccxtBinanceSnippet: ccxtBinanceSnippet(url, apiKey),
    maker,
  };
}

export async function startExchangeServer(options: ExchangeServerOptions): Promise<ExchangeServer> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? pino({ level: env.BULWARK_LOG_LEVEL ?? "warn" });
  const clock = options.clock ?? Date.now;
  const passwordScrypt = options.passwordScrypt ?? DEFAULT_SCRYPT_PARAMS;
  const scryptProblem = scryptParamsProblem(passwordScrypt);
  if (scryptProblem !== null)
    throw new RangeError(`passwordScrypt out of bounds (SCRYPT_LIMITS): ${scryptProblem}`);
  ensurePrivateDataDir(options.dataDir);
  const lock: DataDirLock = acquireDataDirLock(options.dataDir, "server");
  const cleanups: Array<() => Promise<void> | void> = [() => lock.release()];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const serverKey = loadServerKey(options.dataDir, env);
    const operatorToken = loadOperatorToken(options.dataDir, env);
    const databaseUrl =
      env.DATABASE_URL === undefined || env.DATABASE_URL === "" ? undefined : env.DATABASE_URL;
    const operatorListenText = options.operatorListen ?? env[OPERATOR_LISTEN_ENV];
    const operatorListen =
      operatorListenText === undefined || operatorListenText === ""
        ? undefined
        : parseOperatorListen(operatorListenText);
    const openStartedMs = performance.now();
    const demoMode = options.demo ?? true;
    const exchange = await Exchange.open({
      dataDir: options.dataDir,
      databaseUrl,
      clock,
      accounts: {
        secretBox: serverKey.secretBox,
        ...accountDelays(options, demoMode),
      },
      onBackgroundError: (what, error) => logger.error({ err: error }, what),
      ...(options.candleSaveIntervalMs === undefined
        ? {}
        : { candleSaveIntervalMs: options.candleSaveIntervalMs }),
    });
    const openMs = Math.round(performance.now() - openStartedMs);
    cleanups.push(() => exchange.close());
    // Before anything is funded or listens: demo mode mints money and trades on its own.
    if (options.demo ?? true) await refuseDemoOnNonDemoUsers(exchange, options.dataDir);
    const marketDataRestore = exchange.marketDataRestore;
    const defaultCommandsAdded = await ensureDefaultMarkets(exchange);
    const legacyNoncesSeeded = await seedLegacyNonces(exchange);
    if (legacyNoncesSeeded > 0)
      logger.info({ keys: legacyNoncesSeeded }, "API nonces moved from the store into the core's journal");
    // Before custody: its breaker opens incidents from its first tick.
    const incidents = await startIncidents({
      dataDir: options.dataDir,
      env,
      exchange,
      options,
      productionMode: options.productionMode === true && !demoMode,
      clock,
      log: (what, detail) => logger.warn(detail, what),
    });
    cleanups.push(() => incidents.stop());

    let devnet: DevnetChains | null = null;
    if (options.devnet ?? true) {
      const chains = DevnetChains.open({
        dataDir: options.dataDir,
        blockIntervalMs: options.devnetBlockMs ?? DEFAULT_DEVNET_BLOCK_MS,
      });
      devnet = chains;
      cleanups.push(() => chains.close());
      chains.start((chain, error) => logger.error({ err: error, chain }, "devnet block failed"));
    }

    let custody: CustodyService | null = null;
    let signers: SignerSupervisor | null = null;
    let walletRotation: WalletRotationService | null = null;
    if (devnet !== null) {
      const started = await startCustody(options, env, exchange, devnet, demoMode, logger, incidents.service);
      custody = started.custody;
      signers = started.signers;
      walletRotation = started.walletRotation;
      const stopCustody = started.custody;
      const stopSigners = started.signers;
      cleanups.push(() => stopSigners?.stop());
      cleanups.push(() => stopCustody.stop());
    }

    const actions = new OperatorActions(
      exchange,
      serverKey.secretBox,
      clock,
      devnet,
      custody,
      passwordScrypt,
    );
    actions.setWalletRotation(walletRotation);
    actions.setIncidents(incidents.service);
    // Proof of reserves: liabilities from the core, the on-chain figure from custody (src/server/reserves.ts).
    const reserves = new ReservesPublisher({
      dataDir: options.dataDir,
      exchange,
      custody: () => custody,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    actions.setReservesPublisher(reserves);
    const host = options.host ?? DEFAULT_HOST;
    const tls = readTls(options.tls);
    const gateway = createGateway(exchange, {
      secretBox: serverKey.secretBox,
      logger,
      tls,
      port: options.port ?? DEFAULT_PORT,
      host,
      // Rate limits (Redis, tiers), trusted proxies and load shedding: options, then BULWARK_* env.
      ...guardOptionsFromEnv(env, options),
      custody,
      incidents: incidents.service,
      reserves,
      // The session's address book checks currencies and addresses as the operator's does.
      session: { addressRules: actions.addressRules, passwordScrypt },
      // The WebSocket gateway attaches to this server just below.
      webSocketConnections: () => webSocket.connectionCount,
    });
    // Degraded mode and bans, for `bulwark guard …` and the operator API.
    actions.setGuardControl(gateway.guardControl);
    const webSocket = attachWebSocket(gateway.server, exchange, {
      secretBox: serverKey.secretBox,
      logger,
      clock,
      notices: incidents.service,
      guardControl: gateway.guardControl,
      // Forwarded client addresses from trusted proxies, as REST counts them.
      clientAddress: gateway.clientAddress,
      // Binance user data streams (/ws/<listenKey>, /ws-api/v3); closed with the WebSocket gateway.
      binanceUserData: new BinanceUserData(exchange, { secretBox: serverKey.secretBox, logger, clock }),
    });
    cleanups.push(() => gateway.close());
    cleanups.push(() => webSocket.close());
    // The operator console on the public port: its own logins, roles and CSRF in front of the
    // operator routes (src/operator/console/console-api.ts).
    if (options.console ?? true)
      await gateway.fastify.register(consoleApi, {
        prefix: CONSOLE_PREFIX,
        actions,
        exchange,
        secure: tls !== undefined,
        clock,
        passwordScrypt,
        verifyCore: () => verifyCore(exchange.internals.core),
      });
    const { port } = await gateway.listen();
    const scheme = options.tls === undefined ? "http" : "https";
    const localHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
    const url = `${scheme}://${localHost}:${port}`;
    const operator = await listenOperatorApi({
      dataDir: options.dataDir,
      actions,
      token: operatorToken,
      verifyCore: () => verifyCore(exchange.internals.core),
      ...(operatorListen === undefined ? {} : { listen: operatorListen }),
      ...(tls === undefined ? {} : { tls }),
    });
    cleanups.push(() => operator.close());
    lock.update({
      operatorSocket: operator.socketPath,
      ...(operator.url === null ? {} : { operatorUrl: operator.url }),
    });

    let demo: DemoInfo | null = null;
    if (demoMode) {
      demo = await setUpDemo(exchange, actions, serverKey, url, options, logger, custody, devnet);
      const maker = demo.maker;
      cleanups.push(() => maker.stop());
      const wallet = demo.wallet;
      if (wallet !== null) cleanups.push(() => wallet.stop());
    }
    return {
      exchange,
      url,
      host,
      port,
      listenNote: listenNote(host, port),
      operatorSocket: operator.socketPath,
      operatorUrl: operator.url,
      openMs,
      newOperatorToken: operatorToken.generated,
      operatorTokenSource: operatorToken.source,
      serverKeySource: serverKey.source,
      marketDataRestore,
      defaultCommandsAdded,
      demo,
      devnet,
      custody,
      signers,
      incidents: incidents.service,
      reserves,
      webhooks:
        incidents.alerter === null || incidents.webhooks === null
          ? null
          : { alerter: incidents.alerter, config: incidents.webhooks },
      close: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Env var of the crash drill (tests only): kill -9 this process right after a withdrawal reaches that step. */
export const KILL_AT_WITHDRAWAL_STEP_ENV = "BULWARK_TEST_KILL_AT_WITHDRAWAL_STEP";

function crashDrillHook(env: NodeJS.ProcessEnv): { onWithdrawalStep?: (id: number, step: string) => void } {
  const target = env[KILL_AT_WITHDRAWAL_STEP_ENV];
  if (target === undefined || target === "") return {};
  return {
    onWithdrawalStep: (_id, step) => {
      if (step === target) process.kill(process.pid, "SIGKILL");
    },
  };
}

/**
 * Custody on the devnet chains: the demo initialises its wallets (with a demo-only passphrase);
 * otherwise the operator ran `bulwark wallet init` and gives BULWARK_SIGNER_PASSPHRASE. Signers
 * start for the chains with a wallet; custody runs either way (chains without one answer
 * walletNotAvailable). Also the cluster's custody role (src/cluster/custody-main.ts), over
 * its ClusterExchange, on the chains it serves and without an incident service.
 */
export async function startCustody(
  options: Pick<ExchangeServerOptions, "dataDir" | "custodyTickMs" | "productionMode" | "clock">,
  env: NodeJS.ProcessEnv,
  exchange: ExchangeBoundary,
  devnet: Pick<DevnetChains, "chains">,
  demoMode: boolean,
  logger: pino.Logger,
  incidents: IncidentPort | undefined,
): Promise<{
  custody: CustodyService;
  signers: SignerSupervisor | null;
  walletRotation: WalletRotationService;
}> {
  const policy = loadOrCreatePolicyKey(options.dataDir);
  // The demo's wallets are made by signer `init` children: no seed is ever in this process's memory.
  const demoPassphrase = demoMode
    ? (await ensureDemoWalletsIsolated(options.dataDir, Buffer.from(policy.publicKey).toString("hex")))
        .passphrase
    : undefined;
  // The demo's cold wallet, made by a keygen child beside the data dir: custody keeps only the hot
  // cap hot and sweeps the rest there (src/server/demo/cold-wallet.ts).
  if (demoPassphrase !== undefined)
    await ensureDemoColdWallets(
      options.dataDir,
      demoPassphrase,
      devnet.chains.map((handle) => handle.chain),
    );
  const passphrase = env.BULWARK_SIGNER_PASSPHRASE ?? demoPassphrase;
  const ready = devnet.chains.filter(
    (handle) => readChainPublicKeys(options.dataDir, handle.chain.chain) !== null,
  );
  let signers: SignerSupervisor | null = null;
  const sockets = new Map<string, string>();
  // Computed once: the signers' caps and custody's largest withdrawal come from the same figures.
  const { configs, warnings } = serverCustodyConfigs(exchange);
  for (const warning of warnings) logger.warn(warning);
  if (ready.length > 0 && passphrase !== undefined && passphrase !== "") {
    signers = await SignerSupervisor.start({
      dataDir: options.dataDir,
      passphrase,
      policyPublicKeyHex: Buffer.from(policy.publicKey).toString("hex"),
      chains: ready.flatMap((handle) => {
        const config = configs.find((entry) => entry.chain === handle.chain.chain);
        if (config === undefined) return [];
        const decimals = new Map(handle.chain.assets.map((asset) => [asset.symbol, asset.decimals]));
        const cold = readColdAddress(options.dataDir, handle.chain.chain);
        return [
          {
            chain: handle.chain.chain,
            caps: signerCapsOf(exchange, config, decimals),
            coldAddresses: cold === null ? [] : [cold],
          },
        ];
      }),
      // Ready and clean exits (at stop) are routine; crashes, restarts and giving up are not.
      onEvent: (event) =>
        event.type === "ready" || (event.type === "exited" && event.code === 0)
          ? logger.info({ signer: event }, "signer process")
          : logger.warn({ signer: event }, "signer process"),
    });
    const running = signers;
    for (const handle of ready) sockets.set(handle.chain.chain, running.socketPath(handle.chain.chain));
  } else if (ready.length > 0) {
    logger.warn(
      "custody: wallets are initialised but BULWARK_SIGNER_PASSPHRASE is not set: no signer runs, withdrawals wait",
    );
  }
  const custody = embeddedCustody({
    dataDir: options.dataDir,
    exchange,
    devnet,
    policySecretKey: policy.secretKey,
    signerSockets: sockets,
    configs,
    ...(options.custodyTickMs === undefined ? {} : { tickMs: options.custodyTickMs }),
    productionMode: options.productionMode === true && !demoMode,
    incidents,
    // The server's clock (tests move it): TOTP steps, the 24 h lock and the limits read it.
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    log: (message) => logger.info(message),
    // Every step a withdrawal reaches is audited (issue 8 §7), then the crash drill's hook runs.
    onWithdrawalStep: auditWithdrawalSteps(
      exchange,
      options.clock ?? Date.now,
      (message) => logger.warn(message),
      crashDrillHook(env).onWithdrawalStep,
    ),
  });
  custody.start();
  // `wallet rotate` on this server: the signers' passphrase stays in memory for it, as for restarts.
  const walletRotation = new WalletRotationService({
    dataDir: options.dataDir,
    passphrase,
    policyPublicKeyHex: Buffer.from(policy.publicKey).toString("hex"),
    custody,
    signers,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return { custody, signers, walletRotation };
}

/**
 * The accounts' delays: as given, else in demo mode short ones (a demo user who adds an address
 * or enables 2FA can withdraw a minute later), else the accounts' 24 h defaults.
 */
function accountDelays(
  options: ExchangeServerOptions,
  demoMode: boolean,
): { addressActivationDelayMs?: number; securityChangeLockMs?: number } {
  const demoDelayMs = demoMode ? DEMO_ADDRESS_ACTIVATION_DELAY_MS : undefined;
  const addressActivationDelayMs = options.addressActivationDelayMs ?? demoDelayMs;
  const securityChangeLockMs = options.securityChangeLockMs ?? demoDelayMs;
  return {
    ...(addressActivationDelayMs === undefined ? {} : { addressActivationDelayMs }),
    ...(securityChangeLockMs === undefined ? {} : { securityChangeLockMs }),
  };
}

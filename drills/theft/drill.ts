// The theft drill: EXMO's December 2020 replayed on the devnet. A demo exchange runs with its hot
// wallet at its cap and withdrawals flowing; a thief who stole the hot keystore and its passphrase
// drains the hot wallet with `bulwark devnet steal`; the drill then measures what the exchange does
// by itself (detection at the first block holding the theft, the breaker, the signer refusing, the
// status page, a WebSocket client's notice, the webhook alert) and runs what an operator does
// (incident cover, proof of reserves, wallet rotate, audit verify), checking at each line.
//
// One function, two front doors: `npm run drill:theft` prints the timeline (main.ts), and
// test/drills/theft.test.ts runs the same scenario in `npm test` and asserts every check.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import WebSocket from "ws";
import { addressOfKey, privateKeyFromSeed } from "../../src/chains/devnet/index.ts";
import { runCli } from "../../src/cli/run.ts";
import type { ExchangeServer } from "../../src/server/server.ts";
import { startExchangeServer } from "../../src/server/server.ts";
import { formatUnits, parseDecimalBig } from "../../src/units/decimal.ts";
import { cliIo } from "./cli-io.ts";

/** One line of the printed timeline. */
export interface TimelineRow {
  step: string;
  /** ms since the block holding the theft was mined (negative: before it); null when not timed. */
  sinceTheftBlockMs: number | null;
  detail: string;
}

/** One assertion the test makes; the printed drill shows them too. */
export interface DrillCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DrillReport {
  rows: TimelineRow[];
  checks: DrillCheck[];
  /** The figures the test asserts on directly. */
  figures: {
    theftBlockHeight: number;
    detectedAtBlockHeight: number | null;
    detectionMs: number | null;
    breakerMs: number | null;
    stolenUnits: bigint;
    hotBeforeUnits: bigint;
    hotCapUnits: bigint;
  };
}

export interface DrillOptions {
  /** Progress lines while it runs (main.ts prints them; the test keeps quiet). */
  log?: (line: string) => void;
  /** How long to wait for each automatic reaction before calling it missed. */
  reactionTimeoutMs?: number;
}

const CHAIN = "devnet-btc";
const CURRENCY = "BTC";
const POLL_MS = 25;
const BTC_SCALE = 8;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function units(decimal: string | null, scale = BTC_SCALE): bigint {
  if (decimal === null) throw new Error("an on-chain figure is unknown");
  const parsed = parseDecimalBig(decimal, scale);
  if (!parsed.ok) throw new Error(`not a decimal: ${decimal}`);
  return parsed.value;
}

function coins(value: bigint, scale = BTC_SCALE): string {
  return formatUnits(value, scale);
}

/** Waits until `probe` returns a value (not undefined), polling; undefined after the timeout. */
async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) return undefined;
    await sleep(POLL_MS);
  }
}

/** `bulwark <args> --json --data-dir <dataDir>` in this process, through the server's operator socket. */
async function bulwark(dataDir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliAnswer> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runCli([...args, "--json", "--data-dir", dataDir], cliIo(out, err, env));
  const last = out.at(-1);
  if (last === undefined) throw new Error(`bulwark ${args.join(" ")}: no output; ${err.join(" ")}`);
  return { status, json: JSON.parse(last) as CliAnswer["json"] };
}

interface CliAnswer {
  status: number;
  json: Record<string, unknown> & { ok: boolean; error?: { kind: string; message: string } };
}

/** Like bulwark(), but throws when the command failed: the drill's operator steps must succeed. */
async function operator(dataDir: string, args: string[]): Promise<Record<string, unknown>> {
  const answer = await bulwark(dataDir, args);
  if (!answer.json.ok)
    throw new Error(`bulwark ${args.join(" ")} failed: ${answer.json.error?.message ?? "no reason"}`);
  return answer.json;
}

/** A local webhook receiver: every alert the exchange posts, with when it arrived. */
interface WebhookReceiver {
  url: string;
  alerts: { atMs: number; body: unknown }[];
  close(): Promise<void>;
}

async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const alerts: WebhookReceiver["alerts"] = [];
  const MAX_BODY_BYTES = 64 * 1024;
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on("end", () => {
      const atMs = Date.now();
      try {
        alerts.push({ atMs, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      } catch {
        alerts.push({ atMs, body: null });
      }
      response.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("webhook receiver has no port");
  return {
    url: `http://127.0.0.1:${address.port}/alerts`,
    alerts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A WebSocket client of the public API, subscribed to a ticker, keeping every notice frame. */
interface NoticeWatcher {
  notices: { atMs: number; frame: Record<string, unknown> }[];
  /** Frames that were not notices (the ticker kept flowing). */
  otherFrames: number;
  close(): void;
}

async function watchNotices(url: string): Promise<NoticeWatcher> {
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/v1/public`);
  const watcher: NoticeWatcher = { notices: [], otherFrames: 0, close: () => socket.close() };
  socket.on("message", (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>;
    if (frame.topic === "notice") watcher.notices.push({ atMs: Date.now(), frame });
    else watcher.otherFrames += 1;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  socket.send(JSON.stringify({ method: "subscribe", id: 1, topics: ["spot/ticker:BTC_USDT"] }));
  return watcher;
}

type Balances = Map<string, { availableUnits: number; heldUnits: number }>;

/** Every user's balance of every asset, straight from the core. */
function userBalances(server: ExchangeServer): Balances {
  const balances: Balances = new Map();
  for (const entry of server.exchange.internals.core.exportState().userBalances)
    balances.set(`${entry.userId}:${entry.assetId}`, {
      availableUnits: entry.availableUnits,
      heldUnits: entry.heldUnits,
    });
  return balances;
}

function sameBalances(before: Balances, after: Balances): string[] {
  const differences: string[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(key);
    const b = after.get(key);
    if (a?.availableUnits !== b?.availableUnits || a?.heldUnits !== b?.heldUnits)
      differences.push(`${key}: ${JSON.stringify(a)} → ${JSON.stringify(b)}`);
  }
  return differences;
}

interface HotFigures {
  hotOnChainUnits: bigint;
  hotOnBooksUnits: bigint;
  coldOnChainUnits: bigint;
  capUnits: bigint;
}

async function hotFigures(server: ExchangeServer): Promise<HotFigures> {
  const custody = requireCustody(server);
  const status = await custody.status();
  const chain = status.chains.find((entry) => entry.chain === CHAIN);
  const balance = chain?.balances.find((entry) => entry.currency === CURRENCY);
  if (balance === undefined) throw new Error(`custody reports no ${CURRENCY} on ${CHAIN}`);
  return {
    hotOnChainUnits: units(balance.onChain.hot),
    hotOnBooksUnits: units(balance.onBooks.hot),
    coldOnChainUnits: balance.onChain.cold === null ? 0n : units(balance.onChain.cold),
    capUnits: units(balance.hotCap),
  };
}

function requireCustody(server: ExchangeServer) {
  if (server.custody === null || server.devnet === null)
    throw new Error("the drill needs custody on the devnet");
  return server.custody;
}

/** Mines one block on each devnet chain and gives custody time to see it. */
async function mineAndSettle(server: ExchangeServer, blocks = 1, settleMs = 200): Promise<void> {
  for (let block = 0; block < blocks; block++) {
    server.devnet?.btc.mine(1);
    server.devnet?.eth.mine(1);
    await sleep(settleMs);
  }
}

/** The drill. Starts its own demo exchange in a fresh temporary data dir and removes it after. */
export async function runTheftDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const log = options.log ?? (() => {});
  const reactionTimeoutMs = options.reactionTimeoutMs ?? 15_000;
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-theft-drill-"));
  const webhook = await startWebhookReceiver();
  const events: { step: string; atMs: number | null; detail: string }[] = [];
  const checks: DrillCheck[] = [];
  const note = (step: string, atMs: number | null, detail: string) => {
    events.push({ step, atMs, detail });
    log(`${step}: ${detail}`);
  };
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    log(`${ok ? "ok  " : "FAIL"} ${name}: ${detail}`);
  };
  let server: ExchangeServer | null = null;
  let watcher: NoticeWatcher | null = null;
  try {
    const startedAtMs = Date.now();
    server = await startExchangeServer({
      dataDir,
      port: 0,
      demo: true,
      devnetBlockMs: 0,
      custodyTickMs: 100,
      demoWalletIntervalMs: 0,
      webhooks: [{ url: webhook.url }],
      logger: undefined,
    });
    note("exchange started", startedAtMs, `demo exchange with devnet chains and signers at ${server.url}`);
    const scenario = await theftScenario(server, dataDir, { note, check, webhook, reactionTimeoutMs, log });
    watcher = scenario.watcher;
    const theftBlockAtMs = scenario.theftBlockAtMs;
    return {
      rows: events.map((event) => ({
        step: event.step,
        sinceTheftBlockMs: event.atMs === null ? null : event.atMs - theftBlockAtMs,
        detail: event.detail,
      })),
      checks,
      figures: scenario.figures,
    };
  } finally {
    watcher?.close();
    await server?.close();
    await webhook.close();
    rmSync(dataDir, { recursive: true, force: true });
    // The demo keeps its cold keystores beside the data dir, "as if on the offline machine".
    rmSync(`${dataDir}-demo-cold`, { recursive: true, force: true });
  }
}

interface ScenarioTools {
  note: (step: string, atMs: number | null, detail: string) => void;
  check: (name: string, ok: boolean, detail: string) => void;
  webhook: WebhookReceiver;
  reactionTimeoutMs: number;
  log: (line: string) => void;
}

/** Mines until custody has swept the hot wallet down to at most its cap (the rest to cold). */
async function hotWalletAtItsCap(server: ExchangeServer, tools: ScenarioTools): Promise<HotFigures> {
  const MAX_BLOCKS = 40;
  let figures = await hotFigures(server);
  for (let block = 0; block < MAX_BLOCKS && figures.hotOnChainUnits > figures.capUnits; block++) {
    await mineAndSettle(server);
    figures = await hotFigures(server);
  }
  tools.note(
    "hot wallet at its cap",
    Date.now(),
    `hot ${coins(figures.hotOnChainUnits)} ${CURRENCY} (cap ${coins(figures.capUnits)}), cold ${coins(figures.coldOnChainUnits)}`,
  );
  tools.check(
    "hot wallet holds at most its cap",
    figures.hotOnChainUnits > 0n && figures.hotOnChainUnits <= figures.capUnits,
    `${coins(figures.hotOnChainUnits)} ≤ ${coins(figures.capUnits)} ${CURRENCY}`,
  );
  return figures;
}

/** The demo trader's outside BTC address, in their address book and active. */
async function outsideDestination(server: ExchangeServer, traderId: number): Promise<string> {
  const devnet = server.devnet;
  if (devnet === null) throw new Error("devnet is off");
  const address = addressOfKey(devnet.btc, privateKeyFromSeed("theft-drill-trader-outside-btc"));
  const nowMs = Date.now();
  await server.exchange.accounts.addAddress({
    userId: traderId,
    currency: CURRENCY,
    address,
    label: "drill",
    nowMs,
  });
  await server.exchange.accounts.activateAddressNow({
    userId: traderId,
    currency: CURRENCY,
    address,
    nowMs,
    operator: "system:theft-drill",
  });
  return address;
}

/** The trader deposits enough for a withdrawal above the approval threshold (faucet → blocks → credit). */
async function depositToTrader(
  server: ExchangeServer,
  traderId: number,
  amountBaseUnits: bigint,
  tools: ScenarioTools,
): Promise<void> {
  const custody = requireCustody(server);
  const btc = server.exchange.assetByCode(CURRENCY);
  if (btc === undefined || server.devnet === null) throw new Error("no BTC on the devnet");
  const before = server.exchange.balance(traderId, btc.assetId).availableUnits;
  const { address } = await custody.depositAddress(traderId, CURRENCY);
  server.devnet.btc.faucet(address, CURRENCY, amountBaseUnits);
  const credited = await waitFor(async () => {
    await mineAndSettle(server, 1, 150);
    return server.exchange.balance(traderId, btc.assetId).availableUnits > before ? true : undefined;
  }, 30_000);
  tools.check(
    "a deposit is credited before the theft",
    credited === true,
    `${coins(amountBaseUnits)} ${CURRENCY}`,
  );
}

/** A few small withdrawals go the whole way (held → signed → broadcast → settled). */
async function withdrawalsFlowing(
  server: ExchangeServer,
  traderId: number,
  destination: string,
  tools: ScenarioTools,
): Promise<void> {
  const custody = requireCustody(server);
  const COUNT = 3;
  const ids: number[] = [];
  for (let index = 0; index < COUNT; index++) {
    const view = await custody.requestWithdrawal({
      userId: traderId,
      currency: CURRENCY,
      amount: "0.01",
      address: destination,
      proof: { kind: "operator", actor: "system:theft-drill" },
    });
    ids.push(view.withdrawalId);
  }
  const settled = await waitFor(async () => {
    await mineAndSettle(server, 1, 150);
    const views = await Promise.all(ids.map((id) => custody.withdrawal(id)));
    return views.every((view) => view?.step === "settled") ? views : undefined;
  }, 60_000);
  tools.note(
    "withdrawals flowing",
    Date.now(),
    `${settled?.length ?? 0} of ${COUNT} withdrawals of 0.01 ${CURRENCY} settled`,
  );
  tools.check("withdrawals settle before the theft", settled !== undefined, `${COUNT} requested`);
}

interface Reactions {
  detectedAtMs: number | null;
  detectedAtBlockHeight: number | null;
  incidentId: number | null;
  breakerAtMs: number | null;
  signerRefusingAtMs: number | null;
  statusPageAtMs: number | null;
  webSocketAtMs: number | null;
  webhookAtMs: number | null;
}

/** The thief drains the hot wallet; one block mines it. Returns the block's height and when it was mined. */
async function steal(
  server: ExchangeServer,
  dataDir: string,
  hot: HotFigures,
  tools: ScenarioTools,
): Promise<{ txid: string; amountUnits: bigint; height: number; minedAtMs: number }> {
  const FEE_MARGIN_UNITS = 10_000n;
  const amountUnits = hot.hotOnChainUnits - FEE_MARGIN_UNITS;
  const theft = await operator(dataDir, [
    "devnet",
    "steal",
    "--chain",
    "btc",
    "--amount",
    coins(amountUnits),
  ]);
  const sentAtMs = Date.now();
  tools.note(
    "theft broadcast",
    sentAtMs,
    `devnet steal: ${coins(amountUnits)} ${CURRENCY} → ${String(theft.to)} (tx ${String(theft.txid)})`,
  );
  const devnet = server.devnet;
  if (devnet === null) throw new Error("devnet is off");
  devnet.btc.mine(1);
  const minedAtMs = Date.now();
  const height = await devnet.btc.height();
  tools.note("first block containing the theft", minedAtMs, `block ${height} of ${CHAIN}`);
  return { txid: String(theft.txid), amountUnits, height, minedAtMs };
}

/** Waits for each automatic reaction and records when it was first seen. */
async function reactions(
  server: ExchangeServer,
  watcher: NoticeWatcher,
  tools: ScenarioTools,
): Promise<Reactions> {
  const custody = requireCustody(server);
  const timeout = tools.reactionTimeoutMs;
  const seen: Reactions = {
    detectedAtMs: null,
    detectedAtBlockHeight: null,
    incidentId: null,
    breakerAtMs: null,
    signerRefusingAtMs: null,
    statusPageAtMs: null,
    webSocketAtMs: null,
    webhookAtMs: null,
  };
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const nowMs = Date.now();
    if (seen.breakerAtMs === null) {
      const breaker = (await custody.breakers()).find((entry) => entry.chain === CHAIN);
      if (breaker?.state === "tripped") {
        seen.breakerAtMs = breaker.trippedAtMs ?? nowMs;
        seen.incidentId = breaker.incidentId;
      }
    }
    if (seen.incidentId !== null && seen.detectedAtMs === null) {
      const incident = await server.incidents?.get(seen.incidentId);
      const detected = incident?.timeline.find((entry) => entry.type === "detected");
      if (detected !== undefined) {
        seen.detectedAtMs = detected.atMs;
        const height = detected.detail.blockHeight;
        seen.detectedAtBlockHeight = typeof height === "number" ? height : null;
      }
    }
    if (seen.signerRefusingAtMs === null) {
      const chain = (await custody.status()).chains.find((entry) => entry.chain === CHAIN);
      if (chain?.signerHalted === true) seen.signerRefusingAtMs = nowMs;
    }
    if (seen.statusPageAtMs === null && seen.incidentId !== null) {
      const status = (await (await fetch(`${server.url}/status`)).json()) as {
        incidents?: { incidentId: number }[];
      };
      if (status.incidents?.some((incident) => incident.incidentId === seen.incidentId) === true)
        seen.statusPageAtMs = nowMs;
    }
    if (seen.webSocketAtMs === null && watcher.notices.length > 0)
      seen.webSocketAtMs = watcher.notices[0].atMs;
    if (seen.webhookAtMs === null) {
      const opened = tools.webhook.alerts.find(
        (alert) => (alert.body as { type?: unknown } | null)?.type === "incident.opened",
      );
      if (opened !== undefined) seen.webhookAtMs = opened.atMs;
    }
    if (Object.values(seen).every((value) => value !== null)) break;
    await sleep(POLL_MS);
  }
  return seen;
}

const HALT_WITHIN_MS = 5_000;
/** The withdrawal that waits for two approvers while the theft hits, whole BTC. */
const PENDING_WITHDRAWAL_AMOUNT = "0.8";

function within(atMs: number | null, fromMs: number, limitMs: number): boolean {
  return atMs !== null && atMs - fromMs <= limitMs;
}

function after(atMs: number | null, fromMs: number): string {
  return atMs === null ? "not seen" : `${atMs - fromMs} ms after the block`;
}

async function theftScenario(server: ExchangeServer, dataDir: string, tools: ScenarioTools) {
  const { note, check } = tools;
  const custody = requireCustody(server);
  const devnet = server.devnet;
  if (devnet === null) throw new Error("devnet is off");
  // The market maker stops: user balances may change only by what the drill itself does.
  await server.demo?.maker.stop();
  const trader = await server.exchange.accounts.userByEmail(server.demo?.email ?? "");
  if (trader === undefined) throw new Error("the demo trader is missing");
  const destination = await outsideDestination(server, trader.userId);
  await depositToTrader(server, trader.userId, 500_000_000n, tools);
  const hot = await hotWalletAtItsCap(server, tools);
  await withdrawalsFlowing(server, trader.userId, destination, tools);
  const hotBefore = await hotFigures(server);

  // A withdrawal above the approval threshold (0.5 BTC) and within the largest one the signer can
  // sign in 10 minutes (1 BTC on the fresh demo): held, waiting for two approvers when the theft hits.
  const pending = await custody.requestWithdrawal({
    userId: trader.userId,
    currency: CURRENCY,
    amount: PENDING_WITHDRAWAL_AMOUNT,
    address: destination,
    proof: { kind: "operator", actor: "system:theft-drill" },
  });
  note(
    "withdrawal waiting for approval",
    Date.now(),
    `#${pending.withdrawalId}: ${PENDING_WITHDRAWAL_AMOUNT} ${CURRENCY}, ${pending.step}`,
  );
  const watcher = await watchNotices(server.url);
  const balancesBefore = userBalances(server);
  const coldBefore = hotBefore.coldOnChainUnits;

  const theft = await steal(server, dataDir, hotBefore, tools);
  const seen = await reactions(server, watcher, tools);
  note(
    "detection",
    seen.detectedAtMs,
    `unmatched outflow seen at block ${seen.detectedAtBlockHeight ?? "?"}`,
  );
  note("breaker tripped", seen.breakerAtMs, `incident #${seen.incidentId ?? "?"} open, ${CHAIN} halted`);
  note("signer refusing", seen.signerRefusingAtMs, `the ${CHAIN} signer reports itself halted`);
  note("status page shows the incident", seen.statusPageAtMs, "GET /status lists it");
  note("WebSocket client notified", seen.webSocketAtMs, `${watcher.notices.length} notice frame(s)`);
  note(
    "webhook alerted",
    seen.webhookAtMs,
    `incident.opened among ${tools.webhook.alerts.length} alert(s) received`,
  );
  check(
    "detected at the first block holding the theft",
    seen.detectedAtBlockHeight === theft.height,
    `theft in block ${theft.height}, detected at ${seen.detectedAtBlockHeight ?? "never"}`,
  );
  const timed: [string, number | null][] = [
    ["breaker", seen.breakerAtMs],
    ["signer halted", seen.signerRefusingAtMs],
    ["status page", seen.statusPageAtMs],
    ["WebSocket notice", seen.webSocketAtMs],
    ["webhook alert", seen.webhookAtMs],
  ];
  for (const [what, atMs] of timed)
    check(`${what} within 5 s`, within(atMs, theft.minedAtMs, HALT_WITHIN_MS), after(atMs, theft.minedAtMs));
  check(
    "the WebSocket client kept its ticker",
    watcher.otherFrames > 0,
    `${watcher.otherFrames} other frames`,
  );

  const containment = await whileTripped(server, trader.userId, destination, pending.withdrawalId, tools);
  const afterTheft = await hotFigures(server);
  const stolenUnits = afterTheft.hotOnBooksUnits - afterTheft.hotOnChainUnits;
  note(
    "loss vs hot balance",
    Date.now(),
    `lost ${coins(stolenUnits)} of a hot balance of ${coins(hotBefore.hotOnChainUnits)} ${CURRENCY} (cap ${coins(hot.capUnits)})`,
  );
  check(
    "loss ≤ hot balance",
    stolenUnits > 0n && stolenUnits <= hotBefore.hotOnChainUnits,
    `${coins(stolenUnits)} ≤ ${coins(hotBefore.hotOnChainUnits)}`,
  );
  check(
    "cold untouched",
    afterTheft.coldOnChainUnits === coldBefore,
    `cold ${coins(coldBefore)} → ${coins(afterTheft.coldOnChainUnits)}`,
  );
  check(
    "nothing else left",
    containment.outflowsAfterTheft === 0,
    `${containment.outflowsAfterTheft} exchange outflows after the theft's block`,
  );

  await operatorSteps(server, dataDir, seen.incidentId, stolenUnits, balancesBefore, tools);
  return {
    watcher,
    theftBlockAtMs: theft.minedAtMs,
    figures: {
      theftBlockHeight: theft.height,
      detectedAtBlockHeight: seen.detectedAtBlockHeight,
      detectionMs: seen.detectedAtMs === null ? null : seen.detectedAtMs - theft.minedAtMs,
      breakerMs: seen.breakerAtMs === null ? null : seen.breakerAtMs - theft.minedAtMs,
      stolenUnits,
      hotBeforeUnits: hotBefore.hotOnChainUnits,
      hotCapUnits: hot.capUnits,
    },
  };
}

/** What must hold while the breaker is tripped; returns how many coins left after the theft's block. */
async function whileTripped(
  server: ExchangeServer,
  traderId: number,
  destination: string,
  pendingWithdrawalId: number,
  tools: ScenarioTools,
): Promise<{ outflowsAfterTheft: number }> {
  const { check, note } = tools;
  const custody = requireCustody(server);
  const devnet = server.devnet;
  if (devnet === null) throw new Error("devnet is off");
  const btc = server.exchange.assetByCode(CURRENCY);
  if (btc === undefined) throw new Error("no BTC asset");

  // A new withdrawal is refused with the breaker's error.
  let refusal = "accepted";
  try {
    await custody.requestWithdrawal({
      userId: traderId,
      currency: CURRENCY,
      amount: "0.01",
      address: destination,
      proof: { kind: "operator", actor: "system:theft-drill" },
    });
  } catch (error) {
    refusal = `${(error as { code?: string }).code ?? "error"}: ${(error as Error).message}`;
  }
  check("new withdrawals refused", refusal !== "accepted", refusal);

  // The pending withdrawal gets its two approvals, and still nothing is signed: funds stay held.
  const heldBefore = server.exchange.balance(traderId, btc.assetId).heldUnits;
  await custody.approveWithdrawal(pendingWithdrawalId, "operator:alice");
  await custody.approveWithdrawal(pendingWithdrawalId, "operator:bob");
  const hotAfterTheft = (await hotFigures(server)).hotOnChainUnits;
  const coldAfterTheft = (await hotFigures(server)).coldOnChainUnits;

  // Deposits are still credited: an outside sender pays a fresh user's deposit address.
  const created = await server.exchange.accounts.createUser({
    email: `late-depositor-${Date.now()}@theft-drill.local`,
    passwordHash: "x".repeat(64),
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error("the drill's depositor was not created");
  const depositor = created.user.userId;
  const { address } = await custody.depositAddress(depositor, CURRENCY);
  devnet.btc.faucet(address, CURRENCY, 50_000_000n);
  const credited = await waitFor(async () => {
    await mineAndSettle(server, 1, 150);
    const balance = server.exchange.balance(depositor, btc.assetId).availableUnits;
    return balance > 0 ? balance : undefined;
  }, 30_000);
  check(
    "deposits still credited",
    credited !== undefined,
    `0.5 ${CURRENCY} to a deposit address → ${credited ?? 0} units`,
  );

  const pending = await custody.withdrawal(pendingWithdrawalId);
  const heldAfter = server.exchange.balance(traderId, btc.assetId).heldUnits;
  check(
    "pending withdrawal paused, funds held",
    pending !== undefined && pending.txId === null && heldAfter === heldBefore,
    `#${pendingWithdrawalId} at ${pending?.step ?? "?"}, held ${heldBefore} → ${heldAfter}`,
  );

  // Trading continues: a resting order is accepted and cancelled.
  const market = server.exchange.marketBySymbol("BTC_USDT");
  if (market === undefined) throw new Error("no BTC_USDT market");
  const placed = await server.exchange.submit({
    kind: "placeOrder",
    userId: traderId,
    marketId: market.config.marketId,
    side: "sell",
    orderType: "limit",
    priceTicks: market.config.maxPriceTicks,
    quantityLots: market.config.minQuantityLots,
    quoteAmountUnits: 0,
    triggerPriceTicks: 0,
    timeInForce: "gtc",
    postOnly: false,
    clientOrderId: 0,
    selfTradePrevention: null,
  });
  const rejection = placed.events.find((event) => event.type === "rejected");
  const accepted = rejection === undefined;
  if (accepted)
    await server.exchange.submit({ kind: "cancelOrder", userId: traderId, orderId: placed.sequence });
  check(
    "trading continues",
    accepted,
    accepted ? "an order was placed and cancelled" : JSON.stringify(rejection),
  );

  const later = await hotFigures(server);
  const outflows =
    (later.hotOnChainUnits < hotAfterTheft ? 1 : 0) + (later.coldOnChainUnits < coldAfterTheft ? 1 : 0);
  note(
    "contained",
    Date.now(),
    `hot ${coins(later.hotOnChainUnits)}, cold ${coins(later.coldOnChainUnits)} ${CURRENCY} after more blocks`,
  );
  return { outflowsAfterTheft: outflows };
}

/** What the operator does after the alert: cover, prove reserves, rotate, verify the audit log. */
async function operatorSteps(
  server: ExchangeServer,
  dataDir: string,
  incidentId: number | null,
  stolenUnits: bigint,
  balancesBefore: Balances,
  tools: ScenarioTools,
): Promise<void> {
  const { note, check } = tools;
  const custody = requireCustody(server);
  const devnet = server.devnet;
  if (devnet === null || incidentId === null) throw new Error("no incident to work on");
  const trader = await server.exchange.accounts.userByEmail(server.demo?.email ?? "");
  if (trader === undefined) throw new Error("the demo trader is missing");

  await operator(dataDir, [
    "incident",
    "cover",
    "--id",
    String(incidentId),
    "--asset",
    CURRENCY,
    "--amount",
    coins(stolenUnits),
  ]);
  const covered = await hotFigures(server);
  note(
    "incident cover",
    Date.now(),
    `${coins(stolenUnits)} ${CURRENCY}: hot wallet → incident losses, covered by the insurance fund`,
  );
  check(
    "books match the chain after the cover",
    covered.hotOnBooksUnits === covered.hotOnChainUnits,
    `hot on books ${coins(covered.hotOnBooksUnits)}, on chain ${coins(covered.hotOnChainUnits)}`,
  );

  let invariants = "hold";
  try {
    server.exchange.internals.core.checkInvariants();
  } catch (error) {
    invariants = (error as Error).message;
  }
  check("core invariants", invariants === "hold", invariants);
  // Users who existed before the theft; the drill's own depositor came later.
  const userOf = (key: string) => Number(key.split(":")[0]);
  const usersBefore = new Set([...balancesBefore.keys()].map(userOf));
  const differences = sameBalances(balancesBefore, userBalances(server)).filter((line) =>
    usersBefore.has(userOf(line)),
  );
  note(
    "invariants",
    Date.now(),
    `core invariants ${invariants}; ${differences.length} user balance(s) changed`,
  );
  check(
    "every user balance unchanged",
    differences.length === 0,
    differences.slice(0, 3).join("; ") || "none changed",
  );

  const published = (await operator(dataDir, ["reserves", "publish", "--asset", CURRENCY])) as unknown as {
    publications: { rootHash: string; liabilities: string; reserves: string; fullyBacked: boolean }[];
  };
  const publication = published.publications[0];
  const proof = await operator(dataDir, [
    "reserves",
    "proof",
    "--user",
    String(trader.userId),
    "--asset",
    CURRENCY,
  ]);
  const proofPath = join(dataDir, "theft-drill-proof.json");
  writeFileSync(proofPath, JSON.stringify(proof.proof));
  const verified = await bulwark(dataDir, [
    "reserves",
    "verify",
    "--proof",
    proofPath,
    "--root",
    publication.rootHash,
  ]);
  note(
    "reserves proof",
    Date.now(),
    `liabilities ${publication.liabilities}, reserves ${publication.reserves} ${CURRENCY}: ${publication.fullyBacked ? "fully backed" : "NOT fully backed"}; the demo trader's proof ${verified.json.ok ? "verifies" : "fails"}`,
  );
  check(
    "customer liabilities fully backed after the cover",
    publication.fullyBacked,
    `${publication.reserves} ≥ ${publication.liabilities}`,
  );
  check("a user's reserves proof verifies", verified.json.ok, verified.json.error?.message ?? "verified");

  const oldAddress = (await custody.depositAddress(trader.userId, CURRENCY)).address;
  const rotated = await operator(dataDir, [
    "wallet",
    "rotate",
    "--chain",
    CHAIN,
    "--incident",
    String(incidentId),
  ]);
  const newAddress = (await custody.depositAddress(trader.userId, CURRENCY)).address;
  note(
    "wallet rotate",
    Date.now(),
    `${CHAIN} generation ${String(rotated.generation ?? "?")}: new deposit address ${newAddress}`,
  );
  check("a new deposit address after rotation", newAddress !== oldAddress, `${oldAddress} → ${newAddress}`);

  const btc = server.exchange.assetByCode(CURRENCY);
  if (btc === undefined) throw new Error("no BTC asset");
  const before = server.exchange.balance(trader.userId, btc.assetId).availableUnits;
  devnet.btc.faucet(oldAddress, CURRENCY, 20_000_000n);
  const credited = await waitFor(async () => {
    await mineAndSettle(server, 1, 150);
    const now = server.exchange.balance(trader.userId, btc.assetId).availableUnits;
    return now > before ? now - before : undefined;
  }, 30_000);
  note(
    "late deposit to an old address",
    Date.now(),
    `0.2 ${CURRENCY} to ${oldAddress}: credited ${credited ?? 0} units`,
  );
  check("a late deposit to an old address is credited", credited === 20_000_000, `${credited ?? 0} units`);

  await resumeAndClose(server, dataDir, incidentId, tools);

  const audit = await bulwark(dataDir, ["audit", "verify"]);
  const tampered = await tamperedAuditVerify(dataDir);
  note(
    "audit verify",
    Date.now(),
    `live log: ${audit.json.ok ? "ok" : "broken"}; tampered copy: ${tampered}`,
  );
  check("audit log verifies", audit.json.ok, audit.json.error?.message ?? "ok");
  check("a tampered copy fails", tampered.startsWith("refused"), tampered);
}

/** Copies the store, edits one audit row in the copy, and runs `audit verify` on the copy. */
async function tamperedAuditVerify(dataDir: string): Promise<string> {
  const copyDir = mkdtempSync(join(tmpdir(), "bulwark-theft-drill-tampered-"));
  try {
    mkdirSync(copyDir, { recursive: true, mode: 0o700 });
    const live = new Database(join(dataDir, "bulwark.sqlite"), { readonly: true });
    try {
      live.exec(`VACUUM INTO '${join(copyDir, "bulwark.sqlite").replaceAll("'", "''")}'`);
    } finally {
      live.close();
    }
    const copy = new Database(join(copyDir, "bulwark.sqlite"));
    try {
      copy
        .prepare("UPDATE audit_log SET details_json = ? WHERE seq = (SELECT MAX(seq) / 2 FROM audit_log)")
        .run('{"edited":true}');
    } finally {
      copy.close();
    }
    const answer = await bulwark(copyDir, ["audit", "verify"]);
    return answer.json.ok
      ? "passed (the tampering went unnoticed)"
      : `refused: ${answer.json.error?.message ?? ""}`;
  } finally {
    rmSync(copyDir, { recursive: true, force: true });
  }
}

/** After the cover and the rotation: resume (the books match the chain, so it stays closed), export, resolve. */
async function resumeAndClose(
  server: ExchangeServer,
  dataDir: string,
  incidentId: number,
  tools: ScenarioTools,
): Promise<void> {
  const { note, check } = tools;
  const custody = requireCustody(server);
  await operator(dataDir, [
    "breaker",
    "resume",
    "--chain",
    CHAIN,
    "--reason",
    `loss covered (incident ${incidentId}), wallet rotated`,
  ]);
  await mineAndSettle(server, 3, 200);
  const breaker = (await custody.breakers()).find((entry) => entry.chain === CHAIN);
  note("breaker resumed", Date.now(), `${CHAIN} ${breaker?.state ?? "?"} after 3 more blocks`);
  check("resumed after the cover, it stays closed", breaker?.state === "closed", breaker?.reason ?? "closed");
  const exportDir = join(dataDir, "incident-export");
  mkdirSync(exportDir, { mode: 0o700 });
  const exported = await operator(dataDir, [
    "incident",
    "export",
    "--id",
    String(incidentId),
    "--out",
    exportDir,
  ]);
  await operator(dataDir, [
    "incident",
    "resolve",
    "--id",
    String(incidentId),
    "--reason",
    "covered, rotated, resumed",
  ]);
  const incident = await server.incidents.get(incidentId);
  const types = new Set(incident?.timeline.map((entry) => entry.type));
  const expected = [
    "detected",
    "breakerTripped",
    "signerHalted",
    "cover",
    "reservesPublished",
    "rotation",
    "breakerResumed",
    "resolved",
  ];
  const missing = expected.filter((type) => !types.has(type as never));
  note(
    "incident resolved",
    Date.now(),
    `${incident?.timeline.length ?? 0} timeline entries; export consistent: ${String(exported.consistent)}`,
  );
  check(
    "the timeline has every step",
    missing.length === 0,
    missing.length === 0 ? expected.join(", ") : `missing ${missing.join(", ")}`,
  );
  check(
    "the export from the audit log is consistent",
    exported.consistent === true,
    JSON.stringify(exported.problems ?? []),
  );
}

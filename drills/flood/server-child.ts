// The exchange under test, in its own process (drills/flood/child.ts): the load generators and
// the drill's clients never share its event loop, and its RSS and CPU are its own (read from
// /proc by the parent). Starts a fresh exchange on 127.0.0.1 in a temp data dir (journal fsync
// on, SQLite store, no devnet), seeds a market maker's resting book on BTC_USD and one user and
// API key per well-behaved trader, then reports its event-loop delay every 250 ms until stopped.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import pino from "pino";
import { loadServerKey } from "../../src/accounts/server-key.ts";
import type { RateLimitOptions } from "../../src/gateway/guard/rate-limit.ts";
import { OperatorActions } from "../../src/operator/actions.ts";
import { startExchangeServer } from "../../src/server/server.ts";
import { sendLine, stopRequested } from "./child.ts";
import { BOOK, type ServerLine, type TraderKey } from "./protocol.ts";

export interface ServerChildInput {
  traders: number;
  /** The REST rate limit (absent: the server's default, EXMO's 10 req/s per address and key). */
  rateLimit?: RateLimitOptions;
  loopSampleMs: number;
  loadShedding: boolean;
}

const input = JSON.parse(process.argv[2]) as ServerChildInput;
const ACTOR = "flood-drill";
/** Cheap password hashing for the seeded users: the drill measures order entry, not sign-ups. */
const FAST_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };
const BTC_USD_MARKET_ID = 1;

const dataDir = mkdtempSync(join(tmpdir(), "bulwark-flood-drill-"));
const server = await startExchangeServer({
  dataDir,
  port: 0,
  host: "127.0.0.1",
  demo: false,
  devnet: false,
  logger: pino({ level: "silent" }),
  passwordScrypt: FAST_SCRYPT,
  // The drill rehearses the guard as it runs under attack: load shedding as the parent decided
  // (on unless BULWARK_LOAD_SHEDDING=off; the test suite asks for it explicitly).
  env: { ...process.env, BULWARK_LOAD_SHEDDING: input.loadShedding ? "on" : "off" },
  ...(input.rateLimit === undefined ? {} : { rateLimit: input.rateLimit }),
});
const actions = new OperatorActions(
  server.exchange,
  loadServerKey(dataDir).secretBox,
  Date.now,
  null,
  null,
  FAST_SCRYPT,
);

async function fundedUser(email: string, funds: Record<string, string>): Promise<number> {
  const { userId } = await actions.createUser(ACTOR, { email, password: "flood-drill-password" });
  for (const [asset, amount] of Object.entries(funds))
    await actions.adjustBalance(ACTOR, { email, asset, amount, reason: "flood drill funding" });
  return userId;
}

/** The market maker's resting book: BOOK.levels asks above BOOK.midTicks and as many bids below. */
async function seedBook(): Promise<void> {
  const makerId = await fundedUser("flood-maker@bulwark.local", { BTC: "1000", USD: "100000000" });
  // Submitted together: the sequencer batches them into a few journal writes.
  const placed: Promise<unknown>[] = [];
  for (let level = 1; level <= BOOK.levels; level++)
    for (const side of ["sell", "buy"] as const)
      placed.push(
        server.exchange.submit({
          kind: "placeOrder",
          userId: makerId,
          marketId: BTC_USD_MARKET_ID,
          side,
          orderType: "limit",
          priceTicks: BOOK.midTicks + (side === "sell" ? 1 : -1) * level * BOOK.levelStepTicks,
          quantityLots: BOOK.lotsPerLevel,
          quoteAmountUnits: 0,
          triggerPriceTicks: 0,
          timeInForce: "gtc",
          postOnly: false,
          clientOrderId: 0,
          selfTradePrevention: null,
        }),
      );
  await Promise.all(placed);
}

async function traderKey(index: number): Promise<TraderKey> {
  const email = `flood-trader-${index}@bulwark.local`;
  await fundedUser(email, { USD: "10000000" });
  const key = await actions.createApiKey(ACTOR, { email, scopes: "info,trade", ipAllowList: [] });
  return { keyId: key.keyId, secret: key.secret };
}

const [traders] = await Promise.all([
  Promise.all(Array.from({ length: input.traders }, (_, index) => traderKey(index))),
  seedBook(),
]);

const histogram = monitorEventLoopDelay({ resolution: 10 });
histogram.enable();
const ready: ServerLine = { kind: "ready", url: server.url, pid: process.pid, traders };
sendLine(ready);
const timer = setInterval(() => {
  sendLine({
    kind: "loop",
    atMs: Date.now(),
    p99Ms: histogram.percentile(99) / 1e6,
    maxMs: histogram.max / 1e6,
  } satisfies ServerLine);
  histogram.reset();
}, input.loopSampleMs);

await stopRequested();
clearInterval(timer);
histogram.disable();
await server.close();
rmSync(dataDir, { recursive: true, force: true });
sendLine({ kind: "stopped" } satisfies ServerLine);

// `npm run bench:api`: the EXMO gateway end to end, on this machine (not a test).
//
// 1. Durable order entry: signed order_create + order_cancel over keep-alive HTTP from a load
//    generator in a child process, against a server started here with the real journal (fsync
//    on), store and market data. Peak = closed loop; then latency at 25 %, 50 % and 100 % of that
//    peak and at a fixed 5,000 orders/s, open loop.
// 2. WebSocket fan-out: N subscribers of spot/order_book_updates:BTC_USD in another child while
//    the market changes; delivery delay p50/p99 (server `ts` to arrival, ms) and server RSS.
//
// Flags: --json (one JSON object per line), --quick (small sizes), --clients N (HTTP keys and
// sockets, default 256), --seconds N (per phase, default 10), --subscribers N (default 10,000),
// --profile (CPU profile of the server process during the peak phase: top functions).
// 0. The ceiling: the same generator against a bare Fastify route that only parses the form and
//    verifies HMAC-SHA512 (bench/api/ceiling.ts), in the same run, so noise hits both alike.
// Targets (issue 10): durable order-entry requests/s >= 60 % of the ceiling (--json: the peak row's
// ratioToCeiling and ceilingRequestsPerSec), p99 <= 5 ms at 5,000 requests/s; 10,000 WS
// subscribers with delivery p99 <= 100 ms and server RSS <= 1 GB.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import pino from "pino";
import { loadServerKey } from "../src/accounts/server-key.ts";
import type { UnstampedCommand } from "../src/core/commands.ts";
import { OperatorActions } from "../src/operator/actions.ts";
import { startExchangeServer } from "../src/server/server.ts";
import { startCeilingServer } from "./api/ceiling.ts";

const { values: flags } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    clients: { type: "string" },
    seconds: { type: "string" },
    subscribers: { type: "string" },
    profile: { type: "boolean", default: false },
  },
});
const CLIENTS = Number(flags.clients ?? (flags.quick ? 64 : 256));
/** Users the clients' keys belong to: each user's password costs a 32 MiB scrypt, keys are cheap. */
const BENCH_USERS = 8;
const PHASE_MS = Number(flags.seconds ?? (flags.quick ? 3 : 10)) * 1000;
const SUBSCRIBERS = Number(flags.subscribers ?? (flags.quick ? 500 : 10_000));
const PAIR = "BTC_USD";
const BTC_USD_MARKET_ID = 1;

interface LoadOutput {
  requests: number;
  ordersCreated: number;
  errors: number;
  firstError: string | null;
  latenciesUs: number[];
  elapsedMs: number;
}

function log(text: string): void {
  if (!flags.json) console.log(text);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summarize(samples: number[]): { p50: number; p99: number; p999: number; max: number } {
  const sorted = Float64Array.from(samples).sort();
  const list = Array.from(sorted);
  return {
    p50: percentile(list, 50),
    p99: percentile(list, 99),
    p999: percentile(list, 99.9),
    max: list.length > 0 ? list[list.length - 1] : Number.NaN,
  };
}

/** Runs a child script with tsx; resolves with its last stdout line parsed as JSON. */
function runChild<T>(script: string, input: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, script), JSON.stringify(input)],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let lastLine = "";
    createInterface({ input: child.stdout }).on("line", (line) => {
      lastLine = line;
    });
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`${script} exited with ${code}`));
      else resolve(JSON.parse(lastLine) as T);
    });
  });
}

/** One API key per virtual client (a key's nonces must increase, so it has one request in flight), on a few users. */
async function makeClients(
  actions: OperatorActions,
  count: number,
): Promise<{ keyId: string; secret: string }[]> {
  const userCount = Math.min(count, BENCH_USERS);
  for (let index = 0; index < userCount; index++) {
    const email = `bench-${index}@bulwark.local`;
    await actions.createUser("bench", { email, password: "bench-password-1" });
    await actions.adjustBalance("bench", {
      email,
      asset: "USD",
      amount: "100000000",
      reason: "bench funding",
    });
  }
  const keys: { keyId: string; secret: string }[] = [];
  for (let index = 0; index < count; index++) {
    const email = `bench-${index % userCount}@bulwark.local`;
    const key = await actions.createApiKey("bench", { email, scopes: "info,trade", ipAllowList: [] });
    keys.push({ keyId: key.keyId, secret: key.secret });
  }
  return keys;
}

/** What the server's event loop did during a phase: its longest stalls (SQLite writes run on it). */
interface LoopDelay {
  loopP99Ms: number;
  loopMaxMs: number;
  loadAverage: string;
}

async function loadPhase(
  baseUrl: string,
  keys: { keyId: string; secret: string }[],
  targetRequestsPerSecond: number,
): Promise<LoadOutput & LoopDelay> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const result = await runChild<LoadOutput>("api/http-load.ts", {
    baseUrl,
    keys,
    durationMs: PHASE_MS,
    targetRequestsPerSecond,
    price: "50000",
    quantity: "0.001",
    pair: PAIR,
  });
  histogram.disable();
  return {
    ...result,
    loopP99Ms: histogram.percentile(99) / 1e6,
    loopMaxMs: histogram.max / 1e6,
    loadAverage: loadAverage(),
  };
}

interface TopFunction {
  name: string;
  selfPercent: number;
}

async function profiled<T>(run: () => Promise<T>): Promise<{ result: T; top: TopFunction[] }> {
  if (!flags.profile) return { result: await run(), top: [] };
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  const result = await run();
  const { profile } = await session.post("Profiler.stop");
  session.disconnect();
  const selfByName = new Map<string, number>();
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const frameName = (id: number | undefined): string => {
    const frame = id === undefined ? undefined : nodes.get(id)?.callFrame;
    return `${frame?.functionName || "(anonymous)"} ${frame?.url.split("/").slice(-2).join("/") ?? ""}`.trim();
  };
  let total = 0;
  profile.samples?.forEach((id, index) => {
    const delta = profile.timeDeltas?.[index] ?? 0;
    const frame = nodes.get(id)?.callFrame;
    // Native functions (no url: better-sqlite3's run/all, writev) say little alone: name the
    // nearest JS caller with a file, e.g. "run <- commitNonces store/hot-statements.ts".
    let name = frameName(id);
    if (frame !== undefined && frame.url === "" && !name.startsWith("(")) {
      let parent = parentOf.get(id);
      while (parent !== undefined && nodes.get(parent)?.callFrame.url === "") parent = parentOf.get(parent);
      let caller = parent;
      // Skip Kysely's and better-sqlite3's own frames to reach ours.
      while (caller !== undefined && /node_modules/.test(nodes.get(caller)?.callFrame.url ?? ""))
        caller = parentOf.get(caller);
      name = `${name} <- ${frameName(caller ?? parent)}`;
    }
    selfByName.set(name, (selfByName.get(name) ?? 0) + delta);
    total += delta;
  });
  const top = [...selfByName.entries()]
    .sort((left, right) => right[1] - left[1])
    .slice(0, 30)
    .map(([name, time]) => ({ name, selfPercent: (time / total) * 100 }));
  return { result, top };
}

/** Changes the top of the BTC_USD book through the core while subscribers watch. */
async function churnMarket(
  submit: (command: UnstampedCommand) => Promise<unknown>,
  userId: number,
  stop: () => boolean,
) {
  let step = 0;
  while (!stop()) {
    const priceTicks = 4_000_000 + (step % 50) * 100;
    const placed = (await submit({
      kind: "placeOrder",
      userId,
      marketId: BTC_USD_MARKET_ID,
      side: "buy",
      orderType: "limit",
      priceTicks,
      quantityLots: 1 + (step % 7),
      quoteAmountUnits: 0,
      triggerPriceTicks: 0,
      timeInForce: "gtc",
      postOnly: false,
      clientOrderId: 0,
      selfTradePrevention: null,
    })) as { sequence: number };
    if (step % 2 === 1) await submit({ kind: "cancelOrder", userId, orderId: placed.sequence });
    step += 1;
    // About 100 book changes per second: a busy market, not a flood.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function fanoutPhase(
  wsUrl: string,
  exchangeSubmit: (command: UnstampedCommand) => Promise<unknown>,
  userId: number,
) {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "api/ws-fanout.ts"),
      JSON.stringify({ wsUrl, subscribers: SUBSCRIBERS, pair: PAIR, connectionsPerAddress: 20 }),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const ready = await iterator.next();
  if (ready.value !== "ready") throw new Error(`fan-out child said ${String(ready.value)}`);
  let stopped = false;
  let peakRssBytes = process.memoryUsage().rss;
  const rssTimer = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
  }, 200);
  const churn = churnMarket(exchangeSubmit, userId, () => stopped);
  await new Promise((resolve) => setTimeout(resolve, PHASE_MS));
  stopped = true;
  await churn;
  await new Promise((resolve) => setTimeout(resolve, 500));
  clearInterval(rssTimer);
  child.stdin.end("stop\n");
  const result = await iterator.next();
  const parsed = JSON.parse(String(result.value)) as { updates: number; dropped: number; delaysMs: number[] };
  return { ...parsed, peakRssBytes };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-bench-api-"));
  const server = await startExchangeServer({
    dataDir,
    port: 0,
    host: "127.0.0.1",
    demo: false,
    logger: pino({ level: "silent" }),
    // Every load-generator client comes from 127.0.0.1: measure the gateway, not the limiter.
    rateLimit: false,
  });
  try {
    const actions = new OperatorActions(server.exchange, loadServerKey(dataDir).secretBox);
    const keys = await makeClients(actions, CLIENTS);
    log(
      `server ${server.url}; ${CLIENTS} keyed clients; ${PHASE_MS / 1000} s per phase; load ${loadAverage()}`,
    );

    // The ceiling first, same keys, same generator, same connections (bench/api/ceiling.ts).
    const ceilingServer = await startCeilingServer(keys);
    const ceiling = await loadPhase(ceilingServer.url, keys, 0).finally(() => ceilingServer.close());
    const ceilingRequestsPerSecond = ceiling.requests / (ceiling.elapsedMs / 1000);
    const ceilingRow = row("ceiling: bare HMAC", ceiling, ceiling.ordersCreated / (ceiling.elapsedMs / 1000));

    const peak = await profiled(() => loadPhase(server.url, keys, 0));
    const peakOrdersPerSecond = peak.result.ordersCreated / (peak.result.elapsedMs / 1000);
    const peakRequestsPerSecond = peak.result.requests / (peak.result.elapsedMs / 1000);
    const rows: Record<string, unknown>[] = [
      ceilingRow,
      {
        ...row("peak (closed loop)", peak.result, peakOrdersPerSecond),
        ceilingRequestsPerSec: Math.round(ceilingRequestsPerSecond),
        ratioToCeiling: Number((peakRequestsPerSecond / ceilingRequestsPerSecond).toFixed(3)),
      },
    ];
    for (const fraction of [0.25, 0.5, 1]) {
      const result = await loadPhase(server.url, keys, Math.round(peakRequestsPerSecond * fraction));
      rows.push(row(`${fraction * 100} % of peak`, result, result.ordersCreated / (result.elapsedMs / 1000)));
    }
    for (const requestsPerSecond of [5_000, 10_000]) {
      const fixed = await loadPhase(server.url, keys, requestsPerSecond);
      rows.push(
        row(
          `${requestsPerSecond.toLocaleString("en")} req/s`,
          fixed,
          fixed.ordersCreated / (fixed.elapsedMs / 1000),
        ),
      );
    }

    const churnUser = await actions.createUser("bench", {
      email: "bench-churn@bulwark.local",
      password: "bench-password-1",
    });
    await actions.adjustBalance("bench", {
      email: "bench-churn@bulwark.local",
      asset: "USD",
      amount: "100000000",
      reason: "bench",
    });
    const wsUrl = `${server.url.replace(/^http/, "ws")}/v1/public`;
    const fanout = await fanoutPhase(wsUrl, (command) => server.exchange.submit(command), churnUser.userId);
    const delays = summarize(fanout.delaysMs);
    report(rows, peak.top, { ...fanout, delays });
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
}

function row(name: string, result: LoadOutput & LoopDelay, ordersPerSecond: number): Record<string, unknown> {
  const latency = summarize(result.latenciesUs);
  return {
    scenario: "order-entry",
    phase: name,
    durableOrdersPerSec: Math.round(ordersPerSecond),
    requestsPerSec: Math.round(result.requests / (result.elapsedMs / 1000)),
    p50Ms: latency.p50 / 1000,
    p99Ms: latency.p99 / 1000,
    p999Ms: latency.p999 / 1000,
    maxMs: latency.max / 1000,
    errors: result.errors,
    firstError: result.firstError,
    loopP99Ms: result.loopP99Ms,
    loopMaxMs: result.loopMaxMs,
    loadAverage: result.loadAverage,
  };
}

function report(
  rows: Record<string, unknown>[],
  top: TopFunction[],
  fanout: { updates: number; dropped: number; peakRssBytes: number; delays: ReturnType<typeof summarize> },
): void {
  const fanoutRow = {
    scenario: "ws-fanout",
    subscribers: SUBSCRIBERS,
    updatesDelivered: fanout.updates,
    droppedSubscribers: fanout.dropped,
    deliveryP50Ms: fanout.delays.p50,
    deliveryP99Ms: fanout.delays.p99,
    deliveryMaxMs: fanout.delays.max,
    serverRssMb: Math.round(fanout.peakRssBytes / 1024 / 1024),
  };
  if (flags.json) {
    for (const entry of [...rows, fanoutRow]) console.log(JSON.stringify(entry));
    return;
  }
  console.log("\n== order entry: signed order_create + order_cancel, journal fsync on ==");
  console.log(
    "phase                 orders/s   req/s     p50 ms   p99 ms   p99.9 ms   max ms   errors  loop p99/max ms  load after",
  );
  for (const entry of rows) {
    console.log(
      `${String(entry.phase).padEnd(20)} ${String(entry.durableOrdersPerSec).padStart(9)} ${String(entry.requestsPerSec).padStart(7)} ` +
        `${fmt(entry.p50Ms)} ${fmt(entry.p99Ms)} ${fmt(entry.p999Ms)}   ${fmt(entry.maxMs)} ${String(entry.errors).padStart(7)}` +
        `  ${fmt(entry.loopP99Ms)}/${fmt(entry.loopMaxMs).trim().padEnd(7)} ${String(entry.loadAverage)}`,
    );
    if (entry.firstError !== null) console.log(`   first error: ${String(entry.firstError)}`);
  }
  const peakRow = rows.find((entry) => entry.phase === "peak (closed loop)");
  if (peakRow !== undefined)
    console.log(
      `ratio to ceiling: ${String(peakRow.requestsPerSec)} / ${String(peakRow.ceilingRequestsPerSec)} req/s = ` +
        `${((peakRow.ratioToCeiling as number) * 100).toFixed(1)} %`,
    );
  console.log(
    "targets: durable order-entry req/s >= 60 % of the ceiling (same run); p99 <= 5 ms at 5,000 req/s",
  );
  console.log("ceiling: a bare Fastify route that parses the form and verifies HMAC-SHA512, nothing else");
  console.log("loop: the server's event-loop delay (longest stalls) during the phase");
  console.log(`\n== WebSocket fan-out: ${SUBSCRIBERS} subscribers of spot/order_book_updates:${PAIR} ==`);
  console.log(
    `updates delivered ${fanout.updates}, dropped subscribers ${fanout.dropped}, delivery p50 ${fanout.delays.p50} ms, ` +
      `p99 ${fanout.delays.p99} ms, max ${fanout.delays.max} ms, server RSS ${fanoutRow.serverRssMb} MB`,
  );
  console.log("targets: 10,000 subscribers, delivery p99 <= 100 ms, RSS <= 1 GB");
  if (top.length > 0) {
    console.log("\n== where the server's time goes at peak (self time) ==");
    for (const entry of top) console.log(`${entry.selfPercent.toFixed(1).padStart(5)} %  ${entry.name}`);
  }
}

function fmt(value: unknown): string {
  return (typeof value === "number" ? value.toFixed(2) : "-").padStart(8);
}

await main();

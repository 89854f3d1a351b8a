// The socket flood, in its own process: what autocannon does not do.
//   - slowloris: sockets that send a request's headers one line per `trickleMs` and never finish;
//     a cut socket is reopened (the attacker persists). Rejected = cut by the server.
//   - WebSocket connection storm: new public connections at a fixed rate from a few addresses
//     (so the per-address cap bites), each held `lifetimeMs`. Answered = upgraded, rejected = 429
//     at the upgrade, shed = 503, failed = anything else.
//   - WebSocket subscribe storm: connections that each send subscribe frames far past the
//     per-connection message rate; a connection the server closes is reopened. Sent = frames,
//     answered = replies that are not errors, rejected = error frames and closes.

import net from "node:net";
import WebSocket from "ws";
import { commandHeard, sendLine, stopRequested } from "./child.ts";
import { assertLoopbackTarget } from "./loopback.ts";
import { emptyCounters, type FloodCounters, type FloodTarget, type GeneratorLine } from "./protocol.ts";

export interface SocketFloodInput {
  sources: string[];
  slowloris: { sockets: number; trickleMs: number };
  wsStorm: { connectionsPerSecond: number; lifetimeMs: number; sourceCount: number };
  subscribeStorm: { sockets: number; messagesPerSecond: number };
  reportMs: number;
}

const input = JSON.parse(process.argv[2]) as SocketFloodInput;
sendLine({ kind: "ready" } satisfies GeneratorLine);
const floodTarget = JSON.parse(await commandHeard("go")) as FloodTarget;
const target = assertLoopbackTarget(floodTarget.baseUrl);
const port = Number(target.port);
const host = target.hostname.replace(/^\[|\]$/g, "");
const wsUrl = `${target.protocol === "https:" ? "wss" : "ws"}://${target.host}/v1/public`;
/** Bounds on what this process holds open, whatever the options say. */
const MAX_SLOWLORIS_SOCKETS = 5_000;
const MAX_STORM_SOCKETS = 5_000;
const MAX_SUBSCRIBERS = 1_000;
const REOPEN_DELAY_MS = 200;

let running = true;
const slowloris = emptyCounters();
const storm = emptyCounters();
const subscribe = emptyCounters();
const notes = {
  slowlorisOpen: 0,
  slowlorisLongestCutAfterMs: 0,
  slowlorisOldestOpenMs: 0,
  stormOpen: 0,
  subscribeClosedByServer: 0,
};
const slowlorisOpenedAt = new Map<net.Socket, number>();

function source(index: number): string {
  return input.sources[index % input.sources.length];
}

function openSlowloris(index: number): void {
  if (!running || slowlorisOpenedAt.size >= MAX_SLOWLORIS_SOCKETS) return;
  const socket = net.connect({ host, port, localAddress: source(index) });
  let line = 0;
  let trickle: NodeJS.Timeout | null = null;
  let connected = false;
  let answeredOrCut = false;
  socket.on("connect", () => {
    connected = true;
    slowloris.sent += 1;
    slowlorisOpenedAt.set(socket, performance.now());
    socket.write(
      "POST /v1.1/order_create HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n",
    );
    trickle = setInterval(
      () => socket.write(`X-Slow-${line++}: ${"a".repeat(8)}\r\n`),
      input.slowloris.trickleMs,
    );
  });
  socket.on("data", () => {
    // The server answered a request that never finished (408/400): that is a cut too.
    if (!answeredOrCut) slowloris.rejected += 1;
    answeredOrCut = true;
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    if (trickle !== null) clearInterval(trickle);
    const openedAt = slowlorisOpenedAt.get(socket);
    slowlorisOpenedAt.delete(socket);
    if (!connected) slowloris.failed += 1;
    else if (running) {
      if (!answeredOrCut) slowloris.rejected += 1;
      if (openedAt !== undefined)
        notes.slowlorisLongestCutAfterMs = Math.max(
          notes.slowlorisLongestCutAfterMs,
          performance.now() - openedAt,
        );
    }
    if (running) setTimeout(() => openSlowloris(index), REOPEN_DELAY_MS);
  });
}

const stormSockets = new Set<WebSocket>();
let stormIndex = 0;
function openStormConnection(): void {
  if (!running || stormSockets.size >= MAX_STORM_SOCKETS) return;
  storm.sent += 1;
  const ws = new WebSocket(wsUrl, {
    localAddress: source(stormIndex++ % Math.max(1, input.wsStorm.sourceCount)),
    handshakeTimeout: 10_000,
  });
  stormSockets.add(ws);
  let counted = false;
  const count = (outcome: keyof FloodCounters) => {
    if (counted) return;
    counted = true;
    storm[outcome] += 1;
  };
  ws.on("open", () => {
    count("answered");
    setTimeout(() => ws.close(), input.wsStorm.lifetimeMs);
  });
  ws.on("unexpected-response", (request, response) => {
    count(response.statusCode === 429 ? "rejected" : response.statusCode === 503 ? "shed" : "failed");
    request.destroy();
  });
  ws.on("error", () => count("failed"));
  ws.on("close", () => stormSockets.delete(ws));
}

const subscribers = new Set<WebSocket>();
const TOPICS = [
  "spot/trades:BTC_USD",
  "spot/ticker:BTC_USD",
  "spot/order_book_updates:BTC_USD",
  "spot/order_book_snapshots:BTC_USD",
  "spot/trades:NOPE_USD",
];
function openSubscriber(index: number): void {
  if (!running || subscribers.size >= MAX_SUBSCRIBERS) return;
  const ws = new WebSocket(wsUrl, { localAddress: source(index), handshakeTimeout: 10_000 });
  subscribers.add(ws);
  let timer: NodeJS.Timeout | null = null;
  let id = 0;
  ws.on("open", () => {
    timer = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const method = id % 2 === 0 ? "subscribe" : "unsubscribe";
      ws.send(JSON.stringify({ method, id: ++id, topics: [TOPICS[id % TOPICS.length]] }));
      subscribe.sent += 1;
    }, 1000 / input.subscribeStorm.messagesPerSecond);
  });
  ws.on("message", (data: Buffer) => {
    // Only replies to our frames count (market data pushed to a subscription is not an answer).
    const text = data.toString("utf8", 0, Math.min(data.length, 200));
    if (text.includes('"event":"error"')) subscribe.rejected += 1;
    else if (text.includes('"event":"subscribed"') || text.includes('"event":"unsubscribed"'))
      subscribe.answered += 1;
  });
  ws.on("unexpected-response", (request) => {
    subscribe.failed += 1;
    request.destroy();
  });
  ws.on("error", () => {});
  ws.on("close", () => {
    if (timer !== null) clearInterval(timer);
    subscribers.delete(ws);
    if (!running) return;
    notes.subscribeClosedByServer += 1;
    setTimeout(() => openSubscriber(index), REOPEN_DELAY_MS);
  });
}

let lastCpu = process.cpuUsage();
let lastAtMs = performance.now();
function report(final: boolean): void {
  const cpu = process.cpuUsage(lastCpu);
  const nowMs = performance.now();
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / Math.max(1, nowMs - lastAtMs)) * 100;
  lastCpu = process.cpuUsage();
  lastAtMs = nowMs;
  notes.slowlorisOpen = slowlorisOpenedAt.size;
  let oldest = 0;
  for (const openedAt of slowlorisOpenedAt.values()) oldest = Math.max(oldest, nowMs - openedAt);
  notes.slowlorisOldestOpenMs = oldest;
  notes.stormOpen = stormSockets.size;
  const byKind: Record<string, FloodCounters> = {};
  if (input.slowloris.sockets > 0) byKind.slowloris = slowloris;
  if (input.wsStorm.connectionsPerSecond > 0) byKind.wsConnect = storm;
  if (input.subscribeStorm.sockets > 0) byKind.wsSubscribe = subscribe;
  sendLine({
    kind: "counters",
    atMs: Date.now(),
    byKind,
    cpuPercent,
    notes: { ...notes },
    ...(final ? { final: true } : {}),
  } satisfies GeneratorLine);
}

for (let index = 0; index < Math.min(input.slowloris.sockets, MAX_SLOWLORIS_SOCKETS); index++)
  openSlowloris(index);
for (let index = 0; index < Math.min(input.subscribeStorm.sockets, MAX_SUBSCRIBERS); index++)
  openSubscriber(index);
/** Storm connections are opened in batches every STORM_TICK_MS, at the asked rate on average. */
const STORM_TICK_MS = 50;
let stormDue = 0;
const stormTimer =
  input.wsStorm.connectionsPerSecond > 0
    ? setInterval(() => {
        stormDue += (input.wsStorm.connectionsPerSecond * STORM_TICK_MS) / 1000;
        for (; stormDue >= 1; stormDue -= 1) openStormConnection();
      }, STORM_TICK_MS)
    : null;
const reportTimer = setInterval(() => report(false), input.reportMs);

await stopRequested();
running = false;
if (stormTimer !== null) clearInterval(stormTimer);
clearInterval(reportTimer);
report(true);
for (const socket of slowlorisOpenedAt.keys()) socket.destroy();
for (const ws of [...stormSockets, ...subscribers]) ws.terminate();
process.exit(0);

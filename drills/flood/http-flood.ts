// The HTTP flood, in its own process: autocannon instances, one per kind of abuse, each with its
// own connections and offered rate, all from many loopback source addresses.
//
// autocannon opens its sockets with `net.connect(port, host)` and has no source-address option,
// so this process (only this one: it is a load generator) wraps net.connect to give every new
// connection the next address of the list, round robin. Each response is classed from its status
// line and headers alone (no body parsing, so the generator stays cheap): 503 is shed, 429 or an
// EXMO answer carrying Retry-After (40034 comes as HTTP 200 with Retry-After) is rejected,
// anything else answered.

import { randomBytes } from "node:crypto";
import net from "node:net";
import autocannon from "autocannon";
import { commandHeard, sendLine, stopRequested } from "./child.ts";
import { assertLoopbackTarget } from "./loopback.ts";
import { emptyCounters, type FloodCounters, type FloodTarget, type GeneratorLine } from "./protocol.ts";

export type HttpFloodKind = "public" | "junk" | "oversized" | "badSignature";

export interface HttpFloodInput {
  sources: string[];
  kinds: Partial<Record<HttpFloodKind, { connections: number; ratePerSecond: number }>>;
  oversizedBodyBytes: number;
  reportMs: number;
}

const input = JSON.parse(process.argv[2]) as HttpFloodInput;

type Connect = (port: number, host: string) => net.Socket;
const originalConnect = net.connect.bind(net) as (options: net.NetConnectOpts) => net.Socket;
let nextSource = 0;
const sourcedConnect: Connect = (port, host) => {
  assertLoopbackTarget(`http://${host.includes(":") ? `[${host}]` : host}:${port}/`);
  const localAddress = input.sources[nextSource++ % input.sources.length];
  return originalConnect({ port, host, localAddress });
};
(net as unknown as { connect: Connect }).connect = sourcedConnect;

function randomKeyId(): string {
  return `K-${randomBytes(20).toString("hex")}`;
}

function requestsOf(kind: HttpFloodKind): autocannon.Request[] {
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const nowSeconds = Math.floor(Date.now() / 1000);
  switch (kind) {
    case "public":
      return [
        { method: "GET", path: "/v1.1/ticker" },
        { method: "GET", path: "/v1.1/order_book?pair=BTC_USD&limit=100" },
        { method: "GET", path: "/v1.1/trades?pair=BTC_USD" },
        {
          method: "GET",
          path: `/v1.1/candles_history?symbol=BTC_USD&resolution=1&from=${nowSeconds - 86_400}&to=${nowSeconds}`,
        },
      ];
    case "junk":
      return [
        { method: "GET", path: "/wp-login.php" },
        { method: "GET", path: "/v1.1/does_not_exist" },
        { method: "POST", path: "/.env", headers: form, body: "a=b" },
        { method: "GET", path: `/${randomBytes(8).toString("hex")}/${"x".repeat(200)}` },
      ];
    case "oversized": {
      const body = `nonce=1&pair=BTC_USD&quantity=1&price=1&type=buy&pad=${"a".repeat(input.oversizedBodyBytes)}`;
      return [
        {
          method: "POST",
          path: "/v1.1/order_create",
          headers: { ...form, key: randomKeyId(), sign: "00".repeat(64) },
          body,
        },
      ];
    }
    case "badSignature": {
      const keyIds = [...floodTarget.knownKeyIds, randomKeyId(), randomKeyId()];
      return keyIds.flatMap((keyId) => [
        {
          method: "POST",
          path: "/v1.1/user_info",
          headers: { ...form, key: keyId, sign: randomBytes(64).toString("hex") },
          body: "nonce=1",
        },
        {
          method: "POST",
          path: "/v1.1/order_create",
          headers: { ...form, key: keyId, sign: randomBytes(64).toString("hex") },
          body: "nonce=2&pair=BTC_USD&quantity=0.001&price=50000&type=buy",
        },
      ]);
    }
  }
}

/** The class of an answer from autocannon's parsed status line and raw header list. */
function classOf(parsed: unknown): "answered" | "rejected" | "shed" {
  const { statusCode, headers } = parsed as { statusCode?: number; headers?: unknown[] };
  if (statusCode === 503) return "shed";
  if (statusCode === 429) return "rejected";
  if (Array.isArray(headers))
    for (let index = 0; index < headers.length; index += 2)
      if (String(headers[index]).toLowerCase() === "retry-after") return "rejected";
  return "answered";
}

const counters: Record<string, FloodCounters> = {};
const instances: autocannon.Instance[] = [];
sendLine({ kind: "ready" } satisfies GeneratorLine);
const floodTarget = JSON.parse(await commandHeard("go")) as FloodTarget;
const target = assertLoopbackTarget(floodTarget.baseUrl);
/**
 * autocannon paces a rate per connection per second: each connection sends its second's quota
 * as soon as the second starts. Connections created together would all burst at the same
 * instant, once a second — a generator artifact, not the flood's shape. So each kind runs as
 * SLICES instances started 1000 / SLICES ms apart: the same total rate in smaller bursts spread
 * over the second.
 */
const SLICES = 10;

function startSlice(
  kind: HttpFloodKind,
  connections: number,
  ratePerSecond: number,
  count: FloodCounters,
): void {
  const instance = autocannon(
    {
      url: `${target.protocol}//${target.host}`,
      connections,
      overallRate: ratePerSecond,
      duration: 3_600,
      timeout: 10,
      requests: requestsOf(kind),
      setupClient(typedClient) {
        // The typings list three of the client's events, and "headers" with the wrong argument
        // (it is the parser's { statusCode, headers: [name, value, …] }): use it as an emitter.
        const client = typedClient as unknown as NodeJS.EventEmitter;
        let pending: "answered" | "rejected" | "shed" = "answered";
        client.on("request", () => {
          count.sent += 1;
        });
        client.on("headers", (parsed: unknown) => {
          pending = classOf(parsed);
        });
        client.on("response", () => {
          count[pending] += 1;
        });
        client.on("timeout", () => {
          count.failed += 1;
        });
        client.on("connError", () => {
          count.failed += 1;
        });
      },
    },
    () => {},
  );
  // A generator's own errors (none expected) must not end the drill's flood silently.
  instance.on("error", (error: unknown) => process.stderr.write(`http flood ${kind}: ${String(error)}\n`));
  instances.push(instance);
}

let stopping = false;
const sliceTimers: NodeJS.Timeout[] = [];
for (const [kind, shape] of Object.entries(input.kinds) as [
  HttpFloodKind,
  { connections: number; ratePerSecond: number },
][]) {
  if (shape.connections <= 0 || shape.ratePerSecond <= 0) continue;
  const count = emptyCounters();
  counters[kind] = count;
  const slices = Math.max(1, Math.min(SLICES, shape.connections));
  for (let slice = 0; slice < slices; slice++) {
    // Connections and rate split evenly; the first slices take the remainders.
    const connections = Math.floor(shape.connections / slices) + (slice < shape.connections % slices ? 1 : 0);
    const rate = Math.floor(shape.ratePerSecond / slices) + (slice < shape.ratePerSecond % slices ? 1 : 0);
    if (rate <= 0) continue;
    sliceTimers.push(
      setTimeout(
        () => {
          if (!stopping) startSlice(kind, connections, rate, count);
        },
        (slice * 1000) / slices,
      ),
    );
  }
}

let lastCpu = process.cpuUsage();
let lastAtMs = performance.now();
function report(final: boolean): void {
  const cpu = process.cpuUsage(lastCpu);
  const nowMs = performance.now();
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / Math.max(1, nowMs - lastAtMs)) * 100;
  lastCpu = process.cpuUsage();
  lastAtMs = nowMs;
  sendLine({
    kind: "counters",
    atMs: Date.now(),
    byKind: counters,
    cpuPercent,
    notes: {},
    ...(final ? { final: true } : {}),
  } satisfies GeneratorLine);
}

const timer = setInterval(() => report(false), input.reportMs);
await stopRequested();
stopping = true;
for (const sliceTimer of sliceTimers) clearTimeout(sliceTimer);
clearInterval(timer);
for (const instance of instances) instance.stop();
report(true);
// autocannon's own timers and sockets would keep the process up a little longer.
process.exit(0);

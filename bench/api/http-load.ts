// Load generator for `npm run bench:api`, run as a child process so it does not share the
// server's event loop. Each virtual client owns one API key and one keep-alive socket and sends
// signed order_create then order_cancel in turn (a key's nonces must increase, so a client never
// has two requests in flight). Input: JSON in argv[2]. Output: one JSON line on stdout.

import { createHmac } from "node:crypto";
import { Agent, request } from "node:http";

interface LoadInput {
  baseUrl: string;
  keys: { keyId: string; secret: string }[];
  durationMs: number;
  /** 0: closed loop (as fast as answers come); else total order_create+cancel requests per second. */
  targetRequestsPerSecond: number;
  /** Price of the resting buy orders, as the EXMO decimal string. */
  price: string;
  quantity: string;
  pair: string;
}

interface LoadOutput {
  requests: number;
  ordersCreated: number;
  errors: number;
  firstError: string | null;
  latenciesUs: number[];
  elapsedMs: number;
}

const input = JSON.parse(process.argv[2]) as LoadInput;
const agent = new Agent({ keepAlive: true, maxSockets: input.keys.length });
const url = new URL(input.baseUrl);
/** Latency samples kept: enough for p99.9, bounded memory. */
const MAX_SAMPLES = 2_000_000;

function post(path: string, body: string, key: { keyId: string; secret: string }): Promise<string> {
  const sign = createHmac("sha512", key.secret).update(body).digest("hex");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: "POST",
        path: `/v1.1/${path}`,
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "content-length": Buffer.byteLength(body),
          key: key.keyId,
          sign,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        response.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function runClient(
  key: { keyId: string; secret: string },
  clientIndex: number,
  deadlineMs: number,
  intervalMs: number,
  output: LoadOutput,
): Promise<void> {
  // Nonces: milliseconds, as ccxt sends them (a nonce more than a day ahead of the server's clock
  // is refused), and strictly increasing within this key even at several requests a millisecond.
  let nonce = Date.now();
  const nextNonce = () => {
    nonce = Math.max(nonce + 1, Date.now());
    return nonce;
  };
  let nextSendMs = performance.now() + (intervalMs * clientIndex) / input.keys.length;
  while (performance.now() < deadlineMs) {
    if (intervalMs > 0) {
      const waitMs = nextSendMs - performance.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      nextSendMs += intervalMs * 2;
    }
    const create = `nonce=${nextNonce()}&pair=${input.pair}&quantity=${input.quantity}&price=${input.price}&type=buy`;
    const createdText = await timed(() => post("order_create", create, key), output);
    const created = JSON.parse(createdText) as { result?: boolean; order_id?: number; error?: string };
    if (created.result !== true || created.order_id === undefined) {
      noteError(output, createdText);
      continue;
    }
    output.ordersCreated += 1;
    const cancel = `nonce=${nextNonce()}&order_id=${created.order_id}`;
    const cancelText = await timed(() => post("order_cancel", cancel, key), output);
    if (!cancelText.includes('"result":true')) noteError(output, cancelText);
  }
}

function noteError(output: LoadOutput, text: string): void {
  output.errors += 1;
  output.firstError ??= text.slice(0, 200);
}

async function timed(send: () => Promise<string>, output: LoadOutput): Promise<string> {
  const startNs = process.hrtime.bigint();
  const text = await send();
  const us = Number(process.hrtime.bigint() - startNs) / 1000;
  output.requests += 1;
  if (output.latenciesUs.length < MAX_SAMPLES) output.latenciesUs.push(us);
  return text;
}

async function main(): Promise<void> {
  const output: LoadOutput = {
    requests: 0,
    ordersCreated: 0,
    errors: 0,
    firstError: null,
    latenciesUs: [],
    elapsedMs: 0,
  };
  // Each client sends 2 requests per cycle; spread the target rate evenly over the clients.
  const perClientRate = input.targetRequestsPerSecond / input.keys.length;
  const intervalMs = input.targetRequestsPerSecond > 0 ? 1000 / perClientRate : 0;
  const startMs = performance.now();
  const deadlineMs = startMs + input.durationMs;
  await Promise.all(input.keys.map((key, index) => runClient(key, index, deadlineMs, intervalMs, output)));
  output.elapsedMs = performance.now() - startMs;
  agent.destroy();
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

await main();

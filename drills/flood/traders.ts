// The well-behaved clients: each owns one API key and one keep-alive connection from its own
// loopback address, and trades in cycles at a fixed pace well under the rate limit: a resting
// limit buy (order_create) then its cancel (order_cancel); every CROSS_EVERY-th cycle a buy that
// crosses the spread and fills against the maker's asks instead (no cancel). Requests of one key
// are sequential (its nonces must increase). Every request is recorded with its latency and how
// it ended; every acknowledged order id is kept for the check that nothing acknowledged is lost.

import { createHmac } from "node:crypto";
import { Agent, request } from "node:http";
import { assertLoopbackTarget, traderAddress } from "./loopback.ts";
import { BOOK, type TraderKey } from "./protocol.ts";

export type Outcome = "ok" | "rejected" | "shed" | "error" | "failed";

export interface TradeRecord {
  /** ms since the drill's start. */
  atMs: number;
  trader: number;
  kind: "create" | "cancel";
  latencyMs: number;
  outcome: Outcome;
}

export interface AckedOrder {
  trader: number;
  orderId: string;
  atMs: number;
  filledExpected: boolean;
}

/** Records kept at most (a long drill at the default pace stays far below). */
const MAX_RECORDS = 500_000;
const CROSS_EVERY = 5;
const REQUEST_TIMEOUT_MS = 10_000;

export interface ExmoAnswer {
  status: number;
  retryAfter: boolean;
  body: string;
}

/** A signed EXMO v1.1 request from `localAddress` (HMAC-SHA512 of the form body, Key/Sign headers). */
export function signedPost(
  baseUrl: URL,
  agent: Agent,
  localAddress: string,
  key: TraderKey,
  path: string,
  body: string,
): Promise<ExmoAnswer> {
  const sign = createHmac("sha512", key.secret).update(body).digest("hex");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: baseUrl.hostname,
        port: baseUrl.port,
        localAddress,
        method: "POST",
        path: `/v1.1/${path}`,
        timeout: REQUEST_TIMEOUT_MS,
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
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            retryAfter: response.headers["retry-after"] !== undefined,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        response.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}

/** How an EXMO answer ended, from the trader's side. */
export function outcomeOf(answer: ExmoAnswer): Outcome {
  if (answer.status === 503) return "shed";
  if (answer.status === 429 || answer.body.includes("40034")) return "rejected";
  if (answer.status !== 200) return "error";
  return answer.body.includes('"result":false') || answer.body.includes('"error":"Error') ? "error" : "ok";
}

export interface TraderFleet {
  records: TradeRecord[];
  acked: AckedOrder[];
  /** First error text of each kind seen (a few), to show what went wrong. */
  errorSamples: string[];
  stop(): Promise<void>;
  /** The keys, agents and addresses, for the verification reads afterwards. */
  clients: { key: TraderKey; agent: Agent; address: string; nextNonce: () => number }[];
}

/**
 * Starts `keys.length` traders, each doing `cyclesPerSecond` create(+cancel) cycles (so about
 * twice that in requests per second), until stopped. `now` gives ms since the drill's start.
 */
export function startTraders(
  baseUrl: string,
  keys: readonly TraderKey[],
  cyclesPerSecond: number,
  now: () => number,
): TraderFleet {
  const url = assertLoopbackTarget(baseUrl);
  const records: TradeRecord[] = [];
  const acked: AckedOrder[] = [];
  const errorSamples: string[] = [];
  let running = true;
  let wake: () => void = () => {};
  /** Resolves on stop, so a trader waiting for its next cycle stops at once. */
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const clients = keys.map((key, index) => {
    // Milliseconds, strictly increasing: the server refuses a nonce a day ahead of its clock.
    let nonce = 0;
    return {
      key,
      agent: new Agent({ keepAlive: true, maxSockets: 1 }),
      address: traderAddress(index),
      nextNonce: () => {
        nonce = Math.max(nonce + 1, Date.now());
        return nonce;
      },
    };
  });
  const intervalMs = 1000 / cyclesPerSecond;

  async function timed(
    trader: number,
    kind: TradeRecord["kind"],
    path: string,
    body: string,
  ): Promise<{ outcome: Outcome; body: string }> {
    const client = clients[trader];
    const startMs = now();
    let outcome: Outcome;
    let text = "";
    try {
      const answer = await signedPost(url, client.agent, client.address, client.key, path, body);
      outcome = outcomeOf(answer);
      text = answer.body;
    } catch (error) {
      outcome = "failed";
      text = String(error);
    }
    if (records.length < MAX_RECORDS)
      records.push({ atMs: startMs, trader, kind, latencyMs: now() - startMs, outcome });
    if (outcome !== "ok" && errorSamples.length < 10)
      errorSamples.push(`${kind} ${outcome}: ${text.slice(0, 160)}`);
    return { outcome, body: text };
  }

  async function run(trader: number): Promise<void> {
    const client = clients[trader];
    let cycle = 0;
    // Spread the traders' cycles over one interval so they do not arrive together.
    let nextMs = now() + (intervalMs * trader) / clients.length;
    while (running) {
      const waitMs = nextMs - now();
      if (waitMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, waitMs))), stopped]);
        clearTimeout(timer);
      }
      if (!running) break;
      nextMs += intervalMs;
      cycle += 1;
      const crosses = cycle % CROSS_EVERY === 0;
      // Resting buys sit below the maker's bids; a crossing buy takes 0.001 BTC from the best asks.
      const priceTicks = crosses
        ? BOOK.midTicks + 5 * BOOK.levelStepTicks
        : BOOK.midTicks - (BOOK.levels + 1 + (cycle % 20)) * BOOK.levelStepTicks;
      const price = (priceTicks / 100).toFixed(2);
      const create = `nonce=${client.nextNonce()}&pair=BTC_USD&quantity=0.001&price=${price}&type=buy`;
      const created = await timed(trader, "create", "order_create", create);
      if (created.outcome !== "ok") continue;
      const orderId = /"order_id":"?(\d+)/.exec(created.body)?.[1];
      if (orderId === undefined) continue;
      if (acked.length < MAX_RECORDS) acked.push({ trader, orderId, atMs: now(), filledExpected: crosses });
      if (crosses || !running) continue;
      await timed(trader, "cancel", "order_cancel", `nonce=${client.nextNonce()}&order_id=${orderId}`);
    }
  }

  const loops = clients.map((_, index) => run(index));
  return {
    records,
    acked,
    errorSamples,
    clients,
    async stop() {
      running = false;
      wake();
      await Promise.all(loops);
    },
  };
}

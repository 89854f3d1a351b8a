// After the flood: is every order the exchange acknowledged still known to it? Each trader asks
// with its own key, as a client would: user_open_orders, user_cancelled_orders and user_trades
// (paged). An acknowledged order id that is in none of the three is lost. The reads go through
// the store, which the gateway brings up to the core's acknowledged sequence before answering.

import { assertLoopbackTarget } from "./loopback.ts";
import type { AckedOrder, TraderFleet } from "./traders.ts";
import { outcomeOf, signedPost } from "./traders.ts";

const PAGE = 1_000;
/** Pages read per list at most (1,000,000 orders: far past any drill). */
const MAX_PAGES = 1_000;
const MAX_ATTEMPTS = 20;

export interface VerifyResult {
  acked: number;
  found: { open: number; cancelled: number; filled: number };
  lost: string[];
}

type Client = TraderFleet["clients"][number];

async function read(baseUrl: URL, client: Client, path: string, params: string): Promise<unknown> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const body = `nonce=${client.nextNonce()}${params === "" ? "" : `&${params}`}`;
    const answer = await signedPost(baseUrl, client.agent, client.address, client.key, path, body);
    const outcome = outcomeOf(answer);
    if (outcome === "ok") return JSON.parse(answer.body) as unknown;
    if (outcome !== "rejected" && outcome !== "shed")
      throw new Error(`${path}: ${answer.status} ${answer.body.slice(0, 200)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${path}: still refused after ${MAX_ATTEMPTS} attempts`);
}

function orderIdsOf(rows: unknown): string[] {
  if (!Array.isArray(rows)) return [];
  return rows.flatMap((row) => {
    const id = (row as { order_id?: unknown }).order_id;
    return id === undefined ? [] : [String(id)];
  });
}

async function pagedIds(
  baseUrl: URL,
  client: Client,
  path: string,
  extra: string,
  rowsOf: (answer: unknown) => unknown,
): Promise<string[]> {
  const ids: string[] = [];
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await read(baseUrl, client, path, `${extra}limit=${PAGE}&offset=${page * PAGE}`);
    const rows = rowsOf(answer);
    ids.push(...orderIdsOf(rows));
    if (!Array.isArray(rows) || rows.length < PAGE) break;
  }
  return ids;
}

export async function verifyAcknowledged(
  baseUrl: string,
  clients: readonly Client[],
  acked: readonly AckedOrder[],
): Promise<VerifyResult> {
  const url = assertLoopbackTarget(baseUrl);
  const open = new Set<string>();
  const cancelled = new Set<string>();
  const filled = new Set<string>();
  for (const client of clients) {
    const openAnswer = (await read(url, client, "user_open_orders", "")) as Record<string, unknown>;
    for (const rows of Object.values(openAnswer)) for (const id of orderIdsOf(rows)) open.add(id);
    for (const id of await pagedIds(url, client, "user_cancelled_orders", "", (answer) => answer))
      cancelled.add(id);
    const trades = await pagedIds(
      url,
      client,
      "user_trades",
      "pair=BTC_USD&",
      (answer) => (answer as Record<string, unknown>).BTC_USD,
    );
    for (const id of trades) filled.add(id);
  }
  const found = { open: 0, cancelled: 0, filled: 0 };
  const lost: string[] = [];
  for (const order of acked) {
    if (open.has(order.orderId)) found.open += 1;
    else if (cancelled.has(order.orderId)) found.cancelled += 1;
    else if (filled.has(order.orderId)) found.filled += 1;
    else lost.push(order.orderId);
  }
  return { acked: acked.length, found, lost };
}

// kill -9 under order-entry load, through the whole server (issue 10 §1): signed order_create
// requests from several keys over HTTP, the server SIGKILLed mid-load, restarted on the same data
// dir. Every order the gateway acknowledged (answered with an order id) must be in the core
// afterwards, and every acknowledged signed request, replayed byte for byte, must be refused with
// 40009: the nonce was journaled with the order, not kept in memory or in the store.
// Runs in `npm run test:full` (BULWARK_TEST_FULL=1; ~15 s a round, past npm test's budget) with
// API_CRASH_KILLS rounds, default 3; the journal-level crash test (crash.test.ts) is in npm test.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { signRestBody } from "../../src/gateway/auth/signature.ts";
import { Prng } from "../../src/lib/prng.ts";

const FULL = process.env.BULWARK_TEST_FULL === "1";
const KILLS = Number(process.env.API_CRASH_KILLS ?? 3);
const CLIENTS = 8;
const CHILD = join(import.meta.dirname, "api-crash-child.ts");
const START_TIMEOUT_MS = 60_000;

interface Key {
  keyId: string;
  secret: string;
}
interface Child {
  process: ChildProcess;
  url: string;
  keys: Key[] | undefined;
}
/** An acknowledged order_create: what was sent, and the id it got. */
interface Acked {
  key: Key;
  body: string;
  orderId: number;
}

const dataDir = mkdtempSync(join(tmpdir(), "bulwark-api-crash-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

function startChild(keyCount: number): Promise<Child> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dataDir, String(keyCount)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server child did not start")), START_TIMEOUT_MS);
    child.on("exit", (code) => reject(new Error(`server child exited with ${code}`)));
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      const parsed = JSON.parse(line) as { url: string; keys?: Key[] };
      resolve({ process: child, url: parsed.url, keys: parsed.keys });
    });
  });
}

async function post(url: string, path: string, key: Key, body: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/v1.1/${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      key: key.keyId,
      sign: signRestBody(key.secret, body),
    },
    body,
  });
  return (await response.json()) as Record<string, unknown>;
}

/** One client: sequential signed order_create until the server dies; records what was acknowledged. */
async function runClient(url: string, key: Key, acked: Acked[], rng: Prng): Promise<void> {
  let nonce = Date.now();
  for (;;) {
    nonce = Math.max(nonce + 1, Date.now());
    const price = rng.int(20_000, 30_000);
    const body = `nonce=${nonce}&pair=BTC_USD&quantity=0.001&price=${price}&type=buy`;
    let answer: Record<string, unknown>;
    try {
      answer = await post(url, "order_create", key, body);
    } catch {
      return; // the server was killed: this request was never acknowledged
    }
    if (answer.result !== true) throw new Error(`order refused: ${JSON.stringify(answer)}`);
    acked.push({ key, body, orderId: Number(answer.order_id) });
  }
}

async function openOrderIds(url: string, key: Key): Promise<Set<number>> {
  const ids = new Set<number>();
  const body = `nonce=${Date.now() + 5_000}&limit=10000`;
  const answer = (await post(url, "user_open_orders", key, body)) as Record<string, { order_id: string }[]>;
  for (const orders of Object.values(answer))
    if (Array.isArray(orders)) for (const order of orders) ids.add(Number(order.order_id));
  return ids;
}

describe.skipIf(!FULL)("kill -9 under signed order-entry load", () => {
  it(`loses no acknowledged order and no nonce (${KILLS} kill${KILLS === 1 ? "" : "s"})`, async () => {
    const rng = new Prng(20261129);
    let child = await startChild(CLIENTS);
    const keys = child.keys!;
    const acked: Acked[] = [];
    for (let round = 0; round < KILLS; round++) {
      const clients = keys.map((key) => runClient(child.url, key, acked, rng));
      await new Promise((resolve) => setTimeout(resolve, rng.int(800, 2_000)));
      const ackedBeforeKill = acked.length;
      child.process.kill("SIGKILL");
      await Promise.all(clients);
      expect(ackedBeforeKill).toBeGreaterThan(0);
      child = await startChild(0);
    }
    // Every acknowledged order is in the restarted core (all are resting buys far below any ask).
    const open = new Set<number>();
    for (const id of await openOrderIds(child.url, keys[0])) open.add(id);
    expect(open.size).toBeGreaterThanOrEqual(acked.length);
    const lost = acked.filter((entry) => !open.has(entry.orderId));
    expect(lost.map((entry) => entry.orderId)).toEqual([]);
    // Every acknowledged request, replayed byte for byte, is refused: its nonce survived too.
    const sample = [...keys.map((key) => acked.filter((entry) => entry.key === key).at(-1))].filter(
      (entry): entry is Acked => entry !== undefined,
    );
    for (let index = 0; index < 5 && acked.length > 0; index++) sample.push(rng.pick(acked));
    for (const entry of sample) {
      const replay = await post(child.url, "order_create", entry.key, entry.body);
      expect(replay.result).toBe(false);
      expect(String(replay.error)).toMatch(/^Error 40009:/);
    }
    const afterReplays = await openOrderIds(child.url, keys[0]);
    expect(afterReplays.size).toBe(open.size);
  }, 180_000);
});

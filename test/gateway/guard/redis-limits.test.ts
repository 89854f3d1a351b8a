// Counters shared in a real Redis (src/gateway/guard/rate-limit.ts, `redisUrl`): two gateways'
// limiters with the same prefix share one budget and one ban; with Redis unreachable, or stopped
// under a running limiter, the in-memory insurance still limits.
//
// Needs redis-server: the shared Redis at BULWARK_TEST_REDIS_URL (default redis://127.0.0.1:6379,
// which .ci/run starts), and a private redis-server on a free port that the test stops itself.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  type AdmitDecision,
  type RateLimitOptions,
  RequestRateLimiter,
} from "../../../src/gateway/guard/rate-limit.ts";

const REDIS_URL = process.env.BULWARK_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const limiters: RequestRateLimiter[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const made of limiters.splice(0)) await made.close();
});
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

/** A limiter whose Redis connection is ready (or has failed, when `expect` is "error"). */
async function connected(
  options: RateLimitOptions,
  expectState: "ready" | "error" = "ready",
): Promise<RequestRateLimiter> {
  let resolveState: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    resolveState = resolve;
  });
  const made = new RequestRateLimiter({
    ...options,
    onRedisState: (state) => {
      if (state === expectState) resolveState();
    },
  });
  limiters.push(made);
  await withTimeout(reached, 5_000, `Redis state ${expectState}`);
  return made;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function admitted(count: number, admit: () => Promise<AdmitDecision>): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < count; i++) out.push((await admit()).admitted);
  return out;
}

const trues = (n: number) => new Array<boolean>(n).fill(true);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Unique per run: parallel runs and leftovers never share counters. */
const prefix = () => `bulwark-test-${process.pid}-${randomBytes(4).toString("hex")}`;

describe("counters in Redis", () => {
  it("two gateways with one prefix share an address's budget", async () => {
    const shared = { redisUrl: REDIS_URL, redisKeyPrefix: prefix(), requestsPerSecond: 1, burst: 10 };
    const [a, b] = [await connected(shared), await connected(shared)];
    expect(a.shared).toBe(true);
    const ip = "203.0.113.10";
    expect(await admitted(6, () => a.admitAddress(ip, "general"))).toEqual(trues(6));
    expect(await admitted(5, () => b.admitAddress(ip, "general"))).toEqual([...trues(4), false]);
    expect((await a.admitAddress(ip, "general")).admitted).toBe(false);
    // Another prefix is another deployment: its own counters.
    const other = await connected({ ...shared, redisKeyPrefix: prefix() });
    expect((await other.admitAddress(ip, "general")).admitted).toBe(true);
  });

  it("a ban issued by one gateway is enforced by the other until lifted", async () => {
    const shared = {
      redisUrl: REDIS_URL,
      redisKeyPrefix: prefix(),
      requestsPerSecond: 1,
      burst: 2,
      bans: { refusalsBeforeBan: 1 },
    };
    const [a, b] = [await connected(shared), await connected(shared)];
    const ip = "203.0.113.11";
    await admitted(2, () => a.admitAddress(ip, "general"));
    await a.admitAddress(ip, "general");
    const banning = await a.admitAddress(ip, "general");
    expect(banning).toMatchObject({ admitted: false, reason: "banned", retryAfterSeconds: 60 });
    const elsewhere = await b.admitAddress(ip, "general");
    expect(elsewhere.admitted).toBe(false);
    if (!elsewhere.admitted) expect(elsewhere.retryAfterSeconds).toBeGreaterThan(50);
    expect(await a.lift("ip", ip)).toBe(true);
    expect((await b.admitAddress(ip, "general")).admitted).toBe(true);
  });
});

describe("Redis outage: the memory insurance limits", () => {
  it("with nothing listening at the Redis address, requests are still limited", async () => {
    const port = await freePort();
    const limit = await connected(
      { redisUrl: `redis://127.0.0.1:${port}`, redisKeyPrefix: prefix(), requestsPerSecond: 1, burst: 5 },
      "error",
    );
    const started = performance.now();
    expect(await admitted(6, () => limit.admitAddress("203.0.113.12", "general"))).toEqual([
      ...trues(5),
      false,
    ]);
    // No request waited for a reconnect.
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("when Redis stops under a running limiter, memory takes over", async () => {
    const port = await freePort();
    const server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    );
    children.push(server);
    const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
    const limit = await connected({
      redisUrl: `redis://127.0.0.1:${port}`,
      redisKeyPrefix: prefix(),
      requestsPerSecond: 1,
      burst: 5,
    });
    const ip = "203.0.113.13";
    expect(await admitted(3, () => limit.admitAddress(ip, "general"))).toEqual(trues(3));
    server.kill("SIGKILL");
    await exited;
    // The next commands fail at once (no offline queue): the insurance counts from here.
    expect(await admitted(6, () => limit.admitAddress(ip, "general"))).toEqual([...trues(5), false]);
  });
});

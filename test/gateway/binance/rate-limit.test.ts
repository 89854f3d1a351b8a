// The flood guard on the Binance dialect's signed reads (src/gateway/http/server.ts makeGuard,
// src/gateway/binance/mount.ts): a request with X-MBX-APIKEY and a `signature` query parameter is
// charged to its key (and, once the key has proven itself, its user) exactly like an EXMO signed
// one, in the same buckets, and a request whose signature is not the key's gets the key's points
// back, so knowing a key id is not enough to lock its owner out.
//
// Budgets as in test/gateway/rest/rate-limit.test.ts: the defaults' burst of 20 points over a
// 20 s window, so no window ends mid-test; clients come from distinct loopback addresses.

import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, sealApiSecret } from "../../../src/accounts/api-keys.ts";
import { signRestBody } from "../../../src/gateway/auth/signature.ts";
import { signBinancePayload } from "../../../src/gateway/binance/auth.ts";
import { DEFAULT_RATE_LIMIT } from "../../../src/gateway/guard/rate-limit.ts";
import { createApiKey } from "../../../src/store/accounts.ts";
import { createTrader, type Harness, nextNonce, startHarness, type Trader } from "../support/rest-harness.ts";

interface Answer {
  status: number;
  retryAfter: string | undefined;
  usedWeight: string | string[] | undefined;
  body: Record<string, unknown>;
}

let harness: Harness;
let port = 0;
let nextAddress = 10;
/** A loopback address no earlier test used: a client with fresh budgets. */
const freshAddress = () => `127.0.1.${nextAddress++}`;

const BURST = DEFAULT_RATE_LIMIT.burst;
/** /api/v3/account's weight (guard/route-costs.ts). */
const ACCOUNT_POINTS = 2;

function send(
  from: string,
  method: "GET" | "POST",
  path: string,
  body: string,
  headers = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: "127.0.0.1", port, localAddress: from, method, path, agent: false, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
          } catch {
            parsed = {};
          }
          const retryAfter = response.headers["retry-after"];
          const usedWeight = response.headers["x-mbx-used-weight-1m"];
          resolve({ status: response.statusCode ?? 0, retryAfter, usedWeight, body: parsed });
        });
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

/** GET /api/v3/account signed as ccxt signs it; `secret` other than the key's forges it. */
function binanceAccount(from: string, trader: Trader, secret = trader.secret): Promise<Answer> {
  const unsigned = `timestamp=${Date.now()}`;
  const query = `${unsigned}&signature=${signBinancePayload(secret, unsigned)}`;
  return send(from, "GET", `/api/v3/account?${query}`, "", { "x-mbx-apikey": trader.keyId });
}

function exmoUserInfo(from: string, trader: Trader): Promise<Answer> {
  const body = `nonce=${nextNonce()}`;
  return send(from, "POST", "/v1.1/user_info", body, {
    "content-type": "application/x-www-form-urlencoded",
    key: trader.keyId,
    sign: signRestBody(trader.secret, body),
  });
}

/** Another API key of `trader`'s user. */
async function secondKey(trader: Trader): Promise<Trader> {
  const { keyId, secret } = generateApiKey();
  await createApiKey(harness.exchange.internals.store.db, {
    keyId,
    userId: trader.userId,
    secretCiphertext: sealApiSecret(harness.secretBox, keyId, secret),
    scopes: ["info", "trade"],
    ipAllowList: [],
    createdMs: Date.now(),
  });
  return { userId: trader.userId, keyId, secret };
}

async function burst(count: number, sendOne: () => Promise<Answer>): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < count; i++) answers.push(await sendOne());
  return answers;
}

const servedAccount = (answer: Answer, trader: Trader) =>
  answer.status === 200 && answer.body.uid === trader.userId;

function expectBinanceRateLimited(answer: Answer): void {
  expect(answer.status).toBe(429);
  expect(answer.body.code).toBe(-1003);
  expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
}

beforeAll(async () => {
  harness = await startHarness({
    rateLimit: {
      requestsPerSecond: 1,
      burst: BURST,
      cancel: { requestsPerSecond: 10, burst: 100 },
      health: { requestsPerSecond: 1, burst: 100 },
      bans: { refusalsBeforeBan: 3 },
    },
  });
  port = Number(new URL(harness.baseUrl).port);
});
afterAll(async () => {
  await harness?.close();
});

describe("Binance signed requests and the per-key budget", () => {
  it("one key's requests from two addresses share the key's budget", async () => {
    const trader = await createTrader(harness);
    const [a, b, c] = [freshAddress(), freshAddress(), freshAddress()];
    const half = BURST / ACCOUNT_POINTS / 2;
    const served = [
      ...(await burst(half, () => binanceAccount(a, trader))),
      ...(await burst(half, () => binanceAccount(b, trader))),
    ];
    expect(served.every((answer) => servedAccount(answer, trader))).toBe(true);
    // Address c has spent nothing: the key's budget refuses it.
    expectBinanceRateLimited(await binanceAccount(c, trader));
    // c's own budget is intact: another key from it is served.
    const other = await createTrader(harness);
    expect(servedAccount(await binanceAccount(c, other), other)).toBe(true);
  });

  it("a write signed in its body (as ccxt signs order POSTs) is charged to its key too", async () => {
    const trader = await createTrader(harness, { funds: { USD: "1000" } });
    const [a, b] = [freshAddress(), freshAddress()];
    // order/test weighs 1 and places nothing; its parameters and signature travel in the body.
    const orderTest = (from: string) => {
      const unsigned = `symbol=BTCUSD&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=30000&timestamp=${Date.now()}`;
      const body = `${unsigned}&signature=${signBinancePayload(trader.secret, unsigned)}`;
      return send(from, "POST", "/api/v3/order/test", body, {
        "content-type": "application/x-www-form-urlencoded",
        "x-mbx-apikey": trader.keyId,
      });
    };
    const served = await burst(BURST, () => orderTest(a));
    expect(served.every((answer) => answer.status === 200)).toBe(true);
    // b has spent nothing; the key's budget refuses it.
    expectBinanceRateLimited(await orderTest(b));
  });

  it("EXMO and Binance requests with the same key spend one budget", async () => {
    const trader = await createTrader(harness);
    const [a, b, c] = [freshAddress(), freshAddress(), freshAddress()];
    const exmo = await burst(BURST / 2, () => exmoUserInfo(a, trader));
    expect(exmo.every((answer) => answer.body.uid === trader.userId)).toBe(true);
    const binance = await burst(BURST / 2 / ACCOUNT_POINTS, () => binanceAccount(b, trader));
    expect(binance.every((answer) => servedAccount(answer, trader))).toBe(true);
    expectBinanceRateLimited(await binanceAccount(c, trader));
    const refusedExmo = await exmoUserInfo(c, trader);
    expect(refusedExmo.body.error).toMatch(/^Error 40034: /);
  });

  it("bad signatures on someone's key id cost the sender's address, not the key's owner", async () => {
    const victim = await createTrader(harness);
    const flooder = freshAddress();
    const forgedSecret = `S-${"0".repeat(64)}`;
    const forged = await burst(BURST / ACCOUNT_POINTS + 2, () =>
      binanceAccount(flooder, victim, forgedSecret),
    );
    const signatureRefusals = forged.slice(0, BURST / ACCOUNT_POINTS);
    expect(signatureRefusals.every((answer) => answer.body.code === -1022)).toBe(true);
    // The flooder's address ran out, not the key.
    for (const answer of forged.slice(BURST / ACCOUNT_POINTS)) expectBinanceRateLimited(answer);
    // The owner, from its own address, has the key's whole budget, in either dialect.
    const owner = freshAddress();
    const own = await burst(BURST / ACCOUNT_POINTS / 2, () => binanceAccount(owner, victim));
    expect(own.every((answer) => servedAccount(answer, victim))).toBe(true);
    const ownExmo = await burst(BURST / 2, () => exmoUserInfo(freshAddress(), victim));
    expect(ownExmo.every((answer) => answer.body.uid === victim.userId)).toBe(true);
  });

  it("a key proven through Binance charges its user: two keys of one user share the user's budget", async () => {
    const first = await createTrader(harness);
    const second = await secondKey(first);
    // Each key proves itself once (the gateway learns its user): 2 points on the first key, 1 on
    // the second, none on the user yet.
    expect(servedAccount(await binanceAccount(freshAddress(), first), first)).toBe(true);
    expect((await exmoUserInfo(freshAddress(), second)).body.uid).toBe(first.userId);
    // The user's 20 points: 10 through Binance with the first key, 10 through EXMO with the second.
    const [a, b, c] = [freshAddress(), freshAddress(), freshAddress()];
    const binance = await burst(BURST / 2 / ACCOUNT_POINTS, () => binanceAccount(a, first));
    expect(binance.every((answer) => servedAccount(answer, first))).toBe(true);
    const exmo = await burst(BURST / 2, () => exmoUserInfo(b, second));
    expect(exmo.every((answer) => answer.body.uid === first.userId)).toBe(true);
    // Neither key has spent its own 20 points: the user's budget refuses both.
    expect((await exmoUserInfo(c, second)).body.error).toMatch(/^Error 40034: /);
    expectBinanceRateLimited(await binanceAccount(c, first));
  });
});

describe("Binance weight headers and bans", () => {
  it("reports the address's used weight this minute, and answers a ban with 418 + -1003", async () => {
    const from = freshAddress();
    // exchangeInfo weighs 2 (guard/route-costs.ts): the header counts up by it.
    const first = await send(from, "GET", "/api/v3/exchangeInfo", "");
    expect(first.status).toBe(200);
    expect(first.usedWeight).toBe("2");
    const second = await send(from, "GET", "/api/v3/exchangeInfo", "");
    expect(second.usedWeight).toBe("4");
    // Past the burst the limit refuses (429); three refusals earn a ban (bans: refusalsBeforeBan 3),
    // answered 418 from then on, each with Retry-After.
    const answers = await burst(BURST, () => send(from, "GET", "/api/v3/exchangeInfo", ""));
    const limited = answers.filter((answer) => answer.status === 429);
    const banned = answers.filter((answer) => answer.status === 418);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(banned.length).toBeGreaterThanOrEqual(1);
    for (const answer of banned) {
      expect(answer.body.code).toBe(-1003);
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    // The last answers are all bans.
    expect(answers.at(-1)?.status).toBe(418);
  });
});

// The Binance Spot API v3 signed reads (src/gateway/binance/auth.ts, signed-routes.ts): a stock
// ccxt 4.5.84 `binance` with a Bulwark API key loads markets (fetchCurrencies and the margin lists
// included) and fetches the balance, and raw requests show every refusal in Binance's shape,
// changing nothing.

import ccxt from "ccxt-current";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CurrencyTerms, CustodyPort } from "../../../src/custody/port.ts";
import { signBinancePayload } from "../../../src/gateway/binance/auth.ts";
import {
  binanceRestUrls,
  createTrader,
  type Harness,
  type RawResponse,
  readResponse,
  signedPost,
  startHarness,
  type Trader,
} from "../support/rest-harness.ts";

let harness: Harness;
let trader: Trader;

// A custody double serving BTC only: USD has no chain, so deposits and withdrawals are off for it.
const custody = {
  terms: (): CurrencyTerms[] => [
    {
      currency: "BTC",
      chain: "devnet-btc",
      network: "BTC",
      confirmations: 2,
      depositEnabled: true,
      withdrawEnabled: false,
      minDeposit: "0.0001",
      minWithdraw: "0.001",
      maxWithdraw: "5",
      withdrawFee: "0.0005",
    },
  ],
} as unknown as CustodyPort;

function binanceClient(keys: { apiKey: string; secret: string }) {
  const base = harness.baseUrl;
  return new ccxt.binance({
    ...keys,
    rateLimit: 5,
    urls: {
      api: binanceRestUrls(base),
    },
  });
}

/** GET `path` with `query` signed as ccxt signs it (signature last); `sign: false` leaves it unsigned. */
async function signedGet(
  path: string,
  options: {
    key?: string | null;
    secret?: string;
    query?: Record<string, string>;
    timestampMs?: number | null;
    rawQuery?: string;
  } = {},
): Promise<RawResponse> {
  const params = new URLSearchParams(options.query ?? {});
  if (options.timestampMs !== null) params.set("timestamp", String(options.timestampMs ?? Date.now()));
  const unsigned = params.toString();
  const query =
    options.rawQuery ??
    `${unsigned}&signature=${signBinancePayload(options.secret ?? trader.secret, unsigned)}`;
  const key = options.key === undefined ? trader.keyId : options.key;
  const headers: Record<string, string> = key === null ? {} : { "X-MBX-APIKEY": key };
  return readResponse(await fetch(`${harness.baseUrl}${path}?${query}`, { headers }));
}

beforeAll(async () => {
  harness = await startHarness({ custody });
  trader = await createTrader(harness, { funds: { USD: "1000.5", BTC: "0.25" } });
  // A resting buy holds 400 USD.
  const placed = await signedPost(harness, trader, "order_create", {
    pair: "BTC_USD",
    quantity: "0.01",
    price: "40000",
    type: "buy",
  });
  expect((placed.body as { result: boolean }).result).toBe(true);
});

afterAll(async () => {
  await harness?.close();
});

describe("ccxt binance with API keys", () => {
  it("loads markets and currencies, and fetches the balance", async () => {
    const client = binanceClient({ apiKey: trader.keyId, secret: trader.secret });
    const markets = await client.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual(["BTC/USD", "BTC/USDT", "ETH/BTC", "ETH/USD"]);
    // fetchCurrencies ran against /sapi/v1/capital/config/getall.
    const btc = client.currencies.BTC;
    expect(btc?.name).toBe("Bitcoin");
    expect(btc?.networks.BTC?.deposit).toBe(true);
    expect(btc?.networks.BTC?.withdraw).toBe(false);
    expect(btc?.networks.BTC?.fee).toBe(0.0005);
    expect(btc?.networks.BTC?.limits.withdraw).toEqual({ min: 0.001, max: 5 });
    expect(btc?.networks.BTC?.precision).toBe(0.00000001);
    expect(client.currencies.USD?.networks).toEqual({});
    const balance = await client.fetchBalance();
    expect(balance.BTC).toEqual({ free: 0.25, used: 0, total: 0.25 });
    expect(balance.USD).toEqual({ free: 600.5, used: 400, total: 1000.5 });
    expect(balance.ETH).toEqual({ free: 0, used: 0, total: 0 });
  });
});

describe("signed endpoints over raw HTTP", () => {
  it("answer the account in Binance's shape", async () => {
    const answer = await signedGet("/api/v3/account", { query: { omitZeroBalances: "true" } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      makerCommission: expect.any(Number),
      canTrade: true,
      canWithdraw: false,
      canDeposit: true,
      accountType: "SPOT",
      permissions: ["SPOT"],
      uid: trader.userId,
      balances: [
        { asset: "BTC", free: "0.25000000", locked: "0.00000000" },
        { asset: "USD", free: "600.50000000", locked: "400.00000000" },
      ],
    });
    const pairs = await signedGet("/sapi/v1/margin/allPairs");
    expect(pairs.body).toEqual([]);
  });

  it("refuse bad signatures, stale or future timestamps, wide windows and unknown keys, changing nothing", async () => {
    const before = harness.exchange.status().lastSequence;
    const account = (await signedGet("/api/v3/account")).text;
    const expectRefusal = (answer: RawResponse, status: number, code: number, msg: string) => {
      expect(answer.status).toBe(status);
      expect(answer.body).toEqual({ code, msg });
    };
    const badSignature = "Signature for this request is not valid.";
    const outsideWindow = "Timestamp for this request is outside of the recvWindow.";
    const rejectedKey = "Invalid API-key, IP, or permissions for action.";
    expectRefusal(await signedGet("/api/v3/account", { secret: "not-the-secret" }), 400, -1022, badSignature);
    const nowMs = Date.now();
    const unsigned = `timestamp=${nowMs}`;
    const signature = signBinancePayload(trader.secret, unsigned);
    // The signature must be the last parameter.
    expectRefusal(
      await signedGet("/api/v3/account", { rawQuery: `signature=${signature}&${unsigned}` }),
      400,
      -1022,
      badSignature,
    );
    // A parameter added after signing.
    expectRefusal(
      await signedGet("/api/v3/account", {
        rawQuery: `${unsigned}&omitZeroBalances=true&signature=${signature}`,
      }),
      400,
      -1022,
      badSignature,
    );
    expectRefusal(
      await signedGet("/api/v3/account", { timestampMs: nowMs - 6_000 }),
      400,
      -1021,
      outsideWindow,
    );
    expectRefusal(
      await signedGet("/api/v3/account", { timestampMs: nowMs + 5_000 }),
      400,
      -1021,
      outsideWindow,
    );
    // The same age inside a wider window is served.
    const wide = await signedGet("/api/v3/account", {
      timestampMs: nowMs - 6_000,
      query: { recvWindow: "10000" },
    });
    expect(wide.status).toBe(200);
    expectRefusal(
      await signedGet("/api/v3/account", { query: { recvWindow: "60001" } }),
      400,
      -1131,
      "recvWindow must be less than 60000",
    );
    expectRefusal(
      await signedGet("/api/v3/account", { timestampMs: null }),
      400,
      -1102,
      "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
    );
    expectRefusal(
      await signedGet("/api/v3/account", { rawQuery: unsigned }),
      400,
      -1102,
      "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
    );
    expectRefusal(
      await signedGet("/api/v3/account", { rawQuery: `timestamp=soon&signature=${signature}` }),
      400,
      -1100,
      "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'.",
    );
    expectRefusal(
      await signedGet("/api/v3/account", { key: `K-${"a".repeat(40)}` }),
      401,
      -2015,
      rejectedKey,
    );
    const badFormat = "API-key format invalid.";
    expectRefusal(await signedGet("/api/v3/account", { key: "a".repeat(40) }), 401, -2014, badFormat);
    expectRefusal(await signedGet("/api/v3/account", { key: null }), 401, -2014, badFormat);
    expectRefusal(
      await signedGet("/sapi/v1/capital/config/getall", { secret: "not-the-secret" }),
      400,
      -1022,
      badSignature,
    );
    // Nothing was journaled, and the account reads as it did.
    expect(harness.exchange.status().lastSequence).toBe(before);
    const after = JSON.parse((await signedGet("/api/v3/account")).text);
    expect({ ...after, updateTime: 0 }).toEqual({ ...JSON.parse(account), updateTime: 0 });
  });

  it("refuse a key without the info scope, outside its IP allow-list, revoked, or of a frozen user", async () => {
    const rejected = { code: -2015, msg: "Invalid API-key, IP, or permissions for action." };
    const tradeOnly = await createTrader(harness, { scopes: ["trade"] });
    const elsewhere = await createTrader(harness, { ipAllowList: ["10.1.2.3"] });
    const frozen = await createTrader(harness);
    const revoked = await createTrader(harness);
    expect((await signedGet("/api/v3/account", { key: frozen.keyId, secret: frozen.secret })).status).toBe(
      200,
    );
    await harness.exchange.accounts.setUserStatus(frozen.userId, "frozen");
    await harness.exchange.accounts.revokeApiKey(revoked.keyId, Date.now());
    for (const caller of [tradeOnly, elsewhere, frozen, revoked]) {
      const answer = await signedGet("/api/v3/account", { key: caller.keyId, secret: caller.secret });
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual(rejected);
    }
  });
});

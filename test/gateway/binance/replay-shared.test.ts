// A signed Binance write is accepted once across gateways that share the flood guard's Redis
// (src/gateway/binance/replay-guard.ts acceptShared, RequestRateLimiter.claimOnce): a captured
// request replayed to a second gateway inside its window is refused there too.

import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signBinancePayload } from "../../../src/gateway/binance/auth.ts";
import { createGateway, type Gateway } from "../../../src/gateway/http/server.ts";
import {
  createTrader,
  type Harness,
  readResponse,
  startHarness,
  type Trader,
  UNREACHABLE_RATE_LIMIT,
} from "../support/rest-harness.ts";

const shared = {
  ...UNREACHABLE_RATE_LIMIT,
  redisUrl: "redis://127.0.0.1:6379",
  redisKeyPrefix: `replay-test-${randomBytes(4).toString("hex")}`,
};
let harness: Harness;
let second: Gateway;
let secondUrl: string;
let trader: Trader;

beforeAll(async () => {
  harness = await startHarness({ rateLimit: shared });
  second = createGateway(harness.exchange, {
    secretBox: harness.secretBox,
    logger: pino({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
    defaultMetrics: false,
    rateLimit: shared,
  });
  secondUrl = `http://127.0.0.1:${(await second.listen()).port}`;
  trader = await createTrader(harness, { funds: { USD: "1000" } });
  // Both limiters' Redis connections are up before the first write (a write before that is
  // checked against this gateway's memory only).
  await new Promise((resolve) => setTimeout(resolve, 300));
});

afterAll(async () => {
  await second?.close();
  await harness?.close();
});

describe("signed Binance writes across gateways sharing Redis", () => {
  it("a write replayed to another gateway inside its window is refused and places nothing", async () => {
    const unsigned = `symbol=BTCUSD&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000&newOrderRespType=ACK&timestamp=${Date.now()}`;
    const query = `${unsigned}&signature=${signBinancePayload(trader.secret, unsigned)}`;
    const send = async (base: string) =>
      readResponse(
        await fetch(`${base}/api/v3/order?${query}`, {
          method: "POST",
          headers: { "X-MBX-APIKEY": trader.keyId },
        }),
      );
    const placed = await send(harness.baseUrl);
    expect(placed.status).toBe(200);
    const after = harness.exchange.status().lastSequence;
    const replayed = await send(secondUrl);
    expect(replayed.status).toBe(400);
    expect((replayed.body as { code: number }).code).toBe(-1021);
    expect(harness.exchange.status().lastSequence).toBe(after);
  });
});

// Property tests of the form parser and auth through the real HTTP stack, and the operational
// routes: /health, /metrics (guard classes included), /openapi.json listing every route, /docs.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRestBody } from "../../../src/gateway/auth/signature.ts";
import { stateApartFromNonces } from "../../support/core-state.ts";
import {
  createTrader,
  type Harness,
  nextNonce,
  postRaw,
  publicGet,
  type RawResponse,
  startHarness,
  type Trader,
} from "../support/rest-harness.ts";

const PRIVATE_PATHS = [
  "user_info",
  "order_create",
  "order_cancel",
  "stop_market_order_create",
  "stop_market_order_cancel",
  "user_open_orders",
  "user_trades",
  "user_cancelled_orders",
  "order_trades",
  "deposit_address",
  "withdraw_crypt",
  "withdraw_get_txid",
  "wallet_history",
  "wallet_operations",
  "margin/pair/list",
];
const PUBLIC_PATHS = [
  "pair_settings",
  "currency/list/extended",
  "payments/providers/crypto/list",
  "currency",
  "ticker",
  "order_book",
  "trades",
  "candles_history",
  "required_amount",
];
const FIELD_NAMES = [
  "pair",
  "quantity",
  "price",
  "type",
  "exec_type",
  "client_id",
  "order_id",
  "parent_order_id",
  "trigger_price",
  "limit",
  "offset",
  "symbol",
  "resolution",
  "from",
  "to",
  "amount",
  "currency",
  "address",
  "date",
];

let harness: Harness;
/** A trader with no money: any order it manages to place is refused for funds, so nothing moves. */
let broke: Trader;

beforeAll(async () => {
  harness = await startHarness();
  broke = await createTrader(harness);
});
afterAll(async () => {
  await harness.close();
});

/** Either an EXMO error body, or a success body that carries no top-level error (docs/API.md#errors). */
function expectWellFormed(response: RawResponse): void {
  expect([200, 413]).toContain(response.status);
  const body = response.body as Record<string, unknown> | unknown[] | null;
  expect(body).not.toBeNull();
  if (!Array.isArray(body) && body !== null && body.result === false)
    expect(body.error).toMatch(/^Error \d{5,6}: [\x20-\x7e]+$/);
  else if (!Array.isArray(body) && body !== null && "error" in body) expect(body.result).toBe(true);
}

const fieldValue = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.constantFrom(
    "BTC_USD",
    "ETH_BTC",
    "0",
    "0.001",
    "64000",
    "buy",
    "sell",
    "market_buy_total",
    "post_only",
    "-1",
    "1e9",
  ),
  fc.stringMatching(/^[0-9]{1,20}(\.[0-9]{0,12})?$/),
);
const formBody = fc
  .dictionary(fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 8 })), fieldValue, {
    maxKeys: 10,
  })
  .map((fields) => new URLSearchParams(fields).toString());
const rawBody = fc.oneof(
  formBody,
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
);

describe("fuzzed form bodies through the real HTTP stack", () => {
  it("unsigned or wrongly signed bodies to any endpoint change nothing and answer EXMO's format", async () => {
    const hash = stateApartFromNonces(harness.exchange.internals.core);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PRIVATE_PATHS, ...PUBLIC_PATHS),
        rawBody,
        fc.boolean(),
        async (path, body, withKey) => {
          const headers: Record<string, string> = withKey ? { key: broke.keyId, sign: "ab".repeat(64) } : {};
          expectWellFormed(await postRaw(harness, `/v1.1/${path}`, body, headers));
        },
      ),
      { numRuns: 150 },
    );
    expect(stateApartFromNonces(harness.exchange.internals.core)).toBe(hash);
  });

  it("signed fuzzed bodies from a trader without money never fail the server or move money", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PRIVATE_PATHS), formBody, async (path, fields) => {
        const body = fields === "" ? `nonce=${nextNonce()}` : `nonce=${nextNonce()}&${fields}`;
        const response = await postRaw(harness, `/v1.1/${path}`, body, {
          key: broke.keyId,
          sign: signRestBody(broke.secret, body),
        });
        expectWellFormed(response);
      }),
      { numRuns: 150 },
    );
    for (const asset of harness.exchange.assets())
      expect(harness.exchange.internals.core.balance(broke.userId, asset.assetId)).toEqual({
        availableUnits: 0,
        heldUnits: 0,
      });
    expect(harness.exchange.internals.core.checkInvariants()).toBeUndefined();
  });
});

describe("operational routes", () => {
  it("/health reports every component", async () => {
    const response = await publicGet(harness, "/health");
    expect(response.status).toBe(200);
    const report = response.body as { status: string; components: Record<string, Record<string, unknown>> };
    expect(report.status).toBe("ok");
    expect(Object.keys(report.components).sort()).toEqual([
      "core",
      "journal",
      "marketData",
      "projector",
      "sequencer",
      "store",
    ]);
    expect(report.components.core.lastSequence).toBe(harness.exchange.internals.core.lastSequence);
    expect(report.components.store.reachable).toBe(true);
    expect(report.components.marketData.markets).toBe(4);
  });

  it("/metrics counts requests by route and result, the guard's classes, queue depth and projector lag", async () => {
    await publicGet(harness, "/v1.1/ticker");
    await publicGet(harness, "/v1.1/order_book");
    const text = (await publicGet(harness, "/metrics")).text;
    expect(text).toMatch(
      /bulwark_http_requests_total\{route="\/v1\.1\/ticker",method="GET",result="ok",priority="publicData"\} \d+/,
    );
    expect(text).toMatch(
      /bulwark_http_requests_total\{route="\/v1\.1\/order_book",method="GET",result="50013",priority="publicData"\} 1/,
    );
    expect(text).toMatch(/bulwark_guard_requests_total\{priority="privateRead"\} \d+/);
    expect(text).toMatch(/bulwark_guard_requests_total\{priority="orderEntry"\} \d+/);
    expect(text).toMatch(/bulwark_sequencer_queue_depth \d+/);
    expect(text).toMatch(/bulwark_projector_lag_events \d+/);
    expect(text).toMatch(/bulwark_http_request_duration_seconds_bucket/);
    // Every request went through the guard: its count is the finished requests plus this one.
    const total = (name: string) =>
      [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, "gm"))].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      );
    expect(total("bulwark_guard_requests_total")).toBe(total("bulwark_http_requests_total") + 1);
    expect(total("bulwark_http_requests_total")).toBeGreaterThan(300);
  });

  it("/openapi.json lists every route with its priority class, and /docs renders it without scripts", async () => {
    const document = (await publicGet(harness, "/openapi.json")).body as {
      paths: Record<string, Record<string, { "x-priority-class": string }>>;
    };
    const paths = Object.keys(document.paths);
    for (const path of [...PUBLIC_PATHS, ...PRIVATE_PATHS]) expect(paths).toContain(`/v1.1/${path}`);
    for (const path of ["/health", "/metrics", "/openapi.json", "/docs"]) expect(paths).toContain(path);
    expect(document.paths["/v1.1/order_cancel"].post["x-priority-class"]).toBe("cancel");
    expect(document.paths["/v1.1/order_create"].post["x-priority-class"]).toBe("orderEntry");
    expect(document.paths["/v1.1/ticker"].get["x-priority-class"]).toBe("publicData");
    const docs = await fetch(`${harness.baseUrl}/docs`);
    expect(docs.headers.get("content-type")).toContain("text/html");
    const html = await docs.text();
    expect(html).toContain("/v1.1/stop_market_order_create");
    expect(html).not.toContain("<script");
  });
});

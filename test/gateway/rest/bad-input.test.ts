// Bad input for every endpoint: malformed, missing, out-of-range, too precise, oversized,
// duplicated and unauthenticated requests get EXMO's error body with the right code and change
// nothing (the core's state hash, balances and the key's nonce stay as they were).

import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revokeApiKey, setUserStatus } from "../../../src/store/accounts.ts";
import { coreNonce, stateApartFromNonces } from "../../support/core-state.ts";
import {
  createTrader,
  type Harness,
  nextNonce,
  postRaw,
  publicGet,
  type RawResponse,
  signedPost,
  startHarness,
  type Trader,
} from "../support/rest-harness.ts";

function codeOf(response: RawResponse): number | "ok" {
  const body = response.body as { result?: unknown; error?: unknown } | null;
  if (body !== null && body.result === false && typeof body.error === "string") {
    const match = /^Error (\d+): /.exec(body.error);
    if (match === null) throw new Error(`malformed error body ${response.text}`);
    return Number(match[1]);
  }
  return "ok";
}

let harness: Harness;
let trader: Trader;
let restingOrderId: string;

beforeAll(async () => {
  harness = await startHarness();
  trader = await createTrader(harness, { funds: { USD: "1000", BTC: "1" } });
  const placed = await signedPost(harness, trader, "order_create", {
    pair: "BTC_USD",
    quantity: "0.001",
    price: "50000",
    type: "buy",
  });
  restingOrderId = String((placed.body as { order_id: number }).order_id);
});
afterAll(async () => {
  await harness.close();
});

/** Runs `send`, expects EXMO code `code`, and that the core did not change at all. */
async function expectRefusedUnchanged<T extends RawResponse>(
  send: () => Promise<T>,
  code: number,
): Promise<T> {
  const before = stateApartFromNonces(harness.exchange.internals.core);
  const response = await send();
  expect(codeOf(response), response.text).toBe(code);
  expect(stateApartFromNonces(harness.exchange.internals.core)).toBe(before);
  return response;
}

const PUBLIC_CASES: ReadonlyArray<[string, number]> = [
  ["/v1.1/order_book", 50013],
  ["/v1.1/order_book?pair=BTC_USD&limit=0", 59001],
  ["/v1.1/order_book?pair=BTC_USD&limit=1001", 59001],
  ["/v1.1/order_book?pair=BTC_USD&limit=1e2", 59001],
  ["/v1.1/order_book?pair=BTC_USD&pair=ETH_USD", 59001],
  [`/v1.1/order_book?pair=${Array(65).fill("BTC_USD").join(",")}`, 59001],
  ["/v1.1/order_book?pair=BTC_USD,,ETH_USD", 59001],
  ["/v1.1/trades", 50013],
  ["/v1.1/trades?pair=BTC_USD&limit=-1", 59001],
  ["/v1.1/candles_history?resolution=60&from=1&to=2", 50013],
  ["/v1.1/candles_history?symbol=BTC_USD&from=1&to=2", 50013],
  ["/v1.1/candles_history?symbol=BTC_USD&resolution=7&from=1&to=2", 59001],
  ["/v1.1/candles_history?symbol=BTC_USD&resolution=60&from=5&to=2", 59001],
  ["/v1.1/candles_history?symbol=BTC_USD&resolution=60&from=x&to=2", 59001],
  ["/v1.1/candles_history?symbol=BTC_USD&resolution=1&from=0&to=1795490945", 59016],
  ["/v1.1/required_amount?pair=BTC_USD", 50013],
  ["/v1.1/required_amount?pair=NOPE_USD&quantity=1", 59003],
  ["/v1.1/required_amount?pair=BTC_USD&quantity=0.00001", 50381],
  ["/v1.1/required_amount?pair=BTC_USD&quantity=0", 50277],
  ["/v1.1/required_amount?pair=BTC_USD&quantity=0.001", 59008],
  ["/v1.1/nope", 40015],
  ["/v1.1/margin/user/order/create", 40015],
  ["/v1.1/excode_create", 40015],
  ["/v1.1/user_info", 40015],
  ["/somewhere/else", 40015],
];

describe("public endpoints refuse bad input with EXMO errors", () => {
  it.each(PUBLIC_CASES)("GET %s → %i", async (url, code) => {
    await expectRefusedUnchanged(() => publicGet(harness, url), code);
  });

  it("leaves unknown pairs out instead of failing, and tolerates a trailing slash", async () => {
    expect((await publicGet(harness, "/v1.1/order_book/?pair=NOPE_USD")).body).toEqual({});
    expect((await publicGet(harness, "/v1.1/trades?pair=NOPE_USD")).body).toEqual({});
    const candles = await publicGet(harness, "/v1.1/candles_history?symbol=NOPE&resolution=D&from=1&to=2");
    expect(candles.body).toEqual({ candles: [] });
  });

  it("answers public POST with form parameters like GET", async () => {
    const response = await postRaw(harness, "/v1.1/order_book", "pair=BTC_USD&limit=1");
    expect(Object.keys(response.body as object)).toEqual(["BTC_USD"]);
  });
});

type Fields = Record<string, string>;

const ORDER: Fields = { pair: "BTC_USD", quantity: "0.001", price: "40000", type: "buy" };

const PRIVATE_CASES: ReadonlyArray<[string, string, Fields, number]> = [
  ["order_create", "no pair", { quantity: "1", price: "1", type: "buy" }, 50013],
  ["order_create", "no quantity", { pair: "BTC_USD", price: "40000", type: "buy" }, 50013],
  ["order_create", "no type", { pair: "BTC_USD", quantity: "0.001", price: "40000" }, 50013],
  ["order_create", "limit without price", { pair: "BTC_USD", quantity: "0.001", type: "buy" }, 50013],
  ["order_create", "unknown type", { ...ORDER, type: "limit_buy" }, 59001],
  ["order_create", "exponent quantity", { ...ORDER, quantity: "1e-3" }, 59001],
  ["order_create", "negative quantity", { ...ORDER, quantity: "-0.001" }, 59001],
  ["order_create", "quantity off the lot", { ...ORDER, quantity: "0.00015" }, 50381],
  ["order_create", "price off the tick", { ...ORDER, price: "40000.001" }, 50381],
  ["order_create", "price below min", { ...ORDER, price: "0.5" }, 50319],
  ["order_create", "price above max", { ...ORDER, price: "2000000" }, 50321],
  ["order_create", "huge price", { ...ORDER, price: "9".repeat(39) }, 50321],
  ["order_create", "zero quantity", { ...ORDER, quantity: "0" }, 50277],
  ["order_create", "quantity above max", { ...ORDER, quantity: "1001" }, 50277],
  ["order_create", "amount below min", { ...ORDER, quantity: "0.0001", price: "1" }, 50277],
  ["order_create", "overlong value", { ...ORDER, quantity: "1".repeat(41) }, 59001],
  ["order_create", "negative client id", { ...ORDER, client_id: "-1" }, 59001],
  [
    "order_create",
    "exec_type on market",
    { ...ORDER, price: "0", type: "market_buy", exec_type: "ioc" },
    59001,
  ],
  ["order_create", "unknown exec_type", { ...ORDER, exec_type: "gtd" }, 59001],
  ["order_create", "unknown pair", { ...ORDER, pair: "DOGE_USD" }, 59003],
  [
    "order_create",
    "total below min amount",
    { pair: "BTC_USD", quantity: "0.5", price: "0", type: "market_buy_total" },
    50277,
  ],
  ["order_cancel", "no order_id", {}, 50013],
  ["order_cancel", "order_id not a number", { order_id: "abc" }, 59001],
  ["order_cancel", "order_id zero", { order_id: "0" }, 59001],
  ["stop_market_order_create", "no trigger", { pair: "BTC_USD", quantity: "0.001", type: "sell" }, 50013],
  [
    "stop_market_order_create",
    "market type",
    { pair: "BTC_USD", quantity: "0.001", type: "market_sell", trigger_price: "1" },
    59001,
  ],
  [
    "stop_market_order_create",
    "trigger off tick",
    { pair: "BTC_USD", quantity: "0.001", type: "sell", trigger_price: "1.001" },
    50381,
  ],
  ["stop_market_order_cancel", "no parent id", {}, 50013],
  ["user_open_orders", "unknown pair", { pair: "NOPE_USD" }, 59003],
  ["user_trades", "no pair", {}, 50013],
  ["user_trades", "limit zero", { pair: "BTC_USD", limit: "0" }, 59001],
  ["user_trades", "limit too big", { pair: "BTC_USD", limit: "1001" }, 59001],
  ["user_trades", "offset too big", { pair: "BTC_USD", offset: "10001" }, 59001],
  ["user_trades", "unknown pair", { pair: "BTC_USD,NOPE_USD" }, 59003],
  ["user_cancelled_orders", "limit not a number", { limit: "ten" }, 59001],
  ["order_trades", "no order_id", {}, 50013],
  ["order_trades", "unknown order", { order_id: "987654" }, 50304],
  ["deposit_address", "custody not available", {}, 59014],
  ["deposit_address", "custody not available, one currency", { currency: "BTC" }, 59014],
  ["deposit_address", "unknown currency", { currency: "DOGE" }, 59005],
  ["deposit_address", "currency too long", { currency: "B".repeat(17) }, 59001],
  ["wallet_history", "date not a number", { date: "yesterday" }, 59001],
  ["wallet_history", "date negative", { date: "-1" }, 59001],
  ["wallet_history", "date after 2100", { date: "4102444801" }, 59001],
  ["wallet_history", "date in milliseconds past 2100", { date: "1795490945000" }, 59001],
  ["wallet_operations", "unknown type", { type: "transfer" }, 59001],
  ["wallet_operations", "type spelled as in history", { type: "withdrawal" }, 59001],
  ["wallet_operations", "unknown currency", { currency: "DOGE" }, 59005],
  ["wallet_operations", "unknown provider", { provider: "Qiwi" }, 59001],
  ["wallet_operations", "limit zero", { limit: "0" }, 59001],
  ["wallet_operations", "limit above 100", { limit: "101" }, 59001],
  ["wallet_operations", "offset too big", { offset: "10001" }, 59001],
  ["wallet_operations", "offset not a number", { offset: "1e3" }, 59001],
  ["wallet_operations", "order_id zero", { order_id: "0" }, 59001],
  ["wallet_operations", "order_id not a number", { order_id: "abc" }, 59001],
  ["duplicate field", "pair twice", {}, 59001],
];

describe("private endpoints refuse bad input with EXMO errors and change nothing", () => {
  it.each(PRIVATE_CASES.filter(([path]) => path !== "duplicate field"))(
    "%s: %s",
    async (path, _what, fields, code) => {
      await expectRefusedUnchanged(() => signedPost(harness, trader, path, fields), code);
    },
  );

  it("refuses a field given twice, even when signed", async () => {
    const body = `nonce=${nextNonce()}&pair=BTC_USD&pair=ETH_USD&quantity=0.001&price=40000&type=buy`;
    const { signRestBody } = await import("../../../src/gateway/auth/signature.ts");
    await expectRefusedUnchanged(
      () =>
        postRaw(harness, "/v1.1/order_create", body, {
          key: trader.keyId,
          sign: signRestBody(trader.secret, body),
        }),
      59001,
    );
  });

  it("core rejections (insufficient funds, post-only, unfilled order, someone else's order) leave balances alone", async () => {
    const other = await createTrader(harness, { funds: { USD: "10" } });
    const core = harness.exchange.internals.core;
    const before = JSON.stringify([core.balance(trader.userId, 4), core.balance(other.userId, 4)]);
    expect(codeOf(await signedPost(harness, other, "order_create", { ...ORDER, quantity: "1" }))).toBe(50052);
    expect(codeOf(await signedPost(harness, other, "order_cancel", { order_id: restingOrderId }))).toBe(
      50173,
    );
    expect(codeOf(await signedPost(harness, other, "order_trades", { order_id: restingOrderId }))).toBe(
      50304,
    );
    expect(codeOf(await signedPost(harness, trader, "order_trades", { order_id: restingOrderId }))).toBe(
      50304,
    );
    expect(
      codeOf(
        await signedPost(harness, trader, "stop_market_order_cancel", { parent_order_id: restingOrderId }),
      ),
    ).toBe(50173);
    expect(JSON.stringify([core.balance(trader.userId, 4), core.balance(other.userId, 4)])).toBe(before);
    expect(core.checkInvariants()).toBeUndefined();
  });

  it("withdraw_crypt validates, then says custody is not available (this gateway has none); withdraw_get_txid validates and finds only real withdrawals", async () => {
    const withdrawer = await createTrader(harness, {
      scopes: ["info", "withdraw"],
      ipAllowList: ["127.0.0.1"],
    });
    const valid = { amount: "0.5", currency: "BTC", address: "bc1qexampleaddress", transport: "BTC" };
    await expectRefusedUnchanged(() => signedPost(harness, withdrawer, "withdraw_crypt", valid), 59014);
    await expectRefusedUnchanged(
      () => signedPost(harness, withdrawer, "withdraw_crypt", { ...valid, amount: "x" }),
      59001,
    );
    await expectRefusedUnchanged(
      () => signedPost(harness, withdrawer, "withdraw_crypt", { ...valid, amount: "0.000000001" }),
      50381,
    );
    await expectRefusedUnchanged(
      () => signedPost(harness, withdrawer, "withdraw_crypt", { ...valid, currency: "DOGE" }),
      59005,
    );
    await expectRefusedUnchanged(
      () => signedPost(harness, withdrawer, "withdraw_crypt", { ...valid, address: "a b" }),
      59001,
    );
    for (const amount of ["0", "-1", "1e-3", " 1", "0x1"])
      await expectRefusedUnchanged(
        () => signedPost(harness, withdrawer, "withdraw_crypt", { ...valid, amount }),
        59001,
      );
    await expectRefusedUnchanged(
      () => signedPost(harness, withdrawer, "withdraw_crypt", { ...valid, amount: "1".repeat(20) }),
      59025,
    );
    await expectRefusedUnchanged(
      () => signedPost(harness, withdrawer, "withdraw_crypt", { ...valid, address: "a,1" }),
      59001,
    );
    // Without custody, a well-formed request with a memo or another network is still 59014.
    await expectRefusedUnchanged(
      () => signedPost(harness, withdrawer, "withdraw_crypt", { ...valid, invoice: "1", transport: "TRC20" }),
      59014,
    );
    await expectRefusedUnchanged(
      () => signedPost(harness, withdrawer, "withdraw_get_txid", { task_id: "1" }),
      59022,
    );
    await expectRefusedUnchanged(
      () => signedPost(harness, withdrawer, "withdraw_get_txid", { task_id: "0" }),
      59001,
    );
    await expectRefusedUnchanged(() => signedPost(harness, withdrawer, "withdraw_get_txid", {}), 50013);
    // withdraw_get_txid needs the withdraw scope.
    await expectRefusedUnchanged(
      () => signedPost(harness, trader, "withdraw_get_txid", { task_id: "1" }),
      40032,
    );
    // A trade key cannot withdraw.
    await expectRefusedUnchanged(() => signedPost(harness, trader, "withdraw_crypt", valid), 40032);
  });
});

describe("authentication failures get EXMO's codes and never advance the nonce", () => {
  async function expectAuthRefused(send: (nonce: number) => Promise<RawResponse>, who: Trader, code: number) {
    const nonceBefore = coreNonce(harness.exchange.internals.core, who.keyId);
    const nonce = nextNonce();
    await expectRefusedUnchanged(() => send(nonce), code);
    expect(coreNonce(harness.exchange.internals.core, who.keyId)).toBe(nonceBefore);
  }

  it("missing, unknown and malformed keys → 40017", async () => {
    await expectRefusedUnchanged(() => postRaw(harness, "/v1.1/user_info", `nonce=${nextNonce()}`), 40017);
    const unknown = { ...trader, keyId: `K-${"a".repeat(40)}` };
    await expectRefusedUnchanged(() => signedPost(harness, unknown, "user_info"), 40017);
    await expectRefusedUnchanged(
      () => signedPost(harness, { ...trader, keyId: "K-'; drop table" }, "user_info"),
      40017,
    );
  });

  it("a bad signature → 40005 and the same nonce then still works", async () => {
    await expectAuthRefused(
      (nonce) => signedPost(harness, trader, "order_create", ORDER, { nonce, secret: "S-wrong" }),
      trader,
      40005,
    );
    const nonce = nextNonce();
    await expectAuthRefused(
      () => postRaw(harness, "/v1.1/user_info", `nonce=${nonce}`, { key: trader.keyId, sign: "zz" }),
      trader,
      40005,
    );
    expect(codeOf(await signedPost(harness, trader, "user_info", {}, { nonce }))).toBe("ok");
  });

  it("missing, malformed and stale nonces → 40009", async () => {
    const { signRestBody } = await import("../../../src/gateway/auth/signature.ts");
    for (const body of ["", "pair=BTC_USD", "nonce=01", "nonce=1.5", "nonce=99999999999999999"]) {
      await expectAuthRefused(
        () =>
          postRaw(harness, "/v1.1/user_info", body, {
            key: trader.keyId,
            sign: signRestBody(trader.secret, body),
          }),
        trader,
        40009,
      );
    }
    const used = nextNonce();
    expect(codeOf(await signedPost(harness, trader, "user_info", {}, { nonce: used }))).toBe("ok");
    await expectAuthRefused(
      () => signedPost(harness, trader, "user_info", {}, { nonce: used }),
      trader,
      40009,
    );
    await expectAuthRefused(
      () => signedPost(harness, trader, "user_info", {}, { nonce: used - 1 }),
      trader,
      40009,
    );
  });

  it("implausible nonces get a 40009 saying what is wrong, change nothing and never lock the key", async () => {
    const { signRestBody } = await import("../../../src/gateway/auth/signature.ts");
    const { MAX_NONCE_AHEAD_MS } = await import("../../../src/gateway/auth/nonce.ts");
    const missing =
      "The nonce parameter is missing: send it as the form field 'nonce' of an " +
      "application/x-www-form-urlencoded body";
    const farAhead =
      "The nonce parameter is more than one day ahead of the server clock read as milliseconds";
    const cases: ReadonlyArray<[string, string, string]> = [
      ["", "application/x-www-form-urlencoded", missing],
      [`{"nonce":${Date.now()}}`, "application/json", missing],
      ["nonce=0", "application/x-www-form-urlencoded", "The nonce parameter must be greater than zero"],
      [
        "nonce=1.5",
        "application/x-www-form-urlencoded",
        "The nonce parameter must be a whole number in plain decimal digits",
      ],
      [
        "nonce=9007199254740992",
        "application/x-www-form-urlencoded",
        "The nonce parameter is above 9007199254740991 (2^53 - 1)",
      ],
      // One accepted 2^53 − 1 used to lock the key for good; microseconds are 1000× ahead too.
      ["nonce=9007199254740991", "application/x-www-form-urlencoded", farAhead],
      [`nonce=${Date.now() * 1000}`, "application/x-www-form-urlencoded", farAhead],
      [`nonce=${Date.now() + MAX_NONCE_AHEAD_MS + 60_000}`, "application/x-www-form-urlencoded", farAhead],
    ];
    for (const [body, contentType, message] of cases) {
      const nonceBefore = coreNonce(harness.exchange.internals.core, trader.keyId);
      const response = await expectRefusedUnchanged(
        () =>
          postRaw(harness, "/v1.1/user_info", body, {
            "content-type": contentType,
            key: trader.keyId,
            sign: signRestBody(trader.secret, body),
          }),
        40009,
      );
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ result: false, error: `Error 40009: ${message}` });
      expect(coreNonce(harness.exchange.internals.core, trader.keyId)).toBe(nonceBefore);
    }
    // The key still takes an ordinary millisecond nonce, and a small counter is still plausible.
    expect(codeOf(await signedPost(harness, trader, "user_info"))).toBe("ok");
    const counter = await createTrader(harness);
    expect(codeOf(await signedPost(harness, counter, "user_info", {}, { nonce: 1 }))).toBe("ok");
    expect(codeOf(await signedPost(harness, counter, "user_info", {}, { nonce: 2 }))).toBe("ok");
  });

  it("missing scope and foreign IP → 40032, frozen user → 40033, revoked key → 40017", async () => {
    const reader = await createTrader(harness, { scopes: ["info"] });
    await expectAuthRefused(
      (nonce) => signedPost(harness, reader, "order_create", ORDER, { nonce }),
      reader,
      40032,
    );
    await expectAuthRefused(
      (nonce) => signedPost(harness, reader, "order_cancel", { order_id: "1" }, { nonce }),
      reader,
      40032,
    );
    const fenced = await createTrader(harness, { ipAllowList: ["10.0.0.0/8"] });
    await expectAuthRefused(
      (nonce) => signedPost(harness, fenced, "user_info", {}, { nonce }),
      fenced,
      40032,
    );
    const frozen = await createTrader(harness);
    await setUserStatus(harness.exchange.internals.store.db, frozen.userId, "frozen");
    await expectAuthRefused(
      (nonce) => signedPost(harness, frozen, "user_info", {}, { nonce }),
      frozen,
      40033,
    );
    const revoked = await createTrader(harness);
    await revokeApiKey(harness.exchange.internals.store.db, revoked.keyId, Date.now());
    await expectAuthRefused(
      (nonce) => signedPost(harness, revoked, "user_info", {}, { nonce }),
      revoked,
      40017,
    );
  });
});

describe("oversized requests", () => {
  it("a body over 64 KiB is refused with an EXMO body before any parsing", async () => {
    const body = `nonce=${nextNonce()}&pad=${"x".repeat(70 * 1024)}`;
    const response = await expectRefusedUnchanged(() => postRaw(harness, "/v1.1/order_create", body), 59018);
    expect(response.status).toBe(413);
  });

  it("more than 32 parameters is refused", async () => {
    const fields = Object.fromEntries(Array.from({ length: 40 }, (_, index) => [`f${index}`, "1"]));
    await expectRefusedUnchanged(() => signedPost(harness, trader, "user_info", fields), 59018);
  });

  it("headers over 16 KiB are refused by the HTTP server with 431 and an EXMO body", async () => {
    const response = await expectRefusedUnchanged(
      async () =>
        parseRaw(
          await rawExchange(
            `GET /v1.1/ticker HTTP/1.1\r\nHost: x\r\nX-Pad: ${"y".repeat(17 * 1024)}\r\n\r\n`,
          ),
        ),
      59018,
    );
    expect(response.status).toBe(431);
    expect(response.body).toEqual({ result: false, error: "Error 59018: Request is too large: headers" });
  });

  it("a request line over 16 KiB (414 elsewhere) gets the same 431 EXMO answer", async () => {
    const response = parseRaw(
      await rawExchange(`GET /v1.1/ticker?pair=${"A".repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`),
    );
    expect(response.status).toBe(431);
    expect(response.body).toEqual({ result: false, error: "Error 59018: Request is too large: headers" });
  });
});

describe("HTTP-level refusals come in EXMO's error format", () => {
  it.each([
    [
      "a path that does not decode",
      "GET /v1.1/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      400,
      "Error 59001: Parameter 'url' has invalid syntax",
    ],
    [
      "a Content-Type that does not parse",
      "POST /v1.1/user_info HTTP/1.1\r\nHost: x\r\nContent-Type: ;;;\r\nContent-Length: 7\r\n" +
        "Connection: close\r\n\r\nnonce=1",
      200,
      "Error 59001: Parameter 'Content-Type' has invalid syntax",
    ],
    [
      "a Content-Length that is not a number",
      "POST /v1.1/user_info HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n",
      400,
      "Error 59001: Parameter 'request' has invalid syntax",
    ],
    [
      "a request line that is not HTTP",
      "GARBAGE\r\n\r\n",
      400,
      "Error 59001: Parameter 'request' has invalid syntax",
    ],
  ])("%s", async (_what, request, status, error) => {
    const response = await expectRefusedUnchanged(async () => parseRaw(await rawExchange(request)), 59001);
    expect(response.status).toBe(status);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    expect(response.body).toEqual({ result: false, error });
  });

  it("a body over the limit is 413 with an EXMO body", async () => {
    const response = parseRaw(
      await rawExchange(
        `POST /v1.1/ticker HTTP/1.1\r\nHost: x\r\nContent-Length: ${70 * 1024}\r\nConnection: close\r\n\r\n` +
          "x".repeat(70 * 1024),
      ),
    );
    expect(response.status).toBe(413);
    expect(response.body).toEqual({ result: false, error: "Error 59018: Request is too large: body" });
  });
});

describe("slow headers", () => {
  const HEADERS_TIMEOUT_MS = 1_000;
  let slow: Harness;

  beforeAll(async () => {
    slow = await startHarness({ httpLimits: { headersTimeoutMs: HEADERS_TIMEOUT_MS } });
  });
  afterAll(async () => {
    await slow.close();
  });

  it("a client trickling its headers is cut at the header timeout (not up to 30 s later) with 408 in EXMO's format", async () => {
    const port = Number(new URL(slow.baseUrl).port);
    const before = stateApartFromNonces(slow.exchange.internals.core);
    const started = performance.now();
    const answer = await new Promise<{ text: string; closedAfterMs: number }>((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      let text = "";
      let trickle: NodeJS.Timeout | undefined;
      socket.on("connect", () => {
        socket.write("GET /v1.1/ticker HTTP/1.1\r\nHost: x\r\n");
        // One header byte every 100 ms: the socket is never idle, the headers never end.
        trickle = setInterval(() => {
          if (socket.writable) socket.write("X");
        }, 100);
      });
      socket.on("data", (chunk) => {
        text += chunk.toString("utf8");
      });
      socket.on("error", () => undefined);
      socket.on("close", () => {
        clearInterval(trickle);
        resolve({ text, closedAfterMs: performance.now() - started });
      });
      setTimeout(() => reject(new Error("the server did not cut the slow client within 5 s")), 5_000).unref();
    });
    expect(answer.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(answer.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1_000);
    const response = parseRaw(answer.text);
    expect(response.status).toBe(408);
    expect(response.body).toEqual({ result: false, error: "Error 59019: Request was not received in time" });
    expect(stateApartFromNonces(slow.exchange.internals.core)).toBe(before);
  });
});

/** Sends `request` on a fresh socket and resolves with everything received until the server closes. */
function rawExchange(request: string): Promise<string> {
  const port = Number(new URL(harness.baseUrl).port);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8");
      // A keep-alive answer is complete once its body is.
      const parsed = splitResponse(text);
      if (parsed !== null) socket.destroy();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(text));
    setTimeout(() => reject(new Error("no answer within 5 s")), 5_000).unref();
  });
}

function splitResponse(text: string): { head: string; body: string } | null {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = text.slice(0, end);
  const body = text.slice(end + 4);
  const length = /\r\ncontent-length: *([0-9]+)/i.exec(head);
  if (length === null || Buffer.byteLength(body) < Number(length[1])) return null;
  return { head, body };
}

function parseRaw(text: string): RawResponse & { headers: Record<string, string> } {
  const parsed = splitResponse(text);
  if (parsed === null) throw new Error(`incomplete HTTP answer: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = parsed.head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body: unknown = null;
  try {
    body = JSON.parse(parsed.body);
  } catch {
    body = null;
  }
  return { status: Number(statusLine.split(" ")[1]), body, text: parsed.body, headers };
}

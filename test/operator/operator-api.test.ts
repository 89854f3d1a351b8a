// The operator HTTP API over TCP with its bearer token, on a live server's exchange: token
// required (and wrong ones throttled), every action works and lands in the hash-chained audit
// log, and bad input gets a clear error that changes nothing. The plugin is mounted here on a
// listener of the test's own, so the test does not depend on where the server puts it.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { OperatorActions, OperatorError } from "../../src/operator/actions.ts";
import { OPERATOR_API_PREFIX, operatorApi } from "../../src/operator/plugin.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { getApiKey, getUserByEmail } from "../../src/store/accounts.ts";
import { verifyAuditLog } from "../../src/store/audit-log.ts";

const TOKEN = "operator-token-for-tests-0123456789";
let server: ExchangeServer;
let directory: string;
let operatorApp: FastifyInstance;
let operatorBaseUrl: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "bulwark-operator-"));
  server = await startExchangeServer({
    dataDir: directory,
    port: 0,
    host: "127.0.0.1",
    demo: false,
    env: { BULWARK_OPERATOR_TOKEN: TOKEN },
  });
  operatorApp = Fastify();
  await operatorApp.register(operatorApi, {
    prefix: OPERATOR_API_PREFIX,
    actions: new OperatorActions(server.exchange, new SecretBox(randomBytes(32))),
    token: { matches: (presented) => presented === TOKEN, source: "env", generated: null },
  });
  await operatorApp.listen({ host: "127.0.0.1", port: 0 });
  const address = operatorApp.server.address();
  if (address === null || typeof address === "string") throw new Error("operator API not on TCP");
  operatorBaseUrl = `http://127.0.0.1:${address.port}${OPERATOR_API_PREFIX}`;
});

afterAll(async () => {
  await operatorApp.close();
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  token: string | null = TOKEN,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${operatorUrl()}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function operatorUrl(): string {
  return operatorBaseUrl;
}

async function auditActions(): Promise<string[]> {
  const rows = await server.exchange.internals.store.db
    .selectFrom("audit_log")
    .select(["action", "actor"])
    .orderBy("seq")
    .execute();
  for (const row of rows) expect(row.actor).toMatch(/^operator:api@/);
  return rows.map((row) => row.action);
}

describe("operator API", () => {
  it("requires the operator token", async () => {
    for (const token of [null, "wrong-token-0123456789abcdefgh", ""]) {
      const response = await call("GET", "/markets", undefined, token);
      expect(response.status).toBe(401);
    }
    const refused = await call("POST", "/users", { email: "x@example.com", password: "password123" }, null);
    expect(refused.status).toBe(401);
    expect(await getUserByEmail(server.exchange.internals.store.db, "x@example.com")).toBeUndefined();
  });

  it("does every action, audits each one, and the audit chain verifies", async () => {
    const user = await call("POST", "/users", { email: "alice@example.com", password: "correct horse" });
    expect(user.status).toBe(201);
    expect(user.json.email).toBe("alice@example.com");

    const key = await call("POST", "/keys", { email: "alice@example.com", scopes: "info,trade" });
    expect(key.status).toBe(201);
    expect(key.json.secret).toMatch(/^S-[0-9a-f]{64}$/);
    const keyId = String(key.json.keyId);
    expect((await getApiKey(server.exchange.internals.store.db, keyId))?.scopes).toEqual(["info", "trade"]);

    const credit = await call("POST", "/balances/adjust", {
      email: "alice@example.com",
      asset: "BTC",
      amount: "1.5",
      reason: "deposit 42",
    });
    expect(credit.status).toBe(200);
    expect(credit.json.available).toBe("1.5");
    const debit = await call("POST", "/balances/adjust", {
      email: "alice@example.com",
      asset: "BTC",
      amount: "-0.25",
      reason: "withdrawal 7",
    });
    expect(debit.json.available).toBe("1.25");
    const userId = Number(user.json.userId);
    expect(server.exchange.internals.core.balance(userId, 1).availableUnits).toBe(125_000_000);

    const asset = await call("POST", "/assets", { code: "SOL", scale: 9 });
    expect(asset.status).toBe(201);
    expect(asset.json.assetId).toBe(5);
    const market = await call("POST", "/markets", {
      base: "SOL",
      quote: "USD",
      tick: "0.01",
      lot: "0.01",
      minPrice: "0.01",
      maxPrice: "100000",
      minQuantity: "0.01",
      maxQuantity: "1000",
      minNotional: "1",
      maxNotional: "10000000",
      makerFeePercent: "0.1",
      takerFeePercent: "0.2",
    });
    expect(market.status).toBe(201);
    expect(market.json).toMatchObject({ symbol: "SOL_USD", tick: "0.01", lot: "0.01", status: "active" });
    expect(server.exchange.marketBySymbol("SOL_USD")?.config.quoteUnitsPerTickLot).toBe(100);

    expect((await call("POST", "/markets/SOL_USD/suspend")).json.status).toBe("suspended");
    const listed = await call("GET", "/markets");
    const markets = listed.json.markets as { symbol: string; status: string }[];
    expect(markets.find((entry) => entry.symbol === "SOL_USD")?.status).toBe("suspended");
    expect((await call("POST", "/markets/SOL_USD/resume")).json.status).toBe("active");
    expect(((await call("GET", "/assets")).json.assets as unknown[]).length).toBe(5);

    expect((await call("POST", "/users/alice@example.com/status", { status: "frozen" })).json.status).toBe(
      "frozen",
    );
    expect((await call("DELETE", `/keys/${keyId}`)).status).toBe(200);
    expect((await getApiKey(server.exchange.internals.store.db, keyId))?.revokedMs).not.toBeNull();

    expect(await auditActions()).toEqual([
      "user.create",
      "apiKey.create",
      "balance.adjust",
      "balance.adjust",
      "asset.add",
      "market.add",
      "market.suspend",
      "market.resume",
      "user.setStatus",
      "apiKey.revoke",
    ]);
    const verified = await call("GET", "/audit/verify");
    expect(verified.json).toMatchObject({ ok: true, checkedRows: 10 });
    expect((await verifyAuditLog(server.exchange.internals.store.db)).ok).toBe(true);
    // The secret never reaches the audit log.
    const details = await server.exchange.internals.store.db
      .selectFrom("audit_log")
      .select("details_json")
      .execute();
    expect(details.some((row) => row.details_json.includes(String(key.json.secret)))).toBe(false);
  });

  it.each([
    ["POST", "/users", { email: "not-an-email", password: "password123" }, 400, "invalid"],
    ["POST", "/users", { email: "bob@example.com", password: "short" }, 400, "invalid"],
    ["POST", "/users", { email: "bob@example.com" }, 400, "invalid"],
    ["POST", "/keys", { email: "nobody@example.com", scopes: "info" }, 404, "notFound"],
    [
      "POST",
      "/balances/adjust",
      { email: "nobody@example.com", asset: "BTC", amount: "1", reason: "r" },
      404,
      "notFound",
    ],
    ["POST", "/assets", { code: "BTC", scale: 8 }, 409, "conflict"],
    ["POST", "/assets", { code: "lower", scale: 8 }, 400, "invalid"],
    ["POST", "/markets/NOPE_USD/suspend", undefined, 404, "notFound"],
    ["DELETE", "/keys/K-doesnotexist", undefined, 404, "notFound"],
  ])("%s %s %o → %i %s", async (method, path, body, status, kind) => {
    const before = server.exchange.internals.core.lastSequence;
    const response = await call(method, path, body);
    expect(response.status).toBe(status);
    expect((response.json.error as { kind: string }).kind).toBe(kind);
    expect(server.exchange.internals.core.lastSequence).toBe(before);
  });

  it("rejects duplicates, bad amounts and a debit beyond the balance", async () => {
    await call("POST", "/users", { email: "carol@example.com", password: "password123" });
    expect(
      (await call("POST", "/users", { email: "Carol@example.com", password: "password123" })).status,
    ).toBe(409);
    const base = { email: "carol@example.com", asset: "BTC", reason: "test" };
    expect((await call("POST", "/balances/adjust", { ...base, amount: "0.000000001" })).status).toBe(400);
    expect((await call("POST", "/balances/adjust", { ...base, amount: "0" })).status).toBe(400);
    const overdraw = await call("POST", "/balances/adjust", { ...base, amount: "-1" });
    expect(overdraw.status).toBe(422);
    expect((overdraw.json.error as { message: string }).message).toContain("insufficientFunds");
    const withdrawKey = await call("POST", "/keys", { email: "carol@example.com", scopes: "info,withdraw" });
    expect(withdrawKey.status).toBe(400);
    expect((withdrawKey.json.error as { message: string }).message).toContain("allow-list");
    const badJson = await fetch(`${operatorUrl()}/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: "{nope",
    });
    expect(badJson.status).toBe(400);
  });
});

describe("operator API: outside test findings (issue 6, point 7)", () => {
  const SOL_SPEC = {
    base: "ETH",
    quote: "USDT",
    lot: "0.0001",
    minPrice: "1",
    maxPrice: "1000000",
    minQuantity: "0.0001",
    maxQuantity: "1000",
    minNotional: "1",
    maxNotional: "1000000000",
    makerFeePercent: "0.1",
    takerFeePercent: "0.2",
  };

  async function unchanged<T>(work: () => Promise<T>): Promise<T> {
    const core = server.exchange.internals.core;
    const hash = core.stateHash();
    const audits = (await auditRows()).length;
    const result = await work();
    expect(core.stateHash()).toBe(hash);
    expect((await auditRows()).length).toBe(audits);
    return result;
  }

  async function auditRows() {
    return server.exchange.internals.store.db.selectFrom("audit_log").select("seq").execute();
  }

  it("a tick with 30 decimals is 400 invalid over HTTP and `invalid` for the CLI, not a 500", async () => {
    const tick = `0.${"0".repeat(29)}1`;
    const message = `tick ${tick} has more than 18 decimal places`;
    const response = await unchanged(() => call("POST", "/markets", { ...SOL_SPEC, tick }));
    expect(response).toEqual({ status: 400, json: { error: { kind: "invalid", message } } });
    // The CLI runs the same OperatorActions and prints the error's kind.
    const actions = new OperatorActions(server.exchange, new SecretBox(randomBytes(32)));
    const refused = await unchanged(() =>
      actions.addMarket("operator:cli@test", { ...SOL_SPEC, tick }).catch((e) => e),
    );
    expect(refused).toBeInstanceOf(OperatorError);
    expect(refused).toMatchObject({ kind: "invalid", message });
    // Trailing zeros are not precision: 0.01 written with 30 decimals is still 0.01.
    const market = await call("POST", "/markets", { ...SOL_SPEC, tick: `0.01${"0".repeat(28)}` });
    expect(market.status).toBe(201);
    expect(market.json).toMatchObject({ symbol: "ETH_USDT", tick: "0.01" });
  });

  it.each([
    ["a NUL", "eve\u0000@example.com"],
    ["markup", "<script>alert(1)</script>@example.com"],
    ["angle brackets", "eve@exa<b>mple.com"],
    ["a double quote", '"eve"@example.com'],
    ["an apostrophe", "o'neil@example.com"],
    ["a control character", "eve\u0007@example.com"],
    ["a line break", "eve@example.com\r\nBcc: x@example.com"],
    ["a space", "eve smith@example.com"],
    ["non-ASCII", "ева@example.com"],
    [
      "255 characters",
      `${"a".repeat(64)}@${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(7)}`,
    ],
  ])("refuses an email with %s as invalid and creates no user", async (_what, email) => {
    const response = await unchanged(() => call("POST", "/users", { email, password: "password123" }));
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({ kind: "invalid" });
    expect((response.json.error as { message: string }).message).toMatch(
      /^(not an email address|email: an email address has at most 254 characters$)/,
    );
    expect((response.json.error as { message: string }).message).toMatch(/^[\x20-\x7e]*$/);
    expect((response.json.error as { message: string }).message).not.toMatch(/[<>"']/);
    const users = await server.exchange.internals.store.db.selectFrom("users").select("email").execute();
    expect(users.some((row) => row.email === email.trim().toLowerCase())).toBe(false);
  });

  it("an email of 254 characters can be created, frozen and unfrozen over the API", async () => {
    const email = `${"a".repeat(64)}@${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(6)}`;
    expect(email.length).toBe(254);
    expect((await call("POST", "/users", { email, password: "password123" })).status).toBe(201);
    const path = `/users/${encodeURIComponent(email)}/status`;
    expect(await call("POST", path, { status: "frozen" })).toMatchObject({
      status: 200,
      json: { status: "frozen" },
    });
    expect((await getUserByEmail(server.exchange.internals.store.db, email))?.status).toBe("frozen");
    expect((await call("POST", path, { status: "active" })).status).toBe(200);
  });

  it.each([
    [[""], "entry 1 is not one address or CIDR block: ''"],
    [["1.2.3.4,5.6.7.8"], "entry 1 is not one address or CIDR block: '1.2.3.4,5.6.7.8'"],
    [["10.0.0.1", " "], "entry 2 is not one address or CIDR block: ' '"],
  ])(
    "refuses the allow-list %j as invalid (was HTTP 500) and stores no key",
    async (ipAllowList, problem) => {
      await call("POST", "/users", { email: "dave@example.com", password: "password123" });
      const keysBefore = await server.exchange.internals.store.db
        .selectFrom("api_keys")
        .select("key_id")
        .execute();
      const response = await unchanged(() =>
        call("POST", "/keys", { email: "dave@example.com", scopes: "info", ipAllowList }),
      );
      expect(response).toEqual({
        status: 400,
        json: { error: { kind: "invalid", message: `ip allow-list: ${problem}` } },
      });
      const keysAfter = await server.exchange.internals.store.db
        .selectFrom("api_keys")
        .select("key_id")
        .execute();
      expect(keysAfter.length).toBe(keysBefore.length);
    },
  );

  it.each([
    ["0.0.0.0/0", 4, 0],
    ["::/0", 6, 0],
    ["::ffff:0.0.0.0/96", 4, 0],
    ["10.0.0.0/8", 4, 8],
    ["198.50.0.0/15", 4, 15],
    ["2001:db8::/32", 6, 32],
    ["2001:db8::/47", 6, 47],
  ])(
    "refuses a withdraw key allowing %s (too broad to bind it to an address)",
    async (block, version, prefix) => {
      await call("POST", "/users", { email: "erin@example.com", password: "password123" });
      const response = await unchanged(() =>
        call("POST", "/keys", {
          email: "erin@example.com",
          scopes: "info,withdraw",
          ipAllowList: ["203.0.113.7", block],
        }),
      );
      expect(response).toEqual({
        status: 400,
        json: {
          error: {
            kind: "invalid",
            message:
              `ip allow-list entry 2 is an IPv${version} /${prefix} block: a key with the withdraw scope may ` +
              "only allow IPv4 blocks of /16 or narrower and IPv6 blocks of /48 or narrower",
          },
        },
      });
    },
  );

  it("accepts a withdraw key bound to /16 and /48 blocks, and any allow-list without withdraw", async () => {
    await call("POST", "/users", { email: "fay@example.com", password: "password123" });
    const narrow = await call("POST", "/keys", {
      email: "fay@example.com",
      scopes: "info,withdraw",
      ipAllowList: ["198.51.0.0/16", "2001:db8:1::/48", "203.0.113.7"],
    });
    expect(narrow.status).toBe(201);
    const broadReadOnly = await call("POST", "/keys", {
      email: "fay@example.com",
      scopes: "info",
      ipAllowList: ["0.0.0.0/0"],
    });
    expect(broadReadOnly.status).toBe(201);
  });
});

describe("operator API: wrong tokens are throttled per address", () => {
  const LOCKED = {
    error: { kind: "rateLimited", message: "too many wrong operator tokens from this address; retry in 1 s" },
  };
  let nowMs = 1_000_000;
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify();
    await app.register(operatorApi, {
      prefix: OPERATOR_API_PREFIX,
      actions: new OperatorActions(server.exchange, new SecretBox(randomBytes(32))),
      token: { matches: (presented) => presented === TOKEN, source: "env", generated: null },
      clock: () => nowMs,
    });
  });
  afterAll(async () => {
    await app.close();
  });

  const get = async (from: string, token: string | null) => {
    const response = await app.inject({
      method: "GET",
      url: `${OPERATOR_API_PREFIX}/assets`,
      remoteAddress: from,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    return {
      status: response.statusCode,
      retryAfter: response.headers["retry-after"],
      json: response.json(),
    };
  };

  it("locks an address out after 5 wrong tokens, doubling each time; the right token elsewhere still works", async () => {
    const attacker = "203.0.113.9";
    for (let attempt = 0; attempt < 5; attempt++) expect((await get(attacker, "wrong")).status).toBe(401);
    // The 6th wrong token locks the address for 1 s.
    expect((await get(attacker, "wrong")).status).toBe(401);
    for (const token of ["wrong", TOKEN, null]) {
      expect(await get(attacker, token)).toEqual({ status: 429, retryAfter: "1", json: LOCKED });
    }
    // Another address (and the operator behind it) is unaffected, IPv6 by /64 included.
    expect((await get("198.51.100.1", TOKEN)).status).toBe(200);
    expect((await get("2001:db8:5::1", TOKEN)).status).toBe(200);
    nowMs += 1_000;
    // Still failing: the next lockout is 2 s.
    expect((await get(attacker, "wrong")).status).toBe(401);
    const locked = await get(attacker, TOKEN);
    expect(locked.status).toBe(429);
    expect(locked.retryAfter).toBe("2");
    nowMs += 2_000;
    // The right token after the lockout works and clears the record.
    expect((await get(attacker, TOKEN)).status).toBe(200);
    for (let attempt = 0; attempt < 5; attempt++) expect((await get(attacker, "wrong")).status).toBe(401);
  });

  it("a flood of wrong tokens is answered 429 after the first few, whatever its size", async () => {
    const flooder = "2001:db8:9::1";
    const statuses = new Map<number, number>();
    for (let attempt = 0; attempt < 2_000; attempt++) {
      // Cycling through its own /64 does not help.
      const from = `2001:db8:9::${(attempt % 4096).toString(16)}`;
      const { status } = await get(attempt === 0 ? flooder : from, "wrong");
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect(statuses.get(401)).toBe(6);
    expect(statuses.get(429)).toBe(2_000 - 6);
  });
});

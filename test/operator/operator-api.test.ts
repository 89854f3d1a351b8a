// The operator HTTP API on a live server: token required, every action works and lands in the
// hash-chained audit log, and bad input gets a clear error that changes nothing.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { getApiKey, getUserByEmail } from "../../src/store/accounts.ts";
import { verifyAuditLog } from "../../src/store/audit-log.ts";

const TOKEN = "operator-token-for-tests-0123456789";
let server: ExchangeServer;
let directory: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "bulwark-operator-"));
  server = await startExchangeServer({
    dataDir: directory,
    port: 0,
    host: "127.0.0.1",
    demo: false,
    env: { BULWARK_OPERATOR_TOKEN: TOKEN },
  });
});

afterAll(async () => {
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
  const response = await fetch(`${server.operatorUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
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
    const badJson = await fetch(`${server.operatorUrl}/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: "{nope",
    });
    expect(badJson.status).toBe(400);
  });
});

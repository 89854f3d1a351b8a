// The operator console's API (src/operator/console/) on a real gateway: login / me / logout and
// the cookies, wrong passwords and disabled operators refused, the login throttle per account and
// per address, CSRF and Origin refusals that change nothing, each role allowed and refused on
// representative operator routes (answers identical to /operator/v1), two console operators
// counting as two approvers of a withdrawal, and no console identity naming another approver.
//
// Custody here is a double that keeps approvals as custody does (one per approver, the withdrawal
// approved at approvalsNeeded distinct ones): the test is that each console operator reaches
// OperatorActions and custody as their own actor; custody's own rule is tested in
// test/custody/custody-service.test.ts.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/accounts/passwords.ts";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { CustodyError, type CustodyPort, type WithdrawalView } from "../../src/custody/port.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { createGateway, type Gateway } from "../../src/gateway/http/server.ts";
import { OperatorActions } from "../../src/operator/actions.ts";
import {
  CONSOLE_COOKIE,
  CONSOLE_CSRF_COOKIE,
  CONSOLE_PREFIX,
  consoleApi,
} from "../../src/operator/console/console-api.ts";
import { OPERATOR_ROLES, permissionsOf, ROUTE_ROLES } from "../../src/operator/console/roles.ts";
import { OPERATOR_API_PREFIX, operatorApi } from "../../src/operator/plugin.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";
import { DEMO_TRADER_PASSWORD } from "../../src/server/demo/demo-accounts.ts";
import { DEMO_OPERATORS, ensureDemoOperators } from "../../src/server/demo/demo-operators.ts";

const PASSWORD = "console-test-password";
/** The cheapest scrypt passwords.ts allows: the flows, not the hash's cost, are under test. */
const LOW_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };
const ACCOUNT_BURST = 4;
const OPERATORS = {
  admin: "admin@console.test",
  support: "support@console.test",
  security: "security@console.test",
  security2: "security2@console.test",
  auditor: "auditor@console.test",
  throttled: "throttled@console.test",
  leaving: "leaving@console.test",
} as const;

let dataDir: string;
let exchange: Exchange;
let gateway: Gateway;
let baseUrl: string;
let custody: ApprovalCustody;
let actions: OperatorActions;

/** Withdrawals waiting for approvals, kept as custody keeps them. */
class ApprovalCustody {
  readonly views = new Map<number, WithdrawalView>();

  add(withdrawalId: number, approvalsNeeded: number): void {
    this.views.set(withdrawalId, {
      withdrawalId,
      userId: 1,
      currency: "BTC",
      chain: "devnet-btc",
      amount: "2.5",
      fee: "0.0001",
      address: "bcrt1qexample",
      step: "awaitingApproval",
      txId: null,
      confirmations: 0,
      reason: null,
      approvals: [],
      approvalsNeeded,
      requestedMs: 1,
      history: [],
    });
  }

  async approveWithdrawal(withdrawalId: number, approver: string): Promise<WithdrawalView> {
    const view = this.views.get(withdrawalId);
    if (view === undefined) throw new CustodyError("notFound", `no withdrawal ${withdrawalId}`);
    if (view.step !== "awaitingApproval") throw new CustodyError("wrongStep", `withdrawal is ${view.step}`);
    if (view.approvals.includes(approver))
      throw new CustodyError("approvalRefused", "already approved by you");
    view.approvals.push(approver);
    if (view.approvals.length >= view.approvalsNeeded) view.step = "approved";
    return structuredClone(view);
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-console-"));
  exchange = await Exchange.open({ dataDir });
  for (const asset of DEFAULT_ASSETS) await exchange.submit({ kind: "addAsset", asset });
  for (const market of DEFAULT_MARKETS) await exchange.submit({ kind: "addMarket", market });
  const secretBox = new SecretBox(randomBytes(32));
  actions = new OperatorActions(exchange, secretBox);
  custody = new ApprovalCustody();
  // Only approveWithdrawal is reached by these tests; the rest of the port is not.
  actions.setCustody(custody as unknown as CustodyPort);
  gateway = createGateway(exchange, {
    secretBox,
    logger: pino({ level: process.env.CONSOLE_TEST_LOG ?? "silent" }),
    port: 0,
    host: "127.0.0.1",
    defaultMetrics: false,
    rateLimit: false,
    webRoot: null,
  });
  await gateway.fastify.register(consoleApi, {
    prefix: CONSOLE_PREFIX,
    actions,
    exchange,
    secure: false,
    passwordScrypt: LOW_SCRYPT,
    throttle: {
      accountBurst: ACCOUNT_BURST,
      accountRefillSeconds: 600,
      addressBurst: 1000,
      addressRefillSeconds: 1,
      requestBurst: 100_000,
      maxKeys: 1000,
    },
  });
  const { port } = await gateway.listen();
  baseUrl = `http://127.0.0.1:${port}`;
  const passwordHash = await hashPassword(PASSWORD, LOW_SCRYPT);
  const roles: Record<keyof typeof OPERATORS, string> = {
    admin: "admin",
    support: "support",
    security: "security",
    security2: "security",
    auditor: "auditor",
    throttled: "auditor",
    leaving: "support",
  };
  for (const [name, email] of Object.entries(OPERATORS))
    await exchange.operators.create({
      email,
      passwordHash,
      role: roles[name as keyof typeof OPERATORS],
      createdMs: Date.now(),
    });
  await exchange.accounts.createUser({ email: "trader@console.test", passwordHash, createdMs: Date.now() });
});

afterAll(async () => {
  await gateway?.close();
  await exchange?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  setCookies: string[];
}

/** A browser: a cookie jar, the CSRF token echoed from its cookie unless told not to. */
class Browser {
  readonly cookies = new Map<string, string>();

  async request(
    method: string,
    path: string,
    options: { json?: unknown; csrf?: boolean; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const csrf = this.cookies.get(CONSOLE_CSRF_COOKIE);
    if ((options.csrf ?? true) && csrf !== undefined) headers["x-csrf-token"] = csrf;
    if (options.json !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
    });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair] = line.split(";");
      const mark = pair.indexOf("=");
      const name = pair.slice(0, mark);
      const value = pair.slice(mark + 1);
      if (value === "" || /Max-Age=0/.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await response.text();
    return {
      status: response.status,
      body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
      setCookies,
    };
  }

  operator(method: string, path: string, options: { json?: unknown; csrf?: boolean } = {}): Promise<Answer> {
    return this.request(method, `${CONSOLE_PREFIX}${OPERATOR_API_PREFIX}${path}`, options);
  }
}

async function loggedIn(email: string): Promise<Browser> {
  const browser = new Browser();
  const answer = await browser.request("POST", `${CONSOLE_PREFIX}/login`, {
    json: { email, password: PASSWORD },
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return browser;
}

async function auditRows(action: string) {
  return exchange.internals.store.db
    .selectFrom("audit_log")
    .select(["actor", "action", "subject", "details_json"])
    .where("action", "=", action)
    .orderBy("seq")
    .execute();
}

async function userStatus(): Promise<string | undefined> {
  return (await exchange.accounts.userByEmail("trader@console.test"))?.status;
}

describe("console login", () => {
  it("logs in with cookies, answers me, and logs out (only with the CSRF token)", async () => {
    const browser = new Browser();
    const login = await browser.request("POST", `${CONSOLE_PREFIX}/login`, {
      json: { email: "Security@Console.test", password: PASSWORD },
    });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({
      email: OPERATORS.security,
      role: "security",
      permissions: permissionsOf("security"),
    });
    const session = login.setCookies.find((line) => line.startsWith(`${CONSOLE_COOKIE}=`));
    const csrf = login.setCookies.find((line) => line.startsWith(`${CONSOLE_CSRF_COOKIE}=`));
    expect(session).toMatch(/; Path=\/; Max-Age=\d+; SameSite=Strict; HttpOnly$/);
    expect(csrf).toMatch(/; Path=\/; Max-Age=\d+; SameSite=Strict$/);
    expect(session).not.toMatch(/Secure/);
    expect((login.body.permissions as string[]).includes("POST /withdrawals/:withdrawalId/approve")).toBe(
      true,
    );
    expect((login.body.permissions as string[]).includes("POST /balances/adjust")).toBe(false);

    expect(await browser.request("GET", `${CONSOLE_PREFIX}/me`)).toMatchObject({
      status: 200,
      body: { email: OPERATORS.security, role: "security" },
    });
    const noCsrf = await browser.request("POST", `${CONSOLE_PREFIX}/logout`, { csrf: false });
    expect(noCsrf).toMatchObject({ status: 403, body: { error: { code: "csrf_failed" } } });
    expect((await browser.request("GET", `${CONSOLE_PREFIX}/me`)).status).toBe(200);

    const cookiesBefore = new Map(browser.cookies);
    const logout = await browser.request("POST", `${CONSOLE_PREFIX}/logout`);
    expect(logout).toMatchObject({ status: 200, body: { ok: true } });
    expect(browser.cookies.size).toBe(0);
    expect(await browser.request("GET", `${CONSOLE_PREFIX}/me`)).toMatchObject({
      status: 401,
      body: { error: { code: "no_session" } },
    });
    // The old cookie is dead on the server too.
    for (const [name, value] of cookiesBefore) browser.cookies.set(name, value);
    expect(await browser.request("GET", `${CONSOLE_PREFIX}/me`)).toMatchObject({
      status: 401,
      body: { error: { code: "session_revoked" } },
    });
    const logins = await auditRows("console.login");
    expect(logins.at(-1)).toMatchObject({
      actor: `console:${OPERATORS.security}`,
      subject: `operator:${OPERATORS.security}`,
    });
    expect((await auditRows("console.logout")).at(-1)?.actor).toBe(`console:${OPERATORS.security}`);
  });

  it("refuses wrong passwords, unknown emails, 2FA codes and bad bodies, without a cookie", async () => {
    const browser = new Browser();
    for (const json of [
      { email: OPERATORS.admin, password: "not-the-password" },
      { email: "nobody@console.test", password: PASSWORD },
    ]) {
      const answer = await browser.request("POST", `${CONSOLE_PREFIX}/login`, { json });
      expect(answer).toMatchObject({
        status: 401,
        body: { error: { code: "wrong_credentials", message: "wrong email or password" } },
      });
      expect(answer.setCookies).toEqual([]);
    }
    expect(
      await browser.request("POST", `${CONSOLE_PREFIX}/login`, {
        json: { email: OPERATORS.admin, password: PASSWORD, totp: "123456" },
      }),
    ).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
    expect(
      await browser.request("POST", `${CONSOLE_PREFIX}/login`, {
        json: { email: OPERATORS.admin, password: PASSWORD, role: "admin" },
      }),
    ).toMatchObject({
      status: 400,
      body: { error: { code: "bad_request", message: "unknown field 'role'" } },
    });
    expect(
      await browser.request("POST", `${CONSOLE_PREFIX}/login`, {
        json: { email: OPERATORS.admin, password: PASSWORD },
        headers: { origin: "https://evil.example" },
      }),
    ).toMatchObject({ status: 403, body: { error: { code: "bad_origin" } } });
    expect(browser.cookies.size).toBe(0);
    expect((await auditRows("console.loginFailed")).length).toBeGreaterThanOrEqual(2);
    // A user's session cookie is no console session.
    const stranger = new Browser();
    stranger.cookies.set("bulwark_session", "A".repeat(43));
    expect(await stranger.request("GET", `${CONSOLE_PREFIX}/me`)).toMatchObject({
      status: 401,
      body: { error: { code: "no_session" } },
    });
  });

  it("throttles logins per account, even with the right password", async () => {
    const browser = new Browser();
    for (let attempt = 0; attempt < ACCOUNT_BURST; attempt += 1)
      expect(
        (
          await browser.request("POST", `${CONSOLE_PREFIX}/login`, {
            json: { email: OPERATORS.throttled, password: "wrong-password" },
          })
        ).status,
      ).toBe(401);
    const refused = await browser.request("POST", `${CONSOLE_PREFIX}/login`, {
      json: { email: OPERATORS.throttled, password: PASSWORD },
    });
    expect(refused).toMatchObject({ status: 429, body: { error: { code: "throttled" } } });
    expect(refused.setCookies).toEqual([]);
    // Another account from the same address is not held back by it.
    await loggedIn(OPERATORS.auditor);
  });

  it("throttles logins per address", async () => {
    const app = Fastify();
    await app.register(consoleApi, {
      prefix: CONSOLE_PREFIX,
      actions: new OperatorActions(exchange, new SecretBox(randomBytes(32))),
      exchange,
      secure: true,
      passwordScrypt: LOW_SCRYPT,
      throttle: {
        accountBurst: 100,
        accountRefillSeconds: 60,
        addressBurst: 2,
        addressRefillSeconds: 600,
        maxKeys: 100,
      },
    });
    const attempt = (email: string) =>
      app.inject({
        method: "POST",
        url: `${CONSOLE_PREFIX}/login`,
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({ email, password: "wrong-password" }),
      });
    expect((await attempt("a@console.test")).statusCode).toBe(401);
    expect((await attempt("b@console.test")).statusCode).toBe(401);
    const refused = await attempt("c@console.test");
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({
      error: { code: "throttled", message: expect.stringMatching(/address/) },
    });
    expect(refused.headers["retry-after"]).toMatch(/^[0-9]+$/);
    await app.close();
  });

  it("ends a session after the idle timeout", async () => {
    let nowMs = Date.now();
    const app = Fastify();
    await app.register(consoleApi, {
      prefix: CONSOLE_PREFIX,
      actions: new OperatorActions(exchange, new SecretBox(randomBytes(32))),
      exchange,
      secure: false,
      clock: () => nowMs,
      passwordScrypt: LOW_SCRYPT,
      times: { idleTimeoutMs: 10 * 60_000, absoluteTimeoutMs: 3_600_000 },
    });
    const login = await app.inject({
      method: "POST",
      url: `${CONSOLE_PREFIX}/login`,
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ email: OPERATORS.auditor, password: PASSWORD }),
    });
    const cookie = (login.headers["set-cookie"] as string[]).map((line) => line.split(";")[0]).join("; ");
    const me = () => app.inject({ method: "GET", url: `${CONSOLE_PREFIX}/me`, headers: { cookie } });
    nowMs += 5 * 60_000;
    expect((await me()).statusCode).toBe(200);
    nowMs += 9 * 60_000; // 14 minutes after login, 9 after the last use
    expect((await me()).statusCode).toBe(200);
    nowMs += 11 * 60_000;
    const expired = await me();
    expect(expired.statusCode).toBe(401);
    expect(expired.json()).toMatchObject({ error: { code: "session_expired" } });
    await app.close();
  });

  it("sets Secure cookies under TLS", async () => {
    const app = Fastify();
    await app.register(consoleApi, {
      prefix: CONSOLE_PREFIX,
      actions: new OperatorActions(exchange, new SecretBox(randomBytes(32))),
      exchange,
      secure: true,
      passwordScrypt: LOW_SCRYPT,
    });
    const answer = await app.inject({
      method: "POST",
      url: `${CONSOLE_PREFIX}/login`,
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ email: OPERATORS.auditor, password: PASSWORD }),
    });
    expect(answer.statusCode).toBe(200);
    const cookies = answer.headers["set-cookie"] as string[];
    expect(cookies).toHaveLength(2);
    for (const line of cookies) expect(line).toMatch(/; Secure$/);
    await app.close();
  });
});

describe("console operator routes", () => {
  it("refuses requests without a session, and state changes without the CSRF token or from another site, changing nothing", async () => {
    expect(await new Browser().operator("GET", "/assets")).toMatchObject({
      status: 401,
      body: { error: { code: "no_session" } },
    });
    const support = await loggedIn(OPERATORS.support);
    const path = `/users/${encodeURIComponent("trader@console.test")}/status`;
    expect(await support.operator("POST", path, { json: { status: "frozen" }, csrf: false })).toMatchObject({
      status: 403,
      body: { error: { code: "csrf_failed" } },
    });
    expect(await userStatus()).toBe("active");
    expect(
      await support.request("POST", `${CONSOLE_PREFIX}${OPERATOR_API_PREFIX}${path}`, {
        json: { status: "frozen" },
        headers: { origin: "http://evil.example" },
      }),
    ).toMatchObject({ status: 403, body: { error: { code: "bad_origin" } } });
    expect(await userStatus()).toBe("active");
    expect((await auditRows("user.setStatus")).length).toBe(0);

    expect(await support.operator("POST", path, { json: { status: "frozen" } })).toMatchObject({
      status: 200,
      body: { status: "frozen" },
    });
    expect(await userStatus()).toBe("frozen");
    expect(await support.operator("POST", path, { json: { status: "active" } })).toMatchObject({
      status: 200,
    });
    expect((await auditRows("user.setStatus")).map((row) => row.actor)).toEqual([
      `console:${OPERATORS.support}`,
      `console:${OPERATORS.support}`,
    ]);
  });

  it("lets each role do what the table says, and answers as /operator/v1 does", async () => {
    const [admin, support, security, auditor] = await Promise.all(
      [OPERATORS.admin, OPERATORS.support, OPERATORS.security, OPERATORS.auditor].map(loggedIn),
    );
    // Reads: every role; the answer is the operator API's.
    for (const browser of [admin, support, security, auditor]) {
      const assets = await browser.operator("GET", "/assets");
      expect(assets.status).toBe(200);
      expect(assets.body).toEqual({
        assets: JSON.parse(
          JSON.stringify(new OperatorActions(exchange, new SecretBox(randomBytes(32))).listAssets()),
        ),
      });
      expect((await browser.operator("GET", "/audit/verify")).body).toMatchObject({ ok: true });
    }
    const forbidden = (role: string, what: string) => ({
      status: 403,
      body: { error: { code: "forbidden", message: `the ${role} role may not ${what}` } },
    });
    const adjust = { email: "trader@console.test", asset: "USD", amount: "100", reason: "console test" };
    expect(
      await auditor.operator("POST", "/users/trader%40console.test/status", { json: { status: "frozen" } }),
    ).toEqual({
      ...forbidden("auditor", "POST /users/*"),
      setCookies: [],
    });
    expect(await support.operator("POST", "/markets/BTC_USD/suspend", { json: {} })).toMatchObject(
      forbidden("support", "POST /markets/:symbol/suspend"),
    );
    expect(await security.operator("POST", "/balances/adjust", { json: adjust })).toMatchObject(
      forbidden("security", "POST /balances/adjust"),
    );
    expect(await support.operator("POST", "/withdrawals/1/approve", { json: {} })).toMatchObject(
      forbidden("support", "POST /withdrawals/:withdrawalId/approve"),
    );
    expect(
      await auditor.operator("POST", "/operators", {
        json: { email: "x@console.test", password: PASSWORD, role: "admin" },
      }),
    ).toMatchObject(forbidden("auditor", "POST /operators"));
    expect((await actions.listMarkets()).find((market) => market.symbol === "BTC_USD")?.status).toBe(
      "active",
    );
    expect((await auditRows("balance.adjust")).length).toBe(0);

    // Admin: everything, with the operator API's answers and errors.
    const adjusted = await admin.operator("POST", "/balances/adjust", { json: adjust });
    expect(adjusted).toMatchObject({ status: 200, body: { asset: "USD", amount: "100", available: "100" } });
    expect(
      await admin.operator("POST", "/balances/adjust", { json: { ...adjust, amount: "ten" } }),
    ).toMatchObject({
      status: 400,
      body: { error: { kind: "invalid" } },
    });
    expect(await admin.operator("POST", "/markets/BTC_USD/suspend", { json: {} })).toMatchObject({
      status: 200,
      body: { symbol: "BTC_USD", status: "suspended" },
    });
    expect(await admin.operator("POST", "/markets/BTC_USD/resume", { json: {} })).toMatchObject({
      status: 200,
      body: { status: "active" },
    });
    expect((await auditRows("balance.adjust")).map((row) => row.actor)).toEqual([
      `console:${OPERATORS.admin}`,
    ]);

    // The console's pages: users with balances, the audit log newest first.
    const users = await auditor.operator("GET", "/users?search=trader");
    expect(users).toMatchObject({
      status: 200,
      body: {
        users: [
          {
            email: "trader@console.test",
            status: "active",
            balances: [{ asset: "USD", available: "100", held: "0" }],
          },
        ],
        next: null,
      },
    });
    const log = await auditor.operator("GET", "/audit/log?limit=2");
    expect(log.status).toBe(200);
    const entries = log.body.entries as { seq: number; action: string }[];
    expect(entries).toHaveLength(2);
    expect(entries[0].seq).toBeGreaterThan(entries[1].seq);
    expect(log.body.next).toBe(entries[1].seq);
    expect(await auditor.operator("GET", "/audit/log?limit=0")).toMatchObject({
      status: 400,
      body: { error: { kind: "invalid" } },
    });
  });

  it("counts two console operators as two approvers of a withdrawal; one person approves once", async () => {
    custody.add(7001, 2);
    const [first, second] = await Promise.all([OPERATORS.security, OPERATORS.security2].map(loggedIn));
    const once = await first.operator("POST", "/withdrawals/7001/approve", { json: {} });
    expect(once).toMatchObject({
      status: 200,
      body: { step: "awaitingApproval", approvals: [`console:${OPERATORS.security}`] },
    });
    const again = await first.operator("POST", "/withdrawals/7001/approve", { json: {} });
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.body).toMatchObject({ error: { message: expect.stringMatching(/already approved/) } });
    const twice = await second.operator("POST", "/withdrawals/7001/approve", { json: {} });
    expect(twice).toMatchObject({
      status: 200,
      body: {
        step: "approved",
        approvals: [`console:${OPERATORS.security}`, `console:${OPERATORS.security2}`],
      },
    });
    expect((await auditRows("withdrawal.approve")).map((row) => row.actor)).toEqual([
      `console:${OPERATORS.security}`,
      `console:${OPERATORS.security2}`,
    ]);
  });

  it("refuses naming anyone else as approver ('as', 'approvers') through the console", async () => {
    const security = await loggedIn(OPERATORS.security);
    expect(
      await security.operator("POST", "/cold/refills/1/approve", { json: { as: "alice" } }),
    ).toMatchObject({
      status: 403,
      body: {
        error: {
          code: "forbidden",
          message: expect.stringMatching(/counts you as console:security@console\.test/),
        },
      },
    });
    expect(
      await security.operator("POST", "/breakers/resume", {
        json: { chain: "btc", reason: "drill", approvers: ["alice", "bob"] },
      }),
    ).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
  });

  it("ends a disabled operator's sessions at once, and adds operators through the console (admin)", async () => {
    const leaving = await loggedIn(OPERATORS.leaving);
    const admin = await loggedIn(OPERATORS.admin);
    expect(
      await admin.operator("POST", "/operators/disable", { json: { email: OPERATORS.leaving } }),
    ).toMatchObject({
      status: 200,
      body: { email: OPERATORS.leaving, sessionsEnded: 1 },
    });
    expect((await leaving.request("GET", `${CONSOLE_PREFIX}/me`)).status).toBe(401);
    expect(
      await new Browser().request("POST", `${CONSOLE_PREFIX}/login`, {
        json: { email: OPERATORS.leaving, password: PASSWORD },
      }),
    ).toMatchObject({ status: 403, body: { error: { code: "operator_disabled" } } });
    expect(
      await admin.operator("POST", "/operators", {
        json: { email: "new@console.test", password: "short", role: "support" },
      }),
    ).toMatchObject({
      status: 400,
      body: { error: { kind: "invalid", message: "password must be at least 8 characters" } },
    });
    expect(
      await admin.operator("POST", "/operators", {
        json: { email: "new@console.test", password: PASSWORD, role: "root" },
      }),
    ).toMatchObject({
      status: 400,
      body: { error: { kind: "invalid", message: expect.stringMatching(/role must be one of/) } },
    });
    const listed = await admin.operator("GET", "/operators");
    expect(
      (listed.body.operators as { email: string; disabledMs: number | null }[]).find(
        (row) => row.email === OPERATORS.leaving,
      )?.disabledMs,
    ).toEqual(expect.any(Number));
    expect((await auditRows("operator.disable")).map((row) => row.actor)).toEqual([
      `console:${OPERATORS.admin}`,
    ]);
  });
});

describe("the role table", () => {
  it("lists every operator route, and each role's permissions come from it", async () => {
    const app = Fastify();
    const registered: string[] = [];
    app.addHook("onRoute", (route) => {
      for (const method of [route.method].flat())
        if (method !== "HEAD") registered.push(`${method} ${route.url.slice(OPERATOR_API_PREFIX.length)}`);
    });
    await app.register(operatorApi, {
      prefix: OPERATOR_API_PREFIX,
      actions: new OperatorActions(exchange, new SecretBox(randomBytes(32))),
      token: { matches: () => false, source: "env", generated: null },
      verifyCore: () => ({}),
    });
    await app.ready();
    expect(registered.filter((key) => !(key in ROUTE_ROLES))).toEqual([]);
    expect(Object.keys(ROUTE_ROLES).filter((key) => !registered.includes(key))).toEqual([]);
    for (const role of OPERATOR_ROLES)
      for (const key of permissionsOf(role)) expect(ROUTE_ROLES[key]).toContain(role);
    expect(permissionsOf("admin")).toEqual(Object.keys(ROUTE_ROLES));
    expect(permissionsOf("auditor").every((key) => key.startsWith("GET "))).toBe(true);
    await app.close();
  });
});

describe("demo operators", () => {
  it("are one per role with the demo's published password, added once", async () => {
    expect(DEMO_OPERATORS.map((operator) => operator.email)).toEqual([
      "admin@demo.bulwark",
      "support@demo.bulwark",
      "security@demo.bulwark",
      "auditor@demo.bulwark",
    ]);
    await ensureDemoOperators(actions);
    await ensureDemoOperators(actions);
    expect(
      (await auditRows("operator.add")).filter((row) => row.subject.endsWith("@demo.bulwark")),
    ).toHaveLength(4);
    const answer = await new Browser().request("POST", `${CONSOLE_PREFIX}/login`, {
      json: { email: "security@demo.bulwark", password: DEMO_TRADER_PASSWORD },
    });
    expect(answer).toMatchObject({ status: 200, body: { email: "security@demo.bulwark", role: "security" } });
  });
});

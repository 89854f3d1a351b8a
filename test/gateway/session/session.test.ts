// People's sessions (docs/API.md#sessions) on a real gateway: sign up, log in (with 2FA), who am I,
// the session door to the private EXMO operations giving the same answers as the HMAC door, CSRF
// and Origin refusals that change nothing, idle expiry, revocation and freezing ending a session
// at once, the login throttle per account and per address, cookie attributes, bad input, and the
// audit trail of it all.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { totpCode } from "../../../src/accounts/totp.ts";
import type { CustodyPort, WithdrawalRequest } from "../../../src/custody/port.ts";
import { CSRF_COOKIE, SESSION_COOKIE, sessionCookies } from "../../../src/gateway/session/session-auth.ts";
import { OperatorActions } from "../../../src/operator/actions.ts";
import { createTrader, fund, type Harness, signedPost, startHarness } from "../support/rest-harness.ts";

const IDLE_MS = 10 * 60 * 1000;
let harness: Harness;
let clockOffsetMs = 0;

beforeAll(async () => {
  harness = await startHarness({
    clock: () => Date.now() + clockOffsetMs,
    session: {
      // The cheapest scrypt passwords.ts allows: the flows, not the hash's cost, are under test.
      passwordScrypt: { logN: 10, blockSize: 8, parallelization: 1 },
      times: { idleTimeoutMs: IDLE_MS, absoluteTimeoutMs: 60 * 60 * 1000 },
      // Per address generous here (one test client); its own test below uses a second gateway.
      throttle: {
        accountBurst: 5,
        accountRefillSeconds: 60,
        addressBurst: 1000,
        addressRefillSeconds: 1,
        requestBurst: 100_000,
        maxKeys: 1000,
      },
    },
  });
});
afterAll(async () => {
  await harness?.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** A browser: a cookie jar, the CSRF token echoed from its cookie. */
class Browser {
  readonly cookies = new Map<string, string>();

  constructor(private readonly base: () => string) {}

  get csrf(): string | undefined {
    return this.cookies.get(CSRF_COOKIE);
  }

  async request(
    method: "GET" | "POST",
    path: string,
    options: {
      json?: unknown;
      form?: Record<string, string>;
      raw?: string;
      headers?: Record<string, string>;
      csrf?: boolean;
    } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    if ((options.csrf ?? true) && this.csrf !== undefined) headers["x-csrf-token"] = this.csrf;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers["content-type"] ??= "application/json";
      body = JSON.stringify(options.json);
    } else if (options.form !== undefined) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(options.form).toString();
    } else if (options.raw !== undefined) body = options.raw;
    const response = await fetch(`${this.base()}${path}`, { method, headers, body });
    for (const line of response.headers.getSetCookie()) {
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
      headers: response.headers,
    };
  }

  private(method: string, form: Record<string, string> = {}, csrf = true): Promise<Answer> {
    return this.request("POST", `/api/v1/private/${method}`, { form, csrf });
  }
}

const browser = () => new Browser(() => harness.baseUrl);
let emailCounter = 0;
const newEmail = () => `person${++emailCounter}-${process.pid}@example.test`;
const PASSWORD = "correct horse battery";

async function signUp(client: Browser, email = newEmail()): Promise<{ userId: number; email: string }> {
  const answer = await client.request("POST", "/api/v1/session/signup", {
    json: { email, password: PASSWORD },
  });
  expect(answer.status).toBe(201);
  return answer.body as { userId: number; email: string };
}

async function auditActions(userId: number): Promise<string[]> {
  const rows = await harness.exchange.internals.store.db
    .selectFrom("audit_log")
    .select("action")
    .where("subject", "=", `user:${userId}`)
    .orderBy("seq")
    .limit(1000)
    .execute();
  return rows.map((row) => row.action);
}

describe("session API", () => {
  it("signs up, answers who am I, and sets HttpOnly SameSite=Strict cookies (no Secure without TLS)", async () => {
    const client = browser();
    const response = await fetch(`${harness.baseUrl}/api/v1/session/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: newEmail(), password: PASSWORD }),
    });
    expect(response.status).toBe(201);
    const [session, csrf] = response.headers.getSetCookie();
    expect(session).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; `));
    expect(session).toContain("HttpOnly");
    expect(session).toContain("SameSite=Strict");
    expect(session).not.toContain("Secure");
    expect(csrf).toMatch(new RegExp(`^${CSRF_COOKIE}=`));
    expect(csrf).not.toContain("HttpOnly");
    expect(csrf).toContain("SameSite=Strict");
    // With TLS the same cookies carry Secure.
    for (const line of sessionCookies(
      "x".repeat(43),
      { idleTimeoutMs: 1, absoluteTimeoutMs: 60_000 },
      { secure: true },
    ))
      expect(line).toContain("; Secure");

    const created = await signUp(client);
    const me = await client.request("GET", "/api/v1/session/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      userId: created.userId,
      email: created.email,
      status: "active",
      totp: "none",
    });
    expect(me.body.csrfToken).toBe(client.csrf);
    expect(await auditActions(created.userId)).toContain("user.signup");

    // The same email again: refused, nothing created.
    const again = await browser().request("POST", "/api/v1/session/signup", {
      json: { email: created.email.toUpperCase(), password: PASSWORD },
    });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: { code: "email_taken", message: expect.any(String) } });
  });

  it("places and cancels an order through the session door with the same answers as the HMAC door", async () => {
    const client = browser();
    const { userId } = await signUp(client);
    await fund(harness, userId, { USD: "1000" });
    const trader = await createTrader(harness, { funds: { USD: "1000" } });
    const order = { pair: "BTC_USD", quantity: "0.01", price: "10000", type: "buy" };

    const bySession = await client.private("order_create", order);
    const byKey = await signedPost(harness, trader, "order_create", order);
    expect(bySession.status).toBe(200);
    expect(bySession.body).toMatchObject({ result: true, error: "" });
    expect(Object.keys(bySession.body).sort()).toEqual(Object.keys(byKey.body as object).sort());

    const info = await client.private("user_info");
    expect((info.body as { uid: number }).uid).toBe(userId);
    expect((info.body as { reserved: Record<string, string> }).reserved.USD).toBe("100");

    const open = await client.private("user_open_orders");
    const openByKey = await signedPost(harness, trader, "user_open_orders");
    const mine = (open.body as Record<string, Array<Record<string, string>>>).BTC_USD;
    const theirs = (openByKey.body as Record<string, Array<Record<string, string>>>).BTC_USD;
    expect(mine).toHaveLength(1);
    expect(Object.keys(mine[0]).sort()).toEqual(Object.keys(theirs[0]).sort());

    // The same errors, in EXMO's format: a bad pair.
    const badPair = await client.private("order_create", { ...order, pair: "NOPE_USD" });
    const badPairByKey = await signedPost(harness, trader, "order_create", { ...order, pair: "NOPE_USD" });
    expect(badPair.body).toEqual(badPairByKey.body);

    const cancelled = await client.private("order_cancel", { order_id: String(bySession.body.order_id) });
    expect(cancelled.body).toEqual({ result: true, error: "" });
    expect((await client.private("user_open_orders")).body).toEqual({});

    // Withdrawals through a session need the 2FA code; without it nothing is asked of custody.
    const withdraw = await client.private("withdraw_crypt", { amount: "1", currency: "USD", address: "x" });
    expect(withdraw.status).toBe(403);
    expect((withdraw.body.error as { code: string }).code).toBe("totp_required");
  });

  it("refuses a state-changing call without or with a wrong CSRF token or from another origin, changing nothing", async () => {
    const client = browser();
    const { userId } = await signUp(client);
    await fund(harness, userId, { USD: "1000" });
    const order = { pair: "BTC_USD", quantity: "0.01", price: "10000", type: "buy" };

    const missing = await client.private("order_create", order, false);
    expect(missing.status).toBe(403);
    expect(missing.body).toEqual({
      error: { code: "csrf_failed", message: expect.stringContaining("missing CSRF") },
    });
    const wrong = await client.request("POST", "/api/v1/private/order_create", {
      form: order,
      csrf: false,
      headers: { "x-csrf-token": "A".repeat(43) },
    });
    expect((wrong.body.error as { code: string }).code).toBe("csrf_failed");
    const foreign = await client.request("POST", "/api/v1/private/order_create", {
      form: order,
      headers: { origin: "https://evil.example" },
    });
    expect(foreign.status).toBe(403);
    expect((foreign.body.error as { code: string }).code).toBe("bad_origin");
    const logoutWithout = await client.request("POST", "/api/v1/session/logout", { json: {}, csrf: false });
    expect(logoutWithout.status).toBe(403);

    expect((await client.private("user_open_orders")).body).toEqual({});
    expect((await client.request("GET", "/api/v1/session/me")).status).toBe(200);
    // Without a session at all.
    const anonymous = await browser().private("user_info");
    expect(anonymous.status).toBe(401);
    expect((anonymous.body.error as { code: string }).code).toBe("no_session");
  });

  it("logs in and out; a wrong password says neither which field nor whether the email exists", async () => {
    const client = browser();
    const { userId, email } = await signUp(client);
    const wrong = await browser().request("POST", "/api/v1/session/login", {
      json: { email, password: "not the password" },
    });
    const unknown = await browser().request("POST", "/api/v1/session/login", {
      json: { email: newEmail(), password: PASSWORD },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: { code: "wrong_credentials", message: "wrong email or password" } });
    expect(unknown.body).toEqual(wrong.body);

    const second = browser();
    const login = await second.request("POST", "/api/v1/session/login", {
      json: { email, password: PASSWORD },
    });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ userId, email });

    const list = await second.request("GET", "/api/v1/session/sessions");
    const sessions = list.body.sessions as Array<{ id: string; current: boolean }>;
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((row) => row.current)).toHaveLength(1);

    const logout = await second.request("POST", "/api/v1/session/logout", { json: {} });
    expect(logout.status).toBe(200);
    expect(second.cookies.size).toBe(0);
    expect(await auditActions(userId)).toEqual(
      expect.arrayContaining(["user.signup", "session.loginFailed", "session.login", "session.logout"]),
    );
  });

  it("ends a revoked session, an idle one and a frozen user's at once", async () => {
    const first = browser();
    const { userId, email } = await signUp(first);
    const second = browser();
    await second.request("POST", "/api/v1/session/login", { json: { email, password: PASSWORD } });
    const me = await second.request("GET", "/api/v1/session/me");
    const secondId = (me.body.session as { id: string }).id;

    const revoked = await first.request("POST", "/api/v1/session/sessions/revoke", {
      json: { id: secondId },
    });
    expect(revoked.body).toEqual({ ok: true, current: false });
    const after = await second.request("GET", "/api/v1/session/me");
    expect(after.status).toBe(401);
    expect((after.body.error as { code: string }).code).toBe("session_revoked");
    const again = await first.request("POST", "/api/v1/session/sessions/revoke", { json: { id: secondId } });
    expect(again.status).toBe(404);
    expect(await auditActions(userId)).toContain("session.revoke");

    // Idle past the limit: expired, whatever the absolute expiry says.
    clockOffsetMs += IDLE_MS + 1000;
    try {
      const idle = await first.request("GET", "/api/v1/session/me");
      expect(idle.status).toBe(401);
      expect((idle.body.error as { code: string }).code).toBe("session_expired");
    } finally {
      clockOffsetMs = 0;
    }

    const third = browser();
    await third.request("POST", "/api/v1/session/login", { json: { email, password: PASSWORD } });
    // The operator's freeze ends every session at once, for good; a frozen user cannot log in.
    const operator = new OperatorActions(harness.exchange, harness.secretBox);
    await operator.setUserStatus("admin", { email, status: "frozen" });
    const frozen = await third.private("user_info");
    expect(frozen.status).toBe(401);
    expect((frozen.body.error as { code: string }).code).toBe("session_revoked");
    const refused = await browser().request("POST", "/api/v1/session/login", {
      json: { email, password: PASSWORD },
    });
    expect(refused.status).toBe(403);
    expect((refused.body.error as { code: string }).code).toBe("user_frozen");
    await operator.setUserStatus("admin", { email, status: "active" });
    const unfrozen = await third.private("user_info");
    expect((unfrozen.body.error as { code: string }).code).toBe("session_revoked");
  });

  it("asks for the 2FA code at login when enabled, refuses a wrong or replayed one", async () => {
    const client = browser();
    const { userId, email } = await signUp(client);
    const accounts = harness.exchange.accounts.withSecretBox(harness.secretBox);
    const enrolment = await accounts.enableTotp(userId, email, Date.now());
    if (enrolment === undefined) throw new Error("2FA enrolment");
    const nowSeconds = Math.floor(Date.now() / 1000);
    expect(await accounts.confirmTotp(userId, totpCode(enrolment.secret, nowSeconds - 30), Date.now())).toBe(
      true,
    );

    const noCode = await browser().request("POST", "/api/v1/session/login", {
      json: { email, password: PASSWORD },
    });
    expect(noCode.status).toBe(401);
    expect((noCode.body.error as { code: string }).code).toBe("totp_required");
    const wrongCode = await browser().request("POST", "/api/v1/session/login", {
      json: { email, password: PASSWORD, totp: totpCode(enrolment.secret, nowSeconds + 600) },
    });
    expect((wrongCode.body.error as { code: string }).code).toBe("wrong_totp");
    const code = totpCode(enrolment.secret, nowSeconds);
    const good = browser();
    const login = await good.request("POST", "/api/v1/session/login", {
      json: { email, password: PASSWORD, totp: code },
    });
    expect(login.status).toBe(200);
    const me = await good.request("GET", "/api/v1/session/me");
    expect(me.body).toMatchObject({ totp: "enabled", session: { secondFactor: true } });
    const replay = await browser().request("POST", "/api/v1/session/login", {
      json: { email, password: PASSWORD, totp: code },
    });
    expect((replay.body.error as { code: string }).code).toBe("wrong_totp");
  });

  it("throttles logins per account with Retry-After, whatever the password", async () => {
    const { email } = await signUp(browser());
    for (let attempt = 0; attempt < 5; attempt++) {
      const wrong = await browser().request("POST", "/api/v1/session/login", {
        json: { email, password: "wrong password" },
      });
      expect(wrong.status).toBe(401);
    }
    const refused = await browser().request("POST", "/api/v1/session/login", {
      json: { email, password: PASSWORD },
    });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((refused.body.error as { code: string }).code).toBe("throttled");
    // Another account from the same address is not held back.
    const other = browser();
    const otherUser = await signUp(other);
    const login = await browser().request("POST", "/api/v1/session/login", {
      json: { email: otherUser.email, password: PASSWORD },
    });
    expect(login.status).toBe(200);
  });

  it("refuses bad input in the session API's error format", async () => {
    const client = browser();
    const cases: Array<[Parameters<Browser["request"]>[2], number, string]> = [
      [{ raw: "{not json", headers: { "content-type": "application/json" } }, 400, "bad_request"],
      [{ json: { email: newEmail(), password: PASSWORD, admin: "yes" } }, 400, "unknown_field"],
      [{ json: { email: "not an email", password: PASSWORD } }, 400, "invalid_email"],
      [{ json: { email: "<script>@x.test", password: PASSWORD } }, 400, "invalid_email"],
      [{ json: { email: newEmail(), password: "short" } }, 400, "weak_password"],
      [{ json: { email: newEmail(), password: 12345678 } }, 400, "bad_request"],
      [{ json: [] }, 400, "bad_request"],
      [{ form: { email: newEmail(), password: PASSWORD } }, 415, "bad_request"],
      [{ json: { email: newEmail(), password: "p".repeat(5000) } }, 413, "payload_too_large"],
    ];
    for (const [options, status, code] of cases) {
      const answer = await client.request("POST", "/api/v1/session/signup", options);
      expect([answer.status, (answer.body.error as { code: string } | undefined)?.code]).toEqual([
        status,
        code,
      ]);
      expect(client.cookies.size).toBe(0);
    }
    const foreign = await client.request("POST", "/api/v1/session/login", {
      json: { email: newEmail(), password: PASSWORD },
      headers: { origin: "http://evil.example" },
    });
    expect((foreign.body.error as { code: string }).code).toBe("bad_origin");
  });
});

describe("withdrawals through the session door", () => {
  it("pass the user's 2FA code to custody as the proof, where the HMAC door passes the key", async () => {
    const requests: WithdrawalRequest[] = [];
    // A custody double with only what withdraw_crypt calls: no terms, and a recorded request.
    const custody = {
      terms: () => [],
      requestWithdrawal: async (request: WithdrawalRequest) => {
        requests.push(request);
        return { withdrawalId: requests.length };
      },
    } as unknown as CustodyPort;
    const withCustody = await startHarness({
      custody,
      session: { passwordScrypt: { logN: 10, blockSize: 8, parallelization: 1 } },
    });
    try {
      const client = new Browser(() => withCustody.baseUrl);
      const signup = await client.request("POST", "/api/v1/session/signup", {
        json: { email: newEmail(), password: PASSWORD },
      });
      const userId = signup.body.userId as number;
      const fields = { amount: "0.01", currency: "BTC", address: "bcrt1qexample" };
      const withCode = await client.private("withdraw_crypt", { ...fields, totp: "123456" });
      expect(withCode.body).toEqual({ result: true, error: "", task_id: 1 });
      expect(requests[0]).toMatchObject({
        userId,
        currency: "BTC",
        amount: "0.01",
        proof: { kind: "totp", code: "123456" },
      });
      const trader = await createTrader(withCustody, { scopes: ["withdraw"], ipAllowList: ["127.0.0.1"] });
      await signedPost(withCustody, trader, "withdraw_crypt", fields);
      expect(requests[1]).toMatchObject({
        userId: trader.userId,
        proof: { kind: "apiKey", keyId: trader.keyId },
      });
      // No code, no call to custody.
      expect((await client.private("withdraw_crypt", fields)).status).toBe(403);
      expect(requests).toHaveLength(2);
    } finally {
      await withCustody.close();
    }
  });
});

describe("login throttle per address", () => {
  it("refuses an address's attempts past its burst, for any account, and its requests past the general budget", async () => {
    const small = await startHarness({
      session: {
        passwordScrypt: { logN: 10, blockSize: 8, parallelization: 1 },
        throttle: {
          accountBurst: 100,
          accountRefillSeconds: 60,
          addressBurst: 3,
          addressRefillSeconds: 60,
          maxKeys: 100,
          requestBurst: 6,
          requestsPerSecond: 0.001,
        },
      },
    });
    try {
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 4; attempt++) {
        const response = await fetch(`${small.baseUrl}/api/v1/session/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: `nobody${attempt}@example.test`, password: PASSWORD }),
        });
        statuses.push(response.status);
        if (response.status === 429)
          expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
      // Every session API request, reads included, also spends the address's general budget.
      const reads: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++)
        reads.push((await fetch(`${small.baseUrl}/api/v1/session/me`)).status);
      expect(reads).toEqual([401, 401, 429]);
    } finally {
      await small.close();
    }
  });
});

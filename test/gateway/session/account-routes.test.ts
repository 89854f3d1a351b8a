// A person's own account from the browser (docs/API.md#account-self-service) on a real gateway:
// 2FA enable/confirm/disable, API keys (created with the 2FA code when asked, secret shown once,
// listed, revoked; another user's key is not found), the address book, the security log; and the
// refusals (no session, no CSRF token, wrong or missing code, malformed, oversized or unknown
// input), each a clear error that changes nothing. The operator's actions and the session run one
// implementation (src/accounts/account-service.ts): both store the same key.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountServiceError, type AddressRules } from "../../../src/accounts/account-service.ts";
import { Accounts } from "../../../src/accounts/accounts.ts";
import { totpCode } from "../../../src/accounts/totp.ts";
import { CSRF_COOKIE } from "../../../src/gateway/session/session-auth.ts";
import { SESSION_BODY_LIMIT_BYTES } from "../../../src/gateway/session/session-routes.ts";
import { OperatorActions } from "../../../src/operator/actions.ts";
import { type Harness, signedPost, startHarness } from "../support/rest-harness.ts";

const BTC_ADDRESS = "tb1qexampleaddressnumberone0000000000000";
const ETH_ADDRESS = "0x00000000000000000000000000000000000000a1";

/** Two chains as custody would tell them: BTC addresses lower-cased, ETH's 0x + 40 hex digits. */
const TEST_ADDRESS_RULES: AddressRules = {
  chainOf(currency) {
    if (currency === "BTC") return "test-btc";
    if (currency === "ETH") return "test-eth";
    throw new AccountServiceError("notFound", "not_found", `no currency ${currency} on a chain`);
  },
  canonical(currency, chain, address) {
    const lower = address.toLowerCase();
    if (chain === "test-btc" && /^tb1[0-9a-z]{20,60}$/.test(lower)) return lower;
    if (chain === "test-eth" && /^0x[0-9a-f]{40}$/.test(lower)) return lower;
    throw new AccountServiceError("invalid", "bad_request", `not a ${chain} address (for ${currency})`);
  },
};

let harness: Harness;
let clockOffsetMs = 0;
const now = () => Date.now() + clockOffsetMs;

beforeAll(async () => {
  harness = await startHarness({
    clock: now,
    session: {
      // The cheapest scrypt passwords.ts allows: the flows, not the hash's cost, are under test.
      passwordScrypt: { logN: 10, blockSize: 8, parallelization: 1 },
      throttle: {
        accountBurst: 8,
        accountRefillSeconds: 600,
        addressBurst: 10_000,
        addressRefillSeconds: 1,
        requestBurst: 100_000,
        maxKeys: 1000,
      },
      addressRules: TEST_ADDRESS_RULES,
    },
  });
});
afterAll(async () => {
  await harness?.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/** A browser: a cookie jar, the CSRF token echoed from its cookie. */
class Browser {
  readonly cookies = new Map<string, string>();

  async request(
    method: "GET" | "POST",
    path: string,
    options: { json?: unknown; raw?: string; headers?: Record<string, string>; csrf?: boolean } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const csrf = this.cookies.get(CSRF_COOKIE);
    if ((options.csrf ?? true) && csrf !== undefined) headers["x-csrf-token"] = csrf;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers["content-type"] ??= "application/json";
      body = JSON.stringify(options.json);
    } else if (options.raw !== undefined) body = options.raw;
    const response = await fetch(`${harness.baseUrl}/api/v1/session${path}`, { method, headers, body });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const mark = pair.indexOf("=");
      if (/Max-Age=0/.test(line)) this.cookies.delete(pair.slice(0, mark));
      else this.cookies.set(pair.slice(0, mark), pair.slice(mark + 1));
    }
    const text = await response.text();
    return { status: response.status, body: text === "" ? {} : JSON.parse(text), text };
  }

  get(path: string): Promise<Answer> {
    return this.request("GET", path);
  }

  post(path: string, json?: unknown, options: { csrf?: boolean; headers?: Record<string, string> } = {}) {
    return this.request("POST", path, { ...options, ...(json === undefined ? {} : { json }) });
  }
}

let emailCounter = 0;
const PASSWORD = "correct horse battery";

async function person(): Promise<{ client: Browser; userId: number; email: string }> {
  const client = new Browser();
  const email = `self${++emailCounter}-${process.pid}@example.test`;
  const answer = await client.post("/signup", { email, password: PASSWORD });
  expect(answer.status).toBe(201);
  return { client, userId: answer.body.userId as number, email };
}

function expectRefusal(answer: Answer, status: number, code: string, message?: RegExp): void {
  expect(answer.status, answer.text).toBe(status);
  const error = answer.body.error as { code: string; message: string };
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
  if (message !== undefined) expect(error.message).toMatch(message);
}

/** The code of the step `steps` away from the gateway's now (each step is accepted once, in order). */
function code(secret: string, steps: number): string {
  return totpCode(secret, Math.floor(now() / 1000) + steps * 30);
}

/** Moves the gateway's clock past the codes used so far. */
function nextMinute(): void {
  clockOffsetMs += 90_000;
}

async function enable2fa(client: Browser): Promise<string> {
  const enrolled = await client.post("/2fa/enable");
  expect(enrolled.status).toBe(200);
  const secret = enrolled.body.secret as string;
  const confirmed = await client.post("/2fa/confirm", { code: code(secret, -1) });
  expect(confirmed.status, confirmed.text).toBe(200);
  return secret;
}

async function auditCount(): Promise<number> {
  const row = await harness.exchange.internals.store.db
    .selectFrom("audit_log")
    .select((eb) => eb.fn.countAll<number>().as("count"))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

describe("2FA from the browser", () => {
  it("enables (pending until confirmed), confirms with a code, refuses a wrong one, disables with a current code", async () => {
    const { client, userId } = await person();
    expect((await client.get("/2fa")).body).toEqual({ enabled: false, pending: false });

    const enrolled = await client.post("/2fa/enable");
    expect(enrolled.status).toBe(200);
    const secret = enrolled.body.secret as string;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(enrolled.body.otpauthUrl).toMatch(/^otpauth:\/\/totp\/Bulwark:self/);
    expect(enrolled.body.otpauthUrl).toContain(`secret=${secret}`);
    expect((await client.get("/2fa")).body).toEqual({ enabled: false, pending: true });

    const wrong = await client.post("/2fa/confirm", { code: code(secret, 5) });
    expectRefusal(wrong, 403, "wrong_totp");
    expect((await client.get("/2fa")).body).toEqual({ enabled: false, pending: true });
    expectRefusal(await client.post("/2fa/confirm", { code: "12345" }), 400, "bad_request", /6 digits/);

    const confirmed = await client.post("/2fa/confirm", { code: code(secret, -1) });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.enabled).toBe(true);
    expect(confirmed.body.withdrawalsLockedUntilMs).toBeGreaterThan(now() + 23 * 3600_000);
    expect(await harness.exchange.accounts.withdrawalsLocked(userId, now())).toBe(true);
    expect((await client.get("/2fa")).body).toEqual({ enabled: true, pending: false });
    expectRefusal(await client.post("/2fa/enable"), 409, "conflict", /already enabled/);

    // Disabling needs a current code: none, a wrong one and a replayed one change nothing.
    expectRefusal(await client.post("/2fa/disable"), 403, "totp_required");
    expectRefusal(await client.post("/2fa/disable", { code: code(secret, 4) }), 403, "wrong_totp");
    expectRefusal(await client.post("/2fa/disable", { code: code(secret, -1) }), 403, "wrong_totp");
    expect((await client.get("/2fa")).body.enabled).toBe(true);
    const disabled = await client.post("/2fa/disable", { code: code(secret, 0) });
    expect(disabled.status, disabled.text).toBe(200);
    expect(disabled.body.enabled).toBe(false);
    expect((await client.get("/2fa")).body).toEqual({ enabled: false, pending: false });
    expectRefusal(await client.post("/2fa/disable", { code: code(secret, 1) }), 404, "not_found");

    const log = await client.get("/security-log");
    const actions = (log.body.entries as { action: string; actor: string }[]).map((entry) => entry.action);
    expect(actions.slice(0, 3)).toEqual(["user.2fa.disable", "user.2fa.confirm", "user.2fa.enable"]);
    expect((log.body.entries as { actor: string }[])[0].actor).toBe(`user:${userId}`);
    // The secret is shown once, at enrolment, never in the log.
    expect(log.text).not.toContain(secret);
  });

  it("takes a login attempt for every code, so codes cannot be guessed faster than at the login", async () => {
    const { client } = await person();
    const enrolled = await client.post("/2fa/enable");
    const secret = enrolled.body.secret as string;
    for (let attempt = 0; attempt < 8; attempt++)
      expectRefusal(
        await client.post("/2fa/confirm", { code: code(secret, 10 + attempt) }),
        403,
        "wrong_totp",
      );
    expectRefusal(await client.post("/2fa/confirm", { code: code(secret, 0) }), 429, "throttled");
    expect((await client.get("/2fa")).body).toEqual({ enabled: false, pending: true });
  });
});

describe("API keys from the browser", () => {
  it("creates a key shown once, lists live keys without secrets, revokes only the user's own", async () => {
    const { client, userId } = await person();
    const created = await client.post("/api-keys/create", { scopes: "trade,info", ipAllowList: [] });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ scopes: ["info", "trade"], ipAllowList: [] });
    const keyId = created.body.keyId as string;
    const secret = created.body.secret as string;
    expect(secret.length).toBeGreaterThan(20);
    // The key works at the HMAC door.
    const info = await signedPost(harness, { userId, keyId, secret }, "user_info");
    expect(info.status).toBe(200);
    expect((info.body as { uid: number }).uid).toBe(userId);

    const listed = await client.get("/api-keys");
    expect(listed.body.keys).toEqual([
      { keyId, scopes: ["info", "trade"], ipAllowList: [], createdMs: expect.any(Number) },
    ]);
    expect(listed.text).not.toContain(secret);

    // Someone else's key: not found, and it stays live.
    const other = await person();
    const otherKey = await other.client.post("/api-keys/create", { scopes: "info" });
    expect(otherKey.status).toBe(201);
    const stolen = await client.post("/api-keys/revoke", { keyId: otherKey.body.keyId });
    expectRefusal(stolen, 404, "not_found");
    expect((await harness.exchange.accounts.apiKey(otherKey.body.keyId as string))?.revokedMs).toBeNull();
    expectRefusal(await client.post("/api-keys/revoke", { keyId: "../x" }), 400, "bad_request", /malformed/);

    const revoked = await client.post("/api-keys/revoke", { keyId });
    expect(revoked.body).toEqual({ keyId });
    expect((await client.get("/api-keys")).body.keys).toEqual([]);
    expectRefusal(await client.post("/api-keys/revoke", { keyId }), 404, "not_found");
    const refused = await signedPost(harness, { userId, keyId, secret }, "user_info");
    expect((refused.body as { result: boolean }).result).toBe(false);

    const log = await client.get("/security-log");
    const entries = log.body.entries as { action: string; details: Record<string, unknown> }[];
    expect(entries.slice(0, 2).map((entry) => entry.action)).toEqual(["apiKey.revoke", "apiKey.create"]);
    expect(entries[1].details).toEqual({ userId, scopes: "info,trade", ipAllowList: [] });
    expect(log.text).not.toContain(secret);
  });

  it("asks for the 2FA code when 2FA is on, and always for withdraw (which also needs an allow-list)", async () => {
    const { client, userId } = await person();
    const before = await auditCount();
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info,withdraw", ipAllowList: ["203.0.113.7"] }),
      403,
      "totp_required",
      /enable it first/,
    );
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info", totp: "123456" }),
      400,
      "bad_request",
    );
    expect(await auditCount()).toBe(before);

    const secret = await enable2fa(client);
    expectRefusal(await client.post("/api-keys/create", { scopes: "info" }), 403, "totp_required");
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info", totp: code(secret, 5) }),
      403,
      "wrong_totp",
    );
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info,withdraw", totp: code(secret, 0) }),
      400,
      "bad_request",
      /allow-list/,
    );
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info,fly" }),
      400,
      "bad_request",
      /scopes/,
    );
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info", ipAllowList: ["not-an-ip"] }),
      400,
      "bad_request",
      /allow-list/,
    );
    expect((await harness.exchange.accounts.liveApiKeysOfUser(userId, { limit: 10 })).length).toBe(0);

    nextMinute();
    const created = await client.post("/api-keys/create", {
      scopes: "info,withdraw",
      ipAllowList: ["203.0.113.7"],
      totp: code(secret, 0),
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ scopes: ["info", "withdraw"], ipAllowList: ["203.0.113.7"] });
    // The code is spent: the same one again is refused.
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info", totp: code(secret, 0) }),
      403,
      "wrong_totp",
    );
  });

  it("stores the same key and audit row through the operator's door and the session's", async () => {
    const { client, userId, email } = await person();
    const operator = new OperatorActions(harness.exchange, harness.secretBox, now);
    const byOperator = await operator.createApiKey("operator:test", {
      email,
      scopes: "trade,info",
      ipAllowList: ["198.51.100.0/24"],
    });
    const bySession = await client.post("/api-keys/create", {
      scopes: "trade,info",
      ipAllowList: ["198.51.100.0/24"],
    });
    expect(bySession.status).toBe(201);
    const accounts = harness.exchange.accounts;
    const [a, b] = [
      await accounts.apiKey(byOperator.keyId),
      await accounts.apiKey(bySession.body.keyId as string),
    ];
    const stored = (key: typeof a) => ({
      userId: key?.userId,
      scopes: key?.scopes,
      ipAllowList: key?.ipAllowList,
      revokedMs: key?.revokedMs,
    });
    expect(stored(b)).toEqual(stored(a));
    expect(stored(a)).toEqual({
      userId,
      scopes: ["info", "trade"],
      ipAllowList: ["198.51.100.0/24"],
      revokedMs: null,
    });

    const rows = await harness.exchange.audit.ofSubjects(
      [`apiKey:${byOperator.keyId}`, `apiKey:${bySession.body.keyId}`],
      { limit: 10 },
    );
    expect(rows.map((row) => [row.actor, row.action])).toEqual([
      [`user:${userId}`, "apiKey.create"],
      ["operator:test", "apiKey.create"],
    ]);
    expect(rows[0].detailsJson).toBe(rows[1].detailsJson);

    // And the operator revokes the session's key as the session revokes the operator's.
    await client.post("/api-keys/revoke", { keyId: byOperator.keyId });
    await operator.revokeApiKey("operator:test", { keyId: bySession.body.keyId as string });
    expect((await accounts.apiKey(byOperator.keyId))?.revokedMs).not.toBeNull();
    expect((await accounts.apiKey(bySession.body.keyId as string))?.revokedMs).not.toBeNull();
  });
});

describe("the address book from the browser", () => {
  it("adds (canonical, pending the delay), lists, filters, refuses duplicates and bad addresses, removes", async () => {
    const { client, userId } = await person();
    const added = await client.post("/addresses/add", {
      currency: "btc",
      address: BTC_ADDRESS.toUpperCase(),
      label: "my wallet",
    });
    expect(added.status, added.text).toBe(201);
    expect(added.body).toMatchObject({
      currency: "BTC",
      address: BTC_ADDRESS,
      label: "my wallet",
      active: false,
    });
    expect(added.body.activeFromMs).toBe((added.body.createdMs as number) + 24 * 3600_000);
    const eth = await client.post("/addresses/add", { currency: "ETH", address: ETH_ADDRESS });
    expect(eth.status).toBe(201);

    expect(((await client.get("/addresses")).body.addresses as unknown[]).length).toBe(2);
    expect((await client.get("/addresses?currency=eth")).body.addresses).toEqual([
      {
        currency: "ETH",
        address: ETH_ADDRESS,
        label: "",
        createdMs: expect.any(Number),
        activeFromMs: expect.any(Number),
        active: false,
      },
    ]);
    expectRefusal(await client.get("/addresses?currency=B-C"), 400, "bad_request");
    expectRefusal(await client.get("/addresses?chain=x"), 400, "unknown_field");

    const before = await auditCount();
    expectRefusal(
      await client.post("/addresses/add", { currency: "BTC", address: BTC_ADDRESS }),
      409,
      "conflict",
    );
    expectRefusal(
      await client.post("/addresses/add", { currency: "BTC", address: ETH_ADDRESS }),
      400,
      "bad_request",
      /not a test-btc address/,
    );
    expectRefusal(
      await client.post("/addresses/add", { currency: "DOGE", address: BTC_ADDRESS }),
      404,
      "not_found",
    );
    expectRefusal(
      await client.post("/addresses/add", {
        currency: "BTC",
        address: "tb1qanotheraddress000000000000",
        label: "<b>",
      }),
      400,
      "bad_request",
      /label/,
    );
    expect(await auditCount()).toBe(before);
    expect((await harness.exchange.accounts.addressBook(userId, { limit: 10 })).length).toBe(2);

    expect((await client.post("/addresses/remove", { currency: "ETH", address: ETH_ADDRESS })).body).toEqual({
      removed: true,
    });
    expectRefusal(
      await client.post("/addresses/remove", { currency: "ETH", address: ETH_ADDRESS }),
      404,
      "not_found",
    );
    expect((await client.get("/addresses")).body.addresses).toMatchObject([{ currency: "BTC" }]);

    const log = await client.get("/security-log?limit=2");
    expect((log.body.entries as { action: string }[]).map((entry) => entry.action)).toEqual([
      "addressBook.remove",
      "addressBook.add",
    ]);
  });

  it("asks for the 2FA code when 2FA is on; another user's entries are not seen", async () => {
    const { client, userId } = await person();
    const secret = await enable2fa(client);
    expectRefusal(
      await client.post("/addresses/add", { currency: "BTC", address: BTC_ADDRESS }),
      403,
      "totp_required",
    );
    expectRefusal(
      await client.post("/addresses/add", { currency: "BTC", address: BTC_ADDRESS, totp: "000000" }),
      403,
      "wrong_totp",
    );
    expect(await harness.exchange.accounts.addressBook(userId, { limit: 10 })).toEqual([]);
    const added = await client.post("/addresses/add", {
      currency: "BTC",
      address: BTC_ADDRESS,
      totp: code(secret, 0),
    });
    expect(added.status, added.text).toBe(201);

    const other = await person();
    expect((await other.client.get("/addresses")).body.addresses).toEqual([]);
    expectRefusal(
      await other.client.post("/addresses/remove", { currency: "BTC", address: BTC_ADDRESS }),
      404,
      "not_found",
    );
    expect((await harness.exchange.accounts.addressBook(userId, { limit: 10 })).length).toBe(1);
    expect(
      ((await other.client.get("/security-log")).body.entries as { action: string }[]).map((e) => e.action),
    ).toEqual(["user.signup"]);
  });
});

describe("refusals", () => {
  it("refuses every route without a session, and every POST without the CSRF token or from another site", async () => {
    const anonymous = new Browser();
    for (const path of ["/2fa", "/api-keys", "/addresses", "/security-log"])
      expectRefusal(await anonymous.get(path), 401, "no_session");
    for (const path of [
      "/2fa/enable",
      "/2fa/confirm",
      "/2fa/disable",
      "/api-keys/create",
      "/api-keys/revoke",
      "/addresses/add",
      "/addresses/remove",
    ])
      expectRefusal(await anonymous.post(path, {}), 401, "no_session");

    const { client, userId } = await person();
    const before = await auditCount();
    expectRefusal(await client.post("/2fa/enable", undefined, { csrf: false }), 403, "csrf_failed");
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info" }, { csrf: false }),
      403,
      "csrf_failed",
    );
    expectRefusal(
      await client.post("/addresses/add", { currency: "BTC", address: BTC_ADDRESS }, { csrf: false }),
      403,
      "csrf_failed",
    );
    expectRefusal(
      await client.post(
        "/api-keys/create",
        { scopes: "info" },
        { headers: { origin: "https://evil.example" } },
      ),
      403,
      "bad_origin",
    );
    expect(await auditCount()).toBe(before);
    expect(await harness.exchange.accounts.totpStatus(userId)).toBe("none");
    expect(await harness.exchange.accounts.liveApiKeysOfUser(userId, { limit: 10 })).toEqual([]);
    expect(await harness.exchange.accounts.addressBook(userId, { limit: 10 })).toEqual([]);
  });

  it("refuses malformed, oversized and unknown input with a clear error", async () => {
    const { client, userId } = await person();
    const before = await auditCount();
    const post = (path: string, raw: string, type = "application/json") =>
      client.request("POST", path, { raw, headers: { "content-type": type } });
    expectRefusal(await post("/api-keys/create", "{not json"), 400, "bad_request", /not valid JSON/);
    expectRefusal(await post("/api-keys/create", "[1]"), 400, "bad_request", /JSON object/);
    expectRefusal(
      await post("/api-keys/create", "scopes=info", "application/x-www-form-urlencoded"),
      415,
      "bad_request",
    );
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info", admin: true }),
      400,
      "unknown_field",
      /admin/,
    );
    expectRefusal(await client.post("/api-keys/create", {}), 400, "bad_request", /missing field 'scopes'/);
    expectRefusal(await client.post("/api-keys/create", { scopes: ["info"] }), 400, "bad_request", /string/);
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info", ipAllowList: "1.2.3.4" }),
      400,
      "bad_request",
      /list/,
    );
    expectRefusal(
      await client.post("/api-keys/create", { scopes: "info", ipAllowList: Array(65).fill("1.2.3.4") }),
      400,
      "bad_request",
      /at most/,
    );
    expectRefusal(await client.post("/2fa/enable", { x: "1" }), 400, "unknown_field");
    expectRefusal(await client.post("/2fa/confirm", { code: 123456 }), 400, "bad_request", /string/);
    expectRefusal(
      await client.post("/addresses/add", { currency: "BTC", address: "x".repeat(SESSION_BODY_LIMIT_BYTES) }),
      413,
      "payload_too_large",
    );
    expectRefusal(
      await client.post("/addresses/add", { currency: "BTC", address: " " }),
      400,
      "bad_request",
      /address/,
    );
    expectRefusal(await client.get("/security-log?limit=0"), 400, "bad_request", /limit/);
    expectRefusal(await client.get("/security-log?limit=abc"), 400, "bad_request", /limit/);
    expectRefusal(await client.get("/security-log?limit=201"), 400, "bad_request", /limit/);
    expectRefusal(await client.get("/security-log?limit=1&limit=2"), 400, "bad_request", /once/);
    expectRefusal(await client.get("/2fa?x=1"), 400, "unknown_field");
    expect(await auditCount()).toBe(before);
    expect(await harness.exchange.accounts.totpStatus(userId)).toBe("none");
    expect(await harness.exchange.accounts.liveApiKeysOfUser(userId, { limit: 10 })).toEqual([]);
  });
});

describe("the withdrawal lock after a security change", () => {
  it("lasts securityChangeLockMs (24 h by default, shorter when configured, as the demo server does)", async () => {
    const { client, userId } = await person();
    await enable2fa(client);
    const store = harness.exchange.internals.store;
    const changedMs = await harness.exchange.accounts.securityChangedMs(userId);
    if (changedMs === undefined) throw new Error("the security change was not recorded");
    const short = new Accounts(store, { securityChangeLockMs: 1000 });
    expect(short.securityChangeLock).toBe(1000);
    expect(await short.withdrawalsLocked(userId, changedMs + 999)).toBe(true);
    expect(await short.withdrawalsLocked(userId, changedMs + 1000)).toBe(false);
    expect(await harness.exchange.accounts.withdrawalsLocked(userId, changedMs + 1000)).toBe(true);
    expect(await harness.exchange.accounts.withdrawalsLocked(userId, changedMs + 24 * 3600_000)).toBe(false);
    // withSecretBox keeps it.
    expect(short.withSecretBox(harness.secretBox).securityChangeLock).toBe(1000);
    expect(() => new Accounts(store, { securityChangeLockMs: -1 })).toThrow(RangeError);
    expect(() => new Accounts(store, { securityChangeLockMs: 0.5 })).toThrow(RangeError);
  });
});

// A console operator's second factor (src/operator/console/operator-accounts.ts, console-api.ts,
// src/store/operators.ts): enable (pending, the secret sealed) and confirm through the operator
// actions, audited; with 2FA on, a console login without a code is refused (totp_required), a
// wrong or reused code is refused (wrong_totp) changing nothing, the right code logs in once;
// disable returns to password-only logins. The store's TOTP columns (migration 0008) on both
// engines, with the one-use rule; and the `bulwark operator 2fa` commands offline.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/accounts/passwords.ts";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { totpCodeAtStep, totpStep } from "../../src/accounts/totp.ts";
import { parseCli } from "../../src/cli/args.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { createGateway, type Gateway } from "../../src/gateway/http/server.ts";
import { OperatorActions, OperatorError } from "../../src/operator/actions.ts";
import { CONSOLE_PREFIX, consoleApi } from "../../src/operator/console/console-api.ts";
import { operatorTotpContext } from "../../src/operator/console/operator-accounts.ts";
import { rolesAllowed } from "../../src/operator/console/roles.ts";
import { bindOperatorStore } from "../../src/store/operators.ts";
import { bulwarkIn, newDataDir } from "../cli/harness.ts";
import { ENGINES, openTestStore, type TestStore } from "../store/engines.ts";

const PASSWORD = "console-2fa-password";
const LOW_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };
const ACTOR = "operator:test";
/** A fixed moment the test clock starts at (mid-step, so ±1 step is unambiguous). */
const START_MS = 1_790_000_015_000;
const STEP_MS = 30_000;
/** Login attempts per account before the throttle refuses (refill far slower than the test runs). */
const ACCOUNT_BURST = 16;

let dataDir: string;
let exchange: Exchange;
let gateway: Gateway;
let baseUrl: string;
let actions: OperatorActions;
let secretBox: SecretBox;
let nowMs = START_MS;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-console-2fa-"));
  exchange = await Exchange.open({ dataDir });
  secretBox = new SecretBox(randomBytes(32));
  const clock = () => nowMs;
  actions = new OperatorActions(exchange, secretBox, clock, null, null, LOW_SCRYPT);
  gateway = createGateway(exchange, {
    secretBox,
    logger: pino({ level: "silent" }),
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
    clock,
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
  baseUrl = `http://127.0.0.1:${(await gateway.listen()).port}`;
  const passwordHash = await hashPassword(PASSWORD, LOW_SCRYPT);
  for (const email of ["ops@2fa.test", "plain@2fa.test", "limited@2fa.test"])
    await exchange.operators.create({ email, passwordHash, role: "admin", createdMs: START_MS });
  await exchange.operators.create({
    email: "support@2fa.test",
    passwordHash,
    role: "support",
    createdMs: START_MS,
  });
});

afterAll(async () => {
  await gateway?.close();
  await exchange?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function login(json: Record<string, string>) {
  const response = await fetch(`${baseUrl}${CONSOLE_PREFIX}/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(json),
  });
  return {
    status: response.status,
    cookies: response.headers.getSetCookie(),
    body: (await response.json()) as Record<string, unknown>,
  };
}

async function auditActions(subject: string): Promise<string[]> {
  const rows = await exchange.internals.store.db
    .selectFrom("audit_log")
    .select(["action", "details_json"])
    .where("subject", "=", subject)
    .orderBy("seq")
    .execute();
  return rows.map((row) => row.action);
}

function codeAt(secret: string, atMs: number): string {
  return totpCodeAtStep(secret, totpStep(atMs));
}

describe("console 2FA for an operator", () => {
  it("enables (pending), confirms, then needs a code at every login; each code works once", async () => {
    const email = "ops@2fa.test";
    const admin = actions.consoleAdmin;
    const enrolment = await admin.enableTotp(ACTOR, { email: "OPS@2fa.test" });
    expect(enrolment.email).toBe(email);
    expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(enrolment.uri).toMatch(/^otpauth:\/\/totp\//);
    expect(enrolment.uri).toContain(`secret=${enrolment.secret}`);
    const pending = await exchange.operators.byEmail(email);
    expect(pending).toMatchObject({ totpStatus: "pending", totpLastUsedStep: null });
    // Sealed, not stored in the clear, and only under this operator's context.
    expect(pending?.totpSecretSealed).not.toContain(enrolment.secret);
    const sealed = pending?.totpSecretSealed ?? "";
    expect(secretBox.open(sealed, operatorTotpContext(pending?.operatorId ?? 0)).ok).toBe(true);
    expect(secretBox.open(sealed, operatorTotpContext((pending?.operatorId ?? 0) + 1)).ok).toBe(false);
    expect((await admin.listOperators()).operators.find((o) => o.email === email)?.totp).toBe("pending");

    // Pending 2FA does not change logins yet: a password-only login works.
    expect((await login({ email, password: PASSWORD })).status).toBe(200);

    // A wrong first code confirms nothing.
    const wrong = codeAt(enrolment.secret, nowMs) === "000000" ? "111111" : "000000";
    await expect(admin.confirmTotp(ACTOR, { email, code: wrong })).rejects.toMatchObject({
      kind: "invalid",
      message: expect.stringMatching(/wrong code/),
    });
    expect((await exchange.operators.byEmail(email))?.totpStatus).toBe("pending");

    const confirmCode = codeAt(enrolment.secret, nowMs);
    expect(await admin.confirmTotp(ACTOR, { email, code: confirmCode })).toEqual({ email, totp: "enabled" });
    expect(await exchange.operators.byEmail(email)).toMatchObject({
      totpStatus: "enabled",
      totpLastUsedStep: totpStep(nowMs),
    });
    await expect(admin.confirmTotp(ACTOR, { email, code: confirmCode })).rejects.toMatchObject({
      kind: "conflict",
    });
    await expect(admin.enableTotp(ACTOR, { email })).rejects.toMatchObject({
      kind: "conflict",
      message: expect.stringMatching(/disable it first/),
    });

    // No code: refused with the message the console's form shows; no cookie.
    const noCode = await login({ email, password: PASSWORD });
    expect(noCode.status).toBe(401);
    expect(noCode.body).toEqual({
      error: {
        code: "totp_required",
        message: "enter the 6-digit code of your authenticator app (this operator account has 2FA)",
      },
    });
    expect(noCode.cookies).toEqual([]);
    // A wrong password with a code is still wrong credentials (the code is not even looked at).
    expect((await login({ email, password: "not-the-password", totp: "123456" })).body).toMatchObject({
      error: { code: "wrong_credentials" },
    });

    // The confirming code (its step used) is refused at login: one use only.
    const reused = await login({ email, password: PASSWORD, totp: confirmCode });
    expect(reused).toMatchObject({ status: 401, body: { error: { code: "wrong_totp" } }, cookies: [] });

    nowMs += STEP_MS;
    const before = await exchange.operators.byEmail(email);
    for (const code of [wrong === codeAt(enrolment.secret, nowMs) ? "222222" : wrong, "12345", "abcdef"]) {
      const refused = await login({ email, password: PASSWORD, totp: code });
      expect(refused).toMatchObject({ status: 401, body: { error: { code: "wrong_totp" } }, cookies: [] });
    }
    // Wrong codes change nothing.
    expect(await exchange.operators.byEmail(email)).toEqual(before);

    const code = codeAt(enrolment.secret, nowMs);
    const accepted = await login({ email, password: PASSWORD, totp: code });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ email, role: "admin" });
    expect(accepted.cookies.length).toBe(2);
    expect((await exchange.operators.byEmail(email))?.totpLastUsedStep).toBe(totpStep(nowMs));
    // The same code again, in the same step: refused.
    expect(await login({ email, password: PASSWORD, totp: code })).toMatchObject({
      status: 401,
      body: { error: { code: "wrong_totp" } },
    });

    // Disable: password-only again, and a code sent then is a clear 400.
    expect(await admin.disableTotp(ACTOR, { email })).toEqual({ email, totp: "disabled" });
    expect(await exchange.operators.byEmail(email)).toMatchObject({
      totpStatus: "none",
      totpSecretSealed: null,
      totpLastUsedStep: null,
    });
    await expect(admin.disableTotp(ACTOR, { email })).rejects.toMatchObject({ kind: "conflict" });
    expect((await login({ email, password: PASSWORD })).status).toBe(200);
    expect(await login({ email, password: PASSWORD, totp: "123456" })).toMatchObject({
      status: 400,
      body: { error: { code: "bad_request", message: expect.stringMatching(/has no 2FA/) } },
    });

    const audited = await auditActions(`operator:${email}`);
    expect(audited.filter((action) => action.startsWith("operator.totp"))).toEqual([
      "operator.totpEnable",
      "operator.totpConfirm",
      "operator.totpDisable",
    ]);
    // Every refused code is recorded: the reused confirming code, three wrong ones, one replay.
    const failures = await exchange.internals.store.db
      .selectFrom("audit_log")
      .select("details_json")
      .where("subject", "=", `operator:${email}`)
      .where("action", "=", "console.loginFailed")
      .execute();
    expect(failures.filter((row) => row.details_json.includes("wrongTotp")).length).toBe(5);
  });

  it("counts wrong codes against the login throttle", async () => {
    const email = "limited@2fa.test";
    const enrolment = await actions.consoleAdmin.enableTotp(ACTOR, { email });
    await actions.consoleAdmin.confirmTotp(ACTOR, { email, code: codeAt(enrolment.secret, nowMs) });
    nowMs += STEP_MS;
    const wrong = codeAt(enrolment.secret, nowMs) === "000000" ? "111111" : "000000";
    // Confirming took no login attempt: the whole burst goes to wrong codes, each refused.
    for (let attempt = 0; attempt < ACCOUNT_BURST; attempt++)
      expect((await login({ email, password: PASSWORD, totp: wrong })).body).toMatchObject({
        error: { code: "wrong_totp" },
      });
    // After the account's burst even the right code is throttled, and its step stays unused.
    const throttled = await login({ email, password: PASSWORD, totp: codeAt(enrolment.secret, nowMs) });
    expect(throttled).toMatchObject({ status: 429, body: { error: { code: "throttled" } } });
    expect((await exchange.operators.byEmail(email))?.totpLastUsedStep).toBe(totpStep(nowMs - STEP_MS));
  });

  it("refuses 2FA changes for unknown operators and bad emails, and the routes are the admin's", async () => {
    await expect(actions.consoleAdmin.enableTotp(ACTOR, { email: "nobody@2fa.test" })).rejects.toMatchObject({
      kind: "notFound",
    });
    await expect(
      actions.consoleAdmin.confirmTotp(ACTOR, { email: "plain@2fa.test", code: "123456" }),
    ).rejects.toMatchObject({
      kind: "conflict",
      message: expect.stringMatching(/no pending 2FA/),
    });
    await expect(actions.consoleAdmin.enableTotp(ACTOR, { email: "not an email" })).rejects.toBeInstanceOf(
      OperatorError,
    );
    expect((await exchange.operators.byEmail("plain@2fa.test"))?.totpStatus).toBe("none");
    for (const path of ["/operators/2fa/enable", "/operators/2fa/confirm", "/operators/2fa/disable"])
      expect(rolesAllowed("POST", path)).toEqual(["admin"]);
  });
});

/** An operator route through the console, as `email` logged in (cookies and CSRF token echoed). */
async function asConsole(email: string, path: string, json: Record<string, string>) {
  const session = await login({ email, password: PASSWORD });
  expect(session.status).toBe(200);
  const cookies = new Map(session.cookies.map((line) => line.split(";")[0].split("=") as [string, string]));
  const response = await fetch(`${baseUrl}${CONSOLE_PREFIX}/operator/v1${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join("; "),
      "x-csrf-token": cookies.get("bulwark_console_csrf") ?? "",
    },
    body: JSON.stringify(json),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("the operator API's 2FA routes", () => {
  it("are the admin's: an admin enables and disables through the console, support is refused", async () => {
    const refused = await asConsole("support@2fa.test", "/operators/2fa/enable", {
      email: "support@2fa.test",
    });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect((await exchange.operators.byEmail("support@2fa.test"))?.totpStatus).toBe("none");
    const enabled = await asConsole("plain@2fa.test", "/operators/2fa/enable", { email: "support@2fa.test" });
    expect(enabled).toMatchObject({ status: 200, body: { email: "support@2fa.test" } });
    expect(
      await asConsole("plain@2fa.test", "/operators/2fa/confirm", { email: "support@2fa.test", code: "12" }),
    ).toMatchObject({ status: 400, body: { error: { kind: "invalid" } } });
    expect(
      await asConsole("plain@2fa.test", "/operators/2fa/disable", { email: "support@2fa.test", extra: "x" }),
    ).toMatchObject({ status: 400 });
    expect(
      await asConsole("plain@2fa.test", "/operators/2fa/disable", { email: "support@2fa.test" }),
    ).toEqual({
      status: 200,
      body: { email: "support@2fa.test", totp: "disabled" },
    });
    const audited = await auditActions("operator:support@2fa.test");
    expect(audited).toContain("operator.totpEnable");
    expect(audited).toContain("operator.totpDisable");
  });
});

describe.each(ENGINES)("operator TOTP columns on %s", (engine) => {
  let opened: TestStore | undefined;
  afterEach(async () => {
    await opened?.dispose();
    opened = undefined;
  });

  it("stores a pending secret, confirms it, uses each step once, and clears it", async () => {
    opened = await openTestStore(engine);
    const operators = bindOperatorStore(opened.store.db);
    const created = await operators.create({
      email: "o@store.test",
      passwordHash: "h",
      role: "admin",
      createdMs: START_MS,
    });
    if (!created.ok) throw new Error("operator not added");
    const { operatorId } = created.operator;
    expect(created.operator).toMatchObject({
      totpStatus: "none",
      totpSecretSealed: null,
      totpLastUsedStep: null,
    });
    expect(await operators.useTotpStep(operatorId, 5)).toBe(false);
    expect(await operators.confirmTotp(operatorId, 5)).toBe(false);
    expect(await operators.clearTotp(operatorId)).toBe(false);

    expect(await operators.putPendingTotp({ operatorId, secretSealed: "sealed-1" })).toBe(true);
    expect(await operators.putPendingTotp({ operatorId, secretSealed: "sealed-2" })).toBe(true);
    expect(await operators.useTotpStep(operatorId, 5)).toBe(false);
    expect(await operators.byId(operatorId)).toMatchObject({
      totpStatus: "pending",
      totpSecretSealed: "sealed-2",
    });
    expect(await operators.confirmTotp(operatorId, 59_666_667)).toBe(true);
    expect(await operators.confirmTotp(operatorId, 59_666_668)).toBe(false);
    // An enabled secret is never replaced by a new pending one.
    expect(await operators.putPendingTotp({ operatorId, secretSealed: "sealed-3" })).toBe(false);
    expect(await operators.useTotpStep(operatorId, 59_666_667)).toBe(false);
    expect(await operators.useTotpStep(operatorId, 59_666_666)).toBe(false);
    expect(await operators.useTotpStep(operatorId, 59_666_668)).toBe(true);
    expect(await operators.useTotpStep(operatorId, 59_666_668)).toBe(false);
    expect(await operators.byEmail("o@store.test")).toMatchObject({
      totpStatus: "enabled",
      totpSecretSealed: "sealed-2",
      totpLastUsedStep: 59_666_668,
    });
    await expect(operators.putPendingTotp({ operatorId, secretSealed: "x".repeat(2_000) })).rejects.toThrow(
      RangeError,
    );
    await expect(operators.useTotpStep(operatorId, -1)).rejects.toThrow(RangeError);
    expect(await operators.clearTotp(operatorId)).toBe(true);
    expect(await operators.byId(operatorId)).toMatchObject({
      totpStatus: "none",
      totpSecretSealed: null,
      totpLastUsedStep: null,
    });
  });
});

describe("bulwark operator 2fa", () => {
  it("parses as a three-word command", () => {
    expect(parseCli(["operator", "2fa", "enable", "--email", "a@b.test"]).command).toBe(
      "operator 2fa enable",
    );
    expect(() => parseCli(["operator", "add", "extra"])).toThrow(/unexpected arguments/);
  });

  it("enables, confirms, lists and disables offline, audited", async () => {
    const cliDir = newDataDir("bulwark-operator-2fa-");
    const bulwark = (args: string[], stdin = "") => bulwarkIn(cliDir, args, stdin);
    expect(
      (await bulwark(["operator", "add", "--email", "cli@2fa.test", "--role", "admin"], `${PASSWORD}\n`)).json
        .ok,
    ).toBe(true);
    const enabled = await bulwark(["operator", "2fa", "enable", "--email", "cli@2fa.test"]);
    expect(enabled.json).toMatchObject({ ok: true, email: "cli@2fa.test" });
    const secret = String(enabled.json.secret);
    const wrongCode = codeAt(secret, Date.now()) === "000000" ? "111111" : "000000";
    const refused = await bulwark([
      "operator",
      "2fa",
      "confirm",
      "--email",
      "cli@2fa.test",
      "--code",
      wrongCode,
    ]);
    expect(refused.json).toMatchObject({ ok: false, error: { kind: "invalid" } });
    const confirmed = await bulwark([
      "operator",
      "2fa",
      "confirm",
      "--email",
      "cli@2fa.test",
      "--code",
      codeAt(secret, Date.now()),
    ]);
    expect(confirmed.json).toMatchObject({ ok: true, email: "cli@2fa.test", totp: "enabled" });
    expect((await bulwark(["operator", "list"])).json).toMatchObject({
      operators: [{ email: "cli@2fa.test", totp: "enabled" }],
    });
    expect((await bulwark(["operator", "2fa", "disable", "--email", "cli@2fa.test"])).json).toMatchObject({
      ok: true,
      totp: "disabled",
    });
    expect((await bulwark(["operator", "2fa", "disable", "--email", "cli@2fa.test"])).json).toMatchObject({
      ok: false,
      error: { kind: "conflict" },
    });
  });
});

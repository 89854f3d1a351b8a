// The operator API's flood-guard routes (src/operator/guard-actions.ts) over TCP with the bearer
// token: degraded mode switched on and off with a reason and an allow-list, bans listed and lifted
// (a ban registry double: the rate limiter's is the REST guard's), every change audited, bad input
// refused with nothing changed, and offline (no guard attached) a clear notFound. The console's
// role table: security and admin switch and lift, every role reads.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import {
  type BanRecord,
  type BanRegistry,
  GuardControl,
  type GuardSubjectScope,
} from "../../src/gateway/guard/guard-control.ts";
import { OperatorActions } from "../../src/operator/actions.ts";
import { OPERATOR_ROLES, roleMay } from "../../src/operator/console/roles.ts";
import { OPERATOR_API_PREFIX, operatorApi } from "../../src/operator/plugin.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";

const TOKEN = "operator-token-for-guard-tests-0123456789";
let server: ExchangeServer;
let directory: string;
let operatorApp: FastifyInstance;
let baseUrl: string;
let actions: OperatorActions;

/** Bans as the rate limiter would hold them. */
class BanDouble implements BanRegistry {
  bans: BanRecord[] = [
    { scope: "ip", subject: "203.0.113.7", level: 2, sinceMs: 1_000, untilMs: 2_000_000_000_000 },
    { scope: "key", subject: "K-flooder", level: 1, sinceMs: 900, untilMs: 2_000_000_000_000 },
  ];
  list(limit: number): BanRecord[] {
    return this.bans.slice(0, limit);
  }
  lift(scope: GuardSubjectScope, subject: string): boolean {
    const before = this.bans.length;
    this.bans = this.bans.filter((ban) => !(ban.scope === scope && ban.subject === subject));
    return this.bans.length < before;
  }
}

const bans = new BanDouble();
const control = new GuardControl(bans);

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "bulwark-guard-api-"));
  server = await startExchangeServer({
    dataDir: directory,
    port: 0,
    host: "127.0.0.1",
    demo: false,
    devnet: false,
  });
  actions = new OperatorActions(server.exchange, new SecretBox(randomBytes(32)));
  operatorApp = Fastify();
  await operatorApp.register(operatorApi, {
    prefix: OPERATOR_API_PREFIX,
    actions,
    token: { matches: (presented) => presented === TOKEN, source: "env", generated: null },
  });
  await operatorApp.listen({ host: "127.0.0.1", port: 0 });
  const address = operatorApp.server.address();
  if (address === null || typeof address === "string") throw new Error("operator API not on TCP");
  baseUrl = `http://127.0.0.1:${address.port}${OPERATOR_API_PREFIX}`;
});

afterAll(async () => {
  await operatorApp.close();
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function guardAudit(): Promise<{ action: string; subject: string; details: unknown }[]> {
  const rows = await server.exchange.internals.store.db
    .selectFrom("audit_log")
    .select(["action", "subject", "details_json"])
    .orderBy("seq")
    .execute();
  return rows
    .filter((row) => row.action.startsWith("guard."))
    .map((row) => ({
      action: row.action,
      subject: row.subject,
      details: JSON.parse(row.details_json) as unknown,
    }));
}

describe("operator API: the flood guard", () => {
  it("without a running gateway's guard every route says the server must run", async () => {
    for (const [method, path, body] of [
      ["GET", "/guard", undefined],
      ["GET", "/guard/bans", undefined],
      ["POST", "/guard/degrade", { on: true, reason: "flood" }],
      ["POST", "/guard/bans/lift", { scope: "ip", subject: "203.0.113.7" }],
    ] as const) {
      const answer = await call(method, path, body);
      expect(answer.status, path).toBe(404);
      expect((answer.json.error as { message: string }).message).toMatch(/while the server runs/);
    }
    expect(await guardAudit()).toEqual([]);
  });

  it("switches degraded mode on with a reason and an allow-list, and off, auditing each", async () => {
    actions.setGuardControl(control);
    const initial = await call("GET", "/guard");
    expect(initial.status).toBe(200);
    expect(initial.json.degraded).toMatchObject({ on: false, allowListedKeyIds: [] });
    expect(initial.json.bans).toHaveLength(2);

    const on = await call("POST", "/guard/degrade", {
      on: true,
      reason: "volumetric flood on the public API",
      allowListedKeyIds: ["K-maker-1", "K-maker-2", "K-maker-1"],
    });
    expect(on.status).toBe(200);
    expect(on.json.degraded).toMatchObject({
      on: true,
      reason: "volumetric flood on the public API",
      allowListedKeyIds: ["K-maker-1", "K-maker-2"],
      actor: expect.stringMatching(/^operator:api@/),
    });
    expect(control.isDegraded).toBe(true);
    expect(control.orderEntryAllowed("K-maker-2")).toBe(true);
    expect(control.orderEntryAllowed("K-other")).toBe(false);

    const off = await call("POST", "/guard/degrade", { on: false });
    expect(off.json.degraded).toMatchObject({ on: false, allowListedKeyIds: [] });
    expect(control.orderEntryAllowed("K-other")).toBe(true);
    expect(await guardAudit()).toEqual([
      {
        action: "guard.degrade",
        subject: "guard:degraded",
        details: {
          on: true,
          reason: "volumetric flood on the public API",
          allowListedKeyIds: ["K-maker-1", "K-maker-2"],
          was: false,
        },
      },
      {
        action: "guard.degrade",
        subject: "guard:degraded",
        details: { on: false, reason: null, allowListedKeyIds: [], was: true },
      },
    ]);
  });

  it("refuses bad switches with 400 and changes nothing", async () => {
    actions.setGuardControl(control);
    const auditBefore = (await guardAudit()).length;
    for (const body of [
      { on: true },
      { on: true, reason: "x" },
      { on: true, reason: "flood", allowListedKeyIds: ["not a key id!"] },
      { on: false, allowListedKeyIds: ["K-maker-1"] },
      { on: "yes", reason: "flood" },
      { on: true, reason: "r".repeat(201) },
      { on: true, reason: "flood", extra: 1 },
    ]) {
      const answer = await call("POST", "/guard/degrade", body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
    }
    expect(control.isDegraded).toBe(false);
    expect((await guardAudit()).length).toBe(auditBefore);
  });

  it("lists bans (bounded) and lifts one, audited; lifting what is not banned is 404", async () => {
    actions.setGuardControl(control);
    expect((await call("GET", "/guard/bans?limit=1")).json.bans).toEqual([bans.bans[0]]);
    expect((await call("GET", "/guard/bans?limit=0")).status).toBe(400);
    expect((await call("GET", "/guard/bans?limit=1001")).status).toBe(400);
    expect((await call("POST", "/guard/bans/lift", { scope: "net", subject: "x" })).status).toBe(400);
    expect((await call("POST", "/guard/bans/lift", { scope: "ip", subject: "" })).status).toBe(400);

    const lifted = await call("POST", "/guard/bans/lift", { scope: "ip", subject: "203.0.113.7" });
    expect(lifted.status).toBe(200);
    expect(lifted.json).toEqual({ lifted: true, scope: "ip", subject: "203.0.113.7" });
    expect(bans.bans.map((ban) => ban.subject)).toEqual(["K-flooder"]);
    const again = await call("POST", "/guard/bans/lift", { scope: "ip", subject: "203.0.113.7" });
    expect(again.status).toBe(404);
    const audit = (await guardAudit()).filter((row) => row.action === "guard.unban");
    expect(audit).toEqual([
      { action: "guard.unban", subject: "ip:203.0.113.7", details: { lifted: true } },
      { action: "guard.unban", subject: "ip:203.0.113.7", details: { lifted: false } },
    ]);
  });

  it("console roles: security and admin switch and lift; every role reads", () => {
    for (const role of OPERATOR_ROLES) {
      expect(roleMay(role, "GET", "/guard")).toBe(true);
      expect(roleMay(role, "GET", "/guard/bans")).toBe(true);
      const mayChange = role === "admin" || role === "security";
      expect(roleMay(role, "POST", "/guard/degrade"), role).toBe(mayChange);
      expect(roleMay(role, "POST", "/guard/bans/lift"), role).toBe(mayChange);
    }
  });
});

// Resuming a breaker from the operator console (src/operator/breaker-actions.ts): in production
// mode the first logged-in operator's resume only approves it (HTTP 202, audited, shown by
// GET /breakers), the same operator again is refused, a second, different operator resumes it with
// both as approvers; a trip (an operator's, or an automatic one after a resume) and time (15 min)
// end the approval. Outside production mode one operator resumes at once; the CLI's path with named
// approvers is unchanged.
//
// Custody here is custody's own breaker board (src/custody/breaker.ts, its file in a temporary
// dir, no signer) behind a port double: its resume rule (two distinct approvers in production
// mode) and its audit entries are the real ones.

import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/accounts/passwords.ts";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { Breakers } from "../../src/custody/breaker.ts";
import type { BreakerResumeRequest, BreakerTripRequest, CustodyPort } from "../../src/custody/port.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { createGateway, type Gateway } from "../../src/gateway/http/server.ts";
import { OperatorActions, OperatorError } from "../../src/operator/actions.ts";
import { PENDING_RESUME_TTL_MS } from "../../src/operator/breaker-actions.ts";
import { CONSOLE_CSRF_COOKIE, CONSOLE_PREFIX, consoleApi } from "../../src/operator/console/console-api.ts";
import { OPERATOR_API_PREFIX } from "../../src/operator/plugin.ts";

const PASSWORD = "console-breaker-password";
/** The cheapest scrypt passwords.ts allows: the flows, not the hash's cost, are under test. */
const LOW_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };
const CHAIN = "devnet-btc";
const OTHER_CHAIN = "devnet-eth";
const FIRST = "first@console.test";
const SECOND = "second@console.test";
const FIRST_ACTOR = `console:${FIRST}`;
const SECOND_ACTOR = `console:${SECOND}`;

let dataDir: string;
let exchange: Exchange;
let gateway: Gateway;
let baseUrl: string;
let actions: OperatorActions;
let nowMs = 1_800_000_000_000;
let first: Browser;
let second: Browser;

interface CustodyAudit {
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
}

/** Custody's breaker board behind the port, fresh for each test, production mode as told. */
class BreakerCustody {
  board!: Breakers;
  productionMode = false;
  audits: CustodyAudit[] = [];
  private boards = 0;

  reset(productionMode: boolean): void {
    this.productionMode = productionMode;
    this.audits = [];
    this.boards += 1;
    const stateDir = join(dataDir, `custody-${this.boards}`);
    mkdirSync(stateDir);
    this.board = new Breakers({
      stateDir,
      chains: [CHAIN, OTHER_CHAIN],
      signerOf: () => null,
      audit: async (entry) => {
        this.audits.push(entry);
      },
      productionMode,
      clock: () => nowMs,
      log: () => {},
    });
  }

  async breakers() {
    return this.board.views();
  }

  tripBreaker(request: BreakerTripRequest) {
    return this.board.tripByOperator(request);
  }

  resumeBreaker(request: BreakerResumeRequest) {
    return this.board.resume(request);
  }

  resumes(): CustodyAudit[] {
    return this.audits.filter((entry) => entry.action === "breaker.resume");
  }
}

const custody = new BreakerCustody();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-console-breaker-"));
  exchange = await Exchange.open({ dataDir });
  const secretBox = new SecretBox(randomBytes(32));
  actions = new OperatorActions(exchange, secretBox, () => nowMs);
  // Only the breaker calls are reached by these tests.
  actions.setCustody(custody as unknown as CustodyPort);
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
    passwordScrypt: LOW_SCRYPT,
  });
  const { port } = await gateway.listen();
  baseUrl = `http://127.0.0.1:${port}`;
  const passwordHash = await hashPassword(PASSWORD, LOW_SCRYPT);
  for (const email of [FIRST, SECOND])
    await exchange.operators.create({ email, passwordHash, role: "security", createdMs: Date.now() });
  first = await loggedIn(FIRST);
  second = await loggedIn(SECOND);
});

afterAll(async () => {
  await gateway?.close();
  await exchange?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A logged-in browser: its cookies, the CSRF token echoed. */
class Browser {
  readonly cookies = new Map<string, string>();

  async request(method: string, path: string, json?: unknown): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const csrf = this.cookies.get(CONSOLE_CSRF_COOKIE);
    if (csrf !== undefined) headers["x-csrf-token"] = csrf;
    if (json !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const mark = pair.indexOf("=");
      this.cookies.set(pair.slice(0, mark), pair.slice(mark + 1));
    }
    const text = await response.text();
    return {
      status: response.status,
      body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }

  operator(method: string, path: string, json?: unknown): Promise<Answer> {
    return this.request(method, `${CONSOLE_PREFIX}${OPERATOR_API_PREFIX}${path}`, json);
  }

  resume(chain: string, reason: string): Promise<Answer> {
    return this.operator("POST", "/breakers/resume", { chain, reason });
  }

  trip(chain: string, reason: string): Promise<Answer> {
    return this.operator("POST", "/breakers/trip", { chain, reason });
  }

  async pendingResume(chain: string): Promise<unknown> {
    const answer = await this.operator("GET", "/breakers");
    expect(answer.status).toBe(200);
    const breakers = answer.body.breakers as { chain: string; pendingResume?: unknown }[];
    const breaker = breakers.find((view) => view.chain === chain);
    expect(breaker).toBeDefined();
    return breaker?.pendingResume;
  }
}

async function loggedIn(email: string): Promise<Browser> {
  const browser = new Browser();
  const answer = await browser.request("POST", `${CONSOLE_PREFIX}/login`, { email, password: PASSWORD });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return browser;
}

async function approvalsAudited(): Promise<{ actor: string; subject: string; details: unknown }[]> {
  const rows = await exchange.internals.store.db
    .selectFrom("audit_log")
    .select(["actor", "subject", "details_json"])
    .where("action", "=", "breaker.resume.approve")
    .orderBy("seq")
    .execute();
  return rows.map((row) => ({
    actor: row.actor,
    subject: row.subject,
    details: JSON.parse(row.details_json),
  }));
}

describe("resuming a breaker from the console in production mode", () => {
  it("takes two different operators: the first approves (202), the same one again is refused, the second resumes", async () => {
    custody.reset(true);
    const auditedBefore = (await approvalsAudited()).length;
    expect((await first.trip(CHAIN, "drill: unmatched outflow")).status).toBe(200);
    expect(custody.board.isTripped(CHAIN)).toBe(true);
    expect(await first.pendingResume(CHAIN)).toBeUndefined();

    const approved = await first.resume(CHAIN, "checked the outflow: ours");
    expect(approved.status, JSON.stringify(approved.body)).toBe(202);
    const pendingResume = {
      chain: CHAIN,
      reason: "checked the outflow: ours",
      approvers: [FIRST_ACTOR],
      approvalsNeeded: 2,
      approvedAtMs: nowMs,
      expiresAtMs: nowMs + PENDING_RESUME_TTL_MS,
    };
    expect(approved.body).toEqual({
      breaker: expect.objectContaining({ chain: CHAIN, state: "tripped" }),
      pendingResume,
    });
    expect(custody.board.isTripped(CHAIN)).toBe(true);
    expect(custody.resumes()).toEqual([]);
    expect(await second.pendingResume(CHAIN)).toEqual(pendingResume);
    expect(await second.pendingResume(OTHER_CHAIN)).toBeUndefined();
    const audited = await approvalsAudited();
    expect(audited.length).toBe(auditedBefore + 1);
    expect(audited.at(-1)).toEqual({
      actor: FIRST_ACTOR,
      subject: `chain:${CHAIN}`,
      details: expect.objectContaining({ reason: "checked the outflow: ours", approvers: [FIRST_ACTOR] }),
    });

    // The same person again counts once: refused, nothing changed.
    nowMs += 1_000;
    const again = await first.resume(CHAIN, "still ours");
    expect(again).toMatchObject({
      status: 409,
      body: {
        error: { kind: "conflict", message: expect.stringMatching(/approved resuming devnet-btc already/) },
      },
    });
    expect(custody.board.isTripped(CHAIN)).toBe(true);
    expect(custody.resumes()).toEqual([]);
    expect(await first.pendingResume(CHAIN)).toEqual(pendingResume);
    expect((await approvalsAudited()).length).toBe(auditedBefore + 1);

    const resumed = await second.resume(CHAIN, "agreed: resume");
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toEqual({ breaker: expect.objectContaining({ chain: CHAIN, state: "closed" }) });
    expect(custody.board.isTripped(CHAIN)).toBe(false);
    expect(custody.resumes()).toEqual([
      expect.objectContaining({
        actor: `${FIRST_ACTOR},${SECOND_ACTOR}`,
        details: expect.objectContaining({
          approvers: [FIRST_ACTOR, SECOND_ACTOR],
          productionMode: true,
          reason: "agreed: resume",
        }),
      }),
    ]);
    expect(await first.pendingResume(CHAIN)).toBeUndefined();
    // Nothing is left to approve: a resume of a closed breaker is refused.
    expect(await first.resume(CHAIN, "once more")).toMatchObject({
      status: 409,
      body: { error: { message: expect.stringMatching(/not tripped/) } },
    });
  });

  it("forgets the approval when the breaker is tripped anew or the approval expires", async () => {
    custody.reset(true);
    await first.trip(CHAIN, "drill: reconciliation break");
    expect((await first.resume(CHAIN, "looked fine")).status).toBe(202);

    // An operator's trip in between: the first approval lapses, the second operator only approves.
    expect((await second.trip(CHAIN, "wait: another outflow")).status).toBe(200);
    expect(await first.pendingResume(CHAIN)).toBeUndefined();
    const afterTrip = await second.resume(CHAIN, "now it is fine");
    expect(afterTrip.status).toBe(202);
    expect(afterTrip.body.pendingResume).toMatchObject({ approvers: [SECOND_ACTOR] });
    expect(custody.board.isTripped(CHAIN)).toBe(true);

    // Resumed by another path (the CLI with two named approvers), then tripped automatically:
    // the old approval belongs to the old trip and counts for nothing now.
    nowMs += 1_000;
    await custody.board.resume({ chain: CHAIN, approvers: ["alice", "bob"], reason: "resumed at the CLI" });
    nowMs += 1_000;
    await custody.board.tripAutomatically(CHAIN, "unmatchedOutflow", "unmatched outflow", {}, nowMs);
    expect(await first.pendingResume(CHAIN)).toBeUndefined();
    const afterAutomaticTrip = await first.resume(CHAIN, "checked it");
    expect(afterAutomaticTrip.status).toBe(202);
    expect(afterAutomaticTrip.body.pendingResume).toMatchObject({ approvers: [FIRST_ACTOR] });
    expect(custody.board.isTripped(CHAIN)).toBe(true);

    // 15 minutes later the approval has lapsed: the next operator approves afresh.
    nowMs += PENDING_RESUME_TTL_MS;
    expect(await second.pendingResume(CHAIN)).toBeUndefined();
    const afterExpiry = await second.resume(CHAIN, "late, but checked");
    expect(afterExpiry.status).toBe(202);
    expect(afterExpiry.body.pendingResume).toMatchObject({ approvers: [SECOND_ACTOR] });
    expect(custody.resumes().map((entry) => entry.details.reason)).toEqual(["resumed at the CLI"]);
  });

  it("leaves the CLI's path as it was: two named approvers resume, one is refused by custody", async () => {
    custody.reset(true);
    await actions.breaker.trip("operator:cli", { chain: CHAIN, reason: "drill at the CLI" });
    await expect(actions.breaker.resume("operator:cli", { chain: CHAIN, reason: "alone" })).rejects.toThrow(
      OperatorError,
    );
    await expect(
      actions.breaker.resume("operator:cli", { chain: CHAIN, reason: "alone" }),
    ).rejects.toMatchObject({ kind: "conflict", message: expect.stringMatching(/two distinct approvers/) });
    expect(await first.pendingResume(CHAIN)).toBeUndefined();
    const resumed = await actions.breaker.resume("operator:cli", {
      chain: CHAIN,
      reason: "two of us",
      approvers: ["alice", "bob"],
    });
    expect(resumed).toEqual({ breaker: expect.objectContaining({ state: "closed" }) });
    expect(custody.resumes().map((entry) => entry.details.approvers)).toEqual([["alice", "bob"]]);
  });
});

describe("resuming a breaker from the console outside production mode", () => {
  it("resumes at once with one operator, and records no approval", async () => {
    custody.reset(false);
    const auditedBefore = (await approvalsAudited()).length;
    await first.trip(CHAIN, "drill: demo");
    const resumed = await first.resume(CHAIN, "all clear");
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toEqual({ breaker: expect.objectContaining({ chain: CHAIN, state: "closed" }) });
    expect(custody.resumes()).toEqual([
      expect.objectContaining({
        actor: FIRST_ACTOR,
        details: expect.objectContaining({ approvers: [FIRST_ACTOR] }),
      }),
    ]);
    expect(await first.pendingResume(CHAIN)).toBeUndefined();
    expect((await approvalsAudited()).length).toBe(auditedBefore);
  });
});

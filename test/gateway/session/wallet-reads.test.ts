// The session's wallet reads (docs/API.md#account-self-service) on a real gateway with a custody
// double: GET /deposits/pending (deposits seen on chain, not yet credited) and GET /withdrawals
// (each withdrawal's custody steps). Only the signed-in person's own rows, bounded by `limit`,
// the approvers' names never shown; without a session 401; a bad limit 400 that reads nothing;
// without custody both lists are empty.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CurrencyTerms,
  type CustodyPort,
  MAX_PENDING_DEPOSITS_SHOWN,
  type PendingDepositView,
  type WithdrawalStep,
  type WithdrawalView,
} from "../../../src/custody/port.ts";
import {
  MAX_WITHDRAWAL_HISTORY_SHOWN,
  MAX_WITHDRAWALS_SHOWN,
} from "../../../src/gateway/session/account-routes.ts";
import { CSRF_COOKIE } from "../../../src/gateway/session/session-auth.ts";
import { type Harness, startHarness } from "../support/rest-harness.ts";

const PASSWORD = "correct horse battery";
const FAST_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };

/** What the double was asked, so a test sees the user and limit the route passed. */
const asked: { method: string; userId: number | undefined; limit: number }[] = [];
const pending = new Map<number, PendingDepositView[]>();
const withdrawals: WithdrawalView[] = [];
/** Set to make the double ignore the user filter (a custody bug the route must still contain). */
let leakEveryUser = false;

function withdrawalOf(
  withdrawalId: number,
  userId: number,
  step: WithdrawalStep,
  steps: number,
): WithdrawalView {
  return {
    withdrawalId,
    userId,
    currency: "BTC",
    chain: "devnet-btc",
    amount: "0.01",
    fee: "0.0005",
    address: `bcrt1qdestination${withdrawalId}`,
    step,
    txId: step === "awaitingApproval" ? null : `${"ab".repeat(31)}${String(withdrawalId).padStart(2, "0")}`,
    confirmations: step === "settled" ? 2 : 0,
    reason: null,
    approvals: step === "awaitingApproval" ? ["operator:alice"] : [],
    approvalsNeeded: step === "awaitingApproval" ? 2 : 0,
    requestedMs: 1_000 + withdrawalId,
    history: Array.from({ length: steps }, (_, i) => ({
      step: i === 0 ? "requested" : "held",
      atMs: 1_000 + i,
    })),
  };
}

const custody = {
  terms: (): CurrencyTerms[] => [
    {
      currency: "BTC",
      chain: "devnet-btc",
      network: "BTC",
      confirmations: 2,
      depositEnabled: true,
      withdrawEnabled: true,
      minDeposit: "0.0001",
      minWithdraw: "0.001",
      maxWithdraw: "5",
      withdrawFee: "0.0005",
    },
  ],
  pendingDeposits(userId: number, limit: number): PendingDepositView[] {
    asked.push({ method: "pendingDeposits", userId, limit });
    return (pending.get(userId) ?? []).slice(0, limit);
  },
  async withdrawals(filter: { userId?: number; limit: number }): Promise<WithdrawalView[]> {
    asked.push({ method: "withdrawals", userId: filter.userId, limit: filter.limit });
    return withdrawals
      .filter((view) => leakEveryUser || view.userId === filter.userId)
      .slice(0, leakEveryUser ? withdrawals.length : filter.limit);
  },
} as unknown as CustodyPort;

let harness: Harness;
let bare: Harness;

beforeAll(async () => {
  [harness, bare] = await Promise.all([
    startHarness({ custody, session: { passwordScrypt: FAST_SCRYPT } }),
    startHarness({ session: { passwordScrypt: FAST_SCRYPT } }),
  ]);
});
afterAll(async () => {
  await Promise.all([harness?.close(), bare?.close()]);
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/** A browser: a cookie jar, the CSRF token echoed from its cookie. */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly baseUrl: () => string) {}

  async request(method: "GET" | "POST", path: string, json?: unknown): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const csrf = this.cookies.get(CSRF_COOKIE);
    if (csrf !== undefined) headers["x-csrf-token"] = csrf;
    if (json !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${this.baseUrl()}/api/v1/session${path}`, {
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
    return { status: response.status, body: text === "" ? {} : JSON.parse(text), text };
  }
}

let emailCounter = 0;

async function person(at: () => Harness): Promise<{ client: Browser; userId: number }> {
  const client = new Browser(() => at().baseUrl);
  const answer = await client.request("POST", "/signup", {
    email: `wallet-reads${++emailCounter}-${process.pid}@example.test`,
    password: PASSWORD,
  });
  expect(answer.status, answer.text).toBe(201);
  return { client, userId: answer.body.userId as number };
}

function expectRefusal(answer: Answer, status: number, code: string, message: RegExp): void {
  expect(answer.status, answer.text).toBe(status);
  const error = answer.body.error as { code: string; message: string };
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
}

function pendingOf(userId: number, count: number): PendingDepositView[] {
  return Array.from({ length: count }, (_, i) => ({
    currency: "BTC",
    chain: "devnet-btc",
    txId: `${"cd".repeat(30)}${String(userId).padStart(2, "0")}${String(i).padStart(2, "0")}`,
    outputIndex: 0,
    amount: "0.1",
    confirmations: 1,
    confirmationsNeeded: 2,
    blockHeight: 10,
    seenMs: 5_000 - i,
  }));
}

describe("GET /api/v1/session/deposits/pending", () => {
  it("answers the person's own pending deposits only, at most MAX_PENDING_DEPOSITS_SHOWN", async () => {
    const me = await person(() => harness);
    const other = await person(() => harness);
    pending.set(me.userId, pendingOf(me.userId, 2));
    pending.set(other.userId, pendingOf(other.userId, 3));
    asked.length = 0;
    const answer = await me.client.request("GET", "/deposits/pending");
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toEqual({ deposits: pendingOf(me.userId, 2) });
    expect(asked).toEqual([
      { method: "pendingDeposits", userId: me.userId, limit: MAX_PENDING_DEPOSITS_SHOWN },
    ]);

    pending.set(me.userId, pendingOf(me.userId, MAX_PENDING_DEPOSITS_SHOWN + 10));
    const many = await me.client.request("GET", "/deposits/pending");
    expect((many.body.deposits as unknown[]).length).toBe(MAX_PENDING_DEPOSITS_SHOWN);
    const few = await me.client.request("GET", "/deposits/pending?limit=3");
    expect((few.body.deposits as PendingDepositView[]).map((d) => d.txId)).toEqual(
      pendingOf(me.userId, 3).map((d) => d.txId),
    );
  });

  it("refuses without a session (401) and a bad limit or unknown parameter (400), reading nothing", async () => {
    const anonymous = new Browser(() => harness.baseUrl);
    asked.length = 0;
    expectRefusal(await anonymous.request("GET", "/deposits/pending"), 401, "no_session", /log/i);
    const me = await person(() => harness);
    for (const limit of ["0", "51", "-1", "1.5", "x", "99999"])
      expectRefusal(
        await me.client.request("GET", `/deposits/pending?limit=${limit}`),
        400,
        "bad_request",
        /limit must be a whole number in 1\.\.50/,
      );
    expectRefusal(await me.client.request("GET", "/deposits/pending?user=1"), 400, "unknown_field", /user/);
    expect(asked).toEqual([]);
  });
});

describe("GET /api/v1/session/withdrawals", () => {
  it("answers the person's own withdrawals with their steps, approvals counted (no approver names), bounded", async () => {
    const me = await person(() => harness);
    const other = await person(() => harness);
    withdrawals.length = 0;
    withdrawals.push(
      withdrawalOf(3, me.userId, "awaitingApproval", 3),
      withdrawalOf(2, other.userId, "settled", 9),
      withdrawalOf(1, me.userId, "settled", MAX_WITHDRAWAL_HISTORY_SHOWN + 8),
    );
    asked.length = 0;
    const answer = await me.client.request("GET", "/withdrawals");
    expect(answer.status, answer.text).toBe(200);
    expect(asked).toEqual([{ method: "withdrawals", userId: me.userId, limit: 20 }]);
    const listed = answer.body.withdrawals as Record<string, unknown>[];
    expect(listed.map((w) => w.id)).toEqual([3, 1]);
    expect(listed[0]).toEqual({
      id: 3,
      currency: "BTC",
      amount: "0.01",
      fee: "0.0005",
      address: "bcrt1qdestination3",
      step: "awaitingApproval",
      approvals: 1,
      approvalsNeeded: 2,
      txId: null,
      confirmations: 0,
      confirmationsNeeded: 2,
      reason: null,
      requestedMs: 1_003,
      history: [
        { step: "requested", atMs: 1_000 },
        { step: "held", atMs: 1_001 },
        { step: "held", atMs: 1_002 },
      ],
    });
    expect(answer.text).not.toContain("operator:alice");
    // The last steps of a long history.
    const history = listed[1].history as { atMs: number }[];
    expect(history).toHaveLength(MAX_WITHDRAWAL_HISTORY_SHOWN);
    expect(history.at(-1)?.atMs).toBe(1_000 + MAX_WITHDRAWAL_HISTORY_SHOWN + 7);

    asked.length = 0;
    const one = await me.client.request("GET", `/withdrawals?limit=1`);
    expect((one.body.withdrawals as { id: number }[]).map((w) => w.id)).toEqual([3]);
    await me.client.request("GET", `/withdrawals?limit=${MAX_WITHDRAWALS_SHOWN}`);
    expect(asked.map((a) => a.limit)).toEqual([1, MAX_WITHDRAWALS_SHOWN]);

    // Even if custody answered everyone's rows, only the person's own leave the server.
    leakEveryUser = true;
    try {
      const leaked = await me.client.request("GET", "/withdrawals");
      expect((leaked.body.withdrawals as { id: number }[]).map((w) => w.id)).toEqual([3, 1]);
    } finally {
      leakEveryUser = false;
    }
    const theirs = await other.client.request("GET", "/withdrawals");
    expect((theirs.body.withdrawals as { id: number }[]).map((w) => w.id)).toEqual([2]);
  });

  it("refuses without a session (401) and a bad limit (400), reading nothing", async () => {
    asked.length = 0;
    const anonymous = new Browser(() => harness.baseUrl);
    expectRefusal(await anonymous.request("GET", "/withdrawals"), 401, "no_session", /log/i);
    const me = await person(() => harness);
    for (const limit of ["0", String(MAX_WITHDRAWALS_SHOWN + 1), "", "2&limit=3"])
      expectRefusal(
        await me.client.request("GET", `/withdrawals?limit=${limit}`),
        400,
        "bad_request",
        /limit/,
      );
    expect(asked).toEqual([]);
  });
});

describe("without custody (a server without chains)", () => {
  it("both lists are empty", async () => {
    const me = await person(() => bare);
    expect((await me.client.request("GET", "/deposits/pending")).body).toEqual({ deposits: [] });
    expect((await me.client.request("GET", "/withdrawals")).body).toEqual({ withdrawals: [] });
    expectRefusal(
      await new Browser(() => bare.baseUrl).request("GET", "/withdrawals"),
      401,
      "no_session",
      /log/i,
    );
  });
});

// The operator API's 2FA, address-book, devnet broadcast and custody routes over TCP with the
// bearer token, on a live server's exchange and devnet chains: each works, lands in the audit log
// with the API's actor, and refuses bad input with a clear error that changes nothing. Custody is
// a recording fake of the CustodyPort here (the real one is tested in test/custody/); without a
// port, the custody routes say custody is not running.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { totpCodeAtStep, totpStep } from "../../src/accounts/totp.ts";
import {
  AccountDevnet,
  addressOfKey,
  privateKeyFromSeed,
  signTransaction,
  UtxoDevnet,
} from "../../src/chains/devnet/index.ts";
import {
  type ChainCustodyStatus,
  type CurrencyTerms,
  CustodyError,
  type CustodyPort,
  type WithdrawalStep,
  type WithdrawalView,
} from "../../src/custody/port.ts";
import { OperatorActions } from "../../src/operator/actions.ts";
import { MAX_DEVNET_SIGNED_TX_BYTES } from "../../src/operator/devnet.ts";
import { OPERATOR_API_PREFIX, operatorApi } from "../../src/operator/plugin.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";

const TOKEN = "operator-token-for-security-api-0123456789";
const BTC_KEY = privateKeyFromSeed("operator-security-api-btc");
const BTC_ADDRESS = addressOfKey(new UtxoDevnet(), BTC_KEY);
const ETH_ADDRESS = addressOfKey(new AccountDevnet(), privateKeyFromSeed("operator-security-api-eth"));

let server: ExchangeServer;
let directory: string;
const apps: FastifyInstance[] = [];

/** A CustodyPort that records what it was asked and answers from a small table. */
class FakeCustody implements CustodyPort {
  readonly calls: unknown[][] = [];
  readonly views = new Map<number, WithdrawalView>();

  terms(): CurrencyTerms[] {
    const terms = (currency: string, chain: string): CurrencyTerms => ({
      currency,
      chain,
      network: currency,
      confirmations: 1,
      depositEnabled: true,
      withdrawEnabled: true,
      minDeposit: "0",
      minWithdraw: "0",
      maxWithdraw: "100",
      withdrawFee: "0",
    });
    return [terms("BTC", "devnet-btc"), terms("ETH", "devnet-eth")];
  }
  async depositAddress(): Promise<never> {
    throw new Error("not used");
  }
  async requestWithdrawal(): Promise<never> {
    throw new Error("not used");
  }
  async withdrawal(withdrawalId: number): Promise<WithdrawalView | undefined> {
    return this.views.get(withdrawalId);
  }
  async withdrawals(filter: {
    userId?: number;
    step?: WithdrawalStep;
    limit: number;
  }): Promise<WithdrawalView[]> {
    this.calls.push(["withdrawals", filter]);
    return [...this.views.values()]
      .filter((v) => filter.userId === undefined || v.userId === filter.userId)
      .filter((v) => filter.step === undefined || v.step === filter.step)
      .slice(0, filter.limit);
  }
  async approveWithdrawal(withdrawalId: number, approver: string): Promise<WithdrawalView> {
    this.calls.push(["approve", withdrawalId, approver]);
    const view = this.views.get(withdrawalId);
    if (view === undefined) throw new CustodyError("notFound", `no withdrawal ${withdrawalId}`);
    if (view.step !== "awaitingApproval") throw new CustodyError("wrongStep", `withdrawal is ${view.step}`);
    if (view.approvals.includes(approver))
      throw new CustodyError("approvalRefused", "already approved by you");
    view.approvals.push(approver);
    if (view.approvals.length >= view.approvalsNeeded) view.step = "approved";
    return structuredClone(view);
  }
  async rejectWithdrawal(withdrawalId: number, actor: string, reason: string): Promise<WithdrawalView> {
    this.calls.push(["reject", withdrawalId, actor, reason]);
    const view = this.views.get(withdrawalId);
    if (view === undefined) throw new CustodyError("notFound", `no withdrawal ${withdrawalId}`);
    // As custody does: a held withdrawal is released and ends failed, saying who rejected it.
    view.step = "failed";
    view.reason = `rejected by ${actor}: ${reason}`;
    return structuredClone(view);
  }
  // The breaker is tested against the real custody (test/custody/breaker*.test.ts).
  async breakers(): Promise<never> {
    throw new Error("not used");
  }
  async tripBreaker(): Promise<never> {
    throw new Error("not used");
  }
  async resumeBreaker(): Promise<never> {
    throw new Error("not used");
  }
  async reconciliations(): Promise<never> {
    throw new Error("not used");
  }
  async status(): Promise<{ chains: ChainCustodyStatus[] }> {
    const chain = (name: string, currency: string): ChainCustodyStatus => ({
      chain: name,
      currencies: [currency],
      walletReady: true,
      signerUp: true,
      signerHalted: false,
      scannerHeight: 3,
      chainHeight: 3,
      pendingWithdrawals: 1,
      balances: [],
      reorgedAfterCredit: 0,
    });
    return { chains: [chain("devnet-btc", "BTC"), chain("devnet-eth", "ETH")] };
  }
}

function withdrawal(withdrawalId: number, userId: number, step: WithdrawalStep): WithdrawalView {
  return {
    withdrawalId,
    userId,
    currency: "BTC",
    chain: "devnet-btc",
    amount: "0.5",
    fee: "0.0001",
    address: BTC_ADDRESS,
    step,
    txId: null,
    confirmations: 0,
    reason: null,
    approvals: [],
    approvalsNeeded: 2,
    requestedMs: 1_700_000_000_000,
    history: [{ step, atMs: 1_700_000_000_000 }],
  };
}

const custody = new FakeCustody();
let withCustody: string;
let withoutCustody: string;

async function mount(actions: OperatorActions): Promise<string> {
  const app = Fastify();
  await app.register(operatorApi, {
    prefix: OPERATOR_API_PREFIX,
    actions,
    token: { matches: (presented) => presented === TOKEN, source: "env", generated: null },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  apps.push(app);
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("operator API not on TCP");
  return `http://127.0.0.1:${address.port}${OPERATOR_API_PREFIX}`;
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "bulwark-operator-security-"));
  server = await startExchangeServer({
    dataDir: directory,
    port: 0,
    host: "127.0.0.1",
    demo: false,
    devnetBlockMs: 0,
    env: { BULWARK_OPERATOR_TOKEN: TOKEN },
  });
  const box = new SecretBox(randomBytes(32));
  withoutCustody = await mount(new OperatorActions(server.exchange, box, Date.now, server.devnet));
  const actions = new OperatorActions(server.exchange, box, Date.now, server.devnet);
  actions.setCustody(custody);
  withCustody = await mount(actions);
});

afterAll(async () => {
  for (const app of apps.splice(0)) await app.close();
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

interface Answer {
  status: number;
  json: Record<string, unknown> & { error?: { kind: string; message: string } };
}

async function call(method: string, path: string, body?: unknown, base = withoutCustody): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Answer["json"] };
}

function expectError(answer: Answer, status: number, message?: RegExp): void {
  expect(answer.status, JSON.stringify(answer.json)).toBe(status);
  if (message !== undefined) expect(answer.json.error?.message).toMatch(message);
}

async function audit(): Promise<{ action: string; actor: string; subject: string; details_json: string }[]> {
  return server.exchange.internals.store.db
    .selectFrom("audit_log")
    .select(["action", "actor", "subject", "details_json"])
    .orderBy("seq")
    .execute();
}

/** Runs `work` and checks it added no audit entry. */
async function unaudited<T>(work: () => Promise<T>): Promise<T> {
  const before = (await audit()).length;
  const result = await work();
  expect((await audit()).length).toBe(before);
  return result;
}

let userId: number;

describe("operator API: 2FA", () => {
  it("enables with a secret shown once, confirms with a code, refuses a replay, disables; all audited", async () => {
    const user = await call("POST", "/users", { email: "dave@example.com", password: "correct horse" });
    userId = Number(user.json.userId);
    const enabled = await call("POST", "/2fa/enable", { email: "dave@example.com" });
    expect(enabled.status).toBe(201);
    const secret = String(enabled.json.secret);
    expect(enabled.json.uri).toContain(`secret=${secret}`);

    await unaudited(async () => {
      expectError(await call("POST", "/2fa/confirm", { email: "dave@example.com" }), 400, /code/);
      expectError(await call("POST", "/2fa/confirm", { email: "dave@example.com", code: "1", x: 1 }), 400);
      expectError(await call("POST", "/2fa/confirm", { email: "dave@example.com", code: "abcdef" }), 400);
      expectError(await call("POST", "/2fa/enable", { email: "nobody@example.com" }), 404);
    });
    const step = totpStep(Date.now());
    const code = totpCodeAtStep(secret, step);
    const confirmed = await call("POST", "/2fa/confirm", { email: "dave@example.com", code });
    expect(confirmed.status).toBe(200);
    expect(confirmed.json).toMatchObject({ userId, totp: "enabled" });
    expect(await server.exchange.accounts.withdrawalsLocked(userId, Date.now())).toBe(true);

    await unaudited(async () => {
      expectError(
        await call("POST", "/2fa/verify", { email: "dave@example.com", code }),
        422,
        /already used/,
      );
      expectError(await call("POST", "/2fa/enable", { email: "dave@example.com" }), 409);
    });
    const disabled = await call("POST", "/2fa/disable", { email: "dave@example.com" });
    expect(disabled.json).toMatchObject({ totp: "disabled" });
    expectError(await call("POST", "/2fa/disable", { email: "dave@example.com" }), 404);

    const rows = (await audit()).filter((row) => row.action.startsWith("user.2fa"));
    expect(rows.map((row) => row.action)).toEqual([
      "user.2fa.enable",
      "user.2fa.confirm",
      "user.2fa.disable",
    ]);
    for (const row of rows) {
      expect(row.actor).toMatch(/^operator:api@/);
      expect(row.details_json).not.toContain(secret);
    }
  });
});

describe("operator API: address book", () => {
  it("adds a normalised address, lists, activates with a reason, removes; wrong chain refused", async () => {
    const added = await call("POST", "/addresses", {
      email: "dave@example.com",
      currency: "BTC",
      address: BTC_ADDRESS.toUpperCase(),
      label: "hardware wallet",
    });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ address: BTC_ADDRESS, chain: "devnet-btc", active: false });
    await unaudited(async () => {
      expectError(
        await call("POST", "/addresses", {
          email: "dave@example.com",
          currency: "BTC",
          address: ETH_ADDRESS,
        }),
        400,
        /is a devnet-eth address; BTC is on devnet-btc/,
      );
      expectError(
        await call("POST", "/addresses", { email: "dave@example.com", currency: "ETH", address: "0x1234" }),
        400,
        /not a devnet-eth address/,
      );
      expectError(
        await call("POST", "/addresses", {
          email: "dave@example.com",
          currency: "BTC",
          address: BTC_ADDRESS,
        }),
        409,
      );
      expectError(await call("POST", "/addresses", { email: "dave@example.com", currency: "BTC" }), 400);
      expectError(await call("GET", "/addresses"), 400, /email/);
      expectError(
        await call("POST", "/addresses/activate", {
          email: "dave@example.com",
          currency: "BTC",
          address: BTC_ADDRESS,
        }),
        400,
        /reason/,
      );
    });
    const listed = await call("GET", `/addresses?email=${encodeURIComponent("dave@example.com")}`);
    expect(listed.json.addresses).toEqual([
      expect.objectContaining({ address: BTC_ADDRESS, label: "hardware wallet" }),
    ]);
    const activated = await call("POST", "/addresses/activate", {
      email: "dave@example.com",
      currency: "btc",
      address: BTC_ADDRESS,
      reason: "support ticket 12",
    });
    expect(activated.json).toMatchObject({ active: true });
    expect(activated.json.activatedBy).toMatch(/^operator:api@/);
    const removed = await call("POST", "/addresses/remove", {
      email: "dave@example.com",
      currency: "BTC",
      address: BTC_ADDRESS,
    });
    expect(removed.json).toMatchObject({ removed: true });
    expect(
      (await audit()).filter((row) => row.action.startsWith("addressBook")).map((row) => row.action),
    ).toEqual(["addressBook.add", "addressBook.activate", "addressBook.remove"]);
  });

  it("with custody running, takes the currencies and chains from custody's terms", async () => {
    const eth = await call(
      "POST",
      "/addresses",
      { email: "dave@example.com", currency: "ETH", address: ETH_ADDRESS },
      withCustody,
    );
    expect(eth.json).toMatchObject({ chain: "devnet-eth", address: ETH_ADDRESS });
    // USDT is on a devnet chain, but this custody does not serve it.
    expectError(
      await call(
        "POST",
        "/addresses",
        { email: "dave@example.com", currency: "USDT", address: ETH_ADDRESS },
        withCustody,
      ),
      404,
      /no currency USDT in custody \(it serves BTC, ETH\)/,
    );
  });
});

describe("operator API: devnet broadcast", () => {
  it("puts a transaction signed outside into the mempool, audited; refuses forged and malformed ones", async () => {
    const chain = server.devnet?.btc;
    if (chain === undefined) throw new Error("devnet is off");
    chain.faucet(BTC_ADDRESS, "BTC", 100_000_000n);
    chain.mine(1);
    const unsigned = await chain.buildPayment({
      sources: [BTC_ADDRESS],
      to: addressOfKey(chain, privateKeyFromSeed("elsewhere")),
      asset: "BTC",
      amount: 40_000_000n,
    });
    const signed = signTransaction(chain, unsigned, new Map([[BTC_ADDRESS, BTC_KEY]]));
    const forged = Uint8Array.from(signed);
    forged[forged.length - 5] ^= 1;

    await unaudited(async () => {
      expectError(
        await call("POST", "/devnet/broadcast", {
          chain: "btc",
          signedTx: Buffer.from(forged).toString("base64"),
        }),
        422,
        /devnet-btc refused the transaction: bad signature/,
      );
      expectError(
        await call("POST", "/devnet/broadcast", { chain: "btc", signedTx: "not base64!" }),
        400,
        /base64/,
      );
      expectError(
        await call("POST", "/devnet/broadcast", { chain: "btc", signedTx: "AAAA" }),
        422,
        /malformed/,
      );
      expectError(
        await call("POST", "/devnet/broadcast", {
          chain: "doge",
          signedTx: Buffer.from(signed).toString("base64"),
        }),
        400,
        /unknown devnet chain/,
      );
      // Just above the largest signed transaction taken: refused by the check; far above: by the body limit.
      const tooLong = Math.ceil(MAX_DEVNET_SIGNED_TX_BYTES / 3) * 4 + 4;
      expectError(
        await call("POST", "/devnet/broadcast", { chain: "btc", signedTx: "A".repeat(tooLong) }),
        400,
      );
      expectError(
        await call("POST", "/devnet/broadcast", { chain: "btc", signedTx: "A".repeat(1_000_000) }),
        413,
      );
    });

    const sent = await call("POST", "/devnet/broadcast", {
      chain: "btc",
      signedTx: Buffer.from(signed).toString("base64"),
      note: "drill",
    });
    expect(sent.status).toBe(200);
    expect(sent.json).toMatchObject({ chain: "btc", bytes: signed.length });
    expect(chain.lookupSync(String(sent.json.txid))).toEqual({ status: "pending" });
    const row = (await audit()).at(-1);
    expect(row).toMatchObject({ action: "devnet.broadcast", subject: "devnet:btc" });
    expect(JSON.parse(String(row?.details_json))).toMatchObject({ txid: sent.json.txid, note: "drill" });
  });
});

describe("operator API: custody", () => {
  it("answers that custody is not running when it has no port", async () => {
    await unaudited(async () => {
      for (const [method, path, body] of [
        ["GET", "/custody/status"],
        ["GET", "/withdrawals"],
        ["POST", "/withdrawals/1/approve", {}],
        ["POST", "/withdrawals/1/reject", { reason: "no" }],
      ] as const)
        expectError(await call(method, path, body), 404, /custody is not running/);
    });
  });

  it("reports status, filtered by chain as the devnet commands or custody name it", async () => {
    const all = await call("GET", "/custody/status", undefined, withCustody);
    expect((all.json.chains as ChainCustodyStatus[]).map((c) => c.chain)).toEqual([
      "devnet-btc",
      "devnet-eth",
    ]);
    for (const name of ["btc", "devnet-btc"]) {
      const one = await call("GET", `/custody/status?chain=${name}`, undefined, withCustody);
      expect((one.json.chains as ChainCustodyStatus[]).map((c) => c.chain)).toEqual(["devnet-btc"]);
    }
    expectError(
      await call("GET", "/custody/status?chain=doge", undefined, withCustody),
      400,
      /no chain doge/,
    );
    expectError(await call("GET", "/custody/status?x=1", undefined, withCustody), 400);
  });

  it("lists withdrawals by user and step; approves and rejects, audited; custody's refusals mapped", async () => {
    custody.views.set(1, withdrawal(1, userId, "awaitingApproval"));
    custody.views.set(2, withdrawal(2, userId, "awaitingApproval"));
    custody.views.set(3, withdrawal(3, userId + 1000, "settled"));

    const listed = await call(
      "GET",
      "/withdrawals?email=dave%40example.com&step=awaitingApproval&limit=10",
      undefined,
      withCustody,
    );
    expect((listed.json.withdrawals as WithdrawalView[]).map((w) => w.withdrawalId)).toEqual([1, 2]);
    expect(custody.calls.at(-1)).toEqual(["withdrawals", { userId, step: "awaitingApproval", limit: 10 }]);
    const every = await call("GET", "/withdrawals", undefined, withCustody);
    expect((every.json.withdrawals as WithdrawalView[]).length).toBe(3);
    expect(custody.calls.at(-1)).toEqual(["withdrawals", { limit: 100 }]);

    await unaudited(async () => {
      expectError(await call("GET", "/withdrawals?step=flying", undefined, withCustody), 400);
      expectError(await call("GET", "/withdrawals?limit=0", undefined, withCustody), 400, /limit/);
      expectError(await call("GET", "/withdrawals?limit=1001", undefined, withCustody), 400, /limit/);
      expectError(await call("GET", "/withdrawals?email=nobody%40example.com", undefined, withCustody), 404);
      expectError(await call("POST", "/withdrawals/abc/approve", {}, withCustody), 400);
      expectError(await call("POST", "/withdrawals/0/approve", {}, withCustody), 400);
      expectError(await call("POST", "/withdrawals/1/approve", { extra: 1 }, withCustody), 400);
      expectError(
        await call("POST", "/withdrawals/99/approve", {}, withCustody),
        404,
        /notFound: no withdrawal 99/,
      );
      expectError(await call("POST", "/withdrawals/3/approve", {}, withCustody), 409, /wrongStep/);
      expectError(await call("POST", "/withdrawals/1/reject", {}, withCustody), 400, /reason/);
    });

    const approved = await call("POST", "/withdrawals/1/approve", {}, withCustody);
    expect(approved.json).toMatchObject({ withdrawalId: 1, step: "awaitingApproval" });
    expect((approved.json.approvals as string[])[0]).toMatch(/^operator:api@/);
    // The same approver twice: custody refuses, nothing audited.
    await unaudited(async () => {
      expectError(await call("POST", "/withdrawals/1/approve", {}, withCustody), 409, /approvalRefused/);
    });
    const rejected = await call("POST", "/withdrawals/2/reject", { reason: "address flagged" }, withCustody);
    expect(rejected.json).toMatchObject({ withdrawalId: 2, step: "failed" });
    expect(rejected.json.reason).toMatch(/^rejected by operator:api@.*: address flagged$/);

    const rows = (await audit()).filter((row) => row.action.startsWith("withdrawal."));
    expect(rows.map((row) => [row.action, row.subject])).toEqual([
      ["withdrawal.approve", "withdrawal:1"],
      ["withdrawal.reject", "withdrawal:2"],
    ]);
    expect(JSON.parse(rows[1].details_json)).toMatchObject({ reason: "address flagged", step: "failed" });
  });
});

// Custody's port over NATS (src/cluster/custody-bus.ts) against the real NATS server: serveCustody
// over a CustodyPort double and a RemoteCustodyPort asking it. Every method's arguments and
// answer cross exactly; custody's refusals keep their code and detail; malformed or oversized
// requests are refused without reaching custody; no custody, a busy one and a slow one become
// clear errors (a slow write: outcome unknown). End to end: a primary ClusterCore, a
// ClusterExchange and the REST gateway with a RemoteCustodyPort, where a stock ccxt `binance`
// gets its deposit address and withdraws through the bus, and sees custody's refusals and a
// custody timeout as Binance's codes.

import { randomBytes, randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import ccxt from "ccxt-current";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, sealApiSecret } from "../../src/accounts/api-keys.ts";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { ClusterExchange } from "../../src/cluster/cluster-exchange.ts";
import { clusterNames } from "../../src/cluster/cluster-names.ts";
import type { ClusterCore } from "../../src/cluster/core-role.ts";
import {
  CustodyBusError,
  CustodyOutcomeUnknownError,
  type CustodyServer,
  MAX_CUSTODY_REQUEST_BYTES,
  type RemoteCustodyOptions,
  RemoteCustodyPort,
  serveCustody,
} from "../../src/cluster/custody-bus.ts";
import { connectNats } from "../../src/cluster/nats-connection.ts";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import {
  type BreakerView,
  COLD_REFILL_ERROR_CODES,
  ColdRefillError,
  type ColdRefillView,
  CUSTODY_ERROR_CODES,
  type CurrencyTerms,
  CustodyError,
  type CustodyPort,
  type CustodyStatusReport,
  type ReconciliationResult,
  type ReserveAddressReport,
  type SweepView,
  type WithdrawalRequest,
  type WithdrawalView,
} from "../../src/custody/port.ts";
import { CommandOutcomeUnknownError } from "../../src/exchange/boundary.ts";
import { BINANCE_ERRORS } from "../../src/gateway/binance/errors.ts";
import { createGateway, type Gateway } from "../../src/gateway/http/server.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";
import { createApiKey, createUser } from "../../src/store/accounts.ts";
import { dropPgSchema, openStore, type Store } from "../../src/store/open-store.ts";
import { TEST_DATABASE_URL, UNREACHABLE_RATE_LIMIT } from "../gateway/support/rest-harness.ts";
import { removeClusterState, startPrimaryCore } from "./support.ts";

// ---- A CustodyPort double: canned answers, every call recorded ----------------------------------

const TERMS: CurrencyTerms[] = [
  {
    currency: "BTC",
    chain: "devnet-btc",
    network: "BTC",
    confirmations: 2,
    depositEnabled: true,
    withdrawEnabled: true,
    minDeposit: "0.0001",
    minWithdraw: "0.001",
    maxWithdraw: "10",
    withdrawFee: "0.0005",
  },
];

function withdrawalView(withdrawalId: number, userId: number): WithdrawalView {
  return {
    withdrawalId,
    userId,
    currency: "BTC",
    chain: "devnet-btc",
    amount: "0.015",
    fee: "0.0005",
    address: "bcrt1qexampleaddress0000000000000000000000",
    step: "held",
    txId: null,
    confirmations: 0,
    reason: null,
    approvals: ["operator:alice"],
    approvalsNeeded: 2,
    requestedMs: 1_764_000_000_123,
    history: [
      { step: "requested", atMs: 1_764_000_000_123 },
      { step: "held", atMs: 1_764_000_000_124 },
    ],
  };
}

const BREAKER: BreakerView = {
  chain: "devnet-btc",
  state: "tripped",
  reason: "unmatched outflow",
  trippedAtMs: 1_764_000_000_000,
  trippedBy: "system:reconciler",
  incidentId: 3,
  cause: "unmatchedOutflow",
};

const STATUS: CustodyStatusReport = {
  chains: [
    {
      chain: "devnet-btc",
      currencies: ["BTC"],
      walletReady: true,
      signerUp: false,
      signerHalted: false,
      scannerHeight: 101,
      chainHeight: null,
      pendingWithdrawals: 1,
      balances: [
        {
          currency: "BTC",
          onChain: { hot: "1.5", cold: null, depositAddresses: "0" },
          onBooks: { hot: "1.5", cold: "0", inFlight: "0", depositAddresses: "0" },
          customerLiabilities: "1.2",
          hotCap: "5",
          hotTarget: "2",
          hotFloor: "0.5",
          signerBudgetLeft: [{ window: "24h", left: "3" }],
        },
      ],
      reorgedAfterCredit: 0,
      breaker: BREAKER,
      lastReconciliation: null,
    },
  ],
};

const RECONCILIATION: ReconciliationResult = {
  chain: "devnet-btc",
  fromHeight: 100,
  toHeight: 101,
  atMs: 1_764_000_000_500,
  outflows: [
    {
      txid: "ab".repeat(32),
      blockHeight: 101,
      from: ["bcrt1qhot"],
      amounts: [{ asset: "BTC", amount: "0.0149" }],
      matchedBy: null,
    },
  ],
  unmatched: 1,
  unverified: 0,
  assets: null,
  depositAddressesCovered: true,
  verdict: "unmatchedOutflow",
  note: "chain moved during the check",
};

const SWEEP: SweepView = {
  sweepId: "0123456789abcdef0123456789abcdef",
  chain: "devnet-btc",
  kind: "depositSweep",
  currency: "BTC",
  amount: "0.25",
  fee: "0.00001",
  feeAsset: "BTC",
  from: "walletDepositAddresses",
  to: "walletHot",
  sourceAddress: "bcrt1qdeposit",
  toAddress: "bcrt1qhot",
  step: "broadcast",
  txId: "cd".repeat(32),
  reason: null,
  createdMs: 1_764_000_000_000,
  updatedMs: 1_764_000_000_900,
};

const RESERVES: ReserveAddressReport = {
  addresses: [
    {
      chain: "devnet-btc",
      currency: "BTC",
      role: "hot",
      address: "bcrt1qhot",
      balanceUnits: 150_000_000,
      balance: "1.5",
    },
  ],
  complete: false,
};

const REFILL: ColdRefillView = {
  refillId: 4,
  chain: "devnet-btc",
  currency: "BTC",
  amount: "1",
  fee: null,
  feeAsset: "BTC",
  from: "bcrt1qcold",
  to: "bcrt1qhot",
  step: "requested",
  requestedBy: "system:custody",
  reason: "hot below its floor",
  requestedMs: 1_764_000_000_000,
  approvals: [],
  approvalsNeeded: 2,
  exportableFromMs: null,
  txId: null,
  confirmations: 0,
  cancelledBy: null,
  cancelReason: null,
  history: [{ step: "requested", atMs: 1_764_000_000_000, by: "system:custody" }],
};

/** What the double does on its next call of a method: answer (default), throw, or never answer. */
type Behaviour = { kind: "throw"; error: unknown } | { kind: "hang" };

class CustodyDouble implements CustodyPort {
  readonly calls: Array<{ method: string; args: unknown[] }> = [];
  readonly behaviour = new Map<string, Behaviour>();
  /** Releases every call left hanging (so servers can stop). */
  readonly hanging: Array<() => void> = [];
  currentTerms: CurrencyTerms[] = TERMS;
  productionMode = true;

  private async act<T>(method: string, args: unknown[], answer: () => T): Promise<T> {
    this.calls.push({ method, args });
    const behaviour = this.behaviour.get(method);
    if (behaviour?.kind === "throw") throw behaviour.error;
    if (behaviour?.kind === "hang")
      await new Promise<void>((resolve) => {
        this.hanging.push(resolve);
      });
    return answer();
  }

  terms(): CurrencyTerms[] {
    return this.currentTerms;
  }
  depositAddress(userId: number, currency: string) {
    return this.act("depositAddress", [userId, currency], () => ({
      currency,
      chain: "devnet-btc",
      address: `bcrt1qdeposit${userId}`,
    }));
  }
  requestWithdrawal(request: WithdrawalRequest) {
    return this.act("requestWithdrawal", [request], () => withdrawalView(77, request.userId));
  }
  withdrawal(withdrawalId: number) {
    return this.act("withdrawal", [withdrawalId], () =>
      withdrawalId === 77 ? withdrawalView(77, 5) : undefined,
    );
  }
  withdrawals(filter: Parameters<CustodyPort["withdrawals"]>[0]) {
    return this.act("withdrawals", [filter], () => [withdrawalView(78, 5), withdrawalView(77, 5)]);
  }
  approveWithdrawal(withdrawalId: number, approver: string) {
    return this.act("approveWithdrawal", [withdrawalId, approver], () => withdrawalView(withdrawalId, 5));
  }
  rejectWithdrawal(withdrawalId: number, actor: string, reason: string) {
    return this.act("rejectWithdrawal", [withdrawalId, actor, reason], () => ({
      ...withdrawalView(withdrawalId, 5),
      step: "rejected" as const,
      reason,
    }));
  }
  status() {
    return this.act("status", [], () => STATUS);
  }
  breakers() {
    return this.act("breakers", [], () => [BREAKER]);
  }
  tripBreaker(request: Parameters<CustodyPort["tripBreaker"]>[0]) {
    return this.act("tripBreaker", [request], () => [BREAKER]);
  }
  resumeBreaker(request: Parameters<CustodyPort["resumeBreaker"]>[0]) {
    return this.act("resumeBreaker", [request], () => ({ ...BREAKER, state: "closed" as const }));
  }
  reconciliations(chain: string, limit: number) {
    return this.act("reconciliations", [chain, limit], () => [RECONCILIATION]);
  }
  sweeps(input: { chain?: string; limit: number }) {
    return this.act("sweeps", [input], () => [SWEEP]);
  }
  reserveAddresses() {
    return this.act("reserveAddresses", [], () => RESERVES);
  }
  coldRefills(chain?: string) {
    return this.act("coldRefills", chain === undefined ? [] : [chain], () => [REFILL]);
  }
  approveColdRefill(refillId: number, approver: string) {
    return this.act("approveColdRefill", [refillId, approver], () => REFILL);
  }
}

// ---- Setup: one connection, one served double (and one slow server for the bounds) --------------

let connection: NatsConnection;
const servers: CustodyServer[] = [];
const remotes: RemoteCustodyPort[] = [];
const doubles: CustodyDouble[] = [];
const serverErrors: Array<{ method: string; error: unknown }> = [];

function subject(): string {
  return `test.custody.${randomUUID()}`;
}

/** A double served on a fresh subject, and a RemoteCustodyPort on it. */
async function served(
  options: { maxInFlight?: number; remote?: Partial<RemoteCustodyOptions> } = {},
): Promise<{ double: CustodyDouble; server: CustodyServer; remote: RemoteCustodyPort; subject: string }> {
  const double = new CustodyDouble();
  const at = subject();
  const server = serveCustody(connection, {
    subject: at,
    custody: double,
    maxInFlight: options.maxInFlight ?? 8,
    onError: (method, error) => serverErrors.push({ method, error }),
  });
  // The subscription reaches the server before the first request.
  await connection.flush();
  const remote = await RemoteCustodyPort.open(connection, {
    subject: at,
    timeoutMs: 2_000,
    maxInFlight: 8,
    termsRefreshMs: 60_000,
    ...options.remote,
  });
  doubles.push(double);
  servers.push(server);
  remotes.push(remote);
  return { double, server, remote, subject: server.subject };
}

beforeAll(async () => {
  connection = await connectNats(undefined, { name: "test custody-bus", maxReconnectAttempts: 0 });
});

afterAll(async () => {
  for (const remote of remotes) remote.close();
  for (const double of doubles) for (const release of double.hanging) release();
  await Promise.all(servers.map((server) => server.stop()));
  await connection?.drain();
});

async function rawRequest(at: string, bytes: Uint8Array): Promise<Record<string, unknown>> {
  const reply = await connection.request(at, bytes, { timeout: 2_000 });
  return JSON.parse(new TextDecoder().decode(reply.data)) as Record<string, unknown>;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("serveCustody and RemoteCustodyPort", () => {
  it("every method's arguments reach custody exactly and its answer comes back exactly", async () => {
    const { double, remote } = await served();
    // terms and productionMode come from the info request at open.
    expect(remote.terms()).toEqual(TERMS);
    expect(remote.productionMode).toBe(true);
    expect(await remote.depositAddress(5, "BTC")).toEqual({
      currency: "BTC",
      chain: "devnet-btc",
      address: "bcrt1qdeposit5",
    });
    const request: WithdrawalRequest = {
      userId: 5,
      currency: "BTC",
      amount: "0.015",
      address: "bcrt1qexampleaddress0000000000000000000000",
      proof: { kind: "apiKey", keyId: "key-1", clientIp: "203.0.113.9" },
    };
    expect(await remote.requestWithdrawal(request)).toEqual(withdrawalView(77, 5));
    expect(await remote.withdrawal(77)).toEqual(withdrawalView(77, 5));
    expect(await remote.withdrawal(78_000)).toBeUndefined();
    expect(await remote.withdrawals({ userId: 5, step: "held", limit: 2 })).toEqual([
      withdrawalView(78, 5),
      withdrawalView(77, 5),
    ]);
    expect(await remote.approveWithdrawal(77, "operator:bob")).toEqual(withdrawalView(77, 5));
    expect((await remote.rejectWithdrawal(77, "operator:bob", "looks odd")).reason).toBe("looks odd");
    expect(await remote.status()).toEqual(STATUS);
    expect(await remote.breakers()).toEqual([BREAKER]);
    const trip = { chain: "all", actor: "operator:alice", reason: "drill", incidentId: 9 };
    expect(await remote.tripBreaker(trip)).toEqual([BREAKER]);
    const resume = { chain: "devnet-btc", approvers: ["operator:alice", "operator:bob"], reason: "checked" };
    expect((await remote.resumeBreaker(resume)).state).toBe("closed");
    expect(await remote.reconciliations("devnet-btc", 10)).toEqual([RECONCILIATION]);
    expect(await remote.sweeps?.({ chain: "devnet-btc", limit: 5 })).toEqual([SWEEP]);
    expect(await remote.reserveAddresses?.()).toEqual(RESERVES);
    expect(await remote.coldRefills?.()).toEqual([REFILL]);
    expect(await remote.coldRefills?.("devnet-btc")).toEqual([REFILL]);
    expect(await remote.approveColdRefill?.(4, "operator:carol")).toEqual(REFILL);
    // What the double lacks, the remote lacks too (callers test for the method).
    expect(remote.requestColdRefill).toBeUndefined();
    expect(remote.exportColdRefill).toBeUndefined();
    // The synchronous per-user pendingDeposits is not served over the bus.
    expect((remote as CustodyPort).pendingDeposits).toBeUndefined();
    expect(double.calls).toEqual([
      { method: "depositAddress", args: [5, "BTC"] },
      { method: "requestWithdrawal", args: [request] },
      { method: "withdrawal", args: [77] },
      { method: "withdrawal", args: [78_000] },
      { method: "withdrawals", args: [{ userId: 5, step: "held", limit: 2 }] },
      { method: "approveWithdrawal", args: [77, "operator:bob"] },
      { method: "rejectWithdrawal", args: [77, "operator:bob", "looks odd"] },
      { method: "status", args: [] },
      { method: "breakers", args: [] },
      { method: "tripBreaker", args: [trip] },
      { method: "resumeBreaker", args: [resume] },
      { method: "reconciliations", args: ["devnet-btc", 10] },
      { method: "sweeps", args: [{ chain: "devnet-btc", limit: 5 }] },
      { method: "reserveAddresses", args: [] },
      { method: "coldRefills", args: [] },
      { method: "coldRefills", args: ["devnet-btc"] },
      { method: "approveColdRefill", args: [4, "operator:carol"] },
    ]);
  });

  it("one custody process per chain: requests go to the process serving the currency or chain; listings are merged", async () => {
    const base = subject();
    const btc = new CustodyDouble();
    const eth = new CustodyDouble();
    const ethTerms: CurrencyTerms = {
      ...(TERMS[0] as CurrencyTerms),
      currency: "ETH",
      chain: "devnet-eth",
      network: "ERC20",
    };
    eth.currentTerms = [ethTerms];
    eth.productionMode = false;
    btc.productionMode = false;
    doubles.push(btc, eth);
    for (const [custody, instance] of [
      [btc, "btc"],
      [eth, "eth"],
    ] as const)
      servers.push(serveCustody(connection, { subject: base, custody, maxInFlight: 4, instance }));
    await connection.flush();
    const remote = await RemoteCustodyPort.open(connection, {
      subject: base,
      timeoutMs: 2_000,
      maxInFlight: 8,
      termsRefreshMs: 60_000,
    });
    remotes.push(remote);
    expect(remote.instanceCount).toBe(2);
    expect(remote.terms()).toEqual([TERMS[0], ethTerms]);
    expect(remote.productionMode).toBe(false);
    expect((await remote.depositAddress(5, "ETH")).address).toBe("bcrt1qdeposit5");
    expect(eth.calls).toEqual([{ method: "depositAddress", args: [5, "ETH"] }]);
    await remote.requestWithdrawal({
      userId: 5,
      currency: "BTC",
      amount: "1",
      address: "x",
      proof: { kind: "totp", code: "1" },
    });
    expect(btc.calls.map((call) => call.method)).toEqual(["requestWithdrawal"]);
    // A currency no process serves: custody's own refusal, and no process is asked.
    await expect(remote.depositAddress(5, "DOGE")).rejects.toMatchObject({ code: "unknownCurrency" });
    // Spanning chains: every process's part.
    expect((await remote.status()).chains).toHaveLength(2);
    expect(await remote.breakers()).toEqual([BREAKER, BREAKER]);
    expect(await remote.reserveAddresses?.()).toEqual({
      addresses: [...RESERVES.addresses, ...RESERVES.addresses],
      complete: false,
    });
    // By chain.
    eth.calls.length = 0;
    btc.calls.length = 0;
    await remote.reconciliations("devnet-eth", 3);
    expect(eth.calls).toEqual([{ method: "reconciliations", args: ["devnet-eth", 3] }]);
    expect(btc.calls).toEqual([]);
    // An approval goes to the process serving the withdrawal's chain (withdrawal 77 is on devnet-btc).
    await remote.approveWithdrawal(77, "operator:bob");
    expect(btc.calls.some((call) => call.method === "approveWithdrawal")).toBe(true);
    expect(eth.calls.some((call) => call.method === "approveWithdrawal")).toBe(false);
    // The ETH process goes away: its routes stay for a missed gathering or two (a slow answer must
    // not unroute ETH), asking it answers walletNotAvailable; then it is dropped.
    const ethServer = servers.find((server) => server.subject === `${base}.eth`);
    await ethServer?.stop();
    await remote.refresh();
    expect(remote.instanceCount).toBe(2);
    expect(remote.terms().map((terms) => terms.currency)).toEqual(["BTC", "ETH"]);
    await expect(remote.depositAddress(5, "ETH")).rejects.toMatchObject({
      code: "walletNotAvailable",
      detail: "custody is not running",
    });
    await remote.refresh();
    await remote.refresh();
    expect(remote.instanceCount).toBe(1);
    expect(remote.terms()).toEqual(TERMS);
    expect((await remote.depositAddress(6, "BTC")).address).toBe("bcrt1qdeposit6");
  });

  it("the info subject answers info and nothing else", async () => {
    const { double, server } = await served();
    const at = server.subject.slice(0, server.subject.lastIndexOf("."));
    const info = await rawRequest(`${at}.info`, json({ v: 1, method: "info", args: [] }));
    expect(info).toMatchObject({ ok: true, result: { subject: server.subject, terms: TERMS } });
    const refused = await rawRequest(
      `${at}.info`,
      json({ v: 1, method: "depositAddress", args: [5, "BTC"] }),
    );
    expect(refused).toMatchObject({ ok: false, error: "malformed" });
    expect(double.calls).toEqual([]);
  });

  it("terms are refreshed on their interval", async () => {
    const { double, remote } = await served({ remote: { termsRefreshMs: 100 } });
    double.currentTerms = [{ ...TERMS[0], withdrawEnabled: false } as CurrencyTerms];
    double.productionMode = false;
    const deadline = Date.now() + 2_000;
    while (remote.terms()[0]?.withdrawEnabled !== false && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(remote.terms()).toEqual(double.currentTerms);
    expect(remote.productionMode).toBe(false);
  });

  it("custody's refusals keep their code and detail; other failures say nothing of custody's internals", async () => {
    const { double, remote } = await served();
    for (const code of CUSTODY_ERROR_CODES) {
      double.behaviour.set("requestWithdrawal", {
        kind: "throw",
        error: new CustodyError(code, `why ${code}`),
      });
      const error = await remote
        .requestWithdrawal({
          userId: 5,
          currency: "BTC",
          amount: "1",
          address: "x",
          proof: { kind: "totp", code: "123456" },
        })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CustodyError);
      expect(error).toMatchObject({ code, detail: `why ${code}` });
    }
    for (const code of COLD_REFILL_ERROR_CODES) {
      double.behaviour.set("approveColdRefill", {
        kind: "throw",
        error: new ColdRefillError(code, `cold ${code}`),
      });
      const error = await remote.approveColdRefill?.(4, "operator:carol").catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ColdRefillError);
      expect(error).toMatchObject({ code, detail: `cold ${code}` });
    }
    double.behaviour.set("status", { kind: "throw", error: new Error("ECONNREFUSED /var/run/secret.sock") });
    const failed = await remote.status().catch((caught: unknown) => caught);
    expect(failed).toBeInstanceOf(CustodyBusError);
    expect(failed).toMatchObject({ reason: "failed" });
    expect(String((failed as Error).message)).not.toContain("secret.sock");
    expect(serverErrors.some((entry) => entry.method === "status")).toBe(true);
  });

  it("malformed and oversized requests are refused and custody is never called", async () => {
    const { double, server, subject: at, remote } = await served();
    const bad: Uint8Array[] = [
      new TextEncoder().encode("not json"),
      new Uint8Array([0xff, 0xfe, 0x7b]),
      json({ v: 2, method: "depositAddress", args: [5, "BTC"] }),
      json({ v: 1, method: "unknownMethod", args: [] }),
      json({ v: 1, method: "constructor", args: [] }),
      json({ v: 1, method: "depositAddress", args: [5, "BTC"], extra: 1 }),
      json({ v: 1, method: "depositAddress", args: [-5, "BTC"] }),
      json({ v: 1, method: "depositAddress", args: [5.5, "BTC"] }),
      json({ v: 1, method: "depositAddress", args: ["5", "BTC"] }),
      json({ v: 1, method: "depositAddress", args: [5] }),
      json({ v: 1, method: "depositAddress", args: [5, "BTC", "extra"] }),
      json({ v: 1, method: "withdrawals", args: [{ limit: 1_001 }] }),
      json({ v: 1, method: "withdrawals", args: [{ limit: 5, step: "teleported" }] }),
      json({
        v: 1,
        method: "requestWithdrawal",
        args: [{ userId: 5, currency: "BTC", amount: "1", address: "x", proof: { kind: "none" } }],
      }),
      json({
        v: 1,
        method: "requestWithdrawal",
        args: [
          {
            userId: 5,
            currency: "BTC",
            amount: "1",
            address: "x",
            proof: { kind: "totp", code: "1" },
            admin: true,
          },
        ],
      }),
      json({ v: 1, method: "rejectWithdrawal", args: [77, "operator:bob", "x".repeat(5_000)] }),
      json({ v: 1, method: "depositAddress", args: [5, "x".repeat(MAX_CUSTODY_REQUEST_BYTES)] }),
    ];
    for (const bytes of bad) {
      const reply = await rawRequest(at, bytes);
      expect(reply).toMatchObject({ v: 1, ok: false, error: "malformed" });
    }
    expect(server.stats.refusedMalformed).toBe(bad.length);
    expect(double.calls).toEqual([]);
    // The client refuses what it cannot send exactly or within the bound, without sending.
    await expect(
      remote.tripBreaker({
        chain: "all",
        actor: "operator:alice",
        reason: "x".repeat(MAX_CUSTODY_REQUEST_BYTES),
      }),
    ).rejects.toMatchObject({ code: "invalidRequest" });
    await expect(remote.withdrawal(Number.NaN)).rejects.toMatchObject({ code: "invalidRequest" });
    // Valid on the wire, refused by the server's schema: a bus error, never custody.
    await expect(remote.depositAddress(0, "BTC")).rejects.toMatchObject({ reason: "malformed" });
    expect(double.calls).toEqual([]);
  });

  it("no custody: walletNotAvailable at once, and open() starts with no terms", async () => {
    const refreshErrors: unknown[] = [];
    const started = Date.now();
    const remote = await RemoteCustodyPort.open(connection, {
      subject: subject(),
      timeoutMs: 5_000,
      maxInFlight: 4,
      termsRefreshMs: 60_000,
      onRefreshError: (error) => refreshErrors.push(error),
    });
    remotes.push(remote);
    expect(remote.terms()).toEqual([]);
    expect(refreshErrors).toHaveLength(1);
    await expect(remote.depositAddress(5, "BTC")).rejects.toMatchObject({
      code: "walletNotAvailable",
      detail: "custody is not running",
    });
    // A write is refused the same: nobody received it, nothing was done.
    await expect(
      remote.requestWithdrawal({
        userId: 5,
        currency: "BTC",
        amount: "1",
        address: "x",
        proof: { kind: "totp", code: "1" },
      }),
    ).rejects.toBeInstanceOf(CustodyError);
    expect(Date.now() - started).toBeLessThan(1_000);
    remote.close();
    await expect(remote.depositAddress(5, "BTC")).rejects.toMatchObject({ code: "walletNotAvailable" });
  });

  it("a slow custody: a read is walletNotAvailable, a write's outcome is unknown; past the in-flight bound: busy", async () => {
    const { double, remote, server } = await served({ maxInFlight: 1, remote: { timeoutMs: 200 } });
    double.behaviour.set("requestWithdrawal", { kind: "hang" });
    const write = await remote
      .requestWithdrawal({
        userId: 5,
        currency: "BTC",
        amount: "1",
        address: "x",
        proof: { kind: "totp", code: "1" },
      })
      .catch((caught: unknown) => caught);
    expect(write).toBeInstanceOf(CustodyOutcomeUnknownError);
    expect(write).toBeInstanceOf(CommandOutcomeUnknownError);
    expect((write as Error).message).toMatch(/outcome unknown/);
    // The hanging withdrawal still holds the server's one slot: the next request is answered busy.
    expect(server.stats.inFlight).toBe(1);
    await expect(remote.depositAddress(5, "BTC")).rejects.toMatchObject({
      code: "walletNotAvailable",
      detail: "custody is busy: retry later",
    });
    expect(server.stats.refusedBusy).toBe(1);
    for (const release of double.hanging.splice(0)) release();
    double.behaviour.set("depositAddress", { kind: "hang" });
    await expect(remote.depositAddress(5, "BTC")).rejects.toMatchObject({
      code: "walletNotAvailable",
      detail: "custody did not answer in time",
    });
    for (const release of double.hanging.splice(0)) release();
  });
});

// ---- End to end: a cluster gateway's wallet endpoints through the bus --------------------------

describe("a cluster gateway with RemoteCustodyPort: ccxt 4.5.84 binance", () => {
  const run = randomBytes(4).toString("hex");
  const names = clusterNames(`custodybus-${run}`);
  const pgSchema = `cluster_custodybus_${process.pid}_${run}`;
  const secretBox = new SecretBox(randomBytes(32));
  const double = new CustodyDouble();
  let primary: ClusterCore;
  let store: Store;
  let exchange: ClusterExchange;
  let remote: RemoteCustodyPort;
  let server: CustodyServer;
  let gateway: Gateway;
  let client: InstanceType<typeof ccxt.binance>;
  let userId: number;

  beforeAll(async () => {
    primary = await startPrimaryCore(connection, names, "custody-bus-primary");
    store = await openStore({ databaseUrl: TEST_DATABASE_URL, pgSchema });
    exchange = await ClusterExchange.open({
      connection,
      names,
      databaseUrl: TEST_DATABASE_URL,
      pgSchema,
      accounts: { secretBox },
      busTimeoutMs: 5_000,
      onBackgroundError: (what, error) => {
        throw new Error(`${what}: ${String(error)}`);
      },
    });
    const setup: UnstampedCommand[] = [
      ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
      ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
    ];
    for (const command of setup) await exchange.submit(command);
    server = serveCustody(connection, { subject: names.custodySubject, custody: double, maxInFlight: 8 });
    await connection.flush();
    remote = await RemoteCustodyPort.open(connection, {
      subject: names.custodySubject,
      timeoutMs: 300,
      maxInFlight: 8,
      termsRefreshMs: 60_000,
    });
    gateway = createGateway(exchange, {
      secretBox,
      custody: remote,
      logger: pino({ level: "silent" }),
      port: 0,
      host: "127.0.0.1",
      defaultMetrics: false,
      rateLimit: UNREACHABLE_RATE_LIMIT,
    });
    const { port } = await gateway.listen();
    const created = await createUser(store.db, {
      email: `custody-bus-${run}@example.test`,
      passwordHash: "$scrypt$unused-in-this-test",
      createdMs: Date.now(),
    });
    if (!created.ok) throw new Error("test user exists");
    userId = created.user.userId;
    const { keyId, secret } = generateApiKey();
    await createApiKey(store.db, {
      keyId,
      userId,
      secretCiphertext: sealApiSecret(secretBox, keyId, secret),
      scopes: ["info", "trade", "withdraw"],
      ipAllowList: ["127.0.0.1"],
      createdMs: Date.now(),
    });
    const base = `http://127.0.0.1:${port}`;
    client = new ccxt.binance({
      apiKey: keyId,
      secret,
      rateLimit: 5,
      urls: { api: { public: `${base}/api/v3`, private: `${base}/api/v3`, sapi: `${base}/sapi/v1` } },
      options: { defaultType: "spot", fetchMarkets: { types: ["spot"] } },
    });
  }, 20_000);

  afterAll(async () => {
    await gateway?.close();
    remote?.close();
    for (const release of double.hanging) release();
    await server?.stop();
    await exchange?.close();
    await store?.close();
    await primary?.close();
    await removeClusterState(connection, names);
    await dropPgSchema(TEST_DATABASE_URL, pgSchema);
  });

  it("fetchDepositAddress answers custody's address for the caller", async () => {
    const found = await client.fetchDepositAddress("BTC");
    expect(found.address).toBe(`bcrt1qdeposit${userId}`);
    expect(found.currency).toBe("BTC");
    expect(double.calls.filter((call) => call.method === "depositAddress").at(-1)?.args).toEqual([
      userId,
      "BTC",
    ]);
  });

  it("withdraw: custody's withdrawal id; its refusal is Binance's row; a custody timeout is -1007", async () => {
    const address = "bcrt1qexampleaddress0000000000000000000000";
    const placed = await client.withdraw("BTC", 0.015, address);
    expect(placed.id).toBe("77");
    const asked = double.calls.filter((call) => call.method === "requestWithdrawal").at(-1);
    expect(asked?.args).toEqual([
      {
        userId,
        currency: "BTC",
        amount: "0.015",
        address,
        proof: { kind: "apiKey", keyId: client.apiKey, clientIp: "127.0.0.1" },
      },
    ]);
    double.behaviour.set("requestWithdrawal", {
      kind: "throw",
      error: new CustodyError("badAddress", "not a BTC address"),
    });
    const refused = await client.withdraw("BTC", 0.015, address).catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(ccxt.ExchangeError);
    expect(String((refused as Error).message)).toContain(String(BINANCE_ERRORS.badAddress.code));
    double.behaviour.set("requestWithdrawal", { kind: "hang" });
    const unknown = await client.withdraw("BTC", 0.015, address).catch((caught: unknown) => caught);
    expect(unknown).toBeInstanceOf(ccxt.BaseError);
    expect(String((unknown as Error).message)).toContain(String(BINANCE_ERRORS.requestTimeout.code));
    double.behaviour.delete("requestWithdrawal");
  });
});

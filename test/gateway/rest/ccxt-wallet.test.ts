// ccxt 4.5.73's wallet reads (fetchDeposits, fetchWithdrawals, fetchDepositsWithdrawals,
// fetchDeposit, fetchWithdrawal) against deposits and withdrawals made by submitting custody's core
// commands directly (custody itself is not wired to the gateway yet), and withdraw_get_txid.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UnstampedCommand } from "../../../src/core/commands.ts";
import { setWithdrawalChainInfo } from "../../../src/store/wallet-queries.ts";
import {
  ccxtExmo,
  createTrader,
  type Harness,
  signedPost,
  startHarness,
  type Trader,
} from "../support/rest-harness.ts";

const BTC = 1;
const USDT = 3;
const SETTLED_TX = "f2b66259ae1580f371d38dd27e31a23fff8c04122b65ee3ab5a3f612d579c792";

let harness: Harness;
let alice: Trader;
let bob: Trader;
let aliceDepositId: number;
let bobDepositId: number;
let startMs: number;

async function submit(command: UnstampedCommand): Promise<number> {
  const result = await harness.exchange.submit(command);
  const rejected = result.events.find((event) => event.type === "rejected");
  if (rejected !== undefined) throw new Error(`${command.kind} rejected: ${JSON.stringify(rejected)}`);
  return result.sequence;
}

beforeAll(async () => {
  harness = await startHarness();
  startMs = Math.floor(Date.now() / 1000) * 1000;
  alice = await createTrader(harness, { scopes: ["info", "withdraw"], ipAllowList: ["127.0.0.1"] });
  bob = await createTrader(harness, { scopes: ["info", "withdraw"], ipAllowList: ["127.0.0.1"] });
  const deposit = (userId: number, assetId: number, amountUnits: number, txId: string) =>
    submit({ kind: "creditDeposit", userId, assetId, amountUnits, chain: "btc", txId, outputIndex: 0 });
  aliceDepositId = await deposit(alice.userId, BTC, 50_000_000, "aa01"); // 0.5 BTC
  await deposit(alice.userId, USDT, 25_000_000, "aa02"); // 25 USDT
  bobDepositId = await deposit(bob.userId, BTC, 70_000_000, "bb01");
  const hold = (withdrawalId: number, userId: number, amountUnits: number, feeUnits: number) =>
    submit({ kind: "holdWithdrawal", withdrawalId, userId, assetId: BTC, amountUnits, feeUnits });
  await hold(101, alice.userId, 20_000_000, 50_000); // 0.2 BTC, fee 0.0005: settled
  await hold(102, alice.userId, 10_000_000, 50_000); // released
  await hold(103, alice.userId, 5_000_000, 0); // still held
  await hold(201, bob.userId, 1_000_000, 0);
  await submit({ kind: "settleWithdrawal", withdrawalId: 101 });
  const last = await submit({ kind: "releaseWithdrawal", withdrawalId: 102 });
  await harness.exchange.whenProjected(last);
  const db = harness.exchange.internals.store.db;
  expect(await setWithdrawalChainInfo(db, 101, { txId: SETTLED_TX, destination: "bc1qalice" })).toBe(true);
});
afterAll(async () => {
  await harness.close();
});

function expectRecent(timestamp: number | undefined) {
  expect(timestamp).toBeGreaterThanOrEqual(startMs);
  expect(timestamp).toBeLessThanOrEqual(Date.now());
  expect((timestamp ?? 1) % 1000).toBe(0); // EXMO sends seconds
}

describe("ccxt wallet reads over projected deposits and withdrawals", () => {
  it("fetchDeposits / fetchDeposit: the caller's deposits only, paid (ok), with amount, currency and txid", async () => {
    const client = ccxtExmo(harness, alice);
    const deposits = await client.fetchDeposits();
    expect(deposits.map((d) => [d.id, d.currency, d.amount, d.status, d.txid, d.fee?.cost])).toEqual([
      [String(aliceDepositId + 1), "USDT", 25, "ok", "aa02", 0],
      [String(aliceDepositId), "BTC", 0.5, "ok", "aa01", 0],
    ]);
    for (const deposit of deposits) expectRecent(deposit.timestamp);
    const btc = await client.fetchDeposits("BTC");
    expect(btc.map((d) => d.id)).toEqual([String(aliceDepositId)]);
    const one = await client.fetchDeposit(String(aliceDepositId));
    expect([one.id, one.amount, one.currency, one.status, one.txid]).toEqual([
      String(aliceDepositId),
      0.5,
      "BTC",
      "ok",
      "aa01",
    ]);
    // Bob's deposit is not Alice's to see.
    expect((await client.fetchDeposit(String(bobDepositId))).id).toBeUndefined();
  });

  it("fetchWithdrawals / fetchWithdrawal: settled ok, released canceled, held pending; amount net of the fee", async () => {
    const client = ccxtExmo(harness, alice);
    const withdrawals = await client.fetchWithdrawals("BTC");
    // ccxt sorts by time in whole seconds: rows made across a second boundary may swap, so by id.
    expect(
      withdrawals
        .map((w) => [w.id, w.currency, w.amount, w.status, w.txid, w.fee?.cost, w.fee?.currency])
        .sort((a, b) => Number(b[0]) - Number(a[0])),
    ).toEqual([
      ["103", "BTC", 0.05, "pending", undefined, 0, "BTC"],
      ["102", "BTC", 0.0995, "canceled", undefined, 0.0005, "BTC"],
      ["101", "BTC", 0.1995, "ok", SETTLED_TX, 0.0005, "BTC"],
    ]);
    for (const withdrawal of withdrawals) expectRecent(withdrawal.timestamp);
    const one = await client.fetchWithdrawal("101");
    expect([one.id, one.amount, one.status, one.txid]).toEqual(["101", 0.1995, "ok", SETTLED_TX]);
    expect((await client.fetchWithdrawal("201")).id).toBeUndefined(); // Bob's
    expect(await client.fetchWithdrawals("USDT")).toEqual([]);
  });

  it("fetchDepositsWithdrawals: today's history, same amounts and fees as wallet_operations", async () => {
    const rows = await ccxtExmo(harness, alice).fetchDepositsWithdrawals();
    const byId = new Map(rows.map((row) => [`${row.type}:${row.id}`, row]));
    expect(rows).toHaveLength(5);
    expect(byId.get(`deposit:${aliceDepositId}`)).toMatchObject({
      amount: 0.5,
      currency: "BTC",
      status: "ok",
    });
    expect(byId.get("withdrawal:101")).toMatchObject({
      amount: 0.1995,
      status: "ok",
      txid: SETTLED_TX,
      address: "bc1qalice",
      fee: { cost: 0.0005, currency: "BTC" },
    });
    expect(byId.get("withdrawal:102")?.status).toBe("canceled");
    expect(byId.get("withdrawal:103")?.status).toBe("pending");
    for (const row of rows) expectRecent(row.timestamp);
    const bobRows = await ccxtExmo(harness, bob).fetchDepositsWithdrawals();
    expect(bobRows.map((row) => `${row.type}:${row.id}`).sort()).toEqual([
      `deposit:${bobDepositId}`,
      "withdrawal:201",
    ]);
    // A day with nothing in it.
    expect(await ccxtExmo(harness, alice).fetchDepositsWithdrawals(undefined, 86_400_000)).toEqual([]);
  });

  it("withdraw_get_txid answers the caller's withdrawal's tx id, and not another user's", async () => {
    const settled = await signedPost(harness, alice, "withdraw_get_txid", { task_id: "101" });
    expect(settled.body).toEqual({ result: true, error: "", status: true, txid: SETTLED_TX });
    const held = await signedPost(harness, alice, "withdraw_get_txid", { task_id: "103" });
    expect(held.body).toEqual({ result: true, error: "", status: false, txid: "" });
    const other = await signedPost(harness, bob, "withdraw_get_txid", { task_id: "101" });
    expect(other.body).toMatchObject({ result: false });
    expect(String((other.body as { error: string }).error)).toMatch(/^Error 59022: /);
  });
});

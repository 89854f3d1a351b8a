// Custody's commands (docs/CORE.md, "Wallet commands"), on both cores: each check in order, the
// events, the balanced transfers, the custody identity, and snapshots old and new.

import { describe, expect, it } from "vitest";
import type { UnstampedCommand, WalletAccount } from "../../src/core/commands.ts";
import { Core } from "../../src/core/core.ts";
import { BTC, bal, Driver, loadFactories, T0, USD } from "./machines.ts";

const factories = await loadFactories();

const deposit = (
  over: Partial<Extract<UnstampedCommand, { kind: "creditDeposit" }>> = {},
): UnstampedCommand => ({
  kind: "creditDeposit",
  userId: 1,
  assetId: BTC,
  amountUnits: 5_000,
  chain: "btc",
  txId: "aa11",
  outputIndex: 0,
  ...over,
});
const hold = (
  over: Partial<Extract<UnstampedCommand, { kind: "holdWithdrawal" }>> = {},
): UnstampedCommand => ({
  kind: "holdWithdrawal",
  withdrawalId: 7,
  userId: 1,
  assetId: BTC,
  amountUnits: 1_000,
  feeUnits: 30,
  ...over,
});
const move = (
  from: WalletAccount,
  to: WalletAccount,
  amountUnits: number,
  txId = "ff",
): UnstampedCommand => ({
  kind: "recordWalletMovement",
  assetId: BTC,
  from,
  to,
  amountUnits,
  txId,
});

describe.each(factories)("wallet commands on $name", (factory) => {
  const start = (limits = {}) => {
    const d = new Driver(factory, limits);
    d.addAsset(BTC, "BTC");
    d.addAsset(USD, "USD", 2);
    return d;
  };

  it("credits a deposit once per chain + transaction + output, from the deposit addresses", () => {
    const d = start();
    expect(d.run(deposit())).toEqual([
      {
        type: "depositCredited",
        sequence: 3,
        timestampMs: T0 + 3,
        userId: 1,
        assetId: BTC,
        amountUnits: 5_000,
        chain: "btc",
        txId: "aa11",
        outputIndex: 0,
      },
      bal(d, 1, BTC, 5_000, 0),
    ]);
    expect(d.systemBalance("walletDepositAddresses", BTC)).toBe(-5_000);
    d.reject(deposit(), "duplicateDeposit", 1);
    d.reject(deposit({ userId: 2, amountUnits: 1 }), "duplicateDeposit", 2);
    // Another output of the same transaction, or the same id on another chain, is another deposit.
    expect(d.run(deposit({ outputIndex: 1 }))[0].type).toBe("depositCredited");
    expect(d.run(deposit({ chain: "eth" }))[0].type).toBe("depositCredited");
    expect(d.balance(1, BTC)).toEqual({ available: 15_000, held: 0 });
    expect(d.state().depositKeys).toEqual(["btc:aa11:0", "btc:aa11:1", "eth:aa11:0"]);
  });

  it("checks a deposit in the documented order", () => {
    const d = start({ maxDepositKeys: 1, maxUsers: 1 });
    for (const bad of [
      { userId: 0 },
      { amountUnits: 0 },
      { amountUnits: -3 },
      { amountUnits: 1.5 },
      { chain: "" },
      { chain: "BTC" },
      { chain: "a:b" },
      { txId: "" },
      { txId: "a b" },
      { txId: "x".repeat(129) },
      { outputIndex: -1 },
      { outputIndex: 2 ** 32 },
    ])
      d.reject(deposit({ ...bad, assetId: 99 }), "invalidCommand", bad.userId === 0 ? 0 : 1);
    d.reject(deposit({ assetId: 3 }), "unknownAsset", 1);
    d.run(deposit());
    d.reject(deposit({ assetId: 99 }), "unknownAsset", 1);
    d.reject(deposit({ userId: 2 }), "duplicateDeposit", 2);
    d.reject(deposit({ txId: "bb" }), "limitReached", 1);
  });

  it("refuses a deposit for a new user beyond maxUsers, and one past the safe range", () => {
    const d = start({ maxUsers: 1 });
    d.run(deposit({ amountUnits: 2 ** 53 - 2 }));
    d.reject(deposit({ txId: "b", amountUnits: 2 }), "limitReached", 1);
    d.reject(deposit({ txId: "c", userId: 2 }), "limitReached", 2);
    d.reject(deposit({ txId: "c", userId: 2, assetId: USD }), "tooManyUsers", 2);
  });

  it("holds, settles (held → hot and fees) and releases withdrawals", () => {
    const d = start();
    d.run(deposit());
    expect(d.run(hold())).toEqual([
      {
        type: "withdrawalHeld",
        sequence: 4,
        timestampMs: T0 + 4,
        withdrawalId: 7,
        userId: 1,
        assetId: BTC,
        amountUnits: 1_000,
        feeUnits: 30,
      },
      bal(d, 1, BTC, 4_000, 1_000),
    ]);
    expect(d.state().withdrawalHolds).toEqual([
      { withdrawalId: 7, userId: 1, assetId: BTC, amountUnits: 1_000, feeUnits: 30 },
    ]);
    d.reject(hold({ amountUnits: 100 }), "withdrawalExists", 1);
    expect(d.run({ kind: "settleWithdrawal", withdrawalId: 7 })).toEqual([
      {
        type: "withdrawalSettled",
        sequence: 6,
        timestampMs: T0 + 6,
        withdrawalId: 7,
        userId: 1,
        assetId: BTC,
        amountUnits: 1_000,
        feeUnits: 30,
      },
      bal(d, 1, BTC, 4_000, 0),
    ]);
    expect(d.systemBalance("walletHot", BTC)).toBe(970);
    expect(d.systemBalance("fees", BTC)).toBe(30);
    d.reject({ kind: "settleWithdrawal", withdrawalId: 7 }, "withdrawalNotFound");
    d.reject({ kind: "releaseWithdrawal", withdrawalId: 7 }, "withdrawalNotFound");

    d.run(hold({ withdrawalId: 8, amountUnits: 4_000, feeUnits: 0 }));
    expect(d.balance(1, BTC)).toEqual({ available: 0, held: 4_000 });
    expect(d.run({ kind: "releaseWithdrawal", withdrawalId: 8 })).toEqual([
      {
        type: "withdrawalReleased",
        sequence: 10,
        timestampMs: T0 + 10,
        withdrawalId: 8,
        userId: 1,
        assetId: BTC,
        amountUnits: 4_000,
        feeUnits: 0,
      },
      bal(d, 1, BTC, 4_000, 0),
    ]);
    expect(d.state().withdrawalHolds).toEqual([]);
  });

  it("checks a withdrawal hold in the documented order", () => {
    const d = start({ maxPendingWithdrawals: 1 });
    for (const bad of [
      { userId: 0 },
      { withdrawalId: 0 },
      { withdrawalId: 1.5 },
      { amountUnits: 0 },
      { feeUnits: -1 },
      { feeUnits: 1_000 },
      { feeUnits: 0.5 },
    ])
      d.reject(hold({ ...bad, assetId: 99 }), "invalidCommand", bad.userId === 0 ? 0 : 1);
    d.reject(hold({ assetId: 99 }), "unknownAsset", 1);
    d.reject(hold(), "insufficientFunds", 1); // no such user yet
    d.run(deposit({ amountUnits: 1_500 }));
    d.reject(hold({ amountUnits: 1_501 }), "insufficientFunds", 1);
    d.run(hold());
    d.reject(hold({ amountUnits: 999_999 }), "withdrawalExists", 1);
    d.reject(hold({ withdrawalId: 9, amountUnits: 999_999 }), "insufficientFunds", 1);
    d.reject(hold({ withdrawalId: 9, amountUnits: 100 }), "limitReached", 1);
  });

  it("records wallet movements as balanced transfers between system accounts", () => {
    const d = start();
    d.run(deposit());
    expect(d.run(move("walletDepositAddresses", "walletHot", 5_000, "sweep1"))).toEqual([
      {
        type: "walletMovement",
        sequence: 4,
        timestampMs: T0 + 4,
        assetId: BTC,
        from: "walletDepositAddresses",
        to: "walletHot",
        amountUnits: 5_000,
        txId: "sweep1",
      },
    ]);
    d.run(move("walletHot", "walletInFlight", 3_000));
    d.run(move("walletInFlight", "walletCold", 3_000));
    d.run(move("walletCold", "walletHot", 1_000, ""));
    d.run(move("walletHot", "networkFees", 12));
    expect(d.state().systemBalances).toEqual([
      { account: "walletHot", assetId: BTC, balanceUnits: -2_988 },
      { account: "walletCold", assetId: BTC, balanceUnits: -2_000 },
      { account: "networkFees", assetId: BTC, balanceUnits: -12 },
    ]);
    // The user's balance did not move: movements touch system accounts only.
    expect(d.balance(1, BTC)).toEqual({ available: 5_000, held: 0 });
    d.reject(move("networkFees", "walletHot", 1), "invalidCommand");
    d.reject(move("walletHot", "walletHot", 1), "invalidCommand");
    d.reject(move("walletHot", "bogus" as WalletAccount, 1), "invalidCommand");
    d.reject(move("walletHot", "walletCold", 0), "invalidCommand");
    d.reject(move("walletHot", "walletCold", 1, "a b"), "invalidCommand");
    d.reject({ ...move("walletHot", "walletCold", 1), assetId: 3 } as UnstampedCommand, "unknownAsset");
    d.reject(move("walletHot", "walletCold", 2 ** 53 - 1), "limitReached");
  });
});

describe("wallet state in snapshots", () => {
  const run = (core: Core, commands: UnstampedCommand[]) => {
    let sequence = core.lastSequence;
    core.applyBatch(
      commands.map((c) => ({ ...c, sequence: ++sequence, timestampMs: T0 }) as never),
      [],
    );
  };

  it("round-trips holds and deposit keys, and a restored core still refuses a duplicate", () => {
    const core = new Core();
    run(core, [
      { kind: "addAsset", asset: { assetId: 1, code: "BTC", scale: 8 } },
      deposit(),
      deposit({ txId: "bb", userId: 2 }),
      hold(),
      hold({ withdrawalId: 3, userId: 2, feeUnits: 0 }),
      move("walletDepositAddresses", "walletHot", 7_000),
    ]);
    const restored = Core.restore(core.snapshot(), {});
    expect(restored.exportState()).toEqual(core.exportState());
    expect(restored.stateHash()).toBe(core.stateHash());
    const events: never[] = [];
    restored.applyBatch([{ ...deposit(), sequence: 100, timestampMs: T0 } as never], events);
    expect(events).toMatchObject([{ type: "rejected", reason: "duplicateDeposit" }]);
  });

  it("the state hash sees the holds and the keys", () => {
    const a = new Core();
    const b = new Core();
    const setup: UnstampedCommand[] = [
      { kind: "addAsset", asset: { assetId: 1, code: "BTC", scale: 8 } },
      deposit(),
    ];
    run(a, setup);
    run(b, setup);
    expect(a.stateHash()).toBe(b.stateHash());
    run(a, [hold()]);
    run(b, [hold({ withdrawalId: 8 })]);
    expect(a.stateHash()).not.toBe(b.stateHash());
  });

  it("restores a version 1 snapshot (six system accounts, no holds or keys)", () => {
    // Hand-built: version 1 with one asset, no markets, one user (available 500), operator equity −500.
    const bytes = new Uint8Array(256);
    const view = new DataView(bytes.buffer);
    let at = 0;
    const u32 = (v: number) => {
      view.setUint32(at, v, true);
      at += 4;
    };
    const f64 = (v: number) => {
      view.setFloat64(at, v, true);
      at += 8;
    };
    u32(0x4b574c42);
    u32(1);
    f64(9); // lastSequence
    f64(1); // nextTradeId
    u32(1);
    view.setUint16(at, 1, true);
    at += 2;
    view.setUint16(at, 3, true);
    at += 2;
    bytes.set([0x42, 0x54, 0x43], at); // "BTC"
    at += 3;
    bytes[at++] = 8;
    u32(0); // markets
    u32(1); // users
    view.setInt32(at, 4, true);
    at += 4;
    f64(500);
    f64(0);
    for (const value of [0, -500, 0, 0, 0, 0]) f64(value);
    const core = Core.restore(bytes.slice(0, at), {});
    const state = core.exportState();
    expect(state.lastSequence).toBe(9);
    expect(state.userBalances).toEqual([{ userId: 4, assetId: 1, availableUnits: 500, heldUnits: 0 }]);
    expect(state.systemBalances).toEqual([{ account: "operatorEquity", assetId: 1, balanceUnits: -500 }]);
    expect(state.withdrawalHolds).toEqual([]);
    expect(state.depositKeys).toEqual([]);
    // It carries on under the new commands and writes the current version.
    const events: never[] = [];
    core.applyBatch(
      [{ ...hold({ userId: 4, amountUnits: 500, feeUnits: 0 }), sequence: 10, timestampMs: T0 } as never],
      events,
    );
    expect(events[0]).toMatchObject({ type: "withdrawalHeld" });
    expect(new DataView(core.snapshot().buffer).getUint32(4, true)).toBe(4);
  });
});

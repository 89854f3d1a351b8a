// Breach containment's commands (docs/CORE.md, "Covering a loss"), on both cores: funding the
// insurance fund, covering a theft from the hot wallet, each rejection in order (nothing changes),
// the custody identity, snapshots and the journal codec.

import { describe, expect, it } from "vitest";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { Core } from "../../src/core/core.ts";
import { decodeCommand, encodeCommand } from "../../src/journal/command-codec.ts";
import { BTC, Driver, loadFactories, T0, USD } from "./machines.ts";

const factories = await loadFactories();

type Cover = Extract<UnstampedCommand, { kind: "coverIncidentLoss" }>;
type Funding = Extract<UnstampedCommand, { kind: "fundInsurance" }>;

const cover = (over: Partial<Cover> = {}): UnstampedCommand => ({
  kind: "coverIncidentLoss",
  incidentId: 4,
  assetId: BTC,
  amountUnits: 3_000,
  source: "insuranceFund",
  ...over,
});
const funding = (over: Partial<Funding> = {}): UnstampedCommand => ({
  kind: "fundInsurance",
  assetId: BTC,
  wallet: "walletCold",
  amountUnits: 10_000,
  txId: "f00d",
  ...over,
});

describe.each(factories)("loss cover on $name", (factory) => {
  /** A user deposited 20 000, swept to hot; the operator funded the insurance fund with 10 000 in cold. */
  const start = () => {
    const d = new Driver(factory);
    d.addAsset(BTC, "BTC");
    d.addAsset(USD, "USD", 2);
    d.run({
      kind: "creditDeposit",
      userId: 1,
      assetId: BTC,
      amountUnits: 20_000,
      chain: "btc",
      txId: "aa",
      outputIndex: 0,
    });
    d.run({
      kind: "recordWalletMovement",
      assetId: BTC,
      from: "walletDepositAddresses",
      to: "walletHot",
      amountUnits: 20_000,
      txId: "sw",
    });
    return d;
  };

  it("funds the insurance fund from coins the operator sent to a wallet", () => {
    const d = start();
    expect(d.run(funding())).toEqual([
      {
        type: "insuranceFunded",
        sequence: 5,
        timestampMs: T0 + 5,
        assetId: BTC,
        wallet: "walletCold",
        amountUnits: 10_000,
        txId: "f00d",
      },
    ]);
    expect(d.systemBalance("walletCold", BTC)).toBe(-10_000);
    expect(d.systemBalance("insuranceFund", BTC)).toBe(10_000);
    d.run(funding({ wallet: "walletHot", amountUnits: 5, txId: "" }));
    expect(d.systemBalance("walletHot", BTC)).toBe(-20_005);
    expect(d.systemBalance("insuranceFund", BTC)).toBe(10_005);
  });

  it("rejects bad funding and changes nothing", () => {
    const d = start();
    d.reject(funding({ wallet: "walletInFlight" as never }), "invalidCommand");
    d.reject(funding({ wallet: "networkFees" as never }), "invalidCommand");
    d.reject(funding({ amountUnits: 0 }), "invalidCommand");
    d.reject(funding({ amountUnits: -1 }), "invalidCommand");
    d.reject(funding({ amountUnits: 1.5 }), "invalidCommand");
    d.reject(funding({ txId: "a b" }), "invalidCommand");
    d.reject(funding({ assetId: 9 }), "unknownAsset");
    d.run(funding({ amountUnits: Number.MAX_SAFE_INTEGER - 20_000, wallet: "walletHot" }));
    d.reject(funding({ amountUnits: 1, wallet: "walletHot" }), "limitReached");
  });

  it("covers a theft: hot wallet toward 0, the fund pays, no user balance changes", () => {
    const d = start();
    d.run(funding());
    const usersBefore = d.state().userBalances;
    expect(d.run(cover())).toEqual([
      {
        type: "incidentLossCovered",
        sequence: 6,
        timestampMs: T0 + 6,
        incidentId: 4,
        assetId: BTC,
        amountUnits: 3_000,
        source: "insuranceFund",
      },
    ]);
    expect(d.state().userBalances).toEqual(usersBefore);
    expect(d.systemBalance("walletHot", BTC)).toBe(-17_000);
    expect(d.systemBalance("insuranceFund", BTC)).toBe(7_000);
    expect(d.systemBalance("incidentLosses", BTC)).toBe(0);
    // Customer liabilities (20 000) are backed by the coins on the books (17 000 hot + 10 000 cold).
    expect(d.state().incidentCovers).toEqual([
      { incidentId: 4, assetId: BTC, amountUnits: 3_000, source: "insuranceFund" },
    ]);
    // Once per (incident, asset).
    d.reject(cover({ amountUnits: 1 }), "alreadyExists");
    // Another incident, charged to operator equity, which may go negative.
    d.run(cover({ incidentId: 5, amountUnits: 17_000, source: "operatorEquity" }));
    expect(d.systemBalance("walletHot", BTC)).toBe(0);
    expect(d.systemBalance("operatorEquity", BTC)).toBe(-17_000);
    expect(d.state().incidentCovers.map((c) => c.incidentId)).toEqual([4, 5]);
  });

  it("rejects bad covers in order and changes nothing", () => {
    const d = start();
    d.run(funding({ amountUnits: 2_000 }));
    d.reject(cover({ incidentId: 0 }), "invalidCommand");
    d.reject(cover({ incidentId: 1.5 }), "invalidCommand");
    d.reject(cover({ amountUnits: 0 }), "invalidCommand");
    d.reject(cover({ amountUnits: -5 }), "invalidCommand");
    d.reject(cover({ amountUnits: Number.NaN }), "invalidCommand");
    d.reject(cover({ source: "fees" as never }), "invalidCommand");
    d.reject(cover({ assetId: 9 }), "unknownAsset");
    d.reject(cover({ assetId: USD, amountUnits: 1 }), "insufficientFunds");
    // More than the hot wallet holds on the books.
    d.reject(cover({ amountUnits: 20_001, source: "operatorEquity" }), "insufficientFunds");
    // More than the insurance fund holds.
    d.reject(cover({ amountUnits: 2_001 }), "insufficientFunds");
    expect(d.run(cover({ amountUnits: 2_000 }))[0].type).toBe("incidentLossCovered");
  });
});

describe("loss cover state in snapshots and the journal", () => {
  const run = (core: Core, commands: UnstampedCommand[]) => {
    let sequence = core.lastSequence;
    core.applyBatch(
      commands.map((c) => ({ ...c, sequence: ++sequence, timestampMs: T0 }) as never),
      [],
    );
  };
  const setup: UnstampedCommand[] = [
    { kind: "addAsset", asset: { assetId: 1, code: "BTC", scale: 8 } },
    { kind: "adjustBalance", userId: 1, assetId: 1, amountUnits: 1, reason: "x" },
    funding({ wallet: "walletHot" }),
  ];

  it("round-trips covers through a snapshot, and a restored core refuses a second cover", () => {
    const core = new Core();
    run(core, [
      ...setup,
      cover({ amountUnits: 400 }),
      cover({ incidentId: 9, amountUnits: 1, source: "operatorEquity" }),
    ]);
    const bytes = core.snapshot();
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true)).toBe(4);
    const restored = Core.restore(bytes, {});
    expect(restored.exportState()).toEqual(core.exportState());
    expect(restored.stateHash()).toBe(core.stateHash());
    const events: { type: string; reason?: string }[] = [];
    restored.applyBatch([{ ...cover(), sequence: 100, timestampMs: T0 } as never], events as never);
    expect(events).toMatchObject([{ type: "rejected", reason: "alreadyExists" }]);
  });

  it("the state hash sees the covers", () => {
    const a = new Core();
    const b = new Core();
    run(a, [...setup, cover({ amountUnits: 10 })]);
    run(b, [...setup, cover({ incidentId: 5, amountUnits: 10 })]);
    expect(a.stateHash()).not.toBe(b.stateHash());
  });

  it("journals both commands bit for bit, and replay restores the state", () => {
    const commands = [...setup, cover({ amountUnits: 400 })].map(
      (c, index) => ({ ...c, sequence: index + 1, timestampMs: T0 + index }) as never,
    );
    const replayed = commands.map((c) => decodeCommand(encodeCommand(c)));
    expect(replayed).toEqual(commands);
    const live = new Core();
    live.applyBatch(commands, []);
    const again = new Core();
    again.applyBatch(replayed, []);
    expect(again.stateHash()).toBe(live.stateHash());
    expect(again.exportState().incidentCovers).toHaveLength(1);
  });

  it("refuses to encode an unknown source or funding wallet", () => {
    expect(() => encodeCommand({ ...cover(), source: "fees", sequence: 1, timestampMs: 0 } as never)).toThrow(
      /loss cover source/,
    );
    expect(() =>
      encodeCommand({ ...funding(), wallet: "walletInFlight", sequence: 1, timestampMs: 0 } as never),
    ).toThrow(/funding wallet/);
  });
});

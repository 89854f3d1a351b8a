// Custody's persisted state on both engines: deposit addresses and scanner positions.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assignDepositAddress,
  depositAddressesOfChain,
  depositAddressOwners,
  getDepositAddress,
  getScannerState,
  saveScannerState,
} from "../../src/store/custody.ts";
import { ENGINES, openTestStore, type TestStore } from "./engines.ts";

const derive = (chain: string, account: number) => (index: number) => `${chain}-${account}-addr-${index}`;

describe.each(ENGINES)("custody state on %s", (engine) => {
  let test: TestStore;
  beforeAll(async () => {
    test = await openTestStore(engine);
  });
  afterAll(async () => {
    await test.dispose();
  });

  it("assigns one address per user per chain and account, at dense indices, and keeps it", async () => {
    const db = test.store.db;
    const a = await assignDepositAddress(
      db,
      { userId: 7, chain: "btc", account: 0, createdMs: 1 },
      derive("btc", 0),
    );
    const b = await assignDepositAddress(
      db,
      { userId: 8, chain: "btc", account: 0, createdMs: 2 },
      derive("btc", 0),
    );
    const again = await assignDepositAddress(
      db,
      { userId: 7, chain: "btc", account: 0, createdMs: 3 },
      () => {
        throw new Error("must not derive again");
      },
    );
    expect([a.index, b.index]).toEqual([0, 1]);
    expect(again).toEqual(a);
    // Another chain and another account count from 0 on their own.
    const eth = await assignDepositAddress(
      db,
      { userId: 7, chain: "eth", account: 0, createdMs: 4 },
      derive("eth", 0),
    );
    const btc1 = await assignDepositAddress(
      db,
      { userId: 7, chain: "btc", account: 1, createdMs: 5 },
      derive("btc", 1),
    );
    expect([eth.index, btc1.index]).toEqual([0, 0]);
    expect(await getDepositAddress(db, 7, "btc", 1)).toEqual(btc1);
    expect(await getDepositAddress(db, 9, "btc", 0)).toBeUndefined();
  });

  it("refuses an address that is already someone's, leaving nothing behind", async () => {
    const db = test.store.db;
    await expect(
      assignDepositAddress(db, { userId: 9, chain: "btc", account: 0, createdMs: 6 }, () => "btc-0-addr-0"),
    ).rejects.toThrow();
    expect(await getDepositAddress(db, 9, "btc", 0)).toBeUndefined();
  });

  it("finds owners of a block's addresses and pages a chain's addresses in (account, index) order", async () => {
    const db = test.store.db;
    const owners = await depositAddressOwners(db, "btc", ["btc-0-addr-1", "btc-1-addr-0", "nobody"]);
    expect([...owners.entries()].map(([address, owner]) => [address, owner.userId]).sort()).toEqual([
      ["btc-0-addr-1", 8],
      ["btc-1-addr-0", 7],
    ]);
    const first = await depositAddressesOfChain(db, "btc", { limit: 2 });
    expect(first.map((r) => [r.account, r.index])).toEqual([
      [0, 0],
      [0, 1],
    ]);
    const next = await depositAddressesOfChain(db, "btc", { after: { account: 0, index: 1 }, limit: 2 });
    expect(next.map((r) => [r.account, r.index])).toEqual([[1, 0]]);
  });

  it("checks its inputs", async () => {
    const db = test.store.db;
    const input = { userId: 1, chain: "btc", account: 0, createdMs: 1 };
    await expect(assignDepositAddress(db, { ...input, chain: "BTC" }, derive("x", 0))).rejects.toThrow(
      RangeError,
    );
    await expect(assignDepositAddress(db, { ...input, userId: 0 }, derive("x", 0))).rejects.toThrow(
      RangeError,
    );
    await expect(assignDepositAddress(db, { ...input, account: -1 }, derive("x", 0))).rejects.toThrow(
      RangeError,
    );
    await expect(assignDepositAddress(db, input, () => "has space")).rejects.toThrow(RangeError);
    await expect(depositAddressOwners(db, "btc", new Array(501).fill("a"))).rejects.toThrow(RangeError);
  });

  it("stores a scanner's height and recent hashes, replacing them on save", async () => {
    const db = test.store.db;
    expect(await getScannerState(db, "btc")).toBeUndefined();
    await saveScannerState(db, {
      chain: "btc",
      height: 11,
      recentHashes: [
        [10, "h10"],
        [11, "h11"],
      ],
      updatedMs: 5,
    });
    await saveScannerState(db, {
      chain: "btc",
      height: 12,
      recentHashes: [
        [11, "h11"],
        [12, "h12"],
      ],
      updatedMs: 6,
    });
    expect(await getScannerState(db, "btc")).toEqual({
      chain: "btc",
      height: 12,
      recentHashes: [
        [11, "h11"],
        [12, "h12"],
      ],
      updatedMs: 6,
    });
    const bad = { chain: "btc", height: 12, updatedMs: 7 };
    await expect(
      saveScannerState(db, {
        ...bad,
        recentHashes: [
          [10, "a"],
          [12, "b"],
        ],
      }),
    ).rejects.toThrow(RangeError);
    await expect(saveScannerState(db, { ...bad, recentHashes: [[11, "a"]] })).rejects.toThrow(RangeError);
    const tooMany = Array.from({ length: 1_001 }, (_, i): [number, string] => [i + 12 - 1_000, "h"]);
    await expect(saveScannerState(db, { ...bad, recentHashes: tooMany })).rejects.toThrow(RangeError);
    expect((await getScannerState(db, "btc"))?.height).toBe(12);
  });
});

// The wallet read queries (EXMO wallet_operations / wallet_history) on both engines, checked
// against what the core's events say, and custody's write of a withdrawal's chain details.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CoreEvent } from "../../src/core/events.ts";
import { Projector } from "../../src/store/projector.ts";
import { StoreReadModels } from "../../src/store/read-models.ts";
import {
  getWithdrawal,
  setWithdrawalChainInfo,
  walletHistoryOfUser,
  walletMovements,
  walletOperationsOfUser,
  withdrawalStatusHistory,
} from "../../src/store/wallet-queries.ts";
import { runCoreStream } from "./core-stream.ts";
import { ENGINES, openTestStore, type TestStore } from "./engines.ts";

const RUN = runCoreStream(42, 2_000);

/**
 * The user's operations from the events alone: [kind, operation id], newest first. The test
 * stream reuses withdrawal ids once a hold is gone (custody never does), and a withdrawal row
 * follows the core: only the latest hold of an id is listed.
 */
function expectedOperations(userId: number, assetId?: number): [string, number][] {
  const lastHold = new Map<number, number>();
  for (const event of RUN.events as CoreEvent[])
    if (event.type === "withdrawalHeld") lastHold.set(event.withdrawalId, event.sequence);
  const result: [string, number][] = [];
  for (const event of RUN.events as CoreEvent[]) {
    if (event.type === "depositCredited" && event.userId === userId)
      if (assetId === undefined || event.assetId === assetId) result.push(["deposit", event.sequence]);
    if (event.type === "withdrawalHeld" && event.userId === userId)
      if (lastHold.get(event.withdrawalId) === event.sequence)
        if (assetId === undefined || event.assetId === assetId) result.push(["withdrawal", event.sequence]);
  }
  return result.reverse();
}

/** The user with the most of both kinds of operation (the queries need some of each). */
const USER = [1, 2, 3, 4, 5, 6]
  .map((userId) => {
    const ops = expectedOperations(userId);
    const count = (kind: string) => ops.filter(([k]) => k === kind).length;
    return { userId, score: Math.min(count("deposit"), count("withdrawal")) };
  })
  .sort((a, b) => b.score - a.score)[0].userId;

describe.each(ENGINES)("wallet queries on %s", (engine) => {
  let test: TestStore;
  beforeAll(async () => {
    test = await openTestStore(engine);
    const projector = await Projector.open(test.store.db);
    for (const batch of RUN.batches) await projector.applyBatch(batch);
  });
  afterAll(async () => {
    await test.dispose();
  });

  it("lists a user's deposits and withdrawals newest first, filtered and paged", async () => {
    const db = test.store.db;
    const all = expectedOperations(USER);
    expect(all.filter(([kind]) => kind === "deposit").length).toBeGreaterThan(1);
    expect(all.filter(([kind]) => kind === "withdrawal").length).toBeGreaterThan(0);
    const got = await walletOperationsOfUser(db, USER, { offset: 0, limit: 10_000 });
    expect(got.map((op) => [op.kind, op.operationId])).toEqual(all);
    // Pages put together are the whole list.
    const pages = [];
    for (let offset = 0; offset < all.length; offset += 3)
      pages.push(...(await walletOperationsOfUser(db, USER, { offset, limit: 3 })));
    expect(pages).toEqual(got);
    const deposits = await walletOperationsOfUser(db, USER, { kind: "deposit", offset: 0, limit: 100 });
    expect(deposits.map((op) => op.operationId)).toEqual(
      all.filter(([kind]) => kind === "deposit").map(([, id]) => id),
    );
    const ofAsset = await walletOperationsOfUser(db, USER, { assetId: 2, offset: 0, limit: 100 });
    expect(ofAsset.map((op) => [op.kind, op.operationId])).toEqual(expectedOperations(USER, 2));
  });

  it("carries the fields EXMO's answers need, withdrawals with their status as the core says", async () => {
    const db = test.store.db;
    const ops = await walletOperationsOfUser(db, USER, { offset: 0, limit: 10_000 });
    const deposit = ops.find((op) => op.kind === "deposit")!;
    const event = RUN.events.find((e) => e.type === "depositCredited" && e.sequence === deposit.operationId);
    if (event?.type !== "depositCredited") throw new Error("no deposit event");
    expect(deposit).toMatchObject({
      status: "credited",
      assetId: event.assetId,
      amountUnits: event.amountUnits,
      chain: event.chain,
      txId: event.txId,
      outputIndex: event.outputIndex,
      createdMs: event.timestampMs,
      feeUnits: 0,
    });
    const done = await db
      .selectFrom("withdrawals")
      .select("withdrawal_id")
      .where("status", "!=", "held")
      .execute();
    expect(done.length).toBeGreaterThan(0);
    for (const { withdrawal_id } of done) {
      const op = (await getWithdrawal(db, withdrawal_id))!;
      expect(["settled", "released"]).toContain(op.status);
      const history = await withdrawalStatusHistory(db, withdrawal_id, { limit: 100 });
      expect(history.at(-1)).toMatchObject({ status: op.status, tsMs: op.updatedMs });
      expect(history.at(-2)).toMatchObject({ status: "held", sequence: op.operationId, tsMs: op.createdMs });
      expect(op.updatedMs).toBeGreaterThanOrEqual(op.createdMs);
    }
  });

  it("answers wallet_history for a time window, newest first and bounded", async () => {
    const db = test.store.db;
    const all = await walletOperationsOfUser(db, USER, { offset: 0, limit: 10_000 });
    const middle = all[Math.floor(all.length / 2)].createdMs;
    const window = await walletHistoryOfUser(db, USER, { fromMs: middle, toMs: middle + 3_000, limit: 100 });
    expect(window).toEqual(all.filter((op) => op.createdMs >= middle && op.createdMs < middle + 3_000));
    expect(await walletHistoryOfUser(db, USER, { fromMs: 0, toMs: 2 ** 52, limit: 2 })).toEqual(
      all.slice(0, 2),
    );
  });

  it("lists wallet movements and exposes everything through StoreReadModels", async () => {
    const db = test.store.db;
    const moves = RUN.events.filter((e) => e.type === "walletMovement");
    const got = await walletMovements(db, { offset: 0, limit: 10_000 });
    expect(got.map((m) => m.sequence)).toEqual(moves.map((m) => m.sequence).reverse());
    const models = new StoreReadModels(db, engine);
    expect(await models.walletOperationsOfUser(USER, { offset: 0, limit: 5 })).toEqual(
      await walletOperationsOfUser(db, USER, { offset: 0, limit: 5 }),
    );
    expect(
      (await models.walletMovements({ assetId: 1, offset: 0, limit: 5 })).every((m) => m.assetId === 1),
    ).toBe(true);
  });

  it("lets custody record a withdrawal's chain details, which the projector never overwrites", async () => {
    const db = test.store.db;
    const held = await db
      .selectFrom("withdrawals")
      .selectAll()
      .orderBy("withdrawal_id")
      .executeTakeFirstOrThrow();
    expect(
      await setWithdrawalChainInfo(db, held.withdrawal_id, {
        destination: "bc1qdest",
        txId: "ab".repeat(32),
      }),
    ).toBe(true);
    expect(await setWithdrawalChainInfo(db, held.withdrawal_id, { confirmations: 3 })).toBe(true);
    expect(await getWithdrawal(db, held.withdrawal_id)).toMatchObject({
      destination: "bc1qdest",
      txId: "ab".repeat(32),
      confirmations: 3,
      reason: null,
    });
    expect(await setWithdrawalChainInfo(db, 999_999, { reason: "x" })).toBe(false);
    await expect(setWithdrawalChainInfo(db, held.withdrawal_id, {})).rejects.toThrow(RangeError);
    await expect(setWithdrawalChainInfo(db, held.withdrawal_id, { txId: "" })).rejects.toThrow(RangeError);
    await expect(setWithdrawalChainInfo(db, held.withdrawal_id, { confirmations: -1 })).rejects.toThrow(
      RangeError,
    );
  });

  it("refuses out-of-bounds arguments", async () => {
    const db = test.store.db;
    await expect(walletOperationsOfUser(db, USER, { offset: 0, limit: 0 })).rejects.toThrow(RangeError);
    await expect(walletOperationsOfUser(db, USER, { offset: 10_001, limit: 1 })).rejects.toThrow(RangeError);
    await expect(walletOperationsOfUser(db, 0, { offset: 0, limit: 1 })).rejects.toThrow(RangeError);
    await expect(
      walletOperationsOfUser(db, USER, { kind: "x" as "deposit", offset: 0, limit: 1 }),
    ).rejects.toThrow(RangeError);
    await expect(walletHistoryOfUser(db, USER, { fromMs: 10, toMs: 5, limit: 1 })).rejects.toThrow(
      RangeError,
    );
    await expect(getWithdrawal(db, 0)).rejects.toThrow(RangeError);
  });
});

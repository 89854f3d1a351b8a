// The projector: applies core events to the store's read models, in order and idempotently.
//
// Cursor. projector_state.last_sequence is the sequence of the last command whose events are in
// the store. A batch is written in ONE transaction together with the new cursor, so after a crash
// the store holds either all of a batch or none of it, and the cursor says which. Events with a
// sequence at or below the cursor are skipped, so feeding a batch twice, or replaying from an
// older point after a restart, changes nothing. The cursor is read (and row-locked) inside the
// transaction, so two projectors on one database cannot both apply the same events.
//
// Restart. The runtime asks `lastSequence` and feeds the events of every later command; it must
// therefore start the core from a snapshot at or before that sequence (or keep the events), or
// the projector would miss commands. Events of one command must not be split across batches.

import type { Kysely, Transaction } from "kysely";
import type { MarketConfig } from "../core/config.ts";
import { chunks, STORE_LIMITS } from "./limits.ts";
import {
  balanceKey,
  balanceUsersToLoad,
  type FoldInput,
  foldBatch,
  ordersToLoad,
  type ProjectorBatch,
  stampsBySequence,
  type WritePlan,
  withdrawalsToLoad,
} from "./projection.ts";
import type { BalanceRow, OrderRow, StoreDatabase, WithdrawalRow } from "./schema.ts";

export type { ProjectorBatch } from "./projection.ts";

export interface ApplyResult {
  /** Events newer than the cursor that this call wrote. */
  appliedEvents: number;
  /** The cursor after the call. */
  lastSequence: number;
}

/** What the projector queue drives: a Projector here, or one in a worker thread (projector-worker.ts). */
export interface BatchProjector {
  /** Sequence of the last command whose events are in the store, as of the last acknowledged write. */
  readonly lastSequence: number;
  applyBatch(batch: ProjectorBatch): Promise<ApplyResult>;
}

const PROJECTOR_NAME = "main";
const MAX_MARKETS = 0xffff;

type Db = Kysely<StoreDatabase>;
type Tx = Transaction<StoreDatabase>;

export class Projector implements BatchProjector {
  private lastSequenceValue: number;
  // Market configs never change after addMarket; kept in memory for fee rates and fee assets.
  private marketConfigs: Map<number, MarketConfig>;
  private marketStatus: Map<number, "active" | "suspended">;

  private constructor(
    private readonly db: Db,
    lastSequence: number,
    markets: { configs: Map<number, MarketConfig>; status: Map<number, "active" | "suspended"> },
  ) {
    this.lastSequenceValue = lastSequence;
    this.marketConfigs = markets.configs;
    this.marketStatus = markets.status;
  }

  /** Opens the projector on a migrated store, resuming at its stored cursor. */
  static async open(db: Db): Promise<Projector> {
    await db
      .insertInto("projector_state")
      .values({ name: PROJECTOR_NAME, last_sequence: 0 })
      .onConflict((conflict) => conflict.column("name").doNothing())
      .execute();
    const state = await db
      .selectFrom("projector_state")
      .select("last_sequence")
      .where("name", "=", PROJECTOR_NAME)
      .executeTakeFirstOrThrow();
    return new Projector(db, state.last_sequence, await loadMarkets(db));
  }

  /** Sequence of the last command whose events are in the store (as of this projector's last commit). */
  get lastSequence(): number {
    return this.lastSequenceValue;
  }

  /** Applies the batch's events newer than the stored cursor, all in one transaction. */
  async applyBatch(batch: ProjectorBatch): Promise<ApplyResult> {
    if (batch.events.length > STORE_LIMITS.maxEventsPerBatch)
      throw new RangeError(`projector: batch of ${batch.events.length} events exceeds the limit`);
    const stamps = stampsBySequence(batch);
    if (batch.commands.length === 0) return { appliedEvents: 0, lastSequence: this.lastSequenceValue };
    // The fold adds markets to copies, adopted only after the commit, so a failed write leaves no trace.
    const input: FoldInput = {
      existingOrders: new Map(),
      existingBalances: new Map(),
      existingWithdrawals: new Map(),
      marketConfigs: new Map(this.marketConfigs),
      marketStatus: new Map(this.marketStatus),
    };
    const result = await this.db.transaction().execute(async (tx) => {
      const storedSequence = await lockCursor(tx);
      const fresh = batch.events.filter((event) => event.sequence > storedSequence);
      if (batch.commands.at(-1)!.sequence <= storedSequence)
        return { appliedEvents: 0, lastSequence: storedSequence };
      input.existingOrders = await loadOrders(tx, ordersToLoad(fresh));
      input.existingBalances = await loadBalances(tx, balanceUsersToLoad(fresh));
      input.existingWithdrawals = await loadWithdrawals(tx, withdrawalsToLoad(fresh));
      const plan = foldBatch({ commands: batch.commands, events: fresh }, stamps, storedSequence, input);
      await writePlan(tx, plan);
      return { appliedEvents: fresh.length, lastSequence: plan.lastSequence };
    });
    this.lastSequenceValue = result.lastSequence;
    this.marketConfigs = input.marketConfigs;
    this.marketStatus = input.marketStatus;
    return result;
  }
}

/** Reads the cursor and takes the row's write lock (PostgreSQL; SQLite serialises writers anyway). */
async function lockCursor(tx: Tx): Promise<number> {
  const row = await tx
    .updateTable("projector_state")
    .set((eb) => ({ last_sequence: eb.ref("last_sequence") }))
    .where("name", "=", PROJECTOR_NAME)
    .returning("last_sequence")
    .executeTakeFirstOrThrow();
  return row.last_sequence;
}

async function loadMarkets(db: Db) {
  const rows = await db
    .selectFrom("markets")
    .select(["market_id", "status", "config_json"])
    .limit(MAX_MARKETS)
    .execute();
  const configs = new Map<number, MarketConfig>();
  const status = new Map<number, "active" | "suspended">();
  for (const row of rows) {
    configs.set(row.market_id, JSON.parse(row.config_json) as MarketConfig);
    status.set(row.market_id, row.status);
  }
  return { configs, status };
}

async function loadOrders(tx: Tx, orderIds: readonly number[]): Promise<Map<number, OrderRow>> {
  const orders = new Map<number, OrderRow>();
  for (const ids of chunks(orderIds, STORE_LIMITS.maxIdsPerQuery)) {
    const rows = await tx.selectFrom("orders").selectAll().where("order_id", "in", ids).execute();
    for (const row of rows) orders.set(row.order_id, row);
  }
  return orders;
}

/** Every balance row of the given users (at most maxAssets each). */
async function loadBalances(tx: Tx, userIds: readonly number[]): Promise<Map<string, BalanceRow>> {
  const balances = new Map<string, BalanceRow>();
  for (const ids of chunks(userIds, STORE_LIMITS.maxIdsPerQuery)) {
    const rows = await tx.selectFrom("balances").selectAll().where("user_id", "in", ids).execute();
    for (const row of rows) balances.set(balanceKey(row.user_id, row.asset_id), row);
  }
  return balances;
}

async function loadWithdrawals(tx: Tx, ids: readonly number[]): Promise<Map<number, WithdrawalRow>> {
  const withdrawals = new Map<number, WithdrawalRow>();
  for (const chunk of chunks(ids, STORE_LIMITS.maxIdsPerQuery)) {
    const rows = await tx.selectFrom("withdrawals").selectAll().where("withdrawal_id", "in", chunk).execute();
    for (const row of rows) withdrawals.set(row.withdrawal_id, row);
  }
  return withdrawals;
}

async function writePlan(tx: Tx, plan: WritePlan): Promise<void> {
  const size = STORE_LIMITS.maxRowsPerInsert;
  for (const rows of chunks(plan.assets, size)) await tx.insertInto("assets").values(rows).execute();
  for (const rows of chunks([...plan.markets.values()], size)) await upsertMarkets(tx, rows);
  for (const rows of chunks([...plan.orders.values()], size)) await upsertOrders(tx, rows);
  for (const rows of chunks(plan.trades, size)) await tx.insertInto("trades").values(rows).execute();
  for (const rows of chunks(plan.fills, size)) await tx.insertInto("fills").values(rows).execute();
  for (const rows of chunks([...plan.balances.values()], size)) await upsertBalances(tx, rows);
  for (const rows of chunks(plan.balanceHistory, size))
    await tx.insertInto("balance_history").values(rows).execute();
  for (const rows of chunks(plan.adjustments, size))
    await tx.insertInto("adjustments").values(rows).execute();
  for (const rows of chunks(plan.deposits, size)) await tx.insertInto("deposits").values(rows).execute();
  for (const rows of chunks([...plan.withdrawals.values()], size)) await upsertWithdrawals(tx, rows);
  for (const rows of chunks(plan.withdrawalHistory, size))
    await tx.insertInto("withdrawal_status_history").values(rows).execute();
  for (const rows of chunks(plan.walletMovements, size))
    await tx.insertInto("wallet_movements").values(rows).execute();
  await tx
    .updateTable("projector_state")
    .set({ last_sequence: plan.lastSequence })
    .where("name", "=", PROJECTOR_NAME)
    .execute();
}

async function upsertOrders(tx: Tx, rows: OrderRow[]): Promise<void> {
  await tx
    .insertInto("orders")
    .values(rows)
    .onConflict((conflict) =>
      conflict.column("order_id").doUpdateSet((eb) => ({
        status: eb.ref("excluded.status"),
        done_reason: eb.ref("excluded.done_reason"),
        filled_lots: eb.ref("excluded.filled_lots"),
        filled_quote_units: eb.ref("excluded.filled_quote_units"),
        fee_units: eb.ref("excluded.fee_units"),
        remaining_lots: eb.ref("excluded.remaining_lots"),
        released_units: eb.ref("excluded.released_units"),
        triggered_ms: eb.ref("excluded.triggered_ms"),
        updated_ms: eb.ref("excluded.updated_ms"),
        updated_sequence: eb.ref("excluded.updated_sequence"),
      })),
    )
    .execute();
}

/**
 * Only the core's columns change on conflict: custody's (destination, tx_id, confirmations,
 * reason) are written by custody alone, possibly between this transaction's read and its write.
 * The held columns are set too because the core accepts an id again once its hold is gone
 * (custody never does that, but the projection follows the core).
 */
async function upsertWithdrawals(tx: Tx, rows: WithdrawalRow[]): Promise<void> {
  await tx
    .insertInto("withdrawals")
    .values(rows)
    .onConflict((conflict) =>
      conflict.column("withdrawal_id").doUpdateSet((eb) => ({
        user_id: eb.ref("excluded.user_id"),
        asset_id: eb.ref("excluded.asset_id"),
        amount_units: eb.ref("excluded.amount_units"),
        fee_units: eb.ref("excluded.fee_units"),
        held_sequence: eb.ref("excluded.held_sequence"),
        held_ms: eb.ref("excluded.held_ms"),
        status: eb.ref("excluded.status"),
        done_sequence: eb.ref("excluded.done_sequence"),
        done_ms: eb.ref("excluded.done_ms"),
      })),
    )
    .execute();
}

async function upsertBalances(tx: Tx, rows: BalanceRow[]): Promise<void> {
  await tx
    .insertInto("balances")
    .values(rows)
    .onConflict((conflict) =>
      conflict.columns(["user_id", "asset_id"]).doUpdateSet((eb) => ({
        available_units: eb.ref("excluded.available_units"),
        held_units: eb.ref("excluded.held_units"),
        updated_sequence: eb.ref("excluded.updated_sequence"),
        updated_ms: eb.ref("excluded.updated_ms"),
      })),
    )
    .execute();
}

async function upsertMarkets(tx: Tx, rows: StoreDatabase["markets"][]): Promise<void> {
  await tx
    .insertInto("markets")
    .values(rows)
    .onConflict((conflict) =>
      conflict.column("market_id").doUpdateSet((eb) => ({ status: eb.ref("excluded.status") })),
    )
    .execute();
}

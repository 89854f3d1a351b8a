// Assertions that the store's read models say exactly what the core's state and events say.

import { expect } from "vitest";
import type { CoreEvent, OrderAcceptedEvent, OrderDoneEvent, TradeEvent } from "../../src/core/events.ts";
import type { CoreStateView } from "../../src/core/state-view.ts";
import type { Store } from "../../src/store/open-store.ts";
import { statusOfDone } from "../../src/store/projection.ts";
import type { StoreDatabase } from "../../src/store/schema.ts";

const TABLES = [
  ["orders", "order_id"],
  ["trades", "trade_id"],
  ["fills", "trade_id, side"],
  ["balances", "user_id, asset_id"],
  ["balance_history", "user_id, asset_id, sequence"],
  ["adjustments", "sequence"],
  ["assets", "asset_id"],
  ["markets", "market_id"],
  ["deposits", "sequence"],
  ["withdrawals", "withdrawal_id"],
  ["withdrawal_status_history", "withdrawal_id, sequence"],
  ["wallet_movements", "sequence"],
  ["projector_state", "name"],
] as const satisfies readonly (readonly [keyof StoreDatabase, string])[];

/** Every projected row, table by table, in primary-key order: equal dumps mean equal projections. */
export async function dumpProjection(store: Store): Promise<Record<string, unknown[]>> {
  const dump: Record<string, unknown[]> = {};
  for (const [table, key] of TABLES) {
    const rows: object[] = await store.db.selectFrom(table).selectAll().execute();
    // Sorted in JS by the key columns so both engines compare the same way.
    const columns = key.split(", ");
    dump[table] = rows.sort((a, b) => compareBy(a, b, columns));
  }
  return dump;
}

function compareBy(a: object, b: object, columns: readonly string[]): number {
  const left = a as Record<string, number | string>;
  const right = b as Record<string, number | string>;
  for (const column of columns) {
    if (left[column] < right[column]) return -1;
    if (left[column] > right[column]) return 1;
  }
  return 0;
}

function eventsOf<T extends CoreEvent["type"]>(events: readonly CoreEvent[], type: T) {
  return events.filter((event): event is Extract<CoreEvent, { type: T }> => event.type === type);
}

/** Balances: the store's non-zero rows are exactly the core's user balances. */
export async function expectBalances(store: Store, state: CoreStateView): Promise<void> {
  const rows = await store.db.selectFrom("balances").selectAll().execute();
  const nonZero = rows
    .filter((row) => row.available_units !== 0 || row.held_units !== 0)
    .map((row) => ({
      userId: row.user_id,
      assetId: row.asset_id,
      availableUnits: row.available_units,
      heldUnits: row.held_units,
    }))
    .sort((a, b) => a.userId - b.userId || a.assetId - b.assetId);
  expect(nonZero).toEqual(state.userBalances);
}

/** Open orders: the store's open rows are exactly the core's resting orders and stops. */
export async function expectOpenOrders(store: Store, state: CoreStateView): Promise<void> {
  const rows = await store.db.selectFrom("orders").selectAll().where("status", "=", "open").execute();
  const stored = rows
    .map((row) => ({
      orderId: row.order_id,
      userId: row.user_id,
      marketId: row.market_id,
      side: row.side,
      priceTicks: row.price_ticks,
      triggerPriceTicks: row.trigger_price_ticks,
      remainingLots: row.remaining_lots,
      clientOrderId: row.client_order_id,
    }))
    .sort((a, b) => a.orderId - b.orderId);
  const expected = state.markets
    .flatMap((market) => [
      ...[...market.bids, ...market.asks].map((order) => ({
        orderId: order.orderId,
        userId: order.userId,
        marketId: market.config.marketId,
        side: order.side,
        priceTicks: order.priceTicks,
        triggerPriceTicks: 0,
        remainingLots: order.remainingLots,
        clientOrderId: order.clientOrderId,
      })),
      ...market.stops.map((stop) => ({
        orderId: stop.orderId,
        userId: stop.userId,
        marketId: market.config.marketId,
        side: stop.side,
        priceTicks: 0,
        triggerPriceTicks: stop.triggerPriceTicks,
        remainingLots: stop.quantityLots,
        clientOrderId: stop.clientOrderId,
      })),
    ])
    .sort((a, b) => a.orderId - b.orderId);
  expect(stored).toEqual(expected);
}

/** Trades: one row per trade event, field for field. */
async function expectTrades(store: Store, events: readonly CoreEvent[], state: CoreStateView): Promise<void> {
  const trades = eventsOf(events, "trade");
  expect(trades.length).toBe(state.nextTradeId - 1);
  const rows = await store.db.selectFrom("trades").selectAll().orderBy("trade_id").execute();
  expect(rows).toEqual(
    trades.map((trade: TradeEvent) => ({
      trade_id: trade.tradeId,
      sequence: trade.sequence,
      market_id: trade.marketId,
      price_ticks: trade.priceTicks,
      quantity_lots: trade.quantityLots,
      notional_units: trade.notionalUnits,
      taker_side: trade.takerSide,
      maker_order_id: trade.makerOrderId,
      taker_order_id: trade.takerOrderId,
      maker_user_id: trade.makerUserId,
      taker_user_id: trade.takerUserId,
      buyer_fee_units: trade.buyerFeeUnits,
      seller_fee_units: trade.sellerFeeUnits,
      ts_ms: trade.timestampMs,
    })),
  );
}

/** Every accepted order: its row, its fills and its end as the events tell them. */
async function expectOrderHistory(store: Store, events: readonly CoreEvent[]): Promise<void> {
  const rows = await store.db.selectFrom("orders").selectAll().orderBy("order_id").execute();
  const fills = await store.db.selectFrom("fills").selectAll().execute();
  const accepted = eventsOf(events, "orderAccepted");
  const doneById = new Map(eventsOf(events, "orderDone").map((done: OrderDoneEvent) => [done.orderId, done]));
  expect(rows.map((row) => row.order_id)).toEqual(accepted.map((event) => event.orderId));
  const tradesById = new Map(eventsOf(events, "trade").map((trade) => [trade.tradeId, trade]));
  for (const [index, event] of accepted.entries()) {
    const row = rows[index];
    const done = doneById.get(event.orderId);
    const own = fills.filter((fill) => fill.order_id === event.orderId);
    expect(row).toMatchObject(acceptedFields(event));
    expect(row.filled_lots).toBe(own.reduce((sum, fill) => sum + fill.quantity_lots, 0));
    expect(row.fee_units).toBe(own.reduce((sum, fill) => sum + fill.fee_units, 0));
    for (const fill of own) {
      const trade = tradesById.get(fill.trade_id)!;
      expect(fill.role).toBe(trade.makerOrderId === event.orderId ? "maker" : "taker");
      expect(fill.fee_units).toBe(event.side === "buy" ? trade.buyerFeeUnits : trade.sellerFeeUnits);
    }
    if (done === undefined) expect(row.status).toBe("open");
    else
      expect(row).toMatchObject({
        status: statusOfDone(done.reason),
        done_reason: done.reason,
        remaining_lots: done.remainingLots,
        released_units: done.releasedUnits,
      });
  }
  expect(fills.length).toBe(2 * tradesById.size);
}

function acceptedFields(event: OrderAcceptedEvent) {
  return {
    user_id: event.userId,
    market_id: event.marketId,
    side: event.side,
    order_type: event.orderType,
    price_ticks: event.priceTicks,
    quantity_lots: event.quantityLots,
    quote_amount_units: event.quoteAmountUnits,
    trigger_price_ticks: event.triggerPriceTicks,
    client_order_id: event.clientOrderId,
    held_units: event.heldUnits,
    created_ms: event.timestampMs,
  };
}

/** History: one row per balance event, and its deltas add up to the final balance. */
async function expectBalanceHistory(store: Store, events: readonly CoreEvent[]): Promise<void> {
  const history = await store.db.selectFrom("balance_history").selectAll().execute();
  expect(history.length).toBe(eventsOf(events, "balance").length);
  const sums = new Map<string, { available: number; held: number }>();
  for (const row of history) {
    const key = `${row.user_id}:${row.asset_id}`;
    const sum = sums.get(key) ?? { available: 0, held: 0 };
    sum.available += row.available_delta_units;
    sum.held += row.held_delta_units;
    sums.set(key, sum);
  }
  const balances = await store.db.selectFrom("balances").selectAll().execute();
  expect(balances.length).toBe(sums.size);
  for (const balance of balances)
    expect(sums.get(`${balance.user_id}:${balance.asset_id}`)).toEqual({
      available: balance.available_units,
      held: balance.held_units,
    });
}

export async function expectProjectionMatchesCore(
  store: Store,
  events: readonly CoreEvent[],
  state: CoreStateView,
): Promise<void> {
  const cursor = await store.db
    .selectFrom("projector_state")
    .select("last_sequence")
    .executeTakeFirstOrThrow();
  expect(cursor.last_sequence).toBe(state.lastSequence);
  await expectBalances(store, state);
  await expectOpenOrders(store, state);
  await expectTrades(store, events, state);
  await expectOrderHistory(store, events);
  await expectBalanceHistory(store, events);
  const markets = await store.db.selectFrom("markets").selectAll().orderBy("market_id").execute();
  expect(markets.map((row) => [JSON.parse(row.config_json), row.status])).toEqual(
    state.markets.map((market) => [market.config, market.status]),
  );
  const assets = await store.db.selectFrom("assets").selectAll().orderBy("asset_id").execute();
  expect(assets.map((row) => ({ assetId: row.asset_id, code: row.code, scale: row.scale }))).toEqual(
    state.assets,
  );
  const adjustments = await store.db
    .selectFrom("adjustments")
    .select("amount_units")
    .orderBy("sequence")
    .execute();
  expect(adjustments.map((row) => row.amount_units)).toEqual(
    eventsOf(events, "balanceAdjusted").map((event) => event.amountUnits),
  );
  await expectWallet(store, events, state);
}

/** Deposits, withdrawals and wallet movements: one row per event, holds pending as the core says. */
export async function expectWallet(
  store: Store,
  events: readonly CoreEvent[],
  state: CoreStateView,
): Promise<void> {
  const deposits = await store.db.selectFrom("deposits").selectAll().orderBy("sequence").execute();
  expect(deposits.map((row) => `${row.chain}:${row.tx_id}:${row.output_index}`).sort()).toEqual(
    state.depositKeys,
  );
  expect(
    deposits.map((row) => [row.sequence, row.user_id, row.asset_id, row.amount_units, row.credited_ms]),
  ).toEqual(
    eventsOf(events, "depositCredited").map((e) => [
      e.sequence,
      e.userId,
      e.assetId,
      e.amountUnits,
      e.timestampMs,
    ]),
  );
  const held = await store.db
    .selectFrom("withdrawals")
    .selectAll()
    .where("status", "=", "held")
    .orderBy("withdrawal_id")
    .execute();
  expect(
    held.map((row) => ({
      withdrawalId: row.withdrawal_id,
      userId: row.user_id,
      assetId: row.asset_id,
      amountUnits: row.amount_units,
      feeUnits: row.fee_units,
    })),
  ).toEqual(state.withdrawalHolds);
  const history = await store.db
    .selectFrom("withdrawal_status_history")
    .selectAll()
    .orderBy("sequence")
    .execute();
  const statusOf = { withdrawalHeld: "held", withdrawalSettled: "settled", withdrawalReleased: "released" };
  const expected: unknown[] = [];
  for (const e of events)
    if (e.type === "withdrawalHeld" || e.type === "withdrawalSettled" || e.type === "withdrawalReleased")
      expected.push([e.withdrawalId, e.sequence, statusOf[e.type]]);
  expect(history.map((row) => [row.withdrawal_id, row.sequence, row.status])).toEqual(expected);
  const movements = await store.db.selectFrom("wallet_movements").selectAll().orderBy("sequence").execute();
  expect(
    movements.map((row) => [
      row.sequence,
      row.asset_id,
      row.from_account,
      row.to_account,
      row.amount_units,
      row.tx_id,
    ]),
  ).toEqual(
    eventsOf(events, "walletMovement").map((e) => [
      e.sequence,
      e.assetId,
      e.from,
      e.to,
      e.amountUnits,
      e.txId,
    ]),
  );
}

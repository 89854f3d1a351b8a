// Writes the core state as a snapshot (layout: format.ts) and hashes it.

import { createHash } from "node:crypto";
import { ByteWriter } from "../bytes.ts";
import { LOSS_COVER_SOURCES } from "../commands.ts";
import { type MarketConfig, SELF_TRADE_PREVENTIONS } from "../config.ts";
import type { BookSide } from "../engine/book-side.ts";
import { BALANCE_AVAILABLE, BALANCE_HELD, type CoreState } from "../engine/core-state.ts";
import type { MarketState } from "../engine/market-state.ts";
import { NO_SLOT, type OrderPool, SIDE_BUY, SIDE_SELL } from "../engine/order-pool.ts";
import { SYSTEM_ACCOUNTS } from "../state-view.ts";
import { MARKET_NUMBER_FIELDS, MARKET_STATUS_CODES, SNAPSHOT_MAGIC, SNAPSHOT_VERSION } from "./format.ts";

/** Bytes per resting order in a snapshot, to size the writer once. */
const ORDER_SIZE_BYTES = 34;

/** The full state as canonical bytes: the same logical state always gives the same bytes. */
export function encodeSnapshot(state: CoreState): Uint8Array {
  // A snapshot grows with the books, not with one request: no cap beyond memory.
  const writer = new ByteWriter(64 + state.pool.size * ORDER_SIZE_BYTES, Number.MAX_SAFE_INTEGER);
  writer.u32(SNAPSHOT_MAGIC);
  writer.u32(SNAPSHOT_VERSION);
  writer.f64(state.lastSequence);
  writer.f64(state.nextTradeId);
  writer.u32(state.assets.length);
  for (const asset of state.assets) {
    writer.u16(asset.assetId);
    writer.string(asset.code);
    writer.u8(asset.scale);
  }
  writer.u32(state.markets.length);
  for (const market of state.markets) writeMarket(writer, state.pool, market);
  writeBalances(writer, state);
  writeWallet(writer, state);
  writeApiNonces(writer, state);
  return writer.finish();
}

/** SHA-256 of the canonical snapshot, hex: equal hashes mean equal state. */
export function stateHash(state: CoreState): string {
  return createHash("sha256").update(encodeSnapshot(state)).digest("hex");
}

function writeMarket(writer: ByteWriter, pool: OrderPool, market: MarketState): void {
  writeMarketConfig(writer, market.config);
  writer.u8(MARKET_STATUS_CODES.indexOf(market.status));
  writer.f64(market.lastPriceTicks);
  writeSide(writer, pool, market.bids);
  writeSide(writer, pool, market.asks);
  writer.u32(market.stops.length);
  for (const stop of market.stops) {
    writer.f64(stop.orderId);
    writer.i32(stop.userId);
    writer.u8(stop.side === "buy" ? SIDE_BUY : SIDE_SELL);
    writer.u32(stop.triggerPriceTicks);
    writer.u32(stop.quantityLots);
    writer.f64(stop.heldUnits);
    writer.f64(stop.clientOrderId);
    writer.u8(stop.selfTradePrevention);
  }
}

/** Orders best price first, oldest first: restoring appends them in this order. */
function writeSide(writer: ByteWriter, pool: OrderPool, side: BookSide): void {
  let count = 0;
  for (let index = 0; index < side.levelSlots.length; index++)
    count += countLevel(pool, side.levelHead[side.levelSlots[index]]);
  writer.u32(count);
  for (let index = side.levelSlots.length - 1; index >= 0; index--) {
    for (let slot = side.levelHead[side.levelSlots[index]]; slot !== NO_SLOT; slot = pool.nextInLevel[slot]) {
      writer.f64(pool.orderId[slot]);
      writer.i32(pool.userId[slot]);
      writer.u32(pool.priceTicks[slot]);
      writer.u32(pool.remainingLots[slot]);
      writer.f64(pool.clientOrderId[slot]);
      writer.u8(pool.selfTradePrevention[slot]);
    }
  }
}

function countLevel(pool: OrderPool, head: number): number {
  let count = 0;
  for (let slot = head; slot !== NO_SLOT; slot = pool.nextInLevel[slot]) count += 1;
  return count;
}

function writeBalances(writer: ByteWriter, state: CoreState): void {
  const ledger = state.ledger;
  const assetCount = state.assets.length;
  const userIds = [...ledger.users.keys()].sort((a, b) => a - b);
  writer.u32(userIds.length);
  for (const userId of userIds) {
    const user = ledger.user(userId)!;
    writer.i32(userId);
    for (let assetId = 1; assetId <= assetCount; assetId++) {
      writer.f64(state.balanceField(user, assetId, BALANCE_AVAILABLE));
      writer.f64(state.balanceField(user, assetId, BALANCE_HELD));
    }
  }
  for (let account = 0; account < SYSTEM_ACCOUNTS.length; account++) {
    for (let assetId = 1; assetId <= assetCount; assetId++) {
      writer.f64(ledger.systemBalance(account, assetId));
    }
  }
}

function writeWallet(writer: ByteWriter, state: CoreState): void {
  writer.u32(state.withdrawals.size);
  for (const hold of state.withdrawals.values()) {
    writer.f64(hold.withdrawalId);
    writer.i32(hold.userId);
    writer.u16(hold.assetId);
    writer.f64(hold.amountUnits);
    writer.f64(hold.feeUnits);
  }
  writer.u32(state.depositKeys.size);
  for (const key of state.depositKeys.values()) writer.string(key);
  writer.u32(state.incidentCovers.size);
  for (const cover of state.incidentCovers.values()) {
    writer.f64(cover.incidentId);
    writer.u16(cover.assetId);
    writer.f64(cover.amountUnits);
    writer.u8(LOSS_COVER_SOURCES.indexOf(cover.source));
  }
}

function writeApiNonces(writer: ByteWriter, state: CoreState): void {
  const entries = state.apiNonces.sortedEntries();
  writer.u32(entries.length);
  for (const [keyId, nonce] of entries) {
    writer.string(keyId);
    writer.f64(nonce);
  }
}

function writeMarketConfig(writer: ByteWriter, config: MarketConfig): void {
  writer.string(config.symbol);
  for (const field of MARKET_NUMBER_FIELDS) writer.f64(config[field]);
  writer.u8(SELF_TRADE_PREVENTIONS.indexOf(config.selfTradePrevention));
}

// Rebuilds the core state from snapshot bytes (layout: format.ts), then checks every invariant.

import { assert } from "../assert.ts";
import { ByteReader } from "../bytes.ts";
import { LOSS_COVER_SOURCES } from "../commands.ts";
import { type MarketConfig, marketConfigProblem, SELF_TRADE_PREVENTIONS } from "../config.ts";
import { isWellFormedNonceStamp } from "../engine/api-nonces.ts";
import type { CoreState } from "../engine/core-state.ts";
import { MarketState, type StopOrder } from "../engine/market-state.ts";
import { SIDE_BUY, SIDE_NAMES, SIDE_SELL } from "../engine/order-pool.ts";
import { checkInvariants } from "../invariants.ts";
import type { UserAccount } from "../ledger/ledger.ts";
import { SYSTEM_ACCOUNTS } from "../state-view.ts";
import { MAX_INCIDENT_COVERS } from "../wallet/incident-covers.ts";
import {
  MARKET_NUMBER_FIELDS,
  MARKET_STATUS_CODES,
  type MarketNumberField,
  SNAPSHOT_MAGIC,
  SNAPSHOT_VERSION,
  SNAPSHOT_VERSION_1,
  SNAPSHOT_VERSION_2,
  SNAPSHOT_VERSION_3,
  V1_SYSTEM_ACCOUNT_COUNT,
} from "./format.ts";

/**
 * Fills `state`, which must be fresh (as constructed, with the limits the snapshotted core ran
 * with), from snapshot bytes. Throws on truncated, malformed or inconsistent bytes.
 */
export function restoreSnapshot(state: CoreState, bytes: Uint8Array): void {
  const reader = new ByteReader(bytes);
  if (reader.u32("magic") !== SNAPSHOT_MAGIC) throw new Error("not a Bulwark core snapshot");
  const version = reader.u32("version");
  if (
    version !== SNAPSHOT_VERSION &&
    version !== SNAPSHOT_VERSION_3 &&
    version !== SNAPSHOT_VERSION_2 &&
    version !== SNAPSHOT_VERSION_1
  )
    throw new Error(`unsupported snapshot version ${version}`);
  state.lastSequence = reader.f64("lastSequence");
  state.nextTradeId = reader.f64("nextTradeId");
  const assetCount = reader.u32("asset count");
  for (let index = 0; index < assetCount; index++) {
    state.installAsset({
      assetId: reader.u16("assetId"),
      code: reader.string("asset code"),
      scale: reader.u8("asset scale"),
    });
  }
  const marketCount = reader.u32("market count");
  for (let index = 0; index < marketCount; index++) readMarket(reader, state);
  readBalances(
    reader,
    state,
    version === SNAPSHOT_VERSION_1 ? V1_SYSTEM_ACCOUNT_COUNT : SYSTEM_ACCOUNTS.length,
  );
  if (version !== SNAPSHOT_VERSION_1) readWallet(reader, state);
  if (version === SNAPSHOT_VERSION || version === SNAPSHOT_VERSION_3) readIncidentCovers(reader, state);
  if (version === SNAPSHOT_VERSION) readApiNonces(reader, state);
  if (!reader.done) throw new Error("snapshot has trailing bytes");
  checkInvariants(state);
}

function readMarket(reader: ByteReader, state: CoreState): void {
  const market = new MarketState(readMarketConfig(reader), state.pool);
  state.markets.push(market);
  market.status = MARKET_STATUS_CODES[reader.u8("market status")];
  market.lastPriceTicks = reader.f64("lastPriceTicks");
  readSide(reader, state, market, SIDE_BUY);
  readSide(reader, state, market, SIDE_SELL);
  const stopCount = reader.u32("stop count");
  for (let index = 0; index < stopCount; index++) {
    const stop: StopOrder = {
      orderId: reader.f64("stop orderId"),
      userId: reader.i32("stop userId"),
      marketId: market.config.marketId,
      side: SIDE_NAMES[reader.u8("stop side")],
      triggerPriceTicks: reader.u32("stop triggerPriceTicks"),
      quantityLots: reader.u32("stop quantityLots"),
      heldUnits: reader.f64("stop heldUnits"),
      clientOrderId: reader.f64("stop clientOrderId"),
      selfTradePrevention: reader.u8("stop selfTradePrevention"),
    };
    state.addStop(stop, market, userFor(state, stop.userId));
  }
}

function readSide(reader: ByteReader, state: CoreState, market: MarketState, side: number): void {
  const pool = state.pool;
  const count = reader.u32("order count");
  assert(pool.size + count <= state.limits.maxOpenOrders, "snapshot holds more orders than maxOpenOrders");
  pool.reserve(pool.size + count);
  state.orderIndex.reserve(state.orderIndex.size + count);
  const bookSide = side === SIDE_BUY ? market.bids : market.asks;
  for (let index = 0; index < count; index++) {
    const slot = pool.allocate();
    pool.orderId[slot] = reader.f64("orderId");
    pool.userId[slot] = reader.i32("userId");
    pool.priceTicks[slot] = reader.u32("priceTicks");
    pool.remainingLots[slot] = reader.u32("remainingLots");
    pool.clientOrderId[slot] = reader.f64("clientOrderId");
    pool.selfTradePrevention[slot] = reader.u8("selfTradePrevention");
    pool.side[slot] = side;
    pool.marketId[slot] = market.config.marketId;
    bookSide.append(slot);
    state.indexResting(slot, userFor(state, pool.userId[slot]));
  }
}

function userFor(state: CoreState, userId: number): UserAccount {
  return state.ledger.user(userId) ?? state.ledger.createUser(userId);
}

function readBalances(reader: ByteReader, state: CoreState, systemAccountCount: number): void {
  const ledger = state.ledger;
  const assetCount = state.assets.length;
  const userCount = reader.u32("user count");
  for (let index = 0; index < userCount; index++) {
    const user = userFor(state, reader.i32("userId"));
    ledger.ensureAssetSlots(user);
    for (let assetId = 1; assetId <= assetCount; assetId++) {
      user.balances[assetId * 3] = reader.f64("available");
      user.balances[assetId * 3 + 1] = reader.f64("held");
    }
  }
  for (let account = 0; account < systemAccountCount; account++) {
    for (let assetId = 1; assetId <= assetCount; assetId++) {
      ledger.setSystemBalance(account, assetId, reader.f64("system balance"));
    }
  }
}

/** Withdrawal holds and deposit keys; checkInvariants then proves the holds match held balances. */
function readWallet(reader: ByteReader, state: CoreState): void {
  const holdCount = reader.u32("withdrawal count");
  assert(holdCount <= state.limits.maxPendingWithdrawals, "snapshot holds more withdrawals than the limit");
  for (let index = 0; index < holdCount; index++) {
    const withdrawalId = reader.f64("withdrawalId");
    const userId = reader.i32("withdrawal userId");
    const assetId = reader.u16("withdrawal assetId");
    const amountUnits = reader.f64("withdrawal amountUnits");
    const feeUnits = reader.f64("withdrawal feeUnits");
    assert(state.ledger.user(userId) !== undefined, "withdrawal of an unknown user");
    assert(state.withdrawals.get(withdrawalId) === undefined, "duplicate withdrawal id in the snapshot");
    state.withdrawals.add({ withdrawalId, userId, assetId, amountUnits, feeUnits });
  }
  const keyCount = reader.u32("deposit key count");
  assert(keyCount <= state.limits.maxDepositKeys, "snapshot holds more deposit keys than the limit");
  for (let index = 0; index < keyCount; index++) state.depositKeys.add(reader.string("deposit key"));
  assert(state.depositKeys.size === keyCount, "duplicate deposit key in the snapshot");
}

/** Covered incident losses (version 3 on); the ledger's balances already hold their postings. */
function readIncidentCovers(reader: ByteReader, state: CoreState): void {
  const coverCount = reader.u32("incident cover count");
  assert(coverCount <= MAX_INCIDENT_COVERS, "snapshot holds more incident covers than the limit");
  for (let index = 0; index < coverCount; index++) {
    const incidentId = reader.f64("cover incidentId");
    const assetId = reader.u16("cover assetId");
    const amountUnits = reader.f64("cover amountUnits");
    const source = LOSS_COVER_SOURCES[reader.u8("cover source")];
    assert(source !== undefined, "unknown loss cover source in the snapshot");
    assert(state.assetExists(assetId), "incident cover of an unknown asset");
    assert(!state.incidentCovers.has(incidentId, assetId), "duplicate incident cover in the snapshot");
    state.incidentCovers.add({ incidentId, assetId, amountUnits, source });
  }
}

/** API key nonces (version 4 on), in ascending key id: a repeated or unordered key is corruption. */
function readApiNonces(reader: ByteReader, state: CoreState): void {
  const count = reader.u32("api key nonce count");
  assert(count <= state.limits.maxApiKeyNonces, "snapshot holds more API key nonces than the limit");
  let previousKeyId = "";
  for (let index = 0; index < count; index++) {
    const keyId = reader.string("api key id");
    const nonce = reader.f64("api key nonce");
    assert(isWellFormedNonceStamp({ keyId, nonce }), "malformed API key nonce in the snapshot");
    assert(keyId > previousKeyId, "API key nonces out of order in the snapshot");
    state.apiNonces.restore(keyId, nonce);
    previousKeyId = keyId;
  }
}

function readMarketConfig(reader: ByteReader): MarketConfig {
  const symbol = reader.string("market symbol");
  const numbers: Record<MarketNumberField, number> = Object.create(null);
  for (const field of MARKET_NUMBER_FIELDS) numbers[field] = reader.f64(field);
  const selfTradePrevention = SELF_TRADE_PREVENTIONS[reader.u8("market selfTradePrevention")];
  const config: MarketConfig = { ...numbers, symbol, selfTradePrevention };
  const problem = marketConfigProblem(config);
  if (problem !== null) throw new Error(`snapshot holds a bad market config: ${problem}`);
  return config;
}

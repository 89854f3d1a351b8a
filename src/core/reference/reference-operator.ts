// The reference core's operator commands: adjustBalance, addAsset, addMarket, setMarketStatus.

import type {
  AddAssetCommand,
  AddMarketCommand,
  AdjustBalanceCommand,
  SetMarketStatusCommand,
} from "../commands.ts";
import { MAX_REASON_LENGTH } from "../commands.ts";
import type { AssetConfig, MarketConfig } from "../config.ts";
import { assetConfigProblem, MAX_SAFE_UNITS, marketConfigProblem } from "../config.ts";
import { copyMarketConfig, isValidUserId } from "./model.ts";
import { type Account, balanceOf, systemBalanceOf, transfer } from "./reference-ledger.ts";
import { findAsset, findMarket, type ReferenceState, Rejection } from "./reference-state.ts";

const MARKET_STATUSES: readonly string[] = ["active", "suspended"];

export function adjustBalance(s: ReferenceState, c: AdjustBalanceCommand): void {
  if (!Number.isSafeInteger(c.amountUnits) || c.amountUnits === 0) throw new Rejection("invalidCommand");
  if (!isValidUserId(c.userId)) throw new Rejection("invalidCommand");
  if (typeof c.reason !== "string" || c.reason.length < 1 || c.reason.length > MAX_REASON_LENGTH) {
    throw new Rejection("invalidCommand");
  }
  if (findAsset(s, c.assetId) === undefined) throw new Rejection("unknownAsset");
  const user: Account = { kind: "available", userId: c.userId };
  const equity: Account = { kind: "system", account: "operatorEquity" };
  if (c.amountUnits < 0) {
    if (balanceOf(s, c.userId, c.assetId).available < -c.amountUnits)
      throw new Rejection("insufficientFunds");
    transfer(s, c.assetId, user, equity, -c.amountUnits);
  } else {
    const equityNow = systemBalanceOf(s, "operatorEquity", c.assetId);
    if (equityNow - c.amountUnits < -MAX_SAFE_UNITS) throw new Rejection("limitReached");
    if (!s.users.has(c.userId) && s.users.size >= s.limits.maxUsers) throw new Rejection("tooManyUsers");
    transfer(s, c.assetId, equity, user, c.amountUnits);
  }
  s.pending.push({
    type: "balanceAdjusted",
    sequence: c.sequence,
    timestampMs: c.timestampMs,
    userId: c.userId,
    assetId: c.assetId,
    amountUnits: c.amountUnits,
    reason: c.reason,
  });
}

export function addAsset(s: ReferenceState, c: AddAssetCommand): void {
  const asset = c.asset;
  if (asset.assetId !== s.assets.length + 1 || assetConfigProblem(asset) !== null) {
    throw new Rejection("invalidCommand");
  }
  if (s.assets.length >= s.limits.maxAssets) throw new Rejection("limitReached");
  if (s.assets.some((a) => a.code === asset.code)) throw new Rejection("alreadyExists");
  const copy: AssetConfig = { assetId: asset.assetId, code: asset.code, scale: asset.scale };
  s.assets.push(copy);
  s.pending.push({ type: "assetAdded", sequence: c.sequence, asset: { ...copy } });
}

export function addMarket(s: ReferenceState, c: AddMarketCommand): void {
  const m = c.market;
  if (
    m.marketId !== s.markets.length + 1 ||
    marketConfigProblem(m) !== null ||
    findAsset(s, m.baseAssetId) === undefined ||
    findAsset(s, m.quoteAssetId) === undefined
  ) {
    throw new Rejection("invalidCommand");
  }
  if (s.markets.length >= s.limits.maxMarkets) throw new Rejection("limitReached");
  if (s.markets.some((x) => x.config.symbol === m.symbol)) throw new Rejection("alreadyExists");
  const config: MarketConfig = copyMarketConfig(m);
  s.markets.push({ config, status: "active", lastPriceTicks: 0, resting: [], stops: [] });
  s.pending.push({ type: "marketAdded", sequence: c.sequence, market: copyMarketConfig(config) });
}

export function setMarketStatus(s: ReferenceState, c: SetMarketStatusCommand): void {
  const market = findMarket(s, c.marketId);
  if (market === undefined) throw new Rejection("unknownMarket");
  if (!MARKET_STATUSES.includes(c.status)) throw new Rejection("invalidCommand");
  market.status = c.status;
  s.pending.push({
    type: "marketStatusChanged",
    sequence: c.sequence,
    marketId: c.marketId,
    status: c.status,
  });
}

// Random command streams through the real Core for the market data property tests: two markets
// with small price and lot ranges so books cross often, four funded users, and every order type
// (limit GTC / IOC / FOK / post-only, market, marketTotal, stop), cancels, cancelAll and
// cancelByClientId, split into batches of random size. The ops come from the shared generator
// (test/support/command-stream.ts) under MARKET_DATA_PROFILE.

import fc from "fast-check";
import type { Command, OrderType, TimeInForce, UnstampedCommand } from "../../src/core/commands.ts";
import type { AssetConfig, MarketConfig, SelfTradePrevention } from "../../src/core/config.ts";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import {
  chance,
  constant,
  type Op,
  type OpKind,
  oneOf,
  opsArb,
  range,
  type StreamProfile,
  splitBatches,
  stampStream,
  weighted,
} from "../support/command-stream.ts";

export const USERS = [1, 2, 3, 4] as const;
export const START_MS = Date.UTC(2024, 1, 28, 23, 50);

export const ASSETS: AssetConfig[] = [
  { assetId: 1, code: "BTC", scale: 8 },
  { assetId: 2, code: "USD", scale: 2 },
  { assetId: 3, code: "ETH", scale: 8 },
];

export function market(
  marketId: number,
  symbol: string,
  baseAssetId: number,
  quoteAssetId: number,
): MarketConfig {
  return {
    marketId,
    symbol,
    baseAssetId,
    quoteAssetId,
    lotSizeBaseUnits: 100,
    quoteUnitsPerTickLot: 10,
    minPriceTicks: 1,
    maxPriceTicks: 40,
    minQuantityLots: 1,
    maxQuantityLots: 50,
    minNotionalUnits: 0,
    maxNotionalUnits: 1_000_000_000,
    makerFeePpm: 1_000,
    takerFeePpm: 2_000,
    // 0: the fast core asserts in mulDivCeil for a stop buy when slippage > 0 (reported to src/core).
    stopBuySlippageBps: 0,
    selfTradePrevention: "cancelResting",
  };
}

export const MARKETS: MarketConfig[] = [market(1, "BTC_USD", 1, 2), market(2, "ETH_BTC", 3, 1)];

/** Assets, markets and generous funding, before any random command. */
export function setupCommands(): UnstampedCommand[] {
  const commands: UnstampedCommand[] = [];
  for (const asset of ASSETS) commands.push({ kind: "addAsset", asset });
  for (const config of MARKETS) commands.push({ kind: "addMarket", market: config });
  for (const userId of USERS)
    for (const asset of ASSETS)
      commands.push({
        kind: "adjustBalance",
        userId,
        assetId: asset.assetId,
        amountUnits: 50_000_000,
        reason: "fund",
      });
  return commands;
}

const STPS: (SelfTradePrevention | null)[] = [null, null, "cancelResting", "cancelIncoming", "cancelBoth"];
const user = oneOf<number>(...USERS);
const price = range(8, 22);

/** Valid commands only, mostly limit orders so books fill up between the takers; time moves on. */
const MARKET_DATA_PROFILE: StreamProfile = {
  kind: weighted<OpKind>(
    [70, constant("place")],
    [12, constant("cancel")],
    [2, constant("cancelAll")],
    [3, constant("cancelByClientId")],
  ),
  // Mostly seconds apart, sometimes an hour, now and then weeks: candles of every interval close.
  stepMs: weighted([20, range(0, 2_000)], [3, range(0, 3_600_000)], [1, range(0, 40 * 86_400_000)]),
  place: {
    user,
    market: oneOf(1, 1, 2),
    orderType: weighted<OrderType>(
      [7, constant("limit")],
      [1, constant("market")],
      [1, constant("marketTotal")],
      [1, constant("stopMarket")],
    ),
    buyPrice: price,
    sellPrice: price,
    trigger: price,
    lots: range(1, 12),
    quote: range(50, 3_000),
    tif: oneOf<TimeInForce>("gtc", "gtc", "gtc", "ioc", "fok"),
    postOnly: chance(0.5),
    clientOrderId: range(0, 3),
    selfTradePrevention: oneOf(...STPS),
  },
  cancel: { user, back: range(1, 20), ownerShare: 0 },
  cancelAll: { user, market: oneOf(0, 1, 2) },
  cancelByClientId: { user, market: oneOf(0, 1, 2), clientOrderId: range(1, 3) },
};

export interface Stream {
  ops: Op[];
  /** Sizes of consecutive batches; the last batch takes whatever is left. */
  batchSizes: number[];
}

export const streamArb: fc.Arbitrary<Stream> = fc.record({
  ops: opsArb(MARKET_DATA_PROFILE, { minLength: 1, maxLength: 400 }),
  batchSizes: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }),
});

/** Stamps the setup and the random ops into batches of commands. */
export function stampedBatches(stream: Stream): Command[][] {
  const commands = stampStream(MARKET_DATA_PROFILE, setupCommands(), stream.ops, { startMs: START_MS });
  return splitBatches(commands, stream.batchSizes, "remainder");
}

/** Runs the batches through a fresh Core, handing each batch's events to `onBatch`. */
export function runThroughCore(
  batches: Command[][],
  onBatch: (events: CoreEvent[], core: Core) => void,
): Core {
  const core = new Core({ maxOpenOrders: 10_000, maxUsers: 100 });
  for (const batch of batches) {
    const events: CoreEvent[] = [];
    core.applyBatch(batch, events);
    onBatch(events, core);
  }
  return core;
}

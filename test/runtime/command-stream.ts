// A deterministic command stream for runtime and crash tests: command number `sequence` is a
// pure function of (seed, sequence), so a process that restarts at any point can continue the
// stream, and the test can rebuild any prefix for a clean replay. The commands come from the shared
// generator (test/support/command-stream.ts) under RUNTIME_PROFILE, in its random-access mode.

import type { Command, OrderType, TimeInForce, UnstampedCommand } from "../../src/core/commands.ts";
import type { CoreLimits, MarketConfig } from "../../src/core/config.ts";
import {
  chance,
  commandAt,
  constant,
  type OpKind,
  range,
  type StreamProfile,
  weighted,
} from "../support/command-stream.ts";

export const STREAM_TIMESTAMP_MS = 1_700_000_000_000;
const STREAM_USER_COUNT = 20;

export const STREAM_CORE_LIMITS: Partial<CoreLimits> = {
  maxUsers: 1000,
  maxOpenOrders: 100_000,
  maxOpenOrdersPerUser: 5_000,
  maxStopOrdersPerMarket: 10_000,
  maxCommandsPerBatch: 1024,
};

const ASSETS = [
  { assetId: 1, code: "BTC", scale: 8 },
  { assetId: 2, code: "ETH", scale: 8 },
  { assetId: 3, code: "USD", scale: 2 },
];

function market(marketId: number, symbol: string, baseAssetId: number): MarketConfig {
  return {
    marketId,
    symbol,
    baseAssetId,
    quoteAssetId: 3,
    lotSizeBaseUnits: 100_000,
    quoteUnitsPerTickLot: 1,
    minPriceTicks: 1,
    maxPriceTicks: 10_000_000,
    minQuantityLots: 1,
    maxQuantityLots: 1_000_000,
    minNotionalUnits: 1,
    maxNotionalUnits: 10_000_000_000_000,
    makerFeePpm: 1000,
    takerFeePpm: 2000,
    // 0: the core asserts mulDivCeil numerator <= denominator, which any slippage > 0 breaks for stop buys (reported).
    stopBuySlippageBps: 0,
    selfTradePrevention: "cancelResting",
  };
}

const MARKETS = [market(1, "BTC_USD", 1), market(2, "ETH_USD", 2)];

/** Assets, markets, then every user funded in every asset. */
const SETUP: UnstampedCommand[] = [
  ...ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
  ...MARKETS.map((config): UnstampedCommand => ({ kind: "addMarket", market: config })),
];
for (let userId = 1; userId <= STREAM_USER_COUNT; userId++)
  for (const { assetId } of ASSETS)
    SETUP.push({
      kind: "adjustBalance",
      userId,
      assetId,
      amountUnits: assetId === 3 ? 10_000_000 : 200_000_000,
      reason: "initial deposit",
    });

const user = range(1, STREAM_USER_COUNT);

/** Valid commands, busy books: overlapping price bands, so some orders trade and many rest. */
const RUNTIME_PROFILE: StreamProfile = {
  kind: weighted<OpKind>(
    [65, constant("place")],
    [28, constant("cancel")],
    [2, constant("cancelAll")],
    [2, constant("cancelByClientId")],
    [3, constant("adjust")],
  ),
  place: {
    user,
    market: range(1, 2),
    orderType: weighted<OrderType>(
      [500, constant("limit")],
      [84, constant("market")],
      [45, constant("marketTotal")],
      [21, constant("stopMarket")],
    ),
    buyPrice: range(950, 1003),
    sellPrice: range(997, 1050),
    trigger: range(985, 1015),
    lots: range(1, 20),
    quote: range(500, 20_000),
    tif: weighted<TimeInForce>([85, constant("gtc")], [10, constant("ioc")], [5, constant("fok")]),
    postOnly: chance(0.06),
    clientOrderId: range(0, 5),
    selfTradePrevention: constant(null),
  },
  // Most cancels name an order of the last few hundred commands, sent by its owner.
  cancel: { user, back: range(1, 400), ownerShare: 0.9 },
  cancelAll: { user, market: range(0, 2) },
  cancelByClientId: { user, market: range(0, 2), clientOrderId: range(1, 5) },
  adjust: {
    user,
    asset: range(1, 3),
    amount: range(1, 500_000),
    // Reasons of varying length, for the journal's string encoding.
    reason: (prng) => `top-up ${prng.int(1, 1_000_000)}`,
  },
};

/** Command number `sequence` (1-based) of the stream, before stamping. */
export function streamCommand(seed: number, sequence: number): UnstampedCommand {
  return commandAt(RUNTIME_PROFILE, SETUP, seed, sequence);
}

/** The command as the sequencer stamps it under the frozen test clock. */
export function stampedStreamCommand(seed: number, sequence: number): Command {
  return { ...streamCommand(seed, sequence), sequence, timestampMs: STREAM_TIMESTAMP_MS } as Command;
}

export function stampedStream(seed: number, from: number, to: number): Command[] {
  const commands: Command[] = [];
  for (let s = from; s <= to; s++) commands.push(stampedStreamCommand(seed, s));
  return commands;
}

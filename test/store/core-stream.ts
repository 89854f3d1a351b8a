// Real event streams for the store tests: a seeded random command stream run through the real
// Core, cut into batches the way the runtime would hand them to the projector. Small prices and
// quantities make books cross often, so trades, partial fills, stops, self-trade cancels, cancels,
// credits and debits all occur within a few hundred commands. The commands come from the shared
// generator (test/support/command-stream.ts) under STORE_PROFILE.

import type { OrderType, TimeInForce, UnstampedCommand } from "../../src/core/commands.ts";
import type { AssetConfig, MarketConfig, SelfTradePrevention } from "../../src/core/config.ts";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import type { CoreStateView } from "../../src/core/state-view.ts";
import { Prng, seedFor } from "../../src/lib/prng.ts";
import type { ProjectorBatch } from "../../src/store/projection.ts";
import {
  chance,
  constant,
  type OpKind,
  oneOf,
  range,
  type StreamProfile,
  seededOps,
  stampStream,
  weighted,
} from "../support/command-stream.ts";

export const START_MS = 1_790_000_000_000;
const USERS = [1, 2, 3, 4, 5, 6];

export const TEST_ASSETS: AssetConfig[] = [
  { assetId: 1, code: "BTC", scale: 8 },
  { assetId: 2, code: "USD", scale: 6 },
  { assetId: 3, code: "ETH", scale: 8 },
];

const MARKET_COMMON = {
  minPriceTicks: 50,
  maxPriceTicks: 150,
  minQuantityLots: 1,
  maxQuantityLots: 100,
  minNotionalUnits: 0,
  maxNotionalUnits: 1_000_000_000_000,
  stopBuySlippageBps: 500,
};

export const TEST_MARKETS: MarketConfig[] = [
  {
    ...MARKET_COMMON,
    marketId: 1,
    symbol: "BTC_USD",
    baseAssetId: 1,
    quoteAssetId: 2,
    lotSizeBaseUnits: 1_000,
    quoteUnitsPerTickLot: 10,
    makerFeePpm: 1_000,
    takerFeePpm: 2_500,
    selfTradePrevention: "cancelResting",
  },
  {
    ...MARKET_COMMON,
    marketId: 2,
    symbol: "ETH_USD",
    baseAssetId: 3,
    quoteAssetId: 2,
    lotSizeBaseUnits: 10_000,
    quoteUnitsPerTickLot: 3,
    makerFeePpm: 0,
    takerFeePpm: 333_333,
    selfTradePrevention: "cancelBoth",
  },
];

const user = oneOf(...USERS);

/** Orders of every type, cancels mostly by the owner, credits and debits, brief suspensions. */
const STORE_PROFILE: StreamProfile = {
  kind: weighted<OpKind>(
    [70, constant("place")],
    [10, constant("cancel")],
    [3, constant("cancelAll")],
    [4, constant("cancelByClientId")],
    [12, constant("adjust")],
    [1, constant("marketStatus")],
    // Custody's commands: the projector must carry their balance effects and keep its cursor moving.
    [2, constant("deposit")],
    [2, constant("withdrawHold")],
    [1, constant("withdrawSettle")],
    [1, constant("withdrawRelease")],
    [1, constant("walletMove")],
  ),
  stepMs: constant(7),
  place: {
    user,
    market: oneOf(1, 2),
    orderType: oneOf<OrderType>(
      "limit",
      "limit",
      "limit",
      "limit",
      "limit",
      "market",
      "marketTotal",
      "stopMarket",
    ),
    // Buyers bid a little low and sellers ask a little high, so books keep some depth.
    buyPrice: range(85, 103),
    sellPrice: range(97, 115),
    trigger: range(92, 108),
    lots: range(1, 12),
    quote: range(1_000, 40_000),
    tif: oneOf<TimeInForce>("gtc", "gtc", "gtc", "ioc", "fok"),
    postOnly: chance(0.1),
    clientOrderId: range(0, 3),
    selfTradePrevention: weighted<SelfTradePrevention | null>(
      [7, constant(null)],
      [3, oneOf<SelfTradePrevention>("cancelResting", "cancelIncoming", "cancelBoth")],
    ),
  },
  // Now and then the wrong owner, so orderNotFound rejections are in the stream too.
  cancel: { user, back: range(1, 60), ownerShare: 0.85 },
  cancelAll: { user, market: range(0, 2) },
  cancelByClientId: { user, market: range(0, 2), clientOrderId: range(1, 3) },
  adjust: {
    user,
    asset: range(1, 3),
    amount: weighted([6, range(1, 2_000_000)], [4, range(-2_000_000, -1)]),
    reason: oneOf("deposit", "withdrawal"),
  },
  marketStatus: { market: range(1, 2), status: constant("suspended"), resumeNext: true },
  wallet: {
    user,
    asset: range(1, 3),
    amount: range(1, 500_000),
    chain: oneOf("btc", "eth"),
    txId: oneOf("t1", "t2", "t3", "t4", "t5", "t6"),
    outputIndex: range(0, 3),
    withdrawalId: range(1, 8),
    fee: range(0, 0),
    from: constant("walletDepositAddresses"),
    to: oneOf("walletHot", "networkFees"),
  },
};

function setupCommands(): UnstampedCommand[] {
  const commands: UnstampedCommand[] = [
    ...TEST_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
    ...TEST_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
  ];
  for (const userId of USERS)
    for (const asset of TEST_ASSETS)
      commands.push({
        kind: "adjustBalance",
        userId,
        assetId: asset.assetId,
        amountUnits: 50_000_000,
        reason: "test deposit",
      });
  return commands;
}

export interface CoreRun {
  core: Core;
  batches: ProjectorBatch[];
  /** The core's state right after batch i, for every i that is a multiple of `checkpointEvery`. */
  checkpoints: Map<number, CoreStateView>;
  /** All events of all batches, in order. */
  events: CoreEvent[];
}

/** Runs `commandCount` random commands (after the setup) through a real Core, in batches of 1..maxBatch. */
export function runCoreStream(
  seed: number,
  commandCount: number,
  maxBatch = 40,
  checkpointEvery = 10,
): CoreRun {
  const ops = seededOps(STORE_PROFILE, seed, commandCount);
  const commands = stampStream(STORE_PROFILE, setupCommands(), ops, { startMs: START_MS, setupStepMs: 7 });
  const sizes = new Prng(seedFor(seed, 1));
  const core = new Core({ maxOpenOrders: 200_000, maxUsers: 1_000, maxOpenOrdersPerUser: 1_000 });
  const batches: ProjectorBatch[] = [];
  const checkpoints = new Map<number, CoreStateView>();
  const all: CoreEvent[] = [];
  for (let at = 0; at < commands.length; ) {
    const batch = commands.slice(at, at + sizes.int(1, maxBatch));
    at += batch.length;
    const events: CoreEvent[] = [];
    core.applyBatch(batch, events);
    batches.push({ commands: batch, events });
    all.push(...events);
    if ((batches.length - 1) % checkpointEvery === 0) checkpoints.set(batches.length - 1, core.exportState());
  }
  core.checkInvariants();
  return { core, batches, checkpoints, events: all };
}

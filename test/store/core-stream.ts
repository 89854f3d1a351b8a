// Real event streams for the store tests: a seeded random command stream run through the real
// Core, cut into batches the way the runtime would hand them to the projector. Small prices and
// quantities make books cross often, so trades, partial fills, stops, self-trade cancels, cancels,
// credits and debits all occur within a few hundred commands.

import type { Command, OrderType, Side, TimeInForce, UnstampedCommand } from "../../src/core/commands.ts";
import type { AssetConfig, MarketConfig } from "../../src/core/config.ts";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import type { CoreStateView } from "../../src/core/state-view.ts";
import type { ProjectorBatch } from "../../src/store/projection.ts";

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

/** mulberry32: a small, seedable PRNG, so every failure reproduces from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

class CommandGenerator {
  private readonly placed: { orderId: number; userId: number }[] = [];
  private suspended = 0;

  constructor(private readonly random: () => number) {}

  private int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  setup(): UnstampedCommand[] {
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

  /** Remembers an order id the next cancels can name. */
  notePlaced(orderId: number, userId: number): void {
    this.placed.push({ orderId, userId });
    if (this.placed.length > 64) this.placed.shift();
  }

  next(): UnstampedCommand {
    if (this.suspended !== 0) {
      const marketId = this.suspended;
      this.suspended = 0;
      return { kind: "setMarketStatus", marketId, status: "active" };
    }
    const roll = this.random();
    if (roll < 0.7) return this.order();
    if (roll < 0.8) return this.cancel();
    if (roll < 0.83) return { kind: "cancelAll", userId: this.pick(USERS), marketId: this.int(0, 2) };
    if (roll < 0.87)
      return {
        kind: "cancelByClientId",
        userId: this.pick(USERS),
        marketId: this.int(0, 2),
        clientOrderId: this.int(1, 3),
      };
    if (roll < 0.99) return this.adjust();
    this.suspended = this.int(1, 2);
    return { kind: "setMarketStatus", marketId: this.suspended, status: "suspended" };
  }

  private cancel(): UnstampedCommand {
    const order = this.placed.length > 0 ? this.pick(this.placed) : { orderId: 1, userId: 1 };
    // Now and then the wrong owner, so orderNotFound rejections are in the stream too.
    const userId = this.random() < 0.85 ? order.userId : this.pick(USERS);
    return { kind: "cancelOrder", userId, orderId: order.orderId };
  }

  private adjust(): UnstampedCommand {
    const credit = this.random() < 0.6;
    return {
      kind: "adjustBalance",
      userId: this.pick(USERS),
      assetId: this.int(1, 3),
      amountUnits: credit ? this.int(1, 2_000_000) : -this.int(1, 2_000_000),
      reason: credit ? "deposit" : "withdrawal",
    };
  }

  private order(): UnstampedCommand {
    const orderType = this.pick<OrderType>([
      "limit",
      "limit",
      "limit",
      "limit",
      "limit",
      "market",
      "marketTotal",
      "stopMarket",
    ]);
    const limit = orderType === "limit";
    const side = this.pick<Side>(["buy", "sell"]);
    const timeInForce: TimeInForce = limit
      ? this.pick<TimeInForce>(["gtc", "gtc", "gtc", "ioc", "fok"])
      : "gtc";
    return {
      kind: "placeOrder",
      userId: this.pick(USERS),
      marketId: this.pick([1, 2]),
      side,
      orderType,
      // Buyers bid a little low and sellers ask a little high, so books keep some depth.
      priceTicks: limit ? (side === "buy" ? this.int(85, 103) : this.int(97, 115)) : 0,
      quantityLots: orderType === "marketTotal" ? 0 : this.int(1, 12),
      quoteAmountUnits: orderType === "marketTotal" ? this.int(1_000, 40_000) : 0,
      triggerPriceTicks: orderType === "stopMarket" ? this.int(92, 108) : 0,
      timeInForce,
      postOnly: limit && timeInForce === "gtc" && this.random() < 0.1,
      clientOrderId: this.int(0, 3),
      selfTradePrevention:
        this.random() < 0.7 ? null : this.pick(["cancelResting", "cancelIncoming", "cancelBoth"]),
    };
  }
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
  const random = seededRandom(seed);
  const generator = new CommandGenerator(random);
  const core = new Core({ maxOpenOrders: 200_000, maxUsers: 1_000, maxOpenOrdersPerUser: 1_000 });
  const pending: UnstampedCommand[] = generator.setup();
  const batches: ProjectorBatch[] = [];
  const checkpoints = new Map<number, CoreStateView>();
  const all: CoreEvent[] = [];
  let sequence = 0;
  let produced = 0;
  while (pending.length > 0 || produced < commandCount) {
    const size = 1 + Math.floor(random() * maxBatch);
    const commands: Command[] = [];
    for (let index = 0; index < size && (pending.length > 0 || produced < commandCount); index++) {
      let unstamped = pending.shift();
      if (unstamped === undefined) {
        unstamped = generator.next();
        produced += 1;
      }
      sequence += 1;
      // Spreading a member of the Omit<…> union loses its link to the matching Command member.
      commands.push({ ...unstamped, sequence, timestampMs: START_MS + sequence * 7 } as Command);
    }
    const events: CoreEvent[] = [];
    core.applyBatch(commands, events);
    for (const event of events)
      if (event.type === "orderAccepted") generator.notePlaced(event.orderId, event.userId);
    batches.push({ commands, events });
    all.push(...events);
    if ((batches.length - 1) % checkpointEvery === 0) checkpoints.set(batches.length - 1, core.exportState());
  }
  core.checkInvariants();
  return { core, batches, checkpoints, events: all };
}

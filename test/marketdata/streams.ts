// Random command streams through the real Core for the market data property tests: two markets
// with small price and lot ranges so books cross often, four funded users, and every order type
// (limit GTC / IOC / FOK / post-only, market, marketTotal, stop), cancels, cancelAll and
// cancelByClientId, split into batches of random size.

import fc from "fast-check";
import type { Command, OrderType, Side, TimeInForce, UnstampedCommand } from "../../src/core/commands.ts";
import type { AssetConfig, MarketConfig, SelfTradePrevention } from "../../src/core/config.ts";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";

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

interface Op {
  command: UnstampedCommand;
  /** cancelOrder: name the order placed this many commands back. */
  back: number;
  /** Milliseconds between this command and the previous one. */
  advanceMs: number;
}

const STPS: (SelfTradePrevention | null)[] = [null, null, "cancelResting", "cancelIncoming", "cancelBoth"];

/** Mostly limit orders, so books fill up between the takers. */
const LIMIT_HEAVY_TYPES: OrderType[] = [
  "limit",
  "limit",
  "limit",
  "limit",
  "limit",
  "limit",
  "limit",
  "market",
  "marketTotal",
  "stopMarket",
];

const placeArb = fc
  .record({
    userId: fc.constantFrom(...USERS),
    marketId: fc.constantFrom(1, 1, 2),
    side: fc.constantFrom<Side>("buy", "sell"),
    orderType: fc.constantFrom<OrderType>(...LIMIT_HEAVY_TYPES),
    priceTicks: fc.integer({ min: 8, max: 22 }),
    quantityLots: fc.integer({ min: 1, max: 12 }),
    quoteAmountUnits: fc.integer({ min: 50, max: 3_000 }),
    timeInForce: fc.constantFrom<TimeInForce>("gtc", "gtc", "gtc", "ioc", "fok"),
    postOnly: fc.boolean(),
    clientOrderId: fc.integer({ min: 0, max: 3 }),
    selfTradePrevention: fc.constantFrom(...STPS),
  })
  .map((r): UnstampedCommand => {
    const type = r.orderType;
    return {
      kind: "placeOrder",
      userId: r.userId,
      marketId: r.marketId,
      side: r.side,
      orderType: type,
      priceTicks: type === "limit" ? r.priceTicks : 0,
      quantityLots: type === "marketTotal" ? 0 : r.quantityLots,
      quoteAmountUnits: type === "marketTotal" ? r.quoteAmountUnits : 0,
      triggerPriceTicks: type === "stopMarket" ? r.priceTicks : 0,
      timeInForce: type === "limit" ? r.timeInForce : "gtc",
      postOnly: type === "limit" && r.timeInForce === "gtc" && r.postOnly,
      clientOrderId: r.clientOrderId,
      selfTradePrevention: r.selfTradePrevention,
    };
  });

const advanceArb = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 0, max: 2_000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 3_600_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 * 86_400_000 }) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 70, arbitrary: fc.record({ command: placeArb, back: fc.constant(0), advanceMs: advanceArb }) },
  {
    weight: 12,
    arbitrary: fc.record({
      command: fc
        .constantFrom(...USERS)
        .map((userId): UnstampedCommand => ({ kind: "cancelOrder", userId, orderId: 0 })),
      back: fc.integer({ min: 1, max: 20 }),
      advanceMs: advanceArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      command: fc
        .record({ userId: fc.constantFrom(...USERS), marketId: fc.constantFrom(0, 1, 2) })
        .map((r): UnstampedCommand => ({ kind: "cancelAll", ...r })),
      back: fc.constant(0),
      advanceMs: advanceArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      command: fc
        .record({
          userId: fc.constantFrom(...USERS),
          marketId: fc.constantFrom(0, 1, 2),
          clientOrderId: fc.integer({ min: 1, max: 3 }),
        })
        .map((r): UnstampedCommand => ({ kind: "cancelByClientId", ...r })),
      back: fc.constant(0),
      advanceMs: advanceArb,
    }),
  },
);

export interface Stream {
  ops: Op[];
  /** Sizes of consecutive batches; the last batch takes whatever is left. */
  batchSizes: number[];
}

export const streamArb: fc.Arbitrary<Stream> = fc.record({
  ops: fc.array(opArb, { minLength: 1, maxLength: 400, size: "max" }),
  batchSizes: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }),
});

/** Stamps the setup and the random ops into batches of commands. */
export function stampedBatches(stream: Stream): Command[][] {
  const commands: Command[] = [];
  let sequence = 0;
  let timestampMs = START_MS;
  for (const command of setupCommands())
    commands.push({ ...command, sequence: ++sequence, timestampMs } as Command);
  for (const op of stream.ops) {
    timestampMs += op.advanceMs;
    const next = ++sequence;
    const stamped = { ...op.command, sequence: next, timestampMs } as Command;
    if (stamped.kind === "cancelOrder") stamped.orderId = Math.max(1, next - op.back);
    commands.push(stamped);
  }
  const batches: Command[][] = [];
  let start = 0;
  for (let index = 0; start < commands.length; index++) {
    const size = index < stream.batchSizes.length ? stream.batchSizes[index] : commands.length;
    batches.push(commands.slice(start, start + size));
    start += size;
  }
  return batches;
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

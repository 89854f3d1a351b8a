// A deterministic command stream for runtime and crash tests: command number `sequence` is a
// pure function of (seed, sequence), so a process that restarts at any point can continue the
// stream, and the test can rebuild any prefix for a clean replay.

import type { Command, UnstampedCommand } from "../../src/core/commands.ts";
import type { CoreLimits, MarketConfig } from "../../src/core/config.ts";

export const STREAM_TIMESTAMP_MS = 1_700_000_000_000;
export const STREAM_USER_COUNT = 20;

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
const FUNDING_START = ASSETS.length + MARKETS.length + 1;
/** Sequences before this one set up assets, markets and fund every user in every asset. */
export const FIRST_RANDOM_SEQUENCE = FUNDING_START + STREAM_USER_COUNT * ASSETS.length;

/** mulberry32 seeded from (seed, sequence): a small, fast, well-mixed PRNG. */
function rngFor(seed: number, sequence: number): () => number {
  let state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(sequence, 0xc2b2ae35)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function intBetween(rng: () => number, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function setupCommand(sequence: number): UnstampedCommand {
  if (sequence <= ASSETS.length) return { kind: "addAsset", asset: ASSETS[sequence - 1] };
  if (sequence < FUNDING_START) return { kind: "addMarket", market: MARKETS[sequence - ASSETS.length - 1] };
  const index = sequence - FUNDING_START;
  const assetId = (index % ASSETS.length) + 1;
  return {
    kind: "adjustBalance",
    userId: Math.floor(index / ASSETS.length) + 1,
    assetId,
    amountUnits: assetId === 3 ? 10_000_000 : 200_000_000,
    reason: "initial deposit",
  };
}

function limitOrder(rng: () => number, userId: number): UnstampedCommand {
  const roll = rng();
  const side = rng() < 0.5 ? "buy" : "sell";
  return {
    kind: "placeOrder",
    userId,
    marketId: intBetween(rng, 1, 2),
    side,
    orderType: "limit",
    // Overlapping bands: some orders cross and trade, many rest and build a book.
    priceTicks: side === "buy" ? intBetween(rng, 950, 1003) : intBetween(rng, 997, 1050),
    quantityLots: intBetween(rng, 1, 20),
    quoteAmountUnits: 0,
    triggerPriceTicks: 0,
    timeInForce: roll < 0.1 ? "ioc" : roll < 0.15 ? "fok" : "gtc",
    postOnly: roll > 0.95,
    clientOrderId: intBetween(rng, 0, 5),
    selfTradePrevention: null,
  };
}

function marketOrder(rng: () => number, userId: number): UnstampedCommand {
  const byTotal = rng() < 0.3;
  const isStop = !byTotal && rng() < 0.2;
  return {
    kind: "placeOrder",
    userId,
    marketId: intBetween(rng, 1, 2),
    side: rng() < 0.5 ? "buy" : "sell",
    orderType: byTotal ? "marketTotal" : isStop ? "stopMarket" : "market",
    priceTicks: 0,
    quantityLots: byTotal ? 0 : intBetween(rng, 1, 10),
    quoteAmountUnits: byTotal ? intBetween(rng, 500, 20_000) : 0,
    triggerPriceTicks: isStop ? intBetween(rng, 985, 1015) : 0,
    timeInForce: "gtc",
    postOnly: false,
    clientOrderId: 0,
    selfTradePrevention: null,
  };
}

/** The owner of the order placed at `orderSequence`, so most cancels name the right user. */
function ownerOf(seed: number, orderSequence: number): number {
  const command = streamCommand(seed, orderSequence);
  return "userId" in command ? command.userId : 1;
}

function randomCommand(seed: number, sequence: number): UnstampedCommand {
  const rng = rngFor(seed, sequence);
  const userId = intBetween(rng, 1, STREAM_USER_COUNT);
  const roll = rng();
  if (roll < 0.5) return limitOrder(rng, userId);
  if (roll < 0.65) return marketOrder(rng, userId);
  if (roll < 0.93) {
    const orderId = Math.max(1, sequence - intBetween(rng, 1, 400));
    const owner = orderId >= FIRST_RANDOM_SEQUENCE && rng() < 0.9 ? ownerOf(seed, orderId) : userId;
    return { kind: "cancelOrder", userId: owner, orderId };
  }
  if (roll < 0.95) return { kind: "cancelAll", userId, marketId: intBetween(rng, 0, 2) };
  if (roll < 0.97) {
    return {
      kind: "cancelByClientId",
      userId,
      marketId: intBetween(rng, 0, 2),
      clientOrderId: intBetween(rng, 1, 5),
    };
  }
  const assetId = intBetween(rng, 1, 3);
  const amountUnits = assetId === 3 ? intBetween(rng, 1, 500_000) : intBetween(rng, 1, 5_000_000);
  return { kind: "adjustBalance", userId, assetId, amountUnits, reason: `top-up ${sequence}` };
}

/** Command number `sequence` (1-based) of the stream, before stamping. */
export function streamCommand(seed: number, sequence: number): UnstampedCommand {
  return sequence < FIRST_RANDOM_SEQUENCE ? setupCommand(sequence) : randomCommand(seed, sequence);
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

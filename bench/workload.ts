// The benchmark workload as plain data (struct of typed arrays), generated once per scenario
// from a seeded PRNG and then translated to each engine's own calls.
//
// Sequence layout (shared by both engines so order ids match): sequences 1..setupCount are the
// Bulwark setup commands (two assets, one market, one credit per user and asset); stream entry i
// has sequence firstSequence + i, and a placed order's id is that sequence (CORE.md).
// Entries [0, prefillCount) are the untimed prefill (GTC limits); the rest are timed ops.

import { Prng } from "../src/lib/prng.ts";

export const OP_LIMIT = 0;
export const OP_MARKET = 1;
export const OP_CANCEL = 2;
export const SIDE_BUY = 0;
export const SIDE_SELL = 1;

export type ScenarioName = "mixed" | "deep";

export interface ScenarioParams {
  name: ScenarioName;
  seed: number;
  users: number;
  midTicks: number;
  /** Prefill: resting orders per side spread over this many price levels next to the mid. */
  prefillOrders: number;
  prefillLevelsPerSide: number;
  ops: number;
  /** Fractions of timed ops; the rest are market orders. */
  limitShare: number;
  cancelShare: number;
  /** Share of limit orders priced through the mid (intended to be marketable). */
  aggressiveShare: number;
  /** Limit prices stay within mid ± this. */
  bandTicks: number;
  maxLots: number;
}

export interface OpStream {
  params: ScenarioParams;
  /** Bulwark setup commands take sequences 1..setupCount. */
  setupCount: number;
  firstSequence: number;
  prefillCount: number;
  /** prefillCount + ops. */
  count: number;
  kind: Uint8Array;
  side: Uint8Array;
  priceTicks: Uint32Array;
  quantityLots: Uint32Array;
  userId: Uint32Array;
  /** Cancels: the draw that picks a live resting order (engine-side, from its own results). */
  draw: Uint32Array;
  opCounts: { limit: number; market: number; cancel: number; aggressiveLimit: number };
}

/** Setup: addAsset ×2, addMarket, then adjustBalance per (user, asset). */
export function setupCommandCount(users: number): number {
  return 3 + 2 * users;
}

export function mixedParams(ops: number, seed = 0xb01_3a4c): ScenarioParams {
  return {
    name: "mixed",
    seed,
    users: 2_000,
    midTicks: 100_000,
    prefillOrders: 10_000,
    prefillLevelsPerSide: 50,
    ops,
    limitShare: 0.6,
    cancelShare: 0.3,
    aggressiveShare: 0.2,
    bandTicks: 50,
    maxLots: 100,
  };
}

export function deepParams(orders: number, ops: number, seed = 0xdee9_b00c): ScenarioParams {
  return {
    ...mixedParams(ops, seed),
    name: "deep",
    // ~100 orders per level: orders / 2 sides / 100 per level.
    prefillOrders: orders,
    prefillLevelsPerSide: Math.max(1, Math.round(orders / 200)),
  };
}

export function generate(params: ScenarioParams): OpStream {
  const rng = new Prng(params.seed);
  const setupCount = setupCommandCount(params.users);
  const count = params.prefillOrders + params.ops;
  const kind = new Uint8Array(count);
  const side = new Uint8Array(count);
  const priceTicks = new Uint32Array(count);
  const quantityLots = new Uint32Array(count);
  const userId = new Uint32Array(count);
  const draw = new Uint32Array(count);
  const mid = params.midTicks;
  const opCounts = { limit: 0, market: 0, cancel: 0, aggressiveLimit: 0 };

  // Prefill: alternate sides, walk the levels round-robin so each level gets the same count
  // (deep: 1M orders over 2 × 5,000 levels = 100 per level). Nothing crosses.
  for (let i = 0; i < params.prefillOrders; i++) {
    const s = i & 1;
    const level = 1 + ((i >> 1) % params.prefillLevelsPerSide);
    kind[i] = OP_LIMIT;
    side[i] = s;
    priceTicks[i] = s === SIDE_BUY ? mid - level : mid + level;
    quantityLots[i] = rng.int(1, params.maxLots);
    userId[i] = rng.int(1, params.users);
  }

  const band = params.bandTicks;
  for (let i = params.prefillOrders; i < count; i++) {
    const r = rng.next();
    const s = rng.u32() & 1;
    side[i] = s;
    userId[i] = rng.int(1, params.users);
    if (r < params.limitShare) {
      kind[i] = OP_LIMIT;
      opCounts.limit += 1;
      const offset = rng.int(1, band);
      const aggressive = rng.next() < params.aggressiveShare;
      if (aggressive) opCounts.aggressiveLimit += 1;
      // Passive: on its own side of the mid; aggressive: through the mid into the other side.
      const towardOtherSide = aggressive ? offset : -offset;
      priceTicks[i] = s === SIDE_BUY ? mid + towardOtherSide : mid - towardOtherSide;
      quantityLots[i] = rng.int(1, params.maxLots);
    } else if (r < params.limitShare + params.cancelShare) {
      kind[i] = OP_CANCEL;
      opCounts.cancel += 1;
      draw[i] = rng.u32();
    } else {
      kind[i] = OP_MARKET;
      opCounts.market += 1;
      quantityLots[i] = rng.int(1, params.maxLots);
    }
  }

  return {
    params,
    setupCount,
    firstSequence: setupCount + 1,
    prefillCount: params.prefillOrders,
    count,
    kind,
    side,
    priceTicks,
    quantityLots,
    userId,
    draw,
    opCounts,
  };
}

/** What one engine's untimed resolve pass observed; used to check both engines did the same work. */
export interface WorkCounters {
  trades: number;
  volumeLots: number;
  /** Limit orders (timed part) that traded at least once. */
  marketableLimits: number;
  /** Cancels that found their order. */
  cancelsDone: number;
  /** Cancels issued with no live order to pick (id 0). */
  cancelsEmpty: number;
  restingAtEnd: number;
  /** Orders removed by self-trade prevention. */
  selfTradeCancels: number;
}

export function emptyCounters(): WorkCounters {
  return {
    trades: 0,
    volumeLots: 0,
    marketableLimits: 0,
    cancelsDone: 0,
    cancelsEmpty: 0,
    restingAtEnd: 0,
    selfTradeCancels: 0,
  };
}

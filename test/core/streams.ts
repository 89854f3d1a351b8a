// Random command streams for the property tests: a couple of assets and markets with small tick
// and lot numbers and varied fees and self-trade policies, a handful of funded users, then random
// orders of every type (with invalid values now and then), cancels, balance changes and
// suspensions, biased so that books cross often.

import fc from "fast-check";
import type {
  Command,
  OrderType,
  PlaceOrderCommand,
  Side,
  TimeInForce,
  UnstampedCommand,
} from "../../src/core/commands.ts";
import type { CoreLimits, MarketConfig, SelfTradePrevention } from "../../src/core/config.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import type { CoreMachine } from "../../src/core/state-view.ts";

const USERS = [1, 2, 3, 4];
const STPS: SelfTradePrevention[] = ["cancelResting", "cancelIncoming", "cancelBoth"];

/** A command of the stream; `back` makes cancelOrder name the order placed `back` commands earlier. */
interface Op {
  command: UnstampedCommand;
  back?: number;
  gap: number;
}

// ---- market configs: small numbers, so books cross often and every bound is reachable ------------

const marketArb = (marketId: number, symbol: string, baseAssetId: number, quoteAssetId: number) =>
  fc
    .record({
      lotSizeBaseUnits: fc.constantFrom(1, 3, 100, 1000),
      quoteUnitsPerTickLot: fc.constantFrom(1, 7, 10),
      minPriceTicks: fc.constantFrom(1, 5),
      maxPriceTicks: fc.constantFrom(25, 40),
      maxQuantityLots: fc.constantFrom(12, 50),
      minNotionalUnits: fc.constantFrom(0, 0, 30),
      maxNotionalUnits: fc.constantFrom(1_000_000_000, 1_000_000_000, 2_000),
      makerFeePpm: fc.constantFrom(0, 1_000, 2_500, 333_333, 999_999),
      takerFeePpm: fc.constantFrom(0, 2_000, 7_777, 500_000, 999_999),
      stopBuySlippageBps: fc.constantFrom(0, 333, 500, 10_000),
      selfTradePrevention: fc.constantFrom(...STPS),
    })
    .map(
      (r): MarketConfig => ({
        marketId,
        symbol,
        baseAssetId,
        quoteAssetId,
        minQuantityLots: 1,
        ...r,
      }),
    );

// ---- commands ----------------------------------------------------------------------------------

const userArb = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom(...USERS) },
  { weight: 1, arbitrary: fc.constantFrom(0, 5, 0x8000_0000) },
);
const marketIdArb = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom(1, 2) },
  { weight: 1, arbitrary: fc.constantFrom(0, 3) },
);
const priceArb = fc.oneof(
  { weight: 30, arbitrary: fc.integer({ min: 8, max: 22 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 41, 10.5) },
);
const lotsArb = fc.oneof(
  { weight: 30, arbitrary: fc.integer({ min: 1, max: 8 }) },
  { weight: 3, arbitrary: fc.integer({ min: 9, max: 50 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 51, 2.5) },
);
const quoteAmountArb = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 1, max: 3_000 }) },
  { weight: 10, arbitrary: fc.integer({ min: 1_000, max: 300_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 29, 2_001, 1.5) },
);
const cidArb = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: fc.constant(-1) },
);
const stpArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant<SelfTradePrevention | null>(null) },
  { weight: 3, arbitrary: fc.constantFrom<SelfTradePrevention | null>(...STPS) },
);

const placeArb: fc.Arbitrary<UnstampedCommand> = fc
  .record({
    userId: userArb,
    marketId: marketIdArb,
    side: fc.constantFrom<Side>("buy", "sell"),
    orderType: fc.oneof(
      { weight: 14, arbitrary: fc.constant<OrderType>("limit") },
      { weight: 3, arbitrary: fc.constant<OrderType>("market") },
      { weight: 3, arbitrary: fc.constant<OrderType>("marketTotal") },
      { weight: 4, arbitrary: fc.constant<OrderType>("stopMarket") },
    ),
    price: priceArb,
    lots: lotsArb,
    quote: quoteAmountArb,
    tif: fc.oneof(
      { weight: 10, arbitrary: fc.constant<TimeInForce>("gtc") },
      { weight: 2, arbitrary: fc.constant<TimeInForce>("ioc") },
      { weight: 2, arbitrary: fc.constant<TimeInForce>("fok") },
    ),
    postOnly: fc.oneof(
      { weight: 6, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    clientOrderId: cidArb,
    selfTradePrevention: stpArb,
    /** Now and then a field that does not belong to the order type, to exercise invalidCommand. */
    stray: fc.oneof(
      { weight: 25, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constantFrom("price", "lots", "quote", "trigger", "tif", "postOnly") },
    ),
  })
  .map((r): UnstampedCommand => {
    const t = r.orderType;
    const c: Omit<PlaceOrderCommand, "sequence" | "timestampMs"> = {
      kind: "placeOrder",
      userId: r.userId,
      marketId: r.marketId,
      side: r.side,
      orderType: t,
      priceTicks: t === "limit" ? r.price : 0,
      quantityLots: t === "marketTotal" ? 0 : r.lots,
      quoteAmountUnits: t === "marketTotal" ? r.quote : 0,
      triggerPriceTicks: t === "stopMarket" ? r.price : 0,
      timeInForce: t === "limit" ? r.tif : "gtc",
      postOnly: t === "limit" && r.tif === "gtc" ? r.postOnly : false,
      clientOrderId: r.clientOrderId,
      selfTradePrevention: r.selfTradePrevention,
    };
    if (r.stray === "price") c.priceTicks = 12;
    if (r.stray === "lots") c.quantityLots = 3;
    if (r.stray === "quote") c.quoteAmountUnits = 100;
    if (r.stray === "trigger") c.triggerPriceTicks = 12;
    if (r.stray === "tif") c.timeInForce = "ioc";
    if (r.stray === "postOnly") c.postOnly = true;
    return c;
  });

const adjustArb: fc.Arbitrary<UnstampedCommand> = fc
  .record({
    userId: userArb,
    assetId: fc.oneof(
      { weight: 20, arbitrary: fc.constantFrom(1, 2, 3) },
      { weight: 1, arbitrary: fc.constant(4) },
    ),
    amountUnits: fc.oneof(
      { weight: 10, arbitrary: fc.integer({ min: 1, max: 200_000 }) },
      { weight: 6, arbitrary: fc.integer({ min: -200_000, max: -1 }) },
      { weight: 1, arbitrary: fc.constantFrom(0, 0.5, -1_000_000_000_000) },
    ),
    reason: fc.oneof(
      { weight: 20, arbitrary: fc.constant("ops") },
      { weight: 1, arbitrary: fc.constant("") },
    ),
  })
  .map((r): UnstampedCommand => ({ kind: "adjustBalance", ...r }));

const cancelArb: fc.Arbitrary<Op> = fc
  .record({ userId: fc.constantFrom(...USERS), back: fc.integer({ min: 1, max: 25 }) })
  .map((r) => ({ command: { kind: "cancelOrder", userId: r.userId, orderId: 0 }, back: r.back, gap: 1 }));

const cancelAllArb: fc.Arbitrary<UnstampedCommand> = fc
  .record({ userId: fc.constantFrom(...USERS), marketId: fc.constantFrom(0, 0, 1, 2, 3) })
  .map((r): UnstampedCommand => ({ kind: "cancelAll", ...r }));

const cancelByCidArb: fc.Arbitrary<UnstampedCommand> = fc
  .record({
    userId: fc.constantFrom(...USERS),
    marketId: fc.constantFrom(0, 1, 2, 3),
    clientOrderId: fc.constantFrom(0, 1, 1, 2, 3),
  })
  .map((r): UnstampedCommand => ({ kind: "cancelByClientId", ...r }));

const statusArb: fc.Arbitrary<UnstampedCommand> = fc
  .record({
    marketId: fc.constantFrom(1, 2, 3),
    status: fc.constantFrom<"active" | "suspended">("active", "active", "active", "suspended"),
  })
  .map((r): UnstampedCommand => ({ kind: "setMarketStatus", ...r }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 60, arbitrary: placeArb.map((command) => ({ command, gap: 1 })) },
  { weight: 5, arbitrary: cancelArb },
  { weight: 2, arbitrary: cancelAllArb.map((command) => ({ command, gap: 1 })) },
  { weight: 3, arbitrary: cancelByCidArb.map((command) => ({ command, gap: 1 })) },
  { weight: 6, arbitrary: adjustArb.map((command) => ({ command, gap: 1 })) },
  { weight: 1, arbitrary: statusArb.map((command) => ({ command, gap: 1 })) },
  // Sequences need only increase: leave a gap now and then.
  { weight: 2, arbitrary: placeArb.map((command) => ({ command, gap: 3 })) },
);

/** Setup (assets, markets, a few operator mistakes, funding) followed by random commands. */
export const streamArb: fc.Arbitrary<Command[]> = fc
  .record({
    m1: marketArb(1, "AAA_BBB", 1, 2),
    m2: marketArb(2, "CCC_BBB", 3, 2),
    // One deposit per user and asset (0: none), most of them large enough to trade a while.
    funding: fc.array(fc.constantFrom(0, 700, 20_000, 200_000, 2_000_000, 2_000_000), {
      minLength: USERS.length * 3,
      maxLength: USERS.length * 3,
    }),
    ops: fc.array(opArb, { minLength: 1, maxLength: 250, size: "max" }),
  })
  .map(({ m1, m2, funding, ops }) => {
    const setup: Op[] = [
      { command: { kind: "addAsset", asset: { assetId: 1, code: "AAA", scale: 2 } }, gap: 1 },
      { command: { kind: "addAsset", asset: { assetId: 2, code: "BBB", scale: 8 } }, gap: 1 },
      { command: { kind: "addAsset", asset: { assetId: 3, code: "AAA", scale: 8 } }, gap: 1 }, // duplicate code
      { command: { kind: "addAsset", asset: { assetId: 4, code: "CCC", scale: 8 } }, gap: 1 }, // not dense
      { command: { kind: "addAsset", asset: { assetId: 3, code: "CCC", scale: 0 } }, gap: 1 },
      { command: { kind: "addMarket", market: m1 }, gap: 1 },
      { command: { kind: "addMarket", market: { ...m2, symbol: "AAA_BBB" } }, gap: 1 }, // duplicate symbol
      { command: { kind: "addMarket", market: m2 }, gap: 1 },
      ...funding.flatMap((amountUnits, index): Op[] =>
        amountUnits === 0
          ? []
          : [
              {
                command: {
                  kind: "adjustBalance",
                  userId: USERS[index % USERS.length],
                  assetId: 1 + Math.floor(index / USERS.length),
                  amountUnits,
                  reason: "deposit",
                },
                gap: 1,
              },
            ],
      ),
    ];
    return stamp([...setup, ...ops]);
  });

function stamp(ops: Op[]): Command[] {
  const commands: Command[] = [];
  let sequence = 0;
  for (const op of ops) {
    sequence += op.gap;
    let command = op.command;
    if (command.kind === "cancelOrder" && op.back !== undefined) {
      const target = commands[commands.length - op.back];
      command = { ...command, orderId: target === undefined ? 999_999 : target.sequence };
    }
    commands.push({ ...command, sequence, timestampMs: 1_000_000 + sequence * 7 } as Command);
  }
  return commands;
}

/** Cut the stream into batches of the given sizes (cycled). */
export function split(commands: Command[], sizes: number[]): Command[][] {
  const batches: Command[][] = [];
  let at = 0;
  let index = 0;
  while (at < commands.length) {
    const size = sizes.length === 0 ? commands.length : sizes[index % sizes.length];
    batches.push(commands.slice(at, at + size));
    at += size;
    index += 1;
  }
  return batches;
}

/** Mostly the default limits; now and then small ones, so that every limit rejection happens. */
export const limitsArb: fc.Arbitrary<Partial<CoreLimits>> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc.record({
      maxUsers: fc.integer({ min: 2, max: 5 }),
      maxOpenOrdersPerUser: fc.integer({ min: 1, max: 8 }),
      maxStopOrdersPerMarket: fc.integer({ min: 1, max: 4 }),
      maxOpenOrders: fc.integer({ min: 2, max: 20 }),
    }),
  },
);

export const batchSizesArb = fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 0, maxLength: 6 });

export function applyAll(machine: CoreMachine, commands: Command[]): CoreEvent[] {
  const events: CoreEvent[] = [];
  machine.applyBatch(commands, events);
  return events;
}

// Shared test machinery: the implementations under test, a driver that stamps commands and checks
// every command's basic contract, and builders for commands and the events they should produce.

import { expect } from "vitest";
import type {
  Command,
  OrderType,
  PlaceOrderCommand,
  Side,
  TimeInForce,
  UnstampedCommand,
} from "../../src/core/commands.ts";
import type { CoreLimits, MarketConfig, SelfTradePrevention } from "../../src/core/config.ts";
import type {
  BalanceEvent,
  CoreEvent,
  DoneReason,
  OrderAcceptedEvent,
  OrderDoneEvent,
  RejectReason,
  TradeEvent,
} from "../../src/core/events.ts";
import { ReferenceCore } from "../../src/core/reference/reference-core.ts";
import type { CoreMachine, CoreStateView } from "../../src/core/state-view.ts";

export interface MachineFactory {
  name: string;
  create(limits?: Partial<CoreLimits>): CoreMachine;
}

/** What the fast core offers beyond CoreMachine. */
export interface FastCore extends CoreMachine {
  snapshot(): Uint8Array;
  stateHash(): string;
}
export interface FastCoreClass {
  new (limits?: Partial<CoreLimits>): FastCore;
  /** Limits are configuration, not state: the restoring side passes the same ones. */
  restore(bytes: Uint8Array, limits?: Partial<CoreLimits>): FastCore;
}

export const referenceFactory: MachineFactory = {
  name: "ReferenceCore",
  create: (limits) => new ReferenceCore(limits),
};

/**
 * CORE_IMPL=reference runs the shared suites against the reference only (to work on the tests
 * while the fast core is broken); anything else runs both.
 */
export const onlyReference = process.env.CORE_IMPL === "reference";

export async function loadFastCore(): Promise<FastCoreClass | null> {
  if (onlyReference) return null;
  const module = await import("../../src/core/core.ts");
  const Core: FastCoreClass = module.Core;
  return Core;
}

export async function loadFactories(): Promise<MachineFactory[]> {
  const Core = await loadFastCore();
  const factories = [referenceFactory];
  if (Core !== null) factories.push({ name: "Core", create: (limits) => new Core(limits) });
  return factories;
}

export const BTC = 1;
export const USD = 2;
export const ETH = 3;
export const BTC_USD = 1;
export const ETH_USD = 2;

/**
 * Round numbers so expected amounts can be worked out by hand: one lot is 1,000 base units, one
 * tick of one lot costs 10 quote units; maker fee 0.1 %, taker fee 0.2 %, stop slippage 5 %.
 */
export function marketConfig(overrides: Partial<MarketConfig> = {}): MarketConfig {
  return {
    marketId: BTC_USD,
    symbol: "BTC_USD",
    baseAssetId: BTC,
    quoteAssetId: USD,
    lotSizeBaseUnits: 1_000,
    quoteUnitsPerTickLot: 10,
    minPriceTicks: 1,
    maxPriceTicks: 1_000_000,
    minQuantityLots: 1,
    maxQuantityLots: 1_000_000,
    minNotionalUnits: 0,
    maxNotionalUnits: 1_000_000_000_000,
    makerFeePpm: 1_000,
    takerFeePpm: 2_000,
    stopBuySlippageBps: 500,
    selfTradePrevention: "cancelResting",
    ...overrides,
  };
}

export interface PlaceArgs {
  userId: number;
  side: Side;
  orderType?: OrderType;
  marketId?: number;
  priceTicks?: number;
  quantityLots?: number;
  quoteAmountUnits?: number;
  triggerPriceTicks?: number;
  timeInForce?: TimeInForce;
  postOnly?: boolean;
  clientOrderId?: number;
  clientOrderText?: string;
  selfTradePrevention?: SelfTradePrevention | null;
}

export function placeOrder(args: PlaceArgs): Omit<PlaceOrderCommand, "sequence" | "timestampMs"> {
  return {
    kind: "placeOrder",
    userId: args.userId,
    marketId: args.marketId ?? BTC_USD,
    side: args.side,
    orderType: args.orderType ?? "limit",
    priceTicks: args.priceTicks ?? 0,
    quantityLots: args.quantityLots ?? 0,
    quoteAmountUnits: args.quoteAmountUnits ?? 0,
    triggerPriceTicks: args.triggerPriceTicks ?? 0,
    timeInForce: args.timeInForce ?? "gtc",
    postOnly: args.postOnly ?? false,
    clientOrderId: args.clientOrderId ?? 0,
    ...(args.clientOrderText === undefined ? {} : { clientOrderText: args.clientOrderText }),
    selfTradePrevention: args.selfTradePrevention ?? null,
  };
}

/** A market order by quantity, every other field at its default: spread it to change a field. */
export function marketOrderOf(
  userId: number,
  side: Side,
  quantityLots: number,
): Omit<PlaceOrderCommand, "sequence" | "timestampMs"> {
  return placeOrder({ userId, side, orderType: "market", quantityLots });
}

export const T0 = 1_700_000_000_000;

/**
 * Drives one machine command by command. Every command: its events all carry its sequence, the
 * invariants hold afterwards, and a rejected command leaves the exported state untouched.
 */
export class Driver {
  readonly machine: CoreMachine;
  sequence = 0;

  constructor(factory: MachineFactory, limits?: Partial<CoreLimits>) {
    this.machine = factory.create(limits);
  }

  /** The sequence (and so the order id) the next command will get. */
  get next(): number {
    return this.sequence + 1;
  }

  run(command: UnstampedCommand): CoreEvent[] {
    const before = this.machine.exportState();
    this.sequence += 1;
    const stamped = { ...command, sequence: this.sequence, timestampMs: T0 + this.sequence } as Command;
    const events: CoreEvent[] = [];
    this.machine.applyBatch([stamped], events);
    this.machine.checkInvariants();
    for (const event of events) expect(event.sequence).toBe(stamped.sequence);
    if (events.some((e) => e.type === "rejected")) {
      expect(events).toHaveLength(1);
      // Nothing changed. lastSequence is left to its own test (rejections.test.ts) so that a
      // disagreement about it does not hide everything else these tests check.
      // A signed request's nonce advances even when its command is then rejected for another
      // reason (api-nonces.test.ts checks it): compare the rest.
      const after = this.machine.exportState();
      const nonces = "nonce" in command && command.nonce !== undefined ? before.apiNonces : after.apiNonces;
      expect({ ...after, lastSequence: 0, apiNonces: nonces }).toEqual({ ...before, lastSequence: 0 });
    }
    return events;
  }

  /** Runs a command that must be rejected with `reason`; returns nothing (the driver checked nothing changed). */
  reject(command: UnstampedCommand, reason: RejectReason, userId = 0, clientOrderId = 0): void {
    const events = this.run(command);
    expect(events).toEqual([{ type: "rejected", sequence: this.sequence, reason, userId, clientOrderId }]);
  }

  place(args: PlaceArgs): CoreEvent[] {
    return this.run(placeOrder(args));
  }

  fund(userId: number, assetId: number, amountUnits: number): CoreEvent[] {
    return this.run({ kind: "adjustBalance", userId, assetId, amountUnits, reason: "deposit" });
  }

  addAsset(assetId: number, code: string, scale = 8): CoreEvent[] {
    return this.run({ kind: "addAsset", asset: { assetId, code, scale } });
  }

  /** BTC (1), USD (2) and the BTC_USD market (1), plus funded users. */
  setup(overrides: Partial<MarketConfig> = {}, users: number[] = [1, 2, 3]): void {
    this.addAsset(BTC, "BTC");
    this.addAsset(USD, "USD", 2);
    this.run({ kind: "addMarket", market: marketConfig(overrides) });
    for (const userId of users) {
      this.fund(userId, BTC, 1_000_000);
      this.fund(userId, USD, 10_000_000);
    }
  }

  state(): CoreStateView {
    return this.machine.exportState();
  }

  balance(userId: number, assetId: number): { available: number; held: number } {
    const entry = this.state().userBalances.find((b) => b.userId === userId && b.assetId === assetId);
    return { available: entry?.availableUnits ?? 0, held: entry?.heldUnits ?? 0 };
  }

  systemBalance(account: string, assetId: number): number {
    return (
      this.state().systemBalances.find((b) => b.account === account && b.assetId === assetId)?.balanceUnits ??
      0
    );
  }
}

// ---- expected events -------------------------------------------------------------------------

export function accepted(
  d: Driver,
  args: PlaceArgs & { heldUnits: number; orderId?: number },
): OrderAcceptedEvent {
  const c = placeOrder(args);
  const orderId = args.orderId ?? d.sequence;
  return {
    type: "orderAccepted",
    sequence: d.sequence,
    timestampMs: T0 + d.sequence,
    orderId,
    userId: c.userId,
    marketId: c.marketId,
    side: c.side,
    orderType: c.orderType,
    priceTicks: c.priceTicks,
    quantityLots: c.quantityLots,
    quoteAmountUnits: c.quoteAmountUnits,
    triggerPriceTicks: c.triggerPriceTicks,
    clientOrderId: c.clientOrderId,
    clientOrderText: c.clientOrderText ?? null,
    timeInForce: c.timeInForce,
    postOnly: c.postOnly,
    heldUnits: args.heldUnits,
  };
}

export function trade(
  d: Driver,
  t: {
    tradeId: number;
    priceTicks: number;
    quantityLots: number;
    takerSide: Side;
    maker: [orderId: number, userId: number];
    taker: [orderId: number, userId: number];
    buyerFeeUnits: number;
    sellerFeeUnits: number;
    marketId?: number;
    quoteUnitsPerTickLot?: number;
  },
): TradeEvent {
  return {
    type: "trade",
    sequence: d.sequence,
    timestampMs: T0 + d.sequence,
    tradeId: t.tradeId,
    marketId: t.marketId ?? BTC_USD,
    priceTicks: t.priceTicks,
    quantityLots: t.quantityLots,
    notionalUnits: t.priceTicks * t.quantityLots * (t.quoteUnitsPerTickLot ?? 10),
    takerSide: t.takerSide,
    makerOrderId: t.maker[0],
    takerOrderId: t.taker[0],
    makerUserId: t.maker[1],
    takerUserId: t.taker[1],
    buyerFeeUnits: t.buyerFeeUnits,
    sellerFeeUnits: t.sellerFeeUnits,
  };
}

export function done(
  d: Driver,
  orderId: number,
  userId: number,
  reason: DoneReason,
  remainingLots: number,
  releasedUnits: number,
  marketId = BTC_USD,
): OrderDoneEvent {
  return {
    type: "orderDone",
    sequence: d.sequence,
    orderId,
    userId,
    marketId,
    reason,
    remainingLots,
    releasedUnits,
  };
}

export function bal(
  d: Driver,
  userId: number,
  assetId: number,
  availableUnits: number,
  heldUnits: number,
): BalanceEvent {
  return { type: "balance", sequence: d.sequence, userId, assetId, availableUnits, heldUnits };
}

export function stopTriggered(d: Driver, orderId: number, userId: number, lastPriceTicks: number): CoreEvent {
  return { type: "stopTriggered", sequence: d.sequence, orderId, userId, marketId: BTC_USD, lastPriceTicks };
}

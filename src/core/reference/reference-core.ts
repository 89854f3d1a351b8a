// The reference core: a naive, slow, obviously correct implementation of docs/CORE.md.
//
// Nothing here is clever. Books are plain arrays scanned in full for every match step; balances
// are Maps; every ledger change goes through `transfer`, a move between two accounts of one
// asset. Each block cites the sentence of CORE.md it implements, so a reviewer can check it
// line by line. The property tests feed this core and the fast core the same commands and
// compare every event and the exported state.
//
// placeOrder is split in two: its checks (place-order-checks.ts) only read and return a reject
// reason or the plan of the accepted order; executePlaceOrder below carries the plan out.
//
// Readings of the spec where it leaves room (see the section comments for the details):
// - A rejected command changes nothing but `lastSequence`, which every command advances.
// - "the order's own" self-trade policy is the incoming order's (a resting order's policy is
//   only used while it was incoming).
// - A (user, asset) balance counts as "changed" when a non-zero amount was moved into or out of
//   its available or held part during the command, even if it ends where it started.
// - Within a trade the changes happen in the order the spec lists them: seller base, buyer
//   base, buyer quote, seller quote.

import type {
  AddAssetCommand,
  AddMarketCommand,
  AdjustBalanceCommand,
  CancelAllCommand,
  CancelByClientIdCommand,
  CancelOrderCommand,
  Command,
  PlaceOrderCommand,
  SetMarketStatusCommand,
  Side,
} from "../commands.ts";
import { MAX_REASON_LENGTH } from "../commands.ts";
import type { AssetConfig, CoreLimits, MarketConfig, SelfTradePrevention } from "../config.ts";
import {
  assetConfigProblem,
  DEFAULT_CORE_LIMITS,
  MAX_SAFE_UNITS,
  marketConfigProblem,
  PPM,
} from "../config.ts";
import type { CoreEvent, DoneReason, RejectReason } from "../events.ts";
import type { CoreMachine, CoreStateView, SystemAccount } from "../state-view.ts";
import { SYSTEM_ACCOUNTS } from "../state-view.ts";
import {
  bestOrder,
  copyMarketConfig,
  crosses,
  isValidUserId,
  type Market,
  opposite,
  type RestingOrder,
  referenceMulDivCeil,
  restingHold,
  type UserBalance,
} from "./model.ts";
import { checkPlaceOrder, type OrderPlan, type ReferenceReads } from "./place-order-checks.ts";
import { checkReferenceInvariants, exportReferenceState, type ReferenceData } from "./reference-view.ts";

type Account =
  | { kind: "available"; userId: number }
  | { kind: "held"; userId: number }
  | { kind: "system"; account: SystemAccount };

/** How the incoming order's money limits its fills (see "Fill size" in CORE.md). */
type Funding =
  /** Limit buy: each lot costs its limit price from the hold; price improvement returns at once. */
  | { kind: "limitBuy"; limitPriceTicks: number }
  /** Base held for the lots: limit sell, market sell, fired stop sell. */
  | { kind: "baseHeld" }
  /** Market buy by quantity or fired stop buy: spends the hold; when a lot is unaffordable: insufficientFunds. */
  | { kind: "budgetBuy"; budgetLeft: number }
  /** marketTotal buy: spends at most quoteAmountUnits (all held). */
  | { kind: "totalBuy"; quoteLeft: number }
  /** marketTotal sell: receives at most quoteAmountUnits gross, sells at most the held lots. */
  | { kind: "totalSell"; quoteLeft: number; heldLotsLeft: number };

interface Incoming {
  orderId: number;
  userId: number;
  side: Side;
  /** null: any price (market orders). */
  limitPriceTicks: number | null;
  /** Lots still to trade; for marketTotal orders the lots are bounded by money only (Infinity). */
  remainingLots: number;
  selfTradePrevention: SelfTradePrevention;
  funding: Funding;
}

type MatchEnd = "noneLeft" | "bookExhausted" | "selfTrade" | "insufficientFunds" | "moneyUsedUp";

class Rejection extends Error {
  constructor(readonly reason: RejectReason) {
    super(reason);
  }
}

const MARKET_STATUSES: readonly string[] = ["active", "suspended"];

export class ReferenceCore implements CoreMachine {
  private readonly limits: CoreLimits;
  private lastSequence = 0;
  private nextTradeId = 1;
  private readonly assets: AssetConfig[] = [];
  private readonly markets: Market[] = [];
  /** userId → assetId → balance. A user exists from their first credit. */
  private readonly users = new Map<number, Map<number, UserBalance>>();
  /** account → assetId → balance. */
  private readonly system = new Map<SystemAccount, Map<number, number>>();

  /** What the placeOrder checks may read (place-order-checks.ts). */
  private readonly reads: ReferenceReads;

  // Per-command scratch: the events of the command in progress and the (user, asset) pairs it changed.
  private pending: CoreEvent[] = [];
  private changed: { userId: number; assetId: number }[] = [];

  constructor(limits?: Partial<CoreLimits>) {
    this.limits = { ...DEFAULT_CORE_LIMITS, ...limits };
    for (const account of SYSTEM_ACCOUNTS) this.system.set(account, new Map());
    this.reads = {
      limits: this.limits,
      findMarket: (marketId) => this.findMarket(marketId),
      allOpenOrders: () => this.allOpenOrders(),
      balanceOf: (userId, assetId) => this.balanceOf(userId, assetId),
    };
  }

  applyBatch(commands: readonly Command[], events: CoreEvent[]): void {
    if (commands.length > this.limits.maxCommandsPerBatch) {
      throw new RangeError(`batch of ${commands.length} commands exceeds maxCommandsPerBatch`);
    }
    for (const command of commands) this.applyOne(command, events);
  }

  private applyOne(command: Command, events: CoreEvent[]): void {
    if (!Number.isSafeInteger(command.sequence) || command.sequence <= this.lastSequence) {
      throw new RangeError(`sequence ${command.sequence} is not above ${this.lastSequence}`);
    }
    // Work on a copy so that a rejection found half-way leaves nothing behind. The checks below
    // all run before the first change, but the copy makes "changes nothing" true by construction.
    const saved = this.saveState();
    this.pending = [];
    this.changed = [];
    try {
      this.execute(command);
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      this.restoreState(saved);
      this.lastSequence = command.sequence;
      events.push({
        type: "rejected",
        sequence: command.sequence,
        reason: error.reason,
        userId: rejectedUserId(command),
        clientOrderId: rejectedClientOrderId(command),
      });
      return;
    }
    this.lastSequence = command.sequence;
    events.push(...this.pending);
    // "one per (user, asset) whose available or held balance the command changed, in the order
    // they were first changed, with the values after the command."
    for (const { userId, assetId } of this.changed) {
      const balance = this.balanceOf(userId, assetId);
      events.push({
        type: "balance",
        sequence: command.sequence,
        userId,
        assetId,
        availableUnits: balance.available,
        heldUnits: balance.held,
      });
    }
  }

  private execute(command: Command): void {
    switch (command.kind) {
      case "placeOrder":
        this.placeOrder(command);
        break;
      case "cancelOrder":
        this.cancelOrder(command);
        break;
      case "cancelAll":
        this.cancelAll(command);
        break;
      case "cancelByClientId":
        this.cancelByClientId(command);
        break;
      case "adjustBalance":
        this.adjustBalance(command);
        break;
      case "addAsset":
        this.addAsset(command);
        break;
      case "addMarket":
        this.addMarket(command);
        break;
      case "setMarketStatus":
        this.setMarketStatus(command);
        break;
      default:
        throw new Rejection("invalidCommand");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // placeOrder

  private placeOrder(c: PlaceOrderCommand): void {
    const plan = checkPlaceOrder(c, this.reads);
    if (typeof plan === "string") throw new Rejection(plan);
    this.executePlaceOrder(c, plan);
  }

  /** An accepted order: the hold, orderAccepted, then stop or matching, resting or done, triggers. */
  private executePlaceOrder(c: PlaceOrderCommand, plan: OrderPlan): void {
    const { market, holdAssetId, hold, marketTotalSellLots, stp } = plan;
    const cfg = market.config;
    const isLimit = c.orderType === "limit";
    // Accepted: move the hold, announce the order.
    const orderId = c.sequence;
    this.transfer(
      holdAssetId,
      { kind: "available", userId: c.userId },
      { kind: "held", userId: c.userId },
      hold,
    );
    this.pending.push({
      type: "orderAccepted",
      sequence: c.sequence,
      timestampMs: c.timestampMs,
      orderId,
      userId: c.userId,
      marketId: cfg.marketId,
      side: c.side,
      orderType: c.orderType,
      priceTicks: c.priceTicks,
      quantityLots: c.quantityLots,
      quoteAmountUnits: c.quoteAmountUnits,
      triggerPriceTicks: c.triggerPriceTicks,
      clientOrderId: c.clientOrderId,
      heldUnits: hold,
    });

    if (c.orderType === "stopMarket") {
      market.stops.push({
        orderId,
        userId: c.userId,
        side: c.side,
        triggerPriceTicks: c.triggerPriceTicks,
        quantityLots: c.quantityLots,
        heldUnits: hold,
        clientOrderId: c.clientOrderId,
        selfTradePrevention: stp,
      });
      // "Stop triggers run ... after a stop is placed".
      this.runStopTriggers(market, c);
      return;
    }

    const funding = fundingOf(c, hold, marketTotalSellLots);
    const incoming: Incoming = {
      orderId,
      userId: c.userId,
      side: c.side,
      limitPriceTicks: isLimit ? c.priceTicks : null,
      remainingLots: c.orderType === "marketTotal" ? Number.POSITIVE_INFINITY : c.quantityLots,
      selfTradePrevention: stp,
      funding,
    };
    const tradesBefore = this.nextTradeId;
    const end = this.match(market, incoming, c);

    // After matching.
    if (c.orderType === "marketTotal") {
      // marketTotal: no lots to count; done with its reason, releasing the unspent hold.
      const reason: DoneReason =
        end === "selfTrade" ? "selfTrade" : end === "bookExhausted" ? "expired" : "filled";
      this.finishIncoming(market, incoming, reason, 0, c);
    } else if (end === "selfTrade") {
      this.finishIncoming(market, incoming, "selfTrade", incoming.remainingLots, c);
    } else if (end === "insufficientFunds") {
      this.finishIncoming(market, incoming, "insufficientFunds", incoming.remainingLots, c);
    } else if (incoming.remainingLots === 0) {
      this.finishIncoming(market, incoming, "filled", 0, c);
    } else if (isLimit && c.timeInForce === "gtc") {
      // "GTC limit with lots left → rests at its price (no event beyond orderAccepted)"
      market.resting.push({
        orderId,
        userId: c.userId,
        side: c.side,
        priceTicks: c.priceTicks,
        remainingLots: incoming.remainingLots,
        clientOrderId: c.clientOrderId,
        selfTradePrevention: stp,
      });
    } else {
      this.finishIncoming(market, incoming, "expired", incoming.remainingLots, c);
    }

    // "Stop triggers run after any command that traded in a market".
    if (this.nextTradeId !== tradesBefore) this.runStopTriggers(market, c);
  }

  /**
   * "Matching walks the opposite side best price first, oldest order first within a price
   * (price-time priority), while the incoming order has something left and the level price
   * crosses its limit (market orders: any price)."
   */
  private match(market: Market, incoming: Incoming, c: PlaceOrderCommand): MatchEnd {
    const cfg = market.config;
    for (;;) {
      if (!this.hasSomethingLeft(incoming)) return "noneLeft";
      const maker = bestOrder(market, opposite(incoming.side));
      if (maker === undefined) return "bookExhausted";
      if (
        incoming.limitPriceTicks !== null &&
        !crosses(incoming.side, incoming.limitPriceTicks, maker.priceTicks)
      ) {
        return "bookExhausted";
      }

      // Self-trade prevention.
      if (maker.userId === incoming.userId) {
        const policy = incoming.selfTradePrevention;
        if (policy === "cancelIncoming") return "selfTrade";
        this.removeResting(market, maker);
        this.releaseResting(market, maker, "selfTrade", c);
        if (policy === "cancelBoth") return "selfTrade";
        continue; // cancelResting
      }

      // Fill size, further limited by money.
      const lotCost = maker.priceTicks * cfg.quoteUnitsPerTickLot;
      let lots = Math.min(incoming.remainingLots, maker.remainingLots);
      const f = incoming.funding;
      if (f.kind === "budgetBuy") {
        lots = Math.min(lots, Math.floor(f.budgetLeft / lotCost));
        if (lots === 0) return "insufficientFunds";
      } else if (f.kind === "totalBuy") {
        lots = Math.min(lots, Math.floor(f.quoteLeft / lotCost));
        if (lots === 0) return "moneyUsedUp";
      } else if (f.kind === "totalSell") {
        lots = Math.min(lots, Math.floor(f.quoteLeft / lotCost), f.heldLotsLeft);
        if (lots === 0) return "moneyUsedUp";
      }

      this.trade(market, incoming, maker, lots, c);
      if (maker.remainingLots === 0) {
        this.removeResting(market, maker);
        this.pending.push({
          type: "orderDone",
          sequence: c.sequence,
          orderId: maker.orderId,
          userId: maker.userId,
          marketId: cfg.marketId,
          reason: "filled",
          remainingLots: 0,
          releasedUnits: 0,
        });
      }
    }
  }

  private hasSomethingLeft(incoming: Incoming): boolean {
    const f = incoming.funding;
    if (f.kind === "totalBuy") return f.quoteLeft > 0;
    if (f.kind === "totalSell") return f.quoteLeft > 0 && f.heldLotsLeft > 0;
    return incoming.remainingLots > 0;
  }

  /** One trade at the maker's price, with its fees and ledger changes. */
  private trade(
    market: Market,
    incoming: Incoming,
    maker: RestingOrder,
    lots: number,
    c: PlaceOrderCommand,
  ): void {
    const cfg = market.config;
    const price = maker.priceTicks;
    const notional = price * lots * cfg.quoteUnitsPerTickLot;
    const baseUnits = lots * cfg.lotSizeBaseUnits;
    const incomingBuys = incoming.side === "buy";
    const buyerUserId = incomingBuys ? incoming.userId : maker.userId;
    const sellerUserId = incomingBuys ? maker.userId : incoming.userId;
    // "maker rate for the resting side, taker rate for the incoming side"
    const buyerRate = incomingBuys ? cfg.takerFeePpm : cfg.makerFeePpm;
    const sellerRate = incomingBuys ? cfg.makerFeePpm : cfg.takerFeePpm;
    const buyerFee = referenceMulDivCeil(baseUnits, buyerRate, PPM);
    const sellerFee = referenceMulDivCeil(notional, sellerRate, PPM);

    this.pending.push({
      type: "trade",
      sequence: c.sequence,
      timestampMs: c.timestampMs,
      tradeId: this.nextTradeId,
      marketId: cfg.marketId,
      priceTicks: price,
      quantityLots: lots,
      notionalUnits: notional,
      takerSide: incoming.side,
      makerOrderId: maker.orderId,
      takerOrderId: incoming.orderId,
      makerUserId: maker.userId,
      takerUserId: incoming.userId,
      buyerFeeUnits: buyerFee,
      sellerFeeUnits: sellerFee,
    });
    this.nextTradeId += 1;

    const base = cfg.baseAssetId;
    const quote = cfg.quoteAssetId;
    const fees: Account = { kind: "system", account: "fees" };
    // Seller held base −baseUnits; buyer available base +baseUnits − buyerFee.
    this.transfer(
      base,
      { kind: "held", userId: sellerUserId },
      { kind: "available", userId: buyerUserId },
      baseUnits - buyerFee,
    );
    this.transfer(base, { kind: "held", userId: sellerUserId }, fees, buyerFee);
    // Buyer held quote − (limit buyer: qty × limitPrice × unit, the difference to the notional
    // going back to available at once; budget buyer: the notional).
    const buyerHeld: Account = { kind: "held", userId: buyerUserId };
    this.transfer(quote, buyerHeld, { kind: "available", userId: sellerUserId }, notional - sellerFee);
    this.transfer(quote, buyerHeld, fees, sellerFee);
    const buyerLimitPrice = incomingBuys
      ? incoming.funding.kind === "limitBuy"
        ? incoming.funding.limitPriceTicks
        : null
      : maker.priceTicks;
    if (buyerLimitPrice !== null) {
      const limitCost = lots * buyerLimitPrice * cfg.quoteUnitsPerTickLot;
      this.transfer(quote, buyerHeld, { kind: "available", userId: buyerUserId }, limitCost - notional);
    }
    // (Seller available quote + notional − sellerFee: the first quote transfer above.)

    maker.remainingLots -= lots;
    incoming.remainingLots -= lots;
    const f = incoming.funding;
    if (f.kind === "budgetBuy") f.budgetLeft -= notional;
    if (f.kind === "totalBuy") f.quoteLeft -= notional;
    if (f.kind === "totalSell") {
      f.quoteLeft -= notional;
      f.heldLotsLeft -= lots;
    }
    // "lastPriceTicks of the market becomes the trade price."
    market.lastPriceTicks = price;
  }

  /** What the incoming order still holds: released when it is done. */
  private incomingHoldLeft(market: Market, incoming: Incoming): number {
    const cfg = market.config;
    const f = incoming.funding;
    switch (f.kind) {
      case "limitBuy":
        return incoming.remainingLots * f.limitPriceTicks * cfg.quoteUnitsPerTickLot;
      case "baseHeld":
        return incoming.remainingLots * cfg.lotSizeBaseUnits;
      case "budgetBuy":
        return f.budgetLeft;
      case "totalBuy":
        return f.quoteLeft;
      case "totalSell":
        return f.heldLotsLeft * cfg.lotSizeBaseUnits;
    }
  }

  private finishIncoming(
    market: Market,
    incoming: Incoming,
    reason: DoneReason,
    remainingLots: number,
    c: PlaceOrderCommand,
  ): void {
    const cfg = market.config;
    const released = this.incomingHoldLeft(market, incoming);
    const assetId = incoming.side === "buy" ? cfg.quoteAssetId : cfg.baseAssetId;
    this.transfer(
      assetId,
      { kind: "held", userId: incoming.userId },
      { kind: "available", userId: incoming.userId },
      released,
    );
    this.pending.push({
      type: "orderDone",
      sequence: c.sequence,
      orderId: incoming.orderId,
      userId: incoming.userId,
      marketId: cfg.marketId,
      reason,
      remainingLots,
      releasedUnits: released,
    });
  }

  /**
   * "while the market has a triggered stop (buy: lastPrice ≥ trigger; sell: lastPrice ≤ trigger;
   * never before the market's first trade), the one with the lowest order id fires"
   */
  private runStopTriggers(market: Market, c: PlaceOrderCommand): void {
    for (;;) {
      const last = market.lastPriceTicks;
      if (last === 0) return;
      const triggered = market.stops
        .filter((s) => (s.side === "buy" ? last >= s.triggerPriceTicks : last <= s.triggerPriceTicks))
        .sort((a, b) => a.orderId - b.orderId);
      const stop = triggered[0];
      if (stop === undefined) return;
      market.stops.splice(market.stops.indexOf(stop), 1);
      this.pending.push({
        type: "stopTriggered",
        sequence: c.sequence,
        orderId: stop.orderId,
        userId: stop.userId,
        marketId: market.config.marketId,
        lastPriceTicks: last,
      });
      // "it matches as a market order of its quantity (buy: its hold is the budget)"
      const incoming: Incoming = {
        orderId: stop.orderId,
        userId: stop.userId,
        side: stop.side,
        limitPriceTicks: null,
        remainingLots: stop.quantityLots,
        selfTradePrevention: stop.selfTradePrevention,
        funding:
          stop.side === "buy" ? { kind: "budgetBuy", budgetLeft: stop.heldUnits } : { kind: "baseHeld" },
      };
      const end = this.match(market, incoming, c);
      let reason: DoneReason;
      if (end === "selfTrade") reason = "selfTrade";
      else if (end === "insufficientFunds") reason = "insufficientFunds";
      else if (incoming.remainingLots === 0) reason = "filled";
      else reason = "expired";
      this.finishIncoming(market, incoming, reason, reason === "filled" ? 0 : incoming.remainingLots, c);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Cancels

  private cancelOrder(c: CancelOrderCommand): void {
    // "orderNotFound unless the order is open (resting or stop) and belongs to userId."
    const found = this.allOpenOrders().find((o) => o.orderId === c.orderId && o.userId === c.userId);
    if (found === undefined) throw new Rejection("orderNotFound");
    this.cancelOpenOrder(found.marketId, found.orderId, c.sequence);
  }

  private cancelAll(c: CancelAllCommand): void {
    if (c.marketId !== 0 && this.findMarket(c.marketId) === undefined) throw new Rejection("unknownMarket");
    const toCancel = this.allOpenOrders().filter(
      (o) => o.userId === c.userId && (c.marketId === 0 || o.marketId === c.marketId),
    );
    // "cancelAll with nothing to cancel produces no event (it is not an error)"
    for (const o of toCancel) this.cancelOpenOrder(o.marketId, o.orderId, c.sequence);
  }

  private cancelByClientId(c: CancelByClientIdCommand): void {
    // The spec gives no order between these two; we check the command's own field first.
    if (!Number.isSafeInteger(c.clientOrderId) || c.clientOrderId <= 0) throw new Rejection("invalidCommand");
    if (c.marketId !== 0 && this.findMarket(c.marketId) === undefined) throw new Rejection("unknownMarket");
    const toCancel = this.allOpenOrders().filter(
      (o) =>
        o.userId === c.userId &&
        o.clientOrderId === c.clientOrderId &&
        (c.marketId === 0 || o.marketId === c.marketId),
    );
    if (toCancel.length === 0) throw new Rejection("orderNotFound");
    for (const o of toCancel) this.cancelOpenOrder(o.marketId, o.orderId, c.sequence);
  }

  /** Every open order (resting and stop, all markets), ascending order id. */
  private allOpenOrders(): { orderId: number; userId: number; marketId: number; clientOrderId: number }[] {
    const all: { orderId: number; userId: number; marketId: number; clientOrderId: number }[] = [];
    for (const market of this.markets) {
      const marketId = market.config.marketId;
      for (const o of market.resting)
        all.push({ orderId: o.orderId, userId: o.userId, marketId, clientOrderId: o.clientOrderId });
      for (const s of market.stops)
        all.push({ orderId: s.orderId, userId: s.userId, marketId, clientOrderId: s.clientOrderId });
    }
    return all.sort((a, b) => a.orderId - b.orderId);
  }

  private cancelOpenOrder(marketId: number, orderId: number, sequence: number): void {
    const market = this.markets[marketId - 1];
    const resting = market.resting.find((o) => o.orderId === orderId);
    if (resting !== undefined) {
      this.removeResting(market, resting);
      this.releaseResting(market, resting, "cancelled", { sequence });
      return;
    }
    const stop = market.stops.find((s) => s.orderId === orderId);
    if (stop === undefined) throw new Error(`order ${orderId} is not open`);
    market.stops.splice(market.stops.indexOf(stop), 1);
    const assetId = stop.side === "buy" ? market.config.quoteAssetId : market.config.baseAssetId;
    this.transfer(
      assetId,
      { kind: "held", userId: stop.userId },
      { kind: "available", userId: stop.userId },
      stop.heldUnits,
    );
    this.pending.push({
      type: "orderDone",
      sequence,
      orderId: stop.orderId,
      userId: stop.userId,
      marketId,
      reason: "cancelled",
      remainingLots: stop.quantityLots,
      releasedUnits: stop.heldUnits,
    });
  }

  /** A resting order leaves the book unfilled (cancel or self-trade): release what it holds. */
  private releaseResting(
    market: Market,
    order: RestingOrder,
    reason: DoneReason,
    c: { sequence: number },
  ): void {
    const cfg = market.config;
    const released = restingHold(cfg, order);
    const assetId = order.side === "buy" ? cfg.quoteAssetId : cfg.baseAssetId;
    this.transfer(
      assetId,
      { kind: "held", userId: order.userId },
      { kind: "available", userId: order.userId },
      released,
    );
    this.pending.push({
      type: "orderDone",
      sequence: c.sequence,
      orderId: order.orderId,
      userId: order.userId,
      marketId: cfg.marketId,
      reason,
      remainingLots: order.remainingLots,
      releasedUnits: released,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Operator commands

  private adjustBalance(c: AdjustBalanceCommand): void {
    if (!Number.isSafeInteger(c.amountUnits) || c.amountUnits === 0) throw new Rejection("invalidCommand");
    if (!isValidUserId(c.userId)) throw new Rejection("invalidCommand");
    if (typeof c.reason !== "string" || c.reason.length < 1 || c.reason.length > MAX_REASON_LENGTH) {
      throw new Rejection("invalidCommand");
    }
    if (this.findAsset(c.assetId) === undefined) throw new Rejection("unknownAsset");
    const user: Account = { kind: "available", userId: c.userId };
    const equity: Account = { kind: "system", account: "operatorEquity" };
    if (c.amountUnits < 0) {
      if (this.balanceOf(c.userId, c.assetId).available < -c.amountUnits)
        throw new Rejection("insufficientFunds");
      this.transfer(c.assetId, user, equity, -c.amountUnits);
    } else {
      const equityNow = this.system.get("operatorEquity")?.get(c.assetId) ?? 0;
      if (equityNow - c.amountUnits < -MAX_SAFE_UNITS) throw new Rejection("limitReached");
      if (!this.users.has(c.userId) && this.users.size >= this.limits.maxUsers)
        throw new Rejection("tooManyUsers");
      this.transfer(c.assetId, equity, user, c.amountUnits);
    }
    this.pending.push({
      type: "balanceAdjusted",
      sequence: c.sequence,
      timestampMs: c.timestampMs,
      userId: c.userId,
      assetId: c.assetId,
      amountUnits: c.amountUnits,
      reason: c.reason,
    });
  }

  private addAsset(c: AddAssetCommand): void {
    const asset = c.asset;
    if (asset.assetId !== this.assets.length + 1 || assetConfigProblem(asset) !== null) {
      throw new Rejection("invalidCommand");
    }
    if (this.assets.length >= this.limits.maxAssets) throw new Rejection("limitReached");
    if (this.assets.some((a) => a.code === asset.code)) throw new Rejection("alreadyExists");
    const copy: AssetConfig = { assetId: asset.assetId, code: asset.code, scale: asset.scale };
    this.assets.push(copy);
    this.pending.push({ type: "assetAdded", sequence: c.sequence, asset: { ...copy } });
  }

  private addMarket(c: AddMarketCommand): void {
    const m = c.market;
    if (
      m.marketId !== this.markets.length + 1 ||
      marketConfigProblem(m) !== null ||
      this.findAsset(m.baseAssetId) === undefined ||
      this.findAsset(m.quoteAssetId) === undefined
    ) {
      throw new Rejection("invalidCommand");
    }
    if (this.markets.length >= this.limits.maxMarkets) throw new Rejection("limitReached");
    if (this.markets.some((x) => x.config.symbol === m.symbol)) throw new Rejection("alreadyExists");
    const config: MarketConfig = copyMarketConfig(m);
    this.markets.push({ config, status: "active", lastPriceTicks: 0, resting: [], stops: [] });
    this.pending.push({ type: "marketAdded", sequence: c.sequence, market: copyMarketConfig(config) });
  }

  private setMarketStatus(c: SetMarketStatusCommand): void {
    const market = this.findMarket(c.marketId);
    if (market === undefined) throw new Rejection("unknownMarket");
    if (!MARKET_STATUSES.includes(c.status)) throw new Rejection("invalidCommand");
    market.status = c.status;
    this.pending.push({
      type: "marketStatusChanged",
      sequence: c.sequence,
      marketId: c.marketId,
      status: c.status,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Books

  private findMarket(marketId: number): Market | undefined {
    return this.markets.find((m) => m.config.marketId === marketId);
  }

  private findAsset(assetId: number): AssetConfig | undefined {
    return this.assets.find((a) => a.assetId === assetId);
  }

  private removeResting(market: Market, order: RestingOrder): void {
    const index = market.resting.indexOf(order);
    if (index < 0) throw new Error(`order ${order.orderId} is not resting`);
    market.resting.splice(index, 1);
  }

  // ---------------------------------------------------------------------------------------------
  // Ledger

  private balanceOf(userId: number, assetId: number): UserBalance {
    return this.users.get(userId)?.get(assetId) ?? { available: 0, held: 0 };
  }

  /**
   * The only way money moves: `amount` from one account to another of the same asset. A non-zero
   * amount marks the user (from, then to) as changed for the command's balance events.
   */
  private transfer(assetId: number, from: Account, to: Account, amount: number): void {
    if (!Number.isSafeInteger(amount) || amount < 0) throw new Error(`bad transfer amount ${amount}`);
    if (amount === 0) return;
    this.post(assetId, from, -amount);
    this.post(assetId, to, amount);
  }

  private post(assetId: number, account: Account, delta: number): void {
    if (account.kind === "system") {
      const byAsset = this.system.get(account.account) as Map<number, number>;
      byAsset.set(assetId, (byAsset.get(assetId) ?? 0) + delta);
      return;
    }
    let byAsset = this.users.get(account.userId);
    if (byAsset === undefined) {
      byAsset = new Map();
      this.users.set(account.userId, byAsset);
    }
    let balance = byAsset.get(assetId);
    if (balance === undefined) {
      balance = { available: 0, held: 0 };
      byAsset.set(assetId, balance);
    }
    if (account.kind === "available") balance.available += delta;
    else balance.held += delta;
    if (!this.changed.some((x) => x.userId === account.userId && x.assetId === assetId)) {
      this.changed.push({ userId: account.userId, assetId });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Whole-state copy (for rejections), view, invariants (reference-view.ts)

  exportState(): CoreStateView {
    return exportReferenceState(this.data());
  }

  checkInvariants(): void {
    checkReferenceInvariants(this.data());
  }

  private data(): ReferenceData {
    return {
      limits: this.limits,
      lastSequence: this.lastSequence,
      nextTradeId: this.nextTradeId,
      assets: this.assets,
      markets: this.markets,
      users: this.users,
      system: this.system,
    };
  }

  private saveState(): string {
    return JSON.stringify({
      lastSequence: this.lastSequence,
      nextTradeId: this.nextTradeId,
      assets: this.assets,
      markets: this.markets,
      users: [...this.users].map(([userId, byAsset]) => [userId, [...byAsset]]),
      system: [...this.system].map(([account, byAsset]) => [account, [...byAsset]]),
    });
  }

  private restoreState(saved: string): void {
    const s = JSON.parse(saved) as {
      lastSequence: number;
      nextTradeId: number;
      assets: AssetConfig[];
      markets: Market[];
      users: [number, [number, UserBalance][]][];
      system: [SystemAccount, [number, number][]][];
    };
    this.lastSequence = s.lastSequence;
    this.nextTradeId = s.nextTradeId;
    this.assets.splice(0, this.assets.length, ...s.assets);
    this.markets.splice(0, this.markets.length, ...s.markets);
    this.users.clear();
    for (const [userId, byAsset] of s.users) this.users.set(userId, new Map(byAsset));
    this.system.clear();
    for (const [account, byAsset] of s.system) this.system.set(account, new Map(byAsset));
  }
}

/** A rejected event echoes the command's user and client order id; a value that is not a safe integer becomes 0. */
function safeOrZero(value: number): number {
  return Number.isSafeInteger(value) ? value : 0;
}

/** How an accepted order's money bounds its fills as it matches. */
function fundingOf(c: PlaceOrderCommand, hold: number, marketTotalSellLots: number): Funding {
  switch (c.orderType) {
    case "limit":
      return c.side === "buy" ? { kind: "limitBuy", limitPriceTicks: c.priceTicks } : { kind: "baseHeld" };
    case "market":
      return c.side === "buy" ? { kind: "budgetBuy", budgetLeft: hold } : { kind: "baseHeld" };
    case "marketTotal":
      return c.side === "buy"
        ? { kind: "totalBuy", quoteLeft: c.quoteAmountUnits }
        : { kind: "totalSell", quoteLeft: c.quoteAmountUnits, heldLotsLeft: marketTotalSellLots };
    case "stopMarket":
      // A stop waits for its trigger; when it fires it matches as a market order (runStopTriggers).
      throw new Error("a stop order does not match when it is placed");
  }
}

function rejectedUserId(command: Command): number {
  switch (command.kind) {
    case "placeOrder":
    case "cancelOrder":
    case "cancelAll":
    case "cancelByClientId":
      return safeOrZero(command.userId);
    case "adjustBalance":
      // An operator command: it names a user only when the id is a valid one.
      return isValidUserId(command.userId) ? command.userId : 0;
    default:
      return 0;
  }
}

function rejectedClientOrderId(command: Command): number {
  return command.kind === "placeOrder" || command.kind === "cancelByClientId"
    ? safeOrZero(command.clientOrderId)
    : 0;
}

// Carrying out an accepted order in the reference core: the hold and orderAccepted, then the stop
// waiting for its trigger, or matching (trades, fees, self-trade prevention) and resting or done;
// then the stop triggers. The checks that decide acceptance are place-order-checks.ts.
//
// Readings of the spec where it leaves room:
// - "the order's own" self-trade policy is the incoming order's (a resting order's policy is
//   only used while it was incoming).
// - Within a trade the changes happen in the order the spec lists them: seller base, buyer
//   base, buyer quote, seller quote.

import type { PlaceOrderCommand, Side } from "../commands.ts";
import { PPM, type SelfTradePrevention } from "../config.ts";
import type { DoneReason } from "../events.ts";
import {
  bestOrder,
  crosses,
  type Market,
  opposite,
  type RestingOrder,
  referenceMulDivCeil,
  restingHold,
} from "./model.ts";
import type { OrderPlan } from "./place-order-checks.ts";
import { type Account, transfer } from "./reference-ledger.ts";
import { type ReferenceState, removeResting } from "./reference-state.ts";

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

/** An accepted order: the hold, orderAccepted, then stop or matching, resting or done, triggers. */
export function executePlaceOrder(s: ReferenceState, c: PlaceOrderCommand, plan: OrderPlan): void {
  const { market, holdAssetId, hold, marketTotalSellLots, stp } = plan;
  const cfg = market.config;
  const isLimit = c.orderType === "limit";
  // Accepted: move the hold, announce the order.
  const orderId = c.sequence;
  transfer(s, holdAssetId, { kind: "available", userId: c.userId }, { kind: "held", userId: c.userId }, hold);
  s.pending.push({
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
    clientOrderText: c.clientOrderText ?? null,
    timeInForce: c.timeInForce,
    postOnly: c.postOnly,
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
    runStopTriggers(s, market, c);
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
  const tradesBefore = s.nextTradeId;
  const end = match(s, market, incoming, c);

  // After matching.
  if (c.orderType === "marketTotal") {
    // marketTotal: no lots to count; done with its reason, releasing the unspent hold.
    const reason: DoneReason =
      end === "selfTrade" ? "selfTrade" : end === "bookExhausted" ? "expired" : "filled";
    finishIncoming(s, market, incoming, reason, 0, c);
  } else if (end === "selfTrade") {
    finishIncoming(s, market, incoming, "selfTrade", incoming.remainingLots, c);
  } else if (end === "insufficientFunds") {
    finishIncoming(s, market, incoming, "insufficientFunds", incoming.remainingLots, c);
  } else if (incoming.remainingLots === 0) {
    finishIncoming(s, market, incoming, "filled", 0, c);
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
    finishIncoming(s, market, incoming, "expired", incoming.remainingLots, c);
  }

  // "Stop triggers run after any command that traded in a market".
  if (s.nextTradeId !== tradesBefore) runStopTriggers(s, market, c);
}

/**
 * "Matching walks the opposite side best price first, oldest order first within a price
 * (price-time priority), while the incoming order has something left and the level price
 * crosses its limit (market orders: any price)."
 */
function match(s: ReferenceState, market: Market, incoming: Incoming, c: PlaceOrderCommand): MatchEnd {
  const cfg = market.config;
  for (;;) {
    if (!hasSomethingLeft(incoming)) return "noneLeft";
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
      removeResting(market, maker);
      releaseResting(s, market, maker, "selfTrade", c);
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

    trade(s, market, incoming, maker, lots, c);
    if (maker.remainingLots === 0) {
      removeResting(market, maker);
      s.pending.push({
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

function hasSomethingLeft(incoming: Incoming): boolean {
  const f = incoming.funding;
  if (f.kind === "totalBuy") return f.quoteLeft > 0;
  if (f.kind === "totalSell") return f.quoteLeft > 0 && f.heldLotsLeft > 0;
  return incoming.remainingLots > 0;
}

/** One trade at the maker's price, with its fees and ledger changes. */
function trade(
  s: ReferenceState,
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

  s.pending.push({
    type: "trade",
    sequence: c.sequence,
    timestampMs: c.timestampMs,
    tradeId: s.nextTradeId,
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
  s.nextTradeId += 1;

  const base = cfg.baseAssetId;
  const quote = cfg.quoteAssetId;
  const fees: Account = { kind: "system", account: "fees" };
  // Seller held base −baseUnits; buyer available base +baseUnits − buyerFee.
  transfer(
    s,
    base,
    { kind: "held", userId: sellerUserId },
    { kind: "available", userId: buyerUserId },
    baseUnits - buyerFee,
  );
  transfer(s, base, { kind: "held", userId: sellerUserId }, fees, buyerFee);
  // Buyer held quote − (limit buyer: qty × limitPrice × unit, the difference to the notional
  // going back to available at once; budget buyer: the notional).
  const buyerHeld: Account = { kind: "held", userId: buyerUserId };
  transfer(s, quote, buyerHeld, { kind: "available", userId: sellerUserId }, notional - sellerFee);
  transfer(s, quote, buyerHeld, fees, sellerFee);
  const buyerLimitPrice = incomingBuys
    ? incoming.funding.kind === "limitBuy"
      ? incoming.funding.limitPriceTicks
      : null
    : maker.priceTicks;
  if (buyerLimitPrice !== null) {
    const limitCost = lots * buyerLimitPrice * cfg.quoteUnitsPerTickLot;
    transfer(s, quote, buyerHeld, { kind: "available", userId: buyerUserId }, limitCost - notional);
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
function incomingHoldLeft(market: Market, incoming: Incoming): number {
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

function finishIncoming(
  s: ReferenceState,
  market: Market,
  incoming: Incoming,
  reason: DoneReason,
  remainingLots: number,
  c: PlaceOrderCommand,
): void {
  const cfg = market.config;
  const released = incomingHoldLeft(market, incoming);
  const assetId = incoming.side === "buy" ? cfg.quoteAssetId : cfg.baseAssetId;
  transfer(
    s,
    assetId,
    { kind: "held", userId: incoming.userId },
    { kind: "available", userId: incoming.userId },
    released,
  );
  s.pending.push({
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
function runStopTriggers(s: ReferenceState, market: Market, c: PlaceOrderCommand): void {
  for (;;) {
    const last = market.lastPriceTicks;
    if (last === 0) return;
    const triggered = market.stops
      .filter((st) => (st.side === "buy" ? last >= st.triggerPriceTicks : last <= st.triggerPriceTicks))
      .sort((a, b) => a.orderId - b.orderId);
    const stop = triggered[0];
    if (stop === undefined) return;
    market.stops.splice(market.stops.indexOf(stop), 1);
    s.pending.push({
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
      funding: stop.side === "buy" ? { kind: "budgetBuy", budgetLeft: stop.heldUnits } : { kind: "baseHeld" },
    };
    const end = match(s, market, incoming, c);
    let reason: DoneReason;
    if (end === "selfTrade") reason = "selfTrade";
    else if (end === "insufficientFunds") reason = "insufficientFunds";
    else if (incoming.remainingLots === 0) reason = "filled";
    else reason = "expired";
    finishIncoming(s, market, incoming, reason, reason === "filled" ? 0 : incoming.remainingLots, c);
  }
}

/** A resting order leaves the book unfilled (cancel or self-trade): release what it holds. */
export function releaseResting(
  s: ReferenceState,
  market: Market,
  order: RestingOrder,
  reason: DoneReason,
  c: { sequence: number },
): void {
  const cfg = market.config;
  const released = restingHold(cfg, order);
  const assetId = order.side === "buy" ? cfg.quoteAssetId : cfg.baseAssetId;
  transfer(
    s,
    assetId,
    { kind: "held", userId: order.userId },
    { kind: "available", userId: order.userId },
    released,
  );
  s.pending.push({
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

// The Matcher: everything that changes the order books. It matches an accepted order against
// the opposite side (price-time priority, self-trade prevention, money limits), rests what is
// left of a GTC limit order, fires triggered stops, and takes orders out of the books (fills
// and cancels), with the ledger moves and events of each step. docs/CORE.md, "Matching" to
// "Stop triggers", is its specification. Core decides whether an order is accepted (its checks);
// the Matcher carries out an accepted order and never rejects.

import { holdFor, policyIndex } from "./admission.ts";
import { feeUnits } from "./arithmetic.ts";
import { assert } from "./assert.ts";
import type { PlaceOrderCommand } from "./commands.ts";
import type { BookSide } from "./engine/book-side.ts";
import type { CommandOutput } from "./engine/command-output.ts";
import type { CoreState } from "./engine/core-state.ts";
import type { MarketState, StopOrder } from "./engine/market-state.ts";
import { NO_SLOT, type OrderPool, SIDE_BUY, SIDE_SELL } from "./engine/order-pool.ts";
import {
  MODE_LIMIT,
  MODE_MARKET,
  MODE_TOTAL,
  STP_CANCEL_BOTH,
  STP_CANCEL_INCOMING,
  Taker,
} from "./engine/taker.ts";
import type { DoneReason } from "./events.ts";
import type { Ledger, UserAccount } from "./ledger/ledger.ts";

export class Matcher {
  private readonly pool: OrderPool;
  private readonly ledger: Ledger;
  /** The order matching now; reused for every order and fired stop. */
  private readonly taker = new Taker();

  constructor(
    private readonly state: CoreState,
    private readonly out: CommandOutput,
  ) {
    this.pool = state.pool;
    this.ledger = state.ledger;
  }

  /**
   * An order Core accepted: moves its hold, announces it (orderAccepted), then matches it and
   * rests or ends it, or keeps it as a stop; then fires the stops that reached their trigger.
   */
  accept(command: PlaceOrderCommand, market: MarketState): void {
    const config = market.config;
    const user = this.ledger.user(command.userId)!;
    const isBuy = command.side === "buy";
    const hold = holdFor(this.state, command, market, user);
    this.ledger.hold(user, isBuy ? config.quoteAssetId : config.baseAssetId, hold);
    const out = this.out;
    out.events.push({
      type: "orderAccepted",
      sequence: out.sequence,
      timestampMs: out.timestampMs,
      orderId: command.sequence,
      userId: command.userId,
      marketId: config.marketId,
      side: command.side,
      orderType: command.orderType,
      priceTicks: command.priceTicks,
      quantityLots: command.quantityLots,
      quoteAmountUnits: command.quoteAmountUnits,
      triggerPriceTicks: command.triggerPriceTicks,
      clientOrderId: command.clientOrderId,
      clientOrderText: command.clientOrderText ?? null,
      timeInForce: command.timeInForce,
      postOnly: command.postOnly,
      heldUnits: hold,
    });
    const policy = policyIndex(command, market);
    if (command.orderType === "stopMarket") {
      this.addStop(command, market, user, hold, policy);
      this.runTriggers(market);
      return;
    }
    // Every field of the reused Taker is set here and in fireStop(), inline: a call per order
    // would take from V8's inlining budget of the whole command path.
    const taker = this.taker;
    // How the order is bounded while it matches (stops returned above). No default: `mode` must
    // be assigned, so the compiler makes a new order type choose here.
    let mode: number;
    switch (command.orderType) {
      case "limit":
        mode = MODE_LIMIT;
        break;
      case "market":
        mode = MODE_MARKET;
        break;
      case "marketTotal":
        mode = MODE_TOTAL;
        break;
    }
    taker.market = market;
    taker.user = user;
    taker.orderId = command.sequence;
    taker.side = isBuy ? SIDE_BUY : SIDE_SELL;
    taker.mode = mode;
    taker.limitPriceTicks = command.priceTicks;
    taker.remainingLots = mode === MODE_TOTAL ? Number.MAX_SAFE_INTEGER : command.quantityLots;
    taker.heldUnits = hold;
    taker.quoteLeftUnits = command.quoteAmountUnits;
    taker.selfTradePrevention = policy;
    const tradeIdBefore = this.state.nextTradeId;
    this.match();
    const rests = mode === MODE_LIMIT && command.timeInForce === "gtc" && taker.stopReason === "expired";
    if (rests && taker.remainingLots > 0) this.rest(command.clientOrderId);
    else this.finishTaker();
    if (this.state.nextTradeId !== tradeIdBefore) this.runTriggers(market);
  }

  private addStop(
    command: PlaceOrderCommand,
    market: MarketState,
    user: UserAccount,
    hold: number,
    policy: number,
  ): void {
    this.state.addStop(
      {
        orderId: command.sequence,
        userId: command.userId,
        marketId: command.marketId,
        side: command.side,
        triggerPriceTicks: command.triggerPriceTicks,
        quantityLots: command.quantityLots,
        heldUnits: hold,
        clientOrderId: command.clientOrderId,
        selfTradePrevention: policy,
      },
      market,
      user,
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Matching

  /** Matches the taker against the opposite side until it is done or cannot trade further. */
  private match(): void {
    const taker = this.taker;
    const market = taker.market!;
    const config = market.config;
    const isBuy = taker.side === SIDE_BUY;
    const opposite = isBuy ? market.asks : market.bids;
    const pool = this.pool;
    const takerUserId = taker.user!.userId;
    const tickLotUnits = config.quoteUnitsPerTickLot;
    taker.stopReason = "expired";
    // Each pass fills or removes one resting order, or stops: bounded by the orders in the book.
    for (let pass = pool.size + 1; pass >= 0; pass--) {
      if (taker.remainingLots === 0) return;
      if (taker.mode === MODE_TOTAL && this.totalUsedUp(isBuy)) {
        taker.stopReason = "filled";
        return;
      }
      const level = opposite.bestLevel();
      if (level === NO_SLOT) return;
      const priceTicks = opposite.levelPrice[level];
      if (
        taker.mode === MODE_LIMIT &&
        (isBuy ? priceTicks > taker.limitPriceTicks : priceTicks < taker.limitPriceTicks)
      )
        return;
      const maker = opposite.levelHead[level];
      if (pool.userId[maker] === takerUserId) {
        if (this.preventSelfTrade(maker, opposite)) return;
        continue;
      }
      let lots = Math.min(taker.remainingLots, pool.remainingLots[maker]);
      if (taker.mode !== MODE_LIMIT) {
        lots = this.affordableLots(lots, priceTicks * tickLotUnits, config.lotSizeBaseUnits, isBuy);
        if (lots === 0) return;
      }
      this.fill(maker, opposite, priceTicks, lots);
    }
    assert(false, "matching did not terminate");
  }

  /** marketTotal: nothing left to spend (buy), or nothing left to receive or to sell (sell). */
  private totalUsedUp(isBuy: boolean): boolean {
    const taker = this.taker;
    if (isBuy) return taker.heldUnits === 0;
    return taker.quoteLeftUnits === 0 || taker.heldUnits === 0;
  }

  /** Applies the taker's self-trade policy to its own resting order; true when matching must stop. */
  private preventSelfTrade(maker: number, opposite: BookSide): boolean {
    const taker = this.taker;
    const policy = taker.selfTradePrevention;
    if (policy === STP_CANCEL_INCOMING) {
      taker.stopReason = "selfTrade";
      return true;
    }
    this.cancelResting(maker, opposite, "selfTrade");
    if (policy === STP_CANCEL_BOTH) {
      taker.stopReason = "selfTrade";
      return true;
    }
    return false;
  }

  /** Lots the taker's money allows at a price; sets the stop reason when it is 0. */
  private affordableLots(
    lots: number,
    lotPriceUnits: number,
    lotSizeBaseUnits: number,
    isBuy: boolean,
  ): number {
    const taker = this.taker;
    if (isBuy) {
      const affordable = Math.min(lots, Math.floor(taker.heldUnits / lotPriceUnits));
      if (affordable === 0) taker.stopReason = taker.mode === MODE_MARKET ? "insufficientFunds" : "filled";
      return affordable;
    }
    if (taker.mode === MODE_MARKET) return lots;
    const byQuote = Math.floor(taker.quoteLeftUnits / lotPriceUnits);
    const byHold = Math.floor(taker.heldUnits / lotSizeBaseUnits);
    const affordable = Math.min(lots, byQuote, byHold);
    if (affordable === 0) taker.stopReason = "filled";
    return affordable;
  }

  private fill(maker: number, opposite: BookSide, priceTicks: number, lots: number): void {
    const taker = this.taker;
    const state = this.state;
    const market = taker.market!;
    const config = market.config;
    const pool = this.pool;
    const ledger = this.ledger;
    const takerUser = taker.user!;
    const makerUser = ledger.user(pool.userId[maker])!;
    const notional = priceTicks * lots * config.quoteUnitsPerTickLot;
    const baseUnits = lots * config.lotSizeBaseUnits;
    const isBuy = taker.side === SIDE_BUY;
    const buyerFee = feeUnits(baseUnits, isBuy ? config.takerFeePpm : config.makerFeePpm);
    const sellerFee = feeUnits(notional, isBuy ? config.makerFeePpm : config.takerFeePpm);
    if (isBuy) {
      ledger.settle(makerUser, takerUser, config.baseAssetId, baseUnits, buyerFee);
      ledger.settle(takerUser, makerUser, config.quoteAssetId, notional, sellerFee);
      if (taker.mode === MODE_LIMIT) {
        const consumed = lots * taker.limitPriceTicks * config.quoteUnitsPerTickLot;
        ledger.release(takerUser, config.quoteAssetId, consumed - notional);
        taker.heldUnits -= consumed;
      } else {
        taker.heldUnits -= notional;
      }
    } else {
      ledger.settle(takerUser, makerUser, config.baseAssetId, baseUnits, buyerFee);
      ledger.settle(makerUser, takerUser, config.quoteAssetId, notional, sellerFee);
      taker.heldUnits -= baseUnits;
      taker.quoteLeftUnits -= notional;
    }
    if (taker.mode !== MODE_TOTAL) taker.remainingLots -= lots;
    const makerOrderId = pool.orderId[maker];
    const out = this.out;
    out.events.push({
      type: "trade",
      sequence: out.sequence,
      timestampMs: out.timestampMs,
      tradeId: state.nextTradeId,
      marketId: config.marketId,
      priceTicks,
      quantityLots: lots,
      notionalUnits: notional,
      takerSide: isBuy ? "buy" : "sell",
      makerOrderId,
      takerOrderId: taker.orderId,
      makerUserId: makerUser.userId,
      takerUserId: takerUser.userId,
      buyerFeeUnits: buyerFee,
      sellerFeeUnits: sellerFee,
    });
    state.nextTradeId += 1;
    market.lastPriceTicks = priceTicks;
    opposite.reduce(maker, lots);
    if (pool.remainingLots[maker] === 0) {
      state.removeResting(maker, opposite, makerUser);
      out.orderDone(makerOrderId, makerUser.userId, config.marketId, "filled", 0, 0);
    }
  }

  /** The taker did not rest: release what it still holds and say how it ended. */
  private finishTaker(): void {
    const taker = this.taker;
    const config = taker.market!.config;
    const user = taker.user!;
    const isBuy = taker.side === SIDE_BUY;
    const remainingLots = taker.mode === MODE_TOTAL ? 0 : taker.remainingLots;
    const reason: DoneReason = taker.mode !== MODE_TOTAL && remainingLots === 0 ? "filled" : taker.stopReason;
    const released = taker.heldUnits;
    this.ledger.release(user, isBuy ? config.quoteAssetId : config.baseAssetId, released);
    this.out.orderDone(taker.orderId, user.userId, config.marketId, reason, remainingLots, released);
  }

  /** A GTC limit order with lots left joins the book. */
  private rest(clientOrderId: number): void {
    const taker = this.taker;
    const market = taker.market!;
    const config = market.config;
    const user = taker.user!;
    const pool = this.pool;
    const isBuy = taker.side === SIDE_BUY;
    const expectedHold = isBuy
      ? taker.remainingLots * taker.limitPriceTicks * config.quoteUnitsPerTickLot
      : taker.remainingLots * config.lotSizeBaseUnits;
    assert(taker.heldUnits === expectedHold, "resting order's hold does not match its remaining size");
    const slot = pool.allocate();
    pool.orderId[slot] = taker.orderId;
    pool.clientOrderId[slot] = clientOrderId;
    pool.userId[slot] = user.userId;
    pool.marketId[slot] = config.marketId;
    pool.side[slot] = taker.side;
    pool.selfTradePrevention[slot] = taker.selfTradePrevention;
    pool.priceTicks[slot] = taker.limitPriceTicks;
    pool.remainingLots[slot] = taker.remainingLots;
    (isBuy ? market.bids : market.asks).append(slot);
    this.state.indexResting(slot, user);
  }

  // ---------------------------------------------------------------------------------------------
  // Stop triggers

  private runTriggers(market: MarketState): void {
    for (let fired = market.stops.length; fired > 0; fired--) {
      const stop = market.nextTriggeredStop();
      if (stop === undefined) return;
      this.fireStop(stop, market);
    }
    assert(market.nextTriggeredStop() === undefined, "a stop fired twice");
  }

  private fireStop(stop: StopOrder, market: MarketState): void {
    const user = this.ledger.user(stop.userId)!;
    this.state.removeStop(stop, market, user);
    const out = this.out;
    out.events.push({
      type: "stopTriggered",
      sequence: out.sequence,
      orderId: stop.orderId,
      userId: stop.userId,
      marketId: stop.marketId,
      lastPriceTicks: market.lastPriceTicks,
    });
    const taker = this.taker;
    taker.market = market;
    taker.user = user;
    taker.orderId = stop.orderId;
    taker.side = stop.side === "buy" ? SIDE_BUY : SIDE_SELL;
    taker.mode = MODE_MARKET;
    taker.limitPriceTicks = 0;
    taker.remainingLots = stop.quantityLots;
    taker.heldUnits = stop.heldUnits;
    taker.quoteLeftUnits = 0;
    taker.selfTradePrevention = stop.selfTradePrevention;
    this.match();
    this.finishTaker();
  }

  // ---------------------------------------------------------------------------------------------
  // Removing orders

  /** Takes a resting order out of its book, releasing its hold, with its orderDone. */
  cancelResting(slot: number, side: BookSide, reason: DoneReason): void {
    const pool = this.pool;
    const config = this.state.markets[pool.marketId[slot] - 1].config;
    const user = this.ledger.user(pool.userId[slot])!;
    const orderId = pool.orderId[slot];
    const remainingLots = pool.remainingLots[slot];
    const isBuy = pool.side[slot] === SIDE_BUY;
    const released = isBuy
      ? remainingLots * pool.priceTicks[slot] * config.quoteUnitsPerTickLot
      : remainingLots * config.lotSizeBaseUnits;
    this.state.removeResting(slot, side, user);
    this.ledger.release(user, isBuy ? config.quoteAssetId : config.baseAssetId, released);
    this.out.orderDone(orderId, user.userId, config.marketId, reason, remainingLots, released);
  }

  /** cancelResting() of the order in `slot`, whichever side it rests on. */
  cancelRestingBySlot(slot: number, reason: DoneReason): void {
    const market = this.state.markets[this.pool.marketId[slot] - 1];
    this.cancelResting(slot, this.pool.side[slot] === SIDE_BUY ? market.bids : market.asks, reason);
  }

  /** Cancels a stop waiting for its trigger, releasing its hold. */
  cancelStop(stop: StopOrder): void {
    const market = this.state.markets[stop.marketId - 1];
    const config = market.config;
    const user = this.ledger.user(stop.userId)!;
    this.state.removeStop(stop, market, user);
    this.ledger.release(user, stop.side === "buy" ? config.quoteAssetId : config.baseAssetId, stop.heldUnits);
    this.out.orderDone(
      stop.orderId,
      stop.userId,
      stop.marketId,
      "cancelled",
      stop.quantityLots,
      stop.heldUnits,
    );
  }
}

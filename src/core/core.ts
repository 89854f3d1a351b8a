// The core: one deterministic state machine holding every order book and the ledger. Commands in,
// events out; no I/O, no clock, no randomness. docs/CORE.md is its specification, and
// src/core/reference/ a naive implementation of the same specification that tests compare it with.

import { createHash } from "node:crypto";
import { feeUnits, mulDivCeil } from "./arithmetic.ts";
import { assert } from "./assert.ts";
import { ByteReader, ByteWriter } from "./bytes.ts";
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
} from "./commands.ts";
import { MAX_REASON_LENGTH } from "./commands.ts";
import {
  type AssetConfig,
  assetConfigProblem,
  BPS,
  type CoreLimits,
  DEFAULT_CORE_LIMITS,
  type MarketConfig,
  marketConfigProblem,
  SELF_TRADE_PREVENTIONS,
} from "./config.ts";
import type { BookSide } from "./engine/book-side.ts";
import { MarketState, type StopOrder } from "./engine/market-state.ts";
import { OrderIdIndex } from "./engine/order-id-index.ts";
import { NO_SLOT, OrderPool, SIDE_BUY, SIDE_SELL } from "./engine/order-pool.ts";
import type { CoreEvent, DoneReason, RejectReason } from "./events.ts";
import { Ledger, SYSTEM_ACCOUNT_INDEX, type UserAccount } from "./ledger/ledger.ts";
import {
  type CoreMachine,
  type CoreStateView,
  type MarketView,
  type RestingOrderView,
  SYSTEM_ACCOUNTS,
  type SystemBalanceView,
  type UserBalanceView,
} from "./state-view.ts";
import { isUserId, placeOrderProblem } from "./validation.ts";

/** How the incoming order's size and money are bounded while it matches. */
const MODE_LIMIT = 0;
/** By base quantity; a buy is also bounded by its budget (the hold). */
const MODE_MARKET = 1;
/** By quote amount: a buy spends at most its hold, a sell receives at most `takerQuoteLeftUnits`. */
const MODE_TOTAL = 2;

const STP_CANCEL_RESTING = 0;
const STP_CANCEL_INCOMING = 1;
const STP_CANCEL_BOTH = 2;

const SNAPSHOT_MAGIC = 0x4b574c42; // "BLWK"
const SNAPSHOT_VERSION = 1;
const MARKET_STATUS_CODES = ["active", "suspended"] as const;
const ORDER_SIDES = ["buy", "sell"] as const;

export class Core implements CoreMachine {
  readonly limits: CoreLimits;
  private readonly pool: OrderPool;
  private readonly orderIndex: OrderIdIndex;
  private readonly ledger: Ledger;
  private readonly assets: AssetConfig[] = [];
  private readonly markets: MarketState[] = [];
  private readonly stopsById = new Map<number, StopOrder>();
  private lastSequenceValue = 0;
  private nextTradeId = 1;
  /** Resting plus stop orders, all markets. */
  private openOrderTotal = 0;

  // The command being applied.
  private events: CoreEvent[] = [];
  private sequence = 0;
  private timestampMs = 0;

  // The incoming (taker) order while it matches. Fields, not an object, so matching allocates nothing.
  private takerMarket: MarketState | null = null;
  private takerUser: UserAccount | null = null;
  private takerOrderId = 0;
  private takerSide = SIDE_BUY;
  private takerMode = MODE_LIMIT;
  private takerLimitPriceTicks = 0;
  private takerRemainingLots = 0;
  /** What the taker still holds (quote for buys, base for sells). */
  private takerHeldUnits = 0;
  /** marketTotal sell: quote it may still receive. */
  private takerQuoteLeftUnits = 0;
  private takerSelfTradePrevention = STP_CANCEL_RESTING;
  /** Why matching stopped, when the order did not fill. */
  private takerStopReason: DoneReason = "expired";
  private readonly scratchOrderIds: number[] = [];

  constructor(limits: Partial<CoreLimits> = {}) {
    this.limits = { ...DEFAULT_CORE_LIMITS, ...limits };
    this.pool = new OrderPool(this.limits.maxOpenOrders);
    this.orderIndex = new OrderIdIndex(this.limits.maxOpenOrders);
    this.ledger = new Ledger(this.limits.maxAssets, this.limits.maxUsers);
  }

  get lastSequence(): number {
    return this.lastSequenceValue;
  }

  /** Resting orders in all books. */
  get restingOrderCount(): number {
    return this.pool.size;
  }

  /** Applies commands in order and appends their events. */
  applyBatch(commands: readonly Command[], events: CoreEvent[]): void {
    assert(commands.length <= this.limits.maxCommandsPerBatch, "batch larger than maxCommandsPerBatch");
    for (let index = 0; index < commands.length; index++) this.apply(commands[index], events);
  }

  apply(command: Command, events: CoreEvent[]): void {
    assert(Number.isSafeInteger(command.sequence), "command sequence must be a safe integer");
    assert(command.sequence > this.lastSequenceValue, "command sequence must increase");
    this.events = events;
    this.sequence = command.sequence;
    this.timestampMs = command.timestampMs;
    this.ledger.beginCommand();
    this.dispatch(command);
    this.lastSequenceValue = command.sequence;
    this.emitBalances();
  }

  private dispatch(command: Command): void {
    switch (command.kind) {
      case "placeOrder":
        return this.placeOrder(command);
      case "cancelOrder":
        return this.cancelOrder(command);
      case "cancelAll":
        return this.cancelAll(command);
      case "cancelByClientId":
        return this.cancelByClientId(command);
      case "adjustBalance":
        return this.adjustBalance(command);
      case "addAsset":
        return this.addAsset(command);
      case "addMarket":
        return this.addMarket(command);
      case "setMarketStatus":
        return this.setMarketStatus(command);
      default:
        return this.reject("invalidCommand", 0, 0);
    }
  }

  private reject(reason: RejectReason, userId: number, clientOrderId: number): void {
    this.events.push({ type: "rejected", sequence: this.sequence, reason, userId, clientOrderId });
  }

  private emitBalances(): void {
    const users = this.ledger.touchedUsers;
    const assets = this.ledger.touchedAssets;
    for (let index = 0; index < this.ledger.touchedCount; index++) {
      const user = users[index];
      const assetId = assets[index];
      this.events.push({
        type: "balance",
        sequence: this.sequence,
        userId: user.userId,
        assetId,
        availableUnits: this.ledger.available(user, assetId),
        heldUnits: this.ledger.held(user, assetId),
      });
    }
  }

  private market(marketId: number): MarketState | undefined {
    return Number.isInteger(marketId) && marketId >= 1 ? this.markets[marketId - 1] : undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // placeOrder

  private placeOrder(command: PlaceOrderCommand): void {
    const userIdForReject = Number.isSafeInteger(command.userId) ? command.userId : 0;
    const clientIdForReject = Number.isSafeInteger(command.clientOrderId) ? command.clientOrderId : 0;
    const market = this.market(command.marketId);
    if (market === undefined) return this.reject("unknownMarket", userIdForReject, clientIdForReject);
    if (market.status !== "active") return this.reject("marketSuspended", userIdForReject, clientIdForReject);
    const problem = placeOrderProblem(command, market.config);
    if (problem !== null) return this.reject(problem, userIdForReject, clientIdForReject);
    const reason = this.admissionProblem(command, market);
    if (reason !== null) return this.reject(reason, command.userId, command.clientOrderId);
    this.acceptOrder(command, market);
  }

  /** Steps 7 to 11 of CORE.md: limits, liquidity, funds, post-only, FOK. */
  private admissionProblem(command: PlaceOrderCommand, market: MarketState): RejectReason | null {
    const user = this.ledger.user(command.userId);
    if (user !== undefined && user.openOrderCount >= this.limits.maxOpenOrdersPerUser)
      return "tooManyOpenOrders";
    if (command.orderType === "stopMarket" && market.stops.length >= this.limits.maxStopOrdersPerMarket)
      return "tooManyStopOrders";
    if (this.openOrderTotal >= this.limits.maxOpenOrders) return "limitReached";
    const isBuy = command.side === "buy";
    const opposite = isBuy ? market.asks : market.bids;
    const isMarketOrder = command.orderType === "market" || command.orderType === "marketTotal";
    if (isMarketOrder && opposite.levelCount === 0) return "noLiquidity";
    if (user === undefined) return "insufficientFunds";
    this.ledger.ensureAssetSlots(user);
    const hold = this.holdFor(command, market, user);
    if (hold <= 0) return "insufficientFunds";
    const heldAsset = isBuy ? market.config.quoteAssetId : market.config.baseAssetId;
    if (this.ledger.available(user, heldAsset) < hold) return "insufficientFunds";
    if (command.postOnly && this.crosses(opposite, isBuy, command.priceTicks)) return "postOnlyWouldTake";
    if (command.timeInForce === "fok" && !this.canFillCompletely(command, market)) return "fokCannotFill";
    return null;
  }

  /** What the order holds at acceptance (docs/CORE.md table); 0 when it cannot be afforded at all. */
  private holdFor(command: PlaceOrderCommand, market: MarketState, user: UserAccount): number {
    const config = market.config;
    const isBuy = command.side === "buy";
    const unit = config.quoteUnitsPerTickLot;
    switch (command.orderType) {
      case "limit":
        return isBuy
          ? command.priceTicks * command.quantityLots * unit
          : command.quantityLots * config.lotSizeBaseUnits;
      case "market": {
        if (!isBuy) return command.quantityLots * config.lotSizeBaseUnits;
        const available = this.ledger.available(user, config.quoteAssetId);
        return available >= market.asks.bestPrice() * unit ? available : 0;
      }
      case "marketTotal": {
        if (isBuy) return command.quoteAmountUnits;
        const availableLots = Math.floor(
          this.ledger.available(user, config.baseAssetId) / config.lotSizeBaseUnits,
        );
        return Math.min(availableLots, config.maxQuantityLots) * config.lotSizeBaseUnits;
      }
      case "stopMarket": {
        if (!isBuy) return command.quantityLots * config.lotSizeBaseUnits;
        const notional = command.triggerPriceTicks * command.quantityLots * unit;
        return mulDivCeil(notional, BPS + config.stopBuySlippageBps, BPS);
      }
    }
  }

  private crosses(opposite: BookSide, isBuy: boolean, limitPriceTicks: number): boolean {
    if (opposite.levelCount === 0) return false;
    const best = opposite.bestPrice();
    return isBuy ? best <= limitPriceTicks : best >= limitPriceTicks;
  }

  /** FOK: simulates matching exactly (with self-trade prevention) without changing anything. */
  private canFillCompletely(command: PlaceOrderCommand, market: MarketState): boolean {
    const isBuy = command.side === "buy";
    const opposite = isBuy ? market.asks : market.bids;
    const policy = this.policyIndex(command, market);
    const pool = this.pool;
    let needed = command.quantityLots;
    for (let index = opposite.levelSlots.length - 1; index >= 0 && needed > 0; index--) {
      const price = opposite.prices[index];
      if (isBuy ? price > command.priceTicks : price < command.priceTicks) return false;
      const level = opposite.levelSlots[index];
      for (
        let slot = opposite.levelHead[level];
        slot !== NO_SLOT && needed > 0;
        slot = pool.nextInLevel[slot]
      ) {
        if (pool.userId[slot] === command.userId) {
          if (policy === STP_CANCEL_RESTING) continue;
          return false;
        }
        needed -= pool.remainingLots[slot];
      }
    }
    return needed <= 0;
  }

  private policyIndex(command: PlaceOrderCommand, market: MarketState): number {
    const own = command.selfTradePrevention;
    return own === null ? market.defaultSelfTradePrevention : SELF_TRADE_PREVENTIONS.indexOf(own);
  }

  private acceptOrder(command: PlaceOrderCommand, market: MarketState): void {
    const config = market.config;
    const user = this.ledger.user(command.userId)!;
    const isBuy = command.side === "buy";
    const hold = this.holdFor(command, market, user);
    this.ledger.hold(user, isBuy ? config.quoteAssetId : config.baseAssetId, hold);
    const orderId = command.sequence;
    this.events.push({
      type: "orderAccepted",
      sequence: this.sequence,
      timestampMs: this.timestampMs,
      orderId,
      userId: command.userId,
      marketId: config.marketId,
      side: command.side,
      orderType: command.orderType,
      priceTicks: command.priceTicks,
      quantityLots: command.quantityLots,
      quoteAmountUnits: command.quoteAmountUnits,
      triggerPriceTicks: command.triggerPriceTicks,
      clientOrderId: command.clientOrderId,
      heldUnits: hold,
    });
    const policy = this.policyIndex(command, market);
    if (command.orderType === "stopMarket") {
      this.addStop(command, market, user, hold, policy);
      this.runTriggers(market);
      return;
    }
    this.takerMarket = market;
    this.takerUser = user;
    this.takerOrderId = orderId;
    this.takerSide = isBuy ? SIDE_BUY : SIDE_SELL;
    this.takerMode =
      command.orderType === "limit" ? MODE_LIMIT : command.orderType === "market" ? MODE_MARKET : MODE_TOTAL;
    this.takerLimitPriceTicks = command.priceTicks;
    this.takerRemainingLots = this.takerMode === MODE_TOTAL ? Number.MAX_SAFE_INTEGER : command.quantityLots;
    this.takerHeldUnits = hold;
    this.takerQuoteLeftUnits = command.quoteAmountUnits;
    this.takerSelfTradePrevention = policy;
    const tradeIdBefore = this.nextTradeId;
    this.match();
    const rests =
      this.takerMode === MODE_LIMIT && command.timeInForce === "gtc" && this.takerStopReason === "expired";
    if (rests && this.takerRemainingLots > 0) this.rest(command.clientOrderId);
    else this.finishTaker();
    if (this.nextTradeId !== tradeIdBefore) this.runTriggers(market);
  }

  private addStop(
    command: PlaceOrderCommand,
    market: MarketState,
    user: UserAccount,
    hold: number,
    policy: number,
  ): void {
    const stop: StopOrder = {
      orderId: command.sequence,
      userId: command.userId,
      marketId: command.marketId,
      side: command.side,
      triggerPriceTicks: command.triggerPriceTicks,
      quantityLots: command.quantityLots,
      heldUnits: hold,
      clientOrderId: command.clientOrderId,
      selfTradePrevention: policy,
    };
    market.stops.push(stop);
    this.stopsById.set(stop.orderId, stop);
    user.openOrderCount += 1;
    this.openOrderTotal += 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Matching

  /** Matches the taker against the opposite side until it is done or cannot trade further. */
  private match(): void {
    const market = this.takerMarket!;
    const config = market.config;
    const isBuy = this.takerSide === SIDE_BUY;
    const opposite = isBuy ? market.asks : market.bids;
    const pool = this.pool;
    const takerUserId = this.takerUser!.userId;
    const tickLotUnits = config.quoteUnitsPerTickLot;
    this.takerStopReason = "expired";
    // Each pass fills or removes one resting order, or stops: bounded by the orders in the book.
    for (let pass = pool.size + 1; pass >= 0; pass--) {
      if (this.takerRemainingLots === 0) return;
      if (this.takerMode === MODE_TOTAL && this.totalUsedUp(isBuy)) {
        this.takerStopReason = "filled";
        return;
      }
      const level = opposite.bestLevel();
      if (level === NO_SLOT) return;
      const priceTicks = opposite.levelPrice[level];
      if (
        this.takerMode === MODE_LIMIT &&
        (isBuy ? priceTicks > this.takerLimitPriceTicks : priceTicks < this.takerLimitPriceTicks)
      )
        return;
      const maker = opposite.levelHead[level];
      if (pool.userId[maker] === takerUserId) {
        if (this.preventSelfTrade(maker, opposite)) return;
        continue;
      }
      let lots = Math.min(this.takerRemainingLots, pool.remainingLots[maker]);
      if (this.takerMode !== MODE_LIMIT) {
        lots = this.affordableLots(lots, priceTicks * tickLotUnits, config.lotSizeBaseUnits, isBuy);
        if (lots === 0) return;
      }
      this.fill(maker, opposite, priceTicks, lots);
    }
    assert(false, "matching did not terminate");
  }

  /** marketTotal: nothing left to spend (buy), or nothing left to receive or to sell (sell). */
  private totalUsedUp(isBuy: boolean): boolean {
    if (isBuy) return this.takerHeldUnits === 0;
    return this.takerQuoteLeftUnits === 0 || this.takerHeldUnits === 0;
  }

  /** Applies the taker's self-trade policy to its own resting order; true when matching must stop. */
  private preventSelfTrade(maker: number, opposite: BookSide): boolean {
    const policy = this.takerSelfTradePrevention;
    if (policy === STP_CANCEL_INCOMING) {
      this.takerStopReason = "selfTrade";
      return true;
    }
    this.cancelResting(maker, opposite, "selfTrade");
    if (policy === STP_CANCEL_BOTH) {
      this.takerStopReason = "selfTrade";
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
    if (isBuy) {
      const affordable = Math.min(lots, Math.floor(this.takerHeldUnits / lotPriceUnits));
      if (affordable === 0)
        this.takerStopReason = this.takerMode === MODE_MARKET ? "insufficientFunds" : "filled";
      return affordable;
    }
    if (this.takerMode === MODE_MARKET) return lots;
    const byQuote = Math.floor(this.takerQuoteLeftUnits / lotPriceUnits);
    const byHold = Math.floor(this.takerHeldUnits / lotSizeBaseUnits);
    const affordable = Math.min(lots, byQuote, byHold);
    if (affordable === 0) this.takerStopReason = "filled";
    return affordable;
  }

  private fill(maker: number, opposite: BookSide, priceTicks: number, lots: number): void {
    const market = this.takerMarket!;
    const config = market.config;
    const pool = this.pool;
    const ledger = this.ledger;
    const taker = this.takerUser!;
    const makerUser = ledger.user(pool.userId[maker])!;
    const notional = priceTicks * lots * config.quoteUnitsPerTickLot;
    const baseUnits = lots * config.lotSizeBaseUnits;
    const isBuy = this.takerSide === SIDE_BUY;
    const buyerFee = feeUnits(baseUnits, isBuy ? config.takerFeePpm : config.makerFeePpm);
    const sellerFee = feeUnits(notional, isBuy ? config.makerFeePpm : config.takerFeePpm);
    if (isBuy) {
      ledger.settle(makerUser, taker, config.baseAssetId, baseUnits, buyerFee);
      ledger.settle(taker, makerUser, config.quoteAssetId, notional, sellerFee);
      if (this.takerMode === MODE_LIMIT) {
        const consumed = lots * this.takerLimitPriceTicks * config.quoteUnitsPerTickLot;
        ledger.release(taker, config.quoteAssetId, consumed - notional);
        this.takerHeldUnits -= consumed;
      } else {
        this.takerHeldUnits -= notional;
      }
    } else {
      ledger.settle(taker, makerUser, config.baseAssetId, baseUnits, buyerFee);
      ledger.settle(makerUser, taker, config.quoteAssetId, notional, sellerFee);
      this.takerHeldUnits -= baseUnits;
      this.takerQuoteLeftUnits -= notional;
    }
    if (this.takerMode !== MODE_TOTAL) this.takerRemainingLots -= lots;
    const makerOrderId = pool.orderId[maker];
    this.events.push({
      type: "trade",
      sequence: this.sequence,
      timestampMs: this.timestampMs,
      tradeId: this.nextTradeId,
      marketId: config.marketId,
      priceTicks,
      quantityLots: lots,
      notionalUnits: notional,
      takerSide: isBuy ? "buy" : "sell",
      makerOrderId,
      takerOrderId: this.takerOrderId,
      makerUserId: makerUser.userId,
      takerUserId: taker.userId,
      buyerFeeUnits: buyerFee,
      sellerFeeUnits: sellerFee,
    });
    this.nextTradeId += 1;
    market.lastPriceTicks = priceTicks;
    opposite.reduce(maker, lots);
    if (pool.remainingLots[maker] === 0) {
      this.removeResting(maker, opposite, makerUser);
      this.pushDone(makerOrderId, makerUser.userId, config.marketId, "filled", 0, 0);
    }
  }

  /** The taker did not rest: release what it still holds and say how it ended. */
  private finishTaker(): void {
    const market = this.takerMarket!;
    const config = market.config;
    const user = this.takerUser!;
    const isBuy = this.takerSide === SIDE_BUY;
    const remainingLots = this.takerMode === MODE_TOTAL ? 0 : this.takerRemainingLots;
    const reason: DoneReason =
      this.takerMode !== MODE_TOTAL && remainingLots === 0 ? "filled" : this.takerStopReason;
    const released = this.takerHeldUnits;
    this.ledger.release(user, isBuy ? config.quoteAssetId : config.baseAssetId, released);
    this.pushDone(this.takerOrderId, user.userId, config.marketId, reason, remainingLots, released);
  }

  /** A GTC limit order with lots left joins the book. */
  private rest(clientOrderId: number): void {
    const market = this.takerMarket!;
    const config = market.config;
    const user = this.takerUser!;
    const pool = this.pool;
    const isBuy = this.takerSide === SIDE_BUY;
    const expectedHold = isBuy
      ? this.takerRemainingLots * this.takerLimitPriceTicks * config.quoteUnitsPerTickLot
      : this.takerRemainingLots * config.lotSizeBaseUnits;
    assert(this.takerHeldUnits === expectedHold, "resting order's hold does not match its remaining size");
    const slot = pool.allocate();
    pool.orderId[slot] = this.takerOrderId;
    pool.clientOrderId[slot] = clientOrderId;
    pool.userId[slot] = user.userId;
    pool.marketId[slot] = config.marketId;
    pool.side[slot] = this.takerSide;
    pool.selfTradePrevention[slot] = this.takerSelfTradePrevention;
    pool.priceTicks[slot] = this.takerLimitPriceTicks;
    pool.remainingLots[slot] = this.takerRemainingLots;
    (isBuy ? market.bids : market.asks).append(slot);
    this.linkToUser(slot, user);
    this.orderIndex.set(this.takerOrderId, slot);
    user.openOrderCount += 1;
    this.openOrderTotal += 1;
  }

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
    this.removeStop(stop, market, user);
    this.events.push({
      type: "stopTriggered",
      sequence: this.sequence,
      orderId: stop.orderId,
      userId: stop.userId,
      marketId: stop.marketId,
      lastPriceTicks: market.lastPriceTicks,
    });
    this.takerMarket = market;
    this.takerUser = user;
    this.takerOrderId = stop.orderId;
    this.takerSide = stop.side === "buy" ? SIDE_BUY : SIDE_SELL;
    this.takerMode = MODE_MARKET;
    this.takerLimitPriceTicks = 0;
    this.takerRemainingLots = stop.quantityLots;
    this.takerHeldUnits = stop.heldUnits;
    this.takerQuoteLeftUnits = 0;
    this.takerSelfTradePrevention = stop.selfTradePrevention;
    this.match();
    this.finishTaker();
  }

  // ---------------------------------------------------------------------------------------------
  // Removing orders

  private cancelResting(slot: number, side: BookSide, reason: DoneReason): void {
    const pool = this.pool;
    const market = this.markets[pool.marketId[slot] - 1];
    const config = market.config;
    const user = this.ledger.user(pool.userId[slot])!;
    const orderId = pool.orderId[slot];
    const remainingLots = pool.remainingLots[slot];
    const isBuy = pool.side[slot] === SIDE_BUY;
    const released = isBuy
      ? remainingLots * pool.priceTicks[slot] * config.quoteUnitsPerTickLot
      : remainingLots * config.lotSizeBaseUnits;
    this.removeResting(slot, side, user);
    this.ledger.release(user, isBuy ? config.quoteAssetId : config.baseAssetId, released);
    this.pushDone(orderId, user.userId, config.marketId, reason, remainingLots, released);
  }

  private removeResting(slot: number, side: BookSide, user: UserAccount): void {
    side.remove(slot);
    this.unlinkFromUser(slot, user);
    this.orderIndex.delete(this.pool.orderId[slot]);
    this.pool.free(slot);
    user.openOrderCount -= 1;
    this.openOrderTotal -= 1;
  }

  private cancelStop(stop: StopOrder): void {
    const market = this.markets[stop.marketId - 1];
    const config = market.config;
    const user = this.ledger.user(stop.userId)!;
    this.removeStop(stop, market, user);
    this.ledger.release(user, stop.side === "buy" ? config.quoteAssetId : config.baseAssetId, stop.heldUnits);
    this.pushDone(stop.orderId, stop.userId, stop.marketId, "cancelled", stop.quantityLots, stop.heldUnits);
  }

  private removeStop(stop: StopOrder, market: MarketState, user: UserAccount): void {
    market.removeStop(stop);
    this.stopsById.delete(stop.orderId);
    user.openOrderCount -= 1;
    this.openOrderTotal -= 1;
  }

  private pushDone(
    orderId: number,
    userId: number,
    marketId: number,
    reason: DoneReason,
    remainingLots: number,
    releasedUnits: number,
  ): void {
    this.events.push({
      type: "orderDone",
      sequence: this.sequence,
      orderId,
      userId,
      marketId,
      reason,
      remainingLots,
      releasedUnits,
    });
  }

  private linkToUser(slot: number, user: UserAccount): void {
    const pool = this.pool;
    const head = user.restingOrderHead;
    pool.previousOfUser[slot] = NO_SLOT;
    pool.nextOfUser[slot] = head;
    if (head !== NO_SLOT) pool.previousOfUser[head] = slot;
    user.restingOrderHead = slot;
  }

  private unlinkFromUser(slot: number, user: UserAccount): void {
    const pool = this.pool;
    const previous = pool.previousOfUser[slot];
    const next = pool.nextOfUser[slot];
    if (previous === NO_SLOT) user.restingOrderHead = next;
    else pool.nextOfUser[previous] = next;
    if (next !== NO_SLOT) pool.previousOfUser[next] = previous;
  }

  // ---------------------------------------------------------------------------------------------
  // Cancels

  private cancelOrder(command: CancelOrderCommand): void {
    const userId = Number.isSafeInteger(command.userId) ? command.userId : 0;
    const slot =
      Number.isSafeInteger(command.orderId) && command.orderId > 0
        ? this.orderIndex.get(command.orderId)
        : NO_SLOT;
    if (slot !== NO_SLOT && this.pool.userId[slot] === userId) {
      return this.cancelRestingBySlot(slot, "cancelled");
    }
    const stop = this.stopsById.get(command.orderId);
    if (stop !== undefined && stop.userId === userId) return this.cancelStop(stop);
    this.reject("orderNotFound", userId, 0);
  }

  private cancelRestingBySlot(slot: number, reason: DoneReason): void {
    const market = this.markets[this.pool.marketId[slot] - 1];
    this.cancelResting(slot, this.pool.side[slot] === SIDE_BUY ? market.bids : market.asks, reason);
  }

  private cancelAll(command: CancelAllCommand): void {
    const userId = isUserId(command.userId) ? command.userId : 0;
    if (command.marketId !== 0 && this.market(command.marketId) === undefined)
      return this.reject("unknownMarket", userId, 0);
    this.cancelMatching(userId, command.marketId, 0);
  }

  private cancelByClientId(command: CancelByClientIdCommand): void {
    const userId = isUserId(command.userId) ? command.userId : 0;
    const clientOrderId = command.clientOrderId;
    if (!Number.isSafeInteger(clientOrderId) || clientOrderId <= 0)
      return this.reject("invalidCommand", userId, 0);
    if (command.marketId !== 0 && this.market(command.marketId) === undefined)
      return this.reject("unknownMarket", userId, clientOrderId);
    if (this.cancelMatching(userId, command.marketId, clientOrderId) === 0)
      this.reject("orderNotFound", userId, clientOrderId);
  }

  /** Cancels the user's open orders in a market (0: all) with a client id (0: any), by ascending id. */
  private cancelMatching(userId: number, marketId: number, clientOrderId: number): number {
    const user = this.ledger.user(userId);
    if (user === undefined) return 0;
    const pool = this.pool;
    const orderIds = this.scratchOrderIds;
    orderIds.length = 0;
    for (let slot = user.restingOrderHead; slot !== NO_SLOT; slot = pool.nextOfUser[slot]) {
      if (marketId !== 0 && pool.marketId[slot] !== marketId) continue;
      if (clientOrderId !== 0 && pool.clientOrderId[slot] !== clientOrderId) continue;
      orderIds.push(pool.orderId[slot]);
    }
    for (const stop of this.stopsById.values()) {
      if (stop.userId !== userId || (marketId !== 0 && stop.marketId !== marketId)) continue;
      if (clientOrderId !== 0 && stop.clientOrderId !== clientOrderId) continue;
      orderIds.push(stop.orderId);
    }
    orderIds.sort((a, b) => a - b);
    for (const orderId of orderIds) {
      const slot = this.orderIndex.get(orderId);
      if (slot !== NO_SLOT) this.cancelRestingBySlot(slot, "cancelled");
      else this.cancelStop(this.stopsById.get(orderId)!);
    }
    return orderIds.length;
  }

  // ---------------------------------------------------------------------------------------------
  // Operator commands

  private adjustBalance(command: AdjustBalanceCommand): void {
    const { userId, assetId, amountUnits, reason } = command;
    const reasonOk = typeof reason === "string" && reason.length >= 1 && reason.length <= MAX_REASON_LENGTH;
    if (!isUserId(userId) || !Number.isSafeInteger(amountUnits) || amountUnits === 0 || !reasonOk)
      return this.reject("invalidCommand", isUserId(userId) ? userId : 0, 0);
    if (!Number.isInteger(assetId) || assetId < 1 || assetId > this.assets.length)
      return this.reject("unknownAsset", userId, 0);
    let user = this.ledger.user(userId);
    if (amountUnits < 0) {
      if (user === undefined) return this.reject("insufficientFunds", userId, 0);
      this.ledger.ensureAssetSlots(user);
      if (this.ledger.available(user, assetId) < -amountUnits)
        return this.reject("insufficientFunds", userId, 0);
    } else {
      if (!this.ledger.canCredit(assetId, amountUnits)) return this.reject("limitReached", userId, 0);
      if (user === undefined && this.ledger.users.size >= this.limits.maxUsers)
        return this.reject("tooManyUsers", userId, 0);
    }
    user ??= this.ledger.createUser(userId);
    this.ledger.ensureAssetSlots(user);
    this.ledger.adjust(user, assetId, amountUnits);
    this.events.push({
      type: "balanceAdjusted",
      sequence: this.sequence,
      timestampMs: this.timestampMs,
      userId,
      assetId,
      amountUnits,
      reason,
    });
  }

  private addAsset(command: AddAssetCommand): void {
    const asset = command.asset;
    const problem = typeof asset === "object" && asset !== null ? assetConfigProblem(asset) : "missing";
    if (problem !== null || asset.assetId !== this.assets.length + 1)
      return this.reject("invalidCommand", 0, 0);
    if (this.assets.length >= this.limits.maxAssets) return this.reject("limitReached", 0, 0);
    if (this.assets.some((existing) => existing.code === asset.code))
      return this.reject("alreadyExists", 0, 0);
    this.installAsset({ ...asset });
    this.events.push({ type: "assetAdded", sequence: this.sequence, asset: { ...asset } });
  }

  private installAsset(asset: AssetConfig): void {
    this.assets.push(asset);
    this.ledger.assetCount = this.assets.length;
  }

  private addMarket(command: AddMarketCommand): void {
    const market = command.market;
    const problem = typeof market === "object" && market !== null ? marketConfigProblem(market) : "missing";
    const assetsExist =
      problem === null && this.assetExists(market.baseAssetId) && this.assetExists(market.quoteAssetId);
    if (!assetsExist || market.marketId !== this.markets.length + 1)
      return this.reject("invalidCommand", 0, 0);
    if (this.markets.length >= this.limits.maxMarkets) return this.reject("limitReached", 0, 0);
    if (this.markets.some((existing) => existing.config.symbol === market.symbol))
      return this.reject("alreadyExists", 0, 0);
    this.markets.push(new MarketState({ ...market }, this.pool));
    this.events.push({ type: "marketAdded", sequence: this.sequence, market: { ...market } });
  }

  private assetExists(assetId: number): boolean {
    return Number.isInteger(assetId) && assetId >= 1 && assetId <= this.assets.length;
  }

  private setMarketStatus(command: SetMarketStatusCommand): void {
    const market = this.market(command.marketId);
    if (market === undefined) return this.reject("unknownMarket", 0, 0);
    if (command.status !== "active" && command.status !== "suspended")
      return this.reject("invalidCommand", 0, 0);
    market.status = command.status;
    this.events.push({
      type: "marketStatusChanged",
      sequence: this.sequence,
      marketId: market.config.marketId,
      status: command.status,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Reading state

  assetList(): readonly AssetConfig[] {
    return this.assets;
  }

  marketList(): readonly MarketConfig[] {
    return this.markets.map((market) => market.config);
  }

  /** A user's balance of an asset (zeros for unknown users). */
  balance(userId: number, assetId: number): { availableUnits: number; heldUnits: number } {
    const user = this.ledger.user(userId);
    if (user === undefined || !this.assetExists(assetId)) return { availableUnits: 0, heldUnits: 0 };
    return {
      availableUnits: this.balanceField(user, assetId, 0),
      heldUnits: this.balanceField(user, assetId, 1),
    };
  }

  private balanceField(user: UserAccount, assetId: number, field: 0 | 1): number {
    return user.balances[assetId * 3 + field] ?? 0;
  }

  private restingView(slot: number): RestingOrderView {
    const pool = this.pool;
    return {
      orderId: pool.orderId[slot],
      userId: pool.userId[slot],
      side: ORDER_SIDES[pool.side[slot]],
      priceTicks: pool.priceTicks[slot],
      remainingLots: pool.remainingLots[slot],
      clientOrderId: pool.clientOrderId[slot],
      selfTradePrevention: SELF_TRADE_PREVENTIONS[pool.selfTradePrevention[slot]],
    };
  }

  /** Resting orders of a side, best price first, oldest first within a price. */
  private sideOrders(side: BookSide): RestingOrderView[] {
    const orders: RestingOrderView[] = [];
    for (let index = side.levelSlots.length - 1; index >= 0; index--) {
      for (
        let slot = side.levelHead[side.levelSlots[index]];
        slot !== NO_SLOT;
        slot = this.pool.nextInLevel[slot]
      ) {
        orders.push(this.restingView(slot));
      }
    }
    return orders;
  }

  exportState(): CoreStateView {
    const markets: MarketView[] = this.markets.map((market) => ({
      config: { ...market.config },
      status: market.status,
      lastPriceTicks: market.lastPriceTicks,
      bids: this.sideOrders(market.bids),
      asks: this.sideOrders(market.asks),
      stops: market.stops.map((stop) => ({
        orderId: stop.orderId,
        userId: stop.userId,
        side: stop.side,
        triggerPriceTicks: stop.triggerPriceTicks,
        quantityLots: stop.quantityLots,
        heldUnits: stop.heldUnits,
        clientOrderId: stop.clientOrderId,
        selfTradePrevention: SELF_TRADE_PREVENTIONS[stop.selfTradePrevention],
      })),
    }));
    const userBalances: UserBalanceView[] = [];
    const userIds = [...this.ledger.users.keys()].sort((a, b) => a - b);
    for (const userId of userIds) {
      const user = this.ledger.user(userId)!;
      for (let assetId = 1; assetId <= this.assets.length; assetId++) {
        const availableUnits = this.balanceField(user, assetId, 0);
        const heldUnits = this.balanceField(user, assetId, 1);
        if (availableUnits !== 0 || heldUnits !== 0)
          userBalances.push({ userId, assetId, availableUnits, heldUnits });
      }
    }
    const systemBalances: SystemBalanceView[] = [];
    for (const account of SYSTEM_ACCOUNTS) {
      for (let assetId = 1; assetId <= this.assets.length; assetId++) {
        const balanceUnits = this.ledger.systemBalance(SYSTEM_ACCOUNT_INDEX[account], assetId);
        if (balanceUnits !== 0) systemBalances.push({ account, assetId, balanceUnits });
      }
    }
    return {
      lastSequence: this.lastSequenceValue,
      nextTradeId: this.nextTradeId,
      assets: this.assets.map((asset) => ({ ...asset })),
      markets,
      userBalances,
      systemBalances,
      userCount: this.ledger.users.size,
    };
  }

  /** Throws if any ledger or book invariant is broken. O(orders + users × assets). */
  checkInvariants(): void {
    for (const user of this.ledger.users.values()) this.ledger.ensureAssetSlots(user);
    this.ledger.checkSums(this.assets.length);
    // What open orders need, per user: [open order count, held of asset 1, held of asset 2, …].
    const needs = new Map<number, Float64Array>();
    const addHeld = (userId: number, assetId: number, units: number): void => {
      let need = needs.get(userId);
      if (need === undefined) {
        need = new Float64Array(this.assets.length + 1);
        needs.set(userId, need);
      }
      need[0] += 1;
      need[assetId] += units;
    };
    let resting = 0;
    for (const market of this.markets) {
      const config = market.config;
      resting += this.checkSide(market.bids, config, (slot) =>
        addHeld(
          this.pool.userId[slot],
          config.quoteAssetId,
          this.pool.remainingLots[slot] * this.pool.priceTicks[slot] * config.quoteUnitsPerTickLot,
        ),
      );
      resting += this.checkSide(market.asks, config, (slot) =>
        addHeld(
          this.pool.userId[slot],
          config.baseAssetId,
          this.pool.remainingLots[slot] * config.lotSizeBaseUnits,
        ),
      );
      if (market.bids.levelCount > 0 && market.asks.levelCount > 0)
        assert(market.bids.bestPrice() < market.asks.bestPrice(), `market ${config.symbol} is crossed`);
      for (const stop of market.stops) {
        addHeld(stop.userId, stop.side === "buy" ? config.quoteAssetId : config.baseAssetId, stop.heldUnits);
        assert(this.stopsById.get(stop.orderId) === stop, "stop missing from the id map");
      }
    }
    assert(resting === this.pool.size && resting === this.orderIndex.size, "resting order count mismatch");
    assert(this.openOrderTotal === resting + this.stopsById.size, "open order total mismatch");
    for (const user of this.ledger.users.values()) {
      const need = needs.get(user.userId);
      assert(user.openOrderCount === (need?.[0] ?? 0), `user ${user.userId} open order count`);
      for (let assetId = 1; assetId <= this.assets.length; assetId++) {
        const expected = need?.[assetId] ?? 0;
        const held = this.ledger.held(user, assetId);
        assert(
          held === expected,
          `user ${user.userId} holds ${held} of asset ${assetId}, orders need ${expected}`,
        );
      }
    }
    assert(
      needs.size === 0 || [...needs.keys()].every((userId) => this.ledger.user(userId) !== undefined),
      "order of an unknown user",
    );
  }

  /** Checks one book side's ordering and level totals; returns its order count. */
  private checkSide(side: BookSide, config: MarketConfig, visit: (slot: number) => void): number {
    const pool = this.pool;
    let count = 0;
    for (let index = 0; index < side.levelSlots.length; index++) {
      const level = side.levelSlots[index];
      const price = side.prices[index];
      assert(side.levelPrice[level] === price, "level price mismatch");
      if (index > 0)
        assert(
          side.isBid ? side.prices[index - 1] < price : side.prices[index - 1] > price,
          "prices not sorted",
        );
      let total = 0;
      let previous = NO_SLOT;
      for (let slot = side.levelHead[level]; slot !== NO_SLOT; slot = pool.nextInLevel[slot]) {
        assert(pool.priceTicks[slot] === price && pool.levelSlot[slot] === level, "order in the wrong level");
        assert(pool.previousInLevel[slot] === previous, "broken level links");
        assert(pool.remainingLots[slot] > 0, "empty order in the book");
        assert(pool.marketId[slot] === config.marketId, "order in the wrong market");
        assert(this.orderIndex.get(pool.orderId[slot]) === slot, "order missing from the id index");
        total += pool.remainingLots[slot];
        previous = slot;
        visit(slot);
        count += 1;
      }
      assert(side.levelTail[level] === previous, "broken level tail");
      assert(total > 0 && total === side.levelTotalLots[level], "level total mismatch");
    }
    return count;
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots

  /** The full state as canonical bytes: the same logical state always gives the same bytes. */
  snapshot(): Uint8Array {
    const writer = new ByteWriter(64 + this.pool.size * 34);
    writer.u32(SNAPSHOT_MAGIC);
    writer.u32(SNAPSHOT_VERSION);
    writer.f64(this.lastSequenceValue);
    writer.f64(this.nextTradeId);
    writer.u32(this.assets.length);
    for (const asset of this.assets) {
      writer.u16(asset.assetId);
      writer.string(asset.code);
      writer.u8(asset.scale);
    }
    writer.u32(this.markets.length);
    for (const market of this.markets) this.writeMarket(writer, market);
    this.writeBalances(writer);
    return writer.finish();
  }

  private writeMarket(writer: ByteWriter, market: MarketState): void {
    writeMarketConfig(writer, market.config);
    writer.u8(MARKET_STATUS_CODES.indexOf(market.status));
    writer.f64(market.lastPriceTicks);
    this.writeSide(writer, market.bids);
    this.writeSide(writer, market.asks);
    writer.u32(market.stops.length);
    for (const stop of market.stops) {
      writer.f64(stop.orderId);
      writer.i32(stop.userId);
      writer.u8(stop.side === "buy" ? SIDE_BUY : SIDE_SELL);
      writer.u32(stop.triggerPriceTicks);
      writer.u32(stop.quantityLots);
      writer.f64(stop.heldUnits);
      writer.f64(stop.clientOrderId);
      writer.u8(stop.selfTradePrevention);
    }
  }

  /** Orders best price first, oldest first: restoring appends them in this order. */
  private writeSide(writer: ByteWriter, side: BookSide): void {
    const pool = this.pool;
    let count = 0;
    for (let index = 0; index < side.levelSlots.length; index++)
      count += countLevel(pool, side.levelHead[side.levelSlots[index]]);
    writer.u32(count);
    for (let index = side.levelSlots.length - 1; index >= 0; index--) {
      for (
        let slot = side.levelHead[side.levelSlots[index]];
        slot !== NO_SLOT;
        slot = pool.nextInLevel[slot]
      ) {
        writer.f64(pool.orderId[slot]);
        writer.i32(pool.userId[slot]);
        writer.u32(pool.priceTicks[slot]);
        writer.u32(pool.remainingLots[slot]);
        writer.f64(pool.clientOrderId[slot]);
        writer.u8(pool.selfTradePrevention[slot]);
      }
    }
  }

  private writeBalances(writer: ByteWriter): void {
    const userIds = [...this.ledger.users.keys()].sort((a, b) => a - b);
    writer.u32(userIds.length);
    for (const userId of userIds) {
      const user = this.ledger.user(userId)!;
      writer.i32(userId);
      for (let assetId = 1; assetId <= this.assets.length; assetId++) {
        writer.f64(this.balanceField(user, assetId, 0));
        writer.f64(this.balanceField(user, assetId, 1));
      }
    }
    for (let account = 0; account < SYSTEM_ACCOUNTS.length; account++) {
      for (let assetId = 1; assetId <= this.assets.length; assetId++) {
        writer.f64(this.ledger.systemBalance(account, assetId));
      }
    }
  }

  /**
   * Rebuilds a core from snapshot() bytes. Throws on a truncated or malformed snapshot. Limits are
   * configuration, not state, so the caller must pass the ones the core ran with.
   */
  static restore(bytes: Uint8Array, limits: Partial<CoreLimits>): Core {
    const reader = new ByteReader(bytes);
    if (reader.u32() !== SNAPSHOT_MAGIC) throw new Error("not a Bulwark core snapshot");
    const version = reader.u32();
    if (version !== SNAPSHOT_VERSION) throw new Error(`unsupported snapshot version ${version}`);
    const core = new Core(limits);
    core.lastSequenceValue = reader.f64();
    core.nextTradeId = reader.f64();
    const assetCount = reader.u32();
    for (let index = 0; index < assetCount; index++) {
      core.installAsset({ assetId: reader.u16(), code: reader.string(), scale: reader.u8() });
    }
    const marketCount = reader.u32();
    for (let index = 0; index < marketCount; index++) core.readMarket(reader);
    core.readBalances(reader);
    if (!reader.done) throw new Error("snapshot has trailing bytes");
    core.checkInvariants();
    return core;
  }

  private readMarket(reader: ByteReader): void {
    const market = new MarketState(readMarketConfig(reader), this.pool);
    this.markets.push(market);
    market.status = MARKET_STATUS_CODES[reader.u8()];
    market.lastPriceTicks = reader.f64();
    this.readSide(reader, market, SIDE_BUY);
    this.readSide(reader, market, SIDE_SELL);
    const stopCount = reader.u32();
    for (let index = 0; index < stopCount; index++) {
      const stop: StopOrder = {
        orderId: reader.f64(),
        userId: reader.i32(),
        marketId: market.config.marketId,
        side: ORDER_SIDES[reader.u8()],
        triggerPriceTicks: reader.u32(),
        quantityLots: reader.u32(),
        heldUnits: reader.f64(),
        clientOrderId: reader.f64(),
        selfTradePrevention: reader.u8(),
      };
      market.stops.push(stop);
      this.stopsById.set(stop.orderId, stop);
      this.userForRestore(stop.userId).openOrderCount += 1;
      this.openOrderTotal += 1;
    }
  }

  private readSide(reader: ByteReader, market: MarketState, side: number): void {
    const pool = this.pool;
    const count = reader.u32();
    assert(pool.size + count <= this.limits.maxOpenOrders, "snapshot holds more orders than maxOpenOrders");
    pool.reserve(pool.size + count);
    this.orderIndex.reserve(this.orderIndex.size + count);
    const bookSide = side === SIDE_BUY ? market.bids : market.asks;
    for (let index = 0; index < count; index++) {
      const slot = pool.allocate();
      pool.orderId[slot] = reader.f64();
      pool.userId[slot] = reader.i32();
      pool.priceTicks[slot] = reader.u32();
      pool.remainingLots[slot] = reader.u32();
      pool.clientOrderId[slot] = reader.f64();
      pool.selfTradePrevention[slot] = reader.u8();
      pool.side[slot] = side;
      pool.marketId[slot] = market.config.marketId;
      bookSide.append(slot);
      const user = this.userForRestore(pool.userId[slot]);
      this.linkToUser(slot, user);
      this.orderIndex.set(pool.orderId[slot], slot);
      user.openOrderCount += 1;
      this.openOrderTotal += 1;
    }
  }

  private userForRestore(userId: number): UserAccount {
    return this.ledger.user(userId) ?? this.ledger.createUser(userId);
  }

  private readBalances(reader: ByteReader): void {
    const userCount = reader.u32();
    for (let index = 0; index < userCount; index++) {
      const user = this.userForRestore(reader.i32());
      this.ledger.ensureAssetSlots(user);
      for (let assetId = 1; assetId <= this.assets.length; assetId++) {
        user.balances[assetId * 3] = reader.f64();
        user.balances[assetId * 3 + 1] = reader.f64();
      }
    }
    for (let account = 0; account < SYSTEM_ACCOUNTS.length; account++) {
      for (let assetId = 1; assetId <= this.assets.length; assetId++) {
        this.ledger.setSystemBalance(account, assetId, reader.f64());
      }
    }
  }

  /** SHA-256 of the canonical snapshot, hex: equal hashes mean equal state. */
  stateHash(): string {
    return createHash("sha256").update(this.snapshot()).digest("hex");
  }
}

function countLevel(pool: OrderPool, head: number): number {
  let count = 0;
  for (let slot = head; slot !== NO_SLOT; slot = pool.nextInLevel[slot]) count += 1;
  return count;
}

const MARKET_NUMBER_FIELDS = [
  "marketId",
  "baseAssetId",
  "quoteAssetId",
  "lotSizeBaseUnits",
  "quoteUnitsPerTickLot",
  "minPriceTicks",
  "maxPriceTicks",
  "minQuantityLots",
  "maxQuantityLots",
  "minNotionalUnits",
  "maxNotionalUnits",
  "makerFeePpm",
  "takerFeePpm",
  "stopBuySlippageBps",
] as const;

function writeMarketConfig(writer: ByteWriter, config: MarketConfig): void {
  writer.string(config.symbol);
  for (const field of MARKET_NUMBER_FIELDS) writer.f64(config[field]);
  writer.u8(SELF_TRADE_PREVENTIONS.indexOf(config.selfTradePrevention));
}

function readMarketConfig(reader: ByteReader): MarketConfig {
  const symbol = reader.string();
  const numbers: Record<(typeof MARKET_NUMBER_FIELDS)[number], number> = Object.create(null);
  for (const field of MARKET_NUMBER_FIELDS) numbers[field] = reader.f64();
  const selfTradePrevention = SELF_TRADE_PREVENTIONS[reader.u8()];
  const config: MarketConfig = { ...numbers, symbol, selfTradePrevention };
  const problem = marketConfigProblem(config);
  if (problem !== null) throw new Error(`snapshot holds a bad market config: ${problem}`);
  return config;
}

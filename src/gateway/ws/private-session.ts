// The private state behind one logged-in connection (docs/API.md#ws-private-topics: spot/wallet, spot/orders,
// spot/user_trades): the user's balances and open orders, read once from the store at login and
// then kept current from the core's durable events, so update frames carry whole values
// (remaining quantity, balance after the change) without another store read.
//
// Consistency of the first read: the session starts buffering events before it reads; the read
// waits until the store has projected everything this process has seen, runs in one transaction
// together with the projector's cursor P, and then the buffered events after P are applied on
// top. Events up to P are already in the rows; later ones arrive in the buffer (the projector is
// fed by the same durable batches, before this gateway's listener runs), so nothing is lost or
// applied twice.

import type { OrderType, Side } from "../../core/commands.ts";
import type { CoreEvent, DoneReason, OrderAcceptedEvent, TradeEvent } from "../../core/events.ts";
import {
  type ExchangeBoundary,
  type MarketContext,
  type OrderRecord,
  STORE_LIMITS,
} from "../../exchange/boundary.ts";
import { feePercentText } from "../../units/market-units.ts";
import { seconds } from "../exmo/format.ts";
import { assetAmount } from "./format.ts";
import type { AccessLost } from "./private-feed.ts";
import type { PrivateChannel } from "./topics.ts";

export interface SessionSink {
  /** Sends on the private channel if the connection subscribed to it. */
  push(channel: PrivateChannel, event: "snapshot" | "update", data: unknown): void;
  /** The session buffered too much while loading: the connection must go. */
  overflow(): void;
  /** The key was revoked or the user is no longer active: the connection must go. */
  accessLost(lost: AccessLost): void;
}

interface TrackedOrder {
  orderId: number;
  marketId: number;
  side: Side;
  orderType: OrderType;
  priceTicks: number;
  triggerPriceTicks: number;
  originalLots: number;
  remainingLots: number;
  quoteAmountUnits: number;
  clientOrderId: number;
  createdMs: number;
}

interface Balance {
  availableUnits: number;
  heldUnits: number;
}

interface LastTrade {
  tradeId: number;
  priceTicks: number;
  quantityLots: number;
}

// ccxt passes order statuses through except those containing "cancel" (docs/API.md#ws-private-topics), so a
// filled order says "closed", ccxt's own word for it; every other ending is a cancellation.
const STATUS_OF_DONE: { readonly [R in DoneReason]: string } = {
  filled: "closed",
  cancelled: "cancelled",
  selfTrade: "cancelled",
  expired: "cancelled",
  insufficientFunds: "cancelled",
};

function exmoOrderType(side: Side, orderType: OrderType): string {
  switch (orderType) {
    case "limit":
      return side;
    case "market":
      return `market_${side}`;
    case "marketTotal":
      return `market_${side}_total`;
    case "stopMarket":
      return `stop_market_${side}`;
  }
}

function fromRecord(order: OrderRecord): TrackedOrder {
  return {
    orderId: order.orderId,
    marketId: order.marketId,
    side: order.side,
    orderType: order.orderType,
    priceTicks: order.priceTicks,
    triggerPriceTicks: order.triggerPriceTicks,
    originalLots: order.quantityLots,
    remainingLots: order.remainingLots,
    quoteAmountUnits: order.quoteAmountUnits,
    clientOrderId: order.clientOrderId,
    createdMs: order.createdMs,
  };
}

function fromAccepted(event: OrderAcceptedEvent): TrackedOrder {
  return {
    orderId: event.orderId,
    marketId: event.marketId,
    side: event.side,
    orderType: event.orderType,
    priceTicks: event.priceTicks,
    triggerPriceTicks: event.triggerPriceTicks,
    originalLots: event.quantityLots,
    remainingLots: event.quantityLots,
    quoteAmountUnits: event.quoteAmountUnits,
    clientOrderId: event.clientOrderId,
    createdMs: event.timestampMs,
  };
}

export class PrivateSession {
  private state: "loading" | "ready" | "closed" = "loading";
  private readonly buffered: CoreEvent[] = [];
  private readonly balances = new Map<number, Balance>();
  private readonly orders = new Map<number, TrackedOrder>();

  constructor(
    readonly userId: number,
    /** The API key the connection logged in with. */
    readonly keyId: string,
    private readonly exchange: ExchangeBoundary,
    private readonly sink: SessionSink,
    private readonly maxBufferedEvents: number,
  ) {}

  get ready(): boolean {
    return this.state === "ready";
  }

  /** Reads balances and open orders once the store has projected `seenSequence`; see the header. */
  async load(seenSequence: number): Promise<void> {
    await this.exchange.whenProjected(seenSequence);
    const read = await this.exchange.reads.userSnapshot(this.userId, STORE_LIMITS.maxLimit);
    if (this.state === "closed") return;
    for (const row of read.balances)
      this.balances.set(row.assetId, { availableUnits: row.availableUnits, heldUnits: row.heldUnits });
    for (const order of read.orders) this.orders.set(order.orderId, fromRecord(order));
    for (const event of this.buffered.splice(0)) if (event.sequence > read.sequence) this.apply(event, false);
    this.state = "ready";
  }

  close(): void {
    this.state = "closed";
    this.buffered.length = 0;
  }

  /** Closes the session and tells the connection why; nothing more is pushed. Idempotent. */
  revoke(lost: AccessLost): void {
    if (this.state === "closed") return;
    this.close();
    this.sink.accessLost(lost);
  }

  /** One durable event that concerns this user. */
  onEvent(event: CoreEvent): void {
    if (this.state === "closed") return;
    if (this.state === "ready") {
      this.apply(event, true);
      return;
    }
    if (this.buffered.length >= this.maxBufferedEvents) {
      this.close();
      this.sink.overflow();
      return;
    }
    this.buffered.push(event);
  }

  /** spot/wallet snapshot: every listed currency, zero balances included (docs/API.md#user-info). */
  walletSnapshot(): { balances: Record<string, string>; reserved: Record<string, string> } {
    const balances: Record<string, string> = {};
    const reserved: Record<string, string> = {};
    for (const asset of this.exchange.assets()) {
      const balance = this.balances.get(asset.assetId);
      balances[asset.code] = assetAmount(asset, balance?.availableUnits ?? 0);
      reserved[asset.code] = assetAmount(asset, balance?.heldUnits ?? 0);
    }
    return { balances, reserved };
  }

  /** spot/orders snapshot: the open orders, oldest first. */
  ordersSnapshot(): Record<string, string>[] {
    return [...this.orders.values()]
      .sort((left, right) => left.orderId - right.orderId)
      .map((order) => this.orderData(order, "open", null));
  }

  // ---- event application ---------------------------------------------------------------------

  private apply(event: CoreEvent, emit: boolean): void {
    switch (event.type) {
      case "balance":
        this.balances.set(event.assetId, {
          availableUnits: event.availableUnits,
          heldUnits: event.heldUnits,
        });
        if (emit) this.emitBalance(event.assetId);
        return;
      case "orderAccepted": {
        const order = fromAccepted(event);
        this.orders.set(order.orderId, order);
        if (emit) this.sink.push("spot/orders", "update", this.orderData(order, "open", null));
        return;
      }
      case "trade":
        this.applyTrade(event, event.makerUserId === this.userId, emit);
        return;
      case "orderDone": {
        const order = this.orders.get(event.orderId);
        if (order === undefined) return;
        this.orders.delete(event.orderId);
        order.remainingLots = event.remainingLots;
        if (emit)
          this.sink.push("spot/orders", "update", this.orderData(order, STATUS_OF_DONE[event.reason], null));
        return;
      }
      default:
        return;
    }
  }

  /** A trade touches the maker's and/or the taker's order; self-trades cannot happen (STP). */
  private applyTrade(trade: TradeEvent, isMaker: boolean, emit: boolean): void {
    const orderId = isMaker ? trade.makerOrderId : trade.takerOrderId;
    const order = this.orders.get(orderId);
    if (order !== undefined && order.orderType !== "marketTotal")
      order.remainingLots = Math.max(0, order.remainingLots - trade.quantityLots);
    if (!emit) return;
    const market = this.exchange.market(trade.marketId);
    if (market === undefined) return;
    if (order !== undefined) {
      const last = { tradeId: trade.tradeId, priceTicks: trade.priceTicks, quantityLots: trade.quantityLots };
      this.sink.push("spot/orders", "update", this.orderData(order, "open", last));
    }
    this.sink.push("spot/user_trades", "update", this.userTradeData(market, trade, isMaker, order));
  }

  private emitBalance(assetId: number): void {
    const asset = this.exchange.asset(assetId);
    const balance = this.balances.get(assetId);
    if (asset === undefined || balance === undefined) return;
    this.sink.push("spot/wallet", "update", {
      currency: asset.code,
      balance: assetAmount(asset, balance.availableUnits),
      reserved: assetAmount(asset, balance.heldUnits),
    });
  }

  // ---- wire shapes ---------------------------------------------------------------------------

  private orderData(order: TrackedOrder, status: string, last: LastTrade | null): Record<string, string> {
    const market = this.exchange.market(order.marketId);
    if (market === undefined) throw new Error(`order ${order.orderId} in unknown market ${order.marketId}`);
    const units = market.units;
    const priceTicks = order.orderType === "stopMarket" ? order.triggerPriceTicks : order.priceTicks;
    const data: Record<string, string> = {
      order_id: String(order.orderId),
      client_id: String(order.clientOrderId),
      created: String(seconds(order.createdMs)),
      pair: units.symbol,
      price: units.formatPrice(order.priceTicks),
      quantity: units.formatQuantity(order.remainingLots),
      original_quantity: units.formatQuantity(order.originalLots),
      amount: units.formatQuote(units.notionalUnits(priceTicks, order.remainingLots)),
      original_amount:
        order.orderType === "marketTotal"
          ? units.formatQuote(order.quoteAmountUnits)
          : units.formatQuote(units.notionalUnits(priceTicks, order.originalLots)),
      type: exmoOrderType(order.side, order.orderType),
      status,
    };
    if (order.orderType === "stopMarket") data.trigger_price = units.formatPrice(order.triggerPriceTicks);
    if (last !== null) {
      data.last_trade_id = String(last.tradeId);
      data.last_trade_price = units.formatPrice(last.priceTicks);
      data.last_trade_quantity = units.formatQuantity(last.quantityLots);
    }
    return data;
  }

  /** The REST user_trades row (docs/API.md#user-trades) of this user's side of the trade. */
  private userTradeData(
    market: MarketContext,
    trade: TradeEvent,
    isMaker: boolean,
    order: TrackedOrder | undefined,
  ): Record<string, string | number> {
    const units = market.units;
    const side: Side = isMaker ? (trade.takerSide === "buy" ? "sell" : "buy") : trade.takerSide;
    // Fees are charged in what each side receives: base for the buyer, quote for the seller.
    const feeAsset = side === "buy" ? market.base : market.quote;
    const feeUnits = side === "buy" ? trade.buyerFeeUnits : trade.sellerFeeUnits;
    const feePpm = isMaker ? market.config.makerFeePpm : market.config.takerFeePpm;
    return {
      trade_id: trade.tradeId,
      client_id: order?.clientOrderId ?? 0,
      date: seconds(trade.timestampMs),
      type: side,
      pair: units.symbol,
      order_id: isMaker ? trade.makerOrderId : trade.takerOrderId,
      parent_order_id: 0,
      quantity: units.formatQuantity(trade.quantityLots),
      price: units.formatPrice(trade.priceTicks),
      amount: units.formatQuote(trade.notionalUnits),
      exec_type: isMaker ? "maker" : "taker",
      commission_amount: assetAmount(feeAsset, feeUnits),
      commission_currency: feeAsset.code,
      commission_percent: feePercentText(feePpm),
    };
  }
}

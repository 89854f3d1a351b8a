// One Binance user data stream: the core's durable events of one user, said as Binance's user data
// events (docs/API.md §17, "User data streams"):
//   - executionReport for an order accepted (NEW), each of its fills (TRADE) and its end
//     (CANCELED, EXPIRED, TRADE_PREVENTION → EXPIRED_IN_MATCH);
//   - outboundAccountPosition after a command changed balances: every asset it changed, free and
//     locked after the command;
//   - balanceUpdate for money moved outside trading: deposits, withdrawal holds and their release,
//     operator adjustments (the delta of free).
// Decimals come exactly from integer units (the market's MarketUnits); types, time in force,
// statuses and client order ids from ../order-vocabulary.ts, as the REST order routes say them.
//
// First read, as the EXMO private session (src/gateway/ws/private-session.ts): the stream buffers
// events while it reads the open orders once the store has projected what the gateway has seen;
// buffered events after the read's cursor are applied on top. The executionReport of a fill needs
// the order (its quantity, price, cumulative fills): orders are tracked from that read and from
// orderAccepted, and forgotten when done; the core bounds a user's open orders, and so this map.

import type { OrderType, Side, TimeInForce } from "../../../core/commands.ts";
import type {
  CoreEvent,
  DoneReason,
  OrderAcceptedEvent,
  OrderDoneEvent,
  TradeEvent,
} from "../../../core/events.ts";
import {
  type ExchangeBoundary,
  type MarketContext,
  type OrderRecord,
  STORE_LIMITS,
} from "../../../exchange/boundary.ts";
import { formatUnits } from "../../../units/decimal.ts";
import { binanceSymbol } from "../format.ts";
import {
  type BinanceOrderStatus,
  binanceClientOrderId,
  binanceOrderStatus,
  binanceOrderType,
  binanceTimeInForce,
} from "../order-vocabulary.ts";

/** Binance writes amounts with at least 8 decimals ("0.00100000"). */
const MIN_DECIMALS = 8;
const ZERO = "0.00000000";

/** Where a stream's Binance events go (the socket, wrapped or bare). */
export interface UserStreamSink {
  send(event: Record<string, unknown>): void;
  /** The stream buffered too much while loading: it is closed, the sink must end it. */
  overflow(): void;
}

/**
 * The store's OrderRecord gains time in force, post-only and the Binance client order id text
 * (with orderAccepted's); read optionally so this compiles before and after that lands.
 */
interface OrderExtras {
  timeInForce?: TimeInForce;
  postOnly?: boolean;
  clientOrderText?: string | null;
}

interface TrackedOrder {
  orderId: number;
  marketId: number;
  side: Side;
  orderType: OrderType;
  timeInForce: TimeInForce;
  postOnly: boolean;
  priceTicks: number;
  triggerPriceTicks: number;
  quantityLots: number;
  quoteAmountUnits: number;
  clientOrderId: number;
  clientOrderText: string | null;
  createdMs: number;
  filledLots: number;
  filledQuoteUnits: bigint;
  status: BinanceOrderStatus;
}

/** A decimal with at least 8 places, as Binance writes them. */
export function binanceDecimal(text: string): string {
  const [integerPart, fractionPart = ""] = text.split(".");
  const decimals = Math.max(MIN_DECIMALS, fractionPart.length);
  return `${integerPart}.${fractionPart.padEnd(decimals, "0")}`;
}

function unitsDecimal(units: number | bigint, scale: number): string {
  return binanceDecimal(formatUnits(units, scale));
}

function orderExtras(source: OrderRecord): Required<OrderExtras> {
  const extras = source as OrderExtras;
  return {
    timeInForce: extras.timeInForce ?? "gtc",
    postOnly: extras.postOnly ?? false,
    clientOrderText: extras.clientOrderText ?? null,
  };
}

function fromRecord(order: OrderRecord): TrackedOrder {
  return {
    orderId: order.orderId,
    marketId: order.marketId,
    side: order.side,
    orderType: order.orderType,
    ...orderExtras(order),
    priceTicks: order.priceTicks,
    triggerPriceTicks: order.triggerPriceTicks,
    quantityLots: order.quantityLots,
    quoteAmountUnits: order.quoteAmountUnits,
    clientOrderId: order.clientOrderId,
    createdMs: order.createdMs,
    filledLots: order.filledLots,
    filledQuoteUnits: BigInt(order.filledQuoteUnits),
    status: binanceOrderStatus(null, order.filledLots),
  };
}

function fromAccepted(event: OrderAcceptedEvent): TrackedOrder {
  return {
    orderId: event.orderId,
    marketId: event.marketId,
    side: event.side,
    orderType: event.orderType,
    timeInForce: event.timeInForce,
    postOnly: event.postOnly,
    clientOrderText: event.clientOrderText,
    priceTicks: event.priceTicks,
    triggerPriceTicks: event.triggerPriceTicks,
    quantityLots: event.quantityLots,
    quoteAmountUnits: event.quoteAmountUnits,
    clientOrderId: event.clientOrderId,
    createdMs: event.timestampMs,
    filledLots: 0,
    filledQuoteUnits: 0n,
    status: "NEW",
  };
}

/** Binance's execution type for an order's end. */
function doneExecutionType(reason: DoneReason): string {
  switch (reason) {
    case "cancelled":
      return "CANCELED";
    case "selfTrade":
      return "TRADE_PREVENTION";
    default:
      return "EXPIRED";
  }
}

/** What one command did to one user, gathered to be said at once. */
interface PendingPosition {
  sequence: number;
  /** assetId → [available, held] after the command, in first-change order. */
  balances: Map<number, { availableUnits: number; heldUnits: number }>;
}

export class UserStream {
  private state: "loading" | "ready" | "closed" = "loading";
  private readonly buffered: CoreEvent[] = [];
  private readonly orders = new Map<number, TrackedOrder>();
  private pending: PendingPosition | null = null;

  constructor(
    readonly userId: number,
    /** The API key the stream was opened with (its revocation ends the stream). */
    readonly keyId: string,
    private readonly exchange: ExchangeBoundary,
    private readonly sink: UserStreamSink,
    private readonly maxBufferedEvents: number,
    private readonly clock: () => number,
  ) {}

  get closed(): boolean {
    return this.state === "closed";
  }

  /** Reads the open orders once the store has projected `seenSequence`; see the header. */
  async load(seenSequence: number): Promise<void> {
    await this.exchange.whenProjected(seenSequence);
    const read = await this.exchange.reads.userSnapshot(this.userId, STORE_LIMITS.maxLimit);
    if (this.state === "closed") return;
    for (const order of read.orders) this.orders.set(order.orderId, fromRecord(order));
    const later = this.buffered.splice(0).filter((event) => event.sequence > read.sequence);
    this.state = "ready";
    this.apply(later);
  }

  close(): void {
    this.state = "closed";
    this.buffered.length = 0;
    this.orders.clear();
  }

  /** This user's events of one durable batch, in order. */
  onEvents(events: readonly CoreEvent[]): void {
    if (this.state === "closed") return;
    if (this.state === "ready") {
      this.apply(events);
      return;
    }
    if (this.buffered.length + events.length > this.maxBufferedEvents) {
      this.close();
      this.sink.overflow();
      return;
    }
    this.buffered.push(...events);
  }

  // ---- event application ---------------------------------------------------------------------

  private apply(events: readonly CoreEvent[]): void {
    // An order filled by its last trade ends in the same command: that trade's report says FILLED
    // (as Binance's does) and the orderDone adds nothing. Found in one pass over the batch.
    const lastTradeAt = new Map<number, number>();
    const filledBy = new Map<number, number>();
    events.forEach((event, index) => {
      if (event.type === "trade") {
        if (event.makerUserId === this.userId) lastTradeAt.set(event.makerOrderId, index);
        if (event.takerUserId === this.userId) lastTradeAt.set(event.takerOrderId, index);
      } else if (event.type === "orderDone" && event.reason === "filled") {
        filledBy.set(event.orderId, event.sequence);
      }
    });
    const finalTrade = (orderId: number, index: number, sequence: number) =>
      lastTradeAt.get(orderId) === index && filledBy.get(orderId) === sequence;
    events.forEach((event, index) => {
      if (this.state === "closed") return;
      if (this.pending !== null && (event.type !== "balance" || event.sequence !== this.pending.sequence))
        this.flushPosition();
      switch (event.type) {
        case "orderAccepted":
          this.onAccepted(event);
          return;
        case "trade":
          if (event.makerUserId === this.userId)
            this.onTrade(event, true, finalTrade(event.makerOrderId, index, event.sequence));
          // Both sides when both are this user's (STP forbids it today; each order still gets its report).
          if (event.takerUserId === this.userId)
            this.onTrade(event, false, finalTrade(event.takerOrderId, index, event.sequence));
          return;
        case "orderDone":
          this.onDone(event);
          return;
        case "balance":
          this.onBalance(event.sequence, event.assetId, event.availableUnits, event.heldUnits);
          return;
        case "balanceAdjusted":
          this.balanceUpdate(event.assetId, event.amountUnits, event.timestampMs);
          return;
        case "depositCredited":
          this.balanceUpdate(event.assetId, event.amountUnits, event.timestampMs);
          return;
        case "withdrawalHeld":
          this.balanceUpdate(event.assetId, -event.amountUnits, event.timestampMs);
          return;
        case "withdrawalReleased":
          this.balanceUpdate(event.assetId, event.amountUnits, event.timestampMs);
          return;
        default:
          return;
      }
    });
    if (this.state !== "closed") this.flushPosition();
  }

  private onAccepted(event: OrderAcceptedEvent): void {
    const order = fromAccepted(event);
    this.orders.set(order.orderId, order);
    const market = this.exchange.market(order.marketId);
    if (market === undefined) return;
    this.sink.send(this.report(market, order, { executionType: "NEW", transactMs: event.timestampMs }));
  }

  private onTrade(trade: TradeEvent, isMaker: boolean, final: boolean): void {
    const orderId = isMaker ? trade.makerOrderId : trade.takerOrderId;
    const order = this.orders.get(orderId);
    const market = this.exchange.market(trade.marketId);
    // An order placed before the stream's read and past its bound: its fill is not reported.
    if (order === undefined || market === undefined) return;
    order.filledLots += trade.quantityLots;
    order.filledQuoteUnits += BigInt(trade.notionalUnits);
    order.status = final ? "FILLED" : binanceOrderStatus(null, order.filledLots);
    const side: Side = isMaker ? (trade.takerSide === "buy" ? "sell" : "buy") : trade.takerSide;
    // Fees are charged in what each side receives: base for the buyer, quote for the seller.
    const feeAsset = side === "buy" ? market.base : market.quote;
    const feeUnits = side === "buy" ? trade.buyerFeeUnits : trade.sellerFeeUnits;
    this.sink.send(
      this.report(market, order, {
        executionType: "TRADE",
        transactMs: trade.timestampMs,
        trade: {
          tradeId: trade.tradeId,
          quantityLots: trade.quantityLots,
          priceTicks: trade.priceTicks,
          notionalUnits: trade.notionalUnits,
          feeText: unitsDecimal(feeUnits, feeAsset.scale),
          feeAsset: feeAsset.code,
          isMaker,
        },
      }),
    );
    if (final) this.orders.delete(orderId);
  }

  private onDone(event: OrderDoneEvent): void {
    const order = this.orders.get(event.orderId);
    if (order === undefined) return;
    this.orders.delete(event.orderId);
    const status = binanceOrderStatus(event.reason, order.filledLots);
    if (status === order.status) return;
    order.status = status;
    const market = this.exchange.market(order.marketId);
    if (market === undefined) return;
    const executionType = event.reason === "filled" ? "EXPIRED" : doneExecutionType(event.reason);
    this.sink.send(this.report(market, order, { executionType, transactMs: this.clock() }));
  }

  private onBalance(sequence: number, assetId: number, availableUnits: number, heldUnits: number): void {
    if (this.pending === null) this.pending = { sequence, balances: new Map() };
    this.pending.balances.set(assetId, { availableUnits, heldUnits });
  }

  private flushPosition(): void {
    const pending = this.pending;
    this.pending = null;
    if (pending === null || pending.balances.size === 0) return;
    const nowMs = this.clock();
    const rows: { a: string; f: string; l: string }[] = [];
    for (const [assetId, balance] of pending.balances) {
      const asset = this.exchange.asset(assetId);
      if (asset === undefined) continue;
      rows.push({
        a: asset.code,
        f: unitsDecimal(balance.availableUnits, asset.scale),
        l: unitsDecimal(balance.heldUnits, asset.scale),
      });
    }
    if (rows.length === 0) return;
    this.sink.send({ e: "outboundAccountPosition", E: nowMs, u: nowMs, B: rows });
  }

  private balanceUpdate(assetId: number, deltaUnits: number, clearMs: number): void {
    const asset = this.exchange.asset(assetId);
    if (asset === undefined) return;
    this.sink.send({
      e: "balanceUpdate",
      E: this.clock(),
      a: asset.code,
      d: unitsDecimal(deltaUnits, asset.scale),
      T: clearMs,
    });
  }

  // ---- wire shape ----------------------------------------------------------------------------

  private report(
    market: MarketContext,
    order: TrackedOrder,
    what: {
      executionType: string;
      transactMs: number;
      trade?: {
        tradeId: number;
        quantityLots: number;
        priceTicks: number;
        notionalUnits: number;
        feeText: string;
        feeAsset: string;
        isMaker: boolean;
      };
    },
  ): Record<string, unknown> {
    const units = market.units;
    const trade = what.trade;
    const clientOrderId = binanceClientOrderId(order.orderId, order.clientOrderId, order.clientOrderText);
    const isMarket = order.orderType === "market" || order.orderType === "marketTotal";
    const open = order.status === "NEW" || order.status === "PARTIALLY_FILLED";
    const onBook = open && order.orderType === "limit";
    return {
      e: "executionReport",
      E: this.clock(),
      s: binanceSymbol(market),
      c: clientOrderId,
      S: order.side === "buy" ? "BUY" : "SELL",
      o: binanceOrderType(order.orderType, order.postOnly),
      f: binanceTimeInForce(order.timeInForce),
      q: order.orderType === "marketTotal" ? ZERO : binanceDecimal(units.formatQuantity(order.quantityLots)),
      p:
        isMarket || order.orderType === "stopMarket"
          ? ZERO
          : binanceDecimal(units.formatPrice(order.priceTicks)),
      P: order.orderType === "stopMarket" ? binanceDecimal(units.formatPrice(order.triggerPriceTicks)) : ZERO,
      F: ZERO,
      g: -1,
      // Binance names the cancelled order's own id in C (c is the cancel request's).
      C: what.executionType === "CANCELED" ? clientOrderId : "",
      x: what.executionType,
      X: order.status,
      r: "NONE",
      i: order.orderId,
      l: trade === undefined ? ZERO : binanceDecimal(units.formatQuantity(trade.quantityLots)),
      z: binanceDecimal(units.formatQuantity(order.filledLots)),
      L: trade === undefined ? ZERO : binanceDecimal(units.formatPrice(trade.priceTicks)),
      n: trade === undefined ? "0" : trade.feeText,
      N: trade === undefined ? null : trade.feeAsset,
      T: what.transactMs,
      t: trade === undefined ? -1 : trade.tradeId,
      I: order.orderId,
      w: onBook,
      m: trade === undefined ? false : trade.isMaker,
      M: false,
      O: order.createdMs,
      Z: unitsDecimal(order.filledQuoteUnits, market.quote.scale),
      Y: trade === undefined ? ZERO : unitsDecimal(trade.notionalUnits, market.quote.scale),
      Q: order.orderType === "marketTotal" ? unitsDecimal(order.quoteAmountUnits, market.quote.scale) : ZERO,
      ...(onBook ? { W: order.createdMs } : {}),
    };
  }
}

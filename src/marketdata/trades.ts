// Recent public trades of one market in a fixed-size ring: the newest TRADE_RING_CAPACITY trades,
// in columns so a full ring costs ~33 bytes per trade and never allocates after construction.

import type { Side } from "../core/commands.ts";
import type { TradeEvent } from "../core/events.ts";
import { TRADE_RING_CAPACITY } from "./limits.ts";

/** What the public may see of a trade: no order or user ids, no fees. */
export interface PublicTrade {
  tradeId: number;
  timestampMs: number;
  priceTicks: number;
  quantityLots: number;
  notionalUnits: number;
  /** EXMO's `type`: the taker's side. */
  takerSide: Side;
}

export function publicTrade(event: TradeEvent): PublicTrade {
  return {
    tradeId: event.tradeId,
    timestampMs: event.timestampMs,
    priceTicks: event.priceTicks,
    quantityLots: event.quantityLots,
    notionalUnits: event.notionalUnits,
    takerSide: event.takerSide,
  };
}

export class TradeRing {
  private readonly tradeId: Float64Array;
  private readonly timestampMs: Float64Array;
  private readonly notionalUnits: Float64Array;
  private readonly priceTicks: Uint32Array;
  private readonly quantityLots: Uint32Array;
  /** 1 = the taker bought. */
  private readonly takerBuys: Uint8Array;
  /** Slot the next trade goes to. */
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number = TRADE_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("ring capacity must be >= 1");
    this.tradeId = new Float64Array(capacity);
    this.timestampMs = new Float64Array(capacity);
    this.notionalUnits = new Float64Array(capacity);
    this.priceTicks = new Uint32Array(capacity);
    this.quantityLots = new Uint32Array(capacity);
    this.takerBuys = new Uint8Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(trade: PublicTrade): void {
    const slot = this.next;
    this.tradeId[slot] = trade.tradeId;
    this.timestampMs[slot] = trade.timestampMs;
    this.notionalUnits[slot] = trade.notionalUnits;
    this.priceTicks[slot] = trade.priceTicks;
    this.quantityLots[slot] = trade.quantityLots;
    this.takerBuys[slot] = trade.takerSide === "buy" ? 1 : 0;
    this.next = slot + 1 === this.capacity ? 0 : slot + 1;
    if (this.count < this.capacity) this.count += 1;
  }

  /** Up to `limit` trades, newest first. */
  newest(limit: number = this.capacity): PublicTrade[] {
    const count = Math.max(0, Math.min(limit, this.count));
    const trades: PublicTrade[] = new Array(count);
    let slot = this.next;
    for (let index = 0; index < count; index++) {
      slot = slot === 0 ? this.capacity - 1 : slot - 1;
      trades[index] = {
        tradeId: this.tradeId[slot],
        timestampMs: this.timestampMs[slot],
        priceTicks: this.priceTicks[slot],
        quantityLots: this.quantityLots[slot],
        notionalUnits: this.notionalUnits[slot],
        takerSide: this.takerBuys[slot] === 1 ? "buy" : "sell",
      };
    }
    return trades;
  }
}

// The state of one market: its configuration, status, last trade price, the two sides of its
// book and its stop orders waiting for their trigger.

import type { MarketStatus, Side } from "../commands.ts";
import type { MarketConfig } from "../config.ts";
import { SELF_TRADE_PREVENTIONS } from "../config.ts";
import { BookSide } from "./book-side.ts";
import type { OrderPool } from "./order-pool.ts";

export interface StopOrder {
  orderId: number;
  userId: number;
  marketId: number;
  side: Side;
  triggerPriceTicks: number;
  quantityLots: number;
  heldUnits: number;
  clientOrderId: number;
  /** Index into SELF_TRADE_PREVENTIONS. */
  selfTradePrevention: number;
}

export class MarketState {
  status: MarketStatus = "active";
  /** 0 until the first trade. */
  lastPriceTicks = 0;
  readonly bids: BookSide;
  readonly asks: BookSide;
  /** Stops waiting for their trigger, in ascending order id. */
  readonly stops: StopOrder[] = [];
  readonly defaultSelfTradePrevention: number;

  constructor(
    readonly config: MarketConfig,
    pool: OrderPool,
  ) {
    this.bids = new BookSide(true, pool);
    this.asks = new BookSide(false, pool);
    this.defaultSelfTradePrevention = SELF_TRADE_PREVENTIONS.indexOf(config.selfTradePrevention);
  }

  /** The lowest-id stop whose trigger the last price has reached, or undefined. */
  nextTriggeredStop(): StopOrder | undefined {
    const last = this.lastPriceTicks;
    if (last === 0) return undefined;
    for (const stop of this.stops) {
      const triggered = stop.side === "buy" ? last >= stop.triggerPriceTicks : last <= stop.triggerPriceTicks;
      if (triggered) return stop;
    }
    return undefined;
  }

  removeStop(stop: StopOrder): void {
    const index = this.stops.indexOf(stop);
    this.stops.splice(index, 1);
  }
}

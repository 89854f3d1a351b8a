// placeOrder checks of the reference core: steps 1 to 11 of docs/CORE.md, in order, the first
// failure winning. Pure: they read the core (through ReferenceReads) and change nothing; they
// return the reject reason, or the plan the execution carries out (executePlaceOrder in
// reference-matching.ts).

import { isOrderType, isValidClientOrderText, type PlaceOrderCommand } from "../commands.ts";
import { BPS, type CoreLimits, SELF_TRADE_PREVENTIONS, type SelfTradePrevention } from "../config.ts";
import type { RejectReason } from "../events.ts";
import {
  crosses,
  isIntegerIn,
  isValidUserId,
  type Market,
  opposite,
  type RestingOrder,
  referenceMulDivCeil,
  sortedSide,
  type UserBalance,
} from "./model.ts";

const SIDES: readonly string[] = ["buy", "sell"];
const TIMES_IN_FORCE: readonly string[] = ["gtc", "ioc", "fok"];

/** What the checks read of the reference core. */
export interface ReferenceReads {
  readonly limits: CoreLimits;
  findMarket(marketId: number): Market | undefined;
  /** Every open order (resting and stop), all markets. */
  allOpenOrders(): readonly { userId: number }[];
  balanceOf(userId: number, assetId: number): UserBalance;
}

/** An accepted order: what placing it does, decided by the checks. */
export interface OrderPlan {
  market: Market;
  /** The asset held: quote for buys, base for sells. */
  holdAssetId: number;
  /** Moved from available to held at acceptance (the hold table of CORE.md). */
  hold: number;
  /** marketTotal sell: the whole lots held (its hold in lots); 0 otherwise. */
  marketTotalSellLots: number;
  /** The order's own policy, else the market's. */
  stp: SelfTradePrevention;
}

/** Steps 1 to 11 of CORE.md "placeOrder": the reject reason, or the plan of the accepted order. */
export function checkPlaceOrder(c: PlaceOrderCommand, core: ReferenceReads): OrderPlan | RejectReason {
  // 1. unknownMarket. 2. marketSuspended.
  const market = core.findMarket(c.marketId);
  if (market === undefined) return "unknownMarket";
  if (market.status === "suspended") return "marketSuspended";
  const cfg = market.config;

  // 3. invalidCommand.
  if (!SIDES.includes(c.side)) return "invalidCommand";
  if (!isOrderType(c.orderType)) return "invalidCommand";
  if (!TIMES_IN_FORCE.includes(c.timeInForce)) return "invalidCommand";
  if (typeof c.postOnly !== "boolean") return "invalidCommand";
  if (c.selfTradePrevention !== null && !SELF_TRADE_PREVENTIONS.includes(c.selfTradePrevention)) {
    return "invalidCommand";
  }
  const isLimit = c.orderType === "limit";
  if (!isLimit && c.priceTicks !== 0) return "invalidCommand";
  if (c.orderType === "marketTotal" && c.quantityLots !== 0) return "invalidCommand";
  if (c.orderType !== "marketTotal" && c.quoteAmountUnits !== 0) return "invalidCommand";
  if (c.orderType !== "stopMarket" && c.triggerPriceTicks !== 0) return "invalidCommand";
  if (!isLimit && c.timeInForce !== "gtc") return "invalidCommand";
  if (c.postOnly && !(isLimit && c.timeInForce === "gtc")) return "invalidCommand";
  if (!Number.isSafeInteger(c.clientOrderId) || c.clientOrderId < 0) return "invalidCommand";
  if (!isValidClientOrderText(c.clientOrderText)) return "invalidCommand";
  if (!isValidUserId(c.userId)) return "invalidCommand";

  // 4. invalidPrice: limit price or stop trigger price.
  if (isLimit && !isIntegerIn(c.priceTicks, cfg.minPriceTicks, cfg.maxPriceTicks)) {
    return "invalidPrice";
  }
  if (
    c.orderType === "stopMarket" &&
    !isIntegerIn(c.triggerPriceTicks, cfg.minPriceTicks, cfg.maxPriceTicks)
  ) {
    return "invalidPrice";
  }

  // 5. invalidQuantity (limit, market, stopMarket).
  if (
    c.orderType !== "marketTotal" &&
    !isIntegerIn(c.quantityLots, cfg.minQuantityLots, cfg.maxQuantityLots)
  ) {
    return "invalidQuantity";
  }

  // 6. invalidNotional.
  if (isLimit || c.orderType === "stopMarket") {
    const price = isLimit ? c.priceTicks : c.triggerPriceTicks;
    const notional = price * c.quantityLots * cfg.quoteUnitsPerTickLot;
    if (notional < cfg.minNotionalUnits || notional > cfg.maxNotionalUnits) {
      return "invalidNotional";
    }
  }
  if (
    c.orderType === "marketTotal" &&
    !isIntegerIn(c.quoteAmountUnits, Math.max(1, cfg.minNotionalUnits), cfg.maxNotionalUnits)
  ) {
    return "invalidNotional";
  }

  // 7. tooManyOpenOrders (the user's, all markets); tooManyStopOrders (this market);
  //    limitReached (the exchange's, resting + stop).
  const openOrders = core.allOpenOrders();
  if (openOrders.filter((o) => o.userId === c.userId).length >= core.limits.maxOpenOrdersPerUser) {
    return "tooManyOpenOrders";
  }
  if (c.orderType === "stopMarket" && market.stops.length >= core.limits.maxStopOrdersPerMarket) {
    return "tooManyStopOrders";
  }
  if (openOrders.length >= core.limits.maxOpenOrders) return "limitReached";

  // 8. noLiquidity: market / marketTotal and the opposite side of the book is empty.
  const oppositeSide = opposite(c.side);
  const bestOpposite = sortedSide(market, oppositeSide)[0];
  if ((c.orderType === "market" || c.orderType === "marketTotal") && bestOpposite === undefined) {
    return "noLiquidity";
  }

  // 9. insufficientFunds: available below the hold (the hold table).
  const holdAssetId = c.side === "buy" ? cfg.quoteAssetId : cfg.baseAssetId;
  const available = core.balanceOf(c.userId, holdAssetId).available;
  const lotBase = c.quantityLots * cfg.lotSizeBaseUnits;
  let hold: number;
  let marketTotalSellLots = 0;
  switch (c.orderType) {
    case "limit":
      hold = c.side === "buy" ? c.priceTicks * c.quantityLots * cfg.quoteUnitsPerTickLot : lotBase;
      break;
    case "market":
      if (c.side === "buy") {
        // "for a market buy by quantity, below the cost of one lot at the best ask"
        const oneLot = (bestOpposite as RestingOrder).priceTicks * cfg.quoteUnitsPerTickLot;
        if (available < oneLot) return "insufficientFunds";
        hold = available; // all of the user's available quote is its budget
      } else {
        hold = lotBase;
      }
      break;
    case "marketTotal":
      if (c.side === "buy") {
        hold = c.quoteAmountUnits;
      } else {
        // all available base rounded down to whole lots, capped at maxQuantityLots lots (reject if < 1 lot)
        marketTotalSellLots = Math.min(Math.floor(available / cfg.lotSizeBaseUnits), cfg.maxQuantityLots);
        if (marketTotalSellLots < 1) return "insufficientFunds";
        hold = marketTotalSellLots * cfg.lotSizeBaseUnits;
      }
      break;
    case "stopMarket":
      hold =
        c.side === "buy"
          ? referenceMulDivCeil(
              c.triggerPriceTicks * c.quantityLots * cfg.quoteUnitsPerTickLot,
              BPS + cfg.stopBuySlippageBps,
              BPS,
            )
          : lotBase;
      break;
  }
  if (available < hold) return "insufficientFunds";

  // 10. postOnlyWouldTake: the best opposite price crosses the limit price.
  if (c.postOnly && bestOpposite !== undefined && crosses(c.side, c.priceTicks, bestOpposite.priceTicks)) {
    return "postOnlyWouldTake";
  }

  const stp = c.selfTradePrevention ?? cfg.selfTradePrevention;

  // 11. fokCannotFill: simulated exactly, including self-trade prevention.
  if (isLimit && c.timeInForce === "fok" && fokFillableLots(market, c, stp) < c.quantityLots) {
    return "fokCannotFill";
  }
  return { market, holdAssetId, hold, marketTotalSellLots, stp };
}

/** Lots a FOK limit order would get, walking the book as `match` would, changing nothing. */
function fokFillableLots(market: Market, c: PlaceOrderCommand, stp: SelfTradePrevention): number {
  const makers = sortedSide(market, opposite(c.side)).filter((o) =>
    crosses(c.side, c.priceTicks, o.priceTicks),
  );
  let filled = 0;
  for (const maker of makers) {
    if (filled >= c.quantityLots) break;
    if (maker.userId === c.userId) {
      if (stp === "cancelResting") continue;
      break; // cancelIncoming / cancelBoth stop the incoming order here
    }
    filled += Math.min(c.quantityLots - filled, maker.remainingLots);
  }
  return filled;
}

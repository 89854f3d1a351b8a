// Whether the core accepts a placeOrder whose fields are valid for its market: steps 7 to 11 of
// docs/CORE.md (open order limits, liquidity, funds, post-only, FOK), and the hold it takes.
// Pure reads of the core state: nothing here changes anything.

import { mulDivCeil } from "./arithmetic.ts";
import type { PlaceOrderCommand } from "./commands.ts";
import { BPS, SELF_TRADE_PREVENTIONS } from "./config.ts";
import type { BookSide } from "./engine/book-side.ts";
import type { CoreState } from "./engine/core-state.ts";
import type { MarketState } from "./engine/market-state.ts";
import { NO_SLOT } from "./engine/order-pool.ts";
import { STP_CANCEL_RESTING } from "./engine/taker.ts";
import type { RejectReason } from "./events.ts";
import type { UserAccount } from "./ledger/ledger.ts";

/** Steps 7 to 11 of CORE.md: limits, liquidity, funds, post-only, FOK. */
export function admissionProblem(
  state: CoreState,
  command: PlaceOrderCommand,
  market: MarketState,
): RejectReason | null {
  const limits = state.limits;
  const ledger = state.ledger;
  const user = ledger.user(command.userId);
  if (user !== undefined && user.openOrderCount >= limits.maxOpenOrdersPerUser) return "tooManyOpenOrders";
  if (command.orderType === "stopMarket" && market.stops.length >= limits.maxStopOrdersPerMarket)
    return "tooManyStopOrders";
  if (state.openOrderTotal >= limits.maxOpenOrders) return "limitReached";
  const isBuy = command.side === "buy";
  const opposite = isBuy ? market.asks : market.bids;
  const isMarketOrder = command.orderType === "market" || command.orderType === "marketTotal";
  if (isMarketOrder && opposite.levelCount === 0) return "noLiquidity";
  if (user === undefined) return "insufficientFunds";
  ledger.ensureAssetSlots(user);
  const hold = holdFor(state, command, market, user);
  if (hold <= 0) return "insufficientFunds";
  const heldAsset = isBuy ? market.config.quoteAssetId : market.config.baseAssetId;
  if (ledger.available(user, heldAsset) < hold) return "insufficientFunds";
  if (command.postOnly && crosses(opposite, isBuy, command.priceTicks)) return "postOnlyWouldTake";
  if (command.timeInForce === "fok" && !canFillCompletely(state, command, market)) return "fokCannotFill";
  return null;
}

/** What the order holds at acceptance (docs/CORE.md table); 0 when it cannot be afforded at all. */
export function holdFor(
  state: CoreState,
  command: PlaceOrderCommand,
  market: MarketState,
  user: UserAccount,
): number {
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
      const available = state.ledger.available(user, config.quoteAssetId);
      return available >= market.asks.bestPrice() * unit ? available : 0;
    }
    case "marketTotal": {
      if (isBuy) return command.quoteAmountUnits;
      const availableLots = Math.floor(
        state.ledger.available(user, config.baseAssetId) / config.lotSizeBaseUnits,
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

/** The order's self-trade policy (its own, else the market's), as an index into SELF_TRADE_PREVENTIONS. */
export function policyIndex(command: PlaceOrderCommand, market: MarketState): number {
  const own = command.selfTradePrevention;
  return own === null ? market.defaultSelfTradePrevention : SELF_TRADE_PREVENTIONS.indexOf(own);
}

function crosses(opposite: BookSide, isBuy: boolean, limitPriceTicks: number): boolean {
  if (opposite.levelCount === 0) return false;
  const best = opposite.bestPrice();
  return isBuy ? best <= limitPriceTicks : best >= limitPriceTicks;
}

/** FOK: simulates matching exactly (with self-trade prevention) without changing anything. */
function canFillCompletely(state: CoreState, command: PlaceOrderCommand, market: MarketState): boolean {
  const isBuy = command.side === "buy";
  const opposite = isBuy ? market.asks : market.bids;
  const policy = policyIndex(command, market);
  const pool = state.pool;
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

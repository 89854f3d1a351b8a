// Core integers → the `data` of EXMO WS frames (docs/API.md#ws-server-frames). Tickers, trades and times are
// the REST formatters themselves (src/gateway/exmo/format.ts), so a value reads the same over
// REST and WS; what is here is only WS-specific.

import type { AssetConfig } from "../../core/config.ts";
import type { MarketContext } from "../../exchange/boundary.ts";
import type { DepthLevel } from "../../marketdata/depth.ts";
import { formatUnits } from "../../units/decimal.ts";

/** `[price, quantity, amount]`; a level whose quantity is 0 reads "0","0": EXMO's delete. */
export function bookLevel(market: MarketContext, level: DepthLevel): [string, string, string] {
  const units = market.units;
  return [
    units.formatPrice(level.priceTicks),
    units.formatQuantity(level.quantityLots),
    units.formatQuote(units.notionalUnits(level.priceTicks, level.quantityLots)),
  ];
}

export function bookData(
  market: MarketContext,
  bids: readonly DepthLevel[],
  asks: readonly DepthLevel[],
): { ask: [string, string, string][]; bid: [string, string, string][] } {
  return {
    ask: asks.map((level) => bookLevel(market, level)),
    bid: bids.map((level) => bookLevel(market, level)),
  };
}

export function assetAmount(asset: AssetConfig, units: number): string {
  return formatUnits(units, asset.scale);
}

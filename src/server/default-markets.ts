// The assets and markets a fresh embedded exchange starts with. Ledger scales are chosen so that
// every market's tick × lot is a whole number of quote units (config.ts asserts it), e.g. for
// BTC_USD a tick of 0.01 USD on a lot of 0.0001 BTC is 0.000001 USD = 1 unit at USD scale 6.
// ETH is kept at 8 decimals in the ledger; chain amounts in wei convert with explicit rounding.

import type { UnstampedCommand } from "../core/commands.ts";
import type { AssetConfig, MarketConfig } from "../core/config.ts";
import type { SubmitResult } from "../runtime/sequencer.ts";

export const DEFAULT_ASSETS: readonly AssetConfig[] = [
  { assetId: 1, code: "BTC", scale: 8 },
  { assetId: 2, code: "ETH", scale: 8 },
  { assetId: 3, code: "USDT", scale: 6 },
  { assetId: 4, code: "USD", scale: 6 },
];

const COMMON = {
  makerFeePpm: 2_000,
  takerFeePpm: 3_000,
  stopBuySlippageBps: 500,
  selfTradePrevention: "cancelResting",
} as const;

export const DEFAULT_MARKETS: readonly MarketConfig[] = [
  {
    ...COMMON,
    marketId: 1,
    symbol: "BTC_USD",
    baseAssetId: 1,
    quoteAssetId: 4,
    lotSizeBaseUnits: 10_000, // 0.0001 BTC
    quoteUnitsPerTickLot: 1, // tick 0.01 USD
    minPriceTicks: 100, // 1 USD
    maxPriceTicks: 100_000_000, // 1,000,000 USD
    minQuantityLots: 1,
    maxQuantityLots: 10_000_000, // 1,000 BTC
    minNotionalUnits: 1_000_000, // 1 USD
    maxNotionalUnits: 1_000_000_000_000_000,
  },
  {
    ...COMMON,
    marketId: 2,
    symbol: "ETH_USD",
    baseAssetId: 2,
    quoteAssetId: 4,
    lotSizeBaseUnits: 100_000, // 0.001 ETH
    quoteUnitsPerTickLot: 10, // tick 0.01 USD
    minPriceTicks: 100,
    maxPriceTicks: 10_000_000, // 100,000 USD
    minQuantityLots: 1,
    maxQuantityLots: 10_000_000, // 10,000 ETH
    minNotionalUnits: 1_000_000,
    maxNotionalUnits: 1_000_000_000_000_000,
  },
  {
    ...COMMON,
    marketId: 3,
    symbol: "ETH_BTC",
    baseAssetId: 2,
    quoteAssetId: 1,
    lotSizeBaseUnits: 100_000, // 0.001 ETH
    quoteUnitsPerTickLot: 1, // tick 0.00001 BTC
    minPriceTicks: 1,
    maxPriceTicks: 1_000_000, // 10 BTC
    minQuantityLots: 1,
    maxQuantityLots: 10_000_000,
    minNotionalUnits: 10_000, // 0.0001 BTC
    maxNotionalUnits: 1_000_000_000_000_000,
  },
  {
    ...COMMON,
    marketId: 4,
    symbol: "BTC_USDT",
    baseAssetId: 1,
    quoteAssetId: 3,
    lotSizeBaseUnits: 10_000,
    quoteUnitsPerTickLot: 1,
    minPriceTicks: 100,
    maxPriceTicks: 100_000_000,
    minQuantityLots: 1,
    maxQuantityLots: 10_000_000,
    minNotionalUnits: 1_000_000,
    maxNotionalUnits: 1_000_000_000_000_000,
  },
];

/**
 * A fresh exchange (no assets yet) gets the default assets and markets, through the journal like
 * any command; returns how many commands that took (0 when the exchange already had assets).
 */
export async function ensureDefaultMarkets(exchange: {
  assets(): readonly AssetConfig[];
  submit(command: UnstampedCommand): Promise<SubmitResult>;
  whenProjected(sequence: number): Promise<void>;
}): Promise<number> {
  if (exchange.assets().length > 0) return 0;
  const commands: UnstampedCommand[] = [
    ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
    ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
  ];
  let last = 0;
  for (const command of commands) {
    const result = await exchange.submit(command);
    const rejected = result.events.find((event) => event.type === "rejected");
    if (rejected !== undefined) throw new Error(`default market setup rejected: ${JSON.stringify(rejected)}`);
    last = result.sequence;
  }
  await exchange.whenProjected(last);
  return commands.length;
}

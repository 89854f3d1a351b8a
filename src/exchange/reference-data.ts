// The exchange's reference data as the layers above read it: assets and markets with the units
// to speak decimals about them, learnt from the core's state at start and from assetAdded /
// marketAdded events after. Shared by the embedded exchange and cluster mode's gateway boundary
// (src/cluster/cluster-exchange.ts), which learn it the same way from their own cores.

import type { AssetConfig, MarketConfig } from "../core/config.ts";
import type { CoreEvent } from "../core/events.ts";
import { MarketUnits } from "../units/market-units.ts";
import type { MarketContext } from "./boundary.ts";

export class ReferenceData {
  private readonly marketsById = new Map<number, MarketContext>();
  private readonly marketsBySymbol = new Map<string, MarketContext>();
  private readonly assetsById = new Map<number, AssetConfig>();
  private readonly assetsByCode = new Map<string, AssetConfig>();

  /** `onMarket` hears every market learnt (market data adds its book). */
  constructor(private readonly onMarket: (config: MarketConfig) => void) {}

  /** Learns a core's assets and markets (at start). */
  learnAll(assets: readonly AssetConfig[], markets: readonly MarketConfig[]): void {
    for (const asset of assets) this.learnAsset(asset);
    for (const market of markets) this.learnMarket(market);
  }

  /** Learns what a durable batch adds. */
  learnFrom(events: readonly CoreEvent[]): void {
    for (const event of events) {
      if (event.type === "assetAdded") this.learnAsset(event.asset);
      else if (event.type === "marketAdded") this.learnMarket(event.market);
    }
  }

  market(marketId: number): MarketContext | undefined {
    return this.marketsById.get(marketId);
  }

  marketBySymbol(symbol: string): MarketContext | undefined {
    return this.marketsBySymbol.get(symbol);
  }

  markets(): MarketContext[] {
    return [...this.marketsById.values()];
  }

  asset(assetId: number): AssetConfig | undefined {
    return this.assetsById.get(assetId);
  }

  assetByCode(code: string): AssetConfig | undefined {
    return this.assetsByCode.get(code);
  }

  assets(): AssetConfig[] {
    return [...this.assetsById.values()];
  }

  private learnAsset(asset: AssetConfig): void {
    this.assetsById.set(asset.assetId, asset);
    this.assetsByCode.set(asset.code, asset);
  }

  private learnMarket(config: MarketConfig): void {
    const base = this.assetsById.get(config.baseAssetId);
    const quote = this.assetsById.get(config.quoteAssetId);
    if (base === undefined || quote === undefined)
      throw new Error(`market ${config.symbol} has unknown assets`);
    const context: MarketContext = { config, base, quote, units: new MarketUnits(config, base, quote) };
    this.marketsById.set(config.marketId, context);
    this.marketsBySymbol.set(config.symbol, context);
    this.onMarket(config);
  }
}

// The demo market maker: a real user sending real commands through exchange.submit, so books,
// trades, tickers and candles look alive. Each tick it picks one market (round robin), moves that
// market's mid price by a small random step (seeded PRNG, pulled back towards a reference price),
// cancels its own quotes there and places LEVELS_PER_SIDE fresh ones on each side, so it never has
// more than 2 × LEVELS_PER_SIDE resting orders per market. Now and then a second demo user sends
// an IOC order that crosses the spread, which makes a trade.

import type { UnstampedCommand } from "../../core/commands.ts";
import type { MarketConfig } from "../../core/config.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import { Prng } from "../../lib/prng.ts";

export const LEVELS_PER_SIDE = 3;
/** Half the distance between the best bid and ask, and between levels, in parts per million of mid. */
const LEVEL_STEP_PPM = 500;
/** Largest random move of the mid per tick of its market, in ppm. */
const MAX_STEP_PPM = 1_500;
/** Fraction of the gap to the reference price closed per tick, in ppm: keeps the walk bounded. */
const REVERSION_PPM = 5_000;
/** The mid stays within [reference / 2, reference × 2]. */
const BAND_FACTOR = 2;
/** Chance per tick that the taker trades. */
const TRADE_PROBABILITY = 0.25;
/** Order sizes: between these multiples of the market's minimum notional. */
const MIN_SIZE_MULTIPLE = 2;
const MAX_SIZE_MULTIPLE = 40;
export const DEFAULT_TICK_INTERVAL_MS = 250;

/** Reference prices in ticks of the default markets (the decimal price × 100, or × 100,000 for ETH_BTC). */
export const DEMO_REFERENCE_PRICE_TICKS: Readonly<Record<string, number>> = {
  BTC_USD: 6_000_000, // 60,000.00 USD
  ETH_USD: 300_000, // 3,000.00 USD
  ETH_BTC: 5_000, // 0.05000 BTC
  BTC_USDT: 6_000_000, // 60,000.00 USDT
};

export interface MarketMakerOptions {
  makerUserId: number;
  takerUserId: number;
  seed: number;
  tickIntervalMs?: number;
  onError?: (error: unknown) => void;
}

interface QuotedMarket {
  config: MarketConfig;
  referenceTicks: number;
  midTicks: number;
}

export class DemoMarketMaker {
  private readonly prng: Prng;
  private readonly markets: QuotedMarket[];
  private next = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Commands sent, for tests and the status line. */
  ticks = 0;

  constructor(
    private readonly exchange: ExchangeBoundary,
    private readonly options: MarketMakerOptions,
  ) {
    this.prng = new Prng(options.seed);
    const lastPrices = new Map(exchange.marketData.tickers().map((t) => [t.marketId, t.lastPriceTicks]));
    this.markets = exchange
      .markets()
      .filter(({ config }) => DEMO_REFERENCE_PRICE_TICKS[config.symbol] !== undefined)
      .map(({ config }) => {
        const referenceTicks = DEMO_REFERENCE_PRICE_TICKS[config.symbol];
        // Continue from the last trade after a restart, if it is inside the band.
        const last = lastPrices.get(config.marketId) ?? 0;
        const inBand = last >= referenceTicks / BAND_FACTOR && last <= referenceTicks * BAND_FACTOR;
        return { config, referenceTicks, midTicks: inBand ? last : referenceTicks };
      });
  }

  get marketCount(): number {
    return this.markets.length;
  }

  start(): void {
    if (this.markets.length === 0) return;
    const interval = this.options.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS;
    this.timer = setInterval(() => {
      // Skip a tick while the previous one is still waiting for its commands.
      if (this.running !== null || this.stopped) return;
      this.running = this.tick()
        .catch((error: unknown) => {
          if (!this.stopped) this.options.onError?.(error);
        })
        .finally(() => {
          this.running = null;
        });
    }, interval);
  }

  /** Stops ticking and waits for the tick in flight. Resting quotes stay (they survive a restart). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One market's turn: move the mid, replace the quotes, maybe trade. */
  async tick(): Promise<void> {
    const market = this.markets[this.next];
    this.next = (this.next + 1) % this.markets.length;
    this.ticks += 1;
    this.walk(market);
    const { makerUserId, takerUserId } = this.options;
    const marketId = market.config.marketId;
    const commands: UnstampedCommand[] = [{ kind: "cancelAll", userId: makerUserId, marketId }];
    const step = Math.max(1, Math.round((market.midTicks * LEVEL_STEP_PPM) / 1_000_000));
    for (let level = 1; level <= LEVELS_PER_SIDE; level++) {
      commands.push(this.limit(market, makerUserId, "buy", market.midTicks - step * level, "gtc"));
      commands.push(this.limit(market, makerUserId, "sell", market.midTicks + step * level, "gtc"));
    }
    if (this.prng.next() < TRADE_PROBABILITY) {
      const side = this.prng.next() < 0.5 ? "buy" : "sell";
      // Crosses the best level only: a small trade, the book refills next turn.
      const price = side === "buy" ? market.midTicks + step : market.midTicks - step;
      commands.push(this.limit(market, takerUserId, side, price, "ioc"));
    }
    // Submitted together so they land in one batch: the book never shows the maker half-quoted.
    await Promise.all(commands.map((command) => this.exchange.submit(command)));
  }

  private walk(market: QuotedMarket): void {
    const randomPpm = (this.prng.next() * 2 - 1) * MAX_STEP_PPM;
    const reversion = ((market.referenceTicks - market.midTicks) * REVERSION_PPM) / 1_000_000;
    const moved = Math.round(market.midTicks * (1 + randomPpm / 1_000_000) + reversion);
    const low = Math.max(market.config.minPriceTicks, Math.ceil(market.referenceTicks / BAND_FACTOR));
    const high = Math.min(market.config.maxPriceTicks, Math.floor(market.referenceTicks * BAND_FACTOR));
    market.midTicks = Math.min(high, Math.max(low, moved));
  }

  private limit(
    market: QuotedMarket,
    userId: number,
    side: "buy" | "sell",
    priceTicks: number,
    timeInForce: "gtc" | "ioc",
  ): UnstampedCommand {
    const { config } = market;
    const price = Math.min(config.maxPriceTicks, Math.max(config.minPriceTicks, priceTicks));
    return {
      kind: "placeOrder",
      userId,
      marketId: config.marketId,
      side,
      orderType: "limit",
      priceTicks: price,
      quantityLots: this.sizeLots(config, price),
      quoteAmountUnits: 0,
      triggerPriceTicks: 0,
      timeInForce,
      postOnly: false,
      clientOrderId: 0,
      selfTradePrevention: null,
    };
  }

  /** A random size worth MIN..MAX_SIZE_MULTIPLE minimum notionals, in whole lots within the market's bounds. */
  private sizeLots(config: MarketConfig, priceTicks: number): number {
    const notionalPerLot = priceTicks * config.quoteUnitsPerTickLot;
    const minLots = Math.ceil(Math.max(1, config.minNotionalUnits) / notionalPerLot);
    const lots = minLots * this.prng.int(MIN_SIZE_MULTIPLE, MAX_SIZE_MULTIPLE);
    return Math.min(config.maxQuantityLots, Math.max(config.minQuantityLots, lots));
  }
}

// Binance klines from Bulwark's candles (src/gateway/binance/public-routes.ts) with a clock the test
// owns: intervals served straight from a resolution, derived ones (6h from 2h, 3d from 1d) merged
// exactly on the epoch grid, close times, startTime/endTime/limit windows.

import { describe, expect, it } from "vitest";
import type { Command, UnstampedCommand } from "../../../src/core/commands.ts";
import { Core } from "../../../src/core/core.ts";
import type { CoreEvent } from "../../../src/core/events.ts";
import type { ExchangeBoundary, MarketContext } from "../../../src/exchange/boundary.ts";
import { BinanceFailure } from "../../../src/gateway/binance/errors.ts";
import { type BinanceQuery, binancePublicRoutes } from "../../../src/gateway/binance/public-routes.ts";
import { MarketData } from "../../../src/marketdata/market-data.ts";
import { MarketUnits } from "../../../src/units/market-units.ts";
import { ASSETS, MARKETS, setupCommands } from "../../marketdata/streams.ts";
import { limitOrder } from "../../support/orders.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const T0 = Date.UTC(2024, 2, 4, 10, 0, 0); // Monday 4 March 2024, 10:00 UTC

function setup() {
  const clock = { nowMs: T0 };
  const core = new Core({ maxOpenOrders: 1_000, maxUsers: 100 });
  const data = new MarketData({ clock: () => clock.nowMs, maxTrackedOrders: 1_001 });
  let sequence = 0;
  const run = (commands: UnstampedCommand[], timestampMs: number) => {
    const events: CoreEvent[] = [];
    core.applyBatch(
      commands.map((command) => ({ ...command, sequence: ++sequence, timestampMs }) as Command),
      events,
    );
    data.apply(events);
  };
  run(setupCommands(), T0);
  const contexts: MarketContext[] = MARKETS.map((config) => {
    const base = ASSETS.find((asset) => asset.assetId === config.baseAssetId);
    const quote = ASSETS.find((asset) => asset.assetId === config.quoteAssetId);
    if (base === undefined || quote === undefined) throw new Error("fixture assets");
    return { config, base, quote, units: new MarketUnits(config, base, quote) };
  });
  // Only what the public routes read of the boundary.
  const exchange = {
    markets: () => contexts,
    marketData: data,
    reads: { markets: async () => [] },
  } as unknown as ExchangeBoundary;
  const klines = binancePublicRoutes({ exchange, clock: () => clock.nowMs }).find(
    (route) => route.url === "/api/v3/klines",
  );
  if (klines === undefined) throw new Error("no klines route");
  /** One trade of `lots` at `priceTicks`, at `atMs`. */
  const trade = (priceTicks: number, lots: number, atMs: number) => {
    run([limitOrder(1, "sell", priceTicks, lots)], atMs);
    run([limitOrder(2, "buy", priceTicks, lots)], atMs);
  };
  const units = contexts[0]?.units as MarketUnits;
  const row = (openMs: number, o: number, h: number, l: number, c: number, lots: number, closeMs: number) => [
    openMs,
    units.formatPrice(o),
    units.formatPrice(h),
    units.formatPrice(l),
    units.formatPrice(c),
    units.formatQuantity(lots),
    closeMs,
    "0",
    0,
    "0",
    "0",
    "0",
  ];
  const ask = (query: BinanceQuery) => klines.handle({ symbol: "BTCUSD", ...query });
  return { clock, trade, row, ask };
}

describe("klines", () => {
  it("derives 6h from 2h candles exactly, on UTC 00/06/12/18 boundaries", () => {
    const { clock, trade, row, ask } = setup();
    trade(20, 1, T0); // 10:00
    trade(22, 2, T0 + 61 * 60_000); // 11:01
    trade(18, 3, T0 + 2 * HOUR_MS + 5 * 60_000); // 12:05
    trade(21, 1, T0 + 3 * HOUR_MS + 60_000); // 13:01
    clock.nowMs = T0 + 4 * HOUR_MS;
    const sixAm = T0 - 4 * HOUR_MS;
    const noon = T0 + 2 * HOUR_MS;
    expect(ask({ interval: "6h" })).toEqual([
      row(sixAm, 20, 22, 20, 22, 3, noon - 1),
      row(noon, 18, 21, 18, 21, 4, noon + 6 * HOUR_MS - 1),
    ]);
    // The straight 2h resolution: 10:00-12:00 and 12:00-14:00.
    expect(ask({ interval: "2h" })).toEqual([
      row(T0, 20, 22, 20, 22, 3, T0 + 2 * HOUR_MS - 1),
      row(noon, 18, 21, 18, 21, 4, noon + 2 * HOUR_MS - 1),
    ]);
    // startTime inside the first 6h bucket leaves it out (Binance: open time >= startTime).
    expect(ask({ interval: "6h", startTime: String(T0) })).toEqual([
      row(noon, 18, 21, 18, 21, 4, noon + 6 * HOUR_MS - 1),
    ]);
    // endTime before noon: only the first; limit=1 without a start: the newest.
    expect(ask({ interval: "6h", endTime: String(noon - 1) })).toEqual([
      row(sixAm, 20, 22, 20, 22, 3, noon - 1),
    ]);
    expect(ask({ interval: "6h", limit: "1" })).toEqual([
      row(noon, 18, 21, 18, 21, 4, noon + 6 * HOUR_MS - 1),
    ]);
    expect(ask({ interval: "6h", startTime: String(noon + 1), endTime: String(noon) })).toEqual([]);
  });

  it("writes calendar close times for 1w and 1M and epoch-aligned 3d buckets", () => {
    const { clock, trade, row, ask } = setup();
    trade(20, 1, T0);
    trade(25, 2, T0 + 2 * DAY_MS); // Wednesday 6 March
    clock.nowMs = T0 + 3 * DAY_MS;
    const march = Date.UTC(2024, 2, 1);
    expect(ask({ interval: "1M" })).toEqual([row(march, 20, 25, 20, 25, 3, Date.UTC(2024, 3, 1) - 1)]);
    const monday = Date.UTC(2024, 2, 4);
    expect(ask({ interval: "1w" })).toEqual([row(monday, 20, 25, 20, 25, 3, monday + 7 * DAY_MS - 1)]);
    const threeDays = 3 * DAY_MS;
    const firstBucket = Math.floor(T0 / threeDays) * threeDays;
    const expected =
      Math.floor((T0 + 2 * DAY_MS) / threeDays) * threeDays === firstBucket
        ? [row(firstBucket, 20, 25, 20, 25, 3, firstBucket + threeDays - 1)]
        : [
            row(firstBucket, 20, 20, 20, 20, 1, firstBucket + threeDays - 1),
            row(firstBucket + threeDays, 25, 25, 25, 25, 2, firstBucket + 2 * threeDays - 1),
          ];
    expect(ask({ interval: "3d" })).toEqual(expected);
  });

  it("refuses 1s and unknown intervals with -1120 and a bad limit with -1100", () => {
    const { ask } = setup();
    for (const interval of ["1s", "2m", "1y", "constructor"]) {
      expect(() => ask({ interval })).toThrow(BinanceFailure);
      try {
        ask({ interval });
      } catch (error) {
        expect((error as BinanceFailure).kind).toBe("invalidInterval");
      }
    }
    for (const limit of ["0", "1001", "-1", "1e3"]) {
      try {
        ask({ interval: "1m", limit });
        expect.unreachable(`limit ${limit} accepted`);
      } catch (error) {
        expect((error as BinanceFailure).kind).toBe("illegalChars");
      }
    }
  });
});

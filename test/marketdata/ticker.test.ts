import { describe, expect, it } from "vitest";
import { ExactSums, ExactTotal } from "../../src/marketdata/exact-sum.ts";
import { RollingTicker } from "../../src/marketdata/ticker.ts";
import { trade } from "./fixtures.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);

describe("RollingTicker", () => {
  it("computes last, high, low, volumes and the exact VWAP over the window", () => {
    const ticker = new RollingTicker(1, 10);
    ticker.record(trade(T0, 100, 2));
    ticker.record(trade(T0 + 30_000, 120, 1, "sell"));
    ticker.record(trade(T0 + 5 * MINUTE, 90, 3));
    expect(ticker.read(T0 + 6 * MINUTE, 89, 91)).toEqual({
      marketId: 1,
      lastPriceTicks: 90,
      bestBidTicks: 89,
      bestAskTicks: 91,
      highTicks: 120,
      lowTicks: 90,
      volumeBaseLots: 6n,
      volumeQuoteUnits: 2000n + 1200n + 2700n,
      // VWAP = 5900 / (6 * 10) = 98.33 ticks
      averagePriceTicks: { numerator: 5900n, denominator: 60n },
      updatedMs: T0 + 5 * MINUTE,
    });
  });

  it("drops a minute's trades at the first minute boundary 24 h after it", () => {
    const ticker = new RollingTicker(1, 10);
    ticker.record(trade(T0 + 10_000, 200, 1)); // minute T0
    ticker.record(trade(T0 + 2 * MINUTE, 100, 4)); // minute T0 + 2
    // Last instant of the window that still holds minute T0.
    const stillIn = ticker.read(T0 + DAY - 1, 0, 0);
    expect([stillIn.highTicks, stillIn.lowTicks, stillIn.volumeBaseLots]).toEqual([200, 100, 5n]);
    const aged = ticker.read(T0 + DAY, 0, 0);
    expect([aged.highTicks, aged.lowTicks, aged.volumeBaseLots, aged.volumeQuoteUnits]).toEqual([
      100,
      100,
      4n,
      4000n,
    ]);
    const empty = ticker.read(T0 + 2 * MINUTE + DAY, 0, 0);
    expect(empty).toMatchObject({
      lastPriceTicks: 100,
      highTicks: 0,
      lowTicks: 0,
      volumeBaseLots: 0n,
      volumeQuoteUnits: 0n,
      averagePriceTicks: { numerator: 0n, denominator: 0n },
    });
  });

  it("reuses a bucket when its minute comes round again a day later", () => {
    const ticker = new RollingTicker(1, 1);
    ticker.record(trade(T0, 50, 7, "buy", 1, 350));
    ticker.record(trade(T0 + DAY, 60, 1, "buy", 1, 60)); // same bucket index, next day
    expect(ticker.read(T0 + DAY, 0, 0)).toMatchObject({ highTicks: 60, lowTicks: 60, volumeBaseLots: 1n });
  });

  it("leaves out trades after nowMs and counts late-stamped trades at the latest time seen", () => {
    const ticker = new RollingTicker(1, 10);
    ticker.record(trade(T0 + 10 * MINUTE, 100, 1));
    ticker.record(trade(T0, 300, 1)); // stamped earlier: counted at T0 + 10 min
    expect(ticker.read(T0 + 5 * MINUTE, 0, 0).volumeBaseLots).toBe(0n);
    expect(ticker.read(T0 + 10 * MINUTE, 0, 0)).toMatchObject({ highTicks: 300, volumeBaseLots: 2n });
    expect(ticker.read(T0 + 10 * MINUTE + DAY, 0, 0).volumeBaseLots).toBe(0n);
  });

  it("keeps volumes exact past 2^53", () => {
    const ticker = new RollingTicker(1, 1);
    const big = 2 ** 52;
    ticker.record(trade(T0, 1, 1, "buy", 1, big));
    ticker.record(trade(T0, 1, 1, "buy", 1, big));
    ticker.record(trade(T0 + MINUTE, 1, 1, "buy", 1, big + 1));
    expect(ticker.read(T0 + MINUTE, 0, 0).volumeQuoteUnits).toBe(3n * 2n ** 52n + 1n);
  });

  it("reuses the window sums only while neither the minute nor the trades changed", () => {
    const ticker = new RollingTicker(1, 10);
    ticker.record(trade(T0, 100, 1));
    expect(ticker.read(T0 + 1_000, 0, 0).volumeBaseLots).toBe(1n);
    ticker.record(trade(T0 + 2_000, 140, 2)); // same minute as the read
    expect(ticker.read(T0 + 3_000, 7, 9)).toMatchObject({
      volumeBaseLots: 3n,
      highTicks: 140,
      bestBidTicks: 7,
    });
    expect(ticker.read(T0 + DAY, 0, 0).volumeBaseLots).toBe(0n);
  });

  it("touch moves updatedMs but never back", () => {
    const ticker = new RollingTicker(1, 10);
    ticker.touch(5_000);
    ticker.touch(4_000);
    expect(ticker.read(5_000, 0, 0).updatedMs).toBe(5_000);
  });
});

describe("ExactSums", () => {
  it("carries into a bigint exactly when a cell passes 2^53 - 1", () => {
    const sums = new ExactSums(2);
    sums.add(0, Number.MAX_SAFE_INTEGER);
    sums.add(0, 1);
    sums.add(0, Number.MAX_SAFE_INTEGER);
    expect(sums.get(0)).toBe(2n * BigInt(Number.MAX_SAFE_INTEGER) + 1n);
    expect(sums.get(1)).toBe(0n);
    sums.set(1, 3n * 2n ** 60n);
    expect(sums.get(1)).toBe(3n * 2n ** 60n);
    const total = new ExactTotal();
    sums.addTo(0, total);
    sums.addTo(1, total);
    expect(total.value()).toBe(2n * BigInt(Number.MAX_SAFE_INTEGER) + 1n + 3n * 2n ** 60n);
    expect(() => sums.add(0, -1)).toThrow(RangeError);
    expect(() => sums.add(0, 0.5)).toThrow(RangeError);
  });
});

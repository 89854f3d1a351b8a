import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bucketStartMs,
  CANDLE_RETENTION,
  CandleSeries,
  MarketCandles,
  RESOLUTIONS,
  type Resolution,
} from "../../src/marketdata/candles.ts";
import { MAX_CANDLES_PER_QUERY } from "../../src/marketdata/limits.ts";
import { trade } from "./fixtures.ts";

const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0) =>
  Date.UTC(y, mo - 1, d, h, mi, s, ms);
const MINUTE = 60_000;

describe("bucketStartMs", () => {
  it("puts 2024-02-29 13:47:59.999 UTC (a leap day, a Thursday) in the right bucket at every resolution", () => {
    const t = utc(2024, 2, 29, 13, 47, 59, 999);
    const expected: Record<Resolution, number> = {
      "1": utc(2024, 2, 29, 13, 47),
      "5": utc(2024, 2, 29, 13, 45),
      "15": utc(2024, 2, 29, 13, 45),
      "30": utc(2024, 2, 29, 13, 30),
      "45": utc(2024, 2, 29, 13, 30), // 45-min buckets restart at every UTC midnight: 13:30 = 18 * 45 min
      "60": utc(2024, 2, 29, 13),
      "120": utc(2024, 2, 29, 12),
      "180": utc(2024, 2, 29, 12),
      "240": utc(2024, 2, 29, 12),
      D: utc(2024, 2, 29),
      W: utc(2024, 2, 26), // Monday
      M: utc(2024, 2, 1),
    };
    for (const resolution of RESOLUTIONS)
      expect([resolution, bucketStartMs(resolution, t)]).toEqual([resolution, expected[resolution]]);
  });

  it("closes buckets exactly at their edges", () => {
    expect(bucketStartMs("45", utc(2024, 3, 1, 0, 44, 59, 999))).toBe(utc(2024, 3, 1));
    expect(bucketStartMs("45", utc(2024, 3, 1, 0, 45))).toBe(utc(2024, 3, 1, 0, 45));
    expect(bucketStartMs("45", utc(2024, 2, 29, 23, 59, 59, 999))).toBe(utc(2024, 2, 29, 23, 15));
    expect(bucketStartMs("240", utc(2024, 2, 29, 23, 59))).toBe(utc(2024, 2, 29, 20));
    expect(bucketStartMs("D", utc(2024, 2, 29, 23, 59, 59, 999))).toBe(utc(2024, 2, 29));
    expect(bucketStartMs("D", utc(2024, 3, 1))).toBe(utc(2024, 3, 1));
  });

  it("opens weeks on Monday 00:00 UTC, across month, year and epoch edges", () => {
    expect(bucketStartMs("W", utc(2024, 3, 3, 23, 59, 59, 999))).toBe(utc(2024, 2, 26)); // Sunday
    expect(bucketStartMs("W", utc(2024, 3, 4))).toBe(utc(2024, 3, 4)); // Monday
    expect(bucketStartMs("W", utc(2024, 3, 1))).toBe(utc(2024, 2, 26)); // Friday after a leap day
    expect(bucketStartMs("W", utc(2025, 1, 1, 8))).toBe(utc(2024, 12, 30)); // Wednesday, new year
    expect(bucketStartMs("W", 0)).toBe(utc(1969, 12, 29)); // the epoch was a Thursday
  });

  it("opens months on the 1st, including February of leap and common years", () => {
    expect(bucketStartMs("M", utc(2024, 2, 29, 23, 59, 59, 999))).toBe(utc(2024, 2, 1));
    expect(bucketStartMs("M", utc(2024, 3, 1))).toBe(utc(2024, 3, 1));
    expect(bucketStartMs("M", utc(2023, 2, 28, 23, 59))).toBe(utc(2023, 2, 1));
    expect(bucketStartMs("M", utc(2023, 3, 1))).toBe(utc(2023, 3, 1));
    expect(bucketStartMs("M", utc(2100, 2, 28, 12))).toBe(utc(2100, 2, 1)); // 2100 is not a leap year
    expect(bucketStartMs("M", utc(2100, 3, 1))).toBe(utc(2100, 3, 1));
    expect(bucketStartMs("M", utc(2024, 12, 31, 23, 59, 59, 999))).toBe(utc(2024, 12, 1));
  });

  it("is a boundary at or before t, stable, with the bucket's length, at every resolution", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: utc(2200, 1, 1) }),
        fc.constantFrom(...RESOLUTIONS),
        (t, resolution) => {
          const start = bucketStartMs(resolution, t);
          expect(start).toBeLessThanOrEqual(t);
          expect(bucketStartMs(resolution, start)).toBe(start);
          expect(bucketStartMs(resolution, start - 1)).toBeLessThan(start);
          const date = new Date(start);
          if (resolution === "M") {
            expect([date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes()]).toEqual([1, 0, 0]);
            const next = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
            expect(t).toBeLessThan(next);
          } else if (resolution === "W") {
            expect([date.getUTCDay(), date.getUTCHours()]).toEqual([1, 0]);
            expect(t - start).toBeLessThan(7 * 86_400_000);
          } else {
            const lengthMs = resolution === "D" ? 86_400_000 : Number(resolution) * MINUTE;
            expect(t - start).toBeLessThan(lengthMs);
            expect(start % lengthMs).toBe(0);
          }
        },
      ),
    );
  });
});

describe("CandleSeries", () => {
  const T = utc(2024, 2, 29, 23, 58);

  it("builds OHLCV per bucket with exact values", () => {
    const series = new CandleSeries("1");
    series.record(T + 1_000, 100, 2);
    series.record(T + 2_000, 105, 1);
    series.record(T + 3_000, 98, 4);
    series.record(T + 4_000, 101, 3);
    series.record(T + MINUTE, 110, 5);
    expect(series.query(0, T + MINUTE)).toEqual([
      { openTimeMs: T, openTicks: 100, highTicks: 105, lowTicks: 98, closeTicks: 101, volumeLots: 10n },
      {
        openTimeMs: T + MINUTE,
        openTicks: 110,
        highTicks: 110,
        lowTicks: 110,
        closeTicks: 110,
        volumeLots: 5n,
      },
    ]);
    // Inclusive on both ends, by open time.
    expect(series.query(T + 1, T + MINUTE).map((c) => c.openTimeMs)).toEqual([T + MINUTE]);
    expect(series.query(T, T).map((c) => c.openTimeMs)).toEqual([T]);
    expect(series.query(T + MINUTE + 1, T + 10 * MINUTE)).toEqual([]);
  });

  it("refuses a trade before its newest candle (market data clamps time before this)", () => {
    const series = new CandleSeries("5");
    series.record(T, 1, 1);
    expect(() => series.record(T - 5 * MINUTE, 1, 1)).toThrow(/append-only/);
  });

  it("keeps the newest `retention` candles as it wraps, and returns the newest when capped", () => {
    const series = new CandleSeries("1", 40);
    for (let minute = 0; minute < 100; minute++) series.record(T + minute * MINUTE, minute + 1, 1);
    expect(series.size).toBe(40);
    const all = series.query(0, Number.MAX_SAFE_INTEGER);
    expect(all.map((c) => c.openTicks)).toEqual(Array.from({ length: 40 }, (_, i) => 61 + i));
    expect(series.query(0, Number.MAX_SAFE_INTEGER, 3).map((c) => c.openTicks)).toEqual([98, 99, 100]);
    expect(series.query(T + 70 * MINUTE, T + 72 * MINUTE).map((c) => c.openTicks)).toEqual([71, 72, 73]);
    expect(() => series.query(0, 1, MAX_CANDLES_PER_QUERY + 1)).toThrow(RangeError);
  });

  it("caps a query at MAX_CANDLES_PER_QUERY candles", () => {
    const series = new CandleSeries("1");
    for (let minute = 0; minute < MAX_CANDLES_PER_QUERY + 10; minute++)
      series.record(T + minute * MINUTE, 7, 1);
    const candles = series.query(0, Number.MAX_SAFE_INTEGER);
    expect(candles.length).toBe(MAX_CANDLES_PER_QUERY);
    expect(candles[0].openTimeMs).toBe(T + 10 * MINUTE);
  });
});

describe("MarketCandles", () => {
  it("feeds every resolution from one trade stream, across a leap day and a month edge", () => {
    const candles = new MarketCandles(1);
    candles.record(trade(utc(2024, 2, 29, 23, 59, 30), 100, 1));
    candles.record(trade(utc(2024, 3, 1, 0, 0, 10), 120, 2));
    candles.record(trade(utc(2024, 3, 1, 0, 0, 5), 90, 1)); // stamped earlier: counted at 00:00:10
    expect(candles.query("M", 0, utc(2030, 1, 1))).toEqual([
      {
        openTimeMs: utc(2024, 2, 1),
        openTicks: 100,
        highTicks: 100,
        lowTicks: 100,
        closeTicks: 100,
        volumeLots: 1n,
      },
      {
        openTimeMs: utc(2024, 3, 1),
        openTicks: 120,
        highTicks: 120,
        lowTicks: 90,
        closeTicks: 90,
        volumeLots: 3n,
      },
    ]);
    expect(candles.query("W", 0, utc(2030, 1, 1))).toEqual([
      {
        openTimeMs: utc(2024, 2, 26),
        openTicks: 100,
        highTicks: 120,
        lowTicks: 90,
        closeTicks: 90,
        volumeLots: 4n,
      },
    ]);
    expect(candles.query("D", 0, utc(2030, 1, 1)).map((c) => [c.openTimeMs, c.volumeLots])).toEqual([
      [utc(2024, 2, 29), 1n],
      [utc(2024, 3, 1), 3n],
    ]);
    expect(candles.query("45", 0, utc(2030, 1, 1)).map((c) => c.openTimeMs)).toEqual([
      utc(2024, 2, 29, 23, 15),
      utc(2024, 3, 1),
    ]);
  });

  it("round-trips through JSON and rebuilds the same answers", () => {
    const candles = new MarketCandles(3);
    for (let index = 0; index < 50; index++)
      candles.record(trade(utc(2024, 1, 31, 20) + index * 7 * MINUTE, 100 + (index % 9), 1 + (index % 4)));
    candles.record(trade(utc(2024, 2, 1, 6), 1, 2 ** 31)); // big volume, kept exactly as a string
    const json = JSON.parse(JSON.stringify(candles));
    const restored = MarketCandles.fromJSON(json);
    expect(JSON.stringify(restored)).toBe(JSON.stringify(candles));
    for (const resolution of RESOLUTIONS)
      expect(restored.query(resolution, 0, utc(2030, 1, 1))).toEqual(
        candles.query(resolution, 0, utc(2030, 1, 1)),
      );
    // It keeps counting after the restore, into the same candle.
    restored.record(trade(utc(2024, 2, 1, 6, 0, 30), 2, 1));
    expect(restored.query("1", utc(2024, 2, 1, 6), utc(2024, 2, 1, 6))[0]).toMatchObject({
      highTicks: 2,
      closeTicks: 2,
      volumeLots: 2n ** 31n + 1n,
    });
  });

  it("rejects malformed saved candles", () => {
    const good = new MarketCandles(1);
    good.record(trade(utc(2024, 5, 5, 5, 5), 10, 1));
    const base = () => JSON.parse(JSON.stringify(good));
    const broken = [
      (j: { version: number }) => {
        j.version = 2;
      },
      (j: { series: Record<string, unknown[][]> }) => {
        j.series["1"][0][0] = utc(2024, 5, 5, 5, 5, 1); // not a bucket boundary
      },
      (j: { series: Record<string, unknown[][]> }) => {
        j.series.D[0][2] = 5; // high below open
      },
      (j: { series: Record<string, unknown[][]> }) => {
        j.series.W[0][5] = "1.5";
      },
      (j: { series: Record<string, unknown> }) => {
        delete j.series.M;
      },
      (j: { latestMs: number }) => {
        j.latestMs = 0; // candles after the latest time seen
      },
    ];
    expect(() => MarketCandles.fromJSON(base())).not.toThrow();
    for (const breakIt of broken) {
      const json = base();
      breakIt(json);
      expect(() => MarketCandles.fromJSON(json)).toThrow(/candles:/);
    }
    const many = new MarketCandles(1);
    for (let minute = 0; minute < 3; minute++) many.record(trade(utc(2024, 5, 5, 5, minute), 10, 1));
    const tighter = { ...CANDLE_RETENTION, "1": 2 };
    expect(() => MarketCandles.fromJSON(JSON.parse(JSON.stringify(many)), tighter)).toThrow(
      /too many 1 candles/,
    );
  });
});

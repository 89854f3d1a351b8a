import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AssetConfig, MAX_UINT32, type MarketConfig } from "../../src/core/config.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";
import { feePercentText, MarketUnits } from "../../src/units/market-units.ts";

function asset(assetId: number): AssetConfig {
  const found = DEFAULT_ASSETS.find((a) => a.assetId === assetId);
  if (found === undefined) throw new Error(`no asset ${assetId}`);
  return found;
}

function unitsFor(symbol: string): MarketUnits {
  const market = DEFAULT_MARKETS.find((m) => m.symbol === symbol);
  if (market === undefined) throw new Error(`no market ${symbol}`);
  return new MarketUnits(market, asset(market.baseAssetId), asset(market.quoteAssetId));
}

/** A market that passes marketConfigProblem, with the unit-relevant fields chosen by the test. */
function syntheticMarket(lotSizeBaseUnits: number, quoteUnitsPerTickLot: number): MarketConfig {
  return {
    marketId: 1,
    symbol: "AAA_BBB",
    baseAssetId: 1,
    quoteAssetId: 2,
    lotSizeBaseUnits,
    quoteUnitsPerTickLot,
    minPriceTicks: 1,
    maxPriceTicks: 1,
    minQuantityLots: 1,
    maxQuantityLots: 1,
    minNotionalUnits: 0,
    maxNotionalUnits: 1,
    makerFeePpm: 0,
    takerFeePpm: 0,
    stopBuySlippageBps: 0,
    selfTradePrevention: "cancelResting",
  };
}

function syntheticUnits(baseScale: number, quoteScale: number, lot: number, perTickLot: number): MarketUnits {
  return new MarketUnits(
    syntheticMarket(lot, perTickLot),
    { assetId: 1, code: "AAA", scale: baseScale },
    { assetId: 2, code: "BBB", scale: quoteScale },
  );
}

describe("MarketUnits on the default markets", () => {
  it("BTC_USD: tick 0.01 USD, lot 0.0001 BTC", () => {
    const u = unitsFor("BTC_USD");
    expect(u.pricePrecision).toBe(2);
    expect(u.parsePrice("64000")).toEqual({ ok: true, value: 6_400_000 });
    expect(u.parsePrice("64000.01")).toEqual({ ok: true, value: 6_400_001 });
    expect(u.parsePrice("64000.10")).toEqual({ ok: true, value: 6_400_010 });
    expect(u.parsePrice("64000.001")).toEqual({ ok: false, failure: "tooPrecise" });
    expect(u.parsePrice("0")).toEqual({ ok: true, value: 0 });
    expect(u.parsePrice("-1")).toEqual({ ok: false, failure: "negative" });
    expect(u.parsePrice("6.4e4")).toEqual({ ok: false, failure: "malformed" });
    expect(u.parsePrice("90071992547409.92")).toEqual({ ok: false, failure: "tooLarge" });
    expect(u.formatPrice(6_400_001)).toBe("64000.01");
    expect(u.formatPrice(6_400_000)).toBe("64000");
    expect(u.parseQuantity("0.001")).toEqual({ ok: true, value: 10 });
    expect(u.parseQuantity("0.0001")).toEqual({ ok: true, value: 1 });
    expect(u.parseQuantity("0.00015")).toEqual({ ok: false, failure: "tooPrecise" }); // not a whole lot
    expect(u.parseQuantity("0.00000001")).toEqual({ ok: false, failure: "tooPrecise" }); // one satoshi
    expect(u.parseQuantity("0.000000001")).toEqual({ ok: false, failure: "tooPrecise" }); // beyond BTC's scale
    expect(u.formatQuantity(10)).toBe("0.001");
    expect(u.parseQuoteAmount("50")).toEqual({ ok: true, value: 50_000_000 });
    expect(u.parseQuoteAmount("0.000001")).toEqual({ ok: true, value: 1 });
    expect(u.parseQuoteAmount("0.0000001")).toEqual({ ok: false, failure: "tooPrecise" });
    // 0.001 BTC at 64000 USD = 64 USD = 64,000,000 units at USD scale 6.
    expect(u.notionalUnits(6_400_000, 10)).toBe(64_000_000n);
    expect(u.formatQuote(64_000_000)).toBe("64");
    expect(u.formatBase(100_000)).toBe("0.001");
    expect([u.minPrice, u.maxPrice]).toEqual(["1", "1000000"]);
    expect([u.minQuantity, u.maxQuantity]).toEqual(["0.0001", "1000"]);
    expect([u.minAmount, u.maxAmount]).toEqual(["1", "1000000000"]);
    expect([u.makerFeePercent, u.takerFeePercent]).toEqual(["0.2", "0.3"]);
  });

  it("ETH_USD: tick 0.01 USD, lot 0.001 ETH, 10 USD units per tick-lot", () => {
    const u = unitsFor("ETH_USD");
    expect(u.pricePrecision).toBe(2);
    expect(u.parsePrice("3000.5")).toEqual({ ok: true, value: 300_050 });
    expect(u.parseQuantity("0.5")).toEqual({ ok: true, value: 500 });
    expect(u.parseQuantity("0.0005")).toEqual({ ok: false, failure: "tooPrecise" });
    // 0.5 ETH at 3000.5 USD = 1500.25 USD.
    expect(u.notionalUnits(300_050, 500)).toBe(1_500_250_000n);
    expect(u.formatQuote(1_500_250_000)).toBe("1500.25");
    expect([u.minPrice, u.maxPrice, u.minQuantity, u.maxQuantity]).toEqual(["1", "100000", "0.001", "10000"]);
    expect([u.minAmount, u.maxAmount]).toEqual(["1", "1000000000"]);
  });

  it("ETH_BTC: tick 0.00001 BTC, lot 0.001 ETH", () => {
    const u = unitsFor("ETH_BTC");
    expect(u.pricePrecision).toBe(5);
    expect(u.parsePrice("0.05123")).toEqual({ ok: true, value: 5_123 });
    expect(u.parsePrice("0.051234")).toEqual({ ok: false, failure: "tooPrecise" });
    expect(u.formatPrice(5_123)).toBe("0.05123");
    expect(u.parseQuantity("2")).toEqual({ ok: true, value: 2_000 });
    // 2 ETH at 0.05123 BTC = 0.10246 BTC.
    expect(u.notionalUnits(5_123, 2_000)).toBe(10_246_000n);
    expect(u.formatQuote(10_246_000)).toBe("0.10246");
    expect([u.minPrice, u.maxPrice]).toEqual(["0.00001", "10"]);
    expect([u.minAmount, u.maxAmount]).toEqual(["0.0001", "10000000"]); // 10^15 units at scale 8
  });

  it("BTC_USDT: same grid as BTC_USD", () => {
    const u = unitsFor("BTC_USDT");
    expect(u.pricePrecision).toBe(2);
    expect(u.parsePrice("64000.05")).toEqual({ ok: true, value: 6_400_005 });
    expect(u.parseQuantity("1000")).toEqual({ ok: true, value: 10_000_000 });
    expect(u.formatQuantity(10_000_000)).toBe("1000");
  });

  it("limit problems name the side of the range", () => {
    const u = unitsFor("BTC_USD");
    expect(u.priceLimitProblem(99)).toBe("belowMin");
    expect(u.priceLimitProblem(100)).toBeNull();
    expect(u.priceLimitProblem(100_000_000)).toBeNull();
    expect(u.priceLimitProblem(100_000_001)).toBe("aboveMax");
    expect(u.quantityLimitProblem(0)).toBe("belowMin");
    expect(u.quantityLimitProblem(10_000_001)).toBe("aboveMax");
    expect(u.notionalLimitProblem(999_999)).toBe("belowMin");
    expect(u.notionalLimitProblem(1_000_000)).toBeNull();
    expect(u.notionalLimitProblem(10n ** 15n)).toBeNull();
    expect(u.notionalLimitProblem(10n ** 15n + 1n)).toBe("aboveMax");
  });

  it("refuses negative or unsafe counts when formatting", () => {
    const u = unitsFor("BTC_USD");
    expect(() => u.formatPrice(-1)).toThrow(RangeError);
    expect(() => u.formatQuantity(1.5)).toThrow(RangeError);
  });
});

describe("MarketUnits construction", () => {
  it("a tick above 1 has price precision 0 and rejects prices between ticks", () => {
    // 1000 cents per 1-BTC lot at tick: the tick is 10 USD.
    const u = syntheticUnits(8, 2, 100_000_000, 1_000);
    expect(u.pricePrecision).toBe(0);
    expect(u.parsePrice("20")).toEqual({ ok: true, value: 2 });
    expect(u.parsePrice("15")).toEqual({ ok: false, failure: "tooPrecise" });
    expect(u.formatPrice(3)).toBe("30");
  });

  it("a tick of 0.05 keeps precision 2 and rejects 0.01 steps", () => {
    const u = syntheticUnits(8, 6, 10_000, 5);
    expect(u.pricePrecision).toBe(2);
    expect(u.parsePrice("1.05")).toEqual({ ok: true, value: 21 });
    expect(u.parsePrice("1.01")).toEqual({ ok: false, failure: "tooPrecise" });
    expect(u.formatPrice(21)).toBe("1.05");
  });

  it("accepts a tick of exactly 18 decimals and refuses one that needs 19", () => {
    expect(syntheticUnits(0, 18, 1, 1).pricePrecision).toBe(18);
    expect(() => syntheticUnits(0, 18, 2, 1)).toThrow(/18 places/);
  });

  it("refuses a tick that is not a finite decimal", () => {
    expect(() => syntheticUnits(0, 0, 3, 1)).toThrow(/18 places/);
  });

  it("refuses asset configs that do not belong to the market, and invalid configs", () => {
    const market = syntheticMarket(1, 1);
    const a = { assetId: 1, code: "AAA", scale: 2 };
    const b = { assetId: 2, code: "BBB", scale: 2 };
    expect(() => new MarketUnits(market, b, a)).toThrow(/do not match/);
    expect(() => new MarketUnits({ ...market, lotSizeBaseUnits: 0 }, a, b)).toThrow(/lotSizeBaseUnits/);
    expect(() => new MarketUnits(market, { ...a, scale: 19 }, b)).toThrow(/scale/);
  });

  it("feePercentText writes ppm as percent", () => {
    expect(feePercentText(2_000)).toBe("0.2");
    expect(feePercentText(0)).toBe("0");
    expect(feePercentText(1)).toBe("0.0001");
    expect(feePercentText(1_500)).toBe("0.15");
    expect(feePercentText(999_999)).toBe("99.9999");
    expect(() => feePercentText(1_000_000)).toThrow(RangeError);
    expect(() => feePercentText(-1)).toThrow(RangeError);
  });
});

describe("MarketUnits properties over random unit configs", () => {
  // Independent oracle for the tick: the reduced fraction p/q is a finite decimal with at most
  // 18 places iff q = 2^a·5^b with max(a, b) ≤ 18, and then the precision is max(a, b).
  function gcd(a: bigint, b: bigint): bigint {
    return b === 0n ? a : gcd(b, a % b);
  }
  function expectedPrecision(
    baseScale: number,
    quoteScale: number,
    lot: number,
    perTickLot: number,
  ): number | null {
    let num = BigInt(perTickLot) * 10n ** BigInt(Math.max(0, baseScale - quoteScale));
    let den = BigInt(lot) * 10n ** BigInt(Math.max(0, quoteScale - baseScale));
    const g = gcd(num, den);
    num /= g;
    den /= g;
    let twos = 0;
    let fives = 0;
    while (den % 2n === 0n) {
      den /= 2n;
      twos++;
    }
    while (den % 5n === 0n) {
      den /= 5n;
      fives++;
    }
    if (den !== 1n) return null;
    const places = Math.max(twos, fives);
    return places <= 18 ? places : null;
  }

  const unitConfig = fc.record({
    baseScale: fc.integer({ min: 0, max: 18 }),
    quoteScale: fc.integer({ min: 0, max: 18 }),
    // Mostly powers of 2 and 5 times small factors, so most ticks are decimals; some are not.
    lot: fc.oneof(
      fc
        .tuple(
          fc.integer({ min: 0, max: 12 }),
          fc.integer({ min: 0, max: 12 }),
          fc.integer({ min: 1, max: 9 }),
        )
        .map(([a, b, c]) => Math.min(MAX_UINT32, 2 ** a * 5 ** b * c)),
      fc.integer({ min: 1, max: MAX_UINT32 }),
    ),
    perTickLot: fc.integer({ min: 1, max: 100_000 }),
  });

  it("construction succeeds exactly when the tick is a decimal with ≤ 18 places, with that precision", () => {
    fc.assert(
      fc.property(unitConfig, ({ baseScale, quoteScale, lot, perTickLot }) => {
        const expected = expectedPrecision(baseScale, quoteScale, lot, perTickLot);
        if (expected === null) {
          expect(() => syntheticUnits(baseScale, quoteScale, lot, perTickLot)).toThrow(/18 places/);
        } else {
          expect(syntheticUnits(baseScale, quoteScale, lot, perTickLot).pricePrecision).toBe(expected);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("price and quantity round-trip through text for every tick and lot count up to 2^32", () => {
    const buildable = unitConfig.filter(
      ({ baseScale, quoteScale, lot, perTickLot }) =>
        expectedPrecision(baseScale, quoteScale, lot, perTickLot) !== null,
    );
    fc.assert(
      fc.property(buildable, fc.integer({ min: 0, max: MAX_UINT32 }), (cfg, count) => {
        const u = syntheticUnits(cfg.baseScale, cfg.quoteScale, cfg.lot, cfg.perTickLot);
        const priceText = u.formatPrice(count);
        const quantityText = u.formatQuantity(count);
        if (priceText.length <= 40) expect(u.parsePrice(priceText)).toEqual({ ok: true, value: count });
        if (quantityText.length <= 40)
          expect(u.parseQuantity(quantityText)).toEqual({ ok: true, value: count });
      }),
      { numRuns: 1000 },
    );
  });

  it("a price one grid step off a tick is tooPrecise when the tick spans several steps", () => {
    const u = syntheticUnits(8, 6, 10_000, 5); // tick 0.05
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 4 }), (ticks, offset) => {
        const steps = BigInt(ticks) * 5n + BigInt(offset);
        const text = `${steps / 100n}.${(steps % 100n).toString().padStart(2, "0")}`;
        expect(u.parsePrice(text)).toEqual({ ok: false, failure: "tooPrecise" });
      }),
    );
  });
});

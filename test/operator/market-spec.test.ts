import { describe, expect, it } from "vitest";
import { marketConfigFromSpec, SpecError } from "../../src/operator/market-spec.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";

const [BTC, ETH, , USD] = DEFAULT_ASSETS;

const BTC_USD_SPEC = {
  base: "BTC",
  quote: "USD",
  tick: "0.01",
  lot: "0.0001",
  minPrice: "1",
  maxPrice: "1000000",
  minQuantity: "0.0001",
  maxQuantity: "1000",
  minNotional: "1",
  maxNotional: "1000000000",
  makerFeePercent: "0.2",
  takerFeePercent: "0.3",
};

describe("marketConfigFromSpec", () => {
  it("turns the human description of BTC_USD into exactly the default config", () => {
    expect(marketConfigFromSpec(BTC_USD_SPEC, 1, BTC, USD)).toEqual(DEFAULT_MARKETS[0]);
  });

  it("converts ETH_BTC, whose tick is 0.00001 BTC on a 0.001 ETH lot", () => {
    const spec = {
      ...BTC_USD_SPEC,
      base: "ETH",
      quote: "BTC",
      tick: "0.00001",
      lot: "0.001",
      minPrice: "0.00001",
      maxPrice: "10",
      minQuantity: "0.001",
      maxQuantity: "10000",
      minNotional: "0.0001",
      maxNotional: "10000000",
    };
    expect(marketConfigFromSpec(spec, 3, ETH, BTC)).toEqual(DEFAULT_MARKETS[2]);
  });

  it.each([
    [{ tick: "0.000000001" }, /not a whole number of USD units/],
    [{ lot: "0.000000001" }, /lot 0.000000001 is not a whole number/],
    [{ minPrice: "1.005" }, /min price 1.005 is not a whole number/],
    [{ maxQuantity: "abc" }, /max quantity abc is not a decimal/],
    [{ makerFeePercent: "0.00001" }, /maker fee/],
    [{ minPrice: "100", maxPrice: "10" }, /maxPriceTicks must be in minPriceTicks/],
    [{ maxPrice: "40000000", maxQuantity: "400000" }, /below 2\^52/],
    [{ tick: "0" }, /tick must be positive/],
    // Finer than the units code's 18 decimals: a SpecError, not an escaping RangeError (HTTP 500).
    [{ tick: `0.${"0".repeat(29)}1` }, /tick 0\.0{29}1 has more than 18 decimal places/],
  ])("refuses %o", (change, message) => {
    expect(() => marketConfigFromSpec({ ...BTC_USD_SPEC, ...change }, 9, BTC, USD)).toThrow(SpecError);
    expect(() => marketConfigFromSpec({ ...BTC_USD_SPEC, ...change }, 9, BTC, USD)).toThrow(message);
  });
});

// The order form's arithmetic (web/src/trade/order-math.ts): totals, fees, the balance slider,
// rounding down to the lot and tick, the pair's limits, garbage and huge input, all exact.

import { describe, expect, it } from "vitest";
import {
  type Available,
  affordable,
  ceilTo,
  checkOrder,
  floorTo,
  formatDec,
  formatFixed,
  groupingSteps,
  groupLevels,
  type OrderDraft,
  type PairSettings,
  parseDec,
  percentOf,
  previewOrder,
  quantityStep,
  sliderValue,
} from "../../web/src/trade/order-math.ts";

const BTC_USD: PairSettings = {
  min_quantity: "0.0001",
  max_quantity: "1000",
  min_price: "1",
  max_price: "1000000",
  min_amount: "1",
  max_amount: "1000000000",
  price_precision: 2,
  commission_taker_percent: "0.3",
  commission_maker_percent: "0.2",
};
const FUNDS: Available = { base: "0.5", quote: "10000" };

function draft(overrides: Partial<OrderDraft>): OrderDraft {
  return {
    side: "buy",
    kind: "limit",
    execType: "gtc",
    priceText: "",
    quantityText: "",
    totalText: "",
    ...overrides,
  };
}

const dec = (text: string) => {
  const parsed = parseDec(text);
  if (parsed === null) throw new Error(`not a decimal: ${text}`);
  return parsed;
};

describe("exact decimals", () => {
  it("parses what a person types, and refuses garbage", () => {
    expect(parseDec("64005.25")).toEqual({ units: 6400525n, scale: 2 });
    expect(parseDec(".5")).toEqual({ units: 5n, scale: 1 });
    expect(parseDec("5.")).toEqual({ units: 5n, scale: 0 });
    expect(parseDec(" 7 ")).toEqual({ units: 7n, scale: 0 });
    for (const bad of [
      "",
      ".",
      "-1",
      "1e5",
      "0x10",
      "1.2.3",
      "NaN",
      "1,5",
      "Infinity",
      "١٢",
      "1 000",
      `${"9".repeat(31)}`,
    ])
      expect(parseDec(bad), bad).toBeNull();
  });

  it("writes results shortest and at a fixed scale", () => {
    expect(formatDec({ units: 1500n, scale: 4 })).toBe("0.15");
    expect(formatDec({ units: 0n, scale: 8 })).toBe("0");
    expect(formatDec({ units: -5n, scale: 2 })).toBe("-0.05");
    expect(formatFixed(dec("64000"), 2)).toBe("64000.00");
    expect(formatFixed(dec("0.1"), 0)).toBe("0");
  });

  it("rounds down and up to a step exactly, where floats would drift", () => {
    expect(formatDec(floorTo(dec("0.30000000000000004"), dec("0.0001")))).toBe("0.3");
    expect(formatDec(floorTo(dec("1.23456789"), dec("0.0001")))).toBe("1.2345");
    expect(formatDec(ceilTo(dec("1.23450001"), dec("0.0001")))).toBe("1.2346");
    expect(formatDec(ceilTo(dec("1.2345"), dec("0.0001")))).toBe("1.2345");
    expect(formatDec(floorTo(dec("64012.34"), dec("10")))).toBe("64010");
    expect(formatDec(ceilTo(dec("64012.34"), dec("10")))).toBe("64020");
  });

  it("takes percentages exactly (0.1 + 0.2 style sums stay exact)", () => {
    expect(formatDec(percentOf(dec("0.1"), dec("0.3")))).toBe("0.0003");
    expect(formatDec(percentOf(dec("64.1"), dec("0.3")))).toBe("0.1923");
    expect(formatDec(affordable(dec("100"), dec("3"), dec("0.0001")))).toBe("33.3333");
    expect(formatDec(affordable(dec("0"), dec("3"), dec("0.0001")))).toBe("0");
  });

  it("handles huge numbers without losing a digit", () => {
    const big = "123456789012345678901234567890";
    expect(formatDec(dec(big))).toBe(big);
    const total = previewOrder(
      draft({ priceText: "999999999999.99", quantityText: "123456789.1234" }),
      BTC_USD,
      null,
    ).total;
    // 123456789.1234 × 10^12 − 123456789.1234 × 0.01
    expect(formatDec(total!)).toBe("123456789123398765432.108766");
  });
});

describe("the order form's preview", () => {
  it("shows a limit buy's total in quote and its taker fee in base", () => {
    const preview = previewOrder(draft({ priceText: "64000.5", quantityText: "0.0125" }), BTC_USD, null);
    expect(formatDec(preview.total!)).toBe("800.00625");
    expect(formatDec(preview.fee!)).toBe("0.0000375");
    expect(preview.feeCurrency).toBe("base");
  });

  it("shows a sell's fee in quote, from its total", () => {
    const preview = previewOrder(
      draft({ side: "sell", priceText: "64000", quantityText: "0.5" }),
      BTC_USD,
      null,
    );
    expect(formatDec(preview.total!)).toBe("32000");
    expect(formatDec(preview.fee!)).toBe("96");
    expect(preview.feeCurrency).toBe("quote");
  });

  it("estimates a market order's total at the reference price, and knows nothing without one", () => {
    expect(
      formatDec(previewOrder(draft({ kind: "market", quantityText: "0.01" }), BTC_USD, "64000").total!),
    ).toBe("640");
    expect(previewOrder(draft({ kind: "market", quantityText: "0.01" }), BTC_USD, null).total).toBeNull();
    expect(previewOrder(draft({ priceText: "abc", quantityText: "1" }), BTC_USD, null).total).toBeNull();
  });
});

describe("the balance slider", () => {
  it("sells a share of the base, rounded down to the lot", () => {
    expect(sliderValue(100, draft({ side: "sell" }), BTC_USD, { base: "0.12345678", quote: "0" }, null)).toBe(
      "0.1234",
    );
    expect(sliderValue(33, draft({ side: "sell" }), BTC_USD, FUNDS, null)).toBe("0.165");
    expect(sliderValue(0, draft({ side: "sell" }), BTC_USD, FUNDS, null)).toBe("0");
  });

  it("buys what the quote share affords at the price, never more", () => {
    const value = sliderValue(100, draft({ priceText: "64000" }), BTC_USD, FUNDS, null);
    expect(value).toBe("0.1562"); // 10000 / 64000 = 0.15625 → 0.1562
    expect(dec(value!).units * 64000n <= 10000n * 10n ** 4n).toBe(true);
    expect(sliderValue(50, draft({ priceText: "3" }), BTC_USD, { base: "0", quote: "1" }, null)).toBe(
      "0.1666",
    );
    // A market buy divides by the best ask; no ask known, no value.
    expect(sliderValue(100, draft({ kind: "market" }), BTC_USD, FUNDS, "50000")).toBe("0.2");
    expect(sliderValue(100, draft({ kind: "market" }), BTC_USD, FUNDS, null)).toBeNull();
  });

  it("fills a total for market-by-total orders, rounded down to the price decimals", () => {
    expect(
      sliderValue(25, draft({ kind: "marketTotal" }), BTC_USD, { base: "0", quote: "100.555" }, null),
    ).toBe("25.13");
    expect(
      sliderValue(
        50,
        draft({ kind: "marketTotal", side: "sell" }),
        BTC_USD,
        { base: "0.3", quote: "0" },
        "64000.01",
      ),
    ).toBe("9600");
  });

  it("refuses a share that is not a whole percent from 0 to 100", () => {
    for (const bad of [-1, 101, 1.5, Number.NaN])
      expect(sliderValue(bad, draft({ side: "sell" }), BTC_USD, FUNDS, null)).toBeNull();
  });
});

describe("checking an order before sending", () => {
  const check = (overrides: Partial<OrderDraft>, funds: Available = FUNDS, reference: string | null = null) =>
    checkOrder("BTC_USD", draft(overrides), BTC_USD, funds, reference);

  it("builds order_create for a limit buy, with exec_type only when not good-till-cancelled", () => {
    expect(check({ priceText: "64000.50", quantityText: "0.0100" })).toEqual({
      ok: true,
      method: "order_create",
      params: { pair: "BTC_USD", type: "buy", quantity: "0.01", price: "64000.5" },
    });
    for (const execType of ["post_only", "ioc", "fok"] as const)
      expect(check({ side: "sell", execType, priceText: "70000", quantityText: "0.1" })).toMatchObject({
        ok: true,
        params: { type: "sell", exec_type: execType },
      });
  });

  it("builds the market types EXMO names, by amount and by total", () => {
    expect(check({ kind: "market", quantityText: "0.01" }, FUNDS, "64000")).toMatchObject({
      ok: true,
      params: { type: "market_buy", quantity: "0.01", price: "0" },
    });
    expect(check({ kind: "marketTotal", totalText: "100" })).toMatchObject({
      ok: true,
      params: { type: "market_buy_total", quantity: "100" },
    });
    expect(check({ kind: "marketTotal", side: "sell", totalText: "100" }, FUNDS, "64000")).toMatchObject({
      ok: true,
      params: { type: "market_sell_total", quantity: "100" },
    });
  });

  it("builds stop_market_order_create with the trigger price", () => {
    expect(check({ kind: "stop", side: "sell", priceText: "60000", quantityText: "0.1" })).toEqual({
      ok: true,
      method: "stop_market_order_create",
      params: { pair: "BTC_USD", type: "sell", quantity: "0.1", trigger_price: "60000" },
    });
  });

  it("says in words what is wrong: limits, decimals, garbage, balance", () => {
    const message = (overrides: Partial<OrderDraft>, funds?: Available, reference?: string) => {
      const result = check(overrides, funds, reference ?? null);
      return result.ok ? "ok" : result.message;
    };
    expect(message({ priceText: "64000", quantityText: "0.00001" })).toBe(
      "The amount has too many decimals: at most 4 (steps of 0.0001)",
    );
    expect(message({ priceText: "64000.001", quantityText: "0.01" })).toBe(
      "The price has too many decimals: at most 2 (steps of 0.01)",
    );
    expect(message({ priceText: "64000", quantityText: "1001" })).toBe(
      "The amount is above the maximum of 1000 BTC",
    );
    expect(message({ priceText: "0.5", quantityText: "1" })).toBe("The price is below the minimum of 1 USD");
    expect(message({ priceText: "2000000", quantityText: "1" })).toBe(
      "The price is above the maximum of 1000000 USD",
    );
    expect(message({ priceText: "1", quantityText: "0.0001" })).toBe(
      "The total is below the minimum of 1 USD",
    );
    expect(message({ priceText: "64000", quantityText: "abc" })).toBe(
      "Enter the BTC amount as a positive number",
    );
    expect(message({ priceText: "64000", quantityText: "0" })).toBe(
      "Enter the BTC amount as a positive number",
    );
    expect(message({ priceText: "", quantityText: "1" })).toBe("Enter the price as a positive number");
    expect(message({ kind: "stop", priceText: "x", quantityText: "1" })).toBe(
      "Enter the trigger price as a positive number",
    );
    expect(message({ kind: "marketTotal", totalText: "-5" })).toBe(
      "Enter the USD total as a positive number",
    );
    expect(message({ kind: "marketTotal", totalText: "0.5" })).toBe(
      "The total is below the minimum of 1 USD",
    );
    expect(message({ priceText: "64000", quantityText: "0.2" })).toBe(
      "Insufficient funds: not enough USD available",
    );
    expect(message({ side: "sell", priceText: "64000", quantityText: "0.5001" })).toBe(
      "Insufficient funds: not enough BTC available",
    );
    expect(message({ kind: "marketTotal", totalText: "10000.01" })).toBe(
      "Insufficient funds: not enough USD available",
    );
    expect(message({ kind: "market", quantityText: "0.2" }, FUNDS, "64000")).toBe(
      "Insufficient funds: not enough USD available",
    );
    // Exactly the balance is allowed (10000 / 64000 = 0.15625 → 0.1562 × 64000 = 9996.8).
    expect(message({ priceText: "64000", quantityText: "0.1562" })).toBe("ok");
    expect(message({ priceText: "50000", quantityText: "0.2" })).toBe("ok");
  });
});

describe("the book's price grouping", () => {
  it("offers the tick and its powers of ten", () => {
    expect(groupingSteps(2).map(formatDec)).toEqual(["0.01", "0.1", "1", "10", "100", "1000", "10000"]);
    expect(groupingSteps(0).map(formatDec)).toEqual(["1", "10", "100", "1000", "10000", "100000", "1000000"]);
  });

  it("rounds asks up and bids down, summing exactly", () => {
    const asks: [string, string, string][] = [
      ["64001.5", "0.1", "6400.15"],
      ["64009.99", "0.2", "12801.998"],
      ["64010", "0.3", "19203"],
      ["64010.01", "0.0001", "6.401001"],
    ];
    expect(groupLevels(asks, dec("10"), "ask", 15)).toEqual([
      ["64010", "0.6", "38405.148"],
      ["64020", "0.0001", "6.401001"],
    ]);
    const bids: [string, string, string][] = [
      ["63999.99", "0.1", "6399.999"],
      ["63990", "0.2", "12798"],
      ["63989.99", "0.3", "19196.997"],
    ];
    expect(groupLevels(bids, dec("10"), "bid", 15)).toEqual([
      ["63990", "0.3", "19197.999"],
      ["63980", "0.3", "19196.997"],
    ]);
    expect(groupLevels(bids, dec("0.01"), "bid", 2)).toEqual([
      ["63999.99", "0.1", "6399.999"],
      ["63990.00", "0.2", "12798"],
    ]);
    expect(groupLevels([["junk", "1", "1"]], dec("1"), "bid", 5)).toEqual([]);
  });
});

describe("the quantity step", () => {
  it("is the minimum quantity's last decimal place", () => {
    expect(formatDec(quantityStep(BTC_USD))).toBe("0.0001");
    expect(formatDec(quantityStep({ ...BTC_USD, min_quantity: "0.0010" }))).toBe("0.001");
    expect(formatDec(quantityStep({ ...BTC_USD, min_quantity: "5" }))).toBe("1");
  });
});

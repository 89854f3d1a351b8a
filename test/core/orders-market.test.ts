// Market orders: by base quantity (market) and by quote amount (marketTotal).
// Worked by hand against docs/CORE.md. Market: 1 lot = 1,000 BTC units, one tick of one lot =
// 10 USD units, maker 0.1 %, taker 0.2 %, stop slippage 5 %. Users 1-3 start with 1,000,000 BTC
// and 10,000,000 USD. Every command goes through Driver.run, which checks the invariants and that
// rejections change nothing.

import { describe, expect, it } from "vitest";
import { accepted, BTC, bal, Driver, done, loadFactories, marketOrderOf, trade, USD } from "./machines.ts";

const factories = await loadFactories();

describe.each(factories)("market orders on $name", (factory) => {
  const start = (): Driver => {
    const d = new Driver(factory);
    d.setup();
    return d;
  };

  describe("market by base quantity", () => {
    it("buy: holds all available quote as its budget, walks levels, releases the unspent rest", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 }); // 10
      d.place({ userId: 2, side: "sell", priceTicks: 110, quantityLots: 3 }); // 11
      const buy = { userId: 3, side: "buy" as const, orderType: "market" as const, quantityLots: 4 };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 10_000_000 }),
        trade(d, {
          tradeId: 1,
          priceTicks: 100,
          quantityLots: 2,
          takerSide: "buy",
          maker: [10, 1],
          taker: [12, 3],
          buyerFeeUnits: 4,
          sellerFeeUnits: 2,
        }),
        done(d, 10, 1, "filled", 0, 0),
        trade(d, {
          tradeId: 2,
          priceTicks: 110,
          quantityLots: 2,
          takerSide: "buy",
          maker: [11, 2],
          taker: [12, 3],
          buyerFeeUnits: 4,
          sellerFeeUnits: 3,
        }),
        done(d, 12, 3, "filled", 0, 9_995_800),
        bal(d, 3, USD, 9_995_800, 0),
        bal(d, 1, BTC, 998_000, 0),
        bal(d, 3, BTC, 1_003_992, 0),
        bal(d, 1, USD, 10_001_998, 0),
        bal(d, 2, BTC, 997_000, 1_000),
        bal(d, 2, USD, 10_002_197, 0),
      ]);
    });

    it("buy: when the budget cannot pay the next lot it ends insufficientFunds", () => {
      const d = start();
      d.fund(4, USD, 2_500);
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 }); // 11
      d.place({ userId: 2, side: "sell", priceTicks: 110, quantityLots: 3 }); // 12
      const buy = { userId: 4, side: "buy" as const, orderType: "market" as const, quantityLots: 4 };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 2_500 }),
        trade(d, {
          tradeId: 1,
          priceTicks: 100,
          quantityLots: 2,
          takerSide: "buy",
          maker: [11, 1],
          taker: [13, 4],
          buyerFeeUnits: 4,
          sellerFeeUnits: 2,
        }),
        done(d, 11, 1, "filled", 0, 0),
        // 500 left cannot pay one lot at 110 (1,100).
        done(d, 13, 4, "insufficientFunds", 2, 500),
        bal(d, 4, USD, 500, 0),
        bal(d, 1, BTC, 998_000, 0),
        bal(d, 4, BTC, 1_996, 0),
        bal(d, 1, USD, 10_001_998, 0),
      ]);
    });

    it("buy: partially fills a level when the budget covers only some of its lots", () => {
      const d = start();
      d.fund(4, USD, 3_500);
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 5 }); // 11
      const buy = { userId: 4, side: "buy" as const, orderType: "market" as const, quantityLots: 5 };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 3_500 }),
        trade(d, {
          tradeId: 1,
          priceTicks: 100,
          quantityLots: 3,
          takerSide: "buy",
          maker: [11, 1],
          taker: [12, 4],
          buyerFeeUnits: 6,
          sellerFeeUnits: 3,
        }),
        done(d, 12, 4, "insufficientFunds", 2, 500),
        bal(d, 4, USD, 500, 0),
        bal(d, 1, BTC, 995_000, 2_000),
        bal(d, 4, BTC, 2_994, 0),
        bal(d, 1, USD, 10_002_997, 0),
      ]);
    });

    it("buy: rejected insufficientFunds below the cost of one lot at the best ask", () => {
      const d = start();
      d.fund(4, USD, 999);
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 5 });
      d.reject(marketOrderOf(4, "buy", 1), "insufficientFunds", 4);
      d.fund(4, USD, 1);
      expect(d.place({ userId: 4, side: "buy", orderType: "market", quantityLots: 1 })[0].type).toBe(
        "orderAccepted",
      );
    });

    it("sell: holds qty × lot, expires what the book cannot take", () => {
      const d = start();
      d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 2 }); // 10
      d.place({ userId: 2, side: "buy", priceTicks: 90, quantityLots: 1 }); // 11
      const sell = { userId: 3, side: "sell" as const, orderType: "market" as const, quantityLots: 5 };
      expect(d.place(sell)).toEqual([
        accepted(d, { ...sell, heldUnits: 5_000 }),
        trade(d, {
          tradeId: 1,
          priceTicks: 100,
          quantityLots: 2,
          takerSide: "sell",
          maker: [10, 1],
          taker: [12, 3],
          buyerFeeUnits: 2,
          sellerFeeUnits: 4,
        }),
        done(d, 10, 1, "filled", 0, 0),
        trade(d, {
          tradeId: 2,
          priceTicks: 90,
          quantityLots: 1,
          takerSide: "sell",
          maker: [11, 2],
          taker: [12, 3],
          buyerFeeUnits: 1,
          sellerFeeUnits: 2,
        }),
        done(d, 11, 2, "filled", 0, 0),
        done(d, 12, 3, "expired", 2, 2_000),
        bal(d, 3, BTC, 997_000, 0),
        bal(d, 1, BTC, 1_001_998, 0),
        bal(d, 1, USD, 9_998_000, 0),
        bal(d, 3, USD, 10_002_894, 0),
        bal(d, 2, BTC, 1_000_999, 0),
        bal(d, 2, USD, 9_999_100, 0),
      ]);
    });

    it("is rejected noLiquidity on an empty opposite side", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1 });
      d.reject(marketOrderOf(2, "sell", 1), "noLiquidity", 2);
      d.reject(
        { ...marketOrderOf(2, "sell", 0), orderType: "marketTotal", quoteAmountUnits: 100 },
        "noLiquidity",
        2,
      );
    });
  });

  describe("marketTotal", () => {
    it("buy: spends at most quoteAmountUnits, ends filled when the next lot is unaffordable", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 }); // 10
      d.place({ userId: 2, side: "sell", priceTicks: 110, quantityLots: 5 }); // 11
      const buy = {
        userId: 3,
        side: "buy" as const,
        orderType: "marketTotal" as const,
        quoteAmountUnits: 4_500,
      };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 4_500 }),
        trade(d, {
          tradeId: 1,
          priceTicks: 100,
          quantityLots: 2,
          takerSide: "buy",
          maker: [10, 1],
          taker: [12, 3],
          buyerFeeUnits: 4,
          sellerFeeUnits: 2,
        }),
        done(d, 10, 1, "filled", 0, 0),
        // 2,500 left buys 2 lots at 110 (2,200); 300 cannot buy a third.
        trade(d, {
          tradeId: 2,
          priceTicks: 110,
          quantityLots: 2,
          takerSide: "buy",
          maker: [11, 2],
          taker: [12, 3],
          buyerFeeUnits: 4,
          sellerFeeUnits: 3,
        }),
        done(d, 12, 3, "filled", 0, 300),
        bal(d, 3, USD, 9_995_800, 0),
        bal(d, 1, BTC, 998_000, 0),
        bal(d, 3, BTC, 1_003_992, 0),
        bal(d, 1, USD, 10_001_998, 0),
        bal(d, 2, BTC, 995_000, 3_000),
        bal(d, 2, USD, 10_002_197, 0),
      ]);
    });

    it("buy: too little for a single lot is accepted and ends filled with everything released", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 }); // 10
      const buy = {
        userId: 3,
        side: "buy" as const,
        orderType: "marketTotal" as const,
        quoteAmountUnits: 999,
      };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 999 }),
        done(d, 11, 3, "filled", 0, 999),
        bal(d, 3, USD, 10_000_000, 0),
      ]);
    });

    it("buy: expires when the book runs out with money left", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1 }); // 10
      const buy = {
        userId: 3,
        side: "buy" as const,
        orderType: "marketTotal" as const,
        quoteAmountUnits: 5_000,
      };
      const events = d.place(buy);
      expect(events.filter((e) => e.type === "orderDone")).toEqual([
        done(d, 10, 1, "filled", 0, 0),
        done(d, 11, 3, "expired", 0, 4_000),
      ]);
    });

    it("sell: holds all whole lots of base (capped), receives at most quoteAmountUnits, releases the rest", () => {
      const d = start();
      d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 3 }); // 10
      d.place({ userId: 2, side: "buy", priceTicks: 90, quantityLots: 5 }); // 11
      d.fund(3, BTC, 999); // 1,000,999 BTC: 1,000 whole lots
      const sell = {
        userId: 3,
        side: "sell" as const,
        orderType: "marketTotal" as const,
        quoteAmountUnits: 4_000,
      };
      expect(d.place(sell)).toEqual([
        accepted(d, { ...sell, heldUnits: 1_000_000 }),
        // 3 lots at 100 (3,000), then 1,000 left fits 1 lot at 90 (900); 100 left fits none.
        trade(d, {
          tradeId: 1,
          priceTicks: 100,
          quantityLots: 3,
          takerSide: "sell",
          maker: [10, 1],
          taker: [13, 3],
          buyerFeeUnits: 3,
          sellerFeeUnits: 6,
        }),
        done(d, 10, 1, "filled", 0, 0),
        trade(d, {
          tradeId: 2,
          priceTicks: 90,
          quantityLots: 1,
          takerSide: "sell",
          maker: [11, 2],
          taker: [13, 3],
          buyerFeeUnits: 1,
          sellerFeeUnits: 2,
        }),
        done(d, 13, 3, "filled", 0, 996_000),
        bal(d, 3, BTC, 996_999, 0),
        bal(d, 1, BTC, 1_002_997, 0),
        bal(d, 1, USD, 9_997_000, 0),
        bal(d, 3, USD, 10_003_892, 0),
        bal(d, 2, BTC, 1_000_999, 0),
        bal(d, 2, USD, 9_995_500, 3_600),
      ]);
    });

    it("sell: the hold is capped at maxQuantityLots lots, and a sell that sells all its lots ends filled", () => {
      const d = new Driver(factory);
      d.setup({ maxQuantityLots: 4 });
      d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 4 }); // 10
      d.place({ userId: 2, side: "buy", priceTicks: 90, quantityLots: 4 }); // 11
      const sell = {
        userId: 3,
        side: "sell" as const,
        orderType: "marketTotal" as const,
        quoteAmountUnits: 100_000,
      };
      const events = d.place(sell);
      expect(events[0]).toEqual(accepted(d, { ...sell, heldUnits: 4_000 }));
      expect(events.filter((e) => e.type === "trade").map((e) => e.quantityLots)).toEqual([4]);
      // The held lots are used up while money is left: filled (nothing left to sell), not expired.
      expect(events.filter((e) => e.type === "orderDone")).toEqual([
        done(d, 10, 1, "filled", 0, 0),
        done(d, 12, 3, "filled", 0, 0),
      ]);
    });

    it("sell: ends filled, not expired, when its held lots run out together with the book", () => {
      const d = new Driver(factory);
      d.setup({ maxQuantityLots: 4 });
      d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 4 }); // 10
      const sell = {
        userId: 3,
        side: "sell" as const,
        orderType: "marketTotal" as const,
        quoteAmountUnits: 100_000,
      };
      const events = d.place(sell);
      // It sold all 4 lots it held: nothing is left, so it is done "filled" ("fully filled"),
      // whether or not another bid happens to remain.
      expect(events.filter((e) => e.type === "orderDone")).toEqual([
        done(d, 10, 1, "filled", 0, 0),
        done(d, 11, 3, "filled", 0, 0),
      ]);
    });

    it("buy: ends filled when its money runs out exactly as the book empties", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 }); // 10
      const buy = {
        userId: 3,
        side: "buy" as const,
        orderType: "marketTotal" as const,
        quoteAmountUnits: 2_000,
      };
      const events = d.place(buy);
      expect(events.filter((e) => e.type === "orderDone")).toEqual([
        done(d, 10, 1, "filled", 0, 0),
        done(d, 11, 3, "filled", 0, 0),
      ]);
    });

    it("sell: rejected insufficientFunds with less than one whole lot available", () => {
      const d = start();
      d.fund(4, BTC, 999);
      d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 3 });
      d.reject(
        { ...marketOrderOf(4, "sell", 0), orderType: "marketTotal", quoteAmountUnits: 1_000 },
        "insufficientFunds",
        4,
      );
    });

    it("buy: rejected insufficientFunds when available is below quoteAmountUnits", () => {
      const d = start();
      d.fund(4, USD, 999);
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 3 });
      d.reject(
        { ...marketOrderOf(4, "buy", 0), orderType: "marketTotal", quoteAmountUnits: 1_000 },
        "insufficientFunds",
        4,
      );
    });
  });
});

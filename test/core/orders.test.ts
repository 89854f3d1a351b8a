// Order types, worked by hand against docs/CORE.md. Market: 1 lot = 1,000 BTC units, one tick of
// one lot = 10 USD units, maker 0.1 %, taker 0.2 %, stop slippage 5 %. Users 1-3 start with
// 1,000,000 BTC and 10,000,000 USD. Every command goes through Driver.run, which checks the
// invariants and that rejections change nothing.

import { describe, expect, it } from "vitest";
import { accepted, BTC, bal, Driver, done, loadFactories, stopTriggered, trade, USD } from "./machines.ts";

const factories = await loadFactories();

describe.each(factories)("orders on $name", (factory) => {
  const start = (): Driver => {
    const d = new Driver(factory);
    d.setup();
    return d;
  };

  describe("limit GTC", () => {
    it("rests when nothing crosses, holding price × qty × unit quote or qty × lot base", () => {
      const d = start();
      const sell = { userId: 1, side: "sell" as const, priceTicks: 100, quantityLots: 5, clientOrderId: 42 };
      expect(d.place(sell)).toEqual([
        accepted(d, { ...sell, heldUnits: 5_000 }),
        bal(d, 1, BTC, 995_000, 5_000),
      ]);
      const buy = { userId: 2, side: "buy" as const, priceTicks: 99, quantityLots: 3 };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 2_970 }),
        bal(d, 2, USD, 9_997_030, 2_970),
      ]);
      const market = d.state().markets[0];
      expect(market.asks).toEqual([
        {
          orderId: 10,
          userId: 1,
          side: "sell",
          priceTicks: 100,
          remainingLots: 5,
          clientOrderId: 42,
          selfTradePrevention: "cancelResting",
        },
      ]);
      expect(market.bids.map((o) => [o.orderId, o.priceTicks, o.remainingLots])).toEqual([[11, 99, 3]]);
      expect(market.lastPriceTicks).toBe(0);
    });

    it("keeps price-time priority in the book view", () => {
      const d = start();
      d.place({ userId: 1, side: "buy", priceTicks: 90, quantityLots: 1 }); // 10
      d.place({ userId: 2, side: "buy", priceTicks: 95, quantityLots: 1 }); // 11
      d.place({ userId: 3, side: "buy", priceTicks: 90, quantityLots: 1 }); // 12
      d.place({ userId: 1, side: "sell", priceTicks: 120, quantityLots: 1 }); // 13
      d.place({ userId: 2, side: "sell", priceTicks: 110, quantityLots: 1 }); // 14
      d.place({ userId: 3, side: "sell", priceTicks: 120, quantityLots: 1 }); // 15
      const market = d.state().markets[0];
      expect(market.bids.map((o) => o.orderId)).toEqual([11, 10, 12]);
      expect(market.asks.map((o) => o.orderId)).toEqual([14, 13, 15]);
    });

    it("crosses best price first at the maker's price, returns the price improvement, fills partially", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 5 }); // 10
      d.place({ userId: 2, side: "sell", priceTicks: 101, quantityLots: 3 }); // 11
      const buy = { userId: 3, side: "buy" as const, priceTicks: 102, quantityLots: 7 };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 7_140 }),
        // 5 lots at 100: notional 5,000, base 5,000; taker buyer pays 0.2 % of 5,000 base = 10,
        // maker seller 0.1 % of 5,000 quote = 5.
        trade(d, {
          tradeId: 1,
          priceTicks: 100,
          quantityLots: 5,
          takerSide: "buy",
          maker: [10, 1],
          taker: [12, 3],
          buyerFeeUnits: 10,
          sellerFeeUnits: 5,
        }),
        done(d, 10, 1, "filled", 0, 0),
        // 2 lots at 101: notional 2,020; buyer fee 4; seller fee ceil(2.02) = 3.
        trade(d, {
          tradeId: 2,
          priceTicks: 101,
          quantityLots: 2,
          takerSide: "buy",
          maker: [11, 2],
          taker: [12, 3],
          buyerFeeUnits: 4,
          sellerFeeUnits: 3,
        }),
        done(d, 12, 3, "filled", 0, 0),
        bal(d, 3, USD, 9_992_980, 0),
        bal(d, 1, BTC, 995_000, 0),
        bal(d, 3, BTC, 1_006_986, 0),
        bal(d, 1, USD, 10_004_995, 0),
        bal(d, 2, BTC, 997_000, 1_000),
        bal(d, 2, USD, 10_002_017, 0),
      ]);
      const state = d.state();
      expect(state.markets[0].asks.map((o) => [o.orderId, o.remainingLots])).toEqual([[11, 1]]);
      expect(state.markets[0].lastPriceTicks).toBe(101);
      expect(state.nextTradeId).toBe(3);
      expect(d.systemBalance("fees", BTC)).toBe(14);
      expect(d.systemBalance("fees", USD)).toBe(8);
    });

    it("rests the unfilled rest of a crossing order, holding only for the remaining lots", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 5 }); // 10
      const buy = { userId: 3, side: "buy" as const, priceTicks: 100, quantityLots: 7 };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 7_000 }),
        trade(d, {
          tradeId: 1,
          priceTicks: 100,
          quantityLots: 5,
          takerSide: "buy",
          maker: [10, 1],
          taker: [11, 3],
          buyerFeeUnits: 10,
          sellerFeeUnits: 5,
        }),
        done(d, 10, 1, "filled", 0, 0),
        bal(d, 3, USD, 9_993_000, 2_000),
        bal(d, 1, BTC, 995_000, 0),
        bal(d, 3, BTC, 1_004_990, 0),
        bal(d, 1, USD, 10_004_995, 0),
      ]);
      expect(d.state().markets[0].bids.map((o) => [o.orderId, o.priceTicks, o.remainingLots])).toEqual([
        [11, 100, 2],
      ]);
    });

    it("a taker sell trades at the resting bid's price with the rates swapped", () => {
      const d = start();
      d.place({ userId: 1, side: "buy", priceTicks: 50, quantityLots: 4 }); // 10
      const sell = { userId: 2, side: "sell" as const, priceTicks: 45, quantityLots: 4 };
      expect(d.place(sell)).toEqual([
        accepted(d, { ...sell, heldUnits: 4_000 }),
        // notional 2,000; maker buyer pays 0.1 % of 4,000 base = 4; taker seller 0.2 % of 2,000 = 4.
        trade(d, {
          tradeId: 1,
          priceTicks: 50,
          quantityLots: 4,
          takerSide: "sell",
          maker: [10, 1],
          taker: [11, 2],
          buyerFeeUnits: 4,
          sellerFeeUnits: 4,
        }),
        done(d, 10, 1, "filled", 0, 0),
        done(d, 11, 2, "filled", 0, 0),
        bal(d, 2, BTC, 996_000, 0),
        bal(d, 1, BTC, 1_003_996, 0),
        bal(d, 1, USD, 9_998_000, 0),
        bal(d, 2, USD, 10_001_996, 0),
      ]);
    });
  });

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
      d.reject(placeOrderOf(4, "buy", 1), "insufficientFunds", 4);
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
      d.reject(placeOrderOf(2, "sell", 1), "noLiquidity", 2);
      d.reject(
        { ...placeOrderOf(2, "sell", 0), orderType: "marketTotal", quoteAmountUnits: 100 },
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
        { ...placeOrderOf(4, "sell", 0), orderType: "marketTotal", quoteAmountUnits: 1_000 },
        "insufficientFunds",
        4,
      );
    });

    it("buy: rejected insufficientFunds when available is below quoteAmountUnits", () => {
      const d = start();
      d.fund(4, USD, 999);
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 3 });
      d.reject(
        { ...placeOrderOf(4, "buy", 0), orderType: "marketTotal", quoteAmountUnits: 1_000 },
        "insufficientFunds",
        4,
      );
    });
  });

  describe("IOC and FOK", () => {
    it("IOC fills what crosses and expires the rest, releasing its hold", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 }); // 10
      d.place({ userId: 2, side: "sell", priceTicks: 101, quantityLots: 3 }); // 11
      const buy = {
        userId: 3,
        side: "buy" as const,
        priceTicks: 100,
        quantityLots: 5,
        timeInForce: "ioc" as const,
      };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 5_000 }),
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
        done(d, 12, 3, "expired", 3, 3_000),
        bal(d, 3, USD, 9_998_000, 0),
        bal(d, 1, BTC, 998_000, 0),
        bal(d, 3, BTC, 1_001_996, 0),
        bal(d, 1, USD, 10_001_998, 0),
      ]);
      expect(d.state().markets[0].bids).toEqual([]);
    });

    it("IOC with nothing crossing expires at once", () => {
      const d = start();
      const sell = {
        userId: 3,
        side: "sell" as const,
        priceTicks: 100,
        quantityLots: 5,
        timeInForce: "ioc" as const,
      };
      expect(d.place(sell)).toEqual([
        accepted(d, { ...sell, heldUnits: 5_000 }),
        done(d, 10, 3, "expired", 5, 5_000),
        bal(d, 3, BTC, 1_000_000, 0),
      ]);
    });

    it("FOK fills completely across levels", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 }); // 10
      d.place({ userId: 2, side: "sell", priceTicks: 101, quantityLots: 3 }); // 11
      const buy = {
        userId: 3,
        side: "buy" as const,
        priceTicks: 101,
        quantityLots: 5,
        timeInForce: "fok" as const,
      };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 5_050 }),
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
          priceTicks: 101,
          quantityLots: 3,
          takerSide: "buy",
          maker: [11, 2],
          taker: [12, 3],
          buyerFeeUnits: 6,
          sellerFeeUnits: 4,
        }),
        done(d, 11, 2, "filled", 0, 0),
        done(d, 12, 3, "filled", 0, 0),
        bal(d, 3, USD, 9_994_970, 0),
        bal(d, 1, BTC, 998_000, 0),
        bal(d, 3, BTC, 1_004_990, 0),
        bal(d, 1, USD, 10_001_998, 0),
        bal(d, 2, BTC, 997_000, 0),
        bal(d, 2, USD, 10_003_026, 0),
      ]);
    });

    it("FOK that cannot fill everything is rejected fokCannotFill and changes nothing", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 });
      d.place({ userId: 2, side: "sell", priceTicks: 101, quantityLots: 3 });
      d.place({ userId: 2, side: "sell", priceTicks: 102, quantityLots: 9 });
      d.reject(
        {
          ...placeOrderOf(3, "buy", 6),
          orderType: "limit",
          priceTicks: 101,
          timeInForce: "fok",
          clientOrderId: 5,
        },
        "fokCannotFill",
        3,
        5,
      );
    });

    it("FOK simulation skips own orders under cancelResting and stops at them under cancelIncoming", () => {
      const d = start();
      d.place({ userId: 3, side: "sell", priceTicks: 100, quantityLots: 2 }); // 10, own
      d.place({ userId: 2, side: "sell", priceTicks: 101, quantityLots: 3 }); // 11
      const fok = (lots: number, stp: "cancelResting" | "cancelIncoming") => ({
        ...placeOrderOf(3, "buy", lots),
        orderType: "limit" as const,
        priceTicks: 101,
        timeInForce: "fok" as const,
        selfTradePrevention: stp,
      });
      d.reject(fok(4, "cancelResting"), "fokCannotFill", 3);
      d.reject(fok(1, "cancelIncoming"), "fokCannotFill", 3);
      const events = d.run(fok(3, "cancelResting"));
      expect(events.filter((e) => e.type === "orderDone")).toEqual([
        done(d, 10, 3, "selfTrade", 2, 2_000),
        done(d, 11, 2, "filled", 0, 0),
        done(d, 14, 3, "filled", 0, 0),
      ]);
    });
  });

  describe("post-only", () => {
    it("rests when it does not cross", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 });
      const buy = { userId: 2, side: "buy" as const, priceTicks: 99, quantityLots: 1, postOnly: true };
      expect(d.place(buy)).toEqual([accepted(d, { ...buy, heldUnits: 990 }), bal(d, 2, USD, 9_999_010, 990)]);
    });

    it("is rejected postOnlyWouldTake when the best opposite price crosses", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 2 });
      d.place({ userId: 1, side: "buy", priceTicks: 90, quantityLots: 2 });
      d.reject(
        { ...placeOrderOf(2, "buy", 1), orderType: "limit", priceTicks: 100, postOnly: true },
        "postOnlyWouldTake",
        2,
      );
      d.reject(
        { ...placeOrderOf(2, "sell", 1), orderType: "limit", priceTicks: 90, postOnly: true },
        "postOnlyWouldTake",
        2,
      );
    });
  });

  describe("stopMarket", () => {
    it("buy holds mulDivCeil(trigger × qty × unit, 10000 + slippage, 10000) quote and waits for a trade", () => {
      const d = start();
      const stop = {
        userId: 2,
        side: "buy" as const,
        orderType: "stopMarket" as const,
        triggerPriceTicks: 33,
        quantityLots: 1,
      };
      // 330 × 1.05 = 346.5 → 347.
      expect(d.place(stop)).toEqual([
        accepted(d, { ...stop, heldUnits: 347 }),
        bal(d, 2, USD, 9_999_653, 347),
      ]);
      expect(d.state().markets[0].stops).toEqual([
        {
          orderId: 10,
          userId: 2,
          side: "buy",
          triggerPriceTicks: 33,
          quantityLots: 1,
          heldUnits: 347,
          clientOrderId: 0,
          selfTradePrevention: "cancelResting",
        },
      ]);
    });

    it("sell holds qty × lot base; before the first trade nothing triggers", () => {
      const d = start();
      d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 2 });
      const stop = {
        userId: 2,
        side: "sell" as const,
        orderType: "stopMarket" as const,
        triggerPriceTicks: 500,
        quantityLots: 3,
      };
      expect(d.place(stop)).toEqual([
        accepted(d, { ...stop, heldUnits: 3_000 }),
        bal(d, 2, BTC, 997_000, 3_000),
      ]);
      expect(d.state().markets[0].stops.map((s) => s.orderId)).toEqual([11]);
    });

    it("fires in lowest-id order after a trade, cascades, and ends filled or insufficientFunds", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1 }); // 10
      d.place({ userId: 1, side: "sell", priceTicks: 105, quantityLots: 1 }); // 11
      d.place({ userId: 1, side: "sell", priceTicks: 110, quantityLots: 5 }); // 12
      const stop = (userId: number, trigger: number) => ({
        userId,
        side: "buy" as const,
        orderType: "stopMarket" as const,
        triggerPriceTicks: trigger,
        quantityLots: 1,
      });
      d.place(stop(2, 100)); // 13, holds 1,050
      d.place(stop(3, 100)); // 14, holds 1,050
      d.place(stop(2, 105)); // 15, holds ceil(1,102.5) = 1,103
      const buy = { userId: 3, side: "buy" as const, priceTicks: 100, quantityLots: 1 };
      expect(d.place(buy)).toEqual([
        accepted(d, { ...buy, heldUnits: 1_000 }),
        trade(d, {
          tradeId: 1,
          priceTicks: 100,
          quantityLots: 1,
          takerSide: "buy",
          maker: [10, 1],
          taker: [16, 3],
          buyerFeeUnits: 2,
          sellerFeeUnits: 1,
        }),
        done(d, 10, 1, "filled", 0, 0),
        done(d, 16, 3, "filled", 0, 0),
        // 13 and 14 are triggered at 100; 13 has the lower id.
        stopTriggered(d, 13, 2, 100),
        trade(d, {
          tradeId: 2,
          priceTicks: 105,
          quantityLots: 1,
          takerSide: "buy",
          maker: [11, 1],
          taker: [13, 2],
          buyerFeeUnits: 2,
          sellerFeeUnits: 2,
        }),
        done(d, 11, 1, "filled", 0, 0),
        done(d, 13, 2, "filled", 0, 0),
        // Now 14 (trigger 100) and 15 (trigger 105, triggered by 13's trade): 14 first.
        stopTriggered(d, 14, 3, 105),
        done(d, 14, 3, "insufficientFunds", 1, 1_050),
        stopTriggered(d, 15, 2, 105),
        trade(d, {
          tradeId: 3,
          priceTicks: 110,
          quantityLots: 1,
          takerSide: "buy",
          maker: [12, 1],
          taker: [15, 2],
          buyerFeeUnits: 2,
          sellerFeeUnits: 2,
        }),
        done(d, 15, 2, "filled", 0, 3),
        bal(d, 3, USD, 9_999_000, 0),
        bal(d, 1, BTC, 993_000, 4_000),
        bal(d, 3, BTC, 1_000_998, 0),
        bal(d, 1, USD, 10_003_145, 0),
        bal(d, 2, BTC, 1_001_996, 0),
        bal(d, 2, USD, 9_997_850, 0),
      ]);
      const market = d.state().markets[0];
      expect(market.stops).toEqual([]);
      expect(market.lastPriceTicks).toBe(110);
    });

    it("stop sells cascade: each fire moves the last price and triggers the next, lowest id first", () => {
      const d = start();
      d.place({ userId: 1, side: "buy", priceTicks: 100, quantityLots: 1 }); // 10
      d.place({ userId: 1, side: "buy", priceTicks: 95, quantityLots: 1 }); // 11
      d.place({ userId: 1, side: "buy", priceTicks: 90, quantityLots: 5 }); // 12
      const stop = (userId: number, trigger: number) => ({
        userId,
        side: "sell" as const,
        orderType: "stopMarket" as const,
        triggerPriceTicks: trigger,
        quantityLots: 1,
      });
      d.place(stop(2, 100)); // 13
      d.place(stop(3, 100)); // 14
      d.place(stop(2, 95)); // 15
      const sell = { userId: 3, side: "sell" as const, priceTicks: 100, quantityLots: 1 };
      const t = (
        tradeId: number,
        priceTicks: number,
        maker: number,
        taker: [number, number],
        sellerFeeUnits: number,
      ) =>
        trade(d, {
          tradeId,
          priceTicks,
          quantityLots: 1,
          takerSide: "sell",
          maker: [maker, 1],
          taker,
          buyerFeeUnits: 1,
          sellerFeeUnits,
        });
      expect(d.place(sell).filter((e) => e.type !== "balance")).toEqual([
        accepted(d, { ...sell, heldUnits: 1_000 }),
        t(1, 100, 10, [16, 3], 2),
        done(d, 10, 1, "filled", 0, 0),
        done(d, 16, 3, "filled", 0, 0),
        stopTriggered(d, 13, 2, 100),
        t(2, 95, 11, [13, 2], 2),
        done(d, 11, 1, "filled", 0, 0),
        done(d, 13, 2, "filled", 0, 0),
        stopTriggered(d, 14, 3, 95),
        t(3, 90, 12, [14, 3], 2),
        done(d, 14, 3, "filled", 0, 0),
        stopTriggered(d, 15, 2, 90),
        t(4, 90, 12, [15, 2], 2),
        done(d, 15, 2, "filled", 0, 0),
      ]);
      const market = d.state().markets[0];
      expect(market.stops).toEqual([]);
      expect(market.bids.map((o) => [o.orderId, o.remainingLots])).toEqual([[12, 3]]);
      expect(market.lastPriceTicks).toBe(90);
    });

    it("a stop placed when the last price already triggers it fires at once", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1 }); // 10
      d.place({ userId: 2, side: "buy", priceTicks: 100, quantityLots: 1 }); // 11: last price 100
      d.place({ userId: 1, side: "buy", priceTicks: 95, quantityLots: 2 }); // 12
      const stop = {
        userId: 3,
        side: "sell" as const,
        orderType: "stopMarket" as const,
        triggerPriceTicks: 100,
        quantityLots: 1,
      };
      expect(d.place(stop)).toEqual([
        accepted(d, { ...stop, heldUnits: 1_000 }),
        stopTriggered(d, 13, 3, 100),
        // 1 lot at 95: notional 950; maker buyer 0.1 % of 1,000 = 1; taker seller ceil(1.9) = 2.
        trade(d, {
          tradeId: 2,
          priceTicks: 95,
          quantityLots: 1,
          takerSide: "sell",
          maker: [12, 1],
          taker: [13, 3],
          buyerFeeUnits: 1,
          sellerFeeUnits: 2,
        }),
        done(d, 13, 3, "filled", 0, 0),
        bal(d, 3, BTC, 999_000, 0),
        bal(d, 1, BTC, 999_999, 0),
        bal(d, 1, USD, 9_999_099, 950),
        bal(d, 3, USD, 10_000_948, 0),
      ]);
    });

    it("a fired stop with nothing to trade against expires and releases its hold", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1 }); // 10
      d.place({ userId: 2, side: "buy", priceTicks: 100, quantityLots: 1 }); // 11: last 100, book empty
      const stop = {
        userId: 3,
        side: "buy" as const,
        orderType: "stopMarket" as const,
        triggerPriceTicks: 90,
        quantityLots: 2,
      };
      expect(d.place(stop)).toEqual([
        accepted(d, { ...stop, heldUnits: 1_890 }),
        stopTriggered(d, 12, 3, 100),
        done(d, 12, 3, "expired", 2, 1_890),
        bal(d, 3, USD, 10_000_000, 0),
      ]);
    });

    it("a fired stop applies its own self-trade policy", () => {
      const d = start();
      d.place({ userId: 1, side: "sell", priceTicks: 100, quantityLots: 1 }); // 10
      d.place({ userId: 3, side: "sell", priceTicks: 101, quantityLots: 1 }); // 11: own ask
      const stop = {
        userId: 3,
        side: "buy" as const,
        orderType: "stopMarket" as const,
        triggerPriceTicks: 100,
        quantityLots: 1,
        selfTradePrevention: "cancelIncoming" as const,
      };
      d.place(stop); // 12, holds 1,050
      const events = d.place({ userId: 2, side: "buy", priceTicks: 100, quantityLots: 1 }); // 13
      expect(events.filter((e) => e.type !== "balance" && e.type !== "trade")).toEqual([
        accepted(d, { userId: 2, side: "buy", priceTicks: 100, quantityLots: 1, heldUnits: 1_000 }),
        done(d, 10, 1, "filled", 0, 0),
        done(d, 13, 2, "filled", 0, 0),
        stopTriggered(d, 12, 3, 100),
        done(d, 12, 3, "selfTrade", 1, 1_050),
      ]);
      expect(d.state().markets[0].asks.map((o) => o.orderId)).toEqual([11]);
    });
  });
});

function placeOrderOf(userId: number, side: "buy" | "sell", quantityLots: number) {
  return {
    kind: "placeOrder" as const,
    userId,
    marketId: 1,
    side,
    orderType: "market" as "limit" | "market" | "marketTotal" | "stopMarket",
    priceTicks: 0,
    quantityLots,
    quoteAmountUnits: 0,
    triggerPriceTicks: 0,
    timeInForce: "gtc" as "gtc" | "ioc" | "fok",
    postOnly: false,
    clientOrderId: 0,
    selfTradePrevention: null as "cancelResting" | "cancelIncoming" | "cancelBoth" | null,
  };
}

// Limit orders: GTC, IOC and FOK, post-only.
// Worked by hand against docs/CORE.md. Market: 1 lot = 1,000 BTC units, one tick of one lot =
// 10 USD units, maker 0.1 %, taker 0.2 %, stop slippage 5 %. Users 1-3 start with 1,000,000 BTC
// and 10,000,000 USD. Every command goes through Driver.run, which checks the invariants and that
// rejections change nothing.

import { describe, expect, it } from "vitest";
import { accepted, BTC, bal, Driver, done, loadFactories, marketOrderOf, trade, USD } from "./machines.ts";

const factories = await loadFactories();

describe.each(factories)("limit orders on $name", (factory) => {
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
          ...marketOrderOf(3, "buy", 6),
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
        ...marketOrderOf(3, "buy", lots),
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
        { ...marketOrderOf(2, "buy", 1), orderType: "limit", priceTicks: 100, postOnly: true },
        "postOnlyWouldTake",
        2,
      );
      d.reject(
        { ...marketOrderOf(2, "sell", 1), orderType: "limit", priceTicks: 90, postOnly: true },
        "postOnlyWouldTake",
        2,
      );
    });
  });
});

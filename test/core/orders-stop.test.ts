// Stop orders (stopMarket): holds, triggers, firing as market orders.
// Worked by hand against docs/CORE.md. Market: 1 lot = 1,000 BTC units, one tick of one lot =
// 10 USD units, maker 0.1 %, taker 0.2 %, stop slippage 5 %. Users 1-3 start with 1,000,000 BTC
// and 10,000,000 USD. Every command goes through Driver.run, which checks the invariants and that
// rejections change nothing.

import { describe, expect, it } from "vitest";
import { accepted, BTC, bal, Driver, done, loadFactories, stopTriggered, trade, USD } from "./machines.ts";

const factories = await loadFactories();

describe.each(factories)("stop orders on $name", (factory) => {
  const start = (): Driver => {
    const d = new Driver(factory);
    d.setup();
    return d;
  };

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

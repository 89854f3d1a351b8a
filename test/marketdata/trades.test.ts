import { describe, expect, it } from "vitest";
import { TRADE_RING_CAPACITY } from "../../src/marketdata/limits.ts";
import { publicTrade, TradeRing } from "../../src/marketdata/trades.ts";
import { trade } from "./fixtures.ts";

describe("TradeRing", () => {
  it("returns trades newest first, public fields only", () => {
    const ring = new TradeRing(4);
    const first = trade(1_000, 10, 2, "buy");
    const second = trade(2_000, 11, 3, "sell");
    ring.push(publicTrade(first));
    ring.push(publicTrade(second));
    expect(ring.newest()).toEqual([
      {
        tradeId: second.tradeId,
        timestampMs: 2_000,
        priceTicks: 11,
        quantityLots: 3,
        notionalUnits: 330,
        takerSide: "sell",
      },
      {
        tradeId: first.tradeId,
        timestampMs: 1_000,
        priceTicks: 10,
        quantityLots: 2,
        notionalUnits: 200,
        takerSide: "buy",
      },
    ]);
    expect(ring.newest(1).map((t) => t.priceTicks)).toEqual([11]);
    expect(ring.newest(0)).toEqual([]);
  });

  it("keeps only the newest `capacity` trades as it wraps, many times over", () => {
    const ring = new TradeRing(3);
    for (let index = 1; index <= 10; index++) ring.push(publicTrade(trade(index, index, 1)));
    expect(ring.size).toBe(3);
    expect(ring.newest().map((t) => t.priceTicks)).toEqual([10, 9, 8]);
    expect(ring.newest(100).length).toBe(3);
  });

  it("defaults to the explicit capacity constant", () => {
    const ring = new TradeRing();
    expect(ring.capacity).toBe(TRADE_RING_CAPACITY);
    for (let index = 0; index < TRADE_RING_CAPACITY + 5; index++) ring.push(publicTrade(trade(index, 7, 1)));
    expect(ring.size).toBe(TRADE_RING_CAPACITY);
    const all = ring.newest();
    expect(all.length).toBe(TRADE_RING_CAPACITY);
    expect(all[0].timestampMs).toBe(TRADE_RING_CAPACITY + 4);
    expect(all[TRADE_RING_CAPACITY - 1].timestampMs).toBe(5);
  });

  it("rejects a ring without room", () => {
    expect(() => new TradeRing(0)).toThrow(RangeError);
  });
});

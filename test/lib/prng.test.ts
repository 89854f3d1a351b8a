import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Prng, seedFor } from "../../src/lib/prng.ts";

describe("Prng (mulberry32)", () => {
  it("gives mulberry32's outputs, so seeded demo runs and test streams keep their values", () => {
    const a = new Prng(42);
    expect([a.u32(), a.u32(), a.u32()]).toEqual([2581720956, 1925393290, 3661312704]);
    const b = new Prng(0);
    expect([b.u32(), b.u32()]).toEqual([1144304738, 1416247]);
    expect(new Prng(42).next()).toBe(2581720956 / 4_294_967_296);
  });

  it("repeats itself from the same seed and differs across seeds", () => {
    const draws = (seed: number) => {
      const prng = new Prng(seed);
      return Array.from({ length: 8 }, () => prng.u32());
    };
    expect(draws(7)).toEqual(draws(7));
    expect(draws(7)).not.toEqual(draws(8));
  });

  it("keeps next() in [0, 1) and int() in its inclusive bounds, reaching both ends", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: -50, max: 50 }), fc.nat(20), (seed, min, width) => {
        const prng = new Prng(seed);
        const seen = new Set<number>();
        for (let i = 0; i < 400; i++) {
          const x = prng.next();
          expect(x >= 0 && x < 1).toBe(true);
          const n = prng.int(min, min + width);
          expect(Number.isInteger(n) && n >= min && n <= min + width).toBe(true);
          seen.add(n);
        }
        expect(seen.has(min) && seen.has(min + width)).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it("is roughly uniform: pick() lands in every bucket near its share", () => {
    const prng = new Prng(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[prng.pick([0, 1, 2, 3])] += 1;
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(400);
  });

  it("seedFor(seed, index) separates streams of one run and of different runs", () => {
    const seeds = new Set<number>();
    for (let seed = 0; seed < 20; seed++)
      for (let index = 0; index < 500; index++) seeds.add(seedFor(seed, index));
    expect(seeds.size).toBe(20 * 500);
  });
});

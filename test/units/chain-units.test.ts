import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chainToLedger, ledgerToChain } from "../../src/units/chain-units.ts";

const WEI_PER_ETH = 10n ** 18n;

describe("chainToLedger", () => {
  it("rounds wei down to an 8-decimal ledger and returns the dust", () => {
    // 1.234567891234567891 ETH
    expect(chainToLedger(1_234_567_891_234_567_891n, 18, 8)).toEqual({
      units: 123_456_789,
      dustBaseUnits: 1_234_567_891n,
    });
    expect(chainToLedger(WEI_PER_ETH, 18, 8)).toEqual({ units: 100_000_000, dustBaseUnits: 0n });
    // Less than one ledger unit: nothing credited, all of it dust.
    expect(chainToLedger(9_999_999_999n, 18, 8)).toEqual({ units: 0, dustBaseUnits: 9_999_999_999n });
  });

  it("is exact for satoshi into an 8-decimal ledger and scales up a 6-decimal token", () => {
    expect(chainToLedger(2_100_000_000_000_000n, 8, 8)).toEqual({
      units: 2_100_000_000_000_000,
      dustBaseUnits: 0n,
    });
    expect(chainToLedger(1_500_000n, 6, 8)).toEqual({ units: 150_000_000, dustBaseUnits: 0n });
  });

  it("refuses results beyond 2^53 - 1 ledger units, negative amounts and bad decimals", () => {
    expect(chainToLedger(BigInt(Number.MAX_SAFE_INTEGER), 0, 0).units).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => chainToLedger(BigInt(Number.MAX_SAFE_INTEGER) + 1n, 0, 0)).toThrow(RangeError);
    // 10^18 ETH in wei at scale 18 is 10^36 ledger units.
    expect(() => chainToLedger(WEI_PER_ETH * WEI_PER_ETH, 18, 18)).toThrow(/2\^53/);
    expect(() => chainToLedger(-1n, 18, 8)).toThrow(RangeError);
    expect(() => chainToLedger(1n, 18, 19)).toThrow(/scale/);
    expect(() => chainToLedger(1n, 37, 8)).toThrow(/decimals/);
    expect(() => chainToLedger(1n, 1.5, 8)).toThrow(/decimals/);
  });

  it("never loses or creates value: units × step + dust = the chain amount", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 24n }),
        fc.integer({ min: 0, max: 36 }),
        fc.integer({ min: 0, max: 18 }),
        (base, decimals, scale) => {
          let result: ReturnType<typeof chainToLedger>;
          try {
            result = chainToLedger(base, decimals, scale);
          } catch (error) {
            expect(error).toBeInstanceOf(RangeError);
            return;
          }
          expect(Number.isSafeInteger(result.units)).toBe(true);
          if (decimals >= scale) {
            const step = 10n ** BigInt(decimals - scale);
            expect(BigInt(result.units) * step + result.dustBaseUnits).toBe(base);
            expect(result.dustBaseUnits >= 0n && result.dustBaseUnits < step).toBe(true);
          } else {
            expect(result.dustBaseUnits).toBe(0n);
            expect(BigInt(result.units)).toBe(base * 10n ** BigInt(scale - decimals));
          }
        },
      ),
    );
  });
});

describe("ledgerToChain", () => {
  it("is exact when the chain has more decimals, and inverts chainToLedger's credited part", () => {
    expect(ledgerToChain(123_456_789, 18, 8)).toEqual({
      baseUnits: 1_234_567_890_000_000_000n,
      remainderUnits: 0,
    });
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), (wei) => {
        const { units, dustBaseUnits } = chainToLedger(wei, 18, 8);
        expect(ledgerToChain(units, 18, 8).baseUnits + dustBaseUnits).toBe(wei);
      }),
    );
  });

  it("rounds down to a chain with fewer decimals and returns the remainder", () => {
    expect(ledgerToChain(150_000_123, 6, 8)).toEqual({ baseUnits: 1_500_001n, remainderUnits: 23 });
    expect(() => ledgerToChain(1.5, 6, 8)).toThrow(RangeError);
    expect(() => ledgerToChain(-1, 6, 8)).toThrow(RangeError);
    expect(() => ledgerToChain(2 ** 53, 6, 8)).toThrow(RangeError);
  });
});

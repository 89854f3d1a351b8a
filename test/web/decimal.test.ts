// The web app's exact decimal helpers (web/src/decimal.ts): the 24 h change, depth bars and book
// sorting work on the API's decimal strings as scaled bigints, never floats.

import { describe, expect, it } from "vitest";
import {
  changePercent,
  compareDecimal,
  formatUnits,
  parseDecimal,
  perMille,
  sumDecimals,
} from "../../web/src/decimal.ts";

describe("web decimal helpers", () => {
  it("parses decimal strings exactly at a scale, and refuses what is not one", () => {
    expect(parseDecimal("64005.25", 4)).toBe(640052500n);
    expect(parseDecimal("-0.1", 2)).toBe(-10n);
    expect(parseDecimal("12345678901234567890.123456789", 9)).toBe(12345678901234567890123456789n);
    for (const bad of ["", "1e5", "0x10", "1.2.3", " 1", "NaN", "1,5"])
      expect(parseDecimal(bad, 2)).toBeNull();
  });

  it("sums without float error", () => {
    expect(sumDecimals(["0.1", "0.2"])).toBe("0.3");
    expect(sumDecimals(["1", "0.00000001"])).toBe("1.00000001");
    expect(sumDecimals([])).toBe("0");
    expect(formatUnits(-5n, 2)).toBe("-0.05");
  });

  it("writes the 24 h change with two decimals, rounded half away from zero", () => {
    expect(changePercent("100", "101.5")).toBe("+1.50%");
    expect(changePercent("64000", "63000")).toBe("-1.56%");
    expect(changePercent("3", "4")).toBe("+33.33%");
    expect(changePercent("0.3", "0.1")).toBe("-66.67%");
    expect(changePercent("100", "100")).toBe("+0.00%");
    expect(changePercent("0", "5")).toBeNull();
    expect(changePercent("abc", "5")).toBeNull();
  });

  it("compares and scales exactly where floats would not", () => {
    expect(compareDecimal("0.30000000000000001", "0.3")).toBe(1);
    expect(compareDecimal("10", "9.99")).toBe(1);
    expect(["10", "9.5", "100.01"].sort(compareDecimal)).toEqual(["9.5", "10", "100.01"]);
    expect(perMille("1", "4")).toBe(250);
    expect(perMille("5", "4")).toBe(1000);
    expect(perMille("1", "0")).toBe(0);
  });
});

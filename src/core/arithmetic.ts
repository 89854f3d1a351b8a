// Exact integer arithmetic on doubles. All inputs are safe integers; configuration limits
// (config.ts) keep every product below 2^53.

import { assert } from "./assert.ts";

/**
 * ceil(value * numerator / denominator) exactly, for numerator and denominator in 0..2^26 (denominator > 0).
 * Splits value = a * denominator + b so that b * numerator < 2^52; a * numerator is at most
 * value * numerator / denominator, which the caller's configuration keeps below 2^53.
 */
export function mulDivCeil(value: number, numerator: number, denominator: number): number {
  assert(numerator >= 0 && numerator <= 2 ** 26, "mulDivCeil: numerator out of range");
  assert(denominator > 0 && denominator <= 2 ** 26, "mulDivCeil: denominator out of range");
  const whole = Math.floor(value / denominator);
  const rest = value - whole * denominator;
  return whole * numerator + Math.ceil((rest * numerator) / denominator);
}

/** Fee on a received amount, rounded up (in the exchange's favour). */
export function feeUnits(receivedUnits: number, feePpm: number): number {
  if (feePpm === 0) return 0;
  return mulDivCeil(receivedUnits, feePpm, 1_000_000);
}

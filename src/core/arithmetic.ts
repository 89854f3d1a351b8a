// Exact integer arithmetic on doubles. All inputs are safe integers; configuration limits
// (config.ts) keep every product below 2^53.

import { assert } from "./assert.ts";

/**
 * ceil(value * numerator / denominator) without overflow, for 0 <= numerator <= denominator <= 2^26.
 * Splits value = a * denominator + b so that a * numerator <= value and b * numerator < denominator^2.
 */
export function mulDivCeil(value: number, numerator: number, denominator: number): number {
  assert(numerator >= 0 && numerator <= denominator, "mulDivCeil: numerator out of range");
  const whole = Math.floor(value / denominator);
  const rest = value - whole * denominator;
  return whole * numerator + Math.ceil((rest * numerator) / denominator);
}

/** Fee on a received amount, rounded up (in the exchange's favour). */
export function feeUnits(receivedUnits: number, feePpm: number): number {
  if (feePpm === 0) return 0;
  return mulDivCeil(receivedUnits, feePpm, 1_000_000);
}

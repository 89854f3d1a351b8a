// Exact conversion between the decimal strings of the wire API and integer ledger units.
// Everything goes through bigint so no value is ever rounded by a double; results that leave
// the gateway as `number` are checked to be safe integers first.

/** Longest decimal text accepted. Bounds the work done on hostile input before any parsing. */
export const MAX_DECIMAL_TEXT_LENGTH = 40;
/** Largest number of decimal places a scale may have (asset scales are 0..18, see config.ts). */
export const MAX_DECIMAL_SCALE = 18;

export type DecimalFailure =
  /** Not a decimal: empty, sign where none is allowed (other than "-"), exponent, whitespace, too long. */
  | "malformed"
  /** Non-zero digits beyond the scale (or, for market units, not a whole tick or lot). */
  | "tooPrecise"
  /** A leading "-" when negatives are not allowed. */
  | "negative"
  /** The value in units is beyond the allowed magnitude (Number.MAX_SAFE_INTEGER by default). */
  | "tooLarge";

export type DecimalResult<T> = { ok: true; value: T } | { ok: false; failure: DecimalFailure };

export interface ParseDecimalOptions {
  /** Accept a leading "-". Default false: wire amounts are never negative. */
  allowNegative?: boolean;
  /** Largest magnitude accepted, in units. Default Number.MAX_SAFE_INTEGER. */
  maxUnits?: bigint;
}

const MAX_SAFE_UNITS_BIG = BigInt(Number.MAX_SAFE_INTEGER);
// Digits, then optionally one dot followed by at least one digit. No sign here: the sign is
// split off first so that "-" can be reported as `negative` rather than `malformed`.
const UNSIGNED_DECIMAL = /^([0-9]+)(?:\.([0-9]+))?$/;
const TRAILING_ZEROS = /0+$/;

function assertScale(scale: number): void {
  if (!Number.isInteger(scale) || scale < 0 || scale > MAX_DECIMAL_SCALE) {
    throw new RangeError(`scale must be an integer in 0..${MAX_DECIMAL_SCALE}, got ${scale}`);
  }
}

/**
 * Parses `text` as an exact decimal and returns it as an integer count of 10^-scale units,
 * as a bigint. Grammar: `-?[0-9]+(\.[0-9]+)?`, at most MAX_DECIMAL_TEXT_LENGTH characters.
 * Zeros beyond the scale are accepted ("0.10" at scale 1) because the value is still exact.
 */
export function parseDecimalBig(
  text: string,
  scale: number,
  options: ParseDecimalOptions = {},
): DecimalResult<bigint> {
  assertScale(scale);
  const maxUnits = options.maxUnits ?? MAX_SAFE_UNITS_BIG;
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_DECIMAL_TEXT_LENGTH) {
    return { ok: false, failure: "malformed" };
  }
  const isNegative = text.charCodeAt(0) === 0x2d; // "-"
  const match = UNSIGNED_DECIMAL.exec(isNegative ? text.slice(1) : text);
  if (match === null) return { ok: false, failure: "malformed" };
  if (isNegative && options.allowNegative !== true) return { ok: false, failure: "negative" };
  const integerDigits = match[1];
  const fractionDigits = (match[2] ?? "").replace(TRAILING_ZEROS, "");
  if (fractionDigits.length > scale) return { ok: false, failure: "tooPrecise" };
  const magnitude = BigInt(integerDigits + fractionDigits.padEnd(scale, "0"));
  if (magnitude > maxUnits) return { ok: false, failure: "tooLarge" };
  return { ok: true, value: isNegative ? -magnitude : magnitude };
}

/** As parseDecimalBig, but the result is a safe-integer number of units (the core's representation). */
export function parseDecimal(
  text: string,
  scale: number,
  options: ParseDecimalOptions = {},
): DecimalResult<number> {
  const maxUnits = options.maxUnits ?? MAX_SAFE_UNITS_BIG;
  if (maxUnits > MAX_SAFE_UNITS_BIG) throw new RangeError("maxUnits beyond Number.MAX_SAFE_INTEGER");
  const parsed = parseDecimalBig(text, scale, { ...options, maxUnits });
  if (!parsed.ok) return parsed;
  return { ok: true, value: Number(parsed.value) };
}

/**
 * Canonical decimal text of `units` × 10^-scale, the way EXMO writes amounts: no exponent,
 * no trailing zeros in the fraction, no dot for whole values, "0" for zero, "-" for negatives.
 */
export function formatUnits(units: number | bigint, scale: number): string {
  assertScale(scale);
  if (typeof units === "number" && !Number.isSafeInteger(units)) {
    throw new RangeError(`units must be a safe integer, got ${units}`);
  }
  const value = BigInt(units);
  const magnitude = value < 0n ? -value : value;
  const digits = magnitude.toString().padStart(scale + 1, "0");
  const integerPart = digits.slice(0, digits.length - scale);
  const fractionPart = digits.slice(digits.length - scale).replace(TRAILING_ZEROS, "");
  const body = fractionPart.length === 0 ? integerPart : `${integerPart}.${fractionPart}`;
  return value < 0n ? `-${body}` : body;
}

/** Fewest decimal places that write `units` × 10^-scale exactly (0 for whole values). */
export function decimalPlaces(units: bigint, scale: number): number {
  assertScale(scale);
  const text = formatUnits(units, scale);
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

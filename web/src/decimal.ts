// Exact decimal strings from the API, compared and differenced as scaled bigints: prices and
// amounts never pass through a float for arithmetic (Number only formats a percentage for display).

/** A non-negative or negative decimal string as an integer of `scale` decimals; null when it is not one. */
export function parseDecimal(text: string, scale: number): bigint | null {
  const match = /^(-?)(\d{1,40})(?:\.(\d{1,40}))?$/.exec(text);
  if (match === null) return null;
  const fraction = (match[3] ?? "").padEnd(scale, "0").slice(0, scale);
  const units = BigInt(match[2] + fraction);
  return match[1] === "-" ? -units : units;
}

/** Decimal places of a decimal string ("64005.25" → 2). */
export function decimalsOf(text: string): number {
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

/** `(last - open) / open` as a signed percentage string with two decimals; null when `open` is zero or either is not a decimal. */
export function changePercent(open: string, last: string): string | null {
  const scale = Math.max(decimalsOf(open), decimalsOf(last));
  const o = parseDecimal(open, scale);
  const l = parseDecimal(last, scale);
  if (o === null || l === null || o === 0n) return null;
  // Hundredths of a percent, rounded half away from zero.
  const scaled = ((l - o) * 20000n) / o;
  const hundredths = scaled >= 0n ? (scaled + 1n) / 2n : (scaled - 1n) / 2n;
  const negative = hundredths < 0n;
  const magnitude = negative ? -hundredths : hundredths;
  const whole = magnitude / 100n;
  const fraction = (magnitude % 100n).toString().padStart(2, "0");
  return `${negative ? "-" : "+"}${whole}.${fraction}%`;
}

/** Compares two decimal strings exactly: negative, zero or positive like a sort comparator. */
export function compareDecimal(a: string, b: string): number {
  const scale = Math.max(decimalsOf(a), decimalsOf(b));
  const x = parseDecimal(a, scale) ?? 0n;
  const y = parseDecimal(b, scale) ?? 0n;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `part / whole` in per-mille (0…1000) for a depth bar's width; exact, clamped. */
export function perMille(part: string, whole: string): number {
  const scale = Math.max(decimalsOf(part), decimalsOf(whole));
  const p = parseDecimal(part, scale) ?? 0n;
  const w = parseDecimal(whole, scale) ?? 0n;
  if (w <= 0n || p <= 0n) return 0;
  const value = (p * 1000n) / w;
  return value > 1000n ? 1000 : Number(value);
}

/** Sum of decimal strings, exact, written with the largest scale among them. */
export function sumDecimals(values: readonly string[]): string {
  const scale = values.reduce((max, value) => Math.max(max, decimalsOf(value)), 0);
  let total = 0n;
  for (const value of values) total += parseDecimal(value, scale) ?? 0n;
  return formatUnits(total, scale);
}

export function formatUnits(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  const whole = digits.slice(0, digits.length - scale);
  const fraction = scale === 0 ? "" : `.${digits.slice(digits.length - scale)}`;
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

/** `a - b`, exact, written with the larger scale of the two; null when either is not a decimal. */
export function subtractDecimals(a: string, b: string): string | null {
  const scale = Math.max(decimalsOf(a), decimalsOf(b));
  const x = parseDecimal(a, scale);
  const y = parseDecimal(b, scale);
  if (x === null || y === null) return null;
  return formatUnits(x - y, scale);
}

/** A plain positive decimal as typed by a person ("0.5", "12"): no sign, exponent or spaces. */
export function isPositiveDecimal(text: string): boolean {
  return /^\d{1,40}(\.\d{1,40})?$/.test(text) && /[1-9]/.test(text);
}

// JSON as Bitcoin Core writes it, read without losing a satoshi.
//
// Bitcoin Core prints amounts as JSON numbers in BTC with 8 decimals ("value": 0.29000000). Through
// JSON.parse they become binary doubles, and 0.29 × 1e8 = 28999999.999999996: a float multiply
// (or even a rounding one, for amounts near 21e6 BTC) is not an exact conversion. Node 20 has no
// JSON.parse source-text access for revivers, so this module parses the response text itself and
// keeps every number as its source text (`RpcNumber`); an amount is then converted to satoshi by
// decimal digit arithmetic on that text (`btcToSatoshi`), never through a double.
//
// The parser is strict RFC 8259 JSON: no trailing commas, no leading zeros, no NaN, nothing after
// the value; nesting is bounded (`MAX_JSON_DEPTH`). A "__proto__" key is defined as an own
// property, as JSON.parse does, never assigned (which would set the object's prototype). Strings with escapes are decoded by JSON.parse on their own slice.

/** Deepest nesting accepted (a verbosity-2 block is about 6 levels deep). */
export const MAX_JSON_DEPTH = 64;
/** Satoshi per BTC. */
export const SATOSHI_PER_BTC = 100_000_000n;
/** Longest number text converted to an amount (21e6 BTC with 8 decimals is 17 characters). */
const MAX_AMOUNT_TEXT = 64;
/** Largest decimal exponent accepted in an amount: no 1e999999 turned into a huge bigint. */
const MAX_AMOUNT_EXPONENT = 40;

export class JsonParseError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at offset ${position}`);
    this.name = "JsonParseError";
  }
}

/** A JSON number kept as its source text. */
export class RpcNumber {
  constructor(readonly text: string) {}

  /** The number as a safe integer; throws on a fraction, an exponent form with a fraction, or a huge value. */
  toSafeInteger(): number {
    const value = Number(this.text);
    if (!Number.isSafeInteger(value)) throw new RangeError(`${this.text} is not a safe integer`);
    return value;
  }

  /** The number as satoshi, reading it as BTC (exact; see `btcToSatoshi`). */
  toSatoshi(): bigint {
    return btcToSatoshi(this.text);
  }

  toString(): string {
    return this.text;
  }

  toJSON(): number {
    return Number(this.text);
  }
}

/** A parsed JSON value: numbers stay `RpcNumber`. */
export type JsonValue = null | boolean | string | RpcNumber | JsonValue[] | { [key: string]: JsonValue };

export type JsonObject = { [key: string]: JsonValue };

/** Whether a parsed value is a JSON object (not an array, not a number). */
export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof RpcNumber)
  );
}

/** Parses JSON text, keeping numbers as their text (`RpcNumber`). */
export function parseJson(text: string): JsonValue {
  const parser = new Parser(text);
  parser.skipSpace();
  const value = parser.value(0);
  parser.skipSpace();
  if (parser.pos !== text.length)
    throw new JsonParseError("unexpected text after the JSON value", parser.pos);
  return value;
}

class Parser {
  pos = 0;

  constructor(private readonly text: string) {}

  skipSpace(): void {
    const t = this.text;
    let i = this.pos;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.pos = i;
  }

  value(depth: number): JsonValue {
    const t = this.text;
    const c = t.charCodeAt(this.pos);
    if (c === 0x7b) return this.object(depth + 1);
    if (c === 0x5b) return this.array(depth + 1);
    if (c === 0x22) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (t.startsWith("true", this.pos)) {
      this.pos += 4;
      return true;
    }
    if (t.startsWith("false", this.pos)) {
      this.pos += 5;
      return false;
    }
    if (t.startsWith("null", this.pos)) {
      this.pos += 4;
      return null;
    }
    throw new JsonParseError(
      this.pos >= t.length ? "unexpected end of JSON" : "unexpected character",
      this.pos,
    );
  }

  private checkDepth(depth: number): void {
    if (depth > MAX_JSON_DEPTH) throw new JsonParseError(`nesting deeper than ${MAX_JSON_DEPTH}`, this.pos);
  }

  private object(depth: number): { [key: string]: JsonValue } {
    this.checkDepth(depth);
    const result: { [key: string]: JsonValue } = {};
    this.pos++;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return result;
    }
    for (;;) {
      if (this.text.charCodeAt(this.pos) !== 0x22) throw new JsonParseError("expected a key", this.pos);
      const key = this.string();
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== 0x3a) throw new JsonParseError("expected ':'", this.pos);
      this.pos++;
      this.skipSpace();
      const value = this.value(depth);
      if (key === "__proto__")
        Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
      else result[key] = value;
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x7d) return result;
      if (c !== 0x2c) throw new JsonParseError("expected ',' or '}'", this.pos - 1);
      this.skipSpace();
    }
  }

  private array(depth: number): JsonValue[] {
    this.checkDepth(depth);
    const result: JsonValue[] = [];
    this.pos++;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return result;
    }
    for (;;) {
      result.push(this.value(depth));
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x5d) return result;
      if (c !== 0x2c) throw new JsonParseError("expected ',' or ']'", this.pos - 1);
      this.skipSpace();
    }
  }

  private string(): string {
    const t = this.text;
    const start = this.pos;
    let i = start + 1;
    let escaped = false;
    for (;;) {
      if (i >= t.length) throw new JsonParseError("unterminated string", start);
      const c = t.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c < 0x20) throw new JsonParseError("control character in a string", i);
      i++;
    }
    this.pos = i + 1;
    if (!escaped) return t.slice(start + 1, i);
    try {
      return JSON.parse(t.slice(start, i + 1)) as string;
    } catch {
      throw new JsonParseError("bad escape in a string", start);
    }
  }

  private number(): RpcNumber {
    const t = this.text;
    const start = this.pos;
    let i = start;
    if (t.charCodeAt(i) === 0x2d) i++;
    const first = t.charCodeAt(i);
    if (first === 0x30) i++;
    else if (first >= 0x31 && first <= 0x39) i = digitsFrom(t, i);
    else throw new JsonParseError("bad number", i);
    if (t.charCodeAt(i) === 0x2e) {
      const end = digitsFrom(t, i + 1);
      if (end === i + 1) throw new JsonParseError("bad number", i + 1);
      i = end;
    }
    const e = t.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = t.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      const end = digitsFrom(t, i);
      if (end === i) throw new JsonParseError("bad number", i);
      i = end;
    }
    const next = t.charCodeAt(i);
    // "01": a leading zero is a whole integer part; what follows must end the number.
    if (next >= 0x30 && next <= 0x39) throw new JsonParseError("bad number", i);
    this.pos = i;
    return new RpcNumber(t.slice(start, i));
  }
}

function digitsFrom(text: string, from: number): number {
  let i = from;
  for (;;) {
    const c = text.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39)) return i; // NaN past the end is not a digit either
    i++;
  }
}

const AMOUNT = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;

/**
 * An amount in BTC, as decimal text ("0.29000000", "20999999.97690000", "1e-8", "-0.5"), in
 * satoshi, exactly: digits are shifted by the decimal exponent, never multiplied as a float.
 * Throws when the text is not a decimal number or names a fraction of a satoshi (more than 8
 * significant decimals). Zeros beyond the 8th decimal are accepted. The range is the caller's
 * to check (amounts, fees and balances have different bounds).
 */
export function btcToSatoshi(text: string): bigint {
  if (typeof text !== "string" || text.length > MAX_AMOUNT_TEXT)
    throw new RangeError("amount text missing or too long");
  const match = AMOUNT.exec(text);
  if (match === null) throw new RangeError(`not a decimal amount: ${JSON.stringify(text)}`);
  const [, sign, whole, fraction = "", exponentText = "0"] = match;
  const exponent = Number(exponentText);
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > MAX_AMOUNT_EXPONENT)
    throw new RangeError(`amount exponent out of range: ${text}`);
  // value = digits × 10^(exponent − fraction length); satoshi = value × 10^8.
  const digits = (whole + fraction).replace(/^0+(?=[0-9])/, "");
  const shift = exponent - fraction.length + 8;
  let satoshi: bigint;
  if (shift >= 0) satoshi = BigInt(digits) * 10n ** BigInt(shift);
  else {
    const cut = digits.length + shift;
    const dropped = cut > 0 ? digits.slice(cut) : digits;
    if (!/^0*$/.test(dropped)) throw new RangeError(`amount ${text} has a fraction of a satoshi`);
    satoshi = cut > 0 ? BigInt(digits.slice(0, cut)) : 0n;
  }
  return sign === "-" ? -satoshi : satoshi;
}

/** Satoshi as BTC decimal text with 8 decimals, as Bitcoin Core prints and accepts amounts. */
export function satoshiToBtc(satoshi: bigint): string {
  const negative = satoshi < 0n;
  const abs = negative ? -satoshi : satoshi;
  const whole = abs / SATOSHI_PER_BTC;
  const fraction = (abs % SATOSHI_PER_BTC).toString().padStart(8, "0");
  return `${negative ? "-" : ""}${whole}.${fraction}`;
}

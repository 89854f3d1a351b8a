// The value encodings of the command codec (command-codec.ts): numbers and strings, both ways.
//
// A "num" is one tag byte, then: 0x00..0xEF the value itself; 0xF0 u16; 0xF1 u32; 0xF2 u48;
// 0xF3 float64 (anything else), so every number keeps its exact value (also -0, NaN, fractions
// and unsafe integers). Strings: [encoding u8: 0 latin1, 1 utf16le][length num][code units], so
// every UTF-16 code unit (also a lone surrogate) survives.

import { type ByteReader, type ByteWriter, DecodeError } from "../core/bytes.ts";

/** Longest string the codec accepts (code units): bounds record size; the core's own limit is lower. */
export const MAX_CODEC_STRING_UNITS = 4096;

/** Thrown by encode for a value outside the Command type (e.g. side "up"): it cannot be journaled. */
export class CommandEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandEncodeError";
  }
}

const NUM_MAX_INLINE = 0xef;
const NUM_U16 = 0xf0;
const NUM_U32 = 0xf1;
const NUM_U48 = 0xf2;
const NUM_F64 = 0xf3;
const TWO_POW_32 = 0x1_0000_0000;
const TWO_POW_48 = 0x1_0000_0000_0000;

const STRING_LATIN1 = 0;
const STRING_UTF16 = 1;

/** Largest encoding of one number: tag byte + float64. */
export const MAX_NUMBER_SIZE_BYTES = 9;

/**
 * Writes one number at `at` of `buffer` and returns the offset after it; the caller has made
 * room for MAX_NUMBER_SIZE_BYTES. Plain byte stores and a local offset: the hot path encodes
 * nine of these per order, so they stay out of the writer object.
 */
export function putNumber(buffer: Uint8Array, view: DataView, at: number, value: number): number {
  // `value >>> 0 === value` is true only for uint32 values (and -0, which must keep its sign).
  if (value >>> 0 === value && (value !== 0 || 1 / value > 0)) {
    if (value <= NUM_MAX_INLINE) {
      buffer[at] = value;
      return at + 1;
    }
    if (value <= 0xffff) {
      buffer[at] = NUM_U16;
      buffer[at + 1] = value & 0xff;
      buffer[at + 2] = value >>> 8;
      return at + 3;
    }
    buffer[at] = NUM_U32;
    buffer[at + 1] = value & 0xff;
    buffer[at + 2] = (value >>> 8) & 0xff;
    buffer[at + 3] = (value >>> 16) & 0xff;
    buffer[at + 4] = value >>> 24;
    return at + 5;
  }
  if (value > 0 && value < TWO_POW_48 && Number.isInteger(value)) {
    // Timestamps in ms and large amounts: 7 bytes instead of 9. `>>> 0` keeps the low 32 bits.
    const low = value >>> 0;
    const high = (value - low) / TWO_POW_32;
    buffer[at] = NUM_U48;
    buffer[at + 1] = low & 0xff;
    buffer[at + 2] = (low >>> 8) & 0xff;
    buffer[at + 3] = (low >>> 16) & 0xff;
    buffer[at + 4] = low >>> 24;
    buffer[at + 5] = high & 0xff;
    buffer[at + 6] = high >>> 8;
    return at + 7;
  }
  buffer[at] = NUM_F64;
  view.setFloat64(at + 1, value, true);
  return at + 9;
}

/** Writes one number; the caller has ensured MAX_NUMBER_SIZE_BYTES of room. */
export function writeNumber(w: ByteWriter, value: number): void {
  w.length = putNumber(w.buffer, w.view, w.length, value);
}

export function writeString(w: ByteWriter, value: string, field: string): void {
  if (typeof value !== "string") throw new CommandEncodeError(`${field} must be a string`);
  const length = value.length;
  if (length > MAX_CODEC_STRING_UNITS) {
    throw new CommandEncodeError(`${field} is longer than ${MAX_CODEC_STRING_UNITS} characters`);
  }
  let wide = false;
  for (let i = 0; i < length; i++) {
    if (value.charCodeAt(i) > 0xff) {
      wide = true;
      break;
    }
  }
  w.ensure(1 + MAX_NUMBER_SIZE_BYTES);
  w.u8(wide ? STRING_UTF16 : STRING_LATIN1);
  writeNumber(w, length);
  if (wide) {
    for (let i = 0; i < length; i++) w.u16(value.charCodeAt(i));
  } else {
    w.ensure(length);
    const buffer = w.buffer;
    const start = w.length;
    for (let i = 0; i < length; i++) buffer[start + i] = value.charCodeAt(i);
    w.length = start + length;
  }
}

export function readNumber(r: ByteReader, field: string): number {
  const tag = r.u8(field);
  if (tag <= NUM_MAX_INLINE) return tag;
  switch (tag) {
    case NUM_U16:
      return r.u16(field);
    case NUM_U32:
      return r.u32(field);
    case NUM_U48: {
      const low = r.u32(field);
      return r.u16(field) * TWO_POW_32 + low;
    }
    case NUM_F64:
      return r.f64(field);
    default:
      throw new DecodeError(`unknown number tag 0x${tag.toString(16)} for ${field}`, r.position - 1);
  }
}

export function readString(r: ByteReader, field: string): string {
  const encoding = r.u8(field);
  if (encoding !== STRING_LATIN1 && encoding !== STRING_UTF16) {
    throw new DecodeError(`unknown string encoding ${encoding} for ${field}`, r.position - 1);
  }
  const start = r.position;
  const length = readNumber(r, field);
  if (!Number.isInteger(length) || length < 0 || length > MAX_CODEC_STRING_UNITS) {
    throw new DecodeError(`bad string length ${length} for ${field}`, start);
  }
  const unitSizeBytes = encoding === STRING_UTF16 ? 2 : 1;
  r.need(length * unitSizeBytes, field);
  let out = "";
  for (let i = 0; i < length; i++) {
    out += String.fromCharCode(unitSizeBytes === 2 ? r.u16(field) : r.u8(field));
  }
  return out;
}

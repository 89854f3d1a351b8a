// CRC-32 (IEEE 802.3, the polynomial of zlib and of the segment format) over a byte range.
//
// Journal records are short (a typical order is ~40 checksummed bytes). For those, node's
// zlib.crc32 costs ~100 ns per call — a subarray() allocation plus the crossing into C++ —
// while a table-driven loop in JavaScript takes ~30 ns and allocates nothing. Long ranges
// (snapshots of strings, big operator commands) still go to zlib, whose native loop wins there.
// Both give the same value, so the on-disk format does not depend on which one ran.

import { crc32 as zlibCrc32 } from "node:zlib";

/** Ranges at least this long go to zlib.crc32 (measured crossover on Node 20, x86-64: 128–256 bytes). */
export const NATIVE_CRC_MIN_SIZE_BYTES = 192;

/** Slicing-by-4 tables: TABLE[k * 256 + b] is the CRC of byte b followed by k zero bytes. */
const TABLE = buildTable();

function buildTable(): Int32Array {
  const table = new Int32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 4; k++) {
      const previous = table[(k - 1) * 256 + n];
      table[k * 256 + n] = (previous >>> 8) ^ table[previous & 0xff];
    }
  }
  return table;
}

/** CRC-32 of bytes[start, end), as an unsigned 32-bit integer. */
export function crc32Range(bytes: Uint8Array, start: number, end: number): number {
  if (end - start >= NATIVE_CRC_MIN_SIZE_BYTES) return zlibCrc32(bytes.subarray(start, end));
  const table = TABLE;
  let crc = -1;
  let i = start;
  // Four bytes per step, then the rest one by one; the loop is bounded by end - start.
  for (; i + 4 <= end; i += 4) {
    crc ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    crc =
      table[768 + (crc & 0xff)] ^
      table[512 + ((crc >>> 8) & 0xff)] ^
      table[256 + ((crc >>> 16) & 0xff)] ^
      table[crc >>> 24];
  }
  for (; i < end; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

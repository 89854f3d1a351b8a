import { crc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32Range, NATIVE_CRC_MIN_SIZE_BYTES } from "../../src/journal/crc32.ts";

describe("crc32Range", () => {
  it("gives the standard CRC-32 check value", () => {
    expect(crc32Range(Buffer.from("123456789", "latin1"), 0, 9)).toBe(0xcbf43926);
    expect(crc32Range(new Uint8Array(0), 0, 0)).toBe(0);
  });

  it("equals zlib.crc32 on any range, on both sides of the native threshold", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: NATIVE_CRC_MIN_SIZE_BYTES * 3 }),
        fc.nat(),
        fc.nat(),
        (bytes, a, b) => {
          const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
          const end = start + (b % (bytes.length - start + 1));
          expect(crc32Range(bytes, start, end)).toBe(crc32(bytes.subarray(start, end)));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

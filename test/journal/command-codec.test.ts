import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Command, PlaceOrderCommand } from "../../src/core/commands.ts";
import { DecodeError } from "../../src/journal/byte-io.ts";
import {
  CommandEncodeError,
  CommandEncoder,
  decodeCommand,
  encodeCommand,
  MAX_CODEC_STRING_UNITS,
} from "../../src/journal/command-codec.ts";
import { anyCommand } from "./command-arbitraries.ts";

const limitBuy: PlaceOrderCommand = {
  kind: "placeOrder",
  sequence: 42,
  timestampMs: 1_700_000_000_123,
  userId: 7,
  marketId: 1,
  side: "buy",
  orderType: "limit",
  priceTicks: 50_000,
  quantityLots: 3,
  quoteAmountUnits: 0,
  triggerPriceTicks: 0,
  timeInForce: "gtc",
  postOnly: false,
  clientOrderId: 0,
  selfTradePrevention: null,
};

describe("command codec", () => {
  it("round-trips every command kind exactly (also -0, NaN, fractions, lone surrogates)", () => {
    fc.assert(
      fc.property(anyCommand, (command) => {
        const bytes = encodeCommand(command);
        const decoded = decodeCommand(bytes);
        expect(decoded).toEqual(command);
        // Byte-identical re-encoding proves no value changed representation (e.g. -0 → 0).
        expect(encodeCommand(decoded)).toEqual(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps -0 distinct from 0", () => {
    const decoded = decodeCommand(encodeCommand({ ...limitBuy, priceTicks: -0 })) as PlaceOrderCommand;
    expect(Object.is(decoded.priceTicks, -0)).toBe(true);
  });

  it("reuses its buffer: encode() returns a view that the next encode overwrites", () => {
    const encoder = new CommandEncoder();
    const first = encoder.encode(limitBuy);
    const firstCopy = first.slice();
    encoder.encode({ ...limitBuy, userId: 8 });
    expect(first).not.toEqual(firstCopy);
    expect(first.buffer).toBe(encoder.encode(limitBuy).buffer);
  });

  it("encodes a typical limit order compactly", () => {
    expect(encodeCommand(limitBuy).length).toBeLessThanOrEqual(24);
  });

  it("throws a DecodeError for every truncation of a valid encoding", () => {
    fc.assert(
      fc.property(anyCommand, (command) => {
        const bytes = encodeCommand(command);
        for (let length = 0; length < bytes.length; length++) {
          expect(() => decodeCommand(bytes.subarray(0, length))).toThrow(DecodeError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("rejects trailing bytes, unknown versions, kinds and tags with a clear message", () => {
    const bytes = encodeCommand(limitBuy);
    expect(() => decodeCommand(Uint8Array.of(...bytes, 0))).toThrow(/trailing bytes/);
    expect(() => decodeCommand(Uint8Array.of(9, ...bytes.subarray(1)))).toThrow(/format version 9/);
    expect(() => decodeCommand(Uint8Array.of(1, 99, ...bytes.subarray(2)))).toThrow(
      /unknown command kind 99/,
    );
    const badTag = bytes.slice();
    badTag[2] = 0xfe; // the sequence's number tag
    expect(() => decodeCommand(badTag)).toThrow(/unknown number tag 0xfe for sequence/);
    const badTimeInForce = bytes.slice();
    badTimeInForce[10] |= 3 << 3; // flags byte follows version, kind, sequence (1 byte) and timestamp (7)
    expect(() => decodeCommand(badTimeInForce)).toThrow(/unknown time in force code 3/);
  });

  it("never throws anything but DecodeError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeCommand(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it("refuses to encode values outside the Command type instead of journaling something else", () => {
    const badSide = { ...limitBuy, side: "up" } as unknown as Command;
    expect(() => encodeCommand(badSide)).toThrow(CommandEncodeError);
    const longReason: Command = {
      kind: "adjustBalance",
      sequence: 1,
      timestampMs: 0,
      userId: 1,
      assetId: 1,
      amountUnits: 5,
      reason: "x".repeat(MAX_CODEC_STRING_UNITS + 1),
    };
    expect(() => encodeCommand(longReason)).toThrow(/longer than/);
    const badKind = { ...limitBuy, kind: "teleport" } as unknown as Command;
    expect(() => encodeCommand(badKind)).toThrow(/unknown command kind/);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError } from "../../src/core/bytes.ts";
import type { Command, PlaceOrderCommand } from "../../src/core/commands.ts";
import { ORDER_TYPES, WALLET_ACCOUNTS } from "../../src/core/commands.ts";
import {
  COMMAND_FORMAT_VERSION,
  CommandDecoder,
  CommandEncodeError,
  CommandEncoder,
  decodeCommand,
  encodeCommand,
  MAX_CODEC_STRING_UNITS,
} from "../../src/journal/command-codec.ts";
import { limitBuy, stopSell, VERSION_1_HEX } from "./codec-fixtures.ts";
import { anyCommand } from "./command-arbitraries.ts";

const oddNumbers: PlaceOrderCommand = {
  ...limitBuy,
  timeInForce: "ioc",
  priceTicks: -0,
  quantityLots: 1.5,
  quoteAmountUnits: Number.NaN,
  clientOrderId: 2 ** 53,
};

const cancel: Command = {
  kind: "cancelOrder",
  sequence: 2 ** 33,
  timestampMs: 0,
  userId: 0xef,
  orderId: 0xf0,
};

const adjust: Command = {
  kind: "adjustBalance",
  sequence: 3,
  timestampMs: 5,
  userId: 1,
  assetId: 2,
  amountUnits: -10,
  reason: "déposit ✓",
};

/** Commands and their version 1 encoding, as the first release of the codec wrote them. */
const VERSION_1_GOLDEN: [Command, string][] = [
  [limitBuy, VERSION_1_HEX.limitBuy],
  [stopSell, VERSION_1_HEX.stopSell],
  [
    oddNumbers,
    "01012af27b68e5cf8b01080701f30000000000000080f3000000000000f83ff3000000000000f87f00f30000000000004043",
  ],
  [cancel, "0102f200000000020000eff0f000"],
  [adjust, "010503050102f300000000000024c001096400e90070006f0073006900740020001327"],
];

/** limitBuy's order type byte: after version, kind, sequence (1 byte) and timestamp (7 bytes). */
const ORDER_TYPE_OFFSET = 10;

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

  it("writes a placeOrder with a client order text as version 4 and only such an order", () => {
    const texted: PlaceOrderCommand = { ...limitBuy, clientOrderText: "x-abc/1:2" };
    const plain = encodeCommand(limitBuy);
    const bytes = encodeCommand(texted);
    expect(bytes[0]).toBe(4);
    // Version 2's fields unchanged, then flags 0 (no stamp) and the text.
    expect(Buffer.from(bytes.subarray(2, plain.length)).equals(Buffer.from(plain.subarray(2)))).toBe(true);
    expect(bytes[plain.length]).toBe(0);
    expect(decodeCommand(bytes)).toEqual(texted);
    const signed: PlaceOrderCommand = { ...texted, nonce: { keyId: "k1", nonce: 7 } };
    const signedBytes = encodeCommand(signed);
    expect(signedBytes[plain.length]).toBe(1);
    expect(decodeCommand(signedBytes)).toEqual(signed);
    // Unknown flag bits, and version 4 on another kind, are refused.
    const badFlags = bytes.slice();
    badFlags[plain.length] = 2;
    expect(() => decodeCommand(badFlags)).toThrow(DecodeError);
    const cancelBytes = encodeCommand(cancel);
    cancelBytes[0] = 4;
    expect(() => decodeCommand(cancelBytes)).toThrow(/only placeOrder carries a client order text/);
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

  it("still decodes version 1 byte for byte (journals written before the order type byte stay readable)", () => {
    // Written by the codec as first released (commit 7b0cffd). Version 1 is never written again,
    // but every record of it must decode to the same command forever.
    for (const [command, hex] of VERSION_1_GOLDEN) {
      expect(decodeCommand(Buffer.from(hex, "hex"))).toEqual(command);
    }
  });

  it("keeps the on-disk encoding of version 2 byte for byte", () => {
    // Any change here needs a new format version (and decoding of this one kept).
    const golden: [Command, string][] = [
      [limitBuy, "02012af27b68e5cf8b0100000701f050c303000000"],
      [stopSell, "0201f187d61200f27b68e5cf8b010331070100f10000010000f170110100f2000000000001"],
      [
        oddNumbers,
        "02012af27b68e5cf8b0100020701f30000000000000080f3000000000000f83ff3000000000000f87f00f30000000000004043",
      ],
      [
        {
          ...limitBuy,
          side: "sell",
          orderType: "marketTotal",
          priceTicks: 0,
          quantityLots: 0,
          quoteAmountUnits: 123_456,
          timeInForce: "fok",
          postOnly: true,
          selfTradePrevention: "cancelIncoming",
        },
        "02012af27b68e5cf8b01022d07010000f140e201000000",
      ],
      [cancel, "0202f200000000020000eff0f000"],
      [adjust, "020503050102f300000000000024c001096400e90070006f0073006900740020001327"],
    ];
    for (const [command, hex] of golden) {
      expect(Buffer.from(encodeCommand(command)).toString("hex")).toBe(hex);
      expect(decodeCommand(Buffer.from(hex, "hex"))).toEqual(command);
    }
  });

  it("keeps the on-disk encoding of custody's kinds (9..13, added to version 2) byte for byte", () => {
    // New kind codes only: every record written before them decodes as it did, so the format
    // version stays 2 (command-codec.ts). A wallet account's code is its index in WALLET_ACCOUNTS.
    const golden: [Command, string][] = [
      [
        {
          kind: "creditDeposit",
          sequence: 9,
          timestampMs: 1000,
          userId: 3,
          assetId: 1,
          amountUnits: 70_000,
          chain: "btc",
          txId: "ab",
          outputIndex: 1,
        },
        // 02 09 | seq 09 | ts f0e803 | user 03 | asset 01 | amount f1 70110100 | "btc" | "ab" | output 01
        "020909f0e8030301f17011010000036274630002616201",
      ],
      [
        {
          kind: "holdWithdrawal",
          sequence: 10,
          timestampMs: 1000,
          withdrawalId: 5,
          userId: 3,
          assetId: 1,
          amountUnits: 1000,
          feeUnits: 30,
        },
        "020a0af0e803050301f0e8031e",
      ],
      [{ kind: "settleWithdrawal", sequence: 11, timestampMs: 1000, withdrawalId: 5 }, "020b0bf0e80305"],
      [{ kind: "releaseWithdrawal", sequence: 12, timestampMs: 1000, withdrawalId: 5 }, "020c0cf0e80305"],
      [
        {
          kind: "recordWalletMovement",
          sequence: 13,
          timestampMs: 1000,
          assetId: 1,
          from: "walletHot",
          to: "networkFees",
          amountUnits: 12,
          txId: "",
        },
        // asset 01 | from 01 (walletHot) | to 04 (networkFees) | amount 0c | "" (latin1, length 0)
        "020d0df0e8030101040c0000",
      ],
    ];
    for (const [command, hex] of golden) {
      expect(Buffer.from(encodeCommand(command)).toString("hex")).toBe(hex);
      expect(decodeCommand(Buffer.from(hex, "hex"))).toEqual(command);
    }
    expect(WALLET_ACCOUNTS).toEqual([
      "walletDepositAddresses",
      "walletHot",
      "walletCold",
      "walletInFlight",
      "networkFees",
    ]);
    // An unknown wallet account code is refused, and so is one on encode.
    expect(() => decodeCommand(Buffer.from("020d0df0e8030101050c0000", "hex"))).toThrow(
      /unknown to account code 5/,
    );
    const bogus = { ...golden[4][0], from: "walletWarm" } as unknown as Command;
    expect(() => encodeCommand(bogus)).toThrow(/unknown from account/);
  });

  it("writes every order type as its index in ORDER_TYPES, and version 1 can name only the first four", () => {
    // ORDER_TYPES is append-only: the four version 1 could name keep their codes.
    expect(ORDER_TYPES.slice(0, 4)).toEqual(["limit", "market", "marketTotal", "stopMarket"]);
    ORDER_TYPES.forEach((orderType, code) => {
      const bytes = encodeCommand({ ...limitBuy, orderType });
      expect(bytes[0]).toBe(COMMAND_FORMAT_VERSION);
      expect(bytes[ORDER_TYPE_OFFSET]).toBe(code);
    });
    const unknownType = encodeCommand(limitBuy);
    unknownType[ORDER_TYPE_OFFSET] = ORDER_TYPES.length;
    expect(() => decodeCommand(unknownType)).toThrow(`unknown order type code ${ORDER_TYPES.length}`);
    const reservedFlag = encodeCommand(limitBuy);
    reservedFlag[ORDER_TYPE_OFFSET + 1] |= 1 << 6;
    expect(() => decodeCommand(reservedFlag)).toThrow(/unknown order flags 0x40/);
  });

  it("encodeInto writes the same bytes in place, only inside its range, or reports no room", () => {
    const encoder = new CommandEncoder();
    fc.assert(
      fc.property(anyCommand, fc.integer({ min: 0, max: 64 }), (command, offset) => {
        const expectedBytes = encodeCommand(command);
        const target = new Uint8Array(offset + expectedBytes.length + 300).fill(0xaa);
        const view = new DataView(target.buffer);
        const end = encoder.encodeInto(command, target, view, offset, target.length - 8);
        expect(end).toBe(offset + expectedBytes.length);
        expect(target.subarray(offset, end)).toEqual(expectedBytes);
        expect(target.subarray(0, offset).every((b) => b === 0xaa)).toBe(true);
        expect(target.subarray(target.length - 8).every((b) => b === 0xaa)).toBe(true);
        // Too little room: -1, and nothing past the range's end is touched.
        const small = new Uint8Array(offset + 8).fill(0xaa);
        expect(encoder.encodeInto(command, small, new DataView(small.buffer), offset, offset + 4)).toBe(-1);
        expect(small.subarray(offset + 4).every((b) => b === 0xaa)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("encodeInto turns any failure to encode into CommandEncodeError", () => {
    const encoder = new CommandEncoder();
    const target = new Uint8Array(256);
    const view = new DataView(target.buffer);
    const badSide = { ...limitBuy, side: "up" } as unknown as Command;
    expect(() => encoder.encodeInto(badSide, target, view, 0, 256)).toThrow(CommandEncodeError);
    const noAsset = { kind: "addAsset", sequence: 1, timestampMs: 0 } as unknown as Command;
    expect(() => encoder.encodeInto(noAsset, target, view, 0, 256)).toThrow(CommandEncodeError);
  });

  it("CommandDecoder decodes in place at any offset, reusing itself across buffers", () => {
    const decoder = new CommandDecoder();
    fc.assert(
      fc.property(fc.array(anyCommand, { minLength: 1, maxLength: 8 }), (commands) => {
        const parts = commands.map((command) => encodeCommand(command));
        const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length + 3, 0));
        const ranges: [number, number][] = [];
        let at = 0;
        for (const part of parts) {
          at += 3; // garbage between payloads must not matter
          bytes.set(part, at);
          ranges.push([at, at + part.length]);
          at += part.length;
        }
        ranges.forEach(([start, end], i) => {
          expect(decoder.decode(bytes, start, end)).toEqual(commands[i]);
          expect(() => decoder.decode(bytes, start, end - 1)).toThrow(DecodeError);
        });
      }),
      { numRuns: 500 },
    );
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
    badTimeInForce[ORDER_TYPE_OFFSET + 1] |= 3 << 1; // the flags byte follows the order type
    expect(() => decodeCommand(badTimeInForce)).toThrow(/unknown time in force code 3/);
    const badTimeInForceV1 = Buffer.from(VERSION_1_GOLDEN[0][1], "hex");
    badTimeInForceV1[ORDER_TYPE_OFFSET] |= 3 << 3; // version 1: the flags byte holds the order type
    expect(() => decodeCommand(badTimeInForceV1)).toThrow(/unknown time in force code 3/);
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

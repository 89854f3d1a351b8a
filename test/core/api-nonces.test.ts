// Signed requests' nonces in the core (src/core/engine/api-nonces.ts, docs/API.md#nonce), on both
// cores: a stamp advances its key, a stale one is refused and changes nothing, the advance stays
// when the command is rejected for another reason, touchNonce, the bound, malformed stamps, and
// the nonces surviving a snapshot and the journal codec.

import { describe, expect, it } from "vitest";
import type { NonceStamp, UnstampedCommand } from "../../src/core/commands.ts";
import { Core } from "../../src/core/core.ts";
import { decodeCommand, encodeCommand } from "../../src/journal/command-codec.ts";
import { BTC_USD, Driver, loadFactories, placeOrder, T0 } from "./machines.ts";

const factories = await loadFactories();
const KEY_A = `K-${"a".repeat(40)}`;
const KEY_B = `K-${"b".repeat(40)}`;

const stamp = (nonce: number, keyId = KEY_A): NonceStamp => ({ keyId, nonce });
const touch = (nonce: number, keyId = KEY_A, userId = 1): UnstampedCommand => ({
  kind: "touchNonce",
  userId,
  nonce: stamp(nonce, keyId),
});
const buy = (nonce: number, priceTicks = 100): UnstampedCommand => ({
  ...placeOrder({ userId: 1, side: "buy", priceTicks, quantityLots: 1, clientOrderId: 7 }),
  nonce: stamp(nonce),
});

describe.each(factories)("API key nonces on $name", (factory) => {
  const start = (limits = {}) => {
    const d = new Driver(factory, limits);
    d.setup();
    return d;
  };

  it("advances on each greater nonce and refuses an equal or lower one with staleNonce", () => {
    const d = start();
    expect(d.run(buy(10)).some((event) => event.type === "orderAccepted")).toBe(true);
    expect(d.machine.exportState().apiNonces).toEqual([[KEY_A, 10]]);
    d.reject(buy(10), "staleNonce", 1, 7);
    d.reject(buy(9), "staleNonce", 1, 7);
    d.reject(touch(10), "staleNonce", 1, 0);
    expect(d.run(touch(11))).toEqual([]);
    expect(d.machine.exportState().apiNonces).toEqual([[KEY_A, 11]]);
  });

  it("keeps each key's nonce apart", () => {
    const d = start();
    d.run(touch(500, KEY_B));
    d.run(touch(5, KEY_A));
    d.reject(touch(499, KEY_B), "staleNonce", 1, 0);
    expect(d.machine.exportState().apiNonces).toEqual([
      [KEY_A, 5],
      [KEY_B, 500],
    ]);
  });

  it("keeps the nonce advanced when the command itself is rejected for another reason", () => {
    const d = start();
    const unknownMarket = { ...buy(20), marketId: 99 };
    expect(d.run(unknownMarket)).toEqual([
      { type: "rejected", sequence: d.sequence, reason: "unknownMarket", userId: 1, clientOrderId: 7 },
    ]);
    expect(d.machine.exportState().apiNonces).toEqual([[KEY_A, 20]]);
    // Its replay is now refused for its nonce, before the market is even looked at.
    d.reject(unknownMarket, "staleNonce", 1, 7);
  });

  it("stamps cancels the same way", () => {
    const d = start();
    const orderId = d.next;
    d.run(buy(1));
    d.run({ kind: "cancelOrder", userId: 1, orderId, nonce: stamp(2) });
    d.reject({ kind: "cancelAll", userId: 1, marketId: BTC_USD, nonce: stamp(2) }, "staleNonce", 1, 0);
    d.reject(
      { kind: "cancelByClientId", userId: 1, marketId: BTC_USD, clientOrderId: 3, nonce: stamp(1) },
      "staleNonce",
      1,
      3,
    );
    expect(d.machine.exportState().apiNonces).toEqual([[KEY_A, 2]]);
  });

  it("refuses malformed stamps as invalid commands and changes nothing", () => {
    const d = start();
    for (const bad of [
      { keyId: "", nonce: 1 },
      { keyId: "k".repeat(65), nonce: 1 },
      { keyId: "with space", nonce: 1 },
      { keyId: KEY_A, nonce: 0 },
      { keyId: KEY_A, nonce: 1.5 },
      { keyId: KEY_A, nonce: Number.MAX_SAFE_INTEGER + 1 },
      { keyId: KEY_A, nonce: Number.NaN },
      null,
    ])
      d.reject({ kind: "touchNonce", userId: 1, nonce: bad as NonceStamp }, "invalidCommand", 1, 0);
    expect(d.machine.exportState().apiNonces).toEqual([]);
  });

  it("refuses a new key past maxApiKeyNonces (limitReached) but still serves known keys", () => {
    const d = start({ maxApiKeyNonces: 2 });
    d.run(touch(1, KEY_A));
    d.run(touch(1, KEY_B));
    d.reject(touch(1, `K-${"c".repeat(40)}`), "limitReached", 1, 0);
    expect(d.run(touch(2, KEY_A))).toEqual([]);
  });
});

describe("API key nonces across a restart", () => {
  it("survive a snapshot: a replay is refused by the restored core", () => {
    const core = new Core();
    const d = new Driver({ name: "Core", create: () => core });
    d.setup();
    d.run(buy(1_700_000_000_123));
    d.run(touch(99, KEY_B));
    const restored = Core.restore(core.snapshot(), {});
    expect(restored.exportState()).toEqual(core.exportState());
    expect(restored.stateHash()).toBe(core.stateHash());
    const events: never[] = [];
    restored.applyBatch(
      [{ ...buy(1_700_000_000_123), sequence: d.sequence + 1, timestampMs: T0 + d.sequence + 1 } as never],
      events,
    );
    expect(events).toMatchObject([{ type: "rejected", reason: "staleNonce" }]);
  });

  it("restores a version 3 snapshot (before nonces) with an empty table", () => {
    const core = new Core();
    const d = new Driver({ name: "Core", create: () => core });
    d.setup();
    const bytes = core.snapshot();
    // A version 4 snapshot with no nonces is version 3's bytes plus a zero count.
    const v3 = bytes.slice(0, bytes.length - 4);
    new DataView(v3.buffer).setUint32(4, 3, true);
    const restored = Core.restore(v3, {});
    expect(restored.exportState()).toEqual(core.exportState());
    expect(restored.exportState().apiNonces).toEqual([]);
  });

  it("refuses a snapshot whose nonces are out of order", () => {
    const core = new Core();
    const d = new Driver({ name: "Core", create: () => core });
    d.setup();
    d.run(touch(1, KEY_A));
    d.run(touch(1, KEY_B));
    const bytes = core.snapshot();
    // Swap the two equal-length key ids: B then A.
    const swapped = Buffer.from(bytes);
    const at = swapped.indexOf(KEY_A, 0, "latin1");
    const bAt = swapped.indexOf(KEY_B, 0, "latin1");
    expect(at).toBeGreaterThan(0);
    swapped.write(KEY_B, at, "latin1");
    swapped.write(KEY_A, bAt, "latin1");
    expect(() => Core.restore(Uint8Array.from(swapped), {})).toThrow(/out of order/);
  });

  it("round-trip through the journal codec with their stamps, and commands without one stay version 2", () => {
    const signed = { ...buy(123_456), sequence: 5, timestampMs: T0 };
    const bytes = encodeCommand(signed as never);
    expect(bytes[0]).toBe(3);
    expect(decodeCommand(bytes)).toEqual(signed);
    const touched = { ...touch(9, KEY_B, 4), sequence: 6, timestampMs: T0 };
    expect(decodeCommand(encodeCommand(touched as never))).toEqual(touched);
    const unsigned = {
      ...placeOrder({ userId: 1, side: "buy", priceTicks: 1, quantityLots: 1 }),
      sequence: 7,
      timestampMs: T0,
    };
    expect(encodeCommand(unsigned as never)[0]).toBe(2);
    expect(decodeCommand(encodeCommand(unsigned as never))).toEqual(unsigned);
  });

  it("the codec refuses a touchNonce without a stamp and a stamp on a command that cannot carry one", () => {
    const touched = encodeCommand({ ...touch(9), sequence: 6, timestampMs: T0 } as never);
    const asVersion2 = touched.slice();
    asVersion2[0] = 2;
    expect(() => decodeCommand(asVersion2)).toThrow(/touchNonce without a nonce stamp/);
    const adjust = encodeCommand({
      kind: "addAsset",
      asset: { assetId: 9, code: "XYZ", scale: 2 },
      sequence: 8,
      timestampMs: T0,
    } as never);
    // A stamp's bytes: a signed cancel's encoding past the unsigned one's.
    const cancel = { kind: "cancelOrder", userId: 1, orderId: 2, sequence: 9, timestampMs: T0 } as const;
    const stampBytes = encodeCommand({ ...cancel, nonce: stamp(5) }).subarray(encodeCommand(cancel).length);
    const withStamp = Buffer.concat([Buffer.from([3]), adjust.subarray(1), stampBytes]);
    expect(() => decodeCommand(withStamp)).toThrow(/cannot carry a nonce stamp/);
  });
});

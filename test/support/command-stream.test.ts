import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Command, UnstampedCommand } from "../../src/core/commands.ts";
import { Prng } from "../../src/lib/prng.ts";
import {
  commandAt,
  constant,
  type OpKind,
  oneOf,
  opsArb,
  range,
  type StreamProfile,
  seededOps,
  splitBatches,
  stampStream,
  weighted,
} from "./command-stream.ts";

const user = range(1, 3);
const PROFILE: StreamProfile = {
  kind: weighted<OpKind>(
    [5, constant("place")],
    [3, constant("cancel")],
    [1, constant("adjust")],
    [1, constant("marketStatus")],
  ),
  gap: weighted([3, constant(1)], [1, constant(2)]),
  stepMs: range(0, 5),
  place: {
    user,
    market: constant(1),
    orderType: oneOf("limit", "market", "marketTotal", "stopMarket"),
    buyPrice: range(1, 10),
    sellPrice: range(11, 20),
    trigger: range(5, 15),
    lots: range(1, 4),
    quote: range(10, 99),
    tif: oneOf("gtc", "ioc"),
    postOnly: constant(true),
    clientOrderId: constant(0),
    selfTradePrevention: constant(null),
  },
  cancel: { user, back: range(1, 6), ownerShare: 1 },
  cancelAll: { user, market: constant(1) },
  cancelByClientId: { user, market: constant(1), clientOrderId: constant(1) },
  adjust: { user, asset: constant(1), amount: constant(5), reason: constant("r") },
  marketStatus: { market: constant(1), status: constant("suspended"), resumeNext: true },
};
const SETUP: UnstampedCommand[] = [{ kind: "addAsset", asset: { assetId: 1, code: "AAA", scale: 2 } }];

function checkStream(commands: Command[]): void {
  for (let i = 0; i < commands.length; i++) {
    const command = commands[i];
    if (i > 0) {
      expect(command.sequence).toBeGreaterThan(commands[i - 1].sequence);
      expect(command.timestampMs).toBeGreaterThanOrEqual(commands[i - 1].timestampMs);
    }
    if (command.kind === "placeOrder") {
      // Fields follow the order type.
      expect(command.priceTicks > 0).toBe(command.orderType === "limit");
      expect(command.quoteAmountUnits > 0).toBe(command.orderType === "marketTotal");
      expect(command.triggerPriceTicks > 0).toBe(command.orderType === "stopMarket");
      if (command.orderType === "limit") expect(command.priceTicks <= 10).toBe(command.side === "buy"); // the side's own band
      expect(command.postOnly).toBe(command.orderType === "limit" && command.timeInForce === "gtc");
    }
    if (command.kind === "cancelOrder") {
      expect(command.orderId).toBeLessThan(command.sequence);
      const target = commands.find((c) => c.sequence === command.orderId);
      if (target?.kind === "placeOrder") expect(command.userId).toBe(target.userId); // ownerShare 1
    }
    if (command.kind === "setMarketStatus" && command.status === "suspended")
      expect(commands[i + 1]).toMatchObject({ kind: "setMarketStatus", status: "active" });
  }
}

describe("the shared command stream generator", () => {
  it("stamps fast-check streams in order, with fields that fit the order type and cancels aimed back", () => {
    fc.assert(
      fc.property(opsArb(PROFILE, { maxLength: 60 }), (ops) => {
        checkStream(stampStream(PROFILE, SETUP, ops, { startMs: 1_000, setupStepMs: 1 }));
      }),
      { numRuns: 200 },
    );
  });

  it("a seeded run repeats from its seed", () => {
    const run = (seed: number) => stampStream(PROFILE, SETUP, seededOps(PROFILE, seed, 300), { startMs: 0 });
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
    checkStream(run(3));
  });

  it("random access: command n is a pure function of (seed, n), cancels aimed at earlier ones by their owner", () => {
    const at = (sequence: number) => commandAt(PROFILE, SETUP, 9, sequence);
    expect(at(1)).toBe(SETUP[0]);
    const stamped = Array.from(
      { length: 400 },
      (_, index) => ({ ...at(index + 1), sequence: index + 1, timestampMs: 0 }) as Command,
    );
    expect(stamped.map((c) => at(c.sequence))).toEqual(stamped.map(({ sequence, timestampMs, ...c }) => c));
    const cancels = stamped.filter((c) => c.kind === "cancelOrder");
    expect(cancels.length).toBeGreaterThan(50);
    for (const cancel of cancels) {
      expect(cancel.orderId).toBeLessThan(cancel.sequence);
      const target = stamped[cancel.orderId - 1];
      if (target.kind === "placeOrder") expect(cancel.userId).toBe(target.userId);
    }
  });

  it("weighted() draws in proportion to the weights", () => {
    const dist = weighted([1, constant("a")], [3, constant("b")]);
    const prng = new Prng(5);
    let b = 0;
    for (let i = 0; i < 20_000; i++) if (dist(prng) === "b") b += 1;
    expect(Math.abs(b / 20_000 - 0.75)).toBeLessThan(0.02);
  });

  it("splits into batches: sizes cycled, or the rest in one batch", () => {
    const commands = stampStream(PROFILE, [], seededOps(PROFILE, 1, 10), { startMs: 0 });
    const lengths = (batches: Command[][]) => batches.map((batch) => batch.length);
    const total = commands.length;
    expect(lengths(splitBatches(commands, [2, 3], "cycle")).reduce((a, b) => a + b)).toBe(total);
    expect(lengths(splitBatches(commands, [2, 3], "cycle")).slice(0, 4)).toEqual([2, 3, 2, 3]);
    expect(lengths(splitBatches(commands, [2, 3], "remainder"))).toEqual([2, 3, total - 5]);
    expect(lengths(splitBatches(commands, [], "cycle"))).toEqual([total]);
  });
});

import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { encodeIntent, type Intent, intentDigestOf, parseSignedIntentWire } from "../../src/signer/intent.ts";
import {
  type Charge,
  checkIntent,
  type PolicyConfig,
  type PolicyView,
  type SeenSignature,
  WINDOWS,
} from "../../src/signer/policy.ts";
import { fakePayload, fakePlugin } from "./fake-plugin.ts";
import { COLD, makeIntent, policyConfig, signRequest, T0 } from "./helpers.ts";

const KEYS = { chain: "fakechain", seed: new Uint8Array(32) };

/** An in-memory view: what the state would hold. */
class MemoryView implements PolicyView {
  seen = new Map<string, SeenSignature>();
  halted = new Set<string>();
  entries: { atMs: number; charge: Charge }[] = [];
  seenSignature = (id: string) => this.seen.get(id);
  isHalted = (chain: string) => this.halted.has(chain);
  windowUsed(asset: string, windowMs: number, nowMs: number): bigint {
    return this.entries
      .filter((e) => e.charge.asset === asset && e.atMs > nowMs - windowMs)
      .reduce((sum, e) => sum + e.charge.amount, 0n);
  }
}

function check(
  intent: Intent,
  options: { view?: MemoryView; nowMs?: number; config?: PolicyConfig; secret?: Uint8Array } = {},
) {
  const request = signRequest(intent, options.secret);
  return checkIntent({
    signed: parseSignedIntentWire(request.intent, request.signature),
    config: options.config ?? policyConfig(),
    view: options.view ?? new MemoryView(),
    nowMs: options.nowMs ?? T0,
    describe: (payload) => fakePlugin.describe(payload, KEYS),
    isOwnAddress: (address) => fakePlugin.isOwnAddress(address, KEYS),
  });
}

const codeOf = (verdict: ReturnType<typeof check>) => (verdict.ok ? "ok" : verdict.code);

describe("the signer's policy", () => {
  it("approves a valid withdrawal and charges its amount and fee", () => {
    const verdict = check(makeIntent({ amount: 300n, fee: 5n }));
    expect(verdict.ok && !verdict.repeat && verdict.charges).toEqual([{ asset: "BTC", amount: 305n }]);
  });

  it("refuses a signature by any other key, before looking at anything else", () => {
    const view = new MemoryView();
    view.halted.add("fakechain");
    expect(codeOf(check(makeIntent(), { secret: ed25519.utils.randomSecretKey(), view }))).toBe(
      "bad-signature",
    );
  });

  it("refuses a reused id, an expired intent and one expiring absurdly far ahead", () => {
    const intent = makeIntent();
    const view = new MemoryView();
    view.seen.set(intent.intentId, { txId: "aa", intentDigest: "00".repeat(32) });
    expect(codeOf(check(intent, { view }))).toBe("reused-id");
    expect(codeOf(check(makeIntent({ expiresAtMs: T0 })))).toBe("expired");
    expect(codeOf(check(makeIntent({ expiresAtMs: T0 + 61 * 60_000 })))).toBe("expiry-too-far");
  });

  it("recognises the exact intent signed before (even expired), and nothing else, as a repeat", () => {
    const intent = makeIntent({ amount: 300n });
    const view = new MemoryView();
    const previous = { txId: "ab".repeat(32), intentDigest: intentDigestOf(encodeIntent(intent)) };
    view.seen.set(intent.intentId, previous);
    expect(check(intent, { view })).toEqual({ ok: true, repeat: true, previous });
    // Signed in time; the repeat arrives after the expiry and is still the same transaction.
    expect(check(intent, { view, nowMs: intent.expiresAtMs + 1 })).toMatchObject({ ok: true, repeat: true });
    // Any changed field is another intent under a used id.
    for (const changed of [
      { amount: 301n },
      { to: "user-address-2" },
      { expiresAtMs: intent.expiresAtMs + 1 },
    ])
      expect(codeOf(check({ ...intent, ...changed }, { view }))).toBe("reused-id");
    // A record from before intent digests were logged cannot be matched: refused.
    view.seen.set(intent.intentId, { txId: previous.txId });
    expect(codeOf(check(intent, { view }))).toBe("reused-id");
    // Authentication and the halt come first.
    view.seen.set(intent.intentId, previous);
    expect(codeOf(check(intent, { view, secret: ed25519.utils.randomSecretKey() }))).toBe("bad-signature");
    view.halted.add("fakechain");
    expect(codeOf(check(intent, { view }))).toBe("halted");
  });

  it("refuses everything while the chain is halted, another chain and an asset without caps", () => {
    const view = new MemoryView();
    view.halted.add("fakechain");
    expect(codeOf(check(makeIntent(), { view }))).toBe("halted");
    expect(codeOf(check(makeIntent({ kind: "sweepToCold", to: COLD }), { view }))).toBe("halted");
    expect(codeOf(check(makeIntent({ chain: "otherchain" })))).toBe("wrong-chain");
    expect(codeOf(check(makeIntent({ asset: "ETH" })))).toBe("unknown-asset");
  });

  it("sweeps to cold only to configured cold addresses, without consuming the budget", () => {
    expect(codeOf(check(makeIntent({ kind: "sweepToCold", to: "cold-2" })))).toBe(
      "cold-destination-not-allowed",
    );
    const verdict = check(makeIntent({ kind: "sweepToCold", to: COLD, amount: 1_000_000n, fee: 3n }));
    expect(verdict.ok && !verdict.repeat && verdict.charges).toEqual([{ asset: "BTC", amount: 3n }]);
    expect(codeOf(check(makeIntent({ kind: "depositSweep", to: "outsider" })))).toBe("destination-not-own");
    expect(codeOf(check(makeIntent({ kind: "refillGas", to: "hot-deposit-7" })))).toBe("ok");
    expect(codeOf(check(makeIntent({ kind: "withdrawal", to: "hot-0" })))).toBe("destination-is-own");
  });

  it("reads the payload itself: it must pay exactly `to` `amount`, plus change to the hot wallet", () => {
    const pays = (payments: { to: string; asset: string; amount: string }[]) =>
      makeIntent({ payload: fakePayload({ payments, fee: "1", feeAsset: "BTC" }) });
    const to = "user-address-1";
    expect(
      codeOf(
        check(
          pays([
            { to, asset: "BTC", amount: "100" },
            { to: "hot-change", asset: "BTC", amount: "9" },
          ]),
        ),
      ),
    ).toBe("ok");
    expect(codeOf(check(pays([{ to, asset: "BTC", amount: "101" }])))).toBe("payload-mismatch");
    expect(codeOf(check(pays([{ to: "thief", asset: "BTC", amount: "100" }])))).toBe("payload-mismatch");
    expect(
      codeOf(
        check(
          pays([
            { to, asset: "BTC", amount: "100" },
            { to: "thief", asset: "BTC", amount: "1" },
          ]),
        ),
      ),
    ).toBe("payload-mismatch");
    expect(
      codeOf(
        check(
          pays([
            { to, asset: "BTC", amount: "50" },
            { to, asset: "BTC", amount: "50" },
          ]),
        ),
      ),
    ).toBe("payload-mismatch");
    expect(codeOf(check(pays([{ to, asset: "ETH", amount: "100" }])))).toBe("payload-mismatch");
    expect(codeOf(check(makeIntent({ payload: new TextEncoder().encode("garbage") })))).toBe(
      "payload-unreadable",
    );
  });

  it("enforces the per-transaction cap", () => {
    expect(codeOf(check(makeIntent({ amount: 1_000n })))).toBe("ok");
    expect(codeOf(check(makeIntent({ amount: 1_001n })))).toBe("per-transaction-cap");
  });

  it("enforces each rolling window, and the window slides back open with time", () => {
    const view = new MemoryView();
    // 2,500 in the 10-minute window: full.
    view.entries.push({ atMs: T0 - 60_000, charge: { asset: "BTC", amount: 2_500n } });
    expect(codeOf(check(makeIntent({ amount: 1n }), { view }))).toBe("window-cap-10m");
    // Nine minutes later the entry is out of the 10-minute window, still in the hour.
    const later = T0 + 9 * 60_000 + 1;
    expect(
      codeOf(check(makeIntent({ amount: 1_000n, expiresAtMs: later + 60_000 }), { view, nowMs: later })),
    ).toBe("ok");
    view.entries.push({ atMs: T0 - 30 * 60_000, charge: { asset: "BTC", amount: 2_000n } });
    expect(
      codeOf(check(makeIntent({ amount: 501n, expiresAtMs: later + 60_000 }), { view, nowMs: later })),
    ).toBe("window-cap-1h");
    view.entries.push({ atMs: T0 - 22 * 3_600_000, charge: { asset: "BTC", amount: 5_500n } });
    const t2 = T0 + 3_600_000;
    expect(codeOf(check(makeIntent({ amount: 1n, expiresAtMs: t2 + 60_000 }), { view, nowMs: t2 }))).toBe(
      "window-cap-24h",
    );
    expect(WINDOWS.map((w) => w.name)).toEqual(["10m", "1h", "24h"]);
  });

  it("counts the fee against the fee asset's windows even for sweeps", () => {
    const view = new MemoryView();
    view.entries.push({ atMs: T0, charge: { asset: "BTC", amount: 2_500n } });
    expect(codeOf(check(makeIntent({ kind: "sweepToCold", to: COLD, fee: 1n }), { view }))).toBe(
      "window-cap-10m",
    );
    expect(codeOf(check(makeIntent({ kind: "sweepToCold", to: COLD, fee: 0n }), { view }))).toBe("ok");
  });
});

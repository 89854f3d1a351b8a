import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ChainSigningPlugin } from "../../src/chains/signing.ts";
import { SignerService } from "../../src/signer/service.ts";
import { readSignerLog, SignerState } from "../../src/signer/state.ts";
import { fakePlugin } from "./fake-plugin.ts";
import { BTC_CAPS, COLD, makeIntent, policyConfig, signRequest, T0, tempDir } from "./helpers.ts";

const KEYS = { chain: "fakechain", seed: new Uint8Array(32).fill(7) };
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

function setup(plugin: ChainSigningPlugin = fakePlugin) {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const clock = { now: T0 };
  const stateDir = join(dir, "state");
  const open = () => {
    const state = SignerState.open(stateDir, clock.now);
    cleanups.push(() => state.close());
    return { state, service: new SignerService(policyConfig(), state, plugin, KEYS, () => clock.now) };
  };
  return { clock, open, stateDir };
}

type Answer = { ok: boolean; code?: string; detail?: string };
type Signed = Answer & { intentId: string; txId: string; digest: string; signedTx: string };

interface Status {
  budgets: { windows: { window: string; used: string; left: string }[] }[];
  lastSignatures: { intentId: string; txId: string; intentDigest?: string }[];
}

describe("the signer service", () => {
  it("signs a valid intent once; the id stays used after a restart", () => {
    const { clock, open } = setup();
    const { state, service } = open();
    const intent = makeIntent({ amount: 400n });
    const first = service.handle(signRequest(intent)) as Signed;
    expect(first.ok).toBe(true);
    expect(first.signedTx.length).toBeGreaterThan(0);
    const other = signRequest(makeIntent({ intentId: intent.intentId, amount: 300n }));
    expect((service.handle(other) as Answer).code).toBe("reused-id");
    // Killed without closing: the next process replays the log.
    clock.now += 1_000;
    const restarted = open();
    expect((restarted.service.handle(other) as Answer).code).toBe("reused-id");
    const status = restarted.service.handle({ op: "status" }) as unknown as {
      budgets: { windows: { window: string; used: string; left: string }[] }[];
      lastSignatures: { intentId: string; txId: string }[];
    };
    expect(status.budgets[0].windows[0]).toMatchObject({ window: "10m", used: "400", left: "2100" });
    expect(status.lastSignatures.map((s) => s.txId)).toEqual([first.txId]);
    state.close();
    restarted.state.close();
  });

  it("signs the exact same intent again for a custody that lost the answer: same transaction, charged once, no new record", () => {
    const { clock, open, stateDir } = setup();
    const { service } = open();
    const intent = makeIntent({ amount: 400n, fee: 7n });
    const first = service.handle(signRequest(intent)) as Signed;
    expect(first.ok).toBe(true);
    const again = service.handle(signRequest(intent)) as Signed;
    expect(again).toEqual(first);
    const status = service.handle({ op: "status" }) as unknown as Status;
    expect(status.budgets[0].windows.map((w) => w.used)).toEqual(["407", "407", "407"]);
    expect(status.lastSignatures).toHaveLength(1);
    expect(readSignerLog(stateDir)).toHaveLength(1);
    expect(readSignerLog(stateDir)[0]).toMatchObject({ type: "signature", intentDigest: expect.any(String) });

    // Custody restarts later, the signer too: the state replays the digest; the intent has expired
    // meanwhile (still within the seen margin), and it is the same transaction, so it is answered.
    clock.now = intent.expiresAtMs + 60_000;
    const restarted = open();
    const afterRestart = restarted.service.handle(signRequest(intent)) as Signed;
    expect(afterRestart).toEqual(first);
    const later = restarted.service.handle({ op: "status" }) as unknown as Status;
    expect(later.budgets[0].windows.map((w) => w.used)).toEqual(["407", "407", "407"]);
    expect(readSignerLog(stateDir)).toHaveLength(1);

    // The same id with anything changed (amount and payload, payload only, destination) is refused.
    const changed = [
      makeIntent({ intentId: intent.intentId, expiresAtMs: intent.expiresAtMs, amount: 500n, fee: 7n }),
      { ...intent, payload: makeIntent({ amount: 400n, fee: 8n }).payload },
      makeIntent({ intentId: intent.intentId, expiresAtMs: intent.expiresAtMs, amount: 400n, to: "user-2" }),
    ];
    for (const other of changed) {
      const answer = restarted.service.handle(signRequest(other)) as Answer;
      expect(answer).toMatchObject({ ok: false, code: "reused-id" });
      expect(answer.detail).toContain("different intent");
    }
    // An unauthenticated repeat is refused as such, and learns nothing.
    const forged = signRequest(intent);
    forged.signature = forged.signature.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    expect((restarted.service.handle(forged) as Answer).code).toBe("bad-signature");
    expect(readSignerLog(stateDir)).toHaveLength(1);
  });

  it("refuses a repeat while halted, and answers it again once resumed", () => {
    const { open } = setup();
    const { service } = open();
    const intent = makeIntent({ amount: 100n });
    const first = service.handle(signRequest(intent)) as Signed;
    expect(first.ok).toBe(true);
    service.handle({ op: "halt", chain: "fakechain", reason: "reconciling" });
    expect((service.handle(signRequest(intent)) as Answer).code).toBe("halted");
    const restarted = open();
    expect((restarted.service.handle(signRequest(intent)) as Answer).code).toBe("halted");
    restarted.service.handle({ op: "resume", chain: "fakechain", reason: "reconciled" });
    expect(restarted.service.handle(signRequest(intent))).toEqual(first);
  });

  it("refuses a repeat of a record logged before intent digests, and one a plugin signs differently", () => {
    const { open, stateDir } = setup();
    const { state } = open();
    const legacy = makeIntent({ amount: 100n });
    // A signature record as older signers wrote it: no intentDigest.
    state.append({
      type: "signature",
      intentId: legacy.intentId,
      chain: "fakechain",
      asset: "BTC",
      kind: "withdrawal",
      to: legacy.to,
      amount: "100",
      fee: "0",
      feeAsset: "BTC",
      charges: [{ asset: "BTC", amount: "100" }],
      txId: "cd".repeat(32),
      digest: "ef".repeat(32),
      expiresAtMs: legacy.expiresAtMs,
      atMs: T0,
    });
    const reopened = open();
    const answer = reopened.service.handle(signRequest(legacy)) as Answer;
    expect(answer).toMatchObject({ ok: false, code: "reused-id" });
    expect(answer.detail).toContain("before intent digests");
    expect(readSignerLog(stateDir)).toHaveLength(1);

    // A plugin whose signing is not deterministic would answer another transaction: refused.
    let salt = 0;
    const drifting: ChainSigningPlugin = {
      ...fakePlugin,
      sign(payload, keys) {
        const signed = fakePlugin.sign(payload, keys);
        return {
          bytes: signed.bytes,
          txId: `${signed.txId.slice(0, -2)}${(salt++ % 256).toString(16).padStart(2, "0")}`,
        };
      },
    };
    const second = setup(drifting).open();
    const intent = makeIntent({ amount: 100n });
    expect((second.service.handle(signRequest(intent)) as Answer).ok).toBe(true);
    expect(second.service.handle(signRequest(intent))).toMatchObject({ ok: false, code: "repeat-mismatch" });
  });

  it("stops a compromised custody that signs valid intents as fast as it can at the window budget", () => {
    const { clock, open } = setup();
    const { state, service } = open();
    let signed = 0n;
    let refusal: string | undefined;
    for (let i = 0; i < 1_000 && !refusal; i++) {
      const answer = service.handle(signRequest(makeIntent({ amount: 700n, to: `drain-${i}` }))) as Answer;
      if (answer.ok) signed += 700n;
      else refusal = answer.code;
      clock.now += 1;
    }
    expect(refusal).toBe("window-cap-10m");
    expect(signed).toBeLessThanOrEqual(BTC_CAPS.per10m);
    expect(signed).toBe(2_100n);
    // A restart does not give the budget back.
    const restarted = open();
    expect((restarted.service.handle(signRequest(makeIntent({ amount: 401n }))) as Answer).code).toBe(
      "window-cap-10m",
    );
    expect((restarted.service.handle(signRequest(makeIntent({ amount: 400n }))) as Answer).ok).toBe(true);
    // Ten minutes later the window has slid: the next 10-minute budget is open, up to the hourly cap.
    clock.now += 10 * 60_000;
    expect(
      (
        restarted.service.handle(
          signRequest(makeIntent({ amount: 1_000n, expiresAtMs: clock.now + 60_000 })),
        ) as Answer
      ).ok,
    ).toBe(true);
    state.close();
    restarted.state.close();
  });

  it("refuses everything while halted, and resumes only with a reason (persisted)", () => {
    const { clock, open } = setup();
    const { state, service } = open();
    expect(service.handle({ op: "halt", chain: "fakechain", reason: "unmatched outflow" })).toMatchObject({
      ok: true,
    });
    for (const intent of [
      makeIntent(),
      makeIntent({ kind: "sweepToCold", to: COLD }),
      makeIntent({ kind: "refillGas", to: "hot-7" }),
    ])
      expect((service.handle(signRequest(intent)) as Answer).code).toBe("halted");
    const restarted = open();
    expect((restarted.service.handle(signRequest(makeIntent())) as Answer).code).toBe("halted");
    expect((restarted.service.handle({ op: "resume", chain: "fakechain", reason: "" }) as Answer).code).toBe(
      "reason-required",
    );
    expect((restarted.service.handle({ op: "resume", chain: "fakechain" }) as Answer).code).toBe(
      "missing-field",
    );
    expect(
      restarted.service.handle({ op: "resume", chain: "fakechain", reason: "reconciled, key rotated" }),
    ).toMatchObject({
      ok: true,
    });
    clock.now += 1;
    expect((restarted.service.handle(signRequest(makeIntent())) as Answer).ok).toBe(true);
    state.close();
    restarted.state.close();
  });

  it("answers bad requests with their reason and never throws", () => {
    const { open } = setup();
    const { state, service } = open();
    expect((service.handle([]) as Answer).code).toBe("bad-request");
    expect((service.handle({ op: "export-seed" }) as Answer).code).toBe("unknown-op");
    expect((service.handle({ op: "status", extra: 1 }) as Answer).code).toBe("unknown-field");
    const request = signRequest(makeIntent());
    expect(
      (service.handle({ ...request, intent: { ...request.intent, amount: "1e3" } }) as Answer).code,
    ).toBe("out-of-range");
    expect((service.handle({ ...request, intent: { ...request.intent, to: "thief" } }) as Answer).code).toBe(
      "bad-signature",
    );
    state.close();
  });
});

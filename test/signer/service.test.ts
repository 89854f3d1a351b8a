import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SignerService } from "../../src/signer/service.ts";
import { SignerState } from "../../src/signer/state.ts";
import { fakePlugin } from "./fake-plugin.ts";
import { BTC_CAPS, COLD, makeIntent, policyConfig, signRequest, T0, tempDir } from "./helpers.ts";

const KEYS = { chain: "fakechain", seed: new Uint8Array(32).fill(7) };
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

function setup() {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const clock = { now: T0 };
  const open = () => {
    const state = SignerState.open(join(dir, "state"), clock.now);
    return { state, service: new SignerService(policyConfig(), state, fakePlugin, KEYS, () => clock.now) };
  };
  return { clock, open };
}

type Answer = { ok: boolean; code?: string };

describe("the signer service", () => {
  it("signs a valid intent once; the id stays used after a restart", () => {
    const { clock, open } = setup();
    const { state, service } = open();
    const request = signRequest(makeIntent({ amount: 400n }));
    const first = service.handle(request) as Answer & { txId: string; signedTx: string };
    expect(first.ok).toBe(true);
    expect(first.signedTx.length).toBeGreaterThan(0);
    expect((service.handle(request) as Answer).code).toBe("reused-id");
    // Killed without closing: the next process replays the log.
    clock.now += 1_000;
    const restarted = open();
    expect((restarted.service.handle(request) as Answer).code).toBe("reused-id");
    const status = restarted.service.handle({ op: "status" }) as unknown as {
      budgets: { windows: { window: string; used: string; left: string }[] }[];
      lastSignatures: { intentId: string; txId: string }[];
    };
    expect(status.budgets[0].windows[0]).toMatchObject({ window: "10m", used: "400", left: "2100" });
    expect(status.lastSignatures.map((s) => s.txId)).toEqual([first.txId]);
    state.close();
    restarted.state.close();
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

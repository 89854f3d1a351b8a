// `wallet rotate` as an operator action (src/operator/wallet-rotation.ts), with a recording
// incident port and rotation port: audited as wallet.rotate as soon as the keys changed, users told
// through a "rotation" notice, the incident's timeline given a "rotation" entry with --incident; an
// unknown incident is refused before anything rotates; without an incident service no notice.
import { describe, expect, it } from "vitest";
import type { IncidentPort, IncidentView, TimelineEntryType } from "../../src/incidents/port.ts";
import {
  RotationInputError,
  rotateWalletAction,
  rotationNotice,
  type WalletRotationResult,
} from "../../src/operator/wallet-rotation.ts";

const RESULT: WalletRotationResult = {
  chain: "devnet-btc",
  generation: 1,
  publicKeys: [
    { label: "hot", key: "tpub-hot" },
    { label: "deposit", key: "tpub-deposit" },
  ],
  hotAddress: "dvbtc1new",
  depositAccount: 3,
  retiredHotAddresses: ["dvbtc1old", "dvbtc1oldchange"],
  created: true,
  applied: "running",
};

function recorder() {
  const calls: string[] = [];
  const entries: { incidentId: number; type: TimelineEntryType; actor: string; detail: unknown }[] = [];
  const notices: { incidentId: number | null; kind: string; chain: string | null; message: string }[] = [];
  const incident: IncidentView = {
    incidentId: 7,
    kind: "unmatchedOutflow",
    chain: "devnet-btc",
    title: "hot wallet drained",
    status: "open",
    openedAtMs: 1,
    resolvedAtMs: null,
    timeline: [],
  };
  const incidents = {
    get: async (id: number) => (id === 7 ? incident : undefined),
    record: async (
      incidentId: number,
      entry: { type: TimelineEntryType; actor: string; detail?: unknown },
    ) => {
      calls.push("record");
      entries.push({ incidentId, type: entry.type, actor: entry.actor, detail: entry.detail });
      return { entry: 1, type: entry.type, atMs: 1, actor: entry.actor, message: "", detail: {} };
    },
    notify: async (
      incidentId: number | null,
      notice: { kind: string; chain: string | null; message: string },
    ) => {
      calls.push("notify");
      notices.push({ incidentId, ...notice });
    },
  } as unknown as IncidentPort;
  const audits: { action: string; subject: string; details: Record<string, unknown> }[] = [];
  const deps = (withIncidents: boolean) => ({
    rotation: {
      rotate: async (chain: string) => {
        calls.push(`rotate ${chain}`);
        return RESULT;
      },
    },
    incidents: withIncidents ? incidents : null,
    audit: async (action: string, subject: string, details: Record<string, unknown>) => {
      calls.push("audit");
      audits.push({ action, subject, details });
    },
  });
  return { calls, entries, notices, audits, deps };
}

describe("the wallet rotate action", () => {
  it("rotates, audits, records the rotation on the incident and tells users", async () => {
    const r = recorder();
    const view = await rotateWalletAction(r.deps(true), "operator:alice", {
      chain: "devnet-btc",
      incidentId: 7,
    });
    expect(view).toMatchObject({ ...RESULT, noticeSent: true, incidentId: 7 });
    expect(r.calls).toEqual(["rotate devnet-btc", "audit", "record", "notify"]);
    expect(r.audits).toEqual([
      {
        action: "wallet.rotate",
        subject: "chain:devnet-btc",
        details: { ...RESULT, incidentId: 7, notice: true },
      },
    ]);
    expect(r.entries).toEqual([
      {
        incidentId: 7,
        type: "rotation",
        actor: "operator:alice",
        detail: {
          chain: "devnet-btc",
          generation: 1,
          hotAddress: "dvbtc1new",
          depositAccount: 3,
          retiredHotAddresses: ["dvbtc1old", "dvbtc1oldchange"],
        },
      },
    ]);
    expect(r.notices).toEqual([
      {
        incidentId: 7,
        kind: "rotation",
        chain: "devnet-btc",
        message: rotationNotice(RESULT),
        actor: "operator:alice",
      },
    ]);
    expect(rotationNotice(RESULT)).toMatch(/Request a new deposit address .* still credited/);
  });

  it("tells users without an incident (a notice of its own), and sends nothing without an incident service", async () => {
    const alone = recorder();
    expect(await rotateWalletAction(alone.deps(true), "operator:bob", { chain: "devnet-btc" })).toMatchObject(
      {
        noticeSent: true,
        incidentId: null,
      },
    );
    expect(alone.calls).toEqual(["rotate devnet-btc", "audit", "notify"]);
    expect(alone.notices.map((notice) => notice.incidentId)).toEqual([null]);

    const offline = recorder();
    expect(
      await rotateWalletAction(offline.deps(false), "operator:bob", { chain: "devnet-btc" }),
    ).toMatchObject({
      noticeSent: false,
    });
    expect(offline.calls).toEqual(["rotate devnet-btc", "audit"]);
  });

  it("refuses an unknown incident before anything rotates", async () => {
    const r = recorder();
    await expect(
      rotateWalletAction(r.deps(true), "operator:alice", { chain: "devnet-btc", incidentId: 8 }),
    ).rejects.toThrow(RotationInputError);
    expect(r.calls).toEqual([]);
  });
});

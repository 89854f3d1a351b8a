// The incident service over the store on both engines: incidents and timelines persisted, every
// entry in the audit log, one open incident per kind and chain, notices fanned out, bounds and
// bad input refused with nothing written, and the export rebuilt from the audit log alone.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { incidentExportMarkdown } from "../../src/incidents/export.ts";
import { INCIDENT_LIMITS, IncidentError, IncidentService } from "../../src/incidents/incident-service.ts";
import type { IncidentNotice } from "../../src/incidents/port.ts";
import type { AlertPayload } from "../../src/incidents/webhooks.ts";
import { bindIncidentStore } from "../../src/store/incidents.ts";
import { StoreAuditTrail } from "../../src/store/read-models.ts";
import { ENGINES, openTestStore, type TestStore } from "../store/engines.ts";

describe.each(ENGINES)("incident service on %s", (engine) => {
  let test: TestStore;
  let service: IncidentService;
  let audit: StoreAuditTrail;
  const alerts: AlertPayload[] = [];
  let nowMs = 1_800_000_000_000;

  beforeAll(async () => {
    test = await openTestStore(engine);
    audit = new StoreAuditTrail(test.store.db);
    service = new IncidentService({
      exchange: { incidents: bindIncidentStore(test.store.db), audit },
      clock: () => nowMs,
      alerts: { enqueue: (payload) => alerts.push(payload) },
    });
  });
  afterAll(async () => {
    service.stop();
    await test.dispose();
  });

  const auditRows = async () =>
    test.store.db.selectFrom("audit_log").selectAll().orderBy("seq", "asc").execute();

  it("opens an incident with its detection entry, audited, and returns it again instead of a duplicate", async () => {
    const request = {
      kind: "unmatchedOutflow" as const,
      chain: "devnet-btc",
      title: "Unmatched outflow from the hot wallet",
      detail: { txid: "ab".repeat(32), height: 120 },
      detectedAtMs: nowMs - 500,
      actor: "system:custody",
    };
    const first = await service.open(request);
    expect(first).toMatchObject({
      kind: "unmatchedOutflow",
      chain: "devnet-btc",
      status: "open",
      resolvedAtMs: null,
      timeline: [{ entry: 1, type: "detected", atMs: nowMs - 500, actor: "system:custody" }],
    });
    expect(first.timeline[0].detail).toEqual({ txid: "ab".repeat(32), height: 120 });
    const again = await service.open({ ...request, title: "Same again on the next block" });
    expect(again.incidentId).toBe(first.incidentId);
    expect(again.timeline).toHaveLength(1);
    const other = await service.open({ ...request, chain: "devnet-eth" });
    expect(other.incidentId).not.toBe(first.incidentId);
    const rows = (await auditRows()).filter((row) => row.action === "incident.open");
    expect(rows.map((row) => row.subject)).toEqual([
      `incident:${first.incidentId}`,
      `incident:${other.incidentId}`,
    ]);
    expect(JSON.parse(rows[0].details_json)).toMatchObject({
      entry: 1,
      type: "detected",
      kind: "unmatchedOutflow",
    });
    expect(alerts.filter((alert) => alert.type === "incident.opened")).toHaveLength(2);
    expect((await audit.verify()).ok).toBe(true);
  });

  it("records entries, notifies listeners and the status feed, resolves, and exports from the audit log", async () => {
    const opened = await service.open({
      kind: "reconciliationBreak",
      chain: "devnet-btc",
      title: "Reconciliation break",
      detail: { residual: "0.5" },
      detectedAtMs: nowMs,
      actor: "system:custody",
    });
    const seen: IncidentNotice[] = [];
    const unsubscribe = service.onNotice((notice) => seen.push(notice));
    nowMs += 1_000;
    const tripped = await service.record(opened.incidentId, {
      type: "breakerTripped",
      actor: "system:custody",
      message: "Breaker tripped for devnet-btc",
      detail: { chain: "devnet-btc" },
    });
    expect(tripped.entry).toBe(2);
    await service.notify(opened.incidentId, {
      kind: "breaker",
      chain: "devnet-btc",
      message: "Withdrawals of BTC are paused while we investigate.",
      actor: "system:custody",
    });
    expect(seen).toEqual([
      {
        incidentId: opened.incidentId,
        kind: "breaker",
        chain: "devnet-btc",
        message: "Withdrawals of BTC are paused while we investigate.",
        atMs: nowMs,
      },
    ]);
    expect(service.recentNotices(10)[0]).toEqual(seen[0]);
    nowMs += 1_000;
    const resolved = await service.resolve(opened.incidentId, {
      actor: "operator:alice",
      reason: "Loss covered",
    });
    expect(resolved.status).toBe("resolved");
    expect(resolved.resolvedAtMs).toBe(nowMs);
    expect(resolved.timeline.map((entry) => entry.type)).toEqual([
      "detected",
      "breakerTripped",
      "notice",
      "resolved",
    ]);
    expect(seen.at(-1)).toMatchObject({ kind: "resolved", incidentId: opened.incidentId });
    unsubscribe();
    // A new incident of the same kind and chain opens once the old one is resolved.
    const reopened = await service.open({
      kind: "reconciliationBreak",
      chain: "devnet-btc",
      title: "Reconciliation break again",
      detail: {},
      detectedAtMs: nowMs,
      actor: "system:custody",
    });
    expect(reopened.incidentId).not.toBe(opened.incidentId);

    const exported = await service.exportTimeline(opened.incidentId);
    expect(exported).toMatchObject({
      incidentId: opened.incidentId,
      kind: "reconciliationBreak",
      chain: "devnet-btc",
      title: "Reconciliation break",
      status: "resolved",
      consistent: true,
      problems: [],
    });
    expect(exported.timeline.map((entry) => [entry.entry, entry.type, entry.action])).toEqual([
      [1, "detected", "incident.open"],
      [2, "breakerTripped", "incident.entry"],
      [3, "notice", "incident.note"],
      [4, "resolved", "incident.resolve"],
    ]);
    expect(exported.auditHead?.seq).toBeGreaterThanOrEqual(exported.timeline.at(-1)?.seq ?? 0);
    const markdown = incidentExportMarkdown(exported);
    expect(markdown).toContain(`# Incident ${opened.incidentId}: Reconciliation break`);
    expect(markdown).toContain("| 4 |");

    // A tampered audit row shows up in the export (it reads the audit log, not the tables).
    const row = exported.timeline[1];
    await test.store.db
      .updateTable("audit_log")
      .set({
        details_json: JSON.stringify({ entry: 2, type: "breakerTripped", message: "nothing happened" }),
      })
      .where("seq", "=", row.seq)
      .execute();
    const tampered = await service.exportTimeline(opened.incidentId);
    expect(tampered.consistent).toBe(false);
    expect(tampered.problems[0]).toContain(`audit row ${row.seq}`);
    expect((await service.exportTimeline(reopened.incidentId)).timeline).toHaveLength(1);
  });

  it("refuses bad input with a clear error and writes nothing", async () => {
    const before = (await auditRows()).length;
    const incidentsBefore = await service.list({ limit: 1_000 });
    const opened = incidentsBefore[0];
    const cases: [string, () => Promise<unknown>][] = [
      [
        "unknown id",
        () => service.record(999_999, { type: "operatorAction", actor: "operator:a", message: "x" }),
      ],
      ["zero id", () => service.notify(0, { kind: "note", chain: null, message: "x", actor: "operator:a" })],
      [
        "empty message",
        () =>
          service.notify(opened.incidentId, {
            kind: "note",
            chain: null,
            message: "  ",
            actor: "operator:a",
          }),
      ],
      [
        "oversized message",
        () =>
          service.notify(opened.incidentId, {
            kind: "note",
            chain: null,
            message: "x".repeat(INCIDENT_LIMITS.maxMessageLength + 1),
            actor: "operator:a",
          }),
      ],
      [
        "control characters",
        () =>
          service.notify(opened.incidentId, {
            kind: "note",
            chain: null,
            message: "a\u0007b",
            actor: "operator:a",
          }),
      ],
      [
        "oversized detail",
        () =>
          service.record(opened.incidentId, {
            type: "operatorAction",
            actor: "operator:a",
            message: "x",
            detail: { blob: "y".repeat(INCIDENT_LIMITS.maxDetailJsonLength) },
          }),
      ],
      [
        "unknown entry type",
        () =>
          service.record(opened.incidentId, {
            type: "exploded" as never,
            actor: "operator:a",
            message: "x",
          }),
      ],
      [
        "bad kind",
        () =>
          service.open({
            kind: "meteor" as never,
            chain: null,
            title: "A meteor",
            detail: {},
            detectedAtMs: 0,
            actor: "operator:a",
          }),
      ],
      [
        "short title",
        () =>
          service.open({
            kind: "operator",
            chain: null,
            title: "ab",
            detail: {},
            detectedAtMs: 0,
            actor: "operator:a",
          }),
      ],
      ["limit too large", () => service.list({ limit: 1_001 })],
      ["export of nothing", () => service.exportTimeline(999_999)],
    ];
    for (const [name, call] of cases) {
      const error = await call().then(
        () => null,
        (thrown: unknown) => thrown,
      );
      expect(error, name).toBeInstanceOf(IncidentError);
      expect((error as Error).message.length, name).toBeGreaterThan(5);
    }
    const resolvedOne = incidentsBefore.find((incident) => incident.status === "resolved");
    await expect(
      service.resolve(resolvedOne!.incidentId, { actor: "operator:a", reason: "again" }),
    ).rejects.toThrow(/already resolved/);
    expect((await auditRows()).length).toBe(before);
    expect(await service.list({ limit: 1_000 })).toEqual(incidentsBefore);
  });

  it("refuses an entry past the timeline's bound, changing nothing", async () => {
    const opened = await service.open({
      kind: "operator",
      chain: "devnet-full",
      title: "A long incident",
      detail: {},
      detectedAtMs: nowMs,
      actor: "operator:a",
    });
    // As if 9,999 entries were written (writing them one by one would take the test's time).
    await test.store.db
      .updateTable("incidents")
      .set({ entry_count: INCIDENT_LIMITS.maxTimelineEntries - 1 })
      .where("incident_id", "=", opened.incidentId)
      .execute();
    const last = await service.record(opened.incidentId, {
      type: "operatorAction",
      actor: "operator:a",
      message: "the last one",
    });
    expect(last.entry).toBe(INCIDENT_LIMITS.maxTimelineEntries);
    const before = (await auditRows()).length;
    await expect(
      service.record(opened.incidentId, {
        type: "operatorAction",
        actor: "operator:a",
        message: "one too many",
      }),
    ).rejects.toThrow(/holds 10000 entries already/);
    await expect(
      service.notify(opened.incidentId, {
        kind: "note",
        chain: null,
        message: "one too many",
        actor: "operator:a",
      }),
    ).rejects.toBeInstanceOf(IncidentError);
    expect((await auditRows()).length).toBe(before);
    expect((await service.get(opened.incidentId))?.entryCount).toBe(INCIDENT_LIMITS.maxTimelineEntries);
  });

  it("lists newest first with bounded timelines, filtered by status", async () => {
    const open = await service.list({ status: "open", limit: 10 });
    expect(open.every((incident) => incident.status === "open")).toBe(true);
    const all = await service.list({ limit: 10 });
    expect(all.map((incident) => incident.incidentId)).toEqual(
      [...all.map((incident) => incident.incidentId)].sort((a, b) => b - a),
    );
    expect(await service.list({ limit: 1 })).toHaveLength(1);
  });
});

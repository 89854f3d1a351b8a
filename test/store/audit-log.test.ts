// The hash-chained audit log on both engines: a clean chain verifies; an edited, re-hashed,
// deleted or reordered row is found, at the right seq.

import { afterEach, describe, expect, it } from "vitest";
import {
  type AuditInput,
  appendAudit,
  auditHead,
  auditRowHash,
  canonicalJson,
  GENESIS_HASH,
  verifyAuditLog,
} from "../../src/store/audit-log.ts";
import type { Store } from "../../src/store/open-store.ts";
import { ENGINES, openTestStore, type TestStore } from "./engines.ts";

function entry(index: number): AuditInput {
  return {
    tsMs: 1_790_000_000_000 + index,
    actor: index % 2 === 0 ? "operator:alice" : "user:7",
    action: "apiKey.create",
    subject: `apiKey:K${index}`,
    details: { z: index, a: ["x", null, true], nested: { b: 2, a: 1 } },
  };
}

async function appendMany(store: Store, count: number): Promise<void> {
  for (let index = 1; index <= count; index++) await appendAudit(store.db, entry(index));
}

it("canonical JSON sorts keys at every level and refuses non-finite numbers", () => {
  expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: "s" } })).toBe(
    '{"a":{"c":"s","d":[3,{"x":2,"y":1}]},"b":1}',
  );
  expect(() => canonicalJson({ a: Number.NaN })).toThrow(RangeError);
});

describe.each(ENGINES)("audit log on %s", (engine) => {
  let test: TestStore;
  afterEach(async () => {
    await test.dispose();
  });

  it("chains each row to the previous one and verifies clean", async () => {
    test = await openTestStore(engine);
    expect(await verifyAuditLog(test.store.db)).toEqual({ ok: true, checkedRows: 0, head: null });
    const first = await appendAudit(test.store.db, entry(1));
    expect(first.seq).toBe(1);
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(first.hash).toBe(auditRowHash(GENESIS_HASH, first));
    await appendMany(test.store, 24);
    const head = await auditHead(test.store.db);
    expect(head?.seq).toBe(25);
    expect(await verifyAuditLog(test.store.db)).toEqual({ ok: true, checkedRows: 25, head });
    expect(await verifyAuditLog(test.store.db, { fromSeq: 10, maxRows: 5 })).toMatchObject({
      ok: true,
      checkedRows: 5,
    });
  });

  it("finds an edited row, a re-hashed edit, and a deleted row", async () => {
    test = await openTestStore(engine);
    const db = test.store.db;
    await appendMany(test.store, 12);

    const original = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("seq", "=", 5)
      .executeTakeFirstOrThrow();
    await db.updateTable("audit_log").set({ details_json: '{"z":500}' }).where("seq", "=", 5).execute();
    expect(await verifyAuditLog(db)).toEqual({ ok: false, checkedRows: 4, seq: 5, problem: "hash" });

    // An attacker who also recomputes the edited row's hash breaks the next row's link instead.
    const forged = auditRowHash(original.prev_hash, {
      seq: 5,
      tsMs: original.ts_ms,
      actor: original.actor,
      action: original.action,
      subject: original.subject,
      detailsJson: '{"z":500}',
    });
    await db.updateTable("audit_log").set({ hash: forged }).where("seq", "=", 5).execute();
    expect(await verifyAuditLog(db)).toEqual({ ok: false, checkedRows: 5, seq: 6, problem: "prevHash" });

    await db
      .updateTable("audit_log")
      .set({ details_json: original.details_json, hash: original.hash })
      .where("seq", "=", 5)
      .execute();
    expect((await verifyAuditLog(db)).ok).toBe(true);

    // Cutting the tail leaves a valid chain, but not the one the head row records.
    await db.deleteFrom("audit_log").where("seq", "=", 12).execute();
    expect(await verifyAuditLog(db)).toEqual({ ok: false, checkedRows: 11, seq: 12, problem: "head" });

    await db.deleteFrom("audit_log").where("seq", "=", 8).execute();
    expect(await verifyAuditLog(db)).toEqual({ ok: false, checkedRows: 7, seq: 8, problem: "gap" });
  });

  it("concurrent appenders never fork the chain", async () => {
    test = await openTestStore(engine);
    const entries = await Promise.all(
      Array.from({ length: 30 }, (_, index) => appendAudit(test.store.db, entry(index))),
    );
    expect(entries.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    expect(await verifyAuditLog(test.store.db)).toMatchObject({ ok: true, checkedRows: 30 });
  });
});

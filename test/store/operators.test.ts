// Operator console accounts and sessions on both engines (src/store/operators.ts): unique emails
// regardless of case, disabling ends the operator's sessions in one go and only once, sessions
// stored by hash with last-seen only forward, the users page (search with LIKE wildcards taken
// literally, cursor) and the audit page newest first; malformed input refused before SQL.

import { createHash, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createUser } from "../../src/store/accounts.ts";
import { bindOperatorStore } from "../../src/store/operators.ts";
import { StoreAuditTrail } from "../../src/store/read-models.ts";
import { ENGINES, openTestStore, type TestStore } from "./engines.ts";

const NOW_MS = 1_790_000_000_000;
const HOUR_MS = 3_600_000;

const newHash = () => createHash("sha256").update(randomBytes(32)).digest("base64url");

describe.each(ENGINES)("operator accounts on %s", (engine) => {
  let opened: TestStore | undefined;
  afterEach(async () => {
    await opened?.dispose();
    opened = undefined;
  });

  it("adds, finds, lists and disables operators; disabling revokes their sessions once", async () => {
    opened = await openTestStore(engine);
    const operators = bindOperatorStore(opened.store.db);
    const added = await operators.create({
      email: "Admin@Example.test",
      passwordHash: "$scrypt$x",
      role: "admin",
      createdMs: NOW_MS,
    });
    expect(added).toMatchObject({
      ok: true,
      operator: { email: "admin@example.test", role: "admin", disabledMs: null },
    });
    expect(
      await operators.create({
        email: " ADMIN@example.test ",
        passwordHash: "h",
        role: "auditor",
        createdMs: NOW_MS,
      }),
    ).toEqual({
      ok: false,
    });
    const support = await operators.create({
      email: "s@example.test",
      passwordHash: "h",
      role: "support",
      createdMs: NOW_MS,
    });
    if (!added.ok || !support.ok) throw new Error("operators not added");
    expect((await operators.byEmail("ADMIN@example.test"))?.operatorId).toBe(added.operator.operatorId);
    expect(await operators.byId(support.operator.operatorId)).toMatchObject({
      email: "s@example.test",
      role: "support",
    });
    expect((await operators.list(10)).map((row) => row.email)).toEqual([
      "admin@example.test",
      "s@example.test",
    ]);

    const [first, second, other] = [newHash(), newHash(), newHash()];
    const base = { operatorId: added.operator.operatorId, clientIp: "127.0.0.1", userAgent: "test" };
    await operators.createSession({
      ...base,
      sessionHash: first,
      nowMs: NOW_MS,
      expiresMs: NOW_MS + HOUR_MS,
    });
    await operators.createSession({
      ...base,
      sessionHash: second,
      nowMs: NOW_MS,
      expiresMs: NOW_MS + HOUR_MS,
    });
    await operators.createSession({
      ...base,
      operatorId: support.operator.operatorId,
      sessionHash: other,
      nowMs: NOW_MS,
      expiresMs: NOW_MS + HOUR_MS,
    });
    await operators.touchSession(first, NOW_MS + 5_000);
    await operators.touchSession(first, NOW_MS + 1_000); // never backwards
    expect(await operators.session(first)).toMatchObject({ lastSeenMs: NOW_MS + 5_000, revokedMs: null });
    expect(await operators.revokeSession(second, NOW_MS + 10)).toBe(true);
    expect(await operators.revokeSession(second, NOW_MS + 20)).toBe(false);

    const disabled = await operators.disable({ email: "admin@EXAMPLE.test", nowMs: NOW_MS + 100 });
    expect(disabled).toMatchObject({
      alreadyDisabled: false,
      sessionsEnded: 1,
      operator: { disabledMs: NOW_MS + 100 },
    });
    expect((await operators.session(first))?.revokedMs).toBe(NOW_MS + 100);
    expect((await operators.session(second))?.revokedMs).toBe(NOW_MS + 10);
    expect((await operators.session(other))?.revokedMs).toBeNull();
    expect(await operators.disable({ email: "admin@example.test", nowMs: NOW_MS + 200 })).toMatchObject({
      alreadyDisabled: true,
      sessionsEnded: 0,
      operator: { disabledMs: NOW_MS + 100 },
    });
    expect(await operators.disable({ email: "nobody@example.test", nowMs: NOW_MS })).toBeUndefined();
    // A revoked session is never touched back to life.
    await operators.touchSession(first, NOW_MS + 9_000);
    expect((await operators.session(first))?.lastSeenMs).toBe(NOW_MS + 5_000);
  });

  it("refuses malformed input before SQL", async () => {
    opened = await openTestStore(engine);
    const operators = bindOperatorStore(opened.store.db);
    await expect(
      operators.create({ email: "a@b.test", passwordHash: "h", role: "Admin; drop", createdMs: NOW_MS }),
    ).rejects.toThrow(/role/);
    await expect(operators.session("' or 1=1 --")).rejects.toThrow(/sessionHash/);
    await expect(
      operators.createSession({
        operatorId: 1,
        sessionHash: newHash(),
        nowMs: NOW_MS,
        expiresMs: NOW_MS,
        clientIp: "x",
        userAgent: "",
      }),
    ).rejects.toThrow(/expiresMs/);
    await expect(operators.usersPage({ limit: 0 })).rejects.toThrow(/limit/);
    await expect(operators.auditPage({ limit: 100_000 })).rejects.toThrow(/limit/);
    expect(await operators.list(10)).toEqual([]);
  });

  it("pages users by email part and cursor, and the audit log newest first", async () => {
    opened = await openTestStore(engine);
    const { db } = opened.store;
    const operators = bindOperatorStore(db);
    for (const email of [
      "alice@example.test",
      "bob@example.test",
      "a_l%ice@example.test",
      "carol@other.test",
    ])
      await createUser(db, { email, passwordHash: "h", createdMs: NOW_MS });
    const all = await operators.usersPage({ limit: 10 });
    expect(all.map((row) => row.email)).toEqual([
      "alice@example.test",
      "bob@example.test",
      "a_l%ice@example.test",
      "carol@other.test",
    ]);
    expect((await operators.usersPage({ emailContains: "ALI", limit: 10 })).map((row) => row.email)).toEqual([
      "alice@example.test",
    ]);
    // `_` and `%` match themselves, not any character.
    expect((await operators.usersPage({ emailContains: "_l%", limit: 10 })).map((row) => row.email)).toEqual([
      "a_l%ice@example.test",
    ]);
    expect(
      (await operators.usersPage({ emailContains: "example", afterUserId: all[0].userId, limit: 1 })).map(
        (row) => row.email,
      ),
    ).toEqual(["bob@example.test"]);

    const audit = new StoreAuditTrail(db);
    for (let index = 1; index <= 5; index += 1)
      await audit.append({
        tsMs: NOW_MS + index,
        actor: "console:a@b.test",
        action: "test.step",
        subject: index % 2 === 0 ? "even" : "odd",
        details: { index },
      });
    const page = await operators.auditPage({ limit: 2 });
    expect(page.map((row) => row.seq)).toEqual([5, 4]);
    expect((await operators.auditPage({ beforeSeq: 4, limit: 10 })).map((row) => row.seq)).toEqual([3, 2, 1]);
    expect(
      (await operators.auditPage({ subject: "even", limit: 10 })).map(
        (row) => JSON.parse(row.detailsJson).index,
      ),
    ).toEqual([4, 2]);
  });
});

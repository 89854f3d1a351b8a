// Browser sessions on both engines: stored by hash, listed live only, revoked once (one or all of
// a user's), last-seen only forward, and malformed input refused before SQL.

import { createHash, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createUser } from "../../src/store/accounts.ts";
import {
  createSession,
  getSession,
  liveSessionsOfUser,
  revokeSession,
  revokeSessionsOfUser,
  touchSession,
} from "../../src/store/sessions.ts";
import { ENGINES, openTestStore, type TestStore } from "./engines.ts";

const NOW_MS = 1_790_000_000_000;
const HOUR_MS = 3_600_000;

const newHash = () => createHash("sha256").update(randomBytes(32)).digest("base64url");

describe.each(ENGINES)("sessions on %s", (engine) => {
  let opened: TestStore | undefined;
  afterEach(async () => {
    await opened?.dispose();
    opened = undefined;
  });

  it("creates, reads, touches, lists and revokes sessions", async () => {
    opened = await openTestStore(engine);
    const { db } = opened.store;
    const user = await createUser(db, { email: "s@example.test", passwordHash: "x", createdMs: NOW_MS });
    const other = await createUser(db, { email: "o@example.test", passwordHash: "x", createdMs: NOW_MS });
    if (!user.ok || !other.ok) throw new Error("users");
    const userId = user.user.userId;
    const [a, b, expired] = [newHash(), newHash(), newHash()];
    const base = { userId, clientIp: "127.0.0.1", userAgent: "test", secondFactor: false };
    await createSession(db, { ...base, sessionHash: a, nowMs: NOW_MS, expiresMs: NOW_MS + 12 * HOUR_MS });
    await createSession(db, {
      ...base,
      sessionHash: b,
      nowMs: NOW_MS + 1,
      expiresMs: NOW_MS + 12 * HOUR_MS,
      secondFactor: true,
    });
    await createSession(db, {
      ...base,
      sessionHash: expired,
      nowMs: NOW_MS - 13 * HOUR_MS,
      expiresMs: NOW_MS - HOUR_MS,
    });

    const read = await getSession(db, b);
    expect(read).toMatchObject({
      userId,
      createdMs: NOW_MS + 1,
      lastSeenMs: NOW_MS + 1,
      revokedMs: null,
      secondFactor: true,
    });
    expect(await getSession(db, newHash())).toBeUndefined();

    await touchSession(db, a, NOW_MS + 5_000);
    await touchSession(db, a, NOW_MS + 1_000); // never backwards
    expect((await getSession(db, a))?.lastSeenMs).toBe(NOW_MS + 5_000);

    const live = await liveSessionsOfUser(db, userId, { nowMs: NOW_MS + 10, limit: 10 });
    expect(live.map((row) => row.sessionHash)).toEqual([b, a]);

    // Another user cannot revoke it; the owner can, once.
    expect(await revokeSession(db, { userId: other.user.userId, sessionHash: a, nowMs: NOW_MS + 20 })).toBe(
      false,
    );
    expect(await revokeSession(db, { userId, sessionHash: a, nowMs: NOW_MS + 20 })).toBe(true);
    expect(await revokeSession(db, { userId, sessionHash: a, nowMs: NOW_MS + 30 })).toBe(false);
    expect((await getSession(db, a))?.revokedMs).toBe(NOW_MS + 20);
    // A revoked session is not touched back to life.
    await touchSession(db, a, NOW_MS + 40);
    expect((await getSession(db, a))?.lastSeenMs).toBe(NOW_MS + 5_000);

    expect(await revokeSessionsOfUser(db, userId, NOW_MS + 50)).toBe(2); // b and the expired one
    expect(await liveSessionsOfUser(db, userId, { nowMs: NOW_MS + 60, limit: 10 })).toEqual([]);
  });

  it("refuses malformed input before SQL", async () => {
    opened = await openTestStore(engine);
    const { db } = opened.store;
    const base = { userId: 1, clientIp: "127.0.0.1", userAgent: "", secondFactor: false };
    await expect(
      createSession(db, { ...base, sessionHash: "short", nowMs: NOW_MS, expiresMs: NOW_MS + 1 }),
    ).rejects.toThrow(/sessionHash/);
    await expect(
      createSession(db, { ...base, sessionHash: newHash(), nowMs: NOW_MS, expiresMs: NOW_MS }),
    ).rejects.toThrow(/expiresMs/);
    await expect(getSession(db, "' or 1=1 --")).rejects.toThrow(/sessionHash/);
  });
});

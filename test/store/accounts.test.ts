// Users, API keys and nonces on both engines: uniqueness, revocation, and the nonce's atomic
// advance-if-greater under concurrency and across a restart.

import { afterEach, describe, expect, it } from "vitest";
import { Prng } from "../../src/lib/prng.ts";
import {
  advanceNonce,
  apiKeysOfUser,
  createApiKey,
  createUser,
  getApiKey,
  getUserByEmail,
  getUserById,
  lastNonce,
  revokeApiKey,
  setUserStatus,
} from "../../src/store/accounts.ts";
import type { Store } from "../../src/store/open-store.ts";
import { ENGINES, openTestStore, type TestStore } from "./engines.ts";

const NOW_MS = 1_790_000_000_000;

async function newUser(store: Store, email: string): Promise<number> {
  const result = await createUser(store.db, { email, passwordHash: "argon2id$x", createdMs: NOW_MS });
  if (!result.ok) throw new Error(`could not create ${email}`);
  return result.user.userId;
}

describe.each(ENGINES)("accounts on %s", (engine) => {
  let opened: TestStore[] = [];
  const open = async () => {
    const test = await openTestStore(engine);
    opened.push(test);
    return test;
  };
  afterEach(async () => {
    for (const test of opened) await test.dispose();
    opened = [];
  });

  it("users: assigned ids, emails unique regardless of case, status changes", async () => {
    const { store } = await open();
    const alice = await newUser(store, "Alice@Example.com");
    const bob = await newUser(store, "bob@example.com");
    expect(alice).toBeGreaterThanOrEqual(1);
    expect(bob).toBeGreaterThan(alice);
    const again = await createUser(store.db, {
      email: " ALICE@example.com ",
      passwordHash: "h",
      createdMs: NOW_MS,
    });
    expect(again).toEqual({ ok: false, reason: "emailTaken" });
    const found = await getUserByEmail(store.db, "alice@EXAMPLE.com");
    expect(found).toEqual({
      userId: alice,
      email: "alice@example.com",
      passwordHash: "argon2id$x",
      status: "active",
      createdMs: NOW_MS,
    });
    expect(await setUserStatus(store.db, alice, "frozen")).toBe(true);
    expect((await getUserById(store.db, alice))?.status).toBe("frozen");
    expect(await setUserStatus(store.db, 999_999, "frozen")).toBe(false);
    expect(await getUserById(store.db, 999_999)).toBeUndefined();
  });

  it("API keys: secret bytes round-trip, ids unique, revocation happens once", async () => {
    const { store } = await open();
    const userId = await newUser(store, "keys@example.com");
    const secret = Uint8Array.from({ length: 60 }, (_, index) => (index * 37) & 0xff);
    const key = {
      keyId: "K-abc_123",
      userId,
      secretCiphertext: secret,
      scopes: ["info", "trade"],
      ipAllowList: ["203.0.113.7", "2001:db8::/32"],
      createdMs: NOW_MS,
    };
    expect(await createApiKey(store.db, key)).toBe(true);
    expect(await createApiKey(store.db, { ...key, userId })).toBe(false);
    const stored = (await getApiKey(store.db, "K-abc_123"))!;
    expect(Uint8Array.from(stored.secretCiphertext)).toEqual(secret);
    expect(stored).toMatchObject({
      userId,
      scopes: ["info", "trade"],
      ipAllowList: key.ipAllowList,
      revokedMs: null,
    });
    expect(await revokeApiKey(store.db, "K-abc_123", NOW_MS + 5)).toBe(true);
    expect(await revokeApiKey(store.db, "K-abc_123", NOW_MS + 9)).toBe(false);
    expect((await getApiKey(store.db, "K-abc_123"))?.revokedMs).toBe(NOW_MS + 5);
    expect(await getApiKey(store.db, "nope")).toBeUndefined();
    expect((await apiKeysOfUser(store.db, userId, { limit: 10 })).map((k) => k.keyId)).toEqual(["K-abc_123"]);
    await expect(createApiKey(store.db, { ...key, keyId: "K2", scopes: ["Bad Scope"] })).rejects.toThrow(
      RangeError,
    );
    await expect(createApiKey(store.db, { ...key, keyId: "K3", userId: 987_654 })).rejects.toThrow();
  });

  it("nonces: advance only when greater, ms-sized values, per key", async () => {
    const { store } = await open();
    expect(await lastNonce(store.db, "k1")).toBeUndefined();
    expect(await advanceNonce(store.db, "k1", NOW_MS)).toBe(true);
    expect(await advanceNonce(store.db, "k1", NOW_MS)).toBe(false);
    expect(await advanceNonce(store.db, "k1", NOW_MS - 1)).toBe(false);
    expect(await advanceNonce(store.db, "k1", NOW_MS + 1)).toBe(true);
    expect(await advanceNonce(store.db, "k2", 1)).toBe(true);
    expect(await lastNonce(store.db, "k1")).toBe(NOW_MS + 1);
    expect(await lastNonce(store.db, "k2")).toBe(1);
    await expect(advanceNonce(store.db, "k1", 0)).rejects.toThrow(RangeError);
    await expect(advanceNonce(store.db, "k1", 2 ** 53)).rejects.toThrow(RangeError);
  });

  it("nonces: concurrent calls with one value succeed once; shuffled values stay monotonic", async () => {
    const { store } = await open();
    const same = await Promise.all(Array.from({ length: 40 }, () => advanceNonce(store.db, "race", NOW_MS)));
    expect(same.filter(Boolean)).toHaveLength(1);

    const random = new Prng(7);
    const values = Array.from({ length: 200 }, (_, index) => NOW_MS + 1 + index).sort(
      () => random.next() - 0.5,
    );
    const accepted: number[] = [];
    await Promise.all(
      values.map(async (value) => {
        if (await advanceNonce(store.db, "race", value)) accepted.push(value);
      }),
    );
    // Each accepted value was greater than the one stored when it was accepted, so the largest
    // one is always accepted and no value twice. On SQLite (one connection) the answers arrive in
    // commit order, so the accepted values also strictly increase in the order they were answered;
    // on PostgreSQL the pool's connections answer in any order, so that order proves nothing.
    expect(new Set(accepted).size).toBe(accepted.length);
    expect(Math.max(...accepted)).toBe(NOW_MS + 200);
    if (engine === "sqlite") {
      for (let index = 1; index < accepted.length; index++)
        expect(accepted[index]).toBeGreaterThan(accepted[index - 1]);
      expect(accepted.at(-1)).toBe(NOW_MS + 200);
    }
    expect(await lastNonce(store.db, "race")).toBe(NOW_MS + 200);
  });

  it("nonces survive a restart", async () => {
    const test = await open();
    expect(await advanceNonce(test.store.db, "persist", NOW_MS)).toBe(true);
    await test.store.close();
    const reopened = await test.reopen();
    expect(await advanceNonce(reopened.db, "persist", NOW_MS)).toBe(false);
    expect(await lastNonce(reopened.db, "persist")).toBe(NOW_MS);
  });
});

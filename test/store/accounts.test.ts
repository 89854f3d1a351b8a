// Users, API keys and legacy nonces on both engines: uniqueness, revocation, and reading the nonces
// an older store kept (nonces are core state now: test/core/api-nonces.test.ts).

import { afterEach, describe, expect, it } from "vitest";
import {
  apiKeysOfUser,
  createApiKey,
  createUser,
  getApiKey,
  getUserByEmail,
  getUserById,
  legacyApiNonces,
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

  it("legacy nonces: rows of the api_nonces table stores wrote before nonces moved into the core, in key order", async () => {
    const { store } = await open();
    expect(await legacyApiNonces(store.db, 10)).toEqual([]);
    await store.db
      .insertInto("api_nonces")
      .values([
        { key_id: "K-b", last_nonce: NOW_MS },
        { key_id: "K-a", last_nonce: 7 },
        { key_id: "K-c", last_nonce: 1 },
      ])
      .execute();
    expect(await legacyApiNonces(store.db, 10)).toEqual([
      { keyId: "K-a", nonce: 7 },
      { keyId: "K-b", nonce: NOW_MS },
      { keyId: "K-c", nonce: 1 },
    ]);
    expect(await legacyApiNonces(store.db, 2)).toHaveLength(2);
    await expect(legacyApiNonces(store.db, 0)).rejects.toThrow(RangeError);
  });
});

// The store tests' own harness (engines.ts): a PostgreSQL schema a test disposed of is handed to
// the next test emptied, and SQLite stores are copies of one migrated file; either way a test sees
// what a freshly migrated store of its own would show it.

import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { createApiKey, createUser } from "../../src/store/accounts.ts";
import type { Store } from "../../src/store/open-store.ts";
import { openTestStore } from "./engines.ts";

const NOW_MS = 1_790_000_000_000;

async function schemaOf(store: Store): Promise<string> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(store.db);
  return rows[0].schema;
}

async function rowCounts(store: Store, schema: string): Promise<Record<string, number>> {
  const { rows } = await sql<{ name: string }>`
    select tablename as name from pg_tables where schemaname = ${schema} order by tablename`.execute(
    store.db,
  );
  const counts: Record<string, number> = {};
  for (const { name } of rows) {
    const counted = await sql<{ n: string }>`select count(*)::text as n from ${sql.table(name)}`.execute(
      store.db,
    );
    counts[name] = Number(counted.rows[0].n);
  }
  return counts;
}

describe("openTestStore on PostgreSQL", () => {
  it("hands a disposed schema out again empty, its ids starting at 1, still migrated", async () => {
    const first = await openTestStore("postgres");
    const schema = await schemaOf(first.store);
    const fresh = await rowCounts(first.store, schema);
    const created = await createUser(first.store.db, {
      email: "a@example.com",
      passwordHash: "x",
      createdMs: NOW_MS,
    });
    if (!created.ok) throw new Error("no user");
    expect(created.user.userId).toBe(1);
    // A row in a table that references another: the emptying must delete it first.
    const keyMade = await createApiKey(first.store.db, {
      keyId: "K1",
      userId: created.user.userId,
      secretCiphertext: Buffer.from("sealed"),
      scopes: ["info"],
      ipAllowList: [],
      createdMs: NOW_MS,
    });
    expect(keyMade).toBe(true);
    await first.dispose();

    const second = await openTestStore("postgres");
    try {
      expect(await schemaOf(second.store)).toBe(schema);
      expect(await rowCounts(second.store, schema)).toEqual(fresh);
      expect(Object.keys(fresh)).toContain("kysely_migration");
      expect(fresh.kysely_migration).toBeGreaterThan(0);
      const again = await createUser(second.store.db, {
        email: "a@example.com",
        passwordHash: "x",
        createdMs: NOW_MS,
      });
      expect(again.ok && again.user.userId).toBe(1);
    } finally {
      await second.dispose();
    }
  });
});

describe("openTestStore on SQLite", () => {
  it("gives each store a migrated file of its own: one's rows are not another's", async () => {
    const first = await openTestStore("sqlite");
    const second = await openTestStore("sqlite");
    try {
      expect(first.store.sqliteFile).not.toBe(second.store.sqliteFile);
      const made = await createUser(first.store.db, {
        email: "a@example.com",
        passwordHash: "x",
        createdMs: NOW_MS,
      });
      expect(made.ok && made.user.userId).toBe(1);
      expect(await second.store.db.selectFrom("users").select("id").execute()).toEqual([]);
      const other = await createUser(second.store.db, {
        email: "a@example.com",
        passwordHash: "x",
        createdMs: NOW_MS,
      });
      expect(other.ok && other.user.userId).toBe(1);
      const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(
        second.store.db,
      );
      expect(applied.rows[0].n).toBeGreaterThan(0);
    } finally {
      await first.dispose();
      await second.dispose();
    }
  });
});

// Opens a fresh store on each engine for the store tests: SQLite in a temporary directory, and
// PostgreSQL in a schema unique to this run (dropped afterwards) so parallel runs never collide.
// PostgreSQL being unreachable is a failure, not a skip: CI starts it, and a store tested on one
// engine only is the thing these tests exist to prevent.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { dropPgSchema, openStore, type Store, type StoreEngine } from "../../src/store/open-store.ts";

export const TEST_DATABASE_URL =
  process.env.BULWARK_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export const ENGINES: readonly StoreEngine[] = ["sqlite", "postgres"];

export interface TestStore {
  store: Store;
  /** The same database opened again, as a restarted process would. */
  reopen(): Promise<Store>;
  dispose(): Promise<void>;
}

async function assertPostgresReachable(): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("select 1");
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_DATABASE_URL} (${String(error)}). ` +
        "The store tests run against both SQLite and PostgreSQL; start PostgreSQL " +
        "(trust auth, database 'test') or set BULWARK_TEST_DATABASE_URL.",
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(6).toString("hex")}`;
}

export async function openTestStore(engine: StoreEngine): Promise<TestStore> {
  return engine === "sqlite" ? openSqliteTestStore() : openPostgresTestStore();
}

async function openSqliteTestStore(): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-store-"));
  const opened: Store[] = [];
  const open = async () => {
    const store = await openStore({ dataDir });
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: open,
    async dispose() {
      for (const store of opened) await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function openPostgresTestStore(): Promise<TestStore> {
  await assertPostgresReachable();
  const pgSchema = uniqueName("store_test");
  const opened: Store[] = [];
  const open = async () => {
    const store = await openStore({ databaseUrl: TEST_DATABASE_URL, pgSchema, pgMaxConnections: 4 });
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: open,
    async dispose() {
      for (const store of opened) await store.close();
      await dropPgSchema(TEST_DATABASE_URL, pgSchema);
    },
  };
}

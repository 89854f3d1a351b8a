// Opens a fresh store on each engine for the store tests: SQLite in a temporary directory (a copy
// of a store migrated once a process), and
// PostgreSQL in a schema of the worker's own database (test/support/postgres-database.ts).
// PostgreSQL being unreachable is a failure, not a skip: CI starts it, and a store tested on one
// engine only is the thing these tests exist to prevent.
//
// Migrating a new PostgreSQL schema took ~300 ms (30 tables with their indexes; TRUNCATE of them
// as long, and CREATE DATABASE … TEMPLATE longer), and the store tests open dozens. A disposed
// schema is emptied instead (DELETE of every table, its sequences restarted: ~20 ms) and handed to
// the next test, which finds it migrated: the same empty store, ids starting at 1 again. A schema
// whose emptying fails is dropped, never reused.

import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
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

let postgresReachable = false;

async function assertPostgresReachable(): Promise<void> {
  // Checked once a process: a failure is thrown to every test, a success needs no repeating.
  if (postgresReachable) return;
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("select 1");
    postgresReachable = true;
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

/** Prefix of the template directories under the temporary directory (test/support/global-setup.ts). */
const SQLITE_TEMPLATE_PREFIX = "bulwark-store-template-";
/** The store's SQLite file name under a data directory (openStore's default). */
const SQLITE_FILE_NAME = "bulwark.sqlite";
/** A migrated, closed SQLite store made once a process; each test starts from a copy of it. */
let sqliteTemplate: Promise<string> | null = null;

function migratedSqliteFile(): Promise<string> {
  sqliteTemplate ??= (async () => {
    // Named after the vitest process (a worker's parent), whose global teardown removes it: a
    // worker is stopped without its "exit" event.
    const dir = mkdtempSync(join(tmpdir(), `${SQLITE_TEMPLATE_PREFIX}${process.ppid}-`));
    // Closing checkpoints the WAL into the file: the copy is the whole migrated store.
    await (await openStore({ dataDir: dir })).close();
    return join(dir, SQLITE_FILE_NAME);
  })();
  return sqliteTemplate;
}

async function openSqliteTestStore(): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-store-"));
  // Half the cost of a migration; openStore then finds every migration applied, as on a reopen.
  copyFileSync(await migratedSqliteFile(), join(dataDir, SQLITE_FILE_NAME));
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

/** Emptied, migrated schemas of this process's database, waiting for the next test. */
const freePgSchemas: string[] = [];
/** A guard, not a need: a file opens at most a few stores at once. */
const MAX_FREE_PG_SCHEMAS = 8;

async function openPostgresTestStore(): Promise<TestStore> {
  await assertPostgresReachable();
  const pgSchema = freePgSchemas.pop() ?? uniqueName("store_test");
  const opened: Store[] = [];
  const open = async () => {
    const store = await openStore({ databaseUrl: TEST_DATABASE_URL, pgSchema, pgMaxConnections: 4 });
    opened.push(store);
    return store;
  };
  let store: Store;
  try {
    store = await open();
  } catch (error) {
    await dropPgSchema(TEST_DATABASE_URL, pgSchema);
    throw error;
  }
  return {
    store,
    reopen: open,
    async dispose() {
      for (const store of opened) await store.close();
      if (freePgSchemas.length < MAX_FREE_PG_SCHEMAS && (await emptyPgSchema(pgSchema)))
        freePgSchemas.push(pgSchema);
      else await dropPgSchema(TEST_DATABASE_URL, pgSchema);
    },
  };
}

/** Kysely's own tables: the record that the schema is migrated stays. */
const MIGRATOR_TABLES = new Set(["kysely_migration", "kysely_migration_lock"]);

/**
 * Deletes every row of the schema's store tables, referencing tables before those they reference,
 * and restarts its sequences (the identity ids). True when done; false leaves the schema to drop.
 */
async function emptyPgSchema(schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    const tables = await client.query<{ name: string }>(
      "select tablename as name from pg_tables where schemaname = $1",
      [schema],
    );
    const references = await client.query<{ referencing: string; referenced: string }>(
      `select c.conrelid::regclass::text as referencing, c.confrelid::regclass::text as referenced
         from pg_constraint c join pg_namespace n on n.oid = c.connamespace
        where c.contype = 'f' and n.nspname = $1`,
      [schema],
    );
    const sequences = await client.query<{ name: string }>(
      "select sequencename as name from pg_sequences where schemaname = $1",
      [schema],
    );
    const names = tables.rows.map((row) => row.name).filter((name) => !MIGRATOR_TABLES.has(name));
    const ordered = referencingFirst(
      names,
      references.rows.map((row) => ({
        referencing: unqualified(row.referencing),
        referenced: unqualified(row.referenced),
      })),
    );
    const statements = [
      ...ordered.map((name) => `delete from "${schema}"."${name}"`),
      ...sequences.rows.map((row) => `alter sequence "${schema}"."${row.name}" restart`),
    ];
    // A connection a test left open in a transaction must not hang the run: give up, drop instead.
    await client.query(`begin; set local lock_timeout = '2s'; ${statements.join("; ")}; commit`);
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** regclass text is schema-qualified (and quoted) when the schema is not on the search path. */
function unqualified(name: string): string {
  return (name.split(".").at(-1) ?? name).replaceAll('"', "");
}

/** Orders tables so that every table comes before the tables it references. */
function referencingFirst(
  names: readonly string[],
  references: readonly { referencing: string; referenced: string }[],
): string[] {
  const ordered: string[] = [];
  const remaining = new Set(names);
  // Each pass takes the tables no remaining table references; the store's graph is two deep.
  for (let pass = 0; pass <= names.length && remaining.size > 0; pass++) {
    for (const name of [...remaining]) {
      const referenced = references.some(
        (ref) => ref.referenced === name && ref.referencing !== name && remaining.has(ref.referencing),
      );
      if (!referenced) {
        ordered.push(name);
        remaining.delete(name);
      }
    }
  }
  if (remaining.size > 0) throw new Error(`cyclic foreign keys among ${[...remaining].join(", ")}`);
  return ordered;
}

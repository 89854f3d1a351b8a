// A PostgreSQL database of its own for every vitest worker, so test files that use PostgreSQL run
// in parallel: each file already works in a schema of its own, but Kysely's migrator introspects
// every schema of its database, and a catalog query failed on a table another file dropped under
// it (42703 in pg_get_serial_sequence). One database per worker process means one file at a time
// per database. The run's databases are named after the vitest process
// (bulwark_test_<vitest pid>_<worker id>) and dropped by the global teardown (dropRunDatabases).
//
// Setup file (vitest.config.ts setupFiles): sets BULWARK_TEST_DATABASE_URL, which
// test/store/engines.ts and test/gateway/support/rest-harness.ts read, and which child processes
// inherit. It creates the database once per worker; PostgreSQL being down is left to the tests
// that need it (they fail with their own message), so the other files still run without it.

import pg from "pg";

/** The database named by BULWARK_TEST_DATABASE_URL before this file changed it, or CI's. */
const BASE_URL_ENV = "BULWARK_TEST_BASE_DATABASE_URL";
const DEFAULT_BASE_URL = "postgres://postgres@127.0.0.1:5432/test";
const PREFIX = "bulwark_test_";
const CONNECT_TIMEOUT_MS = 3_000;
/** A guard on the stale-database sweep, not a style rule: a run makes one database a worker. */
const MAX_STALE_DROPS = 200;

export function baseDatabaseUrl(): string {
  return process.env[BASE_URL_ENV] ?? process.env.BULWARK_TEST_DATABASE_URL ?? DEFAULT_BASE_URL;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The worker's database: created when missing; its URL goes into BULWARK_TEST_DATABASE_URL. */
export async function useWorkerDatabase(): Promise<void> {
  const poolId = process.env.VITEST_POOL_ID ?? "0";
  if (!/^\d+$/.test(poolId)) throw new Error(`unexpected VITEST_POOL_ID ${poolId}`);
  // Forks pool: the parent is the vitest process, the same for every worker of this run.
  const database = `${PREFIX}${process.ppid}_${poolId}`;
  const base = baseDatabaseUrl();
  process.env[BASE_URL_ENV] = base;
  const url = withDatabase(base, database);
  // process.env outlives the files a worker runs one after another: create the database once.
  if (process.env.BULWARK_TEST_DATABASE_URL === url) return;
  try {
    await withClient(base, async (client) => {
      const found = await client.query("select 1 from pg_database where datname = $1", [database]);
      if (found.rowCount === 0) {
        await client.query(`create database "${database}"`);
        // Every session on it: commits return before their WAL reaches the disk. The tests
        // never crash PostgreSQL itself, and each store open commits dozens of migrations.
        await client.query(`alter database "${database}" set synchronous_commit = off`);
      }
    });
  } catch {
    // Unreachable: the PostgreSQL tests say so themselves (test/store/engines.ts).
    return;
  }
  process.env.BULWARK_TEST_DATABASE_URL = url;
}

/** Drops this run's databases (`runPid`: the vitest process), and those of runs no longer alive. */
export async function dropRunDatabases(runPid: number): Promise<void> {
  const base = baseDatabaseUrl();
  await withClient(base, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      "select datname from pg_database where datname like $1 limit $2",
      [`${PREFIX}%`, MAX_STALE_DROPS],
    );
    for (const { datname } of rows) {
      const match = /^bulwark_test_(\d+)_\d+$/.exec(datname);
      if (match === null) continue;
      const pid = Number(match[1]);
      if (pid !== runPid && isAlive(pid)) continue;
      await client.query(`drop database if exists "${datname}" with (force)`);
    }
  }).catch(() => undefined);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

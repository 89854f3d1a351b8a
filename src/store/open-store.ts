// Opens the store: SQLite (a file under the data directory) by default, PostgreSQL when a
// connection URL is given, and brings the schema up to date before anything else touches it.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, type SqliteDatabase, SqliteDialect } from "kysely";
import pg from "pg";
import { LruMap } from "../lib/lru.ts";
import { AccountCache, type AccountCacheOptions } from "./account-cache.ts";
import { type HotStatements, postgresHotStatements, sqliteHotStatements } from "./hot-statements.ts";
import { type StoreEngine, storeMigrationProvider } from "./migrations.ts";
import type { StoreDatabase } from "./schema.ts";

export type { StoreEngine } from "./migrations.ts";

export interface StoreConfig {
  /** postgres://… — when given, PostgreSQL is used; otherwise SQLite under `dataDir`. */
  databaseUrl?: string;
  /** Directory of the SQLite file; created if missing. Required without `databaseUrl`. */
  dataDir?: string;
  /** Default "bulwark.sqlite". */
  sqliteFileName?: string;
  /** PostgreSQL schema to create (if missing) and use; default "public". */
  pgSchema?: string;
  /** PostgreSQL pool size; default 10. */
  pgMaxConnections?: number;
  /** Bounds and TTL of the API key / user status cache (account-cache.ts). */
  accountCache?: AccountCacheOptions;
}

export interface Store {
  readonly db: Kysely<StoreDatabase>;
  readonly engine: StoreEngine;
  /** API keys and user statuses for authentication, cached; invalidated by this process's writes. */
  readonly accounts: AccountCache;
  /** The fixed statements behind `accounts` (for another cache on this store). */
  readonly hotStatements: HotStatements;
  /** Path of the SQLite file (a projector worker opens its own connection on it); null on PostgreSQL. */
  readonly sqliteFile: string | null;
  /** Closes the connection(s). Idempotent. */
  close(): Promise<void>;
}

/**
 * Kysely's SQLite driver prepares every query it runs; preparing cost as much CPU as running
 * (better-sqlite3 "Statement"/"prepare" in the profile). The projector's queries repeat (chunk
 * sizes vary, hence a few hundred texts), so prepared statements are kept by SQL text.
 *
 * Kysely begins every transaction with a plain (deferred) `begin`; it becomes `begin immediate`,
 * which takes the write lock first. A deferred transaction that reads and then writes fails with
 * SQLITE_BUSY_SNAPSHOT, without waiting, when another connection (the projector's worker) commits
 * between its read and its write: deposit-address assignments and audit appends failed that way
 * under load. The one read-only transaction (ReadModels.userSnapshot) begins with `begin deferred`.
 */
const MAX_CACHED_SQLITE_STATEMENTS = 512;

function cachingStatements(sqlite: Database.Database, maxStatements: number): SqliteDatabase {
  const statements = new LruMap<string, Database.Statement>(maxStatements);
  return {
    close: () => sqlite.close(),
    prepare(requestedSqlText: string) {
      const sqlText = requestedSqlText === "begin" ? "begin immediate" : requestedSqlText;
      const cached = statements.get(sqlText);
      // A statement is busy only while an iterate() over it is open (Kysely streams with it):
      // then hand out a fresh one rather than fail.
      if (cached !== undefined && !cached.busy) return cached;
      const statement = sqlite.prepare(sqlText);
      if (cached === undefined) statements.set(sqlText, statement);
      return statement;
    },
  };
}

const PG_SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MAX_PG_CONNECTIONS = 100;
const PG_CONNECT_TIMEOUT_MS = 5_000;

/** A Kysely instance on a SQLite connection, with the statement cache `openStore` uses. */
export function sqliteKysely(sqlite: Database.Database): Kysely<StoreDatabase> {
  return new Kysely<StoreDatabase>({
    dialect: new SqliteDialect({ database: cachingStatements(sqlite, MAX_CACHED_SQLITE_STATEMENTS) }),
  });
}

export async function openStore(config: StoreConfig): Promise<Store> {
  const engine: StoreEngine = config.databaseUrl === undefined ? "sqlite" : "postgres";
  const sqlite = engine === "sqlite" ? openSqlite(config) : null;
  const db = sqlite === null ? await openPostgres(config) : sqliteKysely(sqlite);
  let statements: HotStatements;
  try {
    await migrate(db, engine, engine === "postgres" ? (config.pgSchema ?? "public") : undefined);
    // Prepared after the migrations: a statement cannot be prepared before its table exists.
    statements = sqlite === null ? postgresHotStatements(db) : sqliteHotStatements(sqlite);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const accounts = new AccountCache(db, statements, config.accountCache);
  let closing: Promise<void> | null = null;
  // Idempotent: a runtime's shutdown path and its error path may both close the store.
  const close = () =>
    (closing ??= (async () => {
      try {
        accounts.close();
      } finally {
        await db.destroy();
      }
    })());
  return { db, engine, accounts, hotStatements: statements, sqliteFile: sqlite?.name ?? null, close };
}

async function migrate(
  db: Kysely<StoreDatabase>,
  engine: StoreEngine,
  pgSchema: string | undefined,
): Promise<void> {
  // On PostgreSQL the migrator must be told the schema: it looks for its own tables in every
  // schema, and would take another store's (a neighbouring schema's) as its own.
  const migrator = new Migrator({
    db,
    provider: storeMigrationProvider(engine),
    ...(pgSchema === undefined ? {} : { migrationTableSchema: pgSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`store migration ${failed} failed on ${engine}: ${String(error)}`, { cause: error });
  }
}

function openSqlite(config: StoreConfig): Database.Database {
  if (config.dataDir === undefined) throw new Error("store: dataDir is required for SQLite");
  mkdirSync(config.dataDir, { recursive: true });
  return openSqliteFile(join(config.dataDir, config.sqliteFileName ?? "bulwark.sqlite"));
}

/** Opens a connection on the store's SQLite file with the settings every connection needs. */
export function openSqliteFile(path: string): Database.Database {
  const database = new Database(path);
  // WAL lets the gateway read while the projector writes. synchronous=NORMAL: a commit survives a
  // process crash (kill -9) without an fsync; FULL made every nonce advance and projector batch
  // fsync on the event loop (better-sqlite3 is synchronous), which capped the API at ~90 orders/s.
  // What power loss (or a kernel crash) can still cost, and why each is acceptable:
  //   - projected rows: rebuilt from the fsynced journal by the projector (its cursor is in the
  //     same transactions, so it falls back with them);
  //   - users rows written in the last moments: their ids are not reused, because on open the id
  //     floor is raised above every user id the core knows (accounts.ts raiseUserIdFloor);
  //   - API keys / status changes written in the last moments: the operator sees them missing;
  //   - the last accepted nonces: a request captured in that window can be replayed once after
  //     the restart (nonce-ledger.ts). Clients that need more use PostgreSQL with its defaults.
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  database.pragma("foreign_keys = ON");
  // A second process (a CLI tool) may hold the write lock briefly; wait instead of failing.
  database.pragma("busy_timeout = 5000");
  return database;
}

/** int8 as a JS number, refusing (not rounding) a value past 2^53: see schema.ts. */
function parseSafeInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`store: int8 value ${text} is not a safe integer`);
  return value;
}

const INT8_OID = 20;
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: (oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary" ? parseSafeInt8 : pg.types.getTypeParser(oid, format),
};

async function openPostgres(config: StoreConfig): Promise<Kysely<StoreDatabase>> {
  const schema = config.pgSchema ?? "public";
  if (!PG_SCHEMA_NAME.test(schema)) throw new Error(`store: bad PostgreSQL schema name ${schema}`);
  const max = config.pgMaxConnections ?? 10;
  if (!Number.isInteger(max) || max < 1 || max > MAX_PG_CONNECTIONS)
    throw new RangeError(`store: pgMaxConnections must be in 1..${MAX_PG_CONNECTIONS}`);
  if (schema !== "public") await createPgSchema(config.databaseUrl!, schema);
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max,
    types: pgTypes,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    // Every connection resolves unqualified table names in the store's schema.
    options: `-c search_path=${schema}`,
  });
  return new Kysely<StoreDatabase>({ dialect: new PostgresDialect({ pool }) });
}

async function createPgSchema(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
  });
  await client.connect();
  try {
    await client.query(`create schema if not exists "${schema}"`);
  } finally {
    await client.end();
  }
}

/** Drops a PostgreSQL schema and everything in it (tests, and an operator resetting a sandbox). */
export async function dropPgSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!PG_SCHEMA_NAME.test(schema) || schema === "public")
    throw new Error(`store: refusing to drop ${schema}`);
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
  });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

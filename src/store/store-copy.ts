// Copying the store from SQLite to PostgreSQL for `bulwark cluster migrate` (src/cluster/migrate.ts
// runs it; docs/cluster.md, "Going from npm start to a cluster"). Every table is classified here:
// COPIED_TABLES are copied row for row (the journal cannot rebuild them), PROJECTED_TABLES are left
// for the projector to rebuild from the journal. Rows are streamed from SQLite (read-only) and
// inserted in bounded batches, one PostgreSQL transaction per table, ids kept.

import Database from "better-sqlite3";
import pg from "pg";
import { openStore } from "./open-store.ts";

/**
 * Tables the journal cannot rebuild, copied row for row, parents before children (foreign keys).
 * `identity`: the PostgreSQL identity column, moved past the largest id copied.
 */
export const COPIED_TABLES: readonly { table: string; identity?: string }[] = [
  { table: "users", identity: "id" },
  { table: "api_keys" },
  // Legacy: nonces before they moved into the core (src/server/legacy-nonces.ts). Kept for the record.
  { table: "api_nonces" },
  { table: "user_totp" },
  { table: "user_security" },
  { table: "address_book" },
  { table: "user_sessions" },
  { table: "operator_accounts", identity: "operator_id" },
  { table: "operator_sessions" },
  { table: "deposit_addresses" },
  { table: "scanner_state" },
  { table: "custody_withdrawals" },
  { table: "custody_withdrawal_steps" },
  { table: "incidents", identity: "incident_id" },
  { table: "incident_entries" },
  { table: "audit_log" },
  { table: "audit_head" },
];

/**
 * Tables the projector writes from the core's events (src/store/projector.ts): left empty, the
 * projector role rebuilds them from the journal, cursor (projector_state) included. One part of
 * `withdrawals` is not the core's: destination, tx_id, confirmations and reason are written by
 * custody (setWithdrawalChainInfo) into the projected row; copyWithdrawalChainColumns copies
 * them once the projector has rebuilt the rows.
 */
export const PROJECTED_TABLES: readonly string[] = [
  "assets",
  "markets",
  "orders",
  "trades",
  "fills",
  "balances",
  "balance_history",
  "adjustments",
  "deposits",
  "withdrawals",
  "withdrawal_status_history",
  "wallet_movements",
  "projector_state",
];

/** The store's own bookkeeping (Kysely's migrations, SQLite's AUTOINCREMENT counters). */
const BOOKKEEPING_TABLES: ReadonlySet<string> = new Set([
  "kysely_migration",
  "kysely_migration_lock",
  "sqlite_sequence",
]);

/** PostgreSQL takes at most 65,535 parameters per statement. */
const MAX_PG_PARAMETERS = 60_000;
const PG_CONNECT_TIMEOUT_MS = 5_000;

/**
 * The SQLite store's tables; throws when one is neither copied nor projected (a new migration's
 * table must be classified here before a copy can be trusted to be whole).
 */
export function sqliteStoreTables(sqliteFile: string): string[] {
  const sqlite = new Database(sqliteFile, { readonly: true, fileMustExist: true });
  try {
    const rows = sqlite.prepare("select name from sqlite_master where type = 'table'").all() as {
      name: string;
    }[];
    const known = new Set([...COPIED_TABLES.map((entry) => entry.table), ...PROJECTED_TABLES]);
    const unknown = rows
      .map((row) => row.name)
      .filter((name) => !known.has(name) && !BOOKKEEPING_TABLES.has(name));
    if (unknown.length > 0)
      throw new Error(
        `the store has tables this migration does not know (${unknown.join(", ")}): classify them in src/store/store-copy.ts`,
      );
    return rows.map((row) => row.name);
  } finally {
    sqlite.close();
  }
}

async function withPgClient<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function qualified(pgSchema: string, table: string): string {
  return `"${pgSchema}"."${table}"`;
}

/** Creates and migrates the schema (openStore), then names every copied or projected table holding rows. */
export async function nonEmptyTables(databaseUrl: string, pgSchema: string): Promise<string[]> {
  const store = await openStore({ databaseUrl, pgSchema, pgMaxConnections: 1 });
  await store.close();
  return withPgClient(databaseUrl, async (client) => {
    const holding: string[] = [];
    for (const table of [...COPIED_TABLES.map((entry) => entry.table), ...PROJECTED_TABLES]) {
      // The projector's cursor row at 0 is what an opened, never-fed projector leaves: still empty.
      const where = table === "projector_state" ? " where last_sequence > 0" : "";
      const result = await client.query(
        `select exists (select 1 from ${qualified(pgSchema, table)}${where}) as held`,
      );
      if (result.rows[0]?.held === true) holding.push(table);
    }
    return holding;
  });
}

export interface StoreCopyOptions {
  sqliteFile: string;
  /** sqliteStoreTables(sqliteFile). */
  sqliteTables: readonly string[];
  databaseUrl: string;
  pgSchema: string;
  /** Rows per INSERT and per read. */
  batchRows: number;
  /** The largest user id the core holds money or orders for: users' identity goes past it too. */
  userIdFloor: number;
  progress: (line: string) => void;
}

/** Copies every COPIED_TABLES table present in SQLite, one transaction each; moves identities. */
export async function copyStoreTables(
  options: StoreCopyOptions,
): Promise<{ copiedRows: Record<string, number>; nextIds: Record<string, number> }> {
  const { sqliteFile, sqliteTables, databaseUrl, pgSchema, batchRows, userIdFloor, progress } = options;
  const sqlite = new Database(sqliteFile, { readonly: true, fileMustExist: true });
  const present = new Set(sqliteTables);
  const copiedRows: Record<string, number> = {};
  const nextIds: Record<string, number> = {};
  try {
    await withPgClient(databaseUrl, async (client) => {
      for (const { table, identity } of COPIED_TABLES) {
        if (!present.has(table)) {
          copiedRows[table] = 0;
          continue;
        }
        copiedRows[table] = await copyTable(sqlite, client, pgSchema, table, batchRows);
        if (identity !== undefined) {
          const floor = table === "users" ? userIdFloor : 0;
          nextIds[table] = await moveIdentity(sqlite, client, pgSchema, table, identity, floor);
        }
        progress(`store: ${table} ${copiedRows[table]} rows`);
      }
    });
  } finally {
    sqlite.close();
  }
  return { copiedRows, nextIds };
}

/** One table in one PostgreSQL transaction, streamed from SQLite in batches of `batchRows`. */
async function copyTable(
  sqlite: Database.Database,
  client: pg.Client,
  pgSchema: string,
  table: string,
  batchRows: number,
): Promise<number> {
  const columns = (sqlite.prepare(`pragma table_info("${table}")`).all() as { name: string }[]).map(
    (column) => column.name,
  );
  const target = await client.query(
    "select column_name from information_schema.columns where table_schema = $1 and table_name = $2",
    [pgSchema, table],
  );
  const targetColumns = new Set(target.rows.map((row: { column_name: string }) => row.column_name));
  const missing = columns.filter((column) => !targetColumns.has(column));
  if (missing.length > 0 || targetColumns.size !== columns.length)
    throw new Error(
      `table ${table}: SQLite columns ${columns.join(",")} differ from PostgreSQL's ${[...targetColumns].join(",")}`,
    );
  const rowsPerInsert = Math.max(1, Math.min(batchRows, Math.floor(MAX_PG_PARAMETERS / columns.length)));
  const columnList = columns.map((column) => `"${column}"`).join(", ");
  // Exact integers: int8 values come as bigint (node-postgres sends their decimal text).
  const read = sqlite.prepare(`select ${columnList} from "${table}"`).safeIntegers(true).raw(true);
  let copied = 0;
  await client.query("begin");
  try {
    let batch: unknown[][] = [];
    for (const row of read.iterate() as IterableIterator<unknown[]>) {
      batch.push(row);
      if (batch.length === rowsPerInsert) {
        await insertRows(client, qualified(pgSchema, table), columnList, columns.length, batch);
        copied += batch.length;
        batch = [];
      }
    }
    if (batch.length > 0) {
      await insertRows(client, qualified(pgSchema, table), columnList, columns.length, batch);
      copied += batch.length;
    }
    const count = await client.query(`select count(*)::int8 as n from ${qualified(pgSchema, table)}`);
    if (Number(count.rows[0]?.n) !== copied)
      throw new Error(
        `table ${table}: ${copied} rows copied but PostgreSQL counts ${String(count.rows[0]?.n)}`,
      );
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => undefined);
    throw new Error(
      `copying table ${table} failed (rolled back; tables copied before it stay: drop schema ${pgSchema} before retrying): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return copied;
}

async function insertRows(
  client: pg.Client,
  target: string,
  columnList: string,
  columnCount: number,
  rows: readonly unknown[][],
): Promise<void> {
  const values: unknown[] = [];
  const tuples: string[] = [];
  for (const row of rows) {
    const placeholders: string[] = [];
    for (let index = 0; index < columnCount; index++) {
      values.push(row[index]);
      placeholders.push(`$${values.length}`);
    }
    tuples.push(`(${placeholders.join(", ")})`);
  }
  await client.query(`insert into ${target} (${columnList}) values ${tuples.join(", ")}`, values);
}

/**
 * Moves the identity past every id SQLite ever gave (its AUTOINCREMENT counter, which never goes
 * back, and the largest row) and `floor` (users: the largest id the core holds money for), so an
 * id is never handed out twice. Returns the next id.
 */
async function moveIdentity(
  sqlite: Database.Database,
  client: pg.Client,
  pgSchema: string,
  table: string,
  column: string,
  floor: number,
): Promise<number> {
  const maxRow = sqlite.prepare(`select coalesce(max("${column}"), 0) as n from "${table}"`).get() as {
    n: number;
  };
  const counter = sqlite.prepare("select seq from sqlite_sequence where name = ?").get(table) as
    | { seq: number }
    | undefined;
  const last = Math.max(maxRow.n, counter?.seq ?? 0, floor);
  if (last === 0) return 1;
  await client.query("select setval(pg_get_serial_sequence($1, $2), $3)", [
    qualified(pgSchema, table),
    column,
    last,
  ]);
  return last + 1;
}

/**
 * Custody's columns of `withdrawals` (destination, tx_id, confirmations, reason), from the SQLite
 * store into the rows the projector rebuilt in PostgreSQL, in one transaction. Only columns still
 * null in PostgreSQL are set: custody in the cluster may have written since. When a row is not
 * rebuilt yet nothing is written and its id is returned as `missingWithdrawalId`.
 */
export async function copyWithdrawalChainColumns(
  sqliteFile: string,
  databaseUrl: string,
  pgSchema: string,
): Promise<{ withdrawalsWithChainInfo: number; missingWithdrawalId: number | null }> {
  const sqlite = new Database(sqliteFile, { readonly: true, fileMustExist: true });
  try {
    const read = sqlite
      .prepare(
        `select withdrawal_id, destination, tx_id, confirmations, reason from withdrawals
         where destination is not null or tx_id is not null or confirmations is not null or reason is not null`,
      )
      .safeIntegers(true);
    return await withPgClient(databaseUrl, async (client) => {
      let seen = 0;
      await client.query("begin");
      try {
        for (const row of read.iterate() as IterableIterator<Record<string, unknown>>) {
          seen++;
          const result = await client.query(
            `update ${qualified(pgSchema, "withdrawals")} set
               destination = coalesce(destination, $2), tx_id = coalesce(tx_id, $3),
               confirmations = coalesce(confirmations, $4), reason = coalesce(reason, $5)
             where withdrawal_id = $1`,
            [row.withdrawal_id, row.destination, row.tx_id, row.confirmations, row.reason],
          );
          if (result.rowCount !== 1) {
            await client.query("rollback");
            return { withdrawalsWithChainInfo: seen, missingWithdrawalId: Number(row.withdrawal_id) };
          }
        }
        await client.query("commit");
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw error;
      }
      return { withdrawalsWithChainInfo: seen, missingWithdrawalId: null };
    });
  } finally {
    sqlite.close();
  }
}

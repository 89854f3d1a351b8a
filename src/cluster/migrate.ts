// From `npm start` to a cluster (docs/cluster.md): moves a STOPPED embedded exchange's state into
// an EMPTY cluster, in two parts.
//
// 1. The journal. Every record of <dataDir>/journal is appended, in order, to the cluster's
//    journal stream (JetStreamJournal, flushed in chunks so memory stays bounded). A stream
//    message's sequence IS the command's sequence and JetStream numbers an empty stream from 1,
//    so the file journal must hold the whole history from 1: a data dir whose oldest segments
//    were pruned after a snapshot cannot be migrated yet. Then it is checked: record count, last
//    sequence, and the state hash of a fresh core fed the stream against the core recovered from
//    the data dir (snapshot + journal, as the embedded server would).
// 2. The store. The rows of every SQLite table the journal cannot rebuild (users, API keys,
//    sessions, operators, 2FA, address book, custody's addresses and pipeline, incidents, the
//    audit log, …) are copied to the PostgreSQL schema, ids kept, one transaction per table, in
//    bounded batches. The projected tables (orders, trades, balances, …) are left empty: the
//    projector role rebuilds them from the journal. See PROJECTED_TABLES for the one gap
//    (withdrawals' chain columns) and copyWithdrawalChainInfo for closing it.
//
// Everything is checked before anything is written: the data dir's lock (no server on it), the
// journal's first sequence, an empty stream and snapshot bucket, empty target tables.

import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import Database from "better-sqlite3";
import pg from "pg";
import type { Command } from "../core/commands.ts";
import { type CoreLimits, DEFAULT_CORE_LIMITS } from "../core/config.ts";
import { Core } from "../core/core.ts";
import type { CoreEvent } from "../core/events.ts";
import { CommandDecoder } from "../journal/command-codec.ts";
import { FileJournal } from "../journal/file-journal.ts";
import { recover } from "../runtime/recovery.ts";
import { SnapshotStore } from "../runtime/snapshot-store.ts";
import { acquireDataDirLock, DataDirBusyError, liveLockOwner } from "../server/data-dir-lock.ts";
import { maxUserIdOf } from "../store/accounts.ts";
import { openStore } from "../store/open-store.ts";
import { type ClusterNames, clusterNames } from "./cluster-names.ts";
import { JetStreamJournal } from "./jetstream-journal.ts";
import { ObjectSnapshotStore } from "./snapshot-objects.ts";

/** A precondition that does not hold: nothing was written (the CLI's "conflict"). */
export class MigrationRefusedError extends Error {
  readonly kind = "conflict";

  constructor(message: string) {
    super(message);
    this.name = "MigrationRefusedError";
  }
}

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
 * custody (setWithdrawalChainInfo) into the projected row; copyWithdrawalChainInfo copies them
 * once the projector has rebuilt the rows.
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

const DEFAULT_CHUNK_RECORDS = 10_000;
const DEFAULT_BATCH_ROWS = 500;
const MAX_BATCH_ROWS = 10_000;
/** PostgreSQL takes at most 65,535 parameters per statement. */
const MAX_PG_PARAMETERS = 60_000;
const READ_BATCH_MESSAGES = 1_000;
const READ_FETCH_EXPIRES_MS = 5_000;
const PG_CONNECT_TIMEOUT_MS = 5_000;
const SQLITE_FILE_NAME = "bulwark.sqlite";

export interface MigrateOptions {
  /** The embedded exchange's data dir (stopped: its lock is taken for the whole run). */
  dataDir: string;
  /** The caller's NATS connection; left open. */
  connection: NatsConnection;
  /** BULWARK_CLUSTER_NAME: names the stream and the snapshot bucket (cluster-names.ts). */
  clusterName: string;
  /** postgres://… of the cluster's store. */
  databaseUrl: string;
  /** Default "public". */
  pgSchema?: string;
  /** The core's limits: must be the ones the embedded exchange and the cluster run with. */
  limits?: Partial<CoreLimits>;
  /** Records appended between two flushes (at most; the pending buffer may flush earlier). */
  chunkRecords?: number;
  /** Rows per INSERT and per read from SQLite. */
  batchRows?: number;
  /** Progress lines (the CLI prints them on stderr). */
  onProgress?: (line: string) => void;
}

export interface MigrationSummary {
  dataDir: string;
  clusterName: string;
  streamName: string;
  pgSchema: string;
  journal: {
    recordsCopied: number;
    lastSequence: number;
    streamMessages: number;
    streamLastSequence: number;
    /** The core recovered from the data dir (snapshot + journal). */
    embeddedStateHash: string;
    /** A fresh core fed every message of the stream. */
    streamStateHash: string;
  };
  store: {
    /** Rows copied per table (every copied table is listed, 0 included). */
    copiedRows: Record<string, number>;
    /** Identity columns moved: the next id each will give. */
    nextIds: Record<string, number>;
    /** Left empty for the projector role to rebuild from the journal. */
    projectedTables: string[];
  };
  /** What the operator must still do or know. */
  notes: string[];
}

/** Copies the data dir's journal into the cluster's stream and its store into PostgreSQL. */
export async function migrateToCluster(options: MigrateOptions): Promise<MigrationSummary> {
  const names = clusterNames(options.clusterName);
  const pgSchema = options.pgSchema ?? "public";
  const chunkRecords = boundedInteger(
    "chunkRecords",
    options.chunkRecords ?? DEFAULT_CHUNK_RECORDS,
    1,
    1_000_000,
  );
  const batchRows = boundedInteger("batchRows", options.batchRows ?? DEFAULT_BATCH_ROWS, 1, MAX_BATCH_ROWS);
  const progress = options.onProgress ?? (() => undefined);
  const limits = { ...DEFAULT_CORE_LIMITS, ...options.limits };
  if (!existsSync(join(options.dataDir, "journal")) || !existsSync(join(options.dataDir, SQLITE_FILE_NAME)))
    throw new MigrationRefusedError(
      `${options.dataDir} holds no embedded exchange (no journal/ or ${SQLITE_FILE_NAME})`,
    );
  const lock = acquireDataDirLock(options.dataDir, "cli cluster migrate");
  try {
    const journal = await FileJournal.open({ dir: join(options.dataDir, "journal") });
    try {
      checkWholeHistory(journal);
      const embedded = recoverEmbedded(options.dataDir, journal, limits);
      progress(`data dir: journal 1..${journal.lastSequence}, state hash ${embedded.stateHash()}`);
      const sqliteFile = await migratedSqliteFile(options.dataDir);
      const tables = classifySqliteTables(sqliteFile);
      await checkClusterEmpty(options.connection, names);
      await checkTargetEmpty(options.databaseUrl, pgSchema);
      progress(`stream ${names.streamName} and schema ${pgSchema} are empty: copying`);

      const recordsCopied = await copyJournal(journal, options.connection, names, chunkRecords, progress);
      const stream = await verifyStream(options.connection, names, limits);
      const journalSummary = {
        recordsCopied,
        lastSequence: journal.lastSequence,
        streamMessages: stream.messages,
        streamLastSequence: stream.lastSequence,
        embeddedStateHash: embedded.stateHash(),
        streamStateHash: stream.stateHash,
      };
      progress(`journal copied: ${JSON.stringify(journalSummary)}`);
      if (
        stream.messages !== recordsCopied ||
        stream.lastSequence !== journal.lastSequence ||
        stream.stateHash !== journalSummary.embeddedStateHash
      ) {
        throw new Error(
          `the stream does not replay to the data dir's state: ${JSON.stringify(journalSummary)}; delete stream ${names.streamName} and investigate before retrying`,
        );
      }

      const userIdFloor = maxUserIdOf(embedded.exportState());
      const copied = await copyStore(
        sqliteFile,
        tables,
        options.databaseUrl,
        pgSchema,
        batchRows,
        userIdFloor,
        progress,
      );
      return {
        dataDir: options.dataDir,
        clusterName: options.clusterName,
        streamName: names.streamName,
        pgSchema,
        journal: journalSummary,
        store: { ...copied, projectedTables: [...PROJECTED_TABLES] },
        notes: migrationNotes(options.dataDir, copied.copiedRows, embedded.apiKeyNonceCount),
      };
    } finally {
      await journal.close();
    }
  } finally {
    lock.release();
  }
}

function boundedInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

function checkWholeHistory(journal: FileJournal): void {
  if (journal.lastSequence === 0) return;
  if (journal.firstSequence !== 1) {
    throw new MigrationRefusedError(
      `the data dir's journal starts at ${journal.firstSequence}, not 1: its older segments were pruned after a snapshot. A JetStream stream numbers its messages from 1 and a message's sequence must be the command's, so this data dir cannot be migrated yet (starting a cluster from a snapshot is not supported yet)`,
    );
  }
}

/** The core as the embedded server would recover it: newest usable snapshot, then the journal. */
function recoverEmbedded(dataDir: string, journal: FileJournal, limits: CoreLimits): Core {
  const { core } = recover({
    journal,
    snapshots: new SnapshotStore({ dir: join(dataDir, "snapshots") }),
    createCore: () => new Core(limits),
    restoreCore: (bytes) => Core.restore(bytes, limits),
    maxCommandsPerBatch: limits.maxCommandsPerBatch,
  });
  return core;
}

/** Brings the SQLite store to the latest migration (as a start would), so its columns are the target's. */
async function migratedSqliteFile(dataDir: string): Promise<string> {
  const store = await openStore({ dataDir });
  await store.close();
  return join(dataDir, SQLITE_FILE_NAME);
}

/** Every table of the SQLite store must be known as copied or projected: a new one must be classified here. */
function classifySqliteTables(sqliteFile: string): string[] {
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
        `the store has tables this migration does not know (${unknown.join(", ")}): classify them in src/cluster/migrate.ts`,
      );
    return rows.map((row) => row.name);
  } finally {
    sqlite.close();
  }
}

/** The stream's info, or null when it does not exist. */
async function streamInfoOrNull(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  streamName: string,
): Promise<{ messages: number; lastSequence: number } | null> {
  try {
    const info = await jsm.streams.info(streamName);
    return { messages: info.state.messages, lastSequence: info.state.last_seq };
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return null;
    throw error;
  }
}

/** Refuses a stream with a history or a snapshot bucket with snapshots; creates neither. */
async function checkClusterEmpty(connection: NatsConnection, names: ClusterNames): Promise<void> {
  const jsm = await jetstreamManager(connection);
  const stream = await streamInfoOrNull(jsm, names.streamName);
  if (stream !== null && (stream.lastSequence > 0 || stream.messages > 0))
    throw new MigrationRefusedError(
      `stream ${names.streamName} is not empty (last sequence ${stream.lastSequence}, ${stream.messages} messages): the cluster already has a history; migrate only into a new cluster (or delete the stream)`,
    );
  // An object store is the stream OBJ_<bucket>; only one holding messages can hold a snapshot.
  const bucket = await streamInfoOrNull(jsm, `OBJ_${names.snapshotBucket}`);
  if (bucket === null || bucket.messages === 0) return;
  const held = await (await ObjectSnapshotStore.open(connection, names.snapshotBucket)).refresh();
  if (held.length > 0)
    throw new MigrationRefusedError(
      `snapshot bucket ${names.snapshotBucket} holds snapshots (${held.join(", ")}) of another history: a core would start from them; delete the bucket first`,
    );
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

/** Creates and migrates the schema (openStore), then refuses unless every table is empty. */
async function checkTargetEmpty(databaseUrl: string, pgSchema: string): Promise<void> {
  const store = await openStore({ databaseUrl, pgSchema, pgMaxConnections: 1 });
  await store.close();
  await withPgClient(databaseUrl, async (client) => {
    const holding: string[] = [];
    for (const table of [...COPIED_TABLES.map((entry) => entry.table), ...PROJECTED_TABLES]) {
      // The projector's cursor row at 0 is what an opened, never-fed projector leaves: still empty.
      const where = table === "projector_state" ? " where last_sequence > 0" : "";
      const result = await client.query(
        `select exists (select 1 from ${qualified(pgSchema, table)}${where}) as held`,
      );
      if (result.rows[0]?.held === true) holding.push(table);
    }
    if (holding.length > 0)
      throw new MigrationRefusedError(
        `PostgreSQL schema ${pgSchema} is not empty (${holding.join(", ")}): migrate only into a new schema`,
      );
  });
}

async function copyJournal(
  file: FileJournal,
  connection: NatsConnection,
  names: ClusterNames,
  chunkRecords: number,
  progress: (line: string) => void,
): Promise<number> {
  const stream = await JetStreamJournal.open({
    connection,
    streamName: names.streamName,
    subject: names.subject,
    maxReplayBytes: 0,
  });
  let copied = 0;
  try {
    if (stream.lastSequence !== 0)
      throw new MigrationRefusedError(`stream ${names.streamName} was written to while migrating`);
    let inChunk = 0;
    for (const record of file.replay(1)) {
      if (inChunk >= chunkRecords || !stream.hasRoomFor(record.payload.length)) {
        await stream.flush();
        inChunk = 0;
      }
      stream.append(record.sequence, record.payload);
      inChunk++;
      copied++;
      if (copied % 100_000 === 0) progress(`journal: ${copied} records`);
    }
    await stream.flush();
    await stream.close();
  } catch (error) {
    await stream.close().catch(() => undefined);
    if (error instanceof MigrationRefusedError) throw error;
    throw new Error(
      `copying the journal failed after ${copied} records (stream ${names.streamName} holds part of it: delete the stream before retrying): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return copied;
}

/** Reads the stream from 1 in batches (bounded memory) into a fresh core. */
async function verifyStream(
  connection: NatsConnection,
  names: ClusterNames,
  limits: CoreLimits,
): Promise<{ messages: number; lastSequence: number; stateHash: string }> {
  const jsm = await jetstreamManager(connection);
  const info = await jsm.streams.info(names.streamName);
  const lastSequence = info.state.last_seq;
  const core = new Core(limits);
  if (lastSequence === 0) return { messages: info.state.messages, lastSequence, stateHash: core.stateHash() };
  const consumer = await jetstream(connection).consumers.get(names.streamName, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: 1,
  });
  const decoder = new CommandDecoder();
  const events: CoreEvent[] = [];
  let expected = 1;
  try {
    // Each round applies at least one message or throws, so this ends.
    while (expected <= lastSequence) {
      const wanted = Math.min(READ_BATCH_MESSAGES, limits.maxCommandsPerBatch, lastSequence - expected + 1);
      const messages = await consumer.fetch({ max_messages: wanted, expires: READ_FETCH_EXPIRES_MS });
      const batch: Command[] = [];
      for await (const message of messages) {
        if (message.seq !== expected)
          throw new Error(`stream ${names.streamName} skips from ${expected} to ${message.seq}`);
        const command = decoder.decode(message.data, 0, message.data.length);
        if (command.sequence !== message.seq)
          throw new Error(`stream message ${message.seq} holds a command stamped ${command.sequence}`);
        batch.push(command);
        expected++;
      }
      if (batch.length === 0)
        throw new Error(`stream message ${expected} did not arrive within ${READ_FETCH_EXPIRES_MS} ms`);
      events.length = 0;
      core.applyBatch(batch, events);
    }
  } finally {
    await consumer.delete().catch(() => false);
  }
  return { messages: info.state.messages, lastSequence, stateHash: core.stateHash() };
}

/** Copies every COPIED_TABLES table present in SQLite, one transaction each; moves identities. */
async function copyStore(
  sqliteFile: string,
  sqliteTables: readonly string[],
  databaseUrl: string,
  pgSchema: string,
  batchRows: number,
  userIdFloor: number,
  progress: (line: string) => void,
): Promise<{ copiedRows: Record<string, number>; nextIds: Record<string, number> }> {
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

function migrationNotes(
  dataDir: string,
  copiedRows: Record<string, number>,
  coreNonceKeys: number,
): string[] {
  const notes = [
    `start the projector role: it rebuilds ${PROJECTED_TABLES.join(", ")} from the stream`,
    `then run \`bulwark cluster chain-info --data-dir ${dataDir}\` to copy custody's withdrawal chain columns (destination, tx_id, confirmations, reason) into the rebuilt withdrawals rows`,
    `gateways: BULWARK_SECRET_KEY_FILE=${join(dataDir, "server.key")} (the key that seals the copied API secrets and 2FA secrets)`,
    `custody role: BULWARK_DATA_DIR=${dataDir} (its keystores, signers, devnet and state stay in the data dir)`,
    "the data dir's snapshots are not copied: the first core replays the stream from 1 and snapshots to the bucket itself",
  ];
  if ((copiedRows.api_nonces ?? 0) > 0 && coreNonceKeys === 0)
    notes.push(
      "api_nonces holds legacy nonces the core never took (the embedded server seeds them at start): start the embedded exchange once before migrating, or a captured signed request may replay once",
    );
  return notes;
}

/**
 * Closes the gap PROJECTED_TABLES describes: copies custody's columns of `withdrawals`
 * (destination, tx_id, confirmations, reason) from the data dir's SQLite store into the rows the
 * projector rebuilt. Refuses while a row is not rebuilt yet (run it once the projector caught up).
 * Only columns still null in PostgreSQL are set: custody in the cluster may have written since.
 * Takes no lock (it only reads SQLite, and the custody role may hold the data dir by then), but
 * refuses while an embedded server runs on the data dir.
 */
export async function copyWithdrawalChainInfo(options: {
  dataDir: string;
  databaseUrl: string;
  pgSchema?: string;
}): Promise<{ withdrawalsUpdated: number; withdrawalsWithChainInfo: number }> {
  const pgSchema = options.pgSchema ?? "public";
  const owner = liveLockOwner(options.dataDir);
  if (owner?.role === "server") throw new DataDirBusyError(options.dataDir, owner);
  const sqlite = new Database(join(options.dataDir, SQLITE_FILE_NAME), {
    readonly: true,
    fileMustExist: true,
  });
  try {
    const read = sqlite
      .prepare(
        `select withdrawal_id, destination, tx_id, confirmations, reason from withdrawals
         where destination is not null or tx_id is not null or confirmations is not null or reason is not null`,
      )
      .safeIntegers(true);
    // One transaction: all of them or, when one is not rebuilt yet, none.
    return await withPgClient(options.databaseUrl, async (client) => {
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
          if (result.rowCount !== 1)
            throw new MigrationRefusedError(
              `withdrawal ${String(row.withdrawal_id)} is not projected in schema ${pgSchema} yet: run this once the projector role has caught up`,
            );
        }
        await client.query("commit");
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw error;
      }
      return { withdrawalsUpdated: seen, withdrawalsWithChainInfo: seen };
    });
  } finally {
    sqlite.close();
  }
}

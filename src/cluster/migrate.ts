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
//    projector role rebuilds them from the journal. See PROJECTED_TABLES (store-copy.ts) for the gap
//    (withdrawals' chain columns) and copyWithdrawalChainInfo for closing it.
//
// Everything is checked before anything is written: the data dir's lock (no server on it), the
// journal's first sequence, an empty stream and snapshot bucket, empty target tables. The SQL is
// in src/store/store-copy.ts, which also classifies every table as copied or projected.

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
import {
  copyStoreTables,
  copyWithdrawalChainColumns,
  nonEmptyTables,
  PROJECTED_TABLES,
  sqliteStoreTables,
} from "../store/store-copy.ts";
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

const DEFAULT_CHUNK_RECORDS = 10_000;
const DEFAULT_BATCH_ROWS = 500;
const MAX_BATCH_ROWS = 10_000;
const READ_BATCH_MESSAGES = 1_000;
const READ_FETCH_EXPIRES_MS = 5_000;
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
      const tables = sqliteStoreTables(sqliteFile);
      await checkClusterEmpty(options.connection, names);
      const holding = await nonEmptyTables(options.databaseUrl, pgSchema);
      if (holding.length > 0)
        throw new MigrationRefusedError(
          `PostgreSQL schema ${pgSchema} is not empty (${holding.join(", ")}): migrate only into a new schema`,
        );
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
      const copied = await copyStoreTables({
        sqliteFile,
        sqliteTables: tables,
        databaseUrl: options.databaseUrl,
        pgSchema,
        batchRows,
        userIdFloor,
        progress,
      });
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
 * Closes the gap PROJECTED_TABLES describes (src/store/store-copy.ts): custody's columns of
 * `withdrawals` from the data dir's SQLite store into the rows the projector rebuilt. Refuses
 * while a row is not rebuilt yet (run it once the projector caught up). Takes no lock (it only
 * reads SQLite, and the custody role may hold the data dir by then), but refuses while an
 * embedded server runs on the data dir.
 */
export async function copyWithdrawalChainInfo(options: {
  dataDir: string;
  databaseUrl: string;
  pgSchema?: string;
}): Promise<{ withdrawalsUpdated: number; withdrawalsWithChainInfo: number }> {
  const pgSchema = options.pgSchema ?? "public";
  const owner = liveLockOwner(options.dataDir);
  if (owner?.role === "server") throw new DataDirBusyError(options.dataDir, owner);
  const result = await copyWithdrawalChainColumns(
    join(options.dataDir, SQLITE_FILE_NAME),
    options.databaseUrl,
    pgSchema,
  );
  if (result.missingWithdrawalId !== null)
    throw new MigrationRefusedError(
      `withdrawal ${result.missingWithdrawalId} is not projected in schema ${pgSchema} yet: run this once the projector role has caught up`,
    );
  return {
    withdrawalsUpdated: result.withdrawalsWithChainInfo,
    withdrawalsWithChainInfo: result.withdrawalsWithChainInfo,
  };
}

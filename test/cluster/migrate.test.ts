// From `npm start` to a cluster (src/cluster/migrate.ts) on a real NATS JetStream and PostgreSQL:
// an embedded exchange trades in a temporary data dir and stops; the migration copies its journal
// into an empty stream and its users, keys and custody rows into an empty schema. Then a cluster
// primary recovers from the stream to the embedded core's state hash and carries on, the projector
// role rebuilds the projections to equal it, the migrated API key still opens with the data dir's
// server key, and a new user gets an id past the migrated ones. Refused and writing nothing: a
// non-empty stream, a non-empty target table, a data dir a server holds.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiSecretContext, generateApiKey, sealApiSecret } from "../../src/accounts/api-keys.ts";
import { loadServerKey } from "../../src/accounts/server-key.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { runCli } from "../../src/cli/run.ts";
import { type ClusterNames, clusterNames } from "../../src/cluster/cluster-names.ts";
import { JetStreamJournal } from "../../src/cluster/jetstream-journal.ts";
import {
  copyWithdrawalChainInfo,
  MigrationRefusedError,
  migrateToCluster,
} from "../../src/cluster/migrate.ts";
import { connectNats } from "../../src/cluster/nats-connection.ts";
import { ProjectorRole } from "../../src/cluster/projector-role.ts";
import { ObjectSnapshotStore } from "../../src/cluster/snapshot-objects.ts";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { startEmbeddedCore } from "../../src/runtime/embedded.ts";
import { acquireDataDirLock, DataDirBusyError } from "../../src/server/data-dir-lock.ts";
import { DEFAULT_ASSETS, ensureDefaultMarkets } from "../../src/server/default-markets.ts";
import { createApiKey, createUser } from "../../src/store/accounts.ts";
import { appendAudit, verifyAuditLog } from "../../src/store/audit-log.ts";
import { openIncident } from "../../src/store/incidents.ts";
import { dropPgSchema, openStore, type Store } from "../../src/store/open-store.ts";
import { balancesOfUser, openOrdersOfUser, projectedSequence } from "../../src/store/queries.ts";
import { TEST_DATABASE_URL } from "../store/engines.ts";
import { limitOrder } from "../support/orders.ts";
import { startPrimaryCore } from "./support.ts";

const run = randomBytes(4).toString("hex");
const clusters: ClusterNames[] = [];
const schemas: string[] = [];
const stores: Store[] = [];
let connection: NatsConnection;
let dataDir: string;
let embeddedHash = "";
let embeddedLastSequence = 0;
const users: { userId: number; keyId: string; secret: string }[] = [];
const WITHDRAWAL_ID = 7;

function newCluster(): { clusterName: string; names: ClusterNames } {
  const clusterName = `migrate-${run}-${clusters.length}`;
  const names = clusterNames(clusterName);
  clusters.push(names);
  return { clusterName, names };
}

function newSchema(): string {
  const schema = `migrate_${run}_${schemas.length}`;
  schemas.push(schema);
  return schema;
}

async function openTestStore(pgSchema: string): Promise<Store> {
  const store = await openStore({ databaseUrl: TEST_DATABASE_URL, pgSchema, pgMaxConnections: 2 });
  stores.push(store);
  return store;
}

async function streamMessages(streamName: string): Promise<number | null> {
  const jsm = await jetstreamManager(connection);
  return jsm.streams
    .info(streamName)
    .then((info) => info.state.messages)
    .catch(() => null);
}

/** The embedded exchange's life before the move: users with keys, funds, trades, a withdrawal custody sent. */
async function runEmbeddedExchange(): Promise<void> {
  const exchange = await Exchange.open({ dataDir, projectorThread: false });
  try {
    await ensureDefaultMarkets(exchange);
    const db = exchange.internals.store.db;
    const { secretBox } = loadServerKey(dataDir, {});
    for (let index = 0; index < 2; index++) {
      const created = await createUser(db, {
        email: `migrate-${run}-${index}@example.test`,
        passwordHash: "$scrypt$unused",
        createdMs: Date.now(),
      });
      if (!created.ok) throw new Error("user exists");
      const { keyId, secret } = generateApiKey();
      await createApiKey(db, {
        keyId,
        userId: created.user.userId,
        secretCiphertext: sealApiSecret(secretBox, keyId, secret),
        scopes: ["info", "trade"],
        ipAllowList: [],
        createdMs: Date.now(),
      });
      users.push({ userId: created.user.userId, keyId, secret });
    }
    const [buyer, seller] = users;
    const submit = async (command: UnstampedCommand) => {
      const result = await exchange.submit(command);
      expect(result.events.some((event) => event.type === "rejected")).toBe(false);
      return result.sequence;
    };
    // Market 1 is BTC_USD.
    const usd = 4;
    const btc = 1;
    await submit({
      kind: "adjustBalance",
      userId: buyer.userId,
      assetId: usd,
      amountUnits: 10 ** 13,
      reason: "fund",
    });
    await submit({
      kind: "adjustBalance",
      userId: seller.userId,
      assetId: btc,
      amountUnits: 10 ** 11,
      reason: "fund",
    });
    for (let index = 0; index < 20; index++) {
      await submit(limitOrder(seller.userId, "sell", 6_400_000 + (index % 7) * 100, 1 + (index % 5)));
      await submit(limitOrder(buyer.userId, "buy", 6_399_000 + (index % 11) * 150, 1 + (index % 3)));
    }
    const held = await submit({
      kind: "holdWithdrawal",
      withdrawalId: WITHDRAWAL_ID,
      userId: buyer.userId,
      assetId: usd,
      amountUnits: 1_000_000,
      feeUnits: 1_000,
    });
    await exchange.whenProjected(held);
    expect(
      await exchange.custody.setWithdrawalChainInfo(WITHDRAWAL_ID, {
        destination: "dest-addr",
        txId: "tx-abc",
      }),
    ).toBe(true);
    for (const action of ["user.create", "apiKey.create"])
      await appendAudit(db, {
        tsMs: Date.now(),
        actor: "operator:test",
        action,
        subject: "user:1",
        details: {},
      });
    await openIncident(db, {
      kind: "test",
      chain: null,
      title: "before the move",
      openedMs: Date.now(),
      first: { type: "opened", atMs: Date.now(), actor: "system", message: "opened", detailJson: "{}" },
    });
    embeddedHash = exchange.internals.core.stateHash();
    embeddedLastSequence = exchange.internals.core.lastSequence;
  } finally {
    await exchange.close();
  }
}

beforeAll(async () => {
  connection = await connectNats(undefined, { name: "migrate test" });
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-migrate-"));
  await runEmbeddedExchange();
});

afterAll(async () => {
  for (const store of stores) await store.close().catch(() => undefined);
  for (const schema of schemas) await dropPgSchema(TEST_DATABASE_URL, schema).catch(() => undefined);
  const jsm = await jetstreamManager(connection);
  for (const names of clusters) {
    await jsm.streams.delete(names.streamName).catch(() => undefined);
    await new Kvm(connection)
      .open(names.leaseBucket)
      .then((kv) => kv.destroy())
      .catch(() => undefined);
    await new Objm(connection)
      .open(names.snapshotBucket)
      .then((objects) => objects.destroy())
      .catch(() => undefined);
  }
  await connection.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("cluster migrate", () => {
  it("refuses a stream that already has a history, and writes nothing", async () => {
    const { clusterName, names } = newCluster();
    const other = await JetStreamJournal.open({
      connection,
      streamName: names.streamName,
      subject: names.subject,
    });
    other.append(1, new Uint8Array([1, 2, 3]));
    await other.close();
    const pgSchema = newSchema();
    await expect(
      migrateToCluster({ dataDir, connection, clusterName, databaseUrl: TEST_DATABASE_URL, pgSchema }),
    ).rejects.toThrow(MigrationRefusedError);
    await expect(
      migrateToCluster({ dataDir, connection, clusterName, databaseUrl: TEST_DATABASE_URL, pgSchema }),
    ).rejects.toThrow(/stream .* is not empty/);
    expect(await streamMessages(names.streamName)).toBe(1);
  });

  it("refuses a snapshot bucket holding another history's snapshots", async () => {
    const { clusterName, names } = newCluster();
    const snapshots = await ObjectSnapshotStore.open(connection, names.snapshotBucket);
    await snapshots.write(5, new Uint8Array([1, 2, 3]));
    await expect(
      migrateToCluster({
        dataDir,
        connection,
        clusterName,
        databaseUrl: TEST_DATABASE_URL,
        pgSchema: newSchema(),
      }),
    ).rejects.toThrow(/snapshot bucket .* holds snapshots \(5\)/);
    expect(await streamMessages(names.streamName)).toBe(null);
  });

  it("refuses a target table that is not empty, and writes nothing", async () => {
    const { clusterName, names } = newCluster();
    const pgSchema = newSchema();
    const store = await openTestStore(pgSchema);
    await createUser(store.db, { email: "already@example.test", passwordHash: "$x", createdMs: 1 });
    await expect(
      migrateToCluster({ dataDir, connection, clusterName, databaseUrl: TEST_DATABASE_URL, pgSchema }),
    ).rejects.toThrow(/schema .* is not empty \(users\)/);
    expect(await streamMessages(names.streamName)).toBe(null);
    expect(await streamMessages(`OBJ_${names.snapshotBucket}`)).toBe(null);
    const rows = await store.db.selectFrom("users").select("email").execute();
    expect(rows.map((row) => row.email)).toEqual(["already@example.test"]);
  });

  it("bulwark cluster migrate: BULWARK_DATABASE_URL is required; a refusal is a conflict", async () => {
    const refused = clusters[0];
    const cli = async (env: NodeJS.ProcessEnv) => {
      const out: string[] = [];
      const io: CliIo = {
        out: (line) => out.push(line),
        err: () => undefined,
        prompt: () => undefined,
        stdin: Readable.from([]),
        env,
      };
      const status = await runCli(["cluster", "migrate", "--data-dir", dataDir, "--json"], io);
      return { status, json: JSON.parse(out.join("")) as { ok: boolean; error?: { kind: string } } };
    };
    expect(await cli({})).toMatchObject({ status: 2, json: { ok: false, error: { kind: "usage" } } });
    expect(
      await cli({
        BULWARK_CLUSTER_NAME: refused.streamName.replace(/-journal$/, ""),
        BULWARK_DATABASE_URL: TEST_DATABASE_URL,
        BULWARK_PG_SCHEMA: newSchema(),
      }),
    ).toMatchObject({ status: 1, json: { ok: false, error: { kind: "conflict" } } });
    expect(await streamMessages(refused.streamName)).toBe(1);
  });

  it("refuses a journal pruned after a snapshot (it does not start at 1), and writes nothing", async () => {
    const { clusterName, names } = newCluster();
    const prunedDir = mkdtempSync(join(tmpdir(), "bulwark-migrate-pruned-"));
    try {
      const embedded = await startEmbeddedCore({
        dataDir: prunedDir,
        segmentSizeBytes: 512,
        snapshotPolicy: { everyCommands: 10, everyMs: 60_000 },
        keepSnapshotCount: 1,
      });
      await embedded.sequencer.submit({ kind: "addAsset", asset: DEFAULT_ASSETS[0] });
      for (let index = 0; index < 60; index++)
        await embedded.sequencer.submit({
          kind: "adjustBalance",
          userId: 1,
          assetId: 1,
          amountUnits: 1,
          reason: "r",
        });
      await embedded.close();
      await (await openStore({ dataDir: prunedDir })).close();
      await expect(
        migrateToCluster({
          dataDir: prunedDir,
          connection,
          clusterName,
          databaseUrl: TEST_DATABASE_URL,
          pgSchema: newSchema(),
        }),
      ).rejects.toThrow(/journal starts at \d+, not 1: .*pruned/);
      expect(await streamMessages(names.streamName)).toBe(null);
    } finally {
      rmSync(prunedDir, { recursive: true, force: true });
    }
  });

  it("refuses a data dir a server holds", async () => {
    const { clusterName } = newCluster();
    const lock = acquireDataDirLock(dataDir, "server");
    try {
      await expect(
        migrateToCluster({
          dataDir,
          connection,
          clusterName,
          databaseUrl: TEST_DATABASE_URL,
          pgSchema: newSchema(),
        }),
      ).rejects.toThrow(DataDirBusyError);
    } finally {
      lock.release();
    }
  });

  it("moves journal and store; a cluster primary and the projector reach the embedded state", async () => {
    const { clusterName, names } = newCluster();
    const pgSchema = newSchema();
    const summary = await migrateToCluster({
      dataDir,
      connection,
      clusterName,
      databaseUrl: TEST_DATABASE_URL,
      pgSchema,
      // Small chunks and batches: several flushes and several INSERTs per table.
      chunkRecords: 7,
      batchRows: 1,
    });
    expect(summary.journal).toEqual({
      recordsCopied: embeddedLastSequence,
      lastSequence: embeddedLastSequence,
      streamMessages: embeddedLastSequence,
      streamLastSequence: embeddedLastSequence,
      embeddedStateHash: embeddedHash,
      streamStateHash: embeddedHash,
    });
    expect(summary.store.copiedRows).toMatchObject({ users: 2, api_keys: 2 });
    expect(summary.store.copiedRows.orders).toBeUndefined();
    expect(summary.store.nextIds.users).toBe(Math.max(...users.map((user) => user.userId)) + 1);
    expect(summary.store.projectedTables).toContain("balances");

    // A cluster primary recovers from the stream to the embedded state, and carries on after it.
    const primary = await startPrimaryCore(connection, names, `migrate-test-${run}`);
    let projector: ProjectorRole | undefined;
    try {
      expect(primary.core.stateHash()).toBe(embeddedHash);
      const [buyer, seller] = users;
      const next = await primary.submit(limitOrder(buyer.userId, "buy", 6_390_000, 1));
      expect(next.sequence).toBe(embeddedLastSequence + 1);

      // The projector rebuilds the projections from the stream: they equal the primary's core.
      const store = await openTestStore(pgSchema);
      expect(await projectedSequence(store.db)).toBe(0);
      projector = await ProjectorRole.start({
        connection,
        streamName: names.streamName,
        subject: names.subject,
        databaseUrl: TEST_DATABASE_URL,
        pgSchema,
      });
      expect(await projectedSequence(store.db)).toBe(primary.core.lastSequence);
      const state = primary.core.exportState();
      for (const { userId } of users) {
        const stored = await balancesOfUser(store.db, userId);
        for (const asset of DEFAULT_ASSETS) {
          const row = stored.find((balance) => balance.assetId === asset.assetId);
          expect({ availableUnits: row?.availableUnits ?? 0, heldUnits: row?.heldUnits ?? 0 }).toEqual(
            primary.core.balance(userId, asset.assetId),
          );
        }
        const open = await openOrdersOfUser(store.db, userId, { limit: 1_000 });
        const resting = state.markets
          .flatMap((market) => [...market.bids, ...market.asks])
          .filter((order) => order.userId === userId);
        expect(open.map((order) => order.orderId).sort((a, b) => a - b)).toEqual(
          resting.map((order) => order.orderId).sort((a, b) => a - b),
        );
        expect(resting.length).toBeGreaterThan(0);
      }

      // The migrated key authenticates: found by id, its secret opens with the data dir's server key.
      const { secretBox } = loadServerKey(dataDir, {});
      for (const user of [buyer, seller]) {
        const key = await store.accounts.apiKey(user.keyId);
        expect(key?.userId).toBe(user.userId);
        const opened =
          key === undefined
            ? null
            : secretBox.open(key.secretCiphertext.toString("utf8"), apiSecretContext(key.keyId));
        expect(opened?.ok && opened.plaintext.toString("utf8")).toBe(user.secret);
      }
      // Ids are never handed out twice.
      const fresh = await createUser(store.db, {
        email: `new-${run}@example.test`,
        passwordHash: "$x",
        createdMs: 1,
      });
      expect(fresh.ok && fresh.user.userId).toBe(summary.store.nextIds.users);

      // The audit chain verifies as it did; incident ids go on after the migrated ones.
      expect(await verifyAuditLog(store.db)).toMatchObject({ ok: true, checkedRows: 2 });
      const incident = await openIncident(store.db, {
        kind: "test-after",
        chain: null,
        title: "after the move",
        openedMs: Date.now(),
        first: { type: "opened", atMs: Date.now(), actor: "system", message: "opened", detailJson: "{}" },
      });
      expect(incident.incident.incidentId).toBe(summary.store.nextIds.incidents);
      expect(summary.store.copiedRows).toMatchObject({
        audit_log: 2,
        audit_head: 1,
        incidents: 1,
        incident_entries: 1,
      });

      // Custody's columns of the rebuilt withdrawal: empty until chain-info copies them.
      const withdrawal = () =>
        store.db
          .selectFrom("withdrawals")
          .select(["destination", "tx_id"])
          .where("withdrawal_id", "=", WITHDRAWAL_ID)
          .executeTakeFirst();
      expect(await withdrawal()).toEqual({ destination: null, tx_id: null });
      expect(await copyWithdrawalChainInfo({ dataDir, databaseUrl: TEST_DATABASE_URL, pgSchema })).toEqual({
        withdrawalsUpdated: 1,
        withdrawalsWithChainInfo: 1,
      });
      expect(await withdrawal()).toEqual({ destination: "dest-addr", tx_id: "tx-abc" });
    } finally {
      await projector?.close();
      await primary.close();
    }
  });
});

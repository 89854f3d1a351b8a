// Core snapshots in the JetStream object store (src/cluster/snapshot-objects.ts): the primary
// writes them between batches; a core started later restores the newest one and replays only the
// journal after it, to the primary's state hash; a damaged snapshot is passed over.

import { randomBytes } from "node:crypto";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.ts";
import { ClusterCore } from "../../src/cluster/core-role.ts";
import { connectNats } from "../../src/cluster/nats-connection.ts";
import { ProjectorRole } from "../../src/cluster/projector-role.ts";
import { ObjectSnapshotStore } from "../../src/cluster/snapshot-objects.ts";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../src/server/default-markets.ts";
import { dropPgSchema } from "../../src/store/open-store.ts";
import { TEST_DATABASE_URL } from "../gateway/support/rest-harness.ts";
import { removeClusterState } from "./support.ts";

const names = clusterNames(`snapshots-${randomBytes(4).toString("hex")}`);
const pgSchema = `cluster_snapshots_${process.pid}_${randomBytes(4).toString("hex")}`;
let connection: NatsConnection;

beforeAll(async () => {
  connection = await connectNats(undefined, { name: "snapshots test" });
});

afterAll(async () => {
  await removeClusterState(connection, names);
  await dropPgSchema(TEST_DATABASE_URL, pgSchema);
  await connection.close();
});

function start(holderId: string, roles: string[]): Promise<ClusterCore> {
  return ClusterCore.start({
    connection,
    ...names,
    holderId,
    leaseTtlMs: 500,
    snapshotPolicy: { everyCommands: 40, everyMs: 60_000 },
    onRoleChange: (role, reason) => roles.push(`${role}: ${reason}`),
  });
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("cluster snapshots", () => {
  it("a core started later begins at the newest snapshot and replays only what follows it", async () => {
    const primaryRoles: string[] = [];
    const primary = await start("snap-a", primaryRoles);
    await until(() => primary.role === "primary", 5_000);
    const setup: UnstampedCommand[] = [
      ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
      ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
    ];
    for (const command of setup) await primary.submit(command);
    for (let index = 0; index < 130; index++)
      await primary.submit({
        kind: "adjustBalance",
        userId: 1 + (index % 5),
        assetId: DEFAULT_ASSETS[0].assetId,
        amountUnits: 1_000 + index,
        reason: "snapshot test",
      });
    // Written after the journal is durable through them: wait for the writes to land.
    const store = await ObjectSnapshotStore.open(connection, names.snapshotBucket);
    let held = await store.refresh();
    const deadline = Date.now() + 5_000;
    while (held.length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      held = await store.refresh();
    }
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(held.length).toBeLessThanOrEqual(store.keepCount);

    // Damage the newest: the next core must pass over it to the one before.
    const newest = held[held.length - 1] as number;
    const objects = await new Objm(connection).open(names.snapshotBucket);
    await objects.putBlob(
      { name: `snapshot-${String(newest).padStart(16, "0")}` },
      new Uint8Array([1, 2, 3]),
    );

    const standbyRoles: string[] = [];
    const standby = await start("snap-b", standbyRoles);
    const previous = held[held.length - 2] as number;
    expect(standby.snapshotSequence).toBe(previous);
    expect(standbyRoles[0]).toContain(
      `snapshot ${previous} + ${primary.core.lastSequence - previous} records`,
    );
    await until(() => standby.core.lastSequence === primary.core.lastSequence, 5_000);
    expect(standby.core.stateHash()).toBe(primary.core.stateHash());
    await standby.close();

    // A projector that restarts past a snapshot starts its replica from it, not from sequence 1.
    const projectorOptions = {
      connection,
      streamName: names.streamName,
      subject: names.subject,
      snapshotBucket: names.snapshotBucket,
      databaseUrl: TEST_DATABASE_URL,
      pgSchema,
    };
    const first = await ProjectorRole.start(projectorOptions);
    expect(first.snapshotSequence).toBe(0); // an empty store: nothing projected, from the start
    await first.whenProjected(primary.core.lastSequence);
    await first.close();
    for (let index = 0; index < 50; index++)
      await primary.submit({
        kind: "adjustBalance",
        userId: 1,
        assetId: DEFAULT_ASSETS[0].assetId,
        amountUnits: 7,
        reason: "after the projector stopped",
      });
    const again = await ProjectorRole.start(projectorOptions);
    try {
      expect(again.snapshotSequence).toBeGreaterThan(0);
      await again.whenProjected(primary.core.lastSequence);
      expect(again.core.stateHash()).toBe(primary.core.stateHash());
      expect(again.status().projectedSequence).toBe(primary.core.lastSequence);
    } finally {
      await again.close();
    }
    await primary.close();
  }, 30_000);
});

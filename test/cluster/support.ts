// Shared by the cluster tests: removing one test cluster's state from the machine's NATS server
// (its journal stream, lease bucket and snapshot object store), so runs leave nothing behind.

import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ClusterNames } from "../../src/cluster/cluster-names.ts";
import { ClusterCore } from "../../src/cluster/core-role.ts";

/** Deletes what a cluster named `names` keeps in NATS; what is already gone is fine. */
export async function removeClusterState(connection: NatsConnection, names: ClusterNames): Promise<void> {
  const jsm = await jetstreamManager(connection);
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

/** A ClusterCore started in this process, resolved once it holds the lease (the primary). */
export async function startPrimaryCore(
  connection: NatsConnection,
  names: ClusterNames,
  holderId: string,
): Promise<ClusterCore> {
  let promoted: () => void = () => undefined;
  const isPrimary = new Promise<void>((resolve) => {
    promoted = resolve;
  });
  const core = await ClusterCore.start({
    connection,
    ...names,
    holderId,
    leaseTtlMs: 2_000,
    onRoleChange: (role) => {
      if (role === "primary") promoted();
    },
  });
  await isPrimary;
  return core;
}

// The NATS names one cluster uses (docs/cluster.md), all derived from its one name, so every role
// of a deployment agrees on them from a single setting (BULWARK_CLUSTER_NAME).

const CLUSTER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export interface ClusterNames {
  streamName: string;
  subject: string;
  commandSubject: string;
  leaseBucket: string;
  leaseKey: string;
  /** The object store of core snapshots. */
  snapshotBucket: string;
  /** Custody's port over request/reply (custody-bus.ts): the custody role serves it, gateways ask. */
  custodySubject: string;
}

/** Every NATS name a cluster uses, from its one name (letters, digits, _ and -). */
export function clusterNames(clusterName: string): ClusterNames {
  if (!CLUSTER_NAME_PATTERN.test(clusterName))
    throw new RangeError(
      `cluster name must match ${CLUSTER_NAME_PATTERN}, got ${JSON.stringify(clusterName)}`,
    );
  return {
    streamName: `${clusterName}-journal`,
    subject: `${clusterName}.journal`,
    commandSubject: `${clusterName}.commands`,
    leaseBucket: `${clusterName}-lease`,
    leaseKey: "core",
    snapshotBucket: `${clusterName}-snapshots`,
    custodySubject: `${clusterName}.custody`,
  };
}

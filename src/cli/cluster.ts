// `bulwark cluster migrate` and `bulwark cluster chain-info` (docs/cluster.md, "Going from npm
// start to a cluster"): offline, on a stopped data dir (src/cluster/migrate.ts takes its lock),
// with the cluster's settings from the environment like the cluster roles: BULWARK_NATS_URL,
// BULWARK_CLUSTER_NAME (default bulwark), BULWARK_DATABASE_URL (required), BULWARK_PG_SCHEMA.

import { type Cli, usageError } from "./args.ts";
import type { CliIo } from "./io.ts";
import { say } from "./io.ts";

function databaseUrlOf(io: CliIo): string {
  const url = io.env.BULWARK_DATABASE_URL;
  if (url === undefined || url === "")
    throw usageError("BULWARK_DATABASE_URL (postgres://…, the cluster's store) is required");
  return url;
}

function pgSchemaOf(io: CliIo): { pgSchema?: string } {
  const schema = io.env.BULWARK_PG_SCHEMA;
  return schema === undefined || schema === "" ? {} : { pgSchema: schema };
}

export async function clusterCommand(cli: Cli, io: CliIo): Promise<void> {
  if (cli.command === "cluster migrate") return migrate(cli, io);
  if (cli.command === "cluster chain-info") return chainInfo(cli, io);
  throw usageError(`unknown command "${cli.command}"`);
}

async function migrate(cli: Cli, io: CliIo): Promise<void> {
  const databaseUrl = databaseUrlOf(io);
  const [{ migrateToCluster }, { connectNats }] = await Promise.all([
    import("../cluster/migrate.ts"),
    import("../cluster/nats-connection.ts"),
  ]);
  // No reconnects: a migration that loses NATS fails and says what to clean up.
  const connection = await connectNats(io.env.BULWARK_NATS_URL, {
    name: `bulwark cluster migrate ${process.pid}`,
    maxReconnectAttempts: 0,
  });
  try {
    const summary = await migrateToCluster({
      dataDir: cli.dataDir,
      connection,
      clusterName: io.env.BULWARK_CLUSTER_NAME || "bulwark",
      databaseUrl,
      ...pgSchemaOf(io),
      onProgress: (line) => io.err(line),
    });
    say(cli, io, summary, JSON.stringify(summary, null, 2));
  } finally {
    await connection.close();
  }
}

async function chainInfo(cli: Cli, io: CliIo): Promise<void> {
  const { copyWithdrawalChainInfo } = await import("../cluster/migrate.ts");
  const result = await copyWithdrawalChainInfo({
    dataDir: cli.dataDir,
    databaseUrl: databaseUrlOf(io),
    ...pgSchemaOf(io),
  });
  say(
    cli,
    io,
    result,
    `withdrawals' chain columns copied: ${result.withdrawalsUpdated} of ${result.withdrawalsWithChainInfo}`,
  );
}

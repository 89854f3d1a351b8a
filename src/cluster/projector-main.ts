// The projector role as a process: `node src/cluster/projector-main.ts` (or `bulwark start --role
// projector`). Settings from the environment (docs/cluster.md): BULWARK_NATS_URL,
// BULWARK_CLUSTER_NAME (names the journal stream), BULWARK_DATABASE_URL (postgres://…, required),
// BULWARK_PG_SCHEMA (default public), BULWARK_STATUS_INTERVAL_MS (how often a status line is
// printed; 0: never). Prints one JSON line per state on stdout ("projecting" once caught up and
// following, "status" periodically, "stopped"), and exits 1 once stopped for any reason but
// SIGTERM/SIGINT: its supervisor restarts it, and the restart projects what is missing.

import { hostname } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { clusterNames } from "./cluster-names.ts";
import { connectNats } from "./nats-connection.ts";
import { ProjectorRole } from "./projector-role.ts";

const DEFAULT_STATUS_INTERVAL_MS = 10_000;
/** A status line at most this often: a guard against a typo flooding the log. */
const MIN_STATUS_INTERVAL_MS = 50;

function say(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ atMs: Date.now(), ...line })}\n`);
}

function statusIntervalMs(env: NodeJS.ProcessEnv): number {
  const value = Number(env.BULWARK_STATUS_INTERVAL_MS ?? DEFAULT_STATUS_INTERVAL_MS);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError("BULWARK_STATUS_INTERVAL_MS must be a non-negative integer");
  return value === 0 ? 0 : Math.max(MIN_STATUS_INTERVAL_MS, value);
}

/** Runs the projector role until SIGTERM/SIGINT (exit 0) or until it stops on its own (exit 1). */
export async function runProjectorRole(env: NodeJS.ProcessEnv): Promise<void> {
  const names = clusterNames(env.BULWARK_CLUSTER_NAME ?? "bulwark");
  const databaseUrl = env.BULWARK_DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === "")
    throw new Error("BULWARK_DATABASE_URL (postgres://…) is required for the projector role");
  const intervalMs = statusIntervalMs(env);
  const connection = await connectNats(env.BULWARK_NATS_URL, {
    name: `bulwark-projector ${hostname()}-${process.pid}`,
  });
  let exiting = false;
  let started: ProjectorRole | undefined;
  const stopFor = (reason: string) => {
    if (exiting) return;
    exiting = true;
    say({ state: "stopped", reason });
    void (started?.close() ?? Promise.resolve())
      .catch(() => undefined)
      .finally(() => void connection.close().finally(() => process.exit(1)));
  };
  started = await ProjectorRole.start({
    connection,
    streamName: names.streamName,
    subject: names.subject,
    snapshotBucket: names.snapshotBucket,
    databaseUrl,
    ...(env.BULWARK_PG_SCHEMA ? { pgSchema: env.BULWARK_PG_SCHEMA } : {}),
    onError: (what, error) =>
      process.stderr.write(`${what}: ${error instanceof Error ? error.message : String(error)}\n`),
    onFailure: (error) => stopFor(error.message),
  });
  const role = started;
  let timer: NodeJS.Timeout | null = null;
  // Handlers before the ready line: a supervisor may signal the moment it reads it.
  const shutdown = async () => {
    if (exiting) return;
    exiting = true;
    if (timer !== null) clearInterval(timer);
    await role.close();
    say({ state: "stopped", reason: "signal", ...role.status() });
    await connection.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown());
  process.once("SIGINT", () => void shutdown());
  say({ state: "projecting", ...role.status() });
  if (intervalMs > 0) timer = setInterval(() => say({ state: "status", ...role.status() }), intervalMs);
  // A NATS connection closed for good (reconnects exhausted) ends the role: the supervisor restarts it.
  void connection.closed().then(() => stopFor("NATS connection closed"));
}

/** Run directly (node / tsx), not imported by the CLI. */
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runProjectorRole(process.env).catch((error: unknown) => {
    process.stderr.write(`projector role failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}

// The core role as a process: `node src/cluster/core-main.ts` (or `bulwark start --role core`).
// Settings from the environment (docs/cluster.md): BULWARK_NATS_URL, BULWARK_CLUSTER_NAME (names
// the stream, its subject, the command subject and the lease), BULWARK_CORE_ID (this process in
// the lease), BULWARK_LEASE_TTL_MS. Prints one JSON line per change of role on stdout (tests and
// supervisors read them), and exits 1 once stopped for any reason but SIGTERM/SIGINT: its
// supervisor restarts it, and it comes back as a standby.

import { hostname } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../server/default-markets.ts";
import { clusterNames } from "./cluster-names.ts";
import { ClusterCore } from "./core-role.ts";
import { connectNats } from "./nats-connection.ts";

const DEFAULT_LEASE_TTL_MS = 2_000;

function say(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ atMs: Date.now(), ...line })}\n`);
}

/** Runs the core role until SIGTERM/SIGINT (exit 0) or until it stops on its own (exit 1). */
export async function runCoreRole(env: NodeJS.ProcessEnv): Promise<void> {
  const names = clusterNames(env.BULWARK_CLUSTER_NAME ?? "bulwark");
  const holderId = env.BULWARK_CORE_ID ?? `${hostname()}-${process.pid}`;
  const leaseTtlMs = Number(env.BULWARK_LEASE_TTL_MS ?? DEFAULT_LEASE_TTL_MS);
  if (!Number.isSafeInteger(leaseTtlMs) || leaseTtlMs < 50 || leaseTtlMs > 600_000)
    throw new RangeError(`BULWARK_LEASE_TTL_MS must be 50..600000, got ${env.BULWARK_LEASE_TTL_MS}`);
  const connection = await connectNats(env.BULWARK_NATS_URL, { name: `bulwark-core ${holderId}` });
  let exiting = false;
  let core: ClusterCore | undefined;
  // Handlers before the first line: a supervisor may signal the moment it reads "standby". A
  // signal during the start is answered once the core is up (its close releases the lease).
  let signalled = false;
  const shutdown = async (started: ClusterCore) => {
    exiting = true;
    await started.close();
    say({
      role: "stopped",
      reason: "signal",
      lastSequence: started.core.lastSequence,
      stateHash: started.core.stateHash(),
    });
    await connection.close();
    process.exit(0);
  };
  const onSignal = () => {
    signalled = true;
    if (core !== undefined) void shutdown(core);
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  core = await ClusterCore.start({
    connection,
    ...names,
    holderId,
    leaseTtlMs,
    // A new cluster gets embedded mode's default assets and markets (BULWARK_DEFAULT_MARKETS=off:
    // none, e.g. before `bulwark cluster migrate`, which needs an empty journal).
    ...(env.BULWARK_DEFAULT_MARKETS === "off"
      ? {}
      : { seed: { assets: DEFAULT_ASSETS, markets: DEFAULT_MARKETS } }),
    onRoleChange: (role, reason) => {
      say({ role, reason, lastSequence: core?.core.lastSequence ?? 0 });
      if (role === "stopped" && !exiting) {
        void connection.close().finally(() => process.exit(1));
      }
    },
  });
  if (signalled) void shutdown(core);
}

/** Run directly (node / tsx), not imported by the CLI. */
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCoreRole(process.env).catch((error: unknown) => {
    process.stderr.write(`core role failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}

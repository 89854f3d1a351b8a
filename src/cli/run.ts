// The `bulwark` command as a function: runCli(argv, io) → exit code (0, 1 for a refusal, 2 for a
// usage mistake). main.ts calls it with the process's streams; tests call it in process.
//
// Where a command runs: while a live server holds the data dir's lock, through the operator
// socket its lock names (remote.ts), with the same output; else offline on the data dir, opening
// only what the command needs (offline.ts). Modules are imported when a command needs them, so
// `bulwark user create` does not load the gateway, and a command on a running server loads
// neither the store nor the core.

import { userInfo } from "node:os";
import { type Cli, CliError, type CliErrorKind, parseCli, USAGE, usageError } from "./args.ts";
import type { CliIo } from "./io.ts";
import { say } from "./io.ts";

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await dispatch(parseCli(argv), io);
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const kind = errorKind(error);
    if (argv.includes("--json")) io.out(JSON.stringify({ ok: false, error: { kind, message } }));
    else io.err(kind === "usage" ? `${message}\n\n${USAGE}` : `error: ${message}`);
    return kind === "usage" ? 2 : 1;
  }
}

const KINDS: ReadonlySet<string> = new Set([
  "usage",
  "invalid",
  "notFound",
  "conflict",
  "rejected",
  "busy",
  "failed",
]);

function errorKind(error: unknown): CliErrorKind {
  if (error instanceof CliError) return error.kind;
  // OperatorError (invalid, notFound, conflict, rejected) and DataDirBusyError (busy) carry their
  // kind, recognised without importing their modules on every path.
  const kind = (error as { kind?: unknown } | null)?.kind;
  if (error instanceof Error && typeof kind === "string" && KINDS.has(kind)) return kind as CliErrorKind;
  return "failed";
}

function actor(): string {
  return `operator:cli@${userInfo().username}`;
}

async function dispatch(cli: Cli, io: CliIo): Promise<void> {
  if (cli.command === "help") {
    io.out(USAGE);
    return;
  }
  if (cli.command === "start") {
    const { start } = await import("./start.ts");
    return start(cli, io);
  }
  // Offline only, under the data dir's lock, to the cluster named by the environment (src/cli/cluster.ts).
  if (cli.command.startsWith("cluster ")) {
    const { clusterCommand } = await import("./cluster.ts");
    return clusterCommand(cli, io);
  }
  // Pure: a proof file against a root, no data dir and no server (src/cli/reserves.ts).
  if (cli.command === "reserves verify") {
    const { reservesVerify } = await import("./reserves.ts");
    return reservesVerify(cli, io);
  }
  const [{ OPERATOR_COMMANDS }, { liveLockOwner, DataDirBusyError }] = await Promise.all([
    import("./commands.ts"),
    import("../server/data-dir-lock.ts"),
  ]);
  const operatorCommand = OPERATOR_COMMANDS[cli.command];
  const special = cli.command === "verify" || cli.command === "operator-token rotate";
  if (!special && operatorCommand === undefined) throw usageError(`unknown command "${cli.command}"`);

  // A live server holds the data dir: go through its operator socket. (The token file is read only
  // at start, so rotating it needs no server.)
  const owner = liveLockOwner(cli.dataDir);
  const server = owner?.role === "server" ? owner : null;
  if (cli.command === "operator-token rotate") return rotateToken(cli, io, server !== null);
  if (server !== null) {
    if (server.operatorSocket === undefined) throw new DataDirBusyError(cli.dataDir, server);
    const { OperatorClient } = await import("./remote.ts");
    const client = new OperatorClient(server.operatorSocket);
    if (operatorCommand === undefined) return printVerify(cli, io, await client.get("/verify"));
    const input = await operatorCommand.input(cli, io);
    return printResult(cli, io, operatorCommand.print(await operatorCommand.remote(client, input)));
  }

  if (operatorCommand === undefined) return verifyOffline(cli, io);
  const input = await operatorCommand.input(cli, io);
  const { withOfflineActions } = await import("./offline.ts");
  const result = await withOfflineActions(cli, io, operatorCommand.needs, (actions) =>
    operatorCommand.offline(actions, actor(), input),
  );
  printResult(cli, io, operatorCommand.print(result));
}

function printResult(cli: Cli, io: CliIo, printed: { fields: object; text: string }): void {
  say(cli, io, printed.fields, printed.text);
}

interface VerifyFields {
  lastSequence: number;
  restingOrders: number;
  stateHash: string;
}

function printVerify(cli: Cli, io: CliIo, fields: VerifyFields): void {
  say(
    cli,
    io,
    fields,
    `last sequence ${fields.lastSequence}, ${fields.restingOrders} resting orders, invariants ok\nstate hash ${fields.stateHash}`,
  );
}

/** Recovers the core from snapshot + journal (the store is not needed) and checks it. */
async function verifyOffline(cli: Cli, io: CliIo): Promise<void> {
  const [{ ensurePrivateDataDir }, { acquireDataDirLock }, { startEmbeddedCore }, { verifyCore }] =
    await Promise.all([
      import("../server/data-dir.ts"),
      import("../server/data-dir-lock.ts"),
      import("../runtime/embedded.ts"),
      import("../server/core-report.ts"),
    ]);
  ensurePrivateDataDir(cli.dataDir);
  const lock = acquireDataDirLock(cli.dataDir, "cli verify");
  try {
    const embedded = await startEmbeddedCore({ dataDir: cli.dataDir });
    try {
      printVerify(cli, io, verifyCore(embedded.core));
    } finally {
      await embedded.close();
    }
  } finally {
    lock.release();
  }
}

/**
 * The token's hash file is read once, at start, so a running server needs no lock taken to
 * rotate it (an atomic rename); the new token takes effect at its next start either way.
 */
async function rotateToken(cli: Cli, io: CliIo, serverRunning: boolean): Promise<void> {
  const [{ ensurePrivateDataDir }, { acquireDataDirLock }, { rotateOperatorToken }] = await Promise.all([
    import("../server/data-dir.ts"),
    import("../server/data-dir-lock.ts"),
    import("../operator/token.ts"),
  ]);
  ensurePrivateDataDir(cli.dataDir);
  const lock = serverRunning ? null : acquireDataDirLock(cli.dataDir, "cli operator-token rotate");
  try {
    const token = rotateOperatorToken(cli.dataDir);
    say(cli, io, { operatorToken: token }, `new operator token (shown once): ${token}`);
  } finally {
    lock?.release();
  }
}

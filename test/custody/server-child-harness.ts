// The parent's side of test/custody/server-child.ts: spawn a real exchange server in a child
// process, send it commands, talk to its operator API over <data-dir>/operator.sock, and watch
// it (and its signer children) die.

import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";

const CHILD = join(import.meta.dirname, "server-child.ts");
/**
 * src/server/server.ts's KILL_AT_WITHDRAWAL_STEP_ENV, spelled out: importing server.ts would load
 * the whole server into the test process (~15 s here). The child reports the step it read under
 * the real constant (ReadyLine.armedStep), and startServerChild checks it.
 */
export const KILL_AT_WITHDRAWAL_STEP_ENV = "BULWARK_TEST_KILL_AT_WITHDRAWAL_STEP";
/** From spawn to the ready line: demo start-up with wallets, signers and deposits on a loaded machine. */
const READY_TIMEOUT_MS = 90_000;
const COMMAND_TIMEOUT_MS = 60_000;

export interface ReadyLine {
  pid: number;
  armedStep: string | null;
  signerPids: (number | null)[];
  signers: { chain: string; pid: number | null }[];
  traderId: number;
  operatorSocket: string;
  url: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerChild {
  process: ChildProcess;
  ready: Promise<ReadyLine>;
  /** Resolves when the child has exited (never rejects). */
  exited: Promise<Exit>;
  /** Sends a command; rejects on an error answer, or when the child exits first. */
  command<T = unknown>(cmd: string, fields?: Record<string, unknown>): Promise<T>;
  stderr(): string;
}

export interface ServerChildOptions {
  /** Arms the server's crash drill at this withdrawal step. */
  killAtStep?: string;
  /** Extra environment for the child (e.g. BULWARK_LOG_LEVEL). */
  env?: Record<string, string>;
  /** How much of the child's stderr (the server's log) to keep, the latest part; default 20 kB. */
  stderrBytes?: number;
}

export function startServerChild(dataDir: string, options: ServerChildOptions = {}): ServerChild {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  delete env[KILL_AT_WITHDRAWAL_STEP_ENV];
  if (options.killAtStep !== undefined) env[KILL_AT_WITHDRAWAL_STEP_ENV] = options.killAtStep;
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dataDir], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-(options.stderrBytes ?? 20_000));
  });
  child.stdin?.on("error", () => {});
  const exited = new Promise<Exit>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let resolveReady: (line: ReadyLine) => void = () => {};
  let rejectReady: (error: Error) => void = () => {};
  const ready = new Promise<ReadyLine>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Observed by the callers that care; never an unhandled rejection.
  ready.catch(() => {});
  const readyTimer = setTimeout(
    () => rejectReady(new Error(`no ready line within ${READY_TIMEOUT_MS} ms: ${stderr.slice(-2_000)}`)),
    READY_TIMEOUT_MS,
  );
  createInterface({ input: child.stdout! }).on("line", (line) => {
    let message: { event?: string; id?: number; ok?: boolean; result?: unknown; error?: string };
    try {
      message = JSON.parse(line);
    } catch {
      // Not a protocol line (something else printed to stdout): kept with the log.
      stderr = `${stderr}[stdout] ${line}\n`.slice(-(options.stderrBytes ?? 20_000));
      return;
    }
    if (message.event === "ready") {
      clearTimeout(readyTimer);
      const line = message as unknown as ReadyLine;
      if (line.armedStep !== (options.killAtStep ?? null)) {
        child.kill("SIGKILL");
        rejectReady(
          new Error(`the server's crash drill is armed with ${line.armedStep}, not ${options.killAtStep}`),
        );
      } else resolveReady(line);
      return;
    }
    const waiting = message.id === undefined ? undefined : pending.get(message.id);
    if (waiting === undefined) return;
    pending.delete(message.id as number);
    if (message.ok === true) waiting.resolve(message.result);
    else waiting.reject(new Error(message.error ?? "command failed"));
  });
  void exited.then((exit) => {
    clearTimeout(readyTimer);
    const why = new Error(
      `the server child exited (${exit.signal ?? `code ${exit.code}`})${exit.signal === "SIGKILL" ? "" : `: ${stderr.slice(-2_000)}`}`,
    );
    rejectReady(why);
    for (const waiting of pending.values()) waiting.reject(why);
    pending.clear();
  });
  return {
    process: child,
    ready,
    exited,
    stderr: () => stderr,
    command<T>(cmd: string, fields: Record<string, unknown> = {}): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`command ${cmd} got no answer within ${COMMAND_TIMEOUT_MS} ms`));
        }, COMMAND_TIMEOUT_MS);
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value as T);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        child.stdin?.write(`${JSON.stringify({ id, cmd, ...fields })}\n`);
      });
    },
  };
}

/** A clean stop: the server closes (signers stopped, state saved) and the child exits 0. */
export async function closeServerChild(child: ServerChild): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  await child.command("close").catch(() => {});
  const exit = await child.exited;
  if (exit.code !== 0) throw new Error(`the server child did not stop cleanly (${JSON.stringify(exit)})`);
}

/** Ends a child that is still running (a failed test): SIGKILL, then waits for it. */
export async function killServerChild(child: ServerChild): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL");
  await child.exited;
}

export interface OperatorAnswer<T> {
  status: number;
  body: T;
}

/** One operator API call over the server's Unix socket (no token: the socket's mode is the authority). */
export function operatorCall<T = unknown>(
  socketPath: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<OperatorAnswer<T>> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path: `/operator/v1${path}`,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
        timeout: COMMAND_TIMEOUT_MS,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => {
          try {
            resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as T });
          } catch (error) {
            reject(error);
          }
        });
        response.on("error", reject);
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`operator ${method} ${path} timed out`)));
    req.end(payload);
  });
}

/** Whether `pid` is a running process (a zombie waiting for its reaper counts as gone). */
export function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // pid (comm) STATE …: comm may hold spaces and parentheses, the state follows the last ")".
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` answers a value (not undefined), or throws naming `what`. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

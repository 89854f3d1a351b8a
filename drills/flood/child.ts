// The drill's child processes (the exchange, the HTTP flood, the socket flood): each runs its own
// event loop, so a generator's work never delays the server's and vice versa. Protocol: input as
// JSON in argv[2]; JSON lines on stdout (a first "ready", progress reports, a last one on stop);
// words on stdin: "go" starts a generator that was spawned ahead of time (so spawning, which costs
// a second of CPU, happens before the calm phase is measured), "stop" asks it to finish. stderr is
// passed through so a child's crash is seen.

import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

export interface DrillChild<Line> {
  pid: number;
  /** Resolves with the first line (the child's "ready"). */
  ready: Promise<Line>;
  /** Writes a command line ("go {…}") to the child. */
  send(line: string): void;
  /** Asks the child to stop; resolves with its last line once it has exited. */
  stop(timeoutMs?: number): Promise<Line>;
  /** Ends it at once (a drill that failed half way). */
  kill(): void;
}

/** Starts drills/flood/<script> under tsx; `onLine` sees every line after the first. */
export function startChild<Line>(
  script: string,
  input: unknown,
  onLine: (line: Line) => void,
  /** Extra node flags (the exchange's --cpu-prof). */
  nodeArgs: readonly string[] = [],
): DrillChild<Line> {
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, "--import", "tsx", join(import.meta.dirname, script), JSON.stringify(input)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  let first = true;
  let last: Line | null = null;
  let resolveReady: (line: Line) => void = () => {};
  let rejectReady: (error: Error) => void = () => {};
  const ready = new Promise<Line>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  exited.then((code) => rejectReady(new Error(`${script} exited (${code}) before it was ready`)));
  if (child.stdout === null || child.stdin === null) throw new Error("child without pipes");
  const stdin = child.stdin;
  // A child that has exited must not crash the drill with EPIPE on a late "stop".
  stdin.on("error", () => {});
  createInterface({ input: child.stdout }).on("line", (text) => {
    const line = JSON.parse(text) as Line;
    last = line;
    if (first) {
      first = false;
      resolveReady(line);
    } else onLine(line);
  });
  return {
    pid: child.pid ?? -1,
    ready,
    send(line: string) {
      stdin.write(`${line}\n`);
    },
    async stop(timeoutMs = 30_000) {
      stdin.end("stop\n");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0 || last === null) throw new Error(`${script} exited with ${code}`);
      return last;
    },
    kill() {
      child.kill("SIGKILL");
    },
  };
}

/** Commands the parent has written so far, word → the rest of its line (bounded: the protocol has two). */
const heard = new Map<string, string>();
const waiters: { word: string; resolve: (rest: string) => void }[] = [];
let listening = false;

/**
 * In a child: resolves with the rest of the line when the parent writes a line starting with
 * `word` ("go …", "stop"); stdin closing counts as every word, with nothing after it.
 */
export function commandHeard(word: string): Promise<string> {
  if (!listening) {
    listening = true;
    createInterface({ input: process.stdin }).on("line", (line) => {
      const [first, ...rest] = line.trim().split(" ");
      if (heard.size < 8) heard.set(first, rest.join(" "));
      for (const waiter of waiters) if (waiter.word === first) waiter.resolve(rest.join(" "));
    });
    process.stdin.on("end", () => {
      for (const waiter of waiters) waiter.resolve("");
    });
  }
  const already = heard.get(word);
  if (already !== undefined) return Promise.resolve(already);
  return new Promise((resolve) => waiters.push({ word, resolve }));
}

/** In a child: resolves when the parent writes "stop" (or closes stdin). */
export async function stopRequested(): Promise<void> {
  await commandHeard("stop");
}

/** In a child: one JSON line to the parent. */
export function sendLine(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

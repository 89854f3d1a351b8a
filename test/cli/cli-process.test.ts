// The `bulwark` command as an operator runs it, as real processes: `start` serving until SIGINT,
// commands in another process while it runs (through its operator socket), one offline command,
// a usage error's exit code, and the password on stdin. Every command's behaviour is tested in
// process by cli.test.ts; these few check the wiring (bin/bulwark.mjs, main.ts, the process's
// streams, signals and exit codes).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LOCK_FILE_NAME } from "../../src/server/data-dir-lock.ts";
import { OPERATOR_SOCKET_FILE_NAME } from "../../src/server/operator-listeners.ts";

const BIN = resolve(import.meta.dirname, "../../bin/bulwark.mjs");
const directory = mkdtempSync(join(tmpdir(), "bulwark-cli-process-"));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(directory, { recursive: true, force: true });
});

function environment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BULWARK_PORT: "0" };
  delete env.DATABASE_URL;
  delete env.BULWARK_SERVER_KEY;
  return env;
}

/** One command in its own process; stdin is `input` (a pipe, not a terminal). */
function bulwark(args: string[], input = ""): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [BIN, ...args, "--data-dir", directory], {
    encoding: "utf8",
    env: environment(),
    input,
    timeout: 60_000,
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

describe("bulwark as processes", () => {
  // ~17 s of process starts: `npm run test:full`, which CI runs.
  it.skipIf(process.env.BULWARK_TEST_FULL !== "1")(
    "serves until SIGINT; commands in another process go through its socket; then they run offline",
    async () => {
      const child = spawn(process.execPath, [BIN, "start", "--no-demo", "--json", "--data-dir", directory], {
        env: environment(),
      });
      children.push(child);
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
      });
      const exited = new Promise<number | null>((resolveExit) =>
        child.on("exit", (code) => resolveExit(code)),
      );
      const deadline = Date.now() + 60_000;
      while (!output.includes("\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const started = JSON.parse(output.split("\n")[0]) as Record<string, unknown>;
      expect(started).toMatchObject({
        event: "started",
        demo: null,
        operatorSocket: join(directory, OPERATOR_SOCKET_FILE_NAME),
        operatorUrl: null,
        recovery: { snapshotSequence: 0, replayedCommands: 0, tornTailBytes: 0 },
      });
      expect((started.recovery as { openMs: number }).openMs).toBeGreaterThan(0);
      expect(started.operatorToken).toMatch(/^op-[0-9a-f]{64}$/);
      expect((await fetch(`${started.url}/v1.1/pair_settings`)).status).toBe(200);

      // While it runs: the password on stdin, the command through the server's operator socket.
      const created = bulwark(
        ["user", "create", "--email", "alice@example.com", "--json"],
        "correct horse\n",
      );
      expect(created.status).toBe(0);
      expect(lastJson(created.stdout)).toEqual({ ok: true, userId: 1, email: "alice@example.com" });
      const verified = bulwark(["verify"]);
      expect(verified.status).toBe(0);
      expect(verified.stdout).toMatch(
        /^last sequence 8, 0 resting orders, invariants ok\nstate hash [0-9a-f]{64}\n$/,
      );
      // A usage mistake: exit code 2, the message and the usage text on stderr.
      const usage = bulwark(["user", "create", "--email", "bob@example.com", "--password", "password123"]);
      expect(usage.status).toBe(2);
      expect(usage.stderr).toMatch(/--password is not accepted[\s\S]*usage: bulwark <command>/);

      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(lastJson(output)).toMatchObject({ ok: true, event: "stopped", lastSequence: 8 });
      expect(existsSync(join(directory, LOCK_FILE_NAME))).toBe(false);
      expect(existsSync(join(directory, OPERATOR_SOCKET_FILE_NAME))).toBe(false);
      expect(existsSync(join(directory, "candles.json"))).toBe(true);

      // No server now: the command opens the data dir itself, and sees what the server wrote.
      const audit = bulwark(["audit", "verify", "--json"]);
      expect(audit.status).toBe(0);
      expect(lastJson(audit.stdout)).toMatchObject({ ok: true, checkedRows: 1 });
    },
  );
});

// Running `bulwark` in process for the CLI tests: runCli with captured output, a given stdin, and
// an environment without the operator's DATABASE_URL or server key, so every run uses its data dir.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll } from "vitest";
import type { CliIo } from "../../src/cli/io.ts";
import { runCli } from "../../src/cli/run.ts";

const directories: string[] = [];

afterAll(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A fresh data dir, removed after the file's tests. */
export function newDataDir(prefix = "bulwark-cli-"): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  directories.push(directory);
  return directory;
}

export interface Run {
  status: number;
  json: Record<string, unknown> & { ok: boolean; error?: { kind: string; message: string } };
  stderr: string[];
}

export function cliIo(stdin: Readable | string, out: string[], err: string[]): CliIo {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.BULWARK_SERVER_KEY;
  return {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    prompt: (text) => err.push(text),
    stdin: typeof stdin === "string" ? Readable.from(stdin === "" ? [] : [stdin]) : stdin,
    env,
  };
}

/** `bulwark <args> --json --data-dir <dataDir>`, stdin given (a password line, say). */
export async function bulwarkIn(
  dataDir: string,
  args: string[],
  stdin: Readable | string = "",
): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runCli([...args, "--json", "--data-dir", dataDir], cliIo(stdin, out, err));
  const last = out.at(-1);
  if (last === undefined) throw new Error(`no output; stderr: ${err.join("\n")}`);
  return { status, json: JSON.parse(last), stderr: err };
}

/** The same without --json: the text an operator reads. */
export async function bulwarkText(dataDir: string, args: string[]): Promise<{ status: number; out: string }> {
  const out: string[] = [];
  const status = await runCli([...args, "--data-dir", dataDir], cliIo("", out, []));
  return { status, out: out.join("\n") };
}

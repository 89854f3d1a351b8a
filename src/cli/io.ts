// Where a command reads and writes: the process's streams for `bulwark`, captured ones for tests
// that run commands in process (test/cli/).

import type { Readable } from "node:stream";
import type { Cli } from "./args.ts";

export interface CliIo {
  /** One line of output (a newline is added). */
  out(line: string): void;
  /** One line on stderr (a newline is added). */
  err(line: string): void;
  /** A prompt on stderr, no newline. */
  prompt(text: string): void;
  /** Piped input, or a terminal (isTTY, setRawMode) for prompts. */
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  env: NodeJS.ProcessEnv;
}

export function processIo(): CliIo {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    prompt: (text) => process.stderr.write(text),
    stdin: process.stdin,
    env: process.env,
  };
}

/** A command's success: one JSON object with --json, else its text. */
export function say(cli: Cli, io: CliIo, fields: object, text: string): void {
  io.out(cli.json ? JSON.stringify({ ok: true, ...fields }) : text);
}

// `user create` takes the password from stdin, never from argv (visible in `ps` and shell
// history): one line when stdin is a pipe or a file, else typed at a prompt without echo, twice.

import { CliError, usageError } from "./args.ts";
import type { CliIo } from "./io.ts";

/** Longer than any password the policy accepts (1,024 bytes), so the policy's message is the one shown. */
const MAX_PIPED_BYTES = 4_096;

export async function readPassword(io: CliIo, email: string): Promise<string> {
  if (io.stdin.isTTY === true && typeof io.stdin.setRawMode === "function") {
    const [first, second] = await promptHidden(io, [`password for ${email}: `, "again: "]);
    if (first !== second) throw new CliError("invalid", "the two passwords differ");
    return first;
  }
  const line = await firstLine(io);
  if (line === null)
    throw usageError(
      "user create reads the password from stdin: pipe one line (e.g. from a password manager), " +
        "or run it in a terminal to be prompted",
    );
  return line;
}

/** The first line of piped stdin without its line ending; null when stdin is empty. */
function firstLine(io: CliIo): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (): void => {
      io.stdin.off("data", onData);
      io.stdin.off("end", finish);
      io.stdin.off("error", reject);
      io.stdin.pause();
      if (size === 0) return resolve(null);
      const text = Buffer.concat(chunks).toString("utf8");
      const end = text.indexOf("\n");
      resolve((end === -1 ? text : text.slice(0, end)).replace(/\r$/, ""));
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      chunks.push(bytes);
      size += bytes.length;
      if (bytes.includes(10) || size > MAX_PIPED_BYTES) finish();
    };
    io.stdin.on("data", onData);
    io.stdin.on("end", finish);
    io.stdin.on("error", reject);
  });
}

/** Reads one line per prompt from a terminal in raw mode, echoing nothing (a paste may hold several). */
function promptHidden(io: CliIo, prompts: readonly string[]): Promise<string[]> {
  const stdin = io.stdin;
  const lines: string[] = [];
  io.prompt(prompts[0]);
  stdin.setRawMode?.(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const done = (): void => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n") {
          io.prompt("\n");
          lines.push(value);
          value = "";
          if (lines.length === prompts.length) {
            done();
            return resolve(lines);
          }
          io.prompt(prompts[lines.length]);
        } else if (char === "\u0003" || char === "\u0004") {
          io.prompt("\n");
          done();
          return reject(new CliError("failed", "cancelled"));
        } else if (char === "\u007f" || char === "\b") value = Array.from(value).slice(0, -1).join("");
        else if (char >= " ") value += char;
      }
    };
    stdin.on("data", onData);
  });
}

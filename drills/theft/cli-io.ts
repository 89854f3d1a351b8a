// The CliIo the drill runs `bulwark` with in process: captured output, no stdin, and the
// process's environment without the operator's DATABASE_URL or server key, so every command uses
// the drill's own data dir.

import { Readable } from "node:stream";
import type { CliIo } from "../../src/cli/io.ts";

export function cliIo(out: string[], err: string[], extraEnv: NodeJS.ProcessEnv): CliIo {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env.DATABASE_URL;
  delete env.BULWARK_SERVER_KEY;
  return {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    prompt: (text) => err.push(text),
    stdin: Readable.from([]),
    env,
  };
}

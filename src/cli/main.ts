// The `bulwark` command's entry (bin/bulwark.mjs runs the built dist/cli/main.js, or this file
// through tsx). Every command takes --data-dir (default ./data) and --json (one JSON object on
// stdout; on failure {"ok":false,"error":{kind,message}} and exit code 1, 2 for usage mistakes).
// The commands are in run.ts; this file only binds them to the process.

import { processIo } from "./io.ts";
import { runCli } from "./run.ts";

process.exitCode = await runCli(process.argv.slice(2), processIo());

#!/usr/bin/env node
// `npm test`: the lint first (a few seconds), then the type check and vitest side by side. Run one
// after the other they took 19 s + 135 s on this 2-core machine; the type check's single thread
// fits beside vitest's workers (vitest.config.ts), whose tests wait on child processes and sockets
// much of the time. Both always run to the end; the exit status is the first failure's. Arguments go to
// vitest (`npm test -- test/store`).

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
/** The type check's output is held and printed after vitest's, so the two do not interleave. */
const MAX_HELD_OUTPUT_BYTES = 1024 * 1024;

function run(command, args, { hold }) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: hold ? ["ignore", "pipe", "pipe"] : "inherit" });
    let held = "";
    const keep = (chunk) => {
      held = (held + chunk).slice(-MAX_HELD_OUTPUT_BYTES);
    };
    child.stdout?.setEncoding("utf8").on("data", keep);
    child.stderr?.setEncoding("utf8").on("data", keep);
    child.on("error", (error) => resolve({ code: 1, held: `${held}${error.message}\n` }));
    child.on("close", (code, signal) => resolve({ code: code ?? (signal === null ? 1 : 128), held }));
  });
}

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const lint = await run(npm, ["run", "--silent", "lint"], { hold: false });
if (lint.code !== 0) process.exit(lint.code);

const typecheck = run(npm, ["run", "--silent", "typecheck"], { hold: true });
const vitest = run(
  process.execPath,
  [
    fileURLToPath(new URL("../node_modules/vitest/vitest.mjs", import.meta.url)),
    "run",
    ...process.argv.slice(2),
  ],
  { hold: false },
);
const [typed, tested] = await Promise.all([typecheck, vitest]);
process.stdout.write(typed.held);
console.log(typed.code === 0 ? "typecheck: ok" : `typecheck: FAILED (exit ${typed.code})`);
process.exit(typed.code !== 0 ? typed.code : tested.code);

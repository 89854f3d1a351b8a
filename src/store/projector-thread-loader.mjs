// Entry of the projector's worker thread: loads projector-thread.ts through tsx. A worker does
// not inherit the parent's tsx loader, and on Node 20 `execArgv: ["--import", "tsx"]` does not
// reach a worker's module loader ("Unknown file extension .ts"), so the worker registers tsx
// itself. Works the same under vitest, `node --import tsx` and bin/bulwark.mjs.
//
// When dist/ is current (built after every file under src/ last changed: bin/bulwark.mjs's rule,
// and src/server/signers.ts childEntry's for child processes) the built thread is loaded instead:
// tsx in a thread costs about 0.7 s of CPU at every start, i.e. every Exchange.open on SQLite that
// runs from src/ (the tests). BULWARK_FROM_SOURCE=1 keeps the source, as for the children.
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** A guard on the walk of src/, not a style rule (signers.ts's MAX_SOURCE_FILES). */
const MAX_SOURCE_FILES = 10_000;
const root = fileURLToPath(new URL("../..", import.meta.url));
const built = new URL("../../dist/store/projector-thread.js", import.meta.url);

function distIsCurrent() {
  let builtMs;
  try {
    builtMs = statSync(`${root}/dist/.build-stamp`).mtimeMs;
    statSync(built);
  } catch {
    return false;
  }
  let seen = 0;
  const newer = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (++seen > MAX_SOURCE_FILES) return true;
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory() ? newer(path) : statSync(path).mtimeMs > builtMs) return true;
    }
    return false;
  };
  return !newer(`${root}/src`);
}

if (process.env.BULWARK_FROM_SOURCE !== "1" && distIsCurrent()) {
  await import(built.href);
} else {
  const { tsImport } = await import("tsx/esm/api");
  await tsImport("./projector-thread.ts", import.meta.url);
}

// The node arguments that run a module of src/ in a child process: its built twin in dist/ when
// dist/ is current (built after every file under src/ changed: bin/bulwark.mjs's rule, which
// `npm ci` meets through `prepare`), else the TypeScript through tsx. A child through tsx costs
// about a second more CPU (1.3-1.4 s against 0.45 s to load src/signer/main.ts here).

import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");
const SRC = join(ROOT, "src");
const DIST = join(ROOT, "dist");
/** A guard on the walk of src/, not a style rule: past this many entries, dist/ counts as stale. */
const MAX_SOURCE_ENTRIES = 10_000;

let current: boolean | undefined;

function distIsCurrent(): boolean {
  if (current !== undefined) return current;
  let builtMs: number;
  try {
    builtMs = statSync(join(DIST, ".build-stamp")).mtimeMs;
  } catch {
    current = false;
    return current;
  }
  let seen = 0;
  const newer = (dir: string): boolean => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (++seen > MAX_SOURCE_ENTRIES) return true;
      const path = join(dir, entry.name);
      if (entry.isDirectory() ? newer(path) : statSync(path).mtimeMs > builtMs) return true;
    }
    return false;
  };
  current = !newer(SRC);
  return current;
}

/** `sourcePath`: a .ts file under src/. BULWARK_FROM_SOURCE=1 forces tsx. */
export function nodeEntry(sourcePath: string): string[] {
  const inSrc = relative(SRC, sourcePath);
  if (inSrc.startsWith("..") || !sourcePath.endsWith(".ts"))
    throw new Error(`${sourcePath} is not under src/`);
  const built = join(DIST, inSrc.replace(/\.ts$/, ".js"));
  if (process.env.BULWARK_FROM_SOURCE !== "1" && distIsCurrent() && existsSync(built)) return [built];
  return ["--import", "tsx", sourcePath];
}

#!/usr/bin/env node
// The `bulwark` command. Runs the built JavaScript in dist/ (`npm run build`, which `npm ci` runs
// through `prepare`) when it is at least as new as every file under src/; otherwise it runs the
// TypeScript through tsx, as before the build existed, with a one-line note on stderr.
//
// Why fall back instead of building here: a build takes seconds and can fail, two commands started
// together (`npm start` and `bulwark …` in another terminal) would race to rewrite dist/ under
// each other, and an install dir may be read-only. tsx is always correct, only slower, so the
// command still works and the note says how to get the fast path back. BULWARK_FROM_SOURCE=1
// forces tsx without the note (for working on src/).
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Newest modification time of any file under `dir`, stopping early once one is newer than `limitMs`. */
function newerThan(dir, limitMs) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory() ? newerThan(path, limitMs) : statSync(path).mtimeMs > limitMs) return true;
  }
  return false;
}

function distIsCurrent() {
  let builtMs;
  try {
    builtMs = statSync(`${root}/dist/.build-stamp`).mtimeMs;
  } catch {
    return "dist/ is not built";
  }
  return newerThan(`${root}/src`, builtMs) ? "dist/ is older than src/" : true;
}

/** `start` serves dist/web (src/gateway/http/web.ts): say so when web/ was edited after the last build. */
function webIsStale() {
  try {
    return newerThan(`${root}/web`, statSync(`${root}/dist/.build-stamp`).mtimeMs);
  } catch {
    return false; // no web/ (an install without it) or no build: the server's `/` says how to build
  }
}

const fromSource = process.env.BULWARK_FROM_SOURCE === "1";
const current = fromSource ? "BULWARK_FROM_SOURCE=1" : distIsCurrent();
if (process.argv[2] === "start" && webIsStale())
  process.stderr.write("bulwark: dist/web is older than web/; `npm run build` rebuilds the web app.\n");
if (current === true) {
  await import("../dist/cli/main.js");
} else {
  if (!fromSource)
    process.stderr.write(
      `bulwark: ${current}; running src/ through tsx (slower). \`npm run build\` fixes it.\n`,
    );
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}

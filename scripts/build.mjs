#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` builds): compiles src/ into dist/ with tsc
// (tsconfig.build.json), so `bulwark` and `npm start` run JavaScript instead of transpiling the
// TypeScript through tsx at every start (tsx stays for vitest and development), and the web app
// (web/) into dist/web with Vite.
//
// dist/ mirrors src/ file for file, so `new URL("./x", import.meta.url)` lookups keep working;
// the one non-TypeScript module, the projector thread's entry (src/store/projector-thread-loader.mjs,
// which loads projector-thread.ts through tsx), gets a dist twin that imports the built .js.
// dist/.build-stamp is written last, with the time the build started: bin/bulwark.mjs runs dist/
// only while no file under src/ is newer than it.

import { execFileSync } from "node:child_process";
import { rmSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const startedAt = new Date();
const startedMs = performance.now();

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
} catch {
  // An install without dev dependencies: nothing to build with; bin/bulwark.mjs says so at run time.
  console.warn("build: typescript is not installed (dev dependencies omitted?); dist/ not built");
  process.exit(0);
}
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
writeFileSync(
  join(dist, "store", "projector-thread-loader.mjs"),
  "// Built twin of src/store/projector-thread-loader.mjs (scripts/build.mjs): the thread's entry.\n" +
    'await import("./projector-thread.js");\n',
);
// The web app (web/, React + Vite) into dist/web, which the gateway serves at `/`
// (src/gateway/http/web.ts). Vite is a dev dependency like typescript, present whenever tsc is.
const webStartedMs = performance.now();
const { build: viteBuild } = await import("vite");
await viteBuild({ configFile: join(root, "web", "vite.config.ts"), logLevel: "warn" });
console.log(`built dist/web in ${((performance.now() - webStartedMs) / 1000).toFixed(1)} s`);
const stamp = join(dist, ".build-stamp");
writeFileSync(stamp, `${JSON.stringify({ builtAt: startedAt.toISOString() })}\n`);
utimesSync(stamp, startedAt, startedAt);
console.log(`built dist/ in ${((performance.now() - startedMs) / 1000).toFixed(1)} s`);

// `npm run drill:flood`: runs the flood drill (drill.ts) and prints its table; writes the picture
// (flood-drill.svg) and the full report (flood-drill.json) to --out (default drills/flood/out/).
// Flags: --seconds N (the flood's length; calm and recovery get half each, default 20),
// --json (the table's figures as one JSON object on stdout instead of the table), --profile (a
// CPU profile of the exchange process into --out: where its time went; read it with
// `node --import tsx bench/cpu-profile-top.ts FILE`), --kinds a,b (only these floods, e.g.
// `--kinds public,junk`: which one hurts order entry; default all), --scale F (every flood rate,
// connection and socket count × F, e.g. 3 to push the exchange to saturation; default 1).
// Exit status 1 when a target is missed.

import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  FLOOD_KINDS,
  type FloodKind,
  type FloodReport,
  FULL_DRILL,
  onlyKinds,
  runFloodDrill,
  scaledFlood,
} from "./drill.ts";
import { checksOf, summaryOf, tableOf } from "./report.ts";

const { values: flags } = parseArgs({
  options: {
    seconds: { type: "string" },
    json: { type: "boolean", default: false },
    out: { type: "string" },
    profile: { type: "boolean", default: false },
    kinds: { type: "string" },
    scale: { type: "string" },
  },
});
const floodSeconds = Number(flags.seconds ?? FULL_DRILL.floodSeconds);
if (!Number.isFinite(floodSeconds) || floodSeconds < 2 || floodSeconds > 3_600) {
  console.error("--seconds must be a number of seconds from 2 to 3600");
  process.exit(2);
}
const kinds = (flags.kinds ?? FLOOD_KINDS.join(",")).split(",").map((kind) => kind.trim());
const unknownKind = kinds.find((kind) => !(FLOOD_KINDS as readonly string[]).includes(kind));
if (unknownKind !== undefined) {
  console.error(`--kinds: unknown ${unknownKind}; known: ${FLOOD_KINDS.join(", ")}`);
  process.exit(2);
}
const floodScale = Number(flags.scale ?? 1);
if (!(floodScale > 0 && floodScale <= 20)) {
  console.error("--scale must be a number above 0 and at most 20");
  process.exit(2);
}
const outDir = flags.out ?? join(import.meta.dirname, "out");
const report: FloodReport = await runFloodDrill({
  ...FULL_DRILL,
  flood: scaledFlood(onlyKinds(FULL_DRILL.flood, kinds as FloodKind[]), floodScale),
  floodSeconds,
  calmSeconds: Math.max(2, Math.round(floodSeconds / 2)),
  recoverySeconds: Math.max(2, Math.round(floodSeconds / 2)),
  outDir,
  ...(flags.profile ? { serverProfileDir: outDir } : {}),
  log: (line) => process.stderr.write(`  … ${line}\n`),
});
const checks = checksOf(report);
if (flags.json) console.log(JSON.stringify({ ...summaryOf(report), checks }));
else {
  console.log(tableOf(report));
  console.log("\nchecks");
  for (const check of checks) console.log(`  ${check.ok ? "ok  " : "FAIL"}  ${check.name}: ${check.detail}`);
  if (report.chartPath !== null)
    console.log(`\npicture: ${report.chartPath} (full report beside it, flood-drill.json)`);
  if (flags.profile)
    console.log(`CPU profile of the exchange: ${outDir}/*.cpuprofile (bench/cpu-profile-top.ts reads it)`);
}
process.exitCode = checks.every((check) => check.ok) ? 0 : 1;

// Profiling driver for the journal paths (not a benchmark table): runs one phase several times
// so `node --cpu-prof` sees mostly that phase. Usage:
//   node --expose-gc --cpu-prof --cpu-prof-dir DIR --import tsx bench/journal-profile.ts journal|replay|append [ops]
// then `node --import tsx bench/cpu-profile-top.ts DIR/<largest>.cpuprofile [count]` for the top
// functions (tsx's loader thread writes a second, small profile: `ls -S DIR | head -1` is the main one).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  measureAppendCost,
  measureReplay,
  prepareBulwark,
  resolveBulwark,
  timedJournalRun,
} from "./bulwark-engine.ts";
import { generate, mixedParams } from "./workload.ts";

const PHASES = ["journal", "replay", "append"] as const;
type Phase = (typeof PHASES)[number];
/** Repetitions of the profiled phase: enough samples, bounded time. */
const REPEATS = 4;

const phase = process.argv[2] as Phase;
if (!PHASES.includes(phase)) throw new Error(`phase must be one of ${PHASES.join(", ")}`);
const ops = Number(process.argv[3] ?? 1_000_000);
if (!Number.isSafeInteger(ops) || ops <= 0) throw new Error("ops must be a positive integer");

const prepared = prepareBulwark(generate(mixedParams(ops, undefined)));
resolveBulwark(prepared); // fills in cancel targets, as the bench does
const dir = mkdtempSync(join(tmpdir(), "bulwark-journal-profile-"));
try {
  if (phase === "journal") {
    for (let r = 0; r < REPEATS; r++) {
      const run = await timedJournalRun(prepared, dir, `run${r}`);
      console.log(
        `journal run ${r}: ${(ops / run.seconds / 1e6).toFixed(2)} M ops/s, ${run.dataSyncCount} fdatasyncs`,
      );
      rmSync(run.journalPath, { recursive: true, force: true });
    }
  } else if (phase === "append") {
    for (let r = 0; r < REPEATS; r++) {
      console.log(
        `append run ${r}: ${(await measureAppendCost(prepared, dir, `append${r}`)).toFixed(0)} ns/op`,
      );
    }
  } else {
    const run = await timedJournalRun(prepared, dir, "source");
    for (let r = 0; r < REPEATS; r++) {
      const replay = await measureReplay(run.journalPath, prepared.limits);
      console.log(
        `replay ${r}: ${(replay.commands / replay.seconds / 1e6).toFixed(2)} M ops/s (open ${(replay.openSeconds * 1e3).toFixed(0)} ms of ${(replay.seconds * 1e3).toFixed(0)} ms)`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

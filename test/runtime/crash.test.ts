// Crash test: a child process runs the real sequencer, file journal and snapshots on the
// deterministic command stream; we SIGKILL it at random moments, then check on a copy of its
// data directory that recovery keeps every acknowledged command, holds exactly the journaled
// prefix of the stream, and reaches the state hash of a clean replay of that prefix.
// Kills: CRASH_KILLS, else 200 with BULWARK_TEST_FULL=1 (`npm run test:full`, which CI runs after
// `npm test`), else 10 (the default run). Either way every kind of kill is taken: the second
// run of each lane is killed early (during start-up and recovery), and most others while
// commands flow (checked at the end). Two lanes (own dir, own seed) run in parallel to use both cores
// of a small CI machine.

import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import { encodeCommand } from "../../src/journal/command-codec.ts";
import { FileJournal } from "../../src/journal/file-journal.ts";
import { Prng } from "../../src/lib/prng.ts";
import { recover } from "../../src/runtime/recovery.ts";
import { SnapshotStore } from "../../src/runtime/snapshot-store.ts";
import { STREAM_CORE_LIMITS, stampedStream, stampedStreamCommand } from "./command-stream.ts";

const FULL_KILL_COUNT = 200;
const QUICK_KILL_COUNT = 10;
const KILL_COUNT = Number(
  process.env.CRASH_KILLS ?? (process.env.BULWARK_TEST_FULL === "1" ? FULL_KILL_COUNT : QUICK_KILL_COUNT),
);
const LANE_COUNT = 2;
const CHILD = join(import.meta.dirname, "crash-child.ts");
/** A child that is not killed within this time is stuck: fail instead of hanging CI. */
const CHILD_TIMEOUT_MS = 30_000;
const BATCH_SIZE = STREAM_CORE_LIMITS.maxCommandsPerBatch ?? 1024;

interface Lane {
  seed: number;
  dir: string;
  clean: Core;
  verifiedThrough: number;
  rng: Prng;
}

interface RunOutcome {
  ready: boolean;
  /** The child's lastSequence after its own recovery. */
  readySequence: number;
  ackedThrough: number;
  killedAfterMs: number;
}

interface Totals {
  kills: number;
  killsMidStream: number;
  killsBeforeReady: number;
  tornTails: number;
  truncatedBytes: number;
  skippedSnapshots: number;
  acked: number;
}

const totals: Totals = {
  kills: 0,
  killsMidStream: 0,
  killsBeforeReady: 0,
  tornTails: 0,
  truncatedBytes: 0,
  skippedSnapshots: 0,
  acked: 0,
};
const workDirs: string[] = [];

afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

function newLane(seed: number): Lane {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-crash-"));
  workDirs.push(dir);
  return { seed, dir, clean: new Core(STREAM_CORE_LIMITS), verifiedThrough: 0, rng: new Prng(seed * 7919) };
}

/** Starts the child; kills it at a random moment: mostly while it acknowledges commands, sometimes during start-up and recovery. */
function runChild(lane: Lane, forceEarlyKill: boolean): Promise<RunOutcome> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", CHILD, lane.dir, String(lane.seed)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const outcome: RunOutcome = { ready: false, readySequence: 0, ackedThrough: 0, killedAfterMs: 0 };
  const startedMs = performance.now();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const kill = (): void => {
    outcome.killedAfterMs = performance.now() - startedMs;
    child.kill("SIGKILL");
  };
  const earlyKill = forceEarlyKill || lane.rng.next() < 0.15;
  if (earlyKill) setTimeout(kill, lane.rng.next() * 900);
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const [word, value] = line.split(" ");
    if (word === "ready") {
      outcome.ready = true;
      outcome.readySequence = Number(value);
    } else if (word === "ack") {
      // Timed from the first ack, so the kill lands while commands flow (journal writes,
      // syncs, segment rolls, snapshot writes and prunes all overlap there).
      if (!earlyKill && outcome.ackedThrough === 0) setTimeout(kill, lane.rng.next() * 200);
      outcome.ackedThrough = Math.max(outcome.ackedThrough, Number(value));
    }
  });
  const timeout = setTimeout(kill, CHILD_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.on("close", (code, signal) => {
      clearTimeout(timeout);
      if (signal !== "SIGKILL") reject(new Error(`child exited by itself (code ${code}): ${stderr}`));
      else resolve(outcome);
    });
  });
}

function applyInBatches(core: Core, from: number, to: number, seed: number): void {
  const events: CoreEvent[] = [];
  for (let start = from; start <= to; start += BATCH_SIZE) {
    events.length = 0;
    core.applyBatch(stampedStream(seed, start, Math.min(to, start + BATCH_SIZE - 1)), events);
  }
}

/** Recovers a copy of the lane's data (the child recovers the original itself next time). */
async function verifyAfterKill(lane: Lane, outcome: RunOutcome): Promise<void> {
  const copy = mkdtempSync(join(tmpdir(), "bulwark-crash-check-"));
  try {
    cpSync(lane.dir, copy, { recursive: true });
    const journal = await FileJournal.open({ dir: join(copy, "journal"), segmentSizeBytes: 256 * 1024 });
    if (journal.openReport.truncatedBytes > 0) totals.tornTails++;
    totals.truncatedBytes += journal.openReport.truncatedBytes;
    const { core, report } = recover({
      journal,
      snapshots: new SnapshotStore({ dir: join(copy, "snapshots"), keepCount: 2 }),
      createCore: () => new Core(STREAM_CORE_LIMITS),
      restoreCore: (bytes) => Core.restore(bytes, STREAM_CORE_LIMITS),
      maxCommandsPerBatch: BATCH_SIZE,
    });
    totals.skippedSnapshots += report.skippedSnapshots.length;
    const last = report.lastSequence;
    // Every acknowledged command survived, and nothing acknowledged earlier went missing.
    expect(last).toBeGreaterThanOrEqual(outcome.ackedThrough);
    expect(last).toBeGreaterThanOrEqual(lane.verifiedThrough);
    expect(journal.lastSequence).toBe(last);
    // The journal holds exactly the stream's commands, byte for byte.
    const from = Math.max(journal.firstSequence, lane.verifiedThrough + 1);
    for (const record of journal.replay(from)) {
      const expected = encodeCommand(stampedStreamCommand(lane.seed, record.sequence));
      if (Buffer.compare(record.payload, expected) !== 0) {
        throw new Error(`journal record ${record.sequence} differs from the stream`);
      }
    }
    // Recovered state = a clean replay of exactly the journaled prefix.
    applyInBatches(lane.clean, lane.clean.lastSequence + 1, last, lane.seed);
    expect(core.lastSequence).toBe(last);
    expect(core.stateHash()).toBe(lane.clean.stateHash());
    core.checkInvariants();
    lane.verifiedThrough = last;
    await journal.close();
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

async function runLane(lane: Lane, kills: number): Promise<void> {
  for (let k = 0; k < kills; k++) {
    const outcome = await runChild(lane, k === 1);
    totals.kills++;
    if (!outcome.ready) totals.killsBeforeReady++;
    else if (outcome.ackedThrough > outcome.readySequence) totals.killsMidStream++;
    await verifyAfterKill(lane, outcome);
  }
  totals.acked += lane.verifiedThrough;
}

describe("crash safety under SIGKILL", () => {
  it(`keeps every acknowledged command across ${KILL_COUNT} random kills`, { timeout: 600_000 }, async () => {
    const startedMs = performance.now();
    const baseSeed = Number(process.env.CRASH_SEED ?? 20_240_601);
    const lanes = Array.from({ length: LANE_COUNT }, (_, i) => newLane(baseSeed + i));
    const perLane = Math.ceil(KILL_COUNT / LANE_COUNT);
    await Promise.all(lanes.map((lane) => runLane(lane, perLane)));
    const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
    console.log(
      `crash test: ${totals.kills} kills (${totals.killsMidStream} mid-stream, ${totals.killsBeforeReady} before ready) ` +
        `in ${seconds} s; ${totals.acked} commands verified; ${totals.tornTails} torn tails cut ` +
        `(${totals.truncatedBytes} bytes); ${totals.skippedSnapshots} damaged snapshots skipped; seed ${baseSeed}`,
    );
    expect(totals.kills).toBeGreaterThanOrEqual(KILL_COUNT);
    // Most kills must land while commands flow, or the test proves little.
    expect(totals.killsMidStream).toBeGreaterThanOrEqual(KILL_COUNT * 0.6);
  });
});

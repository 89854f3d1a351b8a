import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import { FileJournal } from "../../src/journal/file-journal.ts";
import { type EmbeddedCoreOptions, startEmbeddedCore } from "../../src/runtime/embedded.ts";
import { RecoveryError, recover } from "../../src/runtime/recovery.ts";
import { SnapshotCorruptError, SnapshotStore } from "../../src/runtime/snapshot-store.ts";
import { STREAM_CORE_LIMITS, STREAM_TIMESTAMP_MS, stampedStream, streamCommand } from "./command-stream.ts";

const SEED = 5;
let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-recovery-"));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function options(extra: Partial<EmbeddedCoreOptions> = {}): EmbeddedCoreOptions {
  return {
    dataDir,
    limits: STREAM_CORE_LIMITS,
    clock: () => STREAM_TIMESTAMP_MS,
    snapshotPolicy: { everyCommands: 500, everyMs: 60_000 },
    keepSnapshotCount: 2,
    segmentSizeBytes: 16 * 1024,
    ...extra,
  };
}

/** Runs stream commands from..to through a started embedded core, in windows so snapshots interleave. */
async function runStream(
  from: number,
  to: number,
  extra: Partial<EmbeddedCoreOptions> = {},
): Promise<string> {
  const embedded = await startEmbeddedCore(options(extra));
  expect(embedded.core.lastSequence).toBe(from - 1);
  for (let start = from; start <= to; start += 200) {
    const batch = [];
    for (let s = start; s <= Math.min(to, start + 199); s++) {
      batch.push(embedded.sequencer.submit(streamCommand(SEED, s)));
    }
    await Promise.all(batch);
  }
  const hash = embedded.core.stateHash();
  await embedded.close();
  return hash;
}

function cleanHash(to: number): string {
  const core = new Core(STREAM_CORE_LIMITS);
  const events: CoreEvent[] = [];
  const commands = stampedStream(SEED, 1, to);
  for (let i = 0; i < commands.length; i += 1024) core.applyBatch(commands.slice(i, i + 1024), events);
  return core.stateHash();
}

async function recoverDir(): Promise<ReturnType<typeof recover<Core>> & { journal: FileJournal }> {
  const journal = await FileJournal.open({ dir: join(dataDir, "journal"), segmentSizeBytes: 16 * 1024 });
  const result = recover({
    journal,
    snapshots: new SnapshotStore({ dir: join(dataDir, "snapshots"), keepCount: 2 }),
    createCore: () => new Core(STREAM_CORE_LIMITS),
    restoreCore: (bytes) => Core.restore(bytes, STREAM_CORE_LIMITS),
    maxCommandsPerBatch: 1024,
  });
  return { ...result, journal };
}

function snapshotFiles(): string[] {
  return readdirSync(join(dataDir, "snapshots"))
    .filter((name) => name.endsWith(".snap"))
    .sort();
}

describe("recovery", () => {
  it("snapshot + journal replay gives the state of a full clean replay", async () => {
    const liveHash = await runStream(1, 5000);
    expect(snapshotFiles()).toHaveLength(2);
    const { core, report, journal } = await recoverDir();
    expect(report.snapshotSequence).toBeGreaterThan(0);
    expect(report.replayedCommandCount).toBeLessThan(5000);
    expect(report.snapshotSequence + report.replayedCommandCount).toBe(5000);
    expect(core.stateHash()).toBe(liveHash);
    expect(core.stateHash()).toBe(cleanHash(5000));
    // Segments behind the oldest kept snapshot are gone.
    expect(journal.firstSequence).toBeGreaterThan(1);
    await journal.close();
  });

  it("reopens and continues: the second run starts where the first stopped", async () => {
    await runStream(1, 1500);
    const hash = await runStream(1501, 4000);
    expect(hash).toBe(cleanHash(4000));
  });

  it("skips a damaged newest snapshot and recovers from the older one", async () => {
    await runStream(1, 3000);
    const newest = join(dataDir, "snapshots", snapshotFiles()[1]);
    const bytes = readFileSync(newest);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(newest, bytes);
    const { core, report, journal } = await recoverDir();
    expect(report.skippedSnapshots).toHaveLength(1);
    expect(report.skippedSnapshots[0].reason).toMatch(/checksum mismatch/);
    expect(report.snapshotSequence).toBe(Number(snapshotFiles()[0].slice(0, 20)));
    expect(core.stateHash()).toBe(cleanHash(3000));
    await journal.close();
  });

  it("refuses to start from nothing when the journal was pruned and no snapshot is usable", async () => {
    await runStream(1, 3000);
    for (const name of snapshotFiles()) writeFileSync(join(dataDir, "snapshots", name), "garbage");
    const journal = await FileJournal.open({ dir: join(dataDir, "journal") });
    expect(() =>
      recover({
        journal,
        snapshots: new SnapshotStore({ dir: join(dataDir, "snapshots") }),
        createCore: () => new Core(STREAM_CORE_LIMITS),
        restoreCore: (bytes) => Core.restore(bytes, STREAM_CORE_LIMITS),
        maxCommandsPerBatch: 1024,
      }),
    ).toThrow(RecoveryError);
    await journal.close();
  });

  it("replays the whole journal when there is no snapshot", async () => {
    await runStream(1, 800, { snapshotPolicy: { everyCommands: 1_000_000, everyMs: 1_000_000 } });
    expect(snapshotFiles()).toHaveLength(0);
    const { core, report, journal } = await recoverDir();
    expect(report).toMatchObject({ snapshotSequence: 0, replayedCommandCount: 800, lastSequence: 800 });
    expect(core.stateHash()).toBe(cleanHash(800));
    await journal.close();
  });
});

describe("SnapshotStore", () => {
  it("writes atomically, keeps the newest K and detects damage", async () => {
    const dir = join(dataDir, "snaps");
    const store = new SnapshotStore({ dir, keepCount: 2 });
    for (const sequence of [10, 20, 30]) await store.write(sequence, new Uint8Array([sequence, 1, 2, 3]));
    expect(store.list().map((e) => e.sequence)).toEqual([30, 20]);
    expect([...store.read(store.list()[0])]).toEqual([30, 1, 2, 3]);
    const path = store.list()[0].path;
    writeFileSync(path, readFileSync(path).subarray(0, 33));
    expect(() => store.read(store.list()[0])).toThrow(SnapshotCorruptError);
    expect(() => store.read(store.list()[0])).toThrow(/header says 4 bytes, file holds 1/);
    // A temp file left by a crash mid-write is never listed and is cleaned up on open.
    writeFileSync(join(dir, "00000000000000000040.snap.tmp"), "partial");
    const reopened = new SnapshotStore({ dir, keepCount: 2 });
    expect(readdirSync(dir)).not.toContain("00000000000000000040.snap.tmp");
    expect(reopened.oldestRetainedSequence()).toBe(20);
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Command, UnstampedCommand } from "../../src/core/commands.ts";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import { CommandEncodeError, decodeCommand } from "../../src/journal/command-codec.ts";
import { FileJournal } from "../../src/journal/file-journal.ts";
import {
  Sequencer,
  type SequencerOptions,
  SequencerQueueFullError,
  type SubmitResult,
} from "../../src/runtime/sequencer.ts";
import { STREAM_CORE_LIMITS, STREAM_TIMESTAMP_MS, stampedStream, streamCommand } from "./command-stream.ts";

const SEED = 11;
let dir: string;
let journal: FileJournal;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-sequencer-"));
  journal = await FileJournal.open({ dir });
});

afterEach(async () => {
  await journal.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function makeSequencer(core: Core, options: Partial<SequencerOptions> = {}): Sequencer {
  return new Sequencer({
    core,
    journal,
    clock: () => STREAM_TIMESTAMP_MS,
    maxQueuedCommands: 100_000,
    maxCommandsPerBatch: 1024,
    ...options,
  });
}

function submitStream(sequencer: Sequencer, from: number, to: number): Promise<SubmitResult>[] {
  const results: Promise<SubmitResult>[] = [];
  for (let s = from; s <= to; s++) results.push(sequencer.submit(streamCommand(SEED, s)));
  return results;
}

/** Events of a clean core fed the same stamped commands one by one. */
function cleanEvents(from: number, to: number): CoreEvent[][] {
  const core = new Core(STREAM_CORE_LIMITS);
  return stampedStream(SEED, from, to).map((command) => {
    const events: CoreEvent[] = [];
    core.applyBatch([command], events);
    return events;
  });
}

describe("Sequencer", () => {
  it("stamps consecutive sequences and returns each command's own events, as a clean core gives them", async () => {
    const core = new Core(STREAM_CORE_LIMITS);
    const sequencer = makeSequencer(core);
    const results = await Promise.all(submitStream(sequencer, 1, 3000));
    expect(results.map((r) => r.sequence)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(results.map((r) => r.events)).toEqual(cleanEvents(1, 3000));
    const journaled = [...journal.replay(1)].length;
    expect(journaled).toBe(3000);
  });

  it("acknowledges only what the journal has synced, many commands per fdatasync", async () => {
    const core = new Core(STREAM_CORE_LIMITS);
    const sequencer = makeSequencer(core);
    let ackedBeforeDurable = 0;
    const results = submitStream(sequencer, 1, 20_000).map((promise) =>
      promise.then((result) => {
        if (journal.durableSequence < result.sequence) ackedBeforeDurable++;
        return result;
      }),
    );
    await Promise.all(results);
    expect(ackedBeforeDurable).toBe(0);
    const syncs = journal.stats.dataSyncCount;
    console.log(
      `sequencer: 20000 commands, ${syncs} fdatasyncs (${(20_000 / syncs).toFixed(0)} commands per sync)`,
    );
    expect(syncs).toBeLessThan(200);
  });

  it("delivers events to subscribers in order, after durability, exactly once", async () => {
    const core = new Core(STREAM_CORE_LIMITS);
    const sequencer = makeSequencer(core);
    const seen: CoreEvent[] = [];
    const stampedSequences: number[] = [];
    let notDurable = 0;
    sequencer.subscribe((events, stamps) => {
      if (stamps[stamps.length - 1].sequence > journal.durableSequence) notDurable++;
      seen.push(...events);
      stampedSequences.push(...stamps.map((stamp) => stamp.sequence));
    });
    await Promise.all(submitStream(sequencer, 1, 5000));
    expect(notDurable).toBe(0);
    expect(seen).toEqual(cleanEvents(1, 5000).flat());
    // Every command's stamp arrives once, in order, even for commands without events.
    expect(stampedSequences).toEqual(Array.from({ length: 5000 }, (_, index) => index + 1));
  });

  it("keeps batches within maxCommandsPerBatch", async () => {
    const core = new Core(STREAM_CORE_LIMITS);
    const sizes: number[] = [];
    const applyBatch = core.applyBatch.bind(core);
    core.applyBatch = (commands: readonly Command[], events: CoreEvent[]) => {
      sizes.push(commands.length);
      applyBatch(commands, events);
    };
    const sequencer = makeSequencer(core, { maxCommandsPerBatch: 100 });
    await Promise.all(submitStream(sequencer, 1, 2000));
    expect(Math.max(...sizes)).toBe(100);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2000);
  });

  it("rejects submissions beyond the bounded input queue with a clear error", async () => {
    const sequencer = makeSequencer(new Core(STREAM_CORE_LIMITS), { maxQueuedCommands: 10 });
    const results = submitStream(sequencer, 1, 11);
    await expect(results[10]).rejects.toThrow(SequencerQueueFullError);
    await expect(results[10]).rejects.toThrow(/queue is full \(10 commands\)/);
    await Promise.all(results.slice(0, 10));
  });

  it("rejects a command the codec cannot carry without using a sequence", async () => {
    const sequencer = makeSequencer(new Core(STREAM_CORE_LIMITS));
    const bad = { ...streamCommand(SEED, 1), kind: "nonsense" } as unknown as UnstampedCommand;
    const first = sequencer.submit(streamCommand(SEED, 1));
    const rejected = sequencer.submit(bad);
    const second = sequencer.submit(streamCommand(SEED, 2));
    await expect(rejected).rejects.toThrow(CommandEncodeError);
    expect((await first).sequence).toBe(1);
    expect((await second).sequence).toBe(2);
  });

  it("never stamps a timestamp earlier than the previous one", async () => {
    const times = [1000, 3000, 2000, 5000];
    let call = 0;
    const sequencer = makeSequencer(new Core(STREAM_CORE_LIMITS), { clock: () => times[call++] });
    const results = await Promise.all(submitStream(sequencer, 1, 4));
    expect(results.map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
    const timestamps = [...journal.replay(1)].map((r) => decodeCommand(r.payload).timestampMs);
    expect(timestamps).toEqual([1000, 3000, 3000, 5000]);
  });

  it("refuses to start when the core and the journal disagree", async () => {
    journal.append(1, new Uint8Array(4));
    await journal.flush();
    expect(() => makeSequencer(new Core(STREAM_CORE_LIMITS))).toThrow(/recover first/);
  });

  it("close() drains what was submitted", async () => {
    const sequencer = makeSequencer(new Core(STREAM_CORE_LIMITS));
    const results = submitStream(sequencer, 1, 500);
    await sequencer.close();
    expect(sequencer.acknowledgedSequence).toBe(500);
    await Promise.all(results);
    await expect(sequencer.submit(streamCommand(SEED, 501))).rejects.toThrow(/closing/);
  });
});

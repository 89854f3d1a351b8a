// The SQLite projector in a worker thread: the same store as the in-process projector, across a
// restart, errors surfaced to the main thread, and close() letting the write in flight finish.

import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ProjectorBatch } from "../../src/store/projection.ts";
import { ProjectorQueue } from "../../src/store/projector-queue.ts";
import { ProjectorThreadError, WorkerProjector } from "../../src/store/projector-worker.ts";
import { projectedSequence } from "../../src/store/queries.ts";
import { runCoreStream } from "./core-stream.ts";
import { openTestStore, type TestStore } from "./engines.ts";
import { dumpProjection, expectProjectionMatchesCore } from "./projection-checks.ts";

const RUN = runCoreStream(23, 1_500);
const STATE = RUN.core.exportState();

function merged(batches: readonly ProjectorBatch[]): ProjectorBatch {
  return { commands: batches.flatMap((b) => b.commands), events: batches.flatMap((b) => b.events) };
}

describe("WorkerProjector (SQLite)", () => {
  let opened: TestStore[] = [];
  let workers: WorkerProjector[] = [];
  const open = async () => {
    const test = await openTestStore("sqlite");
    opened.push(test);
    return test;
  };
  const startWorker = async (sqliteFile: string | null) => {
    if (sqliteFile === null) throw new Error("expected a SQLite store");
    const worker = await WorkerProjector.open(sqliteFile);
    workers.push(worker);
    return worker;
  };
  afterEach(async () => {
    for (const worker of workers) await worker.close();
    for (const test of opened) await test.dispose();
    workers = [];
    opened = [];
  });

  // A worker thread costs ~0.6 s to start from source (tsx in the thread): the last two tests
  // share one on a store of their own. The first user finds the store empty (tests run in order).
  let shared: Promise<{ test: TestStore; worker: WorkerProjector }> | null = null;
  const sharedWorker = () =>
    (shared ??= (async () => {
      const test = await openTestStore("sqlite");
      if (test.store.sqliteFile === null) throw new Error("expected a SQLite store");
      return { test, worker: await WorkerProjector.open(test.store.sqliteFile) };
    })());
  afterAll(async () => {
    if (shared === null) return;
    const { test, worker } = await shared;
    await worker.close();
    await test.dispose();
  });

  it("keeps the store equal to the core through a queue, across a restart, with replayed batches", async () => {
    const test = await open();
    const cut = Math.floor(RUN.batches.length / 2);
    const first = await startWorker(test.store.sqliteFile);
    expect(first.lastSequence).toBe(0);
    const queue = new ProjectorQueue(first, { maxEventsPerTransaction: 300 });
    for (const batch of RUN.batches.slice(0, cut)) expect(queue.offer(batch)).toBe(true);
    await queue.flush();
    const cursor = RUN.batches[cut - 1].commands.at(-1)!.sequence;
    expect(first.lastSequence).toBe(cursor);
    // The main thread's own connection sees the worker's commits.
    expect(await projectedSequence(test.store.db)).toBe(cursor);
    await queue.close();
    await first.close();
    expect(first.running).toBe(false);

    // A restarted process: a new worker resumes at the stored cursor; a replay from before it
    // (as the runtime does from an older snapshot) changes nothing it already wrote.
    const store = await test.reopen();
    const second = await startWorker(store.sqliteFile);
    expect(second.lastSequence).toBe(cursor);
    const queue2 = new ProjectorQueue(second, { maxEventsPerTransaction: 300 });
    for (const batch of RUN.batches.slice(cut - 5)) await queue2.push(batch);
    await queue2.flush();
    expect(queue2.lastError).toBeNull();
    expect(second.lastSequence).toBe(STATE.lastSequence);
    await expectProjectionMatchesCore(store, RUN.events, STATE);
    await queue2.close();

    // Byte for byte what the in-process projector writes is checked by projector.test.ts; here,
    // applying everything again through the worker is a no-op.
    const before = await dumpProjection(store);
    expect((await second.applyBatch(merged(RUN.batches))).appliedEvents).toBe(0);
    expect(await dumpProjection(store)).toEqual(before);
  });

  it("close() lets the batch in flight commit, then stops the thread", async () => {
    const test = await open();
    const worker = await startWorker(test.store.sqliteFile);
    const all = merged(RUN.batches);
    const applying = worker.applyBatch(all);
    await worker.close();
    expect(worker.running).toBe(false);
    expect((await applying).lastSequence).toBe(STATE.lastSequence);
    expect(await projectedSequence(test.store.db)).toBe(STATE.lastSequence);
    await expect(worker.applyBatch(RUN.batches[0])).rejects.toThrow(/closed/);
  });

  it("surfaces a failed write as an error of applyBatch, rolled back, and keeps working", async () => {
    const { test, worker } = await sharedWorker();
    // Skipping the setup: the projector refuses events about orders it never saw.
    const tail = merged(RUN.batches.slice(Math.floor(RUN.batches.length / 2)));
    await expect(worker.applyBatch(tail)).rejects.toBeInstanceOf(ProjectorThreadError);
    expect(await projectedSequence(test.store.db)).toBe(0);
    expect(worker.running).toBe(true);
    await worker.applyBatch(merged(RUN.batches));
    await expectProjectionMatchesCore(test.store, RUN.events, STATE);
  });

  it("refuses a second batch while one is in flight (the queue sends one at a time)", async () => {
    const { worker } = await sharedWorker();
    const first = worker.applyBatch(RUN.batches[0]);
    await expect(worker.applyBatch(RUN.batches[1])).rejects.toThrow(/in flight/);
    await first;
  });
});

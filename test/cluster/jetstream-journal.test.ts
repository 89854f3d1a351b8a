// The JetStream journal against the real local NATS server (127.0.0.1:4222): each test uses a
// stream of its own, deleted afterwards.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JetStreamJournal, JournalFencedError } from "../../src/cluster/jetstream-journal.ts";
import { BULWARK_NATS_URL, connectNats } from "../../src/cluster/nats-connection.ts";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import { CommandDecoder, CommandEncoder } from "../../src/journal/command-codec.ts";
import { JournalFailedError, JournalFullError } from "../../src/journal/journal.ts";
import { recover } from "../../src/runtime/recovery.ts";
import { Sequencer } from "../../src/runtime/sequencer.ts";
import { SnapshotStore } from "../../src/runtime/snapshot-store.ts";
import {
  STREAM_CORE_LIMITS,
  STREAM_TIMESTAMP_MS,
  stampedStream,
  stampedStreamCommand,
  streamCommand,
} from "../runtime/command-stream.ts";

const SEED = 12;
let nc: NatsConnection;
const streams: string[] = [];
const tempDirs: string[] = [];

beforeAll(async () => {
  nc = await connectNats(BULWARK_NATS_URL, {
    name: "bulwark-test-jetstream-journal",
    maxReconnectAttempts: 0,
  });
});

afterEach(async () => {
  const jsm = await jetstreamManager(nc);
  for (const name of streams.splice(0)) await jsm.streams.delete(name).catch(() => false);
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

afterAll(async () => {
  await nc.close();
});

/** A fresh stream name and subject for one test (deleted by afterEach). */
function freshStream(): { streamName: string; subject: string } {
  const id = randomBytes(6).toString("hex");
  const streamName = `BULWARK_TEST_JOURNAL_${id}`;
  streams.push(streamName);
  return { streamName, subject: `bulwark.test.journal.${id}` };
}

function payloadFor(sequence: number): Uint8Array {
  const bytes = new Uint8Array(1 + (sequence % 7) * 13);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (sequence * 31 + i * 7) & 0xff;
  return bytes;
}

function collect(journal: JetStreamJournal, from: number): { sequence: number; payload: Uint8Array }[] {
  return [...journal.replay(from)].map((r) => ({ sequence: r.sequence, payload: r.payload.slice() }));
}

async function streamState(streamName: string): Promise<{ first: number; last: number; messages: number }> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(streamName);
  return { first: state.first_seq, last: state.last_seq, messages: state.messages };
}

function cleanHash(to: number): string {
  const core = new Core(STREAM_CORE_LIMITS);
  const events: CoreEvent[] = [];
  const commands = stampedStream(SEED, 1, to);
  for (let i = 0; i < commands.length; i += 1024) core.applyBatch(commands.slice(i, i + 1024), events);
  return core.stateHash();
}

describe("JetStreamJournal", () => {
  it("round-trips raw and encoded records byte for byte through append, flush and reopen", async () => {
    const names = freshStream();
    const journal = await JetStreamJournal.open({ connection: nc, ...names });
    expect([journal.firstSequence, journal.lastSequence, journal.durableSequence]).toEqual([0, 0, 0]);
    const encoder = new CommandEncoder();
    const commands = stampedStream(SEED, 1, 20);
    const expected: Uint8Array[] = [];
    for (let s = 1; s <= 40; s++) {
      if (s <= 20) {
        journal.appendEncoded(s, commands[s - 1], encoder);
        expected.push(encoder.encode(commands[s - 1]).slice());
      } else {
        journal.append(s, payloadFor(s));
        expected.push(payloadFor(s));
      }
      // Several flushes in flight: later appends join the next round.
      if (s % 9 === 0) void journal.flush();
    }
    await journal.flush();
    expect(journal.durableSequence).toBe(40);
    await journal.close();
    expect(await streamState(names.streamName)).toEqual({ first: 1, last: 40, messages: 40 });

    const reopened = await JetStreamJournal.open({ connection: nc, ...names });
    expect([reopened.firstSequence, reopened.lastSequence, reopened.durableSequence]).toEqual([1, 40, 40]);
    const records = collect(reopened, 1);
    expect(records.map((r) => r.sequence)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    for (let i = 0; i < 40; i++)
      expect(Buffer.from(records[i].payload).equals(Buffer.from(expected[i]))).toBe(true);
    const decoder = new CommandDecoder();
    const decoded: unknown[] = [];
    const visited = reopened.forEachRecord(15, (sequence, bytes, start, end) => {
      if (sequence <= 20) decoded.push(decoder.decode(bytes, start, end));
    });
    expect(visited).toBe(26);
    expect(decoded).toEqual(commands.slice(14, 20));
    expect(() => [...reopened.replay(0)]).toThrow(RangeError);
    // Reopened from a later point: only that tail is loaded.
    const tail = await JetStreamJournal.open({ connection: nc, ...names, fromSequence: 31 });
    expect([tail.firstSequence, tail.lastSequence]).toEqual([31, 40]);
    expect(collect(tail, 31).map((r) => r.sequence)).toEqual([31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    expect(() => [...tail.replay(30)]).toThrow(/starts at 31/);
    await reopened.close();
    await tail.close();
  });

  it("carries a Sequencer over a real Core: close, reopen, recover to the same state hash", async () => {
    const names = freshStream();
    const limits = STREAM_CORE_LIMITS;
    const snapshotDir = mkdtempSync(join(tmpdir(), "bulwark-js-journal-"));
    tempDirs.push(snapshotDir);
    const run = async (from: number, to: number): Promise<string> => {
      const journal = await JetStreamJournal.open({ connection: nc, ...names });
      const { core } = recover({
        journal,
        snapshots: new SnapshotStore({ dir: snapshotDir }),
        createCore: () => new Core(limits),
        restoreCore: (bytes) => Core.restore(bytes, limits),
        maxCommandsPerBatch: 1024,
      });
      expect(core.lastSequence).toBe(from - 1);
      const sequencer = new Sequencer({
        core,
        journal,
        clock: () => STREAM_TIMESTAMP_MS,
        maxQueuedCommands: 10_000,
        maxCommandsPerBatch: 1024,
      });
      const results = [];
      for (let s = from; s <= to; s++) results.push(sequencer.submit(streamCommand(SEED, s)));
      const sequences = (await Promise.all(results)).map((r) => r.sequence);
      expect(sequences[sequences.length - 1]).toBe(to);
      expect(journal.durableSequence).toBe(to);
      await sequencer.close();
      await journal.close();
      return core.stateHash();
    };
    const first = await run(1, 300);
    expect(first).toBe(cleanHash(300));
    const second = await run(301, 600);
    expect(second).toBe(cleanHash(600));

    const journal = await JetStreamJournal.open({ connection: nc, ...names });
    const { core, report } = recover({
      journal,
      snapshots: new SnapshotStore({ dir: snapshotDir }),
      createCore: () => new Core(limits),
      restoreCore: (bytes) => Core.restore(bytes, limits),
      maxCommandsPerBatch: 1024,
    });
    expect(report.replayedCommandCount).toBe(600);
    expect(core.stateHash()).toBe(second);
    await journal.close();
  });

  // N = 0 too: the first record ever is fenced as well (expected last sequence 0, and subject sequence 0).
  it.each([3, 0])(
    "fences: of two writers opened at the same point N = %i, exactly one appends N+1",
    async (n) => {
      const names = freshStream();
      const setup = await JetStreamJournal.open({ connection: nc, ...names });
      for (let s = 1; s <= n; s++) setup.append(s, payloadFor(s));
      await setup.close();

      const a = await JetStreamJournal.open({ connection: nc, ...names });
      const b = await JetStreamJournal.open({ connection: nc, ...names });
      a.append(n + 1, new Uint8Array([0xaa]));
      b.append(n + 1, new Uint8Array([0xbb]));
      const outcomes = await Promise.allSettled([a.flush(), b.flush()]);
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      const loserIndex = outcomes.findIndex((o) => o.status === "rejected");
      const loser = loserIndex === 0 ? a : b;
      const winnerByte = loserIndex === 0 ? 0xbb : 0xaa;
      const reason = (outcomes[loserIndex] as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(JournalFencedError);
      expect(reason).toBeInstanceOf(JournalFailedError);
      expect(String(reason.message)).toMatch(/fenced: another writer/);
      // The loser stays failed: every later call rejects.
      expect(() => loser.append(n + 2, new Uint8Array([1]))).toThrow(/fenced/);
      await expect(loser.flush()).rejects.toThrow(/fenced/);
      await loser.close();

      expect(await streamState(names.streamName)).toEqual({ first: 1, last: n + 1, messages: n + 1 });
      const check = await JetStreamJournal.open({ connection: nc, ...names });
      expect(collect(check, n + 1)).toEqual([{ sequence: n + 1, payload: new Uint8Array([winnerByte]) }]);
      await check.close();
      await (loserIndex === 0 ? b : a).close();
    },
  );

  it("fences a pipelined batch: once a foreign record is in between, none of the later ones lands", async () => {
    const names = freshStream();
    const a = await JetStreamJournal.open({ connection: nc, ...names });
    const b = await JetStreamJournal.open({ connection: nc, ...names });
    b.append(1, new Uint8Array([0xbb]));
    await b.flush();
    // a believes the stream is empty: its 1 fails, and its 2..5 (expecting its own 1) fail too.
    for (let s = 1; s <= 5; s++) a.append(s, new Uint8Array([0xaa, s]));
    await expect(a.flush()).rejects.toThrow(JournalFencedError);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await streamState(names.streamName)).toEqual({ first: 1, last: 1, messages: 1 });
    b.append(2, new Uint8Array([0xbb, 2]));
    await b.flush();
    await a.close();
    await b.close();
  });

  it("bounds the pending buffer with JournalFullError, and takes records again after a flush", async () => {
    const names = freshStream();
    const journal = await JetStreamJournal.open({ connection: nc, ...names, maxPendingBytes: 64 * 1024 });
    const payload = new Uint8Array(15 * 1024);
    let sequence = 0;
    while (journal.hasRoomFor(payload.length)) journal.append(++sequence, payload);
    expect(sequence).toBe(4);
    expect(() => journal.append(sequence + 1, payload)).toThrow(JournalFullError);
    expect(journal.lastSequence).toBe(4);
    await journal.flush();
    expect(journal.hasRoomFor(payload.length)).toBe(true);
    journal.append(5, payload);
    await journal.close();
    expect(await streamState(names.streamName)).toEqual({ first: 1, last: 5, messages: 5 });
  });

  it("prunes through a sequence and opens again from the pruned point", async () => {
    const names = freshStream();
    const journal = await JetStreamJournal.open({ connection: nc, ...names });
    for (let s = 1; s <= 10; s++) journal.append(s, payloadFor(s));
    // Not durable yet: nothing is purged past durableSequence.
    expect(await journal.pruneThrough(10)).toBe(0);
    await journal.flush();
    expect(await journal.pruneThrough(6)).toBe(1);
    expect(journal.firstSequence).toBe(7);
    expect(await journal.pruneThrough(6)).toBe(0);
    await journal.close();
    expect(await streamState(names.streamName)).toEqual({ first: 7, last: 10, messages: 4 });

    const reopened = await JetStreamJournal.open({ connection: nc, ...names, fromSequence: 7 });
    expect([reopened.firstSequence, reopened.lastSequence]).toEqual([7, 10]);
    expect(collect(reopened, 7)).toEqual([7, 8, 9, 10].map((s) => ({ sequence: s, payload: payloadFor(s) })));
    expect(() => [...reopened.replay(6)]).toThrow(/starts at 7/);
    // Pruned empty: the last sequence survives, and the next record is 11.
    expect(await reopened.pruneThrough(10)).toBe(1);
    expect([reopened.firstSequence, reopened.lastSequence]).toEqual([0, 10]);
    await reopened.close();
    const empty = await JetStreamJournal.open({ connection: nc, ...names });
    expect([empty.firstSequence, empty.lastSequence]).toEqual([0, 10]);
    expect(() => empty.append(1, payloadFor(1))).toThrow(RangeError);
    empty.append(11, payloadFor(11));
    await empty.close();
    expect(await streamState(names.streamName)).toEqual({ first: 11, last: 11, messages: 1 });
  });

  it("refuses bad input and publishes nothing", async () => {
    const names = freshStream();
    const journal = await JetStreamJournal.open({ connection: nc, ...names });
    expect(() => journal.append(2, payloadFor(2))).toThrow(/does not follow 0/);
    expect(() => journal.append(0, payloadFor(0))).toThrow(RangeError);
    expect(() => journal.appendEncoded(5, stampedStreamCommand(SEED, 5), new CommandEncoder())).toThrow(
      RangeError,
    );
    expect(() => journal.append(1, new Uint8Array(journal.maxPayloadBytes + 1))).toThrow(/exceeds/);
    journal.append(1, payloadFor(1));
    expect(() => journal.append(3, payloadFor(3))).toThrow(/does not follow 1/);
    expect(() => journal.append(1, payloadFor(1))).toThrow(/does not follow 1/);
    expect(journal.lastSequence).toBe(1);
    await journal.flush();
    await journal.close();
    expect(() => journal.append(2, payloadFor(2))).toThrow(JournalFailedError);
    expect(await streamState(names.streamName)).toEqual({ first: 1, last: 1, messages: 1 });
    await expect(JetStreamJournal.open({ connection: nc, ...names, fromSequence: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(JetStreamJournal.open({ connection: nc, ...names, maxReplayBytes: 0 })).rejects.toThrow(
      /maxReplayBytes/,
    );
    await expect(
      JetStreamJournal.open({ connection: nc, streamName: names.streamName, subject: "bulwark.other" }),
    ).rejects.toThrow(/subjects/);
  });
});

import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Command } from "../../src/core/commands.ts";
import { CommandEncodeError, CommandEncoder, encodeCommand } from "../../src/journal/command-codec.ts";
import { FileJournal, type FileJournalOptions } from "../../src/journal/file-journal.ts";
import {
  JournalCorruptError,
  JournalFailedError,
  JournalFullError,
  type PayloadEncoder,
} from "../../src/journal/journal.ts";
import {
  RECORD_HEADER_SIZE_BYTES,
  SEGMENT_HEADER_SIZE_BYTES,
  segmentFileName,
} from "../../src/journal/segment-format.ts";

/** Deterministic payload of 10..41 bytes so records differ in content and size. */
function payloadFor(sequence: number): Uint8Array {
  const bytes = new Uint8Array(10 + (sequence % 32));
  for (let i = 0; i < bytes.length; i++) bytes[i] = (sequence * 31 + i * 7) & 0xff;
  return bytes;
}

function recordSizeBytes(sequence: number): number {
  return RECORD_HEADER_SIZE_BYTES + payloadFor(sequence).length;
}

/** Byte offset of record `sequence` in a segment starting at `firstSequence`. */
function recordOffset(firstSequence: number, sequence: number): number {
  let offset = SEGMENT_HEADER_SIZE_BYTES;
  for (let s = firstSequence; s < sequence; s++) offset += recordSizeBytes(s);
  return offset;
}

let dir: string;
const opened: FileJournal[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-journal-"));
});

afterEach(async () => {
  for (const journal of opened.splice(0)) await journal.close().catch(() => undefined);
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

async function openJournal(options: Partial<FileJournalOptions> = {}): Promise<FileJournal> {
  const journal = await FileJournal.open({ dir, ...options });
  opened.push(journal);
  return journal;
}

async function writeRecords(journal: FileJournal, from: number, to: number): Promise<void> {
  for (let s = from; s <= to; s++) journal.append(s, payloadFor(s));
  await journal.flush();
}

/** Writes records 1..count, closes, returns the path of the only segment. */
async function writeClosedJournal(count: number): Promise<string> {
  const journal = await openJournal();
  await writeRecords(journal, 1, count);
  await journal.close();
  return join(dir, segmentFileName(1));
}

function replayed(journal: FileJournal, from = 1): { sequence: number; payload: number[] }[] {
  return [...journal.replay(from)].map((r) => ({ sequence: r.sequence, payload: [...r.payload] }));
}

function expected(from: number, to: number): { sequence: number; payload: number[] }[] {
  const out = [];
  for (let s = from; s <= to; s++) out.push({ sequence: s, payload: [...payloadFor(s)] });
  return out;
}

async function fileHandlePrototype(): Promise<{ datasync: () => Promise<void> }> {
  const handle = await open(join(dir, "probe"), "w");
  const prototype = Object.getPrototypeOf(handle);
  await handle.close();
  rmSync(join(dir, "probe"));
  return prototype;
}

describe("FileJournal group commit", () => {
  it("makes 1,000 appends durable with one fdatasync", async () => {
    const datasync = vi.spyOn(await fileHandlePrototype(), "datasync");
    const journal = await openJournal();
    for (let s = 1; s <= 1000; s++) journal.append(s, payloadFor(s));
    const flushes = [journal.flush(), journal.flush(), journal.flush()];
    await Promise.all(flushes);
    expect(datasync).toHaveBeenCalledTimes(1);
    expect(journal.stats.dataSyncCount).toBe(1);
    expect(journal.durableSequence).toBe(1000);
    expect(replayed(journal)).toEqual(expected(1, 1000));
  });

  it("shares syncs between flushes requested while one is in progress", async () => {
    const journal = await openJournal();
    const flushes: Promise<void>[] = [];
    for (let s = 1; s <= 5000; s++) {
      journal.append(s, payloadFor(s));
      flushes.push(journal.flush()); // a flush per command, as a naive writer would do
    }
    await Promise.all(flushes);
    // The first flush writes record 1 alone; everything appended during its sync goes in the next round.
    expect(journal.stats.dataSyncCount).toBeLessThanOrEqual(3);
    expect(journal.durableSequence).toBe(5000);
  });

  it("resolves a flush only after its records are synced", async () => {
    const journal = await openJournal();
    journal.append(1, payloadFor(1));
    let done = false;
    const flushed = journal.flush().then(() => {
      done = true;
    });
    expect(done).toBe(false);
    expect(journal.durableSequence).toBe(0);
    await flushed;
    expect(journal.durableSequence).toBe(1);
    expect(journal.stats.dataSyncCount).toBe(1);
  });

  it("bounds the pending buffer: append throws JournalFullError until a flush drains it", async () => {
    const maxPendingSizeBytes = 1024 * 1024 + 64 * 1024;
    const journal = await openJournal({ maxPendingSizeBytes });
    const payload = new Uint8Array(1000);
    let sequence = 0;
    while (journal.hasRoomFor(payload.length)) journal.append(++sequence, payload);
    expect(journal.pendingSizeBytes).toBeGreaterThan(
      maxPendingSizeBytes - 2 * 1016 - SEGMENT_HEADER_SIZE_BYTES,
    );
    let thrown: unknown = null;
    try {
      // hasRoomFor is conservative (reserves a segment header): fill the last bytes, then overflow.
      for (let i = 0; i < 3; i++) journal.append(++sequence, payload);
    } catch (error) {
      thrown = error;
      sequence--;
    }
    expect(thrown).toBeInstanceOf(JournalFullError);
    await journal.flush();
    expect(journal.hasRoomFor(payload.length)).toBe(true);
    journal.append(++sequence, payload);
    await journal.flush();
    expect([...journal.replay(1)].length).toBe(sequence);
  });

  it("asserts strictly consecutive sequences", async () => {
    const journal = await openJournal();
    expect(() => journal.append(0, payloadFor(0))).toThrow(/positive safe integer/);
    journal.append(7, payloadFor(7));
    expect(() => journal.append(7, payloadFor(7))).toThrow(/does not follow 7/);
    expect(() => journal.append(9, payloadFor(9))).toThrow(/does not follow 7/);
    journal.append(8, payloadFor(8));
    await journal.flush();
    expect(journal.firstSequence).toBe(7);
    expect(replayed(journal, 7)).toEqual(expected(7, 8));
  });

  it("refuses appends after close", async () => {
    const journal = await openJournal();
    await writeRecords(journal, 1, 3);
    await journal.close();
    expect(() => journal.append(4, payloadFor(4))).toThrow(JournalFailedError);
  });
});

describe("FileJournal segments", () => {
  it("rolls segments by size and replays across them, also after reopening", async () => {
    const journal = await openJournal({ segmentSizeBytes: 1024 });
    await writeRecords(journal, 1, 300);
    const files = readdirSync(dir).filter((name) => name.endsWith(".seg"));
    expect(files.length).toBeGreaterThan(10);
    expect(journal.segmentCount).toBe(files.length);
    for (const name of files) expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(1024);
    expect(replayed(journal, 123)).toEqual(expected(123, 300));
    await journal.close();

    const reopened = await openJournal({ segmentSizeBytes: 1024 });
    expect(reopened.openReport.truncatedBytes).toBe(0);
    expect(reopened.lastSequence).toBe(300);
    await writeRecords(reopened, 301, 400);
    expect(replayed(reopened)).toEqual(expected(1, 400));
  });

  it("prunes whole segments covered by a snapshot and refuses to replay before them", async () => {
    const journal = await openJournal({ segmentSizeBytes: 1024 });
    await writeRecords(journal, 1, 300);
    const before = journal.segmentCount;
    const pruned = await journal.pruneThrough(150);
    expect(pruned).toBeGreaterThan(0);
    expect(journal.segmentCount).toBe(before - pruned);
    expect(journal.firstSequence).toBeLessThanOrEqual(150);
    expect(journal.firstSequence).toBeGreaterThan(100);
    expect(() => [...journal.replay(1)]).toThrow(/journal starts at/);
    expect(replayed(journal, 151)).toEqual(expected(151, 300));
    // The last segment always stays, so the journal still knows where it ends.
    await journal.pruneThrough(1_000_000);
    expect(journal.segmentCount).toBeGreaterThanOrEqual(1);
    expect(journal.lastSequence).toBe(300);
    await journal.close();

    const reopened = await openJournal({ segmentSizeBytes: 1024 });
    expect(reopened.firstSequence).toBe(journal.firstSequence);
    expect(reopened.lastSequence).toBe(300);
  });
});

describe("FileJournal open: torn tails are cut and reported", () => {
  const count = 50;
  const lastOffset = recordOffset(1, count);
  const endOffset = recordOffset(1, count + 1);

  async function expectTruncatedTo(lastSequence: number, truncatedBytes: number): Promise<void> {
    const journal = await openJournal();
    expect(journal.openReport.truncatedBytes).toBe(truncatedBytes);
    expect(journal.openReport.truncatedFile).toBe(join(dir, segmentFileName(1)));
    expect(journal.lastSequence).toBe(lastSequence);
    expect(replayed(journal)).toEqual(expected(1, lastSequence));
    // It continues where the good records end, and a second open finds nothing to cut.
    await writeRecords(journal, lastSequence + 1, lastSequence + 5);
    await journal.close();
    const again = await openJournal();
    expect(again.openReport.truncatedBytes).toBe(0);
    expect(replayed(again)).toEqual(expected(1, lastSequence + 5));
  }

  it("cuts a truncated record header", async () => {
    const path = await writeClosedJournal(count);
    truncateSync(path, lastOffset + 7);
    await expectTruncatedTo(count - 1, 7);
  });

  it("cuts a truncated payload", async () => {
    const path = await writeClosedJournal(count);
    truncateSync(path, endOffset - 3);
    await expectTruncatedTo(count - 1, endOffset - 3 - lastOffset);
  });

  it("cuts a last record with a bad checksum", async () => {
    const path = await writeClosedJournal(count);
    const bytes = readFileSync(path);
    bytes[endOffset - 1] ^= 0x40;
    writeFileSync(path, bytes);
    await expectTruncatedTo(count - 1, endOffset - lastOffset);
  });

  it("cuts a zero-filled tail (preallocated or unwritten blocks)", async () => {
    const path = await writeClosedJournal(count);
    appendFileSync(path, new Uint8Array(4096));
    await expectTruncatedTo(count, 4096);
  });

  it("deletes a new segment whose header was torn", async () => {
    await writeClosedJournal(count);
    const torn = join(dir, segmentFileName(count + 1));
    writeFileSync(torn, Uint8Array.of(0x42, 0x57, 0x4a)); // 3 bytes of "BWJSEG01"
    const journal = await openJournal();
    expect(journal.openReport).toMatchObject({ truncatedFile: torn, truncatedBytes: 3 });
    expect(readdirSync(dir)).not.toContain(segmentFileName(count + 1));
    expect(journal.lastSequence).toBe(count);
  });
});

describe("FileJournal open: damage that is not a torn tail stops the open", () => {
  it("reports corruption in the middle of the last segment with file and offset", async () => {
    const path = await writeClosedJournal(50);
    const bytes = readFileSync(path);
    const offset = recordOffset(1, 20);
    bytes[offset + RECORD_HEADER_SIZE_BYTES + 2] ^= 0x01;
    writeFileSync(path, bytes);
    const error = await FileJournal.open({ dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalCorruptError);
    expect(error).toMatchObject({ file: path, offset });
    expect(String(error)).toMatch(/checksum mismatch; a valid later record follows/);
  });

  it("reports a zeroed hole followed by good records", async () => {
    const path = await writeClosedJournal(50);
    const bytes = readFileSync(path);
    const offset = recordOffset(1, 30);
    bytes.fill(0, offset, offset + 5);
    writeFileSync(path, bytes);
    await expect(FileJournal.open({ dir })).rejects.toMatchObject({ name: "JournalCorruptError", offset });
  });

  it("reports a bad tail of a segment that is not the last one", async () => {
    const journal = await openJournal({ segmentSizeBytes: 1024 });
    await writeRecords(journal, 1, 100);
    await journal.close();
    const first = join(dir, segmentFileName(1));
    truncateSync(first, statSync(first).size - 1);
    await expect(FileJournal.open({ dir })).rejects.toMatchObject({
      name: "JournalCorruptError",
      file: first,
    });
  });

  it("reports a missing segment in the middle", async () => {
    const journal = await openJournal({ segmentSizeBytes: 1024 });
    await writeRecords(journal, 1, 100);
    await journal.close();
    const names = readdirSync(dir).sort();
    rmSync(join(dir, names[1]));
    await expect(FileJournal.open({ dir })).rejects.toThrow(/but the previous one ends at/);
  });
});

/** A command per sequence, of varying kinds and sizes (adjustBalance carries a string). */
function commandFor(sequence: number): Command {
  const timestampMs = 1_700_000_000_000 + sequence;
  if (sequence % 7 === 0) {
    return { kind: "cancelOrder", sequence, timestampMs, userId: sequence % 97, orderId: sequence - 3 };
  }
  if (sequence % 11 === 0) {
    const reason = `deposit ${"x".repeat(sequence % 50)}`;
    return {
      kind: "adjustBalance",
      sequence,
      timestampMs,
      userId: 1,
      assetId: 2,
      amountUnits: sequence,
      reason,
    };
  }
  return {
    kind: "placeOrder",
    sequence,
    timestampMs,
    userId: 1 + (sequence % 5000),
    marketId: 1,
    side: sequence % 2 === 0 ? "buy" : "sell",
    orderType: "limit",
    priceTicks: 100_000 + (sequence % 500),
    quantityLots: 1 + (sequence % 100),
    quoteAmountUnits: 0,
    triggerPriceTicks: 0,
    timeInForce: "gtc",
    postOnly: false,
    clientOrderId: sequence,
    selfTradePrevention: null,
  };
}

function segmentFiles(at: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(at)
    .filter((n) => n.endsWith(".seg"))
    .sort()) {
    files.set(name, readFileSync(join(at, name)).toString("hex"));
  }
  return files;
}

describe("FileJournal appendEncoded (encode in place)", () => {
  it("writes the same files as append() of the encoded bytes, across segment rolls", async () => {
    const other = mkdtempSync(join(tmpdir(), "bulwark-journal-copy-"));
    try {
      const inPlace = await openJournal({ segmentSizeBytes: 2048 });
      const copied = await FileJournal.open({ dir: other, segmentSizeBytes: 2048 });
      const encoder = new CommandEncoder();
      for (let s = 1; s <= 500; s++) {
        expect(inPlace.appendEncoded(s, commandFor(s), encoder)).toBe(encodeCommand(commandFor(s)).length);
        copied.append(s, encodeCommand(commandFor(s)));
        if (s % 97 === 0) await Promise.all([inPlace.flush(), copied.flush()]);
      }
      await inPlace.close();
      await copied.close();
      const files = segmentFiles(dir);
      expect(files.size).toBeGreaterThan(10);
      expect(files).toEqual(segmentFiles(other));
      const reopened = await openJournal({ segmentSizeBytes: 2048 });
      const payloads = [...reopened.replay(1)].map((r) => [...r.payload]);
      expect(payloads).toEqual(Array.from({ length: 500 }, (_, i) => [...encodeCommand(commandFor(i + 1))]));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("appends nothing when the encoder throws", async () => {
    const journal = await openJournal();
    const encoder = new CommandEncoder();
    journal.appendEncoded(1, commandFor(1), encoder);
    const bad = { ...commandFor(2), side: "up" } as unknown as Command;
    expect(() => journal.appendEncoded(2, bad, encoder)).toThrow(CommandEncodeError);
    expect(journal.lastSequence).toBe(1);
    journal.appendEncoded(2, commandFor(2), encoder);
    await journal.flush();
    expect([...journal.replay(1)].map((r) => [...r.payload])).toEqual([
      [...encodeCommand(commandFor(1))],
      [...encodeCommand(commandFor(2))],
    ]);
  });

  it("throws JournalFullError when the pending buffer has no room, and appends nothing", async () => {
    const maxPendingSizeBytes = 1024 * 1024 + 64;
    const journal = await openJournal({ maxPendingSizeBytes });
    const filler = new Uint8Array(1024 * 1024 - 32);
    journal.append(1, filler);
    expect(() => journal.appendEncoded(2, commandFor(2), new CommandEncoder())).toThrow(JournalFullError);
    expect(journal.lastSequence).toBe(1);
    await journal.flush();
    journal.appendEncoded(2, commandFor(2), new CommandEncoder());
    await journal.flush();
    expect([...journal.replay(1)].length).toBe(2);
  });

  it("refuses an encoder that reports an end outside the range it was given", async () => {
    const journal = await openJournal();
    const liar: PayloadEncoder<number> = { encodeInto: (_value, _target, _view, offset) => offset - 1 };
    expect(() => journal.appendEncoded(1, 0, liar)).toThrow(/outside/);
    expect(journal.lastSequence).toBe(0);
  });
});

describe("FileJournal forEachRecord and the verified bytes kept from open", () => {
  /** Writes records 1..count in segments of segmentSizeBytes, closes. */
  async function writeClosed(count: number, segmentSizeBytes: number): Promise<void> {
    const journal = await openJournal({ segmentSizeBytes });
    await writeRecords(journal, 1, count);
    await journal.close();
  }

  function visited(journal: FileJournal, from: number): { sequence: number; payload: number[] }[] {
    const out: { sequence: number; payload: number[] }[] = [];
    const count = journal.forEachRecord(from, (sequence, bytes, start, end) => {
      out.push({ sequence, payload: [...bytes.subarray(start, end)] });
    });
    expect(count).toBe(out.length);
    return out;
  }

  /** Flips a payload byte of record `sequence` in the segment file that holds it. */
  function damageRecord(sequence: number): { file: string; offset: number } {
    const names = readdirSync(dir)
      .filter((n) => n.endsWith(".seg"))
      .sort();
    const firsts = names.map((n) => Number(n.slice(0, 20)));
    let index = firsts.length - 1;
    while (firsts[index] > sequence) index--;
    const file = join(dir, names[index]);
    const bytes = readFileSync(file);
    const offset = recordOffset(firsts[index], sequence);
    bytes[offset + RECORD_HEADER_SIZE_BYTES + 1] ^= 0x10;
    writeFileSync(file, bytes);
    return { file, offset };
  }

  it("visits what replay() yields, from any sequence, across segments", async () => {
    await writeClosed(300, 1024);
    for (const from of [1, 2, 57, 150, 299, 300]) {
      const journal = await openJournal({ segmentSizeBytes: 1024 });
      expect(visited(journal, from)).toEqual(expected(from, 300));
      expect(visited(journal, from)).toEqual(replayed(journal, from));
      await journal.close();
    }
  });

  it("first replay uses the bytes open verified; later replays read the disk and checksum again", async () => {
    await writeClosed(50, 1024 * 1024);
    const journal = await openJournal();
    const { file, offset } = damageRecord(20);
    // The damage came after open checked the file: the bytes open verified are replayed.
    expect(visited(journal, 1)).toEqual(expected(1, 50));
    // The cache went with that replay: the next one reads the file and finds the damage.
    expect(() => visited(journal, 1)).toThrow(JournalCorruptError);
    expect(() => [...journal.replay(1)]).toThrow(expect.objectContaining({ file, offset }));
    await journal.close();
    // And the next open refuses the journal (damage followed by good records).
    await expect(FileJournal.open({ dir })).rejects.toBeInstanceOf(JournalCorruptError);
  });

  it("with maxVerifiedCacheSizeBytes 0 every replay checksums what it reads", async () => {
    await writeClosed(50, 1024 * 1024);
    const journal = await openJournal({ maxVerifiedCacheSizeBytes: 0 });
    const { offset } = damageRecord(20);
    expect(() => visited(journal, 1)).toThrow(
      expect.objectContaining({ offset, reason: "checksum mismatch" }),
    );
    // Records before fromSequence are skipped, not delivered: their checksum does not matter.
    expect(visited(journal, 21)).toEqual(expected(21, 50));
  });

  it("keeps only the newest segments within the budget", async () => {
    await writeClosed(300, 1024);
    expect(readdirSync(dir).filter((n) => n.endsWith(".seg")).length).toBeGreaterThan(5);
    // Room for the last segment only: it is replayed from memory, the others from disk.
    const journal = await openJournal({ segmentSizeBytes: 1024, maxVerifiedCacheSizeBytes: 1024 });
    damageRecord(299);
    expect(visited(journal, 1)).toEqual(expected(1, 300));
  });

  it("drops the kept bytes on the first append, so replay sees the records appended after open", async () => {
    await writeClosed(50, 1024 * 1024);
    const journal = await openJournal();
    const { offset } = damageRecord(20);
    await writeRecords(journal, 51, 60);
    expect(() => visited(journal, 1)).toThrow(expect.objectContaining({ offset }));
    expect(visited(journal, 21)).toEqual(expected(21, 60));
  });

  it("replays the records durable when it started, not ones made durable while it runs", async () => {
    const journal = await openJournal({ segmentSizeBytes: 1024 });
    await writeRecords(journal, 1, 40);
    const iterator = journal.replay(1)[Symbol.iterator]();
    expect(iterator.next().value?.sequence).toBe(1);
    await writeRecords(journal, 41, 200); // rolls into new segments
    const rest: number[] = [];
    for (let step = iterator.next(); !step.done; step = iterator.next()) rest.push(step.value.sequence);
    expect(rest).toEqual(Array.from({ length: 39 }, (_, i) => i + 2));
    expect(replayed(journal)).toEqual(expected(1, 200));
  });

  it("damage in a segment that was not kept is found by the first replay", async () => {
    await writeClosed(300, 1024);
    const journal = await openJournal({ segmentSizeBytes: 1024, maxVerifiedCacheSizeBytes: 1024 });
    const { file, offset } = damageRecord(5);
    expect(() => visited(journal, 1)).toThrow(expect.objectContaining({ file, offset }));
  });
});

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
import { FileJournal, type FileJournalOptions } from "../../src/journal/file-journal.ts";
import { JournalCorruptError, JournalFailedError, JournalFullError } from "../../src/journal/journal.ts";
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

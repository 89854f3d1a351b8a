// The embedded journal: append-only segment files under one directory, with group commit.
//
// append() only copies the record into an in-memory pending buffer. flush() starts (or joins)
// the single flush loop, which swaps the pending buffer with a spare one, writes the whole
// chunk, fdatasyncs once and resolves every flush() waiting on records in that chunk — so one
// sync covers all commands appended meanwhile, and appends continue into the other buffer
// while the disk works. The pending buffer has a fixed size: when it is full append() throws
// JournalFullError, and the writer must wait for a flush (hasRoomFor() tells it in advance).
//
// Opening checks every record and cuts a torn tail (segment-recovery.ts).
//
// Each record is checksummed once per open-and-replay, not twice: open keeps the bytes it has
// just verified (the newest segments, up to maxVerifiedCacheSizeBytes), and the first replay
// walks those same bytes in memory, checking only framing and sequence order. Nothing but this
// object holds them, so they cannot change between the check and the use. Damage that reaches
// the disk after open is not in them; the next open finds it. Segments that did not fit the
// cache, and every later replay, are read from disk again and checksummed as they are replayed.
// The cache is dropped by the first replay (whatever it used) and by the first append, because
// from then on the files hold records the cached bytes do not.

import { mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import {
  type Journal,
  JournalFailedError,
  JournalFullError,
  type JournalRecord,
  type PayloadEncoder,
  type RecordVisitor,
} from "./journal.ts";
import {
  checkRecordAt,
  MAX_RECORD_PAYLOAD_SIZE_BYTES,
  RECORD_HEADER_SIZE_BYTES,
  recordChecksumMatches,
  recordProblemReason,
  recordSequenceAt,
  SEGMENT_HEADER_SIZE_BYTES,
  sealRecord,
  segmentFileName,
  segmentHeaderProblem,
  writeRecord,
  writeSegmentHeader,
} from "./segment-format.ts";
import {
  corrupt,
  type JournalOpenReport,
  type RecoveredSegments,
  recoverSegments,
  type Segment,
  syncExisting,
} from "./segment-recovery.ts";

export type { JournalOpenReport };

const DEFAULT_SEGMENT_SIZE_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_PENDING_SIZE_BYTES = 8 * 1024 * 1024;
/** Two default segments: recovery replays the newest records, after the latest snapshot. */
const DEFAULT_MAX_VERIFIED_CACHE_SIZE_BYTES = 128 * 1024 * 1024;

export interface FileJournalOptions {
  dir: string;
  /** A segment is closed and a new one started when the next record would pass this size. */
  segmentSizeBytes?: number;
  /** Capacity of the pending (not yet written) buffer; two of these are allocated. */
  maxPendingSizeBytes?: number;
  /**
   * Bytes of verified segments open keeps for the first replay (newest segments first), so
   * replay neither reads nor checksums them again. 0 turns it off. See the top of this file.
   */
  maxVerifiedCacheSizeBytes?: number;
}

export interface FileJournalStats {
  /** fdatasync calls on segment files. */
  dataSyncCount: number;
  /** fsync calls on the directory (after creating or deleting segment files). */
  dirSyncCount: number;
  /** Flush-loop rounds: each writes one chunk of pending records. */
  flushRoundCount: number;
  writtenBytes: number;
}

interface RollMark {
  /** Offset in the pending buffer where the new segment's header starts. */
  offset: number;
  path: string;
}

interface Waiter {
  target: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class FileJournal implements Journal {
  readonly dir: string;
  readonly segmentSizeBytes: number;
  readonly maxPendingSizeBytes: number;
  readonly openReport: JournalOpenReport;
  readonly stats: FileJournalStats = {
    dataSyncCount: 0,
    dirSyncCount: 0,
    flushRoundCount: 0,
    writtenBytes: 0,
  };

  lastSequence: number;
  durableSequence: number;

  private readonly segments: Segment[];
  // Appender side: the segment new records go to, and its size including pending bytes.
  private tailRecordCount: number;
  private tailSizeBytes: number;
  // Pending buffer and its spare, swapped by the flush loop.
  private pending: Uint8Array;
  private pendingView: DataView;
  private spare: Uint8Array;
  private spareView: DataView;
  private pendingLength = 0;
  /** Bytes open verified, for the first replay; null once used or once anything is appended. */
  private verified: Map<number, Uint8Array> | null;
  private rollMarks: RollMark[] = [];
  // Writer side: the file the flush loop writes to.
  private file: FileHandle | null;
  private fileSizeBytes: number;
  private fileDirty = false;
  private flushing = false;
  private waiters: Waiter[] = [];
  private failure: Error | null = null;
  private closed = false;

  private constructor(options: FileJournalOptions, recovered: RecoveredSegments, file: FileHandle | null) {
    this.dir = options.dir;
    this.segmentSizeBytes = options.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES;
    this.maxPendingSizeBytes = options.maxPendingSizeBytes ?? DEFAULT_MAX_PENDING_SIZE_BYTES;
    this.openReport = recovered.report;
    this.segments = recovered.segments;
    this.lastSequence = recovered.lastSequence;
    this.durableSequence = recovered.lastSequence;
    this.tailRecordCount = recovered.tailRecordCount;
    this.tailSizeBytes = recovered.tailSizeBytes;
    this.pending = new Uint8Array(this.maxPendingSizeBytes);
    this.pendingView = new DataView(this.pending.buffer);
    this.spare = new Uint8Array(this.maxPendingSizeBytes);
    this.spareView = new DataView(this.spare.buffer);
    this.verified = recovered.verified.size > 0 ? recovered.verified : null;
    this.file = file;
    this.fileSizeBytes = recovered.tailSizeBytes;
  }

  /** Opens (creating the directory if needed), checks every record, and cuts a torn tail. */
  static async open(options: FileJournalOptions): Promise<FileJournal> {
    const smallestRoomBytes =
      SEGMENT_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES + MAX_RECORD_PAYLOAD_SIZE_BYTES;
    if ((options.maxPendingSizeBytes ?? DEFAULT_MAX_PENDING_SIZE_BYTES) < smallestRoomBytes) {
      throw new RangeError(`maxPendingSizeBytes must be at least ${smallestRoomBytes} (one largest record)`);
    }
    if ((options.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES) < SEGMENT_HEADER_SIZE_BYTES) {
      throw new RangeError(`segmentSizeBytes must be at least ${SEGMENT_HEADER_SIZE_BYTES}`);
    }
    const maxVerifiedCacheSizeBytes =
      options.maxVerifiedCacheSizeBytes ?? DEFAULT_MAX_VERIFIED_CACHE_SIZE_BYTES;
    if (!Number.isSafeInteger(maxVerifiedCacheSizeBytes) || maxVerifiedCacheSizeBytes < 0) {
      throw new RangeError("maxVerifiedCacheSizeBytes must be a non-negative safe integer");
    }
    mkdirSync(options.dir, { recursive: true });
    const recovered = recoverSegments(options.dir, maxVerifiedCacheSizeBytes);
    syncExisting(recovered.segments);
    const last = recovered.segments[recovered.segments.length - 1];
    const file = last === undefined ? null : await open(last.path, "r+");
    return new FileJournal(options, recovered, file);
  }

  get firstSequence(): number {
    return this.segments.length > 0 ? this.segments[0].firstSequence : 0;
  }

  /** Bytes appended but not yet handed to the disk. */
  get pendingSizeBytes(): number {
    return this.pendingLength;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  hasRoomFor(payloadSizeBytes: number): boolean {
    const worstCaseBytes = SEGMENT_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES + payloadSizeBytes;
    return this.pendingLength + worstCaseBytes <= this.pending.length;
  }

  append(sequence: number, payload: Uint8Array): void {
    this.assertUsable();
    this.assertNextSequence(sequence);
    if (payload.length > MAX_RECORD_PAYLOAD_SIZE_BYTES) {
      throw new RangeError(`payload of ${payload.length} bytes exceeds ${MAX_RECORD_PAYLOAD_SIZE_BYTES}`);
    }
    const recordSizeBytes = RECORD_HEADER_SIZE_BYTES + payload.length;
    const roll = this.needsRoll(recordSizeBytes);
    const neededBytes = recordSizeBytes + (roll ? SEGMENT_HEADER_SIZE_BYTES : 0);
    if (this.pendingLength + neededBytes > this.pending.length) {
      throw new JournalFullError(this.pendingLength, this.pending.length);
    }
    this.verified = null;
    if (roll) this.startSegment(sequence);
    writeRecord(this.pending, this.pendingView, this.pendingLength, sequence, payload);
    this.recordAppended(sequence, recordSizeBytes);
  }

  appendEncoded<T>(sequence: number, value: T, encoder: PayloadEncoder<T>): number {
    this.assertUsable();
    this.assertNextSequence(sequence);
    const recordOffset = this.pendingLength;
    const payloadOffset = recordOffset + RECORD_HEADER_SIZE_BYTES;
    // Keep room for a segment header: whether the record starts a new segment is known only
    // once its size is, and then the header goes in front of it.
    const roomEndOffset = this.pending.length - SEGMENT_HEADER_SIZE_BYTES;
    if (payloadOffset > roomEndOffset) throw new JournalFullError(this.pendingLength, this.pending.length);
    const payloadLimitOffset = payloadOffset + MAX_RECORD_PAYLOAD_SIZE_BYTES;
    const endLimitOffset = Math.min(roomEndOffset, payloadLimitOffset);
    const pending = this.pending;
    const end = encoder.encodeInto(value, pending, this.pendingView, payloadOffset, endLimitOffset);
    if (end < 0) {
      if (endLimitOffset === payloadLimitOffset) {
        throw new RangeError(`payload exceeds ${MAX_RECORD_PAYLOAD_SIZE_BYTES} bytes`);
      }
      throw new JournalFullError(this.pendingLength, this.pending.length);
    }
    if (!(end >= payloadOffset && end <= endLimitOffset)) {
      throw new RangeError(`encoder returned end ${end} outside ${payloadOffset}..${endLimitOffset}`);
    }
    this.verified = null;
    const payloadSizeBytes = end - payloadOffset;
    const recordSizeBytes = RECORD_HEADER_SIZE_BYTES + payloadSizeBytes;
    let sealOffset = recordOffset;
    if (this.needsRoll(recordSizeBytes)) {
      // Once per segment: move the payload behind the new segment's header (room was kept).
      pending.copyWithin(payloadOffset + SEGMENT_HEADER_SIZE_BYTES, payloadOffset, end);
      this.startSegment(sequence);
      sealOffset = this.pendingLength;
    }
    sealRecord(pending, this.pendingView, sealOffset, sequence, payloadSizeBytes);
    this.recordAppended(sequence, recordSizeBytes);
    return payloadSizeBytes;
  }

  private recordAppended(sequence: number, recordSizeBytes: number): void {
    this.pendingLength += recordSizeBytes;
    this.tailSizeBytes += recordSizeBytes;
    this.tailRecordCount++;
    this.lastSequence = sequence;
  }

  flush(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const target = this.lastSequence;
    if (this.durableSequence >= target) return Promise.resolve();
    const waiter = this.waiterFor(target);
    if (!this.flushing) void this.runFlushLoop();
    return waiter.promise;
  }

  *replay(fromSequence: number): Generator<JournalRecord> {
    const verified = this.takeVerified();
    // Records durable when the replay starts; appends meanwhile are not part of it.
    const durableSequence = this.durableSequence;
    for (const segment of this.segmentsToReplay(fromSequence, durableSequence)) {
      const { bytes, view, trusted } = this.segmentBytes(segment, verified);
      let offset = SEGMENT_HEADER_SIZE_BYTES;
      let expected = segment.firstSequence;
      // Each step advances offset by at least one record header, so this ends.
      while (offset < bytes.length && expected <= durableSequence) {
        const nextOffset = checkedRecordEnd(segment, bytes, view, offset, expected, fromSequence, trusted);
        if (expected >= fromSequence) {
          yield {
            sequence: expected,
            payload: bytes.subarray(offset + RECORD_HEADER_SIZE_BYTES, nextOffset),
          };
        }
        expected++;
        offset = nextOffset;
      }
    }
  }

  forEachRecord(fromSequence: number, visit: RecordVisitor): number {
    const verified = this.takeVerified();
    const durableSequence = this.durableSequence;
    let count = 0;
    for (const segment of this.segmentsToReplay(fromSequence, durableSequence)) {
      const { bytes, view, trusted } = this.segmentBytes(segment, verified);
      let offset = SEGMENT_HEADER_SIZE_BYTES;
      let expected = segment.firstSequence;
      // Each step advances offset by at least one record header, so this ends.
      while (offset < bytes.length && expected <= durableSequence) {
        const nextOffset = checkedRecordEnd(segment, bytes, view, offset, expected, fromSequence, trusted);
        if (expected >= fromSequence) {
          visit(expected, bytes, offset + RECORD_HEADER_SIZE_BYTES, nextOffset);
          count++;
        }
        expected++;
        offset = nextOffset;
      }
    }
    return count;
  }

  async pruneThrough(sequence: number): Promise<number> {
    // Only segments followed by one holding a durable record <= sequence: the journal then
    // always keeps a record at or past the snapshot, so its lastSequence never falls behind it.
    const coveredThrough = Math.min(sequence, this.durableSequence);
    let pruned = 0;
    while (this.segments.length > 1 && this.segments[1].firstSequence <= coveredThrough) {
      const [segment] = this.segments.splice(0, 1);
      this.verified?.delete(segment.firstSequence);
      unlinkSync(segment.path);
      // Oldest first, each durable before the next, so a crash never leaves a gap in the middle.
      await this.syncDir();
      pruned++;
    }
    return pruned;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.failure === null) await this.flush();
    this.closed = true;
    this.verified = null;
    this.failure ??= new JournalFailedError("journal closed");
    await this.file?.close();
    this.file = null;
  }

  // ---- append side

  private assertUsable(): void {
    if (this.failure !== null) throw this.failure;
  }

  private assertNextSequence(sequence: number): void {
    if (this.lastSequence === 0) {
      if (!Number.isSafeInteger(sequence) || sequence < 1) {
        throw new RangeError(`first journal sequence must be a positive safe integer, got ${sequence}`);
      }
    } else if (sequence !== this.lastSequence + 1) {
      throw new RangeError(`journal sequence ${sequence} does not follow ${this.lastSequence}`);
    }
  }

  private needsRoll(recordSizeBytes: number): boolean {
    if (this.segments.length === 0) return true;
    return this.tailRecordCount > 0 && this.tailSizeBytes + recordSizeBytes > this.segmentSizeBytes;
  }

  private startSegment(firstSequence: number): void {
    const path = join(this.dir, segmentFileName(firstSequence));
    this.rollMarks.push({ offset: this.pendingLength, path });
    writeSegmentHeader(this.pending, this.pendingLength, firstSequence);
    this.pendingLength += SEGMENT_HEADER_SIZE_BYTES;
    this.segments.push({ firstSequence, path });
    this.tailSizeBytes = SEGMENT_HEADER_SIZE_BYTES;
    this.tailRecordCount = 0;
  }

  private waiterFor(target: number): Waiter {
    const last = this.waiters[this.waiters.length - 1];
    if (last !== undefined && last.target === target) return last;
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter = { target, promise, resolve, reject };
    this.waiters.push(waiter);
    return waiter;
  }

  // ---- flush side

  private async runFlushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pendingLength > 0) {
        const chunkLastSequence = this.lastSequence;
        const { bytes, marks } = this.takePending();
        await this.writeChunk(bytes, marks);
        this.durableSequence = chunkLastSequence;
        this.stats.flushRoundCount++;
        this.resolveWaiters();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.flushing = false;
    }
  }

  /** Swaps the pending buffer with the spare so appends continue while the chunk is written. */
  private takePending(): { bytes: Uint8Array; marks: RollMark[] } {
    const full = this.pending;
    const bytes = full.subarray(0, this.pendingLength);
    const marks = this.rollMarks;
    // The chunk's buffer becomes the spare. It is not appended to again before this chunk is
    // written, because the loop takes the next chunk only after writeChunk() finished.
    const fullView = this.pendingView;
    this.pending = this.spare;
    this.pendingView = this.spareView;
    this.spare = full;
    this.spareView = fullView;
    this.pendingLength = 0;
    this.rollMarks = [];
    return { bytes, marks };
  }

  private async writeChunk(bytes: Uint8Array, marks: readonly RollMark[]): Promise<void> {
    let start = 0;
    let createdSegment = false;
    for (const mark of marks) {
      await this.writeToFile(bytes.subarray(start, mark.offset));
      await this.closeCurrentFile();
      this.file = await open(mark.path, "wx");
      this.fileSizeBytes = 0;
      createdSegment = true;
      start = mark.offset;
    }
    await this.writeToFile(bytes.subarray(start));
    await this.syncCurrentFile();
    if (createdSegment) await this.syncDir();
  }

  private async writeToFile(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    const file = this.file;
    if (file === null) throw new JournalFailedError("no segment file open for writing");
    let written = 0;
    while (written < bytes.length) {
      const result = await file.write(bytes, written, bytes.length - written, this.fileSizeBytes + written);
      written += result.bytesWritten;
    }
    this.fileSizeBytes += written;
    this.stats.writtenBytes += written;
    this.fileDirty = true;
  }

  private async syncCurrentFile(): Promise<void> {
    if (this.file === null || !this.fileDirty) return;
    await this.file.datasync();
    this.stats.dataSyncCount++;
    this.fileDirty = false;
  }

  private async closeCurrentFile(): Promise<void> {
    await this.syncCurrentFile();
    await this.file?.close();
    this.file = null;
  }

  private async syncDir(): Promise<void> {
    const dir = await open(this.dir, "r");
    try {
      await dir.sync();
      this.stats.dirSyncCount++;
    } finally {
      await dir.close();
    }
  }

  private resolveWaiters(): void {
    let resolved = 0;
    while (resolved < this.waiters.length && this.waiters[resolved].target <= this.durableSequence) {
      this.waiters[resolved].resolve();
      resolved++;
    }
    this.waiters.splice(0, resolved);
  }

  private fail(error: unknown): void {
    const failure = new JournalFailedError(`journal write failed: ${String(error)}`, { cause: error });
    this.failure = failure;
    for (const waiter of this.waiters) waiter.reject(failure);
    this.waiters = [];
  }

  // ---- replay

  /** The cache of verified bytes, handed to one replay and gone for every later one. */
  private takeVerified(): Map<number, Uint8Array> | null {
    const verified = this.verified;
    this.verified = null;
    return verified;
  }

  /** Segments holding records fromSequence..durableSequence, in order. */
  private segmentsToReplay(fromSequence: number, durableSequence: number): Segment[] {
    if (this.lastSequence === 0) return [];
    if (fromSequence < this.firstSequence) {
      throw new RangeError(`cannot replay from ${fromSequence}: the journal starts at ${this.firstSequence}`);
    }
    const out: Segment[] = [];
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i];
      const next = this.segments[i + 1];
      if (next !== undefined && next.firstSequence <= fromSequence) continue;
      if (segment.firstSequence > durableSequence) break;
      out.push(segment);
    }
    return out;
  }

  /**
   * A segment's bytes for replay: the ones open verified (trusted: same memory, checked once),
   * else the file read again in one sequential read (its records get checksummed as replayed).
   */
  private segmentBytes(
    segment: Segment,
    verified: Map<number, Uint8Array> | null,
  ): { bytes: Uint8Array; view: DataView; trusted: boolean } {
    const kept = verified?.get(segment.firstSequence);
    const bytes = kept ?? readFileSync(segment.path);
    const headerProblem = segmentHeaderProblem(bytes, segment.firstSequence);
    if (headerProblem !== null) corrupt(segment.path, 0, headerProblem);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { bytes, view, trusted: kept !== undefined };
  }
}

/**
 * Checks the framing and sequence of the record at `offset` and returns the offset past it.
 * Its checksum is checked unless the bytes are trusted (verified by open, still in memory) or
 * the record comes before fromSequence (it is skipped, not delivered).
 */
function checkedRecordEnd(
  segment: Segment,
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  expected: number,
  fromSequence: number,
  trusted: boolean,
): number {
  const nextOffset = checkRecordAt(bytes, view, offset, false);
  if (nextOffset < 0) corrupt(segment.path, offset, recordProblemReason(bytes, view, offset, nextOffset));
  const sequence = recordSequenceAt(view, offset);
  if (sequence !== expected) corrupt(segment.path, offset, `sequence ${sequence}, expected ${expected}`);
  if (!trusted && sequence >= fromSequence && !recordChecksumMatches(bytes, view, offset, nextOffset)) {
    corrupt(segment.path, offset, "checksum mismatch");
  }
  return nextOffset;
}

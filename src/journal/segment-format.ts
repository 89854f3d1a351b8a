// On-disk format of journal segment files, and the pure functions that read and check it.
//
// Segment file "<first sequence, 20 digits>.seg":
//   header  = magic "BWJSEG01" (8) | first sequence u64 LE (8)
//   record* = crc32 u32 LE (4) | payload length u32 LE (4) | sequence u64 LE (8) | payload
// The crc covers everything after itself (length, sequence, payload), so a zero-filled or
// half-written tail never passes as a record.

import { crc32Range } from "./crc32.ts";

const SEGMENT_MAGIC = Uint8Array.from(Buffer.from("BWJSEG01", "latin1"));
export const SEGMENT_HEADER_SIZE_BYTES = 16;
export const RECORD_HEADER_SIZE_BYTES = 16;
/** Largest payload a record may carry: encoded commands are far below it; a corrupt length above it is caught. */
export const MAX_RECORD_PAYLOAD_SIZE_BYTES = 1024 * 1024;

const SEGMENT_NAME = /^(\d{20})\.seg$/;

export function segmentFileName(firstSequence: number): string {
  return `${String(firstSequence).padStart(20, "0")}.seg`;
}

/** The first sequence a segment file name announces, or null for other files. */
export function parseSegmentFileName(name: string): number | null {
  const match = SEGMENT_NAME.exec(name);
  if (match === null) return null;
  const sequence = Number(match[1]);
  return Number.isSafeInteger(sequence) && sequence > 0 ? sequence : null;
}

function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * 0x1_0000_0000 + view.getUint32(offset, true);
}

function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

export function writeSegmentHeader(target: Uint8Array, offset: number, firstSequence: number): void {
  target.set(SEGMENT_MAGIC, offset);
  writeU64(new DataView(target.buffer, target.byteOffset, target.byteLength), offset + 8, firstSequence);
}

/** Returns a reason the header is bad, or null. */
export function segmentHeaderProblem(bytes: Uint8Array, expectedFirstSequence: number): string | null {
  if (bytes.length < SEGMENT_HEADER_SIZE_BYTES) return `segment header truncated (${bytes.length} bytes)`;
  for (let i = 0; i < SEGMENT_MAGIC.length; i++) {
    if (bytes[i] !== SEGMENT_MAGIC[i]) return "bad segment magic";
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const firstSequence = readU64(view, 8);
  if (firstSequence !== expectedFirstSequence) {
    return `segment header says first sequence ${firstSequence}, file name says ${expectedFirstSequence}`;
  }
  return null;
}

/**
 * Writes one record at `offset` of `target` (which has room for it). `view` is a DataView over
 * `target`, passed in so the hot path does not build one per record.
 */
export function writeRecord(
  target: Uint8Array,
  view: DataView,
  offset: number,
  sequence: number,
  payload: Uint8Array,
): void {
  target.set(payload, offset + RECORD_HEADER_SIZE_BYTES);
  sealRecord(target, view, offset, sequence, payload.length);
}

/**
 * Completes a record whose payload is already in place at `offset + RECORD_HEADER_SIZE_BYTES`
 * (encoded there directly, so the payload is never copied): writes length and sequence, then
 * the checksum over both and the payload. `view` must index the same bytes as `target`.
 */
export function sealRecord(
  target: Uint8Array,
  view: DataView,
  offset: number,
  sequence: number,
  payloadSizeBytes: number,
): void {
  view.setUint32(offset + 4, payloadSizeBytes, true);
  writeU64(view, offset + 8, sequence);
  const end = offset + RECORD_HEADER_SIZE_BYTES + payloadSizeBytes;
  view.setUint32(offset, crc32Range(target, offset + 4, end), true);
}

// Problems checkRecordAt() reports, as negative numbers so they never collide with an offset.
const RECORD_HEADER_TRUNCATED = -1;
const RECORD_TOO_LONG = -2;
const RECORD_PAYLOAD_TRUNCATED = -3;
const RECORD_CHECKSUM_MISMATCH = -4;

/**
 * Checks the record at `offset` without allocating: returns the offset just past it, or a
 * negative problem code for recordProblemReason(). `verifyChecksum` false checks only the
 * framing; callers pass it only for bytes whose checksums were already verified in memory.
 */
export function checkRecordAt(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  verifyChecksum: boolean,
): number {
  if (bytes.length - offset < RECORD_HEADER_SIZE_BYTES) return RECORD_HEADER_TRUNCATED;
  const payloadSizeBytes = view.getUint32(offset + 4, true);
  if (payloadSizeBytes > MAX_RECORD_PAYLOAD_SIZE_BYTES) return RECORD_TOO_LONG;
  const nextOffset = offset + RECORD_HEADER_SIZE_BYTES + payloadSizeBytes;
  if (nextOffset > bytes.length) return RECORD_PAYLOAD_TRUNCATED;
  if (verifyChecksum && !recordChecksumMatches(bytes, view, offset, nextOffset))
    return RECORD_CHECKSUM_MISMATCH;
  return nextOffset;
}

/** Why checkRecordAt() returned `code` for the record at `offset`. */
export function recordProblemReason(bytes: Uint8Array, view: DataView, offset: number, code: number): string {
  switch (code) {
    case RECORD_HEADER_TRUNCATED:
      return `record header truncated (${bytes.length - offset} bytes)`;
    case RECORD_TOO_LONG:
      return `record length ${view.getUint32(offset + 4, true)} exceeds ${MAX_RECORD_PAYLOAD_SIZE_BYTES}`;
    case RECORD_PAYLOAD_TRUNCATED:
      return `record payload truncated (${view.getUint32(offset + 4, true)} bytes announced)`;
    case RECORD_CHECKSUM_MISMATCH:
      return "checksum mismatch";
    default:
      return `unknown record problem ${code}`;
  }
}

/** Whether the stored checksum of the record at `offset` (framing already checked, ending at nextOffset) matches. */
export function recordChecksumMatches(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  nextOffset: number,
): boolean {
  return crc32Range(bytes, offset + 4, nextOffset) === view.getUint32(offset, true);
}

/** Sequence field of the record at `offset` (its framing already checked). */
export function recordSequenceAt(view: DataView, offset: number): number {
  return readU64(view, offset + 8);
}

/**
 * Looks for a valid record with a sequence after `lastGoodSequence` at any byte offset from
 * `fromOffset`. If one exists after a bad record, the bad bytes are not a torn tail but damage
 * in front of data written later (which may have been acknowledged). Returns its offset or -1.
 */
export function findLaterRecord(
  bytes: Uint8Array,
  view: DataView,
  fromOffset: number,
  lastGoodSequence: number,
): number {
  const lastStart = bytes.length - RECORD_HEADER_SIZE_BYTES;
  // No more records can follow than there are record headers' worth of bytes left.
  const highestPossible =
    lastGoodSequence + Math.ceil((bytes.length - fromOffset) / RECORD_HEADER_SIZE_BYTES);
  for (let offset = fromOffset; offset <= lastStart; offset++) {
    // Cheap filter on the sequence field before the checksum.
    const high = view.getUint32(offset + 12, true);
    if (high > 0x1f_ffff) continue;
    const sequence = high * 0x1_0000_0000 + view.getUint32(offset + 8, true);
    if (sequence <= lastGoodSequence || sequence > highestPossible) continue;
    if (checkRecordAt(bytes, view, offset, true) >= 0) return offset;
  }
  return -1;
}

export interface SegmentScan {
  /** Records that checked out, in order. */
  recordCount: number;
  lastSequence: number;
  /** Offset just past the last good record. */
  validSizeBytes: number;
  /**
   * First bad bytes (null when the whole file is good). `checksumValid`: the record there is
   * intact but out of sequence, which no crash produces, so it is never a torn tail.
   */
  problem: { offset: number; reason: string; checksumValid: boolean } | null;
}

/**
 * Walks the records of one segment after its header, checking checksums and that sequences
 * run firstSequence, firstSequence + 1, ... Stops at the first bad record. Allocates nothing
 * per record: opening a journal walks every record it holds.
 */
export function scanSegment(bytes: Uint8Array, firstSequence: number): SegmentScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = SEGMENT_HEADER_SIZE_BYTES;
  let expected = firstSequence;
  let recordCount = 0;
  // Each step advances offset by at least RECORD_HEADER_SIZE_BYTES, so this ends.
  while (offset < bytes.length) {
    const nextOffset = checkRecordAt(bytes, view, offset, true);
    if (nextOffset < 0) {
      const reason = recordProblemReason(bytes, view, offset, nextOffset);
      const problem = { offset, reason, checksumValid: false };
      return { recordCount, lastSequence: expected - 1, validSizeBytes: offset, problem };
    }
    const sequence = recordSequenceAt(view, offset);
    if (sequence !== expected) {
      const problem = {
        offset,
        reason: `sequence ${sequence} where ${expected} was expected`,
        checksumValid: true,
      };
      return { recordCount, lastSequence: expected - 1, validSizeBytes: offset, problem };
    }
    recordCount++;
    expected++;
    offset = nextOffset;
  }
  return { recordCount, lastSequence: expected - 1, validSizeBytes: offset, problem: null };
}

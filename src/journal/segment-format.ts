// On-disk format of journal segment files, and the pure functions that read and check it.
//
// Segment file "<first sequence, 20 digits>.seg":
//   header  = magic "BWJSEG01" (8) | first sequence u64 LE (8)
//   record* = crc32 u32 LE (4) | payload length u32 LE (4) | sequence u64 LE (8) | payload
// The crc covers everything after itself (length, sequence, payload), so a zero-filled or
// half-written tail never passes as a record.

import { crc32 } from "node:zlib";

export const SEGMENT_MAGIC = Uint8Array.from(Buffer.from("BWJSEG01", "latin1"));
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
  view.setUint32(offset + 4, payload.length, true);
  writeU64(view, offset + 8, sequence);
  target.set(payload, offset + RECORD_HEADER_SIZE_BYTES);
  const end = offset + RECORD_HEADER_SIZE_BYTES + payload.length;
  view.setUint32(offset, crc32(target.subarray(offset + 4, end)), true);
}

export type RecordRead =
  | { ok: true; sequence: number; payloadOffset: number; payloadSizeBytes: number; nextOffset: number }
  | { ok: false; reason: string };

/** Reads and checks the record at `offset`; never throws on bad bytes. */
export function readRecord(bytes: Uint8Array, view: DataView, offset: number): RecordRead {
  const left = bytes.length - offset;
  if (left < RECORD_HEADER_SIZE_BYTES)
    return { ok: false, reason: `record header truncated (${left} bytes)` };
  const payloadSizeBytes = view.getUint32(offset + 4, true);
  if (payloadSizeBytes > MAX_RECORD_PAYLOAD_SIZE_BYTES) {
    return {
      ok: false,
      reason: `record length ${payloadSizeBytes} exceeds ${MAX_RECORD_PAYLOAD_SIZE_BYTES}`,
    };
  }
  const nextOffset = offset + RECORD_HEADER_SIZE_BYTES + payloadSizeBytes;
  if (nextOffset > bytes.length) {
    return { ok: false, reason: `record payload truncated (${payloadSizeBytes} bytes announced)` };
  }
  const storedCrc = view.getUint32(offset, true);
  if (crc32(bytes.subarray(offset + 4, nextOffset)) !== storedCrc)
    return { ok: false, reason: "checksum mismatch" };
  const sequence = readU64(view, offset + 8);
  return {
    ok: true,
    sequence,
    payloadOffset: offset + RECORD_HEADER_SIZE_BYTES,
    payloadSizeBytes,
    nextOffset,
  };
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
    if (readRecord(bytes, view, offset).ok) return offset;
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
 * run firstSequence, firstSequence + 1, ... Stops at the first bad record.
 */
export function scanSegment(bytes: Uint8Array, firstSequence: number): SegmentScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = SEGMENT_HEADER_SIZE_BYTES;
  let expected = firstSequence;
  let recordCount = 0;
  while (offset < bytes.length) {
    const record = readRecord(bytes, view, offset);
    if (!record.ok) {
      const problem = { offset, reason: record.reason, checksumValid: false };
      return { recordCount, lastSequence: expected - 1, validSizeBytes: offset, problem };
    }
    if (record.sequence !== expected) {
      const problem = {
        offset,
        reason: `sequence ${record.sequence} where ${expected} was expected`,
        checksumValid: true,
      };
      return { recordCount, lastSequence: expected - 1, validSizeBytes: offset, problem };
    }
    recordCount++;
    expected++;
    offset = record.nextOffset;
  }
  return { recordCount, lastSequence: expected - 1, validSizeBytes: offset, problem: null };
}

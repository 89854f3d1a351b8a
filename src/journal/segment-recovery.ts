// Opening a file journal: finds its segment files, checks every record once, and tells a torn
// tail from damage. A bad tail of the last segment is what a crash mid-write leaves: it was never
// synced, so never acknowledged, and is cut off (and reported). Bad bytes anywhere else, or
// followed by a good record with the next sequence, are damage: open stops with
// JournalCorruptError naming file and offset. The bytes it verified are kept (within a budget)
// for the first replay, so that replay does not read and checksum them again (file-journal.ts).

import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { JournalCorruptError } from "./journal.ts";
import {
  findLaterRecord,
  parseSegmentFileName,
  SEGMENT_HEADER_SIZE_BYTES,
  scanSegment,
  segmentFileName,
  segmentHeaderProblem,
} from "./segment-format.ts";

export interface JournalOpenReport {
  segmentCount: number;
  firstSequence: number;
  lastSequence: number;
  /** The last segment's torn tail that was cut off: it was never synced, hence never acknowledged. */
  truncatedFile: string | null;
  truncatedBytes: number;
  truncatedReason: string | null;
}

export interface Segment {
  firstSequence: number;
  path: string;
}

export interface RecoveredSegments {
  segments: Segment[];
  lastSequence: number;
  tailSizeBytes: number;
  tailRecordCount: number;
  report: JournalOpenReport;
  /** Verified bytes (valid records only) by segment first sequence, oldest first. */
  verified: Map<number, Uint8Array>;
}

export function corrupt(path: string, offset: number, reason: string): never {
  throw new JournalCorruptError(path, offset, reason);
}

function syncDirSync(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Cuts a torn tail off (or deletes a segment left with no record) and makes that durable. */
function dropTornTail(path: string, validSizeBytes: number, keepFile: boolean): void {
  if (!keepFile) {
    unlinkSync(path);
    return;
  }
  const fd = openSync(path, "r+");
  try {
    ftruncateSync(fd, validSizeBytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

interface SegmentCheck {
  /** Bytes from the start of the file through the last good record. */
  validSizeBytes: number;
  recordCount: number;
  lastSequence: number;
  /** Why the bytes after validSizeBytes are cut off (a torn tail), or null when all are good. */
  tornReason: string | null;
}

/**
 * Checks every record of one segment (once: the result also gives its size and last sequence).
 * A torn tail is only allowed in the last segment; anything else throws JournalCorruptError.
 */
function checkSegment(path: string, bytes: Uint8Array, firstSequence: number, isLast: boolean): SegmentCheck {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerProblem = segmentHeaderProblem(bytes, firstSequence);
  const scan = headerProblem === null ? scanSegment(bytes, firstSequence) : null;
  const problem =
    headerProblem !== null ? { offset: 0, reason: headerProblem, checksumValid: false } : scan!.problem;
  if (problem === null) {
    if (scan!.recordCount > 0) {
      return {
        validSizeBytes: scan!.validSizeBytes,
        recordCount: scan!.recordCount,
        lastSequence: scan!.lastSequence,
        tornReason: null,
      };
    }
    if (!isLast) corrupt(path, SEGMENT_HEADER_SIZE_BYTES, "segment holds no record but is not the last one");
    return {
      validSizeBytes: 0,
      recordCount: 0,
      lastSequence: firstSequence - 1,
      tornReason: "segment holds no record",
    };
  }
  if (!isLast) corrupt(path, problem.offset, `${problem.reason} (not the last segment)`);
  if (problem.checksumValid) corrupt(path, problem.offset, problem.reason);
  const lastSequence = scan === null ? firstSequence - 1 : scan.lastSequence;
  const follower = findLaterRecord(bytes, view, problem.offset + 1, lastSequence);
  if (follower >= 0)
    corrupt(path, problem.offset, `${problem.reason}; a valid later record follows at byte ${follower}`);
  const recordCount = scan === null ? 0 : scan.recordCount;
  const validSizeBytes = recordCount === 0 ? 0 : scan!.validSizeBytes;
  return { validSizeBytes, recordCount, lastSequence, tornReason: problem.reason };
}

function listSegments(dir: string): Segment[] {
  const firstSequences: number[] = [];
  for (const name of readdirSync(dir)) {
    const first = parseSegmentFileName(name);
    if (first !== null) firstSequences.push(first);
  }
  firstSequences.sort((a, b) => a - b);
  return firstSequences.map((firstSequence) => ({
    firstSequence,
    path: join(dir, segmentFileName(firstSequence)),
  }));
}

/**
 * Keeps verified segment bytes for the first replay, newest first within the budget: replay
 * starts after the latest snapshot, so the newest segments are the ones it needs.
 */
function keepVerified(
  verified: Map<number, Uint8Array>,
  firstSequence: number,
  bytes: Uint8Array,
  maxSizeBytes: number,
): void {
  if (bytes.length > maxSizeBytes) {
    verified.clear();
    return;
  }
  verified.set(firstSequence, bytes);
  let totalSizeBytes = 0;
  for (const kept of verified.values()) totalSizeBytes += kept.length;
  // Map iterates in insertion order, i.e. oldest segment first; at most one entry per segment.
  for (const [oldest, kept] of verified) {
    if (totalSizeBytes <= maxSizeBytes) break;
    verified.delete(oldest);
    totalSizeBytes -= kept.length;
  }
}

/**
 * Reads and checks every segment of `dir`; cuts a torn tail off the last one. Throws
 * JournalCorruptError for damage that is not a torn tail.
 */
export function recoverSegments(dir: string, maxVerifiedCacheSizeBytes: number): RecoveredSegments {
  const found = listSegments(dir);
  const segments: Segment[] = [];
  const verified = new Map<number, Uint8Array>();
  const report: JournalOpenReport = {
    segmentCount: 0,
    firstSequence: 0,
    lastSequence: 0,
    truncatedFile: null,
    truncatedBytes: 0,
    truncatedReason: null,
  };
  let lastSequence = 0;
  let tailSizeBytes = 0;
  let tailRecordCount = 0;
  for (let i = 0; i < found.length; i++) {
    const { path, firstSequence } = found[i];
    if (lastSequence !== 0 && firstSequence !== lastSequence + 1) {
      corrupt(path, 0, `segment starts at ${firstSequence} but the previous one ends at ${lastSequence}`);
    }
    const bytes = readFileSync(path);
    const check = checkSegment(path, bytes, firstSequence, i === found.length - 1);
    if (check.tornReason !== null) {
      dropTornTail(path, check.validSizeBytes, check.recordCount > 0);
      syncDirSync(dir);
      Object.assign(report, {
        truncatedFile: path,
        truncatedBytes: bytes.length - check.validSizeBytes,
        truncatedReason: check.tornReason,
      });
      if (check.recordCount === 0) continue;
    }
    lastSequence = check.lastSequence;
    tailSizeBytes = check.validSizeBytes;
    tailRecordCount = check.recordCount;
    segments.push(found[i]);
    keepVerified(verified, firstSequence, bytes.subarray(0, check.validSizeBytes), maxVerifiedCacheSizeBytes);
  }
  report.segmentCount = segments.length;
  report.firstSequence = segments.length > 0 ? segments[0].firstSequence : 0;
  report.lastSequence = lastSequence;
  return { segments, lastSequence, tailSizeBytes, tailRecordCount, report, verified };
}

/** A crash may leave written-but-unsynced data in the page cache: sync it before building on it. */
export function syncExisting(segments: readonly Segment[]): void {
  const last = segments[segments.length - 1];
  if (last === undefined) return;
  const fd = openSync(last.path, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// Snapshot files: the core's snapshot() bytes at a known sequence, so recovery replays only the
// journal after it. A snapshot becomes visible only whole: it is written to a temp file, synced,
// renamed, and the directory synced. A torn or damaged file fails its checksum and is skipped.
//
// File "<sequence, 20 digits>.snap":
//   magic "BWSNAP01" (8) | crc32 u32 LE (4) | zero u32 (4) | sequence u64 LE (8) | length u64 LE (8) | core bytes
// The crc covers sequence, length and the core bytes.

import { mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";

const MAGIC = Buffer.from("BWSNAP01", "latin1");
export const SNAPSHOT_HEADER_SIZE_BYTES = 32;
const SNAPSHOT_NAME = /^(\d{20})\.snap$/;
const TEMP_SUFFIX = ".tmp";
/** Refuse absurd lengths before allocating: a damaged header must not ask for petabytes. */
export const DEFAULT_MAX_SNAPSHOT_SIZE_BYTES = 8 * 1024 * 1024 * 1024;

export class SnapshotCorruptError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`snapshot ${file} is unusable: ${reason}`);
    this.name = "SnapshotCorruptError";
  }
}

export interface SnapshotEntry {
  sequence: number;
  path: string;
}

export interface SnapshotStoreOptions {
  dir: string;
  /** Newest snapshots kept; older ones are deleted after each write. At least 1. */
  keepCount?: number;
  maxSnapshotSizeBytes?: number;
}

function snapshotFileName(sequence: number): string {
  return `${String(sequence).padStart(20, "0")}.snap`;
}

function encodeHeader(sequence: number, core: Uint8Array): Uint8Array {
  const header = new Uint8Array(SNAPSHOT_HEADER_SIZE_BYTES);
  const view = new DataView(header.buffer);
  header.set(MAGIC, 0);
  view.setUint32(16, sequence >>> 0, true);
  view.setUint32(20, Math.floor(sequence / 0x1_0000_0000), true);
  view.setUint32(24, core.length >>> 0, true);
  view.setUint32(28, Math.floor(core.length / 0x1_0000_0000), true);
  view.setUint32(8, crc32(core, crc32(header.subarray(16))), true);
  return header;
}

/** A snapshot file's bytes (header + core), for stores that keep them elsewhere (an object store). */
export function encodeSnapshotFile(sequence: number, core: Uint8Array): Uint8Array {
  const header = encodeHeader(sequence, core);
  const bytes = new Uint8Array(header.length + core.length);
  bytes.set(header, 0);
  bytes.set(core, header.length);
  return bytes;
}

/** Checks a snapshot file's bytes; returns the core bytes or throws SnapshotCorruptError. */
export function decodeSnapshotFile(path: string, bytes: Uint8Array, expectedSequence: number): Uint8Array {
  if (bytes.length < SNAPSHOT_HEADER_SIZE_BYTES) throw new SnapshotCorruptError(path, "header truncated");
  if (!MAGIC.equals(bytes.subarray(0, MAGIC.length))) throw new SnapshotCorruptError(path, "bad magic");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sequence = view.getUint32(20, true) * 0x1_0000_0000 + view.getUint32(16, true);
  if (sequence !== expectedSequence) {
    throw new SnapshotCorruptError(path, `header sequence ${sequence} does not match the file name`);
  }
  const length = view.getUint32(28, true) * 0x1_0000_0000 + view.getUint32(24, true);
  if (length !== bytes.length - SNAPSHOT_HEADER_SIZE_BYTES) {
    throw new SnapshotCorruptError(
      path,
      `header says ${length} bytes, file holds ${bytes.length - SNAPSHOT_HEADER_SIZE_BYTES}`,
    );
  }
  const core = bytes.subarray(SNAPSHOT_HEADER_SIZE_BYTES);
  if (crc32(core, crc32(bytes.subarray(16, SNAPSHOT_HEADER_SIZE_BYTES))) !== view.getUint32(8, true)) {
    throw new SnapshotCorruptError(path, "checksum mismatch");
  }
  return core;
}

export class SnapshotStore {
  readonly dir: string;
  readonly keepCount: number;
  readonly maxSnapshotSizeBytes: number;
  /** Snapshot files written by this store. */
  writtenCount = 0;

  constructor(options: SnapshotStoreOptions) {
    this.dir = options.dir;
    this.keepCount = options.keepCount ?? 2;
    this.maxSnapshotSizeBytes = options.maxSnapshotSizeBytes ?? DEFAULT_MAX_SNAPSHOT_SIZE_BYTES;
    if (!Number.isSafeInteger(this.keepCount) || this.keepCount < 1)
      throw new RangeError("keepCount must be >= 1");
    mkdirSync(this.dir, { recursive: true });
    this.removeTempFiles();
  }

  /** Snapshot files, newest first. */
  list(): SnapshotEntry[] {
    const entries: SnapshotEntry[] = [];
    for (const name of readdirSync(this.dir)) {
      const match = SNAPSHOT_NAME.exec(name);
      if (match !== null) entries.push({ sequence: Number(match[1]), path: join(this.dir, name) });
    }
    return entries.sort((a, b) => b.sequence - a.sequence);
  }

  /** Reads and checks one snapshot; throws SnapshotCorruptError if it is damaged. */
  read(entry: SnapshotEntry): Uint8Array {
    const bytes = readFileSync(entry.path);
    if (bytes.length > this.maxSnapshotSizeBytes + SNAPSHOT_HEADER_SIZE_BYTES) {
      throw new SnapshotCorruptError(entry.path, `larger than ${this.maxSnapshotSizeBytes} bytes`);
    }
    return decodeSnapshotFile(entry.path, bytes, entry.sequence);
  }

  /** Durably writes a snapshot (temp file, sync, rename, directory sync), then drops the oldest beyond keepCount. */
  async write(sequence: number, core: Uint8Array): Promise<SnapshotEntry> {
    if (core.length > this.maxSnapshotSizeBytes) {
      throw new RangeError(`snapshot of ${core.length} bytes exceeds ${this.maxSnapshotSizeBytes}`);
    }
    const path = join(this.dir, snapshotFileName(sequence));
    const tempPath = path + TEMP_SUFFIX;
    const file = await open(tempPath, "w");
    try {
      // Consecutive writeFile calls continue from the current position.
      await file.writeFile(encodeHeader(sequence, core));
      await file.writeFile(core);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tempPath, path);
    await this.syncDir();
    this.writtenCount++;
    await this.dropOld();
    return { sequence, path };
  }

  /** Sequence of the oldest snapshot kept, 0 if none: the journal is needed from just after it. */
  oldestRetainedSequence(): number {
    const entries = this.list();
    return entries.length > 0 ? entries[entries.length - 1].sequence : 0;
  }

  private async dropOld(): Promise<void> {
    const stale = this.list().slice(this.keepCount);
    for (const entry of stale) unlinkSync(entry.path);
    if (stale.length > 0) await this.syncDir();
  }

  private removeTempFiles(): void {
    for (const name of readdirSync(this.dir)) {
      if (name.endsWith(TEMP_SUFFIX)) unlinkSync(join(this.dir, name));
    }
  }

  private async syncDir(): Promise<void> {
    const dir = await open(this.dir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

// The data dir holds password hashes, sealed API secrets, the server key and every balance, so it
// is the owner's alone (docs/SECURITY.md): created 0700 when missing, and an existing one that
// its group or others can enter or read is refused, not repaired, so an operator learns that the
// files inside may already have been read. Both `bulwark start` (server.ts) and every CLI command
// that opens the data dir offline call ensurePrivateDataDir before they take the lock.
//
// Files are made owner-only through the process umask (077 added to it), because they are
// written by several layers (journal segments, snapshots, SQLite and its -wal/-shm, candles.json)
// that each pick their own modes; the umask takes group and other bits off all of them.

import { chmodSync, mkdirSync, statSync } from "node:fs";
import { isMainThread } from "node:worker_threads";

/** Owner read, write and enter only. */
export const DATA_DIR_MODE = 0o700;
/** Group and other bits: none may be set on the data dir. */
const NOT_OWNER_BITS = 0o077;

export class DataDirModeError extends Error {
  constructor(
    readonly dataDir: string,
    readonly mode: number,
  ) {
    super(
      `data dir ${dataDir} has mode ${octal(mode)}: other local users can read it (password hashes, ` +
        `sealed API secrets, balances). Bulwark refuses to use it; make it private with: chmod 700 ${dataDir}`,
    );
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/**
 * Creates `dataDir` with mode 0700 when missing, refuses (DataDirModeError) an existing one with
 * any group or other permission bit, and adds 077 to the process umask so every file written in
 * it is owner-only. Throws when the path exists and is not a directory.
 */
export function ensurePrivateDataDir(dataDir: string): void {
  const created = mkdirSync(dataDir, { recursive: true, mode: DATA_DIR_MODE });
  // mkdir's mode passes through the umask; set it exactly on the directory this call made.
  if (created !== undefined) chmodSync(dataDir, DATA_DIR_MODE);
  const stats = statSync(dataDir);
  if (!stats.isDirectory()) throw new Error(`data dir ${dataDir} is not a directory`);
  if ((stats.mode & NOT_OWNER_BITS) !== 0) throw new DataDirModeError(dataDir, stats.mode);
  restrictUmask();
}

/** Adds 077 to the process umask (worker threads cannot change it; they share the process's). */
export function restrictUmask(): void {
  if (!isMainThread) return;
  // process.umask() without an argument is deprecated (it writes the mask twice as well).
  const previous = process.umask(NOT_OWNER_BITS);
  if ((previous | NOT_OWNER_BITS) !== NOT_OWNER_BITS) process.umask(previous | NOT_OWNER_BITS);
}

// One writer per data directory: the journal and the SQLite store assume a single process. The
// lock is a file holding the owner's pid (and, for a server, where its operator API listens: the
// Unix socket the CLI talks through, and a TCP URL when one was asked for), made with O_EXCL; a
// lock whose pid is gone is stale (a crash or kill -9) and is taken over.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE_NAME = "bulwark.lock";
const MAX_LOCK_FILE_BYTES = 4_096;

export interface LockOwner {
  pid: number;
  /** "server" or the CLI command holding the lock. */
  role: string;
  startedMs: number;
  /** A running server's operator API on TCP (bearer token), when it was asked to listen there. */
  operatorUrl?: string;
  /** A running server's operator API on its Unix socket (no token: the socket's mode is the authority). */
  operatorSocket?: string;
}

export class DataDirBusyError extends Error {
  /** The CLI's error kind. */
  readonly kind = "busy";

  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    super(busyMessage(dataDir, owner));
  }
}

function busyMessage(dataDir: string, owner: LockOwner): string {
  if (owner.role !== "server")
    return `data dir ${dataDir} is in use by another bulwark command (pid ${owner.pid}); try again when it ends`;
  if (owner.operatorSocket === undefined)
    return (
      `a Bulwark server (pid ${owner.pid}) is starting on ${dataDir} and its operator socket is not ` +
      "open yet; try again in a moment"
    );
  return (
    `a Bulwark server (pid ${owner.pid}) is running on ${dataDir}; the journal allows one writer, so ` +
    `this command cannot open it offline (its operator API: ${owner.operatorSocket}).`
  );
}

export interface DataDirLock {
  readonly path: string;
  /** Rewrites the owner record (e.g. once the server knows its URL). */
  update(owner: Partial<LockOwner>): void;
  release(): void;
}

/** Takes the lock or throws DataDirBusyError naming the live owner. */
export function acquireDataDirLock(dataDir: string, role: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE_NAME);
  let owner: LockOwner = { pid: process.pid, role, startedMs: Date.now() };
  // Two attempts: the second after removing a stale lock; a race with another taker loses cleanly.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, JSON.stringify(owner), { flag: "wx", mode: 0o600 });
      let released = false;
      return {
        path,
        update(fields) {
          owner = { ...owner, ...fields };
          if (!released) writeFileSync(path, JSON.stringify(owner), { mode: 0o600 });
        },
        release() {
          if (released) return;
          released = true;
          if (readLockOwner(dataDir)?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error;
      const current = readLockOwner(dataDir);
      if (current !== null && isAlive(current.pid)) throw new DataDirBusyError(dataDir, current);
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not take the lock ${path}`);
}

/** The recorded owner, or null when there is no readable lock file. */
export function readLockOwner(dataDir: string): LockOwner | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, LOCK_FILE_NAME), "utf8");
  } catch {
    return null;
  }
  if (text.length > MAX_LOCK_FILE_BYTES) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return null;
    const record = parsed as Partial<LockOwner>;
    if (!Number.isSafeInteger(record.pid) || typeof record.role !== "string") return null;
    return {
      pid: record.pid as number,
      role: record.role,
      startedMs: Number(record.startedMs) || 0,
      ...(typeof record.operatorUrl === "string" ? { operatorUrl: record.operatorUrl } : {}),
      ...(typeof record.operatorSocket === "string" ? { operatorSocket: record.operatorSocket } : {}),
    };
  } catch {
    // A half-written lock (crash between create and write) is treated as stale.
    return null;
  }
}

/** The owner of the data dir's lock when it is a live process, else null (no lock, or a stale one). */
export function liveLockOwner(dataDir: string): LockOwner | null {
  const owner = readLockOwner(dataDir);
  return owner !== null && isAlive(owner.pid) ? owner : null;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return error instanceof Error && "code" in error && error.code === "EPERM";
  }
}

// One signer per state directory: two processes appending to one log (or one socket replaced by
// another) would break the exactly-once signing. The lock is a file holding the owner's pid, made
// with O_EXCL; a lock whose pid is gone (a crash, kill -9) is stale and is taken over.

import { closeSync, constants, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE = "signer.lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the state directory's lock; returns its release. Throws when a live signer holds it. */
export function lockStateDir(stateDir: string): () => void {
  const path = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number.parseInt(readFileSync(path, "utf8").slice(0, 20), 10);
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && alive(owner))
      throw new Error(`another signer (pid ${owner}) holds ${stateDir}`);
    rmSync(path, { force: true });
  }
  throw new Error(`cannot take the lock ${path}`);
}

// The cold address file, `<data-dir>/custody/<chain>.cold.json` ({"address": …}): custody reads it
// at start (readColdAddress in ./custody.ts) and gives it to the chain's signer as its allowed cold
// destination. Written by `bulwark cold set-address` (src/cli/cold.ts) and by the demo's cold
// wallet (./demo/cold-wallet.ts); here so both may import it (the server may not import src/cli).

import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CUSTODY_DIR_NAME } from "./custody.ts";

/**
 * Writes `<data-dir>/custody/<chain>.cold.json` (0600) as readColdAddress (./custody.ts) reads it, replaced
 * atomically: temp file, fsync, rename, fsync of the directory. `bulwark cold set-address` and the
 * demo's cold wallet (./demo/cold-wallet.ts) write it; custody reads it at its next start.
 */
export function writeColdAddressFile(dataDir: string, chain: string, address: string): string {
  const dir = join(dataDir, CUSTODY_DIR_NAME);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${chain}.cold.json`);
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ address })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const dirFd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return path;
}

// Looking for many byte strings at once: in a buffer (NeedleSearch), or in another process's
// memory (scanProcessMemory; Linux: /proc/<pid>/maps and /proc/<pid>/mem, which an ancestor of
// a process may read). The process is stopped (SIGSTOP) while it is read, so nothing moves under
// the scan, and continued afterwards.
//
// What is read of a process: every readable mapping that can hold data the process made at run
// time (the heap, anonymous mappings, stacks, writable file mappings); not the read-only or
// executable file mappings (the node binary's code and constants, shared libraries), which hold
// no runtime secrets, and not the kernel's [vvar]/[vsyscall] pages.

import { closeSync, openSync, readFileSync, readSync } from "node:fs";

const CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * Every needle (4 bytes or longer) in one pass over the haystack: a table of the needles' first
 * two bytes filters positions, their first four bytes pick the candidates, and only those are
 * compared in full. A few hundred needles cost about what one indexOf does.
 */
export class NeedleSearch {
  private readonly firstTwo = new Uint8Array(65_536);
  private readonly byFirstFour = new Map<number, { name: string; bytes: Buffer }[]>();
  readonly longest: number;

  constructor(needles: ReadonlyMap<string, Uint8Array>) {
    let longest = 4;
    for (const [name, needle] of needles) {
      if (needle.length < 4) throw new Error(`needle ${name} is shorter than 4 bytes`);
      longest = Math.max(longest, needle.length);
      this.firstTwo[needle[0] | (needle[1] << 8)] = 1;
      const key = (needle[0] | (needle[1] << 8) | (needle[2] << 16) | (needle[3] << 24)) >>> 0;
      const list = this.byFirstFour.get(key) ?? [];
      list.push({ name, bytes: Buffer.from(needle) });
      this.byFirstFour.set(key, list);
    }
    this.longest = longest;
  }

  /** Names of the needles found anywhere in `haystack` (added to `found`). */
  search(haystack: Uint8Array, found: Set<string> = new Set()): Set<string> {
    const firstTwo = this.firstTwo;
    const end = haystack.length - 3;
    let two = haystack[0] << 8;
    for (let i = 0; i < end; i++) {
      two = (two >>> 8) | (haystack[i + 1] << 8);
      if (firstTwo[two] === 0) continue;
      const key =
        (haystack[i] | (haystack[i + 1] << 8) | (haystack[i + 2] << 16) | (haystack[i + 3] << 24)) >>> 0;
      const candidates = this.byFirstFour.get(key);
      if (candidates === undefined) continue;
      for (const candidate of candidates) {
        const length = candidate.bytes.length;
        if (i + length > haystack.length || found.has(candidate.name)) continue;
        let same = true;
        for (let j = 4; j < length; j++)
          if (haystack[i + j] !== candidate.bytes[j]) {
            same = false;
            break;
          }
        if (same) found.add(candidate.name);
      }
    }
    return found;
  }
}

export interface MemoryScan {
  /** Names of the needles found. */
  found: string[];
  scannedBytes: number;
  regions: number;
}

interface Region {
  start: number;
  length: number;
}

function dataRegions(pid: number): Region[] {
  const regions: Region[] = [];
  for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    if (line === "") continue;
    // start-end perms offset dev inode [path]
    const fields = line.split(/\s+/);
    const [range, perms, , , inode] = fields;
    const path = fields.slice(5).join(" ");
    if (perms[0] !== "r") continue;
    if (path === "[vvar]" || path === "[vsyscall]" || path === "[vvar_vclock]") continue;
    const fileBacked = inode !== "0" && !path.startsWith("[");
    if (fileBacked && perms[1] !== "w") continue;
    const [start, end] = range.split("-").map((hex) => Number.parseInt(hex, 16));
    regions.push({ start, length: end - start });
  }
  return regions;
}

/**
 * Scans the process `pid` for every needle; throws when its data mappings are larger than
 * `maxBytes`. Needles are matched anywhere (no alignment), across chunk boundaries too.
 */
export function scanProcessMemory(
  pid: number,
  needles: ReadonlyMap<string, Uint8Array>,
  maxBytes: number,
): MemoryScan {
  const search = new NeedleSearch(needles);
  const found = new Set<string>();
  let scannedBytes = 0;
  let regionCount = 0;
  process.kill(pid, "SIGSTOP");
  let fd: number | undefined;
  try {
    const regions = dataRegions(pid);
    const total = regions.reduce((sum, region) => sum + region.length, 0);
    if (total > maxBytes)
      throw new Error(`process ${pid} maps ${total} bytes of data, more than the bound ${maxBytes}`);
    fd = openSync(`/proc/${pid}/mem`, "r");
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES + search.longest);
    for (const region of regions) {
      let readAny = false;
      // Each chunk starts with the previous chunk's last longest-1 bytes: no needle is cut in two.
      let carried = 0;
      for (let offset = 0; offset < region.length; offset += CHUNK_BYTES) {
        const want = Math.min(CHUNK_BYTES, region.length - offset);
        let got: number;
        try {
          got = readSync(fd, buffer, carried, want, region.start + offset);
        } catch {
          // A mapping that went away, or one the kernel does not let us read (EIO): nothing to see.
          break;
        }
        if (got <= 0) break;
        readAny = true;
        scannedBytes += got;
        const view = buffer.subarray(0, carried + got);
        search.search(view, found);
        carried = Math.min(search.longest - 1, view.length);
        view.copy(buffer, 0, view.length - carried);
        if (got < want) break;
      }
      if (readAny) regionCount++;
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
    process.kill(pid, "SIGCONT");
  }
  return { found: [...found], scannedBytes, regions: regionCount };
}

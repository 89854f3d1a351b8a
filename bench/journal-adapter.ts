// Adapter between the benchmark and the journal: encoded commands in, group-commit flush,
// replay back to Commands. INTERIM: until src/journal/file-journal.ts lands this writes a
// simple length-prefixed file itself, so the rest of the benchmark can be exercised.

import { closeSync, fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "../src/core/commands.ts";
import { decodeCommand } from "../src/journal/command-codec.ts";

export interface BenchJournal {
  readonly path: string;
  /** Queues one encoded command (the bytes are copied). */
  append(sequence: number, payload: Uint8Array): void;
  /** Durably writes everything appended so far (group commit). */
  flush(): Promise<void>;
  /** Flushes, closes, returns the file size in bytes. */
  close(): Promise<number>;
}

export const JOURNAL_IMPLEMENTATION = "interim (bench-local length-prefixed file)";

class InterimJournal implements BenchJournal {
  private buffer = new Uint8Array(1 << 20);
  private length = 0;
  private readonly fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
  }

  append(_sequence: number, payload: Uint8Array): void {
    const need = this.length + 4 + payload.length;
    if (need > this.buffer.length) {
      const grown = new Uint8Array(Math.max(need, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    const b = this.buffer;
    const n = payload.length;
    b[this.length] = n & 0xff;
    b[this.length + 1] = (n >>> 8) & 0xff;
    b[this.length + 2] = (n >>> 16) & 0xff;
    b[this.length + 3] = (n >>> 24) & 0xff;
    b.set(payload, this.length + 4);
    this.length = need;
  }

  async flush(): Promise<void> {
    if (this.length > 0) writeSync(this.fd, this.buffer, 0, this.length);
    this.length = 0;
  }

  async close(): Promise<number> {
    await this.flush();
    const size = fstatSync(this.fd).size;
    closeSync(this.fd);
    return size;
  }
}

export async function openBenchJournal(dir: string, label: string): Promise<BenchJournal> {
  return new InterimJournal(join(dir, `${label}.journal`));
}

/** Reads the journal at `path` and hands every decoded command to `onCommand`, in order. */
export async function replayBenchJournal(path: string, onCommand: (command: Command) => void): Promise<void> {
  const bytes = readFileSync(path);
  let at = 0;
  while (at + 4 <= bytes.length) {
    const n = bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
    onCommand(decodeCommand(bytes.subarray(at + 4, at + 4 + n)));
    at += 4 + n;
  }
}

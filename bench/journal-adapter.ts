// Adapter between the benchmark and Bulwark's file journal (src/journal/file-journal.ts):
// encoded commands in, group-commit flush (write + fdatasync), replay back to Commands.

import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "../src/core/commands.ts";
import { decodeCommand } from "../src/journal/command-codec.ts";
import { FileJournal } from "../src/journal/file-journal.ts";

export interface BenchJournal {
  /** The journal's directory. */
  readonly path: string;
  /** Queues one encoded command (the journal copies the bytes). */
  append(sequence: number, payload: Uint8Array): void;
  /** Whether a payload of this size fits the pending buffer without a flush. */
  hasRoomFor(payloadSizeBytes: number): boolean;
  /** Resolves when everything appended so far is written and fdatasync'ed (group commit). */
  flush(): Promise<void>;
  /** Flushes, closes, returns the size of the journal's files in bytes. */
  close(): Promise<number>;
}

export const JOURNAL_IMPLEMENTATION = "FileJournal (write + fdatasync per flush)";

function dirSizeBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}

export async function openBenchJournal(parentDir: string, label: string): Promise<BenchJournal> {
  const dir = join(parentDir, label);
  const journal = await FileJournal.open({ dir });
  return {
    path: dir,
    append: (sequence, payload) => journal.append(sequence, payload),
    hasRoomFor: (size) => journal.hasRoomFor(size),
    flush: () => journal.flush(),
    close: async () => {
      await journal.close();
      return dirSizeBytes(dir);
    },
  };
}

/**
 * Recovery as the server does it: open the journal directory (which checks every record),
 * then decode every record and hand the command to `onCommand`, in order.
 */
export async function replayBenchJournal(dir: string, onCommand: (command: Command) => void): Promise<void> {
  const journal = await FileJournal.open({ dir });
  try {
    for (const record of journal.replay(journal.firstSequence)) onCommand(decodeCommand(record.payload));
  } finally {
    await journal.close();
  }
}

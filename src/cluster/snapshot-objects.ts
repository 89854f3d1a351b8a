// Core snapshots in a JetStream object store (issue 12 §1), so a new standby, projector or
// gateway starts from the newest snapshot plus the journal stream after it, not from sequence 1.
// The primary writes them (Snapshotter, between batches, after the journal is durable through the
// snapshot's sequence); every role reads the newest one that decodes.
//
// An object is named by its sequence, zero-padded so names sort as numbers; its bytes are the
// snapshot file's format (runtime/snapshot-store.ts: header with sequence, length and CRC), so a
// damaged or truncated object is refused and the next older one used. At most `keepCount` are
// kept. The journal stream is not pruned in cluster mode yet (every role would need to be past a
// snapshot first): docs/cluster.md.

import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeSnapshotFile, encodeSnapshotFile } from "../runtime/snapshot-store.ts";

export const DEFAULT_KEEP_SNAPSHOTS = 3;
/** Snapshots listed at most (the store never holds more than keepCount plus one being written). */
const MAX_LISTED_SNAPSHOTS = 1_000;
const NAME_PATTERN = /^snapshot-(\d{16})$/;

export interface StoredSnapshot {
  sequence: number;
  /** The core's snapshot bytes (Core.restore takes them). */
  core: Uint8Array;
}

function nameOf(sequence: number): string {
  return `snapshot-${String(sequence).padStart(16, "0")}`;
}

export class ObjectSnapshotStore {
  private sequences: number[] = [];

  private constructor(
    private readonly objects: ObjectStore,
    readonly keepCount: number,
  ) {}

  /** Opens (creating if missing) the bucket `<bucket>`. */
  static async open(
    connection: NatsConnection,
    bucket: string,
    keepCount: number = DEFAULT_KEEP_SNAPSHOTS,
  ): Promise<ObjectSnapshotStore> {
    if (!Number.isSafeInteger(keepCount) || keepCount < 1 || keepCount > 100)
      throw new RangeError(`keepCount must be 1..100, got ${keepCount}`);
    const objects = await new Objm(connection).create(bucket);
    const store = new ObjectSnapshotStore(objects, keepCount);
    await store.refresh();
    return store;
  }

  /** Sequences of the snapshots held, oldest first. */
  async refresh(): Promise<number[]> {
    const listed = await this.objects.list();
    const sequences: number[] = [];
    for (const info of listed.slice(0, MAX_LISTED_SNAPSHOTS)) {
      if (info.deleted) continue;
      const match = NAME_PATTERN.exec(info.name);
      if (match !== null) sequences.push(Number(match[1]));
    }
    this.sequences = sequences.sort((a, b) => a - b);
    return [...this.sequences];
  }

  /** Stores the core's snapshot at `sequence`, then drops the oldest beyond keepCount. */
  async write(sequence: number, core: Uint8Array): Promise<void> {
    if (!Number.isSafeInteger(sequence) || sequence < 1)
      throw new RangeError(`bad snapshot sequence ${sequence}`);
    await this.objects.putBlob({ name: nameOf(sequence) }, encodeSnapshotFile(sequence, core));
    this.sequences = [...this.sequences.filter((held) => held !== sequence), sequence].sort((a, b) => a - b);
    while (this.sequences.length > this.keepCount) {
      const oldest = this.sequences.shift() as number;
      await this.objects.delete(nameOf(oldest));
    }
  }

  /** The oldest snapshot kept (0 when none): the journal must be kept after it. */
  oldestRetainedSequence(): number {
    return this.sequences[0] ?? 0;
  }

  /**
   * The newest snapshot that decodes, at most `maxSequence` (a projector must not start past its
   * cursor); null when none does. Damaged ones are reported through `onSkipped` and passed over.
   */
  async newest(
    maxSequence: number = Number.MAX_SAFE_INTEGER,
    onSkipped?: (sequence: number, reason: string) => void,
  ): Promise<StoredSnapshot | null> {
    const candidates = (await this.refresh()).filter((sequence) => sequence <= maxSequence).reverse();
    for (const sequence of candidates) {
      const bytes = await this.objects.getBlob(nameOf(sequence));
      if (bytes === null) {
        onSkipped?.(sequence, "gone");
        continue;
      }
      try {
        return { sequence, core: decodeSnapshotFile(nameOf(sequence), bytes, sequence) };
      } catch (error) {
        onSkipped?.(sequence, error instanceof Error ? error.message : String(error));
      }
    }
    return null;
  }
}

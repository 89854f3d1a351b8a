// The journal contract: an append-only, durable log of sequenced records (encoded commands).
// The file journal implements it for embedded mode; a NATS JetStream journal can replace it in
// cluster mode without the sequencer or recovery knowing the difference.

export interface JournalRecord {
  sequence: number;
  /** Valid until the iterator advances; copy it to keep it. */
  payload: Uint8Array;
}

/**
 * Writes a record's payload straight into the journal's buffer, so the hot path encodes once
 * and copies nothing. Implemented by CommandEncoder.
 */
export interface PayloadEncoder<T> {
  /**
   * Writes the payload of `value` into target[offset, endOffset) and returns the offset just
   * past it, or -1 when it does not fit there. Writes nothing outside that range. `view` is a
   * DataView indexing the same bytes as `target`. May throw for a value it cannot encode.
   */
  encodeInto(value: T, target: Uint8Array, view: DataView, offset: number, endOffset: number): number;
}

/**
 * Receives one replayed record: its payload is bytes[payloadOffset, payloadEndOffset). The bytes
 * are the journal's and valid only during the call: decode them, do not keep them.
 */
export type RecordVisitor = (
  sequence: number,
  bytes: Uint8Array,
  payloadOffset: number,
  payloadEndOffset: number,
) => void;

export interface Journal {
  /** Sequence of the last appended record (durable or not); 0 when the journal has none. */
  readonly lastSequence: number;
  /** Sequence of the first record still held (after pruning); 0 when the journal has none. */
  readonly firstSequence: number;
  /** Sequence of the last record known durable; never more than lastSequence. */
  readonly durableSequence: number;

  /**
   * Buffers one record; synchronous and cheap. `sequence` must be lastSequence + 1 (or any
   * positive integer for the first record ever). Throws JournalFullError when the bounded
   * pending buffer has no room: callers check hasRoomFor() first or await flush() and retry.
   */
  append(sequence: number, payload: Uint8Array): void;

  /**
   * Like append(), but `encoder` writes the payload in place (no intermediate buffer, no copy).
   * Returns the payload's size. If the encoder throws, nothing was appended. Throws
   * JournalFullError when the pending buffer lacks room (it always keeps room for a segment
   * header, so it may refuse a record that append() would still take).
   */
  appendEncoded<T>(sequence: number, value: T, encoder: PayloadEncoder<T>): number;

  /** Whether append() of a payload of this size would fit in the pending buffer now. */
  hasRoomFor(payloadSizeBytes: number): boolean;

  /**
   * Resolves once every record appended before the call is durable. Many appends share one
   * write and one sync (group commit). Rejects if the journal failed: it is then unusable.
   */
  flush(): Promise<void>;

  /**
   * Records with sequence >= fromSequence, in order: those durable when the replay starts.
   * Throws if pruned.
   */
  replay(fromSequence: number): Iterable<JournalRecord>;

  /**
   * The records replay() gives, handed to `visit` in place: no object, no slice per record.
   * Returns how many it visited. Recovery uses it; replay() is the convenient form.
   */
  forEachRecord(fromSequence: number, visit: RecordVisitor): number;

  /** Drops whole segments whose records are all <= sequence (covered by a snapshot). Returns how many. */
  pruneThrough(sequence: number): Promise<number>;

  /** Flushes what is pending, then releases the files. */
  close(): Promise<void>;
}

/** Thrown by append() when the pending buffer is full: the writer must wait for a flush. */
export class JournalFullError extends Error {
  constructor(pendingSizeBytes: number, maxPendingSizeBytes: number) {
    super(`journal pending buffer full (${pendingSizeBytes} of ${maxPendingSizeBytes} bytes): await flush()`);
    this.name = "JournalFullError";
  }
}

/** The journal holds a bad record that is not a torn tail: acknowledged data may be damaged. */
export class JournalCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`journal corrupt in ${file} at byte ${offset}: ${reason}`);
    this.name = "JournalCorruptError";
  }
}

/** The journal failed (write or sync error) or was closed; the process must restart and recover. */
export class JournalFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "JournalFailedError";
  }
}

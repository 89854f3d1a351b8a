// Cluster mode's journal: the records are the messages of one NATS JetStream stream, one message
// per command, and a message's stream sequence IS the command's sequence. NATS stores and
// replicates them; this file only keeps the Journal contract (src/journal/journal.ts).
//
// Open reads every message from `fromSequence` (a snapshot's next sequence) to the stream's last
// into memory, bounded by maxReplayBytes, because replay()/forEachRecord() are synchronous. Those
// records stay until the first append (recovery is done by then), so memory does not grow with
// the stream; replaying again after appends throws: reopen to replay.
//
// append() copies into a bounded pending buffer. flush() starts (or joins) one flush loop that
// swaps the pending buffer with a spare and publishes the chunk's records in order, pipelined
// (every publish is sent before any ack is awaited); appends meanwhile go to the next chunk
// (group commit). The chunk's buffer is reused only after all its acks: the client keeps
// references to payloads until they are on the wire.
//
// FENCING (two writers impossible): every publish carries `Nats-Expected-Last-Sequence:
// <sequence - 1>`, so a record lands only right after the record this writer believes is last.
// That alone is not enough with pipelining: if another writer's record took N+1, our N+1 fails
// but our N+2 (expecting N+1) would pass. So each record after the first one this writer
// published also carries `Nats-Expected-Last-Msg-Id` naming our previous record (each record
// gets `Nats-Msg-Id: <writer token>.<sequence>`): once a foreign record is in between, every
// later publish of ours fails. Sequence 1 also carries `Nats-Expected-Last-Subject-Sequence: 0`:
// some server versions treat an expected last sequence of 0 as "no expectation" (2.9.10 does
// not; the subject check keeps the rule whatever the server). Any failure, or an ack
// whose sequence is not the record's, fails the journal for good (JournalFailedError; a lost
// race says "fenced: another writer ..."): the process must restart and recover.

import { randomBytes } from "node:crypto";
import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamInfo,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type Journal,
  JournalFailedError,
  JournalFullError,
  type JournalRecord,
  type PayloadEncoder,
  type RecordVisitor,
} from "../journal/journal.ts";
import { MAX_RECORD_PAYLOAD_SIZE_BYTES } from "../journal/segment-format.ts";

export interface JetStreamJournalOptions {
  /** The caller's connection; close() leaves it open. */
  connection: NatsConnection;
  streamName: string;
  /** The stream's only subject; every record is published to it. */
  subject: string;
  /** First sequence to load for replay (a snapshot's sequence + 1); default the stream's first. */
  fromSequence?: number;
  /** Capacity of the pending (not yet published) buffer, headers' estimate included; two are allocated. */
  maxPendingBytes?: number;
  /**
   * Open refuses a stream whose records from fromSequence on exceed this many bytes (payloads
   * plus 64 per record): open from a snapshot's sequence to keep it small.
   */
  maxReplayBytes?: number;
  /** How long a publish waits for its ack before the journal fails (outcome unknown). */
  ackTimeoutMs?: number;
}

/** Why the journal stopped: another writer published to the stream (the fencing rule). */
export class JournalFencedError extends JournalFailedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "JournalFencedError";
  }
}

const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;
const MIN_MAX_PENDING_BYTES = 64 * 1024;
const DEFAULT_MAX_REPLAY_BYTES = 256 * 1024 * 1024;
const DEFAULT_ACK_TIMEOUT_MS = 5_000;
/** Budget per record for headers and protocol framing, counted against the pending buffer. */
const RECORD_OVERHEAD_BYTES = 256;
/** Room kept for the publish headers inside the server's max_payload. */
const HEADER_ROOM_BYTES = 512;
/** Messages per fetch while loading the stream at open. */
const READ_BATCH_MESSAGES = 1_000;
const READ_FETCH_EXPIRES_MS = 5_000;
/** Memory a loaded record costs besides its payload, counted against maxReplayBytes. */
const HELD_RECORD_OVERHEAD_BYTES = 64;
/** Short: msg ids only chain our own publishes (expected last msg id), dedupe is not used. */
const DUPLICATE_WINDOW_NS = 1_000_000_000;
const WRONG_LAST_MSG_ID_CODE = 10070;
const FENCE_CODES: ReadonlySet<number> = new Set([
  JetStreamApiCodes.StreamWrongLastSequence,
  JetStreamApiCodes.StreamWrongLastSequenceUnknown,
  WRONG_LAST_MSG_ID_CODE,
]);

interface Waiter {
  target: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Records taken off the pending buffer by one flush round. */
interface Chunk {
  bytes: Uint8Array;
  /** End offset of each record's payload in `bytes`; record i starts where i - 1 ends. */
  ends: number[];
  firstSequence: number;
}

/** Records loaded at open, contiguous from firstSequence. */
interface Held {
  firstSequence: number;
  payloads: Uint8Array[];
}

export class JetStreamJournal implements Journal {
  readonly streamName: string;
  readonly subject: string;
  readonly maxPendingBytes: number;
  /** Largest payload one record may have (the server's max_payload less header room). */
  readonly maxPayloadBytes: number;
  lastSequence: number;
  durableSequence: number;

  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly ackTimeoutMs: number;
  /** Names this writer's messages: `<token>.<sequence>`. */
  private readonly writerToken = randomBytes(8).toString("hex");
  /** First sequence this instance publishes; later ones chain to their predecessor's msg id. */
  private readonly firstOwnSequence: number;
  private held: Held | null;
  /** First record held in the stream as far as this journal knows; 0 when none. */
  private first: number;
  private pending: Uint8Array;
  private pendingView: DataView;
  private spare: Uint8Array;
  private spareView: DataView;
  private pendingLength = 0;
  private pendingEnds: number[] = [];
  /** Payload bytes plus RECORD_OVERHEAD_BYTES per pending record. */
  private pendingUsedBytes = 0;
  private flushing = false;
  private waiters: Waiter[] = [];
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    options: JetStreamJournalOptions,
    clients: { js: JetStreamClient; jsm: JetStreamManager },
    loaded: { lastSequence: number; held: Held | null },
    maxPendingBytes: number,
    maxPayloadBytes: number,
  ) {
    this.streamName = options.streamName;
    this.subject = options.subject;
    this.js = clients.js;
    this.jsm = clients.jsm;
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.maxPendingBytes = maxPendingBytes;
    this.maxPayloadBytes = maxPayloadBytes;
    this.lastSequence = loaded.lastSequence;
    this.durableSequence = loaded.lastSequence;
    this.firstOwnSequence = loaded.lastSequence + 1;
    this.held = loaded.held;
    this.first = loaded.held?.firstSequence ?? 0;
    this.pending = new Uint8Array(maxPendingBytes);
    this.pendingView = new DataView(this.pending.buffer);
    this.spare = new Uint8Array(maxPendingBytes);
    this.spareView = new DataView(this.spare.buffer);
  }

  /**
   * Creates the stream if missing (file storage, limits retention, no limits that drop
   * records), then loads its records from fromSequence to its last for replay.
   * lastSequence = durableSequence = the stream's last sequence (it survives purges).
   */
  static async open(options: JetStreamJournalOptions): Promise<JetStreamJournal> {
    const maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    if (!Number.isSafeInteger(maxPendingBytes) || maxPendingBytes < MIN_MAX_PENDING_BYTES) {
      throw new RangeError(`maxPendingBytes must be an integer of at least ${MIN_MAX_PENDING_BYTES}`);
    }
    const maxReplayBytes = options.maxReplayBytes ?? DEFAULT_MAX_REPLAY_BYTES;
    if (!Number.isSafeInteger(maxReplayBytes) || maxReplayBytes < 0) {
      throw new RangeError("maxReplayBytes must be a non-negative safe integer");
    }
    const fromSequence = options.fromSequence ?? 1;
    if (!Number.isSafeInteger(fromSequence) || fromSequence < 1) {
      throw new RangeError(`fromSequence must be a positive safe integer, got ${fromSequence}`);
    }
    const jsm = await jetstreamManager(options.connection);
    const js = jetstream(options.connection);
    const info = await ensureStream(jsm, options.streamName, options.subject);
    // A record too large for the server or the stream is refused by append(), not by a publish
    // that would fail the journal.
    const serverMaxPayloadBytes = options.connection.info?.max_payload ?? MAX_RECORD_PAYLOAD_SIZE_BYTES;
    const streamMaxMsgBytes =
      info.config.max_msg_size > 0 ? info.config.max_msg_size : MAX_RECORD_PAYLOAD_SIZE_BYTES;
    const maxPayloadBytes = Math.min(
      MAX_RECORD_PAYLOAD_SIZE_BYTES,
      serverMaxPayloadBytes - HEADER_ROOM_BYTES,
      streamMaxMsgBytes - HEADER_ROOM_BYTES,
      maxPendingBytes - RECORD_OVERHEAD_BYTES,
    );
    const lastSequence = info.state.last_seq;
    const streamFirst = info.state.messages > 0 ? info.state.first_seq : lastSequence + 1;
    const held = await loadRecords(
      js,
      options.streamName,
      Math.max(fromSequence, streamFirst),
      lastSequence,
      maxReplayBytes,
    );
    return new JetStreamJournal(
      options,
      { js, jsm },
      { lastSequence, held },
      maxPendingBytes,
      maxPayloadBytes,
    );
  }

  /**
   * First record this journal can replay or has appended: the first loaded at open (the
   * stream's first, or fromSequence if later), else the first appended since; 0 when none.
   */
  get firstSequence(): number {
    return this.first;
  }

  /** Bytes appended and not yet handed to NATS, headers' estimate included. */
  get pendingSizeBytes(): number {
    return this.pendingUsedBytes;
  }

  /** Whether the journal failed or closed (every call but close() rejects then). */
  get failed(): Error | null {
    return this.failure;
  }

  hasRoomFor(payloadSizeBytes: number): boolean {
    return this.pendingUsedBytes + RECORD_OVERHEAD_BYTES + payloadSizeBytes <= this.maxPendingBytes;
  }

  append(sequence: number, payload: Uint8Array): void {
    this.assertUsable();
    this.assertNextSequence(sequence);
    if (payload.length > this.maxPayloadBytes) {
      throw new RangeError(`payload of ${payload.length} bytes exceeds ${this.maxPayloadBytes}`);
    }
    if (!this.hasRoomFor(payload.length))
      throw new JournalFullError(this.pendingUsedBytes, this.maxPendingBytes);
    this.pending.set(payload, this.pendingLength);
    this.recordAppended(sequence, payload.length);
  }

  appendEncoded<T>(sequence: number, value: T, encoder: PayloadEncoder<T>): number {
    this.assertUsable();
    this.assertNextSequence(sequence);
    const offset = this.pendingLength;
    const roomBytes = this.maxPendingBytes - this.pendingUsedBytes - RECORD_OVERHEAD_BYTES;
    if (roomBytes < 0) throw new JournalFullError(this.pendingUsedBytes, this.maxPendingBytes);
    const limitBytes = Math.min(roomBytes, this.maxPayloadBytes);
    const endLimitOffset = offset + limitBytes;
    const end = encoder.encodeInto(value, this.pending, this.pendingView, offset, endLimitOffset);
    if (end < 0) {
      if (limitBytes === this.maxPayloadBytes)
        throw new RangeError(`payload exceeds ${this.maxPayloadBytes} bytes`);
      throw new JournalFullError(this.pendingUsedBytes, this.maxPendingBytes);
    }
    if (!(end >= offset && end <= endLimitOffset)) {
      throw new RangeError(`encoder returned end ${end} outside ${offset}..${endLimitOffset}`);
    }
    this.recordAppended(sequence, end - offset);
    return end - offset;
  }

  flush(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const target = this.lastSequence;
    if (this.durableSequence >= target) return Promise.resolve();
    const waiter = this.waiterFor(target);
    if (!this.flushing) void this.runFlushLoop();
    return waiter.promise;
  }

  *replay(fromSequence: number): Generator<JournalRecord> {
    const held = this.heldFor(fromSequence);
    if (held === null) return;
    for (let i = fromSequence - held.firstSequence; i < held.payloads.length; i++) {
      yield { sequence: held.firstSequence + i, payload: held.payloads[i] };
    }
  }

  forEachRecord(fromSequence: number, visit: RecordVisitor): number {
    const held = this.heldFor(fromSequence);
    if (held === null) return 0;
    let count = 0;
    for (let i = fromSequence - held.firstSequence; i < held.payloads.length; i++) {
      const payload = held.payloads[i];
      visit(held.firstSequence + i, payload, 0, payload.length);
      count++;
    }
    return count;
  }

  /**
   * Purges the stream's messages up to and including `sequence` (capped at durableSequence:
   * records not yet acknowledged are never purged). Returns 1 if the purge removed any message,
   * else 0 (the contract counts segments; a stream has none). The stream's last sequence, so
   * lastSequence at the next open, is kept even if the stream becomes empty.
   */
  async pruneThrough(sequence: number): Promise<number> {
    this.assertUsable();
    const coveredThrough = Math.min(sequence, this.durableSequence);
    if (!Number.isSafeInteger(coveredThrough) || coveredThrough < 1) return 0;
    // purge { seq } keeps messages from seq on.
    const response = await this.jsm.streams.purge(this.streamName, { seq: coveredThrough + 1 });
    this.dropHeldThrough(coveredThrough);
    if (this.first !== 0 && this.first <= coveredThrough) {
      this.first = coveredThrough < this.lastSequence ? coveredThrough + 1 : 0;
    }
    return response.purged > 0 ? 1 : 0;
  }

  /** Flushes what is pending, then stops; the NATS connection stays open (the caller owns it). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.failure === null) await this.flush();
    this.closed = true;
    this.held = null;
    this.failure ??= new JournalFailedError("journal closed");
  }

  // ---- append side

  private assertUsable(): void {
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Always lastSequence + 1: JetStream numbers messages itself, from 1 on an empty stream and
   * from its last sequence + 1 after that (even once purged), so the "any positive first
   * sequence" of the contract would only be honoured if it happened to be that number.
   */
  private assertNextSequence(sequence: number): void {
    if (sequence !== this.lastSequence + 1) {
      throw new RangeError(
        `journal sequence ${sequence} does not follow ${this.lastSequence} (stream ${this.streamName} numbers its messages)`,
      );
    }
  }

  private recordAppended(sequence: number, payloadSizeBytes: number): void {
    // Records loaded at open are for recovery, which is over once the writer appends.
    this.held = null;
    if (this.first === 0) this.first = sequence;
    this.pendingLength += payloadSizeBytes;
    this.pendingEnds.push(this.pendingLength);
    this.pendingUsedBytes += payloadSizeBytes + RECORD_OVERHEAD_BYTES;
    this.lastSequence = sequence;
  }

  private waiterFor(target: number): Waiter {
    const last = this.waiters[this.waiters.length - 1];
    if (last !== undefined && last.target === target) return last;
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter = { target, promise, resolve, reject };
    this.waiters.push(waiter);
    return waiter;
  }

  // ---- flush side

  private async runFlushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pendingEnds.length > 0 && this.failure === null) {
        await this.publishChunk(this.takePending());
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.flushing = false;
    }
  }

  /** Swaps the pending buffer with the spare so appends continue while the chunk is published. */
  private takePending(): Chunk {
    const chunk: Chunk = {
      bytes: this.pending.subarray(0, this.pendingLength),
      ends: this.pendingEnds,
      firstSequence: this.lastSequence - this.pendingEnds.length + 1,
    };
    // The chunk's buffer becomes the spare; it is appended to again only after every publish
    // of this chunk settled, because the loop takes the next chunk only then.
    const full = this.pending;
    const fullView = this.pendingView;
    this.pending = this.spare;
    this.pendingView = this.spareView;
    this.spare = full;
    this.spareView = fullView;
    this.pendingLength = 0;
    this.pendingEnds = [];
    this.pendingUsedBytes = 0;
    return chunk;
  }

  /** Sends every record of the chunk, then waits for all acks; durableSequence follows them. */
  private async publishChunk(chunk: Chunk): Promise<void> {
    const acked: boolean[] = new Array(chunk.ends.length).fill(false);
    let ackedCount = 0;
    const settled: Promise<void>[] = [];
    let start = 0;
    for (let i = 0; i < chunk.ends.length; i++) {
      const sequence = chunk.firstSequence + i;
      const payload = chunk.bytes.subarray(start, chunk.ends[i]);
      start = chunk.ends[i];
      const index = i;
      // Sent synchronously inside publish(); only the ack is awaited, all together below.
      const ack = this.js.publish(this.subject, payload, this.publishOptions(sequence));
      settled.push(
        ack
          .then((pubAck) => {
            if (this.failure !== null) return;
            if (pubAck.seq !== sequence || pubAck.duplicate || pubAck.stream !== this.streamName) {
              throw new JournalFencedError(
                `fenced: another writer appended to stream ${this.streamName}: record ${sequence} was acknowledged as ${pubAck.stream} ${pubAck.seq}${pubAck.duplicate ? " (duplicate)" : ""}`,
              );
            }
            acked[index] = true;
            while (ackedCount < acked.length && acked[ackedCount]) ackedCount++;
            this.advanceDurable(chunk.firstSequence + ackedCount - 1);
          })
          .catch((error: unknown) => this.fail(error, sequence)),
      );
    }
    await Promise.all(settled);
  }

  private publishOptions(sequence: number): Partial<JetStreamPublishOptions> {
    const expect: JetStreamPublishOptions["expect"] = { lastSequence: sequence - 1 };
    if (sequence === 1) expect.lastSubjectSequence = 0;
    if (sequence > this.firstOwnSequence) expect.lastMsgID = this.msgId(sequence - 1);
    return { msgID: this.msgId(sequence), expect, timeout: this.ackTimeoutMs };
  }

  private msgId(sequence: number): string {
    return `${this.writerToken}.${sequence}`;
  }

  private advanceDurable(sequence: number): void {
    if (sequence <= this.durableSequence) return;
    this.durableSequence = sequence;
    let resolved = 0;
    while (resolved < this.waiters.length && this.waiters[resolved].target <= this.durableSequence) {
      this.waiters[resolved].resolve();
      resolved++;
    }
    this.waiters.splice(0, resolved);
  }

  private fail(error: unknown, sequence?: number): void {
    if (this.failure !== null) return;
    this.failure = asJournalFailure(error, this.streamName, sequence);
    for (const waiter of this.waiters) waiter.reject(this.failure);
    this.waiters = [];
  }

  // ---- replay

  /** The held records to replay from fromSequence, or null when there is nothing to replay. */
  private heldFor(fromSequence: number): Held | null {
    if (!Number.isSafeInteger(fromSequence) || fromSequence < 1) {
      throw new RangeError(`fromSequence must be a positive safe integer, got ${fromSequence}`);
    }
    if (fromSequence > this.durableSequence) return null;
    const held = this.held;
    if (held === null) {
      if (this.first === 0) return null;
      throw new RangeError(
        `cannot replay from ${fromSequence}: records loaded at open are dropped by the first append or by close; reopen to replay`,
      );
    }
    if (fromSequence < held.firstSequence) {
      throw new RangeError(`cannot replay from ${fromSequence}: the journal starts at ${held.firstSequence}`);
    }
    return held;
  }

  private dropHeldThrough(sequence: number): void {
    const held = this.held;
    if (held === null || sequence < held.firstSequence) return;
    const dropCount = Math.min(held.payloads.length, sequence - held.firstSequence + 1);
    held.payloads.splice(0, dropCount);
    held.firstSequence += dropCount;
    if (held.payloads.length === 0) this.held = null;
  }
}

/** The stream, created if missing; refuses an existing one that could lose records by itself. */
async function ensureStream(jsm: JetStreamManager, streamName: string, subject: string): Promise<StreamInfo> {
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(streamName);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    return jsm.streams.add({
      name: streamName,
      subjects: [subject],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_msg_size: MAX_RECORD_PAYLOAD_SIZE_BYTES,
      duplicate_window: DUPLICATE_WINDOW_NS,
    });
  }
  const config = info.config;
  if (config.subjects?.length !== 1 || config.subjects[0] !== subject) {
    throw new Error(
      `stream ${streamName} has subjects ${JSON.stringify(config.subjects)}, expected only ${subject}`,
    );
  }
  const dropsRecords =
    config.retention !== RetentionPolicy.Limits ||
    (config.max_msgs ?? -1) > 0 ||
    (config.max_bytes ?? -1) > 0 ||
    (config.max_age ?? 0) > 0;
  if (dropsRecords) {
    throw new Error(`stream ${streamName} has a retention or limit that would drop journal records`);
  }
  return info;
}

/** Reads messages fromSequence..lastSequence with an ordered consumer; null when there are none. */
async function loadRecords(
  js: JetStreamClient,
  streamName: string,
  fromSequence: number,
  lastSequence: number,
  maxReplayBytes: number,
): Promise<Held | null> {
  if (fromSequence > lastSequence) return null;
  const consumer = await js.consumers.get(streamName, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSequence,
  });
  const payloads: Uint8Array[] = [];
  let loadedBytes = 0;
  let expected = fromSequence;
  try {
    // Each round either loads at least one message or throws, so this ends.
    while (expected <= lastSequence) {
      const wanted = Math.min(READ_BATCH_MESSAGES, lastSequence - expected + 1);
      const messages = await consumer.fetch({ max_messages: wanted, expires: READ_FETCH_EXPIRES_MS });
      const before = expected;
      for await (const message of messages) {
        if (message.seq !== expected) {
          throw new Error(
            `stream ${streamName} skips from ${expected} to ${message.seq}: purged or deleted while opening`,
          );
        }
        loadedBytes += message.data.length + HELD_RECORD_OVERHEAD_BYTES;
        if (loadedBytes > maxReplayBytes) {
          throw new RangeError(
            `stream ${streamName} holds more than maxReplayBytes (${maxReplayBytes}) from ${fromSequence} to ${lastSequence}: open from a snapshot's sequence`,
          );
        }
        // Copied into a plain Uint8Array: the message's bytes are a Buffer view of the
        // client's read buffer (and Buffer.slice would not copy).
        const payload = new Uint8Array(message.data.length);
        payload.set(message.data);
        payloads.push(payload);
        expected++;
      }
      if (expected === before) {
        throw new Error(
          `stream ${streamName}: message ${expected} did not arrive within ${READ_FETCH_EXPIRES_MS} ms`,
        );
      }
    }
  } finally {
    await consumer.delete().catch(() => false);
  }
  return { firstSequence: fromSequence, payloads };
}

function asJournalFailure(error: unknown, streamName: string, sequence: number | undefined): Error {
  if (error instanceof JournalFailedError) return error;
  const at = sequence === undefined ? "" : ` publishing record ${sequence}`;
  if (
    error instanceof JetStreamApiError &&
    (FENCE_CODES.has(error.code) || /wrong last/i.test(error.message))
  ) {
    return new JournalFencedError(
      `fenced: another writer appended to stream ${streamName}${at} (${error.message}); restart and recover`,
      { cause: error },
    );
  }
  return new JournalFailedError(
    `journal publish failed on stream ${streamName}${at} (outcome unknown): ${String(error)}`,
    {
      cause: error,
    },
  );
}

// The signer's durable state: one append-only log file in its own directory. Every signature made
// (intent id and digest, chain, asset, kind, destination, amount, fee, transaction id and digest, time) and
// every halt and resume is a record, written and fsynced before the answer leaves the signer. A
// restart replays the log into memory: the seen intent ids, the window counters and the halted
// chains. So a crash after signing cannot let the same intent be signed twice, nor lose an amount
// already counted. Reconciliation reads the same log (readSignerLog).
//
// Record: u32 BE length | first 8 bytes of sha256(body) | body (UTF-8 JSON). A crash mid-append
// leaves a torn last record; opening cuts it off (it was never acknowledged). A bad record with
// more data after it is corruption, and opening refuses (an operator must look).
//
// Memory stays bounded: a seen id is forgotten once its intent is past expiry plus a margin (an
// expired intent is refused anyway, and a repeat of it is no longer recognised), and window
// entries older than the longest window are dropped.

import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { type SeenSignature, WINDOWS } from "./policy.ts";

export const LOG_FILE = "signer.log";
const HEADER = 12;
const MAX_RECORD = 64 * 1024;
const LONGEST_WINDOW_MS = Math.max(...WINDOWS.map((window) => window.ms));
const RECENT = 20;
/**
 * Transaction ids of signatures remembered for reconciliation (`signedTxIds`): the newest this
 * many (a few tens of MB at most). Reconciliation asks about transactions in new blocks, so only
 * a transaction signed more than this many signatures ago and mined only now would be missed
 * (reported as unmatched: a false alarm, never a missed theft).
 */
export const MAX_REMEMBERED_TXIDS = 500_000;

export interface SignatureRecord {
  type: "signature";
  intentId: string;
  chain: string;
  asset: string;
  kind: string;
  to: string;
  amount: string;
  fee: string;
  feeAsset: string;
  /** What the signature consumed from each asset's windows (decimal strings). */
  charges: { asset: string; amount: string }[];
  txId: string;
  /** sha256 of the signed transaction, hex. */
  digest: string;
  /**
   * sha256 of the intent's canonical bytes, hex: a repeat of the same intent is signed again
   * without a new charge. Absent in records written before the field existed (no repeat for those).
   */
  intentDigest?: string;
  expiresAtMs: number;
  atMs: number;
}

export interface HaltRecord {
  type: "halt" | "resume";
  chain: string;
  reason: string;
  atMs: number;
}

export type LogRecord = SignatureRecord | HaltRecord;

export class StateError extends Error {
  override name = "StateError";
}

/** Refuses a path whose mode lets the group or others in (`allowed` bits beyond the owner's). */
export function requireOwnerOnly(path: string, what: string): void {
  const stats = statSync(path);
  if ((stats.mode & 0o077) !== 0)
    throw new StateError(
      `${what} ${path} is accessible by group or others (mode ${(stats.mode & 0o777).toString(8)}); it must be owner-only`,
    );
  if (typeof process.getuid === "function" && stats.uid !== process.getuid())
    throw new StateError(`${what} ${path} belongs to another user`);
}

/** Creates `dir` as 0700 if missing; refuses an existing one that is group/world accessible. */
export function ensurePrivateDir(dir: string, what: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  requireOwnerOnly(dir, what);
}

function checksum(body: Uint8Array): Uint8Array {
  return sha256(body).subarray(0, 8);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Parses a log's bytes: the records and the length of the good prefix (less than the file on a torn tail). */
export function parseLog(bytes: Uint8Array): { records: LogRecord[]; goodLength: number; torn: boolean } {
  const records: LogRecord[] = [];
  let at = 0;
  while (at < bytes.length) {
    const rest = bytes.subarray(at);
    if (rest.every((byte) => byte === 0)) return { records, goodLength: at, torn: true };
    if (rest.length < HEADER) return { records, goodLength: at, torn: true };
    const length = new DataView(rest.buffer, rest.byteOffset, 4).getUint32(0);
    if (HEADER + length > rest.length) return { records, goodLength: at, torn: true };
    const body = rest.subarray(HEADER, HEADER + length);
    const good = length > 0 && length <= MAX_RECORD && sameBytes(checksum(body), rest.subarray(4, HEADER));
    if (!good) {
      if (HEADER + length === rest.length) return { records, goodLength: at, torn: true };
      throw new StateError(`signer log corrupt at byte ${at} (a bad record with more records after it)`);
    }
    records.push(JSON.parse(Buffer.from(body).toString("utf8")) as LogRecord);
    at += HEADER + length;
  }
  return { records, goodLength: at, torn: false };
}

/** Reads every record of a signer's log (for reconciliation); does not modify it. */
export function readSignerLog(stateDir: string): LogRecord[] {
  return parseLog(readFileSync(join(stateDir, LOG_FILE))).records;
}

export interface StateOptions {
  /** A seen id is kept until its intent's expiry plus this (default 10 minutes, for clock steps). */
  seenMarginMs?: number;
}

interface WindowEntry {
  atMs: number;
  asset: string;
  amount: bigint;
}

export class SignerState {
  private readonly seen = new Map<string, SeenSignature & { expiresAtMs: number }>();
  private windowEntries: WindowEntry[] = [];
  private readonly halted = new Map<string, { reason: string; atMs: number }>();
  private readonly recent: SignatureRecord[] = [];
  /** txId → when signed, oldest first (insertion order), at most MAX_REMEMBERED_TXIDS. */
  private readonly signedTxs = new Map<string, number>();
  private size: number;
  private failed: string | undefined;
  private closed = false;
  readonly seenMarginMs: number;
  /** Whether opening cut off a torn last record. */
  readonly recoveredTornTail: boolean;
  readonly recordCount: number;

  private constructor(
    private readonly fd: number,
    records: LogRecord[],
    size: number,
    torn: boolean,
    nowMs: number,
    options: StateOptions,
  ) {
    this.size = size;
    this.recoveredTornTail = torn;
    this.recordCount = records.length;
    this.seenMarginMs = options.seenMarginMs ?? 10 * 60_000;
    for (const record of records) this.apply(record);
    this.prune(nowMs);
  }

  /** Opens (or creates) the state in `stateDir` (0700) and replays its log. */
  static open(stateDir: string, nowMs: number, options: StateOptions = {}): SignerState {
    ensurePrivateDir(stateDir, "signer state directory");
    const path = join(stateDir, LOG_FILE);
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600);
    try {
      requireOwnerOnly(path, "signer state file");
      const bytes = readFileSync(path);
      const { records, goodLength, torn } = parseLog(bytes);
      if (torn) {
        ftruncateSync(fd, goodLength);
        fsyncSync(fd);
      }
      if (fstatSync(fd).size === 0) {
        const dirFd = openSync(stateDir, constants.O_RDONLY);
        try {
          fsyncSync(dirFd);
        } finally {
          closeSync(dirFd);
        }
      }
      return new SignerState(fd, records, goodLength, torn, nowMs, options);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  private apply(record: LogRecord): void {
    if (record.type === "signature") {
      this.seen.set(record.intentId, {
        expiresAtMs: record.expiresAtMs,
        txId: record.txId,
        ...(typeof record.intentDigest === "string" ? { intentDigest: record.intentDigest } : {}),
      });
      for (const charge of record.charges)
        this.windowEntries.push({ atMs: record.atMs, asset: charge.asset, amount: BigInt(charge.amount) });
      this.recent.push(record);
      if (this.recent.length > RECENT) this.recent.shift();
      if (!this.signedTxs.has(record.txId)) {
        this.signedTxs.set(record.txId, record.atMs);
        if (this.signedTxs.size > MAX_REMEMBERED_TXIDS)
          this.signedTxs.delete(this.signedTxs.keys().next().value as string);
      }
    } else if (record.type === "halt") {
      this.halted.set(record.chain, { reason: record.reason, atMs: record.atMs });
    } else if (record.type === "resume") {
      this.halted.delete(record.chain);
    }
  }

  /** Appends and fsyncs one record, then applies it. Throws (and refuses all later appends) on an I/O error. */
  append(record: LogRecord): void {
    if (this.closed) throw new StateError("signer state is closed");
    if (this.failed) throw new StateError(`signer state failed earlier: ${this.failed}`);
    const body = Buffer.from(JSON.stringify(record), "utf8");
    if (body.length > MAX_RECORD) throw new StateError("record too large");
    const frame = Buffer.alloc(HEADER + body.length);
    frame.writeUInt32BE(body.length, 0);
    frame.set(checksum(body), 4);
    frame.set(body, HEADER);
    try {
      let written = 0;
      while (written < frame.length) written += writeSync(this.fd, frame, written, frame.length - written);
      fsyncSync(this.fd);
    } catch (error) {
      this.failed = (error as Error).message;
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // the next open cuts the torn tail
      }
      throw new StateError(`cannot write the signer log: ${this.failed}`);
    }
    this.size += frame.length;
    this.apply(record);
  }

  /** Forgets seen ids past expiry + margin and window entries older than the longest window. */
  prune(nowMs: number): void {
    for (const [id, seen] of this.seen)
      if (seen.expiresAtMs + this.seenMarginMs < nowMs) this.seen.delete(id);
    const horizon = nowMs - LONGEST_WINDOW_MS;
    this.windowEntries = this.windowEntries.filter((entry) => entry.atMs > horizon);
  }

  isSeen(intentId: string): boolean {
    return this.seen.has(intentId);
  }

  seenSignature(intentId: string): SeenSignature | undefined {
    const seen = this.seen.get(intentId);
    if (seen === undefined) return undefined;
    return seen.intentDigest === undefined
      ? { txId: seen.txId }
      : { txId: seen.txId, intentDigest: seen.intentDigest };
  }

  isHalted(chain: string): boolean {
    return this.halted.has(chain);
  }

  /** Sum of the amounts charged to `asset` at times in (now - windowMs, now], or later (a clock step back). */
  windowUsed(asset: string, windowMs: number, nowMs: number): bigint {
    let sum = 0n;
    for (const entry of this.windowEntries)
      if (entry.asset === asset && entry.atMs > nowMs - windowMs) sum += entry.amount;
    return sum;
  }

  haltedChains(): { chain: string; reason: string; atMs: number }[] {
    return [...this.halted].map(([chain, halt]) => ({ chain, ...halt }));
  }

  recentSignatures(): SignatureRecord[] {
    return [...this.recent];
  }

  /** Which of `txIds` this signer signed (within the newest MAX_REMEMBERED_TXIDS signatures). */
  signedTxIds(txIds: readonly string[]): string[] {
    return txIds.filter((txId) => this.signedTxs.has(txId));
  }

  seenCount(): number {
    return this.seen.size;
  }

  get failure(): string | undefined {
    return this.failed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

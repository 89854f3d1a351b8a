// Which core process is the primary (issue 12): a lease in a JetStream KV bucket, one key, whose
// value is { holderId, expiresAtMs, term }. Every write names the revision it read (KV create =
// "only if absent", update = "only if still at revision R"), so two processes can never both
// believe they wrote the current lease: the second writer's update fails on the server.
//
// WHY THE LEASE ALONE IS NOT THE FENCE. A lease says who was primary when it was written, not who
// is primary now. A primary that pauses (GC, a stopped VM, a partition) past its expiry still
// believes it holds the lease when it wakes up, and may act on that belief before its next renew
// fails. Expiry is also judged by each process's own clock, so skew shifts it. The lease is the
// election; the fence is where writes land: the core appends to its journal stream with
// JetStream's expected-last-sequence, so a deposed primary's first append after a takeover fails
// (the new primary appended first), and it must stop (src/cluster/jetstream-journal.ts). The term
// is carried for logs and for the journal to record who wrote; it never replaces that check.

import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** The lease as stored in the key. */
export interface LeaseRecord {
  holderId: string;
  /** By the writer's clock; 0 after release(). */
  expiresAtMs: number;
  /** 1 for the first holder, +1 on every takeover (renewals keep it). */
  term: number;
}

/** The key's current value and revision, as a watcher sees it (record null: absent, deleted or unreadable). */
export interface LeaseState {
  record: LeaseRecord | null;
  revision: number;
}

export type LeaseLostReason =
  /** A renew found another holder's write at the key. */
  | "takenOver"
  /** No renew succeeded before the lease's own expiry (NATS unreachable): assume another took it. */
  | "expired";

export interface LeaderLeaseOptions {
  /** KV bucket name (created if absent, history 1). */
  bucket: string;
  key: string;
  /** This process, unique in the deployment (e.g. host + pid + start time). */
  holderId: string;
  /** How long a write holds the lease; renewals come every renewIntervalMs (ttlMs / 3 by default). */
  ttlMs: number;
  renewIntervalMs?: number;
  /** Milliseconds since the epoch; Date.now unless given (tests inject one). */
  clock?: () => number;
  /** Called once when a held lease is lost; the holder must stop acting as primary. */
  onLost?: (reason: LeaseLostReason) => void;
  /** Bucket replicas when this call creates it (1 on a single server; 3 in a NATS cluster). */
  replicas?: number;
  /** Longest a KV operation may take before it counts as failed. */
  operationTimeoutMs?: number;
}

const MIN_TTL_MS = 50;
const MAX_TTL_MS = 10 * 60_000;
const MAX_HOLDER_ID_LENGTH = 200;
const DEFAULT_OPERATION_TIMEOUT_MS = 2_000;
/** JetStream API codes of a write whose expected revision was not the key's last one. */
const WRONG_LAST_SEQUENCE_CODES = new Set([10071, 10164]);

function isWrongLastSequence(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" && WRONG_LAST_SEQUENCE_CODES.has(code);
}

/** The record in an entry, or null if the key is absent, deleted or holds something else. */
function recordOf(entry: KvEntry | null): LeaseRecord | null {
  if (entry === null || entry.operation !== "PUT" || entry.length > 4096) return null;
  try {
    const value = entry.json<Partial<LeaseRecord>>();
    if (
      typeof value.holderId === "string" &&
      Number.isSafeInteger(value.expiresAtMs) &&
      Number.isSafeInteger(value.term)
    ) {
      return value as LeaseRecord;
    }
  } catch {
    // unreadable: treated as no lease (below)
  }
  return null;
}

function encodeRecord(record: LeaseRecord): string {
  return JSON.stringify({ holderId: record.holderId, expiresAtMs: record.expiresAtMs, term: record.term });
}

export class LeaderLease {
  /** What this process last wrote and the revision it got, while it believes it holds the lease. */
  private mine: { record: LeaseRecord; revision: number } | null = null;
  private renewTimer: ReturnType<typeof setInterval> | null = null;
  private renewing = false;
  private readonly watchers = new Set<{ stop(): void }>();
  private readonly clock: () => number;
  private readonly renewIntervalMs: number;
  private readonly operationTimeoutMs: number;

  private constructor(
    private readonly kv: KV,
    private readonly options: LeaderLeaseOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.renewIntervalMs = options.renewIntervalMs ?? Math.max(1, Math.floor(options.ttlMs / 3));
    this.operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  }

  /** Opens (creating if needed) the bucket; holds nothing until tryAcquire(). */
  static async open(connection: NatsConnection, options: LeaderLeaseOptions): Promise<LeaderLease> {
    if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < MIN_TTL_MS || options.ttlMs > MAX_TTL_MS) {
      throw new RangeError(`ttlMs must be an integer in ${MIN_TTL_MS}..${MAX_TTL_MS}`);
    }
    const renew = options.renewIntervalMs;
    if (renew !== undefined && (!Number.isSafeInteger(renew) || renew < 1 || renew >= options.ttlMs)) {
      throw new RangeError("renewIntervalMs must be a positive integer below ttlMs");
    }
    if (options.holderId.length === 0 || options.holderId.length > MAX_HOLDER_ID_LENGTH) {
      throw new RangeError(`holderId must be 1..${MAX_HOLDER_ID_LENGTH} characters`);
    }
    const kv = await new Kvm(connection).create(options.bucket, {
      history: 1,
      replicas: options.replicas ?? 1,
    });
    return new LeaderLease(kv, options);
  }

  /** The term this process holds, or null. */
  get term(): number | null {
    return this.mine?.record.term ?? null;
  }

  /** The KV revision of this process's last write, or null when it holds nothing. */
  get revision(): number | null {
    return this.mine?.revision ?? null;
  }

  /**
   * Whether this process believes it holds the lease: it wrote the current value and, by its own
   * clock, that value has not expired. A belief, not a guarantee (see the top of the file).
   */
  isHeld(): boolean {
    return this.mine !== null && this.clock() < this.mine.record.expiresAtMs;
  }

  /** The key as stored now. */
  async current(): Promise<LeaseState> {
    const entry = await this.kv.get(this.options.key);
    return { record: recordOf(entry), revision: entry?.revision ?? 0 };
  }

  /**
   * Takes the lease if the key is absent, released or expired; true if this process holds it now.
   * When two processes try at once, the server accepts exactly one write: the other gets false.
   * Starts the renew loop on success.
   */
  async tryAcquire(): Promise<boolean> {
    if (this.mine !== null) return this.renew();
    const entry = await this.kv.get(this.options.key);
    const previous = recordOf(entry);
    const now = this.clock();
    if (previous !== null && now < previous.expiresAtMs) return false;
    // An unreadable value gets a term above any it could have held: a term never exceeds the
    // revision it was written at (each takeover is at least one write).
    const term = previous !== null ? previous.term + 1 : (entry?.revision ?? 0) + 1;
    const record: LeaseRecord = {
      holderId: this.options.holderId,
      expiresAtMs: now + this.options.ttlMs,
      term,
    };
    try {
      const revision =
        entry === null
          ? await this.kv.create(this.options.key, encodeRecord(record))
          : await this.kv.update(
              this.options.key,
              encodeRecord(record),
              entry.revision,
              this.operationTimeoutMs,
            );
      this.mine = { record, revision };
    } catch (error) {
      if (isWrongLastSequence(error)) return false; // another process wrote first
      throw error;
    }
    this.startRenewing();
    return true;
  }

  /**
   * Extends the lease, only if the key is still at the revision this process last wrote. false
   * and onLost("takenOver") if another holder wrote since; false and onLost("expired") if no renew
   * got through before the lease's expiry; false (still held) for a transient failure before it.
   */
  async renew(): Promise<boolean> {
    const mine = this.mine;
    if (mine === null) return false;
    const record: LeaseRecord = { ...mine.record, expiresAtMs: this.clock() + this.options.ttlMs };
    try {
      const revision = await this.kv.update(
        this.options.key,
        encodeRecord(record),
        mine.revision,
        this.operationTimeoutMs,
      );
      if (this.mine === mine) this.mine = { record, revision };
      return true;
    } catch (error) {
      if (this.mine !== mine) return false; // released or lost meanwhile
      if (isWrongLastSequence(error)) {
        if (await this.adoptOwnWrite(mine.record.term)) return true;
        this.lose("takenOver");
        return false;
      }
      if (this.clock() >= mine.record.expiresAtMs) this.lose("expired");
      return false;
    }
  }

  /**
   * After a "wrong revision": if the key holds this process's own write of the same term (an
   * earlier renew that succeeded on the server but whose answer was lost), keep the lease at it.
   */
  private async adoptOwnWrite(term: number): Promise<boolean> {
    try {
      const entry = await this.kv.get(this.options.key);
      const record = recordOf(entry);
      if (entry === null || record === null) return false;
      if (record.holderId !== this.options.holderId || record.term !== term) return false;
      this.mine = { record, revision: entry.revision };
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Gives the lease up so a standby need not wait for the expiry: writes an expired record of the
   * same term (not a delete, so the next holder's term still counts up), only if the key is still
   * this process's write. Stops the renew loop either way.
   */
  async release(): Promise<void> {
    const mine = this.mine;
    this.mine = null;
    this.stopRenewing();
    if (mine === null) return;
    const record: LeaseRecord = { ...mine.record, expiresAtMs: 0 };
    try {
      await this.kv.update(this.options.key, encodeRecord(record), mine.revision, this.operationTimeoutMs);
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error; // someone else holds it already: nothing to release
    }
  }

  /**
   * Calls onChange with the key's state now and after every write (standbys: to try as soon as
   * the lease is released, or to schedule a try at its expiresAtMs). Returns the stop function.
   * The primary's death writes nothing: a standby must also try when expiresAtMs has passed.
   */
  async watch(onChange: (state: LeaseState) => void): Promise<() => void> {
    const iterator = await this.kv.watch({ key: this.options.key });
    const handle = { stop: () => iterator.stop() };
    this.watchers.add(handle);
    void (async () => {
      try {
        // One key, and onChange is synchronous: the iterator buffers only what arrives during it.
        for await (const entry of iterator) {
          onChange({ record: recordOf(entry), revision: entry.revision });
        }
      } catch {
        // The connection closed under the watch; the standby's own expiry check still runs.
      } finally {
        this.watchers.delete(handle);
      }
    })();
    return () => {
      this.watchers.delete(handle);
      handle.stop();
    };
  }

  /** Stops renewing and watching; does not release (a stopping primary should release() first). */
  close(): void {
    this.stopRenewing();
    this.mine = null;
    for (const watcher of this.watchers) watcher.stop();
    this.watchers.clear();
  }

  private lose(reason: LeaseLostReason): void {
    this.mine = null;
    this.stopRenewing();
    this.options.onLost?.(reason);
  }

  private startRenewing(): void {
    if (this.renewTimer !== null) return;
    this.renewTimer = setInterval(() => {
      if (this.renewing) return; // one renew at a time: a slow one is not stacked upon
      this.renewing = true;
      this.renew()
        .catch(() => {})
        .finally(() => {
          this.renewing = false;
        });
    }, this.renewIntervalMs);
    // The lease never keeps a process alive by itself (the connection and the role do).
    this.renewTimer.unref?.();
  }

  private stopRenewing(): void {
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }
}

// Per-key API nonces, checked in memory and persisted by group commit (docs/API.md#nonce, 40009).
//
// Check. Each key's last accepted nonce is kept in memory (loaded from the store on first use),
// and a request's nonce is compared and advanced synchronously: requests on one key are ordered
// by the single event loop, so of two equal nonces exactly one wins, and a lower nonce arriving
// after a higher one is refused, without a database round trip.
//
// Persistence (write-behind, group commit). Accepted nonces wait in `pending` (one entry per key:
// its highest) and are written in ONE transaction per event-loop turn (setImmediate), at most
// maxKeysPerCommit keys each, one transaction at a time. advance() resolves only after the
// transaction holding its nonce has committed, and the gateway runs a request only after that: so
// no request is executed, nor answered, with a nonce the store could forget and accept again.
//
// The store stays the authority. The commit reads each key's stored nonce and upserts with a guard
// (`where last_nonce < excluded.last_nonce`): if another writer (another gateway on the same
// PostgreSQL, a WS login, an older code path) stored a nonce meanwhile, every request of this
// commit whose nonce is not above it is refused, and the key is reloaded from the store on its
// next use. Memory is a fast filter, never the last word.
//
// Durability. On SQLite (WAL, synchronous=NORMAL) a commit survives a process crash (kill -9)
// but not a power loss or kernel crash: the last nonces accepted before a power cut can be
// forgotten, and a request captured in that window (signed by the key's owner) could be replayed
// once after the restart. That is the trade-off taken for throughput (an fsync per commit capped the
// API at ~90 orders/s); PostgreSQL's commit is durable by its own settings. Since the
// nonce is ms-based (ccxt sends Date.now()), the window is the last moments before the power cut.
//
// A failed commit rejects its requests (internal error) and leaves their nonces burnt in memory:
// a nonce the store may not hold is never accepted twice by this process.

import { LruMap } from "../lib/lru.ts";
import type { HotStatements, NonceAdvance, NonceCommit } from "./hot-statements.ts";

export type NonceRefusal = "notIncreasing";

export interface NonceLedgerOptions {
  /** Keys whose last nonce is kept in memory (least recently used evicted, reloaded on use). */
  maxCachedKeys?: number;
  /** Keys written in one transaction at most; the rest wait for the next one. */
  maxKeysPerCommit?: number;
  /** Requests waiting for their nonce's commit at most; beyond, advance() throws NonceLedgerBusyError. */
  maxWaitingRequests?: number;
}

/** Too many requests wait for nonce commits (the store is slow or down): shed the request. */
export class NonceLedgerBusyError extends Error {
  constructor() {
    super("too many requests waiting for nonce commits");
    this.name = "NonceLedgerBusyError";
  }
}

export class NonceLedgerClosedError extends Error {
  constructor() {
    super("nonce ledger is closed");
    this.name = "NonceLedgerClosedError";
  }
}

interface Waiter {
  nonce: number;
  resolve: (refusal: NonceRefusal | null) => void;
  reject: (error: unknown) => void;
}

interface PendingKey {
  nonce: number;
  waiters: Waiter[];
}

const DEFAULTS = { maxCachedKeys: 100_000, maxKeysPerCommit: 4_096, maxWaitingRequests: 100_000 };

export class NonceLedger {
  /**
   * keyId → last accepted nonce (0: never used). Recency is "last loaded or advanced": reads peek,
   * remember() refreshes. Evicting is safe even for a key with a commit pending: load() takes
   * those into account.
   */
  private readonly lastByKey: LruMap<string, number>;
  private pending = new Map<string, PendingKey>();
  /**
   * First-use loads in flight, one per key: every request on the key awaits the same promise, so
   * they resume in arrival order (separate queries could answer out of order on PostgreSQL).
   * Bounded by maxWaitingRequests.
   */
  private readonly loading = new Map<string, Promise<number>>();
  /** The keys of the transaction in flight, for loads that race it. */
  private committing = new Map<string, number>();
  private waitingRequests = 0;
  private flushScheduled = false;
  private commitRunning: Promise<void> | null = null;
  private closed = false;
  private readonly options: Required<NonceLedgerOptions>;

  constructor(
    private readonly statements: HotStatements,
    options: NonceLedgerOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    for (const [name, value] of Object.entries(this.options))
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`nonce ledger: ${name} must be a positive integer`);
    this.lastByKey = new LruMap(this.options.maxCachedKeys);
  }

  /** Requests waiting for a commit now (for metrics and tests). */
  get waiting(): number {
    return this.waitingRequests;
  }

  /**
   * Accepts `nonce` for the key if it is greater than every nonce accepted before (a positive
   * safe integer; the caller parses it). Resolves null once it is committed, or the refusal.
   */
  async advance(keyId: string, nonce: number): Promise<NonceRefusal | null> {
    if (this.closed) throw new NonceLedgerClosedError();
    if (!Number.isSafeInteger(nonce) || nonce < 1) throw new RangeError("nonce ledger: bad nonce");
    let last = this.lastByKey.peek(keyId);
    if (last === undefined) {
      let load = this.loading.get(keyId);
      if (load === undefined) {
        if (this.loading.size >= this.options.maxWaitingRequests) throw new NonceLedgerBusyError();
        load = this.load(keyId).finally(() => this.loading.delete(keyId));
        this.loading.set(keyId, load);
      }
      const loaded = await load;
      // Another request on the key may have loaded and advanced it while this one waited.
      last = this.lastByKey.peek(keyId) ?? loaded;
    }
    if (nonce <= last) return "notIncreasing";
    if (this.waitingRequests >= this.options.maxWaitingRequests) throw new NonceLedgerBusyError();
    this.remember(keyId, nonce);
    return new Promise<NonceRefusal | null>((resolve, reject) => {
      const entry = this.pending.get(keyId);
      const waiter = { nonce, resolve, reject };
      if (entry === undefined) this.pending.set(keyId, { nonce, waiters: [waiter] });
      else {
        entry.nonce = nonce;
        entry.waiters.push(waiter);
      }
      this.waitingRequests += 1;
      this.scheduleFlush();
    });
  }

  /** Resolves when every nonce accepted so far is committed (or failed). */
  async flush(): Promise<void> {
    while (this.pending.size > 0 || this.commitRunning !== null) {
      if (this.commitRunning !== null) await this.commitRunning;
      else await this.commitNext();
    }
  }

  /** Refuses new nonces and writes the accepted ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** Forgets a key's cached nonce (the next use reloads it from the store). */
  forget(keyId: string): void {
    this.lastByKey.delete(keyId);
  }

  private async load(keyId: string): Promise<number> {
    const stored = (await this.statements.lastNonce(keyId)) ?? 0;
    // Accepted nonces not yet in the store count too: the read may have missed them.
    const value = Math.max(stored, this.pending.get(keyId)?.nonce ?? 0, this.committing.get(keyId) ?? 0);
    if (!this.lastByKey.has(keyId)) this.remember(keyId, value);
    return value;
  }

  private remember(keyId: string, nonce: number): void {
    this.lastByKey.set(keyId, nonce);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate: every request whose bytes arrived in this turn of the loop joins the commit.
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.commitRunning === null) void this.commitNext();
    });
  }

  private commitNext(): Promise<void> {
    const batch: NonceAdvance[] = [];
    const waiters = new Map<string, Waiter[]>();
    for (const [keyId, entry] of this.pending) {
      if (batch.length >= this.options.maxKeysPerCommit) break;
      batch.push({ keyId, nonce: entry.nonce });
      waiters.set(keyId, entry.waiters);
    }
    for (const { keyId } of batch) this.pending.delete(keyId);
    this.committing = new Map(batch.map((entry) => [entry.keyId, entry.nonce]));
    const running = this.commit(batch, waiters).finally(() => {
      this.committing = new Map();
      this.commitRunning = null;
      // Whatever arrived during this commit (or did not fit in it) goes next.
      if (this.pending.size > 0) this.scheduleFlush();
    });
    this.commitRunning = running;
    return running;
  }

  private async commit(batch: readonly NonceAdvance[], waiters: Map<string, Waiter[]>): Promise<void> {
    let result: NonceCommit;
    try {
      result = await this.statements.commitNonces(batch);
    } catch (error) {
      for (const list of waiters.values()) this.settle(list, (waiter) => waiter.reject(error));
      return;
    }
    for (const [keyId, list] of waiters) {
      const written = result.written.has(keyId);
      const previous = result.previous.get(keyId) ?? 0;
      const refused = (waiter: Waiter) => !written || waiter.nonce <= previous;
      // Another writer stored a nonce this process did not know: learn it on the key's next use.
      if (list.some(refused)) this.forget(keyId);
      this.settle(list, (waiter) => waiter.resolve(refused(waiter) ? "notIncreasing" : null));
    }
  }

  private settle(list: readonly Waiter[], action: (waiter: Waiter) => void): void {
    this.waitingRequests -= list.length;
    for (const waiter of list) action(waiter);
  }
}

// Replay protection for the Binance dialect's signed writes (orders, cancels, withdrawals).
//
// Binance signs a timestamp, not a nonce: a captured request stays valid for its recvWindow (at
// most 60 s), and several requests of one key may carry the same or out-of-order timestamps (a
// client sends them concurrently). So a signed write is accepted once per signature: this guard
// remembers each accepted (key, signature) until its window has passed, and refuses it again
// (-1021 family, which ccxt raises as InvalidNonce). Reads need none of this (a replayed read
// changes nothing).
//
// The memory is per process, so a restart would forget what it accepted: writes signed before this
// process started (plus the 1 s a timestamp may run ahead of the server's clock) are refused as
// outside the window. Starting takes longer than that second (loading, journal replay, store), so
// a client rarely meets it; one that does signs again, as after any -1021.
// Bounded: when MAX_REMEMBERED_SIGNATURES are inside their windows, new writes are refused as
// busy until the oldest expire (at the default limits a key sends at most ~10 writes a second).

import { MAX_TIMESTAMP_AHEAD_MS } from "./auth.ts";

export const MAX_REMEMBERED_SIGNATURES = 500_000;
/** Expired entries dropped per accept, so the cost of expiry is spread over the writes. */
const MAX_EXPIRED_DROPPED_PER_CALL = 64;

export type ReplayVerdict = "accepted" | "replayed" | "signedBeforeStart" | "full";

/**
 * Memory shared by several gateways (the flood guard's Redis: RequestRateLimiter.claimOnce): true
 * if this claim is the first, false if the signature was seen, null when the shared memory is
 * unavailable (this gateway's own memory still decides).
 */
export type SharedClaim = (name: string, ttlMs: number) => Promise<boolean | null>;

export class SignatureReplayGuard {
  /** key + signature → the time the request's window ends; insertion order ≈ expiry order. */
  private readonly remembered = new Map<string, number>();
  private readonly acceptsSignedFromMs: number;

  constructor(
    private readonly clock: () => number,
    options: { maxRemembered?: number; processStartMs?: number; shared?: SharedClaim } = {},
  ) {
    this.shared = options.shared ?? null;
    this.maxRemembered = options.maxRemembered ?? MAX_REMEMBERED_SIGNATURES;
    const processStartMs = options.processStartMs ?? Math.floor(performance.timeOrigin);
    this.acceptsSignedFromMs = processStartMs + MAX_TIMESTAMP_AHEAD_MS;
  }

  readonly maxRemembered: number;
  private readonly shared: SharedClaim | null;

  /**
   * accept(), then the shared memory when there is one: a signature another gateway accepted is
   * a replay here too (cluster mode: a captured request sent to a second gateway).
   */
  async acceptShared(
    keyId: string,
    signature: string,
    timestampMs: number,
    recvWindowMs: number,
  ): Promise<ReplayVerdict> {
    const verdict = this.accept(keyId, signature, timestampMs, recvWindowMs);
    if (verdict !== "accepted" || this.shared === null) return verdict;
    const ttlMs = Math.max(timestampMs, this.clock()) + recvWindowMs - this.clock();
    const first = await this.shared(`binance-signature:${keyId}:${signature.toLowerCase()}`, ttlMs);
    return first === false ? "replayed" : "accepted";
  }

  /** Records the write unless it was seen (or could have been seen before this process started). */
  accept(keyId: string, signature: string, timestampMs: number, recvWindowMs: number): ReplayVerdict {
    const nowMs = this.clock();
    this.dropExpired(nowMs);
    if (timestampMs < this.acceptsSignedFromMs) return "signedBeforeStart";
    const entry = `${keyId}:${signature.toLowerCase()}`;
    const expiresMs = this.remembered.get(entry);
    if (expiresMs !== undefined && expiresMs >= nowMs) return "replayed";
    if (this.remembered.size >= this.maxRemembered) return "full";
    // The window ends recvWindow after the timestamp, but never before the timestamp itself
    // (a timestamp up to 1 s ahead is accepted).
    this.remembered.set(entry, Math.max(timestampMs, nowMs) + recvWindowMs);
    return "accepted";
  }

  get size(): number {
    return this.remembered.size;
  }

  private dropExpired(nowMs: number): void {
    let dropped = 0;
    for (const [entry, expiresMs] of this.remembered) {
      if (expiresMs >= nowMs || dropped >= MAX_EXPIRED_DROPPED_PER_CALL) break;
      this.remembered.delete(entry);
      dropped += 1;
    }
  }
}

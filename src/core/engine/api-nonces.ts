// The last nonce accepted for each API key (docs/API.md#nonce): part of the core's state, so the
// nonce check and advance are part of the journaled command that carries them. A signed request's
// command (or, for a request that submits none, a touchNonce) holds {keyId, nonce}; the core
// refuses it (staleNonce) unless the nonce is greater than the key's last, and advances it
// otherwise. Recovery restores the table with the rest of the state (snapshot + journal), so a
// replayed request is refused after any restart, and no second durable write (a nonce table in the
// store) stands between a request and its acknowledgement.
//
// Bounded by CoreLimits.maxApiKeyNonces: past it a new key's command is refused (limitReached)
// rather than an old key forgotten (which would let its captured requests be replayed).

import type { NonceStamp } from "../commands.ts";

/** A key id as the core accepts it: 1..64 printable ASCII characters (the gateway's are "K-" + 40 hex). */
export const NONCE_KEY_ID = /^[\x21-\x7e]{1,64}$/;

export type NonceStampProblem = "invalidCommand" | "staleNonce" | "limitReached";

/** Whether the stamp's fields are well formed (a command from outside may hold anything). */
export function isWellFormedNonceStamp(stamp: unknown): stamp is NonceStamp {
  if (typeof stamp !== "object" || stamp === null) return false;
  const { keyId, nonce } = stamp as { keyId?: unknown; nonce?: unknown };
  return (
    typeof keyId === "string" &&
    NONCE_KEY_ID.test(keyId) &&
    typeof nonce === "number" &&
    Number.isSafeInteger(nonce) &&
    nonce >= 1
  );
}

export class ApiNonces {
  private readonly lastByKey = new Map<string, number>();

  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.lastByKey.size;
  }

  last(keyId: string): number | undefined {
    return this.lastByKey.get(keyId);
  }

  /** Why the stamp cannot advance its key, or null when it can. Pure: changes nothing. */
  problem(stamp: unknown): NonceStampProblem | null {
    if (!isWellFormedNonceStamp(stamp)) return "invalidCommand";
    const last = this.lastByKey.get(stamp.keyId);
    if (last !== undefined) return stamp.nonce > last ? null : "staleNonce";
    return this.lastByKey.size >= this.maxKeys ? "limitReached" : null;
  }

  /** Records the stamp's nonce as its key's last; the caller checked problem() first. */
  advance(stamp: NonceStamp): void {
    this.lastByKey.set(stamp.keyId, stamp.nonce);
  }

  /** For snapshot restore. */
  restore(keyId: string, nonce: number): void {
    this.lastByKey.set(keyId, nonce);
  }

  /** Every key and its last nonce, in key order (canonical: the snapshot writes them so). */
  sortedEntries(): [string, number][] {
    return [...this.lastByKey.entries()].sort((left, right) =>
      left[0] < right[0] ? -1 : left[0] > right[0] ? 1 : 0,
    );
  }
}

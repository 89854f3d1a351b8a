// The nonce rule (docs/API.md#nonce, error 40009): per API key, every signed request carries a
// positive integer nonce strictly greater than the last one accepted for that key. This is what
// makes a captured request useless to replay. ccxt sends Date.now().
//
// Order of checks in the gateway: parse the nonce, verify the signature, then advance. The
// nonce must only advance after the signature is good, or anyone who knows a key id could burn
// that key's nonces (e.g. send nonce = 2^53 - 1 and lock the key out for good).

/** Nonces are safe integers: ccxt sends milliseconds, far below this. */
export const MAX_NONCE = Number.MAX_SAFE_INTEGER;
/** Digits in MAX_NONCE; longer text is refused before any conversion. */
const MAX_NONCE_DIGITS = 16;
const NONCE_TEXT = /^[1-9][0-9]*$/;

export type NonceFailure =
  /** Not a positive decimal integer: empty, sign, fraction, exponent, leading zero, whitespace. */
  | "malformed"
  /** Beyond MAX_NONCE. */
  | "tooLarge"
  /** Not greater than the last nonce accepted for the key (equal means a replay). */
  | "notIncreasing";

export type NonceParse = { ok: true; nonce: number } | { ok: false; failure: "malformed" | "tooLarge" };

/** Parses the `nonce` form field. Strict: "0", "01", "1.0", "1e3", " 1" are all malformed. */
export function parseNonce(text: string | undefined): NonceParse {
  if (typeof text !== "string" || text.length === 0) return { ok: false, failure: "malformed" };
  if (text.length > MAX_NONCE_DIGITS) {
    return /^[0-9]+$/.test(text) ? { ok: false, failure: "tooLarge" } : { ok: false, failure: "malformed" };
  }
  if (!NONCE_TEXT.test(text)) return { ok: false, failure: "malformed" };
  const nonce = Number(text);
  if (nonce > MAX_NONCE) return { ok: false, failure: "tooLarge" };
  return { ok: true, nonce };
}

/** True for a nonce value the rule can accept at all (WS login sends it as a JSON number). */
export function isValidNonceValue(nonce: unknown): nonce is number {
  return typeof nonce === "number" && Number.isSafeInteger(nonce) && nonce >= 1;
}

/**
 * The rule itself, pure: `nonce` is acceptable after `lastNonce` (null when the key has never
 * been used). Returns null when acceptable, else why not.
 */
export function nonceProblem(lastNonce: number | null, nonce: number): NonceFailure | null {
  if (!isValidNonceValue(nonce))
    return Number.isInteger(nonce) && nonce > MAX_NONCE ? "tooLarge" : "malformed";
  if (lastNonce !== null && nonce <= lastNonce) return "notIncreasing";
  return null;
}

/**
 * Where the last accepted nonce of each key lives. The store (SQLite/Postgres) implements it
 * later; `advance` must be an atomic compare-and-set, because two requests with the same key
 * can be in flight at once and only one of two equal nonces may win.
 */
export interface NonceStore {
  /** The last nonce accepted for the key, or null if none yet. */
  lastNonce(keyId: string): Promise<number | null>;
  /**
   * Atomically: if `nonceProblem(last, nonce)` is null, record `nonce` as the key's last and
   * resolve null; otherwise change nothing and resolve the problem.
   */
  advance(keyId: string, nonce: number): Promise<NonceFailure | null>;
}

/** NonceStore in a Map, for tests and single-process embedding. Bounded: refuses new keys past maxKeys. */
export class MemoryNonceStore implements NonceStore {
  private readonly last = new Map<string, number>();

  constructor(private readonly maxKeys = 100_000) {
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1)
      throw new RangeError("maxKeys must be a positive integer");
  }

  async lastNonce(keyId: string): Promise<number | null> {
    return this.last.get(keyId) ?? null;
  }

  // No await between the read and the write: on Node's single thread that makes it atomic.
  async advance(keyId: string, nonce: number): Promise<NonceFailure | null> {
    const previous = this.last.get(keyId);
    const problem = nonceProblem(previous ?? null, nonce);
    if (problem !== null) return problem;
    if (previous === undefined && this.last.size >= this.maxKeys) {
      throw new Error(`MemoryNonceStore is full (${this.maxKeys} keys)`);
    }
    this.last.set(keyId, nonce);
    return null;
  }
}

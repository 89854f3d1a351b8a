// The nonce rule (docs/API.md#nonce, error 40009): per API key, every signed request carries a
// positive integer nonce strictly greater than the last one accepted for that key. This is what
// makes a captured request useless to replay. ccxt sends Date.now().
//
// Order of checks in the gateway: parse the nonce, verify the signature, then advance. The
// nonce must only advance after the signature is good, or anyone who knows a key id could burn
// that key's nonces (e.g. send nonce = 2^53 - 1 and lock the key out for good).

import type { ExmoErrorKind } from "../exmo/errors.ts";

/** Nonces are safe integers: ccxt sends milliseconds, far below this. */
export const MAX_NONCE = Number.MAX_SAFE_INTEGER;
/**
 * How far ahead of the server's clock, read as milliseconds, a nonce may be. ccxt's exmo sends
 * Date.now(), so a correct client is at most its clock skew ahead; counters and seconds are far
 * behind and fine. A nonce past this bound is refused before it is stored: one accepted nonce of
 * 2^53 − 1 (or a microsecond timestamp, which is 1000× now in ms) would lock a millisecond
 * client out of its key for good, since every later nonce must be greater (docs/API.md#nonce).
 */
export const MAX_NONCE_AHEAD_MS = 24 * 60 * 60 * 1000;
/** Digits in MAX_NONCE; longer text is refused before any conversion. */
const MAX_NONCE_DIGITS = 16;
const NONCE_TEXT = /^[1-9][0-9]*$/;

/** Why a nonce value is refused before the key's last nonce is even looked at. */
export type NonceValueFailure =
  /** No nonce at all (no `nonce` form field, or an empty one; no `nonce` in a WS login). */
  | "missing"
  /** Not a positive decimal integer: sign, fraction, exponent, leading zero, whitespace, not a number. */
  | "malformed"
  /** Zero (or, in a WS login, a negative number). */
  | "notPositive"
  /** Beyond MAX_NONCE. */
  | "tooLarge"
  /** More than MAX_NONCE_AHEAD_MS ahead of the server's clock in milliseconds. */
  | "tooFarAhead";

export type NonceFailure =
  | NonceValueFailure
  /** Not greater than the last nonce accepted for the key (equal means a replay). */
  | "notIncreasing";

export type NonceParse = { ok: true; nonce: number } | { ok: false; failure: NonceValueFailure };

/**
 * Parses the `nonce` form field. Strict: "01", "1.0", "1e3", " 1" are malformed, "0" is not
 * positive. With `nowMs`, also refuses a nonce too far ahead of that clock.
 */
export function parseNonce(text: string | undefined, nowMs?: number): NonceParse {
  if (typeof text !== "string" || text.length === 0) return { ok: false, failure: "missing" };
  if (text.length > MAX_NONCE_DIGITS) {
    return /^[0-9]+$/.test(text) ? { ok: false, failure: "tooLarge" } : { ok: false, failure: "malformed" };
  }
  if (text === "0") return { ok: false, failure: "notPositive" };
  if (!NONCE_TEXT.test(text)) return { ok: false, failure: "malformed" };
  const nonce = Number(text);
  if (nonce > MAX_NONCE) return { ok: false, failure: "tooLarge" };
  return aheadChecked(nonce, nowMs);
}

/** The same rules for a nonce sent as a JSON value (the WS login's `nonce`, a number). */
export function checkNonceValue(value: unknown, nowMs?: number): NonceParse {
  if (value === undefined || value === null) return { ok: false, failure: "missing" };
  if (typeof value !== "number" || !Number.isFinite(value)) return { ok: false, failure: "malformed" };
  if (!Number.isInteger(value)) return { ok: false, failure: "malformed" };
  if (value < 1) return { ok: false, failure: "notPositive" };
  if (value > MAX_NONCE) return { ok: false, failure: "tooLarge" };
  return aheadChecked(value, nowMs);
}

function aheadChecked(nonce: number, nowMs: number | undefined): NonceParse {
  if (nowMs !== undefined && nonce > nowMs + MAX_NONCE_AHEAD_MS) return { ok: false, failure: "tooFarAhead" };
  return { ok: true, nonce };
}

/** The error (all EXMO 40009, src/gateway/exmo/errors.ts) a refused nonce value answers. */
export function nonceErrorKind(failure: NonceValueFailure): ExmoErrorKind {
  switch (failure) {
    case "missing":
      return "nonceMissing";
    case "malformed":
      return "nonceMalformed";
    case "notPositive":
      return "nonceNotPositive";
    case "tooLarge":
      return "nonceTooLarge";
    case "tooFarAhead":
      return "nonceTooFarAhead";
  }
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

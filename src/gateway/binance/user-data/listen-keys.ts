// Binance listen keys (POST/PUT/DELETE /api/v3/userDataStream, USER_STREAM security): a random
// 60-character name for one API key's user data stream, opened at /ws/<listenKey>. As on
// Binance, an API key has at most one active listen key: a POST while one is active returns it
// and extends it. A key lives LISTEN_KEY_LIFETIME_MS after its creation or last keepalive (PUT).
//
// Keys are kept in memory only: a restart ends every listen key, and a client's next keepalive
// gets -1125 ("This listenKey does not exist."), on which Binance clients create a new one. The
// registry is one per exchange (listenKeysFor), shared by the REST routes (routes.ts) and the
// sockets (sockets.ts), which are built in different places of the server.

import { randomBytes } from "node:crypto";
import type { ExchangeBoundary } from "../../../exchange/boundary.ts";

/** Binance: a listen key is valid 60 minutes after its creation or last keepalive. */
export const LISTEN_KEY_LIFETIME_MS = 60 * 60_000;
/** Listen keys of the whole gateway (one per API key at most). */
export const MAX_LISTEN_KEYS = 10_000;
export const LISTEN_KEY_LENGTH = 60;
const LISTEN_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LISTEN_KEY_PATTERN = /^[A-Za-z0-9]{60}$/;
/** Listeners of ended keys: the sockets side, plus room for tests. */
const MAX_END_LISTENERS = 4;

export interface ListenKeyEntry {
  listenKey: string;
  /** The API key that created it (its user, scope and allow-list were checked then). */
  keyId: string;
  userId: number;
  expiresAtMs: number;
}

export type ListenKeyEndReason = "deleted" | "expired" | "accessLost";
export type ListenKeyEndListener = (entry: ListenKeyEntry, reason: ListenKeyEndReason) => void;

export function isWellFormedListenKey(text: string): boolean {
  return LISTEN_KEY_PATTERN.test(text);
}

/** 60 characters of [A-Za-z0-9], uniform (rejection sampling of random bytes). */
function newListenKey(): string {
  let key = "";
  const limit = 256 - (256 % LISTEN_KEY_ALPHABET.length);
  while (key.length < LISTEN_KEY_LENGTH) {
    for (const byte of randomBytes(LISTEN_KEY_LENGTH * 2)) {
      if (byte >= limit) continue;
      key += LISTEN_KEY_ALPHABET[byte % LISTEN_KEY_ALPHABET.length];
      if (key.length === LISTEN_KEY_LENGTH) break;
    }
  }
  return key;
}

export class ListenKeyRegistry {
  private readonly byListenKey = new Map<string, ListenKeyEntry>();
  private readonly byApiKey = new Map<string, ListenKeyEntry>();
  private readonly endListeners: ListenKeyEndListener[] = [];

  constructor(
    private readonly clock: () => number,
    private readonly maxKeys: number = MAX_LISTEN_KEYS,
  ) {}

  get size(): number {
    return this.byListenKey.size;
  }

  /** The API key's active listen key, extended; a new one if it has none; null when full. */
  create(keyId: string, userId: number): ListenKeyEntry | null {
    const nowMs = this.clock();
    const existing = this.live(this.byApiKey.get(keyId), nowMs);
    if (existing !== undefined) {
      existing.expiresAtMs = nowMs + LISTEN_KEY_LIFETIME_MS;
      return existing;
    }
    if (this.byListenKey.size >= this.maxKeys) this.sweep();
    if (this.byListenKey.size >= this.maxKeys) return null;
    const entry: ListenKeyEntry = {
      listenKey: newListenKey(),
      keyId,
      userId,
      expiresAtMs: nowMs + LISTEN_KEY_LIFETIME_MS,
    };
    this.byListenKey.set(entry.listenKey, entry);
    this.byApiKey.set(keyId, entry);
    return entry;
  }

  /** The live entry of `listenKey`, or undefined (unknown, or expired: then it is ended). */
  get(listenKey: string): ListenKeyEntry | undefined {
    return this.live(this.byListenKey.get(listenKey), this.clock());
  }

  /** Extends the key if it is live and the API key's; false otherwise (-1125). */
  keepAlive(listenKey: string, keyId: string): boolean {
    const entry = this.get(listenKey);
    if (entry === undefined || entry.keyId !== keyId) return false;
    entry.expiresAtMs = this.clock() + LISTEN_KEY_LIFETIME_MS;
    return true;
  }

  /** Ends the key if it is live and the API key's; false otherwise (-1125). */
  delete(listenKey: string, keyId: string): boolean {
    const entry = this.get(listenKey);
    if (entry === undefined || entry.keyId !== keyId) return false;
    this.end(entry, "deleted");
    return true;
  }

  /** Ends the listen key of `keyId`, if any (the key was revoked or its user blocked). */
  endForApiKey(keyId: string, reason: ListenKeyEndReason): void {
    const entry = this.byApiKey.get(keyId);
    if (entry !== undefined) this.end(entry, reason);
  }

  /** Ends every expired key; the sockets side runs it periodically. */
  sweep(): void {
    const nowMs = this.clock();
    for (const entry of [...this.byListenKey.values()])
      if (entry.expiresAtMs <= nowMs) this.end(entry, "expired");
  }

  /** Called once per ended key (deleted, expired, access lost); returns the detach function. */
  onEnd(listener: ListenKeyEndListener): () => void {
    if (this.endListeners.length >= MAX_END_LISTENERS)
      throw new RangeError("listen keys: too many listeners");
    this.endListeners.push(listener);
    return () => {
      const at = this.endListeners.indexOf(listener);
      if (at >= 0) this.endListeners.splice(at, 1);
    };
  }

  private live(entry: ListenKeyEntry | undefined, nowMs: number): ListenKeyEntry | undefined {
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs > nowMs) return entry;
    this.end(entry, "expired");
    return undefined;
  }

  private end(entry: ListenKeyEntry, reason: ListenKeyEndReason): void {
    if (this.byListenKey.get(entry.listenKey) !== entry) return;
    this.byListenKey.delete(entry.listenKey);
    if (this.byApiKey.get(entry.keyId) === entry) this.byApiKey.delete(entry.keyId);
    for (const listener of [...this.endListeners]) listener(entry, reason);
  }
}

const registries = new WeakMap<ExchangeBoundary, ListenKeyRegistry>();

/** The exchange's one registry (made on first use, with that caller's clock). */
export function listenKeysFor(exchange: ExchangeBoundary, clock: () => number = Date.now): ListenKeyRegistry {
  let registry = registries.get(exchange);
  if (registry === undefined) {
    registry = new ListenKeyRegistry(clock);
    registries.set(exchange, registry);
  }
  return registry;
}

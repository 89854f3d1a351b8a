// API key records and user statuses for the gateway's authentication, cached in memory so a
// private request costs no SQL (docs/SECURITY.md#accounts-and-api-keys).
//
// Bounds: at most maxEntries keys (unknown key ids included, so probing random ids cannot make
// every request a query) and as many users, least recently used evicted.
// Freshness: changes made through this process (store functions setUserStatus, revokeApiKey,
// createApiKey, createUser on the same Kysely instance) invalidate the entry at once, before the
// caller's await returns (accounts.ts onAccountChange). Changes made by another process (the CLI
// on the same SQLite file, another gateway on the same PostgreSQL) are seen within ttlMs (default
// 1 s): a revoked key or a frozen user can act for at most that long on such a process.
// A load that raced an invalidation is used once but not cached (generation check), so a stale
// row read just before a revocation cannot stay for a whole TTL.

import type { Kysely } from "kysely";
import { type AccountChange, type ApiKeyRecord, onAccountChange, toApiKey } from "./accounts.ts";
import { BoundedTtlCache } from "./bounded-cache.ts";
import type { HotStatements } from "./hot-statements.ts";
import type { StoreDatabase, UserStatus } from "./schema.ts";

export interface AccountCacheOptions {
  maxEntries?: number;
  ttlMs?: number;
  clock?: () => number;
}

export const ACCOUNT_CACHE_DEFAULTS = { maxEntries: 100_000, ttlMs: 1_000 } as const;

export class AccountCache {
  private readonly keys: BoundedTtlCache<string, ApiKeyRecord | null>;
  private readonly users: BoundedTtlCache<number, UserStatus | null>;
  /** Bumped by every invalidation: a load that started before one must not be cached. */
  private generation = 0;
  private readonly stopWatching: () => void;

  constructor(
    db: Kysely<StoreDatabase>,
    private readonly statements: HotStatements,
    options: AccountCacheOptions = {},
  ) {
    const cacheOptions = {
      maxEntries: options.maxEntries ?? ACCOUNT_CACHE_DEFAULTS.maxEntries,
      ttlMs: options.ttlMs ?? ACCOUNT_CACHE_DEFAULTS.ttlMs,
      clock: options.clock,
    };
    this.keys = new BoundedTtlCache(cacheOptions);
    this.users = new BoundedTtlCache(cacheOptions);
    this.stopWatching = onAccountChange(db, (change) => this.invalidate(change));
  }

  /** The key (revoked or not), or undefined when there is no such key. */
  async apiKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const hit = this.keys.get(keyId);
    if (hit !== undefined) return hit.value ?? undefined;
    const generation = this.generation;
    const row = await this.statements.apiKeyRow(keyId);
    const record = row === undefined ? null : toApiKey(row);
    if (generation === this.generation) this.keys.set(keyId, record);
    return record ?? undefined;
  }

  /** The user's status, or undefined when there is no such user. */
  async userStatus(userId: number): Promise<UserStatus | undefined> {
    const hit = this.users.get(userId);
    if (hit !== undefined) return hit.value ?? undefined;
    const generation = this.generation;
    const status = (await this.statements.userStatus(userId)) ?? null;
    if (generation === this.generation) this.users.set(userId, status);
    return status ?? undefined;
  }

  invalidate(change: AccountChange): void {
    this.generation += 1;
    if (change.kind === "apiKey") this.keys.delete(change.keyId);
    else this.users.delete(change.userId);
  }

  close(): void {
    this.stopWatching();
    this.keys.clear();
    this.users.clear();
  }
}

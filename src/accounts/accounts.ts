// Users and API keys as one service over the store: the account tables, the cached lookups that
// authentication runs on every request, and the per-key nonce ledger. The gateway and the
// operator reach accounts only through this object (the exchange hands it out), so neither holds
// a database handle and REST and WebSocket logins share one cache and one nonce ledger.

import type { AccountCache } from "../store/account-cache.ts";
import {
  type AccountChange,
  type ApiKeyRecord,
  apiKeysOfUser,
  type CreateUserResult,
  createApiKey,
  createUser,
  getApiKey,
  getUserByEmail,
  getUserById,
  onAccountChange,
  revokeApiKey,
  setUserStatus,
  type UserRecord,
} from "../store/accounts.ts";
import type { NonceLedger, NonceRefusal } from "../store/nonce-ledger.ts";
import type { Store } from "../store/open-store.ts";
import type { UserStatus } from "../store/schema.ts";

export { NonceLedgerBusyError } from "../store/nonce-ledger.ts";
export type { AccountChange, ApiKeyRecord, CreateUserResult, NonceRefusal, UserRecord, UserStatus };

export interface NewApiKey {
  keyId: string;
  userId: number;
  secretCiphertext: Uint8Array;
  scopes: readonly string[];
  ipAllowList: readonly string[];
  createdMs: number;
}

export class Accounts {
  private readonly db: Store["db"];
  private readonly cache: AccountCache;
  private readonly nonces: NonceLedger;

  constructor(store: Pick<Store, "db" | "accounts" | "nonces">) {
    this.db = store.db;
    this.cache = store.accounts;
    this.nonces = store.nonces;
  }

  // ---- authentication (cached; invalidated by every write made through this process) -----------

  /** The key (revoked or not) from the cache, or undefined when there is none. */
  cachedApiKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    return this.cache.apiKey(keyId);
  }

  /** The user's status from the cache, or undefined when there is no such user. */
  cachedUserStatus(userId: number): Promise<UserStatus | undefined> {
    return this.cache.userStatus(userId);
  }

  /**
   * Accepts the nonce if it is greater than every nonce the key used before; resolves once that is
   * committed (null) or with the refusal. Throws NonceLedgerBusyError when commits back up.
   */
  advanceNonce(keyId: string, nonce: number): Promise<NonceRefusal | null> {
    return this.nonces.advance(keyId, nonce);
  }

  /** Calls `listener` after every user or key write made through this process; returns the unsubscribe. */
  onChange(listener: (change: AccountChange) => void): () => void {
    return onAccountChange(this.db, listener);
  }

  // ---- users ----------------------------------------------------------------------------------

  createUser(input: { email: string; passwordHash: string; createdMs: number }): Promise<CreateUserResult> {
    return createUser(this.db, input);
  }

  userByEmail(email: string): Promise<UserRecord | undefined> {
    return getUserByEmail(this.db, email);
  }

  userById(userId: number): Promise<UserRecord | undefined> {
    return getUserById(this.db, userId);
  }

  /** Returns false when there is no such user. */
  setUserStatus(userId: number, status: UserStatus): Promise<boolean> {
    return setUserStatus(this.db, userId, status);
  }

  // ---- API keys -------------------------------------------------------------------------------

  /** Returns false when the key id is already taken. */
  createApiKey(input: NewApiKey): Promise<boolean> {
    return createApiKey(this.db, input);
  }

  /** The key, revoked or not, read from the store (not the cache). */
  apiKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    return getApiKey(this.db, keyId);
  }

  apiKeysOfUser(userId: number, options: { limit: number }): Promise<ApiKeyRecord[]> {
    return apiKeysOfUser(this.db, userId, options);
  }

  /** Returns false when the key does not exist or was already revoked. */
  revokeApiKey(keyId: string, revokedMs: number): Promise<boolean> {
    return revokeApiKey(this.db, keyId, revokedMs);
  }
}

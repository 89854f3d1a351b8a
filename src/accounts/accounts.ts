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
  liveApiKeysOfUser,
  onAccountChange,
  revokeApiKey,
  setPasswordHash,
  setUserStatus,
  type UserRecord,
} from "../store/accounts.ts";
import type { Store } from "../store/open-store.ts";
import type { UserStatus } from "../store/schema.ts";
import {
  type AddAddressResult,
  type AddressBookEntry,
  activateAddressNow,
  addAddressBookEntry,
  addressBookOfUser,
  confirmTotp,
  deleteTotp,
  getAddressBookEntry,
  getTotp,
  putPendingTotp,
  removeAddressBookEntry,
  securityChangedMs,
  useTotpStep,
} from "../store/security.ts";
import {
  createSession,
  getSession,
  liveSessionsOfUser,
  revokeSession,
  revokeSessionsOfUser,
  type SessionRecord,
  touchSession,
} from "../store/sessions.ts";

export { SESSION_KEY_PREFIX } from "../store/sessions.ts";

import type { SecretBox } from "./secret-box.ts";
import { matchTotp, newTotpSecret, totpUri } from "./totp.ts";

export type {
  AccountChange,
  AddAddressResult,
  AddressBookEntry,
  ApiKeyRecord,
  CreateUserResult,
  SessionRecord,
  UserRecord,
  UserStatus,
};

/** A new address book entry is usable this long after it is added, unless an operator activates it. */
export const DEFAULT_ADDRESS_ACTIVATION_DELAY_MS = 24 * 60 * 60 * 1000;
/** Withdrawals wait this long after a 2FA or password change (the default of securityChangeLockMs). */
export const SECURITY_CHANGE_LOCK_MS = 24 * 60 * 60 * 1000;
/** Longest delay either option takes. */
const MAX_DELAY_MS = 365 * 24 * 60 * 60 * 1000;
const TOTP_ISSUER = "Bulwark";

export interface AccountsOptions {
  /** Seals TOTP secrets (context `totp:<userId>`); without it the 2FA methods throw. */
  secretBox?: SecretBox;
  /** Default 24 h; shorter in demo. */
  addressActivationDelayMs?: number;
  /** Withdrawals wait this long after a 2FA or password change: default 24 h; shorter in demo. */
  securityChangeLockMs?: number;
}

export type TotpVerifyResult = "ok" | "notEnabled" | "wrongCode";

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

  private readonly secretBox: SecretBox | undefined;
  private readonly addressActivationDelayMs: number;
  private readonly securityChangeLockMs: number;

  constructor(store: Pick<Store, "db" | "accounts">, options: AccountsOptions = {}) {
    this.db = store.db;
    this.cache = store.accounts;
    this.secretBox = options.secretBox;
    this.addressActivationDelayMs = checkDelay(
      "addressActivationDelayMs",
      options.addressActivationDelayMs ?? DEFAULT_ADDRESS_ACTIVATION_DELAY_MS,
    );
    this.securityChangeLockMs = checkDelay(
      "securityChangeLockMs",
      options.securityChangeLockMs ?? SECURITY_CHANGE_LOCK_MS,
    );
  }

  /**
   * The same service (store, cache, address-book delay) sealing TOTP secrets with
   * `secretBox`: for a caller holding the server key (the operator's actions) when this service
   * was opened without one, as the offline CLI's store-only boundary does.
   */
  withSecretBox(secretBox: SecretBox): Accounts {
    return new Accounts(
      { db: this.db, accounts: this.cache },
      {
        secretBox,
        addressActivationDelayMs: this.addressActivationDelayMs,
        securityChangeLockMs: this.securityChangeLockMs,
      },
    );
  }

  /** Milliseconds a new address-book entry waits before it is usable. */
  get addressActivationDelay(): number {
    return this.addressActivationDelayMs;
  }

  /** Milliseconds withdrawals wait after a 2FA or password change. */
  get securityChangeLock(): number {
    return this.securityChangeLockMs;
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

  /** Replaces the password hash and starts the security-change lock. False when there is no such user. */
  changePasswordHash(userId: number, passwordHash: string, nowMs: number): Promise<boolean> {
    return setPasswordHash(this.db, userId, passwordHash, nowMs);
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

  /** The user's keys not revoked, oldest first, at most `limit`. */
  liveApiKeysOfUser(userId: number, options: { limit: number }): Promise<ApiKeyRecord[]> {
    return liveApiKeysOfUser(this.db, userId, options);
  }

  /** Returns false when the key does not exist or was already revoked. */
  revokeApiKey(keyId: string, revokedMs: number): Promise<boolean> {
    return revokeApiKey(this.db, keyId, revokedMs);
  }

  // ---- TOTP 2FA (RFC 6238) --------------------------------------------------------------------

  private box(): SecretBox {
    if (this.secretBox === undefined) throw new Error("accounts: 2FA needs a SecretBox (server key)");
    return this.secretBox;
  }

  private async totpSecret(
    userId: number,
  ): Promise<{ secret: string; lastUsedStep: number | null; enabled: boolean } | undefined> {
    const row = await getTotp(this.db, userId);
    if (row === undefined) return undefined;
    const opened = this.box().open(row.secretSealed, `totp:${userId}`);
    // A secret that does not open (another server key, a moved row) cannot prove anything.
    if (!opened.ok) return undefined;
    return {
      secret: opened.plaintext.toString("utf8"),
      lastUsedStep: row.lastUsedStep,
      enabled: row.status === "enabled",
    };
  }

  /**
   * Starts enabling 2FA: a new secret, stored sealed and pending until `confirmTotp` gets a first
   * code. Returns the otpauth URI (and the secret for manual entry), or undefined when 2FA is
   * already enabled.
   */
  async enableTotp(
    userId: number,
    label: string,
    nowMs: number,
  ): Promise<{ secret: string; uri: string } | undefined> {
    const secret = newTotpSecret();
    const sealed = this.box().seal(secret, `totp:${userId}`);
    if (!(await putPendingTotp(this.db, { userId, secretSealed: sealed, createdMs: nowMs })))
      return undefined;
    return { secret, uri: totpUri(secret, TOTP_ISSUER, label) };
  }

  /** Confirms a pending secret with its first code; 2FA is enabled and the security lock starts. */
  async confirmTotp(userId: number, code: string, nowMs: number): Promise<boolean> {
    const found = await this.totpSecret(userId);
    if (found === undefined || found.enabled) return false;
    const step = matchTotp(found.secret, code, nowMs, null);
    if (step === undefined) return false;
    return confirmTotp(this.db, userId, step, nowMs);
  }

  /**
   * Checks a code of an enabled secret: accepted for the current step ± 1, and each step once
   * (the step is stored in the same conditional update that accepts it, so a replayed or raced
   * code is refused).
   */
  async verifyTotp(userId: number, code: string, nowMs: number): Promise<TotpVerifyResult> {
    const found = await this.totpSecret(userId);
    if (found === undefined || !found.enabled) return "notEnabled";
    const step = matchTotp(found.secret, code, nowMs, found.lastUsedStep);
    if (step === undefined) return "wrongCode";
    return (await useTotpStep(this.db, userId, step)) ? "ok" : "wrongCode";
  }

  async totpEnabled(userId: number): Promise<boolean> {
    return (await getTotp(this.db, userId))?.status === "enabled";
  }

  /** Whether the user has no secret, one waiting for its first code, or 2FA enabled. */
  async totpStatus(userId: number): Promise<"none" | "pending" | "enabled"> {
    return (await getTotp(this.db, userId))?.status ?? "none";
  }

  /** Removes 2FA (the caller checked a code or is the operator); starts the security lock if it was enabled. */
  disableTotp(userId: number, nowMs: number): Promise<boolean> {
    return deleteTotp(this.db, userId, nowMs);
  }

  /** Last 2FA or password change, or undefined. */
  securityChangedMs(userId: number): Promise<number | undefined> {
    return securityChangedMs(this.db, userId);
  }

  /** True while withdrawals are locked by a security change less than securityChangeLockMs (24 h) ago. */
  async withdrawalsLocked(userId: number, nowMs: number): Promise<boolean> {
    const changed = await securityChangedMs(this.db, userId);
    return changed !== undefined && nowMs < changed + this.securityChangeLockMs;
  }

  // ---- browser sessions (src/gateway/session/; the store sees only each id's hash) ---------------

  createSession(input: {
    sessionHash: string;
    userId: number;
    nowMs: number;
    expiresMs: number;
    clientIp: string;
    userAgent: string;
    secondFactor: boolean;
  }): Promise<void> {
    return createSession(this.db, input);
  }

  session(sessionHash: string): Promise<SessionRecord | undefined> {
    return getSession(this.db, sessionHash);
  }

  touchSession(sessionHash: string, nowMs: number): Promise<void> {
    return touchSession(this.db, sessionHash, nowMs);
  }

  /** False when the session is not the user's or was already revoked. */
  revokeSession(userId: number, sessionHash: string, nowMs: number): Promise<boolean> {
    return revokeSession(this.db, { userId, sessionHash, nowMs });
  }

  revokeSessionsOfUser(userId: number, nowMs: number): Promise<number> {
    return revokeSessionsOfUser(this.db, userId, nowMs);
  }

  liveSessionsOfUser(userId: number, options: { nowMs: number; limit: number }): Promise<SessionRecord[]> {
    return liveSessionsOfUser(this.db, userId, options);
  }

  // ---- address book ---------------------------------------------------------------------------

  /** Adds a destination, usable from now + the activation delay. */
  addAddress(input: {
    userId: number;
    currency: string;
    address: string;
    label: string;
    nowMs: number;
  }): Promise<AddAddressResult> {
    return addAddressBookEntry(this.db, {
      userId: input.userId,
      currency: input.currency,
      address: input.address,
      label: input.label,
      createdMs: input.nowMs,
      activeFromMs: input.nowMs + this.addressActivationDelayMs,
    });
  }

  addressBook(userId: number, options: { currency?: string; limit: number }): Promise<AddressBookEntry[]> {
    return addressBookOfUser(this.db, userId, options);
  }

  addressEntry(userId: number, currency: string, address: string): Promise<AddressBookEntry | undefined> {
    return getAddressBookEntry(this.db, userId, currency, address);
  }

  /** The entry when it exists and is past its activation time, else undefined. */
  async activeAddress(
    userId: number,
    currency: string,
    address: string,
    nowMs: number,
  ): Promise<AddressBookEntry | undefined> {
    const entry = await getAddressBookEntry(this.db, userId, currency, address);
    return entry !== undefined && entry.activeFromMs <= nowMs ? entry : undefined;
  }

  /** Operator: makes the entry usable now. The caller writes the audit record. */
  activateAddressNow(input: {
    userId: number;
    currency: string;
    address: string;
    nowMs: number;
    operator: string;
  }): Promise<boolean> {
    return activateAddressNow(this.db, input);
  }

  removeAddress(userId: number, currency: string, address: string): Promise<boolean> {
    return removeAddressBookEntry(this.db, userId, currency, address);
  }
}

function checkDelay(name: string, delayMs: number): number {
  if (!Number.isSafeInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS)
    throw new RangeError(`accounts: ${name} must be an integer in 0..365 days`);
  return delayMs;
}

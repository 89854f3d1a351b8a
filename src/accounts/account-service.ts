// What a person may do to their own account: 2FA, API keys, the withdrawal address book, and the
// security log. One implementation with two front doors (issue 9): the operator's actions
// (src/operator/actions.ts, the CLI and the operator API, acting on any user) and the browser
// session's routes (src/gateway/session/account-routes.ts, acting on the caller's own account).
// The doors differ only in who acts and which proof they bring (`proof`): an operator is trusted,
// a session must give the user's current 2FA code where the policy below asks for one.
//
// Every refusal throws AccountServiceError and changes nothing; every change is appended to the
// audit log through the injected `audit` (accounts/ may not import the exchange), with the actor
// the door names. Secrets (TOTP seeds, API secrets) are returned once and never audited.

import { MAX_REASON_LENGTH } from "../core/commands.ts";
import type { AuditEntry, AuditInput } from "../store/audit-log.ts";
import type { Accounts, AddressBookEntry, ApiKeyRecord, UserRecord } from "./accounts.ts";
import {
  apiKeyPolicyProblem,
  formatScopes,
  generateApiKey,
  parseAllowListEntries,
  parseScopes,
  sealApiSecret,
} from "./api-keys.ts";
import type { SecretBox } from "./secret-box.ts";

/** How a refusal is reported: the operator's error kinds, and a code for the session API. */
export type AccountErrorKind = "invalid" | "notFound" | "conflict" | "rejected";
export type AccountErrorCode =
  | "bad_request"
  | "not_found"
  | "conflict"
  | "totp_required"
  | "wrong_totp"
  | "limit_reached";

export class AccountServiceError extends Error {
  constructor(
    readonly kind: AccountErrorKind,
    readonly code: AccountErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "AccountServiceError";
  }
}

/**
 * Which chain a currency is on and what its addresses look like: custody's and the devnet chains'
 * knowledge, which accounts/ cannot import (the operator builds it, src/operator/actions.ts).
 */
export interface AddressRules {
  /** The chain of `currency` (upper case, checked); throws AccountServiceError (notFound) when none serves it. */
  chainOf(currency: string): string;
  /** `address` in the chain's canonical form; throws AccountServiceError (invalid) for a malformed or another chain's one. */
  canonical(currency: string, chain: string, address: string): string;
}

/** Who asks, and with what proof: an operator is trusted; a session brings the user's 2FA code when asked. */
export type AccountProof = { kind: "operator" } | { kind: "session"; totp: string | undefined };

/** The user acted on: id for the tables, email for messages. */
export type AccountUser = Pick<UserRecord, "userId" | "email">;

export interface AccountServiceDependencies {
  /** The accounts service; 2FA needs it to hold the SecretBox (Accounts.withSecretBox). */
  accounts: Accounts;
  /** Seals new API secrets (context per key id). */
  secretBox: SecretBox;
  clock: () => number;
  /** Appends one row to the hash-chained audit log (the boundary's audit.append). */
  audit: (entry: AuditInput) => Promise<unknown>;
  /** The newest audit rows about any of these subjects (the boundary's audit.ofSubjects); for the security log. */
  auditOfSubjects?: (subjects: readonly string[], options: { limit: number }) => Promise<AuditEntry[]>;
  /** Chains and address forms; without them no address can be added. */
  addressRules?: () => AddressRules | null;
}

export interface CreatedKey {
  keyId: string;
  /** Shown once, here; stored sealed, never audited. */
  secret: string;
  userId: number;
  /** Comma-separated, canonical order ("info,trade"). */
  scopes: string;
  ipAllowList: string[];
}

export interface TotpLockChange {
  /** The previous state: "pending" or "enabled" (disable), "enabled" (confirm). */
  was: "pending" | "enabled";
  /** Withdrawals are refused until then; null when nothing was locked. */
  withdrawalsLockedUntilMs: number | null;
}

export interface SecurityLogEntry {
  seq: number;
  atMs: number;
  actor: string;
  action: string;
  details: unknown;
}

/** Most live API keys one user holds (and one listing returns). */
export const MAX_LIVE_API_KEYS_PER_USER = 50;
/** Most keys (revoked ones too) whose audit rows the security log reads. */
const MAX_KEYS_IN_SECURITY_LOG = 150;
/** Most and default entries of one security-log page. */
export const MAX_SECURITY_LOG_ENTRIES = 200;
export const DEFAULT_SECURITY_LOG_ENTRIES = 50;
/** Most address-book entries one listing returns (the store's bound per user). */
export const MAX_ADDRESS_LISTING = 100;
/** Longest address-book label and address (the store's bounds). */
const MAX_LABEL_LENGTH = 100;
const MAX_ADDRESS_LENGTH = 256;
const CURRENCY_CODE = /^[A-Z0-9]{1,16}$/;
const KEY_ID_TEXT = /^[A-Za-z0-9_-]{1,128}$/;

function fail(kind: AccountErrorKind, code: AccountErrorCode, message: string): never {
  throw new AccountServiceError(kind, code, message);
}

export class AccountService {
  private readonly accounts: Accounts;

  constructor(private readonly deps: AccountServiceDependencies) {
    this.accounts = deps.accounts;
  }

  private audit(actor: string, action: string, subject: string, details: AuditInput["details"]) {
    return this.deps.audit({ tsMs: this.deps.clock(), actor, action, subject, details });
  }

  // ---- 2FA (TOTP) -----------------------------------------------------------------------------

  totpStatus(userId: number): Promise<"none" | "pending" | "enabled"> {
    return this.accounts.totpStatus(userId);
  }

  /**
   * A new pending TOTP secret (replacing a pending one): shown once, to be typed or scanned into
   * an authenticator and confirmed with its first code. Refused while 2FA is enabled.
   */
  async enableTotp(actor: string, user: AccountUser): Promise<{ secret: string; uri: string }> {
    const enrolment = await this.accounts.enableTotp(user.userId, user.email, this.deps.clock());
    if (enrolment === undefined)
      fail("conflict", "conflict", `2FA is already enabled for ${user.email}; disable it first`);
    // The secret is shown once to the caller and never written to the audit log.
    await this.audit(actor, "user.2fa.enable", `user:${user.userId}`, { status: "pending" });
    return enrolment;
  }

  /** Enables the pending secret with its first code; withdrawals are locked from now. */
  async confirmTotp(actor: string, user: AccountUser, codeText: string): Promise<TotpLockChange> {
    const code = checkTotpCode(codeText);
    const status = await this.accounts.totpStatus(user.userId);
    if (status === "enabled") fail("conflict", "conflict", `2FA is already enabled for ${user.email}`);
    if (status === "none")
      fail("conflict", "conflict", `${user.email} has no pending 2FA secret; run \`user 2fa enable\` first`);
    if (!(await this.accounts.confirmTotp(user.userId, code, this.deps.clock())))
      fail(
        "rejected",
        "wrong_totp",
        "wrong code for the pending 2FA secret (or the secret cannot be opened)",
      );
    const lockedUntil = await this.withdrawalLockEnd(user.userId);
    await this.audit(actor, "user.2fa.confirm", `user:${user.userId}`, {
      withdrawalsLockedUntilMs: lockedUntil,
    });
    return { was: "enabled", withdrawalsLockedUntilMs: lockedUntil };
  }

  /** Checks (and spends) a code of the user's enabled 2FA, audited as user.2fa.verify. */
  async verifyTotp(actor: string, user: AccountUser, codeText: string): Promise<void> {
    const code = checkTotpCode(codeText);
    const result = await this.accounts.verifyTotp(user.userId, code, this.deps.clock());
    if (result === "notEnabled") fail("conflict", "conflict", `2FA is not enabled for ${user.email}`);
    if (result === "wrongCode")
      fail("rejected", "wrong_totp", "wrong code, or a code already used (each code works once)");
    // The code's time step is now used: the audit says who spent it.
    await this.audit(actor, "user.2fa.verify", `user:${user.userId}`, {});
  }

  /**
   * Removes the user's 2FA (pending or enabled); removing an enabled one locks withdrawals. A
   * session must give a current code of the enabled secret (a pending one needs none: it never
   * protected anything).
   */
  async disableTotp(actor: string, user: AccountUser, proof: AccountProof): Promise<TotpLockChange> {
    const status = await this.accounts.totpStatus(user.userId);
    if (status === "none") fail("notFound", "not_found", `${user.email} has no 2FA to disable`);
    if (status === "enabled") await this.requireCode(user, proof, "disabling 2FA");
    if (!(await this.accounts.disableTotp(user.userId, this.deps.clock())))
      fail("notFound", "not_found", `${user.email} has no 2FA to disable`);
    const was = status;
    const lockedUntil = was === "enabled" ? await this.withdrawalLockEnd(user.userId) : null;
    await this.audit(actor, "user.2fa.disable", `user:${user.userId}`, {
      was,
      withdrawalsLockedUntilMs: lockedUntil,
    });
    return { was, withdrawalsLockedUntilMs: lockedUntil };
  }

  private async withdrawalLockEnd(userId: number): Promise<number> {
    const changed = await this.accounts.securityChangedMs(userId);
    if (changed === undefined) throw new Error(`the security change of user ${userId} was not recorded`);
    return changed + this.accounts.securityChangeLock;
  }

  /**
   * A session's proof for a sensitive change: the user's current 2FA code, spent here (each code
   * works once). An operator needs none. Refused before anything changes.
   */
  private async requireCode(user: AccountUser, proof: AccountProof, what: string): Promise<void> {
    if (proof.kind === "operator") return;
    if (proof.totp === undefined || proof.totp === "")
      fail(
        "rejected",
        "totp_required",
        (await this.accounts.totpEnabled(user.userId))
          ? `${what} needs your 2FA code`
          : `${what} needs 2FA: enable it first`,
      );
    const code = typeof proof.totp === "string" ? proof.totp.trim() : "";
    const verdict = /^[0-9]{6}$/.test(code)
      ? await this.accounts.verifyTotp(user.userId, code, this.deps.clock())
      : "wrongCode";
    if (verdict === "notEnabled") fail("rejected", "totp_required", `${what} needs 2FA: enable it first`);
    if (verdict !== "ok") fail("rejected", "wrong_totp", "wrong or already used 2FA code");
  }

  /** A session with 2FA on gives its code for every change of keys and addresses. */
  private async requireCodeWhenEnabled(user: AccountUser, proof: AccountProof, what: string): Promise<void> {
    if (proof.kind === "operator") return;
    if (await this.accounts.totpEnabled(user.userId)) await this.requireCode(user, proof, what);
    else if (proof.totp !== undefined && proof.totp !== "")
      fail("invalid", "bad_request", "2FA is not enabled for this account; leave the code empty");
  }

  // ---- API keys -------------------------------------------------------------------------------

  /**
   * A new key: the scopes and allow-list pass the policy (api-keys.ts: withdraw needs a narrow
   * allow-list); a session also needs its 2FA code when 2FA is on, and always for withdraw.
   */
  async createApiKey(
    actor: string,
    user: AccountUser,
    input: { scopes: string; ipAllowList: readonly string[] },
    proof: AccountProof,
  ): Promise<CreatedKey> {
    const scopes = parseScopes(typeof input.scopes === "string" ? input.scopes : "");
    if (!scopes.ok) fail("invalid", "bad_request", `scopes: ${scopes.problem}`);
    const scopeSet = scopes.scopes;
    if (!Array.isArray(input.ipAllowList) || !input.ipAllowList.every((entry) => typeof entry === "string"))
      fail("invalid", "bad_request", "ip allow-list: a list of addresses or CIDR blocks");
    const allowList = parseAllowListEntries(input.ipAllowList);
    if (!allowList.ok) fail("invalid", "bad_request", `ip allow-list: ${allowList.problem}`);
    const policy = apiKeyPolicyProblem(scopeSet, allowList.entries);
    if (policy !== null) fail("invalid", "bad_request", policy);
    const live = await this.accounts.liveApiKeysOfUser(user.userId, { limit: MAX_LIVE_API_KEYS_PER_USER });
    if (live.length >= MAX_LIVE_API_KEYS_PER_USER)
      fail(
        "rejected",
        "limit_reached",
        `${user.email} has ${MAX_LIVE_API_KEYS_PER_USER} live API keys, the most allowed; revoke one first`,
      );
    if (scopeSet.has("withdraw")) await this.requireCode(user, proof, "a key with the withdraw scope");
    else await this.requireCodeWhenEnabled(user, proof, "creating an API key");
    const { keyId, secret } = generateApiKey();
    const scopesText = formatScopes(scopeSet);
    const ipAllowList = [...input.ipAllowList];
    const stored = await this.accounts.createApiKey({
      keyId,
      userId: user.userId,
      secretCiphertext: sealApiSecret(this.deps.secretBox, keyId, secret),
      scopes: scopesText.split(","),
      ipAllowList,
      createdMs: this.deps.clock(),
    });
    // 160 random bits: a collision means the random source is broken, not bad luck.
    if (!stored) throw new Error("generated API key id already exists");
    // The secret is shown once to the caller and never written to the audit log.
    await this.audit(actor, "apiKey.create", `apiKey:${keyId}`, {
      userId: user.userId,
      scopes: scopesText,
      ipAllowList,
    });
    return { keyId, secret, userId: user.userId, scopes: scopesText, ipAllowList };
  }

  /** The user's live keys, oldest first (secrets never leave the store). */
  liveApiKeys(userId: number): Promise<ApiKeyRecord[]> {
    return this.accounts.liveApiKeysOfUser(userId, { limit: MAX_LIVE_API_KEYS_PER_USER });
  }

  /**
   * Revokes a key. With `owner` (a session), only that user's key: another's is "no such key",
   * exactly as a key that does not exist, so a session learns nothing about other users' keys.
   */
  async revokeApiKey(
    actor: string,
    input: { keyId: string },
    owner: AccountUser | null,
  ): Promise<{ keyId: string; userId: number }> {
    const keyId = typeof input.keyId === "string" ? input.keyId : "";
    if (!KEY_ID_TEXT.test(keyId)) fail("invalid", "bad_request", "malformed key id");
    const key = await this.accounts.apiKey(keyId);
    if (key === undefined || (owner !== null && (key.userId !== owner.userId || key.revokedMs !== null)))
      fail("notFound", "not_found", `no API key ${keyId}`);
    if (!(await this.accounts.revokeApiKey(keyId, this.deps.clock())))
      fail("conflict", "conflict", `API key ${keyId} is already revoked`);
    await this.audit(actor, "apiKey.revoke", `apiKey:${keyId}`, { userId: key.userId });
    return { keyId, userId: key.userId };
  }

  // ---- address book ---------------------------------------------------------------------------

  private rules(currency: string): AddressRules {
    const rules = this.deps.addressRules?.() ?? null;
    if (rules === null)
      fail(
        "notFound",
        "not_found",
        `cannot tell which chain ${currency} is on: neither custody nor the devnet chains run here`,
      );
    return rules;
  }

  /**
   * Adds a withdrawal destination: a currency a chain here serves, an address of that chain
   * (stored in its canonical form), usable after the accounts' activation delay unless an
   * operator activates it. A session with 2FA on gives its code.
   */
  async addAddress(
    actor: string,
    user: AccountUser,
    input: { currency: string; address: string; label?: string },
    proof: AccountProof,
  ): Promise<{ entry: AddressBookEntry; chain: string }> {
    const currency = checkCurrency(input.currency);
    const rules = this.rules(currency);
    const chain = rules.chainOf(currency);
    const given = typeof input.address === "string" ? input.address.trim() : "";
    if (given === "" || given.length > MAX_ADDRESS_LENGTH)
      fail("invalid", "bad_request", `an address has 1..${MAX_ADDRESS_LENGTH} characters`);
    const address = rules.canonical(currency, chain, given);
    const label = checkLabel(input.label ?? "");
    if ((await this.accounts.addressEntry(user.userId, currency, address)) !== undefined)
      fail("conflict", "conflict", `${address} is already in ${user.email}'s ${currency} address book`);
    await this.requireCodeWhenEnabled(user, proof, "adding a withdrawal address");
    const added = await this.accounts.addAddress({
      userId: user.userId,
      currency,
      address,
      label,
      nowMs: this.deps.clock(),
    });
    if (added === "exists")
      fail("conflict", "conflict", `${address} is already in ${user.email}'s ${currency} address book`);
    if (added === "full") fail("rejected", "limit_reached", `${user.email}'s address book is full`);
    const entry = await this.storedEntry(user, currency, address);
    await this.audit(actor, "addressBook.add", `user:${user.userId}`, {
      currency,
      chain,
      address,
      label,
      activeFromMs: entry.activeFromMs,
    });
    return { entry, chain };
  }

  /** The user's entries (of one currency when given), at most MAX_ADDRESS_LISTING. */
  listAddresses(userId: number, options: { currency?: string } = {}): Promise<AddressBookEntry[]> {
    const currency = options.currency === undefined ? undefined : checkCurrency(options.currency);
    return this.accounts.addressBook(userId, {
      ...(currency === undefined ? {} : { currency }),
      limit: MAX_ADDRESS_LISTING,
    });
  }

  /** The chain of a listed currency, or null when it cannot be told here. */
  chainOf(currency: string): string | null {
    const rules = this.deps.addressRules?.() ?? null;
    if (rules === null) return null;
    try {
      return rules.chainOf(currency);
    } catch (error) {
      if (error instanceof AccountServiceError) return null;
      throw error;
    }
  }

  /**
   * An existing entry, named as the user may write it: the address canonical when its chain can
   * tell, else as given (an entry of a chain no longer served can still be removed).
   */
  async existingAddress(
    user: AccountUser,
    input: { currency: string; address: string },
  ): Promise<AddressBookEntry> {
    const currency = checkCurrency(input.currency);
    const given = typeof input.address === "string" ? input.address.trim() : "";
    if (given === "" || given.length > MAX_ADDRESS_LENGTH || !/^[!-~]+$/.test(given))
      fail("invalid", "bad_request", `an address is 1..${MAX_ADDRESS_LENGTH} printable characters`);
    let address = given;
    const chain = this.chainOf(currency);
    if (chain !== null)
      try {
        address = this.rules(currency).canonical(currency, chain, given);
      } catch (error) {
        if (!(error instanceof AccountServiceError)) throw error;
      }
    const entry = await this.accounts.addressEntry(user.userId, currency, address);
    if (entry === undefined)
      fail(
        "notFound",
        "not_found",
        `${printable(address)} is not in ${user.email}'s ${currency} address book`,
      );
    return entry;
  }

  /** Removes an entry; `reason` (an operator's) goes to the audit log. */
  async removeAddress(
    actor: string,
    user: AccountUser,
    input: { currency: string; address: string; reason?: string },
  ): Promise<{ currency: string; address: string }> {
    const reason = input.reason === undefined || input.reason === "" ? null : checkReason(input.reason);
    const { currency, address } = await this.existingAddress(user, input);
    if (!(await this.accounts.removeAddress(user.userId, currency, address)))
      fail("notFound", "not_found", `${address} is not in ${user.email}'s ${currency} address book`);
    await this.audit(actor, "addressBook.remove", `user:${user.userId}`, { currency, address, reason });
    return { currency, address };
  }

  /** The entry as stored after a change (it must be there). */
  async storedEntry(user: AccountUser, currency: string, address: string): Promise<AddressBookEntry> {
    const entry = await this.accounts.addressEntry(user.userId, currency, address);
    if (entry === undefined)
      throw new Error(`address book entry ${currency} ${address} missing after a change`);
    return entry;
  }

  // ---- security log ---------------------------------------------------------------------------

  /**
   * The newest audit rows about the user, newest first: those whose subject is the user
   * (logins, sessions, 2FA, address book, status) and those of the user's API keys (created,
   * revoked). The audit log never holds a secret.
   */
  async securityLog(userId: number, options: { limit: number }): Promise<SecurityLogEntry[]> {
    const limit = options.limit;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SECURITY_LOG_ENTRIES)
      fail("invalid", "bad_request", `limit must be a whole number in 1..${MAX_SECURITY_LOG_ENTRIES}`);
    const read = this.deps.auditOfSubjects;
    if (read === undefined) throw new Error("account service: the security log needs auditOfSubjects");
    const keys = await this.accounts.apiKeysOfUser(userId, { limit: MAX_KEYS_IN_SECURITY_LOG });
    const rows = await read([`user:${userId}`, ...keys.map((key) => `apiKey:${key.keyId}`)], { limit });
    return rows.map((row) => ({
      seq: row.seq,
      atMs: row.tsMs,
      actor: row.actor,
      action: row.action,
      details: JSON.parse(row.detailsJson) as unknown,
    }));
  }
}

function checkTotpCode(code: string): string {
  const trimmed = typeof code === "string" ? code.trim() : "";
  if (!/^[0-9]{6}$/.test(trimmed)) fail("invalid", "bad_request", "a 2FA code is 6 digits");
  return trimmed;
}

function checkCurrency(text: string): string {
  const currency = typeof text === "string" ? text.trim().toUpperCase() : "";
  if (!CURRENCY_CODE.test(currency))
    fail("invalid", "bad_request", `a currency is 1..16 letters or digits, got ${printable(currency)}`);
  return currency;
}

function checkReason(text: string): string {
  const reason = typeof text === "string" ? text.trim() : "";
  if (reason.length === 0 || reason.length > MAX_REASON_LENGTH)
    fail("invalid", "bad_request", `reason must be 1..${MAX_REASON_LENGTH} characters`);
  return reason;
}

/** Printable characters only (labels are shown in consoles and pages). */
function checkLabel(text: string): string {
  const label = typeof text === "string" ? text.trim() : "";
  if (label.length > MAX_LABEL_LENGTH || hasControl(label) || /[<>]/.test(label))
    fail(
      "invalid",
      "bad_request",
      `a label has at most ${MAX_LABEL_LENGTH} characters, no control characters and no < or >`,
    );
  return label;
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** User text quoted in a message: at most 80 characters, controls and markup replaced. */
export function printable(text: string): string {
  return String(text)
    .slice(0, 80)
    .replace(/[^A-Za-z0-9.:_ -]/g, "?");
}

// Authentication of one private EXMO REST request (docs/API.md#signing, docs/SECURITY.md#accounts-and-api-keys).
// Checks, in order, first failure wins:
//   1. `Key` header names a known, unrevoked key             → 40017
//   2. its sealed secret opens (server key matches)           → 40017 (logged by the caller)
//   3. `Sign` = HMAC-SHA512(secret, raw body bytes)           → 40005
//   4. `nonce` form field parses and is plausible             → 40009 (missing, malformed, zero,
//      beyond 2^53 − 1, or more than a day ahead of the clock in ms: each its own message)
//   5. the key has the route's scope                          → 40032
//   6. the caller's IP is in the key's allow-list (if any)    → 40032
//   7. the user exists and is not frozen                      → 40033
//   8. the nonce is above every one this process sent for the key (nonce-gate.ts) → 40009
// The nonce is claimed last, and only after the signature is good (see nonce.ts): every failure
// before it changes nothing, and nobody without the secret can burn a key's nonces.
//
// No SQL on the common path: the key and the user's status come from the store's AccountCache
// (invalidated by this process's writes, 1 s TTL for others'). The nonce is not written here: the
// request's command carries it into the journal (or the route layer journals a touchNonce), and
// the core refuses a stale one (src/core/engine/api-nonces.ts). The request is answered only once
// that record is durable.

import type { Accounts, ApiKeyRecord } from "../../accounts/accounts.ts";
import {
  type ApiScope,
  apiSecretContext,
  type Cidr,
  isIpAllowed,
  isWellFormedKeyId,
  parseAllowList,
} from "../../accounts/api-keys.ts";
import type { SecretBox } from "../../accounts/secret-box.ts";
import type { ExmoErrorKind } from "../exmo/errors.ts";
import { nonceErrorKind, parseNonce } from "./nonce.ts";
import { type NonceGate, RequestNonce } from "./nonce-gate.ts";
import { verifyRestSignature } from "./signature.ts";

export interface SignedRequest {
  keyHeader: string | undefined;
  signHeader: string | undefined;
  /** The body exactly as received. */
  rawBody: Buffer;
  /** The `nonce` form field, as text. */
  nonceText: string | undefined;
  remoteAddress: string;
}

export type AuthResult =
  | { ok: true; userId: number; keyId: string; nonce: RequestNonce }
  | {
      ok: false;
      kind: ExmoErrorKind;
      detail?: string /** For logs only, never for the client. */;
      reason: string;
    };

export interface AuthDependencies {
  accounts: Pick<Accounts, "cachedApiKey" | "cachedUserStatus">;
  secretBox: SecretBox;
  nonceGate: NonceGate;
  /** Milliseconds since the epoch: a nonce too far ahead of it is refused (nonce.ts); default Date.now. */
  clock?: () => number;
}

/** A key's secret opened and its allow-list parsed, once per cached record. */
export interface OpenedKey {
  secret: string | null;
  openFailure: string;
  /** null: the stored list no longer parses, which refuses everyone. */
  allowList: Cidr[] | null;
}

// Keyed by the cached record object: a reload (TTL, invalidation) makes a new record, so the
// entry goes with the old one and this map is bounded by the AccountCache's own bound.
const openedKeys = new WeakMap<ApiKeyRecord, OpenedKey>();

/** The key's secret and allow-list, opened once per cached record (the Binance dialect shares it: binance/auth.ts). */
export function openKey(secretBox: SecretBox, key: ApiKeyRecord): OpenedKey {
  let opened = openedKeys.get(key);
  if (opened === undefined) {
    const result = secretBox.open(key.secretCiphertext.toString("utf8"), apiSecretContext(key.keyId));
    const allowList = parseAllowList(key.ipAllowList.join(","));
    opened = {
      secret: result.ok ? result.plaintext.toString("utf8") : null,
      openFailure: result.ok ? "" : result.failure,
      allowList: allowList.ok ? allowList.entries : null,
    };
    openedKeys.set(key, opened);
  }
  return opened;
}

const MISSING_NONCE_HINT = "send it as the form field 'nonce' of an application/x-www-form-urlencoded body";

function fail(kind: ExmoErrorKind, reason: string): AuthResult {
  return { ok: false, kind, reason };
}

export async function authenticate(
  deps: AuthDependencies,
  request: SignedRequest,
  scope: ApiScope,
): Promise<AuthResult> {
  const keyId = request.keyHeader;
  if (!isWellFormedKeyId(keyId)) return fail("unknownApiKey", "malformed or missing Key header");
  const key = await deps.accounts.cachedApiKey(keyId);
  if (key === undefined) return fail("unknownApiKey", "no such key");
  if (key.revokedMs !== null) return fail("unknownApiKey", "key revoked");
  const opened = openKey(deps.secretBox, key);
  if (opened.secret === null) return fail("unknownApiKey", `secret does not open: ${opened.openFailure}`);
  if (!verifyRestSignature(opened.secret, request.rawBody, request.signHeader))
    return fail("badSignature", "signature mismatch");
  const nonce = parseNonce(request.nonceText, (deps.clock ?? Date.now)());
  if (!nonce.ok) {
    const refused = {
      ok: false,
      kind: nonceErrorKind(nonce.failure),
      reason: `nonce ${nonce.failure}`,
    } as const;
    // A JSON body, or none at all: say where the nonce belongs.
    if (nonce.failure === "missing") return { ...refused, detail: MISSING_NONCE_HINT };
    return refused;
  }
  if (!key.scopes.includes(scope)) return fail("noPermission", `key lacks scope ${scope}`);
  // An allow-list that no longer parses refuses everyone: fail closed.
  if (opened.allowList === null || !isIpAllowed(request.remoteAddress, opened.allowList))
    return fail("ipNotAllowed", "address not in allow-list");
  const status = await deps.accounts.cachedUserStatus(key.userId);
  if (status === undefined) return fail("unknownApiKey", "key's user does not exist");
  if (status !== "active") return fail("userBlocked", `user is ${status}`);
  const stamp = deps.nonceGate.claim(keyId, nonce.nonce);
  if (stamp === null) return fail("invalidNonce", "nonce not increasing");
  return { ok: true, userId: key.userId, keyId, nonce: new RequestNonce(stamp) };
}

// Authentication of one private EXMO REST request (EXMO_API.md §1.2, SECURITY.md "Account and
// API security"). Checks, in order, first failure wins:
//   1. `Key` header names a known, unrevoked key             → 40017
//   2. its sealed secret opens (server key matches)           → 40017 (logged by the caller)
//   3. `Sign` = HMAC-SHA512(secret, raw body bytes)           → 40005
//   4. `nonce` form field parses                              → 40009
//   5. the key has the route's scope                          → 40032
//   6. the caller's IP is in the key's allow-list (if any)    → 40032
//   7. the user exists and is not frozen                      → 40033
//   8. the nonce advances atomically in the store             → 40009
// The nonce advances last, and only after the signature is good (see nonce.ts): every failure
// before it changes nothing, and nobody without the secret can burn a key's nonces.

import type { Kysely } from "kysely";
import { advanceNonce, getApiKey, getUserById } from "../../store/accounts.ts";
import type { StoreDatabase } from "../../store/schema.ts";
import type { ExmoErrorKind } from "../exmo/errors.ts";
import { type ApiScope, isIpAllowed, isWellFormedKeyId, parseAllowList } from "./api-keys.ts";
import { parseNonce } from "./nonce.ts";
import type { SecretBox } from "./secret-box.ts";
import { verifyRestSignature } from "./signature.ts";

/** The SecretBox context an API key's secret is sealed under: binds the ciphertext to its key id. */
export function apiSecretContext(keyId: string): string {
  return `api-key:${keyId}`;
}

/** Seals a new key's secret for `createApiKey`'s secretCiphertext column. */
export function sealApiSecret(secretBox: SecretBox, keyId: string, secret: string): Buffer {
  return Buffer.from(secretBox.seal(secret, apiSecretContext(keyId)), "utf8");
}

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
  | { ok: true; userId: number; keyId: string }
  | {
      ok: false;
      kind: ExmoErrorKind;
      detail?: string /** For logs only, never for the client. */;
      reason: string;
    };

export interface AuthDependencies {
  db: Kysely<StoreDatabase>;
  secretBox: SecretBox;
}

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
  const key = await getApiKey(deps.db, keyId);
  if (key === undefined) return fail("unknownApiKey", "no such key");
  if (key.revokedMs !== null) return fail("unknownApiKey", "key revoked");
  const opened = deps.secretBox.open(key.secretCiphertext.toString("utf8"), apiSecretContext(keyId));
  if (!opened.ok) return fail("unknownApiKey", `secret does not open: ${opened.failure}`);
  if (!verifyRestSignature(opened.plaintext.toString("utf8"), request.rawBody, request.signHeader))
    return fail("badSignature", "signature mismatch");
  const nonce = parseNonce(request.nonceText);
  if (!nonce.ok) return fail("invalidNonce", `nonce ${nonce.failure}`);
  if (!key.scopes.includes(scope)) return fail("noPermission", `key lacks scope ${scope}`);
  const allowList = parseAllowList(key.ipAllowList.join(","));
  // An allow-list that no longer parses refuses everyone: fail closed.
  if (!allowList.ok || !isIpAllowed(request.remoteAddress, allowList.entries))
    return fail("ipNotAllowed", "address not in allow-list");
  const user = await getUserById(deps.db, key.userId);
  if (user === undefined) return fail("unknownApiKey", "key's user does not exist");
  if (user.status !== "active") return fail("userBlocked", `user is ${user.status}`);
  if (!(await advanceNonce(deps.db, keyId, nonce.nonce))) return fail("invalidNonce", "nonce not increasing");
  return { ok: true, userId: key.userId, keyId };
}

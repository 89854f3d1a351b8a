// WS `login` (docs/API.md#ws-login): `sign` = base64 HMAC-SHA512(secret, api_key + nonce). The checks
// mirror REST authentication (docs/SECURITY.md#accounts-and-api-keys), first failure wins:
//   nonce a positive safe integer at most a day ahead of the clock in ms → 40009 (its own message);
//   key well-formed, known, unrevoked → 40017; its sealed secret opens → 40017; signature → 40005;
//   key has the `info` scope (private WS only reads) → 40032; caller's IP in the allow-list → 40032;
//   user active → 40033; nonce above the key's last → 40009 (the gate's memory, then the core's
//   table through a journaled touchNonce: src/gateway/auth/nonce-gate.ts).
// The nonce advances last and only after the signature is good (src/gateway/auth/nonce.ts), so
// every failure changes nothing and nobody without the secret can burn a key's nonces. Keys,
// statuses and nonces come from the same cache and nonce gate as REST's, so a nonce used on one
// cannot be replayed on the other.

import type { Accounts } from "../../accounts/accounts.ts";
import { apiSecretContext, isIpAllowed, isWellFormedKeyId, parseAllowList } from "../../accounts/api-keys.ts";
import type { SecretBox } from "../../accounts/secret-box.ts";
import { checkNonceValue, nonceErrorKind } from "../auth/nonce.ts";
import type { NonceGate } from "../auth/nonce-gate.ts";
import { verifyWsLoginSignature } from "../auth/signature.ts";
import type { ExmoErrorKind } from "../exmo/errors.ts";
import type { LoginRequest } from "./protocol.ts";

/** Private WS topics only read the user's state. */
const LOGIN_SCOPE = "info";
/** What cancel-on-disconnect needs: it cancels orders, as REST's order_cancel does. */
const CANCEL_SCOPE = "trade";

export type LoginResult =
  /** mayTrade: whether the key may cancel orders (cancel-on-disconnect); a browser session may. */
  | { ok: true; userId: number; keyId: string; mayTrade: boolean }
  | { ok: false; kind: ExmoErrorKind /** For logs only. */; reason: string };

function fail(kind: ExmoErrorKind, reason: string): LoginResult {
  return { ok: false, kind, reason };
}

export async function verifyLogin(
  deps: {
    accounts: Pick<Accounts, "cachedApiKey" | "cachedUserStatus">;
    secretBox: SecretBox;
    nonceGate: NonceGate;
  },
  request: LoginRequest,
  remoteAddress: string,
  nowMs: number = Date.now(),
): Promise<LoginResult> {
  const keyId = request.api_key;
  const checked = checkNonceValue(request.nonce, nowMs);
  if (!checked.ok) return fail(nonceErrorKind(checked.failure), `nonce ${checked.failure}`);
  const nonce = checked.nonce;
  if (!isWellFormedKeyId(keyId)) return fail("unknownApiKey", "malformed key id");
  const key = await deps.accounts.cachedApiKey(keyId);
  if (key === undefined) return fail("unknownApiKey", "no such key");
  if (key.revokedMs !== null) return fail("unknownApiKey", "key revoked");
  const opened = deps.secretBox.open(key.secretCiphertext.toString("utf8"), apiSecretContext(keyId));
  if (!opened.ok) return fail("unknownApiKey", `secret does not open: ${opened.failure}`);
  if (!verifyWsLoginSignature(opened.plaintext.toString("utf8"), keyId, nonce, request.sign))
    return fail("badSignature", "signature mismatch");
  if (!key.scopes.includes(LOGIN_SCOPE)) return fail("noPermission", `key lacks scope ${LOGIN_SCOPE}`);
  const allowList = parseAllowList(key.ipAllowList.join(","));
  // An allow-list that no longer parses refuses everyone: fail closed.
  if (!allowList.ok || !isIpAllowed(remoteAddress, allowList.entries))
    return fail("ipNotAllowed", "address not in allow-list");
  const status = await deps.accounts.cachedUserStatus(key.userId);
  if (status === undefined) return fail("unknownApiKey", "key's user does not exist");
  if (status !== "active") return fail("userBlocked", `user is ${status}`);
  const stamp = deps.nonceGate.claim(keyId, nonce);
  if (stamp === null) return fail("invalidNonce", "nonce not increasing");
  const touched = await deps.nonceGate.touch(key.userId, stamp);
  if (touched === "busy") return fail("busy", "sequencer queue full");
  if (touched === "stale") return fail("invalidNonce", "nonce not increasing (core)");
  return { ok: true, userId: key.userId, keyId, mayTrade: key.scopes.includes(CANCEL_SCOPE) };
}

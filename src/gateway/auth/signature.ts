// EXMO request signatures (docs/API.md#signing and docs/API.md#ws-login).
//
// REST: `Sign` header = lowercase hex of HMAC-SHA512(key = secret, message = the raw body bytes).
// The body must be the bytes as received: ccxt signs `nonce=…&pair=…` in its own field order,
// so re-serialising a parsed form would break valid signatures.
//
// WS login: `sign` = base64 of HMAC-SHA512(key = secret, message = api_key + String(nonce)).
//
// The secret is used as its UTF-8 bytes, as ccxt does (`this.encode(this.secret)`).

import { createHmac, timingSafeEqual } from "node:crypto";

const SHA512_BYTES = 64;
/** Bounds on what we hash; a body beyond this never reaches the signature check. */
export const MAX_SIGNED_BODY_BYTES = 64 * 1024;
export const MAX_SECRET_LENGTH = 256;
export const MAX_API_KEY_LENGTH = 128;

const HEX_SIGNATURE = /^[0-9a-f]{128}$/i;
const BASE64_SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;

function hmacSha512(secret: string, message: Uint8Array | string): Buffer {
  if (secret.length === 0 || secret.length > MAX_SECRET_LENGTH) {
    throw new RangeError(`secret length must be 1..${MAX_SECRET_LENGTH}`);
  }
  return createHmac("sha512", secret).update(message).digest();
}

function byteLength(body: Uint8Array | string): number {
  return typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.byteLength;
}

/** The `Sign` header a client computes for `rawBody`. Strings are taken as UTF-8. */
export function signRestBody(secret: string, rawBody: Uint8Array | string): string {
  return hmacSha512(secret, rawBody).toString("hex");
}

/**
 * True when `signHeader` is the HMAC of `rawBody` under `secret`. Compares the decoded 64 bytes
 * in constant time; hex case is ignored (the bytes are the same). Malformed or oversized
 * input is false, never an exception, so a hostile header cannot crash the request path.
 */
export function verifyRestSignature(
  secret: string,
  rawBody: Uint8Array | string,
  signHeader: string | undefined,
): boolean {
  if (typeof signHeader !== "string" || !HEX_SIGNATURE.test(signHeader)) return false;
  if (byteLength(rawBody) > MAX_SIGNED_BODY_BYTES) return false;
  const expected = hmacSha512(secret, rawBody);
  return timingSafeEqual(expected, Buffer.from(signHeader, "hex"));
}

/** The message signed at WS login: the key id followed by the nonce in decimal. */
function wsLoginMessage(apiKey: string, nonce: number): string {
  if (apiKey.length === 0 || apiKey.length > MAX_API_KEY_LENGTH) {
    throw new RangeError(`api key length must be 1..${MAX_API_KEY_LENGTH}`);
  }
  if (!Number.isSafeInteger(nonce) || nonce <= 0)
    throw new RangeError("nonce must be a positive safe integer");
  return apiKey + String(nonce);
}

/** The `sign` of a WS `login` frame. */
export function signWsLogin(secret: string, apiKey: string, nonce: number): string {
  return hmacSha512(secret, wsLoginMessage(apiKey, nonce)).toString("base64");
}

/** True when `sign` is the WS login signature of (apiKey, nonce); constant-time on the 64 bytes. */
export function verifyWsLoginSignature(
  secret: string,
  apiKey: string,
  nonce: number,
  sign: string | undefined,
): boolean {
  if (typeof sign !== "string" || !BASE64_SIGNATURE.test(sign)) return false;
  if (apiKey.length === 0 || apiKey.length > MAX_API_KEY_LENGTH) return false;
  if (!Number.isSafeInteger(nonce) || nonce <= 0) return false;
  const expected = hmacSha512(secret, wsLoginMessage(apiKey, nonce));
  const given = Buffer.from(sign, "base64");
  // The regex fixes the length, but a non-canonical last character could still decode short.
  return given.length === SHA512_BYTES && timingSafeEqual(expected, given);
}

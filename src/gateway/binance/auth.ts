// Authentication of one signed Binance Spot API v3 request (SIGNED / USER_DATA endpoints,
// https://developers.binance.com/docs/binance-spot-api-docs/rest-api/endpoint-security-type):
//
//   - `X-MBX-APIKEY` header = a Bulwark API key id (the same keys as EXMO's dialect);
//   - `signature` = lowercase or uppercase hex of HMAC-SHA256(secret, totalParams), where
//     totalParams is the query string concatenated with the body, exactly as received, without
//     the `signature` pair, which must be the last parameter of the query or of the body;
//   - `timestamp` (ms) required; `recvWindow` (ms) default 5,000, at most 60,000. A request is
//     served only if serverTime − recvWindow ≤ timestamp ≤ serverTime + 1,000.
//
// Checks, first failure wins: key header well formed (-2014); parameters parse, each at most once
// (-1101); timestamp and signature present (-1102) and well formed (-1100); recvWindow ≤ 60,000
// (-1131); key known, unrevoked and its secret opens (-2015); signature (-1022); timestamp
// inside the window (-1021, checked after the signature so only a key's holder learns the server's
// clock from it); scope, IP allow-list, user active (-2015 each, as on Binance).
//
// No nonce is claimed or journaled: Binance signs a timestamp, and a key's requests may carry equal
// or out-of-order ones. A replayed read changes nothing; a signed write is accepted once per
// signature inside its window (replay-guard.ts, applied by mount.ts to routes marked `write`).

import { createHmac, timingSafeEqual } from "node:crypto";
import type { Accounts } from "../../accounts/accounts.ts";
import { type ApiScope, isIpAllowed, isWellFormedKeyId } from "../../accounts/api-keys.ts";
import type { SecretBox } from "../../accounts/secret-box.ts";
import { openKey } from "../auth/authenticate.ts";
import { MAX_SIGNED_BODY_BYTES } from "../auth/signature.ts";
import { type BinanceErrorKind, BinanceFailure } from "./errors.ts";

export const DEFAULT_RECV_WINDOW_MS = 5_000;
export const MAX_RECV_WINDOW_MS = 60_000;
/** How far ahead of the server's clock a timestamp may be (Binance's 1 s). */
export const MAX_TIMESTAMP_AHEAD_MS = 1_000;
/** Parameters one signed request may carry (query and body together). */
const MAX_SIGNED_PARAMETERS = 32;
const DIGITS = /^[0-9]{1,20}$/;
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const SIGNATURE_PREFIX = "signature=";

export interface BinanceSignedRequest {
  /** The X-MBX-APIKEY header. */
  apiKeyHeader: string | undefined;
  /** The query string exactly as received, without "?" ("" when none). */
  queryText: string;
  /** The body exactly as received ("" when none). */
  bodyText: string;
  remoteAddress: string;
}

export interface BinanceCaller {
  userId: number;
  keyId: string;
  scopes: readonly string[];
  /** The TCP peer's address the key's allow-list was checked against (custody checks it again). */
  clientIp: string;
}

export type BinanceAuthResult =
  | { ok: true; caller: BinanceCaller; params: Readonly<Record<string, string>> }
  | {
      ok: false;
      failure: BinanceFailure;
      /** For logs only, never for the client. */
      reason: string;
      /**
       * Whether the key's signature was proven before the failure. Failures before it (malformed
       * parameters, unknown key, bad signature) may come from anyone who knows the key id: the
       * flood guard gives the key's points back for them.
       */
      signatureProven: boolean;
    };

export interface BinanceAuthDependencies {
  accounts: Pick<Accounts, "cachedApiKey" | "cachedUserStatus">;
  secretBox: SecretBox;
  /** Milliseconds since the epoch. */
  clock: () => number;
}

function refuse(kind: BinanceErrorKind, reason: string, detail?: string, msg?: string): BinanceAuthResult {
  return { ok: false, failure: new BinanceFailure(kind, detail, msg), reason, signatureProven: false };
}

/** A refusal of a request whose signature is the key's (its holder sent it). */
function refuseProven(kind: BinanceErrorKind, reason: string): BinanceAuthResult {
  return { ok: false, failure: new BinanceFailure(kind), reason, signatureProven: true };
}

/** Query and body parameters together; a name twice (in either or across both) is -1101. */
function parseSignedParams(queryText: string, bodyText: string): Record<string, string> | BinanceFailure {
  const params: Record<string, string> = {};
  let count = 0;
  for (const text of [queryText, bodyText]) {
    for (const [name, value] of new URLSearchParams(text)) {
      count += 1;
      if (count > MAX_SIGNED_PARAMETERS) return new BinanceFailure("tooManyParameters");
      if (Object.hasOwn(params, name))
        return new BinanceFailure("tooManyParameters", name, "Duplicate values for a parameter detected.");
      params[name] = value;
    }
  }
  return params;
}

/** `part` without its last pair when that pair is `signature=…`; null when it is not. */
function withoutTrailingSignature(part: string): string | null {
  if (part.startsWith(SIGNATURE_PREFIX) && !part.includes("&")) return "";
  const at = part.lastIndexOf(`&${SIGNATURE_PREFIX}`);
  if (at === -1 || part.indexOf("&", at + 1) !== -1) return null;
  return part.slice(0, at);
}

/** Binance's totalParams: query + body as received, the trailing signature pair removed. */
export function signedPayload(queryText: string, bodyText: string): string | null {
  const bodyUnsigned = bodyText === "" ? null : withoutTrailingSignature(bodyText);
  if (bodyUnsigned !== null) return queryText + bodyUnsigned;
  const queryUnsigned = withoutTrailingSignature(queryText);
  return queryUnsigned === null ? null : queryUnsigned + bodyText;
}

/** The `signature` a client sends for `totalParams` (tests and docs). */
export function signBinancePayload(secret: string, totalParams: string): string {
  return createHmac("sha256", secret).update(totalParams, "utf8").digest("hex");
}

/** Constant-time check of a hex HMAC-SHA256; malformed or oversized input is false. */
export function verifyBinanceSignature(secret: string, totalParams: string, signature: string): boolean {
  if (!HEX_SHA256.test(signature)) return false;
  if (Buffer.byteLength(totalParams, "utf8") > MAX_SIGNED_BODY_BYTES) return false;
  const expected = createHmac("sha256", secret).update(totalParams, "utf8").digest();
  return timingSafeEqual(expected, Buffer.from(signature, "hex"));
}

function illegalDigits(name: string): string {
  return `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`;
}

export async function authenticateBinance(
  deps: BinanceAuthDependencies,
  request: BinanceSignedRequest,
  scope: ApiScope,
): Promise<BinanceAuthResult> {
  const keyId = request.apiKeyHeader;
  if (!isWellFormedKeyId(keyId)) return refuse("badApiKeyFormat", "malformed or missing X-MBX-APIKEY");
  const parsed = parseSignedParams(request.queryText, request.bodyText);
  if (parsed instanceof BinanceFailure)
    return { ok: false, failure: parsed, reason: "parameters", signatureProven: false };
  const { timestamp, signature, recvWindow } = parsed;
  if (timestamp === undefined || timestamp === "")
    return refuse("mandatoryParamMissing", "no timestamp", "timestamp");
  if (signature === undefined || signature === "")
    return refuse("mandatoryParamMissing", "no signature", "signature");
  if (!DIGITS.test(timestamp))
    return refuse("illegalChars", "timestamp", "timestamp", illegalDigits("timestamp"));
  if (recvWindow !== undefined && !DIGITS.test(recvWindow))
    return refuse("illegalChars", "recvWindow", "recvWindow", illegalDigits("recvWindow"));
  const recvWindowMs = recvWindow === undefined ? DEFAULT_RECV_WINDOW_MS : Number(recvWindow);
  if (recvWindowMs > MAX_RECV_WINDOW_MS) return refuse("badRecvWindow", `recvWindow ${recvWindow}`);
  const key = await deps.accounts.cachedApiKey(keyId);
  if (key === undefined) return refuse("rejectedApiKey", "no such key");
  if (key.revokedMs !== null) return refuse("rejectedApiKey", "key revoked");
  const opened = openKey(deps.secretBox, key);
  if (opened.secret === null) return refuse("rejectedApiKey", `secret does not open: ${opened.openFailure}`);
  const totalParams = signedPayload(request.queryText, request.bodyText);
  if (totalParams === null || !verifyBinanceSignature(opened.secret, totalParams, signature))
    return refuse("badSignature", totalParams === null ? "signature not last" : "signature mismatch");
  // Number() of up to 20 digits may round; any such value is far outside every window anyway.
  const timestampMs = Number(timestamp);
  const nowMs = deps.clock();
  if (timestampMs > nowMs + MAX_TIMESTAMP_AHEAD_MS || nowMs - timestampMs > recvWindowMs)
    return refuseProven("timestampOutsideRecvWindow", `timestamp ${timestamp}, server ${nowMs}`);
  if (!key.scopes.includes(scope)) return refuseProven("rejectedApiKey", `key lacks scope ${scope}`);
  // An allow-list that no longer parses refuses everyone: fail closed.
  if (opened.allowList === null || !isIpAllowed(request.remoteAddress, opened.allowList))
    return refuseProven("rejectedApiKey", "address not in allow-list");
  const status = await deps.accounts.cachedUserStatus(key.userId);
  if (status === undefined) return refuseProven("rejectedApiKey", "key's user does not exist");
  if (status !== "active") return refuseProven("rejectedApiKey", `user is ${status}`);
  return {
    ok: true,
    caller: { userId: key.userId, keyId, scopes: key.scopes, clientIp: request.remoteAddress },
    params: parsed,
  };
}

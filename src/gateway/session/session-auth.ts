// A person's browser session (docs/API.md#sessions): the cookie, the CSRF token and the checks
// every session request passes. The HMAC door (auth/authenticate.ts) and this one both end in a
// user id; the private operations behind them are the same handlers.
//
// Session id: 32 random bytes (256 bits), base64url, sent only in the HttpOnly cookie
// `bulwark_session`; the store keeps its SHA-256 (a leaked table cannot be replayed as cookies).
// CSRF (double submit, bound to the session): the token is HMAC-SHA256(session id, "csrf"),
// sent in the readable cookie `bulwark_csrf`; every state-changing call echoes it in the
// `X-CSRF-Token` header. The header must equal the cookie and the token derived from the
// session (constant-time compares), and an Origin header, when present, must be this server's.
// Without the session id nobody can compute the token, and SameSite=Strict keeps other sites'
// requests from carrying either cookie.

import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Accounts } from "../../accounts/accounts.ts";

export const SESSION_COOKIE = "bulwark_session";
export const CSRF_COOKIE = "bulwark_csrf";
export const CSRF_HEADER = "x-csrf-token";
const SESSION_ID_BYTES = 32;
/** base64url of 32 bytes. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface SessionTimes {
  /** A session unused this long ends. */
  idleTimeoutMs: number;
  /** A session ends this long after login, used or not. */
  absoluteTimeoutMs: number;
}

export const DEFAULT_SESSION_TIMES: Readonly<SessionTimes> = {
  idleTimeoutMs: 30 * 60 * 1000,
  absoluteTimeoutMs: 12 * 60 * 60 * 1000,
};

/** Last-seen is written at most this often per session (not one write per request). */
const TOUCH_INTERVAL_MS = 60 * 1000;

export function newSessionId(): string {
  return randomBytes(SESSION_ID_BYTES).toString("base64url");
}

export function sessionHash(sessionId: string): string {
  return createHash("sha256").update(sessionId, "utf8").digest("base64url");
}

export function csrfToken(sessionId: string): string {
  return createHmac("sha256", sessionId).update("csrf").digest("base64url");
}

function equalConstantTime(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Cookies of a Cookie header by name; at most 32 looked at, a name given twice is ambiguous (dropped). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  const duplicated = new Set<string>();
  if (header === undefined || header.length > 8192) return cookies;
  for (const part of header.split(";").slice(0, 32)) {
    const mark = part.indexOf("=");
    if (mark < 0) continue;
    const name = part.slice(0, mark).trim();
    const value = part.slice(mark + 1).trim();
    if (cookies.has(name)) duplicated.add(name);
    cookies.set(name, value);
  }
  for (const name of duplicated) cookies.delete(name);
  return cookies;
}

export interface CookieOptions {
  /** Secure attribute: set when the server runs TLS. */
  secure: boolean;
}

function cookie(
  name: string,
  value: string,
  httpOnly: boolean,
  maxAgeSeconds: number,
  options: CookieOptions,
) {
  const parts = [`${name}=${value}`, "Path=/", `Max-Age=${maxAgeSeconds}`, "SameSite=Strict"];
  if (httpOnly) parts.push("HttpOnly");
  if (options.secure) parts.push("Secure");
  return parts.join("; ");
}

/** Set-Cookie values starting a session. */
export function sessionCookies(sessionId: string, times: SessionTimes, options: CookieOptions): string[] {
  const maxAgeSeconds = Math.floor(times.absoluteTimeoutMs / 1000);
  return [
    cookie(SESSION_COOKIE, sessionId, true, maxAgeSeconds, options),
    cookie(CSRF_COOKIE, csrfToken(sessionId), false, maxAgeSeconds, options),
  ];
}

/** Set-Cookie values ending a session in the browser. */
export function clearedCookies(options: CookieOptions): string[] {
  return [cookie(SESSION_COOKIE, "", true, 0, options), cookie(CSRF_COOKIE, "", false, 0, options)];
}

export interface SessionRequest {
  cookieHeader: string | undefined;
  csrfHeader: string | undefined;
  originHeader: string | undefined;
  hostHeader: string | undefined;
  /** "https" or "http": the scheme this server answers on. */
  scheme: "http" | "https";
}

export type SessionRefusal = {
  ok: false;
  status: 401 | 403;
  code: "no_session" | "session_expired" | "session_revoked" | "csrf_failed" | "bad_origin" | "user_frozen";
  message: string;
};

export type SessionAuth =
  | { ok: true; userId: number; sessionHash: string; secondFactor: boolean; sessionId: string }
  | SessionRefusal;

function refuse(status: 401 | 403, code: SessionRefusal["code"], message: string): SessionRefusal {
  return { ok: false, status, code, message };
}

/**
 * Origin check for state-changing calls: a browser names the page's origin; it must be this
 * server's (scheme://host as the request addressed it). Absent (non-browser clients): allowed,
 * since such a client cannot hold a victim's cookies.
 */
export function originProblem(request: SessionRequest): SessionRefusal | null {
  if (request.originHeader === undefined) return null;
  const expected = `${request.scheme}://${request.hostHeader ?? ""}`;
  if (request.hostHeader !== undefined && equalConstantTime(request.originHeader, expected)) return null;
  return refuse(403, "bad_origin", "request from another site refused (Origin does not match this server)");
}

export interface SessionAuthDependencies {
  accounts: Pick<Accounts, "session" | "touchSession" | "cachedUserStatus">;
  times: SessionTimes;
  clock: () => number;
}

/**
 * The session a request carries, checked: cookie well formed, known, not revoked, not past its
 * absolute or idle expiry, its user active; for a state-changing call also Origin and CSRF.
 * Resolves only after a due last-seen update is written.
 */
export async function authenticateSession(
  deps: SessionAuthDependencies,
  request: SessionRequest,
  stateChanging: boolean,
): Promise<SessionAuth> {
  const cookies = parseCookies(request.cookieHeader);
  const sessionId = cookies.get(SESSION_COOKIE);
  if (sessionId === undefined || sessionId === "")
    return refuse(401, "no_session", "not logged in (no session cookie)");
  if (!SESSION_ID.test(sessionId))
    return refuse(401, "no_session", "not logged in (malformed session cookie)");
  if (stateChanging) {
    const origin = originProblem(request);
    if (origin !== null) return origin;
    const header = request.csrfHeader;
    const cookieToken = cookies.get(CSRF_COOKIE);
    if (header === undefined || header === "")
      return refuse(
        403,
        "csrf_failed",
        `missing CSRF token: echo the ${CSRF_COOKIE} cookie in the X-CSRF-Token header`,
      );
    // Both compares always run: timing says nothing about which one failed.
    const matchesCookie = cookieToken !== undefined && equalConstantTime(header, cookieToken);
    const matchesSession = equalConstantTime(header, csrfToken(sessionId));
    if (!matchesCookie || !matchesSession) return refuse(403, "csrf_failed", "invalid CSRF token");
  }
  const hash = sessionHash(sessionId);
  const session = await deps.accounts.session(hash);
  if (session === undefined) return refuse(401, "no_session", "not logged in (unknown session)");
  if (session.revokedMs !== null)
    return refuse(401, "session_revoked", "this session was ended; log in again");
  const nowMs = deps.clock();
  if (nowMs >= session.expiresMs || nowMs >= session.lastSeenMs + deps.times.idleTimeoutMs)
    return refuse(401, "session_expired", "session expired; log in again");
  const status = await deps.accounts.cachedUserStatus(session.userId);
  if (status !== "active") return refuse(403, "user_frozen", "this account is frozen; contact support");
  if (nowMs - session.lastSeenMs >= TOUCH_INTERVAL_MS) await deps.accounts.touchSession(hash, nowMs);
  return {
    ok: true,
    userId: session.userId,
    sessionHash: hash,
    secondFactor: session.secondFactor,
    sessionId,
  };
}

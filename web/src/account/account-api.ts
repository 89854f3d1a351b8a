// The session API's account self-service (docs/API.md §16, src/gateway/session/account-routes.ts):
// 2FA, API keys, sessions and the security log of the signed-in person.
import { ApiError, sessionGet, sessionPost } from "../session.ts";

/** Most security-log entries the page asks for (the server's bound is 200). */
export const SECURITY_LOG_SHOWN = 50;
/** Most sessions and keys listed (the server holds at most 50 live keys per user). */
export const LIST_SHOWN = 50;

export const API_SCOPES = ["info", "trade", "withdraw"] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export interface TwoFactorState {
  enabled: boolean;
  pending?: boolean;
}
export interface TwoFactorEnrolment {
  secret: string;
  otpauthUrl: string;
}
export interface TwoFactorChange {
  enabled: boolean;
  /** Withdrawals are refused until then after a security change; null when nothing was locked. */
  withdrawalsLockedUntilMs?: number | null;
}

export const fetchTwoFactor = () => sessionGet<TwoFactorState>("/2fa");
export const startTwoFactor = () => sessionPost<TwoFactorEnrolment>("/2fa/enable");
export const confirmTwoFactor = (code: string) => sessionPost<TwoFactorChange>("/2fa/confirm", { code });
export const disableTwoFactor = (code: string) => sessionPost<TwoFactorChange>("/2fa/disable", { code });

export interface ApiKeyView {
  keyId: string;
  /** The server lists scopes as an array; a comma-separated string is read too. */
  scopes: string[] | string;
  ipAllowList: string[];
  createdMs: number;
}
export interface CreatedApiKey {
  keyId: string;
  secret: string;
  scopes: string[] | string;
  ipAllowList: string[];
}

export function scopesText(scopes: string[] | string): string {
  return Array.isArray(scopes) ? scopes.join(", ") : scopes.split(",").join(", ");
}

export async function fetchApiKeys(): Promise<ApiKeyView[]> {
  const answer = await sessionGet<{ keys: ApiKeyView[] }>("/api-keys");
  return Array.isArray(answer.keys) ? answer.keys.slice(0, LIST_SHOWN) : [];
}

export function createApiKey(input: { scopes: ApiScope[]; ipAllowList: string[]; totp?: string }) {
  return sessionPost<CreatedApiKey>("/api-keys/create", {
    scopes: input.scopes.join(","),
    ipAllowList: input.ipAllowList,
    ...(input.totp === undefined ? {} : { totp: input.totp }),
  });
}

export const revokeApiKey = (keyId: string) => sessionPost<unknown>("/api-keys/revoke", { keyId });

export interface SessionView {
  id: string;
  current: boolean;
  createdMs: number;
  lastSeenMs: number;
  expiresMs: number;
  clientIp: string;
  userAgent: string;
  secondFactor: boolean;
}

export async function fetchSessions(): Promise<SessionView[]> {
  const answer = await sessionGet<{ sessions: SessionView[] }>("/sessions");
  return Array.isArray(answer.sessions) ? answer.sessions.slice(0, LIST_SHOWN) : [];
}

export const revokeSession = (id: string) =>
  sessionPost<{ ok: boolean; current: boolean }>("/sessions/revoke", { id });

export interface SecurityLogEntry {
  atMs: number;
  action: string;
  actor?: string;
  details: unknown;
}

export async function fetchSecurityLog(): Promise<SecurityLogEntry[]> {
  const answer = await sessionGet<{ entries: SecurityLogEntry[] }>(
    `/security-log?limit=${SECURITY_LOG_SHOWN}`,
  );
  return Array.isArray(answer.entries) ? answer.entries.slice(0, SECURITY_LOG_SHOWN) : [];
}

/** A message for the person from anything thrown. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError || error instanceof Error) return error.message;
  return "something went wrong";
}

/** A time for a person: local date and time. */
export function when(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toLocaleString() : "";
}

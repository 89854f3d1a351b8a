// TOTP (RFC 6238) codes through otplib: 30-second steps, SHA-1, 6 digits by default (what
// authenticator apps use). Verification is ours so the window and the replay rule are explicit:
// a code is accepted for the current step or one step either side, and the caller persists the
// step it matched so that step is never accepted again.

import { timingSafeEqual } from "node:crypto";
import { generateSecret, generateSync, generateURI } from "otplib";

export const TOTP_PERIOD_SECONDS = 30;
/** Steps accepted either side of the current one (clock drift, typing time). */
export const TOTP_WINDOW_STEPS = 1;
export type TotpDigits = 6 | 8;

/** The time step of a moment: floor(unix seconds / 30). */
export function totpStep(nowMs: number): number {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0)
    throw new RangeError("totp: nowMs must be a safe integer ≥ 0");
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code of a time step. `secret`: base32 text, or raw bytes (RFC 6238's test secrets). */
export function totpCodeAtStep(secret: string | Uint8Array, step: number, digits: TotpDigits = 6): string {
  return generateSync({ secret, epoch: step * TOTP_PERIOD_SECONDS, digits, period: TOTP_PERIOD_SECONDS });
}

/** The code at a Unix time in seconds. */
export function totpCode(secret: string | Uint8Array, epochSeconds: number, digits: TotpDigits = 6): string {
  return totpCodeAtStep(secret, Math.floor(epochSeconds / TOTP_PERIOD_SECONDS), digits);
}

/**
 * The step in [current − 1, current + 1] whose code equals `code`, later than `afterStep`, or
 * undefined. The latest matching step wins, so a replay of it is refused next time.
 */
export function matchTotp(
  secret: string | Uint8Array,
  code: string,
  nowMs: number,
  afterStep: number | null,
  digits: TotpDigits = 6,
): number | undefined {
  if (typeof code !== "string" || code.length !== digits || !/^[0-9]+$/.test(code)) return undefined;
  const current = totpStep(nowMs);
  const given = Buffer.from(code, "ascii");
  let matched: number | undefined;
  for (let step = current - TOTP_WINDOW_STEPS; step <= current + TOTP_WINDOW_STEPS; step++) {
    if (step < 0 || (afterStep !== null && step <= afterStep)) continue;
    // Every candidate is compared, in constant time, so timing says nothing about which matched.
    if (timingSafeEqual(Buffer.from(totpCodeAtStep(secret, step, digits), "ascii"), given)) matched = step;
  }
  return matched;
}

/** A new random secret (base32, 160 bits as RFC 4226 recommends). */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The otpauth:// URI an authenticator app scans. */
export function totpUri(secret: string, issuer: string, label: string): string {
  return generateURI({ issuer, label, secret });
}

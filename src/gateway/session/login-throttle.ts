// Password guessing limits for the session API (docs/API.md#sessions): every login and sign-up
// attempt takes a token from its client address's bucket, and every login attempt also from its
// account's bucket (by normalised email, whether or not the account exists, so a refusal says
// nothing about which emails are registered). Bounded tables (guard/token-bucket.ts, LRU).

import { TokenBucketTable } from "../guard/token-bucket.ts";

export interface LoginThrottleOptions {
  /** Login attempts per account: burst, then one per `accountRefillSeconds`. */
  accountBurst: number;
  accountRefillSeconds: number;
  /** Login and sign-up attempts per client address. */
  addressBurst: number;
  addressRefillSeconds: number;
  /** Most accounts and addresses tracked at once (each table). */
  maxKeys: number;
  /** Every session API request per client address (reads included): burst and rate; default 50 and 10/s. */
  requestBurst?: number;
  requestsPerSecond?: number;
}

export const DEFAULT_LOGIN_THROTTLE: Readonly<LoginThrottleOptions> = {
  accountBurst: 5,
  accountRefillSeconds: 60,
  addressBurst: 20,
  addressRefillSeconds: 6,
  maxKeys: 100_000,
};

export type ThrottleDecision =
  | { admitted: true }
  | { admitted: false; scope: "account" | "address"; retryAfterSeconds: number };

export class LoginThrottle {
  private readonly accounts: TokenBucketTable;
  private readonly addresses: TokenBucketTable;
  private readonly requests: TokenBucketTable;

  constructor(options: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE) {
    this.accounts = new TokenBucketTable({
      ratePerSecond: 1 / options.accountRefillSeconds,
      burst: options.accountBurst,
      maxKeys: options.maxKeys,
    });
    this.addresses = new TokenBucketTable({
      ratePerSecond: 1 / options.addressRefillSeconds,
      burst: options.addressBurst,
      maxKeys: options.maxKeys,
    });
    this.requests = new TokenBucketTable({
      ratePerSecond: options.requestsPerSecond ?? 10,
      burst: options.requestBurst ?? 50,
      maxKeys: options.maxKeys,
    });
  }

  /** Any session API request from `ip`: the general budget, before any store read. */
  admitRequest(ip: string, nowMs: number): ThrottleDecision {
    const decision = this.requests.take(`ip:${ip}`, nowMs);
    if (decision.admitted) return { admitted: true };
    return {
      admitted: false,
      scope: "address",
      retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
    };
  }

  /** One attempt from `ip`, for `account` (normalised email) when it is a login. */
  take(ip: string, account: string | null, nowMs: number): ThrottleDecision {
    const byAddress = this.addresses.take(`ip:${ip}`, nowMs);
    if (!byAddress.admitted)
      return {
        admitted: false,
        scope: "address",
        retryAfterSeconds: Math.max(1, Math.ceil(byAddress.retryAfterMs / 1000)),
      };
    if (account === null) return { admitted: true };
    const byAccount = this.accounts.take(`account:${account}`, nowMs);
    if (!byAccount.admitted) {
      // The address is not charged for an attempt the account's limit refused.
      this.addresses.refund(`ip:${ip}`);
      return {
        admitted: false,
        scope: "account",
        retryAfterSeconds: Math.max(1, Math.ceil(byAccount.retryAfterMs / 1000)),
      };
    }
    return { admitted: true };
  }
}

// The flood guard's first control (docs/SECURITY.md#flood-resilience): token buckets per client
// address and per API key, checked in the gateway's `guard` onRequest hook before the body is
// read, the signature checked or a nonce touched. A refused request gets EXMO's 40034 with
// Retry-After and changes nothing else.
//
// Budgets (defaults: EXMO's published 10 req/s "from one IP or one user", burst 20):
//   - every request with a priority class is charged to its client address;
//   - a private request that looks signed (well-formed `Key` header and a `Sign` header) is also
//     charged to that key, so one key spread over many addresses still gets 10 req/s;
//   - cancels are charged to separate, more generous buckets (per address and per key), never to
//     the ones above: a market maker throttled on order entry can still pull its quotes
//     (docs/SECURITY.md#priority-classes: cancel > order entry).
// Public routes ignore any Key header (nothing there is the key's), and so do unsigned or
// malformed keys: those are charged to the address alone.
//
// Why a key can't be locked out by someone who only knows its id. The guard runs before the
// signature check, so it cannot know whether a request is really the key's. It charges the
// address first and the key only if the address had budget: a flooder from one address reaches
// the key at most at the per-address rate. And whatever reached the key is given back when
// authentication then fails before the signature is proven (unknown key, bad signature; see
// refundUnproven): only requests signed with the secret, or still in flight, hold the key's
// tokens. Failures after the signature (stale nonce, missing scope, …) are the owner's own and
// stay charged. Address buckets are never refunded: the address did send the request.
//
// Addresses: IPv4 as is (IPv4-mapped IPv6 counts as IPv4), IPv6 by its /64, which is what one
// subscriber is usually given. The address is the socket's: behind a proxy or the anycast edge
// docs/SECURITY.md#flood-targets describes, the gateway must be told which header to trust before per-address
// limits mean anything (Fastify `trustProxy`), which comes with the rest of the flood guard.
//
// Seam for the rest of the flood guard: bans, Redis-shared counters and load shedding plug in
// as further checks in `admit` (or a RequestRateLimiter with shared tables); the hook and the
// 40034 reply stay as they are.

import { addressGroupKey, isWellFormedKeyId } from "../../accounts/api-keys.ts";
import type { PriorityClass } from "../exmo/route.ts";
import { TokenBucketTable } from "./token-bucket.ts";

export interface RateBudget {
  requestsPerSecond: number;
  burst: number;
}

export interface RateLimitOptions {
  /** Every class but cancel, per address and per key; default 10/s. */
  requestsPerSecond?: number;
  /** Default 20. */
  burst?: number;
  /** Cancels' own budget, per address and per key; default 50/s, burst 100. */
  cancel?: Partial<RateBudget>;
  /**
   * /health's own budget, per address; default 50/s, burst 100. Health checks are cheap and
   * monitors often share one address, so they never spend (or are refused by) the general budget.
   */
  health?: Partial<RateBudget>;
  /** Most addresses, and most keys, tracked per table; default 100,000 (LRU beyond). */
  maxTrackedKeys?: number;
  /** Milliseconds; default performance.now (monotonic). Tests inject their own. */
  clock?: () => number;
}

export const DEFAULT_RATE_LIMIT = {
  requestsPerSecond: 10,
  burst: 20,
  cancel: { requestsPerSecond: 50, burst: 100 },
  health: { requestsPerSecond: 50, burst: 100 },
  maxTrackedKeys: 100_000,
} as const;

export type LimitScope = "ip" | "key";

export interface LimitedRequest {
  /** The client address as the socket reports it. */
  ip: string;
  priority: PriorityClass;
  /** Raw `Key` and `Sign` headers. */
  keyHeader: string | undefined;
  signHeader: string | undefined;
}

/** What an admitted request was charged to the key, so it can be given back. */
export interface KeyCharge {
  table: TokenBucketTable;
  keyId: string;
}

export type AdmitDecision =
  | { admitted: true; keyCharge: KeyCharge | null }
  | { admitted: false; scope: LimitScope; retryAfterSeconds: number };

/**
 * The bucket key of an address: IPv4 dotted, IPv6 by its /64. The same grouping as every other
 * per-address limit (the WebSocket connection cap, the operator API's wrong-token lockout).
 */
export function addressBucketKey(ip: string): string {
  return addressGroupKey(ip);
}

interface Tables {
  ip: TokenBucketTable;
  key: TokenBucketTable;
}

/** The per-address budgets a request outside EXMO's routes is charged to. */
export type AddressBudget = "general" | "health";

export class RequestRateLimiter {
  readonly general: RateBudget;
  readonly cancel: RateBudget;
  readonly health: RateBudget;
  private readonly generalTables: Tables;
  private readonly cancelTables: Tables;
  private readonly healthTable: TokenBucketTable;
  private readonly clock: () => number;

  constructor(options: RateLimitOptions = {}) {
    this.general = {
      requestsPerSecond: options.requestsPerSecond ?? DEFAULT_RATE_LIMIT.requestsPerSecond,
      burst: options.burst ?? DEFAULT_RATE_LIMIT.burst,
    };
    this.cancel = {
      requestsPerSecond: options.cancel?.requestsPerSecond ?? DEFAULT_RATE_LIMIT.cancel.requestsPerSecond,
      burst: options.cancel?.burst ?? DEFAULT_RATE_LIMIT.cancel.burst,
    };
    this.health = {
      requestsPerSecond: options.health?.requestsPerSecond ?? DEFAULT_RATE_LIMIT.health.requestsPerSecond,
      burst: options.health?.burst ?? DEFAULT_RATE_LIMIT.health.burst,
    };
    const maxKeys = options.maxTrackedKeys ?? DEFAULT_RATE_LIMIT.maxTrackedKeys;
    const tables = (budget: RateBudget): Tables => {
      const make = () =>
        new TokenBucketTable({ ratePerSecond: budget.requestsPerSecond, burst: budget.burst, maxKeys });
      return { ip: make(), key: make() };
    };
    this.generalTables = tables(this.general);
    this.cancelTables = tables(this.cancel);
    this.healthTable = new TokenBucketTable({
      ratePerSecond: this.health.requestsPerSecond,
      burst: this.health.burst,
      maxKeys,
    });
    this.clock = options.clock ?? (() => performance.now());
  }

  /**
   * A request outside EXMO's routes (/metrics, /docs, /openapi.json, unknown paths; /health on
   * its own budget): charged to its address only, never to a key.
   */
  admitAddress(ip: string, budget: AddressBudget): AdmitDecision {
    const table = budget === "health" ? this.healthTable : this.generalTables.ip;
    const decision = table.take(addressBucketKey(ip), this.clock());
    if (!decision.admitted) return refused("ip", decision.retryAfterMs);
    return { admitted: true, keyCharge: null };
  }

  admit(request: LimitedRequest): AdmitDecision {
    const now = this.clock();
    const tables = request.priority === "cancel" ? this.cancelTables : this.generalTables;
    const byIp = tables.ip.take(addressBucketKey(request.ip), now);
    if (!byIp.admitted) return refused("ip", byIp.retryAfterMs);
    const keyId = signedKeyId(request);
    if (keyId === null) return { admitted: true, keyCharge: null };
    const byKey = tables.key.take(keyId, now);
    if (!byKey.admitted) return refused("key", byKey.retryAfterMs);
    return { admitted: true, keyCharge: { table: tables.key, keyId } };
  }

  /** Authentication failed before the signature was proven: the request was not the key's. */
  refundUnproven(charge: KeyCharge): void {
    charge.table.refund(charge.keyId);
  }
}

function refused(scope: LimitScope, retryAfterMs: number): AdmitDecision {
  return { admitted: false, scope, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
}

/** The key a request is charged to: private routes, a well-formed Key and some Sign header. */
function signedKeyId(request: LimitedRequest): string | null {
  if (request.priority === "publicData") return null;
  if (!isWellFormedKeyId(request.keyHeader)) return null;
  if (request.signHeader === undefined || request.signHeader === "") return null;
  return request.keyHeader;
}

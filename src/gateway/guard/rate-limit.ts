// The flood guard's rate limit (docs/SECURITY.md#flood-resilience, docs/API.md#rate-limits):
// weighted budgets per client address, per API key and per user, on rate-limiter-flexible —
// RateLimiterMemory when the gateway runs alone, RateLimiterRedis when several gateways share
// counters (`redisUrl`), with a RateLimiterMemory as its insurance so a Redis outage falls back
// to per-process limits instead of failing open or closed. Checked in the gateway's `guard`
// onRequest hook before the body is read, the signature checked or a nonce touched. A refused
// request gets EXMO's 40034 with Retry-After and changes nothing else.
//
// Budgets, in points (route-costs.ts: a ticker is 1 point, a deep order book up to 10):
//   - every request with a priority class is charged to its client address;
//   - a private request that looks signed (well-formed `Key` header and a `Sign` header) is also
//     charged to that key, and to the key's user once the gateway has seen the key authenticate
//     (a key→user map learned from successful authentications: no store read on this path), so
//     one user spread over many keys and addresses still gets one user's budget;
//   - cancels are charged to separate, more generous budgets (per address, key and user), never
//     to the ones above: a market maker throttled on order entry can still pull its quotes;
//   - a key can be given a tier (`keyTiers`, `tiers`): its requests are charged to the tier's
//     budgets (address, key and user alike) instead of the defaults.
// Defaults: EXMO's published 10 requests/s "from one IP or one user", burst 20.
//
// Engine: rate-limiter-flexible counts points in fixed windows. A budget of R points/s with a
// burst of B is a window of ceil(B / R) seconds holding B points: B requests may come at once,
// and over a long run the rate is at most B per window (= R/s when B is a multiple of R, as in
// every default). Memory: RateLimiterMemory forgets a subject when its window ends, so its table
// holds at most the subjects seen within one window.
//
// Why a key can't be locked out by someone who only knows its id: the guard charges the address
// first and the key (and user) only if the address had budget, and whatever reached the key is
// given back when authentication then fails before the signature is proven (refundUnproven).
// Address budgets are never refunded: the address did send the request.
//
// Escalating bans (bans.ts): each refusal counts against the refused subject; past the policy's
// threshold it is banned (60 s, 5 min, 30 min, 2 h), and its requests are refused before any
// counter is touched. A ban is also written to the subject's shared counter (`block`), so in
// Redis mode every gateway refuses the subject until the ban ends (other gateways do not list
// it); lifting deletes the counter everywhere. Cancels ignore key and user bans (never limited
// below their own budget), not address bans.

import { Redis } from "ioredis";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import { addressGroupKey, isWellFormedKeyId } from "../../accounts/api-keys.ts";
import { LruMap } from "../../lib/lru.ts";
import type { PriorityClass } from "../exmo/route.ts";
import { type BanPolicy, BanTable } from "./bans.ts";
import type { BanRecord, BanRegistry, GuardSubjectScope } from "./guard-control.ts";

export interface RateBudget {
  /** Points per second (a point is one cheap request). */
  requestsPerSecond: number;
  /** Points available at once after a quiet spell. */
  burst: number;
}

/** A tier's budgets: what is not given is the default's. */
export interface TierBudget {
  requestsPerSecond?: number;
  burst?: number;
  cancel?: Partial<RateBudget>;
}

export interface RateLimitOptions {
  /** Every class but cancel, per address, key and user; default 10 points/s. */
  requestsPerSecond?: number;
  /** Default 20. */
  burst?: number;
  /** Cancels' own budget, per address, key and user; default 50/s, burst 100 (never below 10/s). */
  cancel?: Partial<RateBudget>;
  /**
   * /health's own budget, per address; default 50/s, burst 100. Health checks are cheap and
   * monitors often share one address, so they never spend (or are refused by) the general budget.
   */
  health?: Partial<RateBudget>;
  /** Named tiers with larger budgets, e.g. `{ marketMaker: { requestsPerSecond: 100, burst: 200 } }`. */
  tiers?: Readonly<Record<string, TierBudget>>;
  /** API key id → tier name. Keys not listed are on the default budgets. */
  keyTiers?: Readonly<Record<string, string>>;
  /** Escalating bans; `false` turns them off. */
  bans?: Partial<BanPolicy> | false;
  /**
   * Redis shared by several gateways, e.g. "redis://127.0.0.1:6379/0" (env BULWARK_REDIS_URL).
   * Absent: counters in this process's memory.
   */
  redisUrl?: string;
  /** Prefix of every Redis key: one per deployment sharing a Redis; default "bulwark". */
  redisKeyPrefix?: string;
  /** Most keys whose user is remembered (LRU); default 100,000. */
  maxTrackedKeys?: number;
  /** Wall clock for bans, ms since the epoch; default Date.now. Tests inject their own. */
  clock?: () => number;
  /** Called when the Redis connection fails or recovers (logged by the gateway). */
  onRedisState?: (state: "ready" | "error", error?: Error) => void;
}

export const DEFAULT_RATE_LIMIT = {
  requestsPerSecond: 10,
  burst: 20,
  cancel: { requestsPerSecond: 50, burst: 100 },
  health: { requestsPerSecond: 50, burst: 100 },
  maxTrackedKeys: 100_000,
  redisKeyPrefix: "bulwark",
} as const;

/** Cancels are never limited below this per account (docs/SECURITY.md#priority-classes). */
export const MIN_CANCEL_REQUESTS_PER_SECOND = 10;
/** Most tiers an operator may configure (each has its own counters). */
export const MAX_TIERS = 32;
/** Longest a Redis command may take before the memory insurance answers instead. */
const REDIS_COMMAND_TIMEOUT_MS = 200;

export type LimitScope = GuardSubjectScope;

export interface LimitedRequest {
  /** The client address (clientAddress() of client-address.ts). */
  ip: string;
  priority: PriorityClass;
  /** Points this request costs (route-costs.ts); default 1. */
  costPoints?: number;
  /** Raw `Key` and `Sign` headers (Binance's dialect: `X-MBX-APIKEY` and the `signature` parameter). */
  keyHeader: string | undefined;
  signHeader: string | undefined;
}

/** What an admitted request was charged to its key and user, so it can be given back. */
export interface KeyCharge {
  keyId: string;
  userId: number | null;
  tier: string;
  lane: Lane;
  costPoints: number;
}

export type RefusalReason = "limit" | "banned";

export type AdmitDecision =
  | { admitted: true; keyCharge: KeyCharge | null }
  | {
      admitted: false;
      scope: LimitScope;
      reason: RefusalReason;
      retryAfterSeconds: number;
      /** A ban this refusal earned, if any. */
      ban: BanRecord | null;
    };

/**
 * The bucket key of an address: IPv4 dotted, IPv6 by its /64. The same grouping as every other
 * per-address limit (the WebSocket connection cap, the operator API's wrong-token lockout).
 */
export function addressBucketKey(ip: string): string {
  // Fast path for the common case, a canonical dotted quad, which groups to itself.
  return CANONICAL_IPV4.test(ip) ? ip : addressGroupKey(ip);
}

/** Four decimal octets 0..255 without leading zeros: exactly what addressGroupKey returns for them. */
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The per-address budgets a request outside EXMO's routes is charged to. */
export type AddressBudget = "general" | "health";

type Lane = "general" | "cancel" | "health";
const LANES: readonly Lane[] = ["general", "cancel", "health"];
const SCOPES: readonly GuardSubjectScope[] = ["ip", "key", "user"];
const DEFAULT_TIER = "default";

/** The window rate-limiter-flexible counts a budget in: B points per ceil(B / R) seconds. */
export function budgetWindow(budget: RateBudget): { points: number; durationSeconds: number } {
  if (!(budget.requestsPerSecond > 0) || !Number.isFinite(budget.requestsPerSecond))
    throw new RangeError(`requestsPerSecond must be positive, got ${budget.requestsPerSecond}`);
  if (!Number.isSafeInteger(budget.burst) || budget.burst < 1)
    throw new RangeError(`burst must be a whole number ≥ 1, got ${budget.burst}`);
  return {
    points: budget.burst,
    durationSeconds: Math.max(1, Math.ceil(budget.burst / budget.requestsPerSecond)),
  };
}

function mergeBudget(base: RateBudget, over: Partial<RateBudget> | undefined): RateBudget {
  return {
    requestsPerSecond: over?.requestsPerSecond ?? base.requestsPerSecond,
    burst: over?.burst ?? base.burst,
  };
}

interface TierBudgets {
  general: RateBudget;
  cancel: RateBudget;
}

export class RequestRateLimiter implements BanRegistry {
  readonly general: RateBudget;
  readonly cancel: RateBudget;
  readonly health: RateBudget;
  /** Null when bans are off. */
  readonly bans: BanTable | null;
  readonly shared: boolean;
  private readonly tiers = new Map<string, TierBudgets>();
  private readonly keyTiers: ReadonlyMap<string, string>;
  /** Every counter, by `${lane}:${scope}:${tier}`, made up front (at most 3 × 3 × (MAX_TIERS + 1)). */
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  /** The same counters for the request path: lane → scope → tier, without building a name. */
  private readonly limiterTable = new Map<Lane, Map<GuardSubjectScope, Map<string, RateLimiterAbstract>>>();
  private readonly keyUsers: LruMap<string, number>;
  private readonly clock: () => number;
  private readonly redis: Redis | null;
  private readonly keyPrefix: string;

  constructor(options: RateLimitOptions = {}) {
    this.general = {
      requestsPerSecond: options.requestsPerSecond ?? DEFAULT_RATE_LIMIT.requestsPerSecond,
      burst: options.burst ?? DEFAULT_RATE_LIMIT.burst,
    };
    this.cancel = mergeBudget(DEFAULT_RATE_LIMIT.cancel, options.cancel);
    this.health = mergeBudget(DEFAULT_RATE_LIMIT.health, options.health);
    budgetWindow(this.general);
    budgetWindow(this.health);
    this.tiers.set(DEFAULT_TIER, checkTier(DEFAULT_TIER, { general: this.general, cancel: this.cancel }));
    const tierEntries = Object.entries(options.tiers ?? {});
    if (tierEntries.length > MAX_TIERS) throw new RangeError(`at most ${MAX_TIERS} rate-limit tiers`);
    for (const [name, tier] of tierEntries) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new RangeError(`bad tier name ${JSON.stringify(name)}`);
      this.tiers.set(
        name,
        checkTier(name, {
          general: mergeBudget(this.general, tier),
          cancel: mergeBudget(this.cancel, tier.cancel),
        }),
      );
    }
    const keyTiers = new Map<string, string>();
    for (const [keyId, tier] of Object.entries(options.keyTiers ?? {})) {
      if (!this.tiers.has(tier))
        throw new RangeError(`key ${keyId} has unknown tier ${JSON.stringify(tier)}`);
      keyTiers.set(keyId, tier);
    }
    this.keyTiers = keyTiers;
    this.keyUsers = new LruMap(options.maxTrackedKeys ?? DEFAULT_RATE_LIMIT.maxTrackedKeys);
    this.bans = options.bans === false ? null : new BanTable(options.bans ?? {});
    this.clock = options.clock ?? Date.now;
    this.keyPrefix = options.redisKeyPrefix ?? DEFAULT_RATE_LIMIT.redisKeyPrefix;
    this.redis = options.redisUrl === undefined ? null : connectRedis(options.redisUrl, options.onRedisState);
    this.shared = this.redis !== null;
    for (const lane of LANES) {
      const byScope = new Map<GuardSubjectScope, Map<string, RateLimiterAbstract>>();
      for (const scope of SCOPES) {
        const byTier = new Map<string, RateLimiterAbstract>();
        for (const tier of this.tiers.keys()) byTier.set(tier, this.makeLimiter(lane, tier, scope));
        byScope.set(scope, byTier);
      }
      this.limiterTable.set(lane, byScope);
    }
  }

  /** The tier a key's requests are charged to. */
  tierOf(keyId: string | null): string {
    return keyId === null ? DEFAULT_TIER : (this.keyTiers.get(keyId) ?? DEFAULT_TIER);
  }

  /**
   * A request outside EXMO's routes (/metrics, /docs, /openapi.json, unknown paths; /health on
   * its own budget): charged to its address only, never to a key.
   */
  async admitAddress(ip: string, budget: AddressBudget, costPoints = 1): Promise<AdmitDecision> {
    const subject = addressBucketKey(ip);
    const banned = this.banned("ip", subject);
    if (banned !== null) return banned;
    const lane: Lane = budget === "health" ? "health" : "general";
    return (await this.charge(lane, DEFAULT_TIER, "ip", subject, costPoints)) ?? admittedAlone;
  }

  async admit(request: LimitedRequest): Promise<AdmitDecision> {
    const cost = request.costPoints ?? 1;
    const lane: Lane = request.priority === "cancel" ? "cancel" : "general";
    const ipSubject = addressBucketKey(request.ip);
    const keyId = signedKeyId(request);
    const userId = keyId === null ? undefined : this.keyUsers.peek(keyId);
    const banned =
      this.banned("ip", ipSubject) ??
      (lane === "cancel" || keyId === null
        ? null
        : (this.banned("key", keyId) ?? (userId === undefined ? null : this.banned("user", String(userId)))));
    if (banned !== null) return banned;
    const tier = this.tierOf(keyId);
    const byIp = await this.charge(lane, tier, "ip", ipSubject, cost);
    if (byIp !== null) return byIp;
    if (keyId === null) return admittedAlone;
    const byKey = await this.charge(lane, tier, "key", keyId, cost);
    if (byKey !== null) return byKey;
    if (userId !== undefined) {
      const byUser = await this.charge(lane, tier, "user", String(userId), cost);
      if (byUser !== null) {
        // The key's points for a request its user may not make are given back.
        await this.reward(lane, tier, "key", keyId, cost);
        return byUser;
      }
    }
    return {
      admitted: true,
      keyCharge: { keyId, userId: userId ?? null, tier, lane, costPoints: cost },
    };
  }

  /** A key proved its signature: remember its user, so its next requests are charged per user too. */
  authenticated(keyId: string, userId: number): void {
    if (this.keyUsers.peek(keyId) !== userId) this.keyUsers.set(keyId, userId);
  }

  /** Whether `keyId` has proven a signature to this gateway (it is in the key → user map). */
  knowsKey(keyId: string): boolean {
    return this.keyUsers.has(keyId);
  }

  /** Authentication failed before the signature was proven: the request was not the key's. */
  async refundUnproven(charge: KeyCharge): Promise<void> {
    await this.reward(charge.lane, charge.tier, "key", charge.keyId, charge.costPoints);
    if (charge.userId !== null)
      await this.reward(charge.lane, charge.tier, "user", String(charge.userId), charge.costPoints);
  }

  // ---- BanRegistry ---------------------------------------------------------------------------

  list(limit: number): BanRecord[] {
    return this.bans === null ? [] : this.bans.list(limit, this.clock());
  }

  async lift(scope: GuardSubjectScope, subject: string): Promise<boolean> {
    const lifted = this.bans?.lift(scope, subject, this.clock()) ?? false;
    // Clear the shared counters the ban was written to, on every lane and tier.
    await Promise.all(
      [...this.limiters.entries()]
        .filter(([name]) => name.split(":")[1] === scope)
        .map(([, limiter]) => limiter.delete(subject).catch(() => false)),
    );
    return lifted;
  }

  /** Active bans now (for /metrics). */
  activeBans(): number {
    return this.bans?.activeCount(this.clock()) ?? 0;
  }

  /**
   * Claims `name` for `ttlMs` in the shared Redis (SET NX PX), so several gateways agree that a
   * thing happened once (the Binance dialect's signed writes, replay-guard.ts): true for the first
   * claim, false if another gateway (or this one) claimed it first; null without Redis or while it
   * is away (the caller falls back to its own memory).
   */
  async claimOnce(name: string, ttlMs: number): Promise<boolean | null> {
    if (this.redis === null || this.redis.status !== "ready") return null;
    try {
      const answer = await this.redis.set(
        `${this.keyPrefix}:once:${name}`,
        "1",
        "PX",
        Math.max(1, Math.ceil(ttlMs)),
        "NX",
      );
      return answer === "OK";
    } catch {
      return null;
    }
  }

  /** Closes the Redis connection, if any. */
  async close(): Promise<void> {
    if (this.redis === null) return;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  private banned(scope: GuardSubjectScope, subject: string): AdmitDecision | null {
    if (this.bans === null) return null;
    const remainingMs = this.bans.remainingMs(scope, subject, this.clock());
    if (remainingMs === 0) return null;
    return {
      admitted: false,
      scope,
      reason: "banned",
      retryAfterSeconds: wholeSeconds(remainingMs),
      ban: null,
    };
  }

  /** Takes `cost` points from the subject's budget; null when admitted, else the refusal. */
  private async charge(
    lane: Lane,
    tier: string,
    scope: GuardSubjectScope,
    subject: string,
    cost: number,
  ): Promise<AdmitDecision | null> {
    const limiter = this.limiter(lane, tier, scope);
    try {
      // A cost above a small configured burst could never pass: cap it at the burst.
      await limiter.consume(subject, Math.min(cost, limiter.points));
      return null;
    } catch (rejection) {
      // Only a RateLimiterRes is a refusal; anything else (both stores failing) admits: the
      // guard must not take the API down with it.
      if (!(rejection instanceof RateLimiterRes)) return null;
      const ban = this.bans?.recordRefusal(scope, subject, this.clock()) ?? null;
      if (ban !== null) {
        const seconds = Math.ceil((ban.untilMs - ban.sinceMs) / 1000);
        // Shared with other gateways through the counter (refused until the ban ends).
        await limiter.block(subject, seconds).catch(() => undefined);
        return { admitted: false, scope, reason: "banned", retryAfterSeconds: seconds, ban };
      }
      return {
        admitted: false,
        scope,
        reason: "limit",
        retryAfterSeconds: wholeSeconds(rejection.msBeforeNext),
        ban: null,
      };
    }
  }

  private async reward(lane: Lane, tier: string, scope: GuardSubjectScope, subject: string, cost: number) {
    await this.limiter(lane, tier, scope)
      .reward(subject, cost)
      .catch(() => undefined);
  }

  private limiter(lane: Lane, tier: string, scope: GuardSubjectScope): RateLimiterAbstract {
    const byTier = this.limiterTable.get(lane)?.get(scope);
    const limiter = byTier?.get(tier) ?? byTier?.get(DEFAULT_TIER);
    if (limiter === undefined) throw new Error(`no rate limiter for ${lane}:${scope}:${tier}`);
    return limiter;
  }

  private makeLimiter(lane: Lane, tier: string, scope: GuardSubjectScope): RateLimiterAbstract {
    const name = `${lane}:${scope}:${tier}`;
    const budgets = this.tiers.get(tier) ?? (this.tiers.get(DEFAULT_TIER) as TierBudgets);
    const budget = lane === "health" ? this.health : lane === "cancel" ? budgets.cancel : budgets.general;
    const { points, durationSeconds } = budgetWindow(budget);
    const keyPrefix = `${this.keyPrefix}:rl:${name}`;
    const memory = new RateLimiterMemory({ points, duration: durationSeconds, keyPrefix });
    const limiter =
      this.redis === null
        ? memory
        : new RateLimiterRedis({
            storeClient: this.redis,
            points,
            duration: durationSeconds,
            keyPrefix,
            rejectIfRedisNotReady: true,
            insuranceLimiter: memory,
          });
    this.limiters.set(name, limiter);
    return limiter;
  }
}

const admittedAlone: AdmitDecision = { admitted: true, keyCharge: null };

function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

function checkTier(name: string, tier: TierBudgets): TierBudgets {
  budgetWindow(tier.general);
  budgetWindow(tier.cancel);
  if (tier.cancel.requestsPerSecond < MIN_CANCEL_REQUESTS_PER_SECOND)
    throw new RangeError(
      `tier ${name}: cancels may not be limited below ${MIN_CANCEL_REQUESTS_PER_SECOND}/s per account`,
    );
  return tier;
}

function connectRedis(url: string, onState: RateLimitOptions["onRedisState"]): Redis {
  // No offline queue and a short command timeout: while Redis is away a command fails at once
  // and the memory insurance answers, instead of requests waiting for a reconnect.
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  client.on("ready", () => onState?.("ready"));
  client.on("error", (error: Error) => onState?.("error", error));
  return client;
}

/** The key a request is charged to: private routes, a well-formed Key and some Sign header. */
function signedKeyId(request: LimitedRequest): string | null {
  if (request.priority === "publicData") return null;
  if (!isWellFormedKeyId(request.keyHeader)) return null;
  if (request.signHeader === undefined || request.signHeader === "") return null;
  return request.keyHeader;
}

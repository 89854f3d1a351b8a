// Escalating temporary bans (docs/SECURITY.md#flood-resilience): a subject (an address group, an
// API key, a user) refused by the rate limit more than `refusalsBeforeBan` times within
// `refusalWindowSeconds` is banned for banSeconds[0] (60 s), and each further ban within
// `levelMemorySeconds` of the last one is the next, longer step (5 min, 30 min, 2 h, then 2 h
// again). A banned subject's requests are refused before any counter is touched, with the ban's
// remaining time as Retry-After; those refusals do not count as new offences.
//
// Pure bookkeeping: time is passed in (ms since the epoch, so operators read real times), and
// both tables are bounded LRUs. Forgetting an offender under a flood of more than
// `maxTrackedSubjects` distinct ones resets its level, which only makes its next ban shorter.
// The limiter (rate-limit.ts) shares a ban with other gateways through the shared counters.

import { LruMap } from "../../lib/lru.ts";
import type { BanRecord, GuardSubjectScope } from "./guard-control.ts";

/** Set on a rate-limit refusal that is a ban, not a full bucket (the Binance dialect answers it 418). */
export const BAN_HEADER = "x-bulwark-refusal";

export interface BanPolicy {
  /** Refusals within the window that earn a ban; default 50. */
  refusalsBeforeBan: number;
  /** Default 10. */
  refusalWindowSeconds: number;
  /** Ban length per level; the last repeats. Default 60 s, 5 min, 30 min, 2 h. */
  banSeconds: readonly number[];
  /** How long a subject's level is remembered after its last ban; default 24 h. */
  levelMemorySeconds: number;
  /** Most offenders and most bans tracked (each table); default 100,000. */
  maxTrackedSubjects: number;
}

export const DEFAULT_BAN_POLICY: BanPolicy = {
  refusalsBeforeBan: 50,
  refusalWindowSeconds: 10,
  banSeconds: [60, 300, 1_800, 7_200],
  levelMemorySeconds: 86_400,
  maxTrackedSubjects: 100_000,
};

interface Offender {
  windowStartMs: number;
  refusals: number;
  /** Bans so far within the level memory. */
  level: number;
  /** When the level is forgotten. */
  levelUntilMs: number;
}

export function subjectKey(scope: GuardSubjectScope, subject: string): string {
  return `${scope}:${subject}`;
}

export class BanTable {
  readonly policy: BanPolicy;
  private readonly offenders: LruMap<string, Offender>;
  private readonly bans: LruMap<string, BanRecord>;
  /** Bans issued since start (for /metrics). */
  issued = 0;

  constructor(policy: Partial<BanPolicy> = {}) {
    this.policy = { ...DEFAULT_BAN_POLICY, ...policy };
    const { refusalsBeforeBan, refusalWindowSeconds, banSeconds, maxTrackedSubjects } = this.policy;
    if (!Number.isSafeInteger(refusalsBeforeBan) || refusalsBeforeBan < 1)
      throw new RangeError(`refusalsBeforeBan must be a whole number ≥ 1, got ${refusalsBeforeBan}`);
    if (!(refusalWindowSeconds > 0)) throw new RangeError("refusalWindowSeconds must be positive");
    if (banSeconds.length === 0 || banSeconds.length > 16 || banSeconds.some((s) => !(s >= 1)))
      throw new RangeError("banSeconds must list 1 to 16 durations of at least 1 s");
    this.offenders = new LruMap(maxTrackedSubjects);
    this.bans = new LruMap(maxTrackedSubjects);
  }

  /** Milliseconds the subject is still banned at `nowMs`, 0 when it is not. */
  remainingMs(scope: GuardSubjectScope, subject: string, nowMs: number): number {
    const key = subjectKey(scope, subject);
    const ban = this.bans.peek(key);
    if (ban === undefined) return 0;
    if (ban.untilMs <= nowMs) {
      this.bans.delete(key);
      return 0;
    }
    return ban.untilMs - nowMs;
  }

  /** Counts one refusal; returns the ban it earned, or null. */
  recordRefusal(scope: GuardSubjectScope, subject: string, nowMs: number): BanRecord | null {
    const key = subjectKey(scope, subject);
    const windowMs = this.policy.refusalWindowSeconds * 1000;
    let offender = this.offenders.get(key);
    if (offender === undefined) {
      offender = { windowStartMs: nowMs, refusals: 0, level: 0, levelUntilMs: 0 };
      this.offenders.set(key, offender);
    }
    if (offender.levelUntilMs <= nowMs) offender.level = 0;
    if (nowMs - offender.windowStartMs >= windowMs) {
      offender.windowStartMs = nowMs;
      offender.refusals = 0;
    }
    offender.refusals += 1;
    if (offender.refusals <= this.policy.refusalsBeforeBan) return null;
    const steps = this.policy.banSeconds;
    const seconds = steps[Math.min(offender.level, steps.length - 1)];
    offender.level += 1;
    offender.refusals = 0;
    offender.windowStartMs = nowMs;
    const untilMs = nowMs + seconds * 1000;
    offender.levelUntilMs = untilMs + this.policy.levelMemorySeconds * 1000;
    const ban: BanRecord = { scope, subject, level: offender.level, sinceMs: nowMs, untilMs };
    this.bans.set(key, ban);
    this.issued += 1;
    return ban;
  }

  /** Active bans at `nowMs`, newest first, at most `limit`. */
  list(limit: number, nowMs: number): BanRecord[] {
    const active: BanRecord[] = [];
    for (const key of [...this.bans.keys()]) {
      const ban = this.bans.peek(key);
      if (ban !== undefined && ban.untilMs > nowMs) active.push(ban);
    }
    active.sort((a, b) => b.sinceMs - a.sinceMs);
    return active.slice(0, Math.max(0, limit));
  }

  /** Active bans at `nowMs`. */
  activeCount(nowMs: number): number {
    let count = 0;
    for (const key of this.bans.keys()) {
      const ban = this.bans.peek(key);
      if (ban !== undefined && ban.untilMs > nowMs) count += 1;
    }
    return count;
  }

  /** Lifts the ban and forgets the subject's offences; false when no ban was active. */
  lift(scope: GuardSubjectScope, subject: string, nowMs: number): boolean {
    const key = subjectKey(scope, subject);
    const active = this.remainingMs(scope, subject, nowMs) > 0;
    this.bans.delete(key);
    this.offenders.delete(key);
    return active;
  }
}

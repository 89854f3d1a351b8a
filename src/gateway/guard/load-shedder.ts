// Priority and shedding (docs/SECURITY.md#priority-classes, issue 10 §3): the gateway samples its
// own load every ~100 ms — event-loop delay (p99 over the interval, perf_hooks
// monitorEventLoopDelay), event-loop utilisation (performance.eventLoopUtilization) and the
// sequencer's queue depth (exchange.status().queuedCommands) — into a pressure level 0..5, and
// requests of a class at or above its shedding level are answered 503 + Retry-After before their
// body is read. Classes go lowest first:
//
//   level 1: other (ops paths, unknown paths)     level 4: + order entry
//   level 2: + public market data                 level 5: + cancels beyond 10/s per account
//   level 3: + private reads
//
// Cancels are shed last, only at level 5, and never for an account (key) within
// MIN_CANCEL_REQUESTS_PER_SECOND: the guard keeps a 10/s allowance per key for that. The level
// rises at once and falls one step per sample, so a flapping load does not let a flood back in
// every other 100 ms.

import { type IntervalHistogram, monitorEventLoopDelay, performance } from "node:perf_hooks";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { PriorityClass } from "../exmo/route.ts";

/** A request's shedding class: its priority class, or "other" for ops and unknown paths. */
export type ShedClass = PriorityClass | "other";

export type PressureLevel = 0 | 1 | 2 | 3 | 4 | 5;
export const MAX_PRESSURE_LEVEL: PressureLevel = 5;

/** The lowest level at which each class is shed. */
export const SHED_FROM_LEVEL: Readonly<Record<ShedClass, PressureLevel>> = {
  other: 1,
  publicData: 2,
  privateRead: 3,
  orderEntry: 4,
  cancel: 5,
};

export const SHED_CLASSES: readonly ShedClass[] = [
  "other",
  "publicData",
  "privateRead",
  "orderEntry",
  "cancel",
];

/** Whether a request of `shedClass` is shed at `level` (pure; cancels within 10/s are never asked). */
export function shouldShed(level: PressureLevel, shedClass: ShedClass): boolean {
  return level >= SHED_FROM_LEVEL[shedClass];
}

export interface LoadSample {
  /** p99 event-loop delay over the last interval, ms. */
  eventLoopDelayMs: number;
  /** Longest event-loop delay over the last interval, ms. */
  eventLoopDelayMaxMs: number;
  /** Share of the last interval the event loop was busy, 0..1. */
  utilization: number;
  /** Commands waiting for the sequencer. */
  queueDepth: number;
}

/** Thresholds for levels 1..5 (ascending); a sample past the i-th is at least level i+1. */
export interface PressureThresholds {
  eventLoopDelayMs: readonly number[];
  utilization: readonly number[];
  queueDepth: readonly number[];
}

/**
 * Delay is the main signal (what every request waits for). A busy but healthy gateway runs near
 * full utilisation, so utilisation alone only sheds the two lowest classes. Queue depth against
 * the sequencer's bound (100,000 commands, where it answers busy).
 */
export const DEFAULT_PRESSURE_THRESHOLDS: PressureThresholds = {
  eventLoopDelayMs: [50, 100, 200, 400, 800],
  utilization: [0.97, 0.99],
  queueDepth: [5_000, 10_000, 25_000, 50_000, 80_000],
};

/** The level one sample shows (pure). */
export function pressureOf(sample: LoadSample, thresholds: PressureThresholds): PressureLevel {
  const levelOf = (value: number, steps: readonly number[]): number => {
    let level = 0;
    for (let i = 0; i < steps.length && i < MAX_PRESSURE_LEVEL; i++) if (value > steps[i]) level = i + 1;
    return level;
  };
  return Math.max(
    levelOf(sample.eventLoopDelayMs, thresholds.eventLoopDelayMs),
    levelOf(sample.utilization, thresholds.utilization),
    levelOf(sample.queueDepth, thresholds.queueDepth),
  ) as PressureLevel;
}

export interface LoadShedderOptions {
  /** Default 100 ms. */
  intervalMs?: number;
  thresholds?: Partial<PressureThresholds>;
  /** The sequencer's queue depth; default 0. */
  queueDepth?: () => number;
  /** Replaces the process sampler (tests force pressure with it). */
  sampler?: () => LoadSample;
  /** `false` never sheds (benchmarks); the sampler still runs for /metrics. */
  enabled?: boolean;
}

export class LoadShedder {
  private levelNow: PressureLevel = 0;
  private previousSeen: PressureLevel = 0;
  private last: LoadSample = { eventLoopDelayMs: 0, eventLoopDelayMaxMs: 0, utilization: 0, queueDepth: 0 };
  private readonly thresholds: PressureThresholds;
  private readonly sampler: () => LoadSample;
  private readonly histogram: IntervalHistogram | null;
  private timer: NodeJS.Timeout | null = null;
  readonly enabled: boolean;
  readonly intervalMs: number;

  constructor(options: LoadShedderOptions = {}) {
    this.thresholds = { ...DEFAULT_PRESSURE_THRESHOLDS, ...options.thresholds };
    this.intervalMs = options.intervalMs ?? 100;
    this.enabled = options.enabled ?? true;
    if (options.sampler !== undefined) {
      this.histogram = null;
      this.sampler = options.sampler;
    } else {
      const histogram = monitorEventLoopDelay({ resolution: 10 });
      histogram.enable();
      this.histogram = histogram;
      const queueDepth = options.queueDepth ?? (() => 0);
      let previous = performance.eventLoopUtilization();
      this.sampler = () => {
        const current = performance.eventLoopUtilization();
        const delta = performance.eventLoopUtilization(current, previous);
        previous = current;
        const sample = {
          // The histogram is in nanoseconds; monitoring adds its resolution to every delay.
          eventLoopDelayMs: Math.max(0, histogram.percentile(99) / 1e6 - 10),
          eventLoopDelayMaxMs: Math.max(0, histogram.max / 1e6 - 10),
          utilization: delta.utilization,
          queueDepth: queueDepth(),
        };
        histogram.reset();
        return sample;
      };
    }
  }

  /** Starts sampling (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sampleNow(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.histogram?.disable();
  }

  /**
   * Takes one sample and moves the level: up to what two samples in a row show (a lone GC pause
   * sheds nothing), down one step per sample.
   */
  sampleNow(): PressureLevel {
    this.last = this.sampler();
    const seen = pressureOf(this.last, this.thresholds);
    const sustained = Math.min(seen, this.previousSeen) as PressureLevel;
    this.previousSeen = seen;
    this.levelNow = sustained >= this.levelNow ? sustained : ((this.levelNow - 1) as PressureLevel);
    return this.levelNow;
  }

  get level(): PressureLevel {
    return this.enabled ? this.levelNow : 0;
  }

  /** The level the samples show, even when shedding is off (for /metrics). */
  get observedLevel(): PressureLevel {
    return this.levelNow;
  }

  get lastSample(): LoadSample {
    return this.last;
  }

  /** Whether to shed a request of this class now. */
  shed(shedClass: ShedClass): boolean {
    return shouldShed(this.level, shedClass);
  }
}

/** Cancels per key per second that are never shed (docs/SECURITY.md#priority-classes). */
export const CANCEL_FLOOR_PER_SECOND = 10;

/**
 * The allowance that keeps cancels flowing at the top pressure level: each key may cancel
 * CANCEL_FLOOR_PER_SECOND times a second whatever the load. Unsigned requests have none.
 */
export class CancelFloor {
  private readonly limiter = new RateLimiterMemory({
    points: CANCEL_FLOOR_PER_SECOND,
    duration: 1,
    keyPrefix: "cancel-floor",
  });

  async within(keyId: string | null): Promise<boolean> {
    if (keyId === null) return false;
    try {
      await this.limiter.consume(keyId, 1);
      return true;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return false;
      throw rejection;
    }
  }
}

// Small statistics helpers: median of runs, latency percentiles.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile of an already sorted array, p in [0, 100]. */
export function percentileSorted(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface LatencySummary {
  samples: number;
  /** Median cost of one hrtime.bigint() pair, already subtracted from every sample. */
  timerOverheadNs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
}

/** Sorts `samplesNs` in place (nanoseconds, timer overhead already removed). */
export function summarizeLatency(samplesNs: Float64Array, timerOverheadNs: number): LatencySummary {
  samplesNs.sort();
  let sum = 0;
  for (let i = 0; i < samplesNs.length; i++) sum += samplesNs[i];
  return {
    samples: samplesNs.length,
    timerOverheadNs,
    p50Us: percentileSorted(samplesNs, 50) / 1000,
    p99Us: percentileSorted(samplesNs, 99) / 1000,
    p999Us: percentileSorted(samplesNs, 99.9) / 1000,
    maxUs: samplesNs[samplesNs.length - 1] / 1000,
    meanUs: sum / samplesNs.length / 1000,
  };
}

/** Median cost of back-to-back process.hrtime.bigint() calls, in ns. */
export function measureTimerOverheadNs(): number {
  const n = 200_000;
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const t1 = process.hrtime.bigint();
    samples[i] = Number(t1 - t0);
  }
  samples.sort();
  return samples[n >> 1];
}

/** Heap + external (external includes ArrayBuffers), after full GCs. */
export interface MemorySample {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  gc();
  gc();
}

export function hasGc(): boolean {
  return typeof (globalThis as { gc?: () => void }).gc === "function";
}

export function sampleMemory(): MemorySample {
  fullGc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

export function memoryDelta(before: MemorySample, after: MemorySample): MemorySample {
  return {
    heapUsed: after.heapUsed - before.heapUsed,
    external: after.external - before.external,
    arrayBuffers: after.arrayBuffers - before.arrayBuffers,
  };
}

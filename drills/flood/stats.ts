// Pure figures for the flood drill's report: percentiles, per-window series, the recovery time.

import type { FloodCounters } from "./protocol.ts";
import type { Outcome, TradeRecord } from "./traders.ts";

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export interface LatencySummary {
  requests: number;
  ok: number;
  /** ok / requests (1 when there were none). */
  successRate: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  byOutcome: Record<Outcome, number>;
}

/** Latency over the successful requests; outcomes over all of them. */
export function summarizeTrades(records: readonly TradeRecord[]): LatencySummary {
  const byOutcome: Record<Outcome, number> = { ok: 0, rejected: 0, shed: 0, error: 0, failed: 0 };
  const latencies: number[] = [];
  for (const record of records) {
    byOutcome[record.outcome] += 1;
    if (record.outcome === "ok") latencies.push(record.latencyMs);
  }
  latencies.sort((left, right) => left - right);
  return {
    requests: records.length,
    ok: byOutcome.ok,
    successRate: records.length === 0 ? 1 : byOutcome.ok / records.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length === 0 ? null : latencies[latencies.length - 1],
    byOutcome,
  };
}

export function recordsBetween(records: readonly TradeRecord[], fromMs: number, toMs: number): TradeRecord[] {
  return records.filter((record) => record.atMs >= fromMs && record.atMs < toMs);
}

/**
 * ms after `fromMs` until order entry was back to calm: the start of the first window of
 * `windowMs` that, with the window after it, has every request succeed and its median latency
 * within `factor` × the calm median (two good windows in a row: one lucky window is not a
 * recovery, and a busy shared machine's later hiccup is not a relapse). A window without
 * requests counts as neither. null when that never happened up to `toMs`.
 */
export function recoveryMs(
  records: readonly TradeRecord[],
  fromMs: number,
  toMs: number,
  calmP50Ms: number,
  factor: number,
  windowMs: number,
): number | null {
  const windows: ("good" | "bad" | "empty")[] = [];
  for (let start = fromMs; start < toMs; start += windowMs) {
    const inWindow = recordsBetween(records, start, Math.min(toMs, start + windowMs));
    if (inWindow.length === 0) {
      windows.push("empty");
      continue;
    }
    const summary = summarizeTrades(inWindow);
    const good = summary.ok === summary.requests && (summary.p50Ms ?? 0) <= factor * calmP50Ms;
    windows.push(good ? "good" : "bad");
  }
  for (let index = 0; index < windows.length; index++) {
    if (windows[index] !== "good") continue;
    const next = windows.slice(index + 1).find((state) => state !== "empty");
    if (next === "good") return index * windowMs;
  }
  return null;
}

export function addCounters(total: FloodCounters, more: FloodCounters): FloodCounters {
  return {
    sent: total.sent + more.sent,
    answered: total.answered + more.answered,
    rejected: total.rejected + more.rejected,
    shed: total.shed + more.shed,
    failed: total.failed + more.failed,
  };
}

/** A generator's cumulative totals at drill time `atMs` (ms since the drill's start). */
export interface CounterPoint {
  atMs: number;
  totals: FloodCounters;
}

/**
 * Per-bucket rates (per second) from several generators' cumulative totals: each generator's
 * increase between two reports is put in the bucket of the later report.
 */
export function bucketRates(
  generators: readonly (readonly CounterPoint[])[],
  bucketMs: number,
  buckets: number,
): FloodCounters[] {
  const rates: FloodCounters[] = Array.from({ length: buckets }, () => ({
    sent: 0,
    answered: 0,
    rejected: 0,
    shed: 0,
    failed: 0,
  }));
  const perSecond = 1000 / bucketMs;
  for (const points of generators) {
    let previous: FloodCounters = { sent: 0, answered: 0, rejected: 0, shed: 0, failed: 0 };
    for (const point of points) {
      const index = Math.floor(point.atMs / bucketMs);
      if (index >= 0 && index < buckets) {
        const bucket = rates[index];
        for (const field of ["sent", "answered", "rejected", "shed", "failed"] as const)
          bucket[field] += (point.totals[field] - previous[field]) * perSecond;
      }
      previous = point.totals;
    }
  }
  return rates;
}

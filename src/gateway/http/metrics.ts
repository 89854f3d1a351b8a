// Prometheus metrics of one gateway, in its own registry (several gateways in one test process
// must not collide in prom-client's global one). Label values come from fixed sets (route
// patterns, priority classes, EXMO codes), never from client input, so series stay bounded.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CustodyPort } from "../../custody/port.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { PriorityClass } from "../exmo/route.ts";
import type { GuardSubjectScope } from "../guard/guard-control.ts";
import type { LoadShedder, ShedClass } from "../guard/load-shedder.ts";
import type { RefusalReason, RequestRateLimiter } from "../guard/rate-limit.ts";

/** Seconds; order entry is expected in single milliseconds, public reads below that. */
const LATENCY_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"route" | "method" | "result" | "priority">;
  private readonly latency: Histogram<"route" | "result" | "priority">;
  private readonly guarded: Counter<"priority">;
  private readonly rateLimited: Counter<"priority" | "limit">;
  private readonly rejected: Counter<"reason" | "scope">;
  private readonly shedCount: Counter<"class">;
  private readonly bansIssued: Counter<"scope">;

  constructor(
    exchange: ExchangeBoundary,
    options: { defaultMetrics: boolean; custody?: CustodyPort | null },
  ) {
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: "bulwark_http_requests_total",
      help: "HTTP requests by route pattern, method, result (ok, an EXMO error code, or http_<status>) and priority class",
      labelNames: ["route", "method", "result", "priority"],
      registers,
    });
    this.latency = new Histogram({
      name: "bulwark_http_request_duration_seconds",
      help: "HTTP request latency by route pattern, result and priority class",
      labelNames: ["route", "result", "priority"],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.guarded = new Counter({
      name: "bulwark_guard_requests_total",
      help: "Requests that passed the guard hook, by priority class",
      labelNames: ["priority"],
      registers,
    });
    this.rateLimited = new Counter({
      name: "bulwark_guard_rate_limited_total",
      help: "Requests the guard refused with 40034, by priority class and the subject refused (ip, key or user; a limit or a ban)",
      labelNames: ["priority", "limit"],
      registers,
    });
    this.rejected = new Counter({
      name: "bulwark_guard_rejections_total",
      help: "Requests the guard refused, by reason (limit, banned, shed) and scope (ip, key, user; none for shed)",
      labelNames: ["reason", "scope"],
      registers,
    });
    this.shedCount = new Counter({
      name: "bulwark_guard_shed_total",
      help: "Requests shed under load (503 + Retry-After), by class",
      labelNames: ["class"],
      registers,
    });
    this.bansIssued = new Counter({
      name: "bulwark_guard_bans_issued_total",
      help: "Temporary bans issued by the rate limit, by scope",
      labelNames: ["scope"],
      registers,
    });
    new Gauge({
      name: "bulwark_sequencer_queue_depth",
      help: "Commands waiting for the sequencer",
      registers,
      collect() {
        this.set(exchange.status().queuedCommands);
      },
    });
    new Gauge({
      name: "bulwark_projector_lag_events",
      help: "Core events durable in the journal but not yet written to the store",
      registers,
      collect() {
        this.set(exchange.status().projectorQueuedEvents);
      },
    });
    new Gauge({
      name: "bulwark_event_pipeline_stalled_batches",
      help: "Durable batches that waited for room in the projector queue (the sequencer paused meanwhile), since start",
      registers,
      collect() {
        this.set(exchange.status().pipeline.stalledBatches);
      },
    });
    new Gauge({
      name: "bulwark_event_pipeline_stalled_seconds",
      help: "Time durable batches waited for the projector queue, since start",
      registers,
      collect() {
        this.set(exchange.status().pipeline.stalledMs / 1000);
      },
    });
    new Gauge({
      name: "bulwark_core_last_sequence",
      help: "Sequence of the last command the core applied",
      registers,
      collect() {
        this.set(exchange.status().lastSequence);
      },
    });
    const custody = options.custody ?? null;
    if (custody !== null) registerCustodyGauges(custody, registers);
  }

  recordGuard(priority: PriorityClass): void {
    this.guarded.inc({ priority });
  }

  recordRateLimited(
    priority: PriorityClass,
    limit: GuardSubjectScope,
    reason: RefusalReason = "limit",
  ): void {
    this.rateLimited.inc({ priority, limit });
    this.rejected.inc({ reason, scope: limit });
  }

  recordShed(shedClass: ShedClass): void {
    this.shedCount.inc({ class: shedClass });
    this.rejected.inc({ reason: "shed", scope: "none" });
  }

  recordBan(scope: GuardSubjectScope): void {
    this.bansIssued.inc({ scope });
  }

  /** The guard's gauges: active bans, pressure level, event-loop delay and utilisation. */
  attachGuard(guard: {
    limiter: RequestRateLimiter | null;
    loadShedder: LoadShedder | null;
    /** Whether an operator switched degraded mode on (GuardControl). */
    degraded: () => boolean;
  }): void {
    const registers = [this.registry];
    const { limiter, loadShedder, degraded } = guard;
    new Gauge({
      name: "bulwark_guard_degraded",
      help: "1 while an operator has degraded mode on (public REST from cache only, new public WebSockets refused, order entry for allow-listed keys)",
      registers,
      collect() {
        this.set(degraded() ? 1 : 0);
      },
    });
    new Gauge({
      name: "bulwark_guard_bans_active",
      help: "Temporary bans in force in this gateway",
      registers,
      collect() {
        this.set(limiter?.activeBans() ?? 0);
      },
    });
    if (loadShedder === null) return;
    const sampled = (name: string, help: string, read: (shedder: LoadShedder) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(loadShedder));
        },
      });
    sampled(
      "bulwark_guard_pressure_level",
      "Load shedding level 0..5 (1 sheds other paths … 5 cancels past 10/s per key)",
      (s) => s.level,
    );
    sampled(
      "bulwark_event_loop_delay_p99_seconds",
      "p99 event-loop delay over the last ~100 ms sample",
      (s) => s.lastSample.eventLoopDelayMs / 1000,
    );
    sampled(
      "bulwark_event_loop_delay_max_seconds",
      "Longest event-loop delay over the last ~100 ms sample",
      (s) => s.lastSample.eventLoopDelayMaxMs / 1000,
    );
    sampled(
      "bulwark_event_loop_utilization_ratio",
      "Share of the last ~100 ms sample the event loop was busy",
      (s) => s.lastSample.utilization,
    );
  }

  recordRequest(
    labels: { route: string; method: string; result: string; priority: PriorityClass },
    seconds: number,
  ): void {
    this.requests.inc(labels);
    this.latency.observe({ route: labels.route, result: labels.result, priority: labels.priority }, seconds);
  }
}

/**
 * Reconciliation and the breakers, per chain (labels: custody's configured chains and assets, a
 * fixed set). Read at scrape time from custody's memory: the breakers and each chain's newest
 * reconciliations (the kept ones, at most 1,000 per chain).
 */
function registerCustodyGauges(custody: CustodyPort, registers: Registry[]): void {
  /** One read per scrape for all four gauges (each gauge's collect asks for it). */
  let cached: { atMs: number; value: Promise<CustodyFigures[]> } | null = null;
  const figures = (): Promise<CustodyFigures[]> => {
    const nowMs = Date.now();
    if (cached === null || nowMs - cached.atMs > 1_000)
      // A custody that cannot answer leaves these series out rather than failing the whole scrape.
      cached = { atMs: nowMs, value: readCustodyFigures(custody).catch(() => []) };
    return cached.value;
  };
  new Gauge({
    name: "bulwark_custody_reconciled_height",
    help: "Last block height reconciled, per chain (-1 before the first)",
    labelNames: ["chain"],
    registers,
    async collect() {
      this.reset();
      for (const chain of await figures()) this.set({ chain: chain.chain }, chain.height);
    },
  });
  new Gauge({
    name: "bulwark_custody_reconciliation_residual",
    help: "Chain minus books at the last balance check, whole coins, per chain and asset (negative: a shortfall)",
    labelNames: ["chain", "asset"],
    registers,
    async collect() {
      this.reset();
      for (const chain of await figures())
        for (const asset of chain.residuals)
          this.set({ chain: chain.chain, asset: asset.asset }, asset.residual);
    },
  });
  new Gauge({
    name: "bulwark_custody_unmatched_outflows_total",
    help: "Outflows from exchange addresses not matched to a signed intent, in the chain's kept reconciliations",
    labelNames: ["chain"],
    registers,
    async collect() {
      this.reset();
      for (const chain of await figures()) this.set({ chain: chain.chain }, chain.unmatched);
    },
  });
  new Gauge({
    name: "bulwark_custody_breaker_tripped",
    help: "1 while the chain's breaker is tripped, else 0",
    labelNames: ["chain"],
    registers,
    async collect() {
      this.reset();
      for (const chain of await figures()) this.set({ chain: chain.chain }, chain.tripped ? 1 : 0);
    },
  });
}

interface CustodyFigures {
  chain: string;
  tripped: boolean;
  height: number;
  unmatched: number;
  residuals: { asset: string; residual: number }[];
}

async function readCustodyFigures(custody: CustodyPort): Promise<CustodyFigures[]> {
  const result: CustodyFigures[] = [];
  for (const breaker of await custody.breakers()) {
    const kept = await custody.reconciliations(breaker.chain, 1_000);
    const checked = kept.find((entry) => entry.assets !== null);
    result.push({
      chain: breaker.chain,
      tripped: breaker.state === "tripped",
      height: kept[0]?.toHeight ?? -1,
      unmatched: kept.reduce((sum, entry) => sum + entry.unmatched, 0),
      residuals: (checked?.assets ?? []).map((asset) => ({
        asset: asset.asset,
        residual: Number(asset.residual),
      })),
    });
  }
  return result;
}

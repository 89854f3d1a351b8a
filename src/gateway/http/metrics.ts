// Prometheus metrics of one gateway, in its own registry (several gateways in one test process
// must not collide in prom-client's global one). Label values come from fixed sets (route
// patterns, priority classes, EXMO codes), never from client input, so series stay bounded.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { PriorityClass } from "../exmo/route.ts";

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

  constructor(exchange: ExchangeBoundary, options: { defaultMetrics: boolean }) {
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
      help: "Requests the guard refused with 40034, by priority class and the budget that ran out (ip or key)",
      labelNames: ["priority", "limit"],
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
  }

  recordGuard(priority: PriorityClass): void {
    this.guarded.inc({ priority });
  }

  recordRateLimited(priority: PriorityClass, limit: "ip" | "key"): void {
    this.rateLimited.inc({ priority, limit });
  }

  recordRequest(
    labels: { route: string; method: string; result: string; priority: PriorityClass },
    seconds: number,
  ): void {
    this.requests.inc(labels);
    this.latency.observe({ route: labels.route, result: labels.result, priority: labels.priority }, seconds);
  }
}

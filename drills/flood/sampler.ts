// The drill's monitor: every `sampleMs`, a /health probe (from its own address, as an outside
// monitor would send it), the server process's RSS and CPU from /proc (which answers whatever
// the server's event loop is doing), and every `metricsEveryTicks` ticks a /metrics scrape for
// the guard's counters and event-loop gauges. The event-loop delay itself comes from the exchange
// child's own histogram (ServerLine "loop"), which a refused or shed scrape cannot hide.

import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { assertLoopbackTarget, MONITOR_ADDRESSES } from "./loopback.ts";

export type Phase = "calm" | "flood" | "recovery";

export interface Sample {
  /** ms since the drill's start. */
  atMs: number;
  phase: Phase;
  rssBytes: number | null;
  serverCpuPercent: number | null;
  /** null while the probe is in flight. */
  healthOk: boolean | null;
  healthMs: number | null;
  metricsOk: boolean | null;
}

/** Samples kept at most: 4 a second for over 4 hours. */
const MAX_SAMPLES = 60_000;
const CLOCK_TICKS_PER_SECOND = 100;

export interface Sampler {
  samples: Sample[];
  /** The last /metrics answer's series (name{labels} → value). */
  lastMetrics: Map<string, number>;
  /** The first /metrics answer's, to report counters as differences over the run. */
  firstMetrics: Map<string, number> | null;
  setPhase(phase: Phase): void;
  stop(): Promise<void>;
}

export function readRssBytes(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** utime + stime of a process in seconds (Linux /proc/<pid>/stat fields 14 and 15). */
export function readCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the command name start at field 3, so field N is at index N - 3.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Prometheus text format → name{labels} → value (comments and malformed lines skipped). */
export function parseMetrics(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    if (space <= 0) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) series.set(line.slice(0, space), value);
  }
  return series;
}

function get(
  url: URL,
  agent: Agent,
  localAddress: string,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, localAddress, path, method: "GET", timeout: timeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

export function startSampler(options: {
  baseUrl: string;
  serverPid: number;
  sampleMs: number;
  metricsEveryTicks: number;
  healthTimeoutMs: number;
  now: () => number;
}): Sampler {
  const url = assertLoopbackTarget(options.baseUrl);
  const healthAgent = new Agent({ keepAlive: true, maxSockets: 4 });
  const metricsAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let phase: Phase = "calm";
  let tick = 0;
  let lastCpu = readCpuSeconds(options.serverPid);
  let lastCpuAtMs = options.now();
  const sampler: Sampler = {
    samples,
    lastMetrics: new Map(),
    firstMetrics: null,
    setPhase(next) {
      phase = next;
    },
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...inFlight]);
      healthAgent.destroy();
      metricsAgent.destroy();
    },
  };

  function track(promise: Promise<unknown>): void {
    inFlight.add(promise);
    promise.finally(() => inFlight.delete(promise));
  }

  const timer = setInterval(() => {
    const atMs = options.now();
    const cpu = readCpuSeconds(options.serverPid);
    const cpuPercent =
      cpu === null || lastCpu === null
        ? null
        : ((cpu - lastCpu) / Math.max(0.001, (atMs - lastCpuAtMs) / 1000)) * 100;
    lastCpu = cpu;
    lastCpuAtMs = atMs;
    const sample: Sample = {
      atMs,
      phase,
      rssBytes: readRssBytes(options.serverPid),
      serverCpuPercent: cpuPercent,
      healthOk: null,
      healthMs: null,
      metricsOk: null,
    };
    if (samples.length < MAX_SAMPLES) samples.push(sample);
    track(
      get(url, healthAgent, MONITOR_ADDRESSES.health, "/health", options.healthTimeoutMs).then(
        (answer) => {
          sample.healthOk = answer.status === 200;
          sample.healthMs = options.now() - atMs;
        },
        () => {
          sample.healthOk = false;
        },
      ),
    );
    if (tick++ % options.metricsEveryTicks === 0)
      track(
        get(url, metricsAgent, MONITOR_ADDRESSES.metrics, "/metrics", 2_000).then(
          (answer) => {
            sample.metricsOk = answer.status === 200;
            if (answer.status !== 200) return;
            sampler.lastMetrics = parseMetrics(answer.body);
            sampler.firstMetrics ??= sampler.lastMetrics;
          },
          () => {
            sample.metricsOk = false;
          },
        ),
      );
  }, options.sampleMs);
  return sampler;
}

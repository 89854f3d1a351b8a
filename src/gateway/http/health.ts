// /health: one line per component, so an operator (and a load balancer) sees which part is
// unwell. "degraded" (HTTP 503) when the store cannot be read or the projector's last write
// failed; the core answering at all is what this process being up means.

import type { ExchangeBoundary } from "../../exchange/boundary.ts";

/** A store that does not answer within this is reported unreachable. */
const STORE_PROBE_TIMEOUT_MS = 2_000;

export interface HealthReport {
  status: "ok" | "degraded";
  components: {
    core: { lastSequence: number };
    journal: { acknowledgedSequence: number; unacknowledgedCommands: number };
    sequencer: { queuedCommands: number };
    store: { engine: string; reachable: boolean; projectedSequence: number | null; error?: string };
    projector: {
      lagSequences: number | null;
      queuedEvents: number;
      /** True while the projector queue is full and the sequencer waits for it. */
      pipelineStalled: boolean;
      lastError: string | null;
    };
    marketData: { markets: number };
  };
}

async function probeStore(
  exchange: ExchangeBoundary,
): Promise<{ ok: true; sequence: number } | { ok: false; error: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${STORE_PROBE_TIMEOUT_MS} ms`)),
      STORE_PROBE_TIMEOUT_MS,
    );
  });
  try {
    return { ok: true, sequence: await Promise.race([exchange.reads.projectedSequence(), timeout]) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

export async function healthReport(exchange: ExchangeBoundary): Promise<HealthReport> {
  const status = exchange.status();
  const lastSequence = status.lastSequence;
  const acknowledged = status.acknowledgedSequence;
  const store = await probeStore(exchange);
  const projectorError = status.projectorLastError;
  const healthy = store.ok && projectorError === null;
  return {
    status: healthy ? "ok" : "degraded",
    components: {
      core: { lastSequence },
      journal: {
        acknowledgedSequence: acknowledged,
        unacknowledgedCommands: Math.max(0, lastSequence - acknowledged),
      },
      sequencer: { queuedCommands: status.queuedCommands },
      store: store.ok
        ? { engine: status.storeEngine, reachable: true, projectedSequence: store.sequence }
        : { engine: status.storeEngine, reachable: false, projectedSequence: null, error: store.error },
      projector: {
        lagSequences: store.ok ? Math.max(0, lastSequence - store.sequence) : null,
        queuedEvents: status.projectorQueuedEvents,
        pipelineStalled: status.pipeline.stalled,
        lastError: projectorError === null ? null : String(projectorError),
      },
      marketData: { markets: exchange.marketData.marketConfigs().length },
    },
  };
}

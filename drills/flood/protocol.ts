// What the drill's processes tell each other (JSON lines, drills/flood/child.ts), and the
// seeded market both the exchange child and the traders price against.

/** The market maker's resting BTC_USD book (ticks of 0.01 USD, lots of 0.0001 BTC). */
export const BOOK = {
  /** 50,000 USD. */
  midTicks: 5_000_000,
  /** 10 USD between levels. */
  levelStepTicks: 1_000,
  /** Levels per side. */
  levels: 50,
  /** 0.1 BTC per level. */
  lotsPerLevel: 1_000,
} as const;

export interface TraderKey {
  keyId: string;
  secret: string;
}

export type ServerLine =
  | { kind: "ready"; url: string; pid: number; traders: TraderKey[] }
  /** The exchange's event-loop delay over the last sampling window. */
  | { kind: "loop"; atMs: number; p99Ms: number; maxMs: number }
  | { kind: "stopped" };

/**
 * One flood kind's running totals. `sent`: requests (or sockets, or WebSocket messages) offered;
 * `answered`: served normally (including an error the request deserved: 404, 413, a bad
 * signature's 40005); `rejected`: refused by a limit (40034 / HTTP 429 / a WS rate-limit error or
 * close / a slowloris socket cut); `shed`: 503 (load shedding); `failed`: no answer (reset,
 * timeout, refused connection).
 */
export interface FloodCounters {
  sent: number;
  answered: number;
  rejected: number;
  shed: number;
  failed: number;
}

export function emptyCounters(): FloodCounters {
  return { sent: 0, answered: 0, rejected: 0, shed: 0, failed: 0 };
}

/** What a generator learns on "go": the exchange was not up yet when the generator was spawned. */
export interface FloodTarget {
  baseUrl: string;
  /** Key ids the bad-signature flood also names (real ones: an attacker who knows a maker's key id). */
  knownKeyIds: string[];
}

export type GeneratorLine =
  | { kind: "ready" }
  | {
      kind: "counters";
      atMs: number;
      byKind: Record<string, FloodCounters>;
      /** The generator's own CPU use since the last line, in percent of one core. */
      cpuPercent: number;
      /** Kind-specific figures (slowloris sockets open, longest socket life …). */
      notes: Record<string, number>;
      final?: boolean;
    };

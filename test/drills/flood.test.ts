// The flood drill (drills/flood/drill.ts) in miniature, in `npm test`: a real exchange in a child
// process, three well-behaved traders, and a few seconds of flood from 40 loopback addresses
// (public data, junk paths, oversized bodies, bad signatures, slowloris, WebSocket connection and
// subscribe storms) at well over 50× the traders' rate. It asserts that order entry still
// succeeds, that nothing acknowledged is lost, that /health answers throughout, and that the
// guard really refused or shed part of the flood (so a flood that sailed through unguarded, or
// one too small to matter, fails). The latency target (p99 ≤ 3× calm) is the full drill's to
// measure (`npm run drill:flood`): on a shared 2-core machine with vitest beside it, seconds of
// flood say little about a p99.

import { describe, expect, it } from "vitest";
import { type FloodDrillOptions, type FloodReport, runFloodDrill } from "../../drills/flood/drill.ts";
import { assertLoopbackTarget, floodSourceAddresses } from "../../drills/flood/loopback.ts";
import { recoveryMs } from "../../drills/flood/stats.ts";
import type { TradeRecord } from "../../drills/flood/traders.ts";

const SMALL_DRILL: FloodDrillOptions = {
  calmSeconds: 1.5,
  floodSeconds: 3,
  recoverySeconds: 1,
  traders: 3,
  // The suite's servers run without shedding (test/support/worker-setup.ts); the drill rehearses it.
  loadShedding: true,
  traderCyclesPerSecond: 2,
  flood: {
    sources: 40,
    http: {
      public: { connections: 40, ratePerSecond: 600 },
      junk: { connections: 8, ratePerSecond: 100 },
      oversized: { connections: 2, ratePerSecond: 10 },
      badSignature: { connections: 8, ratePerSecond: 100 },
    },
    oversizedBodyBytes: 128 * 1024,
    namesRealKeyIds: false,
    slowloris: { sockets: 40, trickleMs: 1_000 },
    wsStorm: { connectionsPerSecond: 40, lifetimeMs: 1_000, sourceCount: 1 },
    subscribeStorm: { sockets: 5, messagesPerSecond: 40 },
  },
  sampleMs: 250,
  healthTimeoutMs: 2_000,
  outDir: null,
};

describe("the flood drill, small", () => {
  // ~13 s of flood: `npm run test:full`, which CI runs.
  it.skipIf(process.env.BULWARK_TEST_FULL !== "1")(
    "keeps order entry working and loses nothing acknowledged while the guard refuses the flood",
    async () => {
      const report: FloodReport = await runFloodDrill(SMALL_DRILL);
      const detail = JSON.stringify({ ...report, timeline: undefined }, null, 1);
      expect(report.floodTimesCalm, detail).toBeGreaterThanOrEqual(50);
      expect(report.flood.requests, detail).toBeGreaterThan(0);
      expect(report.flood.successRate, detail).toBeGreaterThanOrEqual(0.95);
      expect(report.verify.acked, detail).toBeGreaterThan(0);
      expect(report.ackedDuringFlood, detail).toBeGreaterThan(0);
      expect(report.verify.lost, detail).toEqual([]);
      // /health throughout: no stretch of 2 s without an answer, and at most one probe in 20 over
      // its 2 s timeout (npm test shares the machine with vitest's other workers and the type check).
      expect(report.health.probes, detail).toBeGreaterThan(10);
      expect(report.health.answeredPercent, detail).toBeGreaterThanOrEqual(95);
      expect(report.health.longestGapMs, detail).toBeLessThanOrEqual(2_000);
      expect(report.floodTotal.rejected + report.floodTotal.shed, detail).toBeGreaterThan(0);
    },
    40_000,
  );

  it("floods only loopback: any other target is refused before a socket opens", () => {
    expect(assertLoopbackTarget("http://127.0.0.1:8080/").hostname).toBe("127.0.0.1");
    expect(assertLoopbackTarget("ws://[::1]:8080/v1/public").hostname).toBe("[::1]");
    for (const target of [
      "http://localhost:8080/",
      "http://127.0.0.2:8080/",
      "http://10.0.0.1/",
      "https://example.com/",
      "http://0.0.0.0:8080/",
      "file:///etc/passwd",
    ])
      expect(() => assertLoopbackTarget(target), target).toThrow(/refusing target/);
    expect(floodSourceAddresses(3)).toEqual(["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    expect(floodSourceAddresses(249).at(-1)).toBe("127.0.0.250");
    expect(() => floodSourceAddresses(250)).toThrow(RangeError);
  });

  it("counts recovery from the first of two good windows in a row", () => {
    const at = (atMs: number, latencyMs: number, outcome: TradeRecord["outcome"] = "ok"): TradeRecord => ({
      atMs,
      trader: 0,
      kind: "create",
      latencyMs,
      outcome,
    });
    // Calm p50 10 ms; windows of 500 ms from t=1000: slow, refused, good, good.
    const records = [at(1100, 90), at(1600, 10, "rejected"), at(2100, 11), at(2600, 12)];
    expect(recoveryMs(records, 1000, 3000, 10, 1.5, 500)).toBe(1000);
    // One good window between slow ones is not a recovery; an empty window is skipped.
    const lucky = [at(1100, 90), at(1600, 10), at(2100, 40), at(3100, 9), at(3600, 9)];
    expect(recoveryMs(lucky, 1000, 4000, 10, 1.5, 500)).toBe(2000);
    // Never back: slow to the end.
    expect(recoveryMs([at(1100, 90), at(1600, 10), at(2100, 40)], 1000, 2500, 10, 1.5, 500)).toBeNull();
  });
});

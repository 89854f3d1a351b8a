// The theft drill (drills/theft/drill.ts) as a test: EXMO's December 2020 on the devnet, every line
// of `npm run drill:theft` asserted — detection at the first block holding the theft, the breaker
// and the signer's halt within 5 s, the status page, a WebSocket client and the webhook told, the
// loss at most the hot balance and nothing else leaving, the cover, unchanged user balances, a
// verifying reserves proof, the rotation, a late deposit to an old address, the audit log.

import { describe, expect, it } from "vitest";
import { type DrillReport, runTheftDrill } from "../../drills/theft/drill.ts";

describe("the theft drill", () => {
  it("notices the theft at its block, stops it within 5 s, and makes users whole", async () => {
    const report: DrillReport = await runTheftDrill();
    const failed = report.checks.filter((check) => !check.ok);
    expect(failed, JSON.stringify(failed, null, 1)).toEqual([]);
    const { figures } = report;
    expect(figures.detectedAtBlockHeight).toBe(figures.theftBlockHeight);
    expect(figures.breakerMs).not.toBeNull();
    expect(figures.breakerMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(5_000);
    expect(figures.stolenUnits > 0n).toBe(true);
    expect(figures.stolenUnits <= figures.hotBeforeUnits).toBe(true);
    expect(figures.hotBeforeUnits <= figures.hotCapUnits).toBe(true);
    const steps = report.rows.map((row) => row.step);
    for (const step of [
      "hot wallet at its cap",
      "withdrawals flowing",
      "first block containing the theft",
      "detection",
      "breaker tripped",
      "signer refusing",
      "status page shows the incident",
      "WebSocket client notified",
      "loss vs hot balance",
      "incident cover",
      "invariants",
      "reserves proof",
      "wallet rotate",
      "late deposit to an old address",
      "audit verify",
    ])
      expect(steps).toContain(step);
  }, 180_000);
});

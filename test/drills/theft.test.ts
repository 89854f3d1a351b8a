// The theft drill (drills/theft/drill.ts) as a test: EXMO's December 2020 on the devnet, every line
// of `npm run drill:theft` asserted — detection at the first block holding the theft, the breaker
// and the signer's halt within 5 s, the status page, a WebSocket client and the webhook told, the
// loss at most the hot balance and nothing else leaving, the cover, unchanged user balances, a
// verifying reserves proof, the rotation, a late deposit to an old address, the audit log.
//
// A full drill (~13 s of a devnet, a server, signers and custody on a 2-core machine): it runs in
// `npm run test:full` (BULWARK_TEST_FULL=1, which CI runs after `npm test`) and by hand as
// `npm run drill:theft`, not in the default run, whose time budget it would take a tenth of. The
// pieces it strings together have their own tests in the default run (cli-steal, breaker,
// cli-wallet-rotate, reserves, incidents). The drill has no options, so there is no cheap part
// (argument parsing, say) to keep here.

import { describe, expect, it } from "vitest";
import type { DrillReport } from "../../drills/theft/drill.ts";

const FULL = process.env.BULWARK_TEST_FULL === "1";

describe.skipIf(!FULL)("the theft drill (full drill: `npm run test:full` or `npm run drill:theft`)", () => {
  it("notices the theft at its block, stops it within 5 s, and makes users whole", async () => {
    // Imported here, not at the top: the default run, which skips the drill, does not load it.
    const { runTheftDrill } = await import("../../drills/theft/drill.ts");
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

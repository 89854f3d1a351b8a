// What `bulwark verify` reports about a core, computed the same way offline (a core recovered
// from the data dir) and on a running server (GET /operator/v1/verify reads its live core), so
// both print the same fields. Imports nothing heavy: the CLI's offline verify loads it too.

import type { Core } from "../core/core.ts";

export interface CoreSummary {
  lastSequence: number;
  assets: string[];
  markets: string[];
  restingOrders: number;
}

export interface CoreVerifyReport extends CoreSummary {
  stateHash: string;
  invariants: "ok";
}

export function coreSummary(core: Core): CoreSummary {
  return {
    lastSequence: core.lastSequence,
    assets: core.assetList().map((asset) => asset.code),
    markets: core.marketList().map((market) => market.symbol),
    restingOrders: core.restingOrderCount,
  };
}

/** Checks every ledger and book invariant (throws the first broken one), then hashes the state. */
export function verifyCore(core: Core): CoreVerifyReport {
  core.checkInvariants();
  return { ...coreSummary(core), stateHash: core.stateHash(), invariants: "ok" };
}

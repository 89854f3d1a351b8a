// The reference core's breach-containment commands (docs/CORE.md, "Covering a loss"):
// fundInsurance and coverIncidentLoss, each check written out in the spec's order; every balance
// change is a `transfer` between system accounts.

import {
  type CoverIncidentLossCommand,
  type FundInsuranceCommand,
  INSURANCE_FUNDING_WALLETS,
  LOSS_COVER_SOURCES,
} from "../commands.ts";
import { MAX_SAFE_UNITS } from "../config.ts";
import type { SystemAccount } from "../state-view.ts";
import { type Account, systemBalanceOf, transfer } from "./reference-ledger.ts";
import { findAsset, type ReferenceState, Rejection } from "./reference-state.ts";

/** The spec's bound on covered (incident, asset) pairs. */
const MAX_COVERS = 10_000;
const TX_ID_OR_EMPTY = /^[!-~]{0,128}$/;

function isAmount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

function system(account: SystemAccount): Account {
  return { kind: "system", account };
}

function fits(s: ReferenceState, account: SystemAccount, assetId: number, delta: number): boolean {
  return Math.abs(systemBalanceOf(s, account, assetId) + delta) <= MAX_SAFE_UNITS;
}

export function coverIncidentLoss(s: ReferenceState, c: CoverIncidentLossCommand): void {
  const sources: readonly unknown[] = LOSS_COVER_SOURCES;
  if (!isAmount(c.incidentId) || !isAmount(c.amountUnits) || !sources.includes(c.source))
    throw new Rejection("invalidCommand");
  if (findAsset(s, c.assetId) === undefined) throw new Rejection("unknownAsset");
  if (s.incidentCovers.some((cover) => cover.incidentId === c.incidentId && cover.assetId === c.assetId))
    throw new Rejection("alreadyExists");
  // "the hot wallet holds at least the amount on the books" (its balance is minus its coins).
  if (-systemBalanceOf(s, "walletHot", c.assetId) < c.amountUnits) throw new Rejection("insufficientFunds");
  if (c.source === "insuranceFund" && systemBalanceOf(s, "insuranceFund", c.assetId) < c.amountUnits)
    throw new Rejection("insufficientFunds");
  if (s.incidentCovers.length >= MAX_COVERS) throw new Rejection("limitReached");
  if (!fits(s, c.source, c.assetId, -c.amountUnits)) throw new Rejection("limitReached");
  transfer(s, c.assetId, system("incidentLosses"), system("walletHot"), c.amountUnits);
  transfer(s, c.assetId, system(c.source), system("incidentLosses"), c.amountUnits);
  s.incidentCovers.push({
    incidentId: c.incidentId,
    assetId: c.assetId,
    amountUnits: c.amountUnits,
    source: c.source,
  });
  s.pending.push({
    type: "incidentLossCovered",
    sequence: c.sequence,
    timestampMs: c.timestampMs,
    incidentId: c.incidentId,
    assetId: c.assetId,
    amountUnits: c.amountUnits,
    source: c.source,
  });
}

export function fundInsurance(s: ReferenceState, c: FundInsuranceCommand): void {
  const wallets: readonly unknown[] = INSURANCE_FUNDING_WALLETS;
  if (!wallets.includes(c.wallet) || !isAmount(c.amountUnits)) throw new Rejection("invalidCommand");
  if (typeof c.txId !== "string" || !TX_ID_OR_EMPTY.test(c.txId)) throw new Rejection("invalidCommand");
  if (findAsset(s, c.assetId) === undefined) throw new Rejection("unknownAsset");
  if (!fits(s, c.wallet, c.assetId, -c.amountUnits) || !fits(s, "insuranceFund", c.assetId, c.amountUnits))
    throw new Rejection("limitReached");
  transfer(s, c.assetId, system(c.wallet), system("insuranceFund"), c.amountUnits);
  s.pending.push({
    type: "insuranceFunded",
    sequence: c.sequence,
    timestampMs: c.timestampMs,
    assetId: c.assetId,
    wallet: c.wallet,
    amountUnits: c.amountUnits,
    txId: c.txId,
  });
}

// Breach containment's commands (docs/CORE.md, "Covering a loss"): funding the insurance fund
// with the operator's own coins, and writing off coins stolen from the hot wallet against the
// fund or operator equity. No user balance changes; every posting is between system accounts of
// one asset, so the asset still sums to 0. Checks run in the documented order; a rejection changes nothing.

import { assert } from "../assert.ts";
import {
  type CoverIncidentLossCommand,
  type FundInsuranceCommand,
  INSURANCE_FUNDING_WALLETS,
  LOSS_COVER_SOURCES,
} from "../commands.ts";
import type { CommandOutput } from "../engine/command-output.ts";
import type { CoreState } from "../engine/core-state.ts";
import { SYSTEM_ACCOUNT_INDEX } from "../ledger/ledger.ts";
import { MOVEMENT_TX_ID } from "./deposit-keys.ts";
import { MAX_INCIDENT_COVERS } from "./incident-covers.ts";

const HOT = SYSTEM_ACCOUNT_INDEX.walletHot;
const INSURANCE = SYSTEM_ACCOUNT_INDEX.insuranceFund;
const LOSSES = SYSTEM_ACCOUNT_INDEX.incidentLosses;

function isPositiveUnits(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

export class LossCoverCommands {
  constructor(
    private readonly state: CoreState,
    private readonly out: CommandOutput,
  ) {}

  /**
   * walletHot +amount (its coins on the books drop to what the chain holds after the theft),
   * incidentLosses −amount; then source −amount, incidentLosses +amount (the loss is charged).
   */
  coverIncidentLoss(c: CoverIncidentLossCommand): void {
    const state = this.state;
    const ledger = state.ledger;
    const { incidentId, assetId, amountUnits, source } = c;
    if (
      !isPositiveUnits(incidentId) ||
      !isPositiveUnits(amountUnits) ||
      !(LOSS_COVER_SOURCES as readonly unknown[]).includes(source)
    )
      return this.out.rejected("invalidCommand", 0, 0);
    if (!state.assetExists(assetId)) return this.out.rejected("unknownAsset", 0, 0);
    if (state.incidentCovers.has(incidentId, assetId)) return this.out.rejected("alreadyExists", 0, 0);
    // A wallet's balance is minus the coins it holds: the hot wallet must hold the stolen amount.
    if (-ledger.systemBalance(HOT, assetId) < amountUnits)
      return this.out.rejected("insufficientFunds", 0, 0);
    const sourceAccount = SYSTEM_ACCOUNT_INDEX[source];
    if (source === "insuranceFund" && ledger.systemBalance(INSURANCE, assetId) < amountUnits)
      return this.out.rejected("insufficientFunds", 0, 0);
    if (
      state.incidentCovers.size >= MAX_INCIDENT_COVERS ||
      !ledger.systemCanMove(sourceAccount, assetId, -amountUnits)
    )
      return this.out.rejected("limitReached", 0, 0);
    const lossesBefore = ledger.systemBalance(LOSSES, assetId);
    ledger.moveSystem(LOSSES, HOT, assetId, amountUnits);
    ledger.moveSystem(sourceAccount, LOSSES, assetId, amountUnits);
    // Two balanced postings through incidentLosses: it ends where it began, and no user moved.
    assert(ledger.systemBalance(LOSSES, assetId) === lossesBefore, "a cover left incidentLosses unbalanced");
    assert(ledger.touchedCount === 0, "a cover touched a user balance");
    state.incidentCovers.add({ incidentId, assetId, amountUnits, source });
    const out = this.out;
    out.events.push({
      type: "incidentLossCovered",
      sequence: out.sequence,
      timestampMs: out.timestampMs,
      incidentId,
      assetId,
      amountUnits,
      source,
    });
  }

  /** wallet −amount (it holds the coins), insuranceFund +amount (they are the fund's). */
  fundInsurance(c: FundInsuranceCommand): void {
    const state = this.state;
    const ledger = state.ledger;
    const { assetId, wallet, amountUnits, txId } = c;
    if (
      !(INSURANCE_FUNDING_WALLETS as readonly unknown[]).includes(wallet) ||
      !isPositiveUnits(amountUnits) ||
      typeof txId !== "string" ||
      !MOVEMENT_TX_ID.test(txId)
    )
      return this.out.rejected("invalidCommand", 0, 0);
    if (!state.assetExists(assetId)) return this.out.rejected("unknownAsset", 0, 0);
    const walletAccount = SYSTEM_ACCOUNT_INDEX[wallet];
    if (
      !ledger.systemCanMove(walletAccount, assetId, -amountUnits) ||
      !ledger.systemCanMove(INSURANCE, assetId, amountUnits)
    )
      return this.out.rejected("limitReached", 0, 0);
    ledger.moveSystem(walletAccount, INSURANCE, assetId, amountUnits);
    const out = this.out;
    out.events.push({
      type: "insuranceFunded",
      sequence: out.sequence,
      timestampMs: out.timestampMs,
      assetId,
      wallet,
      amountUnits,
      txId,
    });
  }
}

// A withdrawal's steps as the wallet reads can tell them (docs/API.md §11, docs/CUSTODY.md):
// wallet_operations says Processing (held, on its way), Paid (settled) or Canceled (released), with
// the tx id once custody broadcast it and the chain's confirmations since. Custody's finer steps
// (awaiting approval, signing) are not in that answer, so they show as one "approved and signed"
// step that is done once the transaction is on the chain.
import type { WalletOperation } from "./wallet-api.ts";

export type StepState = "done" | "current" | "waiting" | "failed";

export interface WithdrawalStep {
  name: string;
  state: StepState;
  detail: string;
}

/** Whether an operation can still change (a withdrawal on its way). */
export function isFinal(operation: WalletOperation): boolean {
  return operation.status !== "Processing";
}

export function withdrawalSteps(operation: WalletOperation, confirmationsNeeded: number): WithdrawalStep[] {
  const settled = operation.status === "Paid";
  const canceled = operation.status === "Canceled";
  const broadcast = operation.extra.txid !== "";
  const confirmations = operation.extra.confirmations ?? 0;
  const steps: WithdrawalStep[] = [
    { name: "Requested", state: "done", detail: "checked, the amount held from your balance" },
    {
      name: "Approved and signed",
      state: broadcast || settled ? "done" : canceled ? "failed" : "current",
      detail:
        broadcast || settled ? "signed by the chain's signer" : canceled ? "not sent" : "in custody's queue",
    },
    {
      name: "Broadcast",
      state: broadcast || settled ? "done" : canceled ? "failed" : "waiting",
      detail: broadcast ? `transaction ${operation.extra.txid}` : "",
    },
    {
      name: "Confirmed",
      state: settled ? "done" : canceled ? "failed" : broadcast ? "current" : "waiting",
      detail:
        broadcast || settled
          ? `${Math.min(confirmations, confirmationsNeeded)} of ${confirmationsNeeded} confirmations`
          : `${confirmationsNeeded} confirmations needed`,
    },
    {
      name: canceled ? "Canceled" : "Settled",
      state: settled ? "done" : canceled ? "failed" : "waiting",
      detail: canceled
        ? `released back to your balance${operation.error === "" ? "" : `: ${operation.error}`}`
        : settled
          ? "paid"
          : "",
    },
  ];
  return steps;
}

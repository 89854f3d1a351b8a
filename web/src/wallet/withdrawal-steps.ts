// A withdrawal's steps as the person sees them. Custody's own steps (session API GET /withdrawals,
// docs/CUSTODY.md): requested (checked and held), awaiting approval (k of n; only when operators
// must approve it), approved, signing, signed, broadcast, confirmed n of N, then settled — or
// rejected / failed (released back to the balance) / stuck (an operator checks it), with the
// reason. Until custody's answer has the withdrawal (the moment after the request), the coarser
// wallet_operations status stands in (Processing, Paid, Canceled).
import type { CustodyStep, CustodyWithdrawal, WalletOperation } from "./wallet-api.ts";

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

/** Whether custody's withdrawal can still change step. */
export function isSettledStep(step: CustodyStep): boolean {
  return step === "settled" || step === "rejected" || step === "failed";
}

/** The steps on the way to settled, in order; `held` is part of requested (checked and held at once). */
const PATH: readonly CustodyStep[] = [
  "requested",
  "awaitingApproval",
  "approved",
  "signing",
  "signed",
  "broadcast",
  "confirmed",
  "settled",
];

const PATH_NAMES: Record<string, string> = {
  requested: "Requested",
  awaitingApproval: "Awaiting approval",
  approved: "Approved",
  signing: "Signing",
  signed: "Signed",
  broadcast: "Broadcast",
  confirmed: "Confirmed",
  settled: "Settled",
};

const TIME_FORMAT: Intl.DateTimeFormatOptions = { hour: "2-digit", minute: "2-digit", second: "2-digit" };

function timeOf(atMs: number | undefined): string {
  return atMs === undefined ? "" : new Date(atMs).toLocaleTimeString(undefined, TIME_FORMAT);
}

function joined(...parts: string[]): string {
  return parts.filter((part) => part !== "").join(", ");
}

/** Custody's steps of one withdrawal, each done, current, waiting, or failed where it stopped. */
export function custodySteps(withdrawal: CustodyWithdrawal): WithdrawalStep[] {
  const reachedAt = new Map<CustodyStep, number>();
  for (const entry of withdrawal.history) {
    const step = entry.step === "held" ? "requested" : entry.step;
    if (!reachedAt.has(step)) reachedAt.set(step, entry.atMs);
  }
  const current: CustodyStep = withdrawal.step === "held" ? "requested" : withdrawal.step;
  const ended = current === "rejected" || current === "failed" || current === "stuck";
  const path = PATH.filter(
    (step) =>
      step !== "awaitingApproval" ||
      withdrawal.approvalsNeeded > 0 ||
      reachedAt.has(step) ||
      current === step,
  );
  // Where it is on the path: its step, or (ended) the furthest step its history reached.
  let at = path.indexOf(current);
  if (at < 0) for (const [index, step] of path.entries()) if (reachedAt.has(step)) at = index;
  const needed = withdrawal.confirmationsNeeded;
  const steps: WithdrawalStep[] = [];
  for (const [index, step] of path.entries()) {
    // An ended withdrawal lists the steps it reached, then how it ended.
    if (ended && index > at) break;
    let state: StepState;
    if (index < at) state = "done";
    // Awaiting approval is a wait: in progress while it is the step.
    else if (index === at) state = step === "awaitingApproval" ? "current" : "done";
    else state = index === at + 1 ? "current" : "waiting";
    const time = state === "done" ? timeOf(reachedAt.get(step)) : "";
    let detail = time;
    if (step === "requested") detail = joined("checked, the amount held from your balance", time);
    else if (step === "awaitingApproval")
      detail = joined(`${withdrawal.approvals} of ${withdrawal.approvalsNeeded} approvals`, time);
    else if (step === "signing" && state === "current") detail = "the chain's signer signs it";
    else if (step === "broadcast" && withdrawal.txId !== null)
      detail = joined(`transaction ${withdrawal.txId}`, time);
    else if (step === "confirmed" && needed !== null)
      detail =
        state === "waiting"
          ? `${needed} confirmations needed`
          : joined(`${Math.min(withdrawal.confirmations, needed)} of ${needed} confirmations`, time);
    else if (step === "settled" && state === "done") detail = joined("paid", time);
    steps.push({ name: PATH_NAMES[step] ?? step, state, detail });
  }
  if (ended) {
    const reason = withdrawal.reason ?? "";
    const end = {
      rejected: { name: "Rejected", detail: "released back to your balance" },
      failed: { name: "Failed", detail: "released back to your balance" },
      stuck: {
        name: "Held for an operator",
        detail: "custody cannot tell yet whether it left; an operator checks it",
      },
    }[current as "rejected" | "failed" | "stuck"];
    steps.push({
      name: end.name,
      state: "failed",
      detail: joined(end.detail, reason, timeOf(reachedAt.get(current))),
    });
  }
  return steps;
}

/** The coarse steps wallet_operations can tell (Processing, Paid, Canceled), until custody's answer has it. */
export function withdrawalSteps(operation: WalletOperation, confirmationsNeeded: number): WithdrawalStep[] {
  const settled = operation.status === "Paid";
  const canceled = operation.status === "Canceled";
  const broadcast = operation.extra.txid !== "";
  const confirmations = operation.extra.confirmations ?? 0;
  return [
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
}

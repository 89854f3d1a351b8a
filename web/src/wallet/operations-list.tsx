// Deposits and withdrawals, newest first (the last OPERATIONS_SHOWN); a withdrawal shows its
// custody steps (withdrawal-steps.ts), or the coarse ones until custody's answer has it.
import type { CurrencyTerms, CustodyStep, CustodyWithdrawal, WalletOperation } from "./wallet-api.ts";
import { custodySteps, withdrawalSteps } from "./withdrawal-steps.ts";

function WithdrawalSteps({
  operation,
  custody,
  confirmations,
}: {
  operation: WalletOperation;
  custody: CustodyWithdrawal | undefined;
  confirmations: number;
}) {
  const steps = custody === undefined ? withdrawalSteps(operation, confirmations) : custodySteps(custody);
  return (
    <ol className="withdrawal-steps" aria-label={`Steps of withdrawal #${operation.order_id}`}>
      {steps.map((step) => (
        <li key={step.name} className={`step ${step.state}`} data-state={step.state}>
          <span className="step-name">{step.name}</span>
          {step.detail !== "" && <span className="step-detail">{step.detail}</span>}
        </li>
      ))}
    </ol>
  );
}

const STATUS_WORDS: Record<WalletOperation["status"], string> = {
  Processing: "on its way",
  Paid: "settled",
  Canceled: "canceled",
};

/** Custody's step in a word or two for the badge. */
const CUSTODY_WORDS: Record<CustodyStep, string> = {
  requested: "requested",
  held: "requested",
  awaitingApproval: "awaiting approval",
  approved: "approved",
  signing: "signing",
  signed: "signed",
  broadcast: "broadcast",
  confirmed: "confirmed",
  settled: "settled",
  rejected: "rejected",
  failed: "failed",
  stuck: "held for an operator",
};

function badgeKind(
  operation: WalletOperation,
  custody: CustodyWithdrawal | undefined,
): "ok" | "bad" | "wait" {
  if (custody !== undefined)
    return custody.step === "settled"
      ? "ok"
      : custody.step === "rejected" || custody.step === "failed" || custody.step === "stuck"
        ? "bad"
        : "wait";
  return operation.status === "Paid" ? "ok" : operation.status === "Canceled" ? "bad" : "wait";
}

export function OperationsList({
  operations,
  withdrawals,
  terms,
  following,
}: {
  operations: readonly WalletOperation[];
  /** Custody's view of the withdrawals, by id (wallet_operations' order_id). */
  withdrawals: ReadonlyMap<number, CustodyWithdrawal>;
  terms: readonly CurrencyTerms[];
  following: boolean;
}) {
  const confirmationsOf = (currency: string) =>
    terms.find((entry) => entry.currency === currency)?.confirmations ?? 0;
  return (
    <section className="panel wallet-history" aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      {following && <p className="muted">Following withdrawals on their way…</p>}
      {operations.length === 0 ? (
        <p className="empty">No deposits or withdrawals yet.</p>
      ) : (
        <ul className="operations">
          {operations.map((op) => {
            const custody = op.type === "withdraw" ? withdrawals.get(op.order_id) : undefined;
            return (
              <li
                key={`${op.type}-${op.operation_id}`}
                data-kind={op.type}
                data-order-id={op.order_id}
                data-status={op.status}
                data-step={custody?.step ?? ""}
              >
                <div className="operation-line">
                  <strong>{op.type === "deposit" ? "Deposit" : `Withdrawal #${op.order_id}`}</strong>
                  <span className="num">
                    {op.amount} {op.currency}
                  </span>
                  {op.type === "withdraw" && (
                    <span className="muted">
                      fee {op.commission}, to {op.crypto_address}
                    </span>
                  )}
                  <span className={`badge ${badgeKind(op, custody)}`}>
                    {custody === undefined
                      ? (STATUS_WORDS[op.status] ?? op.status)
                      : CUSTODY_WORDS[custody.step]}
                  </span>
                  <span className="muted">{new Date(op.created * 1000).toLocaleString()}</span>
                </div>
                {op.type === "withdraw" && (
                  <WithdrawalSteps
                    operation={op}
                    custody={custody}
                    confirmations={confirmationsOf(op.currency)}
                  />
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

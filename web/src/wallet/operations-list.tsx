// Deposits and withdrawals, newest first (the last OPERATIONS_SHOWN); a withdrawal shows its steps.
import type { CurrencyTerms, WalletOperation } from "./wallet-api.ts";
import { withdrawalSteps } from "./withdrawal-steps.ts";

function WithdrawalSteps({
  operation,
  confirmations,
}: {
  operation: WalletOperation;
  confirmations: number;
}) {
  return (
    <ol className="withdrawal-steps" aria-label={`Steps of withdrawal #${operation.order_id}`}>
      {withdrawalSteps(operation, confirmations).map((step) => (
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

export function OperationsList({
  operations,
  terms,
  following,
}: {
  operations: readonly WalletOperation[];
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
          {operations.map((op) => (
            <li
              key={`${op.type}-${op.operation_id}`}
              data-kind={op.type}
              data-order-id={op.order_id}
              data-status={op.status}
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
                <span
                  className={`badge ${op.status === "Paid" ? "ok" : op.status === "Canceled" ? "bad" : "wait"}`}
                >
                  {STATUS_WORDS[op.status] ?? op.status}
                </span>
                <span className="muted">{new Date(op.created * 1000).toLocaleString()}</span>
              </div>
              {op.type === "withdraw" && (
                <WithdrawalSteps operation={op} confirmations={confirmationsOf(op.currency)} />
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

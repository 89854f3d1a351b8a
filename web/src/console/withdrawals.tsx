// The withdrawal review queue: withdrawals at or above their currency's approval threshold wait
// for two distinct approvers (custody counts them; one operator approving twice is refused by it).
import { type FormEvent, useState } from "react";
import {
  may,
  type Operator,
  operatorGet,
  operatorPost,
  query,
  type WithdrawalView,
} from "./console-client.ts";
import {
  Field,
  LoadError,
  NotForRole,
  OutcomeLine,
  Panel,
  Short,
  timeText,
  useAction,
  useLoad,
} from "./ui.tsx";

/** The queue shown; custody lists at most 1,000 (MAX_WITHDRAWAL_LIST). */
const QUEUE_LIMIT = 100;
const RECENT_LIMIT = 25;
const REFRESH_MS = 2_000;

function rejectedText(view: WithdrawalView): string {
  return `Withdrawal ${view.withdrawalId} rejected (${view.step}): the hold is released.`;
}

function approvedText(view: WithdrawalView): string {
  const count = `${view.approvals.length} of ${view.approvalsNeeded}`;
  return view.step === "awaitingApproval"
    ? `Withdrawal ${view.withdrawalId} approved: ${count}; it waits for another approver.`
    : `Withdrawal ${view.withdrawalId} approved: ${count}; it proceeds (${view.step}).`;
}

function RejectForm({
  withdrawal,
  onDone,
}: {
  withdrawal: WithdrawalView;
  onDone: (message: string) => void;
}) {
  const [reason, setReason] = useState("");
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await outcome.run(
      () =>
        operatorPost<WithdrawalView>(`/withdrawals/${withdrawal.withdrawalId}/reject`, {
          reason: reason.trim(),
        }),
      rejectedText,
    );
    if (result !== undefined) onDone(rejectedText(result));
  };
  return (
    <form
      className="console-inline"
      onSubmit={submit}
      aria-label={`Reject withdrawal ${withdrawal.withdrawalId}`}
    >
      <Field label="Reason for rejecting" value={reason} onChange={setReason} required />
      <button type="submit" className="danger" disabled={outcome.busy || reason.trim() === ""}>
        Reject
      </button>
      <OutcomeLine outcome={outcome} />
    </form>
  );
}

function QueueRow({
  withdrawal,
  canApprove,
  canReject,
  onChanged,
}: {
  withdrawal: WithdrawalView;
  canApprove: boolean;
  canReject: boolean;
  /** After a change, with what came of it (the row may leave the queue, its own message with it). */
  onChanged: (message: string) => void;
}) {
  const outcome = useAction();
  const [rejecting, setRejecting] = useState(false);
  const approve = async () => {
    const result = await outcome.run(
      () => operatorPost<WithdrawalView>(`/withdrawals/${withdrawal.withdrawalId}/approve`),
      approvedText,
    );
    if (result !== undefined) onChanged(approvedText(result));
  };
  return (
    <li className="console-card" data-withdrawal={withdrawal.withdrawalId}>
      <div className="console-card-head">
        <strong>
          #{withdrawal.withdrawalId} · {withdrawal.amount} {withdrawal.currency}
        </strong>
        <span className="console-badge warn">
          {withdrawal.approvals.length} of {withdrawal.approvalsNeeded} approvals
        </span>
      </div>
      <dl className="console-facts">
        <dt>User</dt>
        <dd>{withdrawal.userId}</dd>
        <dt>To</dt>
        <dd>
          <Short text={withdrawal.address} />
        </dd>
        <dt>Chain</dt>
        <dd>{withdrawal.chain}</dd>
        <dt>Fee</dt>
        <dd className="num">{withdrawal.fee}</dd>
        <dt>Asked</dt>
        <dd>{timeText(withdrawal.requestedMs)}</dd>
        <dt>Approved by</dt>
        <dd>{withdrawal.approvals.length === 0 ? "nobody yet" : withdrawal.approvals.join(", ")}</dd>
      </dl>
      <div className="console-actions">
        {canApprove && (
          <button type="button" onClick={() => void approve()} disabled={outcome.busy}>
            Approve
          </button>
        )}
        {canReject && (
          <button type="button" className="secondary" onClick={() => setRejecting((value) => !value)}>
            {rejecting ? "Keep it" : "Reject…"}
          </button>
        )}
        {!canApprove && !canReject && <NotForRole what="approve or reject withdrawals" />}
      </div>
      {/* A success shows above the queue (the row may leave it); a refusal shows here, by its row. */}
      <OutcomeLine outcome={{ error: outcome.error, done: null }} />
      {rejecting && canReject && <RejectForm withdrawal={withdrawal} onDone={onChanged} />}
    </li>
  );
}

export function WithdrawalsSection({ operator }: { operator: Operator }) {
  const queue = useLoad(
    () =>
      operatorGet<{ withdrawals: WithdrawalView[] }>(
        `/withdrawals${query({ step: "awaitingApproval", limit: QUEUE_LIMIT })}`,
      ),
    "queue",
    REFRESH_MS,
  );
  const recent = useLoad(
    () => operatorGet<{ withdrawals: WithdrawalView[] }>(`/withdrawals${query({ limit: RECENT_LIMIT })}`),
    "recent",
    REFRESH_MS,
  );
  const canApprove = may(operator, "POST", "/withdrawals/:withdrawalId/approve");
  const canReject = may(operator, "POST", "/withdrawals/:withdrawalId/reject");
  const [lastChange, setLastChange] = useState<string | null>(null);
  const changed = (message: string) => {
    setLastChange(message);
    queue.reload();
    recent.reload();
  };
  const waiting = queue.data?.withdrawals ?? [];
  return (
    <div className="console-grid">
      <Panel title="Review queue: waiting for approval" full>
        {lastChange !== null && (
          <p className="console-ok console-last" role="status">
            {lastChange}
          </p>
        )}
        <LoadError error={queue.error} />
        {queue.data !== null && waiting.length === 0 && (
          <p className="empty">No withdrawal is waiting for approval.</p>
        )}
        <ul className="console-cards" aria-label="Withdrawals waiting for approval">
          {waiting.map((withdrawal) => (
            <QueueRow
              key={withdrawal.withdrawalId}
              withdrawal={withdrawal}
              canApprove={canApprove}
              canReject={canReject}
              onChanged={changed}
            />
          ))}
        </ul>
        {waiting.length === QUEUE_LIMIT && (
          <p className="muted">The first {QUEUE_LIMIT} are shown; approve or reject to see the rest.</p>
        )}
      </Panel>
      <Panel title={`Latest ${RECENT_LIMIT} withdrawals`} full>
        <LoadError error={recent.error} />
        <div className="console-scroll">
          <table className="console-table">
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">User</th>
                <th scope="col">Amount</th>
                <th scope="col">Step</th>
                <th scope="col">Approvals</th>
                <th scope="col">Confirmations</th>
                <th scope="col">Asked</th>
              </tr>
            </thead>
            <tbody>
              {(recent.data?.withdrawals ?? []).map((withdrawal) => (
                <tr key={withdrawal.withdrawalId} data-withdrawal={withdrawal.withdrawalId}>
                  <td>{withdrawal.withdrawalId}</td>
                  <td>{withdrawal.userId}</td>
                  <td className="num">
                    {withdrawal.amount} {withdrawal.currency}
                  </td>
                  <td>
                    <span className="console-step">{withdrawal.step}</span>
                    {withdrawal.reason !== null && (
                      <div className="muted console-hint console-reason">{withdrawal.reason}</div>
                    )}
                  </td>
                  <td>
                    {withdrawal.approvalsNeeded === 0
                      ? "not needed"
                      : `${withdrawal.approvals.length} of ${withdrawal.approvalsNeeded}`}
                  </td>
                  <td className="num">{withdrawal.confirmations}</td>
                  <td>{timeText(withdrawal.requestedMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Panel>
    </div>
  );
}

// The chains' breakers: status, trip with a reason (one chain or all; a trip opens an incident and
// its notice reaches every trader's page), resume with a reason. In production mode a resume takes
// two operators: the first one's resume approves it, shown here until a second operator resumes it.
import { type FormEvent, useState } from "react";
import { type BreakerView, may, type Operator, operatorGet, operatorPost } from "./console-client.ts";
import {
  Choice,
  Field,
  LoadError,
  NotForRole,
  OutcomeLine,
  Panel,
  timeText,
  useAction,
  useLoad,
  wholeNumber,
} from "./ui.tsx";

const REFRESH_MS = 2_000;
const ALL_CHAINS = "*all";

/** A resume one operator approved, waiting for a second (src/operator/breaker-actions.ts). */
interface PendingResume {
  chain: string;
  reason: string;
  approvers: string[];
  approvalsNeeded: number;
  approvedAtMs: number;
  expiresAtMs: number;
}
type BreakerWithApproval = BreakerView & { pendingResume?: PendingResume };

function TripForm({ breakers, onDone }: { breakers: BreakerView[]; onDone: () => void }) {
  const [chain, setChain] = useState(breakers[0]?.chain ?? ALL_CHAINS);
  const [reason, setReason] = useState("");
  const [incident, setIncident] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const incidentId = incident.trim() === "" ? undefined : wholeNumber(incident);
    if (incidentId === null) {
      setProblem("The incident is a whole number (or leave it empty: the trip opens one).");
      return;
    }
    const result = await outcome.run(
      () =>
        operatorPost<{ breakers: BreakerView[] }>("/breakers/trip", {
          ...(chain === ALL_CHAINS ? { all: true } : { chain }),
          reason: reason.trim(),
          ...(incidentId === undefined ? {} : { incident: incidentId }),
        }),
      (answer) =>
        `Tripped: ${answer.breakers.map((breaker) => breaker.chain).join(", ")}. Signing, withdrawals and sweeps are paused.`,
    );
    if (result !== undefined) {
      setReason("");
      onDone();
    }
  };
  return (
    <form className="console-form" onSubmit={submit} aria-label="Trip a breaker">
      <Choice
        label="Chain to trip"
        value={chain}
        options={[
          ...breakers.map((breaker) => ({ value: breaker.chain, label: breaker.chain })),
          { value: ALL_CHAINS, label: "every chain" },
        ]}
        onChange={setChain}
      />
      <Field label="Reason for the trip" value={reason} onChange={setReason} required maxLength={500} />
      <Field
        label="Incident (optional)"
        value={incident}
        onChange={setIncident}
        inputMode="numeric"
        maxLength={15}
        hint="An open incident to attach it to; empty opens a new one."
      />
      <button type="submit" className="danger" disabled={outcome.busy}>
        Trip breaker
      </button>
      {problem !== null && (
        <p className="console-error" role="alert">
          {problem}
        </p>
      )}
      <OutcomeLine outcome={outcome} />
    </form>
  );
}

function ResumeForm({
  breaker,
  operator,
  onDone,
}: {
  breaker: BreakerWithApproval;
  operator: Operator;
  onDone: () => void;
}) {
  const [reason, setReason] = useState("");
  const outcome = useAction();
  const pending = breaker.pendingResume;
  // The console counts each operator as `console:<email>` (src/operator/console/console-api.ts).
  const approvedByMe = pending?.approvers.includes(`console:${operator.email}`) === true;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await outcome.run(
      () =>
        operatorPost<{ breaker: BreakerView; pendingResume?: PendingResume }>("/breakers/resume", {
          chain: breaker.chain,
          reason: reason.trim(),
        }),
      (answer) =>
        answer.pendingResume === undefined
          ? `Resumed ${answer.breaker.chain}: the breaker is ${answer.breaker.state}.`
          : `Resume of ${answer.breaker.chain} approved: a second operator resumes it (before ${timeText(answer.pendingResume.expiresAtMs)}).`,
    );
    if (result !== undefined) {
      setReason("");
      onDone();
    }
  };
  return (
    <form className="console-inline" onSubmit={submit} aria-label={`Resume ${breaker.chain}`}>
      {pending !== undefined && (
        <p className="console-ok" role="status">
          Resume approved by {pending.approvers.join(", ")} ("{pending.reason}"), waiting for a second
          operator until {timeText(pending.expiresAtMs)}.
          {approvedByMe && " You approved it: another operator resumes it."}
        </p>
      )}
      <Field
        label={`Reason for resuming ${breaker.chain}`}
        value={reason}
        onChange={setReason}
        required
        maxLength={500}
      />
      <button type="submit" disabled={outcome.busy || approvedByMe}>
        {pending === undefined ? "Resume" : "Approve as second operator and resume"}
      </button>
      <OutcomeLine outcome={outcome} />
    </form>
  );
}

export function BreakerSection({ operator }: { operator: Operator }) {
  const breakers = useLoad(
    () => operatorGet<{ breakers: BreakerWithApproval[] }>("/breakers"),
    "breakers",
    REFRESH_MS,
  );
  const list = breakers.data?.breakers ?? [];
  const canTrip = may(operator, "POST", "/breakers/trip");
  const canResume = may(operator, "POST", "/breakers/resume");
  return (
    <div className="console-grid">
      <Panel title="Breakers" wide>
        <LoadError error={breakers.error} />
        {breakers.data !== null && list.length === 0 && <p className="empty">No chain has a breaker.</p>}
        <ul className="console-cards" aria-label="Breakers">
          {list.map((breaker) => (
            <li key={breaker.chain} className="console-card" data-chain={breaker.chain}>
              <div className="console-card-head">
                <strong>{breaker.chain}</strong>
                <span className={breaker.state === "tripped" ? "console-badge bad" : "console-badge good"}>
                  {breaker.state}
                </span>
              </div>
              {breaker.state === "tripped" && (
                <>
                  <dl className="console-facts">
                    <dt>Reason</dt>
                    <dd>{breaker.reason ?? "—"}</dd>
                    <dt>Cause</dt>
                    <dd>{breaker.cause ?? "—"}</dd>
                    <dt>Tripped by</dt>
                    <dd>{breaker.trippedBy ?? "—"}</dd>
                    <dt>At</dt>
                    <dd>{timeText(breaker.trippedAtMs)}</dd>
                    <dt>Incident</dt>
                    <dd>{breaker.incidentId ?? "—"}</dd>
                  </dl>
                  {canResume ? (
                    <ResumeForm breaker={breaker} operator={operator} onDone={breakers.reload} />
                  ) : (
                    <NotForRole what="resume breakers" />
                  )}
                </>
              )}
            </li>
          ))}
        </ul>
      </Panel>
      <Panel title="Trip a breaker">
        {canTrip ? (
          <TripForm key={list.length} breakers={list} onDone={breakers.reload} />
        ) : (
          <NotForRole what="trip breakers" />
        )}
      </Panel>
    </div>
  );
}

// Incidents: the list, one incident's timeline, a note (a notice to every trader's page, the status
// page and the webhooks), a loss cover (from the insurance fund or operator equity), resolve.
import { type FormEvent, useState } from "react";
import {
  type CoverAnswer,
  type IncidentSummary,
  type IncidentView,
  may,
  type Operator,
  operatorGet,
  operatorPost,
  query,
} from "./console-client.ts";
import {
  Choice,
  Field,
  isDecimalText,
  LoadError,
  NotForRole,
  OutcomeLine,
  Panel,
  timeText,
  useAction,
  useLoad,
} from "./ui.tsx";

/** Incidents listed (the API's bound is 1,000). */
const LIST_LIMIT = 50;
const REFRESH_MS = 3_000;
/** Timeline entries shown, newest last (an incident's timeline is bounded by the service too). */
const MAX_TIMELINE_SHOWN = 200;

function NoteForm({ incidentId, onDone }: { incidentId: number; onDone: () => void }) {
  const [message, setMessage] = useState("");
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await outcome.run(
      () => operatorPost<IncidentView>(`/incidents/${incidentId}/notes`, { message: message.trim() }),
      () => "Note posted: traders see it as a notice.",
    );
    if (result !== undefined) {
      setMessage("");
      onDone();
    }
  };
  return (
    <form className="console-form" onSubmit={submit} aria-label="Add a note">
      <h3 className="console-subhead">Post a note</h3>
      <Field label="Note to traders" value={message} onChange={setMessage} required maxLength={1000} />
      <button type="submit" disabled={outcome.busy}>
        Post note
      </button>
      <OutcomeLine outcome={outcome} />
    </form>
  );
}

function CoverForm({ incidentId, onDone }: { incidentId: number; onDone: () => void }) {
  const [asset, setAsset] = useState("");
  const [amount, setAmount] = useState("");
  const [from, setFrom] = useState("insurance");
  const [problem, setProblem] = useState<string | null>(null);
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    if (!isDecimalText(amount)) {
      setProblem("The amount is a positive decimal number, like 0.5.");
      return;
    }
    const result = await outcome.run(
      () =>
        operatorPost<CoverAnswer>(`/incidents/${incidentId}/cover`, {
          asset: asset.trim().toUpperCase(),
          amount: amount.trim(),
          from,
        }),
      (answer) =>
        `Covered ${answer.amount} ${answer.asset} from ${answer.source}; hot on the books now ${answer.hotOnBooks}.`,
    );
    if (result !== undefined) {
      setAmount("");
      onDone();
    }
  };
  return (
    <form className="console-form" onSubmit={submit} aria-label="Cover a loss">
      <h3 className="console-subhead">Cover a loss</h3>
      <Field label="Asset" value={asset} onChange={setAsset} required maxLength={16} placeholder="BTC" />
      <Field
        label="Amount lost"
        value={amount}
        onChange={setAmount}
        required
        maxLength={40}
        inputMode="decimal"
      />
      <Choice
        label="Covered from"
        value={from}
        options={[
          { value: "insurance", label: "the insurance fund" },
          { value: "equity", label: "operator equity" },
        ]}
        onChange={setFrom}
      />
      <button type="submit" className="danger" disabled={outcome.busy}>
        Cover loss
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

function ResolveForm({ incidentId, onDone }: { incidentId: number; onDone: () => void }) {
  const [reason, setReason] = useState("");
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await outcome.run(
      () => operatorPost<IncidentView>(`/incidents/${incidentId}/resolve`, { reason: reason.trim() }),
      (view) => `Incident ${view.incidentId} is ${view.status}.`,
    );
    if (result !== undefined) {
      setReason("");
      onDone();
    }
  };
  return (
    <form className="console-form" onSubmit={submit} aria-label="Resolve the incident">
      <h3 className="console-subhead">Resolve</h3>
      <Field label="Resolution" value={reason} onChange={setReason} required maxLength={1000} />
      <button type="submit" disabled={outcome.busy}>
        Resolve
      </button>
      <OutcomeLine outcome={outcome} />
    </form>
  );
}

function IncidentDetail({
  incidentId,
  operator,
  onChanged,
}: {
  incidentId: number;
  operator: Operator;
  onChanged: () => void;
}) {
  const incident = useLoad(
    () => operatorGet<IncidentView>(`/incidents/${incidentId}`),
    String(incidentId),
    REFRESH_MS,
  );
  const changed = () => {
    incident.reload();
    onChanged();
  };
  const view = incident.data;
  const open = view?.status === "open";
  const timeline = view?.timeline.slice(-MAX_TIMELINE_SHOWN) ?? [];
  return (
    <Panel title={view === null ? `Incident ${incidentId}` : `Incident ${incidentId}: ${view.title}`} wide>
      <LoadError error={incident.error} />
      {view !== null && (
        <>
          <p className="muted">
            {view.kind}
            {view.chain === null ? "" : ` on ${view.chain}`} · {view.status} · opened{" "}
            {timeText(view.openedAtMs)}
            {view.resolvedAtMs === null ? "" : ` · resolved ${timeText(view.resolvedAtMs)}`}
          </p>
          <ol className="console-timeline" aria-label="Timeline">
            {timeline.map((entry) => (
              <li key={entry.entry}>
                <span className="muted">{timeText(entry.atMs)}</span> <strong>{entry.type}</strong>{" "}
                <span className="muted">by {entry.actor}</span>
                <div>{entry.message}</div>
              </li>
            ))}
          </ol>
          {open && (
            <div className="console-subgrid">
              {may(operator, "POST", "/incidents/:incidentId/notes") ? (
                <NoteForm incidentId={incidentId} onDone={changed} />
              ) : (
                <NotForRole what="post notes" />
              )}
              {may(operator, "POST", "/incidents/:incidentId/cover") ? (
                <CoverForm incidentId={incidentId} onDone={changed} />
              ) : (
                <NotForRole what="cover losses" />
              )}
              {may(operator, "POST", "/incidents/:incidentId/resolve") ? (
                <ResolveForm incidentId={incidentId} onDone={changed} />
              ) : (
                <NotForRole what="resolve incidents" />
              )}
            </div>
          )}
        </>
      )}
    </Panel>
  );
}

export function IncidentsSection({ operator }: { operator: Operator }) {
  const [all, setAll] = useState(true);
  const [chosen, setChosen] = useState<number | null>(null);
  const list = useLoad(
    () =>
      operatorGet<{ incidents: IncidentSummary[] }>(
        `/incidents${query({ all: all ? "true" : undefined, limit: LIST_LIMIT })}`,
      ),
    all ? "all" : "open",
    REFRESH_MS,
  );
  const incidents = list.data?.incidents ?? [];
  return (
    <div className="console-grid">
      <Panel title="Incidents">
        <label className="console-check">
          <input type="checkbox" checked={all} onChange={(event) => setAll(event.target.checked)} /> Show
          resolved ones too
        </label>
        <LoadError error={list.error} />
        {list.data !== null && incidents.length === 0 && <p className="empty">No incident.</p>}
        <ul className="console-list" aria-label="Incidents">
          {incidents.map((incident) => (
            <li key={incident.incidentId}>
              <button
                type="button"
                className={chosen === incident.incidentId ? "console-pick chosen" : "console-pick"}
                aria-pressed={chosen === incident.incidentId}
                onClick={() => setChosen(incident.incidentId)}
              >
                <span className={incident.status === "open" ? "console-badge bad" : "console-badge"}>
                  {incident.status}
                </span>{" "}
                #{incident.incidentId} {incident.title}
                <span className="muted console-hint">
                  {incident.chain ?? "all chains"} · {incident.entries} entries · {incident.latest}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </Panel>
      {chosen === null ? (
        <Panel title="Timeline" wide>
          <p className="empty">Choose an incident to see its timeline.</p>
        </Panel>
      ) : (
        <IncidentDetail key={chosen} incidentId={chosen} operator={operator} onChanged={list.reload} />
      )}
    </div>
  );
}

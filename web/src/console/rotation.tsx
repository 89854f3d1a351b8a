// Address rotation: a new wallet generation for a chain (new hot address, new deposit addresses for
// every user; the retired hot wallet is emptied into the new one). Users are told by a notice.
import { type FormEvent, useState } from "react";
import { type BreakerView, may, type Operator, operatorGet, operatorPost } from "./console-client.ts";
import {
  Choice,
  Field,
  LoadError,
  NotForRole,
  OutcomeLine,
  Panel,
  Short,
  useAction,
  useLoad,
  wholeNumber,
} from "./ui.tsx";

interface RotationView {
  chain: string;
  generation: number;
  hotAddress: string;
  depositAccount: number;
  retiredHotAddresses: string[];
  created: boolean;
  applied: "running" | "nextStart";
  noticeSent: boolean;
  incidentId: number | null;
}

function RotateForm({ chains }: { chains: string[] }) {
  const [chain, setChain] = useState(chains[0] ?? "");
  const [incident, setIncident] = useState("");
  const [sure, setSure] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [result, setResult] = useState<RotationView | null>(null);
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const incidentId = incident.trim() === "" ? undefined : wholeNumber(incident);
    if (incidentId === null) {
      setProblem("The incident is a whole number, or empty.");
      return;
    }
    const view = await outcome.run(
      () =>
        operatorPost<RotationView>("/wallet/rotate", {
          chain,
          ...(incidentId === undefined ? {} : { incidentId }),
        }),
      (answer) =>
        `${answer.chain} rotated to generation ${answer.generation} (${answer.applied === "running" ? "in effect now" : "at the next start"}).`,
    );
    if (view !== undefined) {
      setResult(view);
      setSure(false);
    }
  };
  return (
    <>
      <form className="console-form" onSubmit={submit} aria-label="Rotate deposit addresses">
        <Choice
          label="Chain"
          value={chain}
          options={chains.map((name) => ({ value: name, label: name }))}
          onChange={setChain}
        />
        <Field
          label="Incident (optional)"
          value={incident}
          onChange={setIncident}
          inputMode="numeric"
          maxLength={15}
          hint="The incident whose timeline records the rotation."
        />
        <label className="console-check">
          <input type="checkbox" checked={sure} onChange={(event) => setSure(event.target.checked)} /> Every
          user of {chain || "this chain"} gets a new deposit address; old ones stop being credited after the
          grace period.
        </label>
        <button type="submit" className="danger" disabled={outcome.busy || !sure || chain === ""}>
          Rotate addresses
        </button>
        {problem !== null && (
          <p className="console-error" role="alert">
            {problem}
          </p>
        )}
        <OutcomeLine outcome={outcome} />
      </form>
      {result !== null && (
        <dl className="console-facts">
          <dt>New hot address</dt>
          <dd>
            <Short text={result.hotAddress} />
          </dd>
          <dt>Deposit account</dt>
          <dd>{result.depositAccount}</dd>
          <dt>Retired hot addresses</dt>
          <dd>{result.retiredHotAddresses.length}</dd>
          <dt>Notice to users</dt>
          <dd>{result.noticeSent ? "sent" : "not sent"}</dd>
          <dt>Incident</dt>
          <dd>{result.incidentId ?? "—"}</dd>
        </dl>
      )}
    </>
  );
}

export function RotationSection({ operator }: { operator: Operator }) {
  const breakers = useLoad(() => operatorGet<{ breakers: BreakerView[] }>("/breakers"), "chains");
  const chains = (breakers.data?.breakers ?? []).map((breaker) => breaker.chain);
  return (
    <div className="console-grid">
      <Panel title="Rotate a chain's deposit addresses">
        <LoadError error={breakers.error} />
        {!may(operator, "POST", "/wallet/rotate") ? (
          <NotForRole what="rotate addresses" />
        ) : breakers.data === null ? null : chains.length === 0 ? (
          <p className="empty">Custody runs no chain.</p>
        ) : (
          <RotateForm chains={chains} />
        )}
      </Panel>
    </div>
  );
}

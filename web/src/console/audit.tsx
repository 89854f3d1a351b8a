// The audit log, newest first, a page at a time (optionally one subject), and its verification:
// the hash chain checked row by row by the server (GET /audit/verify).
import { type FormEvent, useState } from "react";
import {
  type AuditListing,
  type AuditVerification,
  type Operator,
  operatorGet,
  query,
} from "./console-client.ts";
import { Field, LoadError, OutcomeLine, Panel, Short, timeText, useAction, useLoad } from "./ui.tsx";

/** Rows per page (the API allows up to its own maximum). */
const PAGE_SIZE = 50;
/** Longest details text shown in a row; the whole is in its title. */
const MAX_DETAILS_SHOWN = 160;

interface AuditPage {
  entries: AuditListing[];
  next: number | null;
}

function detailsText(details: unknown): string {
  const text = JSON.stringify(details) ?? "";
  return text;
}

function Verify() {
  const outcome = useAction();
  const [result, setResult] = useState<AuditVerification | null>(null);
  const verify = async () => {
    setResult(null);
    const answer = await outcome.run(
      () => operatorGet<AuditVerification>("/audit/verify"),
      (verification) =>
        verification.ok
          ? `Verified: ${verification.checkedRows} rows, the hash chain is intact${
              verification.head === null ? "" : ` (head #${verification.head.seq})`
            }.`
          : "",
    );
    if (answer !== undefined) setResult(answer);
  };
  return (
    <div className="console-verify">
      <button type="button" onClick={() => void verify()} disabled={outcome.busy}>
        {outcome.busy ? "Verifying…" : "Verify the audit log"}
      </button>
      {result !== null && !result.ok && (
        <p className="console-error" role="alert">
          Verification FAILED after {result.checkedRows} rows: {result.problem ?? "the hash chain is broken"}.
        </p>
      )}
      <OutcomeLine outcome={{ error: outcome.error, done: outcome.done === "" ? null : outcome.done }} />
      {result?.ok === true && result.head !== null && (
        <p className="muted">
          Head hash <Short text={result.head.hash} keep={12} />
        </p>
      )}
    </div>
  );
}

export function AuditSection(_props: { operator: Operator }) {
  const [typed, setTyped] = useState("");
  const [subject, setSubject] = useState("");
  const [pages, setPages] = useState<(number | undefined)[]>([undefined]);
  const before = pages[pages.length - 1];
  const page = useLoad(
    () => operatorGet<AuditPage>(`/audit/log${query({ before, subject, limit: PAGE_SIZE })}`),
    `${subject}|${before ?? ""}`,
  );
  const entries = page.data?.entries ?? [];
  const next = page.data?.next ?? null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSubject(typed.trim());
    setPages([undefined]);
  };
  return (
    <div className="console-grid">
      <Panel title="Verification">
        <Verify />
      </Panel>
      <Panel title="Audit log" wide>
        <form className="console-inline" aria-label="Search" onSubmit={submit}>
          <Field
            label="Subject"
            value={typed}
            onChange={setTyped}
            placeholder="withdrawal:1"
            maxLength={256}
          />
          <button type="submit">Filter</button>
        </form>
        <LoadError error={page.error} />
        {page.data !== null && entries.length === 0 && <p className="empty">No entry.</p>}
        {entries.length > 0 && (
          <div className="console-scroll">
            <table className="console-table" aria-label="Audit entries">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">At</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((entry) => {
                  const details = detailsText(entry.details);
                  return (
                    <tr key={entry.seq}>
                      <td className="num">{entry.seq}</td>
                      <td>{timeText(entry.tsMs)}</td>
                      <td>{entry.actor}</td>
                      <td>{entry.action}</td>
                      <td>{entry.subject}</td>
                      <td className="mono console-details" title={details}>
                        {details.length > MAX_DETAILS_SHOWN
                          ? `${details.slice(0, MAX_DETAILS_SHOWN)}…`
                          : details}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <div className="console-actions">
          <button
            type="button"
            className="secondary"
            disabled={pages.length < 2}
            onClick={() => setPages((seen) => seen.slice(0, -1))}
          >
            Newer
          </button>
          <button
            type="button"
            className="secondary"
            disabled={next === null}
            onClick={() => next !== null && setPages((seen) => [...seen, next])}
          >
            Older
          </button>
        </div>
      </Panel>
    </div>
  );
}

// Proof of reserves: publish now (every asset or one), and the publications so far.
import { type FormEvent, useState } from "react";
import {
  may,
  type Operator,
  operatorGet,
  operatorPost,
  type PublicationSummary,
  query,
} from "./console-client.ts";
import { Field, LoadError, NotForRole, OutcomeLine, Panel, Short, useAction, useLoad } from "./ui.tsx";

/** Publications listed, newest first (the API's bound is 1,000). */
const LIST_LIMIT = 20;

function PublishForm({ onDone }: { onDone: () => void }) {
  const [asset, setAsset] = useState("");
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const code = asset.trim().toUpperCase();
    const result = await outcome.run(
      () =>
        operatorPost<{ publications: PublicationSummary[] }>(
          "/reserves/publish",
          code === "" ? {} : { asset: code },
        ),
      (answer) =>
        `Published ${answer.publications.length}: ${answer.publications
          .map(
            (publication) =>
              `${publication.asset} ${publication.fullyBacked ? "fully backed" : "NOT fully backed"}`,
          )
          .join(", ")}.`,
    );
    if (result !== undefined) onDone();
  };
  return (
    <form className="console-form" onSubmit={submit} aria-label="Publish reserves">
      <Field label="Asset (empty: every asset)" value={asset} onChange={setAsset} maxLength={16} />
      <button type="submit" disabled={outcome.busy}>
        Publish proof of reserves
      </button>
      <OutcomeLine outcome={outcome} />
    </form>
  );
}

export function ReservesSection({ operator }: { operator: Operator }) {
  const list = useLoad(
    () => operatorGet<{ publications: PublicationSummary[] }>(`/reserves${query({ limit: LIST_LIMIT })}`),
    "reserves",
  );
  const publications = list.data?.publications ?? [];
  return (
    <div className="console-grid">
      <Panel title="Publish">
        {may(operator, "POST", "/reserves/publish") ? (
          <PublishForm onDone={list.reload} />
        ) : (
          <NotForRole what="publish reserves" />
        )}
      </Panel>
      <Panel title={`Latest ${LIST_LIMIT} publications`} wide>
        <LoadError error={list.error} />
        {list.data !== null && publications.length === 0 && <p className="empty">Nothing published yet.</p>}
        {publications.length > 0 && (
          <div className="console-scroll">
            <table className="console-table">
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Asset</th>
                  <th scope="col">At</th>
                  <th scope="col">Users</th>
                  <th scope="col">Liabilities</th>
                  <th scope="col">Reserves</th>
                  <th scope="col">Backed</th>
                  <th scope="col">Root</th>
                </tr>
              </thead>
              <tbody>
                {publications.map((publication) => (
                  <tr key={publication.publicationId}>
                    <td>{publication.publicationId}</td>
                    <th scope="row">{publication.asset}</th>
                    <td>{new Date(publication.createdAt).toLocaleString()}</td>
                    <td className="num">{publication.users}</td>
                    <td className="num">{publication.liabilities}</td>
                    <td className="num">{publication.reserves}</td>
                    <td>
                      <span className={publication.fullyBacked ? "console-badge good" : "console-badge bad"}>
                        {publication.fullyBacked ? "yes" : "no"}
                      </span>
                    </td>
                    <td>
                      <Short text={publication.rootHash} keep={8} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
    </div>
  );
}

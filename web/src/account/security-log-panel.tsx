// The person's own entries of the audit log (logins, 2FA, keys, addresses, withdrawals), newest
// first, the last SECURITY_LOG_SHOWN. `reloadToken` changes after the page changed something.
import { useEffect, useState } from "react";
import {
  errorText,
  fetchSecurityLog,
  SECURITY_LOG_SHOWN,
  type SecurityLogEntry,
  when,
} from "./account-api.ts";

/** Longest details text shown in a cell (the rest is cut: the log is for reading, not a dump). */
const MAX_DETAILS_CHARS = 200;

function detailsText(details: unknown): string {
  if (details === null || details === undefined) return "";
  const text = typeof details === "string" ? details : JSON.stringify(details);
  return text.length > MAX_DETAILS_CHARS ? `${text.slice(0, MAX_DETAILS_CHARS)}…` : text;
}

export function SecurityLogPanel({ reloadToken }: { reloadToken: number }) {
  const [entries, setEntries] = useState<SecurityLogEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: reloadToken is the reason to read again.
  useEffect(() => {
    let live = true;
    fetchSecurityLog()
      .then((list) => live && setEntries(list))
      .catch((failure: unknown) => live && setError(errorText(failure)));
    return () => {
      live = false;
    };
  }, [reloadToken]);

  return (
    <section className="panel" aria-labelledby="security-log-heading">
      <h2 id="security-log-heading">Security log</h2>
      <p className="muted">Your last {SECURITY_LOG_SHOWN} security events, newest first.</p>
      {entries === null ? (
        <p className="empty">Loading…</p>
      ) : entries.length === 0 ? (
        <p className="empty">Nothing yet.</p>
      ) : (
        <table aria-label="Security log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col">By</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry, index) => (
              // Entries have no id in the answer; their order is fixed (newest first) for one answer.
              // biome-ignore lint/suspicious/noArrayIndexKey: see above.
              <tr key={index} data-action={entry.action}>
                <td>{when(entry.atMs)}</td>
                <td>{entry.action}</td>
                <td>{entry.actor ?? ""}</td>
                <td className="details">{detailsText(entry.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}

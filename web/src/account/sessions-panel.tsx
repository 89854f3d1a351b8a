// The person's live sessions (this one marked) with revoke; revoking this one signs out here.
import { useCallback, useEffect, useState } from "react";
import { refreshSession } from "../session.ts";
import { errorText, fetchSessions, revokeSession, type SessionView, when } from "./account-api.ts";

export function SessionsPanel({ onChanged }: { onChanged: () => void }) {
  const [sessions, setSessions] = useState<SessionView[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      setSessions(await fetchSessions());
    } catch (failure) {
      setError(errorText(failure));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);

  const revoke = async (session: SessionView) => {
    setError(null);
    try {
      const answer = await revokeSession(session.id);
      if (answer.current) {
        await refreshSession();
        return;
      }
      await reload();
      onChanged();
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  return (
    <section className="panel" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Sessions</h2>
      {sessions === null ? (
        <p className="empty">Loading…</p>
      ) : (
        <table aria-label="Sessions">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Last seen</th>
              <th scope="col">From</th>
              <th scope="col">Browser</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((session) => (
              <tr key={session.id} data-current={session.current}>
                <td>
                  {when(session.createdMs)} {session.current && <span className="badge ok">this one</span>}
                  {session.secondFactor && <span className="badge">2FA</span>}
                </td>
                <td>{when(session.lastSeenMs)}</td>
                <td>{session.clientIp}</td>
                <td className="user-agent">{session.userAgent}</td>
                <td>
                  <button type="button" onClick={() => revoke(session)}>
                    {session.current ? "Sign out here" : "Revoke"}
                  </button>
                </td>
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

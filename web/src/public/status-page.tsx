import { useEffect, useState } from "react";
import { publicFeed } from "../api.ts";
import "./public.css";

// The public Status page (issue 9): every component and its state, the open incidents with their
// notices, live. It reads GET /status (src/gateway/http/status.ts: JSON for API clients) every
// STATUS_REFRESH_MS, and at once when an incident notice arrives on the public WebSocket. The
// server-rendered /status.html stays for readers without JavaScript.

/** Between two reads of /status: the server computes its report at most once a second anyway. */
export const STATUS_REFRESH_MS = 5_000;
/**
 * After a notice the report is read at once and once more this much later: the server's report is
 * cached for a second, so the first read may predate the incident the notice is about.
 */
const AFTER_NOTICE_REREAD_MS = 1_200;
/** Longest answer read (the server lists at most 20 incidents of 20 notices each). */
const MAX_STATUS_BYTES = 1024 * 1024;
/** Items drawn per list, whatever the server sends. */
const MAX_DRAWN = 50;

type ComponentState = "operational" | "degraded" | "halted" | "down";

interface StatusComponent {
  id: string;
  name: string;
  status: ComponentState;
  message: string;
}

interface StatusIncident {
  incidentId: number;
  kind: string;
  chain: string | null;
  title: string;
  status: "open" | "resolved";
  openedAtMs: number;
  notices: { kind: string; message: string; atMs: number }[];
}

interface StatusReport {
  status: ComponentState;
  updatedAtMs: number;
  components: StatusComponent[];
  incidents: StatusIncident[];
  notices: { message: string; kind: string; chain: string | null; atMs: number; incidentId: number | null }[];
}

async function fetchStatus(): Promise<StatusReport> {
  const response = await fetch("/status", { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`the status could not be read (HTTP ${response.status})`);
  const text = await response.text();
  if (text.length > MAX_STATUS_BYTES) throw new Error("the status answer is too large");
  const report = JSON.parse(text) as StatusReport;
  if (!Array.isArray(report.components) || !Array.isArray(report.incidents))
    throw new Error("the status answer is not a status report");
  return report;
}

function time(ms: number): string {
  return new Date(ms).toLocaleString();
}

function Badge({ state }: { state: ComponentState }) {
  return <span className={`state-badge state-${state}`}>{state}</span>;
}

export function StatusPage() {
  const [report, setReport] = useState<StatusReport | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    let inFlight = false;
    let again = false;
    const timers = new Set<ReturnType<typeof setTimeout>>();
    // One read at a time; a read asked for meanwhile runs once right after (never a pile-up).
    const read = async (): Promise<void> => {
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      try {
        const next = await fetchStatus();
        if (!stopped) {
          setReport(next);
          setError(null);
        }
      } catch (failure) {
        if (!stopped) setError(failure instanceof Error ? failure.message : String(failure));
      } finally {
        inFlight = false;
        if (again && !stopped) {
          again = false;
          void read();
        }
      }
    };
    const later = (delayMs: number) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        void read();
      }, delayMs);
      timers.add(timer);
    };
    void read();
    const interval = setInterval(() => void read(), STATUS_REFRESH_MS);
    const stopNotices = publicFeed().onNotice(() => {
      void read();
      if (timers.size === 0) later(AFTER_NOTICE_REREAD_MS);
    });
    return () => {
      stopped = true;
      clearInterval(interval);
      for (const timer of timers) clearTimeout(timer);
      stopNotices();
    };
  }, []);

  return (
    <div className="public-page status-page">
      <h1>Status {report !== null && <Badge state={report.status} />}</h1>
      <p className="muted">
        {report === null ? "Reading the status…" : `Updated ${time(report.updatedAtMs)}; live.`}{" "}
        <a href="/status.html">Page without JavaScript</a> · <a href="/status">JSON</a>
      </p>
      {error !== null && (
        <p role="alert" className="error-text">
          {error}
        </p>
      )}
      {report !== null && (
        <>
          <section className="panel" aria-labelledby="components-heading">
            <h2 id="components-heading">Components</h2>
            <table className="status-components">
              <tbody>
                {report.components.slice(0, MAX_DRAWN).map((component) => (
                  <tr key={component.id} data-component={component.id}>
                    <th scope="row">{component.name}</th>
                    <td>
                      <Badge state={component.status} />
                    </td>
                    <td className="message">{component.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section className="panel" aria-labelledby="incidents-heading">
            <h2 id="incidents-heading">Open incidents</h2>
            {report.incidents.length === 0 ? (
              <p className="empty">No open incidents.</p>
            ) : (
              report.incidents.slice(0, MAX_DRAWN).map((incident) => (
                <article key={incident.incidentId} className="incident" data-incident={incident.incidentId}>
                  <h3>
                    #{incident.incidentId} {incident.title}
                  </h3>
                  <p className="muted">
                    {incident.kind}
                    {incident.chain === null ? "" : ` on ${incident.chain}`}, opened{" "}
                    {time(incident.openedAtMs)}
                  </p>
                  {incident.notices.length === 0 ? (
                    <p className="muted">No notice yet.</p>
                  ) : (
                    <ol className="timeline">
                      {incident.notices
                        .slice(-MAX_DRAWN)
                        .reverse()
                        .map((notice) => (
                          <li key={`${notice.atMs}-${notice.message}`}>
                            <time dateTime={new Date(notice.atMs).toISOString()}>{time(notice.atMs)}</time>{" "}
                            {notice.message}
                          </li>
                        ))}
                    </ol>
                  )}
                </article>
              ))
            )}
          </section>
          {report.notices.length > 0 && (
            <section className="panel" aria-labelledby="notices-heading">
              <h2 id="notices-heading">Latest notices</h2>
              <ol className="timeline">
                {report.notices.slice(0, MAX_DRAWN).map((notice) => (
                  <li key={`${notice.atMs}-${notice.message}`}>
                    <time dateTime={new Date(notice.atMs).toISOString()}>{time(notice.atMs)}</time>{" "}
                    {notice.message}
                    {notice.incidentId === null ? "" : ` (incident #${notice.incidentId})`}
                  </li>
                ))}
              </ol>
            </section>
          )}
        </>
      )}
    </div>
  );
}

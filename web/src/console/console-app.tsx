// The operator console (/console/<section>, issue 9 §3): its own shell, its own login (operator
// accounts with roles, not users), and one section per operator task. Every action is an operator
// API call (src/operator/plugin.ts, mounted under /api/v1/console/operator/v1): the console never
// does the work itself. Controls a role may not use are hidden or disabled from the permissions
// /me lists, and the server's refusal is shown whenever it refuses anyway.
import "./console.css";
import { type FormEvent, useEffect, useState } from "react";
import { Link } from "../link.tsx";
import { navigate } from "../router.ts";
import { AssetsSection } from "./assets.tsx";
import { AuditSection } from "./audit.tsx";
import { BreakerSection } from "./breaker.tsx";
import {
  ConsoleError,
  consoleGet,
  consolePost,
  messageOf,
  type Operator,
  onSessionEnded,
} from "./console-client.ts";
import { IncidentsSection } from "./incidents.tsx";
import { MarketsSection } from "./markets.tsx";
import { ReservesSection } from "./reserves.tsx";
import { RotationSection } from "./rotation.tsx";
import { Field } from "./ui.tsx";
import { UsersSection } from "./users.tsx";
import { WalletsSection } from "./wallets.tsx";
import { WithdrawalsSection } from "./withdrawals.tsx";

const SECTIONS = [
  { id: "withdrawals", title: "Withdrawals" },
  { id: "wallets", title: "Wallets" },
  { id: "breaker", title: "Breaker" },
  { id: "incidents", title: "Incidents" },
  { id: "users", title: "Users" },
  { id: "markets", title: "Markets" },
  { id: "assets", title: "Assets" },
  { id: "rotation", title: "Address rotation" },
  { id: "reserves", title: "Reserves" },
  { id: "audit", title: "Audit log" },
] as const;
type SectionId = (typeof SECTIONS)[number]["id"];
const DEFAULT_SECTION: SectionId = "withdrawals";

function sectionOf(name: string): SectionId | null {
  if (name === "") return DEFAULT_SECTION;
  return SECTIONS.find((section) => section.id === name)?.id ?? null;
}

type ConsoleSession =
  | { status: "loading" }
  | { status: "anonymous"; note?: string }
  | { status: "signedIn"; operator: Operator };

function isOperator(value: unknown): value is Operator {
  const candidate = value as Partial<Operator> | null;
  return (
    candidate !== null &&
    typeof candidate === "object" &&
    typeof candidate.email === "string" &&
    typeof candidate.role === "string" &&
    Array.isArray(candidate.permissions)
  );
}

function LoginForm({ onSignedIn, note }: { onSignedIn: (operator: Operator) => void; note?: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [totp, setTotp] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const code = totp.trim();
      const answer = await consolePost<unknown>("/login", {
        email: email.trim(),
        password,
        ...(code === "" ? {} : { totp: code }),
      });
      if (!isOperator(answer)) throw new Error("The server's answer to the login was not understood.");
      setPassword("");
      setTotp("");
      onSignedIn(answer);
    } catch (failure) {
      setError(
        failure instanceof ConsoleError && failure.status === 401 && failure.code === "http_error"
          ? "Wrong email, password or 2FA code."
          : messageOf(failure),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="console-login console-panel" onSubmit={submit} aria-labelledby="console-login-title">
      <h2 id="console-login-title">Operator login</h2>
      {note !== undefined && (
        <p className="muted" role="status">
          {note}
        </p>
      )}
      <Field label="Email" type="email" value={email} onChange={setEmail} required autoComplete="username" />
      <Field
        label="Password"
        type="password"
        value={password}
        onChange={setPassword}
        required
        maxLength={1024}
        autoComplete="current-password"
      />
      <Field
        label="2FA code"
        value={totp}
        onChange={setTotp}
        maxLength={16}
        inputMode="numeric"
        autoComplete="one-time-code"
        hint="Only if two-factor authentication is on for your operator account."
      />
      <button type="submit" disabled={busy}>
        {busy ? "Logging in…" : "Log in"}
      </button>
      {error !== null && (
        <p className="console-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function Section({ id, operator }: { id: SectionId; operator: Operator }) {
  switch (id) {
    case "users":
      return <UsersSection operator={operator} />;
    case "markets":
      return <MarketsSection operator={operator} />;
    case "assets":
      return <AssetsSection operator={operator} />;
    case "wallets":
      return <WalletsSection operator={operator} />;
    case "withdrawals":
      return <WithdrawalsSection operator={operator} />;
    case "breaker":
      return <BreakerSection operator={operator} />;
    case "incidents":
      return <IncidentsSection operator={operator} />;
    case "rotation":
      return <RotationSection operator={operator} />;
    case "reserves":
      return <ReservesSection operator={operator} />;
    case "audit":
      return <AuditSection operator={operator} />;
  }
}

export default function ConsoleApp({ section }: { section: string }) {
  const [session, setSession] = useState<ConsoleSession>({ status: "loading" });
  const [logoutError, setLogoutError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    consoleGet<unknown>("/me").then(
      (me) => {
        if (!stopped)
          setSession(isOperator(me) ? { status: "signedIn", operator: me } : { status: "anonymous" });
      },
      (failure: unknown) => {
        if (stopped) return;
        const ended = failure instanceof ConsoleError && failure.status === 401;
        setSession({ status: "anonymous", ...(ended ? {} : { note: messageOf(failure) }) });
      },
    );
    const stop = onSessionEnded(() =>
      setSession({ status: "anonymous", note: "Your console session has ended: log in again." }),
    );
    return () => {
      stopped = true;
      stop();
    };
  }, []);

  useEffect(() => {
    document.title = "Bulwark console";
  }, []);

  const logout = async () => {
    setLogoutError(null);
    try {
      await consolePost("/logout");
      setSession({ status: "anonymous", note: "Logged out." });
    } catch (failure) {
      // Already ended on the server: the login form is the right place anyway.
      if (failure instanceof ConsoleError && failure.status === 401) setSession({ status: "anonymous" });
      else setLogoutError(messageOf(failure));
    }
  };

  const current = sectionOf(section);
  const operator = session.status === "signedIn" ? session.operator : null;

  return (
    <div className="console">
      <header className="console-top">
        <Link to="/console" className="console-brand">
          Bulwark console
        </Link>
        {operator !== null && (
          <div className="console-who">
            <span className="console-email">{operator.email}</span>
            <span className={`console-role role-${operator.role}`}>{operator.role}</span>
            <button type="button" className="console-logout" onClick={() => void logout()}>
              Log out
            </button>
          </div>
        )}
      </header>
      {logoutError !== null && (
        <p className="console-error" role="alert">
          {logoutError}
        </p>
      )}
      {operator !== null && (
        <nav className="console-nav" aria-label="Console sections">
          {SECTIONS.map((entry) => (
            <a
              key={entry.id}
              href={`/console/${entry.id}`}
              aria-current={entry.id === current ? "page" : undefined}
              onClick={(event) => {
                if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
                event.preventDefault();
                navigate(`/console/${entry.id}`);
              }}
            >
              {entry.title}
            </a>
          ))}
        </nav>
      )}
      <main className="console-main">
        {session.status === "loading" && <p className="empty">Loading…</p>}
        {session.status === "anonymous" && (
          <LoginForm
            note={session.note}
            onSignedIn={(signedIn) => setSession({ status: "signedIn", operator: signedIn })}
          />
        )}
        {operator !== null && current === null && (
          <p className="empty">
            No console section “{section}”. <Link to="/console">Back to the console</Link>
          </p>
        )}
        {operator !== null && current !== null && <Section key={current} id={current} operator={operator} />}
      </main>
    </div>
  );
}

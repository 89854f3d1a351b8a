// Log in, sign up and log out (docs/API.md#sessions). After success the person goes back to where
// they came from (`?next=/trade/ETH_USD`, same-site paths only), else to the BTC/USD trade page.
import { type FormEvent, useId, useState } from "react";
import "../trade/trade.css";
import { Link } from "../link.tsx";
import { navigate } from "../router.ts";
import { ApiError, sessionPost } from "../session.ts";

const DEFAULT_NEXT = "/trade/BTC_USD";
const MIN_PASSWORD_LENGTH = 8;

/** Where to go after success: `next` when it is a path of this site, never another origin. */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get("next");
  if (next === null || !next.startsWith("/") || next.startsWith("//") || next.includes("\\"))
    return DEFAULT_NEXT;
  return next;
}

/** The session API's refusals in words for the person (the server's own message otherwise). */
function inWords(failure: unknown): string {
  if (!(failure instanceof ApiError)) return `Could not reach the server: ${String(failure)}`;
  switch (failure.code) {
    case "wrong_credentials":
      return "wrong email or password";
    case "totp_required":
      return "Enter the 6-digit code from your authenticator app";
    case "wrong_totp":
      return "wrong or already used 2FA code: wait for the next code and try again";
    case "throttled":
      return "too many attempts: wait a minute, then try again";
    default:
      return failure.message;
  }
}

function linkWithNext(path: string): string {
  const search = typeof location === "undefined" ? "" : location.search;
  const next = new URLSearchParams(search).get("next");
  return next === null ? path : `${path}?next=${encodeURIComponent(next)}`;
}

export function LoginPage() {
  const id = useId();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [totp, setTotp] = useState("");
  const [needsTotp, setNeedsTotp] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (sending) return;
    setSending(true);
    setError(null);
    try {
      await sessionPost("/login", needsTotp ? { email, password, totp } : { email, password });
      navigate(nextPath(location.search));
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === "totp_required") setNeedsTotp(true);
      setError(inWords(failure));
    } finally {
      setSending(false);
    }
  };

  return (
    <form className="auth-form panel" onSubmit={submit} aria-label="Log in">
      <h1>Log in</h1>
      <label htmlFor={`${id}-email`}>Email</label>
      <input
        id={`${id}-email`}
        type="email"
        autoComplete="username"
        required
        value={email}
        onChange={(event) => setEmail(event.target.value)}
      />
      <label htmlFor={`${id}-password`}>Password</label>
      <input
        id={`${id}-password`}
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={(event) => setPassword(event.target.value)}
      />
      {needsTotp && (
        <>
          <label htmlFor={`${id}-totp`}>2FA code</label>
          <input
            id={`${id}-totp`}
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            value={totp}
            onChange={(event) => setTotp(event.target.value.trim())}
          />
        </>
      )}
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={sending}>
        {sending ? "Logging in…" : "Log in"}
      </button>
      <p className="muted">
        No account yet? <Link to={linkWithNext("/signup")}>Sign up</Link>
      </p>
    </form>
  );
}

export function SignupPage() {
  const id = useId();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (sending) return;
    if (password.length < MIN_PASSWORD_LENGTH) {
      setError(`The password needs at least ${MIN_PASSWORD_LENGTH} characters`);
      return;
    }
    setSending(true);
    setError(null);
    try {
      await sessionPost("/signup", { email, password });
      navigate(nextPath(location.search));
    } catch (failure) {
      setError(inWords(failure));
    } finally {
      setSending(false);
    }
  };

  return (
    <form className="auth-form panel" onSubmit={submit} aria-label="Sign up">
      <h1>Sign up</h1>
      <label htmlFor={`${id}-email`}>Email</label>
      <input
        id={`${id}-email`}
        type="email"
        autoComplete="username"
        required
        value={email}
        onChange={(event) => setEmail(event.target.value)}
      />
      <label htmlFor={`${id}-password`}>Password (at least {MIN_PASSWORD_LENGTH} characters)</label>
      <input
        id={`${id}-password`}
        type="password"
        autoComplete="new-password"
        required
        minLength={MIN_PASSWORD_LENGTH}
        value={password}
        onChange={(event) => setPassword(event.target.value)}
      />
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={sending}>
        {sending ? "Signing up…" : "Sign up"}
      </button>
      <p className="muted">
        Already have an account? <Link to={linkWithNext("/login")}>Log in</Link>
      </p>
    </form>
  );
}

/** Ends this browser's session; the page then shows signed out (the feed closes with it). */
export function LogoutButton() {
  const [error, setError] = useState<string | null>(null);
  const logout = async () => {
    setError(null);
    try {
      await sessionPost("/logout");
    } catch (failure) {
      setError(inWords(failure));
    }
  };
  return (
    <>
      <button type="button" className="logout" onClick={() => void logout()}>
        Log out
      </button>
      {error !== null && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}

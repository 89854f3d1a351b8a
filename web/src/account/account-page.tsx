// The account (issue 9): 2FA on and off, API keys (created with scopes and an IP allow-list, the
// secret shown once; revoked), sessions, the person's security log, and logging out.
import "./account.css";
import { useState } from "react";
import { Link } from "../link.tsx";
import { navigate } from "../router.ts";
import { sessionPost, useSession } from "../session.ts";
import { errorText } from "./account-api.ts";
import { ApiKeysPanel } from "./api-keys-panel.tsx";
import { SecurityLogPanel } from "./security-log-panel.tsx";
import { SessionsPanel } from "./sessions-panel.tsx";
import { TwoFactorPanel } from "./two-factor-panel.tsx";

function LogoutButton() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const logout = async () => {
    setBusy(true);
    setError(null);
    try {
      await sessionPost("/logout");
      navigate("/login");
    } catch (failure) {
      setError(errorText(failure));
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" onClick={logout} disabled={busy}>
        Log out
      </button>
      {error !== null && (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </>
  );
}

export function AccountPage() {
  const session = useSession();
  // Bumped after every change here, so the security log shows it.
  const [changes, setChanges] = useState(0);
  const changed = () => setChanges((count) => count + 1);
  if (session.status === "loading") return <p className="empty">Loading…</p>;
  if (session.status === "anonymous")
    return (
      <p className="empty">
        <Link to="/login">Log in</Link> to manage your account.
      </p>
    );
  const me = session.me;
  return (
    <div className="account-page">
      <div className="account-head">
        <h1>Account</h1>
        <span className="muted" data-testid="account-email">
          {me.email}
        </span>
        <LogoutButton />
      </div>
      <TwoFactorPanel onChanged={changed} />
      <ApiKeysPanel totpEnabled={me.totp === "enabled"} onChanged={changed} />
      <SessionsPanel onChanged={changed} />
      <SecurityLogPanel reloadToken={changes} />
    </div>
  );
}

// Two-factor authentication: enabling shows the secret as a QR code (the otpauth:// URL an
// authenticator app scans) and as text, then asks for a code to confirm it; disabling asks for a
// code. Either is a security change: the server locks withdrawals for a while after it.
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { QrCode } from "../qr-code.tsx";
import { refreshSession } from "../session.ts";
import {
  confirmTwoFactor,
  disableTwoFactor,
  errorText,
  fetchTwoFactor,
  startTwoFactor,
  type TwoFactorEnrolment,
  type TwoFactorState,
  when,
} from "./account-api.ts";

const CODE = /^\d{6}$/;

function CodeForm({
  label,
  submitText,
  busy,
  onSubmit,
}: {
  label: string;
  submitText: string;
  busy: boolean;
  onSubmit: (code: string) => void;
}) {
  const [code, setCode] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit(code.trim());
    setCode("");
  };
  return (
    <form onSubmit={submit} className="account-form">
      <label>
        {label}
        <input
          value={code}
          onChange={(event) => setCode(event.target.value)}
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={6}
        />
      </label>
      <button type="submit" disabled={busy}>
        {submitText}
      </button>
    </form>
  );
}

export function TwoFactorPanel({ onChanged }: { onChanged: () => void }) {
  const [state, setState] = useState<TwoFactorState | null>(null);
  const [enrolment, setEnrolment] = useState<TwoFactorEnrolment | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const reload = useCallback(async () => {
    try {
      setState(await fetchTwoFactor());
    } catch (failure) {
      setError(errorText(failure));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setNote(null);
    try {
      await action();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  const start = () =>
    run(async () => {
      setEnrolment(await startTwoFactor());
    });
  const lockNote = (untilMs: number | null | undefined) =>
    typeof untilMs === "number" ? ` Withdrawals are locked until ${when(untilMs)} (a security change).` : "";
  const confirm = (code: string) =>
    run(async () => {
      if (!CODE.test(code)) throw new Error("Enter the 6-digit code your app shows.");
      const change = await confirmTwoFactor(code);
      setEnrolment(null);
      setNote(`2FA is on.${lockNote(change.withdrawalsLockedUntilMs)}`);
      await Promise.all([reload(), refreshSession()]);
      onChanged();
    });
  const disable = (code: string) =>
    run(async () => {
      if (!CODE.test(code)) throw new Error("Enter the 6-digit code your app shows.");
      const change = await disableTwoFactor(code);
      setNote(`2FA is off.${lockNote(change.withdrawalsLockedUntilMs)}`);
      await Promise.all([reload(), refreshSession()]);
      onChanged();
    });

  return (
    <section className="panel" aria-labelledby="two-factor-heading">
      <h2 id="two-factor-heading">Two-factor authentication (2FA)</h2>
      {state === null ? (
        <p className="empty">Loading…</p>
      ) : state.enabled ? (
        <>
          <p>
            <span className="badge ok" data-testid="two-factor-status">
              on
            </span>{" "}
            Logins, new withdrawal addresses, withdrawals and keys with the withdraw scope ask for a code.
          </p>
          <CodeForm label="Code to turn 2FA off" submitText="Disable 2FA" busy={busy} onSubmit={disable} />
        </>
      ) : enrolment !== null ? (
        <div className="two-factor-enrolment">
          <QrCode text={enrolment.otpauthUrl} label="QR code of your 2FA secret" />
          <div>
            <p>Scan the code with your authenticator app, or type this secret into it:</p>
            <p>
              <code className="secret-text" data-testid="totp-secret">
                {enrolment.secret}
              </code>
            </p>
            <CodeForm
              label="Code from your app"
              submitText="Confirm and turn 2FA on"
              busy={busy}
              onSubmit={confirm}
            />
          </div>
        </div>
      ) : (
        <>
          <p>
            <span className="badge wait" data-testid="two-factor-status">
              off
            </span>{" "}
            {state.pending === true
              ? "Set-up was started but not confirmed: start again for a new secret."
              : "Withdrawals need 2FA."}
          </p>
          <button type="button" onClick={start} disabled={busy}>
            Enable 2FA
          </button>
        </>
      )}
      {note !== null && <p className="ok-text">{note}</p>}
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}

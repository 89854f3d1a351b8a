// A withdrawal: an active address of the book, the amount (the fee is part of it, so what arrives
// is amount − fee, computed exactly), the limits, the 2FA code. Custody checks everything again;
// its refusal is shown in its words and nothing changes.
import { type FormEvent, useEffect, useState } from "react";
import { compareDecimal, isPositiveDecimal, subtractDecimals } from "../decimal.ts";
import { AddressBook } from "./address-book.tsx";
import { type AddressEntry, type CurrencyTerms, errorText, withdraw } from "./wallet-api.ts";

const MAX_AMOUNT_CHARS = 40;

/** What arrives for `amount`, or why it cannot be withdrawn, before asking the server. */
export function withdrawalPreview(
  amount: string,
  terms: CurrencyTerms,
  available: string,
): { receive: string } | { problem: string } | null {
  if (amount === "") return null;
  if (!isPositiveDecimal(amount)) return { problem: "The amount is a positive number like 0.25." };
  if (compareDecimal(amount, terms.withdrawMin) < 0)
    return { problem: `The minimum withdrawal is ${terms.withdrawMin} ${terms.currency}.` };
  if (compareDecimal(terms.withdrawMax, "0") > 0 && compareDecimal(amount, terms.withdrawMax) > 0)
    return { problem: `The largest withdrawal is ${terms.withdrawMax} ${terms.currency}.` };
  if (compareDecimal(amount, available) > 0)
    return { problem: `You have ${available} ${terms.currency} available.` };
  const fee = terms.withdrawFee ?? "0";
  const receive = subtractDecimals(amount, fee);
  if (receive === null || compareDecimal(receive, "0") <= 0)
    return { problem: `The amount must be more than the fee of ${fee} ${terms.currency}.` };
  return { receive };
}

export function WithdrawPanel({
  terms,
  available,
  addresses,
  totpEnabled,
  onAddressesChanged,
  onRequested,
}: {
  terms: CurrencyTerms;
  available: string;
  addresses: readonly AddressEntry[];
  totpEnabled: boolean;
  onAddressesChanged: () => void;
  onRequested: (withdrawalId: number) => void;
}) {
  const usable = addresses.filter((entry) => entry.currency === terms.currency && entry.active);
  const [address, setAddress] = useState("");
  const [amount, setAmount] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // The first usable address is picked until the person picks another.
  useEffect(() => {
    if (!usable.some((entry) => entry.address === address)) setAddress(usable[0]?.address ?? "");
  }, [usable, address]);

  const preview = withdrawalPreview(amount.trim(), terms, available);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setDone(null);
    if (address === "") return setError("Pick an active address of your address book.");
    if (preview === null) return setError("Enter the amount.");
    if ("problem" in preview) return setError(preview.problem);
    if (!totpEnabled) return setError("Withdrawals need 2FA: enable it on the Account page first.");
    if (!/^\d{6}$/.test(code.trim())) return setError("Enter the 6-digit code of your 2FA app.");
    setBusy(true);
    try {
      const answer = await withdraw({
        currency: terms.currency,
        address,
        amount: amount.trim(),
        totp: code.trim(),
      });
      setDone(`Withdrawal #${answer.task_id} requested: follow it below.`);
      setAmount("");
      setCode("");
      onRequested(answer.task_id);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel wallet-withdraw" aria-labelledby="withdraw-heading">
      <h2 id="withdraw-heading">Withdraw {terms.currency}</h2>
      {!terms.withdrawEnabled ? (
        <p className="empty">
          {terms.withdrawComment || `Withdrawals of ${terms.currency} are not available.`}
        </p>
      ) : (
        <>
          <dl className="terms">
            <dt>Fee</dt>
            <dd data-field="fee">
              {terms.withdrawFee ?? "unknown"} {terms.currency}, part of the amount
            </dd>
            <dt>Limits</dt>
            <dd data-field="limits">
              {terms.withdrawMin} to {terms.withdrawMax} {terms.currency} per withdrawal
            </dd>
            <dt>Available</dt>
            <dd>
              {available} {terms.currency}
            </dd>
          </dl>
          <form onSubmit={submit} className="wallet-form" aria-label={`Withdraw ${terms.currency}`}>
            <label>
              To address
              <select value={address} onChange={(event) => setAddress(event.target.value)}>
                {usable.length === 0 && <option value="">No active address yet</option>}
                {usable.map((entry) => (
                  <option key={entry.address} value={entry.address}>
                    {entry.label === "" ? entry.address : `${entry.label}: ${entry.address}`}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Amount ({terms.currency}, fee included)
              <input
                value={amount}
                onChange={(event) => setAmount(event.target.value)}
                inputMode="decimal"
                maxLength={MAX_AMOUNT_CHARS}
                autoComplete="off"
              />
            </label>
            <p className="muted" data-field="receive" aria-live="polite">
              {preview === null
                ? "You receive: enter an amount"
                : "receive" in preview
                  ? `You receive: ${preview.receive} ${terms.currency}`
                  : preview.problem}
            </p>
            <label>
              2FA code
              <input
                value={code}
                onChange={(event) => setCode(event.target.value)}
                inputMode="numeric"
                autoComplete="one-time-code"
                maxLength={6}
              />
            </label>
            <button type="submit" disabled={busy}>
              {busy ? "Requesting…" : "Withdraw"}
            </button>
          </form>
          {done !== null && <p className="ok-text">{done}</p>}
          {error !== null && (
            <p role="alert" className="error">
              {error}
            </p>
          )}
        </>
      )}
      <AddressBook
        currency={terms.currency}
        entries={addresses}
        totpEnabled={totpEnabled}
        onChanged={onAddressesChanged}
      />
    </section>
  );
}

// The withdrawal address book of one currency: its entries (active, or from when) and the form
// that adds one (with the 2FA code when 2FA is on). An address is usable after the exchange's
// activation delay; the page refreshes the list until every entry is active.
import { type FormEvent, useState } from "react";
import { type AddressEntry, addAddress, errorText, removeAddress } from "./wallet-api.ts";

const MAX_LABEL_CHARS = 100;
const MAX_ADDRESS_CHARS = 128;

export function AddressBook({
  currency,
  entries,
  totpEnabled,
  onChanged,
}: {
  currency: string;
  entries: readonly AddressEntry[];
  totpEnabled: boolean;
  onChanged: () => void;
}) {
  const [address, setAddress] = useState("");
  const [label, setLabel] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const mine = entries.filter((entry) => entry.currency === currency);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setNote(null);
    if (address.trim() === "") return setError("Enter the address.");
    if (totpEnabled && !/^\d{6}$/.test(code.trim()))
      return setError("Enter the 6-digit code of your 2FA app.");
    setBusy(true);
    try {
      await addAddress({
        currency,
        address: address.trim(),
        label: label.trim(),
        ...(totpEnabled ? { totp: code.trim() } : {}),
      });
      setNote("Address added. It can be used once it is active.");
      setAddress("");
      setLabel("");
      setCode("");
      onChanged();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (entry: AddressEntry) => {
    setError(null);
    setNote(null);
    try {
      await removeAddress({ currency: entry.currency, address: entry.address });
      onChanged();
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  return (
    <div className="address-book">
      <h3>Address book: {currency}</h3>
      {mine.length === 0 ? (
        <p className="empty">No {currency} address yet: withdrawals go only to addresses added here.</p>
      ) : (
        <ul aria-label={`${currency} withdrawal addresses`}>
          {mine.map((entry) => (
            <li key={entry.address} data-address={entry.address}>
              <strong>{entry.label === "" ? "(no label)" : entry.label}</strong>{" "}
              <span className="address-text">{entry.address}</span>{" "}
              {entry.active ? (
                <span className="badge ok">active</span>
              ) : (
                <span className="badge wait">
                  active from {new Date(entry.activeFromMs).toLocaleString()}
                </span>
              )}{" "}
              <button type="button" onClick={() => remove(entry)} aria-label={`Remove ${entry.address}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={submit} className="wallet-form" aria-label={`Add a ${currency} address`}>
        <label>
          Address
          <input
            value={address}
            onChange={(event) => setAddress(event.target.value)}
            maxLength={MAX_ADDRESS_CHARS}
            autoComplete="off"
            spellCheck={false}
          />
        </label>
        <label>
          Label
          <input
            value={label}
            onChange={(event) => setLabel(event.target.value)}
            maxLength={MAX_LABEL_CHARS}
          />
        </label>
        {totpEnabled && (
          <label>
            2FA code to add it
            <input
              value={code}
              onChange={(event) => setCode(event.target.value)}
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={6}
            />
          </label>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Adding…" : "Add address"}
        </button>
      </form>
      {note !== null && <p className="muted">{note}</p>}
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </div>
  );
}

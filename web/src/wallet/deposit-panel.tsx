// A currency's deposit address (asked for on a click: custody derives it the first time), as text
// with a copy button and as a QR code, the terms (minimum, confirmations), the deposits on their
// way (seen on chain, counting confirmations; the page follows them) and the deposits credited.
import { useState } from "react";
import { QrCode } from "../qr-code.tsx";
import {
  type CurrencyTerms,
  errorText,
  fetchDepositAddress,
  type PendingDeposit,
  type WalletOperation,
} from "./wallet-api.ts";

/** Most deposits listed under the address. */
const DEPOSITS_SHOWN = 10;

export function DepositPanel({
  terms,
  operations,
  pending,
  onAddressShown,
}: {
  terms: CurrencyTerms;
  operations: readonly WalletOperation[];
  /** This currency's deposits seen and not yet credited. */
  pending: readonly PendingDeposit[];
  /** The person may send coins now: the page starts looking for them. */
  onAddressShown: () => void;
}) {
  const [address, setAddress] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);

  const show = async () => {
    setBusy(true);
    setError(null);
    try {
      setAddress(await fetchDepositAddress(terms.currency));
      onAddressShown();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  const copy = async () => {
    if (address === null) return;
    try {
      await navigator.clipboard.writeText(address);
      setCopied(true);
    } catch {
      setError("Copying was refused by the browser: select the address and copy it by hand.");
    }
  };

  const deposits = operations
    .filter((op) => op.type === "deposit" && op.currency === terms.currency)
    .slice(0, DEPOSITS_SHOWN);

  return (
    <section className="panel wallet-deposit" aria-labelledby="deposit-heading">
      <h2 id="deposit-heading">Deposit {terms.currency}</h2>
      {!terms.depositEnabled ? (
        <p className="empty">{terms.depositComment || `Deposits of ${terms.currency} are not available.`}</p>
      ) : (
        <>
          <p className="muted">
            Network {terms.network}. Credited after {terms.confirmations} confirmations; the minimum is{" "}
            {terms.depositMin} {terms.currency}, smaller deposits are not credited.
          </p>
          {address === null ? (
            <button type="button" onClick={show} disabled={busy}>
              {busy ? "Getting your address…" : `Show my ${terms.currency} deposit address`}
            </button>
          ) : (
            <div className="deposit-address">
              <QrCode text={address} label={`QR code of your ${terms.currency} deposit address`} />
              <div>
                <label htmlFor="deposit-address-text">Your {terms.currency} deposit address</label>
                <output id="deposit-address-text" className="address-text" data-testid="deposit-address">
                  {address}
                </output>
                <button type="button" onClick={copy}>
                  {copied ? "Copied" : "Copy address"}
                </button>
              </div>
            </div>
          )}
        </>
      )}
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <h3>Deposits on their way</h3>
      {pending.length === 0 ? (
        <p className="empty">
          None. A deposit shows here once it is in a block, counting its confirmations until credited.
        </p>
      ) : (
        <ul className="deposit-list" aria-label={`${terms.currency} deposits on their way`}>
          {pending.map((deposit) => (
            <li key={`${deposit.txId}:${deposit.outputIndex}`} data-txid={deposit.txId}>
              <span className="num">
                {deposit.amount} {deposit.currency}
              </span>{" "}
              <span className="badge wait" data-field="confirmations">
                {deposit.confirmations} of {deposit.confirmationsNeeded} confirmations
              </span>
              <div className="muted txid">tx {deposit.txId}</div>
            </li>
          ))}
        </ul>
      )}
      <h3>Deposits received</h3>
      {deposits.length === 0 ? (
        <p className="empty">None yet. A deposit shows here once it has its confirmations.</p>
      ) : (
        <ul className="deposit-list" aria-label={`${terms.currency} deposits`}>
          {deposits.map((op) => (
            <li key={op.operation_id}>
              <span className="num">
                {op.amount} {op.currency}
              </span>{" "}
              <span className="muted">{new Date(op.created * 1000).toLocaleString()}</span>{" "}
              <span>credited, {op.extra.confirmations ?? terms.confirmations} confirmations</span>
              <div className="muted txid">tx {op.extra.txid}</div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

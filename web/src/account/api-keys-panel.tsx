// API keys: the live ones (scopes, allowed IPs) with revoke, and a form that creates one with its
// scopes and IP allow-list. The secret is shown once, right after creation, and never again (the
// server keeps it sealed and does not list it).
import { type FormEvent, useCallback, useEffect, useState } from "react";
import {
  API_SCOPES,
  type ApiKeyView,
  type ApiScope,
  type CreatedApiKey,
  createApiKey,
  errorText,
  fetchApiKeys,
  revokeApiKey,
  scopesText,
  when,
} from "./account-api.ts";

/** Most allow-list entries typed (the server's own bound is checked there too). */
const MAX_ALLOW_LIST_ENTRIES = 32;

const SCOPE_WORDS: Record<ApiScope, string> = {
  info: "info: read balances, orders and history",
  trade: "trade: place and cancel orders",
  withdraw: "withdraw: send coins out (needs an IP allow-list and your 2FA code)",
};

/** "1.2.3.4, 10.0.0.0/8\n::1" → ["1.2.3.4", "10.0.0.0/8", "::1"]. */
export function allowListOf(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

export function ApiKeysPanel({ totpEnabled, onChanged }: { totpEnabled: boolean; onChanged: () => void }) {
  const [keys, setKeys] = useState<ApiKeyView[] | null>(null);
  const [scopes, setScopes] = useState<Set<ApiScope>>(new Set(["info"]));
  const [allowList, setAllowList] = useState("");
  const [code, setCode] = useState("");
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [confirmRevoke, setConfirmRevoke] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const reload = useCallback(async () => {
    try {
      setKeys(await fetchApiKeys());
    } catch (failure) {
      setError(errorText(failure));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);

  const toggle = (scope: ApiScope) =>
    setScopes((current) => {
      const next = new Set(current);
      if (next.has(scope)) next.delete(scope);
      else next.add(scope);
      return next;
    });

  // With 2FA on, every new key asks for a code; without it, a withdraw key cannot be made at all.
  const wantsWithdraw = scopes.has("withdraw");
  const wantsCode = totpEnabled || wantsWithdraw;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setCreated(null);
    const chosen = API_SCOPES.filter((scope) => scopes.has(scope));
    if (chosen.length === 0) return setError("Pick at least one scope.");
    const entries = allowListOf(allowList);
    if (entries.length > MAX_ALLOW_LIST_ENTRIES)
      return setError(`At most ${MAX_ALLOW_LIST_ENTRIES} addresses in the allow-list.`);
    if (wantsCode && !totpEnabled)
      return setError("A key with the withdraw scope needs 2FA: enable it first.");
    if (wantsCode && !/^\d{6}$/.test(code.trim())) return setError("Enter the 6-digit code of your 2FA app.");
    setBusy(true);
    try {
      const key = await createApiKey({
        scopes: chosen,
        ipAllowList: entries,
        ...(wantsCode ? { totp: code.trim() } : {}),
      });
      setCreated(key);
      setCode("");
      setAllowList("");
      await reload();
      onChanged();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (keyId: string) => {
    setError(null);
    setConfirmRevoke(null);
    try {
      await revokeApiKey(keyId);
      if (created?.keyId === keyId) setCreated(null);
      await reload();
      onChanged();
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  return (
    <section className="panel" aria-labelledby="api-keys-heading">
      <h2 id="api-keys-heading">API keys</h2>
      {created !== null && (
        <div className="secret-box" role="status" data-testid="new-api-key">
          <p>
            <strong>Copy the secret now: you will not see it again.</strong>
          </p>
          <dl className="key-facts">
            <dt>Key</dt>
            <dd>
              <code data-testid="new-key-id">{created.keyId}</code>
            </dd>
            <dt>Secret</dt>
            <dd>
              <code data-testid="new-key-secret">{created.secret}</code>
            </dd>
            <dt>Scopes</dt>
            <dd>{scopesText(created.scopes)}</dd>
          </dl>
          <button type="button" onClick={() => setCreated(null)}>
            I have copied it
          </button>
        </div>
      )}
      {keys === null ? (
        <p className="empty">Loading…</p>
      ) : keys.length === 0 ? (
        <p className="empty">No API keys.</p>
      ) : (
        <table aria-label="API keys">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Scopes</th>
              <th scope="col">Allowed IPs</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.keyId} data-key-id={key.keyId}>
                <td>
                  <code>{key.keyId}</code>
                </td>
                <td>{scopesText(key.scopes)}</td>
                <td>{key.ipAllowList.length === 0 ? "any" : key.ipAllowList.join(", ")}</td>
                <td>{when(key.createdMs)}</td>
                <td>
                  {confirmRevoke === key.keyId ? (
                    <>
                      <button type="button" onClick={() => revoke(key.keyId)}>
                        Yes, revoke {key.keyId}
                      </button>{" "}
                      <button type="button" onClick={() => setConfirmRevoke(null)}>
                        Keep it
                      </button>
                    </>
                  ) : (
                    <button
                      type="button"
                      onClick={() => setConfirmRevoke(key.keyId)}
                      aria-label={`Revoke ${key.keyId}`}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Create a key</h3>
      <form onSubmit={submit} className="account-form" aria-label="Create an API key">
        <fieldset>
          <legend>Scopes</legend>
          {API_SCOPES.map((scope) => (
            <label key={scope} className="check">
              <input
                type="checkbox"
                checked={scopes.has(scope)}
                onChange={() => toggle(scope)}
                name={scope}
              />
              {SCOPE_WORDS[scope]}
            </label>
          ))}
        </fieldset>
        <label>
          IP allow-list (addresses or ranges, separated by commas or lines; empty: any, except for withdraw)
          <textarea value={allowList} onChange={(event) => setAllowList(event.target.value)} rows={2} />
        </label>
        {wantsCode && (
          <label>
            2FA code for the new key
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
          {busy ? "Creating…" : "Create key"}
        </button>
      </form>
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}

// Users: search by a part of the email, freeze / unfreeze (a freeze also ends their browser
// sessions), balances, and a balance adjustment with its reason (audited).
import { type FormEvent, useState } from "react";
import { may, type Operator, operatorGet, operatorPost, query, type UserListing } from "./console-client.ts";
import {
  Field,
  isDecimalText,
  LoadError,
  NotForRole,
  OutcomeLine,
  Panel,
  timeText,
  useAction,
  useLoad,
} from "./ui.tsx";

/** Users per page (the API allows up to its own maximum). */
const PAGE_SIZE = 25;

interface UsersPage {
  users: UserListing[];
  next: number | null;
}

function AdjustForm({ user, onDone }: { user: UserListing; onDone: () => void }) {
  const [asset, setAsset] = useState(user.balances[0]?.asset ?? "");
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    if (!isDecimalText(amount, true)) {
      setProblem("The amount is a decimal number: positive credits, negative (like -0.5) debits.");
      return;
    }
    const result = await outcome.run(
      () =>
        operatorPost<{ asset: string; amount: string; available: string; held: string }>("/balances/adjust", {
          email: user.email,
          asset: asset.trim().toUpperCase(),
          amount: amount.trim(),
          reason: reason.trim(),
        }),
      (answer) =>
        `Adjusted ${answer.asset} by ${answer.amount}: available ${answer.available}, held ${answer.held}.`,
    );
    if (result !== undefined) {
      setAmount("");
      setReason("");
      onDone();
    }
  };
  return (
    <form className="console-inline" onSubmit={submit} aria-label={`Adjust ${user.email}'s balance`}>
      <Field label="Asset" value={asset} onChange={setAsset} required maxLength={16} />
      <Field
        label="Amount (+ credit, − debit)"
        value={amount}
        onChange={setAmount}
        required
        maxLength={40}
        inputMode="decimal"
      />
      <Field label="Reason" value={reason} onChange={setReason} required />
      <button type="submit" disabled={outcome.busy}>
        Adjust
      </button>
      {problem !== null && (
        <p className="console-error" role="alert">
          {problem}
        </p>
      )}
      <OutcomeLine outcome={outcome} />
    </form>
  );
}

function UserCard({
  user,
  operator,
  onChanged,
}: {
  user: UserListing;
  operator: Operator;
  onChanged: () => void;
}) {
  const outcome = useAction();
  const [adjusting, setAdjusting] = useState(false);
  const frozen = user.status === "frozen";
  const canFreeze = may(operator, "POST", "/users/*");
  const canAdjust = may(operator, "POST", "/balances/adjust");
  const setStatus = async (status: "active" | "frozen") => {
    const result = await outcome.run(
      () =>
        operatorPost<{ userId: number; status: string }>(`/users/${encodeURIComponent(user.email)}/status`, {
          status,
        }),
      (answer) =>
        answer.status === "frozen"
          ? `${user.email} is frozen; their sessions ended.`
          : `${user.email} is active.`,
    );
    if (result !== undefined) onChanged();
  };
  return (
    <li className="console-card" data-user={user.email}>
      <div className="console-card-head">
        <strong>{user.email}</strong>
        <span className={frozen ? "console-badge bad" : "console-badge good"}>{user.status}</span>
        <span className="muted">
          #{user.userId} · since {timeText(user.createdMs)}
        </span>
      </div>
      {user.balances.length === 0 ? (
        <p className="muted">No balance.</p>
      ) : (
        <table className="console-table compact">
          <caption className="visually-hidden">Balances of {user.email}</caption>
          <thead>
            <tr>
              <th scope="col">Asset</th>
              <th scope="col">Available</th>
              <th scope="col">Held</th>
            </tr>
          </thead>
          <tbody>
            {user.balances.map((balance) => (
              <tr key={balance.asset}>
                <th scope="row">{balance.asset}</th>
                <td className="num">{balance.available}</td>
                <td className="num">{balance.held}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="console-actions">
        {canFreeze && (
          <button
            type="button"
            className={frozen ? "secondary" : "danger"}
            disabled={outcome.busy}
            onClick={() => void setStatus(frozen ? "active" : "frozen")}
          >
            {frozen ? "Unfreeze" : "Freeze"}
          </button>
        )}
        {canAdjust && (
          <button type="button" className="secondary" onClick={() => setAdjusting((value) => !value)}>
            {adjusting ? "Close adjustment" : "Adjust balance…"}
          </button>
        )}
        {!canFreeze && !canAdjust && <NotForRole what="freeze users or adjust balances" />}
      </div>
      <OutcomeLine outcome={outcome} />
      {adjusting && canAdjust && <AdjustForm user={user} onDone={onChanged} />}
    </li>
  );
}

export function UsersSection({ operator }: { operator: Operator }) {
  const [typed, setTyped] = useState("");
  const [search, setSearch] = useState("");
  /** `after` of each page seen, so Back returns to the previous one. */
  const [pages, setPages] = useState<(number | undefined)[]>([undefined]);
  const after = pages[pages.length - 1];
  const page = useLoad(
    () => operatorGet<UsersPage>(`/users${query({ search, after, limit: PAGE_SIZE })}`),
    `${search}|${after ?? ""}`,
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSearch(typed.trim());
    setPages([undefined]);
  };
  const users = page.data?.users ?? [];
  const next = page.data?.next ?? null;
  return (
    <div className="console-grid">
      <Panel title="Users" full>
        <form className="console-inline" aria-label="Search" onSubmit={submit}>
          <Field label="Email contains" value={typed} onChange={setTyped} maxLength={254} />
          <button type="submit">Search</button>
        </form>
        <LoadError error={page.error} />
        {page.data !== null && users.length === 0 && <p className="empty">No user matches.</p>}
        <ul className="console-cards" aria-label="Users">
          {users.map((user) => (
            <UserCard key={user.userId} user={user} operator={operator} onChanged={page.reload} />
          ))}
        </ul>
        <div className="console-actions">
          <button
            type="button"
            className="secondary"
            disabled={pages.length < 2}
            onClick={() => setPages((seen) => seen.slice(0, -1))}
          >
            Previous page
          </button>
          <button
            type="button"
            className="secondary"
            disabled={next === null}
            onClick={() => next !== null && setPages((seen) => [...seen, next])}
          >
            Next page
          </button>
        </div>
      </Panel>
    </div>
  );
}

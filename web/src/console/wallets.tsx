// Wallets per chain (custody's status: scanner height, hot / cold / in flight on the chain and on
// the books, hot cap, the signer's budget left, the recent sweeps) and cold → hot refills with
// their approvals.
import { type FormEvent, useState } from "react";
import {
  type ChainCustodyStatus,
  type ColdRefillView,
  may,
  type Operator,
  operatorGet,
  operatorPost,
} from "./console-client.ts";
import {
  Choice,
  Field,
  isDecimalText,
  LoadError,
  NotForRole,
  OutcomeLine,
  Panel,
  Short,
  timeText,
  useAction,
  useLoad,
} from "./ui.tsx";

const REFRESH_MS = 3_000;
/** Refills shown, newest first. */
const MAX_REFILLS_SHOWN = 50;
/** Sweeps shown per chain, newest first (the operator API lists at most 200). */
const SWEEPS_SHOWN_PER_CHAIN = 10;

/** One sweep as GET /custody/sweeps answers it (src/custody/port.ts SweepView). */
interface SweepView {
  sweepId: string;
  chain: string;
  kind: "depositSweep" | "sweepToCold" | "refillGas" | "rotateHot";
  currency: string;
  amount: string;
  fee: string;
  feeAsset: string;
  from: string;
  to: string;
  sourceAddress: string | null;
  toAddress: string;
  step: "signing" | "signed" | "broadcast" | "confirmed" | "recorded" | "failed";
  txId: string | null;
  reason: string | null;
  createdMs: number;
  updatedMs: number;
}

const SWEEP_KIND_TEXT: Record<SweepView["kind"], string> = {
  depositSweep: "deposit → hot",
  sweepToCold: "hot → cold",
  refillGas: "gas top-up (hot → deposit)",
  rotateHot: "old hot → new hot",
};

/** The books' wallet accounts a sweep moves between, as an operator says them. */
const WALLET_ACCOUNT_TEXT: Record<string, string> = {
  walletDepositAddresses: "deposit addresses",
  walletHot: "hot",
  walletCold: "cold",
};

function SweepRows({ chain }: { chain: string }) {
  const sweeps = useLoad(
    () =>
      operatorGet<{ sweeps: SweepView[] }>(
        `/custody/sweeps?chain=${encodeURIComponent(chain)}&limit=${SWEEPS_SHOWN_PER_CHAIN}`,
      ),
    `sweeps:${chain}`,
    REFRESH_MS,
  );
  const shown = sweeps.data?.sweeps ?? [];
  return (
    <section className="console-sweeps" aria-label={`Sweeps on ${chain}`}>
      <h4 className="console-subhead">Recent sweeps</h4>
      <LoadError error={sweeps.error} />
      {sweeps.data !== null && shown.length === 0 && <p className="empty">No sweep yet.</p>}
      {shown.length > 0 && (
        <div className="console-scroll">
          <table className="console-table">
            <caption className="visually-hidden">Recent sweeps on {chain}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Amount</th>
                <th scope="col">Fee</th>
                <th scope="col">From</th>
                <th scope="col">Tx</th>
                <th scope="col">Step</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((sweep) => (
                <tr key={sweep.sweepId} data-sweep={sweep.sweepId}>
                  <td>{SWEEP_KIND_TEXT[sweep.kind]}</td>
                  <td className="num">
                    {sweep.amount} {sweep.currency}
                  </td>
                  <td className="num">
                    {sweep.fee} {sweep.feeAsset}
                  </td>
                  <td>
                    {sweep.sourceAddress === null ? (
                      (WALLET_ACCOUNT_TEXT[sweep.from] ?? sweep.from)
                    ) : (
                      <Short text={sweep.sourceAddress} keep={6} />
                    )}
                  </td>
                  <td>{sweep.txId === null ? "—" : <Short text={sweep.txId} keep={6} />}</td>
                  <td className="console-step" title={sweep.reason ?? undefined}>
                    {sweep.step}
                    {sweep.reason !== null && <span className="muted">: {sweep.reason}</span>}
                  </td>
                  <td>{timeText(sweep.createdMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function orDash(value: string | null): string {
  return value === null ? "—" : value;
}

function ChainCard({ chain }: { chain: ChainCustodyStatus }) {
  const behind =
    chain.scannerHeight !== null && chain.chainHeight !== null
      ? chain.chainHeight - chain.scannerHeight
      : null;
  const tripped = chain.breaker?.state === "tripped";
  return (
    <article className="console-chain" aria-label={`Chain ${chain.chain}`}>
      <header className="console-card-head">
        <h3>{chain.chain}</h3>
        <span className={tripped ? "console-badge bad" : "console-badge good"}>
          breaker {chain.breaker?.state ?? "n/a"}
        </span>
        <span className={chain.signerUp && !chain.signerHalted ? "console-badge good" : "console-badge bad"}>
          signer {chain.signerHalted ? "halted" : chain.signerUp ? "up" : "down"}
        </span>
      </header>
      <dl className="console-facts">
        <dt>Scanner height</dt>
        <dd className="num">
          {chain.scannerHeight ?? "—"}
          {behind !== null && behind > 0 ? ` (${behind} behind ${chain.chainHeight})` : ""}
        </dd>
        <dt>Chain height</dt>
        <dd className="num">{chain.chainHeight ?? "—"}</dd>
        <dt>Pending withdrawals</dt>
        <dd className="num">{chain.pendingWithdrawals}</dd>
        <dt>Wallet</dt>
        <dd>{chain.walletReady ? "initialised" : "not initialised (bulwark wallet init)"}</dd>
        {chain.lastReconciliation !== undefined && (
          <>
            <dt>Last reconciliation</dt>
            <dd>
              {chain.lastReconciliation === null
                ? "none yet"
                : `${chain.lastReconciliation.verdict} (blocks ${chain.lastReconciliation.fromHeight}–${chain.lastReconciliation.toHeight})`}
            </dd>
          </>
        )}
      </dl>
      <div className="console-scroll">
        <table className="console-table">
          <caption className="visually-hidden">Balances on {chain.chain}</caption>
          <thead>
            <tr>
              <th scope="col">Currency</th>
              <th scope="col">Hot (chain / books)</th>
              <th scope="col">Cold (chain / books)</th>
              <th scope="col">In flight (books)</th>
              <th scope="col">Deposit addresses (chain / books)</th>
              <th scope="col">Liabilities</th>
              <th scope="col">Hot cap</th>
              <th scope="col">Signer budget left</th>
            </tr>
          </thead>
          <tbody>
            {chain.balances.map((balance) => (
              <tr key={balance.currency}>
                <th scope="row">{balance.currency}</th>
                <td className="num">
                  {orDash(balance.onChain.hot)} / {balance.onBooks.hot}
                </td>
                <td className="num">
                  {orDash(balance.onChain.cold)} / {balance.onBooks.cold}
                </td>
                <td className="num">{balance.onBooks.inFlight}</td>
                <td className="num">
                  {orDash(balance.onChain.depositAddresses)} / {balance.onBooks.depositAddresses}
                </td>
                <td className="num">{balance.customerLiabilities}</td>
                <td className="num" title={`target ${balance.hotTarget}, floor ${balance.hotFloor}`}>
                  {balance.hotCap}
                </td>
                <td className="num">
                  {balance.signerBudgetLeft.length === 0
                    ? "—"
                    : balance.signerBudgetLeft.map((budget) => (
                        <div key={budget.window}>
                          {budget.left} <span className="muted">/ {budget.window}</span>
                        </div>
                      ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <SweepRows chain={chain.chain} />
    </article>
  );
}

function RefillRow({
  refill,
  canApprove,
  onChanged,
}: {
  refill: ColdRefillView;
  canApprove: boolean;
  onChanged: () => void;
}) {
  const outcome = useAction();
  const waiting = refill.step === "requested" && refill.approvals.length < refill.approvalsNeeded;
  const approve = async () => {
    const result = await outcome.run(
      () => operatorPost<ColdRefillView>(`/cold/refills/${refill.refillId}/approve`),
      (view) =>
        `Refill ${view.refillId}: ${view.approvals.length} of ${view.approvalsNeeded} approvals${
          view.exportableFromMs === null ? "" : `; exportable from ${timeText(view.exportableFromMs)}`
        }.`,
    );
    if (result !== undefined) onChanged();
  };
  return (
    <tr data-refill={refill.refillId}>
      <td>{refill.refillId}</td>
      <td>{refill.chain}</td>
      <td className="num">
        {refill.amount} {refill.currency}
      </td>
      <td className="console-step">{refill.step}</td>
      <td>
        {refill.approvals.length} of {refill.approvalsNeeded}
        {refill.approvals.length > 0 && (
          <span className="muted"> ({refill.approvals.map((approval) => approval.approver).join(", ")})</span>
        )}
      </td>
      <td>
        {refill.requestedBy}: {refill.reason}
      </td>
      <td>
        <Short text={refill.to} keep={6} />
      </td>
      <td>
        {waiting && canApprove && (
          <button type="button" onClick={() => void approve()} disabled={outcome.busy}>
            Approve
          </button>
        )}
        <OutcomeLine outcome={outcome} />
      </td>
    </tr>
  );
}

function RefillRequestForm({ chains, onDone }: { chains: ChainCustodyStatus[]; onDone: () => void }) {
  const [chain, setChain] = useState(chains[0]?.chain ?? "");
  const chosen = chains.find((entry) => entry.chain === chain) ?? chains[0];
  const [currency, setCurrency] = useState("");
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const outcome = useAction();
  const currencyChosen = currency !== "" ? currency : (chosen?.currencies[0] ?? "");
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    if (!isDecimalText(amount)) {
      setProblem("The amount is a positive decimal number, like 1.5.");
      return;
    }
    const result = await outcome.run(
      () =>
        operatorPost<ColdRefillView>("/cold/refills", {
          chain: chosen?.chain ?? chain,
          currency: currencyChosen,
          amount: amount.trim(),
          reason: reason.trim(),
        }),
      (view) => `Refill ${view.refillId} requested: it needs ${view.approvalsNeeded} approvals.`,
    );
    if (result !== undefined) {
      setAmount("");
      setReason("");
      onDone();
    }
  };
  if (chains.length === 0) return null;
  return (
    <form className="console-form" onSubmit={submit} aria-label="Request a cold refill">
      <Choice
        label="Chain"
        value={chosen?.chain ?? ""}
        options={chains.map((entry) => ({ value: entry.chain, label: entry.chain }))}
        onChange={(value) => {
          setChain(value);
          setCurrency("");
        }}
      />
      <Choice
        label="Currency"
        value={currencyChosen}
        options={(chosen?.currencies ?? []).map((code) => ({ value: code, label: code }))}
        onChange={setCurrency}
      />
      <Field label="Amount" value={amount} onChange={setAmount} inputMode="decimal" required maxLength={40} />
      <Field label="Reason" value={reason} onChange={setReason} required />
      <button type="submit" disabled={outcome.busy}>
        Request refill
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

export function WalletsSection({ operator }: { operator: Operator }) {
  const status = useLoad(
    () => operatorGet<{ chains: ChainCustodyStatus[] }>("/custody/status"),
    "status",
    REFRESH_MS,
  );
  const refills = useLoad(
    () => operatorGet<{ refills: ColdRefillView[] }>("/cold/refills"),
    "refills",
    REFRESH_MS,
  );
  const chains = status.data?.chains ?? [];
  // A refill asked for or approved moves cold and hot balances: both show it at once.
  const refillsChanged = () => {
    refills.reload();
    status.reload();
  };
  const canApprove = may(operator, "POST", "/cold/refills/:refillId/approve");
  const canRequest = may(operator, "POST", "/cold/refills");
  const shown = [...(refills.data?.refills ?? [])]
    .sort((a, b) => b.refillId - a.refillId)
    .slice(0, MAX_REFILLS_SHOWN);
  return (
    <div className="console-grid">
      <Panel title="Wallets per chain" full>
        <LoadError error={status.error} />
        {status.data !== null && chains.length === 0 && <p className="empty">Custody runs no chain.</p>}
        <div className="console-chains">
          {chains.map((chain) => (
            <ChainCard key={chain.chain} chain={chain} />
          ))}
        </div>
        <p className="muted console-hint">
          Amounts in whole coins. On chain: what the chain holds at the exchange's addresses; on the books:
          the wallet accounts. Sweeps move deposit addresses to hot and hot above its cap to cold; refills
          move cold to hot.
        </p>
      </Panel>
      <Panel title="Cold refills" full>
        <LoadError error={refills.error} />
        {refills.data !== null && shown.length === 0 && <p className="empty">No cold refill yet.</p>}
        {shown.length > 0 && (
          <div className="console-scroll">
            <table className="console-table">
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Chain</th>
                  <th scope="col">Amount</th>
                  <th scope="col">Step</th>
                  <th scope="col">Approvals</th>
                  <th scope="col">Asked by, why</th>
                  <th scope="col">To</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((refill) => (
                  <RefillRow
                    key={refill.refillId}
                    refill={refill}
                    canApprove={canApprove}
                    onChanged={refillsChanged}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {!canApprove && <NotForRole what="approve cold refills" />}
        <h3 className="console-subhead">Request a refill</h3>
        {canRequest ? (
          <RefillRequestForm chains={chains} onDone={refillsChanged} />
        ) : (
          <NotForRole what="request cold refills" />
        )}
      </Panel>
    </div>
  );
}

// `bulwark custody status|sweeps` and `bulwark withdrawal list|approve|reject`: custody as the operator
// sees it through OperatorActions (custody's port). Custody runs inside the server, so offline
// these answer that it is not running. Entries of commands.ts's table.

import type { ChainCustodyStatus, SweepView, WithdrawalView } from "../custody/port.ts";
import { type Cli, CliError, required } from "./args.ts";
import { type OperatorCommand, table } from "./commands.ts";

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

/** A whole-number flag; the range is OperatorActions' to check (same message offline and remote). */
function wholeNumber(cli: Cli, name: "id" | "limit"): number {
  const text = required(cli, name);
  if (!/^[0-9]{1,15}$/.test(text))
    throw new CliError("invalid", `--${name} must be a whole number, got "${text.slice(0, 40)}"`);
  return Number(text);
}

function withdrawalText(view: WithdrawalView): string {
  const approvals = `${view.approvals.length}/${view.approvalsNeeded} approvals`;
  const reason = view.reason === null ? "" : `: ${view.reason}`;
  return `withdrawal ${view.withdrawalId} of user ${view.userId}: ${view.amount} ${view.currency} → ${view.address} is ${view.step} (${approvals})${reason}`;
}

function statusText(chains: ChainCustodyStatus[]): string {
  if (chains.length === 0) return "(no chains)";
  return chains
    .map((chain) => {
      const head =
        `${chain.chain}: wallet ${chain.walletReady ? "ready" : "not set up"}, signer ` +
        `${chain.signerUp ? (chain.signerHalted ? "halted" : "up") : "down"}, scanner ` +
        `${chain.scannerHeight ?? "-"}/${chain.chainHeight ?? "-"}, ${chain.pendingWithdrawals} pending ` +
        `withdrawal(s)${chain.reorgedAfterCredit > 0 ? `, ${chain.reorgedAfterCredit} deposit(s) reorged after credit` : ""}`;
      const rows = chain.balances.map((b) => ({
        currency: b.currency,
        hotOnChain: b.onChain.hot ?? "?",
        hotOnBooks: b.onBooks.hot,
        cold: b.onChain.cold ?? "?",
        inFlight: b.onBooks.inFlight,
        liabilities: b.customerLiabilities,
        hotCap: b.hotCap,
      }));
      const breaker =
        chain.breaker === undefined
          ? ""
          : chain.breaker.state === "tripped"
            ? `\n  BREAKER TRIPPED (${chain.breaker.cause ?? "-"}) since ${new Date(chain.breaker.trippedAtMs ?? 0).toISOString()} by ${chain.breaker.trippedBy ?? "-"}${chain.breaker.incidentId === null ? "" : `, incident #${chain.breaker.incidentId}`}: ${chain.breaker.reason ?? ""}`
            : "\n  breaker closed";
      const last = chain.lastReconciliation;
      const reconciled =
        last === undefined
          ? ""
          : last === null
            ? "\n  not reconciled yet"
            : `\n  reconciled to block ${last.toHeight}: ${last.verdict}, ${last.unmatched} unmatched outflow(s)` +
              `${last.assets === null ? "" : `, residual ${last.assets.map((asset) => `${asset.residual} ${asset.asset}`).join(", ")}`}` +
              `${chain.unmatchedOutflowsTotal ? ` (${chain.unmatchedOutflowsTotal} unmatched since start)` : ""}`;
      return `${head}${breaker}${reconciled}\n${table(rows)}`;
    })
    .join("\n\n");
}

export const CUSTODY_COMMANDS = {
  "custody status": command({
    needs: "store",
    input: (cli) => ({ chain: cli.values.chain }),
    offline: (actions, _actor, input) => actions.custodyStatus(input),
    remote: (client, input) =>
      client.get<{ chains: ChainCustodyStatus[] }>(
        `/custody/status${input.chain === undefined ? "" : `?chain=${encodeURIComponent(input.chain)}`}`,
      ),
    print: (result) => ({ fields: result, text: statusText(result.chains) }),
  }),
  "custody sweeps": command({
    needs: "store",
    input: (cli) => ({
      chain: cli.values.chain,
      limit: cli.values.limit === undefined ? undefined : wholeNumber(cli, "limit"),
    }),
    offline: (actions, _actor, input) => actions.listSweeps(input),
    remote: (client, input) => {
      const query = new URLSearchParams();
      if (input.chain !== undefined) query.set("chain", input.chain);
      if (input.limit !== undefined) query.set("limit", String(input.limit));
      const text = query.toString();
      return client.get<{ sweeps: SweepView[] }>(`/custody/sweeps${text === "" ? "" : `?${text}`}`);
    },
    print: (result) => ({
      fields: result,
      text:
        result.sweeps.length === 0
          ? "(no sweeps)"
          : table(
              result.sweeps.map((sweep) => ({
                chain: sweep.chain,
                kind: sweep.kind,
                amount: `${sweep.amount} ${sweep.currency}`,
                fee: `${sweep.fee} ${sweep.feeAsset}`,
                from: sweep.sourceAddress ?? sweep.from,
                to: sweep.to,
                step: sweep.reason === null ? sweep.step : `${sweep.step}: ${sweep.reason}`,
                txId: sweep.txId ?? "",
                created: new Date(sweep.createdMs).toISOString(),
              })),
            ),
    }),
  }),
  "withdrawal list": command({
    needs: "store",
    input: (cli) => ({
      email: cli.values.email,
      step: cli.values.step,
      limit: cli.values.limit === undefined ? undefined : wholeNumber(cli, "limit"),
    }),
    offline: (actions, _actor, input) => actions.listWithdrawals(input),
    remote: (client, input) => {
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(input))
        if (value !== undefined) query.set(name, String(value));
      const text = query.toString();
      return client.get<{ withdrawals: WithdrawalView[] }>(`/withdrawals${text === "" ? "" : `?${text}`}`);
    },
    print: (result) => ({
      fields: result,
      text: table(
        result.withdrawals.map((w) => ({
          id: w.withdrawalId,
          user: w.userId,
          currency: w.currency,
          amount: w.amount,
          address: w.address,
          step: w.step,
          approvals: `${w.approvals.length}/${w.approvalsNeeded}`,
          txId: w.txId ?? "",
          requested: new Date(w.requestedMs).toISOString(),
        })),
      ),
    }),
  }),
  "withdrawal request": command({
    needs: "store",
    input: (cli) => ({
      email: required(cli, "email"),
      currency: required(cli, "currency"),
      amount: required(cli, "amount"),
      address: required(cli, "address"),
      code: required(cli, "code"),
    }),
    offline: (actions, actor, input) => actions.requestWithdrawal(actor, input),
    remote: (client, input) => client.post<WithdrawalView>("/withdrawals", input),
    print: (view) => ({ fields: view, text: `requested: ${withdrawalText(view)}` }),
  }),
  "withdrawal approve": command({
    needs: "store",
    input: (cli) => ({ withdrawalId: wholeNumber(cli, "id") }),
    offline: (actions, actor, input) => actions.approveWithdrawal(actor, input),
    remote: (client, input) => client.post<WithdrawalView>(`/withdrawals/${input.withdrawalId}/approve`, {}),
    print: (view) => ({ fields: view, text: `approved: ${withdrawalText(view)}` }),
  }),
  "withdrawal reject": command({
    needs: "store",
    input: (cli) => ({ withdrawalId: wholeNumber(cli, "id"), reason: required(cli, "reason") }),
    offline: (actions, actor, input) => actions.rejectWithdrawal(actor, input),
    remote: (client, input) =>
      client.post<WithdrawalView>(`/withdrawals/${input.withdrawalId}/reject`, { reason: input.reason }),
    print: (view) => ({ fields: view, text: `rejected: ${withdrawalText(view)}` }),
  }),
};

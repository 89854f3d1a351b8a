// `bulwark breaker status|trip|resume` and `bulwark custody reconciliations`: entries of
// commands.ts's table, through OperatorActions.breaker (src/operator/breaker-actions.ts). Custody
// runs inside the server, so these go through its operator socket; with no server they say custody
// is not running (a breaker's state is custody's file, changed only by the running custody).
//
//   breaker status                                   { breakers: BreakerView[] }
//   breaker trip --chain C --reason R [--incident N] { breakers: BreakerView[] }  (the chain)
//   breaker trip --all --reason R [--incident N]     { breakers: BreakerView[] }  (every chain)
//   breaker resume --chain C --reason R [--approver A]...   { breaker: BreakerView }
//   custody reconciliations --chain C [--limit N]    { chain, reconciliations: ReconciliationResult[] }

import type { BreakerView, ReconciliationResult } from "../custody/port.ts";
import { type Cli, CliError, required } from "./args.ts";
import { type OperatorCommand, table } from "./commands.ts";

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

/** A whole-number flag: only the form here; the range is checked by BreakerActions. */
function wholeNumber(cli: Cli, name: "incident" | "limit"): number | undefined {
  const text = cli.values[name];
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(text))
    throw new CliError("invalid", `--${name} must be a whole number, got "${text.slice(0, 40)}"`);
  return Number(text);
}

function iso(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString();
}

/** One line per breaker: `devnet-btc  tripped  unmatchedOutflow  2026-…  system:custody  #1  reason`. */
export function breakersText(breakers: readonly BreakerView[]): string {
  return table(
    breakers.map((breaker) => ({
      chain: breaker.chain,
      state: breaker.state,
      cause: breaker.cause ?? "-",
      since: iso(breaker.trippedAtMs),
      by: breaker.trippedBy ?? "-",
      incident: breaker.incidentId === null ? "-" : `#${breaker.incidentId}`,
      reason: breaker.reason ?? "-",
    })),
  );
}

function reconciliationText(chain: string, results: readonly ReconciliationResult[]): string {
  if (results.length === 0) return `${chain}: no reconciliation yet`;
  const rows = results.map((result) => ({
    blocks:
      result.fromHeight === result.toHeight
        ? `${result.toHeight}`
        : `${result.fromHeight}..${result.toHeight}`,
    at: iso(result.atMs),
    verdict: result.verdict,
    outflows: result.outflows.length,
    unmatched: result.unmatched,
    unverified: result.unverified,
    residuals:
      result.assets === null
        ? "-"
        : result.assets
            .map((asset) => `${asset.asset} ${asset.residual}${asset.break ? " BREAK" : ""}`)
            .join(", "),
    note: result.note ?? "",
  }));
  return `${chain}\n${table(rows)}`;
}

export const BREAKER_COMMANDS = {
  "breaker status": command({
    needs: "store",
    input: () => ({}),
    offline: (actions) => actions.breaker.status(),
    remote: (client) => client.get<{ breakers: BreakerView[] }>("/breakers"),
    print: (result) => ({ fields: result, text: breakersText(result.breakers) }),
  }),
  "breaker trip": command({
    needs: "store",
    input: (cli) => {
      const all = cli.values.all === true;
      const chain = cli.values.chain;
      if (all === (chain !== undefined))
        throw new CliError("usage", 'name one chain (--chain C) or every chain (--all) for "breaker trip"');
      const incident = wholeNumber(cli, "incident");
      return {
        ...(all ? { all: true } : { chain: chain as string }),
        reason: required(cli, "reason"),
        ...(incident === undefined ? {} : { incident }),
      };
    },
    offline: (actions, actor, input) => actions.breaker.trip(actor, input),
    remote: (client, input) => client.post<{ breakers: BreakerView[] }>("/breakers/trip", input),
    print: (result) => ({ fields: result, text: `tripped:\n${breakersText(result.breakers)}` }),
  }),
  "breaker resume": command({
    needs: "store",
    input: (cli) => {
      const approvers = cli.values.approver ?? [];
      return {
        chain: required(cli, "chain"),
        reason: required(cli, "reason"),
        ...(approvers.length === 0 ? {} : { approvers }),
      };
    },
    offline: (actions, actor, input) => actions.breaker.resume(actor, input),
    remote: (client, input) => client.post<{ breaker: BreakerView }>("/breakers/resume", input),
    print: (result) => ({ fields: result, text: `resumed:\n${breakersText([result.breaker])}` }),
  }),
  "custody reconciliations": command({
    needs: "store",
    input: (cli) => {
      const limit = wholeNumber(cli, "limit");
      return { chain: required(cli, "chain"), ...(limit === undefined ? {} : { limit }) };
    },
    offline: (actions, _actor, input) => actions.breaker.reconciliations(input),
    remote: (client, input) => {
      const query = new URLSearchParams({ chain: input.chain });
      if (input.limit !== undefined) query.set("limit", String(input.limit));
      return client.get<{ chain: string; reconciliations: ReconciliationResult[] }>(
        `/custody/reconciliations?${query.toString()}`,
      );
    },
    print: (result) => ({ fields: result, text: reconciliationText(result.chain, result.reconciliations) }),
  }),
};

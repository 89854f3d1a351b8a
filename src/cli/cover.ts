// `bulwark incident cover` and `bulwark insurance fund|status` (issue 8 §4): writing a theft off
// the hot wallet against the insurance fund or operator equity, and funding the fund with the
// operator's own coins. Entries of commands.ts's table; the work is OperatorActions.reserves
// (src/operator/reserves-actions.ts). Offline they open the exchange (the core's commands).

import type { CoverResult, InsuranceStatusRow } from "../operator/reserves-actions.ts";
import { type Cli, CliError, required } from "./args.ts";
import { type OperatorCommand, table } from "./commands.ts";

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

/** --id: the form only; the range is the action's to check (same message offline and remote). */
function incidentId(cli: Cli): number {
  const text = required(cli, "id");
  if (!/^[0-9]{1,15}$/.test(text))
    throw new CliError("invalid", `--id must be a whole number, got "${text.slice(0, 40)}"`);
  return Number(text);
}

function coverText(result: CoverResult): string {
  const reserves =
    "skipped" in result.reserves
      ? `reserves not published: ${result.reserves.skipped}`
      : `reserves publication ${result.reserves.publicationId}: liabilities ${result.reserves.liabilities} ${result.asset}, ` +
        `reserves ${result.reserves.reserves} ${result.asset}, ${result.reserves.fullyBacked ? "fully backed" : "NOT fully backed"}\n` +
        `root ${result.reserves.rootHash}`;
  return [
    `incident ${result.incidentId}: ${result.amount} ${result.asset} written off the hot wallet, covered from ${result.source} (sequence ${result.sequence})`,
    `hot wallet on the books ${result.hotOnBooks}, insurance fund ${result.insuranceFund}, customer liabilities ${result.customerLiabilities} (no user balance changed)`,
    reserves,
  ].join("\n");
}

export const COVER_COMMANDS = {
  "incident cover": command({
    needs: "exchange",
    input: (cli) => ({
      incidentId: incidentId(cli),
      asset: required(cli, "asset"),
      amount: required(cli, "amount"),
      ...(cli.values.from === undefined ? {} : { from: cli.values.from }),
    }),
    offline: (actions, actor, input) => actions.reserves.coverIncident(actor, input),
    remote: (client, { incidentId: id, ...body }) => client.post<CoverResult>(`/incidents/${id}/cover`, body),
    print: (result) => ({ fields: result, text: coverText(result) }),
  }),
  "insurance fund": command({
    needs: "exchange",
    input: (cli) => ({
      asset: required(cli, "asset"),
      amount: required(cli, "amount"),
      wallet: cli.values.wallet ?? "cold",
      ...(cli.values.txid === undefined ? {} : { txId: cli.values.txid }),
    }),
    offline: (actions, actor, input) => actions.reserves.fundInsurance(actor, input),
    remote: (client, input) =>
      client.post<{
        asset: string;
        amount: string;
        wallet: string;
        txId: string;
        sequence: number;
        insuranceFund: string;
      }>("/insurance/fund", input),
    print: (result) => ({
      fields: result,
      text: `insurance fund +${result.amount} ${result.asset} (coins in the ${result.wallet} wallet${result.txId === "" ? "" : `, tx ${result.txId}`}): now ${result.insuranceFund} ${result.asset}`,
    }),
  }),
  "insurance status": command({
    needs: "exchange",
    input: () => ({}),
    offline: async (actions) => actions.reserves.insuranceStatus(),
    remote: (client) => client.get<{ assets: InsuranceStatusRow[] }>("/insurance"),
    print: (result) => ({
      fields: result,
      text: table(
        result.assets.map((row) => ({
          asset: row.asset,
          insuranceFund: row.insuranceFund,
          lossesCovered: row.lossesCovered,
          covers: row.covers.map((c) => `#${c.incidentId}:${c.amount}(${c.source})`).join(" ") || "-",
        })),
      ),
    }),
  }),
};

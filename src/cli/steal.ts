// `bulwark devnet steal`: the theft drill's fault. The thief's work (key, payment, signature) is
// done by the CLI process itself before anything is opened (thief.ts, loaded only for this
// command); the signed bytes then go to the devnet chain like any outside transaction, audited
// as a devnet broadcast with a note saying it was a theft drill. An entry of commands.ts's table.

import type { OperatorActions } from "../operator/actions.ts";
import type { OperatorCommand } from "./commands.ts";
import type { PreparedTheft, TheftSummary } from "./thief.ts";

type Broadcast = Awaited<ReturnType<OperatorActions["devnetBroadcast"]>>;
type Theft = TheftSummary & { txid: string; bytes: number };

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

function broadcastOf(input: PreparedTheft) {
  return { chain: input.chain, signedTx: input.signedTx, note: input.note };
}

function theft(input: PreparedTheft, sent: Broadcast): Theft {
  return { ...input.summary, txid: sent.txid, bytes: sent.bytes };
}

export const STEAL_COMMANDS = {
  "devnet steal": command({
    needs: "devnet",
    input: async (cli, io) => (await import("./thief.ts")).prepareTheft(cli, io),
    offline: async (actions, actor, input) =>
      theft(input, await actions.devnetBroadcast(actor, broadcastOf(input))),
    remote: async (client, input) =>
      theft(input, await client.post<Broadcast>("/devnet/broadcast", broadcastOf(input))),
    print: (result: Theft) => ({
      fields: result,
      text:
        `stole ${result.amount} ${result.asset} from the hot wallet on ${result.name} ` +
        `(${result.from.join(", ")}) → ${result.to}${result.freshDestination ? " (a fresh thief address)" : ""}\n` +
        `tx ${result.txid}, fee ${result.fee} ${result.feeAsset}; in the next block`,
    }),
  }),
};

// `bulwark reserves publish|list|proof|verify` (issue 8 §6). publish, list and proof go to the
// running server's publisher (custody reads the chain there); `reserves verify` is pure: it reads
// a proof file and checks it against the root the user was given, with no data dir and no server
// (src/reserves/proof.ts, the same check a web page runs).

import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { PublicationSummary } from "../operator/reserves-actions.ts";
import type { ReservesProof } from "../reserves/proof.ts";
import { MAX_PROOF_TEXT_BYTES, verifyReservesProof } from "../reserves/proof.ts";
import { type Cli, CliError, required } from "./args.ts";
import { type OperatorCommand, table } from "./commands.ts";
import { type CliIo, say } from "./io.ts";

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

function wholeNumber(cli: Cli, name: "limit" | "user"): number | undefined {
  const text = cli.values[name];
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(text))
    throw new CliError("invalid", `--${name} must be a whole number, got "${text.slice(0, 40)}"`);
  return Number(text);
}

function publicationsText(publications: PublicationSummary[]): string {
  return table(
    publications.map((p) => ({
      id: p.publicationId,
      asset: p.asset,
      created: p.createdAt,
      users: p.users,
      liabilities: p.liabilities,
      reserves: p.reserves,
      backed: p.fullyBacked ? "fully backed" : "NOT backed",
      root: p.rootHash,
    })),
  );
}

export const RESERVES_COMMANDS = {
  "reserves publish": command({
    needs: "exchange",
    input: (cli) => (cli.values.asset === undefined ? {} : { asset: cli.values.asset }),
    offline: (actions, actor, input) => actions.reserves.publish(actor, input),
    remote: (client, input) =>
      client.post<{ publications: PublicationSummary[] }>("/reserves/publish", input),
    print: (result) => ({ fields: result, text: publicationsText(result.publications) }),
  }),
  "reserves list": command({
    needs: "exchange",
    input: (cli) => {
      const limit = wholeNumber(cli, "limit");
      return limit === undefined ? {} : { limit };
    },
    offline: async (actions, _actor, input) => actions.reserves.list(input),
    remote: (client, input) =>
      client.get<{ publications: PublicationSummary[] }>(
        `/reserves${input.limit === undefined ? "" : `?limit=${input.limit}`}`,
      ),
    print: (result) => ({ fields: result, text: publicationsText(result.publications) }),
  }),
  "reserves proof": command({
    needs: "exchange",
    input: (cli) => {
      const userId = wholeNumber(cli, "user");
      if (userId === undefined && cli.values.email === undefined)
        throw new CliError("usage", `--user or --email is required for "${cli.command}"`);
      return {
        asset: required(cli, "asset"),
        ...(userId === undefined ? {} : { userId }),
        ...(cli.values.email === undefined ? {} : { email: cli.values.email }),
      };
    },
    offline: (actions, _actor, input) => actions.reserves.proof(input),
    remote: (client, input) => {
      const query = new URLSearchParams({ asset: input.asset });
      if (input.userId !== undefined) query.set("userId", String(input.userId));
      if (input.email !== undefined) query.set("email", input.email);
      return client.get<ReservesProof>(`/reserves/proof?${query.toString()}`);
    },
    // The proof itself is the output (save it to a file and hand it to the user).
    print: (proof) => ({ fields: { proof }, text: JSON.stringify(proof, null, 2) }),
  }),
};

/**
 * `bulwark reserves verify --proof FILE --root ROOT [--key PUBLIC_KEY]`: no data dir, no server.
 * The file is a proof as reserves_proof returns it (its `result`), or the whole answer
 * `{ ok: true, proof }` of `bulwark reserves proof --json`. A failing check exits 1 with the reason.
 */
export function reservesVerify(cli: Cli, io: CliIo): void {
  const path = resolve(required(cli, "proof"));
  const root = required(cli, "root");
  let text: string;
  try {
    if (statSync(path).size > MAX_PROOF_TEXT_BYTES)
      throw new CliError("invalid", `${path} is larger than ${MAX_PROOF_TEXT_BYTES} bytes: not a proof`);
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError("notFound", `cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError("invalid", `${path} is not JSON: not a proof file`);
  }
  // Accept the CLI's --json envelope and the private API's answer as well as the bare proof.
  if (typeof parsed === "object" && parsed !== null && "proof" in parsed && !("format" in parsed))
    parsed = (parsed as { proof: unknown }).proof;
  const result = verifyReservesProof(
    parsed,
    root,
    cli.values.key === undefined ? {} : { publicKeyHex: cli.values.key },
  );
  if (!result.ok) throw new CliError("rejected", `the proof does not verify: ${result.reason}`);
  say(
    cli,
    io,
    result,
    [
      `proof verified: account ${result.accountId} holds ${result.balance} ${result.asset} in publication ${result.publicationId}`,
      `customer liabilities ${result.liabilities} ${result.asset}, reserves on chain ${result.reserves} ${result.asset}: ${result.fullyBacked ? "fully backed" : "NOT fully backed"}`,
      `root ${result.rootHash}, signed by reserves key ${result.publicKey}${cli.values.key === undefined ? " (compare it with the key the exchange publishes, or pass --key)" : ""}`,
    ].join("\n"),
  );
}

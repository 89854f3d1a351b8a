// `bulwark wallet rotate --chain C [--incident N]` (issue 8 §5): a new wallet generation for the
// chain (src/server/wallet-rotation.ts, src/operator/wallet-rotation.ts). On a running server it
// goes through the operator socket and applies at once (custody switches, the signer restarts with
// the new seed, the old hot wallet's coins move over); offline it writes the generation and the next
// start applies it. The passphrase: the server's own when it runs; offline as for `wallet init`.
//
// `bulwark wallet init --chain devnet-btc|devnet-eth`: creates the chain signer's keystore from
// fresh entropy under the operator's passphrase and writes the exported public keys (xpubs) for
// custody (src/server/signers.ts has the layout). Prints the public keys only. An entry of
// commands.ts's table.
//
// Offline only, under the data dir's lock: the keystore is the signer's, not the server's, and a
// running server starts its signers only at start, so a wallet made under it would sit unused.
// The passphrase comes from BULWARK_SIGNER_PASSPHRASE, else from stdin (one line piped, or typed
// twice at a prompt without echo); it is never written anywhere.

import { statSync } from "node:fs";
import type { WalletRotationView } from "../operator/wallet-rotation.ts";
import { type Cli, CliError, required, usageError } from "./args.ts";
import type { OperatorCommand } from "./commands.ts";
import type { CliIo } from "./io.ts";
import { readPassword } from "./password.ts";

/** The chains `wallet init` serves (src/server/signers.ts WALLET_CHAINS, not imported here to keep every command's start light). */
const CHAINS = ["devnet-btc", "devnet-eth"];
const PASSPHRASE_ENV = "BULWARK_SIGNER_PASSPHRASE";

interface WalletInitInput {
  dataDir: string;
  chain: string;
  /** Read only once the data dir is ours: no prompt for a command that is refused anyway. */
  passphrase: () => Promise<string>;
}

interface WalletInitResult {
  chain: string;
  publicKeys: { label: string; key: string }[];
  keystoreDir: string;
  publicKeysFile: string;
  created: boolean;
}

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

async function readPassphrase(io: CliIo, chain: string, verb = "init"): Promise<string> {
  const fromEnv = io.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  try {
    return await readPassword(io, `the ${chain} keystore`);
  } catch (error) {
    if (error instanceof CliError && error.kind === "usage")
      throw usageError(
        `wallet ${verb} needs the keystore's passphrase: set ${PASSPHRASE_ENV}, pipe one line on stdin, ` +
          "or run it in a terminal to be prompted",
      );
    throw error;
  }
}

function walletInitInput(cli: Cli, io: CliIo): WalletInitInput {
  const chain = required(cli, "chain");
  if (!CHAINS.includes(chain))
    throw new CliError("invalid", `--chain must be one of ${CHAINS.join(", ")}, got "${chain.slice(0, 40)}"`);
  return { dataDir: cli.dataDir, chain, passphrase: () => readPassphrase(io, chain) };
}

interface WalletRotateInput {
  dataDir: string;
  chain: string;
  incidentId?: number;
  /** Offline only, read once the data dir is ours and the wallet is known to exist. */
  passphrase: () => Promise<string>;
}

function walletRotateInput(cli: Cli, io: CliIo): WalletRotateInput {
  const chain = required(cli, "chain");
  if (!CHAINS.includes(chain))
    throw new CliError("invalid", `--chain must be one of ${CHAINS.join(", ")}, got "${chain.slice(0, 40)}"`);
  const incident = cli.values.incident;
  let incidentId: number | undefined;
  if (incident !== undefined) {
    incidentId = /^[1-9][0-9]{0,14}$/.test(incident) ? Number(incident) : Number.NaN;
    if (!Number.isSafeInteger(incidentId))
      throw new CliError(
        "invalid",
        `--incident must be a whole number from 1, got "${incident.slice(0, 40)}"`,
      );
  }
  return {
    dataDir: cli.dataDir,
    chain,
    ...(incidentId === undefined ? {} : { incidentId }),
    passphrase: () => readPassphrase(io, chain, "rotate"),
  };
}

export const WALLET_COMMANDS = {
  "wallet rotate": command({
    needs: "store",
    input: walletRotateInput,
    async offline(actions, actor, input: WalletRotateInput): Promise<WalletRotationView> {
      const [{ isWalletInitialised, loadOrCreatePolicyKey }, { WalletRotationService }] = await Promise.all([
        import("../server/signers.ts"),
        import("../server/wallet-rotation.ts"),
      ]);
      // Before the prompt: nothing to rotate is said without asking for anything.
      if (!isWalletInitialised(input.dataDir, input.chain))
        throw new CliError(
          "notFound",
          `the ${input.chain} wallet is not initialised: run \`bulwark wallet init --chain ${input.chain}\` first`,
        );
      const passphrase = await input.passphrase();
      const policy = loadOrCreatePolicyKey(input.dataDir);
      actions.setWalletRotation(
        new WalletRotationService({
          dataDir: input.dataDir,
          passphrase,
          policyPublicKeyHex: Buffer.from(policy.publicKey).toString("hex"),
          custody: null,
          signers: null,
        }),
      );
      return actions.rotateWallet(actor, {
        chain: input.chain,
        ...(input.incidentId === undefined ? {} : { incidentId: input.incidentId }),
      });
    },
    remote: (client, input) =>
      client.post<WalletRotationView>("/wallet/rotate", {
        chain: input.chain,
        ...(input.incidentId === undefined ? {} : { incidentId: input.incidentId }),
      }),
    print: (result: WalletRotationView) => ({
      fields: result,
      text: [
        `rotated ${result.chain} to wallet generation ${result.generation}${result.created ? "" : " (made by an earlier, interrupted rotation; published now)"}`,
        result.applied === "running"
          ? "applied now: custody uses the new keys and the signer restarted with the new seed"
          : "applied at the next start (no server runs on this data dir)",
        `hot      ${result.hotAddress}   (payments leave from here; sweeps arrive here)`,
        `deposit  account ${result.depositAccount}: every user gets a new address on their next request; old ones stay watched and credited`,
        ...result.retiredHotAddresses.map(
          (address) =>
            `retired  ${address}   (its coins move to the new hot wallet through signed transfers)`,
        ),
        ...result.publicKeys.map((key) => `${key.label.padEnd(8)} ${key.key}`),
        result.noticeSent
          ? `notice   sent to users${result.incidentId === null ? "" : ` and recorded on incident ${result.incidentId}`}`
          : "notice   not sent (no incident service here): post one with `bulwark incident note`",
      ].join("\n"),
    }),
  }),
  "wallet init": command({
    // The lightest offline mode: it brings the data dir's lock (the store is opened, unused).
    needs: "store",
    input: walletInitInput,
    async offline(_actions, _actor, input: WalletInitInput): Promise<WalletInitResult> {
      const [{ initWallet, isWalletInitialised, signerPaths, WalletExistsError }, { KeystoreError }] =
        await Promise.all([import("../server/signers.ts"), import("../signer/keystore.ts")]);
      const paths = signerPaths(input.dataDir, input.chain);
      // Before the prompt: an existing wallet is refused without asking for anything.
      if (isWalletInitialised(input.dataDir, input.chain) && existsFile(paths.publicKeysPath))
        throw new CliError(
          "conflict",
          `the ${input.chain} wallet exists (${paths.keystoreDir}); refusing to replace its seed`,
        );
      const passphrase = await input.passphrase();
      try {
        const result = initWallet(input.dataDir, input.chain, passphrase);
        return {
          chain: result.chain,
          publicKeys: result.publicKeys,
          keystoreDir: result.keystoreDir,
          publicKeysFile: result.publicKeysPath,
          created: result.created,
        };
      } catch (error) {
        if (error instanceof WalletExistsError) throw new CliError("conflict", error.message);
        // A passphrase under 8 characters, say: the operator's to fix, not a failure.
        if (error instanceof KeystoreError) throw new CliError("invalid", error.message);
        throw error;
      }
    },
    remote: async () => {
      throw new CliError(
        "busy",
        "wallet init works offline only: stop the server first (its signers start with it, so a wallet made now would not be used until the next start)",
      );
    },
    print: (result: WalletInitResult) => ({
      fields: result,
      text: [
        result.created
          ? `created the ${result.chain} hot wallet (keystore ${result.keystoreDir})`
          : `the ${result.chain} keystore existed without its public keys; wrote them`,
        ...result.publicKeys.map((key) => `${key.label.padEnd(8)} ${key.key}`),
        `public keys for custody: ${result.publicKeysFile}`,
        "the passphrase is stored nowhere: the signer asks for it (BULWARK_SIGNER_PASSPHRASE) at every start",
      ].join("\n"),
    }),
  }),
};

function existsFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

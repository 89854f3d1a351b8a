// `bulwark cold …`: the cold wallet (docs/CUSTODY.md, "Cold wallet"). Entries of commands.ts's table.
//
// On the exchange's machine, through the operator API (custody runs inside the server):
//   cold set-address   the chain's cold address (checked, audited), written to
//                      <data-dir>/custody/<chain>.cold.json; custody reads it at its next start
//   cold refill | list | approve | export | import | broadcast | cancel   cold → hot refills
// On the offline machine, with nothing of the exchange (only the files the operator carries):
//   cold keygen        a cold keystore in --out (NOT the data dir): a fresh seed under scrypt +
//                      AES-256-GCM (src/signer/keystore.ts) with the passphrase of
//                      BULWARK_COLD_PASSPHRASE or a prompt; prints the cold address and account xpub
//   cold sign          reads an exported refill, checks the payload pays what the file says (and
//                      from the cold address), signs it with the cold key, writes the signed bytes
//
// Files: the export is the JSON custody answers (ColdRefillExport, payload base64); the signed
// file is {format, refillId, chain, txId, signedTxBase64}. Both are written 0600 and never over an
// existing file. Loaded by every `bulwark` run (commands.ts imports it), so the heavy modules
// (keystore, BIP32, the devnet codecs) are imported inside the commands that use them.

import { closeSync, constants, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { ColdRefillExport, ColdRefillView } from "../custody/port.ts";
import { writeColdAddressFile } from "../server/cold-address.ts";
import {
  COLD_CHAINS,
  COLD_PASSPHRASE_ENV,
  type ColdChain,
  type ColdKeygenResult,
  ColdKeystoreMissingError,
  coldChainNamed,
  coldKeygen,
  coldKeyOf,
  openColdKeystore,
} from "../signer/cold-keys.ts";
import { type Cli, CliError, required, usageError } from "./args.ts";
import { type OperatorCommand, table } from "./commands.ts";
import type { CliIo } from "./io.ts";
import { readPassword } from "./password.ts";

const SIGNED_FORMAT = "bulwark-cold-refill-signed/v1";
const EXPORT_FORMAT = "bulwark-cold-refill/v1";
/** An export or signed file is a few kilobytes; anything far larger is not one. */
const MAX_FILE_BYTES = 512 * 1024;

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

function coldChain(cli: Cli): ColdChain {
  const wanted = required(cli, "chain").trim().toLowerCase();
  const chain = coldChainNamed(wanted);
  if (chain === undefined)
    throw new CliError(
      "invalid",
      `the cold wallet serves ${COLD_CHAINS.map((c) => c.name).join(", ")}, not "${wanted.slice(0, 40)}"`,
    );
  return chain;
}

function refillId(cli: Cli): number {
  const text = required(cli, "id");
  if (!/^[0-9]{1,15}$/.test(text))
    throw new CliError("invalid", `--id must be a whole number, got "${text.slice(0, 40)}"`);
  return Number(text);
}

/** `--as NAME`: the operator's name custody counts as requester or approver (checked by OperatorActions). */
function asName(cli: Cli): { as?: string } {
  const name = cli.values.as;
  return name === undefined ? {} : { as: name };
}

function readJsonFile(path: string, what: string): unknown {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CliError("notFound", `cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
  if (bytes.length > MAX_FILE_BYTES) throw new CliError("invalid", `${path} is too large for a ${what}`);
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new CliError("invalid", `${path} is not a ${what} (not JSON)`);
  }
}

/** Refuses an output path that exists (before anything changes), and returns it absolute. */
function newOutputPath(cli: Cli): string {
  const path = resolve(required(cli, "out"));
  if (existsSync(path)) throw new CliError("conflict", `${path} exists; give another --out or remove it`);
  if (!existsSync(dirname(path))) throw new CliError("notFound", `no directory ${dirname(path)}`);
  return path;
}

/** Writes a new file (0600, never over an existing one) and fsyncs it. */
function writeNewFile(path: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new CliError("conflict", `${path} exists; give another path or remove it`);
    throw error;
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function refillText(view: ColdRefillView): string {
  const approvals = `${view.approvals.length}/${view.approvalsNeeded} approvals`;
  const approvers =
    view.approvals.length === 0 ? "" : ` (${view.approvals.map((a) => a.approver).join(", ")})`;
  const lock =
    view.step === "approved" && view.exportableFromMs !== null
      ? `, exportable from ${new Date(view.exportableFromMs).toISOString()}`
      : "";
  const tx = view.txId === null ? "" : `, tx ${view.txId}`;
  return (
    `cold refill ${view.refillId} on ${view.chain}: ${view.amount} ${view.currency} ${view.from} → ${view.to} ` +
    `is ${view.step} (${approvals}${approvers}${lock}${tx}); requested by ${view.requestedBy}: ${view.reason}`
  );
}

// ---- the offline machine: keygen and sign ------------------------------------------------------

interface KeygenInput {
  chain: ColdChain;
  dir: string;
  passphrase: () => Promise<string>;
}

type KeygenResult = ColdKeygenResult;

interface SignInput {
  chain: ColdChain;
  keystoreDir: string;
  exported: ColdRefillExport;
  out: string;
  /** The hot address the operator expects (compared out of band), when given. */
  expectTo: string | undefined;
  passphrase: () => Promise<string>;
}

interface SignResult {
  refillId: number;
  chain: string;
  currency: string;
  amount: string;
  from: string;
  to: string;
  fee: string;
  feeAsset: string;
  txId: string;
  out: string;
}

async function coldPassphrase(io: CliIo, what: string): Promise<string> {
  const fromEnv = io.env[COLD_PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  try {
    return await readPassword(io, what);
  } catch (error) {
    if (error instanceof CliError && error.kind === "usage")
      throw usageError(
        `the cold keystore needs its passphrase: set ${COLD_PASSPHRASE_ENV}, pipe one line on stdin, or run it in a terminal to be prompted`,
      );
    throw error;
  }
}

/** The shared cold-key code (src/signer/cold-keys.ts), its keystore errors as CliErrors. */
async function coldKeys<T>(work: () => Promise<T>): Promise<T> {
  const { KeystoreError } = await import("../signer/keystore.ts");
  try {
    return await work();
  } catch (error) {
    if (error instanceof ColdKeystoreMissingError) throw new CliError("notFound", error.message);
    if (error instanceof KeystoreError) throw new CliError("invalid", error.message);
    throw error;
  }
}

async function keygen(input: KeygenInput): Promise<KeygenResult> {
  const passphrase = await input.passphrase();
  return coldKeys(() => coldKeygen(input.chain, input.dir, passphrase));
}

function checkExport(value: unknown, chain: ColdChain, path: string): ColdRefillExport {
  const file = value as ColdRefillExport;
  const text = (field: unknown) => typeof field === "string" && field.length > 0 && field.length < 200_000;
  if (
    file?.format !== EXPORT_FORMAT ||
    !Number.isSafeInteger(file.refillId) ||
    ![
      file.chain,
      file.currency,
      file.amountBaseUnits,
      file.from,
      file.to,
      file.feeBaseUnits,
      file.feeAsset,
      file.payloadBase64,
    ].every(text) ||
    !/^[0-9]{1,80}$/.test(file.amountBaseUnits) ||
    !/^[0-9]{1,80}$/.test(file.feeBaseUnits) ||
    !Array.isArray(file.signers)
  )
    throw new CliError("invalid", `${path} is not an exported cold refill (${EXPORT_FORMAT})`);
  if (file.chain !== chain.name)
    throw new CliError("invalid", `${path} is a ${file.chain} refill, not ${chain.name}`);
  return file;
}

/**
 * Reads the payload itself (never only the file's description of it) and checks it pays exactly
 * the amount to the destination, from the cold address alone, for the fee stated; returns nothing
 * or throws. A compromised exchange could export a payment anywhere: the operator compares the
 * destination (`--to`) with the hot address they know.
 */
async function checkPayload(exported: ColdRefillExport, chain: ColdChain, cold: string, payload: Uint8Array) {
  const [{ describeUtxoPayload }, { describeAccountPayload }] = await Promise.all([
    import("../chains/devnet/utxo.ts"),
    import("../chains/devnet/account.ts"),
  ]);
  const amount = BigInt(exported.amountBaseUnits);
  const refuse = (why: string): never => {
    throw new CliError("rejected", `refusing to sign refill ${exported.refillId}: ${why}`);
  };
  let read: { payments: { to: string; asset: string; amount: bigint }[]; fee: bigint; feeAsset: string };
  try {
    if (chain.kind === "utxo") {
      const utxo = describeUtxoPayload(payload);
      if (utxo.inputs.some((input) => input.address !== cold)) refuse("it spends coins of another address");
      read = utxo;
    } else {
      const account = describeAccountPayload(payload);
      if (account.from !== cold) refuse(`it pays from ${account.from}, not the cold address`);
      read = account;
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    return refuse(`the payload does not decode: ${(error as Error).message}`);
  }
  const paid = read.payments.filter((payment) => payment.to !== cold);
  if (
    paid.length !== 1 ||
    paid[0].to !== exported.to ||
    paid[0].asset !== exported.currency ||
    paid[0].amount !== amount
  )
    refuse(
      `the payload pays ${paid.map((p) => `${p.amount} ${p.asset} to ${p.to}`).join(", ") || "nothing"}, not ${amount} ${exported.currency} to ${exported.to}`,
    );
  if (read.fee !== BigInt(exported.feeBaseUnits) || read.feeAsset !== exported.feeAsset)
    refuse(
      `the payload's fee is ${read.fee} ${read.feeAsset}, the file says ${exported.feeBaseUnits} ${exported.feeAsset}`,
    );
  if (exported.signers.length !== 1 || exported.signers[0] !== cold)
    refuse(`it needs signatures of ${exported.signers.join(", ")}; this keystore signs for ${cold}`);
}

async function sign(input: SignInput): Promise<SignResult> {
  const { exported, chain } = input;
  if (input.expectTo !== undefined && input.expectTo.trim().toLowerCase() !== exported.to.toLowerCase())
    throw new CliError(
      "rejected",
      `refusing to sign refill ${exported.refillId}: it pays ${exported.to}, not the hot address you gave (--to ${input.expectTo})`,
    );
  const payload = new Uint8Array(Buffer.from(exported.payloadBase64, "base64"));
  const passphrase = await input.passphrase();
  const key = await coldKeys(async () => {
    const { keystore } = await openColdKeystore(input.keystoreDir, passphrase, false);
    try {
      return await coldKeyOf(keystore.hotKeys(chain.name).seed, chain);
    } finally {
      keystore.close();
    }
  });
  try {
    if (exported.from !== key.address)
      throw new CliError(
        "rejected",
        `refusing to sign refill ${exported.refillId}: it pays from ${exported.from}; this keystore's ${chain.name} cold address is ${key.address}`,
      );
    await checkPayload(exported, chain, key.address, payload);
    const [{ signPayload }, { sha256 }, { keccak_256 }, { toHex }] = await Promise.all([
      import("../chains/devnet/keys.ts"),
      import("@noble/hashes/sha2.js"),
      import("@noble/hashes/sha3.js"),
      import("../chains/devnet/codec.ts"),
    ]);
    const signed = signPayload(payload, [key.privateKey]);
    const txId = chain.kind === "utxo" ? toHex(sha256(sha256(payload))) : toHex(keccak_256(payload));
    const file = {
      format: SIGNED_FORMAT,
      refillId: exported.refillId,
      chain: chain.name,
      txId,
      signedTxBase64: Buffer.from(signed).toString("base64"),
    };
    writeNewFile(input.out, `${JSON.stringify(file, null, 2)}\n`);
    const { formatUnits } = await import("../units/decimal.ts");
    const feeDecimals = chain.kind === "utxo" ? 8 : 18;
    return {
      refillId: exported.refillId,
      chain: chain.name,
      currency: exported.currency,
      amount: exported.amount,
      from: exported.from,
      to: exported.to,
      fee: formatUnits(BigInt(exported.feeBaseUnits), feeDecimals),
      feeAsset: exported.feeAsset,
      txId,
      out: input.out,
    };
  } finally {
    key.privateKey.fill(0);
  }
}

function readSignedFile(path: string, refillIdWanted: number): { signedTx: string } {
  const file = readJsonFile(path, "signed cold refill") as {
    format?: unknown;
    refillId?: unknown;
    signedTxBase64?: unknown;
  };
  if (file?.format !== SIGNED_FORMAT || typeof file.signedTxBase64 !== "string")
    throw new CliError("invalid", `${path} is not a signed cold refill (${SIGNED_FORMAT})`);
  if (file.refillId !== refillIdWanted)
    throw new CliError("invalid", `${path} signs refill ${String(file.refillId)}, not ${refillIdWanted}`);
  return { signedTx: file.signedTxBase64 };
}

// ---- the table ---------------------------------------------------------------------------------

type ExportAnswer = { refill: ColdRefillView; export: ColdRefillExport };

export const COLD_COMMANDS = {
  "cold set-address": command({
    needs: "devnet",
    input: (cli) => ({ dataDir: cli.dataDir, chain: coldChain(cli).name, address: required(cli, "address") }),
    offline: async (actions, actor, input) => {
      const result = await actions.setColdAddress(actor, { chain: input.chain, address: input.address });
      return { ...result, file: writeColdAddressFile(input.dataDir, result.chain, result.address) };
    },
    remote: async (client, input) => {
      const result = await client.post<{ chain: string; address: string }>("/cold/address", {
        chain: input.chain,
        address: input.address,
      });
      return { ...result, file: writeColdAddressFile(input.dataDir, result.chain, result.address) };
    },
    print: (result: { chain: string; address: string; file: string }) => ({
      fields: result,
      text: `cold address of ${result.chain}: ${result.address} (${result.file}); custody uses it from its next start`,
    }),
  }),
  "cold keygen": command({
    // Works on the offline machine: everything happens here, before (and instead of) the exchange.
    needs: "store",
    input: async (cli, io): Promise<KeygenResult> => {
      const chain = coldChain(cli);
      const dir = resolve(required(cli, "out"));
      if (resolve(dir).startsWith(`${cli.dataDir}/`) || resolve(dir) === cli.dataDir)
        throw new CliError(
          "invalid",
          "the cold keystore must not live in the data dir: give --out elsewhere",
        );
      return keygen({ chain, dir, passphrase: () => coldPassphrase(io, "the cold keystore") });
    },
    offline: async (_actions, _actor, result) => result,
    remote: async (_client, result) => result,
    print: (result: KeygenResult) => ({
      fields: result,
      text: [
        `${result.created ? "created" : "opened"} the cold keystore ${result.keystoreDir}`,
        `${result.chain} cold address ${result.address}  (${result.path})`,
        `account xpub (watch-only) ${result.xpub}`,
        `on the exchange: bulwark cold set-address --chain ${result.chain} --address ${result.address}`,
      ].join("\n"),
    }),
  }),
  "cold sign": command({
    needs: "store",
    input: async (cli, io): Promise<SignResult> => {
      const chain = coldChain(cli);
      const inPath = resolve(required(cli, "in"));
      const exported = checkExport(readJsonFile(inPath, "exported cold refill"), chain, inPath);
      return sign({
        chain,
        keystoreDir: resolve(required(cli, "keystore")),
        exported,
        out: newOutputPath(cli),
        expectTo: cli.values.to,
        passphrase: () => coldPassphrase(io, "the cold keystore"),
      });
    },
    offline: async (_actions, _actor, result) => result,
    remote: async (_client, result) => result,
    print: (result: SignResult) => ({
      fields: result,
      text: [
        `signed cold refill ${result.refillId}: ${result.amount} ${result.currency} ${result.from} → ${result.to}, fee ${result.fee} ${result.feeAsset}`,
        `tx ${result.txId} written to ${result.out}`,
        `on the exchange: bulwark cold import --id ${result.refillId} --in FILE, then bulwark cold broadcast --id ${result.refillId}`,
      ].join("\n"),
    }),
  }),
  "cold refill": command({
    needs: "store",
    input: (cli) => ({
      chain: coldChain(cli).name,
      currency: required(cli, "currency"),
      amount: required(cli, "amount"),
      reason: required(cli, "reason"),
      ...asName(cli),
    }),
    offline: (actions, actor, input) => actions.requestColdRefill(actor, input),
    remote: (client, input) => client.post<ColdRefillView>("/cold/refills", input),
    print: (view: ColdRefillView) => ({ fields: view, text: `requested: ${refillText(view)}` }),
  }),
  "cold list": command({
    needs: "store",
    input: (cli) => ({ chain: cli.values.chain === undefined ? undefined : coldChain(cli).name }),
    offline: (actions, _actor, input) => actions.listColdRefills(input),
    remote: (client, input) =>
      client.get<{ refills: ColdRefillView[] }>(
        `/cold/refills${input.chain === undefined ? "" : `?chain=${encodeURIComponent(input.chain)}`}`,
      ),
    print: (result: { refills: ColdRefillView[] }) => ({
      fields: result,
      text: table(
        result.refills.map((r) => ({
          id: r.refillId,
          chain: r.chain,
          currency: r.currency,
          amount: r.amount,
          step: r.step,
          approvals: `${r.approvals.length}/${r.approvalsNeeded}`,
          requestedBy: r.requestedBy,
          txId: r.txId ?? "",
        })),
      ),
    }),
  }),
  "cold approve": command({
    needs: "store",
    input: (cli) => ({ refillId: refillId(cli), ...asName(cli) }),
    offline: (actions, actor, input) => actions.approveColdRefill(actor, input),
    remote: (client, { refillId: id, ...body }) =>
      client.post<ColdRefillView>(`/cold/refills/${id}/approve`, body),
    print: (view: ColdRefillView) => ({ fields: view, text: `approved: ${refillText(view)}` }),
  }),
  "cold export": command({
    needs: "store",
    input: (cli) => ({ refillId: refillId(cli), out: newOutputPath(cli), ...asName(cli) }),
    offline: async (actions, actor, { out, ...input }) => {
      const answer = await actions.exportColdRefill(actor, input);
      writeNewFile(out, `${JSON.stringify(answer.export, null, 2)}\n`);
      return { ...answer, out };
    },
    remote: async (client, { out, refillId: id, ...body }) => {
      const answer = await client.post<ExportAnswer>(`/cold/refills/${id}/export`, body);
      writeNewFile(out, `${JSON.stringify(answer.export, null, 2)}\n`);
      return { ...answer, out };
    },
    print: (result: ExportAnswer & { out: string }) => ({
      fields: { refill: result.refill, out: result.out },
      text: `exported: ${refillText(result.refill)}\nunsigned payload written to ${result.out}; sign it offline: bulwark cold sign --chain ${result.refill.chain} --keystore DIR --in ${result.out} --out FILE`,
    }),
  }),
  "cold import": command({
    needs: "store",
    input: (cli) => {
      const id = refillId(cli);
      return { refillId: id, ...readSignedFile(resolve(required(cli, "in")), id), ...asName(cli) };
    },
    offline: (actions, actor, input) => actions.importColdRefill(actor, input),
    remote: (client, { refillId: id, ...body }) =>
      client.post<ColdRefillView>(`/cold/refills/${id}/import`, body),
    print: (view: ColdRefillView) => ({ fields: view, text: `imported: ${refillText(view)}` }),
  }),
  "cold broadcast": command({
    needs: "store",
    input: (cli) => ({ refillId: refillId(cli), ...asName(cli) }),
    offline: (actions, actor, input) => actions.broadcastColdRefill(actor, input),
    remote: (client, { refillId: id, ...body }) =>
      client.post<ColdRefillView>(`/cold/refills/${id}/broadcast`, body),
    print: (view: ColdRefillView) => ({ fields: view, text: `broadcast: ${refillText(view)}` }),
  }),
  "cold cancel": command({
    needs: "store",
    input: (cli) => ({ refillId: refillId(cli), reason: required(cli, "reason"), ...asName(cli) }),
    offline: (actions, actor, input) => actions.cancelColdRefill(actor, input),
    remote: (client, { refillId: id, ...body }) =>
      client.post<ColdRefillView>(`/cold/refills/${id}/cancel`, body),
    print: (view: ColdRefillView) => ({ fields: view, text: `cancelled: ${refillText(view)}` }),
  }),
};

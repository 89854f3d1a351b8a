// The thief of `bulwark devnet steal`: someone who stole the hot wallet's keystore and its
// passphrase spends from the hot addresses behind custody's back. Everything a thief would do
// happens here, in the CLI process: decrypt the seed (the chain signer's keystore,
// <data-dir>/signers/<chain>/keystore/, under BULWARK_SIGNER_PASSPHRASE or a demo data dir's
// passphrase file), derive the hot keys (the devnet signing
// plugin's layout, src/chains/devnet/signing.ts), read the public chain (a private copy of the
// devnet chain's state file, as a thief reads a public node), build and sign the payment. Only the
// signed bytes go to the chain, through the operator API's devnet broadcast (or, offline, straight
// into the chain's state); custody and the signer never see a request.
//
// Loaded only by `devnet steal` (commands load nothing heavy).

import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HDKey } from "@scure/bip32";
import {
  AccountDevnet,
  addressOfKey,
  DevnetRejectError,
  newPrivateKey,
  signTransaction,
  UtxoDevnet,
} from "../chains/devnet/index.ts";
import {
  CHANGE_CHAIN,
  DEVNET_KEY_VERSIONS,
  type DevnetKind,
  devnetAccountPath,
  hotAccountOf,
  RECEIVE_CHAIN,
} from "../chains/devnet/signing.ts";
import { MAX_DEVNET_FAUCET_COINS } from "../operator/devnet.ts";
import { DEVNET_DIR_NAME } from "../server/devnet.ts";
import {
  DEMO_PASSPHRASE_FILE_NAME,
  SIGNER_PASSPHRASE_ENV,
  SIGNERS_DIR_NAME,
  signerPaths,
} from "../server/signers.ts";
import { KEYSTORE_FILE, Keystore, KeystoreError } from "../signer/keystore.ts";
import { requireOwnerOnly } from "../signer/state.ts";
import { formatUnits, parseDecimalBig } from "../units/decimal.ts";
import { type Cli, CliError, required } from "./args.ts";
import type { CliIo } from "./io.ts";

/** UTXO hot addresses tried, receive /0/i and change /1/i each (the thief takes what they hold). */
export const HOT_ADDRESSES_TRIED = 20;

interface DevnetChainInfo {
  /** What `--chain` names ("btc"), and the chain's own name ("devnet-btc"). */
  id: string;
  name: string;
  kind: DevnetKind;
}

const CHAINS: readonly DevnetChainInfo[] = [
  { id: "btc", name: "devnet-btc", kind: "utxo" },
  { id: "eth", name: "devnet-eth", kind: "account" },
];

export interface TheftSummary {
  chain: string;
  name: string;
  asset: string;
  amount: string;
  amountUnits: string;
  /** The hot addresses spent from. */
  from: string[];
  to: string;
  /** True when `to` is a fresh address made for this theft (its key is thrown away). */
  freshDestination: boolean;
  fee: string;
  feeAsset: string;
}

export interface PreparedTheft {
  chain: string;
  /** Base64 of the signed transaction. */
  signedTx: string;
  /** What the audit log says the broadcast was. */
  note: string;
  summary: TheftSummary;
}

function chainInfo(text: string): DevnetChainInfo {
  const wanted = text.trim().toLowerCase();
  const chain = CHAINS.find((c) => c.id === wanted || c.name === wanted);
  if (chain === undefined)
    throw new CliError(
      "invalid",
      `unknown devnet chain "${wanted.slice(0, 40)}"; the chains are ${CHAINS.map((c) => c.id).join(", ")}`,
    );
  return chain;
}

type Replica = UtxoDevnet | AccountDevnet;

/**
 * A private, in-memory copy of the chain as it is now: the state file (rewritten atomically on
 * every change, so a copy is always whole) copied to a temporary directory and opened there, so
 * nothing the thief does touches the data dir.
 */
function chainReplica(dataDir: string, chain: DevnetChainInfo): Replica {
  const file = `${chain.name}.devnet`;
  const source = join(dataDir, DEVNET_DIR_NAME, chain.id, file);
  const copy = mkdtempSync(join(tmpdir(), "bulwark-thief-"));
  try {
    if (existsSync(source)) copyFileSync(source, join(copy, file));
    return chain.kind === "utxo" ? new UtxoDevnet({ dir: copy }) : new AccountDevnet({ dir: copy });
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

function passphrase(cli: Cli, io: CliIo): string {
  const fromEnv = io.env[SIGNER_PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const file = join(cli.dataDir, SIGNERS_DIR_NAME, DEMO_PASSPHRASE_FILE_NAME);
  if (!existsSync(file))
    throw new CliError(
      "notFound",
      `no signer passphrase: set ${SIGNER_PASSPHRASE_ENV}, or use a demo data dir (which keeps it in ${file})`,
    );
  requireOwnerOnly(file, "demo passphrase file");
  return readFileSync(file, "utf8").replace(/\r?\n$/, "");
}

/** The chain signer's keystore directory (src/server/signers.ts's layout). */
function keystoreDir(dataDir: string, chain: DevnetChainInfo): string {
  const dir = signerPaths(dataDir, chain.name).keystoreDir;
  if (!existsSync(join(dir, KEYSTORE_FILE)))
    throw new CliError(
      "notFound",
      `no hot wallet keystore for ${chain.name} in ${dir}; run \`bulwark wallet init --chain ${chain.name}\` first`,
    );
  return dir;
}

/**
 * The hot wallet's keys from the seed: m/44'/coin'/0'/chain/index by address, or the hot account of
 * the newest generation after `wallet rotate` (2g', from that generation's seed).
 */
function hotKeys(
  seed: Uint8Array,
  generation: number,
  chain: DevnetChainInfo,
  replica: Replica,
  paths: readonly { chain: number; index: number }[],
): Map<string, Uint8Array> {
  const master = HDKey.fromMasterSeed(seed, DEVNET_KEY_VERSIONS);
  const account = master.derive(devnetAccountPath(chain.kind, hotAccountOf(generation)));
  const keys = new Map<string, Uint8Array>();
  try {
    for (const path of paths) {
      const node = account.deriveChild(path.chain).deriveChild(path.index);
      if (node.privateKey === null) throw new Error("derivation produced no private key");
      const key = new Uint8Array(node.privateKey);
      node.wipePrivateData();
      keys.set(addressOfKey(replica, key), key);
    }
  } finally {
    account.wipePrivateData();
    master.wipePrivateData();
  }
  return keys;
}

function heldBy(replica: Replica, address: string, asset: string): bigint {
  return replica instanceof UtxoDevnet
    ? replica.balance(address, false)
    : replica.balance(address, asset, false);
}

function destination(replica: Replica, chain: DevnetChainInfo, given: string | undefined): string {
  if (given === undefined || given === "") return addressOfKey(replica, newPrivateKey());
  const canonical = replica.normalizeAddress(given.trim());
  if (canonical !== null) return canonical;
  const other = CHAINS.find(
    (c) =>
      c !== chain &&
      (c.kind === "utxo" ? new UtxoDevnet() : new AccountDevnet()).normalizeAddress(given.trim()),
  );
  const shown = given.slice(0, 80).replace(/[^A-Za-z0-9.:_ -]/g, "?");
  throw new CliError(
    "invalid",
    other === undefined
      ? `--to is not a ${chain.name} address: ${shown}`
      : `--to ${shown} is a ${other.name} address, not a ${chain.name} one`,
  );
}

/** Reads the flags, steals the key, builds and signs the payment: all before the data dir is opened. */
export async function prepareTheft(cli: Cli, io: CliIo): Promise<PreparedTheft> {
  const chain = chainInfo(required(cli, "chain"));
  const amountText = required(cli, "amount");
  const replica = chainReplica(cli.dataDir, chain);
  const assetText = (cli.values.asset ?? replica.assets[0].symbol).toUpperCase();
  const asset = replica.assets.find((a) => a.symbol === assetText);
  if (asset === undefined)
    throw new CliError(
      "invalid",
      `${chain.name} has no asset ${assetText.slice(0, 20)} (it has ${replica.assets.map((a) => a.symbol).join(", ")})`,
    );
  const amount = parseDecimalBig(amountText, asset.decimals, {
    maxUnits: MAX_DEVNET_FAUCET_COINS * 10n ** BigInt(asset.decimals),
  });
  if (!amount.ok || amount.value <= 0n)
    throw new CliError(
      "invalid",
      `--amount must be a positive decimal with at most ${asset.decimals} decimals and at most ` +
        `${MAX_DEVNET_FAUCET_COINS} ${asset.symbol}, got "${amountText.slice(0, 40)}"`,
    );
  const to = destination(replica, chain, cli.values.to);

  let keystore: Keystore;
  try {
    keystore = Keystore.open(keystoreDir(cli.dataDir, chain), passphrase(cli, io));
  } catch (error) {
    if (error instanceof KeystoreError)
      throw new CliError("rejected", `keystore of ${chain.name}: ${error.message}`);
    throw error;
  }
  let keys = new Map<string, Uint8Array>();
  try {
    const seed = keystore.hotKeys(chain.name).seed;
    // The account chain's hot wallet is /0/0; the UTXO chain's coins may sit on any receive or
    // change address, so the thief takes every one of the first few that holds coins.
    const paths =
      chain.kind === "account"
        ? [{ chain: RECEIVE_CHAIN, index: 0 }]
        : [RECEIVE_CHAIN, CHANGE_CHAIN].flatMap((c) =>
            Array.from({ length: HOT_ADDRESSES_TRIED }, (_, index) => ({ chain: c, index })),
          );
    keys = hotKeys(seed, keystore.generations - 1, chain, replica, paths);
    const all = [...keys.keys()];
    const sources = chain.kind === "account" ? all : all.filter((a) => heldBy(replica, a, asset.symbol) > 0n);
    if (sources.length === 0)
      throw new CliError(
        "rejected",
        `the hot wallet of ${chain.name} holds no ${asset.symbol} (receive and change addresses 0..${HOT_ADDRESSES_TRIED - 1} checked)`,
      );
    let unsigned: Awaited<ReturnType<Replica["buildPayment"]>>;
    try {
      // Change, if any, goes back to the hot wallet's first address: the theft takes the amount.
      unsigned = await replica.buildPayment({ sources, to, asset: asset.symbol, amount: amount.value });
    } catch (error) {
      if (error instanceof DevnetRejectError)
        throw new CliError(
          "rejected",
          `cannot pay ${amountText} ${asset.symbol} from the hot wallet: ${error.message}`,
        );
      throw error;
    }
    const signed = signTransaction(replica, unsigned, keys);
    const feeAsset = replica.assets.find((a) => a.symbol === unsigned.feeAsset) ?? replica.assets[0];
    const summary: TheftSummary = {
      chain: chain.id,
      name: chain.name,
      asset: asset.symbol,
      amount: formatUnits(amount.value, asset.decimals),
      amountUnits: amount.value.toString(),
      from: unsigned.signers,
      to,
      freshDestination: cli.values.to === undefined || cli.values.to === "",
      fee: formatUnits(unsigned.fee, feeAsset.decimals),
      feeAsset: feeAsset.symbol,
    };
    return {
      chain: chain.id,
      signedTx: Buffer.from(signed).toString("base64"),
      note: `theft drill: ${summary.amount} ${summary.asset} from the hot wallet to ${to}`,
      summary,
    };
  } finally {
    for (const key of keys.values()) key.fill(0);
    keystore.close();
  }
}

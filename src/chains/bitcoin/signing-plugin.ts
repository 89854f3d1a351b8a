// The signer's plugin for Bitcoin (src/chains/signing.ts), over the PSBT layer: the payload is an
// unsigned BIP174 PSBT built by custody (`buildPsbt`), read from its own bytes (`describePsbt`),
// signed with the seed's BIP84 keys (`signPsbt`), finalized and extracted (`finalizePsbt`).
//
// Ownership. Every input must be provably ours: its claimed BIP32 derivation re-derives, under one
// of the configured accounts, to the address it spends (`verifyOwnership`); otherwise the PSBT is
// refused (a PSBT this wallet cannot sign completely is not one to approve). An output whose claim
// re-derives the same way (custody's change) is proven ours and remembered as an own address, so
// the signer's policy accepts it as change. `isOwnAddress` otherwise answers from a bounded
// lookahead: receive and change /0..lookahead-1 of each configured account (default 100), derived
// lazily and remembered (public data only). Nothing is searched beyond that.
//
// The previous transactions: with `requirePrevTx` (the default on mainnet) every input must carry
// its full previous transaction, so input values are proven by their txid, not claimed (see
// README, the segwit v0 fee attack). Regtest and testnet accept witnessUtxo alone unless asked.

import { sha256 } from "@noble/hashes/sha2.js";
import type { ChainSigningPlugin, ExportedPublicKey, HotKeys, PayloadDescription } from "../signing.ts";
import {
  CHANGE_CHAIN,
  deriveAddress,
  exportAccount,
  RECEIVE_CHAIN,
  type WatchOnlyAccount,
  watchOnlyAccount,
} from "./keys.ts";
import type { BitcoinNetworkName } from "./network.ts";
import { verifyOwnership } from "./ownership.ts";
import { type DescribeOptions, describePsbt, isValidAddress } from "./psbt.ts";
import { finalizePsbt, signPsbt } from "./sign.ts";

export const BITCOIN_ASSET = "BTC";
export const DEFAULT_BITCOIN_LOOKAHEAD = 100;
const MAX_LOOKAHEAD = 100_000;
/** Most proven-own addresses remembered (oldest forgotten first); a forgotten one is proven again. */
const MAX_PROVEN = 10_000;

export interface BitcoinSigningOptions {
  network: BitcoinNetworkName;
  /** Chain name the plugin serves (default `bitcoin-<network>`). */
  chain?: string;
  /** BIP84 account numbers this signer signs for and exports (default [0]). */
  accounts?: readonly number[];
  /** Receive and change addresses per account `isOwnAddress` knows without a proof (default 100). */
  lookahead?: number;
  /** Every input must carry its previous transaction (default: true on mainnet only). */
  requirePrevTx?: boolean;
}

/** The public view of the seed's accounts, with the lookahead derived so far. */
interface AccountsIndex {
  fingerprint: string;
  accounts: WatchOnlyAccount[];
  known: Set<string>;
  derived: number;
}

function seedCheck(seed: Uint8Array): string {
  const tag = new TextEncoder().encode("bulwark-bitcoin-index:v1:");
  const tagged = new Uint8Array(tag.length + seed.length);
  tagged.set(tag);
  tagged.set(seed, tag.length);
  return Buffer.from(sha256(tagged)).toString("hex");
}

export function bitcoinSigningPlugin(options: BitcoinSigningOptions): ChainSigningPlugin {
  const { network } = options;
  const accountNumbers = [...(options.accounts ?? [0])];
  if (accountNumbers.length === 0) throw new Error("at least one account");
  const lookahead = options.lookahead ?? DEFAULT_BITCOIN_LOOKAHEAD;
  if (!Number.isSafeInteger(lookahead) || lookahead < 1 || lookahead > MAX_LOOKAHEAD)
    throw new Error(`lookahead must be an integer in 1..${MAX_LOOKAHEAD}`);
  const describeOptions: DescribeOptions = { requirePrevTx: options.requirePrevTx ?? network === "mainnet" };
  const indexes = new WeakMap<Uint8Array, AccountsIndex>();
  const proven = new Set<string>();

  function accountsOf(keys: HotKeys): AccountsIndex {
    // Rebuilt when the seed bytes changed since (e.g. wiped by the keystore's close).
    const fingerprint = seedCheck(keys.seed);
    const known = indexes.get(keys.seed);
    if (known !== undefined && known.fingerprint === fingerprint) return known;
    const index: AccountsIndex = {
      fingerprint,
      accounts: accountNumbers.map((account) => watchOnlyAccount(exportAccount(keys.seed, network, account))),
      known: new Set(),
      derived: 0,
    };
    indexes.set(keys.seed, index);
    return index;
  }

  function remember(address: string): void {
    if (proven.has(address)) proven.delete(address);
    proven.add(address);
    if (proven.size > MAX_PROVEN) proven.delete(proven.values().next().value as string);
  }

  function inLookahead(address: string, index: AccountsIndex): boolean {
    if (index.known.has(address)) return true;
    while (index.derived < lookahead) {
      const i = index.derived++;
      let found = false;
      for (const account of index.accounts)
        for (const chain of [RECEIVE_CHAIN, CHANGE_CHAIN] as const) {
          const derived = deriveAddress(account, chain, i).address;
          index.known.add(derived);
          if (derived === address) found = true;
        }
      if (found) return true;
    }
    return false;
  }

  const plugin: ChainSigningPlugin = {
    chain: options.chain ?? `bitcoin-${network}`,
    describe(payload: Uint8Array, keys: HotKeys): PayloadDescription {
      const read = describePsbt(payload, network, describeOptions);
      const { accounts } = accountsOf(keys);
      read.inputs.forEach((input, idx) => {
        if (input.address === null || verifyOwnership(input.address, input.derivations, accounts) === null)
          throw new Error(`input ${idx} does not spend from a key of this wallet`);
      });
      for (const output of read.outputs)
        if (output.derivations.length > 0 && verifyOwnership(output.address, output.derivations, accounts))
          remember(output.address);
      return {
        payments: read.outputs.map((output) => ({
          to: output.address,
          asset: BITCOIN_ASSET,
          amount: output.amount,
        })),
        fee: read.fee,
        feeAsset: BITCOIN_ASSET,
      };
    },
    isOwnAddress(address: string, keys: HotKeys): boolean {
      if (!isValidAddress(address, network)) return false;
      return proven.has(address) || inLookahead(address, accountsOf(keys));
    },
    sign(payload: Uint8Array, keys: HotKeys) {
      const signed = signPsbt(payload, keys.seed, network, describeOptions);
      if (signed.skipped.length > 0)
        throw new Error(`inputs ${signed.skipped.join(", ")} are not this wallet's to sign`);
      const final = finalizePsbt(signed.psbt);
      return { bytes: final.bytes, txId: final.txid };
    },
    exportPublicKeys(keys: HotKeys): ExportedPublicKey[] {
      return accountNumbers.flatMap((account) => {
        const exported = exportAccount(keys.seed, network, account);
        const fingerprint = (exported.masterFingerprint >>> 0).toString(16).padStart(8, "0");
        return [
          { label: `account-${account}`, key: exported.xpub },
          { label: `account-${account}-zpub`, key: exported.zpub },
          { label: `account-${account}-fingerprint`, key: fingerprint },
        ];
      });
    },
  };
  return plugin;
}

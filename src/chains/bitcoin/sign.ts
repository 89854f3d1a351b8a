// Signer side: sign a PSBT with the seed's BIP84 keys, finalize it, extract the raw transaction.
//
// An input is signed only when all of these hold: one of its BIP32 derivations names our master
// fingerprint and a BIP84 path of this network, the key at that path is the public key the PSBT
// names, and the output it spends is the P2WPKH script of that key. Any other input is left as it
// is (someone else's, or not ours to sign), so the result says which inputs were signed.
// Only SIGHASH_ALL is used: a signature covers every input and output.

import { equalBytes } from "@noble/curves/utils.js";
import type { HDKey } from "@scure/bip32";
import { SigHash, type Transaction } from "@scure/btc-signer";
import { BitcoinTxError } from "./errors.ts";
import { isBip84Path, masterNode, p2wpkhAddress, signingNode } from "./keys.ts";
import { type BitcoinNetwork, type BitcoinNetworkName, bitcoinNetwork } from "./network.ts";
import { type DescribeOptions, describePsbt, parsePsbt } from "./psbt.ts";

export interface SignResult {
  /** The PSBT with our partial signatures added (not finalized). */
  psbt: Uint8Array;
  /** Input indexes signed now. */
  signed: number[];
  /** Input indexes left unsigned: no key of ours, or not a P2WPKH spend of it. */
  skipped: number[];
}

export interface FinalTransaction {
  /** The network serialization, witnesses included. */
  bytes: Uint8Array;
  hex: string;
  txid: string;
  vsize: number;
  weight: number;
}

/** The private node that may sign input `idx`, or null when it is not ours. */
function keyForInput(tx: Transaction, idx: number, master: HDKey, network: BitcoinNetwork): HDKey | null {
  const input = tx.getInput(idx);
  const spent = input.witnessUtxo;
  if (spent === undefined) return null;
  for (const [publicKey, { fingerprint, path }] of input.bip32Derivation ?? []) {
    if (fingerprint !== master.fingerprint || !isBip84Path(network, path)) continue;
    const node = signingNode(master, network, path);
    if (node.publicKey === null || !equalBytes(node.publicKey, publicKey)) continue;
    if (!equalBytes(p2wpkhAddress(node.publicKey, network).script, spent.script)) continue;
    return node;
  }
  return null;
}

/**
 * Signs every input of `psbt` that the seed's BIP84 keys on this network own. With
 * `requirePrevTx`, refuses (throws) unless every input's value is proven by its previous
 * transaction, as `describePsbt` checks it.
 */
export function signPsbt(
  psbt: Uint8Array,
  seed: Uint8Array,
  networkName: BitcoinNetworkName,
  options: DescribeOptions = {},
): SignResult {
  const network = bitcoinNetwork(networkName);
  if (options.requirePrevTx === true) describePsbt(psbt, networkName, options);
  const tx = parsePsbt(psbt);
  const master = masterNode(seed, networkName);
  const signed: number[] = [];
  const skipped: number[] = [];
  for (let idx = 0; idx < tx.inputsLength; idx++) {
    const node = keyForInput(tx, idx, master, network);
    if (node === null || node.privateKey === null) {
      skipped.push(idx);
      continue;
    }
    tx.signIdx(node.privateKey, idx, [SigHash.ALL]);
    signed.push(idx);
    node.wipePrivateData();
  }
  master.wipePrivateData();
  return { psbt: tx.toPSBT(0), signed, skipped };
}

/** Finalizes every input and extracts the transaction; refuses a PSBT with an unsigned input. */
export function finalizePsbt(psbt: Uint8Array): FinalTransaction {
  const tx = parsePsbt(psbt);
  try {
    tx.finalize();
  } catch (error) {
    throw new BitcoinTxError("malformedPsbt", `cannot finalize: ${(error as Error).message}`);
  }
  const bytes = tx.extract();
  return { bytes, hex: Buffer.from(bytes).toString("hex"), txid: tx.id, vsize: tx.vsize, weight: tx.weight };
}

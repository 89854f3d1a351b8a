// Unsigned PSBTs (BIP174, version 0) spending P2WPKH outputs of BIP84 accounts: built by custody
// from watch-only keys, exported as base64 for offline signing (cold refills), read back with
// explicit size and count limits, and described from their own bytes for the signer's check.

import { equalBytes } from "@noble/curves/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { Address, OutScript, RawTx, Transaction } from "@scure/btc-signer";
import { BitcoinTxError } from "./errors.ts";
import { type AddressChain, CHANGE_CHAIN, deriveAddress, type WatchOnlyAccount } from "./keys.ts";
import { type BitcoinNetwork, type BitcoinNetworkName, bitcoinNetwork } from "./network.ts";
import { dustThreshold, feeFor, p2wpkhTxWeight, vsizeOfWeight } from "./size.ts";

/** Most inputs one transaction may spend (a consolidation goes in several transactions). */
export const MAX_TX_INPUTS = 200;
/** Most outputs one transaction may have, change included (batched withdrawals). */
export const MAX_TX_OUTPUTS = 100;
/** Largest PSBT accepted, in bytes (far above MAX_TX_INPUTS × a P2WPKH input with its fields). */
export const MAX_PSBT_BYTES = 256 * 1024;
/** Highest fee rate accepted, sat/vB: a guard against a fee typed in sat/kvB or BTC/kvB. */
export const MAX_FEE_RATE = 2_000n;
/** 21 million BTC in satoshi: no single amount can exceed it. */
export const MAX_MONEY = 2_100_000_000_000_000n;
/** Longest address text accepted (a P2WSH/P2TR bech32 address is 62 characters on mainnet). */
export const MAX_ADDRESS_LENGTH = 100;
/** nSequence signalling replace-by-fee (BIP125), so a stuck transaction can be bumped. */
export const RBF_SEQUENCE = 0xfffffffd;

/** An unspent P2WPKH output of one of our accounts, with where its key sits. */
export interface SpendableUtxo {
  /** Transaction id in the usual display (big-endian) hex. */
  txid: string;
  vout: number;
  value: bigint;
  account: WatchOnlyAccount;
  chain: AddressChain;
  index: number;
  /**
   * The full previous transaction (raw bytes), carried as the PSBT's nonWitnessUtxo so that a
   * signer can check the value from the txid instead of trusting witnessUtxo (see README).
   */
  prevTx?: Uint8Array;
}

export interface PaymentRequest {
  address: string;
  amount: bigint;
}

export interface BuildPsbtRequest {
  network: BitcoinNetworkName;
  /** Spent in the order given; the caller (custody's coin selection) chooses them. */
  utxos: readonly SpendableUtxo[];
  /** Paid in the order given. */
  payments: readonly PaymentRequest[];
  /** Change goes to chain 1 of this account at this index. */
  change: { account: WatchOnlyAccount; index: number };
  /** sat/vB, 1..MAX_FEE_RATE. */
  feeRate: bigint;
}

export interface BuiltPsbt {
  psbt: Uint8Array;
  fee: bigint;
  /** 0n when the change would have been dust and went to the fee instead. */
  change: bigint;
  /** Output index of the change, or null when there is none. */
  changeOutput: number | null;
  /** Upper bound on the signed transaction's vsize, which `fee` pays for at `feeRate`. */
  vsizeEstimate: number;
}

/** An output as read from a PSBT's own bytes. */
export interface DescribedOutput {
  address: string;
  amount: bigint;
  /** BIP32 paths the PSBT claims for this output (our change carries one). Unverified. */
  derivations: ClaimedDerivation[];
}

export interface DescribedInput {
  txid: string;
  vout: number;
  value: bigint;
  /** The address of the spent output, or null when its script has no address form. */
  address: string | null;
  derivations: ClaimedDerivation[];
}

export interface ClaimedDerivation {
  publicKey: Uint8Array;
  fingerprint: number;
  path: number[];
}

export interface PsbtDescription {
  /** Id of the transaction once signed (segwit txids do not cover witnesses). */
  txid: string;
  inputs: DescribedInput[];
  outputs: DescribedOutput[];
  totalIn: bigint;
  totalOut: bigint;
  fee: bigint;
}

function checkAmount(amount: bigint, what: string): void {
  if (typeof amount !== "bigint" || amount <= 0n || amount > MAX_MONEY)
    throw new BitcoinTxError("badAmount", `${what} must be a bigint in 1..${MAX_MONEY} satoshi`);
}

function checkFeeRate(feeRate: bigint): void {
  if (typeof feeRate !== "bigint" || feeRate < 1n || feeRate > MAX_FEE_RATE)
    throw new BitcoinTxError("badFeeRate", `fee rate must be a bigint in 1..${MAX_FEE_RATE} sat/vB`);
}

const PAYABLE_TYPES = new Set(["pkh", "sh", "wpkh", "wsh", "tr"]);

/** The output script for `address` on `network`; refuses other networks and non-standard types. */
export function scriptForAddress(address: string, network: BitcoinNetwork): Uint8Array {
  if (typeof address !== "string" || address.length === 0 || address.length > MAX_ADDRESS_LENGTH)
    throw new BitcoinTxError("badAddress", "address missing or too long");
  let decoded: ReturnType<ReturnType<typeof Address>["decode"]>;
  try {
    decoded = Address(network.params).decode(address);
  } catch (error) {
    throw new BitcoinTxError("badAddress", `not a ${network.name} address: ${(error as Error).message}`);
  }
  if (!PAYABLE_TYPES.has(decoded.type))
    throw new BitcoinTxError("badAddress", `address type ${decoded.type} is not paid to`);
  return OutScript.encode(decoded);
}

/** Whether `address` is a payable address of `network`. Never throws. */
export function isValidAddress(address: string, networkName: BitcoinNetworkName): boolean {
  try {
    scriptForAddress(address, bitcoinNetwork(networkName));
    return true;
  } catch {
    return false;
  }
}

const TXID = /^[0-9a-f]{64}$/;

function checkUtxos(utxos: readonly SpendableUtxo[]): bigint {
  if (utxos.length === 0) throw new BitcoinTxError("insufficientFunds", "no inputs to spend");
  if (utxos.length > MAX_TX_INPUTS)
    throw new BitcoinTxError("tooManyInputs", `${utxos.length} inputs, at most ${MAX_TX_INPUTS}`);
  const seen = new Set<string>();
  let total = 0n;
  for (const utxo of utxos) {
    if (!TXID.test(utxo.txid) || !Number.isInteger(utxo.vout) || utxo.vout < 0 || utxo.vout > 0xffffffff)
      throw new BitcoinTxError("badAmount", `bad outpoint ${utxo.txid}:${utxo.vout}`);
    const outpoint = `${utxo.txid}:${utxo.vout}`;
    if (seen.has(outpoint)) throw new BitcoinTxError("badAmount", `outpoint ${outpoint} spent twice`);
    seen.add(outpoint);
    checkAmount(utxo.value, `input ${outpoint}`);
    total += utxo.value;
  }
  return total;
}

interface PlannedOutput {
  script: Uint8Array;
  amount: bigint;
}

function planPayments(payments: readonly PaymentRequest[], network: BitcoinNetwork): PlannedOutput[] {
  if (payments.length === 0) throw new BitcoinTxError("tooManyOutputs", "no payments");
  if (payments.length + 1 > MAX_TX_OUTPUTS)
    throw new BitcoinTxError("tooManyOutputs", `${payments.length} payments, at most ${MAX_TX_OUTPUTS - 1}`);
  return payments.map((payment) => {
    checkAmount(payment.amount, `payment to ${payment.address}`);
    const script = scriptForAddress(payment.address, network);
    const dust = dustThreshold(script);
    if (payment.amount < dust)
      throw new BitcoinTxError(
        "dust",
        `payment of ${payment.amount} to ${payment.address} is below dust (${dust})`,
      );
    return { script, amount: payment.amount };
  });
}

interface FeePlan {
  fee: bigint;
  change: bigint;
  vsize: number;
}

/** Fee and change: change only when it is not dust, else the remainder goes to the fee. */
function planFee(
  inputCount: number,
  outputs: readonly PlannedOutput[],
  changeScript: Uint8Array,
  totalIn: bigint,
  feeRate: bigint,
): FeePlan {
  const paid = outputs.reduce((sum, output) => sum + output.amount, 0n);
  const lengths = outputs.map((output) => output.script.length);
  const withChange = vsizeOfWeight(p2wpkhTxWeight(inputCount, [...lengths, changeScript.length]));
  const change = totalIn - paid - feeFor(withChange, feeRate);
  if (change >= dustThreshold(changeScript))
    return { fee: totalIn - paid - change, change, vsize: withChange };
  const without = vsizeOfWeight(p2wpkhTxWeight(inputCount, lengths));
  const need = paid + feeFor(without, feeRate);
  if (totalIn < need)
    throw new BitcoinTxError("insufficientFunds", `inputs hold ${totalIn}, payments and fee need ${need}`);
  return { fee: totalIn - paid, change: 0n, vsize: without };
}

function addInput(tx: Transaction, utxo: SpendableUtxo): void {
  const key = deriveAddress(utxo.account, utxo.chain, utxo.index);
  const input = {
    txid: utxo.txid,
    index: utxo.vout,
    sequence: RBF_SEQUENCE,
    witnessUtxo: { script: key.script, amount: utxo.value },
    bip32Derivation: [[key.publicKey, { fingerprint: utxo.account.masterFingerprint, path: key.path }]] as [
      Uint8Array,
      { fingerprint: number; path: number[] },
    ][],
  };
  try {
    tx.addInput(utxo.prevTx === undefined ? input : { ...input, nonWitnessUtxo: utxo.prevTx });
  } catch (error) {
    throw new BitcoinTxError("badAmount", `input ${utxo.txid}:${utxo.vout}: ${(error as Error).message}`);
  }
}

/** An unsigned PSBT paying `payments` from `utxos`, change to the change account, at `feeRate`. */
export function buildPsbt(request: BuildPsbtRequest): BuiltPsbt {
  const network = bitcoinNetwork(request.network);
  checkFeeRate(request.feeRate);
  const totalIn = checkUtxos(request.utxos);
  const outputs = planPayments(request.payments, network);
  const changeKey = deriveAddress(request.change.account, CHANGE_CHAIN, request.change.index);
  const plan = planFee(request.utxos.length, outputs, changeKey.script, totalIn, request.feeRate);

  const tx = new Transaction({ version: 2, lockTime: 0 });
  for (const utxo of request.utxos) addInput(tx, utxo);
  for (const output of outputs) tx.addOutput({ script: output.script, amount: output.amount });
  let changeOutput: number | null = null;
  if (plan.change > 0n) {
    changeOutput = tx.addOutput({
      script: changeKey.script,
      amount: plan.change,
      bip32Derivation: [
        [
          changeKey.publicKey,
          { fingerprint: request.change.account.masterFingerprint, path: changeKey.path },
        ],
      ],
    });
  }
  return { psbt: tx.toPSBT(0), fee: plan.fee, change: plan.change, changeOutput, vsizeEstimate: plan.vsize };
}

export function psbtToBase64(psbt: Uint8Array): string {
  return Buffer.from(psbt).toString("base64");
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes a base64 PSBT (as exported for offline signing); refuses oversized or non-canonical text. */
export function psbtFromBase64(text: string): Uint8Array {
  if (typeof text !== "string" || text.length > Math.ceil(MAX_PSBT_BYTES / 3) * 4)
    throw new BitcoinTxError("malformedPsbt", `PSBT text missing or longer than ${MAX_PSBT_BYTES} bytes`);
  const trimmed = text.trim();
  if (trimmed.length % 4 !== 0 || !BASE64.test(trimmed))
    throw new BitcoinTxError("malformedPsbt", "PSBT text is not base64");
  const bytes = new Uint8Array(Buffer.from(trimmed, "base64"));
  parsePsbt(bytes);
  return bytes;
}

/** Parses PSBT bytes within the size and count limits; every reader goes through here. */
export function parsePsbt(psbt: Uint8Array): Transaction {
  if (!(psbt instanceof Uint8Array) || psbt.length > MAX_PSBT_BYTES)
    throw new BitcoinTxError("malformedPsbt", `PSBT missing or larger than ${MAX_PSBT_BYTES} bytes`);
  let tx: Transaction;
  try {
    tx = Transaction.fromPSBT(psbt);
  } catch (error) {
    throw new BitcoinTxError("malformedPsbt", `not a valid PSBT: ${(error as Error).message}`);
  }
  if (tx.inputsLength > MAX_TX_INPUTS)
    throw new BitcoinTxError("tooManyInputs", `${tx.inputsLength} inputs, at most ${MAX_TX_INPUTS}`);
  if (tx.outputsLength > MAX_TX_OUTPUTS)
    throw new BitcoinTxError("tooManyOutputs", `${tx.outputsLength} outputs, at most ${MAX_TX_OUTPUTS}`);
  return tx;
}

function claimed(
  derivations: readonly [Uint8Array, { fingerprint: number; path: number[] }][] | undefined,
): ClaimedDerivation[] {
  return (derivations ?? []).map(([publicKey, { fingerprint, path }]) => ({
    publicKey,
    fingerprint,
    path: [...path],
  }));
}

function addressOf(script: Uint8Array, network: BitcoinNetwork): string | null {
  try {
    return Address(network.params).encode(OutScript.decode(script));
  } catch {
    return null;
  }
}

export interface DescribeOptions {
  /**
   * Every input must carry its full previous transaction (nonWitnessUtxo) whose txid is the
   * outpoint's: values are then proven, not claimed (closes the segwit v0 fee attack).
   */
  requirePrevTx?: boolean;
}

type TxInput = ReturnType<Transaction["getInput"]>;
type Prevout = { script: Uint8Array; amount: bigint };

/** Txid (display order) of a parsed previous transaction: double SHA-256 without witnesses. */
function txidOfRaw(raw: NonNullable<TxInput["nonWitnessUtxo"]>): Uint8Array {
  const stripped = RawTx.encode({ ...raw, segwitFlag: false, witnesses: undefined });
  return sha256(sha256(stripped)).reverse();
}

/** The spent output, from the full previous transaction (checked against the txid) if present. */
function prevoutOf(input: TxInput, idx: number, options: DescribeOptions): Prevout {
  const full = input.nonWitnessUtxo;
  if (full === undefined) {
    if (options.requirePrevTx === true)
      throw new BitcoinTxError("malformedPsbt", `input ${idx} lacks its previous transaction`);
    if (input.witnessUtxo === undefined)
      throw new BitcoinTxError("malformedPsbt", `input ${idx} does not say what it spends (no UTXO field)`);
    return input.witnessUtxo;
  }
  if (!equalBytes(txidOfRaw(full), input.txid!))
    throw new BitcoinTxError("malformedPsbt", `input ${idx}: previous transaction does not hash to its txid`);
  const prevout = full.outputs[input.index!];
  if (prevout === undefined) throw new BitcoinTxError("malformedPsbt", `input ${idx}: no such output`);
  const claimed = input.witnessUtxo;
  if (
    claimed !== undefined &&
    (claimed.amount !== prevout.amount || !equalBytes(claimed.script, prevout.script))
  )
    throw new BitcoinTxError(
      "malformedPsbt",
      `input ${idx}: witnessUtxo differs from the previous transaction`,
    );
  return prevout;
}

function describeInput(
  tx: Transaction,
  idx: number,
  network: BitcoinNetwork,
  options: DescribeOptions,
): DescribedInput {
  const input = tx.getInput(idx);
  if (input.txid === undefined || input.index === undefined)
    throw new BitcoinTxError("malformedPsbt", `input ${idx} has no outpoint`);
  const prevout = prevoutOf(input, idx, options);
  return {
    txid: Buffer.from(input.txid).toString("hex"),
    vout: input.index,
    value: prevout.amount,
    address: addressOf(prevout.script, network),
    derivations: claimed(input.bip32Derivation),
  };
}

function describeOutput(tx: Transaction, idx: number, network: BitcoinNetwork): DescribedOutput {
  const output = tx.getOutput(idx);
  if (output.script === undefined || output.amount === undefined)
    throw new BitcoinTxError("malformedPsbt", `output ${idx} has no script or amount`);
  const address = addressOf(output.script, network);
  if (address === null) throw new BitcoinTxError("badAddress", `output ${idx} pays a script with no address`);
  return { address, amount: output.amount, derivations: claimed(output.bip32Derivation) };
}

/**
 * What a PSBT pays, read from its own bytes only: every output as address and amount, every
 * input with the value it claims to spend, and the fee. Throws when any of it cannot be read
 * (an input without its UTXO, an output without an address form, outputs above inputs).
 */
export function describePsbt(
  psbt: Uint8Array,
  networkName: BitcoinNetworkName,
  options: DescribeOptions = {},
): PsbtDescription {
  const network = bitcoinNetwork(networkName);
  const tx = parsePsbt(psbt);
  const inputs = Array.from({ length: tx.inputsLength }, (_, idx) =>
    describeInput(tx, idx, network, options),
  );
  const outputs = Array.from({ length: tx.outputsLength }, (_, idx) => describeOutput(tx, idx, network));
  const totalIn = inputs.reduce((sum, input) => sum + input.value, 0n);
  const totalOut = outputs.reduce((sum, output) => sum + output.amount, 0n);
  if (totalOut > totalIn)
    throw new BitcoinTxError("insufficientFunds", `outputs ${totalOut} exceed inputs ${totalIn}`);
  return { txid: tx.id, inputs, outputs, totalIn, totalOut, fee: totalIn - totalOut };
}

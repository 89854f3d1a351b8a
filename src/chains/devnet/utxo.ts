// The devnet UTXO chain (BTC, 8 decimals): outputs locked to addresses, spent whole by signed
// inputs, the difference between inputs and outputs is the fee.
//
// Payload (canonical, version 1):
//   u8 version (1) | u8 chain tag (0x01) | u8 kind (0 transfer, 1 faucet)
//   transfer: u16 input count | inputs | u16 output count | outputs
//   input:    32-byte txid | u32 output index | u16-prefixed address | u64 amount of the coin spent
//             (address and amount are checked against the coin: the signature commits to them,
//             and a signer can read the fee from the payload alone, as BIP143 allows)
//   faucet:   u64 faucet nonce | u16 output count (1) | outputs
//   output:   u16-prefixed address | u64 amount (satoshi)
// Witnesses: one per distinct input address, in order of first appearance among the inputs (the
// `signers` of the unsigned transaction), each a key hashing to that address and its signature.
// Fee rate: satoshi per payload byte.

import { sha256 } from "@noble/hashes/sha2.js";
import {
  type ChainAdapter,
  type ChainAsset,
  checkLimit,
  type FeeEstimate,
  type PaymentRequest,
  type UnsignedTransaction,
} from "../adapter.ts";
import {
  DevnetChain,
  type DevnetOptions,
  DevnetRejectError,
  type DevnetRules,
  type DevnetTx,
} from "./chain.ts";
import { ByteReader, ByteWriter, DevnetFormatError, fromHex, toHex } from "./codec.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  normalizeUtxoAddress,
  PUBLIC_KEY_BYTES,
  signingDigest,
  utxoAddress,
  verifyWitness,
} from "./keys.ts";

export const UTXO_PAYLOAD_VERSION = 1;
export const UTXO_CHAIN_TAG = 0x01;
export const UTXO_ASSET: ChainAsset = { symbol: "BTC", decimals: 8 };
export const DEFAULT_UTXO_PREFIX = "dvbtc";
const MAX_INPUTS = 1_000;
const MAX_OUTPUTS = 1_000;
const MAX_AMOUNT = 21_000_000n * 100_000_000n;

export interface UtxoInput {
  txid: string;
  index: number;
  /** Address and amount of the coin spent (checked by the chain). */
  address: string;
  amount: bigint;
}

export interface UtxoTx extends DevnetTx {
  payload: Uint8Array;
  inputs: UtxoInput[];
  witnesses: Uint8Array[];
}

interface Coin {
  address: string;
  amount: bigint;
}

/** Unspent outputs by "txid:index". */
export type UtxoState = Map<string, Coin>;

const outpoint = (txid: string, index: number) => `${txid}:${index}`;

export function encodeUtxoPayload(
  tx: { inputs: readonly UtxoInput[]; outputs: readonly { address: string; amount: bigint }[] },
  faucetNonce?: bigint,
): Uint8Array {
  const w = new ByteWriter()
    .u8(UTXO_PAYLOAD_VERSION)
    .u8(UTXO_CHAIN_TAG)
    .u8(faucetNonce === undefined ? 0 : 1);
  if (faucetNonce === undefined) {
    w.u16(tx.inputs.length);
    for (const input of tx.inputs)
      w.raw(fromHex(input.txid)).u32(input.index).string(input.address).uint(input.amount, 8);
  } else w.uint(faucetNonce, 8);
  w.u16(tx.outputs.length);
  for (const out of tx.outputs) w.string(out.address).uint(out.amount, 8);
  return w.finish();
}

export class UtxoDevnet extends DevnetChain<UtxoTx, UtxoState> implements ChainAdapter {
  readonly prefix: string;

  constructor(options: DevnetOptions & { chain?: string; prefix?: string } = {}) {
    const prefix = options.prefix ?? DEFAULT_UTXO_PREFIX;
    super(options.chain ?? "devnet-btc", [UTXO_ASSET], utxoRules(prefix), options);
    this.prefix = prefix;
  }

  normalizeAddress(address: string): string | null {
    return normalizeUtxoAddress(address, this.prefix);
  }

  /** This chain's address of a compressed secp256k1 public key. */
  addressOf(publicKey: Uint8Array): string {
    return utxoAddress(publicKey, this.prefix);
  }

  /** Confirmed balance of an address (a linear walk over the UTXO set: for tests and drills). */
  balance(address: string, confirmedOnly = true): bigint {
    let sum = 0n;
    for (const coin of (confirmedOnly ? this.confirmed : this.pending).values())
      if (coin.address === address) sum += coin.amount;
    return sum;
  }

  protected spendsOf(tx: UtxoTx): { address: string; asset: string; amount: bigint }[] {
    return tx.inputs.map((input) => ({
      address: input.address,
      asset: UTXO_ASSET.symbol,
      amount: input.amount,
    }));
  }

  protected faucetTransaction(address: string, _asset: string, amount: bigint, nonce: bigint): Uint8Array {
    return encodeEnvelope(encodeUtxoPayload({ inputs: [], outputs: [{ address, amount }] }, nonce), []);
  }

  async estimateFee(asset: string): Promise<FeeEstimate> {
    if (asset !== UTXO_ASSET.symbol) throw new DevnetRejectError(`${this.chain} has no asset ${asset}`);
    const feeRate = this.nextBlockFeeRate();
    // One input, two outputs: 3 + 2 + (36 + 2 + 44 + 8) + 2 + 2 * (2 + 44 + 8) bytes.
    const typicalBytes = 205n;
    return {
      asset,
      feeRate,
      minFeeRate: this.minFeeRate,
      typicalFee: feeRate * typicalBytes,
      feeAsset: "BTC",
    };
  }

  async buildPayment(request: PaymentRequest): Promise<UnsignedTransaction> {
    if (request.asset !== UTXO_ASSET.symbol)
      throw new DevnetRejectError(`${this.chain} has no asset ${request.asset}`);
    checkLimit(this.limits, "maxPaymentSources", request.sources.length);
    const to = this.requireAddress(request.to);
    const sources = new Set(request.sources.map((s) => this.requireAddress(s)));
    const change = this.requireAddress(request.changeAddress ?? request.sources[0] ?? "");
    if (request.amount <= 0n) throw new DevnetRejectError("amount must be positive");
    const feeRate = request.feeRate ?? (await this.estimateFee("BTC")).feeRate;
    const coins = [...this.pending.entries()]
      .filter(([, coin]) => sources.has(coin.address))
      .sort(([ka, a], [kb, b]) =>
        a.amount !== b.amount ? (a.amount > b.amount ? -1 : 1) : ka < kb ? -1 : 1,
      );
    const inputs: UtxoInput[] = [];
    const signers: string[] = [];
    let total = 0n;
    for (const [key, coin] of coins) {
      if (inputs.length >= MAX_INPUTS) break;
      const split = key.lastIndexOf(":");
      inputs.push({ txid: key.slice(0, split), index: Number(key.slice(split + 1)), ...coin });
      if (!signers.includes(coin.address)) signers.push(coin.address);
      total += coin.amount;
      const withChange = [
        { address: to, amount: request.amount },
        { address: change, amount: 1n },
      ];
      const fee = feeRate * BigInt(encodeUtxoPayload({ inputs, outputs: withChange }).length);
      if (total < request.amount + fee) continue;
      const rest = total - request.amount - fee;
      const outputs = rest > 0n ? [withChange[0], { address: change, amount: rest }] : [withChange[0]];
      const payload = encodeUtxoPayload({ inputs, outputs });
      return { chain: this.chain, payload, signers, fee: total - request.amount - rest, feeAsset: "BTC" };
    }
    throw new DevnetRejectError(
      `insufficient funds: ${total} available from the sources, ${request.amount} + fee needed`,
    );
  }

  private requireAddress(address: string): string {
    const canonical = this.normalizeAddress(address);
    if (canonical === null) throw new DevnetRejectError(`not a ${this.chain} address: ${address}`);
    return canonical;
  }
}

function decodeUtxo(bytes: Uint8Array, prefix: string): UtxoTx {
  const { payload, witnesses } = decodeEnvelope(bytes);
  const r = new ByteReader(payload);
  const version = r.u8();
  if (version !== UTXO_PAYLOAD_VERSION) throw new DevnetFormatError(`unknown payload version ${version}`);
  if (r.u8() !== UTXO_CHAIN_TAG) throw new DevnetFormatError("not a UTXO-chain transaction");
  const kind = r.u8();
  if (kind > 1) throw new DevnetFormatError(`unknown transaction kind ${kind}`);
  const faucet = kind === 1;
  const inputs: UtxoInput[] = [];
  if (faucet) r.uint(8);
  else {
    const n = r.u16();
    if (n === 0 || n > MAX_INPUTS) throw new DevnetFormatError(`${n} inputs, 1..${MAX_INPUTS} allowed`);
    for (let i = 0; i < n; i++) {
      const input = { txid: toHex(r.raw(32)), index: r.u32(), address: r.string(), amount: r.uint(8) };
      if (normalizeUtxoAddress(input.address, prefix) !== input.address)
        throw new DevnetFormatError(`bad input address ${input.address}`);
      inputs.push(input);
    }
  }
  const m = r.u16();
  if (m === 0 || m > MAX_OUTPUTS || (faucet && m !== 1))
    throw new DevnetFormatError(`${m} outputs, 1..${faucet ? 1 : MAX_OUTPUTS} allowed`);
  const outputs = [];
  for (let i = 0; i < m; i++) {
    const address = r.string();
    const amount = r.uint(8);
    if (normalizeUtxoAddress(address, prefix) !== address)
      throw new DevnetFormatError(`bad address ${address}`);
    if (amount <= 0n || amount > MAX_AMOUNT) throw new DevnetFormatError(`bad amount ${amount}`);
    outputs.push({ address, asset: UTXO_ASSET.symbol, amount });
  }
  r.end();
  if (faucet && witnesses.length > 0)
    throw new DevnetFormatError("a faucet transaction carries no signatures");
  const txid = toHex(sha256(sha256(payload)));
  return { txid, bytes, faucet, outputs, payload, inputs, witnesses };
}

function utxoRules(prefix: string): DevnetRules<UtxoTx, UtxoState> {
  return {
    decode: (bytes) => decodeUtxo(bytes, prefix),
    newState: () => new Map(),
    cloneState: (state) => new Map(state),
    check(state, tx, verifySignatures) {
      if (tx.faucet) return 0n;
      const seen = new Set<string>();
      const signers: string[] = [];
      let total = 0n;
      for (const input of tx.inputs) {
        const key = outpoint(input.txid, input.index);
        if (seen.has(key)) throw new DevnetRejectError(`input ${key} spent twice in one transaction`);
        seen.add(key);
        const coin = state.get(key);
        if (coin === undefined) throw new DevnetRejectError(`input ${key} is missing or already spent`);
        if (coin.address !== input.address || coin.amount !== input.amount)
          throw new DevnetRejectError(`input ${key} does not match the coin it spends`);
        if (!signers.includes(coin.address)) signers.push(coin.address);
        total += coin.amount;
      }
      let out = 0n;
      for (const o of tx.outputs) out += o.amount;
      if (out > total) throw new DevnetRejectError(`outputs ${out} exceed inputs ${total}`);
      if (verifySignatures) {
        if (tx.witnesses.length !== signers.length)
          throw new DevnetRejectError(`${tx.witnesses.length} signatures, ${signers.length} needed`);
        const digest = signingDigest(tx.payload);
        signers.forEach((address, i) => {
          const witness = tx.witnesses[i];
          if (utxoAddress(witness.subarray(0, PUBLIC_KEY_BYTES), prefix) !== address)
            throw new DevnetRejectError(`signature ${i} is not by the owner of ${address}`);
          if (!verifyWitness(tx.payload, witness, digest))
            throw new DevnetRejectError(`bad signature for ${address}`);
        });
      }
      return (total - out) / BigInt(tx.payload.length);
    },
    apply(state, tx) {
      for (const input of tx.inputs) state.delete(outpoint(input.txid, input.index));
      tx.outputs.forEach((o, i) => {
        state.set(outpoint(tx.txid, i), { address: o.address, amount: o.amount });
      });
    },
  };
}

/**
 * Reads an unsigned UTXO payload completely (for the signer's plugin, which trusts no one's
 * description of it): the coins it spends, the payments it makes and the fee. Throws on anything
 * malformed or on a faucet payload.
 */
export function describeUtxoPayload(
  payload: Uint8Array,
  prefix = DEFAULT_UTXO_PREFIX,
): {
  inputs: UtxoInput[];
  payments: { to: string; asset: string; amount: bigint }[];
  fee: bigint;
  feeAsset: string;
} {
  const tx = decodeUtxo(encodeEnvelope(payload, []), prefix);
  if (tx.faucet) throw new DevnetFormatError("a faucet payload is not a payment");
  let fee = 0n;
  for (const input of tx.inputs) fee += input.amount;
  for (const out of tx.outputs) fee -= out.amount;
  if (fee < 0n) throw new DevnetFormatError("outputs exceed inputs");
  const payments = tx.outputs.map((o) => ({ to: o.address, asset: o.asset, amount: o.amount }));
  return { inputs: tx.inputs, payments, fee, feeAsset: UTXO_ASSET.symbol };
}

// The devnet account chain: a native coin (ETH, 18 decimals) and a token standard (USDT, 6
// decimals, at a contract address), balances per account, one nonce per sender.
//
// Payload (canonical, version 1):
//   u8 version (1) | u8 chain tag (0x02) | u8 kind (0 transfer, 1 faucet)
//   20-byte from (zero for the faucet) | u64 nonce (the faucet's own counter for the faucet)
//   20-byte to | 20-byte token contract (zero for the native coin) | u256 amount | u64 gas price
// One witness, by the key whose address is `from`. Fee: gas price × gas (21,000 for the native
// coin, 65,000 for a token transfer), paid in ETH; the fee rate is the gas price (wei per gas).
// The transaction's one transfer has output index 0.

import { keccak_256 } from "@noble/hashes/sha3.js";
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
  accountAddress,
  decodeEnvelope,
  encodeEnvelope,
  normalizeAccountAddress,
  PUBLIC_KEY_BYTES,
  verifyWitness,
} from "./keys.ts";

export const ACCOUNT_PAYLOAD_VERSION = 1;
export const ACCOUNT_CHAIN_TAG = 0x02;
export const ZERO_ADDRESS = `0x${"00".repeat(20)}`;
/** The devnet USDT contract: a fixed address derived from its name. */
export const DEVNET_USDT_CONTRACT = `0x${toHex(keccak_256(new TextEncoder().encode("bulwark-devnet-usdt")).subarray(12))}`;
export const ETH_ASSET: ChainAsset = { symbol: "ETH", decimals: 18 };
export const USDT_ASSET: ChainAsset = { symbol: "USDT", decimals: 6, contract: DEVNET_USDT_CONTRACT };
export const NATIVE_GAS = 21_000n;
export const TOKEN_GAS = 65_000n;
const MAX_AMOUNT = (1n << 256n) - 1n;

export interface AccountTx extends DevnetTx {
  payload: Uint8Array;
  from: string;
  nonce: bigint;
  to: string;
  /** Token contract, or ZERO_ADDRESS for the native coin. */
  token: string;
  amount: bigint;
  gasPrice: bigint;
  witnesses: Uint8Array[];
}

export interface AccountState {
  native: Map<string, bigint>;
  /** Token contract → holder → balance. */
  tokens: Map<string, Map<string, bigint>>;
  nonces: Map<string, bigint>;
}

export interface AccountPayloadFields {
  from: string;
  nonce: bigint;
  to: string;
  token: string;
  amount: bigint;
  gasPrice: bigint;
}

export function encodeAccountPayload(f: AccountPayloadFields, faucet = false): Uint8Array {
  return new ByteWriter()
    .u8(ACCOUNT_PAYLOAD_VERSION)
    .u8(ACCOUNT_CHAIN_TAG)
    .u8(faucet ? 1 : 0)
    .raw(fromHex(f.from.slice(2)))
    .uint(f.nonce, 8)
    .raw(fromHex(f.to.slice(2)))
    .raw(fromHex(f.token.slice(2)))
    .uint(f.amount, 32)
    .uint(f.gasPrice, 8)
    .finish();
}

const gasOf = (token: string) => (token === ZERO_ADDRESS ? NATIVE_GAS : TOKEN_GAS);

export class AccountDevnet extends DevnetChain<AccountTx, AccountState> implements ChainAdapter {
  constructor(options: DevnetOptions & { chain?: string } = {}) {
    super(options.chain ?? "devnet-eth", [ETH_ASSET, USDT_ASSET], accountRules, options);
  }

  normalizeAddress(address: string): string | null {
    return normalizeAccountAddress(address);
  }

  addressOf(publicKey: Uint8Array): string {
    return accountAddress(publicKey);
  }

  /** Balance of an asset ("ETH" or a token symbol), confirmed or including the mempool. */
  balance(address: string, asset: string, confirmedOnly = true): bigint {
    const state = confirmedOnly ? this.confirmed : this.pending;
    const token = this.contractOf(asset);
    const book = token === ZERO_ADDRESS ? state.native : state.tokens.get(token);
    return book?.get(address.toLowerCase()) ?? 0n;
  }

  /** Next nonce of a sender, counting its transactions in the mempool. */
  nonceOf(address: string): bigint {
    return this.pending.nonces.get(address.toLowerCase()) ?? 0n;
  }

  private contractOf(asset: string): string {
    if (asset === ETH_ASSET.symbol) return ZERO_ADDRESS;
    const found = this.assets.find((a) => a.symbol === asset);
    if (found?.contract === undefined) throw new DevnetRejectError(`${this.chain} has no asset ${asset}`);
    return found.contract;
  }

  protected spendsOf(tx: AccountTx): { address: string; asset: string; amount: bigint }[] {
    const spends = tx.outputs.map((out) => ({ address: tx.from, asset: out.asset, amount: out.amount }));
    spends.push({ address: tx.from, asset: ETH_ASSET.symbol, amount: tx.gasPrice * gasOf(tx.token) });
    return spends;
  }

  protected faucetTransaction(address: string, asset: string, amount: bigint, nonce: bigint): Uint8Array {
    const token = this.contractOf(asset);
    const payload = encodeAccountPayload(
      { from: ZERO_ADDRESS, nonce, to: address, token, amount, gasPrice: 0n },
      true,
    );
    return encodeEnvelope(payload, []);
  }

  async estimateFee(asset: string): Promise<FeeEstimate> {
    const feeRate = this.nextBlockFeeRate();
    const gas = gasOf(this.contractOf(asset));
    return { asset, feeRate, minFeeRate: this.minFeeRate, typicalFee: feeRate * gas, feeAsset: "ETH" };
  }

  async buildPayment(request: PaymentRequest): Promise<UnsignedTransaction> {
    checkLimit(this.limits, "maxPaymentSources", request.sources.length);
    if (request.sources.length !== 1)
      throw new DevnetRejectError("an account-chain payment has exactly one source");
    const from = this.requireAddress(request.sources[0]);
    const to = this.requireAddress(request.to);
    const token = this.contractOf(request.asset);
    if (request.amount <= 0n) throw new DevnetRejectError("amount must be positive");
    const gasPrice = request.feeRate ?? (await this.estimateFee(request.asset)).feeRate;
    const fee = gasPrice * gasOf(token);
    const payload = encodeAccountPayload({
      from,
      nonce: this.nonceOf(from),
      to,
      token,
      amount: request.amount,
      gasPrice,
    });
    return { chain: this.chain, payload, signers: [from], fee, feeAsset: "ETH" };
  }

  private requireAddress(address: string): string {
    const canonical = this.normalizeAddress(address);
    if (canonical === null) throw new DevnetRejectError(`not a ${this.chain} address: ${address}`);
    return canonical;
  }
}

const TOKENS: ReadonlyMap<string, string> = new Map([[DEVNET_USDT_CONTRACT, USDT_ASSET.symbol]]);

function decodeAccount(bytes: Uint8Array): AccountTx {
  const { payload, witnesses } = decodeEnvelope(bytes);
  const r = new ByteReader(payload);
  const version = r.u8();
  if (version !== ACCOUNT_PAYLOAD_VERSION) throw new DevnetFormatError(`unknown payload version ${version}`);
  if (r.u8() !== ACCOUNT_CHAIN_TAG) throw new DevnetFormatError("not an account-chain transaction");
  const kind = r.u8();
  if (kind > 1) throw new DevnetFormatError(`unknown transaction kind ${kind}`);
  const from = `0x${toHex(r.raw(20))}`;
  const nonce = r.uint(8);
  const to = `0x${toHex(r.raw(20))}`;
  const token = `0x${toHex(r.raw(20))}`;
  const amount = r.uint(32);
  const gasPrice = r.uint(8);
  r.end();
  const faucet = kind === 1;
  if (faucet !== (from === ZERO_ADDRESS))
    throw new DevnetFormatError("only the faucet sends from the zero address");
  if (faucet && (witnesses.length > 0 || gasPrice !== 0n))
    throw new DevnetFormatError("malformed faucet transaction");
  const asset = token === ZERO_ADDRESS ? ETH_ASSET.symbol : TOKENS.get(token);
  if (asset === undefined) throw new DevnetFormatError(`unknown token contract ${token}`);
  if (amount <= 0n || amount > MAX_AMOUNT) throw new DevnetFormatError(`bad amount ${amount}`);
  if (to === ZERO_ADDRESS) throw new DevnetFormatError("payment to the zero address");
  const txid = toHex(keccak_256(payload));
  return {
    txid,
    bytes,
    faucet,
    outputs: [{ address: to, asset, amount }],
    payload,
    from,
    nonce,
    to,
    token,
    amount,
    gasPrice,
    witnesses,
  };
}

function witnessAddress(witness: Uint8Array): string | null {
  try {
    return accountAddress(witness.subarray(0, PUBLIC_KEY_BYTES));
  } catch {
    return null; // not a point on the curve
  }
}

const get = (book: Map<string, bigint>, address: string) => book.get(address) ?? 0n;

const accountRules: DevnetRules<AccountTx, AccountState> = {
  decode: decodeAccount,
  newState: () => ({ native: new Map(), tokens: new Map(), nonces: new Map() }),
  cloneState: (s) => ({
    native: new Map(s.native),
    tokens: new Map([...s.tokens].map(([k, v]) => [k, new Map(v)])),
    nonces: new Map(s.nonces),
  }),
  check(state, tx, verifySignatures) {
    if (tx.faucet) return 0n;
    const expected = state.nonces.get(tx.from) ?? 0n;
    if (tx.nonce < expected)
      throw new DevnetRejectError(`nonce ${tx.nonce} of ${tx.from} already used (next ${expected})`);
    if (tx.nonce > expected) throw new DevnetRejectError(`nonce gap: ${tx.nonce} sent, ${expected} expected`);
    const fee = tx.gasPrice * gasOf(tx.token);
    const native = get(state.native, tx.from);
    if (tx.token === ZERO_ADDRESS) {
      if (native < tx.amount + fee)
        throw new DevnetRejectError(`insufficient ETH: ${native} < ${tx.amount + fee}`);
    } else {
      const held = get(state.tokens.get(tx.token) ?? new Map(), tx.from);
      if (held < tx.amount) throw new DevnetRejectError(`insufficient token balance: ${held} < ${tx.amount}`);
      if (native < fee) throw new DevnetRejectError(`insufficient ETH for the fee: ${native} < ${fee}`);
    }
    if (verifySignatures) {
      if (tx.witnesses.length !== 1)
        throw new DevnetRejectError(`${tx.witnesses.length} signatures, 1 needed`);
      const witness = tx.witnesses[0];
      if (witnessAddress(witness) !== tx.from)
        throw new DevnetRejectError(`signature is not by the owner of ${tx.from}`);
      if (!verifyWitness(tx.payload, witness)) throw new DevnetRejectError(`bad signature for ${tx.from}`);
    }
    return tx.gasPrice;
  },
  apply(state, tx) {
    let book = state.native;
    if (tx.token !== ZERO_ADDRESS) {
      book = state.tokens.get(tx.token) ?? new Map();
      state.tokens.set(tx.token, book);
    }
    if (!tx.faucet) {
      state.nonces.set(tx.from, tx.nonce + 1n);
      state.native.set(tx.from, get(state.native, tx.from) - tx.gasPrice * gasOf(tx.token));
      book.set(tx.from, get(book, tx.from) - tx.amount);
    }
    book.set(tx.to, get(book, tx.to) + tx.amount);
  },
};

/**
 * Reads an unsigned account payload completely (for the signer's plugin): sender, nonce, the one
 * payment and the fee. Throws on anything malformed or on a faucet payload.
 */
export function describeAccountPayload(payload: Uint8Array): {
  from: string;
  nonce: bigint;
  payments: { to: string; asset: string; amount: bigint }[];
  fee: bigint;
  feeAsset: string;
} {
  const tx = decodeAccount(encodeEnvelope(payload, []));
  if (tx.faucet) throw new DevnetFormatError("a faucet payload is not a payment");
  const [out] = tx.outputs;
  return {
    from: tx.from,
    nonce: tx.nonce,
    payments: [{ to: out.address, asset: out.asset, amount: out.amount }],
    fee: tx.gasPrice * gasOf(tx.token),
    feeAsset: ETH_ASSET.symbol,
  };
}

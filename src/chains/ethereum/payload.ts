// The unsigned payload the ethereum adapter builds and the signing plugin reads: the sender, then
// the unsigned EIP-1559 transaction exactly as it will be signed.
//
//   u8 version (1) | u8 chain tag (0x45, "E") | 20-byte from | 0x02 || rlp([chainId, nonce,
//   maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data, accessList])
//
// The sender rides along because an EIP-1559 transaction does not name it (it is recovered from
// the signature): the signer needs it to pick the key. Only two shapes are payments and anything
// else is refused: a native transfer (empty data, value > 0) and an ERC-20 `transfer(to, amount)`
// to a configured token contract (value 0, exactly 68 bytes of calldata). The access list must be
// empty, and the transaction must re-serialize to the very bytes given (one encoding per meaning).
// The fee is the most the transaction can pay: gas × maxFeePerGas.

import {
  type Hex,
  hexToBytes,
  parseTransaction,
  serializeTransaction,
  type TransactionSerializableEIP1559,
  toHex,
} from "viem";

export const ETHEREUM_PAYLOAD_VERSION = 1;
export const ETHEREUM_CHAIN_TAG = 0x45;
/** Longest payload read: a token transfer is about 150 bytes. */
export const MAX_PAYLOAD_BYTES = 1024;
/** Most gas a payment may ask for (a plain transfer is 21,000, a token transfer ~35,000–65,000). */
export const MAX_PAYMENT_GAS = 500_000n;
/** `transfer(address,uint256)` */
export const ERC20_TRANSFER_SELECTOR = "a9059cbb";
export const ZERO_ADDRESS = `0x${"00".repeat(20)}`;
const HEADER_BYTES = 2 + 20;
const MAX_UINT256 = (1n << 256n) - 1n;

export class EthereumPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EthereumPayloadError";
  }
}

export interface PayloadContext {
  /** The chain id transactions must carry (replay protection across chains). */
  chainId: number;
  /** The native coin's symbol, e.g. "ETH". */
  nativeSymbol: string;
  /** Token contract (lower case) → symbol. */
  tokens: ReadonlyMap<string, string>;
}

export interface DecodedPayload {
  from: string;
  tx: TransactionSerializableEIP1559 & { to: Hex; nonce: number; gas: bigint };
  /** The one payment: the recipient (the token recipient for a token transfer), asset, amount. */
  payment: { to: string; asset: string; amount: bigint };
  fee: bigint;
  feeAsset: string;
  /** The token contract called, or null for a native transfer. */
  contract: string | null;
}

/** Calldata of ERC-20 `transfer(to, amount)`. */
export function erc20TransferData(to: string, amount: bigint): Hex {
  if (amount < 0n || amount > MAX_UINT256) throw new RangeError(`bad token amount ${amount}`);
  const addr = to.toLowerCase().replace(/^0x/, "").padStart(64, "0");
  return `0x${ERC20_TRANSFER_SELECTOR}${addr}${amount.toString(16).padStart(64, "0")}`;
}

export function encodeEthereumPayload(from: string, tx: TransactionSerializableEIP1559): Uint8Array {
  if (!/^0x[0-9a-f]{40}$/.test(from)) throw new EthereumPayloadError(`bad sender ${from}`);
  const body = hexToBytes(serializeTransaction({ ...tx, type: "eip1559" }));
  const out = new Uint8Array(HEADER_BYTES + body.length);
  out[0] = ETHEREUM_PAYLOAD_VERSION;
  out[1] = ETHEREUM_CHAIN_TAG;
  out.set(hexToBytes(from as Hex), 2);
  out.set(body, HEADER_BYTES);
  return out;
}

/** Reads a payload completely; throws `EthereumPayloadError` on anything else than a payment. */
export function decodeEthereumPayload(payload: Uint8Array, ctx: PayloadContext): DecodedPayload {
  const fail = (why: string): never => {
    throw new EthereumPayloadError(why);
  };
  if (!(payload instanceof Uint8Array)) fail("payload is not bytes");
  if (payload.length > MAX_PAYLOAD_BYTES) fail(`payload of ${payload.length} bytes is too long`);
  if (payload.length <= HEADER_BYTES) fail("payload too short");
  if (payload[0] !== ETHEREUM_PAYLOAD_VERSION) fail(`unknown payload version ${payload[0]}`);
  if (payload[1] !== ETHEREUM_CHAIN_TAG) fail("not an ethereum payload");
  const from = toHex(payload.subarray(2, HEADER_BYTES));
  const body = toHex(payload.subarray(HEADER_BYTES));
  if (payload[HEADER_BYTES] !== 0x02) fail("not an EIP-1559 transaction");
  let parsed: ReturnType<typeof parseTransaction>;
  try {
    parsed = parseTransaction(body);
  } catch (e) {
    return fail(`unreadable transaction: ${(e as Error).message.split("\n")[0]}`);
  }
  if (parsed.type !== "eip1559") return fail(`transaction type ${parsed.type}, EIP-1559 expected`);
  if (
    parsed.r !== undefined ||
    parsed.s !== undefined ||
    parsed.yParity !== undefined ||
    parsed.v !== undefined
  )
    fail("transaction is already signed");
  if (parsed.chainId !== ctx.chainId) fail(`chain id ${parsed.chainId}, ${ctx.chainId} expected`);
  if (parsed.accessList !== undefined && parsed.accessList.length > 0) fail("access lists are not payments");
  const { to, nonce, gas, maxFeePerGas, maxPriorityFeePerGas } = parsed;
  if (to === undefined || to === null) return fail("contract creation is not a payment");
  if (nonce === undefined) return fail("no nonce");
  if (gas === undefined || gas <= 0n || gas > MAX_PAYMENT_GAS)
    return fail(`gas ${gas} outside 1..${MAX_PAYMENT_GAS}`);
  if (maxFeePerGas === undefined || maxFeePerGas <= 0n) return fail("no maxFeePerGas");
  if (maxPriorityFeePerGas === undefined || maxPriorityFeePerGas > maxFeePerGas)
    return fail("maxPriorityFeePerGas missing or above maxFeePerGas");
  if (serializeTransaction(parsed) !== body) fail("non-canonical transaction encoding");
  const target = to.toLowerCase();
  if (target === ZERO_ADDRESS) fail("payment to the zero address");
  const value = parsed.value ?? 0n;
  const data = (parsed.data ?? "0x").toLowerCase();
  let payment: DecodedPayload["payment"];
  let contract: string | null = null;
  if (data === "0x") {
    if (value <= 0n) fail("a native transfer of nothing");
    payment = { to: target, asset: ctx.nativeSymbol, amount: value };
  } else {
    const asset = ctx.tokens.get(target);
    if (asset === undefined) return fail(`call to ${target}, which is not a configured token`);
    if (value !== 0n) fail("a token transfer carrying ether");
    if (data.length !== 2 + 8 + 128 || data.slice(2, 10) !== ERC20_TRANSFER_SELECTOR)
      fail("calldata is not transfer(address,uint256)");
    if (data.slice(10, 34) !== "0".repeat(24)) fail("recipient word has high bits set");
    const recipient = `0x${data.slice(34, 74)}`;
    const amount = BigInt(`0x${data.slice(74)}`);
    if (recipient === ZERO_ADDRESS) fail("token payment to the zero address");
    if (amount <= 0n) fail("a token transfer of nothing");
    payment = { to: recipient, asset, amount };
    contract = target;
  }
  return {
    from,
    tx: {
      ...parsed,
      type: "eip1559",
      to,
      nonce,
      gas,
      maxFeePerGas,
      maxPriorityFeePerGas,
    } as DecodedPayload["tx"],
    payment,
    fee: gas * maxFeePerGas,
    feeAsset: ctx.nativeSymbol,
    contract,
  };
}

// Ethereum over real JSON-RPC: the chain adapter custody drives (adapter.ts), the payload both
// sides read (payload.ts), BIP44 keys (keys.ts) and the signer's plugin (signing-plugin.ts).

export {
  DEFAULT_ETHEREUM_LIMITS,
  DEFAULT_FEE_BOUNDS,
  EthereumAdapter,
  EthereumAdapterError,
  type EthereumAdapterOptions,
  type EthereumFeeBounds,
  NATIVE_TRANSFER_GAS,
  TRANSFER_TOPIC,
} from "./adapter.ts";
export {
  accountPath,
  addressAt,
  addressOfPublicKey,
  addressPath,
  exportAccountXpub,
  watchOnlyAccount,
} from "./keys.ts";
export {
  type DecodedPayload,
  decodeEthereumPayload,
  EthereumPayloadError,
  encodeEthereumPayload,
  erc20TransferData,
} from "./payload.ts";
export { addressOfSeed, type EthereumSigningOptions, EthereumSigningPlugin } from "./signing-plugin.ts";

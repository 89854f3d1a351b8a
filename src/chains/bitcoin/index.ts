// Bitcoin keys and transactions (BIP39, BIP32/BIP84 P2WPKH, BIP174 PSBT). See README.md.

export { BitcoinTxError, type BitcoinTxErrorKind } from "./errors.ts";
export {
  type AccountExport,
  type AddressChain,
  CHANGE_CHAIN,
  type DerivedAddress,
  deriveAddress,
  exportAccount,
  formatPath,
  RECEIVE_CHAIN,
  type WatchOnlyAccount,
  watchOnlyAccount,
  watchOnlyFromExtendedKey,
} from "./keys.ts";
export { BITCOIN_NETWORK_NAMES, type BitcoinNetworkName, bitcoinNetwork } from "./network.ts";
export { type OwnedPath, verifyOwnership } from "./ownership.ts";
export {
  type BuildPsbtRequest,
  type BuiltPsbt,
  buildPsbt,
  type ClaimedDerivation,
  type DescribedInput,
  type DescribedOutput,
  type DescribeOptions,
  describePsbt,
  isValidAddress,
  MAX_FEE_RATE,
  MAX_PSBT_BYTES,
  MAX_TX_INPUTS,
  MAX_TX_OUTPUTS,
  type PaymentRequest,
  type PsbtDescription,
  psbtFromBase64,
  psbtToBase64,
  type SpendableUtxo,
} from "./psbt.ts";
export { isValidMnemonic, mnemonicFromEntropy, seedFromMnemonic } from "./seed.ts";
export { type FinalTransaction, finalizePsbt, type SignResult, signPsbt } from "./sign.ts";

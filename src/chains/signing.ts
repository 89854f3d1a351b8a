// What a chain gives the isolated signer (src/signer/): its own reading of an unsigned transaction
// and the signing itself. The signer never trusts custody's description of a transaction: it asks
// the chain plugin to read the payload and checks that reading against the intent.
//
// Everything here runs inside the signer process, the only place a hot seed is decrypted. A plugin
// must be deterministic and must not keep, log or send the key material it is handed.

/** Key material of one chain's hot wallet, derived from the seed in the signer's keystore. */
export interface HotKeys {
  readonly chain: string;
  /** The master seed (16 to 64 bytes); the plugin derives its own keys from it (BIP32, etc.). */
  readonly seed: Uint8Array;
  /**
   * Every wallet generation's seed, oldest first, `seed` being the last (`bulwark wallet rotate`
   * adds one). Absent: one generation. A plugin that knows generations signs for the old ones'
   * addresses (sweeping them out) and pays only the newest one's; others use `seed` alone.
   */
  readonly seeds?: readonly Uint8Array[];
}

/** One output of a transaction as the chain plugin reads it. */
export interface Payment {
  to: string;
  asset: string;
  /** Base units (satoshi, wei, token units). */
  amount: bigint;
}

/** The plugin's own reading of an unsigned transaction. */
export interface PayloadDescription {
  payments: Payment[];
  /** The network fee the transaction pays, in `feeAsset` base units. */
  fee: bigint;
  feeAsset: string;
}

/** A signed transaction, ready to broadcast. */
export interface SignedTransaction {
  bytes: Uint8Array;
  /** The chain's transaction id (txid, hash) of the signed transaction. */
  txId: string;
}

/** An extended public key (or a plain public key) custody may derive watch-only addresses from. */
export interface ExportedPublicKey {
  label: string;
  key: string;
}

export interface ChainSigningPlugin {
  readonly chain: string;
  /** Reads an unsigned transaction; throws on anything it cannot read completely. */
  describe(payload: Uint8Array, keys: HotKeys): PayloadDescription;
  /** Whether `address` belongs to this hot wallet (change, deposit addresses, gas targets). */
  isOwnAddress(address: string, keys: HotKeys): boolean;
  /** Signs the unsigned transaction `payload` (already checked by the signer's policy). */
  sign(payload: Uint8Array, keys: HotKeys): SignedTransaction;
  /** Public keys only: what custody needs to watch and derive addresses. Never private material. */
  exportPublicKeys(keys: HotKeys): ExportedPublicKey[];
  /**
   * Whether `address` is a hot (or change) address of a generation older than the newest: its
   * keys are presumed stolen, so the signer pays nothing into it. Absent: no generations.
   */
  isRetiredHotAddress?(address: string, keys: HotKeys): boolean;
}

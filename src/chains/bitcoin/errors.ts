// One error type for every refusal of the transaction layer, with a kind callers can branch on.

export type BitcoinTxErrorKind =
  /** An output (or the change) below the dust threshold of its script. */
  | "dust"
  /** The inputs do not cover the outputs plus the fee. */
  | "insufficientFunds"
  /** More inputs than MAX_TX_INPUTS. */
  | "tooManyInputs"
  /** More outputs than MAX_TX_OUTPUTS, or none. */
  | "tooManyOutputs"
  /** Not an address of this network, or an output type we do not pay. */
  | "badAddress"
  /** An amount that is not a positive bigint within 21M BTC, or a bad outpoint. */
  | "badAmount"
  /** A fee rate outside 1..MAX_FEE_RATE sat/vB. */
  | "badFeeRate"
  /** Larger than MAX_PSBT_BYTES, not base64, not a PSBT, or missing what we need to read it. */
  | "malformedPsbt";

export class BitcoinTxError extends Error {
  readonly kind: BitcoinTxErrorKind;

  constructor(kind: BitcoinTxErrorKind, message: string) {
    super(message);
    this.name = "BitcoinTxError";
    this.kind = kind;
  }
}

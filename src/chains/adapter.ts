// The one interface every chain implements (devnet, ethereum, bitcoin). Custody drives it: scan
// blocks for deposits, follow confirmations and reorgs, estimate fees, build a payment for the
// signer, broadcast what the signer returned, and look a transaction up.
//
// Amounts are chain units as `bigint` (satoshi, wei, token base units); converting them to
// ledger units is custody's job. Every call is bounded (`ChainLimits`): an adapter refuses a
// request beyond its limits with a `ChainLimitError` instead of doing unbounded work, so a
// caller pages through long ranges and splits large watch sets.
//
// Addresses are strings in the chain's canonical form (`normalizeAddress`); watched sets must
// hold canonical forms, since scanning is an exact set lookup.

/** One asset a chain carries: its native coin or a token (with the token's contract). */
export interface ChainAsset {
  /** Exchange currency code, e.g. "BTC", "ETH", "USDT". */
  symbol: string;
  /** Chain units per whole coin = 10^decimals (8 for BTC, 18 for ETH, 6 for USDT). */
  decimals: number;
  /** Token contract address; absent for the native coin. */
  contract?: string;
}

/** The bounds an adapter enforces. Requests beyond them fail with `ChainLimitError`. */
export interface ChainLimits {
  /** Most addresses in one scan's watched set. */
  maxWatchedAddresses: number;
  /** Most blocks in one scan (toHeight - fromHeight + 1). */
  maxBlocksPerScan: number;
  /** Most transfers (outputs, token transfers) one block may carry. */
  maxTransfersPerBlock: number;
  /** Most known blocks `detectReorg` compares. */
  maxReorgCheckBlocks: number;
  /** Most source addresses in one payment. */
  maxPaymentSources: number;
}

export class ChainLimitError extends Error {
  constructor(
    readonly limit: keyof ChainLimits,
    readonly requested: number,
    readonly allowed: number,
  ) {
    super(`${limit} exceeded: ${requested} requested, at most ${allowed} allowed`);
    this.name = "ChainLimitError";
  }
}

/** Throws `ChainLimitError` when `requested` is above `limits[limit]`. */
export function checkLimit(limits: ChainLimits, limit: keyof ChainLimits, requested: number): void {
  if (requested > limits[limit]) throw new ChainLimitError(limit, requested, limits[limit]);
}

/** A block by height and hash: what a scanner remembers to detect reorgs. */
export interface BlockRef {
  height: number;
  hash: string;
}

/** One payment to a watched address, as found in a block. */
export interface Transfer {
  chain: string;
  txid: string;
  /** Output index (UTXO) or transfer index within the transaction (account chains). */
  outputIndex: number;
  address: string;
  asset: string;
  amount: bigint;
  blockHeight: number;
  blockHash: string;
}

export interface ScanResult {
  /** Transfers to watched addresses, in block then transaction then output order. */
  transfers: Transfer[];
  /** Every block scanned, in height order: the caller keeps them for `detectReorg`. */
  blocks: BlockRef[];
}

/**
 * One transaction in a block that spends from a watched address (reconciliation: every such
 * transaction must be one the exchange's signer signed, or a cold spend custody imported).
 */
export interface Outflow {
  chain: string;
  txid: string;
  /** The watched addresses it spends from, canonical, each once. */
  from: string[];
  /** What left the watched addresses per asset (gross: payments, change and fees), base units. */
  amounts: { asset: string; amount: bigint }[];
  blockHeight: number;
  blockHash: string;
}

export interface ReorgReport {
  /** Highest height whose hash is unchanged: everything above it must be rescanned. -1 if none. */
  forkHeight: number;
  /** The known blocks whose hash changed or that no longer exist. */
  replaced: BlockRef[];
}

export interface FeeEstimate {
  asset: string;
  /** Fee rate the chain's next block accepts: satoshi per byte, or wei per gas. */
  feeRate: bigint;
  /** Lowest rate the chain currently includes; below it a transaction stays pending. */
  minFeeRate: bigint;
  /** Fee of a typical one-recipient payment at `feeRate`, in the fee asset's units. */
  typicalFee: bigint;
  /** The asset fees are paid in (the native coin). */
  feeAsset: string;
}

export interface PaymentRequest {
  /** Addresses funds may come from (UTXO: any of them; account chains: exactly one). */
  sources: readonly string[];
  to: string;
  asset: string;
  amount: bigint;
  /** Fee rate to use; the current estimate when absent. */
  feeRate?: bigint;
  /** Where change goes (UTXO chains); the first source when absent. */
  changeAddress?: string;
}

/** A payment ready for signing: canonical bytes, plus whose signatures it needs. */
export interface UnsignedTransaction {
  chain: string;
  /** Canonical, versioned payload bytes: what the signer checks and signs. */
  payload: Uint8Array;
  /** Addresses that must sign, in the order their signatures are attached. */
  signers: string[];
  /** Network fee this transaction pays, in `feeAsset` units. */
  fee: bigint;
  feeAsset: string;
}

export type TransactionStatus =
  | {
      status: "pending" /** Why it is not being included, when known (e.g. fee below minimum). */;
      reason?: string;
    }
  | { status: "confirmed"; blockHeight: number; blockHash: string; confirmations: number }
  | { status: "dropped"; reason: string }
  | { status: "not-found" };

export interface ChainAdapter {
  /** Chain name, e.g. "devnet-btc", "ethereum". */
  readonly chain: string;
  readonly assets: readonly ChainAsset[];
  readonly limits: ChainLimits;

  /** The canonical form of an address, or null when it is not an address of this chain. */
  normalizeAddress(address: string): string | null;
  /** Height of the chain tip. */
  height(): Promise<number>;
  /** Hash of the block at `height` on the current chain, or null above the tip. */
  blockHash(height: number): Promise<string | null>;
  /** Transfers to `watched` addresses in blocks fromHeight..toHeight (inclusive, ≤ tip). */
  scan(fromHeight: number, toHeight: number, watched: ReadonlySet<string>): Promise<ScanResult>;
  /**
   * Transactions in blocks fromHeight..toHeight that spend from `watched` addresses (UTXO: an
   * input spending a watched output; account chains: a watched sender, or a token Transfer from
   * a watched holder), in block then transaction order. Same limits as `scan`. Optional: an
   * adapter without it cannot have its outflows reconciled (custody reports that).
   */
  scanOutflows?(fromHeight: number, toHeight: number, watched: ReadonlySet<string>): Promise<Outflow[]>;
  /** Compares remembered blocks with the chain; null when all still match. */
  detectReorg(known: readonly BlockRef[]): Promise<ReorgReport | null>;
  /** Confirmations of a transaction: 0 when not in a block, 1 when in the tip block. */
  confirmations(txid: string): Promise<number>;
  lookup(txid: string): Promise<TransactionStatus>;
  estimateFee(asset: string): Promise<FeeEstimate>;
  buildPayment(request: PaymentRequest): Promise<UnsignedTransaction>;
  /** Submits a signed transaction; returns its txid. Throws when the chain refuses it. */
  broadcast(signed: Uint8Array): Promise<string>;
}

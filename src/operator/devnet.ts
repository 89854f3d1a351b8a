// The devnet chains as the operator API and the CLI see them: what `devnet mine|faucet|reorg|status`
// and `devnet broadcast` (the theft drill's way onto the chain) may do and the bounds they are held to. Defined here, implemented by src/server/devnet.ts (which
// owns the chains in src/chains/devnet/): the operator layer may not import the chains, and needs
// only these few calls.

/** Most blocks one `devnet mine` call produces. */
export const MAX_DEVNET_MINE_BLOCKS = 1_000;
/** Deepest `devnet reorg`: deeper than any confirmation count the custody side uses, and bounded work. */
export const MAX_DEVNET_REORG_DEPTH = 100;
/** Most whole coins one `devnet faucet` call pays (keeps every amount inside each chain's encoding). */
export const MAX_DEVNET_FAUCET_COINS = 1_000_000_000n;
/**
 * Largest signed transaction `devnet broadcast` takes (a payment from a few hundred coins fits;
 * the chains' own bound, 1 MiB of payload, is far above what a drill needs).
 */
export const MAX_DEVNET_SIGNED_TX_BYTES = 96 * 1024;

export interface DevnetAssetInfo {
  /** Currency code, e.g. "BTC", "ETH", "USDT". */
  symbol: string;
  /** Chain units per coin = 10^decimals. */
  decimals: number;
}

/** One simulated chain. Every call is synchronous: a request sees the chain between two blocks. */
export interface DevnetChainControl {
  /** What `--chain` names: "btc", "eth". */
  readonly id: string;
  /** The adapter's chain name: "devnet-btc", "devnet-eth". */
  readonly name: string;
  readonly assets: readonly DevnetAssetInfo[];
  /** Milliseconds between blocks; 0 = mined only on demand. */
  readonly blockIntervalMs: number;
  height(): number;
  tipHash(): string;
  /** Transactions waiting for a block. */
  mempoolSize(): number;
  /** The canonical form of an address of this chain, or null. */
  normalizeAddress(address: string): string | null;
  /** Mines `blocks` blocks now. */
  mine(blocks: number): void;
  /** An outside sender pays `address` (canonical) `amount` base units of `asset`; returns the txid. */
  faucet(address: string, asset: string, amount: bigint): string;
  /** Replaces the last `depth` blocks; returns the fork height. */
  reorg(depth: number): number;
  /**
   * A signed transaction from outside, as a node's "send raw transaction": checked by the chain's
   * own rules (format, signatures, coins or nonce, fee) and put in the mempool. A refusal is
   * returned with the chain's reason, not thrown.
   */
  broadcast(signedTx: Uint8Array): { ok: true; txid: string } | { ok: false; reason: string };
}

export interface DevnetControl {
  readonly chains: readonly DevnetChainControl[];
}

export interface DevnetChainStatus {
  chain: string;
  name: string;
  height: number;
  tipHash: string;
  mempoolSize: number;
  blockIntervalMs: number;
  assets: string[];
}

export function devnetChainStatus(chain: DevnetChainControl): DevnetChainStatus {
  return {
    chain: chain.id,
    name: chain.name,
    height: chain.height(),
    tipHash: chain.tipHash(),
    mempoolSize: chain.mempoolSize(),
    blockIntervalMs: chain.blockIntervalMs,
    assets: chain.assets.map((asset) => asset.symbol),
  };
}

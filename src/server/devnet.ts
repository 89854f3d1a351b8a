// The embedded devnet: Bulwark's simulated chains (src/chains/devnet/), one per flavour, with
// their state under <data-dir>/devnet/<chain>/, mining a block every `blockIntervalMs` (0: only
// on demand). `bulwark start` opens them after the exchange and closes them (state saved) before
// it; offline `bulwark devnet …` commands open them under the data dir's lock with no timer.
// Implements the operator layer's DevnetControl, which is all the operator API sees of them.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ByteReader } from "../chains/devnet/codec.ts";
import { AccountDevnet, DevnetRejectError, UtxoDevnet } from "../chains/devnet/index.ts";
import type { DevnetChainControl, DevnetControl } from "../operator/devnet.ts";

/** A block every 10 s unless `start --devnet-block-ms` says otherwise. */
export const DEFAULT_DEVNET_BLOCK_MS = 10_000;
export const DEVNET_DIR_NAME = "devnet";
/** Longest block interval accepted (one hour); 0 means "only on demand". */
export const MAX_DEVNET_BLOCK_MS = 3_600_000;

type Chain = UtxoDevnet | AccountDevnet;

/** Waiting transactions, read from the chain's canonical state bytes (the chain exposes no count). */
function mempoolSizeOf(chain: Chain): number {
  // Layout (chain.ts, serialize): magic, version, chain, faucet counter (8), reorg salt (4),
  // min fee (16), next seq (8), block count, blocks (salt, tx count, txs), then the mempool count.
  const bytes = chain.serialize();
  const reader = new ByteReader(bytes.subarray(0, -32));
  reader.string();
  reader.u8();
  reader.string();
  reader.uint(8);
  reader.u32();
  reader.uint(16);
  reader.uint(8);
  const blocks = reader.u32();
  for (let i = 0; i < blocks; i++) {
    reader.u32();
    const txs = reader.u32();
    for (let j = 0; j < txs; j++) reader.bytes(bytes.length);
  }
  return reader.u32();
}

class DevnetChainHandle implements DevnetChainControl {
  constructor(
    readonly id: string,
    readonly chain: Chain,
    readonly blockIntervalMs: number,
  ) {}

  get name(): string {
    return this.chain.chain;
  }

  get assets() {
    return this.chain.assets.map(({ symbol, decimals }) => ({ symbol, decimals }));
  }

  height(): number {
    return this.chain.tip;
  }

  tipHash(): string {
    const tip = this.chain.tip;
    return this.chain.scanSync(tip, tip, new Set()).blocks[0].hash;
  }

  mempoolSize(): number {
    return mempoolSizeOf(this.chain);
  }

  normalizeAddress(address: string): string | null {
    return this.chain.normalizeAddress(address);
  }

  mine(blocks: number): void {
    this.chain.mine(blocks);
  }

  faucet(address: string, asset: string, amount: bigint): string {
    return this.chain.faucet(address, asset, amount);
  }

  reorg(depth: number): number {
    return this.chain.reorg(depth);
  }

  broadcast(signedTx: Uint8Array): { ok: true; txid: string } | { ok: false; reason: string } {
    try {
      return { ok: true, txid: this.chain.broadcastSync(signedTx) };
    } catch (error) {
      if (error instanceof DevnetRejectError) return { ok: false, reason: error.message };
      throw error;
    }
  }
}

export interface DevnetChainsOptions {
  dataDir: string;
  /** Milliseconds between blocks; 0 (the default here) mines only on demand. */
  blockIntervalMs?: number;
}

/** Both devnet chains of a data dir. The caller holds the data dir's lock. */
export class DevnetChains implements DevnetControl {
  readonly btc: UtxoDevnet;
  readonly eth: AccountDevnet;
  readonly chains: readonly DevnetChainHandle[];
  readonly blockIntervalMs: number;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;

  private constructor(dataDir: string, blockIntervalMs: number) {
    const dirOf = (id: string) => {
      const dir = join(dataDir, DEVNET_DIR_NAME, id);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return dir;
    };
    this.blockIntervalMs = blockIntervalMs;
    this.btc = new UtxoDevnet({ dir: dirOf("btc") });
    this.eth = new AccountDevnet({ dir: dirOf("eth") });
    this.chains = [
      new DevnetChainHandle("btc", this.btc, blockIntervalMs),
      new DevnetChainHandle("eth", this.eth, blockIntervalMs),
    ];
  }

  /** Opens (or creates) the chains' state; mining starts only with `start()`. */
  static open(options: DevnetChainsOptions): DevnetChains {
    const interval = options.blockIntervalMs ?? 0;
    if (!Number.isSafeInteger(interval) || interval < 0 || interval > MAX_DEVNET_BLOCK_MS)
      throw new RangeError(`devnet block interval must be 0..${MAX_DEVNET_BLOCK_MS} ms, got ${interval}`);
    return new DevnetChains(options.dataDir, interval);
  }

  /**
   * Starts the block timers (nothing when the interval is 0). A block that fails (say, the state
   * file cannot be written) is reported to `onError` and the timer goes on: it must not take the
   * exchange down the way an exception thrown from a bare timer would.
   */
  start(onError: (chain: string, error: unknown) => void = () => {}): void {
    if (this.blockIntervalMs === 0 || this.closed || this.timer !== null) return;
    this.timer = setInterval(() => {
      for (const handle of this.chains)
        try {
          handle.chain.mine(1);
        } catch (error) {
          onError(handle.name, error);
        }
    }, this.blockIntervalMs);
    this.timer.unref();
  }

  /** Stops mining and saves every chain's state. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const handle of this.chains) handle.chain.close();
  }
}

// The ethereum chain adapter: a real node over JSON-RPC (viem's public client), native ETH and
// ERC-20 tokens configured by contract and decimals.
//
// Scanning: each block of the range is fetched with its transactions (native value sent to a
// watched address; a transaction to an externally owned account cannot revert, and deposit
// addresses are such accounts) and `Transfer(from, to, value)` logs of the configured contracts
// are fetched with `eth_getLogs` over bounded block ranges, filtered on the `to` topic when the
// watched set is small enough to list, locally otherwise. Every log must come from the block hash
// the scan read at its height, or the scan fails (a reorg happened under it: scan again). Ether
// moved by contracts (internal calls) is not seen: that needs a tracing node.
//
// Output indexes: 0 for a transaction's native value, 1 + the log's index in its block for a
// token transfer; a reorg that re-includes a transaction elsewhere changes the latter, which is
// how a deposit found before the reorg is dropped and found again after it.
//
// Fees (EIP-1559): maxPriorityFeePerGas is the node's suggestion clamped to the configured
// bounds; maxFeePerGas = 2 × the latest base fee + the priority fee (room for six full blocks of
// base-fee growth), never above `maxFeePerGas`; when the base fee plus the smallest priority fee
// is already above that cap, estimates and payments are refused rather than overpaid.
//
// A transaction that was mined but reverted (a token transfer that failed) moved nothing but its
// fee: `lookup` reports it as dropped, so the payment is retried with a new transaction.

import {
  createPublicClient,
  type Hex,
  http,
  isAddress,
  type PublicClient,
  parseEventLogs,
  parseTransaction,
  recoverTransactionAddress,
  toHex,
} from "viem";
import { LruMap } from "../../lib/lru.ts";
import {
  type BlockRef,
  type ChainAdapter,
  type ChainAsset,
  type ChainLimits,
  checkLimit,
  type FeeEstimate,
  type Outflow,
  type PaymentRequest,
  type ReorgReport,
  type ScanResult,
  type TransactionStatus,
  type Transfer,
  type UnsignedTransaction,
} from "../adapter.ts";
import { encodeEthereumPayload, erc20TransferData, MAX_PAYMENT_GAS, ZERO_ADDRESS } from "./payload.ts";

/** keccak-256("Transfer(address,address,uint256)") */
export const TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
const TRANSFER_EVENT_ABI = [
  {
    type: "event",
    name: "Transfer",
    inputs: [
      { name: "from", type: "address", indexed: true },
      { name: "to", type: "address", indexed: true },
      { name: "value", type: "uint256", indexed: false },
    ],
  },
] as const;

export const NATIVE_TRANSFER_GAS = 21_000n;

export const DEFAULT_ETHEREUM_LIMITS: ChainLimits = {
  maxWatchedAddresses: 1_000_000,
  maxBlocksPerScan: 100,
  maxTransfersPerBlock: 10_000,
  maxReorgCheckBlocks: 1_000,
  maxPaymentSources: 1,
};

export interface EthereumFeeBounds {
  /** Lowest priority fee offered, wei per gas (default 0.01 gwei). */
  minPriorityFeePerGas: bigint;
  /** Highest priority fee offered (default 5 gwei). */
  maxPriorityFeePerGas: bigint;
  /** Highest maxFeePerGas ever offered (default 500 gwei). */
  maxFeePerGas: bigint;
}

export const DEFAULT_FEE_BOUNDS: EthereumFeeBounds = {
  minPriorityFeePerGas: 10_000_000n,
  maxPriorityFeePerGas: 5_000_000_000n,
  maxFeePerGas: 500_000_000_000n,
};

export interface EthereumAdapterOptions {
  /** Chain name (default "ethereum"). */
  chain?: string;
  /** The node's JSON-RPC URL; or `client`. */
  rpcUrl?: string;
  client?: PublicClient;
  /** The chain id the node must report and every transaction carries. */
  chainId: number;
  /** Native coin (default ETH, 18 decimals). */
  native?: ChainAsset;
  /** ERC-20 tokens, each with its contract. */
  tokens?: readonly ChainAsset[];
  limits?: Partial<ChainLimits>;
  fees?: Partial<EthereumFeeBounds>;
  /** Most blocks one eth_getLogs asks for (default 100). */
  maxLogBlockRange?: number;
  /** Most `to` topics one eth_getLogs lists; larger watched sets are filtered locally (default 200). */
  maxLogTopicAddresses?: number;
  /** Gas asked for a token transfer: the node's estimate × 1.25, capped here (default 120,000). */
  maxTokenGas?: bigint;
  /** RPC timeout per request, ms (default 10,000). */
  timeoutMs?: number;
}

export class EthereumAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EthereumAdapterError";
  }
}

interface Sent {
  from: string;
  nonce: number;
}

export class EthereumAdapter implements ChainAdapter {
  readonly chain: string;
  readonly assets: readonly ChainAsset[];
  readonly limits: ChainLimits;
  readonly chainId: number;
  readonly fees: EthereumFeeBounds;
  private readonly client: PublicClient;
  private readonly native: ChainAsset;
  /** contract (lower case) → asset */
  private readonly tokens = new Map<string, ChainAsset>();
  private readonly maxLogBlockRange: number;
  private readonly maxLogTopicAddresses: number;
  private readonly maxTokenGas: bigint;
  /** Transactions this adapter broadcast, to tell "dropped" (nonce taken) from "not found". */
  private readonly sent = new LruMap<string, Sent>(100_000);
  private chainIdChecked = false;

  constructor(options: EthereumAdapterOptions) {
    this.chain = options.chain ?? "ethereum";
    this.chainId = options.chainId;
    this.native = options.native ?? { symbol: "ETH", decimals: 18 };
    for (const t of options.tokens ?? []) {
      const contract = t.contract === undefined ? null : normalize(t.contract);
      if (contract === null) throw new EthereumAdapterError(`token ${t.symbol} needs a contract address`);
      this.tokens.set(contract, { ...t, contract });
    }
    this.assets = [this.native, ...this.tokens.values()];
    this.limits = { ...DEFAULT_ETHEREUM_LIMITS, ...options.limits };
    this.fees = { ...DEFAULT_FEE_BOUNDS, ...options.fees };
    this.maxLogBlockRange = options.maxLogBlockRange ?? 100;
    this.maxLogTopicAddresses = options.maxLogTopicAddresses ?? 200;
    this.maxTokenGas = options.maxTokenGas ?? 120_000n;
    if (options.client) this.client = options.client;
    else if (options.rpcUrl)
      this.client = createPublicClient({
        transport: http(options.rpcUrl, { timeout: options.timeoutMs ?? 10_000, batch: { batchSize: 100 } }),
      });
    else throw new EthereumAdapterError("an rpcUrl or a client is needed");
  }

  normalizeAddress(address: string): string | null {
    return normalize(address);
  }

  async height(): Promise<number> {
    await this.checkChainId();
    return Number(await this.client.getBlockNumber({ cacheTime: 0 }));
  }

  async blockHash(height: number): Promise<string | null> {
    checkHeight(height);
    const block = await this.client.getBlock({ blockNumber: BigInt(height) }).catch((e: unknown) => {
      if (isNotFound(e)) return null;
      throw e;
    });
    return block?.hash ?? null;
  }

  async scan(fromHeight: number, toHeight: number, watched: ReadonlySet<string>): Promise<ScanResult> {
    checkHeight(fromHeight);
    checkHeight(toHeight);
    if (toHeight < fromHeight) throw new RangeError(`bad block range ${fromHeight}..${toHeight}`);
    checkLimit(this.limits, "maxBlocksPerScan", toHeight - fromHeight + 1);
    checkLimit(this.limits, "maxWatchedAddresses", watched.size);
    const tip = await this.height();
    if (toHeight > tip) throw new RangeError(`block ${toHeight} is above the tip ${tip}`);

    const heights = Array.from({ length: toHeight - fromHeight + 1 }, (_, i) => fromHeight + i);
    const blocks = await Promise.all(
      heights.map((h) => this.client.getBlock({ blockNumber: BigInt(h), includeTransactions: true })),
    );
    // Fetched one by one, the blocks must still form one chain: a reorg between two reads fails
    // the scan (the caller scans again) rather than return blocks of two branches.
    for (let i = 1; i < blocks.length; i++)
      if (blocks[i].parentHash !== blocks[i - 1].hash)
        throw new EthereumAdapterError(`block ${heights[i]} changed during the scan (reorg): scan again`);
    const refs: BlockRef[] = [];
    const perBlock = new Map<number, Transfer[]>();
    for (const block of blocks) {
      const height = Number(block.number);
      checkLimit(this.limits, "maxTransfersPerBlock", block.transactions.length);
      refs.push({ height, hash: block.hash });
      const found: Transfer[] = [];
      for (const tx of block.transactions) {
        if (tx.to == null || tx.value <= 0n) continue;
        const to = tx.to.toLowerCase();
        if (!watched.has(to)) continue;
        found.push(this.transfer(tx.hash, 0, to, this.native.symbol, tx.value, height, block.hash));
      }
      perBlock.set(height, found);
    }
    const hashAt = new Map(refs.map((r) => [r.height, r.hash]));

    if (this.tokens.size > 0 && watched.size > 0) {
      for (const log of await this.transferLogs(fromHeight, toHeight, watched)) {
        const height = Number(log.blockNumber);
        if (hashAt.get(height) !== log.blockHash)
          throw new EthereumAdapterError(`block ${height} changed during the scan (reorg): scan again`);
        const asset = this.tokens.get(log.address.toLowerCase());
        const to = log.args.to.toLowerCase();
        if (asset === undefined || !watched.has(to) || log.args.value <= 0n) continue;
        const list = perBlock.get(height) as Transfer[];
        checkLimit(this.limits, "maxTransfersPerBlock", list.length + 1);
        list.push(
          this.transfer(
            log.transactionHash,
            1 + log.logIndex,
            to,
            asset.symbol,
            log.args.value,
            height,
            log.blockHash,
          ),
        );
      }
    }
    // Block, then transaction, then output order: sort each block's transfers by their position.
    const position = new Map<string, number>();
    for (const block of blocks) for (const [i, tx] of block.transactions.entries()) position.set(tx.hash, i);
    const transfers: Transfer[] = [];
    for (const h of heights) {
      const list = perBlock.get(h) as Transfer[];
      list.sort(
        (a, b) => (position.get(a.txid) ?? 0) - (position.get(b.txid) ?? 0) || a.outputIndex - b.outputIndex,
      );
      transfers.push(...list);
    }
    return { transfers, blocks: refs };
  }

  private transfer(
    txid: string,
    outputIndex: number,
    address: string,
    asset: string,
    amount: bigint,
    blockHeight: number,
    blockHash: string,
  ): Transfer {
    return { chain: this.chain, txid, outputIndex, address, asset, amount, blockHeight, blockHash };
  }

  /**
   * Transactions sent by a watched address (native value), and token Transfer logs from a watched
   * holder (which also catches a transferFrom by a spender the holder approved). Fees are not in
   * `amounts` (they need receipts); reconciliation matches outflows by txid, not by amount.
   */
  async scanOutflows(fromHeight: number, toHeight: number, watched: ReadonlySet<string>): Promise<Outflow[]> {
    checkHeight(fromHeight);
    checkHeight(toHeight);
    if (toHeight < fromHeight) throw new RangeError(`bad block range ${fromHeight}..${toHeight}`);
    checkLimit(this.limits, "maxBlocksPerScan", toHeight - fromHeight + 1);
    checkLimit(this.limits, "maxWatchedAddresses", watched.size);
    const tip = await this.height();
    if (toHeight > tip) throw new RangeError(`block ${toHeight} is above the tip ${tip}`);
    const heights = Array.from({ length: toHeight - fromHeight + 1 }, (_, i) => fromHeight + i);
    const blocks = await Promise.all(
      heights.map((h) => this.client.getBlock({ blockNumber: BigInt(h), includeTransactions: true })),
    );
    for (let i = 1; i < blocks.length; i++)
      if (blocks[i].parentHash !== blocks[i - 1].hash)
        throw new EthereumAdapterError(`block ${heights[i]} changed during the scan (reorg): scan again`);
    const byTx = new Map<string, Outflow>();
    const order: string[] = [];
    const entry = (txid: string, height: number, hash: string): Outflow => {
      let found = byTx.get(txid);
      if (found === undefined) {
        found = { chain: this.chain, txid, from: [], amounts: [], blockHeight: height, blockHash: hash };
        byTx.set(txid, found);
        order.push(txid);
      }
      return found;
    };
    const add = (outflow: Outflow, from: string, asset: string, amount: bigint) => {
      if (!outflow.from.includes(from)) outflow.from.push(from);
      // A contract call sends no ether: the sender is listed, the amount is the token's (below).
      if (amount === 0n) return;
      const known = outflow.amounts.find((a) => a.asset === asset);
      if (known === undefined) outflow.amounts.push({ asset, amount });
      else known.amount += amount;
    };
    const hashAt = new Map<number, string>();
    for (const block of blocks) {
      const height = Number(block.number);
      hashAt.set(height, block.hash);
      checkLimit(this.limits, "maxTransfersPerBlock", block.transactions.length);
      for (const tx of block.transactions) {
        const from = tx.from.toLowerCase();
        if (!watched.has(from)) continue;
        add(entry(tx.hash, height, block.hash), from, this.native.symbol, tx.value);
      }
    }
    if (this.tokens.size > 0 && watched.size > 0)
      for (const log of await this.transferLogs(fromHeight, toHeight, watched, "from")) {
        const height = Number(log.blockNumber);
        if (hashAt.get(height) !== log.blockHash)
          throw new EthereumAdapterError(`block ${height} changed during the scan (reorg): scan again`);
        const asset = this.tokens.get(log.address.toLowerCase());
        const from = log.args.from.toLowerCase();
        if (asset === undefined || !watched.has(from)) continue;
        checkLimit(this.limits, "maxTransfersPerBlock", byTx.size + 1);
        add(entry(log.transactionHash, height, log.blockHash), from, asset.symbol, log.args.value);
      }
    const position = new Map<string, number>();
    for (const block of blocks) for (const [i, tx] of block.transactions.entries()) position.set(tx.hash, i);
    return order
      .map((txid) => byTx.get(txid) as Outflow)
      .sort(
        (a, b) => a.blockHeight - b.blockHeight || (position.get(a.txid) ?? 0) - (position.get(b.txid) ?? 0),
      );
  }

  /** Transfer logs of the configured tokens in the range, in bounded eth_getLogs calls. */
  private async transferLogs(
    fromHeight: number,
    toHeight: number,
    watched: ReadonlySet<string>,
    side: "from" | "to" = "to",
  ) {
    const contracts = [...this.tokens.keys()] as Hex[];
    const topicGroups: (Hex[] | null)[] = [];
    if (watched.size <= this.maxLogTopicAddresses) {
      const topics = [...watched].map((a) => `0x${a.slice(2).padStart(64, "0")}` as Hex);
      topicGroups.push(topics);
    } else topicGroups.push(null); // too many to list: every transfer of the tokens, filtered here
    const requests: Promise<unknown>[] = [];
    for (let start = fromHeight; start <= toHeight; start += this.maxLogBlockRange) {
      const end = Math.min(toHeight, start + this.maxLogBlockRange - 1);
      for (const toTopics of topicGroups)
        requests.push(
          this.client.request({
            method: "eth_getLogs",
            params: [
              {
                address: contracts,
                topics: side === "to" ? [TRANSFER_TOPIC, null, toTopics] : [TRANSFER_TOPIC, toTopics],
                fromBlock: toHex(start),
                toBlock: toHex(end),
              },
            ],
          }),
        );
    }
    const raw = (await Promise.all(requests)).flat() as Parameters<typeof parseEventLogs>[0]["logs"];
    const logs = parseEventLogs({ abi: TRANSFER_EVENT_ABI, logs: raw, strict: true }).filter(
      (l) => !l.removed && l.blockNumber !== null && l.blockHash !== null,
    );
    return logs as (Omit<
      (typeof logs)[number],
      "blockNumber" | "blockHash" | "logIndex" | "transactionHash"
    > & {
      blockNumber: bigint;
      blockHash: Hex;
      logIndex: number;
      transactionHash: Hex;
    })[];
  }

  async detectReorg(known: readonly BlockRef[]): Promise<ReorgReport | null> {
    checkLimit(this.limits, "maxReorgCheckBlocks", known.length);
    const sorted = [...known].sort((a, b) => a.height - b.height);
    const current = await Promise.all(sorted.map((b) => this.blockHash(b.height)));
    const replaced = sorted.filter((b, i) => current[i] !== b.hash);
    if (replaced.length === 0) return null;
    // As the devnet adapter: the fork point is the highest remembered block below the first
    // change, or the height just below it when none is remembered.
    const firstChanged = replaced[0].height;
    const below = sorted.filter((b) => b.height < firstChanged);
    const forkHeight = below.length > 0 ? below[below.length - 1].height : firstChanged - 1;
    return { forkHeight, replaced };
  }

  async confirmations(txid: string): Promise<number> {
    const status = await this.lookup(txid);
    return status.status === "confirmed" ? status.confirmations : 0;
  }

  async lookup(txid: string): Promise<TransactionStatus> {
    if (!/^0x[0-9a-fA-F]{64}$/.test(txid)) return { status: "not-found" };
    const hash = txid.toLowerCase() as Hex;
    const receipt = await this.client.getTransactionReceipt({ hash }).catch((e: unknown) => {
      if (isNotFound(e)) return null;
      throw e;
    });
    if (receipt !== null) {
      const blockHeight = Number(receipt.blockNumber);
      if (receipt.status === "reverted")
        return {
          status: "dropped",
          reason: `reverted in block ${blockHeight} (${receipt.blockHash}): the fee was paid, nothing was transferred`,
        };
      const tip = await this.height();
      return {
        status: "confirmed",
        blockHeight,
        blockHash: receipt.blockHash,
        confirmations: Math.max(0, tip - blockHeight + 1),
      };
    }
    const tx = await this.client.getTransaction({ hash }).catch((e: unknown) => {
      if (isNotFound(e)) return null;
      throw e;
    });
    if (tx !== null) {
      const base = (await this.client.getBlock({ blockTag: "latest" })).baseFeePerGas ?? 0n;
      if (tx.maxFeePerGas !== undefined && tx.maxFeePerGas < base)
        return { status: "pending", reason: `maxFeePerGas ${tx.maxFeePerGas} below the base fee ${base}` };
      return { status: "pending" };
    }
    const sent = this.sent.peek(hash);
    if (sent !== undefined) {
      const used = await this.client.getTransactionCount({ address: sent.from as Hex, blockTag: "latest" });
      if (used > sent.nonce)
        return {
          status: "dropped",
          reason: `nonce ${sent.nonce} of ${sent.from} was used by another transaction`,
        };
    }
    return { status: "not-found" };
  }

  async estimateFee(asset: string): Promise<FeeEstimate> {
    const contract = this.contractOf(asset);
    const { maxFeePerGas, baseFee } = await this.feesPerGas();
    const gas = contract === null ? NATIVE_TRANSFER_GAS : this.maxTokenGas;
    return {
      asset,
      feeRate: maxFeePerGas,
      minFeeRate: baseFee + this.fees.minPriorityFeePerGas,
      typicalFee: maxFeePerGas * gas,
      feeAsset: this.native.symbol,
    };
  }

  /** EIP-1559 fees within the bounds: the base fee of the latest block and what to offer. */
  async feesPerGas(): Promise<{ baseFee: bigint; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const [latest, suggested] = await Promise.all([
      this.client.getBlock({ blockTag: "latest" }),
      this.client.request({ method: "eth_maxPriorityFeePerGas" }).then(
        (hex) => BigInt(hex),
        () => this.fees.minPriorityFeePerGas,
      ),
    ]);
    const baseFee = latest.baseFeePerGas;
    if (baseFee === null || baseFee === undefined)
      throw new EthereumAdapterError("the node's blocks carry no base fee (no EIP-1559)");
    const { minPriorityFeePerGas: lo, maxPriorityFeePerGas: hi, maxFeePerGas: cap } = this.fees;
    const priority = suggested < lo ? lo : suggested > hi ? hi : suggested;
    if (baseFee + lo > cap)
      throw new EthereumAdapterError(`base fee ${baseFee} is above the fee cap ${cap}: not paying it`);
    const maxPriorityFeePerGas = baseFee + priority > cap ? cap - baseFee : priority;
    const wanted = 2n * baseFee + maxPriorityFeePerGas;
    return { baseFee, maxPriorityFeePerGas, maxFeePerGas: wanted > cap ? cap : wanted };
  }

  async buildPayment(request: PaymentRequest): Promise<UnsignedTransaction> {
    checkLimit(this.limits, "maxPaymentSources", request.sources.length);
    if (request.sources.length !== 1)
      throw new EthereumAdapterError("an ethereum payment has exactly one source");
    const from = this.requireAddress(request.sources[0]);
    const to = this.requireAddress(request.to);
    if (to === ZERO_ADDRESS) throw new EthereumAdapterError("payment to the zero address");
    if (typeof request.amount !== "bigint" || request.amount <= 0n)
      throw new EthereumAdapterError("amount must be a positive bigint");
    const contract = this.contractOf(request.asset);
    await this.checkChainId();
    const fees = await this.feesPerGas();
    let { maxFeePerGas, maxPriorityFeePerGas } = fees;
    if (request.feeRate !== undefined) {
      if (request.feeRate <= 0n || request.feeRate > this.fees.maxFeePerGas)
        throw new EthereumAdapterError(`fee rate ${request.feeRate} outside 1..${this.fees.maxFeePerGas}`);
      maxFeePerGas = request.feeRate;
      if (maxPriorityFeePerGas > maxFeePerGas) maxPriorityFeePerGas = maxFeePerGas;
    }
    const call =
      contract === null
        ? { to: to as Hex, value: request.amount, data: undefined }
        : { to: contract as Hex, value: 0n, data: erc20TransferData(to, request.amount) };
    const [nonce, estimate] = await Promise.all([
      this.client.getTransactionCount({ address: from as Hex, blockTag: "pending" }),
      this.client.estimateGas({ account: from as Hex, ...call }),
    ]);
    let gas = estimate;
    if (contract !== null) {
      gas = (estimate * 5n) / 4n;
      if (gas > this.maxTokenGas) {
        if (estimate > this.maxTokenGas)
          throw new EthereumAdapterError(`token transfer needs ${estimate} gas, above ${this.maxTokenGas}`);
        gas = this.maxTokenGas;
      }
    } else if (gas > MAX_PAYMENT_GAS) throw new EthereumAdapterError(`payment needs ${gas} gas`);
    const payload = encodeEthereumPayload(from, {
      type: "eip1559",
      chainId: this.chainId,
      nonce,
      gas,
      maxFeePerGas,
      maxPriorityFeePerGas,
      ...call,
    });
    return {
      chain: this.chain,
      payload,
      signers: [from],
      fee: gas * maxFeePerGas,
      feeAsset: this.native.symbol,
    };
  }

  async broadcast(signed: Uint8Array): Promise<string> {
    const hex = toHex(signed);
    const tx = parseTransaction(hex);
    if (tx.type !== "eip1559")
      throw new EthereumAdapterError(`transaction type ${tx.type}, EIP-1559 expected`);
    if (tx.chainId !== this.chainId)
      throw new EthereumAdapterError(`chain id ${tx.chainId}, ${this.chainId} expected`);
    const from = (
      await recoverTransactionAddress({ serializedTransaction: hex as `0x02${string}` })
    ).toLowerCase();
    const hash = await this.client.sendRawTransaction({ serializedTransaction: hex });
    this.sent.set(hash.toLowerCase(), { from, nonce: tx.nonce ?? 0 });
    return hash.toLowerCase();
  }

  private contractOf(asset: string): string | null {
    if (asset === this.native.symbol) return null;
    for (const [contract, a] of this.tokens) if (a.symbol === asset) return contract;
    throw new EthereumAdapterError(`${this.chain} has no asset ${asset}`);
  }

  private requireAddress(address: string): string {
    const canonical = normalize(address);
    if (canonical === null) throw new EthereumAdapterError(`not an ethereum address: ${address}`);
    return canonical;
  }

  private async checkChainId(): Promise<void> {
    if (this.chainIdChecked) return;
    const id = await this.client.getChainId();
    if (id !== this.chainId)
      throw new EthereumAdapterError(`the node is on chain ${id}, ${this.chainId} configured`);
    this.chainIdChecked = true;
  }
}

/** Lower-case 0x address, or null; a mixed-case address must carry a valid EIP-55 checksum. */
function normalize(address: string): string | null {
  if (typeof address !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(address)) return null;
  const hex = address.slice(2);
  const singleCase = hex === hex.toLowerCase() || hex === hex.toUpperCase();
  if (!singleCase && !isAddress(address, { strict: true })) return null; // a typo, most likely
  return `0x${hex.toLowerCase()}`;
}

function checkHeight(height: number): void {
  if (!Number.isSafeInteger(height) || height < 0) throw new RangeError(`bad block height ${height}`);
}

function isNotFound(e: unknown): boolean {
  const name = (e as { name?: string })?.name ?? "";
  return name === "BlockNotFoundError" || name.endsWith("NotFoundError");
}

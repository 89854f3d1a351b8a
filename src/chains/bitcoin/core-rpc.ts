// The Bitcoin chain adapter over a Bitcoin Core node's JSON-RPC (`BitcoinRpcClient`): custody's
// `ChainAdapter` for BTC on mainnet, testnet/signet or regtest. Not used by the embedded default,
// whose BTC runs on the devnet UTXO chain (no bitcoind here); see README.md for an operator's setup.
//
// Reading the chain:
//   - height: getblockcount; blockHash: getblockhash (-8 "out of range" → null).
//   - scan: getblockhash for the range (one batch), then getblock <hash> 2 per block (decoded
//     transactions; a few at a time). Each block must be the one asked for (hash, height, in the
//     active chain) and the blocks must chain by previousblockhash, or the scan fails: a reorg
//     happened under it, scan again. An output is a transfer when scriptPubKey.address is in the
//     watched set and its value is positive; amounts are converted to satoshi from the number's
//     text (`btcToSatoshi`), never through a double. Coinbase outputs are not reported: they cannot
//     be spent for 100 blocks and vanish with their block in a reorg (the operator sees them).
//   - detectReorg: remembered hashes against getblockhash, fork point as in the devnet adapter.
//   - lookup: the watch-only wallet first (gettransaction: block, or conflicted = dropped, or
//     abandoned = dropped), checked against the node's chain (getblockheader); then the block a
//     scan found the transaction in (getrawtransaction <txid> true <blockhash>, which needs no
//     -txindex); then the mempool (getmempoolentry: pending, with a reason when its fee rate is
//     below the current estimate); then getrawtransaction <txid> true (finds mined transactions
//     only with -txindex). A transaction is "dropped" only when that is final (a conflicting
//     transaction was mined, or the wallet abandoned it); one merely missing from this node's
//     mempool stays "pending", since paying again could pay twice.
//
// Fees: estimatesmartfee (BTC/kvB) and getmempoolinfo (mempoolminfee, minrelaytxfee), converted
// exactly to sat/kvB and rounded UP to whole sat/vB, the unit buildPsbt takes. No estimate (a new
// node, regtest) uses `fallbackFeeRate` or fails; an estimate above `maxFeeRate` fails.
//
// Payments (a watch-only descriptor wallet on the node, see README): listunspent for the source
// addresses (confirmed, "safe" outputs only), largest first, until amount + fee are covered;
// each input's BIP84 derivation is read from the output's descriptor key origin (or getaddressinfo,
// or the `locate` option) and proven by deriving the address from the configured watch-only
// account; each input carries its previous transaction (gettransaction hex) so the signer can
// check values (README, the segwit v0 fee attack). The PSBT is built by `buildPsbt` and read back
// with `describePsbt` before it is returned. Change goes to a chain-1 (change) address: the one
// asked, else the first source when it is one, else the wallet's next (getrawchangeaddress). The
// UTXOs a payment uses are reserved in memory for `reserveMs`, so two payments built before
// either is broadcast do not spend the same coins.
//
// Broadcast: sendrawtransaction with maxfeerate = `maxFeeRate`; the node's refusals become a
// `BitcoinBroadcastError` with a reason (rejected -26, inputs missing or spent -25, already in
// the chain -27, malformed -22) and the node's code and message.

import { sha256 } from "@noble/hashes/sha2.js";
import { HARDENED_OFFSET } from "@scure/bip32";
import { Address, OutScript, RawTx } from "@scure/btc-signer";
import { LruMap } from "../../lib/lru.ts";
import {
  type BlockRef,
  type ChainAdapter,
  type ChainAsset,
  type ChainLimits,
  checkLimit,
  type FeeEstimate,
  type PaymentRequest,
  type ReorgReport,
  type ScanResult,
  type TransactionStatus,
  type Transfer,
  type UnsignedTransaction,
} from "../adapter.ts";
import {
  BitcoinRpcClient,
  type BitcoinRpcClientOptions,
  BitcoinRpcError,
  RPC_ERRORS,
  type RpcBatchResult,
} from "./core-rpc-client.ts";
import { isJsonObject, type JsonObject, type JsonValue, RpcNumber, satoshiToBtc } from "./core-rpc-json.ts";
import { BitcoinTxError } from "./errors.ts";
import {
  type AddressChain,
  accountPath,
  CHANGE_CHAIN,
  deriveAddress,
  RECEIVE_CHAIN,
  type WatchOnlyAccount,
} from "./keys.ts";
import { type BitcoinNetwork, type BitcoinNetworkName, bitcoinNetwork } from "./network.ts";
import {
  buildPsbt,
  describePsbt,
  MAX_FEE_RATE,
  MAX_MONEY,
  MAX_TX_INPUTS,
  type SpendableUtxo,
  scriptForAddress,
} from "./psbt.ts";
import { feeFor, p2wpkhTxWeight, vsizeOfWeight } from "./size.ts";

export const BTC_ASSET: ChainAsset = { symbol: "BTC", decimals: 8 };

/**
 * Any valid block has fewer outputs than this: an output is at least 9 bytes (36 weight units)
 * and a block at most 4,000,000 weight units, so at most 111,111 outputs. A lower limit could
 * stall a deposit scanner on a legitimate block.
 */
export const MAX_OUTPUTS_PER_BLOCK = 120_000;

export const DEFAULT_BITCOIN_CORE_LIMITS: ChainLimits = {
  maxWatchedAddresses: 1_000_000,
  maxBlocksPerScan: 50,
  maxTransfersPerBlock: MAX_OUTPUTS_PER_BLOCK,
  maxReorgCheckBlocks: 1_000,
  maxPaymentSources: 1_000,
};

/** Largest raw transaction broadcast: a standard transaction weighs at most 400,000 WU. */
export const MAX_BROADCAST_BYTES = 400_000;

/** Where an address sits in one of the configured BIP84 accounts. */
export interface AddressLocation {
  /** The account number (unhardened). */
  account: number;
  chain: AddressChain;
  index: number;
}

export interface BitcoinCoreAdapterOptions {
  network: BitcoinNetworkName;
  /** Chain name (default `bitcoin-<network>`, the signer plugin's default). */
  chain?: string;
  /** The node: a client, or its options. Payments and wallet lookups need its `wallet`. */
  rpc: BitcoinRpcClient | BitcoinRpcClientOptions;
  /** Watch-only BIP84 accounts payments spend from and send change to. */
  accounts?: readonly WatchOnlyAccount[];
  limits?: Partial<ChainLimits>;
  /** estimatesmartfee confirmation target, blocks (default 2). */
  confTarget?: number;
  /** estimatesmartfee mode (default "conservative"). */
  estimateMode?: "economical" | "conservative";
  /** sat/vB when the node has no estimate (a fresh node, regtest); without it that is an error. */
  fallbackFeeRate?: bigint;
  /** Highest fee rate estimated, built or broadcast, sat/vB (default and at most MAX_FEE_RATE). */
  maxFeeRate?: bigint;
  /** Confirmations a UTXO needs before a payment spends it (default 1). */
  minSpendConfirmations?: number;
  /** Carry each input's previous transaction in the PSBT (default true). */
  includePrevTx?: boolean;
  /** How long UTXOs used by a built payment are not used again, ms (default 10 minutes). */
  reserveMs?: number;
  /** Blocks fetched at once by `scan` (default 4). */
  scanConcurrency?: number;
  /** Where an address sits, when neither its descriptor nor the wallet says (optional). */
  locate?: (address: string) => AddressLocation | null;
  clock?: () => number;
}

export class BitcoinCoreAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BitcoinCoreAdapterError";
  }
}

export type BroadcastRefusal =
  /** Not a transaction (locally, or the node's -22). */
  | "malformed"
  /** Refused by policy or consensus (-26): fee too low, non-standard, conflicts with the mempool. */
  | "rejected"
  /** An input is unknown or already spent (-25). */
  | "inputsMissingOrSpent"
  /** Pays a fee rate above maxfeerate (-25). */
  | "feeTooHigh"
  /** Its outputs are already in the UTXO set: it was mined before (-27). */
  | "alreadyInChain"
  /** Another RPC error. */
  | "other";

/** The node refused a transaction; `code` and `rpcMessage` are the node's, when it answered. */
export class BitcoinBroadcastError extends BitcoinCoreAdapterError {
  constructor(
    readonly reason: BroadcastRefusal,
    message: string,
    readonly code?: number,
    readonly rpcMessage?: string,
  ) {
    super(message);
    this.name = "BitcoinBroadcastError";
  }
}

/** The network names getblockchaininfo's `chain` may report for each of ours. */
const NODE_CHAINS: Readonly<Record<BitcoinNetworkName, readonly string[]>> = {
  mainnet: ["main"],
  testnet: ["test", "testnet4", "signet"],
  regtest: ["regtest"],
};

const TXID = /^[0-9a-fA-F]{64}$/;
const P2WPKH_SCRIPT_BYTES = 22;
const DEFAULT_RESERVE_MS = 10 * 60_000;
const MAX_RESERVED = 100_000;
const MAX_HINTS = 100_000;
const MAX_CONF = 9_999_999;

interface Candidate {
  txid: string;
  vout: number;
  address: string;
  value: bigint;
  desc: string | null;
}

interface Located {
  account: WatchOnlyAccount;
  chain: AddressChain;
  index: number;
}

export class BitcoinCoreAdapter implements ChainAdapter {
  readonly chain: string;
  readonly assets: readonly ChainAsset[] = [BTC_ASSET];
  readonly limits: ChainLimits;
  readonly network: BitcoinNetwork;
  readonly rpc: BitcoinRpcClient;
  readonly maxFeeRate: bigint;
  private readonly accounts: readonly WatchOnlyAccount[];
  private readonly confTarget: number;
  private readonly estimateMode: string;
  private readonly fallbackFeeRate: bigint | undefined;
  private readonly minSpendConfirmations: number;
  private readonly includePrevTx: boolean;
  private readonly reserveMs: number;
  private readonly scanConcurrency: number;
  private readonly locate: ((address: string) => AddressLocation | null) | undefined;
  private readonly clock: () => number;
  /** Outpoints used by built payments → when they may be used again. */
  private readonly reserved = new LruMap<string, number>(MAX_RESERVED);
  /** txid → hash of the block a scan found it in: lets lookup work without -txindex. */
  private readonly foundIn = new LruMap<string, string>(MAX_HINTS);
  private networkChecked: Promise<void> | null = null;

  constructor(options: BitcoinCoreAdapterOptions) {
    this.network = bitcoinNetwork(options.network);
    this.chain = options.chain ?? `bitcoin-${options.network}`;
    this.rpc = options.rpc instanceof BitcoinRpcClient ? options.rpc : new BitcoinRpcClient(options.rpc);
    this.limits = { ...DEFAULT_BITCOIN_CORE_LIMITS, ...options.limits };
    this.accounts = [...(options.accounts ?? [])];
    for (const account of this.accounts)
      if (account.network.name !== this.network.name)
        throw new BitcoinCoreAdapterError(`account ${account.account} is a ${account.network.name} account`);
    this.confTarget = options.confTarget ?? 2;
    if (!Number.isInteger(this.confTarget) || this.confTarget < 1 || this.confTarget > 1008)
      throw new BitcoinCoreAdapterError("confTarget must be an integer in 1..1008");
    this.estimateMode = options.estimateMode ?? "conservative";
    this.maxFeeRate = options.maxFeeRate ?? MAX_FEE_RATE;
    if (this.maxFeeRate < 1n || this.maxFeeRate > MAX_FEE_RATE)
      throw new BitcoinCoreAdapterError(`maxFeeRate must be in 1..${MAX_FEE_RATE} sat/vB`);
    this.fallbackFeeRate = options.fallbackFeeRate;
    if (
      this.fallbackFeeRate !== undefined &&
      (this.fallbackFeeRate < 1n || this.fallbackFeeRate > this.maxFeeRate)
    )
      throw new BitcoinCoreAdapterError(`fallbackFeeRate must be in 1..${this.maxFeeRate} sat/vB`);
    this.minSpendConfirmations = options.minSpendConfirmations ?? 1;
    if (!Number.isInteger(this.minSpendConfirmations) || this.minSpendConfirmations < 0)
      throw new BitcoinCoreAdapterError("minSpendConfirmations must be a non-negative integer");
    this.includePrevTx = options.includePrevTx ?? true;
    this.reserveMs = options.reserveMs ?? DEFAULT_RESERVE_MS;
    this.scanConcurrency = options.scanConcurrency ?? 4;
    if (!Number.isInteger(this.scanConcurrency) || this.scanConcurrency < 1)
      throw new BitcoinCoreAdapterError("scanConcurrency must be a positive integer");
    this.locate = options.locate;
    this.clock = options.clock ?? Date.now;
  }

  // --- addresses ---------------------------------------------------------------------------------

  /**
   * The canonical form of a payable address of this network (P2WPKH, P2WSH, P2TR in lower-case
   * bech32/bech32m; P2PKH, P2SH in base58check as given), or null.
   */
  normalizeAddress(address: string): string | null {
    try {
      const script = scriptForAddress(address, this.network);
      return Address(this.network.params).encode(OutScript.decode(script));
    } catch {
      return null;
    }
  }

  // --- reading the chain -------------------------------------------------------------------------

  async height(): Promise<number> {
    await this.checkNetwork();
    return int(await this.rpc.call("getblockcount"), "getblockcount");
  }

  async blockHash(height: number): Promise<string | null> {
    checkHeight(height);
    await this.checkNetwork();
    try {
      return hash(await this.rpc.call("getblockhash", [height]), "getblockhash");
    } catch (error) {
      if (isRpcError(error, RPC_ERRORS.INVALID_PARAMETER)) return null;
      throw error;
    }
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
    const hashes = (await this.rpc.batch(heights.map((h) => ({ method: "getblockhash", params: [h] })))).map(
      (r, i) => {
        if (!r.ok && r.error.code === RPC_ERRORS.INVALID_PARAMETER)
          throw new BitcoinCoreAdapterError(
            `block ${heights[i]} left the chain during the scan (reorg): scan again`,
          );
        return hash(okResult(r), "getblockhash");
      },
    );
    const blocks = await mapLimited(heights, this.scanConcurrency, (h, i) =>
      this.readBlock(h, hashes[i], watched),
    );
    for (let i = 1; i < blocks.length; i++)
      if (blocks[i].previous !== blocks[i - 1].hash)
        throw new BitcoinCoreAdapterError(`block ${heights[i]} changed during the scan (reorg): scan again`);
    const transfers = blocks.flatMap((b) => b.transfers);
    for (const t of transfers) this.foundIn.set(t.txid, t.blockHash);
    return { transfers, blocks: blocks.map((b) => ({ height: b.height, hash: b.hash })) };
  }

  /** One block at verbosity 2: its link to the previous block and its transfers to `watched`. */
  private async readBlock(
    height: number,
    blockHash: string,
    watched: ReadonlySet<string>,
  ): Promise<{ height: number; hash: string; previous: string | null; transfers: Transfer[] }> {
    const what = `getblock ${height}`;
    let block: JsonObject;
    try {
      block = obj(await this.rpc.call("getblock", [blockHash, 2]), what);
    } catch (error) {
      if (isRpcError(error, RPC_ERRORS.INVALID_ADDRESS_OR_KEY))
        throw new BitcoinCoreAdapterError(
          `block ${height} (${blockHash}) is not available: ${error.rpcMessage}`,
        );
      throw error;
    }
    if (hash(block.hash, `${what}.hash`) !== blockHash || int(block.height, `${what}.height`) !== height)
      throw new BitcoinCoreAdapterError(`the node answered getblock ${blockHash} with another block`);
    if (int(block.confirmations, `${what}.confirmations`) < 1)
      throw new BitcoinCoreAdapterError(
        `block ${height} left the active chain during the scan (reorg): scan again`,
      );
    const previous =
      block.previousblockhash === undefined ? null : hash(block.previousblockhash, `${what}.prev`);
    const txs = arr(block.tx, `${what}.tx`);
    let outputs = 0;
    for (const tx of txs) outputs += arr(obj(tx, `${what}.tx[]`).vout, `${what}.vout`).length;
    checkLimit(this.limits, "maxTransfersPerBlock", outputs);
    const transfers: Transfer[] = [];
    for (const value of txs) {
      const tx = obj(value, `${what}.tx[]`);
      const txid = hash(tx.txid, `${what}.txid`);
      const vin = arr(tx.vin, `${what}.vin`);
      if (vin.length > 0 && isJsonObject(vin[0]) && vin[0].coinbase !== undefined) continue;
      for (const outValue of arr(tx.vout, `${what}.vout`)) {
        const out = obj(outValue, `${what}.vout[]`);
        const script = obj(out.scriptPubKey, `${what}.scriptPubKey`);
        if (typeof script.address !== "string" || !watched.has(script.address)) continue;
        const amount = amountOf(out.value, `${what} ${txid} value`);
        if (amount <= 0n) continue;
        transfers.push({
          chain: this.chain,
          txid,
          outputIndex: int(out.n, `${what}.n`),
          address: script.address,
          asset: BTC_ASSET.symbol,
          amount,
          blockHeight: height,
          blockHash,
        });
      }
    }
    return { height, hash: blockHash, previous, transfers };
  }

  async detectReorg(known: readonly BlockRef[]): Promise<ReorgReport | null> {
    checkLimit(this.limits, "maxReorgCheckBlocks", known.length);
    for (const b of known) checkHeight(b.height);
    await this.checkNetwork();
    const sorted = [...known].sort((a, b) => a.height - b.height);
    const answers = await this.rpc.batch(sorted.map((b) => ({ method: "getblockhash", params: [b.height] })));
    const current = answers.map((r) => {
      if (!r.ok && r.error.code === RPC_ERRORS.INVALID_PARAMETER) return null; // above the tip now
      return hash(okResult(r), "getblockhash");
    });
    const replaced = sorted.filter((b, i) => current[i] !== b.hash.toLowerCase());
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
    if (typeof txid !== "string" || !TXID.test(txid)) return { status: "not-found" };
    const id = txid.toLowerCase();
    await this.checkNetwork();
    if (this.rpc.wallet !== undefined) {
      const fromWallet = await this.walletStatus(id);
      if (fromWallet !== null) return fromWallet;
    }
    const hint = this.foundIn.peek(id);
    if (hint !== undefined) {
      const inBlock = await this.statusInBlock(id, hint);
      if (inBlock !== null) return inBlock;
    }
    const pending = await this.mempoolStatus(id);
    if (pending !== null) return pending;
    return (await this.statusInBlock(id, null)) ?? { status: "not-found" };
  }

  /** The watch-only wallet's view, or null when the wallet does not know the transaction. */
  private async walletStatus(txid: string): Promise<TransactionStatus | null> {
    let tx: JsonObject;
    try {
      tx = obj(await this.rpc.call("gettransaction", [txid, true], { wallet: true }), "gettransaction");
    } catch (error) {
      if (isRpcError(error, RPC_ERRORS.INVALID_ADDRESS_OR_KEY)) return null;
      throw error;
    }
    const confirmations = int(tx.confirmations, "gettransaction.confirmations");
    if (confirmations > 0) {
      // The wallet follows the chain asynchronously: its block must still be in the active chain.
      const confirmed = await this.confirmedIn(hash(tx.blockhash, "gettransaction.blockhash"));
      return confirmed ?? (await this.mempoolStatus(txid));
    }
    if (confirmations < 0) {
      const conflicts = tx.walletconflicts === undefined ? [] : arr(tx.walletconflicts, "walletconflicts");
      const names = conflicts.filter((c): c is string => typeof c === "string").join(", ");
      return {
        status: "dropped",
        reason: `a conflicting transaction${names === "" ? "" : ` (${names})`} was mined ${-confirmations} block(s) ago`,
      };
    }
    const details = tx.details === undefined ? [] : arr(tx.details, "gettransaction.details");
    if (details.some((d) => isJsonObject(d) && d.abandoned === true))
      return { status: "dropped", reason: "abandoned in the node's wallet" };
    return (
      (await this.mempoolStatus(txid)) ?? {
        status: "pending",
        reason: "known to the wallet but not in the node's mempool: rebroadcast it, or replace it (RBF)",
      }
    );
  }

  /** Confirmed in `blockHash` (or, without it, wherever -txindex finds it), or null. */
  private async statusInBlock(txid: string, blockHash: string | null): Promise<TransactionStatus | null> {
    let tx: JsonObject;
    try {
      const params = blockHash === null ? [txid, true] : [txid, true, blockHash];
      tx = obj(await this.rpc.call("getrawtransaction", params), "getrawtransaction");
    } catch (error) {
      if (isRpcError(error, RPC_ERRORS.INVALID_ADDRESS_OR_KEY)) return null;
      throw error;
    }
    if (tx.in_active_chain === false || tx.blockhash === undefined) return null;
    return this.confirmedIn(hash(tx.blockhash, "getrawtransaction.blockhash"));
  }

  /** "confirmed" with the node's height and confirmations of `blockHash`, or null off the active chain. */
  private async confirmedIn(blockHash: string): Promise<TransactionStatus | null> {
    let header: JsonObject;
    try {
      header = obj(await this.rpc.call("getblockheader", [blockHash, true]), "getblockheader");
    } catch (error) {
      if (isRpcError(error, RPC_ERRORS.INVALID_ADDRESS_OR_KEY)) return null;
      throw error;
    }
    const confirmations = int(header.confirmations, "getblockheader.confirmations");
    if (confirmations < 1) return null;
    return {
      status: "confirmed",
      blockHeight: int(header.height, "getblockheader.height"),
      blockHash,
      confirmations,
    };
  }

  /** "pending" when in the node's mempool (with a reason when it pays less than the estimate), or null. */
  private async mempoolStatus(txid: string): Promise<TransactionStatus | null> {
    let entry: JsonObject;
    try {
      entry = obj(await this.rpc.call("getmempoolentry", [txid]), "getmempoolentry");
    } catch (error) {
      if (isRpcError(error, RPC_ERRORS.INVALID_ADDRESS_OR_KEY)) return null;
      throw error;
    }
    const vsize = int(entry.vsize, "getmempoolentry.vsize");
    const fee = amountOf(obj(entry.fees, "getmempoolentry.fees").base, "getmempoolentry.fees.base");
    if (vsize < 1) return { status: "pending" };
    const paidPerKvB = (fee * 1000n) / BigInt(vsize);
    const estimate = await this.rawEstimate().catch(() => null);
    if (estimate !== null && paidPerKvB < estimate)
      return {
        status: "pending",
        reason: `pays ${formatRate(paidPerKvB)} sat/vB, below the ${this.confTarget}-block estimate of ${formatRate(estimate)} sat/vB: bump it (RBF)`,
      };
    return { status: "pending" };
  }

  // --- fees --------------------------------------------------------------------------------------

  async estimateFee(asset: string): Promise<FeeEstimate> {
    this.checkAsset(asset);
    const { feeRate, minFeeRate } = await this.feeRates();
    const typicalVsize = vsizeOfWeight(p2wpkhTxWeight(1, [P2WPKH_SCRIPT_BYTES, P2WPKH_SCRIPT_BYTES]));
    return {
      asset,
      feeRate,
      minFeeRate,
      typicalFee: feeFor(typicalVsize, feeRate),
      feeAsset: BTC_ASSET.symbol,
    };
  }

  /** Next-blocks and minimum fee rates, whole sat/vB rounded up, within 1..maxFeeRate. */
  async feeRates(): Promise<{ feeRate: bigint; minFeeRate: bigint }> {
    await this.checkNetwork();
    const [estimate, mempool] = await this.rpc.batch([
      { method: "estimatesmartfee", params: [this.confTarget, this.estimateMode] },
      { method: "getmempoolinfo" },
    ]);
    const info = obj(okResult(mempool), "getmempoolinfo");
    const floorPerKvB = max(
      amountOf(info.mempoolminfee, "getmempoolinfo.mempoolminfee"),
      amountOf(info.minrelaytxfee, "getmempoolinfo.minrelaytxfee"),
    );
    const minFeeRate = max(1n, ceilDiv(floorPerKvB, 1000n));
    const smart = obj(okResult(estimate), "estimatesmartfee");
    let feeRate: bigint;
    if (smart.feerate !== undefined)
      feeRate = ceilDiv(amountOf(smart.feerate, "estimatesmartfee.feerate"), 1000n);
    else if (this.fallbackFeeRate !== undefined) feeRate = this.fallbackFeeRate;
    else {
      const errors = smart.errors === undefined ? [] : arr(smart.errors, "estimatesmartfee.errors");
      throw new BitcoinCoreAdapterError(
        `the node has no fee estimate (${errors.filter((e) => typeof e === "string").join("; ") || "no reason given"}) and no fallbackFeeRate is configured`,
      );
    }
    if (feeRate < minFeeRate) feeRate = minFeeRate;
    if (feeRate > this.maxFeeRate)
      throw new BitcoinCoreAdapterError(
        `fee rate ${feeRate} sat/vB is above the cap ${this.maxFeeRate}: not paying it`,
      );
    return { feeRate, minFeeRate };
  }

  /** The estimate in sat/kvB, exact, or null when the node has none. */
  private async rawEstimate(): Promise<bigint | null> {
    const smart = obj(
      await this.rpc.call("estimatesmartfee", [this.confTarget, this.estimateMode]),
      "estimatesmartfee",
    );
    return smart.feerate === undefined ? null : amountOf(smart.feerate, "estimatesmartfee.feerate");
  }

  // --- payments ----------------------------------------------------------------------------------

  async buildPayment(request: PaymentRequest): Promise<UnsignedTransaction> {
    this.checkAsset(request.asset);
    checkLimit(this.limits, "maxPaymentSources", request.sources.length);
    if (request.sources.length === 0)
      throw new BitcoinCoreAdapterError("a payment needs at least one source");
    if (this.rpc.wallet === undefined)
      throw new BitcoinCoreAdapterError("payments need the node's watch-only wallet (rpc.wallet)");
    if (this.accounts.length === 0)
      throw new BitcoinCoreAdapterError("payments need the watch-only accounts they spend from (accounts)");
    const to = this.requireAddress(request.to);
    const sources = [...new Set(request.sources.map((s) => this.requireAddress(s)))];
    if (typeof request.amount !== "bigint" || request.amount <= 0n || request.amount > MAX_MONEY)
      throw new BitcoinCoreAdapterError(`amount must be a bigint in 1..${MAX_MONEY} satoshi`);
    let feeRate = request.feeRate;
    if (feeRate === undefined) feeRate = (await this.feeRates()).feeRate;
    else await this.checkNetwork();
    if (typeof feeRate !== "bigint" || feeRate < 1n || feeRate > this.maxFeeRate)
      throw new BitcoinCoreAdapterError(`fee rate must be a bigint in 1..${this.maxFeeRate} sat/vB`);

    const candidates = await this.unspent(sources);
    const chosen = chooseInputs(candidates, request.amount, feeRate, to, this.network);
    const change = await this.changeTarget(request.changeAddress, chosen[0]);
    const utxos = await this.spendable(chosen);
    let built: ReturnType<typeof buildPsbt>;
    try {
      built = buildPsbt({
        network: this.network.name,
        utxos,
        payments: [{ address: to, amount: request.amount }],
        change: { account: change.account, index: change.index },
        feeRate,
      });
    } catch (error) {
      if (error instanceof BitcoinTxError)
        throw new BitcoinCoreAdapterError(`cannot build the payment: ${error.message}`);
      throw error;
    }
    // Read back from its own bytes, as the signer will: values proven by the previous transactions.
    const described = describePsbt(built.psbt, this.network.name, { requirePrevTx: this.includePrevTx });
    if (
      described.fee !== built.fee ||
      described.outputs[0]?.address !== to ||
      described.outputs[0].amount !== request.amount
    )
      throw new BitcoinCoreAdapterError("the built PSBT does not read back as the payment asked for");
    const until = this.clock() + this.reserveMs;
    for (const u of chosen) this.reserved.set(`${u.txid}:${u.vout}`, until);
    const signers: string[] = [];
    for (const u of chosen) if (!signers.includes(u.address)) signers.push(u.address);
    return { chain: this.chain, payload: built.psbt, signers, fee: built.fee, feeAsset: BTC_ASSET.symbol };
  }

  /** The wallet's confirmed, safe, unreserved outputs at `sources`, largest first. */
  private async unspent(sources: readonly string[]): Promise<Candidate[]> {
    const list = arr(
      await this.rpc.call("listunspent", [this.minSpendConfirmations, MAX_CONF, sources, false], {
        wallet: true,
      }),
      "listunspent",
    );
    const allowed = new Set(sources);
    const now = this.clock();
    const found: Candidate[] = [];
    for (const value of list) {
      const entry = obj(value, "listunspent[]");
      const txid = hash(entry.txid, "listunspent.txid");
      const vout = int(entry.vout, "listunspent.vout");
      const address = typeof entry.address === "string" ? this.normalizeAddress(entry.address) : null;
      if (address === null || !allowed.has(address)) continue; // the node ignored the filter
      if (entry.safe === false) continue;
      const until = this.reserved.peek(`${txid}:${vout}`);
      if (until !== undefined) {
        if (until > now) continue;
        this.reserved.delete(`${txid}:${vout}`);
      }
      const amount = amountOf(entry.amount, "listunspent.amount");
      if (amount <= 0n) continue;
      found.push({
        txid,
        vout,
        address,
        value: amount,
        desc: typeof entry.desc === "string" ? entry.desc : null,
      });
    }
    found.sort((a, b) =>
      a.value !== b.value
        ? a.value > b.value
          ? -1
          : 1
        : a.txid < b.txid
          ? -1
          : a.txid > b.txid
            ? 1
            : a.vout - b.vout,
    );
    return found;
  }

  /** The chosen outputs with their derivations (proven) and previous transactions. */
  private async spendable(chosen: readonly Candidate[]): Promise<SpendableUtxo[]> {
    const located = new Map<string, Located>();
    for (const c of chosen)
      if (!located.has(c.address)) located.set(c.address, await this.locateAddress(c.address, c.desc));
    let previous: (Uint8Array | undefined)[] = chosen.map(() => undefined);
    if (this.includePrevTx) {
      const txids = [...new Set(chosen.map((c) => c.txid))];
      const answers = await this.rpc.batch(
        txids.map((txid) => ({ method: "gettransaction", params: [txid, true] })),
        { wallet: true },
      );
      const raw = new Map(
        txids.map((txid, i) => [
          txid,
          hexBytes(obj(okResult(answers[i]), "gettransaction").hex, "gettransaction.hex"),
        ]),
      );
      previous = chosen.map((c) => raw.get(c.txid));
    }
    return chosen.map((c, i) => {
      const where = located.get(c.address) as Located;
      const utxo: SpendableUtxo = {
        txid: c.txid,
        vout: c.vout,
        value: c.value,
        account: where.account,
        chain: where.chain,
        index: where.index,
      };
      return previous[i] === undefined ? utxo : { ...utxo, prevTx: previous[i] };
    });
  }

  /** Where change goes: a chain-1 address of a configured account. */
  private async changeTarget(changeAddress: string | undefined, first: Candidate): Promise<Located> {
    if (changeAddress !== undefined) {
      const address = this.requireAddress(changeAddress);
      const where = await this.locateAddress(address, null);
      if (where.chain !== CHANGE_CHAIN)
        throw new BitcoinCoreAdapterError(
          `change address ${address} is not on the change chain (1) of an account`,
        );
      return where;
    }
    const source = await this.locateAddress(first.address, first.desc);
    if (source.chain === CHANGE_CHAIN) return source;
    const fresh = this.normalizeAddress(
      str(await this.rpc.call("getrawchangeaddress", ["bech32"], { wallet: true }), "getrawchangeaddress"),
    );
    if (fresh === null)
      throw new BitcoinCoreAdapterError("getrawchangeaddress returned no address of this network");
    const where = await this.locateAddress(fresh, null);
    if (where.chain !== CHANGE_CHAIN)
      throw new BitcoinCoreAdapterError(
        `the wallet's change address ${fresh} is not on chain 1 of an account`,
      );
    return where;
  }

  /**
   * The BIP84 derivation of one of our addresses, from a descriptor's key origin (listunspent's
   * `desc`, else getaddressinfo's), else `locate`; proven by deriving the address again.
   */
  private async locateAddress(address: string, desc: string | null): Promise<Located> {
    const fromDesc = desc === null ? null : this.proveOrigin(address, desc);
    if (fromDesc !== null) return fromDesc;
    const hinted = this.locate?.(address) ?? null;
    if (hinted !== null) {
      const account = this.accounts.find((a) => a.account === hinted.account);
      if (
        account !== undefined &&
        (hinted.chain === RECEIVE_CHAIN || hinted.chain === CHANGE_CHAIN) &&
        Number.isInteger(hinted.index) &&
        hinted.index >= 0 &&
        hinted.index < HARDENED_OFFSET &&
        deriveAddress(account, hinted.chain, hinted.index).address === address
      )
        return { account, chain: hinted.chain, index: hinted.index };
    }
    const info = obj(await this.rpc.call("getaddressinfo", [address], { wallet: true }), "getaddressinfo");
    const fromWallet = typeof info.desc === "string" ? this.proveOrigin(address, info.desc) : null;
    if (fromWallet !== null) return fromWallet;
    throw new BitcoinCoreAdapterError(
      `${address} is not an address of the configured accounts (no derivation found that gives it)`,
    );
  }

  /** The derivation a descriptor's key origin claims for `address`, if it derives to it. */
  private proveOrigin(address: string, desc: string): Located | null {
    const origin = parseKeyOrigin(desc);
    if (origin === null) return null;
    const where = this.underAccount(origin.fingerprint, origin.path);
    if (where === null || deriveAddress(where.account, where.chain, where.index).address !== address)
      return null;
    return where;
  }

  private underAccount(fingerprint: number, path: readonly number[]): Located | null {
    if (path.length !== 5) return null;
    const [, , , chain, index] = path;
    if (chain !== RECEIVE_CHAIN && chain !== CHANGE_CHAIN) return null;
    if (index >= HARDENED_OFFSET) return null;
    for (const account of this.accounts) {
      if (account.masterFingerprint !== fingerprint >>> 0) continue;
      const prefix = accountPath(this.network, account.account);
      if (prefix.every((step, i) => path[i] === step)) return { account, chain, index };
    }
    return null;
  }

  async broadcast(signed: Uint8Array): Promise<string> {
    if (!(signed instanceof Uint8Array) || signed.length === 0 || signed.length > MAX_BROADCAST_BYTES)
      throw new BitcoinBroadcastError(
        "malformed",
        `a raw transaction of 1..${MAX_BROADCAST_BYTES} bytes is expected`,
      );
    let txid: string;
    try {
      txid = txidOf(signed);
    } catch (error) {
      throw new BitcoinBroadcastError("malformed", `not a bitcoin transaction: ${(error as Error).message}`);
    }
    await this.checkNetwork();
    const maxFeeRate = satoshiToBtc(this.maxFeeRate * 1000n);
    let answer: JsonValue;
    try {
      answer = await this.rpc.call("sendrawtransaction", [Buffer.from(signed).toString("hex"), maxFeeRate]);
    } catch (error) {
      if (error instanceof BitcoinRpcError) throw broadcastRefusal(error);
      throw error;
    }
    const sent = hash(answer, "sendrawtransaction");
    if (sent !== txid)
      throw new BitcoinCoreAdapterError(`the node reports txid ${sent} for transaction ${txid}`);
    return txid;
  }

  // --- helpers -----------------------------------------------------------------------------------

  private checkAsset(asset: string): void {
    if (asset !== BTC_ASSET.symbol) throw new BitcoinCoreAdapterError(`${this.chain} has no asset ${asset}`);
  }

  private requireAddress(address: string): string {
    const canonical = this.normalizeAddress(address);
    if (canonical === null)
      throw new BitcoinCoreAdapterError(`not a ${this.network.name} address: ${address}`);
    return canonical;
  }

  /** Once: the node must be on this adapter's network (getblockchaininfo.chain). */
  private checkNetwork(): Promise<void> {
    if (this.networkChecked === null) {
      this.networkChecked = (async () => {
        const info = obj(await this.rpc.call("getblockchaininfo"), "getblockchaininfo");
        const chain = str(info.chain, "getblockchaininfo.chain");
        if (!NODE_CHAINS[this.network.name].includes(chain))
          throw new BitcoinCoreAdapterError(
            `the node is on "${chain}", this adapter is for ${this.network.name}`,
          );
      })();
      this.networkChecked.catch(() => {
        this.networkChecked = null;
      });
    }
    return this.networkChecked;
  }
}

/** Picks the fewest largest outputs covering amount + fee (without change at least). */
function chooseInputs(
  candidates: readonly Candidate[],
  amount: bigint,
  feeRate: bigint,
  to: string,
  network: BitcoinNetwork,
): Candidate[] {
  const toScript = scriptForAddress(to, network).length;
  let total = 0n;
  for (let k = 1; k <= Math.min(candidates.length, MAX_TX_INPUTS); k++) {
    total += candidates[k - 1].value;
    const fee = feeFor(vsizeOfWeight(p2wpkhTxWeight(k, [toScript])), feeRate);
    if (total >= amount + fee) return candidates.slice(0, k);
  }
  const available = candidates.reduce((sum, c) => sum + c.value, 0n);
  if (candidates.length > MAX_TX_INPUTS && available >= amount)
    throw new BitcoinCoreAdapterError(
      `the ${MAX_TX_INPUTS} largest outputs of the sources do not cover ${amount} + fee: consolidate first`,
    );
  throw new BitcoinCoreAdapterError(
    `insufficient funds: ${available} satoshi spendable at the sources (${candidates.length} outputs), ${amount} + fee needed`,
  );
}

/** A descriptor's first key origin, `[fingerprint/84h/0h/0h/0/5]`, as a fingerprint and a path. */
export function parseKeyOrigin(desc: string): { fingerprint: number; path: number[] } | null {
  if (typeof desc !== "string" || desc.length > 1000) return null;
  const match = /\[([0-9a-fA-F]{8})((?:\/[0-9]{1,10}['hH]?){0,10})\]/.exec(desc);
  if (match === null) return null;
  const path: number[] = [];
  for (const step of match[2].split("/").slice(1)) {
    const hardened = /['hH]$/.test(step);
    const n = Number(hardened ? step.slice(0, -1) : step);
    if (!Number.isSafeInteger(n) || n >= HARDENED_OFFSET) return null;
    path.push(hardened ? n + HARDENED_OFFSET : n);
  }
  return { fingerprint: Number.parseInt(match[1], 16) >>> 0, path };
}

/** sat/vB, whole, rounded up, from a Bitcoin Core fee rate in BTC/kvB (as JSON number text). */
export function satPerVbyteFromBtcPerKvB(rate: RpcNumber | string): bigint {
  const perKvB = (rate instanceof RpcNumber ? rate : new RpcNumber(rate)).toSatoshi();
  if (perKvB < 0n) throw new RangeError(`negative fee rate ${rate}`);
  return ceilDiv(perKvB, 1000n);
}

function broadcastRefusal(error: BitcoinRpcError): BitcoinBroadcastError {
  const { code, rpcMessage } = error;
  const refuse = (reason: BroadcastRefusal, what: string) =>
    new BitcoinBroadcastError(reason, `${what}: ${rpcMessage} (bitcoind error ${code})`, code, rpcMessage);
  if (code === RPC_ERRORS.VERIFY_REJECTED) return refuse("rejected", "the node rejected the transaction");
  if (code === RPC_ERRORS.VERIFY_ALREADY_IN_CHAIN)
    return refuse("alreadyInChain", "the transaction is already mined");
  if (code === RPC_ERRORS.DESERIALIZATION_ERROR)
    return refuse("malformed", "the node cannot decode the transaction");
  if (code === RPC_ERRORS.VERIFY_ERROR) {
    if (/fee exceeds|maxfeerate|max-?fee/i.test(rpcMessage))
      return refuse("feeTooHigh", "the transaction pays more than the maximum fee rate");
    return refuse("inputsMissingOrSpent", "an input is missing or already spent");
  }
  return refuse("other", "the node refused the transaction");
}

function txidOf(raw: Uint8Array): string {
  const tx = RawTx.decode(raw);
  if (tx.inputs.length === 0 || tx.outputs.length === 0) throw new Error("no inputs or no outputs");
  const stripped = RawTx.encode({ ...tx, segwitFlag: false, witnesses: undefined });
  return Buffer.from(sha256(sha256(stripped)).reverse()).toString("hex");
}

/** Runs `fn` over `items`, at most `limit` at once, results in order; stops starting work after a failure. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function checkHeight(height: number): void {
  if (!Number.isSafeInteger(height) || height < 0) throw new RangeError(`bad block height ${height}`);
}

function isRpcError(error: unknown, code: number): error is BitcoinRpcError {
  return error instanceof BitcoinRpcError && error.code === code;
}

function okResult(answer: RpcBatchResult): JsonValue {
  if (!answer.ok) throw answer.error;
  return answer.result;
}

function bad(what: string, expected: string): BitcoinCoreAdapterError {
  return new BitcoinCoreAdapterError(`unexpected answer from the node: ${what} is not ${expected}`);
}

function obj(value: JsonValue | undefined, what: string): JsonObject {
  if (!isJsonObject(value)) throw bad(what, "an object");
  return value;
}

function arr(value: JsonValue | undefined, what: string): JsonValue[] {
  if (!Array.isArray(value)) throw bad(what, "an array");
  return value;
}

function str(value: JsonValue | undefined, what: string): string {
  if (typeof value !== "string") throw bad(what, "a string");
  return value;
}

function int(value: JsonValue | undefined, what: string): number {
  if (!(value instanceof RpcNumber)) throw bad(what, "a number");
  try {
    return value.toSafeInteger();
  } catch {
    throw bad(what, "an integer");
  }
}

function hash(value: JsonValue | undefined, what: string): string {
  if (typeof value !== "string" || !TXID.test(value)) throw bad(what, "a 32-byte hex hash");
  return value.toLowerCase();
}

function hexBytes(value: JsonValue | undefined, what: string): Uint8Array {
  if (typeof value !== "string" || value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value))
    throw bad(what, "hex");
  return new Uint8Array(Buffer.from(value, "hex"));
}

/** An amount field in BTC as exact satoshi, within ±21M BTC. */
function amountOf(value: JsonValue | undefined, what: string): bigint {
  if (!(value instanceof RpcNumber)) throw bad(what, "a number");
  let satoshi: bigint;
  try {
    satoshi = value.toSatoshi();
  } catch (error) {
    throw bad(what, `an amount in BTC (${(error as Error).message})`);
  }
  if (satoshi > MAX_MONEY || satoshi < -MAX_MONEY) throw bad(what, "within 21 million BTC");
  return satoshi;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** sat/kvB as sat/vB with up to 3 decimals ("12.345"). */
function formatRate(perKvB: bigint): string {
  const whole = perKvB / 1000n;
  const fraction = (perKvB % 1000n).toString().padStart(3, "0").replace(/0+$/, "");
  return fraction === "" ? `${whole}` : `${whole}.${fraction}`;
}

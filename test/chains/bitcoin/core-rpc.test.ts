// The Bitcoin Core chain adapter against an in-test bitcoind (fixtures/core-rpc-node.ts) answering
// from Core 27-shaped fixtures of a small regtest chain (make-core-rpc-fixtures.ts): scanning,
// exact amounts, reorgs, confirmations and lookups, fees, payments (decoded with
// @scure/btc-signer, then described and signed by the signer's plugin) and broadcast refusals.
import { Address, OutScript, Transaction } from "@scure/btc-signer";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChainLimitError } from "../../../src/chains/adapter.ts";
import {
  BitcoinBroadcastError,
  BitcoinCoreAdapter,
  type BitcoinCoreAdapterOptions,
  parseKeyOrigin,
  satPerVbyteFromBtcPerKvB,
} from "../../../src/chains/bitcoin/core-rpc.ts";
import { BitcoinRpcTransportError } from "../../../src/chains/bitcoin/core-rpc-client.ts";
import { isJsonObject, type JsonObject, RpcNumber } from "../../../src/chains/bitcoin/core-rpc-json.ts";
import { deriveAddress, exportAccount, watchOnlyAccount } from "../../../src/chains/bitcoin/keys.ts";
import { bitcoinNetwork } from "../../../src/chains/bitcoin/network.ts";
import { seedFromMnemonic } from "../../../src/chains/bitcoin/seed.ts";
import { bitcoinSigningPlugin } from "../../../src/chains/bitcoin/signing-plugin.ts";
import { p2wpkhTxWeight, vsizeOfWeight } from "../../../src/chains/bitcoin/size.ts";
import {
  CHAIN_A,
  CHAIN_B,
  FakeBitcoind,
  FEES,
  fail,
  freshState,
  NAMES,
  txidOfHex,
} from "./fixtures/core-rpc-node.ts";

const HOT = {
  chain: "bitcoin-regtest",
  seed: seedFromMnemonic(
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
  ),
};
const ACCOUNT = watchOnlyAccount(exportAccount(HOT.seed, "regtest", 0));
const { W0, W1, W2, C0, C1, OUT } = NAMES;
const regtestAddress = Address(bitcoinNetwork("regtest").params);
/** The output script of an address, hex. */
const script = (address: string) =>
  Buffer.from(OutScript.encode(regtestAddress.decode(address))).toString("hex");

let node: FakeBitcoind;
let now = 1_700_000_000_000;
const adapters: BitcoinCoreAdapter[] = [];

beforeAll(async () => {
  node = await new FakeBitcoind().start();
});

afterEach(() => {
  node.state = freshState();
  node.overrides.clear();
  node.raw = null;
  node.calls.length = 0;
  for (const a of adapters.splice(0)) a.rpc.close();
});

afterAll(async () => {
  await node.stop();
});

/** An adapter on the test node; `wallet` null: no wallet configured. */
function adapter(options: Partial<BitcoinCoreAdapterOptions> = {}, wallet: string | null = node.walletName) {
  const a = new BitcoinCoreAdapter({
    network: "regtest",
    rpc: { url: node.url, auth: { user: "custody", password: "correct horse" }, wallet: wallet ?? undefined },
    accounts: [ACCOUNT],
    clock: () => now,
    ...options,
  });
  adapters.push(a);
  return a;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
}

/** vsize of a P2WPKH spend of `inputs` inputs paying P2WPKH outputs, as buildPsbt estimates it. */
const vsize = (inputs: number, outputs: number) =>
  BigInt(
    vsizeOfWeight(
      p2wpkhTxWeight(
        inputs,
        Array.from({ length: outputs }, () => 22),
      ),
    ),
  );

describe("BitcoinCoreAdapter: reading the chain", () => {
  it("checks the node's network once, and refuses another one", async () => {
    expect(await adapter().height()).toBe(103);
    node.state.blockchainInfo = { ...node.state.blockchainInfo, chain: "main" };
    await expect(adapter().height()).rejects.toThrow(/the node is on "main", this adapter is for regtest/);
    const testnet = adapter({ network: "testnet", accounts: [] });
    node.state.blockchainInfo = { ...node.state.blockchainInfo, chain: "testnet4" };
    expect(await testnet.height()).toBe(103);
  });

  it("reads the tip and block hashes; above the tip is null", async () => {
    const a = adapter();
    expect(await a.height()).toBe(103);
    expect(await a.blockHash(101)).toBe(CHAIN_A[101]);
    expect(await a.blockHash(104)).toBeNull();
    await expect(a.blockHash(-1)).rejects.toThrow(RangeError);
  });

  it("normalizes addresses of its network only (bech32 lower case)", () => {
    const a = adapter();
    expect(a.normalizeAddress(W0)).toBe(W0);
    expect(a.normalizeAddress(W0.toUpperCase())).toBe(W0);
    expect(a.normalizeAddress(`${W0.slice(0, 6)}${W0.slice(6).toUpperCase()}`)).toBeNull(); // mixed case
    expect(a.normalizeAddress("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu")).toBeNull(); // mainnet
    expect(a.normalizeAddress("tb1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu")).toBeNull();
    expect(a.normalizeAddress("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn")).toBe(
      "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
    );
    expect(a.normalizeAddress("not an address")).toBeNull();
    expect(a.normalizeAddress("")).toBeNull();
    expect(
      adapter({ network: "mainnet", accounts: [] }).normalizeAddress(
        "BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU",
      ),
    ).toBe("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
  });

  it("scans blocks: transfers to watched addresses only, amounts exact, coinbase and zero outputs skipped", async () => {
    const a = adapter();
    const result = await a.scan(101, 103, new Set([W0, W1, W2]));
    expect(result.blocks).toEqual([
      { height: 101, hash: CHAIN_A[101] },
      { height: 102, hash: CHAIN_A[102] },
      { height: 103, hash: CHAIN_A[103] },
    ]);
    const base = { chain: "bitcoin-regtest", asset: "BTC" };
    expect(result.transfers).toEqual([
      // tx1 pays W0 0.10000000, an unwatched address and an OP_RETURN; the coinbase before it pays W2.
      {
        ...base,
        txid: NAMES.tx1,
        outputIndex: 0,
        address: W0,
        amount: 10_000_000n,
        blockHeight: 101,
        blockHash: CHAIN_A[101],
      },
      // 20999999.97690000 BTC: above 2^53 satoshi / 1e8 precision traps, read exactly.
      {
        ...base,
        txid: NAMES.tx2,
        outputIndex: 0,
        address: W1,
        amount: 2_099_999_997_690_000n,
        blockHeight: 102,
        blockHash: CHAIN_A[102],
      },
      // 0.29000000: 0.29 * 1e8 is 28999999.999999996 as a double.
      {
        ...base,
        txid: NAMES.tx2,
        outputIndex: 1,
        address: W0,
        amount: 29_000_000n,
        blockHeight: 102,
        blockHash: CHAIN_A[102],
      },
      // tx3: 546 satoshi to W2; its zero-value output to W0 is not a transfer.
      {
        ...base,
        txid: NAMES.tx3,
        outputIndex: 0,
        address: W2,
        amount: 546n,
        blockHeight: 102,
        blockHash: CHAIN_A[102],
      },
    ]);
    // Change coming back is found when watched.
    const change = await a.scan(103, 103, new Set([C0]));
    expect(change.transfers.map((t) => [t.txid, t.amount])).toEqual([[NAMES.tx4, 300_000n]]);
    expect((await a.scan(101, 101, new Set())).transfers).toEqual([]);
    // One getblockhash batch, then getblock <hash> 2 per block.
    expect(node.calls.filter((c) => c.method === "getblock").map((c) => c.params[1])).toEqual(
      Array(5).fill(new RpcNumber("2")),
    );
  });

  it("enforces the scan limits before asking the node for blocks", async () => {
    const a = adapter({ limits: { maxBlocksPerScan: 2, maxWatchedAddresses: 2, maxTransfersPerBlock: 6 } });
    await expect(a.scan(101, 103, new Set([W0]))).rejects.toBeInstanceOf(ChainLimitError);
    await expect(a.scan(101, 102, new Set([W0, W1, W2]))).rejects.toMatchObject({
      limit: "maxWatchedAddresses",
      requested: 3,
      allowed: 2,
    });
    expect(node.calls.filter((c) => c.method === "getblock")).toEqual([]);
    // Block 102 carries 2 + 3 + 2 outputs.
    await expect(a.scan(102, 102, new Set([W0]))).rejects.toMatchObject({
      limit: "maxTransfersPerBlock",
      requested: 7,
      allowed: 6,
    });
    expect((await a.scan(101, 101, new Set([W0]))).transfers).toHaveLength(1);
    await expect(a.scan(103, 104, new Set([W0]))).rejects.toThrow(/above the tip 103/);
    await expect(a.scan(102, 101, new Set([W0]))).rejects.toThrow(RangeError);
  });

  it("fails a scan that reads blocks of two branches (a reorg under it)", async () => {
    const a = adapter();
    // Height 103 is already on branch b while 102 is still a's: 103b does not follow 102.
    node.state.active = [...CHAIN_A.slice(0, 103), CHAIN_B[103]];
    await expect(a.scan(101, 103, new Set([W0]))).rejects.toThrow(/block 103 changed during the scan/);
    // The branch switches between getblockhash and getblock: block 102 is no longer active.
    node.state.active = [...CHAIN_A];
    node.overrides.set("getblockhash", (params) => {
      const height = Number((params[0] as RpcNumber).text);
      node.state.active = [...CHAIN_B];
      return { result: CHAIN_A[height] };
    });
    await expect(a.scan(101, 103, new Set([W0]))).rejects.toThrow(/left the active chain during the scan/);
  });

  it("detects a reorg from remembered hashes, with the fork point", async () => {
    const a = adapter({ limits: { maxReorgCheckBlocks: 4 } });
    const { blocks } = await a.scan(101, 103, new Set([W0]));
    expect(await a.detectReorg(blocks)).toBeNull();
    node.state.active = [...CHAIN_B];
    expect(await a.detectReorg(blocks)).toEqual({
      forkHeight: 101,
      replaced: [
        { height: 102, hash: CHAIN_A[102] },
        { height: 103, hash: CHAIN_A[103] },
      ],
    });
    // A remembered block above the new tip is replaced too.
    node.state.active = CHAIN_A.slice(0, 103);
    expect(await a.detectReorg(blocks)).toEqual({
      forkHeight: 102,
      replaced: [{ height: 103, hash: CHAIN_A[103] }],
    });
    const five = [100, 101, 102, 103, 104].map((height) => ({ height, hash: CHAIN_A[100] }));
    await expect(a.detectReorg(five)).rejects.toMatchObject({ limit: "maxReorgCheckBlocks" });
  });
});

describe("BitcoinCoreAdapter: confirmations and lookups", () => {
  it("reads the watch-only wallet: confirmed, pending (with why), dropped, not found", async () => {
    const a = adapter();
    expect(await a.lookup(NAMES.tx1)).toEqual({
      status: "confirmed",
      blockHeight: 101,
      blockHash: CHAIN_A[101],
      confirmations: 3,
    });
    expect(await a.confirmations(NAMES.tx1)).toBe(3);
    expect(await a.confirmations(NAMES.tx1.toUpperCase())).toBe(3);
    // In the mempool at 282 sat / 139 vB while the 2-block estimate is 12.345 sat/vB.
    const pending = await a.lookup(NAMES.tx6);
    expect(pending).toEqual({
      status: "pending",
      reason: "pays 2.028 sat/vB, below the 2-block estimate of 12.345 sat/vB: bump it (RBF)",
    });
    expect(await a.confirmations(NAMES.tx6)).toBe(0);
    // In the mempool at 20 sat/vB: pending, nothing to say.
    expect(await a.lookup(NAMES.tx5)).toEqual({ status: "pending" });
    // Its double spend was mined two blocks ago.
    const conflicted = await a.lookup(NAMES.tx7);
    expect(conflicted.status).toBe("dropped");
    if (conflicted.status === "dropped") {
      expect(conflicted.reason).toContain(NAMES.tx8);
      expect(conflicted.reason).toContain("2 block(s) ago");
    }
    expect(await a.lookup(NAMES.tx9)).toEqual({
      status: "dropped",
      reason: "abandoned in the node's wallet",
    });
    // Known to the wallet, absent from the mempool: still pending (paying again could pay twice).
    const evicted = await a.lookup(NAMES.tx10);
    expect(evicted.status).toBe("pending");
    if (evicted.status === "pending") expect(evicted.reason).toMatch(/not in the node's mempool/);
    expect(await a.lookup("ab".repeat(32))).toEqual({ status: "not-found" });
    expect(await a.lookup("not a txid")).toEqual({ status: "not-found" });
  });

  it("checks the wallet's block against the chain, and follows a reorg through the scan's blocks or -txindex", async () => {
    const a = adapter();
    await a.scan(101, 103, new Set([W0, W1, W2]));
    node.state.active = [...CHAIN_B];
    // The wallet still says tx2 is in 102a: no longer in the active chain; no -txindex here.
    expect(await a.lookup(NAMES.tx2)).toEqual({ status: "not-found" });
    expect(await a.lookup(NAMES.tx3)).toEqual({ status: "not-found" });
    // A scan of the new branch finds tx2 in 103b: found there without -txindex.
    const rescan = await a.scan(102, 104, new Set([W0, W1, W2]));
    expect(rescan.transfers.map((t) => [t.txid, t.blockHeight])).toEqual([
      [NAMES.tx2, 103],
      [NAMES.tx2, 103],
    ]);
    expect(await a.lookup(NAMES.tx2)).toEqual({
      status: "confirmed",
      blockHeight: 103,
      blockHash: CHAIN_B[103],
      confirmations: 2,
    });
    // A fresh adapter (no scan remembered) finds it through -txindex.
    node.state.txindex = true;
    expect(await adapter().lookup(NAMES.tx2)).toMatchObject({ status: "confirmed", blockHash: CHAIN_B[103] });
    expect(await adapter().lookup(NAMES.tx3)).toEqual({ status: "not-found" });
  });

  it("works without a wallet: the block a scan found the transaction in, then the mempool", async () => {
    const a = adapter({ accounts: [] }, null);
    await a.scan(101, 102, new Set([W0]));
    expect(await a.lookup(NAMES.tx1)).toMatchObject({
      status: "confirmed",
      blockHeight: 101,
      confirmations: 3,
    });
    expect(await a.lookup(NAMES.tx6)).toMatchObject({ status: "pending" });
    expect(await a.lookup(NAMES.tx9)).toEqual({ status: "not-found" });
    expect(node.methods()).not.toContain("gettransaction");
    const withBlock = node.calls.find((c) => c.method === "getrawtransaction" && c.params.length === 3);
    expect(withBlock?.params).toEqual([NAMES.tx1, true, CHAIN_A[101]]);
  });
});

describe("BitcoinCoreAdapter: fees", () => {
  it("converts BTC/kvB to whole sat/vB exactly, rounding up", () => {
    expect(satPerVbyteFromBtcPerKvB("0.00001000")).toBe(1n);
    expect(satPerVbyteFromBtcPerKvB("0.00001001")).toBe(2n);
    expect(satPerVbyteFromBtcPerKvB("0.00000999")).toBe(1n);
    expect(satPerVbyteFromBtcPerKvB("0.00012345")).toBe(13n);
    expect(satPerVbyteFromBtcPerKvB("1e-5")).toBe(1n);
    expect(satPerVbyteFromBtcPerKvB(new RpcNumber("0.02000000"))).toBe(2_000n);
    expect(satPerVbyteFromBtcPerKvB("0")).toBe(0n);
    expect(() => satPerVbyteFromBtcPerKvB("0.000000001")).toThrow(/fraction of a satoshi/);
  });

  it("estimates from estimatesmartfee and the mempool floor", async () => {
    const a = adapter();
    // 0.00012345 BTC/kvB = 12.345 sat/vB → 13; floor 0.00001000 BTC/kvB → 1.
    expect(await a.estimateFee("BTC")).toEqual({
      asset: "BTC",
      feeRate: 13n,
      minFeeRate: 1n,
      typicalFee: 13n * vsize(1, 2),
      feeAsset: "BTC",
    });
    expect(vsize(1, 2)).toBe(141n);
    const smart = node.calls.find((c) => c.method === "estimatesmartfee");
    expect(smart?.params).toEqual([new RpcNumber("2"), "conservative"]);
    // A full mempool raises the floor above the estimate.
    node.state.mempoolInfo = { ...node.state.mempoolInfo, mempoolminfee: new RpcNumber("0.00020000") };
    expect(await a.estimateFee("BTC")).toMatchObject({ feeRate: 20n, minFeeRate: 20n });
    await expect(a.estimateFee("ETH")).rejects.toThrow(/no asset ETH/);
  });

  it("has no estimate on a fresh node: the fallback rate, or a clear error; refuses an estimate above the cap", async () => {
    node.state.estimate = FEES["estimatesmartfee-none"] as JsonObject;
    await expect(adapter().estimateFee("BTC")).rejects.toThrow(
      /no fee estimate \(Insufficient data or no feerate found\) and no fallbackFeeRate/,
    );
    expect(await adapter({ fallbackFeeRate: 7n }).estimateFee("BTC")).toMatchObject({ feeRate: 7n });
    node.state.estimate = FEES["estimatesmartfee-high"] as JsonObject; // 0.03 BTC/kvB = 3,000 sat/vB
    await expect(adapter().estimateFee("BTC")).rejects.toThrow(/3000 sat\/vB is above the cap 2000/);
    await expect(adapter({ maxFeeRate: 50n }).estimateFee("BTC")).rejects.toThrow(/above the cap 50/);
  });
});

/** The PSBT decoded by @scure/btc-signer: outputs as [address script hex, amount]. */
function decode(payload: Uint8Array) {
  const tx = Transaction.fromPSBT(payload);
  const outputs = Array.from({ length: tx.outputsLength }, (_, i) => {
    const o = tx.getOutput(i);
    return [Buffer.from(o.script as Uint8Array).toString("hex"), o.amount as bigint] as const;
  });
  const inputs = Array.from({ length: tx.inputsLength }, (_, i) => tx.getInput(i));
  return { tx, outputs, inputs };
}
describe("BitcoinCoreAdapter: payments", () => {
  it("builds a PSBT from the wallet's UTXOs at the sources: one input, the payment, change to the wallet's change address", async () => {
    const a = adapter();
    const built = await a.buildPayment({
      sources: [W0, W1],
      to: OUT,
      asset: "BTC",
      amount: 15_000_000n,
      feeRate: 5n,
    });
    // listunspent: confirmed, safe outputs of exactly the sources.
    const listed = node.calls.find((c) => c.method === "listunspent");
    expect(listed?.params).toEqual([new RpcNumber("1"), new RpcNumber("9999999"), [W0, W1], false]);
    expect(listed?.wallet).toBe(node.walletName);
    // The largest output (0.29 at W0, from tx2) covers it; tx5 (0.5 at W1) is unconfirmed.
    const fee = 5n * vsize(1, 2);
    expect(fee).toBe(705n);
    expect(built).toMatchObject({ chain: "bitcoin-regtest", signers: [W0], fee, feeAsset: "BTC" });
    const { outputs, inputs } = decode(built.payload);
    expect(outputs).toEqual([
      [script(OUT), 15_000_000n],
      [script(C1), 29_000_000n - 15_000_000n - fee],
    ]);
    expect(inputs).toHaveLength(1);
    expect(Buffer.from(inputs[0].txid as Uint8Array).toString("hex")).toBe(NAMES.tx2);
    expect(inputs[0].index).toBe(1);
    expect(inputs[0].witnessUtxo?.amount).toBe(29_000_000n);
    // The previous transaction rides along (nonWitnessUtxo) and is tx2 itself.
    expect(inputs[0].nonWitnessUtxo).toBeDefined();
    expect(inputs[0].bip32Derivation?.[0][1].path).toEqual(deriveAddress(ACCOUNT, 0, 0).path);
    expect(node.methods()).toContain("getrawchangeaddress");
  });

  it("is what the signer's plugin reads, signs and the adapter broadcasts", async () => {
    const a = adapter();
    const built = await a.buildPayment({
      sources: [W0],
      to: OUT,
      asset: "BTC",
      amount: 15_000_000n,
      feeRate: 5n,
    });
    const plugin = bitcoinSigningPlugin({ network: "regtest", requirePrevTx: true });
    expect(plugin.describe(built.payload, HOT)).toEqual({
      payments: [
        { to: OUT, asset: "BTC", amount: 15_000_000n },
        { to: C1, asset: "BTC", amount: 29_000_000n - 15_000_000n - 705n },
      ],
      fee: 705n,
      feeAsset: "BTC",
    });
    expect(plugin.isOwnAddress(C1, HOT)).toBe(true);
    const signed = plugin.sign(built.payload, HOT);
    expect(await a.broadcast(signed.bytes)).toBe(signed.txId);
    const sent = node.calls.find((c) => c.method === "sendrawtransaction");
    // maxfeerate in BTC/kvB: 2,000 sat/vB.
    expect(sent?.params).toEqual([Buffer.from(signed.bytes).toString("hex"), "0.02000000"]);
    expect(txidOfHex(node.broadcasts[0])).toBe(signed.txId);
  });

  it("adds inputs largest first until amount and fee are covered", async () => {
    const built = await adapter().buildPayment({
      sources: [W0],
      to: OUT,
      asset: "BTC",
      amount: 35_000_000n,
      feeRate: 5n,
    });
    const { inputs, outputs } = decode(built.payload);
    expect(inputs.map((i) => Buffer.from(i.txid as Uint8Array).toString("hex"))).toEqual([
      NAMES.tx2,
      NAMES.tx1,
    ]);
    const fee = 5n * vsize(2, 2);
    expect(built.fee).toBe(fee);
    expect(outputs[1][1]).toBe(39_000_000n - 35_000_000n - fee);
    expect(built.signers).toEqual([W0]);
  });

  it("sends change where asked (a change-chain address), or back to a change source", async () => {
    const a = adapter();
    const toC0 = await a.buildPayment({
      sources: [W0],
      to: OUT,
      asset: "BTC",
      amount: 1_000_000n,
      feeRate: 2n,
      changeAddress: C0.toUpperCase(),
    });
    expect(decode(toC0.payload).outputs[1][0]).toBe(script(C0));
    await expect(
      a.buildPayment({
        sources: [W0],
        to: OUT,
        asset: "BTC",
        amount: 1_000_000n,
        feeRate: 2n,
        changeAddress: W1,
      }),
    ).rejects.toThrow(/not on the change chain/);
    const fromChange = await adapter().buildPayment({
      sources: [C0],
      to: OUT,
      asset: "BTC",
      amount: 100_000n,
      feeRate: 2n,
    });
    expect(decode(fromChange.payload).outputs).toEqual([
      [script(OUT), 100_000n],
      [script(C0), 300_000n - 100_000n - fromChange.fee],
    ]);
    expect(node.methods()).not.toContain("getrawchangeaddress");
  });

  it("reserves the outputs a payment uses until it expires", async () => {
    const a = adapter({ reserveMs: 60_000 });
    const payment = { sources: [W0], to: OUT, asset: "BTC", amount: 5_000_000n, feeRate: 2n };
    const first = await a.buildPayment(payment);
    const second = await a.buildPayment(payment);
    const spent = (b: { payload: Uint8Array }) =>
      decode(b.payload).inputs.map((i) => Buffer.from(i.txid as Uint8Array).toString("hex"));
    expect(spent(first)).toEqual([NAMES.tx2]);
    expect(spent(second)).toEqual([NAMES.tx1]);
    await expect(a.buildPayment(payment)).rejects.toThrow(/insufficient funds: 0 satoshi/);
    now += 60_001;
    expect(spent(await a.buildPayment(payment))).toEqual([NAMES.tx2]);
  });

  it("refuses what it cannot pay: funds, limits, addresses, amounts, fee rates", async () => {
    const a = adapter({ limits: { maxPaymentSources: 2 } });
    const ok = { sources: [W0], to: OUT, asset: "BTC", amount: 1_000_000n, feeRate: 2n };
    await expect(a.buildPayment({ ...ok, amount: 100_000_000n })).rejects.toThrow(
      /insufficient funds: 39000000 satoshi spendable at the sources \(2 outputs\)/,
    );
    await expect(a.buildPayment({ ...ok, sources: [W0, W1, W2] })).rejects.toBeInstanceOf(ChainLimitError);
    await expect(a.buildPayment({ ...ok, sources: [] })).rejects.toThrow(/at least one source/);
    await expect(a.buildPayment({ ...ok, to: "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu" })).rejects.toThrow(
      /not a regtest address/,
    );
    await expect(a.buildPayment({ ...ok, asset: "ETH" })).rejects.toThrow(/no asset ETH/);
    await expect(a.buildPayment({ ...ok, amount: 0n })).rejects.toThrow(/amount must be/);
    await expect(a.buildPayment({ ...ok, amount: 100n })).rejects.toThrow(/below dust/);
    await expect(a.buildPayment({ ...ok, feeRate: 2_001n })).rejects.toThrow(/fee rate must be/);
    await expect(a.buildPayment({ ...ok, feeRate: 0n })).rejects.toThrow(/fee rate must be/);
    await expect(adapter({}, null).buildPayment(ok)).rejects.toThrow(/watch-only wallet/);
    await expect(adapter({ accounts: [] }).buildPayment(ok)).rejects.toThrow(/watch-only accounts/);
    // Nothing was reserved by the refusals.
    expect(await a.buildPayment(ok)).toMatchObject({ signers: [W0] });
  });

  it("proves each input's derivation: a descriptor that lies falls back to getaddressinfo, then to a refusal", async () => {
    const lying = (node.state.wallet.listunspent as JsonObject[]).map((u) => ({
      ...u,
      // Claims receive index 5 for every output.
      desc: (u.desc as string).replace(/\/0\/[0-9]+\]/, "/0/5]"),
    }));
    node.state.wallet = { ...node.state.wallet, listunspent: lying };
    const built = await adapter().buildPayment({
      sources: [W0],
      to: OUT,
      asset: "BTC",
      amount: 1_000_000n,
      feeRate: 2n,
    });
    expect(decode(built.payload).inputs[0].bip32Derivation?.[0][1].path).toEqual(
      deriveAddress(ACCOUNT, 0, 0).path,
    );
    expect(node.calls.find((c) => c.method === "getaddressinfo")?.params).toEqual([W0]);
    // The wallet does not know the address either: refused.
    node.overrides.set("getaddressinfo", (params) => ({ result: { address: params[0], ismine: false } }));
    await expect(
      adapter().buildPayment({ sources: [W0], to: OUT, asset: "BTC", amount: 1_000_000n, feeRate: 2n }),
    ).rejects.toThrow(/is not an address of the configured accounts/);
    // `locate` answers where the node does not.
    node.overrides.clear();
    const located = await adapter({
      locate: (address) => (address === W0 ? { account: 0, chain: 0, index: 0 } : null),
    }).buildPayment({
      sources: [W0],
      to: OUT,
      asset: "BTC",
      amount: 1_000_000n,
      feeRate: 2n,
      changeAddress: C0,
    });
    expect(decode(located.payload).inputs).toHaveLength(1);
  });

  it("can leave the previous transactions out", async () => {
    const built = await adapter({ includePrevTx: false }).buildPayment({
      sources: [W0],
      to: OUT,
      asset: "BTC",
      amount: 1_000_000n,
      feeRate: 2n,
    });
    expect(decode(built.payload).inputs[0].nonWitnessUtxo).toBeUndefined();
    expect(node.methods()).not.toContain("gettransaction");
  });

  it("uses the estimate when no fee rate is given", async () => {
    const built = await adapter().buildPayment({ sources: [W0], to: OUT, asset: "BTC", amount: 1_000_000n });
    expect(built.fee).toBe(13n * vsize(1, 2));
  });
});

describe("BitcoinCoreAdapter: broadcast", () => {
  async function signedPayment(): Promise<{ bytes: Uint8Array; txId: string }> {
    const built = await adapter().buildPayment({
      sources: [W0],
      to: OUT,
      asset: "BTC",
      amount: 1_000_000n,
      feeRate: 2n,
    });
    return bitcoinSigningPlugin({ network: "regtest" }).sign(built.payload, HOT);
  }

  it("maps the node's refusals to clear errors with its code and message", async () => {
    const signed = await signedPayment();
    const cases: [number, string, string][] = [
      [-26, "min relay fee not met, 100 < 141", "rejected"],
      [-26, "txn-mempool-conflict", "rejected"],
      [-25, "bad-txns-inputs-missingorspent", "inputsMissingOrSpent"],
      [-25, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)", "feeTooHigh"],
      [-27, "Transaction outputs already in utxo set", "alreadyInChain"],
      [-22, "TX decode failed. Make sure the tx has at least one input.", "malformed"],
      [-1, "something else", "other"],
    ];
    for (const [code, message, reason] of cases) {
      node.overrides.set("sendrawtransaction", () => fail(code, message));
      const error = await failure(adapter().broadcast(signed.bytes));
      expect(error).toBeInstanceOf(BitcoinBroadcastError);
      expect(error).toMatchObject({ reason, code, rpcMessage: message });
      expect((error as Error).message).toContain(message);
    }
  });

  it("refuses bytes that are not a transaction without asking the node, and a txid the node gets wrong", async () => {
    const a = adapter();
    for (const bytes of [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(400_001)])
      expect(await failure(a.broadcast(bytes))).toMatchObject({ reason: "malformed" });
    expect(node.methods()).not.toContain("sendrawtransaction");
    const signed = await signedPayment();
    node.overrides.set("sendrawtransaction", () => ({ result: "ab".repeat(32) }));
    await expect(adapter().broadcast(signed.bytes)).rejects.toThrow(/reports txid/);
  });

  it("surfaces transport failures as they are", async () => {
    const wrong = new BitcoinCoreAdapter({
      network: "regtest",
      rpc: { url: node.url, auth: { user: "custody", password: "nope" } },
    });
    adapters.push(wrong);
    const error = await failure(wrong.height());
    expect(error).toBeInstanceOf(BitcoinRpcTransportError);
    expect(error).toMatchObject({ kind: "auth" });
  });
});

describe("parseKeyOrigin", () => {
  it("reads a descriptor's key origin in either hardened notation", () => {
    const H = 0x80000000;
    expect(parseKeyOrigin("wpkh([73c5da0a/84h/1h/0h/0/5]02aa)#abcd")).toEqual({
      fingerprint: 0x73c5da0a,
      path: [84 + H, 1 + H, 0 + H, 0, 5],
    });
    expect(parseKeyOrigin("wpkh([73C5DA0A/84'/0'/3'/1/7]02aa)")).toEqual({
      fingerprint: 0x73c5da0a,
      path: [84 + H, 0 + H, 3 + H, 1, 7],
    });
    expect(parseKeyOrigin("addr(bcrt1q...)")).toBeNull();
    expect(parseKeyOrigin("wpkh([73c5da0a/4294967296]02aa)")).toBeNull();
  });
});

// Fixture sanity: the wallet's previous transactions hash to their txids (what a signer checks).
describe("fixtures", () => {
  it("carry real transactions", () => {
    const txs = freshState().wallet.gettransaction as JsonObject;
    for (const [txid, tx] of Object.entries(txs))
      if (isJsonObject(tx)) expect(txidOfHex(tx.hex as string)).toBe(txid);
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChainLimitError } from "../../../src/chains/adapter.ts";
import {
  addressOfKey,
  DevnetRejectError,
  decodeEnvelope,
  describeUtxoPayload,
  encodeEnvelope,
  privateKeyFromSeed,
  signTransaction,
  spend,
  UtxoDevnet,
} from "../../../src/chains/devnet/index.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-devnet-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const hotKey = privateKeyFromSeed("hot");
const userKey = privateKeyFromSeed("user");
const thiefKey = privateKeyFromSeed("thief");

function setup(options: ConstructorParameters<typeof UtxoDevnet>[0] = {}) {
  const chain = new UtxoDevnet(options);
  const hot = addressOfKey(chain, hotKey);
  const user = addressOfKey(chain, userKey);
  const thief = addressOfKey(chain, thiefKey);
  return { chain, hot, user, thief };
}

describe("devnet UTXO chain", () => {
  it("derives bech32-looking addresses with the devnet prefix and checks their checksum", () => {
    const { chain, hot } = setup();
    expect(hot).toMatch(/^dvbtc1[02-9ac-hj-np-z]{38}$/);
    expect(chain.normalizeAddress(hot.toUpperCase())).toBe(hot);
    const flipped = hot.slice(0, -1) + (hot.endsWith("q") ? "p" : "q");
    expect(chain.normalizeAddress(flipped)).toBeNull();
    expect(chain.normalizeAddress("bc1qxyz")).toBeNull();
  });

  it("shows a faucet payment in a scan after mining, with confirmations counting up", async () => {
    const { chain, user } = setup();
    const txid = chain.faucet(user, "BTC", 150_000_000n);
    expect(await chain.lookup(txid)).toEqual({ status: "pending" });
    expect((await chain.scan(0, 0, new Set([user]))).transfers).toEqual([]);
    chain.mine();
    const { transfers, blocks } = await chain.scan(0, 1, new Set([user]));
    expect(transfers).toEqual([
      {
        chain: "devnet-btc",
        txid,
        outputIndex: 0,
        address: user,
        asset: "BTC",
        amount: 150_000_000n,
        blockHeight: 1,
        blockHash: blocks[1].hash,
      },
    ]);
    expect(await chain.confirmations(txid)).toBe(1);
    chain.mine(2);
    expect(await chain.confirmations(txid)).toBe(3);
    expect(await chain.lookup(txid)).toMatchObject({ status: "confirmed", blockHeight: 1, confirmations: 3 });
    expect(chain.balance(user)).toBe(150_000_000n);
  });

  it("builds, signs and broadcasts a payment with change; the fee leaves the sender", async () => {
    const { chain, hot, user } = setup();
    chain.faucet(hot, "BTC", 100_000n);
    chain.mine();
    const unsigned = await chain.buildPayment({ sources: [hot], to: user, asset: "BTC", amount: 30_000n });
    expect(unsigned.signers).toEqual([hot]);
    const txid = await chain.broadcast(signTransaction(chain, unsigned, new Map([[hot, hotKey]])));
    chain.mine();
    expect(await chain.lookup(txid)).toMatchObject({ status: "confirmed", confirmations: 1 });
    expect(chain.balance(user)).toBe(30_000n);
    expect(chain.balance(hot)).toBe(100_000n - 30_000n - unsigned.fee);
    expect(unsigned.fee).toBeGreaterThan(0n);
  });

  it("describes a payload from its bytes alone, and refuses one that lies about the coin it spends", async () => {
    const { chain, hot, user } = setup();
    chain.faucet(hot, "BTC", 100_000n);
    chain.mine();
    const unsigned = await chain.buildPayment({ sources: [hot], to: user, asset: "BTC", amount: 30_000n });
    const described = describeUtxoPayload(unsigned.payload);
    expect(described.fee).toBe(unsigned.fee);
    expect(described.inputs).toMatchObject([{ address: hot, amount: 100_000n }]);
    expect(described.payments).toEqual([
      { to: user, asset: "BTC", amount: 30_000n },
      { to: hot, asset: "BTC", amount: 70_000n - unsigned.fee },
    ]);
    // Claim the coin holds less (a smaller apparent fee): the chain checks it against the coin.
    const lie = unsigned.payload.slice();
    const at = 3 + 2 + 32 + 4 + 2 + hot.length + 7; // last byte of the input's amount
    lie[at] ^= 1;
    const signed = signTransaction(chain, { ...unsigned, payload: lie }, new Map([[hot, hotKey]]));
    await expect(chain.broadcast(signed)).rejects.toThrow(/does not match the coin/);
  });

  it("refuses a bad signature, a signature by another key, and a double spend", async () => {
    const { chain, hot, user, thief } = setup();
    chain.faucet(hot, "BTC", 100_000n);
    chain.mine();
    const unsigned = await chain.buildPayment({ sources: [hot], to: user, asset: "BTC", amount: 10_000n });
    const signed = signTransaction(chain, unsigned, new Map([[hot, hotKey]]));
    const { payload, witnesses } = decodeEnvelope(signed);
    const tampered = Uint8Array.from(witnesses[0]);
    tampered[40] ^= 1;
    await expect(chain.broadcast(encodeEnvelope(payload, [tampered]))).rejects.toThrow(/bad signature/);
    const byThief = signTransaction(chain, { ...unsigned, signers: [thief] }, new Map([[thief, thiefKey]]));
    await expect(chain.broadcast(byThief)).rejects.toThrow(/not by the owner/);
    await expect(chain.broadcast(encodeEnvelope(payload, []))).rejects.toThrow(DevnetRejectError);
    await chain.broadcast(signed);
    // A second payment spending the same coin (different payload) is a double spend.
    const again = await chain.buildPayment({ sources: [hot], to: user, asset: "BTC", amount: 20_000n });
    const conflicting = { ...unsigned, payload: unsigned.payload.slice() };
    conflicting.payload[conflicting.payload.length - 1] ^= 1; // other change amount, same input
    await expect(
      chain.broadcast(signTransaction(chain, conflicting, new Map([[hot, hotKey]]))),
    ).rejects.toThrow(/missing or already spent/);
    // Building again spends the unconfirmed change, not the spent coin.
    await chain.broadcast(signTransaction(chain, again, new Map([[hot, hotKey]])));
    chain.mine();
    expect(chain.balance(user)).toBe(30_000n);
  });

  it("lets anyone holding the hot key spend (the steal drill), and nobody else", async () => {
    const { chain, hot, thief } = setup();
    chain.faucet(hot, "BTC", 50_000n);
    chain.mine();
    await expect(spend(chain, [thiefKey], thief, "BTC", 10_000n)).rejects.toThrow(/insufficient funds/);
    const txid = await spend(chain, [hotKey], thief, "BTC", 40_000n);
    chain.mine();
    expect(await chain.lookup(txid)).toMatchObject({ status: "confirmed" });
    expect(chain.balance(thief)).toBe(40_000n);
  });

  it("keeps a transaction below the minimum fee pending, then drops it after the bound", async () => {
    const { chain, hot, user } = setup({ dropAfterBlocks: 3 });
    chain.faucet(hot, "BTC", 100_000n);
    chain.mine();
    const unsigned = await chain.buildPayment({
      sources: [hot],
      to: user,
      asset: "BTC",
      amount: 1_000n,
      feeRate: 1n,
    });
    chain.setMinFeeRate(5n);
    const txid = await chain.broadcast(signTransaction(chain, unsigned, new Map([[hot, hotKey]])));
    chain.mine(3);
    expect(await chain.lookup(txid)).toMatchObject({
      status: "pending",
      reason: expect.stringMatching(/below/),
    });
    expect(await chain.confirmations(txid)).toBe(0);
    chain.mine();
    expect(await chain.lookup(txid)).toEqual({ status: "dropped", reason: expect.stringMatching(/expired/) });
    expect(await chain.lookup("00".repeat(32))).toEqual({ status: "not-found" });
  });

  it("orders the mempool by fee rate when a block is full", async () => {
    const { chain, hot, user } = setup({ maxTxsPerBlock: 1 });
    const keys = new Map([[hot, hotKey]]);
    chain.faucet(hot, "BTC", 100_000n);
    chain.faucet(hot, "BTC", 100_000n);
    chain.mine(2);
    const cheap = await chain.buildPayment({
      sources: [hot],
      to: user,
      asset: "BTC",
      amount: 99_000n,
      feeRate: 2n,
    });
    const cheapId = await chain.broadcast(signTransaction(chain, cheap, keys));
    const dear = await chain.buildPayment({
      sources: [hot],
      to: user,
      asset: "BTC",
      amount: 90_000n,
      feeRate: 9n,
    });
    const dearId = await chain.broadcast(signTransaction(chain, dear, keys));
    expect((await chain.estimateFee("BTC")).feeRate).toBeGreaterThan(2n);
    chain.mine();
    expect(await chain.lookup(dearId)).toMatchObject({ status: "confirmed" });
    expect(await chain.lookup(cheapId)).toMatchObject({ status: "pending" });
  });

  it("reorgs: removes an omitted transfer, reports the fork point, and re-adds it", async () => {
    const { chain, user } = setup();
    chain.mine(3);
    const txid = chain.faucet(user, "BTC", 5_000n);
    chain.mine(2); // transfer at height 4, tip 5
    const watched = new Set([user]);
    const before = await chain.scan(1, 5, watched);
    expect(before.transfers.map((t) => t.txid)).toEqual([txid]);
    const fork = chain.reorg(3, { omit: [txid] });
    expect(fork).toBe(2);
    expect(await chain.height()).toBe(5);
    expect(await chain.detectReorg(before.blocks)).toEqual({
      forkHeight: 2,
      replaced: before.blocks.slice(2),
    });
    expect((await chain.scan(3, 5, watched)).transfers).toEqual([]);
    expect(await chain.lookup(txid)).toEqual({ status: "pending" });
    chain.mine();
    const after = await chain.scan(3, 6, watched);
    expect(after.transfers).toMatchObject([{ txid, blockHeight: 6, amount: 5_000n }]);
    expect(await chain.detectReorg(after.blocks)).toBeNull();
  });

  it("reorgs: an omitted transaction may be dropped, and its spend goes with it", async () => {
    const { chain, hot, user } = setup();
    const funding = chain.faucet(hot, "BTC", 100_000n);
    chain.mine();
    const payment = await spend(chain, [hotKey], user, "BTC", 10_000n);
    chain.mine();
    chain.reorg(2, { omit: [funding], omitted: "dropped" });
    expect(await chain.lookup(funding)).toMatchObject({ status: "dropped", reason: "removed by a reorg" });
    expect(await chain.lookup(payment)).toMatchObject({
      status: "dropped",
      reason: expect.stringMatching(/conflict/),
    });
    expect(chain.balance(user)).toBe(0n);
  });

  it("keeps its state in a file and reloads it byte-identically", async () => {
    const dir = tempDir();
    const { chain, hot, user } = setup({ dir });
    chain.faucet(hot, "BTC", 100_000n);
    chain.mine(2);
    await spend(chain, [hotKey], user, "BTC", 10_000n);
    chain.reorg(1);
    const pendingId = chain.faucet(user, "BTC", 7n);
    const hash = chain.stateHash();
    chain.close();
    const reopened = new UtxoDevnet({ dir });
    expect(reopened.stateHash()).toBe(hash);
    expect(await reopened.height()).toBe(2);
    expect(await reopened.lookup(pendingId)).toEqual({ status: "pending" });
    reopened.mine();
    expect(reopened.balance(user)).toBe(10_007n);
  });

  it("runs a block timer the caller starts and stops", async () => {
    const { chain } = setup();
    chain.startMining(5);
    await new Promise((resolve) => setTimeout(resolve, 60));
    chain.stopMining();
    const height = await chain.height();
    expect(height).toBeGreaterThan(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await chain.height()).toBe(height);
  });

  it("enforces its bounds with a clear error", async () => {
    const { chain, hot } = setup({
      limits: { maxWatchedAddresses: 2, maxBlocksPerScan: 3, maxReorgCheckBlocks: 1 },
    });
    chain.mine(5);
    await expect(chain.scan(0, 1, new Set(["a", "b", "c"]))).rejects.toThrow(ChainLimitError);
    await expect(chain.scan(0, 1, new Set(["a", "b", "c"]))).rejects.toThrow(
      "maxWatchedAddresses exceeded: 3 requested, at most 2 allowed",
    );
    await expect(chain.scan(0, 3, new Set([hot]))).rejects.toThrow(/maxBlocksPerScan/);
    await expect(chain.scan(4, 9, new Set([hot]))).rejects.toThrow(/above the tip/);
    await expect(
      chain.detectReorg([
        { height: 1, hash: "x" },
        { height: 2, hash: "y" },
      ]),
    ).rejects.toThrow(/maxReorgCheckBlocks/);
    expect(() => chain.reorg(6)).toThrow(RangeError);
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  AccountDevnet,
  addressOfKey,
  DEVNET_USDT_CONTRACT,
  decodeEnvelope,
  describeAccountPayload,
  encodeEnvelope,
  privateKeyFromSeed,
  signTransaction,
  spend,
} from "../../../src/chains/devnet/index.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const ETH = 10n ** 18n;
const USDT = 10n ** 6n;
const hotKey = privateKeyFromSeed("eth-hot");
const userKey = privateKeyFromSeed("eth-user");
const thiefKey = privateKeyFromSeed("eth-thief");

function setup(options: ConstructorParameters<typeof AccountDevnet>[0] = {}) {
  const chain = new AccountDevnet(options);
  return {
    chain,
    hot: addressOfKey(chain, hotKey),
    user: addressOfKey(chain, userKey),
    thief: addressOfKey(chain, thiefKey),
  };
}

describe("devnet account chain", () => {
  it("derives Ethereum-style addresses and names ETH and the USDT token contract", () => {
    const { chain, hot } = setup();
    expect(hot).toMatch(/^0x[0-9a-f]{40}$/);
    expect(chain.normalizeAddress(hot.toUpperCase().replace("0X", "0x"))).toBe(hot);
    expect(chain.normalizeAddress("0x123")).toBeNull();
    expect(chain.assets).toEqual([
      { symbol: "ETH", decimals: 18 },
      { symbol: "USDT", decimals: 6, contract: DEVNET_USDT_CONTRACT },
    ]);
  });

  it("faucets each asset into separate native and token balances, seen by a scan", async () => {
    const { chain, user } = setup();
    const ethTx = chain.faucet(user, "ETH", 2n * ETH);
    const usdtTx = chain.faucet(user, "USDT", 500n * USDT);
    chain.mine();
    expect(chain.balance(user, "ETH")).toBe(2n * ETH);
    expect(chain.balance(user, "USDT")).toBe(500n * USDT);
    const { transfers } = await chain.scan(1, 1, new Set([user]));
    expect(transfers.map((t) => [t.txid, t.asset, t.amount, t.outputIndex])).toEqual([
      [ethTx, "ETH", 2n * ETH, 0],
      [usdtTx, "USDT", 500n * USDT, 0],
    ]);
  });

  it("pays native and token transfers with nonces; the fee is paid in ETH only", async () => {
    const { chain, hot, user } = setup();
    chain.faucet(hot, "ETH", ETH);
    chain.faucet(hot, "USDT", 1_000n * USDT);
    chain.mine();
    const fee = (await chain.estimateFee("USDT")).typicalFee;
    const unsigned = await chain.buildPayment({
      sources: [hot],
      to: user,
      asset: "USDT",
      amount: 100n * USDT,
    });
    expect(describeAccountPayload(unsigned.payload)).toEqual({
      from: hot,
      nonce: 0n,
      payments: [{ to: user, asset: "USDT", amount: 100n * USDT }],
      fee,
      feeAsset: "ETH",
    });
    const a = await spend(chain, [hotKey], user, "USDT", 100n * USDT);
    const b = await spend(chain, [hotKey], user, "ETH", ETH / 10n);
    expect(chain.nonceOf(hot)).toBe(2n);
    chain.mine();
    expect(await chain.lookup(a)).toMatchObject({ status: "confirmed" });
    expect(await chain.lookup(b)).toMatchObject({ status: "confirmed" });
    expect(chain.balance(user, "USDT")).toBe(100n * USDT);
    expect(chain.balance(user, "ETH")).toBe(ETH / 10n);
    expect(chain.balance(hot, "USDT")).toBe(900n * USDT);
    expect(chain.balance(hot, "ETH")).toBe(
      ETH - ETH / 10n - fee - (await chain.estimateFee("ETH")).typicalFee,
    );
  });

  it("refuses a bad signature, a foreign key, nonce reuse and overspending", async () => {
    const { chain, hot, user, thief } = setup();
    chain.faucet(hot, "ETH", ETH);
    chain.mine();
    const unsigned = await chain.buildPayment({ sources: [hot], to: user, asset: "ETH", amount: ETH / 2n });
    const signed = signTransaction(chain, unsigned, new Map([[hot, hotKey]]));
    const { payload, witnesses } = decodeEnvelope(signed);
    const tampered = Uint8Array.from(witnesses[0]);
    tampered[50] ^= 1;
    await expect(chain.broadcast(encodeEnvelope(payload, [tampered]))).rejects.toThrow(/bad signature/);
    const foreign = signTransaction(chain, { ...unsigned, signers: [thief] }, new Map([[thief, thiefKey]]));
    await expect(chain.broadcast(foreign)).rejects.toThrow(/not by the owner/);
    await chain.broadcast(signed);
    // Same nonce, other amount: nonce reuse, refused in the mempool and after mining.
    const reuse = { ...unsigned, payload: unsigned.payload.slice() };
    reuse.payload[80] ^= 1;
    const reused = signTransaction(chain, reuse, new Map([[hot, hotKey]]));
    await expect(chain.broadcast(reused)).rejects.toThrow(/already used/);
    chain.mine();
    await expect(chain.broadcast(reused)).rejects.toThrow(/already used/);
    await expect(spend(chain, [hotKey], user, "ETH", ETH)).rejects.toThrow(/insufficient ETH/);
    await expect(spend(chain, [hotKey], user, "USDT", 1n)).rejects.toThrow(/insufficient token/);
  });

  it("lets the holder of the hot key drain it behind custody's back (steal drill)", async () => {
    const { chain, hot, thief } = setup();
    chain.faucet(hot, "USDT", 50n * USDT);
    chain.faucet(hot, "ETH", ETH);
    chain.mine();
    await expect(spend(chain, [thiefKey], thief, "USDT", 50n * USDT)).rejects.toThrow(/insufficient/);
    await spend(chain, [hotKey], thief, "USDT", 50n * USDT);
    chain.mine();
    expect(chain.balance(thief, "USDT")).toBe(50n * USDT);
    expect(chain.balance(hot, "USDT")).toBe(0n);
  });

  it("keeps an underpriced transaction stuck, and later ones from the sender wait behind it", async () => {
    const { chain, hot, user } = setup({ dropAfterBlocks: 2 });
    chain.faucet(hot, "ETH", ETH);
    chain.mine();
    chain.setMinFeeRate(10n);
    const unsigned = await chain.buildPayment({
      sources: [hot],
      to: user,
      asset: "ETH",
      amount: 1n,
      feeRate: 3n,
    });
    const stuck = await chain.broadcast(signTransaction(chain, unsigned, new Map([[hot, hotKey]])));
    const next = await spend(chain, [hotKey], user, "ETH", 2n);
    chain.mine(2);
    expect(await chain.lookup(stuck)).toMatchObject({
      status: "pending",
      reason: expect.stringMatching(/below/),
    });
    expect(await chain.lookup(next)).toEqual({ status: "pending" });
    chain.mine();
    expect(await chain.lookup(stuck)).toMatchObject({ status: "dropped" });
    expect(await chain.lookup(next)).toMatchObject({ status: "dropped" });
    expect(chain.nonceOf(hot)).toBe(0n);
  });

  it("reorgs a token deposit away and back, reporting the fork point", async () => {
    const { chain, user } = setup();
    chain.mine(4);
    const txid = chain.faucet(user, "USDT", 7n * USDT);
    chain.mine(3); // deposit at height 5, tip 7
    const watched = new Set([user]);
    const before = await chain.scan(1, 7, watched);
    expect(chain.reorg(2)).toBe(5);
    expect(await chain.detectReorg(before.blocks)).toMatchObject({ forkHeight: 5 });
    expect((await chain.scan(5, 7, watched)).transfers).toMatchObject([{ txid, blockHeight: 5 }]);
    expect(chain.reorg(3, { omit: [txid] })).toBe(4);
    expect(await chain.detectReorg(before.blocks)).toMatchObject({ forkHeight: 4 });
    expect((await chain.scan(1, 7, watched)).transfers).toEqual([]);
    expect(await chain.confirmations(txid)).toBe(0);
    chain.mine();
    expect((await chain.scan(5, 8, watched)).transfers).toMatchObject([{ txid, blockHeight: 8 }]);
    expect(chain.balance(user, "USDT")).toBe(7n * USDT);
  });

  it("survives close and reopen with an identical state hash", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-devnet-eth-"));
    dirs.push(dir);
    const { chain, hot, user } = setup({ dir });
    chain.faucet(hot, "ETH", ETH);
    chain.faucet(hot, "USDT", 10n * USDT);
    chain.mine();
    await spend(chain, [hotKey], user, "USDT", 3n * USDT);
    chain.mine();
    await spend(chain, [hotKey], user, "ETH", 5n);
    chain.setMinFeeRate(2n);
    const hash = chain.stateHash();
    chain.close();
    const reopened = new AccountDevnet({ dir });
    expect(reopened.stateHash()).toBe(hash);
    expect(reopened.nonceOf(hot)).toBe(2n);
    expect(reopened.minFeeRate).toBe(2n);
    reopened.setMinFeeRate(1n);
    reopened.mine();
    expect(reopened.balance(user, "ETH")).toBe(5n);
    expect(reopened.balance(user, "USDT")).toBe(3n * USDT);
  });

  it("refuses payments with several sources and faucets of unknown assets", async () => {
    const { chain, hot, user } = setup();
    await expect(
      chain.buildPayment({ sources: [hot, user], to: user, asset: "ETH", amount: 1n }),
    ).rejects.toThrow(/exactly one source/);
    expect(() => chain.faucet(user, "DOGE", 1n)).toThrow(/no asset DOGE/);
    expect(() => chain.faucet("0xnope", "ETH", 1n)).toThrow(/not a devnet-eth address/);
  });
});

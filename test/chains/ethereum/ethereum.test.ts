// The ethereum adapter and signing plugin against a real Anvil node: deposits of ETH and of an
// ERC-20 deployed here, confirmations, a payment built → signed → broadcast → confirmed, the
// plugin's reading of payloads, a reorg (evm_snapshot / evm_revert) found with its fork point, a
// transaction dropped by that reorg, and the fee bounds.

import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { createWalletClient, type Hex, http, parseTransaction, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChainLimitError } from "../../../src/chains/adapter.ts";
import {
  addressAt,
  addressOfSeed,
  addressPath,
  EthereumAdapter,
  EthereumAdapterError,
  EthereumPayloadError,
  EthereumSigningPlugin,
  encodeEthereumPayload,
  erc20TransferData,
  watchOnlyAccount,
} from "../../../src/chains/ethereum/index.ts";
import type { HotKeys } from "../../../src/chains/signing.ts";
import { type Anvil, anvilRpc, startAnvil } from "./anvil.ts";
import { TOKEN_ABI, tokenBytecode } from "./token.ts";

const CHAIN_ID = 31_337_7;
const ETH = 10n ** 18n;
const USDT = 10n ** 6n;
const seed = new Uint8Array(32).map((_, i) => i + 1);
const keys: HotKeys = { chain: "ethereum", seed };
const hot0 = addressOfSeed(seed, 0, 0);
const hot1 = addressOfSeed(seed, 0, 1);

let anvil: Anvil;
let adapter: EthereumAdapter;
let plugin: EthereumSigningPlugin;
let token: string;
let dev: Hex; // an unlocked Anvil dev account: the outside sender
let outsider: Hex; // another dev account: a payee outside the hot wallet
let wallet: ReturnType<typeof createWalletClient>;

const rpc = (method: string, params: unknown[] = []) => anvilRpc(anvil.url, method, params);
const mine = (blocks: number) => rpc("anvil_mine", [toHex(blocks)]);

async function receipt(hash: Hex) {
  for (;;) {
    const r = (await rpc("eth_getTransactionReceipt", [hash])) as {
      status: Hex;
      contractAddress: Hex;
    } | null;
    if (r) return r;
    await new Promise((res) => setTimeout(res, 10));
  }
}

async function sendEth(to: string, value: bigint): Promise<Hex> {
  const hash = await wallet.sendTransaction({ account: dev, chain: null, to: to as Hex, value });
  await receipt(hash);
  return hash;
}

async function sendToken(to: string, value: bigint): Promise<Hex> {
  const hash = await wallet.writeContract({
    account: dev,
    chain: null,
    address: token as Hex,
    abi: TOKEN_ABI,
    functionName: "transfer",
    args: [to as Hex, value],
  });
  await receipt(hash);
  return hash;
}

async function tokenBalance(address: string): Promise<bigint> {
  const data = `0x70a08231${address.slice(2).padStart(64, "0")}`;
  return BigInt((await rpc("eth_call", [{ to: token, data }, "latest"])) as string);
}

beforeAll(async () => {
  const bytecode = tokenBytecode();
  anvil = await startAnvil(CHAIN_ID);
  wallet = createWalletClient({ transport: http(anvil.url) });
  [dev, outsider] = (await rpc("eth_accounts")) as Hex[];
  const deploy = await wallet.deployContract({
    account: dev,
    chain: null,
    abi: TOKEN_ABI,
    bytecode,
    args: [1_000_000n * USDT],
  });
  token = (await receipt(deploy)).contractAddress.toLowerCase();
  const tokens = [{ symbol: "USDT", decimals: 6, contract: token }];
  adapter = new EthereumAdapter({ rpcUrl: anvil.url, chainId: CHAIN_ID, tokens });
  plugin = new EthereumSigningPlugin({ chainId: CHAIN_ID, tokens, addressesPerAccount: 20 });
});

afterAll(async () => {
  await anvil?.stop();
});

describe("ethereum adapter on Anvil", () => {
  it("finds ETH and token deposits to watched addresses, with growing confirmations", async () => {
    const start = (await adapter.height()) + 1;
    const ethTx = await sendEth(hot0, 3n * ETH);
    await sendEth(outsider, 1n * ETH); // not watched
    const tokenTx = await sendToken(hot1, 250n * USDT);
    await sendToken(outsider, 7n * USDT); // not watched
    const tip = await adapter.height();

    const watched = new Set([hot0, hot1]);
    const { transfers, blocks } = await adapter.scan(start, tip, watched);
    expect(blocks.map((b) => b.height)).toEqual(Array.from({ length: tip - start + 1 }, (_, i) => start + i));
    expect(transfers.map(({ txid, address, asset, amount }) => ({ txid, address, asset, amount }))).toEqual([
      { txid: ethTx, address: hot0, asset: "ETH", amount: 3n * ETH },
      { txid: tokenTx, address: hot1, asset: "USDT", amount: 250n * USDT },
    ]);
    expect(transfers[0].outputIndex).toBe(0);
    expect(transfers[1].outputIndex).toBeGreaterThan(0);
    for (const t of transfers) expect(t.blockHash).toBe(blocks.find((b) => b.height === t.blockHeight)?.hash);
    // More watched addresses than the topic filter lists: filtered locally, same result.
    const many = new Set([
      ...watched,
      ...Array.from({ length: 300 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}`),
    ]);
    expect((await adapter.scan(start, tip, many)).transfers).toEqual(transfers);

    const confirmationsAtFirst = await adapter.confirmations(tokenTx);
    expect(confirmationsAtFirst).toBe(tip - transfers[1].blockHeight + 1);
    await mine(5);
    expect(await adapter.confirmations(tokenTx)).toBe(confirmationsAtFirst + 5);
    const status = await adapter.lookup(ethTx);
    expect(status).toMatchObject({ status: "confirmed", blockHeight: transfers[0].blockHeight });
    expect(await adapter.lookup(`0x${"ab".repeat(32)}`)).toEqual({ status: "not-found" });
  });

  it("bounds a scan and refuses a range above the tip", async () => {
    const tip = await adapter.height();
    await expect(adapter.scan(0, 200, new Set())).rejects.toBeInstanceOf(ChainLimitError);
    await expect(adapter.scan(tip, tip + 1, new Set())).rejects.toThrow(/above the tip/);
    expect(adapter.normalizeAddress(hot0.toUpperCase().replace("0X", "0x"))).toBe(hot0);
    expect(adapter.normalizeAddress("0x1234")).toBeNull();
  });

  it("estimates EIP-1559 fees within the bounds", async () => {
    const fee = await adapter.estimateFee("USDT");
    const { baseFee, maxPriorityFeePerGas, maxFeePerGas } = await adapter.feesPerGas();
    expect(maxFeePerGas).toBe(2n * baseFee + maxPriorityFeePerGas);
    expect(fee.feeRate).toBe(maxFeePerGas);
    expect(fee.minFeeRate).toBeLessThanOrEqual(fee.feeRate);
    expect(fee.feeAsset).toBe("ETH");
    const capped = new EthereumAdapter({
      rpcUrl: anvil.url,
      chainId: CHAIN_ID,
      fees: { maxFeePerGas: baseFee + maxPriorityFeePerGas + 1n },
    });
    expect((await capped.feesPerGas()).maxFeePerGas).toBe(baseFee + maxPriorityFeePerGas + 1n);
    const tooLow = new EthereumAdapter({ rpcUrl: anvil.url, chainId: CHAIN_ID, fees: { maxFeePerGas: 1n } });
    await expect(tooLow.estimateFee("ETH")).rejects.toBeInstanceOf(EthereumAdapterError);
  });

  it("builds, signs with the plugin, broadcasts and confirms ETH and token payments", async () => {
    const payee = outsider.toLowerCase();
    const before = await tokenBalance(payee);
    const eth = await adapter.buildPayment({ sources: [hot0], to: payee, asset: "ETH", amount: ETH / 2n });
    expect(eth.signers).toEqual([hot0]);
    expect(plugin.describe(eth.payload, keys)).toEqual({
      payments: [{ to: payee, asset: "ETH", amount: ETH / 2n }],
      fee: eth.fee,
      feeAsset: "ETH",
    });
    const signedEth = plugin.sign(eth.payload, keys);
    // The synchronous signature is viem's signTransaction byte for byte (RFC 6979).
    const key = HDKey.fromMasterSeed(seed).derive(addressPath(0, 0)).privateKey as Uint8Array;
    const unsigned = parseTransaction(toHex(eth.payload.subarray(22)));
    expect(toHex(signedEth.bytes)).toBe(await privateKeyToAccount(toHex(key)).signTransaction(unsigned));
    const ethId = await adapter.broadcast(signedEth.bytes);
    expect(ethId).toBe(signedEth.txId);

    const usdt = await adapter.buildPayment({
      sources: [hot1],
      to: payee,
      asset: "USDT",
      amount: 40n * USDT,
    });
    await sendEth(hot1, ETH / 10n); // gas for the token sender (as a sweep's top-up would)
    expect(plugin.describe(usdt.payload, keys).payments).toEqual([
      { to: payee, asset: "USDT", amount: 40n * USDT },
    ]);
    const usdtId = await adapter.broadcast(plugin.sign(usdt.payload, keys).bytes);

    for (const id of [ethId, usdtId]) await receipt(id as Hex);
    expect(await adapter.lookup(ethId)).toMatchObject({ status: "confirmed", confirmations: 3 }); // then the top-up, then USDT
    expect(await adapter.lookup(usdtId)).toMatchObject({ status: "confirmed", confirmations: 1 });
    expect(await tokenBalance(payee)).toBe(before + 40n * USDT);
    expect(await tokenBalance(hot1)).toBe(210n * USDT);
  });

  it("reports a mined but reverted payment as dropped: it moved nothing", async () => {
    const fees = await adapter.feesPerGas();
    const nonce = Number(await rpc("eth_getTransactionCount", [hot0, "pending"]));
    const payload = encodeEthereumPayload(hot0, {
      type: "eip1559",
      chainId: CHAIN_ID,
      nonce,
      gas: 80_000n,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      to: token as Hex,
      data: erc20TransferData(outsider, 1n), // hot0 holds no token: the transfer reverts
    });
    const id = await adapter.broadcast(plugin.sign(payload, keys).bytes);
    expect((await receipt(id as Hex)).status).toBe("0x0");
    expect(await adapter.lookup(id)).toMatchObject({
      status: "dropped",
      reason: expect.stringMatching(/reverted/),
    });
    expect(await adapter.confirmations(id)).toBe(0);
  });

  it("reports a pending transaction until it is mined", async () => {
    await rpc("evm_setAutomine", [false]);
    try {
      const p = await adapter.buildPayment({ sources: [hot0], to: outsider, asset: "ETH", amount: 1000n });
      const id = await adapter.broadcast(plugin.sign(p.payload, keys).bytes);
      expect(await adapter.lookup(id)).toMatchObject({ status: "pending" });
      expect(await adapter.confirmations(id)).toBe(0);
      await mine(1);
      expect(await adapter.lookup(id)).toMatchObject({ status: "confirmed", confirmations: 1 });
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
  });

  it("detects a reorg with its fork point, and a payment the reorg dropped", async () => {
    const forkHeight = await adapter.height();
    const snapshot = await rpc("evm_snapshot");
    const deposit = await sendEth(hot0, 2n * ETH);
    const p = await adapter.buildPayment({ sources: [hot0], to: outsider, asset: "ETH", amount: 1234n });
    const lost = await adapter.broadcast(plugin.sign(p.payload, keys).bytes);
    await mine(2);
    const tip = await adapter.height();
    const before = await adapter.scan(forkHeight - 2, tip, new Set([hot0]));
    expect(before.transfers.map((t) => t.txid)).toEqual([deposit]);
    expect(await adapter.detectReorg(before.blocks)).toBeNull();

    expect(await rpc("evm_revert", [snapshot])).toBe(true);
    // The replacement branch: the same payment's nonce spent by another payment, then blocks.
    const q = await adapter.buildPayment({ sources: [hot0], to: outsider, asset: "ETH", amount: 999n });
    await receipt((await adapter.broadcast(plugin.sign(q.payload, keys).bytes)) as Hex);
    await mine(4);

    const report = await adapter.detectReorg(before.blocks);
    expect(report?.forkHeight).toBe(forkHeight);
    expect(report?.replaced.map((b) => b.height)).toEqual(
      Array.from({ length: tip - forkHeight }, (_, i) => forkHeight + 1 + i),
    );
    const after = await adapter.scan(forkHeight + 1, await adapter.height(), new Set([hot0]));
    expect(after.transfers).toEqual([]);
    expect(await adapter.lookup(lost)).toMatchObject({ status: "dropped" });
  });
});

describe("ethereum signing plugin", () => {
  it("derives the addresses every wallet derives from a mnemonic (Anvil's first dev account)", () => {
    const anvilSeed = mnemonicToSeedSync("test test test test test test test test test test test junk");
    expect(addressOfSeed(anvilSeed, 0, 0)).toBe(dev.toLowerCase());
    expect(addressOfSeed(anvilSeed, 0, 1)).toBe(outsider.toLowerCase());
  });

  it("exports only the account xpub, from which custody derives the same addresses", () => {
    const [exported] = plugin.exportPublicKeys(keys);
    expect(exported.key.startsWith("xpub")).toBe(true);
    const node = watchOnlyAccount(exported.key);
    expect([addressAt(node, 0), addressAt(node, 1)]).toEqual([hot0, hot1]);
    expect(plugin.isOwnAddress(hot1, keys)).toBe(true);
    expect(plugin.isOwnAddress(outsider, keys)).toBe(false);
    expect(() => plugin.describe(new Uint8Array(0), { chain: "bitcoin", seed })).toThrow(/bitcoin/);
  });

  it("refuses malformed and non-payment payloads", async () => {
    const good = await adapter.buildPayment({ sources: [hot0], to: outsider, asset: "ETH", amount: 5n });
    const base = {
      type: "eip1559" as const,
      chainId: CHAIN_ID,
      nonce: 0,
      gas: 21_000n,
      maxFeePerGas: 2_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    };
    const bad: [string, Uint8Array][] = [
      ["truncated", good.payload.subarray(0, good.payload.length - 3)],
      ["empty", new Uint8Array(0)],
      ["wrong version", Uint8Array.from([9, ...good.payload.subarray(1)])],
      ["other chain", encodeEthereumPayload(hot0, { ...base, chainId: 1, to: outsider, value: 5n })],
      ["value of nothing", encodeEthereumPayload(hot0, { ...base, to: outsider, value: 0n })],
      [
        "call to a non-token",
        encodeEthereumPayload(hot0, { ...base, to: outsider, data: erc20TransferData(hot1, 5n) }),
      ],
      [
        "token transfer with ether",
        encodeEthereumPayload(hot0, {
          ...base,
          to: token as Hex,
          value: 1n,
          data: erc20TransferData(hot1, 5n),
        }),
      ],
      [
        "other token method",
        encodeEthereumPayload(hot0, { ...base, to: token as Hex, data: `0x095ea7b3${"00".repeat(64)}` }),
      ],
      ["trailing bytes", Uint8Array.from([...good.payload, 0])],
      [
        "already signed",
        Uint8Array.from([...good.payload.subarray(0, 22), ...plugin.sign(good.payload, keys).bytes]),
      ],
    ];
    for (const [why, payload] of bad) {
      expect(() => plugin.describe(payload, keys), why).toThrow(EthereumPayloadError);
      expect(() => plugin.sign(payload, keys), why).toThrow();
    }
    // A payload whose sender is not a hot-wallet address is described but never signed.
    const foreign = Uint8Array.from(good.payload);
    foreign.set(Buffer.from(outsider.slice(2), "hex"), 2);
    expect(plugin.describe(foreign, keys).payments[0].amount).toBe(5n);
    expect(() => plugin.sign(foreign, keys)).toThrow(/not an address of this hot wallet/);
  });
});

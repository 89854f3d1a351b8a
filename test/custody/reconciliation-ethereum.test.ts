// The ethereum adapter's outflow scan (reconciliation's reading of spends from exchange addresses)
// against a real Anvil node: ether sent by a watched address, an ERC-20 transfer from a watched
// holder (found through its Transfer log as well as its sender), nothing for unwatched ones.

import { createWalletClient, type Hex, http } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EthereumAdapter } from "../../src/chains/ethereum/index.ts";
import { type Anvil, anvilRpc, startAnvil } from "../chains/ethereum/anvil.ts";
import { TOKEN_ABI, tokenBytecode } from "../chains/ethereum/token.ts";

const CHAIN_ID = 31_337_8;
const ETH = 10n ** 18n;
const USDT = 10n ** 6n;

let anvil: Anvil;
let adapter: EthereumAdapter;
let token: string;
let dev: Hex;
let outsider: Hex;
let wallet: ReturnType<typeof createWalletClient>;
const rpc = (method: string, params: unknown[] = []) => anvilRpc(anvil.url, method, params);

async function receipt(hash: Hex): Promise<{ contractAddress: Hex }> {
  for (let i = 0; i < 500; i++) {
    const found = (await rpc("eth_getTransactionReceipt", [hash])) as { contractAddress: Hex } | null;
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no receipt for ${hash}`);
}

beforeAll(async () => {
  anvil = await startAnvil(CHAIN_ID);
  wallet = createWalletClient({ transport: http(anvil.url) });
  [dev, outsider] = ((await rpc("eth_accounts")) as Hex[]).map((address) => address.toLowerCase() as Hex);
  const deploy = await wallet.deployContract({
    account: dev,
    chain: null,
    abi: TOKEN_ABI,
    bytecode: tokenBytecode(),
    args: [1_000_000n * USDT],
  });
  token = (await receipt(deploy)).contractAddress.toLowerCase();
  adapter = new EthereumAdapter({
    rpcUrl: anvil.url,
    chainId: CHAIN_ID,
    tokens: [{ symbol: "USDT", decimals: 6, contract: token }],
  });
});

afterAll(async () => {
  await anvil?.stop();
});

describe("EthereumAdapter.scanOutflows on Anvil", () => {
  it("finds ether and token spends of watched addresses, in block order", async () => {
    const start = (await adapter.height()) + 1;
    const ethTx = await wallet.sendTransaction({ account: dev, chain: null, to: outsider, value: 2n * ETH });
    await receipt(ethTx);
    const tokenTx = await wallet.writeContract({
      account: dev,
      chain: null,
      address: token as Hex,
      abi: TOKEN_ABI,
      functionName: "transfer",
      args: [outsider, 40n * USDT],
    });
    await receipt(tokenTx);
    const tip = await adapter.height();
    const found = await adapter.scanOutflows(start, tip, new Set([dev]));
    expect(found.map(({ txid, from, amounts }) => ({ txid, from, amounts }))).toEqual([
      { txid: ethTx, from: [dev], amounts: [{ asset: "ETH", amount: 2n * ETH }] },
      { txid: tokenTx, from: [dev], amounts: [{ asset: "USDT", amount: 40n * USDT }] },
    ]);
    for (const outflow of found) expect(outflow.blockHash).toBe(await adapter.blockHash(outflow.blockHeight));
    // The payee spent nothing; bounds as in scan.
    expect(await adapter.scanOutflows(start, tip, new Set([outsider]))).toEqual([]);
    await expect(adapter.scanOutflows(start, tip + 5, new Set([dev]))).rejects.toThrow(/above the tip/);
    await expect(adapter.scanOutflows(tip, start - 1, new Set([dev]))).rejects.toThrow(RangeError);
  });
});

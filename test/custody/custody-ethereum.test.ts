// Custody end to end on Ethereum: a real Exchange (DEFAULT_ASSETS: ETH at ledger scale 8, USDT 6),
// the EthereumAdapter on Anvil with a 6-decimal ERC-20 as USDT, a real signer process
// (src/signer/main.ts with the config's `ethereum` section) reached through custody's SignerClient,
// and the CustodyService with the chain's wallet derived from the signer's exported xpubs
// (ethereumChainWallet) and balances read over viem 3 blocks deep (ethereumBalanceReader).
//
// ETH: deposit → confirmations → credit → sweep into hot (balance − 21,000 × maxFeePerGas) →
// withdrawal to an activated address-book entry → signed → broadcast → settled; the outside
// address receives exactly amount − the exchange's fee. USDT: deposit → credit → gas top-up from
// hot → token sweep into hot → withdrawal → settled. After each, the core's invariants hold and the
// books never claim more than the chain holds (fees are booked at gas × maxFeePerGas, what the
// transaction could pay at most; the part not paid stays on chain, below the books). And a native
// sweep whose base fee rises between its probe build and its payment build is still one sweep the
// node takes (both are built at one maxFeePerGas).

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { createWalletClient, getContractAddress, type Hex, http, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChainAsset, PaymentRequest, UnsignedTransaction } from "../../src/chains/adapter.ts";
import { addressOfSeed, EthereumAdapter } from "../../src/chains/ethereum/index.ts";
import { CustodyService } from "../../src/custody/custody-service.ts";
import { ethereumCustodyConfig } from "../../src/custody/ethereum-config.ts";
import { ethereumBalanceReader, ethereumChainWallet } from "../../src/custody/ethereum-wallet.ts";
import type { WithdrawalView } from "../../src/custody/port.ts";
import { SignerClient } from "../../src/custody/signer-client.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { signerPortOf } from "../../src/server/custody.ts";
import { DEFAULT_ASSETS } from "../../src/server/default-markets.ts";
import { parseSignerConfig } from "../../src/signer/config.ts";
import { initKeystore } from "../../src/signer/keystore.ts";
import { signingPluginFor } from "../../src/signer/plugins.ts";
import { type Anvil, anvilRpc, startAnvil } from "../chains/ethereum/anvil.ts";
import { TOKEN_ABI, tokenBytecode } from "../chains/ethereum/token.ts";
import { nodeEntry } from "../support/node-entry.ts";

const CHAIN = "anvil";
const CHAIN_ID = 31_337;
const CONFIRMATIONS = 3;
const ETH = 10n ** 18n;
const USDT = 10n ** 6n;
const SEED = new Uint8Array(32).map((_, i) => (i * 13 + 1) & 0xff);
const PASSPHRASE = "custody ethereum test";
const SMALL_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const MAIN = join(import.meta.dirname, "..", "..", "src", "signer", "main.ts");
const CAP = (10n ** 24n).toString();
const CAPS = { perTransaction: CAP, per10m: CAP, per1h: CAP, per24h: CAP };
/** Anvil's first prefunded account (its default mnemonic): the deployer and the users' wallet. */
const ANVIL_DEV = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
/** Outside addresses the user withdraws to (a seed of nobody here; nothing on them before). */
const OUTSIDE_ETH = addressOfSeed(new Uint8Array(32).fill(77), 0, 0);
const OUTSIDE_USDT = addressOfSeed(new Uint8Array(32).fill(77), 0, 1);

/** The adapter custody drives, with a hook after each payment it builds (the fee-race test's). */
class HookedAdapter extends EthereumAdapter {
  afterBuild: ((request: PaymentRequest) => Promise<void>) | null = null;
  override async buildPayment(request: PaymentRequest): Promise<UnsignedTransaction> {
    const built = await super.buildPayment(request);
    await this.afterBuild?.(request);
    return built;
  }
}

const dir = mkdtempSync(join(tmpdir(), "bulwark-custody-eth-"));
const policySecret = ed25519.utils.randomSecretKey();
let anvil: Anvil;
let signer: ChildProcess;
let exchange: Exchange;
let adapter: HookedAdapter;
let custody: CustodyService;
let wallet: ReturnType<typeof ethereumChainWallet>;
let balanceOf: (address: string, asset: string) => Promise<bigint>;
let token: string;
let dev: Hex;
let userId: number;
const logs: string[] = [];

const rpc = (method: string, params: unknown[] = []) => anvilRpc(anvil.url, method, params);
const mine = (blocks = 1) => rpc("anvil_mine", [toHex(blocks)]);
/** The balance at the tip (the reader custody uses is 3 blocks deep). */
const balanceNow = async (address: string, asset: string) =>
  asset === "ETH"
    ? BigInt((await rpc("eth_getBalance", [address, "latest"])) as string)
    : BigInt(
        (await rpc("eth_call", [
          { to: token, data: `0x70a08231${address.slice(2).padStart(64, "0")}` },
          "latest",
        ])) as string,
      );

async function waitReceipt(hash: Hex): Promise<{ gasUsed: bigint; effectiveGasPrice: bigint }> {
  for (;;) {
    const receipt = (await rpc("eth_getTransactionReceipt", [hash])) as {
      gasUsed: string;
      effectiveGasPrice: string;
    } | null;
    if (receipt !== null)
      return { gasUsed: BigInt(receipt.gasUsed), effectiveGasPrice: BigInt(receipt.effectiveGasPrice) };
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The signer process: `main.ts run` on its config; resolves once it printed its ready line. */
function startSigner(configPath: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeEntry(MAIN), "run", "--config", configPath], {
    env: { ...process.env, BULWARK_SIGNER_PASSPHRASE: PASSPHRASE },
    stdio: ["ignore", "pipe", "pipe"],
  });
  signer = child; // stopped after all, even if it never gets ready
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout?.on("data", (chunk) => {
      out += chunk;
      if (out.includes('"event":"ready"')) resolve(child);
    });
    child.stderr?.on("data", (chunk) => {
      err += chunk;
    });
    child.on("exit", (code) => reject(new Error(`signer exited ${code}: ${err}`)));
  });
}

beforeAll(async () => {
  // The signer boots (the slowest part) while Anvil starts and the token is deployed: the token's
  // contract, in the signer's config, is the first contract of Anvil's first account.
  token = getContractAddress({ from: ANVIL_DEV, nonce: 0n }).toLowerCase();
  const signerConfig = {
    chain: CHAIN,
    socketPath: join(dir, "signer.sock"),
    stateDir: join(dir, "signer-state"),
    keystoreDir: join(dir, "keystore"),
    policyPublicKey: Buffer.from(ed25519.getPublicKey(policySecret)).toString("hex"),
    caps: { ETH: CAPS, USDT: CAPS },
    coldAddresses: [],
    ethereum: { chainId: CHAIN_ID, tokens: { USDT: token }, addressesPerAccount: 50 },
  };
  writeFileSync(join(dir, "signer.json"), JSON.stringify(signerConfig));
  initKeystore(join(dir, "keystore"), PASSPHRASE, SEED, SMALL_SCRYPT);
  const signerStarted = startSigner(join(dir, "signer.json"));

  anvil = await startAnvil(CHAIN_ID);
  const walletClient = createWalletClient({ transport: http(anvil.url) });
  [dev] = (await rpc("eth_accounts")) as Hex[];
  expect(dev.toLowerCase()).toBe(ANVIL_DEV);
  const deployed = await walletClient.deployContract({
    account: dev,
    chain: null,
    abi: TOKEN_ABI,
    bytecode: tokenBytecode(),
    args: [1_000_000_000n * USDT],
  });
  await waitReceipt(deployed);
  const receipt = (await rpc("eth_getTransactionReceipt", [deployed])) as { contractAddress: string };
  expect(receipt.contractAddress.toLowerCase()).toBe(token);
  // Custody reads balances 3 blocks deep: the contract must exist there.
  await mine(CONFIRMATIONS);

  exchange = await Exchange.open({
    dataDir: join(dir, "exchange"),
    projectorThread: false,
    candleSaveIntervalMs: 0,
  });
  for (const asset of DEFAULT_ASSETS) await exchange.submit({ kind: "addAsset", asset });
  const created = await exchange.accounts.createUser({
    email: "eth@example.com",
    passwordHash: "x".repeat(64),
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error("user not created");
  userId = created.user.userId;

  // What `init` prints (the plugin the signer builds from this config): custody's only keys.
  const plugin = signingPluginFor(parseSignerConfig(signerConfig));
  if (plugin === null) throw new Error("no plugin");
  wallet = ethereumChainWallet(plugin.exportPublicKeys({ chain: CHAIN, seed: SEED }));
  const tokens: ChainAsset[] = [{ symbol: "USDT", decimals: 6, contract: token }];
  adapter = new HookedAdapter({ chain: CHAIN, rpcUrl: anvil.url, chainId: CHAIN_ID, tokens });
  balanceOf = ethereumBalanceReader({ rpcUrl: anvil.url, tokens, confirmations: CONFIRMATIONS });
  await signerStarted;
  custody = new CustodyService({
    exchange,
    chains: [
      {
        config: ethereumCustodyConfig(CHAIN, CONFIRMATIONS),
        adapter,
        kind: "account",
        wallet,
        signer: signerPortOf(new SignerClient(signerConfig.socketPath)),
        coldAddress: null,
        balanceOf,
        feeAsset: "ETH",
        chainDecimals: new Map(adapter.assets.map((asset) => [asset.symbol, asset.decimals])),
      },
    ],
    policySecretKey: policySecret,
    stateDir: join(dir, "custody"),
    tickMs: 60_000,
    log: (message) => {
      logs.push(message);
      if (process.env.CUSTODY_TEST_LOG) console.log(message);
    },
  });
}, 60_000);

afterAll(async () => {
  await custody?.stop();
  if (signer !== undefined && signer.exitCode === null) {
    const exited = new Promise((resolve) => signer.once("exit", resolve));
    signer.kill("SIGTERM");
    await exited;
  }
  await exchange?.close();
  await anvil?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Ticks, mining a block after each, until `done` (at most `max` ticks). */
async function tickUntil(what: string, done: () => Promise<boolean> | boolean, max = 12): Promise<void> {
  for (let i = 0; i < max; i++) {
    await custody.tick();
    if (await done()) return;
    await mine();
  }
  throw new Error(`${what}: not reached in ${max} ticks; custody said: ${logs.slice(-5).join(" | ")}`);
}

async function activeBookAddress(currency: string, address: string): Promise<void> {
  await exchange.accounts.addAddress({ userId, currency, address, label: "mine", nowMs: Date.now() });
  await exchange.accounts.activateAddressNow({
    userId,
    currency,
    address,
    nowMs: Date.now(),
    operator: "test",
  });
}

async function withdrawToSettled(currency: string, amount: string, address: string): Promise<WithdrawalView> {
  const held = await custody.requestWithdrawal({
    userId,
    currency,
    amount,
    address,
    proof: { kind: "operator", actor: "test" },
  });
  expect(held.step).toBe("approved");
  let view: WithdrawalView | undefined = held;
  await tickUntil(`${currency} withdrawal settled`, async () => {
    view = await custody.withdrawal(held.withdrawalId);
    return view?.step === "settled";
  });
  return view as WithdrawalView;
}

const assetOf = (code: string) => {
  const asset = exchange.assetByCode(code);
  if (asset === undefined) throw new Error(`no asset ${code}`);
  return asset;
};
/** Ledger units → chain base units. */
const toChain = (units: number, code: string, decimals: number) =>
  BigInt(units) * 10n ** BigInt(decimals - assetOf(code).scale);

/** The books never claim more than the chain holds: hot and deposit addresses, per asset. */
async function booksCoveredByChain(code: string, decimals: number, depositAddress: string): Promise<void> {
  const books = exchange.walletBooks(assetOf(code).assetId);
  expect(await balanceNow(wallet.hotAddress, code)).toBeGreaterThanOrEqual(
    toChain(-books.systemUnits.walletHot, code, decimals),
  );
  expect(await balanceNow(depositAddress, code)).toBeGreaterThanOrEqual(
    toChain(-books.systemUnits.walletDepositAddresses, code, decimals),
  );
}

describe("custody on Ethereum (Anvil, a real signer process)", () => {
  it("ETH: deposit → credited after 3 blocks → swept into hot → withdrawn to the address book → settled", async () => {
    const eth = assetOf("ETH");
    expect(eth.scale).toBe(8);
    const { address } = await custody.depositAddress(userId, "ETH");
    // The deposit account of the signer's own seed (so it can sign the sweep from it).
    expect(address).toBe(addressOfSeed(SEED, 1, 0));
    expect(address).toBe(wallet.deposit.derive(0));
    expect(wallet.hotAddress).toBe(addressOfSeed(SEED, 0, 0));
    expect((await custody.depositAddress(userId, "USDT")).address).toBe(address);

    const walletClient = createWalletClient({ transport: http(anvil.url) });
    await waitReceipt(
      await walletClient.sendTransaction({ account: dev, chain: null, to: address as Hex, value: 2n * ETH }),
    );
    await custody.tick();
    expect(exchange.balance(userId, eth.assetId).availableUnits).toBe(0);
    await mine(CONFIRMATIONS - 1);
    await custody.tick();
    expect(exchange.balance(userId, eth.assetId).availableUnits).toBe(200_000_000);

    // The sweep was planned, signed and broadcast in that tick; recorded once 3 deep.
    await tickUntil("ETH sweep recorded", () => -exchange.walletBooks(eth.assetId).systemUnits.walletHot > 0);
    const swept = -exchange.walletBooks(eth.assetId).systemUnits.walletHot;
    expect(swept).toBeGreaterThan(199_990_000);
    // What stays is the part of the fee margin (gas × maxFeePerGas) the transaction did not pay.
    const dust = await balanceNow(address, "ETH");
    expect(dust).toBeLessThan(ETH / 1_000n);
    expect(await balanceNow(wallet.hotAddress, "ETH")).toBe(toChain(swept, "ETH", 18));
    await booksCoveredByChain("ETH", 18, address);

    await activeBookAddress("ETH", OUTSIDE_ETH);
    const view = await withdrawToSettled("ETH", "0.5", OUTSIDE_ETH);
    expect(view.history.map((entry) => entry.step)).toEqual([
      "requested",
      "held",
      "approved",
      "signing",
      "signed",
      "broadcast",
      "confirmed",
      "settled",
    ]);
    expect(view.txId).toMatch(/^0x[0-9a-f]{64}$/);
    expect(view.confirmations).toBeGreaterThanOrEqual(CONFIRMATIONS);
    // 0.5 ETH − the exchange's 0.005 ETH fee, to the wei.
    expect(await balanceNow(OUTSIDE_ETH, "ETH")).toBe((ETH * 495n) / 1_000n);
    // The books took the network fee at its most, gas × maxFeePerGas (rounded up to a ledger unit);
    // the hot address holds exactly the part the transaction did not pay on top of the books.
    const tx = (await rpc("eth_getTransactionByHash", [view.txId])) as { gas: string; maxFeePerGas: string };
    const paid = await waitReceipt(view.txId as Hex);
    const unit = 10n ** 10n;
    const booked = ((BigInt(tx.gas) * BigInt(tx.maxFeePerGas) + unit - 1n) / unit) * unit;
    const hotBooks = toChain(-exchange.walletBooks(eth.assetId).systemUnits.walletHot, "ETH", 18);
    expect(await balanceNow(wallet.hotAddress, "ETH")).toBe(
      hotBooks + booked - paid.gasUsed * paid.effectiveGasPrice,
    );
    expect(exchange.balance(userId, eth.assetId)).toEqual({ availableUnits: 150_000_000, heldUnits: 0 });
    await booksCoveredByChain("ETH", 18, address);
    await exchange.whenProjected(exchange.status().lastSequence);
    expect((await exchange.reads.withdrawal(view.withdrawalId))?.txId).toBe(view.txId);
    exchange.internals.core.checkInvariants();
  }, 30_000);

  it("USDT (ERC-20): deposit → credited → gas top-up from hot → token sweep → withdrawn → settled", async () => {
    const usdt = assetOf("USDT");
    expect(usdt.scale).toBe(6);
    const { address } = await custody.depositAddress(userId, "USDT");
    const walletClient = createWalletClient({ transport: http(anvil.url) });
    await waitReceipt(
      await walletClient.writeContract({
        account: dev,
        chain: null,
        address: token as Hex,
        abi: TOKEN_ABI,
        functionName: "transfer",
        args: [address as Hex, 1_000n * USDT],
      }),
    );
    await mine(CONFIRMATIONS - 1);
    await custody.tick();
    expect(exchange.balance(userId, usdt.assetId).availableUnits).toBe(1_000_000_000);

    // Gas first (refillGas hot → the deposit address), then the token sweep paid with it.
    await tickUntil(
      "USDT sweep recorded",
      () => -exchange.walletBooks(usdt.assetId).systemUnits.walletHot === 1_000_000_000,
      20,
    );
    expect(await balanceNow(address, "USDT")).toBe(0n);
    expect(await balanceNow(wallet.hotAddress, "USDT")).toBe(1_000n * USDT);
    expect(exchange.walletBooks(usdt.assetId).systemUnits.walletDepositAddresses).toBe(0);
    // The top-up's ether was deposit-addresses ETH on the books, and the sweep's fee came out of it.
    await booksCoveredByChain("ETH", 18, address);

    await activeBookAddress("USDT", OUTSIDE_USDT);
    const view = await withdrawToSettled("USDT", "100", OUTSIDE_USDT);
    expect(view.step).toBe("settled");
    // 100 USDT − the exchange's 5 USDT fee.
    expect(await balanceNow(OUTSIDE_USDT, "USDT")).toBe(95n * USDT);
    expect(exchange.balance(userId, usdt.assetId)).toEqual({ availableUnits: 900_000_000, heldUnits: 0 });
    expect(await balanceNow(wallet.hotAddress, "USDT")).toBe(905n * USDT);
    await booksCoveredByChain("USDT", 6, address);
    await booksCoveredByChain("ETH", 18, address);
    exchange.internals.core.checkInvariants();
  }, 30_000);

  it("the base fee rising between a native sweep's probe and its payment: one sweep, taken by the node", async () => {
    const other = await exchange.accounts.createUser({
      email: "race@example.com",
      passwordHash: "x".repeat(64),
      createdMs: Date.now(),
    });
    if (!other.ok) throw new Error("user not created");
    const { address } = await custody.depositAddress(other.user.userId, "ETH");
    const walletClient = createWalletClient({ transport: http(anvil.url) });
    await waitReceipt(
      await walletClient.sendTransaction({ account: dev, chain: null, to: address as Hex, value: ETH }),
    );
    await rpc("anvil_setNextBlockBaseFeePerGas", [toHex(1_000_000_000n)]);
    await mine(CONFIRMATIONS - 1);
    // A block at 1.5 × the base fee lands right after the sweep's first build (the probe of its fee).
    let raisedFrom: bigint | null = null;
    adapter.afterBuild = async (request) => {
      if (raisedFrom !== null || request.sources[0] !== address || request.asset !== "ETH") return;
      raisedFrom = (await adapter.feesPerGas()).baseFee;
      await rpc("anvil_setNextBlockBaseFeePerGas", [toHex((raisedFrom * 3n) / 2n)]);
      await mine();
    };
    const jobsOf = () =>
      (custody.chainOf(CHAIN)?.transfers.all() ?? []).filter((job) => job.sourceAddress === address);
    try {
      await tickUntil("the raced sweep recorded", () => jobsOf().some((job) => job.step === "recorded"));
    } finally {
      adapter.afterBuild = null;
    }
    expect(raisedFrom).not.toBeNull();
    // Both builds at one fee rate: value + gas × maxFeePerGas within the balance, not refused.
    const jobs = jobsOf();
    expect(jobs.map((job) => [job.step, job.reason])).toEqual([["recorded", null]]);
    const [job] = jobs;
    expect(BigInt(job.amount) + BigInt(job.fee)).toBeLessThanOrEqual(ETH);
    expect(BigInt(job.amount) + BigInt(job.fee)).toBeGreaterThan(ETH - 10n ** 10n);
    exchange.internals.core.checkInvariants();
  }, 30_000);
});

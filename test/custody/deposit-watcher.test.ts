import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AccountDevnet, UtxoDevnet } from "../../src/chains/devnet/index.ts";
import { DEPOSIT_ACCOUNT, devnetAccountXpub } from "../../src/chains/devnet/signing.ts";
import { DepositAddresses, devnetDepositDeriver } from "../../src/custody/deposit-addresses.ts";
import {
  type DepositAssetConfig,
  DepositWatcher,
  type DepositWatcherOptions,
} from "../../src/custody/deposit-watcher.ts";
import { MAX_PENDING_DEPOSITS_SHOWN } from "../../src/custody/port.ts";
import { Exchange, type ExchangeOptions } from "../../src/exchange/exchange.ts";
import { DEFAULT_ASSETS } from "../../src/server/default-markets.ts";

const BTC = 1;
const ETH = 2;
const USDT = 3;
const SEED = new Uint8Array(32).fill(7);

const open: Exchange[] = [];
const directories: string[] = [];
afterEach(async () => {
  for (const exchange of open.splice(0)) await exchange.close();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

async function newExchange(options: Partial<ExchangeOptions> = {}): Promise<Exchange> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-custody-"));
  directories.push(dataDir);
  const exchange = await Exchange.open({
    dataDir,
    projectorThread: false,
    candleSaveIntervalMs: 0,
    ...options,
  });
  open.push(exchange);
  for (const asset of DEFAULT_ASSETS) await exchange.submit({ kind: "addAsset", asset });
  return exchange;
}

interface Rig {
  exchange: Exchange;
  addresses: DepositAddresses;
  logs: string[];
  watcher(): Promise<DepositWatcher>;
}

async function rig(
  chain: UtxoDevnet | AccountDevnet,
  confirmations: number,
  assets: DepositAssetConfig[],
  exchange?: Exchange,
): Promise<Rig> {
  const ex = exchange ?? (await newExchange());
  const kind = chain instanceof UtxoDevnet ? "utxo" : "account";
  const addresses = new DepositAddresses(ex.custody);
  addresses.setDeriver(
    chain.chain,
    devnetDepositDeriver(kind, devnetAccountXpub(SEED, kind, DEPOSIT_ACCOUNT)),
  );
  const logs: string[] = [];
  return {
    exchange: ex,
    addresses,
    logs,
    async watcher() {
      const w = new DepositWatcher({
        exchange: ex,
        adapter: chain,
        confirmations,
        assets,
        addresses,
        log: (m) => logs.push(m),
      });
      await w.start();
      return w;
    },
  };
}

const btcAssets: DepositAssetConfig[] = [{ symbol: "BTC", assetId: BTC, minDepositBaseUnits: 100_000n }];
const ethAssets: DepositAssetConfig[] = [
  { symbol: "ETH", assetId: ETH },
  { symbol: "USDT", assetId: USDT, minDepositBaseUnits: 1_000_000n },
];

describe("DepositWatcher on the devnet UTXO chain", () => {
  it("credits after the confirmation count, exactly once, also across a restart", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 3, btcAssets);
    const watcher = await r.watcher();
    const { address } = await r.addresses.depositAddress(1, chain.chain);
    expect((await r.addresses.depositAddress(1, chain.chain)).address).toBe(address);
    expect(watcher.watchedCount).toBe(1);

    const txid = chain.faucet(address, "BTC", 50_000_000n);
    chain.mine(1);
    let result = await watcher.poll();
    expect(result.credited).toEqual([]);
    expect(result.pending).toBe(1);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(0);

    chain.mine(1);
    expect((await watcher.poll()).credited).toEqual([]);
    chain.mine(1);
    result = await watcher.poll();
    expect(result.credited).toHaveLength(1);
    expect(result.credited[0]).toMatchObject({
      userId: 1,
      assetId: BTC,
      amountUnits: 50_000_000,
      dustBaseUnits: 0n,
    });
    expect(result.credited[0].transfer.txid).toBe(txid);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(50_000_000);

    chain.mine(1);
    result = await watcher.poll();
    expect(result.credited).toEqual([]);
    expect(result.alreadyCredited).toEqual([]);

    // A restarted watcher resumes from the saved state, rescans its window, credits nothing twice.
    const restarted = await r.watcher();
    expect(restarted.watchedCount).toBe(1);
    result = await restarted.poll();
    expect(result.credited).toEqual([]);
    expect(result.alreadyCredited.map((t) => t.txid)).toEqual([txid]);
    expect((await restarted.poll()).alreadyCredited).toEqual([]);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(50_000_000);
  });

  it("a restart finds a transfer that was unconfirmed at the last save", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 3, btcAssets);
    const first = await r.watcher();
    const { address } = await r.addresses.depositAddress(1, chain.chain);
    chain.faucet(address, "BTC", 1_000_000n);
    chain.mine(1);
    expect((await first.poll()).pending).toBe(1);
    chain.mine(2);
    const second = await r.watcher();
    expect((await second.poll()).credited).toHaveLength(1);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(1_000_000);
  });

  it("drops a transfer a reorg removes before crediting", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 3, btcAssets);
    const watcher = await r.watcher();
    const { address } = await r.addresses.depositAddress(1, chain.chain);
    const txid = chain.faucet(address, "BTC", 20_000_000n);
    chain.mine(1);
    expect((await watcher.poll()).pending).toBe(1);
    chain.reorg(1, { omit: [txid], omitted: "dropped" });
    chain.mine(3);
    const result = await watcher.poll();
    expect(result.reorg).not.toBeNull();
    expect(result.dropped.map((t) => t.txid)).toEqual([txid]);
    expect(result.credited).toEqual([]);
    chain.mine(3);
    expect((await watcher.poll()).credited).toEqual([]);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(0);
  });

  it("a transfer a reorg only moves is still credited once", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 3, btcAssets);
    const watcher = await r.watcher();
    const { address } = await r.addresses.depositAddress(1, chain.chain);
    chain.faucet(address, "BTC", 20_000_000n);
    chain.mine(2);
    await watcher.poll();
    chain.reorg(2);
    chain.mine(1);
    const result = await watcher.poll();
    expect(result.reorg).not.toBeNull();
    expect(result.dropped).toEqual([]);
    expect(result.credited).toHaveLength(1);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(20_000_000);
  });

  it("reports a credited transfer that a reorg removes, and leaves the balance alone", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 3, btcAssets);
    const watcher = await r.watcher();
    const { address } = await r.addresses.depositAddress(1, chain.chain);
    const txid = chain.faucet(address, "BTC", 30_000_000n);
    chain.mine(3);
    expect((await watcher.poll()).credited).toHaveLength(1);
    chain.reorg(3, { omit: [txid], omitted: "dropped" });
    const result = await watcher.poll();
    expect(result.reorgedAfterCredit).toHaveLength(1);
    expect(result.reorgedAfterCredit[0]).toMatchObject({ userId: 1, assetId: BTC, amountUnits: 30_000_000 });
    expect(result.reorgedAfterCredit[0].transfer.txid).toBe(txid);
    expect(watcher.reported()).toHaveLength(1);
    expect(r.logs.some((m) => m.includes("removed by a reorg"))).toBe(true);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(30_000_000);
  });

  it("does not credit below the minimum deposit", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 3, btcAssets);
    const watcher = await r.watcher();
    const { address } = await r.addresses.depositAddress(1, chain.chain);
    chain.faucet(address, "BTC", 99_999n);
    chain.mine(3);
    const result = await watcher.poll();
    expect(result.belowMinimum).toHaveLength(1);
    expect(result.credited).toEqual([]);
    expect(result.pending).toBe(0);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(0);
  });

  it("credits two users' deposits in one block, and deposits to an older derivation account", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 2, btcAssets);
    const watcher = await r.watcher();
    const a = (await r.addresses.depositAddress(1, chain.chain)).address;
    const b = (await r.addresses.depositAddress(2, chain.chain)).address;
    const old = await r.addresses.depositAddress(3, chain.chain);
    // The deposit xpub is rotated to account 2: user 3 gets a new address, the old one stays watched.
    r.addresses.setDeriver(chain.chain, devnetDepositDeriver("utxo", devnetAccountXpub(SEED, "utxo", 2)));
    const rotated = await r.addresses.depositAddress(3, chain.chain);
    expect(rotated.account).toBe(2);
    expect(old.account).toBe(DEPOSIT_ACCOUNT);
    expect(rotated.address).not.toBe(old.address);
    chain.faucet(a, "BTC", 1_000_000n);
    chain.faucet(b, "BTC", 2_000_000n);
    chain.mine(2);
    let result = await watcher.poll();
    expect(result.credited.map((c) => [c.userId, c.amountUnits]).sort()).toEqual([
      [1, 1_000_000],
      [2, 2_000_000],
    ]);

    // A fresh watcher loads every account's addresses from the store.
    const fresh = await r.watcher();
    expect(fresh.watchedCount).toBe(4);
    chain.faucet(old.address, "BTC", 3_000_000n);
    chain.mine(2);
    result = await fresh.poll();
    expect(result.credited.map((c) => [c.userId, c.amountUnits])).toEqual([[3, 3_000_000]]);
    expect(r.exchange.balance(3, BTC).availableUnits).toBe(3_000_000);
  });
});

describe("DepositWatcher on the devnet account chain", () => {
  it("credits ETH with its dust tracked and USDT at its own scale", async () => {
    const chain = new AccountDevnet();
    const r = await rig(chain, 2, ethAssets);
    const watcher = await r.watcher();
    const { address } = await r.addresses.depositAddress(5, chain.chain);
    chain.faucet(address, "ETH", 1_500_000_000_000_000_001n); // 1.5 ETH + 1 wei
    chain.faucet(address, "USDT", 12_345_678n); // 12.345678 USDT
    chain.faucet(address, "USDT", 999_999n); // below the 1 USDT minimum
    chain.mine(1);
    expect((await watcher.poll()).credited).toEqual([]);
    chain.mine(1);
    const result = await watcher.poll();
    const byAsset = new Map(result.credited.map((c) => [c.assetId, c]));
    expect(byAsset.get(ETH)).toMatchObject({ amountUnits: 150_000_000, dustBaseUnits: 1n });
    expect(byAsset.get(USDT)).toMatchObject({ amountUnits: 12_345_678, dustBaseUnits: 0n });
    expect(result.belowMinimum.map((t) => t.amount)).toEqual([999_999n]);
    expect(r.exchange.balance(5, ETH).availableUnits).toBe(150_000_000);
    expect(r.exchange.balance(5, USDT).availableUnits).toBe(12_345_678);
    expect(r.logs.some((m) => m.includes("dust"))).toBe(true);
  });
});

describe("DepositWatcher crediting a large block", () => {
  /** The exchange as the watcher sees it, counting the credits in flight; `fail(n)` makes the nth submit throw. */
  function counting(ex: Exchange, fail?: (n: number) => boolean) {
    let submits = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const view: DepositWatcherOptions["exchange"] = {
      custody: ex.custody,
      asset: (assetId) => ex.asset(assetId),
      whenProjected: (sequence) => ex.whenProjected(sequence),
      submit(command) {
        submits++;
        if (fail?.(submits)) return Promise.reject(new Error(`submit ${submits} failed`));
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return ex.submit(command).finally(() => inFlight--);
      },
    };
    return { view, maxInFlight: () => maxInFlight };
  }

  it("submits credits concurrently up to the bound, in block order, each once, projected when the poll returns", async () => {
    const chain = new UtxoDevnet();
    // A slow store: each projector transaction takes 5 ms longer.
    const slowStore = await newExchange({
      wrapProjector: (projector) => ({
        get lastSequence() {
          return projector.lastSequence;
        },
        applyBatch: async (batch) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return projector.applyBatch(batch);
        },
      }),
    });
    const r = await rig(chain, 2, btcAssets, slowStore);
    const users = 40;
    const addresses: string[] = [];
    for (let user = 1; user <= users; user++)
      addresses.push((await r.addresses.depositAddress(user, chain.chain)).address);
    const counter = counting(r.exchange);
    const watcher = new DepositWatcher({
      exchange: counter.view,
      adapter: chain,
      confirmations: 2,
      assets: btcAssets,
      addresses: r.addresses,
      maxCreditsInFlight: 16,
      log: (m) => r.logs.push(m),
    });
    await watcher.start();
    const expected = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const user = (i % users) + 1;
      // Every tenth is below the 100,000 minimum: skipped in order, never submitted.
      const amount = i % 10 === 9 ? 50_000 : 1_000_000 + i;
      chain.faucet(addresses[user - 1], "BTC", BigInt(amount));
      if (amount >= 100_000) expected.set(user, (expected.get(user) ?? 0) + amount);
    }
    chain.mine(2);
    const result = await watcher.poll();
    expect(result.credited).toHaveLength(180);
    expect(result.belowMinimum).toHaveLength(20);
    expect(result.failed).toEqual([]);
    expect(counter.maxInFlight()).toBe(16);
    // Credited (and sequenced) in the order of the block's transfers.
    const sequences = result.credited.map((c) => c.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(180);
    expect(result.credited.map((c) => c.amountUnits)).toEqual(
      [...Array(200).keys()].filter((i) => i % 10 !== 9).map((i) => 1_000_000 + i),
    );
    expect(r.exchange.status().acknowledgedSequence).toBeGreaterThanOrEqual(sequences[sequences.length - 1]);
    // In the core, and in the store when the poll returns.
    for (const [user, units] of expected) {
      expect(r.exchange.balance(user, BTC).availableUnits).toBe(units);
      const stored = await r.exchange.reads.balancesOfUser(user);
      expect(stored.find((b) => b.assetId === BTC)?.availableUnits).toBe(units);
    }

    chain.mine(1);
    expect((await watcher.poll()).credited).toEqual([]);
    const restarted = await r.watcher();
    expect((await restarted.poll()).alreadyCredited).toHaveLength(180);
    for (const [user, units] of expected) expect(r.exchange.balance(user, BTC).availableUnits).toBe(units);
  });

  it("a submit that throws stops further submits; credits in flight stand, the rest are credited next poll", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 2, btcAssets);
    const { address } = await r.addresses.depositAddress(1, chain.chain);
    const counter = counting(r.exchange, (n) => n === 5);
    const watcher = new DepositWatcher({
      exchange: counter.view,
      adapter: chain,
      confirmations: 2,
      assets: btcAssets,
      addresses: r.addresses,
      maxCreditsInFlight: 3,
      log: (m) => r.logs.push(m),
    });
    await watcher.start();
    for (let i = 1; i <= 10; i++) chain.faucet(address, "BTC", BigInt(i * 1_000_000));
    chain.mine(2);
    await expect(watcher.poll()).rejects.toThrow("submit 5 failed");
    // 1-4 were submitted before the failure and 6-7 while it was in flight; nothing after.
    const first = r.exchange.balance(1, BTC).availableUnits;
    expect(first).toBe((1 + 2 + 3 + 4 + 6 + 7) * 1_000_000);
    expect(watcher.pendingCount).toBe(4);

    const result = await watcher.poll();
    expect(result.credited.map((c) => c.amountUnits)).toEqual([5, 8, 9, 10].map((i) => i * 1_000_000));
    expect(result.alreadyCredited).toEqual([]);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(55 * 1_000_000);
  });
});

describe("DepositWatcher.pendingOf: a user's deposits seen and not yet credited", () => {
  it("counts confirmations per poll until the credit, only the user's own, newest first, bounded; a reorg drops one", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 3, btcAssets);
    const watcher = await r.watcher();
    const mine = (await r.addresses.depositAddress(1, chain.chain)).address;
    const theirs = (await r.addresses.depositAddress(2, chain.chain)).address;
    expect(watcher.pendingOf(1, 50)).toEqual([]);

    // In the mempool only: not seen yet (the watcher reads blocks).
    const first = chain.faucet(mine, "BTC", 12_345_678n);
    chain.faucet(theirs, "BTC", 70_000_000n);
    await watcher.poll();
    expect(watcher.pendingOf(1, 50)).toEqual([]);

    chain.mine(1);
    await watcher.poll();
    const seen = watcher.pendingOf(1, 50);
    expect(seen).toEqual([
      {
        currency: "BTC",
        chain: chain.chain,
        txId: first,
        outputIndex: expect.any(Number),
        amount: "0.12345678",
        confirmations: 1,
        confirmationsNeeded: 3,
        blockHeight: expect.any(Number),
        seenMs: expect.any(Number),
      },
    ]);
    expect(watcher.pendingOf(2, 50).map((d) => d.amount)).toEqual(["0.7"]);
    expect(watcher.pendingOf(3, 50)).toEqual([]);

    // A second deposit a block later: newest first, each with its own count; the limit cuts the oldest.
    const second = chain.faucet(mine, "BTC", 1_000_000n);
    chain.mine(1);
    await watcher.poll();
    expect(watcher.pendingOf(1, 50).map((d) => [d.txId, d.confirmations])).toEqual([
      [second, 1],
      [first, 2],
    ]);
    expect(watcher.pendingOf(1, 1).map((d) => d.txId)).toEqual([second]);
    expect(watcher.pendingOf(1, 0)).toEqual([]);

    // The third confirmation credits the first: it leaves the list, the balance has it.
    chain.mine(1);
    await watcher.poll();
    expect(watcher.pendingOf(1, 50).map((d) => [d.txId, d.confirmations])).toEqual([[second, 2]]);
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(12_345_678);
    expect(watcher.pendingOf(2, 50)).toEqual([]);

    // A reorg that removes the second before its credit: gone from the list, never credited.
    chain.reorg(2, { omit: [second], omitted: "dropped" });
    chain.mine(3);
    expect((await watcher.poll()).dropped.map((t) => t.txid)).toEqual([second]);
    expect(watcher.pendingOf(1, 50)).toEqual([]);
    chain.mine(3);
    await watcher.poll();
    expect(r.exchange.balance(1, BTC).availableUnits).toBe(12_345_678);
  });

  it("answers at most MAX_PENDING_DEPOSITS_SHOWN however many are pending", async () => {
    const chain = new UtxoDevnet();
    const r = await rig(chain, 3, btcAssets);
    const watcher = await r.watcher();
    const { address } = await r.addresses.depositAddress(1, chain.chain);
    for (let i = 0; i < MAX_PENDING_DEPOSITS_SHOWN + 5; i++)
      chain.faucet(address, "BTC", 200_000n + BigInt(i));
    chain.mine(1);
    expect((await watcher.poll()).pending).toBe(MAX_PENDING_DEPOSITS_SHOWN + 5);
    expect(watcher.pendingOf(1, 1_000)).toHaveLength(MAX_PENDING_DEPOSITS_SHOWN);
  });
});

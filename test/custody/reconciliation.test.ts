// Reconciliation's pure half (src/custody/reconciliation.ts): balances against the books with
// what is in flight, outflows against the signer's and the cold wallet's txids, the verdict; the
// bounded result log; the devnet adapters' outflow scan; and the signer's `signed` question.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Outflow } from "../../src/chains/adapter.ts";
import {
  AccountDevnet,
  addressOfKey,
  privateKeyFromSeed,
  signTransaction,
  UtxoDevnet,
} from "../../src/chains/devnet/index.ts";
import type { ReconciliationResult } from "../../src/custody/port.ts";
import {
  type AssetFigures,
  ledgerUnitsToBase,
  MAX_RESULTS_KEPT,
  matchOutflows,
  ReconciliationLog,
  reconcileAsset,
  reconciliationResult,
  roundingToleranceOf,
  verdictOf,
} from "../../src/custody/reconciliation.ts";
import { MAX_SIGNED_QUERY, SignerService } from "../../src/signer/service.ts";
import { SignerState } from "../../src/signer/state.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-reconciliation-"));
  dirs.push(dir);
  return dir;
}

const NONE = { total: 0n, hot: 0n, cold: 0n, depositAddresses: 0n };

function figures(overrides: Partial<AssetFigures> = {}): AssetFigures {
  return {
    asset: "BTC",
    decimals: 8,
    chain: { hot: 100_000_000n, cold: 400_000_000n, depositAddresses: 5_000n },
    books: { hot: 100_000_000n, cold: 400_000_000n, depositAddresses: 5_000n, inFlight: 0n },
    allowance: NONE,
    roundingTolerance: 0n,
    ...overrides,
  };
}

describe("reconcileAsset", () => {
  it("matches when chain and books agree, in whole coins", () => {
    const result = reconcileAsset(figures());
    expect(result).toEqual({
      asset: "BTC",
      onChain: { hot: "1", cold: "4", depositAddresses: "0.00005", total: "5.00005" },
      onBooks: { hot: "1", cold: "4", depositAddresses: "0.00005", inFlight: "0", total: "5.00005" },
      allowance: "0",
      residual: "0",
      shortfalls: [],
      break: false,
    });
  });

  it("a surplus (a deposit not credited yet) never breaks", () => {
    const result = reconcileAsset(
      figures({ chain: { hot: 100_000_000n, cold: 400_000_000n, depositAddresses: 90_000_000n } }),
    );
    expect(result).toMatchObject({ residual: "0.89995", break: false, shortfalls: [] });
  });

  it("a shortfall within what is in flight is allowed; beyond it, in total or in one part, is a break", () => {
    // A withdrawal of 0.3 BTC + 0.0001 fee confirmed on chain, not yet settled on the books.
    const inFlight = { total: 30_010_000n, hot: 30_010_000n, cold: 0n, depositAddresses: 0n };
    const chain = { hot: 69_990_000n, cold: 400_000_000n, depositAddresses: 5_000n };
    expect(reconcileAsset(figures({ chain, allowance: inFlight })).break).toBe(false);
    // One satoshi more gone: a theft hiding behind it is caught.
    const short = reconcileAsset(figures({ chain: { ...chain, hot: chain.hot - 1n }, allowance: inFlight }));
    expect(short.break).toBe(true);
    expect(short.shortfalls).toEqual([
      { part: "total", shortfall: "0.30010001", allowance: "0.3001" },
      { part: "hot", shortfall: "0.30010001", allowance: "0.3001" },
    ]);
    // The total matches but the books put coins at cold that are at hot: the cold part breaks.
    const moved = reconcileAsset(
      figures({ chain: { hot: 150_000_000n, cold: 350_000_000n, depositAddresses: 5_000n } }),
    );
    expect(moved.residual).toBe("0");
    expect(moved.shortfalls).toEqual([{ part: "cold", shortfall: "0.5", allowance: "0" }]);
    // A sweep hot → cold confirmed on chain, not yet recorded: allowed for the hot part.
    const sweeping = reconcileAsset(
      figures({
        chain: { hot: 49_990_000n, cold: 450_000_000n, depositAddresses: 5_000n },
        allowance: { total: 10_000n, hot: 50_010_000n, cold: 0n, depositAddresses: 0n },
      }),
    );
    expect(sweeping.break).toBe(false);
  });

  it("tolerates the ledger's rounding only where the chain is finer than the ledger", () => {
    expect(roundingToleranceOf(8, 8)).toBe(0n);
    expect(roundingToleranceOf(6, 6)).toBe(0n);
    expect(roundingToleranceOf(18, 8)).toBe(1_000n * 10n ** 10n);
    const wei = 10n ** 10n;
    const books = { hot: 0n, cold: 0n, depositAddresses: 5n * wei, inFlight: 0n };
    const base = { asset: "ETH", decimals: 18, books, allowance: NONE };
    expect(
      reconcileAsset({
        ...base,
        chain: { hot: 0n, cold: 0n, depositAddresses: 5n * wei - 21n },
        roundingTolerance: roundingToleranceOf(18, 8),
      }).break,
    ).toBe(false);
    expect(
      reconcileAsset({
        ...base,
        chain: { hot: 0n, cold: 0n, depositAddresses: 5n * wei - 21n },
        roundingTolerance: 0n,
      }).break,
    ).toBe(true);
  });

  it("refuses a negative allowance", () => {
    expect(() => reconcileAsset(figures({ allowance: { ...NONE, hot: -1n } }))).toThrow(RangeError);
    expect(() => reconcileAsset(figures({ roundingTolerance: -1n }))).toThrow(RangeError);
  });

  it("converts the books' ledger units to base units exactly", () => {
    expect(ledgerUnitsToBase(150_000_000, 8, 8)).toBe(150_000_000n);
    expect(ledgerUnitsToBase(3, 18, 8)).toBe(30_000_000_000n);
    expect(ledgerUnitsToBase(-3, 18, 8)).toBe(-30_000_000_000n);
    expect(() => ledgerUnitsToBase(0.5, 8, 8)).toThrow(RangeError);
  });
});

describe("outflows and the verdict", () => {
  const outflow = (txid: string): Outflow => ({
    chain: "devnet-btc",
    txid,
    from: ["hot"],
    amounts: [{ asset: "BTC", amount: 150_000_000n }],
    blockHeight: 7,
    blockHash: "h7",
  });

  it("matches by the signer's log or an imported cold spend; anything else is unmatched", () => {
    const matched = matchOutflows(
      [outflow("signed"), outflow("cold"), outflow("stolen")],
      new Set(["signed"]),
      new Set(["cold"]),
      () => 8,
    );
    expect(matched.map((entry) => entry.matchedBy)).toEqual(["signer", "coldRefill", null]);
    // Acknowledged by the operators who resumed the breaker: met again by a rescan, not a new trip.
    expect(
      matchOutflows([outflow("stolen")], new Set(), new Set(), () => 8, new Set(["stolen"]))[0].matchedBy,
    ).toBe("acknowledged");
    expect(matched[2]).toEqual({
      txid: "stolen",
      blockHeight: 7,
      from: ["hot"],
      amounts: [{ asset: "BTC", amount: "1.5" }],
      matchedBy: null,
    });
    const result = reconciliationResult({
      chain: "devnet-btc",
      fromHeight: 7,
      toHeight: 7,
      atMs: 1,
      outflows: matched,
      unverified: 0,
      assets: [reconcileAsset(figures())],
      depositAddressesCovered: true,
      note: null,
    });
    expect(result).toMatchObject({ verdict: "unmatchedOutflow", unmatched: 1 });
    // Unmatched ones are listed first.
    expect(result.outflows[0].txid).toBe("stolen");
  });

  it("an unmatched outflow comes before a break; no outflow and no break is ok", () => {
    const broken = reconcileAsset(figures({ chain: { hot: 0n, cold: 0n, depositAddresses: 0n } }));
    expect(verdictOf(1, [broken])).toBe("unmatchedOutflow");
    expect(verdictOf(0, [broken])).toBe("reconciliationBreak");
    expect(verdictOf(0, null)).toBe("ok");
    expect(verdictOf(0, [reconcileAsset(figures())])).toBe("ok");
  });
});

describe("ReconciliationLog", () => {
  const result = (toHeight: number): ReconciliationResult =>
    reconciliationResult({
      chain: "devnet-btc",
      fromHeight: toHeight,
      toHeight,
      atMs: toHeight,
      outflows: [],
      unverified: 0,
      assets: null,
      depositAddressesCovered: true,
      note: null,
    });

  it("keeps the newest results, bounded in memory and on disk, across a reopen", () => {
    const dir = tempDir();
    const kept = 50;
    const log = new ReconciliationLog(dir, kept);
    expect(log.last).toBeNull();
    for (let height = 1; height <= 2 * kept + 10; height++) log.append(result(height));
    expect(log.newest(3).map((entry) => entry.toHeight)).toEqual([110, 109, 108]);
    expect(log.newest(5_000).length).toBe(kept);
    const lines = readFileSync(join(dir, "reconciliations.jsonl"), "utf8").trim().split("\n").length;
    expect(lines).toBeLessThan(2 * kept);
    const reopened = new ReconciliationLog(dir, kept);
    expect(reopened.last?.toHeight).toBe(110);
    expect(reopened.newest(kept).at(-1)?.toHeight).toBe(110 - kept + 1);
    expect(MAX_RESULTS_KEPT).toBe(1_000);
    expect(() => new ReconciliationLog(dir, 0)).toThrow(RangeError);
  });

  it("skips a torn last line", () => {
    const dir = tempDir();
    const log = new ReconciliationLog(dir);
    log.append(result(1));
    writeFileSync(
      join(dir, "reconciliations.jsonl"),
      `${readFileSync(join(dir, "reconciliations.jsonl"), "utf8")}{"chain":"dev`,
    );
    expect(new ReconciliationLog(dir).newest(10).map((entry) => entry.toHeight)).toEqual([1]);
  });
});

describe("the devnet adapters' outflow scan", () => {
  it("UTXO: inputs spending watched outputs, with what they spent", async () => {
    const chain = new UtxoDevnet();
    const key = privateKeyFromSeed("outflow-hot");
    const hot = addressOfKey(chain, key);
    const other = addressOfKey(chain, privateKeyFromSeed("outflow-other"));
    chain.faucet(hot, "BTC", 100_000_000n);
    chain.mine(1);
    const unsigned = await chain.buildPayment({
      sources: [hot],
      to: other,
      asset: "BTC",
      amount: 10_000_000n,
    });
    const txid = await chain.broadcast(signTransaction(chain, unsigned, new Map([[hot, key]])));
    chain.mine(1);
    expect(await chain.scanOutflows(0, chain.tip, new Set([other]))).toEqual([]);
    const found = await chain.scanOutflows(0, chain.tip, new Set([hot]));
    expect(found).toEqual([
      {
        chain: chain.chain,
        txid,
        from: [hot],
        amounts: [{ asset: "BTC", amount: 100_000_000n }],
        blockHeight: 2,
        blockHash: (await chain.blockHash(2)) as string,
      },
    ]);
    await expect(chain.scanOutflows(0, chain.tip + 1, new Set([hot]))).rejects.toThrow(/above the tip/);
  });

  it("account: a watched sender, the amount and the gas it paid", async () => {
    const chain = new AccountDevnet();
    const key = privateKeyFromSeed("outflow-eth");
    const hot = addressOfKey(chain, key);
    chain.faucet(hot, "ETH", 10n ** 18n);
    chain.mine(1);
    const unsigned = await chain.buildPayment({
      sources: [hot],
      to: addressOfKey(chain, privateKeyFromSeed("x")),
      asset: "ETH",
      amount: 10n ** 17n,
    });
    const txid = await chain.broadcast(signTransaction(chain, unsigned, new Map([[hot, key]])));
    chain.mine(1);
    const [found] = await chain.scanOutflows(2, 2, new Set([hot]));
    expect(found).toMatchObject({
      txid,
      from: [hot],
      amounts: [{ asset: "ETH", amount: 10n ** 17n + unsigned.fee }],
    });
  });
});

describe("the signer's `signed` question", () => {
  it("answers which txids its log holds, after a reopen too; refuses a malformed or too long list", () => {
    const dir = tempDir();
    const state = SignerState.open(join(dir, "state"), Date.now());
    state.append({
      type: "signature",
      intentId: "aa".repeat(16),
      chain: "devnet-btc",
      asset: "BTC",
      kind: "withdrawal",
      to: "x",
      amount: "1",
      fee: "1",
      feeAsset: "BTC",
      charges: [{ asset: "BTC", amount: "2" }],
      txId: "tx-signed",
      digest: "00",
      expiresAtMs: Date.now() + 1_000,
      atMs: Date.now(),
    });
    expect(state.signedTxIds(["tx-other", "tx-signed"])).toEqual(["tx-signed"]);
    state.close();
    const reopened = SignerState.open(join(dir, "state"), Date.now() + 10 * 24 * 3_600_000);
    // Remembered beyond the intent's expiry (unlike the seen ids).
    expect(reopened.signedTxIds(["tx-signed"])).toEqual(["tx-signed"]);
    const service = new SignerService(
      {
        chain: "devnet-btc",
        policyPublicKey: new Uint8Array(32),
        caps: new Map(),
        coldAddresses: new Set(),
        maxFutureMs: 60_000,
      },
      reopened,
      { chain: "devnet-btc" } as unknown as ConstructorParameters<typeof SignerService>[2],
      {} as ConstructorParameters<typeof SignerService>[3],
    );
    expect(service.handle({ op: "signed", txIds: ["tx-signed", "nope"] })).toEqual({
      ok: true,
      signed: ["tx-signed"],
    });
    for (const txIds of [
      "tx-signed",
      [1],
      [""],
      Array.from({ length: MAX_SIGNED_QUERY + 1 }, (_, i) => `t${i}`),
    ])
      expect(service.handle({ op: "signed", txIds })).toMatchObject({ ok: false, code: "bad-request" });
    expect(service.handle({ op: "signed", txIds: [], extra: 1 })).toMatchObject({ ok: false });
    reopened.close();
  });
});

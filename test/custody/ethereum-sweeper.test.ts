// The ethereum sweeper against a real Anvil node and a real signer (SignerService with the
// ethereum plugin and its policy: deposit sweeps and gas refills must go to the wallet's own
// addresses): an ETH deposit swept to the hot address; an ERC-20 deposit topped up with gas, then
// swept, the ETH dust left accounted; a restart after and before every persisted step (a new
// sweeper on the same journal) and a real kill -9 of a child sweeper process, each without a
// second top-up or sweep; a deposit below the threshold, or not yet deep enough, left alone; the signer's refusal
// kept as a failed job with its reason; a halted signer waited for. And the file journal itself.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { createWalletClient, type Hex, http, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addressAt,
  addressOfSeed,
  EthereumAdapter,
  EthereumSigningPlugin,
  watchOnlyAccount,
} from "../../src/chains/ethereum/index.ts";
import type { HotKeys } from "../../src/chains/signing.ts";
import {
  type DepositAddressSource,
  EthereumSweeper,
  type EthereumSweeperOptions,
  type EthereumSweepReads,
  SignRefusedError,
  type SweepJob,
  type SweepJournal,
  SweepJournalError,
  type SweepSign,
  type SweepStep,
  viemSweepReads,
  type WalletMovementReport,
} from "../../src/custody/ethereum-sweeper.ts";
import {
  FileSweepJournal,
  MemorySweepJournal,
  SWEEP_LOCK_FILE,
  sweepJobToJson,
} from "../../src/custody/sweep-file-store.ts";
import { intentToWire, signIntent } from "../../src/signer/intent.ts";
import type { AssetCaps } from "../../src/signer/policy.ts";
import { listenSigner } from "../../src/signer/server.ts";
import { SignerService } from "../../src/signer/service.ts";
import { SignerState } from "../../src/signer/state.ts";
import { type Anvil, anvilRpc, startAnvil } from "../chains/ethereum/anvil.ts";
import { TOKEN_ABI, tokenBytecode } from "../chains/ethereum/token.ts";

const CHAIN_ID = 31_337_8;
const ETH = 10n ** 18n;
const USDT = 10n ** 6n;
const seed = new Uint8Array(32).map((_, i) => 200 - i);
const keys: HotKeys = { chain: "ethereum", seed };
const hot = addressOfSeed(seed, 0, 0);
/** Hot addresses of the restart scenarios' parallel lanes. */
const LANE_HOTS = [1, 2, 3, 4].map((index) => addressOfSeed(seed, 0, index));
const POLICY_SECRET = ed25519.utils.randomSecretKey();
const BIG: AssetCaps = {
  perTransaction: 10n ** 24n,
  per10m: 10n ** 24n,
  per1h: 10n ** 24n,
  per24h: 10n ** 24n,
};
const ASSETS = [
  { symbol: "ETH", minSweepBaseUnits: ETH / 100n },
  { symbol: "USDT", minSweepBaseUnits: 10n * USDT },
];
const ROOT = join(import.meta.dirname, "..", "..");

const dir = mkdtempSync(join(tmpdir(), "bulwark-sweeper-"));
let anvil: Anvil;
let adapter: EthereumAdapter;
let reads: EthereumSweepReads;
let plugin: EthereumSigningPlugin;
let signerState: SignerState;
let signer: SignerService;
let token: string;
let tokens: { symbol: string; decimals: number; contract: string }[];
let dev: Hex;
let outsider: Hex;
let wallet: ReturnType<typeof createWalletClient>;
let deposit: (index: number) => string;
let nextDeposit = 0;
const children: ChildProcess[] = [];

const rpc = (method: string, params: unknown[] = []) => anvilRpc(anvil.url, method, params);
const mine = (blocks = 1) => rpc("anvil_mine", [toHex(blocks)]);

async function waitReceipt(hash: Hex): Promise<void> {
  while ((await rpc("eth_getTransactionReceipt", [hash])) === null)
    await new Promise((r) => setTimeout(r, 5));
}

/** The outside sender's transactions one at a time (its nonces), though tests run lanes at once. */
let devQueue: Promise<unknown> = Promise.resolve();
function fromDev(send: () => Promise<Hex>): Promise<void> {
  const next = devQueue.then(async () => waitReceipt(await send()));
  devQueue = next.catch(() => undefined);
  return next;
}

function sendEth(to: string, value: bigint): Promise<void> {
  return fromDev(() => wallet.sendTransaction({ account: dev, chain: null, to: to as Hex, value }));
}

function sendToken(to: string, value: bigint): Promise<void> {
  return fromDev(() =>
    wallet.writeContract({
      account: dev,
      chain: null,
      address: token as Hex,
      abi: TOKEN_ABI,
      functionName: "transfer",
      args: [to as Hex, value],
    }),
  );
}

const nonceOf = async (address: string) => Number(await rpc("eth_getTransactionCount", [address, "latest"]));

/** The signer as custody reaches it: the intent signed with the policy key, the answer read back. */
function signWith(service: SignerService): SweepSign {
  return async (intent) => {
    const { signature } = signIntent(intent, POLICY_SECRET);
    const answer = service.handle({
      op: "sign",
      intent: intentToWire(intent),
      signature: Buffer.from(signature).toString("hex"),
    }) as { ok: boolean; code?: string; detail?: string; txId?: string; signedTx?: string };
    if (!answer.ok) throw new SignRefusedError(answer.code as string, answer.detail as string);
    return {
      txId: answer.txId as string,
      signedTx: new Uint8Array(Buffer.from(answer.signedTx as string, "base64")),
    };
  };
}

/**
 * A signer that cannot recognise a repeat (its log predates intent digests): an intent id it signed
 * before is refused as reused-id, with no transaction named.
 */
function legacy(inner: SweepSign): SweepSign {
  const signed = new Set<string>();
  return async (intent) => {
    if (signed.has(intent.intentId))
      throw new SignRefusedError("reused-id", `intent ${intent.intentId} was already signed`);
    const answer = await inner(intent);
    signed.add(intent.intentId);
    return answer;
  };
}

const sourceOf =
  (addresses: string[]): DepositAddressSource =>
  async (after, limit) =>
    [...addresses]
      .sort()
      .filter((a) => after === undefined || a > after)
      .slice(0, limit);

/** A journal that records the steps saved and dies (throws) before or after its n-th save. */
class CrashingJournal implements SweepJournal {
  saves = 0;
  readonly steps: SweepStep[] = [];
  constructor(
    private readonly inner: SweepJournal,
    private readonly crashAt = Number.POSITIVE_INFINITY,
    private readonly when: "before" | "after" = "after",
  ) {}
  load() {
    return this.inner.load();
  }
  async save(job: SweepJob) {
    this.saves++;
    if (this.saves === this.crashAt && this.when === "before") throw new Error("killed before the save");
    await this.inner.save(job);
    this.steps.push(job.step);
    if (this.saves === this.crashAt && this.when === "after") throw new Error("killed after the save");
  }
  remove(jobId: string) {
    return this.inner.remove(jobId);
  }
}

function makeSweeper(
  journal: SweepJournal,
  addresses: string[],
  reports: WalletMovementReport[],
  overrides: Partial<EthereumSweeperOptions> = {},
): EthereumSweeper {
  return new EthereumSweeper({
    adapter,
    reads,
    journal,
    sign: signWith(signer),
    hotAddress: hot,
    depositAddresses: sourceOf(addresses),
    assets: ASSETS,
    report: async (movement) => {
      reports.push(movement);
    },
    confirmations: 2,
    rebroadcastAfterMs: 0,
    log: () => {},
    ...overrides,
  });
}

/** Ticks (mining a block between ticks) until every job is finished; at most `maxTicks`. */
async function settle(sweeper: EthereumSweeper, maxTicks = 30): Promise<void> {
  for (let i = 0; i < maxTicks; i++) {
    const result = await sweeper.tick();
    if (sweeper.jobs().length > 0 && result.active === 0) return;
    await mine();
  }
  throw new Error(`not settled: ${JSON.stringify(sweeper.jobs().map((j) => [j.step, j.lastError]))}`);
}

/** Transfers into `address` since `from` (ETH and USDT), by scanning the chain. */
async function transfersTo(address: string, from: number) {
  const tip = await adapter.height();
  const found = [];
  for (let start = from; start <= tip; start += 100)
    found.push(...(await adapter.scan(start, Math.min(tip, start + 99), new Set([address]))).transfers);
  return found;
}

function unique(reports: WalletMovementReport[]): WalletMovementReport[] {
  const byId = new Map<string, WalletMovementReport>();
  for (const r of reports) {
    const seen = byId.get(r.movementId);
    if (seen !== undefined) expect(r, "a repeated report is identical").toEqual(seen);
    else byId.set(r.movementId, r);
  }
  return [...byId.values()];
}

beforeAll(async () => {
  const bytecode = tokenBytecode();
  anvil = await startAnvil(CHAIN_ID);
  wallet = createWalletClient({ transport: http(anvil.url) });
  [dev, outsider] = (await rpc("eth_accounts")) as Hex[];
  const hash = await wallet.deployContract({
    account: dev,
    chain: null,
    abi: TOKEN_ABI,
    bytecode,
    args: [1_000_000_000n * USDT],
  });
  await waitReceipt(hash);
  const receipt = (await rpc("eth_getTransactionReceipt", [hash])) as { contractAddress: string };
  token = receipt.contractAddress.toLowerCase();
  tokens = [{ symbol: "USDT", decimals: 6, contract: token }];
  adapter = new EthereumAdapter({ rpcUrl: anvil.url, chainId: CHAIN_ID, tokens });
  reads = viemSweepReads(anvil.url);
  // Account 0 is the hot wallet, account 1 the deposit addresses: both the signer's own.
  plugin = new EthereumSigningPlugin({ chainId: CHAIN_ID, tokens, accounts: 2, addressesPerAccount: 100 });
  const depositNode = watchOnlyAccount(plugin.exportPublicKeys(keys)[1].key);
  deposit = (index) => addressAt(depositNode, index);
  signerState = SignerState.open(join(dir, "signer"), Date.now());
  signer = new SignerService(
    {
      chain: "ethereum",
      policyPublicKey: ed25519.getPublicKey(POLICY_SECRET),
      caps: new Map([
        ["ETH", BIG],
        ["USDT", BIG],
      ]),
      coldAddresses: new Set(),
      maxFutureMs: 60 * 60_000,
    },
    signerState,
    plugin,
    keys,
  );
  await sendEth(hot, 1_000n * ETH);
  for (const laneHot of LANE_HOTS) await sendEth(laneHot, 100n * ETH);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  signerState?.close();
  await anvil?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("ethereum sweeper on Anvil", () => {
  it("sweeps an ETH deposit to the hot address, once it is deep enough", async () => {
    const d = deposit(nextDeposit++);
    await sendEth(d, 2n * ETH);
    const hotBefore = await reads.nativeBalance(hot);
    const reports: WalletMovementReport[] = [];
    const journal = new CrashingJournal(new MemorySweepJournal());
    const sweeper = makeSweeper(journal, [d], reports);
    // One confirmation of the two: not swept yet.
    expect((await sweeper.tick()).created).toEqual([]);
    await mine();
    await settle(sweeper);

    const [job] = sweeper.jobs();
    expect(job).toMatchObject({ step: "done", asset: "ETH", address: d, topUps: [], failure: null });
    expect([...new Set(journal.steps)]).toEqual([
      "planned",
      "sweepSigned",
      "sweepBroadcast",
      "sweepConfirmed",
      "done",
    ]);
    const sweep = job.sweep!;
    expect(sweep.intent).toMatchObject({ kind: "depositSweep", to: hot, asset: "ETH" });
    // amount = balance − gas × maxFeePerGas; what the fee did not use stays as dust.
    expect(sweep.intent.amount).toBe(2n * ETH - sweep.maxFeeBaseUnits);
    const leftover = await reads.nativeBalance(d);
    expect(job.leftoverNativeBaseUnits).toBe(leftover);
    expect(leftover).toBe(sweep.maxFeeBaseUnits - (sweep.feeBaseUnits as bigint));
    expect(await reads.nativeBalance(hot)).toBe(hotBefore + sweep.intent.amount);
    expect(reports).toEqual([
      {
        movementId: `${job.id}:${sweep.intent.intentId}`,
        jobId: job.id,
        chain: "ethereum",
        address: d,
        from: "walletDepositAddresses",
        to: "walletHot",
        asset: "ETH",
        amountBaseUnits: sweep.intent.amount,
        feeBaseUnits: sweep.feeBaseUnits,
        feeAsset: "ETH",
        txId: sweep.txId,
      },
    ]);
    expect(reports[0].amountBaseUnits + reports[0].feeBaseUnits + leftover).toBe(2n * ETH);
    // The dust is below the threshold: no new job.
    await sweeper.tick();
    expect(sweeper.jobs()).toHaveLength(1);
  });

  it("tops up gas for a token deposit, sweeps it, and accounts for the ETH dust left", async () => {
    const d = deposit(nextDeposit++);
    await sendToken(d, 250n * USDT);
    await mine();
    const hotEth = await reads.nativeBalance(hot);
    const hotUsdt = await reads.tokenBalance(token, hot);
    const reports: WalletMovementReport[] = [];
    const journal = new CrashingJournal(new MemorySweepJournal());
    const sweeper = makeSweeper(journal, [d], reports);
    await settle(sweeper);

    const [job] = sweeper.jobs();
    expect(job.step).toBe("done");
    expect([...new Set(journal.steps)]).toEqual([
      "planned",
      "gasTopUpSigned",
      "gasTopUpBroadcast",
      "gasTopUpConfirmed",
      "sweepSigned",
      "sweepBroadcast",
      "sweepConfirmed",
      "done",
    ]);
    expect(job.topUps).toHaveLength(1);
    const [topUp] = job.topUps;
    const sweep = job.sweep!;
    expect(topUp.intent).toMatchObject({ kind: "refillGas", to: d, asset: "ETH" });
    expect(sweep.intent).toMatchObject({ kind: "depositSweep", to: hot, asset: "USDT", amount: 250n * USDT });
    // The top-up is exactly the sweep's most possible fee (gas × the maxFeePerGas it was sized for).
    expect(topUp.intent.amount).toBe(sweep.maxFeeBaseUnits);
    expect(await reads.tokenBalance(token, d)).toBe(0n);
    expect(await reads.tokenBalance(token, hot)).toBe(hotUsdt + 250n * USDT);
    const dust = await reads.nativeBalance(d);
    expect(dust).toBe(topUp.intent.amount - (sweep.feeBaseUnits as bigint));
    expect(job.leftoverNativeBaseUnits).toBe(dust);
    expect(await reads.nativeBalance(hot)).toBe(
      hotEth - topUp.intent.amount - (topUp.feeBaseUnits as bigint),
    );
    expect(
      reports.map(({ from, to, asset, amountBaseUnits, feeBaseUnits, feeAsset, txId }) => ({
        from,
        to,
        asset,
        amountBaseUnits,
        feeBaseUnits,
        feeAsset,
        txId,
      })),
    ).toEqual([
      {
        from: "walletHot",
        to: "walletDepositAddresses",
        asset: "ETH",
        amountBaseUnits: topUp.intent.amount,
        feeBaseUnits: topUp.feeBaseUnits,
        feeAsset: "ETH",
        txId: topUp.txId,
      },
      {
        from: "walletDepositAddresses",
        to: "walletHot",
        asset: "USDT",
        amountBaseUnits: 250n * USDT,
        feeBaseUnits: sweep.feeBaseUnits,
        feeAsset: "ETH",
        txId: sweep.txId,
      },
    ]);
    // The books of the deposit address's ETH: + top-up − sweep fee = the dust on chain.
    expect(reports[0].amountBaseUnits - reports[1].feeBaseUnits).toBe(dust);

    // A second token deposit to the same address: the dust pays part of the gas, the top-up the rest.
    await sendToken(d, 40n * USDT);
    await mine();
    await settle(sweeper);
    const second = sweeper.jobs()[1];
    expect(second.step).toBe("done");
    expect(second.topUps[0].intent.amount + dust).toBe(second.sweep!.maxFeeBaseUnits);
    expect(await reads.tokenBalance(token, d)).toBe(0n);
  });

  it("leaves deposits below the threshold alone", async () => {
    const d = deposit(nextDeposit++);
    await sendEth(d, ETH / 1_000n); // threshold 0.01 ETH
    await sendToken(d, 5n * USDT); // threshold 10 USDT
    await mine(3);
    const sweeper = makeSweeper(new MemorySweepJournal(), [d], []);
    for (let i = 0; i < 3; i++) expect((await sweeper.tick()).created).toEqual([]);
    expect(sweeper.jobs()).toEqual([]);
    expect(await reads.nativeBalance(d)).toBe(ETH / 1_000n);
    expect(await reads.tokenBalance(token, d)).toBe(5n * USDT);
    expect(await nonceOf(d)).toBe(0);
  });

  it("keeps a job the signer refuses as failed, with the reason, and sends nothing", async () => {
    const d = deposit(nextDeposit++);
    await sendEth(d, ETH);
    await mine();
    const journal = new MemorySweepJournal();
    // Misconfigured: the "hot" address is not the wallet's own, so the signer refuses the sweep.
    const wrong = makeSweeper(journal, [d], [], { hotAddress: outsider });
    await wrong.tick();
    const [job] = wrong.jobs();
    expect(job.step).toBe("failed");
    expect(job.failure).toMatchObject({ code: "destination-not-own" });
    expect(job.failure?.reason).toContain(outsider.toLowerCase());
    expect(await nonceOf(d)).toBe(0);
    expect(await reads.nativeBalance(d)).toBe(ETH);
    // The failed job stays visible (and in the journal) and holds its address: no second job.
    await wrong.tick();
    expect(wrong.jobs()).toHaveLength(1);
    const restarted = makeSweeper(journal, [d], []);
    await restarted.tick();
    expect(restarted.jobs().map((j) => [j.step, j.failure?.code])).toEqual([
      ["failed", "destination-not-own"],
    ]);
    // Dismissed by an operator, the address is swept by a correctly configured sweeper.
    await restarted.dismiss(job.id);
    await settle(restarted);
    expect(restarted.jobs().map((j) => j.step)).toEqual(["done"]);
    expect(await nonceOf(d)).toBe(1);
  });

  it("waits while the signer is halted, then goes on", async () => {
    const d = deposit(nextDeposit++);
    await sendToken(d, 20n * USDT);
    await mine();
    const sweeper = makeSweeper(new MemorySweepJournal(), [d], []);
    expect(signer.halt("ethereum", "test halt")).toMatchObject({ ok: true });
    try {
      await sweeper.tick();
      await sweeper.tick();
      const [job] = sweeper.jobs();
      expect(job.step).toBe("planned");
      expect(job.lastError).toMatch(/halted/);
    } finally {
      signer.resume("ethereum", "test over");
    }
    await settle(sweeper);
    expect(sweeper.jobs()[0]).toMatchObject({ step: "done", replans: 0 });
  });

  // Dozens of crash points, each a new sweeper over the journal: `npm run test:full` (the kill -9 of a real sweeper process below runs in `npm test`).
  it.skipIf(process.env.BULWARK_TEST_FULL !== "1")(
    "survives a restart after and before every persisted step: no double top-up, no double sweep",
    async () => {
      type Scenario = {
        asset: "ETH" | "USDT";
        when: "before" | "after";
        at: number;
        legacySigner: boolean;
      };
      const scenarios: Scenario[] = [];
      for (const when of ["after", "before"] as const) {
        for (let at = 1; at <= 12; at++) scenarios.push({ asset: "USDT", when, at, legacySigner: false });
        for (let at = 1; at <= 7; at++) scenarios.push({ asset: "ETH", when, at, legacySigner: false });
      }
      // A signature's answer lost (killed before it was persisted) with a signer that cannot recognise
      // the repeat: the top-up's and the sweep's of a token, an ETH sweep's.
      scenarios.push({ asset: "USDT", when: "before", at: 3, legacySigner: true });
      scenarios.push({ asset: "USDT", when: "before", at: 8, legacySigner: true });
      scenarios.push({ asset: "ETH", when: "before", at: 3, legacySigner: true });
      let replanned = 0;

      const run = async (s: Scenario, laneHot: string) => {
        const label = `${s.asset} killed ${s.when} save ${s.at}${s.legacySigner ? " (legacy signer)" : ""}`;
        const d = deposit(nextDeposit++);
        const start = await adapter.height();
        if (s.asset === "USDT") await sendToken(d, 100n * USDT);
        else await sendEth(d, ETH);
        await mine();
        const hotEth = await reads.nativeBalance(laneHot);
        const hotUsdt = await reads.tokenBalance(token, laneHot);
        const stored = new MemorySweepJournal();
        const reports: WalletMovementReport[] = [];
        const sign = s.legacySigner ? legacy(signWith(signer)) : signWith(signer);
        const options = { sign, hotAddress: laneHot };
        const first = makeSweeper(new CrashingJournal(stored, s.at, s.when), [d], reports, options);
        let crashed = false;
        for (let i = 0; i < 30 && !crashed; i++) {
          try {
            await first.tick();
            await mine();
          } catch (error) {
            expect(error, label).toBeInstanceOf(SweepJournalError);
            crashed = true;
          }
        }
        expect(crashed, label).toBe(true);
        // The dead instance refuses to go on; a new one resumes from the journal.
        await expect(first.tick()).rejects.toBeInstanceOf(SweepJournalError);
        const second = makeSweeper(stored, [d], reports, options);
        await settle(second);

        const jobs = second.jobs();
        expect(
          jobs.map((j) => j.step),
          label,
        ).toEqual(["done"]);
        const [job] = jobs;
        expect(await nonceOf(d), `${label}: one transaction from the deposit address`).toBe(1);
        const into = await transfersTo(d, start);
        const movements = unique(reports);
        if (s.asset === "USDT") {
          expect(
            into.filter((t) => t.asset === "ETH"),
            `${label}: one top-up`,
          ).toHaveLength(1);
          expect(job.topUps, label).toHaveLength(1);
          expect(await reads.tokenBalance(token, d), label).toBe(0n);
          expect(await reads.tokenBalance(token, laneHot), label).toBe(hotUsdt + 100n * USDT);
          const topUp = job.topUps[0];
          expect(await reads.nativeBalance(laneHot), label).toBe(
            hotEth - topUp.intent.amount - (topUp.feeBaseUnits as bigint),
          );
          expect(await reads.nativeBalance(d), label).toBe(
            topUp.intent.amount - (job.sweep!.feeBaseUnits as bigint),
          );
          expect(
            movements.map((m) => [m.from, m.asset, m.txId]),
            label,
          ).toEqual([
            ["walletHot", "ETH", topUp.txId],
            ["walletDepositAddresses", "USDT", job.sweep!.txId],
          ]);
        } else {
          expect(
            into.filter((t) => t.asset === "ETH"),
            label,
          ).toHaveLength(1); // the deposit itself
          expect(await reads.nativeBalance(laneHot), label).toBe(hotEth + job.sweep!.intent.amount);
          expect(
            movements.map((m) => [m.from, m.asset, m.txId]),
            label,
          ).toEqual([["walletDepositAddresses", "ETH", job.sweep!.txId]]);
        }
        // A signature whose answer was lost before it was persisted was never broadcast. The signer
        // answers the identical intent with the same transaction (no replan); a legacy one answers
        // reused-id, and the leg is planned again with a new intent.
        if (job.replans > 0) {
          replanned++;
          expect(s.legacySigner && s.when === "before", label).toBe(true);
          expect(job.superseded.map((x) => x.reason)).toEqual([expect.stringMatching(/reused-id/)]);
        }
        // Reports: once per leg; repeated (identically) only when killed between a report and its save.
        expect(reports.length - movements.length, label).toBeLessThanOrEqual(1);
      };

      // Four lanes at once, each with a hot address of its own (top-ups of one hot address share its nonces).
      const lanes = LANE_HOTS.map((laneHot, lane) => async () => {
        for (let i = lane; i < scenarios.length; i += LANE_HOTS.length) await run(scenarios[i], laneHot);
      });
      await Promise.all(lanes.map((lane) => lane()));
      // Killed before saving a signature (top-up, sweep of USDT; sweep of ETH): planned again.
      expect(replanned).toBe(3);
    },
  );

  it("survives kill -9 of a sweeper process (file journal, signer on its socket)", async () => {
    const d = deposit(nextDeposit++);
    const start = await adapter.height();
    await sendToken(d, 300n * USDT);
    const hotUsdt = await reads.tokenBalance(token, hot);
    const socketPath = join(dir, "signer.sock");
    const server = await listenSigner(socketPath, signer);
    const journalDir = join(dir, "journal-kill");
    const reports: WalletMovementReport[] = [];
    const fromChild = (r: Record<string, string>): WalletMovementReport =>
      ({ ...r, amountBaseUnits: BigInt(r.amountBaseUnits), feeBaseUnits: BigInt(r.feeBaseUnits) }) as never;
    try {
      // Killed once the top-up is signed and persisted, before it is broadcast: the restarted
      // sweeper must broadcast those very bytes, not top the address up again.
      for (const killAt of ["gasTopUpSigned"]) {
        const child = runChild({ socketPath, journalDir, killAt, address: d });
        const seen = await child.untilSaved(killAt);
        child.process.kill("SIGKILL");
        await child.exited;
        expect(child.process.signalCode).toBe("SIGKILL");
        expect(seen).toContain(killAt);
        reports.push(...child.reports().map(fromChild));
      }
    } finally {
      server.close();
    }
    // The lock of the killed process is stale: this process takes it over and finishes the job.
    const journal = await FileSweepJournal.open(journalDir);
    try {
      const sweeper = makeSweeper(journal, [d], reports, { confirmations: 1 });
      await settle(sweeper);
      const [job] = sweeper.jobs();
      expect(job).toMatchObject({ step: "done", replans: 0 });
      expect(job.topUps).toHaveLength(1);
      expect(await nonceOf(d)).toBe(1);
      expect((await transfersTo(d, start)).filter((t) => t.asset === "ETH")).toHaveLength(1);
      expect(await reads.tokenBalance(token, hot)).toBe(hotUsdt + 300n * USDT);
      expect(unique(reports).map((m) => [m.from, m.asset, m.amountBaseUnits])).toEqual([
        ["walletHot", "ETH", job.topUps[0].intent.amount],
        ["walletDepositAddresses", "USDT", 300n * USDT],
      ]);
    } finally {
      journal.close();
    }
  });
});

/** A sweeper process (custody) on the file journal, signing through the signer's socket. */
function runChild(config: { socketPath: string; journalDir: string; killAt: string; address: string }) {
  const url = (path: string) => JSON.stringify(new URL(`file://${join(ROOT, path)}`).href);
  const code = `
    import { connect } from "node:net";
    import { EthereumAdapter } from ${url("src/chains/ethereum/index.ts")};
    import { EthereumSweeper, SignRefusedError, viemSweepReads } from ${url("src/custody/ethereum-sweeper.ts")};
    import { FileSweepJournal } from ${url("src/custody/sweep-file-store.ts")};
    import { intentToWire, signIntent } from ${url("src/signer/intent.ts")};
    import { encodeFrame, FrameReader } from ${url("src/signer/server.ts")};
    const c = JSON.parse(process.env.SWEEP_CHILD);
    const out = (value) => process.stdout.write(JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v)) + "\\n");
    const ask = (body) => new Promise((resolve, reject) => {
      const socket = connect(c.socketPath);
      const reader = new FrameReader(1 << 20);
      socket.on("data", (chunk) => {
        const [frame] = reader.push(chunk);
        if (frame) { socket.destroy(); resolve(JSON.parse(frame.toString("utf8"))); }
      });
      socket.on("error", reject);
      socket.write(encodeFrame(body));
    });
    const secret = Uint8Array.from(Buffer.from(c.policySecret, "hex"));
    const files = await FileSweepJournal.open(c.journalDir);
    const journal = {
      load: () => files.load(),
      remove: (id) => files.remove(id),
      async save(job) {
        await files.save(job);
        out({ saved: job.step });
        if (job.step === c.killAt) await new Promise((r) => setTimeout(r, 60_000)); // killed here
      },
    };
    const adapter = new EthereumAdapter({ rpcUrl: c.rpcUrl, chainId: c.chainId, tokens: c.tokens });
    const sweeper = new EthereumSweeper({
      adapter, reads: viemSweepReads(c.rpcUrl), journal, hotAddress: c.hot, confirmations: 1,
      depositAddresses: async (after) => (after === undefined ? [c.address] : []),
      assets: c.assets.map((a) => ({ symbol: a.symbol, minSweepBaseUnits: BigInt(a.min) })),
      report: async (m) => out({ report: m }),
      log: () => {},
      sign: async (intent) => {
        const { signature } = signIntent(intent, secret);
        const answer = await ask({ op: "sign", intent: intentToWire(intent), signature: Buffer.from(signature).toString("hex") });
        if (!answer.ok) throw new SignRefusedError(answer.code, answer.detail);
        return { txId: answer.txId, signedTx: Uint8Array.from(Buffer.from(answer.signedTx, "base64")) };
      },
    });
    for (;;) { await sweeper.tick(); await new Promise((r) => setTimeout(r, 10)); }
  `;
  const env = {
    ...process.env,
    SWEEP_CHILD: JSON.stringify({
      ...config,
      rpcUrl: anvil.url,
      chainId: CHAIN_ID,
      tokens,
      hot,
      policySecret: Buffer.from(POLICY_SECRET).toString("hex"),
      assets: ASSETS.map((a) => ({ symbol: a.symbol, min: a.minSweepBaseUnits.toString() })),
    }),
  };
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buffered = "";
  let stderr = "";
  const waiters: (() => void)[] = [];
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() as string;
    for (const part of parts) if (part.startsWith("{")) lines.push(JSON.parse(part));
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    process: child,
    exited,
    reports: () => lines.filter((l) => "report" in l).map((l) => l.report as Record<string, string>),
    /** Resolves with the steps saved so far once `step` is saved (rejects if the child dies first). */
    untilSaved(step: string): Promise<string[]> {
      const saved = () => lines.filter((l) => "saved" in l).map((l) => l.saved as string);
      return new Promise((resolve, reject) => {
        const check = () => {
          if (saved().includes(step)) return resolve(saved());
          if (child.exitCode !== null) return reject(new Error(`sweeper child exited: ${stderr}`));
          waiters.push(check);
        };
        child.once("exit", () => reject(new Error(`sweeper child exited: ${stderr}`)));
        check();
      });
    },
  };
}

describe("file sweep journal", () => {
  const sample = (id: string, step: SweepStep = "planned"): SweepJob => ({
    id,
    chain: "ethereum",
    address: `0x${"ab".repeat(20)}`,
    asset: "ETH",
    contract: null,
    step,
    createdMs: 1,
    updatedMs: 2,
    plannedBaseUnits: 10n ** 30n,
    feeRate: null,
    topUps: [],
    sweep: null,
    superseded: [],
    replans: 0,
    leftoverNativeBaseUnits: null,
    failure: null,
  });
  const ID1 = "1".repeat(32);
  const ID2 = "2".repeat(32);
  const ID3 = "3".repeat(32);

  it("writes each job atomically (0600), reads it back exactly, drops interrupted writes", async () => {
    const where = mkdtempSync(join(dir, "journal-"));
    const journal = await FileSweepJournal.open(where, { maxJobs: 2 });
    await journal.save(sample(ID1));
    await journal.save({ ...sample(ID1), step: "done", leftoverNativeBaseUnits: 5n });
    await journal.save(sample(ID2));
    await expect(journal.save(sample(ID3))).rejects.toThrow(/full/);
    expect(statSync(join(where, `job-${ID1}.json`)).mode & 0o777).toBe(0o600);
    expect(statSync(where).mode & 0o777).toBe(0o700);
    journal.close();
    // A write cut short leaves only its temporary file: the job's file is still the previous version.
    writeFileSync(join(where, `job-${ID2}.json.tmp`), '{"version":1,"id":"22');
    const reopened = await FileSweepJournal.open(where, { maxJobs: 2 });
    expect(readdirSync(where).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    const jobs = await reopened.load();
    expect(jobs.map((j) => sweepJobToJson(j))).toEqual([
      sweepJobToJson({ ...sample(ID1), step: "done", leftoverNativeBaseUnits: 5n }),
      sweepJobToJson(sample(ID2)),
    ]);
    await reopened.remove(ID1);
    expect((await reopened.load()).map((j) => j.id)).toEqual([ID2]);
    reopened.close();
  });

  it("refuses a damaged job file, more files than its bound, and a second live sweeper", async () => {
    const where = mkdtempSync(join(dir, "journal-"));
    const journal = await FileSweepJournal.open(where);
    await journal.save(sample(ID1));
    await journal.save(sample(ID2));
    journal.close();
    // Another live process holds the lock (the parent of this one, say): refused.
    writeFileSync(join(where, SWEEP_LOCK_FILE), String(process.ppid));
    await expect(FileSweepJournal.open(where)).rejects.toThrow(/another sweeper/);
    // A dead process's lock is taken over.
    writeFileSync(join(where, SWEEP_LOCK_FILE), "999999999");
    const bounded = await FileSweepJournal.open(where, { maxJobs: 1 });
    await expect(bounded.load()).rejects.toThrow(/more than 1/);
    bounded.close();
    // A job file that does not parse is never skipped: a job in flight must not be forgotten.
    writeFileSync(join(where, `job-${ID2}.json`), '{"version":1,"id"');
    const damaged = await FileSweepJournal.open(where);
    await expect(damaged.load()).rejects.toThrow(/unreadable.*operator/);
    damaged.close();
  });
});

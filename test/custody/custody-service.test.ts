// Custody end to end on both devnet flavours, with the real pieces in one process: an Exchange
// (journal, core, store), a devnet chain, the chain's signer service (keystore, policy, fsynced
// log) answering custody's intents, and the CustodyService. Restarts are new CustodyService (and
// signer) instances over the same files, at every step of the pipeline.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterEach, describe, expect, it } from "vitest";
import type { ChainAdapter } from "../../src/chains/adapter.ts";
import {
  AccountDevnet,
  addressOfKey,
  privateKeyFromSeed,
  UtxoDevnet,
} from "../../src/chains/devnet/index.ts";
import {
  DEPOSIT_LABEL,
  devnetAccountSigningPlugin,
  devnetUtxoSigningPlugin,
  HOT_LABEL,
} from "../../src/chains/devnet/signing.ts";
import type { ChainSigningPlugin } from "../../src/chains/signing.ts";
import { type ChainCustodyConfig, devnetCustodyConfigs } from "../../src/custody/config.ts";
import {
  type ChainCustodyParts,
  CustodyService,
  devnetChainWallet,
  type SignerStatusPort,
} from "../../src/custody/custody-service.ts";
import { CustodyError, type WithdrawalRequest, type WithdrawalStep } from "../../src/custody/port.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { signerBoundConfig, signerCapsOf } from "../../src/server/custody.ts";
import { DEFAULT_ASSETS } from "../../src/server/default-markets.ts";
import { initKeystore, Keystore } from "../../src/signer/keystore.ts";
import type { AssetCaps } from "../../src/signer/policy.ts";
import { SignerService } from "../../src/signer/service.ts";
import { SignerState } from "../../src/signer/state.ts";

const PASSPHRASE = "custody service test";
const SEED = new Uint8Array(32).map((_, i) => (i * 11 + 5) & 0xff);
const SMALL_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const LOOKAHEAD = { hotLookahead: 5, depositLookahead: 20 };
const BIG: AssetCaps = {
  perTransaction: 10n ** 24n,
  per10m: 10n ** 25n,
  per1h: 10n ** 25n,
  per24h: 10n ** 25n,
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-custody-service-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

type Chain = UtxoDevnet | AccountDevnet;

interface Rig {
  dir: string;
  exchange: Exchange;
  chain: Chain;
  plugin: ChainSigningPlugin;
  policy: { secretKey: Uint8Array; publicKey: Uint8Array };
  publicKeys: { hot: string; deposit: string };
  caps: AssetCaps;
  userId: number;
  /** A fresh custody (and signer) over the same files: a restart. */
  custody(options?: { signerDown?: boolean; caps?: AssetCaps; config?: ChainCustodyConfig }): CustodyService;
}

async function rig(flavour: "utxo" | "account"): Promise<Rig> {
  const dir = tempDir();
  const exchange = await Exchange.open({
    dataDir: join(dir, "exchange"),
    projectorThread: false,
    candleSaveIntervalMs: 0,
  });
  cleanups.push(() => exchange.close());
  for (const asset of DEFAULT_ASSETS) await exchange.submit({ kind: "addAsset", asset });
  const chain: Chain = flavour === "utxo" ? new UtxoDevnet() : new AccountDevnet();
  const plugin =
    flavour === "utxo" ? devnetUtxoSigningPlugin(LOOKAHEAD) : devnetAccountSigningPlugin(LOOKAHEAD);
  initKeystore(join(dir, "keystore"), PASSPHRASE, SEED, SMALL_SCRYPT);
  const keystore = Keystore.open(join(dir, "keystore"), PASSPHRASE);
  cleanups.push(() => keystore.close());
  const exported = keystore.exportPublicKeys(plugin);
  const key = (label: string) => exported.find((entry) => entry.label === label)?.key ?? "";
  const secretKey = ed25519.utils.randomSecretKey();
  const policy = { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
  const created = await exchange.accounts.createUser({
    email: `${flavour}@example.com`,
    passwordHash: "x".repeat(64),
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error("user not created");
  const config = devnetCustodyConfigs().find((entry) => entry.chain === chain.chain);
  if (config === undefined) throw new Error("no config");
  const states: SignerState[] = [];
  const result: Rig = {
    dir,
    exchange,
    chain,
    plugin,
    policy,
    publicKeys: { hot: key(HOT_LABEL), deposit: key(DEPOSIT_LABEL) },
    caps: BIG,
    userId: created.user.userId,
    custody(options = {}) {
      for (const state of states.splice(0)) state.close();
      // A signer process that is down: custody knows where it is, but it does not answer.
      let signer: SignerStatusPort = {
        sign: async () => {
          throw new Error("connect ENOENT signer.sock");
        },
        status: async () => {
          throw new Error("connect ENOENT signer.sock");
        },
      };
      if (options.signerDown !== true) {
        const state = SignerState.open(join(dir, "signer-state"), Date.now());
        states.push(state);
        const service = new SignerService(
          {
            chain: chain.chain,
            policyPublicKey: policy.publicKey,
            caps: new Map(chain.assets.map((asset) => [asset.symbol, options.caps ?? BIG])),
            coldAddresses: new Set(),
            maxFutureMs: 60 * 60_000,
          },
          state,
          plugin,
          keystore.hotKeys(chain.chain),
        );
        signer = {
          sign: async (intent, signature) =>
            service.handle({ op: "sign", intent, signature }) as Awaited<
              ReturnType<SignerStatusPort["sign"]>
            >,
          status: async () =>
            service.handle({ op: "status" }) as Awaited<ReturnType<SignerStatusPort["status"]>>,
        };
      }
      const parts: ChainCustodyParts = {
        config: options.config ?? config,
        adapter: chain as ChainAdapter,
        kind: flavour,
        wallet: devnetChainWallet(flavour, { hot: key(HOT_LABEL), deposit: key(DEPOSIT_LABEL) }),
        signer,
        coldAddress: null,
        balanceOf: async (address, asset) =>
          chain instanceof UtxoDevnet ? chain.balance(address) : chain.balance(address, asset),
        feeAsset: flavour === "utxo" ? "BTC" : "ETH",
        chainDecimals: new Map(chain.assets.map((asset) => [asset.symbol, asset.decimals])),
      };
      return new CustodyService({
        exchange,
        chains: [parts],
        policySecretKey: policy.secretKey,
        stateDir: join(dir, "custody"),
        tickMs: 60_000,
        ...(process.env.CUSTODY_TEST_LOG ? { log: (message: string) => console.log(message) } : {}),
      });
    },
  };
  cleanups.push(() => {
    for (const state of states.splice(0)) state.close();
  });
  return result;
}

const FLAVOURS = [
  { flavour: "utxo" as const, currency: "BTC", deposit: 100_000_000n, withdraw: "0.1", decimals: 8 },
  { flavour: "account" as const, currency: "ETH", deposit: 10n ** 18n, withdraw: "0.1", decimals: 18 },
];

async function fundedUser(r: Rig, currency: string, baseUnits: bigint): Promise<void> {
  const custody = r.custody();
  const { address } = await custody.depositAddress(r.userId, currency);
  r.chain.faucet(address, currency, baseUnits);
  r.chain.mine(3);
  await custody.tick();
}

/** Blocks and ticks until the deposit sweep into hot is confirmed and recorded (each tick a restart). */
async function sweptIntoHot(r: Rig): Promise<void> {
  for (let i = 0; i < 3; i++) {
    r.chain.mine(1);
    await r.custody().tick();
  }
}

async function activeBookAddress(r: Rig, currency: string): Promise<string> {
  const address = addressOfKey(r.chain, privateKeyFromSeed(`outside-${currency}`));
  await r.exchange.accounts.addAddress({
    userId: r.userId,
    currency,
    address,
    label: "mine",
    nowMs: Date.now(),
  });
  await r.exchange.accounts.activateAddressNow({
    userId: r.userId,
    currency,
    address,
    nowMs: Date.now(),
    operator: "test",
  });
  return address;
}

function balanceOnChain(r: Rig, address: string, currency: string): bigint {
  return r.chain instanceof UtxoDevnet ? r.chain.balance(address) : r.chain.balance(address, currency);
}

describe.each(FLAVOURS)(
  "custody on the devnet $flavour chain",
  ({ flavour, currency, deposit, withdraw, decimals }) => {
    it("deposit → confirmations → credit → sweep into hot → withdraw → signed → broadcast → settled, books balanced", async () => {
      const r = await rig(flavour);
      const custody = r.custody();
      const asset = r.exchange.assetByCode(currency);
      if (asset === undefined) throw new Error("no asset");
      const { address } = await custody.depositAddress(r.userId, currency);
      expect(r.chain.normalizeAddress(address)).toBe(address);
      // The same address on every call, persisted.
      expect((await custody.depositAddress(r.userId, currency)).address).toBe(address);
      r.chain.faucet(address, currency, deposit);
      r.chain.mine(1);
      await custody.tick();
      expect(r.exchange.balance(r.userId, asset.assetId).availableUnits).toBe(0);
      r.chain.mine(3);
      await custody.tick();
      const credited = Number(deposit / 10n ** BigInt(decimals - asset.scale));
      expect(r.exchange.balance(r.userId, asset.assetId).availableUnits).toBe(credited);

      // The sweep into hot: planned and broadcast in that tick, recorded once confirmed.
      for (let i = 0; i < 3; i++) {
        r.chain.mine(1);
        await custody.tick();
      }
      const books = r.exchange.walletBooks(asset.assetId);
      expect(-books.systemUnits.walletHot).toBeGreaterThan(credited * 0.99);
      expect(-books.systemUnits.walletDepositAddresses).toBeLessThan(credited * 0.01);
      // What stays behind is below one ledger unit (the account chain's wei under the ledger's 8 decimals).
      expect(balanceOnChain(r, address, currency)).toBeLessThan(10n ** BigInt(decimals - asset.scale));

      const destination = await activeBookAddress(r, currency);
      const held = await custody.requestWithdrawal({
        userId: r.userId,
        currency,
        amount: withdraw,
        address: destination,
        proof: { kind: "operator", actor: "test" },
      });
      expect(held.step).toBe("approved");
      expect(held.history.map((entry) => entry.step)).toEqual(["requested", "held", "approved"]);
      expect(r.exchange.balance(r.userId, asset.assetId).heldUnits).toBe(10_000_000);
      await custody.tick();
      let view = await custody.withdrawal(held.withdrawalId);
      expect(view?.step).toBe("broadcast");
      expect(view?.txId).toMatch(/\S+/);
      for (let i = 0; i < 4 && view?.step !== "settled"; i++) {
        r.chain.mine(1);
        await custody.tick();
        view = await custody.withdrawal(held.withdrawalId);
      }
      expect(view?.step).toBe("settled");
      expect(view?.history.map((entry) => entry.step)).toEqual([
        "requested",
        "held",
        "approved",
        "signing",
        "signed",
        "broadcast",
        "confirmed",
        "settled",
      ]);
      const fee = devnetCustodyConfigs()
        .flatMap((chain) => chain.currencies)
        .find((entry) => entry.currency === currency)?.withdrawFeeUnits as number;
      const sentBaseUnits = BigInt(10_000_000 - fee) * 10n ** BigInt(decimals - asset.scale);
      expect(balanceOnChain(r, destination, currency)).toBe(sentBaseUnits);
      expect(r.exchange.balance(r.userId, asset.assetId)).toEqual({
        availableUnits: credited - 10_000_000,
        heldUnits: 0,
      });
      await r.exchange.whenProjected(r.exchange.status().lastSequence);
      const projected = await r.exchange.reads.withdrawal(held.withdrawalId);
      expect(projected?.txId).toBe(view?.txId);
      r.exchange.internals.core.checkInvariants();
    });

    it("resumes at every step after a restart and pays once (a new custody and signer instance per step)", async () => {
      const r = await rig(flavour);
      await fundedUser(r, currency, deposit);
      await sweptIntoHot(r);
      const destination = await activeBookAddress(r, currency);
      const first = r.custody();
      const held = await first.requestWithdrawal({
        userId: r.userId,
        currency,
        amount: withdraw,
        address: destination,
        proof: { kind: "operator", actor: "test" },
      });
      const seen: WithdrawalStep[] = [];
      for (let round = 0; round < 12; round++) {
        const custody = r.custody();
        const row = await r.exchange.custody.getWithdrawal(held.withdrawalId);
        if (row === undefined) throw new Error("row lost");
        seen.push(row.step as WithdrawalStep);
        if (row.step === "settled") break;
        // One step per instance: a crash after every persisted step.
        const pipeline = (
          custody as unknown as { chainOf(c: string): { pipeline: { step(w: unknown): Promise<boolean> } } }
        ).chainOf(r.chain.chain)?.pipeline;
        await pipeline?.step(row);
        r.chain.mine(1);
      }
      expect(seen).toContain("signing");
      expect(seen).toContain("broadcast");
      expect(seen[seen.length - 1]).toBe("settled");
      const asset = r.exchange.assetByCode(currency);
      if (asset === undefined) throw new Error("no asset");
      const fee = devnetCustodyConfigs()
        .flatMap((chain) => chain.currencies)
        .find((entry) => entry.currency === currency)?.withdrawFeeUnits as number;
      expect(balanceOnChain(r, destination, currency)).toBe(
        BigInt(10_000_000 - fee) * 10n ** BigInt(decimals - asset.scale),
      );
      r.exchange.internals.core.checkInvariants();
    });

    it("the signer answered but custody crashed before storing it: the re-sent intent gets the same transaction", async () => {
      const r = await rig(flavour);
      await fundedUser(r, currency, deposit);
      await sweptIntoHot(r);
      const destination = await activeBookAddress(r, currency);
      const custody = r.custody({ signerDown: true });
      const held = await custody.requestWithdrawal({
        userId: r.userId,
        currency,
        amount: withdraw,
        address: destination,
        proof: { kind: "operator", actor: "test" },
      });
      await custody.tick();
      const row = await r.exchange.custody.getWithdrawal(held.withdrawalId);
      expect(row?.step).toBe("signing");
      expect(row?.reason).toContain("signer");
      // The signer signs the persisted intent; the answer is "lost".
      const persisted = JSON.parse(row?.intentJson ?? "{}");
      const withSigner = r.custody();
      const chainCustody = (
        withSigner as unknown as { chainOf(c: string): { parts: ChainCustodyParts } }
      ).chainOf(r.chain.chain);
      const lost = await chainCustody?.parts.signer?.sign(persisted.intent, persisted.signature);
      expect(lost?.ok).toBe(true);
      await withSigner.tick();
      const after = await withSigner.withdrawal(held.withdrawalId);
      expect(after?.txId).toBe(lost?.ok === true ? lost.txId : "none");
      expect(after?.step).toBe("broadcast");
    });
  },
);

describe("payments from the hot wallet are built one at a time", () => {
  it("two equal withdrawals asked while the signer is down become two transactions, each paid once", async () => {
    const r = await rig("account");
    await fundedUser(r, "ETH", 10n ** 18n);
    await sweptIntoHot(r);
    const destination = await activeBookAddress(r, "ETH");
    const down = r.custody({ signerDown: true });
    const request = {
      userId: r.userId,
      currency: "ETH",
      amount: "0.1",
      address: destination,
      proof: { kind: "operator", actor: "t" },
    } as const;
    const first = await down.requestWithdrawal(request);
    const second = await down.requestWithdrawal(request);
    await down.tick();
    const steps = async () =>
      Promise.all(
        [first, second].map(async (w) => (await r.exchange.custody.getWithdrawal(w.withdrawalId))?.step),
      );
    // One waits for the signer; the other is not even built while that one is unsent.
    expect(await steps()).toEqual(["signing", "approved"]);
    for (let i = 0; i < 8 && (await steps()).some((step) => step !== "settled"); i++) {
      await r.custody().tick();
      r.chain.mine(1);
    }
    expect(await steps()).toEqual(["settled", "settled"]);
    const rows = await Promise.all(
      [first, second].map((w) => r.exchange.custody.getWithdrawal(w.withdrawalId)),
    );
    expect(rows[0]?.txId).not.toBe(rows[1]?.txId);
    expect(balanceOnChain(r, destination, "ETH")).toBe(2n * 95_000_000_000_000_000n); // twice 0.1 − the 0.005 ETH fee
  });
});

describe("a token on the account chain", () => {
  it("a USDT deposit is credited, topped up with gas from hot, swept into hot, and a USDT withdrawal settles", async () => {
    const r = await rig("account");
    const custody = r.custody();
    const { address } = await custody.depositAddress(r.userId, "USDT");
    r.chain.faucet(address, "USDT", 1_000_000_000n); // 1,000 USDT
    // The hot wallet needs ETH for the top-up and the withdrawal's gas: an ETH deposit swept into hot.
    const other = await r.exchange.accounts.createUser({
      email: "eth@example.com",
      passwordHash: "x".repeat(64),
      createdMs: 1,
    });
    if (!other.ok) throw new Error("user");
    const eth = await custody.depositAddress(other.user.userId, "ETH");
    r.chain.faucet(eth.address, "ETH", 10n ** 18n);
    r.chain.mine(4);
    await custody.tick();
    expect(r.exchange.balance(r.userId, 3).availableUnits).toBe(1_000_000_000);
    for (let i = 0; i < 16 && -r.exchange.walletBooks(3).systemUnits.walletHot < 1_000_000_000; i++) {
      r.chain.mine(1);
      await r.custody().tick();
    }
    expect(balanceOnChain(r, address, "USDT")).toBe(0n);
    const books = r.exchange.walletBooks(3);
    expect(-books.systemUnits.walletHot).toBe(1_000_000_000);
    expect(books.systemUnits.walletDepositAddresses).toBe(0);
    const destination = await activeBookAddress(r, "USDT");
    const held = await r.custody().requestWithdrawal({
      userId: r.userId,
      currency: "USDT",
      amount: "100",
      address: destination,
      proof: { kind: "operator", actor: "t" },
    });
    let step: string = held.step;
    for (let i = 0; i < 8 && step !== "settled"; i++) {
      await r.custody().tick();
      r.chain.mine(1);
      step = (await r.exchange.custody.getWithdrawal(held.withdrawalId))?.step ?? "lost";
    }
    expect((await r.exchange.custody.getWithdrawal(held.withdrawalId))?.reason ?? "settled").toBe("settled");
    expect(step).toBe("settled");
    expect(balanceOnChain(r, destination, "USDT")).toBe(95_000_000n); // 100 − the 5 USDT fee
    r.exchange.internals.core.checkInvariants();
  });
});

describe("withdrawal requests custody refuses, changing nothing", () => {
  it("refuses bad input with a code and leaves balance and rows unchanged", async () => {
    const r = await rig("utxo");
    await fundedUser(r, "BTC", 100_000_000n);
    const custody = r.custody();
    const destination = await activeBookAddress(r, "BTC");
    const own = (await custody.depositAddress(r.userId, "BTC")).address;
    const pendingAddress = addressOfKey(r.chain, privateKeyFromSeed("pending"));
    await r.exchange.accounts.addAddress({
      userId: r.userId,
      currency: "BTC",
      address: pendingAddress,
      label: "new",
      nowMs: Date.now(),
    });
    // Withdraw keys: one stored with a broad allow-list (before the narrow-block rule), one for another IP.
    for (const [keyId, ipAllowList] of [
      ["broad-key", ["10.0.0.0/8"]],
      ["narrow-key", ["127.0.0.1/32"]],
    ] as const)
      await r.exchange.accounts.createApiKey({
        keyId,
        userId: r.userId,
        secretCiphertext: new Uint8Array(32),
        scopes: ["info", "withdraw"],
        ipAllowList,
        createdMs: Date.now(),
      });
    const before = r.exchange.balance(r.userId, 1);
    const base: WithdrawalRequest = {
      userId: r.userId,
      currency: "BTC",
      amount: "0.1",
      address: destination,
      proof: { kind: "operator", actor: "t" },
    };
    const cases: [Partial<WithdrawalRequest>, string][] = [
      [{ currency: "DOGE" }, "unknownCurrency"],
      [{ currency: "USD" }, "unknownCurrency"],
      [{ amount: "0.000000001" }, "badAmount"],
      [{ amount: "abc" }, "badAmount"],
      [{ amount: "-1" }, "badAmount"],
      [{ amount: "0.0001" }, "belowMinimum"],
      [{ amount: "6" }, "aboveLimit"],
      [{ address: "0x1234" }, "badAddress"],
      [{ address: own }, "badAddress"],
      [{ address: addressOfKey(r.chain, privateKeyFromSeed("stranger")) }, "addressNotInBook"],
      [{ address: pendingAddress }, "addressNotActive"],
      [{ amount: "1.5" }, "insufficientFunds"],
      [{ proof: { kind: "totp", code: "123456" } }, "twoFactorRequired"],
      [{ proof: { kind: "apiKey", keyId: "nokey", clientIp: "127.0.0.1" } }, "withdrawScopeRequired"],
      [{ proof: { kind: "apiKey", keyId: "broad-key", clientIp: "10.1.2.3" } }, "ipNotAllowed"],
      [{ proof: { kind: "apiKey", keyId: "narrow-key", clientIp: "127.0.0.2" } }, "ipNotAllowed"],
    ];
    for (const [patch, code] of cases) {
      const error = await custody.requestWithdrawal({ ...base, ...patch }).catch((caught: unknown) => caught);
      expect(error, JSON.stringify(patch)).toBeInstanceOf(CustodyError);
      expect((error as CustodyError).code, JSON.stringify(patch)).toBe(code);
    }
    expect(r.exchange.balance(r.userId, 1)).toEqual(before);
    expect(await r.exchange.custody.listWithdrawals({ limit: 10 })).toEqual([]);
  });

  it("holds a large withdrawal for two different approvers; a rejection releases the hold", async () => {
    const r = await rig("utxo");
    await fundedUser(r, "BTC", 500_000_000n);
    const custody = r.custody();
    const destination = await activeBookAddress(r, "BTC");
    const big = await custody.requestWithdrawal({
      userId: r.userId,
      currency: "BTC",
      amount: "2",
      address: destination,
      proof: { kind: "operator", actor: "t" },
    });
    expect(big.step).toBe("awaitingApproval");
    expect(big.approvalsNeeded).toBe(2);
    await custody.tick();
    expect((await custody.withdrawal(big.withdrawalId))?.step).toBe("awaitingApproval");
    const once = await custody.approveWithdrawal(big.withdrawalId, "alice");
    expect(once.step).toBe("awaitingApproval");
    await expect(custody.approveWithdrawal(big.withdrawalId, "alice")).rejects.toMatchObject({
      code: "approvalRefused",
    });
    const twice = await custody.approveWithdrawal(big.withdrawalId, "bob");
    expect(twice.step).toBe("approved");
    expect(twice.approvals).toEqual(["alice", "bob"]);

    const other = await custody.requestWithdrawal({
      userId: r.userId,
      currency: "BTC",
      amount: "2.5",
      address: destination,
      proof: { kind: "operator", actor: "t" },
    });
    const held = r.exchange.balance(r.userId, 1).heldUnits;
    const rejected = await custody.rejectWithdrawal(other.withdrawalId, "carol", "unusual destination");
    expect(rejected.step).toBe("failed");
    expect(rejected.reason).toContain("unusual destination");
    expect(r.exchange.balance(r.userId, 1).heldUnits).toBe(held - 250_000_000);
    await expect(custody.rejectWithdrawal(other.withdrawalId, "carol", "again")).rejects.toMatchObject({
      code: "wrongStep",
    });
  });

  it("a signer window budget stops a compromised custody's drain; the withdrawal waits with the reason", async () => {
    const r = await rig("utxo");
    await fundedUser(r, "BTC", 300_000_000n);
    const small: AssetCaps = {
      perTransaction: 50_000_000n,
      per10m: 25_000_000n,
      per1h: 10n ** 9n,
      per24h: 10n ** 9n,
    };
    await sweptIntoHot(r);
    const custody = r.custody({ caps: small });
    const destination = await activeBookAddress(r, "BTC");
    const ids: number[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (
          await custody.requestWithdrawal({
            userId: r.userId,
            currency: "BTC",
            amount: "0.1",
            address: destination,
            proof: { kind: "operator", actor: "t" },
          })
        ).withdrawalId,
      );
    // The devnet spends confirmed coins only: one withdrawal from the hot wallet per block.
    for (let i = 0; i < 4; i++) {
      await custody.tick();
      r.chain.mine(1);
    }
    const steps = await Promise.all(ids.map(async (id) => (await custody.withdrawal(id))?.step));
    // 0.1 BTC minus the fee each: two fit the 0.25 BTC window, the third waits at the signer.
    expect(steps.filter((step) => step !== "signing")).toHaveLength(2);
    const waiting = await custody.withdrawal(ids[2]);
    expect(waiting?.step).toBe("signing");
    expect(waiting?.reason).toContain("window-cap-10m");
  });
});

describe("the largest withdrawal is what the chain's signer can sign in one 10-minute window", () => {
  /** Steps the pipeline (a block per tick) until the withdrawal settles or fails; its last row. */
  async function untilSettled(r: Rig, custody: CustodyService, withdrawalId: number) {
    for (let i = 0; i < 10; i++) {
      const step = (await custody.withdrawal(withdrawalId))?.step;
      if (step === "settled" || step === "failed") break;
      await custody.tick();
      r.chain.mine(1);
    }
    return custody.withdrawal(withdrawalId);
  }

  it("refuses a larger one with the maximum in words, changing nothing; a two-approver one below it settles", async () => {
    const r = await rig("utxo");
    await fundedUser(r, "BTC", 300_000_000n);
    await sweptIntoHot(r);
    // 3 BTC of liabilities: 0.25 % is 0.0075 BTC, so the budget is the floor, the hot cap's 1 BTC minimum.
    const devnetBtc = devnetCustodyConfigs().find((entry) => entry.chain === r.chain.chain);
    if (devnetBtc === undefined) throw new Error("no devnet BTC config");
    expect(devnetBtc.currencies[0].maxWithdrawUnits).toBe(500_000_000);
    const { config, warnings } = signerBoundConfig(r.exchange, devnetBtc);
    expect(warnings).toEqual([]);
    const btc = config.currencies[0];
    expect(btc.maxWithdrawUnits).toBe(100_000_000);
    expect(btc.approvalThresholdUnits).toBeLessThan(btc.maxWithdrawUnits);
    const caps = signerCapsOf(r.exchange, config, new Map([["BTC", 8]])).get("BTC");
    if (caps === undefined) throw new Error("no BTC caps");
    expect([caps.perTransaction, caps.per10m]).toEqual([100_000_000n, 100_000_000n]);
    const custody = r.custody({ caps, config });
    expect(custody.terms().find((terms) => terms.currency === "BTC")?.maxWithdraw).toBe("1");

    const destination = await activeBookAddress(r, "BTC");
    const request: WithdrawalRequest = {
      userId: r.userId,
      currency: "BTC",
      amount: "1.5",
      address: destination,
      proof: { kind: "operator", actor: "t" },
    };
    const before = r.exchange.balance(r.userId, 1);
    for (const amount of ["1.5", "1.00000001"]) {
      const refused = await custody
        .requestWithdrawal({ ...request, amount })
        .catch((caught: unknown) => caught);
      expect(refused).toBeInstanceOf(CustodyError);
      expect(refused).toMatchObject({ code: "aboveLimit", detail: "the maximum withdrawal is 1 BTC" });
    }
    expect(r.exchange.balance(r.userId, 1)).toEqual(before);
    expect(await r.exchange.custody.listWithdrawals({ limit: 10 })).toEqual([]);

    // Above the approval threshold, at the maximum: two approvers, then signed within the budget.
    const large = await custody.requestWithdrawal({ ...request, amount: "1" });
    expect(large).toMatchObject({ step: "awaitingApproval", approvalsNeeded: 2 });
    await custody.approveWithdrawal(large.withdrawalId, "alice");
    expect((await custody.approveWithdrawal(large.withdrawalId, "bob")).step).toBe("approved");
    const settled = await untilSettled(r, custody, large.withdrawalId);
    expect(settled?.reason ?? "settled").toBe("settled");
    expect(settled?.step).toBe("settled");
    expect(balanceOnChain(r, destination, "BTC")).toBe(99_950_000n); // 1 − the 0.0005 BTC fee
    r.exchange.internals.core.checkInvariants();
  });

  it("warns when the approval threshold is at or above that maximum", async () => {
    const r = await rig("utxo");
    const devnetBtc = devnetCustodyConfigs().find((entry) => entry.chain === r.chain.chain);
    if (devnetBtc === undefined) throw new Error("no devnet BTC config");
    const [btc] = devnetBtc.currencies;
    const stuck = { ...devnetBtc, currencies: [{ ...btc, approvalThresholdUnits: 200_000_000 }] };
    const { config, warnings } = signerBoundConfig(r.exchange, stuck);
    expect(config.currencies[0].maxWithdrawUnits).toBe(100_000_000);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/BTC: the approval threshold 2 is at or above .* \(1\)/);
    expect(signerBoundConfig(r.exchange, devnetBtc).warnings).toEqual([]);
  });
});

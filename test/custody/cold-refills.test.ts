// The cold wallet end to end on both devnet flavours, in one process: an Exchange, a devnet chain,
// the chain's signer service, and the CustodyService with a cold address whose key this test holds
// (as the offline machine would). Hot above its cap is swept to cold; a refill back waits for two
// distinct approvers (never the requester) and a time lock, is exported unsigned, signed here with
// the cold key, imported (a tampered or different transaction refused), broadcast and recorded
// once. Every step runs on a new CustodyService over the same files: a restart between each.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterEach, describe, expect, it } from "vitest";
import type { ChainAdapter } from "../../src/chains/adapter.ts";
import {
  AccountDevnet,
  addressOfKey,
  decodeEnvelope,
  encodeEnvelope,
  privateKeyFromSeed,
  signPayload,
  signTransaction,
  UtxoDevnet,
} from "../../src/chains/devnet/index.ts";
import {
  DEPOSIT_LABEL,
  devnetAccountSigningPlugin,
  devnetUtxoSigningPlugin,
  HOT_LABEL,
} from "../../src/chains/devnet/signing.ts";
import { SYSTEM_REQUEST_BACKOFF_MS } from "../../src/custody/cold-refills.ts";
import { devnetCustodyConfigs, hotBounds } from "../../src/custody/config.ts";
import {
  type ChainCustodyParts,
  CustodyService,
  devnetChainWallet,
  type SignerStatusPort,
} from "../../src/custody/custody-service.ts";
import { COLD_REFILL_SYSTEM_REQUESTER, ColdRefillError, CustodyError } from "../../src/custody/port.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { DEFAULT_ASSETS } from "../../src/server/default-markets.ts";
import { initKeystore, Keystore } from "../../src/signer/keystore.ts";
import type { AssetCaps } from "../../src/signer/policy.ts";
import { SignerService } from "../../src/signer/service.ts";
import { SignerState } from "../../src/signer/state.ts";

const PASSPHRASE = "cold refill test";
const SEED = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
const SMALL_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const LOOKAHEAD = { hotLookahead: 5, depositLookahead: 20 };
const BIG: AssetCaps = {
  perTransaction: 10n ** 24n,
  per10m: 10n ** 25n,
  per1h: 10n ** 25n,
  per24h: 10n ** 25n,
};
const TIME_LOCK_MS = 60_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Chain = UtxoDevnet | AccountDevnet;

interface Rig {
  exchange: Exchange;
  chain: Chain;
  coldKey: Uint8Array;
  cold: string;
  userId: number;
  /** The test's clock (custody's time lock reads it). */
  now: { ms: number };
  /** A fresh custody (and signer) over the same files: a restart. */
  custody(): CustodyService;
}

async function rig(flavour: "utxo" | "account"): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-cold-refills-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
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
  const policyPublicKey = ed25519.getPublicKey(secretKey);
  const created = await exchange.accounts.createUser({
    email: `${flavour}@example.com`,
    passwordHash: "x".repeat(64),
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error("user not created");
  const config = devnetCustodyConfigs().find((entry) => entry.chain === chain.chain);
  if (config === undefined) throw new Error("no config");
  // The cold key: held by this test only (the offline machine); custody gets the address.
  const coldKey = privateKeyFromSeed(`cold-${flavour}`);
  const cold = addressOfKey(chain, coldKey);
  const stateDir = join(dir, "custody");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(stateDir, "cold-refills.json"),
    JSON.stringify({ approvers: ["alice", "bob", "carol"], approvalsRequired: 2, timeLockMs: TIME_LOCK_MS }),
  );
  const now = { ms: Date.now() };
  const states: SignerState[] = [];
  cleanups.push(() => {
    for (const state of states.splice(0)) state.close();
  });
  return {
    exchange,
    chain,
    coldKey,
    cold,
    userId: created.user.userId,
    now,
    custody() {
      for (const state of states.splice(0)) state.close();
      const state = SignerState.open(join(dir, "signer-state"), Date.now());
      states.push(state);
      const service = new SignerService(
        {
          chain: chain.chain,
          policyPublicKey,
          caps: new Map(chain.assets.map((asset) => [asset.symbol, BIG])),
          coldAddresses: new Set([cold]),
          maxFutureMs: 60 * 60_000,
        },
        state,
        plugin,
        keystore.hotKeys(chain.chain),
      );
      const signer: SignerStatusPort = {
        sign: async (intent, signature) =>
          service.handle({ op: "sign", intent, signature }) as Awaited<ReturnType<SignerStatusPort["sign"]>>,
        status: async () =>
          service.handle({ op: "status" }) as Awaited<ReturnType<SignerStatusPort["status"]>>,
      };
      const parts: ChainCustodyParts = {
        config,
        adapter: chain as ChainAdapter,
        kind: flavour,
        wallet: devnetChainWallet(flavour, { hot: key(HOT_LABEL), deposit: key(DEPOSIT_LABEL) }),
        signer,
        coldAddress: cold,
        balanceOf: async (address, asset) =>
          chain instanceof UtxoDevnet ? chain.balance(address) : chain.balance(address, asset),
        feeAsset: flavour === "utxo" ? "BTC" : "ETH",
        chainDecimals: new Map(chain.assets.map((asset) => [asset.symbol, asset.decimals])),
      };
      return new CustodyService({
        exchange,
        chains: [parts],
        policySecretKey: secretKey,
        stateDir,
        tickMs: 60_000,
        clock: () => now.ms,
      });
    },
  };
}

const FLAVOURS = [
  // BTC: hot cap 1 (its minimum), target 0.5, floor 0.25.
  { flavour: "utxo" as const, currency: "BTC", deposit: 3n * 10n ** 8n, refill: "0.3", withdraw: "0.4" },
  // ETH: hot cap 20, target 10, floor 5 (ledger scale 8, chain 18 decimals).
  { flavour: "account" as const, currency: "ETH", deposit: 30n * 10n ** 18n, refill: "3", withdraw: "6" },
];

function books(r: Rig, currency: string): { hot: number; cold: number } {
  const asset = r.exchange.assetByCode(currency);
  if (asset === undefined) throw new Error("no asset");
  const system = r.exchange.walletBooks(asset.assetId).systemUnits;
  return { hot: -system.walletHot, cold: -system.walletCold };
}

function onChain(r: Rig, address: string, currency: string): bigint {
  return r.chain instanceof UtxoDevnet ? r.chain.balance(address) : r.chain.balance(address, currency);
}

/** Blocks and ticks (a restart each) until `done`, at most `rounds` times. */
async function until(r: Rig, done: () => boolean | Promise<boolean>, rounds = 8): Promise<void> {
  for (let i = 0; i < rounds && !(await done()); i++) {
    r.chain.mine(1);
    await r.custody().tick();
  }
  expect(await done()).toBe(true);
}

/** A user's deposit, swept into hot, and hot above its cap swept to the cold address. */
async function coldHoldings(r: Rig, currency: string, deposit: bigint): Promise<void> {
  const custody = r.custody();
  const { address } = await custody.depositAddress(r.userId, currency);
  r.chain.faucet(address, currency, deposit);
  r.chain.mine(3);
  await custody.tick();
  await until(r, () => books(r, currency).cold > 0, 12);
  const asset = r.exchange.assetByCode(currency);
  if (asset === undefined) throw new Error("no asset");
  const config = devnetCustodyConfigs()
    .flatMap((chain) => chain.currencies)
    .find((entry) => entry.currency === currency);
  if (config === undefined) throw new Error("no config");
  const bounds = hotBounds(config, r.exchange.walletBooks(asset.assetId).customerLiabilitiesUnits);
  const after = books(r, currency);
  // The excess over the target went to the cold address, whose key only this test holds.
  expect(after.hot).toBeLessThanOrEqual(bounds.targetUnits);
  expect(after.hot).toBeGreaterThan(bounds.floorUnits);
  const decimals = r.chain.assets.find((a) => a.symbol === currency)?.decimals ?? 0;
  expect(onChain(r, r.cold, currency)).toBe(BigInt(after.cold) * 10n ** BigInt(decimals - asset.scale));
}

async function refused(promise: Promise<unknown>, code: string): Promise<string> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error, `expected ${code}`).not.toBeNull();
  expect(error instanceof CustodyError || error instanceof ColdRefillError).toBe(true);
  expect((error as CustodyError).code).toBe(code);
  return (error as Error).message;
}

describe.each(FLAVOURS)(
  "cold wallet on the devnet $flavour chain",
  ({ flavour, currency, deposit, refill, withdraw }) => {
    it("sweeps above the cap to cold; a refill back: 2 distinct approvers, time lock, offline signature, recorded once across restarts", async () => {
      const r = await rig(flavour);
      await coldHoldings(r, currency, deposit);
      const before = books(r, currency);
      // Nothing requested: hot sits between its floor and its target.
      expect(await r.custody().coldRefills()).toEqual([]);

      const requested = await r.custody().requestColdRefill({
        chain: r.chain.chain,
        currency,
        amount: refill,
        actor: "alice",
        reason: "weekend withdrawals expected",
      });
      expect(requested).toMatchObject({
        step: "requested",
        currency,
        amount: refill,
        from: r.cold,
        requestedBy: "alice",
        approvalsNeeded: 2,
        exportableFromMs: null,
      });
      const id = requested.refillId;
      await refused(r.custody().exportColdRefill(id, "alice"), "wrongStep");
      expect(await refused(r.custody().approveColdRefill(id, "alice"), "approvalRefused")).toMatch(
        /requested this refill/,
      );
      expect(await refused(r.custody().approveColdRefill(id, "mallory"), "approvalRefused")).toMatch(
        /not a cold-refill approver/,
      );
      await refused(r.custody().approveColdRefill(id, COLD_REFILL_SYSTEM_REQUESTER), "approvalRefused");
      expect((await r.custody().approveColdRefill(id, "bob")).step).toBe("requested");
      await refused(r.custody().approveColdRefill(id, "bob"), "approvalRefused");
      await refused(r.custody().exportColdRefill(id, "bob"), "wrongStep");
      const approved = await r.custody().approveColdRefill(id, "carol");
      expect(approved.step).toBe("approved");
      expect(approved.approvals.map((a) => a.approver)).toEqual(["bob", "carol"]);
      expect(approved.exportableFromMs).toBe(r.now.ms + TIME_LOCK_MS);
      expect(await refused(r.custody().exportColdRefill(id, "bob"), "timeLocked")).toMatch(/time lock/);
      await refused(r.custody().approveColdRefill(id, "alice"), "wrongStep");

      r.now.ms += TIME_LOCK_MS;
      const exported = await r.custody().exportColdRefill(id, "bob");
      expect(exported.refill.step).toBe("exported");
      expect(exported.export).toMatchObject({
        format: "bulwark-cold-refill/v1",
        refillId: id,
        chain: r.chain.chain,
        currency,
        amount: refill,
        from: r.cold,
        signers: [r.cold],
      });
      const hot = exported.export.to;
      // Exported again: the same payload (what the offline machine signs does not change).
      expect((await r.custody().exportColdRefill(id, "carol")).export).toEqual(exported.export);
      await refused(r.custody().broadcastColdRefill(id, "bob"), "wrongStep");

      // Offline: the cold key signs the payload.
      const payload = new Uint8Array(Buffer.from(exported.export.payloadBase64, "base64"));
      const signed = signPayload(payload, [r.coldKey]);
      const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
      // A tampered payload (one byte of the amount changed) under the same signature: refused.
      const { witnesses } = decodeEnvelope(signed);
      const altered = payload.slice();
      altered[altered.length - 1] ^= 1;
      expect(
        await refused(
          r.custody().importColdRefill(id, b64(encodeEnvelope(altered, witnesses)), "bob"),
          "badSignedTransaction",
        ),
      ).toMatch(/not the exported payload/);
      // The same payload signed by another key: refused.
      await refused(
        r
          .custody()
          .importColdRefill(id, b64(signPayload(payload, [privateKeyFromSeed("someone else")])), "bob"),
        "badSignedTransaction",
      );
      // A different transaction the cold key signed (cold → somewhere else): refused.
      const elsewhere = await r.chain.buildPayment({
        sources: [r.cold],
        to: addressOfKey(r.chain, privateKeyFromSeed("thief")),
        asset: currency,
        amount: 1000n,
      });
      await refused(
        r
          .custody()
          .importColdRefill(
            id,
            b64(signTransaction(r.chain, elsewhere, new Map([[r.cold, r.coldKey]]))),
            "bob",
          ),
        "badSignedTransaction",
      );
      await refused(r.custody().importColdRefill(id, "not base64!", "bob"), "badSignedTransaction");
      expect((await r.custody().coldRefills())[0].step).toBe("exported");

      const imported = await r.custody().importColdRefill(id, b64(signed), "bob");
      expect(imported.step).toBe("imported");
      expect(imported.txId).toMatch(/^[0-9a-f]{64}$/);
      // The same bytes again: nothing changes.
      expect((await r.custody().importColdRefill(id, b64(signed), "bob")).step).toBe("imported");
      const hotBefore = onChain(r, hot, currency);
      // Custody sent it and crashed before saving that: the chain has it already, the step follows.
      await r.chain.broadcast(signed);
      const sent = await r.custody().broadcastColdRefill(id, "carol");
      expect(sent.step).toBe("broadcast");
      expect((await r.custody().broadcastColdRefill(id, "carol")).step).toBe("broadcast");
      await refused(r.custody().cancelColdRefill(id, "alice", "too late"), "wrongStep");
      // Confirmations, then the books: one restart per block.
      await until(r, async () => (await r.custody().coldRefills())[0].step === "recorded");
      const view = (await r.custody().coldRefills())[0];
      expect(view.history.map((entry) => entry.step)).toEqual([
        "requested",
        "approved",
        "exported",
        "imported",
        "broadcast",
        "confirmed",
        "recorded",
      ]);
      const asset = r.exchange.assetByCode(currency);
      if (asset === undefined) throw new Error("no asset");
      const decimals = r.chain.assets.find((a) => a.symbol === currency)?.decimals ?? 0;
      const refillUnits = Math.round(Number(refill) * 10 ** asset.scale);
      const after = books(r, currency);
      expect(after.hot - before.hot).toBe(refillUnits);
      // Cold lost the amount and (UTXO: in the same coin; account: in ETH, the same asset) the fee.
      const feeUnits = Math.ceil(
        Number(BigInt(exported.export.feeBaseUnits)) / 10 ** (decimals - asset.scale),
      );
      expect(before.cold - after.cold).toBe(refillUnits + feeUnits);
      expect(onChain(r, hot, currency) - hotBefore).toBe(
        BigInt(refillUnits) * 10n ** BigInt(decimals - asset.scale),
      );
      // More restarts and blocks record nothing again.
      for (let i = 0; i < 3; i++) {
        r.chain.mine(1);
        await r.custody().tick();
      }
      expect(books(r, currency)).toEqual(after);
      r.exchange.internals.core.checkInvariants();

      // Another refill, cancelled before its export: nothing moves.
      const other = await r.custody().requestColdRefill({
        chain: r.chain.chain,
        currency,
        amount: refill,
        actor: "bob",
        reason: "second",
      });
      expect(other.refillId).toBeGreaterThan(id);
      const cancelled = await r.custody().cancelColdRefill(other.refillId, "carol", "not needed");
      expect(cancelled).toMatchObject({
        step: "cancelled",
        cancelledBy: "carol",
        cancelReason: "not needed",
      });
      await refused(r.custody().approveColdRefill(other.refillId, "alice"), "wrongStep");
      await refused(r.custody().approveColdRefill(999, "alice"), "notFound");
      await refused(
        r
          .custody()
          .requestColdRefill({ chain: r.chain.chain, currency, amount: "0", actor: "bob", reason: "x" }),
        "badAmount",
      );
      await refused(
        r.custody().requestColdRefill({ chain: "doge", currency, amount: "1", actor: "bob", reason: "x" }),
        "notFound",
      );
      expect(books(r, currency)).toEqual(after);
    });

    it("below the floor custody requests one refill itself (system:custody), still needing the approvals", async () => {
      const r = await rig(flavour);
      await coldHoldings(r, currency, deposit);
      // A withdrawal takes hot below its floor.
      const destination = addressOfKey(r.chain, privateKeyFromSeed(`outside-${currency}`));
      await r.exchange.accounts.addAddress({
        userId: r.userId,
        currency,
        address: destination,
        label: "mine",
        nowMs: r.now.ms - 1_000,
      });
      await r.exchange.accounts.activateAddressNow({
        userId: r.userId,
        currency,
        address: destination,
        nowMs: r.now.ms - 1_000,
        operator: "test",
      });
      const held = await r.custody().requestWithdrawal({
        userId: r.userId,
        currency,
        amount: withdraw,
        address: destination,
        proof: { kind: "operator", actor: "test" },
      });
      await r.custody().tick();
      await until(
        r,
        async () => (await r.exchange.custody.getWithdrawal(held.withdrawalId))?.step === "settled",
      );
      const asset = r.exchange.assetByCode(currency);
      if (asset === undefined) throw new Error("no asset");
      const config = devnetCustodyConfigs()
        .flatMap((chain) => chain.currencies)
        .find((entry) => entry.currency === currency);
      if (config === undefined) throw new Error("no config");
      const bounds = hotBounds(config, r.exchange.walletBooks(asset.assetId).customerLiabilitiesUnits);
      const { hot } = books(r, currency);
      expect(hot).toBeLessThan(bounds.floorUnits);

      for (let i = 0; i < 3; i++) await r.custody().tick();
      const requests = await r.custody().coldRefills();
      expect(requests).toHaveLength(1);
      const [system] = requests;
      const decimals = r.chain.assets.find((a) => a.symbol === currency)?.decimals ?? 0;
      expect(system).toMatchObject({
        step: "requested",
        requestedBy: COLD_REFILL_SYSTEM_REQUESTER,
        currency,
      });
      expect(system.reason).toMatch(/below its floor/);
      expect(BigInt(Math.round(Number(system.amount) * 10 ** asset.scale))).toBe(
        BigInt(bounds.targetUnits - hot),
      );
      expect(decimals).toBeGreaterThan(0);
      // It waits for operators like any other.
      await refused(r.custody().exportColdRefill(system.refillId, "alice"), "wrongStep");
      expect((await r.custody().approveColdRefill(system.refillId, "alice")).step).toBe("requested");

      // Cancelled by an operator: custody does not ask again at once, only after the back-off.
      await r.custody().cancelColdRefill(system.refillId, "bob", "will refill by hand");
      for (let i = 0; i < 2; i++) await r.custody().tick();
      expect(await r.custody().coldRefills()).toHaveLength(1);
      r.now.ms += SYSTEM_REQUEST_BACKOFF_MS + 1;
      await r.custody().tick();
      const again = await r.custody().coldRefills();
      expect(again).toHaveLength(2);
      expect(again[0]).toMatchObject({ step: "requested", requestedBy: COLD_REFILL_SYSTEM_REQUESTER });
    });
  },
);

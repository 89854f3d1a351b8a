// The signer's side of `wallet rotate`, with the real pieces (a devnet UTXO chain, a keystore, the
// devnet plugin, the signer service, custody's policy key): a new generation is a fresh seed on
// the next accounts; the signer still signs a sweep out of an OLD deposit address (into the new hot
// wallet) and the move of the old hot coins (rotateHot), refuses to pay anything into an old hot or
// change address, and a keystore holding one generation signs exactly as before rotations existed.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { addressOfKey, privateKeyFromSeed, UtxoDevnet } from "../../src/chains/devnet/index.ts";
import {
  DEPOSIT_LABEL,
  devnetAccountXpub,
  devnetAddressFromXpub,
  devnetUtxoSigningPlugin,
  HOT_LABEL,
} from "../../src/chains/devnet/signing.ts";
import type { ExportedPublicKey } from "../../src/chains/signing.ts";
import type { Intent } from "../../src/signer/intent.ts";
import { initKeystore, Keystore, KeystoreError, keystoreGenerations } from "../../src/signer/keystore.ts";
import type { AssetCaps } from "../../src/signer/policy.ts";
import { SignerService } from "../../src/signer/service.ts";
import { SignerState } from "../../src/signer/state.ts";
import { newIntentId, policyConfig, SMALL_SCRYPT, signRequest, tempDir } from "../signer/helpers.ts";

const PASSPHRASE = "rotation signer passphrase";
const OLD_SEED = new Uint8Array(32).map((_, i) => (i * 5 + 1) & 0xff);
const NEW_SEED = new Uint8Array(32).map((_, i) => (i * 11 + 9) & 0xff);
const BIG: AssetCaps = {
  perTransaction: 10n ** 15n,
  per10m: 10n ** 16n,
  per1h: 10n ** 16n,
  per24h: 10n ** 16n,
};
const LOOKAHEAD = { hotLookahead: 5, depositLookahead: 20 };

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

type Answer = { ok: boolean; code?: string; detail?: string; signedTx?: string };

function key(exported: readonly ExportedPublicKey[], label: string): string {
  const found = exported.find((entry) => entry.label === label)?.key;
  if (found === undefined) throw new Error(`no ${label} key`);
  return found;
}

/** A keystore of two generations and a signer service over it. */
function rotatedSigner() {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const keystoreDir = join(dir, "keystore");
  initKeystore(keystoreDir, PASSPHRASE, OLD_SEED, SMALL_SCRYPT);
  expect(() => Keystore.addGeneration(keystoreDir, "a wrong passphrase", NEW_SEED, SMALL_SCRYPT)).toThrow(
    KeystoreError,
  );
  expect(keystoreGenerations(keystoreDir)).toBe(1);
  Keystore.addGeneration(keystoreDir, PASSPHRASE, NEW_SEED, SMALL_SCRYPT).close();
  expect(keystoreGenerations(keystoreDir)).toBe(2);
  const keystore = Keystore.open(keystoreDir, PASSPHRASE);
  const state = SignerState.open(join(dir, "state"), Date.now());
  cleanups.push(() => {
    state.close();
    keystore.close();
  });
  const plugin = devnetUtxoSigningPlugin(LOOKAHEAD);
  const config = policyConfig({ chain: plugin.chain, caps: new Map([["BTC", BIG]]) });
  const service = new SignerService(config, state, plugin, keystore.hotKeys(plugin.chain));
  const [old, current] = keystore.exportGenerationPublicKeys(plugin);
  return { service, plugin, keys: keystore.hotKeys(plugin.chain), old, current };
}

function intent(fields: Omit<Intent, "intentId" | "expiresAtMs" | "chain" | "asset">): Intent {
  return {
    intentId: newIntentId(),
    expiresAtMs: Date.now() + 5 * 60_000,
    chain: "devnet-btc",
    asset: "BTC",
    ...fields,
  };
}

describe("the signer after a wallet rotation", () => {
  it("exports the new generation from a fresh seed on the next accounts", () => {
    const { old, current } = rotatedSigner();
    // Generation 0 exactly as before rotations; generation 1 is not derivable from the old seed.
    expect(key(old, HOT_LABEL)).toBe(devnetAccountXpub(OLD_SEED, "utxo", 0));
    expect(key(old, DEPOSIT_LABEL)).toBe(devnetAccountXpub(OLD_SEED, "utxo", 1));
    expect(key(current, HOT_LABEL)).toBe(devnetAccountXpub(NEW_SEED, "utxo", 2));
    expect(key(current, DEPOSIT_LABEL)).toBe(devnetAccountXpub(NEW_SEED, "utxo", 3));
    expect(key(current, HOT_LABEL)).not.toBe(devnetAccountXpub(OLD_SEED, "utxo", 2));
  });

  it("adds a third generation on accounts 4' and 5'; both older hot wallets are retired", () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const keystoreDir = join(dir, "keystore");
    initKeystore(keystoreDir, PASSPHRASE, OLD_SEED, SMALL_SCRYPT);
    Keystore.addGeneration(keystoreDir, PASSPHRASE, NEW_SEED, SMALL_SCRYPT).close();
    const third = new Uint8Array(32).fill(42);
    const keystore = Keystore.addGeneration(keystoreDir, PASSPHRASE, third, SMALL_SCRYPT);
    cleanups.push(() => keystore.close());
    expect(keystore.generations).toBe(3);
    const plugin = devnetUtxoSigningPlugin(LOOKAHEAD);
    const keys = keystore.hotKeys(plugin.chain);
    const exported = keystore.exportGenerationPublicKeys(plugin);
    expect(key(exported[2], HOT_LABEL)).toBe(devnetAccountXpub(third, "utxo", 4));
    expect(key(exported[2], DEPOSIT_LABEL)).toBe(devnetAccountXpub(third, "utxo", 5));
    const hotOf = (generation: number) =>
      devnetAddressFromXpub("utxo", key(exported[generation], HOT_LABEL), 0, 0);
    expect([0, 1, 2].map((generation) => plugin.isRetiredHotAddress?.(hotOf(generation), keys))).toEqual([
      true,
      true,
      false,
    ]);
    expect([0, 1, 2].map((generation) => plugin.isOwnAddress(hotOf(generation), keys))).toEqual([
      true,
      true,
      true,
    ]);
  });

  it("sweeps an old deposit address and the old hot coins into the new hot wallet, and pays nothing into the old one", async () => {
    const { service, plugin, keys, old, current } = rotatedSigner();
    const chain = new UtxoDevnet();
    const oldHot = devnetAddressFromXpub("utxo", key(old, HOT_LABEL), 0, 0);
    const oldChange = devnetAddressFromXpub("utxo", key(old, HOT_LABEL), 1, 0);
    const oldDeposit = devnetAddressFromXpub("utxo", key(old, DEPOSIT_LABEL), 0, 7);
    const newHot = devnetAddressFromXpub("utxo", key(current, HOT_LABEL), 0, 0);
    const newChange = devnetAddressFromXpub("utxo", key(current, HOT_LABEL), 1, 0);
    expect(plugin.isRetiredHotAddress?.(oldHot, keys)).toBe(true);
    expect(plugin.isRetiredHotAddress?.(oldChange, keys)).toBe(true);
    expect(plugin.isRetiredHotAddress?.(oldDeposit, keys)).toBe(false);
    expect(plugin.isRetiredHotAddress?.(newHot, keys)).toBe(false);
    chain.faucet(oldDeposit, "BTC", 400_000n);
    chain.faucet(oldHot, "BTC", 300_000n);
    chain.faucet(oldChange, "BTC", 200_000n);
    chain.mine();

    // The late deposit's sweep: out of the old deposit address, into the new hot wallet.
    const probe = await chain.buildPayment({
      sources: [oldDeposit],
      to: newHot,
      asset: "BTC",
      amount: 1_000n,
    });
    const sweepAmount = 400_000n - probe.fee;
    const sweep = await chain.buildPayment({
      sources: [oldDeposit],
      to: newHot,
      asset: "BTC",
      amount: sweepAmount,
    });
    const swept = service.handle(
      signRequest(intent({ kind: "depositSweep", to: newHot, amount: sweepAmount, payload: sweep.payload })),
    ) as Answer;
    expect(swept).toMatchObject({ ok: true });
    await chain.broadcast(new Uint8Array(Buffer.from(swept.signedTx as string, "base64")));

    // The old hot and change coins, to the new hot wallet in one rotateHot transaction.
    const move = await chain.buildPayment({
      sources: [oldHot, oldChange],
      to: newHot,
      asset: "BTC",
      amount: 490_000n,
      changeAddress: newChange,
    });
    const moved = service.handle(
      signRequest(intent({ kind: "rotateHot", to: newHot, amount: 490_000n, payload: move.payload })),
    ) as Answer;
    expect(moved).toMatchObject({ ok: true });
    await chain.broadcast(new Uint8Array(Buffer.from(moved.signedTx as string, "base64")));
    chain.mine();
    expect(chain.balance(oldHot) + chain.balance(oldChange) + chain.balance(oldDeposit)).toBe(0n);
    expect(chain.balance(newHot)).toBe(sweepAmount + 490_000n);
    expect(chain.balance(newChange)).toBe(10_000n - move.fee);

    // Nothing into the retired wallet: not a sweep, not a rotateHot, not a withdrawal's change.
    chain.faucet(devnetAddressFromXpub("utxo", key(current, DEPOSIT_LABEL), 0, 2), "BTC", 100_000n);
    chain.mine();
    const newDeposit = devnetAddressFromXpub("utxo", key(current, DEPOSIT_LABEL), 0, 2);
    const back = await chain.buildPayment({
      sources: [newDeposit],
      to: oldHot,
      asset: "BTC",
      amount: 90_000n,
    });
    for (const kind of ["depositSweep", "rotateHot"] as const) {
      const refused = service.handle(
        signRequest(intent({ kind, to: oldHot, amount: 90_000n, payload: back.payload })),
      ) as Answer;
      expect(refused).toMatchObject({ ok: false, code: "destination-retired" });
    }
    const user = addressOfKey(chain, privateKeyFromSeed("rotation-user"));
    const withChange = await chain.buildPayment({
      sources: [newHot],
      to: user,
      asset: "BTC",
      amount: 10_000n,
      changeAddress: oldChange,
    });
    const refused = service.handle(
      signRequest(intent({ kind: "withdrawal", to: user, amount: 10_000n, payload: withChange.payload })),
    ) as Answer;
    expect(refused).toMatchObject({ ok: false, code: "destination-retired" });
  });

  it("signs with one generation exactly as before (no seeds list handed to the plugin)", () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    initKeystore(join(dir, "keystore"), PASSPHRASE, OLD_SEED, SMALL_SCRYPT);
    const keystore = Keystore.open(join(dir, "keystore"), PASSPHRASE);
    cleanups.push(() => keystore.close());
    const keys = keystore.hotKeys("devnet-btc");
    expect(keys.seeds).toBeUndefined();
    const plugin = devnetUtxoSigningPlugin(LOOKAHEAD);
    const oldHot = devnetAddressFromXpub("utxo", devnetAccountXpub(OLD_SEED, "utxo", 0), 0, 0);
    expect(plugin.isOwnAddress(oldHot, keys)).toBe(true);
    expect(plugin.isRetiredHotAddress?.(oldHot, keys)).toBe(false);
  });
});

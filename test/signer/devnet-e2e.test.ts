// End to end with the real pieces: a devnet chain, a keystore holding a test seed, the signer
// service with the devnet plugins, custody's policy key signing intents. Custody's side derives
// addresses from the exported xpubs only; the signer signs; the chain accepts the result.
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  AccountDevnet,
  addressOfKey,
  DEVNET_USDT_CONTRACT,
  privateKeyFromSeed,
  UtxoDevnet,
} from "../../src/chains/devnet/index.ts";
import {
  DEPOSIT_LABEL,
  devnetAccountSigningPlugin,
  devnetAddressFromXpub,
  devnetUtxoSigningPlugin,
  HOT_LABEL,
} from "../../src/chains/devnet/signing.ts";
import type { ChainSigningPlugin, ExportedPublicKey } from "../../src/chains/signing.ts";
import type { Intent } from "../../src/signer/intent.ts";
import { initKeystore, Keystore } from "../../src/signer/keystore.ts";
import { signerMain } from "../../src/signer/main.ts";
import { BUILTIN_SIGNING_PLUGINS } from "../../src/signer/plugins.ts";
import type { AssetCaps } from "../../src/signer/policy.ts";
import { encodeFrame, FrameReader } from "../../src/signer/server.ts";
import { SignerService } from "../../src/signer/service.ts";
import { SignerState } from "../../src/signer/state.ts";
import { newIntentId, POLICY_PUBLIC, policyConfig, SMALL_SCRYPT, signRequest, tempDir } from "./helpers.ts";

const PASSPHRASE = "devnet e2e passphrase";
const SEED = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
const BIG: AssetCaps = {
  perTransaction: 10n ** 24n,
  per10m: 10n ** 25n,
  per1h: 10n ** 25n,
  per24h: 10n ** 25n,
};

// A withdrawal's destination is checked not to be the wallet's own, which derives the whole
// lookahead once per seed (about half a millisecond an address): small bounds keep the tests quick;
// the socket test runs the built-in plugin with the default bounds.
const SMALL_LOOKAHEAD = { hotLookahead: 10, depositLookahead: 50 };

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

type Answer = { ok: boolean; code?: string; detail?: string; txId?: string; signedTx?: string };

/** A keystore with the test seed, the signer service for `plugin`, and custody's public keys. */
function signer(plugin: ChainSigningPlugin, assets: string[]) {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  initKeystore(join(dir, "keystore"), PASSPHRASE, SEED, SMALL_SCRYPT);
  const keystore = Keystore.open(join(dir, "keystore"), PASSPHRASE);
  const state = SignerState.open(join(dir, "state"), Date.now());
  cleanups.push(() => {
    state.close();
    keystore.close();
  });
  const config = policyConfig({ chain: plugin.chain, caps: new Map(assets.map((a) => [a, BIG])) });
  const service = new SignerService(config, state, plugin, keystore.hotKeys(plugin.chain));
  const exported = keystore.exportPublicKeys(plugin);
  return { service, exported, dir };
}

function xpub(exported: ExportedPublicKey[], label: string): string {
  const found = exported.find((key) => key.label === label);
  if (!found) throw new Error(`no ${label} key`);
  return found.key;
}

function intent(fields: Omit<Intent, "intentId" | "expiresAtMs">): Intent {
  return { intentId: newIntentId(), expiresAtMs: Date.now() + 5 * 60_000, ...fields };
}

function signedBytes(answer: Answer): Uint8Array {
  expect(answer).toMatchObject({ ok: true });
  return new Uint8Array(Buffer.from(answer.signedTx as string, "base64"));
}

describe("devnet UTXO chain through the signer", () => {
  it("custody derives the hot wallet from the xpub; a withdrawal is signed, broadcast, mined and scanned", async () => {
    const plugin = devnetUtxoSigningPlugin(SMALL_LOOKAHEAD);
    const { service, exported } = signer(plugin, ["BTC"]);
    expect(exported.map((key) => key.label)).toEqual([HOT_LABEL, DEPOSIT_LABEL]);
    for (const key of exported) expect(key.key.startsWith("tpub")).toBe(true);
    const chain = new UtxoDevnet();
    const hot = devnetAddressFromXpub("utxo", xpub(exported, HOT_LABEL), 0, 0);
    const change = devnetAddressFromXpub("utxo", xpub(exported, HOT_LABEL), 1, 0);
    const user = addressOfKey(chain, privateKeyFromSeed("user"));
    chain.faucet(hot, "BTC", 1_000_000n);
    chain.mine();

    const unsigned = await chain.buildPayment({
      sources: [hot],
      to: user,
      asset: "BTC",
      amount: 250_000n,
      changeAddress: change,
    });
    const request = intent({
      chain: "devnet-btc",
      asset: "BTC",
      kind: "withdrawal",
      to: user,
      amount: 250_000n,
      payload: unsigned.payload,
    });
    const answer = service.handle(signRequest(request)) as Answer;
    const txid = await chain.broadcast(signedBytes(answer));
    expect(txid).toBe(answer.txId);
    chain.mine();
    const height = await chain.height();
    const scan = await chain.scan(height, height, new Set([user, change]));
    expect(scan.transfers.map((t) => [t.address, t.amount])).toEqual([
      [user, 250_000n],
      [change, 1_000_000n - 250_000n - unsigned.fee],
    ]);
    expect(chain.balance(hot)).toBe(0n);
  });

  it("sweeps a deposit address custody derived from the deposit xpub into the hot wallet", async () => {
    const plugin = devnetUtxoSigningPlugin(SMALL_LOOKAHEAD);
    const { service, exported } = signer(plugin, ["BTC"]);
    const chain = new UtxoDevnet();
    const hot = devnetAddressFromXpub("utxo", xpub(exported, HOT_LABEL), 0, 0);
    const deposit = devnetAddressFromXpub("utxo", xpub(exported, DEPOSIT_LABEL), 0, 37);
    chain.faucet(deposit, "BTC", 500_000n);
    chain.mine();
    const fee = 1_000n;
    const unsigned = await chain.buildPayment({
      sources: [deposit],
      to: hot,
      asset: "BTC",
      amount: 500_000n - fee,
      feeRate: 1n,
    });
    const amount = 500_000n - unsigned.fee;
    const exact = await chain.buildPayment({
      sources: [deposit],
      to: hot,
      asset: "BTC",
      amount,
      feeRate: 1n,
    });
    const answer = service.handle(
      signRequest(
        intent({
          chain: "devnet-btc",
          asset: "BTC",
          kind: "depositSweep",
          to: hot,
          amount,
          payload: exact.payload,
        }),
      ),
    ) as Answer;
    await chain.broadcast(signedBytes(answer));
    chain.mine();
    expect(chain.balance(deposit)).toBe(0n);
    expect(chain.balance(hot)).toBe(amount);
  });

  it("refuses a payload paying another address or amount than the intent, and one spending coins not its own", async () => {
    const plugin = devnetUtxoSigningPlugin(SMALL_LOOKAHEAD);
    const { service, exported } = signer(plugin, ["BTC"]);
    const chain = new UtxoDevnet();
    const hot = devnetAddressFromXpub("utxo", xpub(exported, HOT_LABEL), 0, 0);
    const user = addressOfKey(chain, privateKeyFromSeed("user"));
    const thief = addressOfKey(chain, privateKeyFromSeed("thief"));
    const outsider = addressOfKey(chain, privateKeyFromSeed("outsider"));
    chain.faucet(hot, "BTC", 1_000_000n);
    chain.faucet(outsider, "BTC", 1_000_000n);
    chain.mine();
    const toThief = await chain.buildPayment({ sources: [hot], to: thief, asset: "BTC", amount: 250_000n });
    const base = { chain: "devnet-btc", asset: "BTC", kind: "withdrawal" as const };
    // The intent says "user", the payload pays the thief (and the change goes back to hot).
    const other = service.handle(
      signRequest(intent({ ...base, to: user, amount: 250_000n, payload: toThief.payload })),
    ) as Answer;
    expect(other).toMatchObject({ ok: false, code: "payload-mismatch" });
    const toUser = await chain.buildPayment({ sources: [hot], to: user, asset: "BTC", amount: 250_000n });
    const more = service.handle(
      signRequest(intent({ ...base, to: user, amount: 200_000n, payload: toUser.payload })),
    ) as Answer;
    expect(more).toMatchObject({ ok: false, code: "payload-mismatch" });
    // Coins of an address the seed does not own: unreadable for this wallet, nothing signed.
    const foreign = await chain.buildPayment({ sources: [outsider], to: user, asset: "BTC", amount: 1_000n });
    const refused = service.handle(
      signRequest(intent({ ...base, to: user, amount: 1_000n, payload: foreign.payload })),
    ) as Answer;
    expect(refused).toMatchObject({ ok: false, code: "payload-unreadable" });
    expect(refused.detail).toContain(outsider);
    expect(
      (service.handle({ op: "status" }) as unknown as { lastSignatures: unknown[] }).lastSignatures,
    ).toEqual([]);
  });
});

describe("devnet account chain through the signer", () => {
  it("pays USDT from the hot wallet and refills gas to a deposit address", async () => {
    const plugin = devnetAccountSigningPlugin(SMALL_LOOKAHEAD);
    const { service, exported } = signer(plugin, ["ETH", "USDT"]);
    const chain = new AccountDevnet();
    const hot = devnetAddressFromXpub("account", xpub(exported, HOT_LABEL), 0, 0);
    const deposit = devnetAddressFromXpub("account", xpub(exported, DEPOSIT_LABEL), 0, 5);
    const user = addressOfKey(chain, privateKeyFromSeed("user"));
    chain.faucet(hot, "ETH", 10n ** 18n);
    chain.faucet(hot, "USDT", 5_000_000_000n);
    chain.mine();

    const payment = await chain.buildPayment({
      sources: [hot],
      to: user,
      asset: "USDT",
      amount: 1_234_000_000n,
    });
    const paid = service.handle(
      signRequest(
        intent({
          chain: "devnet-eth",
          asset: "USDT",
          kind: "withdrawal",
          to: user,
          amount: 1_234_000_000n,
          payload: payment.payload,
        }),
      ),
    ) as Answer;
    expect(await chain.broadcast(signedBytes(paid))).toBe(paid.txId);
    const gas = await chain.buildPayment({ sources: [hot], to: deposit, asset: "ETH", amount: 10n ** 15n });
    const refill = service.handle(
      signRequest(
        intent({
          chain: "devnet-eth",
          asset: "ETH",
          kind: "refillGas",
          to: deposit,
          amount: 10n ** 15n,
          payload: gas.payload,
        }),
      ),
    ) as Answer;
    await chain.broadcast(signedBytes(refill));
    chain.mine();
    const height = await chain.height();
    const scan = await chain.scan(height, height, new Set([user, deposit]));
    expect(scan.transfers.map((t) => [t.address, t.asset, t.amount])).toEqual([
      [user, "USDT", 1_234_000_000n],
      [deposit, "ETH", 10n ** 15n],
    ]);
    expect(chain.balance(user, "USDT")).toBe(1_234_000_000n);
    expect(DEVNET_USDT_CONTRACT).toMatch(/^0x/);
  });

  it("refuses to send from an account the seed does not own", async () => {
    const plugin = devnetAccountSigningPlugin(SMALL_LOOKAHEAD);
    const { service } = signer(plugin, ["ETH"]);
    const chain = new AccountDevnet();
    const outsider = addressOfKey(chain, privateKeyFromSeed("outsider"));
    const user = addressOfKey(chain, privateKeyFromSeed("user"));
    chain.faucet(outsider, "ETH", 10n ** 18n);
    chain.mine();
    const foreign = await chain.buildPayment({ sources: [outsider], to: user, asset: "ETH", amount: 1_000n });
    const answer = service.handle(
      signRequest(
        intent({
          chain: "devnet-eth",
          asset: "ETH",
          kind: "withdrawal",
          to: user,
          amount: 1_000n,
          payload: foreign.payload,
        }),
      ),
    ) as Answer;
    expect(answer).toMatchObject({ ok: false, code: "payload-unreadable" });
  });
});

describe("the signer's main with the built-in plugins", () => {
  it("registers the devnet and bitcoin plugins by chain name", () => {
    expect(BUILTIN_SIGNING_PLUGINS.map((plugin) => plugin.chain)).toEqual([
      "devnet-btc",
      "devnet-eth",
      "bitcoin-regtest",
      "bitcoin-testnet",
      "bitcoin-mainnet",
    ]);
  });

  it("runs devnet-btc from its config and signs a withdrawal over the Unix socket", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const configPath = join(dir, "signer.json");
    const socketPath = join(dir, "signer.sock");
    writeFileSync(
      configPath,
      JSON.stringify({
        chain: "devnet-btc",
        socketPath,
        stateDir: join(dir, "state"),
        keystoreDir: join(dir, "keystore"),
        policyPublicKey: Buffer.from(POLICY_PUBLIC).toString("hex"),
        caps: { BTC: { perTransaction: "1000000", per10m: "2000000", per1h: "3000000", per24h: "4000000" } },
        coldAddresses: [],
      }),
    );
    initKeystore(join(dir, "keystore"), PASSPHRASE, SEED, SMALL_SCRYPT);
    const stop = await signerMain(["run", "--config", configPath], BUILTIN_SIGNING_PLUGINS, {
      BULWARK_SIGNER_PASSPHRASE: PASSPHRASE,
    });
    cleanups.push(stop);
    // Custody's view: the same seed's hot xpub, as `init` would have printed it.
    const keystore = Keystore.open(join(dir, "keystore"), PASSPHRASE);
    const plugin = BUILTIN_SIGNING_PLUGINS[0];
    const hotXpub = xpub(keystore.exportPublicKeys(plugin), HOT_LABEL);
    keystore.close();
    const chain = new UtxoDevnet();
    const hot = devnetAddressFromXpub("utxo", hotXpub, 0, 0);
    const user = addressOfKey(chain, privateKeyFromSeed("user"));
    chain.faucet(hot, "BTC", 600_000n);
    chain.mine();
    const unsigned = await chain.buildPayment({ sources: [hot], to: user, asset: "BTC", amount: 400_000n });
    const request = signRequest(
      intent({
        chain: "devnet-btc",
        asset: "BTC",
        kind: "withdrawal",
        to: user,
        amount: 400_000n,
        payload: unsigned.payload,
      }),
    );
    const answer = await new Promise<Answer>((resolve, reject) => {
      const socket = connect(socketPath);
      const reader = new FrameReader(1 << 20);
      socket.on("data", (chunk) => {
        const [frame] = reader.push(chunk);
        if (frame) {
          socket.destroy();
          resolve(JSON.parse(frame.toString("utf8")));
        }
      });
      socket.on("error", reject);
      socket.write(encodeFrame(request));
    });
    await chain.broadcast(signedBytes(answer));
    chain.mine();
    expect(chain.balance(user)).toBe(400_000n);
  });
});

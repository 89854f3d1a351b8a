// The signers' files and supervisor: custody's policy key, the demo wallets (encrypted keystores,
// public keys only in custody's file), and real signer child processes: signing a devnet
// withdrawal through custody's client, kill -9 and the restart (seen ids and counters kept),
// the restart bound, a wrong passphrase, a missing wallet.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { addressOfKey, privateKeyFromSeed, UtxoDevnet } from "../../src/chains/devnet/index.ts";
import { devnetAddressFromXpub } from "../../src/chains/devnet/signing.ts";
import { SignerClient } from "../../src/custody/signer-client.ts";
import {
  ensureDemoWallets,
  initWallet,
  isWalletInitialised,
  loadOrCreatePolicyKey,
  type SignerEvent,
  SignerSupervisor,
  signerPaths,
  WalletExistsError,
} from "../../src/server/signers.ts";
import { type Intent, intentToWire, signIntent } from "../../src/signer/intent.ts";
import { Keystore } from "../../src/signer/keystore.ts";

const directories: string[] = [];
const supervisors: SignerSupervisor[] = [];
afterAll(async () => {
  for (const supervisor of supervisors) await supervisor.stop();
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-signers-"));
  directories.push(dir);
  return dir;
}

function filesUnder(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) filesUnder(path, found);
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

const BTC_CAPS = { perTransaction: 1_000_000n, per10m: 2_000_000n, per1h: 3_000_000n, per24h: 4_000_000n };

function publicKeys(dir: string, chain: string): { label: string; key: string }[] {
  return JSON.parse(readFileSync(signerPaths(dir, chain).publicKeysPath, "utf8"));
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("custody's policy key", () => {
  it("is created once (0600) and read back the same; a readable or malformed file is refused", () => {
    const dir = dataDir();
    const first = loadOrCreatePolicyKey(dir);
    const path = join(dir, "custody", "policy.key");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "custody")).mode & 0o777).toBe(0o700);
    expect(first.publicKey).toHaveLength(32);
    const again = loadOrCreatePolicyKey(dir);
    expect(Buffer.from(again.secretKey).equals(Buffer.from(first.secretKey))).toBe(true);
    expect(Buffer.from(again.publicKey).equals(Buffer.from(first.publicKey))).toBe(true);
    chmodSync(path, 0o640);
    expect(() => loadOrCreatePolicyKey(dir)).toThrow(/owner-only/);
    chmodSync(path, 0o600);
    writeFileSync(path, "not a key\n");
    expect(() => loadOrCreatePolicyKey(dir)).toThrow(/not an Ed25519 secret key/);
  });
});

describe("the demo wallets", () => {
  it("get a random passphrase kept 0600, encrypted keystores and public keys only in custody's files", () => {
    const dir = dataDir();
    const { passphrase, initialised } = ensureDemoWallets(dir);
    expect(initialised).toEqual(["devnet-btc", "devnet-eth"]);
    const passphraseFile = join(dir, "signers", "demo-passphrase");
    expect(statSync(passphraseFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(passphraseFile, "utf8").trim()).toBe(passphrase);
    expect(passphrase.length).toBeGreaterThanOrEqual(24);
    for (const chain of ["devnet-btc", "devnet-eth"]) {
      const paths = signerPaths(dir, chain);
      expect(statSync(paths.dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(paths.keystoreDir, "keystore.json")).mode & 0o777).toBe(0o600);
      const keys = publicKeys(dir, chain);
      expect(keys.map((key) => key.label)).toEqual(["hot", "deposit"]);
      for (const key of keys) expect(key.key).toMatch(/^tpub/);
      // The seed appears in no file, in any encoding, and no extended private key either.
      const keystore = Keystore.open(paths.keystoreDir, passphrase);
      const seed = Buffer.from(keystore.hotKeys(chain).seed);
      keystore.close();
      for (const file of filesUnder(dir)) {
        const text = readFileSync(file, "latin1");
        for (const secret of [seed.toString("hex"), seed.toString("base64"), seed.toString("latin1")])
          expect(text.includes(secret), `${file} holds the seed`).toBe(false);
        expect(text).not.toMatch(/[tx]prv/);
      }
    }
    // Again: nothing new, the same passphrase.
    expect(ensureDemoWallets(dir)).toEqual({ passphrase, initialised: [] });
    // A lost public-key file (a crash between the two writes) is written again from the keystore.
    const btcKeys = publicKeys(dir, "devnet-btc");
    rmSync(signerPaths(dir, "devnet-btc").publicKeysPath);
    expect(ensureDemoWallets(dir).initialised).toEqual(["devnet-btc"]);
    expect(publicKeys(dir, "devnet-btc")).toEqual(btcKeys);
  });

  it("refuses a data dir whose wallets an operator made, and a second init of a wallet", () => {
    const dir = dataDir();
    initWallet(dir, "devnet-btc", "operator passphrase", { N: 2 ** 10, r: 8, p: 1 });
    expect(isWalletInitialised(dir, "devnet-btc")).toBe(true);
    expect(() => ensureDemoWallets(dir)).toThrow(/not made by demo mode/);
    expect(() => initWallet(dir, "devnet-btc", "operator passphrase")).toThrow(WalletExistsError);
    expect(() => initWallet(dir, "no-such-chain", "operator passphrase")).toThrow(/no signing plugin/);
    expect(() => initWallet(dir, "../escape", "operator passphrase")).toThrow(/bad chain name/);
  });
});

// Signer processes started, killed and restarted (~8 s): in `npm run test:full`, which CI runs;
// custody's tests drive a real signer process in `npm test` (test/signer/process.test.ts).
describe.skipIf(process.env.BULWARK_TEST_FULL !== "1")("the signer supervisor", () => {
  const dir = dataDir();
  const policy = loadOrCreatePolicyKey(dir);
  const { passphrase } = ensureDemoWallets(dir, ["devnet-btc"]);
  const chainOptions = [{ chain: "devnet-btc", caps: new Map([["BTC", BTC_CAPS]]), coldAddresses: [] }];
  const events: SignerEvent[] = [];
  const start = (overrides: Partial<Parameters<typeof SignerSupervisor.start>[0]> = {}) =>
    SignerSupervisor.start({
      dataDir: dir,
      chains: chainOptions,
      passphrase,
      policyPublicKeyHex: Buffer.from(policy.publicKey).toString("hex"),
      restartBaseDelayMs: 50,
      onEvent: (event) => events.push(event),
      ...overrides,
    }).then((supervisor) => {
      supervisors.push(supervisor);
      return supervisor;
    });

  it("runs the signer on an owner-only socket; custody's client signs through it; kill -9 is followed by a restart that keeps the seen ids and counters", async () => {
    const supervisor = await start();
    const socketPath = supervisor.socketPath("devnet-btc");
    expect(supervisor.isUp("devnet-btc")).toBe(true);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(signerPaths(dir, "devnet-btc").configPath).mode & 0o777).toBe(0o600);
    const config = JSON.parse(readFileSync(signerPaths(dir, "devnet-btc").configPath, "utf8"));
    expect(config.caps.BTC).toEqual({
      perTransaction: "1000000",
      per10m: "2000000",
      per1h: "3000000",
      per24h: "4000000",
    });
    expect(JSON.stringify(config)).not.toContain(passphrase);

    // Custody's side: the hot address from the exported xpub, a withdrawal, custody's signature.
    const chain = new UtxoDevnet();
    const hotXpub = publicKeys(dir, "devnet-btc").find((key) => key.label === "hot")?.key ?? "";
    const hot = devnetAddressFromXpub("utxo", hotXpub, 0, 0);
    const user = addressOfKey(chain, privateKeyFromSeed("supervised user"));
    chain.faucet(hot, "BTC", 900_000n);
    chain.mine();
    const unsigned = await chain.buildPayment({ sources: [hot], to: user, asset: "BTC", amount: 400_000n });
    const intent: Intent = {
      intentId: "0123456789abcdef0123456789abcdef",
      chain: "devnet-btc",
      asset: "BTC",
      kind: "withdrawal",
      to: user,
      amount: 400_000n,
      expiresAtMs: Date.now() + 10 * 60_000,
      payload: unsigned.payload,
    };
    const signature = Buffer.from(signIntent(intent, policy.secretKey).signature).toString("hex");
    // Generous: under a loaded CI machine a restarted signer (keystore decryption) answers slowly.
    const client = new SignerClient(socketPath, { timeoutMs: 30_000 });
    const signed = await client.sign(intentToWire(intent), signature);
    if (!signed.ok) throw new Error(`${signed.code}: ${signed.detail}`);
    const usedBefore = await client.status();

    const pid = supervisor.status()[0].pid ?? 0;
    process.kill(pid, "SIGKILL");
    await until(() => !supervisor.isUp("devnet-btc"), 5_000, "the signer to be seen down");
    await until(() => supervisor.isUp("devnet-btc"), 15_000, "the signer to come back");
    expect(supervisor.status()[0]).toMatchObject({ up: true, restartsInLastMinute: 1, gaveUp: false });
    expect(supervisor.status()[0].pid).not.toBe(pid);
    expect(events.map((event) => event.type)).toEqual(["ready", "exited", "restarting", "ready"]);
    expect(events.find((event) => event.type === "exited")).toMatchObject({ signal: "SIGKILL" });

    // The log survived: the same intent is the same transaction, charged once; another is refused.
    expect(await client.sign(intentToWire(intent), signature)).toEqual(signed);
    expect(await client.status()).toMatchObject({
      ok: true,
      budgets: (usedBefore as { budgets: unknown }).budgets,
    });
    const other = { ...intent, amount: 300_000n };
    const otherSignature = Buffer.from(signIntent(other, policy.secretKey).signature).toString("hex");
    expect(await client.sign(intentToWire(other), otherSignature)).toMatchObject({
      ok: false,
      code: "reused-id",
    });
    expect(await chain.broadcast(signed.signedTx)).toBe(signed.txId);

    await supervisor.stop();
    expect(supervisor.isUp("devnet-btc")).toBe(false);
    expect(() => statSync(socketPath)).toThrow(/ENOENT/);
    // Stopped on purpose: no restart.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events.at(-1)?.type).toBe("exited");
  });

  it("gives up after the bounded number of restarts in a minute", async () => {
    events.length = 0;
    const supervisor = await start({ maxRestartsPerMinute: 1 });
    process.kill(supervisor.status()[0].pid ?? 0, "SIGKILL");
    await until(() => events.filter((event) => event.type === "ready").length === 2, 15_000, "one restart");
    process.kill(supervisor.status()[0].pid ?? 0, "SIGKILL");
    await until(() => events.some((event) => event.type === "gave-up"), 5_000, "giving up");
    expect(supervisor.isUp("devnet-btc")).toBe(false);
    expect(supervisor.status()[0]).toMatchObject({ gaveUp: true, up: false });
    await supervisor.stop();
  });

  it("does not start with a wrong passphrase, without a wallet, or with a bad config, and says why", async () => {
    await expect(start({ passphrase: "not the passphrase" })).rejects.toThrow(
      /devnet-btc signer did not start: .*wrong passphrase/,
    );
    await expect(
      start({ chains: [{ chain: "devnet-eth", caps: new Map(), coldAddresses: [] }] }),
    ).rejects.toThrow(/no wallet: run `bulwark wallet init --chain devnet-eth`/);
    await expect(start({ policyPublicKeyHex: "00" })).rejects.toThrow(/policyPublicKey/);
    await expect(start({ passphrase: "" })).rejects.toThrow(/passphrase is required/);
    await expect(start({ maxRestartsPerMinute: 0 })).rejects.toThrow(/maxRestartsPerMinute/);
  });
});

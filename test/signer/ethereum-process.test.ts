// The signer process (src/signer/main.ts, its built-in plugins) for an Ethereum chain: the config's
// `ethereum` section builds the Ethereum plugin. `init` prints the account xpubs custody derives
// its wallet from; `run` signs EIP-1559 payments of the configured chain id from the hot and the
// deposit accounts (a withdrawal in ETH and in the token, a deposit sweep, a gas top-up), and
// refuses what the section does not allow (another chain id, an unlisted token contract, a
// sender beyond the searched addresses) or the policy does not (a deposit sweep to a stranger).
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Hex, keccak256, parseTransaction, recoverTransactionAddress, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressOfSeed, encodeEthereumPayload, erc20TransferData } from "../../src/chains/ethereum/index.ts";
import { ethereumChainWallet } from "../../src/custody/ethereum-wallet.ts";
import { SignerClient } from "../../src/custody/signer-client.ts";
import { type Intent, intentToWire, signIntent } from "../../src/signer/intent.ts";
import { initKeystore } from "../../src/signer/keystore.ts";
import { nodeEntry } from "../support/node-entry.ts";
import { newIntentId, POLICY_PUBLIC, POLICY_SECRET, SMALL_SCRYPT, tempDir } from "./helpers.ts";

const MAIN = join(import.meta.dirname, "..", "..", "src", "signer", "main.ts");
const PASSPHRASE = "ethereum signer passphrase";
const CHAIN = "anvil";
const CHAIN_ID = 31_337;
const SEED = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
const TOKEN = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
const OTHER_TOKEN = "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512";
const OUTSIDE = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
const HOT = addressOfSeed(SEED, 0, 0);
const CAP = (10n ** 21n).toString();
const CAPS = { perTransaction: CAP, per10m: CAP, per1h: CAP, per24h: CAP };

const { dir, cleanup } = tempDir();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  cleanup();
});

function writeConfig(name: string, keystoreDir: string): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      chain: CHAIN,
      socketPath: join(dir, `${name}.sock`),
      stateDir: join(dir, `${name}-state`),
      keystoreDir,
      policyPublicKey: Buffer.from(POLICY_PUBLIC).toString("hex"),
      caps: { ETH: CAPS, USDT: CAPS },
      coldAddresses: [],
      scrypt: SMALL_SCRYPT,
      ethereum: { chainId: CHAIN_ID, tokens: { USDT: TOKEN }, accounts: 2, addressesPerAccount: 20 },
    }),
  );
  return path;
}

/** `node src/signer/main.ts <args>`: resolves with its first stdout line (JSON) and the child. */
function launch(args: string[]): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  const child = spawn(process.execPath, [...nodeEntry(MAIN), ...args], {
    env: { ...process.env, BULWARK_SIGNER_PASSPHRASE: PASSPHRASE },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout?.on("data", (chunk) => {
      out += chunk;
      // Complete lines only (the last piece may be cut mid-line).
      const line = out
        .split("\n")
        .slice(0, -1)
        .find((l) => l.startsWith("{"));
      if (line) resolve({ child, line: JSON.parse(line) });
    });
    child.stderr?.on("data", (chunk) => {
      err += chunk;
    });
    child.on("exit", (code) => reject(new Error(`signer exited ${code}: ${err}`)));
  });
}

let client: SignerClient;
let initialized: Record<string, unknown>;

beforeAll(async () => {
  initKeystore(join(dir, "keystore"), PASSPHRASE, SEED, SMALL_SCRYPT);
  // `init` (fresh entropy, its own keystore) and `run` (the known seed) start side by side.
  const [init, run] = await Promise.all([
    launch(["init", "--config", writeConfig("init", join(dir, "init-keystore"))]),
    launch(["run", "--config", writeConfig("run", join(dir, "keystore"))]),
  ]);
  initialized = init.line;
  expect(run.line).toMatchObject({ event: "ready", chain: CHAIN });
  client = new SignerClient(join(dir, "run.sock"));
}, 60_000);

function payment(
  from: string,
  call: { to: string; value: bigint; data?: Hex },
  overrides: { chainId?: number; nonce?: number } = {},
): Uint8Array {
  return encodeEthereumPayload(from, {
    type: "eip1559",
    chainId: overrides.chainId ?? CHAIN_ID,
    nonce: overrides.nonce ?? 0,
    gas: call.data === undefined ? 21_000n : 60_000n,
    maxFeePerGas: 3_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
    to: call.to as Hex,
    value: call.value,
    ...(call.data === undefined ? {} : { data: call.data }),
  });
}

async function sign(intent: Omit<Intent, "intentId" | "chain" | "expiresAtMs">) {
  const full: Intent = { intentId: newIntentId(), chain: CHAIN, expiresAtMs: Date.now() + 60_000, ...intent };
  const { signature } = signIntent(full, POLICY_SECRET);
  return client.sign(intentToWire(full), Buffer.from(signature).toString("hex"));
}

/** The signed transaction's sender and the transaction itself (checked to be the answer's txId). */
async function signedBy(answer: Awaited<ReturnType<typeof sign>>) {
  if (!answer.ok) throw new Error(`refused: ${answer.code}: ${answer.detail}`);
  const hex = toHex(answer.signedTx) as `0x02${string}`;
  expect(keccak256(hex)).toBe(answer.txId);
  return {
    from: (await recoverTransactionAddress({ serializedTransaction: hex })).toLowerCase(),
    tx: parseTransaction(hex),
  };
}

describe("the signer process on an Ethereum chain", () => {
  it("`init` prints the hot and deposit account xpubs, from which custody derives its wallet", () => {
    expect(initialized.event).toBe("initialized");
    const publicKeys = initialized.publicKeys as { label: string; key: string }[];
    expect(publicKeys.map((entry) => entry.label)).toEqual([
      `${CHAIN} m/44'/60'/0'`,
      `${CHAIN} m/44'/60'/1'`,
    ]);
    expect(publicKeys.every((entry) => entry.key.startsWith("xpub"))).toBe(true);
    const wallet = ethereumChainWallet(publicKeys);
    expect(wallet.hotAddress).toMatch(/^0x[0-9a-f]{40}$/);
    expect(wallet.deposit.account).toBe(1);
    expect(wallet.deposit.derive(0)).not.toBe(wallet.hotAddress);
  });

  it("signs ETH and token withdrawals from the hot address, a deposit sweep and a gas top-up", async () => {
    const eth = await signedBy(
      await sign({
        asset: "ETH",
        kind: "withdrawal",
        to: OUTSIDE,
        amount: 10n ** 17n,
        payload: payment(HOT, { to: OUTSIDE, value: 10n ** 17n }),
      }),
    );
    expect(eth.from).toBe(HOT);
    expect(eth.tx).toMatchObject({ chainId: CHAIN_ID, to: OUTSIDE, value: 10n ** 17n, type: "eip1559" });

    const usdt = await signedBy(
      await sign({
        asset: "USDT",
        kind: "withdrawal",
        to: OUTSIDE,
        amount: 95_000_000n,
        payload: payment(
          HOT,
          { to: TOKEN, value: 0n, data: erc20TransferData(OUTSIDE, 95_000_000n) },
          { nonce: 1 },
        ),
      }),
    );
    expect(usdt.from).toBe(HOT);
    expect(usdt.tx.to).toBe(TOKEN);

    // Deposit addresses are account 1 of the same seed: the signer finds and signs from them.
    const deposit = addressOfSeed(SEED, 1, 7);
    const sweep = await signedBy(
      await sign({
        asset: "USDT",
        kind: "depositSweep",
        to: HOT,
        amount: 5_000_000n,
        payload: payment(deposit, { to: TOKEN, value: 0n, data: erc20TransferData(HOT, 5_000_000n) }),
      }),
    );
    expect(sweep.from).toBe(deposit);
    const topUp = await signedBy(
      await sign({
        asset: "ETH",
        kind: "refillGas",
        to: deposit,
        amount: 10n ** 15n,
        payload: payment(HOT, { to: deposit, value: 10n ** 15n }, { nonce: 2 }),
      }),
    );
    expect(topUp.from).toBe(HOT);
  });

  it("refuses another chain id, an unlisted token, a sender it does not search, a sweep to a stranger", async () => {
    const withdrawal = { asset: "ETH", kind: "withdrawal" as const, to: OUTSIDE, amount: 10n ** 17n };
    expect(
      await sign({
        ...withdrawal,
        payload: payment(HOT, { to: OUTSIDE, value: 10n ** 17n }, { chainId: 1 }),
      }),
    ).toMatchObject({ ok: false, code: "payload-unreadable" });
    expect(
      await sign({
        ...withdrawal,
        asset: "USDT",
        amount: 1_000_000n,
        payload: payment(HOT, { to: OTHER_TOKEN, value: 0n, data: erc20TransferData(OUTSIDE, 1_000_000n) }),
      }),
    ).toMatchObject({ ok: false, code: "payload-unreadable" });
    // Index 20 is beyond addressesPerAccount (20): not one of the wallet's addresses for this signer.
    const beyond = addressOfSeed(SEED, 0, 20);
    expect(
      await sign({ ...withdrawal, payload: payment(beyond, { to: OUTSIDE, value: 10n ** 17n }) }),
    ).toMatchObject({ ok: false, code: "signing-failed" });
    expect(
      await sign({
        ...withdrawal,
        kind: "depositSweep",
        payload: payment(addressOfSeed(SEED, 1, 0), { to: OUTSIDE, value: 10n ** 17n }),
      }),
    ).toMatchObject({ ok: false, code: "destination-not-own" });
  });
});

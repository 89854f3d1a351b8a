// The demo's cold wallet (src/server/demo/cold-wallet.ts): a keygen child makes a cold keystore
// per chain beside the data dir and the exchange writes only the address; idempotent (an existing
// cold.json stays, a lost one comes back from the same keystore); bad input and a failing child
// give clear errors and write nothing. The child's entry (src/signer/cold-main.ts) refuses bad
// arguments before it makes anything.

import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { normalizeAccountAddress } from "../../src/chains/devnet/keys.ts";
import { writeColdAddressFile } from "../../src/server/cold-address.ts";
import { readColdAddress } from "../../src/server/custody.ts";
import {
  type ColdWalletChain,
  coldWalletsOf,
  demoColdKeystoreDir,
  demoColdRoot,
  ensureDemoColdWallets,
} from "../../src/server/demo/cold-wallet.ts";
import { coldMain } from "../../src/signer/cold-main.ts";

const directories: string[] = [];
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-demo-cold-"));
  directories.push(dir, demoColdRoot(dir));
  return dir;
}

const PASSPHRASE = "demo-passphrase-for-tests";
const CHAINS: ColdWalletChain[] = [
  {
    chain: "devnet-btc",
    normalizeAddress: (address) => (/^dvbtc1[0-9a-z]{20,80}$/.test(address) ? address : null),
  },
  { chain: "devnet-eth", normalizeAddress: normalizeAccountAddress },
];

describe("the demo's cold wallet", () => {
  it("makes a keystore per chain beside the data dir, writes only the address, and never makes new keys", async () => {
    const dir = dataDir();
    expect(await ensureDemoColdWallets(dir, PASSPHRASE, CHAINS)).toEqual(["devnet-btc", "devnet-eth"]);
    const first = coldWalletsOf(dir, ["devnet-btc", "devnet-eth"]);
    expect(first.map((wallet) => wallet.keystoreDir)).toEqual([
      demoColdKeystoreDir(dir, "devnet-btc"),
      demoColdKeystoreDir(dir, "devnet-eth"),
    ]);
    expect(demoColdRoot(dir)).toBe(`${dir}-demo-cold`);
    expect(first[0].address).toMatch(/^dvbtc1/);
    expect(first[1].address).toMatch(/^0x[0-9a-f]{40}$/);
    // Nothing of the keystore in the data dir: only the address file.
    expect(readFileSync(join(dir, "custody", "devnet-btc.cold.json"), "utf8")).toBe(
      `${JSON.stringify({ address: first[0].address })}\n`,
    );
    const keystore = readFileSync(join(demoColdKeystoreDir(dir, "devnet-btc"), "keystore.json"), "utf8");

    // Again: nothing to do.
    expect(await ensureDemoColdWallets(dir, PASSPHRASE, CHAINS)).toEqual([]);
    // A lost cold.json comes back from the same keystore: the same address, no new key.
    unlinkSync(join(dir, "custody", "devnet-btc.cold.json"));
    expect(await ensureDemoColdWallets(dir, PASSPHRASE, CHAINS)).toEqual(["devnet-btc"]);
    expect(coldWalletsOf(dir, ["devnet-btc", "devnet-eth"])).toEqual(first);
    expect(readFileSync(join(demoColdKeystoreDir(dir, "devnet-btc"), "keystore.json"), "utf8")).toBe(
      keystore,
    );

    // A lost cold.json whose keystore takes another passphrase: a clear error, nothing written.
    unlinkSync(join(dir, "custody", "devnet-eth.cold.json"));
    await expect(ensureDemoColdWallets(dir, "another-passphrase", CHAINS)).rejects.toThrow(
      /the demo's cold keygen failed \(exit 1\): cold-main: wrong passphrase/,
    );
    expect(readColdAddress(dir, "devnet-eth")).toBeNull();
  });

  it("leaves an operator's cold address alone and makes no keystore for it", async () => {
    const dir = dataDir();
    const operators = "0x00000000000000000000000000000000000000c0";
    writeColdAddressFile(dir, "devnet-eth", operators);
    expect(await ensureDemoColdWallets(dir, PASSPHRASE, CHAINS)).toEqual(["devnet-btc"]);
    expect(readColdAddress(dir, "devnet-eth")).toBe(operators);
    expect(existsSync(demoColdKeystoreDir(dir, "devnet-eth"))).toBe(false);
    expect(coldWalletsOf(dir, ["devnet-eth"])).toEqual([
      { chain: "devnet-eth", address: operators, keystoreDir: null },
    ]);
  });

  it("refuses bad input with a clear error and writes nothing", async () => {
    const dir = dataDir();
    await expect(ensureDemoColdWallets(dir, "", CHAINS)).rejects.toThrow(/need a passphrase/);
    // An answer the chain does not accept as its address is not written.
    const rejecting: ColdWalletChain[] = [{ chain: "devnet-btc", normalizeAddress: () => null }];
    await expect(ensureDemoColdWallets(dir, PASSPHRASE, rejecting)).rejects.toThrow(
      /printed "dvbtc1[0-9a-z]+", not a devnet-btc address/,
    );
    // A child that does not answer in time is killed.
    const fresh = dataDir();
    await expect(ensureDemoColdWallets(fresh, PASSPHRASE, CHAINS, 1)).rejects.toThrow(
      /no answer within 1 ms/,
    );
    for (const chain of ["devnet-btc", "devnet-eth"]) {
      expect(readColdAddress(dir, chain)).toBeNull();
      expect(readColdAddress(fresh, chain)).toBeNull();
    }
    // Chains without a cold wallet are skipped.
    expect(
      await ensureDemoColdWallets(dir, PASSPHRASE, [{ chain: "devnet-xrp", normalizeAddress: (a) => a }]),
    ).toEqual([]);
  });

  it("the keygen child's entry refuses bad arguments before making anything", async () => {
    const dir = dataDir();
    const env = () => ({ BULWARK_COLD_PASSPHRASE: PASSPHRASE });
    await expect(coldMain(["sign"], env())).rejects.toThrow(/usage: cold-main keygen/);
    await expect(coldMain(["keygen"], env())).rejects.toThrow(/usage/);
    await expect(coldMain(["keygen", `devnet-xrp=${dir}/x`], env())).rejects.toThrow(
      /no cold wallet for chain "devnet-xrp"/,
    );
    await expect(coldMain(["keygen", "devnet-btc=relative/dir"], env())).rejects.toThrow(/must be absolute/);
    await expect(coldMain(["keygen", "--scrypt", "16384:x:1", `devnet-btc=${dir}/x`], env())).rejects.toThrow(
      /--scrypt must be N:r:p/,
    );
    const noPassphrase: NodeJS.ProcessEnv = {};
    await expect(coldMain(["keygen", `devnet-btc=${dir}/x`], noPassphrase)).rejects.toThrow(
      /expected in the env var BULWARK_COLD_PASSPHRASE/,
    );
    expect(existsSync(join(dir, "x"))).toBe(false);
    // The passphrase leaves the environment once read.
    const given: NodeJS.ProcessEnv = { BULWARK_COLD_PASSPHRASE: "short" };
    await expect(coldMain(["keygen", "--scrypt", "1024:8:1", `devnet-btc=${dir}/x`], given)).rejects.toThrow(
      /at least 8 characters/,
    );
    expect(given.BULWARK_COLD_PASSPHRASE).toBeUndefined();
  });
});

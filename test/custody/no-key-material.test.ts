// Custody, the gateway, the store and the journal hold no private key material
// (docs/CUSTODY.md: "no internet-facing process holds a private key"). A real exchange server
// runs in a child process (test/custody/server-child.ts: demo mode, signer child processes,
// devnet chains) and uses its keys: the demo's funding deposits are credited and swept into
// the hot wallet (the signer signs with deposit keys), and a BTC withdrawal is paid and settled
// (hot keys). The test opens each chain's keystore with the demo passphrase, as only a signer
// does, derives the private keys (key-material.ts: seed, master, m/44', m/44'/coin', both
// accounts, the first hot receive/change and deposit keys) and searches for them, as raw bytes,
// hex, base64 and tprv serialisations:
//   - every file of the data dir except signers/ (the signers' encrypted keystores and logs),
//     and the server's log (its stderr, at debug level);
//   - a V8 heap snapshot of the exchange process (strings only: a heap snapshot holds no
//     ArrayBuffer contents, so raw bytes are searched in the process's memory instead);
//   - the exchange process's memory (/proc/<pid>/mem, memory-scan.ts), in every form.
// Positive controls, so the searches can fail: the derived keys are the wallet's (the hot key's
// address is custody's hot address, the trader's deposit address is a derived deposit key's);
// custody's public-key file holds the hot xpub and the store the trader's deposit address; the
// heap snapshot holds custody's hot address and the trader's deposit address; the exchange's
// memory holds the hot address and, raw, the deposit account's chain code (32 bytes shaped like a
// key, which custody's watch-only deposit deriver keeps); each signer's memory holds its seed.
//
// The demo's cold keystores (beside the data dir, made at the first start by a keygen child,
// src/server/demo/cold-wallet.ts) are opened the same way and their seed, master, cold account
// and cold key searched for everywhere too; their address is custody/<chain>.cold.json's.
//
// The wallets are made as `bulwark wallet init` makes them, in a process of their own (the test
// process, through ensureDemoWallets), not in the exchange process. A first demo start makes them
// through signer `init` children (ensureDemoWalletsIsolated): the second describe below, run with
// BULWARK_TEST_FULL=1, reads the exchange's memory right after such a start.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { WithdrawalView } from "../../src/custody/port.ts";
import { readColdAddress } from "../../src/server/custody.ts";
import { demoColdKeystoreDir, demoColdRoot } from "../../src/server/demo/cold-wallet.ts";
import { ensureDemoWallets } from "../../src/server/signers.ts";
import {
  coldWalletSecrets,
  EXTENDED_PRIVATE_KEY,
  textForms,
  WALLET_KINDS,
  type WalletSecrets,
  walletSecrets,
} from "./key-material.ts";
import { NeedleSearch, scanProcessMemory } from "./memory-scan.ts";
import {
  closeServerChild,
  killServerChild,
  operatorCall,
  type ReadyLine,
  type ServerChild,
  startServerChild,
  until,
} from "./server-child-harness.ts";

const FULL = process.env.BULWARK_TEST_FULL === "1";
/** Bounds: the data dir's files, the heap snapshot, and the memory mapped for data of one process. */
const MAX_FILES_BYTES = 64 * 1024 * 1024;
const MAX_HEAP_SNAPSHOT_BYTES = 1024 * 1024 * 1024;
const MAX_PROCESS_DATA_BYTES = 4 * 1024 * 1024 * 1024;
const MAX_LOG_BYTES = 8 * 1024 * 1024;

const directories: string[] = [];
const children: ServerChild[] = [];
afterAll(async () => {
  for (const child of children) await killServerChild(child);
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
}, 30_000);

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  directories.push(dir);
  return dir;
}

function start(dataDir: string): ServerChild {
  // Demo mode makes the cold keystores beside the data dir (src/server/demo/cold-wallet.ts).
  directories.push(demoColdRoot(dataDir));
  const child = startServerChild(dataDir, {
    env: { BULWARK_LOG_LEVEL: "debug" },
    stderrBytes: MAX_LOG_BYTES,
  });
  children.push(child);
  return child;
}

type Form = "raw" | "hex" | "HEX" | "base64" | "base64url" | "tprv";
const ALL_FORMS: readonly Form[] = ["raw", "hex", "HEX", "base64", "base64url", "tprv"];
/** What a string can hold (a heap snapshot has strings, not the bytes of ArrayBuffers). */
const TEXT_FORMS: readonly Form[] = ["hex", "HEX", "base64", "base64url", "tprv"];

/** The demo's cold keystores (made at the first start by a keygen child), opened as only `cold sign` does. */
function demoColdSecrets(dataDir: string, passphrase: string) {
  const cold = WALLET_KINDS.map(({ chain, kind }) =>
    coldWalletSecrets(demoColdKeystoreDir(dataDir, chain), passphrase, chain, kind),
  );
  // Control: these are the keys of the addresses custody sweeps to.
  for (const wallet of cold) expect(wallet.address).toBe(readColdAddress(dataDir, wallet.chain));
  return cold;
}

/** name → bytes, for every secret of the wallets in the given forms. */
function needles(
  wallets: readonly Pick<WalletSecrets, "secrets">[],
  forms: readonly Form[],
): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const wallet of wallets)
    for (const secret of wallet.secrets) {
      const text = textForms(secret.bytes);
      for (const form of forms) {
        if (form === "raw") out.set(`${secret.name} (raw)`, secret.bytes);
        else if (form === "tprv") {
          if (secret.extended !== undefined) out.set(`${secret.name} (tprv)`, Buffer.from(secret.extended));
        } else out.set(`${secret.name} (${form})`, Buffer.from(text[form]));
      }
    }
  return out;
}

/** The names of `wanted` found in `haystack`, in `wanted`'s order. */
function found(haystack: Uint8Array, wanted: ReadonlyMap<string, Uint8Array>): string[] {
  const hits = new NeedleSearch(wanted).search(haystack);
  return [...wanted.keys()].filter((name) => hits.has(name));
}

function publicKey(dataDir: string, chain: string, label: string): string {
  const keys = JSON.parse(readFileSync(join(dataDir, "custody", `${chain}.pub.json`), "utf8")) as {
    label: string;
    key: string;
  }[];
  const key = keys.find((entry) => entry.label === label)?.key;
  if (key === undefined) throw new Error(`no ${label} public key for ${chain}`);
  return key;
}

function filesUnder(dir: string, skip: (path: string) => boolean, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (skip(path)) continue;
    if (entry.isDirectory()) filesUnder(path, skip, out);
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

async function mine(ready: ReadyLine, blocks = 1): Promise<void> {
  const answer = await operatorCall(ready.operatorSocket, "POST", "/devnet/mine", { chain: "btc", blocks });
  expect(answer.status).toBe(200);
}

interface State {
  onBooks: { hot: string; depositAddresses: string } | null;
}

// Both scans start exchange processes and read hundreds of MiB of their memory: a drill for
// `npm run test:full` (which CI runs after `npm test`).
describe.skipIf(!FULL)("the exchange process and its files hold no private key material", () => {
  it("after deposits, sweeps and a withdrawal: not in its files, log, heap snapshot or memory; the signers' memory holds the seeds", {
    timeout: 180_000,
  }, async () => {
    const startedMs = performance.now();
    const timings: string[] = [];
    const lap = (what: string) => timings.push(`${what} ${Math.round(performance.now() - startedMs)} ms`);
    const dataDir = tempDir("bulwark-nokeys-");
    const scratch = tempDir("bulwark-nokeys-heap-");
    // The wallets, made outside the exchange process (as `bulwark wallet init` does).
    const { passphrase, initialised } = ensureDemoWallets(dataDir);
    expect(initialised).toEqual(["devnet-btc", "devnet-eth"]);
    const wallets = WALLET_KINDS.map(({ chain, kind }) => walletSecrets(dataDir, passphrase, chain, kind));
    const btcWallet = wallets[0];
    const hotXpub = publicKey(dataDir, "devnet-btc", "hot");
    expect(hotXpub).toMatch(/^tpub/);

    const child = start(dataDir);
    const ready = await child.ready;
    lap("started");
    // The demo's funding deposits were credited at start; their sweep into hot is signed with deposit keys.
    await child.command("prepare");
    await until("the deposits' sweep into the hot wallet", 60_000, async () => {
      const state = await child.command<State>("state");
      if (state.onBooks?.depositAddresses === "0" && Number(state.onBooks.hot) > 1) return true;
      await mine(ready);
      return undefined;
    });
    // A withdrawal: signed with the hot keys, broadcast, confirmed, settled.
    const requested = await child.command<WithdrawalView>("withdraw", { amount: "0.1" });
    await until("the withdrawal to settle", 60_000, async () => {
      const answer = await operatorCall<{ withdrawals: WithdrawalView[] }>(
        ready.operatorSocket,
        "GET",
        "/withdrawals?limit=10",
      );
      const row = answer.body.withdrawals.find((entry) => entry.withdrawalId === requested.withdrawalId);
      if (row?.step === "settled") return true;
      await mine(ready);
      return undefined;
    });
    lap("deposits swept, withdrawal settled");
    const cold = demoColdSecrets(dataDir, passphrase);

    // Controls: the keys searched for are the ones this exchange's wallet uses.
    const addresses = await child.command<{ hot: string; traderDeposit: string }>("addresses");
    expect(btcWallet.hotAddress).toBe(addresses.hot);
    expect(btcWallet.depositAddresses).toContain(addresses.traderDeposit);
    // Strings custody derived and holds.
    const controls = new Map([
      ["hot address", Buffer.from(addresses.hot)],
      ["trader's deposit address", Buffer.from(addresses.traderDeposit)],
    ]);

    // The exchange's heap: strings (hex, base64, tprv); raw bytes are not in a heap snapshot.
    const heapPath = join(scratch, "exchange.heapsnapshot");
    await child.command("heap", { path: heapPath });
    const heapBytes = statSync(heapPath).size;
    expect(heapBytes).toBeLessThan(MAX_HEAP_SNAPSHOT_BYTES);
    const heap = readFileSync(heapPath);
    rmSync(heapPath);
    expect(found(heap, controls), "controls in the heap snapshot").toEqual([...controls.keys()]);
    expect(found(heap, needles([...wallets, ...cold], TEXT_FORMS))).toEqual([]);
    expect(EXTENDED_PRIVATE_KEY.test(heap.toString("latin1"))).toBe(false);
    lap(`heap snapshot (${Math.round(heapBytes / 2 ** 20)} MiB)`);

    // The exchange's memory, all of it: raw bytes, hex, base64, tprv.
    const chainCode = "control: the deposit account's chain code";
    const hotAddress = "control: the hot address";
    const exchangeMemory = scanProcessMemory(
      ready.pid,
      new Map([
        ...needles([...wallets, ...cold], ALL_FORMS),
        [chainCode, btcWallet.depositChainCode],
        [hotAddress, Buffer.from(addresses.hot)],
      ]),
      MAX_PROCESS_DATA_BYTES,
    );
    expect(exchangeMemory.scannedBytes).toBeGreaterThan(32 * 2 ** 20);
    expect(exchangeMemory.found.sort()).toEqual([chainCode, hotAddress]);
    lap(`exchange memory (${Math.round(exchangeMemory.scannedBytes / 2 ** 20)} MiB)`);
    // Positive control: each signer holds its own chain's seed.
    for (const wallet of wallets) {
      const pid = ready.signers.find((signer) => signer.chain === wallet.chain)?.pid;
      if (pid === undefined || pid === null) throw new Error(`no ${wallet.chain} signer`);
      const signerMemory = scanProcessMemory(pid, new Map([["seed", wallet.seed]]), MAX_PROCESS_DATA_BYTES);
      expect(signerMemory.found, `the ${wallet.chain} signer's memory`).toEqual(["seed"]);
    }
    lap("signers' memory");

    // A clean stop (state saved, snapshots and candles written), then every file but the signers'.
    await closeServerChild(child);
    const files = filesUnder(dataDir, (path) => relative(dataDir, path) === "signers");
    const names = files.map((file) => relative(dataDir, file));
    expect(names).toContain("bulwark.sqlite");
    expect(names).toContain("custody/policy.key");
    expect(names).toContain("custody/devnet-btc.pub.json");
    expect(names.some((name) => name.startsWith("journal/"))).toBe(true);
    expect(names.some((name) => name.startsWith("devnet/btc/"))).toBe(true);
    expect(names.some((name) => name.startsWith("signers"))).toBe(false);
    const fileNeedles = needles([...wallets, ...cold], ALL_FORMS);
    let totalBytes = 0;
    const holding = new Map<string, string[]>();
    const fileControls = new Map([
      ["hot xpub", Buffer.from(hotXpub)],
      ["trader's deposit address", Buffer.from(addresses.traderDeposit)],
    ]);
    const leaks: string[] = [];
    for (const file of files) {
      const bytes = readFileSync(file);
      const name = relative(dataDir, file);
      totalBytes += bytes.length;
      expect(totalBytes).toBeLessThan(MAX_FILES_BYTES);
      for (const control of found(bytes, fileControls))
        holding.set(control, [...(holding.get(control) ?? []), name]);
      for (const secret of found(bytes, fileNeedles)) leaks.push(`${secret} in ${name}`);
      if (EXTENDED_PRIVATE_KEY.test(bytes.toString("latin1"))) leaks.push(`an xprv/tprv in ${name}`);
    }
    expect(holding.get("hot xpub")).toContain("custody/devnet-btc.pub.json");
    expect(holding.get("trader's deposit address")).toContain("bulwark.sqlite");
    expect(leaks).toEqual([]);
    // The server's log.
    const log = Buffer.from(child.stderr(), "utf8");
    expect(log.length).toBeGreaterThan(0);
    expect(log.length).toBeLessThan(MAX_LOG_BYTES);
    expect(found(log, fileNeedles)).toEqual([]);
    expect(EXTENDED_PRIVATE_KEY.test(log.toString("latin1"))).toBe(false);
    lap(
      `${files.length} files (${Math.round(totalBytes / 1024)} KiB), ${Math.round(log.length / 1024)} KiB of log`,
    );
    console.log(`no key material: ${timings.join("; ")}`);
  });
});

// BUG (src/server/server.ts startCustody → src/server/signers.ts ensureDemoWallets → initWallet):
// On a demo data dir's first start the wallets are made by signer `init` children. When the
// exchange process made them itself (before ensureDemoWalletsIsolated), its memory kept both seeds:
// keystore.ts decrypt() leaves the plaintext in decipher.update()'s and Buffer.concat()'s buffers,
// and the BIP32 derivations leave the master key as hex among the garbage strings. This is the
// regression test for that.
describe("the exchange process on a demo data dir's first start (signer children make the wallets)", () => {
  let firstStart: { found: string[]; scannedBytes: number } | undefined;
  const fullOnly = FULL ? it : it.skip;

  fullOnly("starts, makes both wallets, and its memory is read", { timeout: 180_000 }, async () => {
    const dataDir = tempDir("bulwark-nokeys-first-");
    const child = start(dataDir);
    const ready = await child.ready;
    const passphrase = readFileSync(join(dataDir, "signers", "demo-passphrase"), "utf8").replace(
      /\r?\n$/,
      "",
    );
    const wallets = WALLET_KINDS.map(({ chain, kind }) => walletSecrets(dataDir, passphrase, chain, kind));
    // The cold keystores too: made by a keygen child, never by the exchange process.
    const cold = demoColdSecrets(dataDir, passphrase);
    const chainCode = "control: the deposit account's chain code";
    const scan = scanProcessMemory(
      ready.pid,
      new Map([...needles([...wallets, ...cold], ALL_FORMS), [chainCode, wallets[0].depositChainCode]]),
      MAX_PROCESS_DATA_BYTES,
    );
    await closeServerChild(child);
    expect(scan.found).toContain(chainCode);
    firstStart = { found: scan.found.filter((name) => name !== chainCode), scannedBytes: scan.scannedBytes };
    console.log(
      `first demo start: key material in the exchange process's memory: ${firstStart.found.join(", ") || "none"}`,
    );
  });

  fullOnly("holds no key material afterwards", () => {
    expect(firstStart?.scannedBytes).toBeGreaterThan(0);
    expect(firstStart?.found).toEqual([]);
  });
});

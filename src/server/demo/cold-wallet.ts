// The demo's cold wallet (docs/CUSTODY.md, "The demo's cold wallet"). Custody keeps at most the
// hot cap in the hot wallet and sweeps the rest to the chain's cold address; without one, the hot
// wallet would hold everything. So demo mode gives each devnet chain without a configured cold
// address one, at its first start:
//
//   <data-dir>-demo-cold/<chain>/keystore.json   the cold seed under scrypt + AES-256-GCM, made
//                                                 BESIDE the data dir, "as if on the offline machine"
//                                                 (`bulwark cold keygen` refuses the data dir itself)
//   <data-dir>/custody/<chain>.cold.json          the cold address, as `bulwark cold set-address` writes it
//
// The keystore is made by a short-lived child (src/signer/cold-main.ts) under the demo wallets'
// passphrase, so the cold seed is never in the exchange process's memory (as the hot seeds are
// made by `signer init` children); only the address comes back. An existing cold.json is left
// alone, and a cold.json lost while its keystore stays is rewritten from that same keystore:
// restarts never make new keys.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { COLD_CHAINS, COLD_PASSPHRASE_ENV } from "../../signer/cold-keys.ts";
import { KEYSTORE_FILE } from "../../signer/keystore.ts";
import { ensurePrivateDir } from "../../signer/state.ts";
import { writeColdAddressFile } from "../cold-address.ts";
import { readColdAddress } from "../custody.ts";
import { childEntry, DEMO_SCRYPT } from "../signers.ts";

/** Appended to the data dir's path: the demo cold keystores' root, beside the data dir. */
export const DEMO_COLD_DIR_SUFFIX = "-demo-cold";
/** Longest the keygen child may take: a cold start through tsx plus a small scrypt per chain. */
export const DEMO_COLD_KEYGEN_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 64 * 1024;
const MAX_STDERR_BYTES = 4_096;

/** A devnet chain as far as the cold wallet needs it: its name and its address check. */
export interface ColdWalletChain {
  chain: string;
  normalizeAddress(address: string): string | null;
}

export interface DemoColdWallet {
  chain: string;
  address: string | null;
  /** The demo cold keystore's directory, or null when the chain's cold address is not the demo's. */
  keystoreDir: string | null;
}

/** `<data-dir>-demo-cold`: beside the data dir, never inside it. */
export function demoColdRoot(dataDir: string): string {
  const root = `${resolve(dataDir)}${DEMO_COLD_DIR_SUFFIX}`;
  const inside = relative(resolve(dataDir), root);
  if (inside === "" || !inside.startsWith(".."))
    throw new Error(`the demo cold keystores must not live in the data dir (${root})`);
  return root;
}

export function demoColdKeystoreDir(dataDir: string, chain: string): string {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(chain)) throw new Error(`bad chain name ${JSON.stringify(chain)}`);
  return join(demoColdRoot(dataDir), chain);
}

/** The node arguments that run src/signer/cold-main: from the same tree as this module (dist/ or src/ through tsx). */
/** The keygen child: the built JavaScript when dist/ is current, else the source through tsx. */
function coldMainEntry(): string[] {
  return childEntry("signer/cold-main");
}

/** Runs the keygen child on `pairs` (chain → keystore dir); resolves with chain → address. */
function runColdKeygen(
  pairs: ReadonlyMap<string, string>,
  passphrase: string,
  timeoutMs: number,
): Promise<Map<string, string>> {
  const env: NodeJS.ProcessEnv = { [COLD_PASSPHRASE_ENV]: passphrase };
  for (const name of ["PATH", "HOME", "TMPDIR"]) if (process.env[name]) env[name] = process.env[name];
  const scrypt = `${DEMO_SCRYPT.N}:${DEMO_SCRYPT.r}:${DEMO_SCRYPT.p}`;
  const args = [...coldMainEntry(), "keygen", "--scrypt", scrypt];
  for (const [chain, dir] of pairs) args.push(`${chain}=${dir}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      stdout = (stdout + chunk).slice(0, MAX_OUTPUT_BYTES);
    });
    child.stderr?.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR_BYTES);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`the demo's cold keygen did not start: ${error.message}`));
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const why = timedOut ? `no answer within ${timeoutMs} ms` : (signal ?? `exit ${code}`);
      const detail = stderr.trim() === "" ? "" : `: ${stderr.trim().slice(-1_000)}`;
      if (code !== 0 || timedOut) return reject(new Error(`the demo's cold keygen failed (${why})${detail}`));
      const addresses = new Map<string, string>();
      for (const line of stdout.split("\n")) {
        if (!line.includes('"cold-keygen"')) continue;
        const answer = JSON.parse(line) as { chain?: unknown; address?: unknown };
        if (typeof answer.chain === "string" && typeof answer.address === "string")
          addresses.set(answer.chain, answer.address);
      }
      resolvePromise(addresses);
    });
  });
}

/**
 * Demo mode, before the signers start: every chain of `chains` without a cold address gets one
 * from its demo cold keystore (made by a child process under `passphrase`, the demo wallets'),
 * written to `<data-dir>/custody/<chain>.cold.json`. Returns the chains it wrote an address for.
 */
export async function ensureDemoColdWallets(
  dataDir: string,
  passphrase: string,
  chains: readonly ColdWalletChain[],
  timeoutMs: number = DEMO_COLD_KEYGEN_TIMEOUT_MS,
): Promise<string[]> {
  if (passphrase === "") throw new Error("the demo cold keystores need a passphrase");
  const known = new Set(COLD_CHAINS.map((chain) => chain.name));
  const missing = chains.filter(
    (chain) => known.has(chain.chain) && readColdAddress(dataDir, chain.chain) === null,
  );
  if (missing.length === 0) return [];
  ensurePrivateDir(demoColdRoot(dataDir), "demo cold keystores directory");
  const pairs = new Map(missing.map((chain) => [chain.chain, demoColdKeystoreDir(dataDir, chain.chain)]));
  const addresses = await runColdKeygen(pairs, passphrase, timeoutMs);
  for (const chain of missing) {
    const address = addresses.get(chain.chain);
    if (address === undefined) throw new Error(`the demo's cold keygen printed no ${chain.chain} address`);
    if (chain.normalizeAddress(address) !== address)
      throw new Error(
        `the demo's cold keygen printed ${JSON.stringify(address.slice(0, 120))}, not a ${chain.chain} address`,
      );
  }
  for (const chain of missing)
    writeColdAddressFile(dataDir, chain.chain, addresses.get(chain.chain) as string);
  return missing.map((chain) => chain.chain);
}

/** Each chain's cold address and, when it came from the demo, where its keystore is (the start banner). */
export function coldWalletsOf(dataDir: string, chains: readonly string[]): DemoColdWallet[] {
  return chains.map((chain) => {
    const address = readColdAddress(dataDir, chain);
    const dir = demoColdKeystoreDir(dataDir, chain);
    return {
      chain,
      address,
      keystoreDir: address !== null && existsSync(join(dir, KEYSTORE_FILE)) ? dir : null,
    };
  });
}

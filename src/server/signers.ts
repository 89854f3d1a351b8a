// The chain signers of the embedded exchange: their files under the data dir, `wallet init`,
// the demo wallets, custody's policy key, and the supervisor that runs one signer process per
// chain (src/signer/main.ts) and restarts it when it dies.
//
//   <data-dir>/custody/policy.key            custody's Ed25519 policy secret key (hex, 0600)
//   <data-dir>/custody/<chain>.pub.json       the public keys `wallet init` exported (after `wallet rotate`:
//                                             the active generation's); custody reads only these
//   <data-dir>/custody/<chain>.generations.json  after `wallet rotate`: every generation's public keys,
//                                             the active one marked (written before pub.json)
//   <data-dir>/signers/<chain>/               0700, the signer's alone:
//       keystore/keystore.json                the hot seed under scrypt + AES-256-GCM
//       state/                                its signature log and lock
//       signer.json                           its config, written by the supervisor at each start
//       signer.sock                           its Unix socket (0600)
//   <data-dir>/signers/demo-passphrase        DEMO ONLY (0600): the keystores' passphrase of a
//                                             demo data dir. A production operator gives the
//                                             passphrase by env or prompt and never writes it down.
//
// The passphrase reaches a signer only through its environment (BULWARK_SIGNER_PASSPHRASE, which
// the signer removes once read), never argv nor a file. The supervisor keeps it in memory to
// restart a signer that died. The child's environment is otherwise PATH, HOME and TMPDIR: the
// server's own secrets (DATABASE_URL, BULWARK_SERVER_KEY, …) stay out of the signer.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ed25519 } from "@noble/curves/ed25519.js";
import type { ExportedPublicKey } from "../chains/signing.ts";
import { parseSignerConfig } from "../signer/config.ts";
import {
  DEFAULT_SCRYPT,
  KEYSTORE_FILE,
  Keystore,
  MAX_KEYSTORE_GENERATIONS,
  type ScryptParams,
} from "../signer/keystore.ts";
import { BUILTIN_SIGNING_PLUGINS } from "../signer/plugins.ts";
import type { AssetCaps } from "../signer/policy.ts";
import { ensurePrivateDir, requireOwnerOnly } from "../signer/state.ts";

export const SIGNERS_DIR_NAME = "signers";
export const CUSTODY_DIR_NAME = "custody";
export const POLICY_KEY_FILE_NAME = "policy.key";
export const DEMO_PASSPHRASE_FILE_NAME = "demo-passphrase";
export const SIGNER_PASSPHRASE_ENV = "BULWARK_SIGNER_PASSPHRASE";
/** The chains `wallet init` and the supervisor serve (the embedded devnet). */
export const WALLET_CHAINS = ["devnet-btc", "devnet-eth"] as const;
/** Demo wallets: 2^14 × 8 × 128 B = 16 MiB, tens of milliseconds; still a real KDF. */
export const DEMO_SCRYPT: ScryptParams = { N: 2 ** 14, r: 8, p: 1 };
/** sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), including the NUL. */
const MAX_SOCKET_PATH_BYTES = 103;

export interface SignerPaths {
  dir: string;
  keystoreDir: string;
  stateDir: string;
  configPath: string;
  socketPath: string;
  publicKeysPath: string;
  /** Every wallet generation's public keys; absent until the first `wallet rotate`. */
  generationsPath: string;
  /** The config of the short-lived `signer rotate` child (the running signer's stays as it is). */
  rotateConfigPath: string;
}

function checkChainName(chain: string): void {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(chain)) throw new Error(`bad chain name ${JSON.stringify(chain)}`);
}

export function signerPaths(dataDir: string, chain: string): SignerPaths {
  checkChainName(chain);
  const dir = join(dataDir, SIGNERS_DIR_NAME, chain);
  return {
    dir,
    keystoreDir: join(dir, "keystore"),
    stateDir: join(dir, "state"),
    configPath: join(dir, "signer.json"),
    socketPath: join(dir, "signer.sock"),
    publicKeysPath: join(dataDir, CUSTODY_DIR_NAME, `${chain}.pub.json`),
    generationsPath: join(dataDir, CUSTODY_DIR_NAME, `${chain}.generations.json`),
    rotateConfigPath: join(dir, "rotate.json"),
  };
}

/** Writes `text` to `path` (0600) through a temporary file and a rename, both fsynced. */
function writeFileAtomic(path: string, text: string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

// ---- custody's policy key ------------------------------------------------------------------

/**
 * Custody's Ed25519 policy key (it signs intents; each signer's config holds the public half):
 * read from <data-dir>/custody/policy.key, or created there (0600, never overwritten).
 */
export function loadOrCreatePolicyKey(dataDir: string): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const dir = join(dataDir, CUSTODY_DIR_NAME);
  ensurePrivateDir(dir, "custody directory");
  const path = join(dir, POLICY_KEY_FILE_NAME);
  if (!existsSync(path)) {
    const secret = ed25519.utils.randomSecretKey();
    try {
      // O_EXCL: a key another process wrote a moment ago is the one to use, never replaced.
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        writeSync(fd, `${Buffer.from(secret).toString("hex")}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  requireOwnerOnly(path, "custody policy key");
  const text = readFileSync(path, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(text))
    throw new Error(`${path} is not an Ed25519 secret key (64 lowercase hex digits)`);
  const secretKey = new Uint8Array(Buffer.from(text, "hex"));
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

// ---- wallets -------------------------------------------------------------------------------

/** `wallet init` on a chain whose wallet exists. */
export class WalletExistsError extends Error {
  override name = "WalletExistsError";
}

export interface WalletInit {
  chain: string;
  publicKeys: ExportedPublicKey[];
  keystoreDir: string;
  publicKeysPath: string;
  /** False when the keystore existed and only its public keys were missing (written now). */
  created: boolean;
}

function pluginOf(chain: string) {
  checkChainName(chain);
  const plugin = BUILTIN_SIGNING_PLUGINS.find((candidate) => candidate.chain === chain);
  if (plugin === undefined)
    throw new Error(
      `no signing plugin for chain ${chain} (known: ${BUILTIN_SIGNING_PLUGINS.map((p) => p.chain).join(", ")})`,
    );
  return plugin;
}

export function isWalletInitialised(dataDir: string, chain: string): boolean {
  return existsSync(join(signerPaths(dataDir, chain).keystoreDir, KEYSTORE_FILE));
}

/**
 * Creates the chain's keystore from 32 bytes of fresh entropy under `passphrase` and writes the
 * exported public keys to <data-dir>/custody/<chain>.pub.json. Refuses (WalletExistsError) when
 * both exist. A keystore whose public keys were never written (a crash between the two) is opened
 * with the passphrase and its keys written: nothing new is created then.
 */
export function initWallet(
  dataDir: string,
  chain: string,
  passphrase: string,
  scrypt: ScryptParams = DEFAULT_SCRYPT,
): WalletInit {
  const plugin = pluginOf(chain);
  const paths = signerPaths(dataDir, chain);
  ensurePrivateDir(join(dataDir, SIGNERS_DIR_NAME), "signers directory");
  ensurePrivateDir(paths.dir, "signer directory");
  ensurePrivateDir(join(dataDir, CUSTODY_DIR_NAME), "custody directory");
  const exists = isWalletInitialised(dataDir, chain);
  if (exists && existsSync(paths.publicKeysPath))
    throw new WalletExistsError(
      `the ${chain} wallet exists (${join(paths.keystoreDir, KEYSTORE_FILE)}); refusing to replace its seed`,
    );
  let keystore: Keystore;
  if (exists) {
    keystore = Keystore.open(paths.keystoreDir, passphrase);
  } else {
    const entropy = randomBytes(32);
    try {
      // Written, read back and decrypted before any public key leaves: no addresses are handed
      // out for a keystore that cannot be opened.
      keystore = Keystore.create(paths.keystoreDir, passphrase, entropy, scrypt);
    } finally {
      entropy.fill(0);
    }
  }
  let publicKeys: ExportedPublicKey[];
  try {
    publicKeys = keystore.exportPublicKeys(plugin);
  } finally {
    keystore.close();
  }
  for (const key of publicKeys)
    if (/prv/.test(key.key.slice(0, 4))) throw new Error(`the ${chain} plugin exported a private key`);
  writeFileAtomic(paths.publicKeysPath, `${JSON.stringify(publicKeys, null, 2)}\n`);
  return {
    chain,
    publicKeys,
    keystoreDir: paths.keystoreDir,
    publicKeysPath: paths.publicKeysPath,
    created: !exists,
  };
}

/**
 * Demo data dirs only: the keystores' passphrase is random and kept in
 * <data-dir>/signers/demo-passphrase (0600) so the demo starts unattended; every chain of
 * `chains` without a wallet gets one (cheap scrypt). Refuses a data dir whose wallets exist
 * without that file: they were made by an operator, whose passphrase is not written anywhere.
 */
export function ensureDemoWallets(
  dataDir: string,
  chains: readonly string[] = WALLET_CHAINS,
): { passphrase: string; initialised: string[] } {
  const signersDir = join(dataDir, SIGNERS_DIR_NAME);
  ensurePrivateDir(signersDir, "signers directory");
  const path = join(signersDir, DEMO_PASSPHRASE_FILE_NAME);
  if (!existsSync(path)) {
    const existing = chains.filter((chain) => isWalletInitialised(dataDir, chain));
    if (existing.length > 0)
      throw new Error(
        `the ${existing.join(", ")} wallet(s) of ${dataDir} were not made by demo mode (no ${path}); ` +
          `start the server with ${SIGNER_PASSPHRASE_ENV} set instead`,
      );
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, `${randomBytes(24).toString("base64url")}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  requireOwnerOnly(path, "demo passphrase file");
  const passphrase = readFileSync(path, "utf8").replace(/\r?\n$/, "");
  const initialised: string[] = [];
  for (const chain of chains) {
    if (isWalletInitialised(dataDir, chain) && existsSync(signerPaths(dataDir, chain).publicKeysPath))
      continue;
    initWallet(dataDir, chain, passphrase, DEMO_SCRYPT);
    initialised.push(chain);
  }
  return { passphrase, initialised };
}

/** Longest a signer `init` child may take (scrypt and a cold start through tsx on a slow machine). */
const ISOLATED_INIT_TIMEOUT_MS = 120_000;

/**
 * As initWallet, but the seed is made by a short-lived signer process (`signer init`), so it never
 * exists in this process's memory: the exchange process starts the demo's wallets this way (a
 * heap dump of the exchange must hold no seed). Writes the signer's config (its caps are the
 * supervisor's to set later) and, from the child's answer, the public keys.
 */
export async function initWalletIsolated(
  dataDir: string,
  chain: string,
  passphrase: string,
  policyPublicKeyHex: string,
  scrypt: ScryptParams = DEFAULT_SCRYPT,
): Promise<WalletInit> {
  const plugin = pluginOf(chain);
  const paths = signerPaths(dataDir, chain);
  ensurePrivateDir(join(dataDir, SIGNERS_DIR_NAME), "signers directory");
  ensurePrivateDir(paths.dir, "signer directory");
  ensurePrivateDir(join(dataDir, CUSTODY_DIR_NAME), "custody directory");
  if (isWalletInitialised(dataDir, chain))
    throw new WalletExistsError(
      `the ${chain} wallet exists (${paths.keystoreDir}); refusing to replace its seed`,
    );
  const config = {
    chain: plugin.chain,
    socketPath: paths.socketPath,
    stateDir: paths.stateDir,
    keystoreDir: paths.keystoreDir,
    policyPublicKey: policyPublicKeyHex,
    caps: {},
    coldAddresses: [],
    passphraseEnv: SIGNER_PASSPHRASE_ENV,
    scrypt,
  };
  parseSignerConfig(config);
  writeFileAtomic(paths.configPath, `${JSON.stringify(config, null, 2)}\n`);
  const output = await runSignerChild(chain, ["init", "--config", paths.configPath], passphrase);
  const line = output.split("\n").find((text) => text.includes('"initialized"'));
  const answer = JSON.parse(line ?? "{}") as { publicKeys?: ExportedPublicKey[] };
  const publicKeys = answer.publicKeys ?? [];
  if (publicKeys.length === 0) throw new Error(`signer init for ${chain} printed no public keys`);
  checkPublicKeys(chain, publicKeys);
  writeFileAtomic(paths.publicKeysPath, `${JSON.stringify(publicKeys, null, 2)}\n`);
  return {
    chain,
    publicKeys,
    keystoreDir: paths.keystoreDir,
    publicKeysPath: paths.publicKeysPath,
    created: true,
  };
}

function checkPublicKeys(chain: string, publicKeys: readonly ExportedPublicKey[]): void {
  for (const key of publicKeys)
    if (typeof key?.key !== "string" || typeof key.label !== "string" || /prv/.test(key.key.slice(0, 4)))
      throw new Error(`the ${chain} signer exported something other than a public key`);
}

/** Runs a short-lived signer child (`init`, `rotate`) with the passphrase in its env; resolves with its stdout. */
function runSignerChild(chain: string, args: string[], passphrase: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { [SIGNER_PASSPHRASE_ENV]: passphrase };
  for (const name of ["PATH", "HOME", "TMPDIR"]) if (process.env[name]) env[name] = process.env[name];
  return new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [...signerEntry(), ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      stdout = (stdout + chunk).slice(-MAX_LINE_BYTES);
    });
    child.stderr?.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR_BYTES);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), ISOLATED_INIT_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else
        reject(
          new SignerChildError(
            `signer ${args[0]} for ${chain} failed (${signal ?? `exit ${code}`})${tail(stderr)}`,
            stderr,
          ),
        );
    });
  });
}

/** A short-lived signer child failed; `stderr` says why (a wrong passphrase, say). */
export class SignerChildError extends Error {
  override name = "SignerChildError";
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

// ---- wallet generations (`wallet rotate`) ---------------------------------------------------

export interface WalletGeneration {
  generation: number;
  publicKeys: ExportedPublicKey[];
  /** When custody published it (ms since the epoch); 0 for generation 0 of a wallet made before rotations. */
  createdMs: number;
}

/** `<chain>.generations.json`: every generation, `active` the one custody pays into and hands out. */
export interface WalletGenerations {
  version: 1;
  chain: string;
  active: number;
  generations: WalletGeneration[];
}

/** The wallet's generations: the generations file, or generation 0 alone from pub.json; null without a wallet. */
export function readWalletGenerations(dataDir: string, chain: string): WalletGenerations | null {
  const paths = signerPaths(dataDir, chain);
  if (existsSync(paths.generationsPath)) {
    const parsed = JSON.parse(readFileSync(paths.generationsPath, "utf8")) as WalletGenerations;
    const ok =
      parsed?.version === 1 &&
      parsed.chain === chain &&
      Array.isArray(parsed.generations) &&
      parsed.generations.length >= 1 &&
      parsed.generations.length <= MAX_KEYSTORE_GENERATIONS &&
      parsed.generations.every((entry, i) => entry?.generation === i && Array.isArray(entry.publicKeys)) &&
      parsed.active === parsed.generations.length - 1;
    if (!ok) throw new Error(`${paths.generationsPath} is not a wallet generations file of ${chain}`);
    for (const entry of parsed.generations) checkPublicKeys(chain, entry.publicKeys);
    return parsed;
  }
  if (!existsSync(paths.publicKeysPath)) return null;
  const publicKeys = JSON.parse(readFileSync(paths.publicKeysPath, "utf8")) as ExportedPublicKey[];
  if (!Array.isArray(publicKeys)) throw new Error(`${paths.publicKeysPath} is not a list of public keys`);
  checkPublicKeys(chain, publicKeys);
  return { version: 1, chain, active: 0, generations: [{ generation: 0, publicKeys, createdMs: 0 }] };
}

/** `wallet rotate` on a chain without a wallet (or with a keystore custody never published). */
export class WalletNotInitialisedError extends Error {
  override name = "WalletNotInitialisedError";
}

export interface WalletRotation {
  chain: string;
  /** The new active generation. */
  generation: number;
  /** Its public keys (what pub.json now holds). */
  publicKeys: ExportedPublicKey[];
  /** False when the keystore already held it (a rotation that stopped before publishing): only published now. */
  created: boolean;
  generationsPath: string;
}

function sameKeys(a: readonly ExportedPublicKey[], b: readonly ExportedPublicKey[]): boolean {
  return a.length === b.length && a.every((key, i) => key.label === b[i].label && key.key === b[i].key);
}

/**
 * `wallet rotate`: a short-lived `signer rotate` child adds a wallet generation (a fresh seed, the
 * next derivation accounts) to the chain's keystore and prints every generation's public keys, so
 * no seed is ever in this process's memory. Checked against what custody published (the same
 * keystore), then written: the generations file first, then pub.json (the active keys). Running
 * it again after a crash between the two publishes the generation already made instead of adding
 * another. The running signer learns the generation only when it restarts (SignerSupervisor.restart).
 */
export async function rotateWalletIsolated(
  dataDir: string,
  chain: string,
  passphrase: string,
  policyPublicKeyHex: string,
  clock: () => number = Date.now,
): Promise<WalletRotation> {
  const plugin = pluginOf(chain);
  const paths = signerPaths(dataDir, chain);
  const published = isWalletInitialised(dataDir, chain) ? readWalletGenerations(dataDir, chain) : null;
  if (published === null)
    throw new WalletNotInitialisedError(
      `the ${chain} wallet is not initialised: run \`bulwark wallet init --chain ${chain}\` first`,
    );
  if (published.generations.length >= MAX_KEYSTORE_GENERATIONS)
    throw new Error(`the ${chain} wallet has ${published.generations.length} generations, the most it may`);
  // The new generation's KDF is the first one's (the demo's cheap one stays cheap, an operator's strong).
  const header = JSON.parse(readFileSync(join(paths.keystoreDir, KEYSTORE_FILE), "utf8")) as {
    kdf?: { N?: unknown; r?: unknown; p?: unknown };
  };
  const scrypt = { N: Number(header.kdf?.N), r: Number(header.kdf?.r), p: Number(header.kdf?.p) };
  const config = {
    chain: plugin.chain,
    socketPath: paths.socketPath,
    stateDir: paths.stateDir,
    keystoreDir: paths.keystoreDir,
    policyPublicKey: policyPublicKeyHex,
    caps: {},
    coldAddresses: [],
    passphraseEnv: SIGNER_PASSPHRASE_ENV,
    scrypt,
  };
  parseSignerConfig(config);
  writeFileAtomic(paths.rotateConfigPath, `${JSON.stringify(config, null, 2)}\n`);
  const output = await runSignerChild(
    chain,
    ["rotate", "--generations", String(published.generations.length), "--config", paths.rotateConfigPath],
    passphrase,
  );
  const line = output.split("\n").find((text) => text.includes('"rotated"'));
  const answer = JSON.parse(line ?? "{}") as { created?: unknown; generations?: ExportedPublicKey[][] };
  const generations = answer.generations;
  if (!Array.isArray(generations) || generations.length !== published.generations.length + 1)
    throw new Error(
      `signer rotate for ${chain} did not print ${published.generations.length + 1} generations`,
    );
  for (const keys of generations) checkPublicKeys(chain, keys);
  // The keystore rotated must be the one custody's addresses come from.
  published.generations.forEach((entry, i) => {
    if (!sameKeys(entry.publicKeys, generations[i]))
      throw new Error(
        `the ${chain} keystore's generation ${i} does not match custody's published public keys; nothing was published`,
      );
  });
  const generation = published.generations.length;
  const publicKeys = generations[generation];
  const next: WalletGenerations = {
    version: 1,
    chain,
    active: generation,
    generations: [...published.generations, { generation, publicKeys, createdMs: clock() }],
  };
  writeFileAtomic(paths.generationsPath, `${JSON.stringify(next, null, 2)}\n`);
  writeFileAtomic(paths.publicKeysPath, `${JSON.stringify(publicKeys, null, 2)}\n`);
  return {
    chain,
    generation,
    publicKeys,
    created: answer.created === true,
    generationsPath: paths.generationsPath,
  };
}

/**
 * ensureDemoWallets for the exchange process: the same passphrase file, but each missing wallet is
 * made by a signer `init` child (initWalletIsolated), so no seed is ever in the exchange's memory.
 */
export async function ensureDemoWalletsIsolated(
  dataDir: string,
  policyPublicKeyHex: string,
  chains: readonly string[] = WALLET_CHAINS,
): Promise<{ passphrase: string; initialised: string[] }> {
  const { passphrase } = ensureDemoWallets(dataDir, []);
  const initialised: string[] = [];
  await Promise.all(
    chains.map(async (chain) => {
      if (isWalletInitialised(dataDir, chain) && existsSync(signerPaths(dataDir, chain).publicKeysPath))
        return;
      if (isWalletInitialised(dataDir, chain))
        throw new Error(
          `the ${chain} keystore has no public-key file: run \`bulwark wallet init --chain ${chain}\` again`,
        );
      await initWalletIsolated(dataDir, chain, passphrase, policyPublicKeyHex, DEMO_SCRYPT);
      initialised.push(chain);
    }),
  );
  return { passphrase, initialised };
}

// ---- the supervisor ------------------------------------------------------------------------

export interface SignerChainOptions {
  chain: string;
  /** Per asset, in base units. */
  caps: ReadonlyMap<string, AssetCaps>;
  coldAddresses: readonly string[];
}

export type SignerEvent =
  | { type: "ready"; chain: string; pid: number; restart: boolean }
  | { type: "exited"; chain: string; pid: number; code: number | null; signal: string | null; stderr: string }
  | { type: "restarting"; chain: string; delayMs: number; restartsInLastMinute: number }
  | { type: "restart-failed"; chain: string; error: string }
  | { type: "gave-up"; chain: string; restartsInLastMinute: number };

export interface SignerSupervisorOptions {
  dataDir: string;
  chains: readonly SignerChainOptions[];
  passphrase: string;
  /** Custody's policy public key, 64 lowercase hex digits. */
  policyPublicKeyHex: string;
  /** From spawn to the signer's ready line (keystore opened, socket listening); default 60 s. */
  readyTimeoutMs?: number;
  /** From SIGTERM to SIGKILL in stop(); default 5 s. */
  stopTimeoutMs?: number;
  /** Restarts of one chain's signer within a minute before giving up (1..100); default 5. */
  maxRestartsPerMinute?: number;
  /** The first restart's delay, doubled for each restart in the last minute up to 30 s; default 250 ms. */
  restartBaseDelayMs?: number;
  /** Lifecycle reports (a crash, a restart, giving up); default: one JSON line on stderr. */
  onEvent?: (event: SignerEvent) => void;
}

export class SignerStartError extends Error {
  override name = "SignerStartError";
  constructor(
    readonly chain: string,
    message: string,
  ) {
    super(`the ${chain} signer did not start: ${message}`);
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** A guard on the walk of src/ when checking dist/ is current, not a style rule. */
const MAX_SOURCE_FILES = 10_000;
const MAX_STDERR_BYTES = 4_096;
/** Longest stdout line read while waiting for the ready line. */
const MAX_LINE_BYTES = 64 * 1024;
const MAX_RESTART_DELAY_MS = 30_000;
const RESTART_WINDOW_MS = 60_000;

/** True when dist/ holds `builtFile` and was built after every file under src/ changed (bin/bulwark.mjs's rule). */
function distIsCurrent(builtFile: string): boolean {
  let builtMs: number;
  try {
    builtMs = statSync(join(ROOT, "dist", ".build-stamp")).mtimeMs;
  } catch {
    return false;
  }
  let seen = 0;
  const newer = (dir: string): boolean => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (++seen > MAX_SOURCE_FILES) return true;
      const path = join(dir, entry.name);
      if (entry.isDirectory() ? newer(path) : statSync(path).mtimeMs > builtMs) return true;
    }
    return false;
  };
  return existsSync(builtFile) && !newer(join(ROOT, "src"));
}

/**
 * The node arguments that run a child's entry module (`module` under src/ without its extension,
 * e.g. "signer/main"): the built JavaScript when dist/ is current, else the source through tsx.
 */
export function childEntry(module: string): string[] {
  const built = join(ROOT, "dist", `${module}.js`);
  if (process.env.BULWARK_FROM_SOURCE !== "1" && distIsCurrent(built)) return [built];
  let tsx: string;
  try {
    tsx = createRequire(import.meta.url).resolve("tsx");
  } catch {
    throw new Error("dist/ is not built (or older than src/) and tsx is not installed: run `npm run build`");
  }
  return ["--import", pathToFileURL(tsx).href, join(ROOT, "src", `${module}.ts`)];
}

/** The node arguments that run the signer. */
function signerEntry(): string[] {
  return childEntry("signer/main");
}

function capsJson(caps: ReadonlyMap<string, AssetCaps>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [asset, cap] of caps)
    out[asset] = {
      perTransaction: cap.perTransaction.toString(),
      per10m: cap.per10m.toString(),
      per1h: cap.per1h.toString(),
      per24h: cap.per24h.toString(),
    };
  return out;
}

function boundedInteger(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${n}`);
  return n;
}

interface Handle {
  chain: string;
  paths: SignerPaths;
  child: ChildProcess | null;
  up: boolean;
  /** Became ready at least once: from then on a death is restarted, not reported to start(). */
  started: boolean;
  gaveUp: boolean;
  restartTimes: number[];
  restartTimer: NodeJS.Timeout | null;
  stderr: string;
}

export class SignerSupervisor {
  private readonly handles = new Map<string, Handle>();
  private stopping = false;
  private readonly entry: string[];
  private readonly readyTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly maxRestartsPerMinute: number;
  private readonly restartBaseDelayMs: number;
  private readonly onEvent: (event: SignerEvent) => void;

  private constructor(private readonly options: SignerSupervisorOptions) {
    this.readyTimeoutMs = boundedInteger(options.readyTimeoutMs, 60_000, 100, 600_000, "readyTimeoutMs");
    this.stopTimeoutMs = boundedInteger(options.stopTimeoutMs, 5_000, 10, 600_000, "stopTimeoutMs");
    this.maxRestartsPerMinute = boundedInteger(
      options.maxRestartsPerMinute,
      5,
      1,
      100,
      "maxRestartsPerMinute",
    );
    this.restartBaseDelayMs = boundedInteger(
      options.restartBaseDelayMs,
      250,
      1,
      MAX_RESTART_DELAY_MS,
      "restartBaseDelayMs",
    );
    this.onEvent =
      options.onEvent ?? ((event) => process.stderr.write(`${JSON.stringify({ signer: event })}\n`));
    this.entry = signerEntry();
  }

  /**
   * Writes each chain's signer.json and starts its signer, resolving once every one is ready.
   * Rejects with SignerStartError (stopping those already started) when one cannot start: no
   * wallet, a wrong passphrase, a bad config, no ready line in time.
   */
  static async start(options: SignerSupervisorOptions): Promise<SignerSupervisor> {
    if (typeof options.passphrase !== "string" || options.passphrase === "")
      throw new Error("the signers' passphrase is required");
    const chains = new Set(options.chains.map((entry) => entry.chain));
    if (chains.size !== options.chains.length) throw new Error("a chain is listed twice");
    const supervisor = new SignerSupervisor(options);
    try {
      for (const entry of options.chains) supervisor.prepare(entry);
      await Promise.all([...supervisor.handles.values()].map((handle) => supervisor.launch(handle)));
    } catch (error) {
      await supervisor.stop();
      throw error;
    }
    return supervisor;
  }

  /** The chain's socket path (whether or not its signer is up). */
  socketPath(chain: string): string {
    return this.handle(chain).paths.socketPath;
  }

  /** Whether the chain's signer is running and has said it is ready. */
  isUp(chain: string): boolean {
    return this.handle(chain).up;
  }

  /** The supervised chains. */
  chains(): string[] {
    return [...this.handles.keys()];
  }

  /** Per chain: up, its pid, restarts in the last minute, and whether the supervisor gave up. */
  status(): {
    chain: string;
    up: boolean;
    pid: number | null;
    restartsInLastMinute: number;
    gaveUp: boolean;
  }[] {
    const now = Date.now();
    return [...this.handles.values()].map((handle) => ({
      chain: handle.chain,
      up: handle.up,
      pid: handle.child?.pid ?? null,
      restartsInLastMinute: handle.restartTimes.filter((at) => at > now - RESTART_WINDOW_MS).length,
      gaveUp: handle.gaveUp,
    }));
  }

  /**
   * Stops the chain's signer and starts it again, resolving once it is ready: how a running server's
   * signer learns a wallet generation `wallet rotate` added (the keystore is read at start only).
   * Signing requests in between fail and are retried by custody, like during a crash restart.
   */
  async restart(chain: string): Promise<void> {
    const handle = this.handle(chain);
    if (this.stopping) throw new Error("the signers are stopping");
    if (handle.restartTimer) clearTimeout(handle.restartTimer);
    handle.restartTimer = null;
    const child = handle.child;
    // Detached first: its exit is this restart's, not a crash to restart after.
    handle.child = null;
    handle.up = false;
    if (child !== null && child.exitCode === null && child.signalCode === null) await this.terminate(child);
    handle.gaveUp = false;
    await this.launch(handle);
  }

  private async terminate(child: ChildProcess): Promise<void> {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      child.kill("SIGKILL");
      await exited;
    }
  }

  /** SIGTERM to every signer, SIGKILL to one still running after stopTimeoutMs; no restarts after. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.handles.values()].map(async (handle) => {
        if (handle.restartTimer) clearTimeout(handle.restartTimer);
        handle.restartTimer = null;
        const child = handle.child;
        handle.up = false;
        if (child === null || child.exitCode !== null || child.signalCode !== null) return;
        await this.terminate(child);
      }),
    );
  }

  private handle(chain: string): Handle {
    const handle = this.handles.get(chain);
    if (handle === undefined) throw new Error(`no signer is supervised for ${chain}`);
    return handle;
  }

  /** Checks the wallet, writes signer.json (validated as the signer will read it). */
  private prepare(entry: SignerChainOptions): void {
    const { dataDir } = this.options;
    pluginOf(entry.chain);
    const paths = signerPaths(dataDir, entry.chain);
    if (!isWalletInitialised(dataDir, entry.chain))
      throw new SignerStartError(
        entry.chain,
        `no wallet: run \`bulwark wallet init --chain ${entry.chain}\``,
      );
    if (Buffer.byteLength(paths.socketPath) > MAX_SOCKET_PATH_BYTES)
      throw new SignerStartError(
        entry.chain,
        `the socket path ${paths.socketPath} is over ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter data dir path`,
      );
    ensurePrivateDir(paths.dir, "signer directory");
    const config = {
      chain: entry.chain,
      socketPath: paths.socketPath,
      stateDir: paths.stateDir,
      keystoreDir: paths.keystoreDir,
      policyPublicKey: this.options.policyPublicKeyHex,
      caps: capsJson(entry.caps),
      coldAddresses: [...entry.coldAddresses],
      passphraseEnv: SIGNER_PASSPHRASE_ENV,
    };
    try {
      parseSignerConfig(config);
    } catch (error) {
      throw new SignerStartError(entry.chain, (error as Error).message);
    }
    writeFileAtomic(paths.configPath, `${JSON.stringify(config, null, 2)}\n`);
    this.handles.set(entry.chain, {
      chain: entry.chain,
      paths,
      child: null,
      up: false,
      started: false,
      gaveUp: false,
      restartTimes: [],
      restartTimer: null,
      stderr: "",
    });
  }

  /** Spawns the chain's signer and resolves when it is ready; rejects (child killed) otherwise. */
  private launch(handle: Handle): Promise<void> {
    const env: NodeJS.ProcessEnv = { [SIGNER_PASSPHRASE_ENV]: this.options.passphrase };
    for (const name of ["PATH", "HOME", "TMPDIR"]) if (process.env[name]) env[name] = process.env[name];
    const child = spawn(
      process.execPath,
      [...this.entry, "run", "--exit-with-stdin", "--config", handle.paths.configPath],
      { env, stdio: ["pipe", "pipe", "pipe"] },
    );
    handle.child = child;
    handle.stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      handle.stderr = (handle.stderr + chunk).slice(-MAX_STDERR_BYTES);
    });
    child.stdin?.on("error", () => {});
    child.on("exit", (code, signal) => this.exited(handle, child, code, signal));
    return new Promise<void>((resolve, reject) => {
      let line = "";
      let settled = false;
      const fail = (message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        reject(new SignerStartError(handle.chain, message));
      };
      const timer = setTimeout(
        () => fail(`no ready line within ${this.readyTimeoutMs} ms${tail(handle.stderr)}`),
        this.readyTimeoutMs,
      );
      child.stdout?.setEncoding("utf8");
      child.stdout?.on("data", (chunk: string) => {
        if (settled) return;
        line += chunk;
        const end = line.indexOf("\n");
        if (end < 0) {
          if (line.length > MAX_LINE_BYTES) fail("its first line is too long");
          return;
        }
        let ready: { event?: unknown; socket?: unknown };
        try {
          ready = JSON.parse(line.slice(0, end));
        } catch {
          return fail(`its first line is not JSON: ${line.slice(0, Math.min(end, 200))}`);
        }
        if (ready.event !== "ready" || ready.socket !== handle.paths.socketPath)
          return fail(`unexpected first line ${line.slice(0, Math.min(end, 200))}`);
        // The signer made its socket owner-only; anything else is not a signer to trust.
        let mode: number;
        try {
          mode = statSync(handle.paths.socketPath).mode & 0o777;
        } catch (error) {
          return fail(`its socket is not there: ${(error as Error).message}`);
        }
        if (mode !== 0o600) return fail(`its socket has mode ${mode.toString(8)}, not 600`);
        settled = true;
        clearTimeout(timer);
        const restart = handle.started;
        handle.started = true;
        handle.up = true;
        this.onEvent({ type: "ready", chain: handle.chain, pid: child.pid ?? -1, restart });
        resolve();
      });
      child.once("exit", (code, signal) =>
        fail(`exited (${signal ?? `code ${code}`}) before it was ready${tail(handle.stderr)}`),
      );
      child.once("error", (error) => fail(error.message));
    });
  }

  private exited(handle: Handle, child: ChildProcess, code: number | null, signal: string | null): void {
    if (handle.child !== child) return;
    handle.up = false;
    this.onEvent({
      type: "exited",
      chain: handle.chain,
      pid: child.pid ?? -1,
      code,
      signal,
      stderr: handle.stderr,
    });
    if (this.stopping || !handle.started || handle.gaveUp) return;
    const now = Date.now();
    handle.restartTimes = handle.restartTimes.filter((at) => at > now - RESTART_WINDOW_MS);
    if (handle.restartTimes.length >= this.maxRestartsPerMinute) {
      handle.gaveUp = true;
      this.onEvent({
        type: "gave-up",
        chain: handle.chain,
        restartsInLastMinute: handle.restartTimes.length,
      });
      return;
    }
    handle.restartTimes.push(now);
    const delayMs = Math.min(
      this.restartBaseDelayMs * 2 ** (handle.restartTimes.length - 1),
      MAX_RESTART_DELAY_MS,
    );
    this.onEvent({
      type: "restarting",
      chain: handle.chain,
      delayMs,
      restartsInLastMinute: handle.restartTimes.length,
    });
    handle.restartTimer = setTimeout(() => {
      handle.restartTimer = null;
      if (this.stopping) return;
      // A failed launch ends in its child's exit, which schedules the next attempt (or gives up).
      this.launch(handle).catch((error: Error) =>
        this.onEvent({ type: "restart-failed", chain: handle.chain, error: error.message }),
      );
    }, delayMs);
  }
}

function tail(stderr: string): string {
  const text = stderr.trim();
  return text === "" ? "" : `: ${text.slice(-1_000)}`;
}

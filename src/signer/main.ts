// The signer process: `node src/signer/main.ts run --config <file>` (a child of `npm start` in
// embedded mode, or a service on its own host) and `… init --config <file>` (creates the keystore
// from fresh entropy and prints the public keys only). The passphrase comes from the env var the
// config names (default BULWARK_SIGNER_PASSPHRASE), which is removed from the environment once read.
//
// `run` prints one JSON line `{"event":"ready",…}` on stdout once it listens, and stops on SIGTERM
// or SIGINT (closing the socket and the state, wiping the seed). With `--exit-with-stdin` it also
// stops when its stdin closes: a supervisor (src/server/signers.ts) holds the other end, so a
// signer never outlives a parent killed with -9 and keeps its state lock from the next start.

import { randomBytes } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { ChainSigningPlugin } from "../chains/signing.ts";
import { parseSignerConfig, type SignerConfig } from "./config.ts";
import { Keystore, keystoreGenerations } from "./keystore.ts";
import { lockStateDir } from "./lock.ts";
import { BUILTIN_SIGNING_PLUGINS, signingPluginFor } from "./plugins.ts";
import { listenSigner } from "./server.ts";
import { SignerService } from "./service.ts";
import { ensurePrivateDir, SignerState } from "./state.ts";

const USAGE = "usage: signer (run [--exit-with-stdin] | init | rotate --generations <n>) --config <file>";

function readConfig(argv: string[]): SignerConfig {
  const at = argv.indexOf("--config");
  if (at < 0 || !argv[at + 1]) throw new Error(USAGE);
  return parseSignerConfig(JSON.parse(readFileSync(argv[at + 1], "utf8")));
}

function takePassphrase(config: SignerConfig, env: NodeJS.ProcessEnv): string {
  const passphrase = env[config.passphraseEnv];
  delete env[config.passphraseEnv];
  if (!passphrase)
    throw new Error(`the keystore passphrase is expected in the env var ${config.passphraseEnv}`);
  return passphrase;
}

function generationsArgument(argv: string[]): number {
  const at = argv.indexOf("--generations");
  const value = at < 0 ? Number.NaN : Number(argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(USAGE);
  return value;
}

/**
 * `rotate --generations n`: custody has published n generations. When the keystore holds n, a new
 * generation is made from fresh entropy; when it holds n + 1 (a rotation that stopped before its
 * public keys were written), it is only exported. Prints every generation's public keys.
 */
function rotate(
  config: SignerConfig,
  plugin: ChainSigningPlugin,
  passphrase: string,
  published: number,
): void {
  const held = keystoreGenerations(config.keystoreDir);
  if (held !== published && held !== published + 1)
    throw new Error(
      `the keystore holds ${held} generation(s) and custody published ${published}: they do not follow one another`,
    );
  const created = held === published;
  let keystore: Keystore;
  if (created) {
    const entropy = randomBytes(32);
    try {
      keystore = Keystore.addGeneration(config.keystoreDir, passphrase, entropy, config.scrypt);
    } finally {
      entropy.fill(0);
    }
  } else {
    keystore = Keystore.open(config.keystoreDir, passphrase);
  }
  try {
    const generations = keystore.exportGenerationPublicKeys(plugin);
    process.stdout.write(`${JSON.stringify({ event: "rotated", created, generations })}\n`);
  } finally {
    keystore.close();
  }
}

/** Runs the signer command; resolves with a stop function for `run`. An Ethereum chain's plugin is built from the config. */
export async function signerMain(
  argv: string[],
  plugins: readonly ChainSigningPlugin[] = BUILTIN_SIGNING_PLUGINS,
  env: NodeJS.ProcessEnv = process.env,
): Promise<() => void> {
  const command = argv[0];
  if (command !== "run" && command !== "init" && command !== "rotate") throw new Error(USAGE);
  const config = readConfig(argv);
  const plugin = signingPluginFor(config, plugins);
  if (!plugin) throw new Error(`no signing plugin for chain ${config.chain}`);
  const passphrase = takePassphrase(config, env);

  if (command === "init") {
    const keystore = Keystore.create(config.keystoreDir, passphrase, randomBytes(32), config.scrypt);
    process.stdout.write(
      `${JSON.stringify({ event: "initialized", publicKeys: keystore.exportPublicKeys(plugin) })}\n`,
    );
    keystore.close();
    return () => {};
  }
  if (command === "rotate") {
    rotate(config, plugin, passphrase, generationsArgument(argv));
    return () => {};
  }

  const keystore = Keystore.open(config.keystoreDir, passphrase);
  let state: SignerState | undefined;
  let unlock: (() => void) | undefined;
  let server: Awaited<ReturnType<typeof listenSigner>>;
  try {
    ensurePrivateDir(config.stateDir, "signer state directory");
    unlock = lockStateDir(config.stateDir);
    state = SignerState.open(config.stateDir, Date.now(), { seenMarginMs: config.seenMarginMs });
    const service = new SignerService(config, state, plugin, keystore.hotKeys(config.chain));
    server = await listenSigner(config.socketPath, service);
  } catch (error) {
    unlock?.();
    state?.close();
    keystore.close();
    throw error;
  }
  const openState = state;
  process.stdout.write(
    `${JSON.stringify({
      event: "ready",
      chain: config.chain,
      socket: config.socketPath,
      records: openState.recordCount,
      recoveredTornTail: openState.recoveredTornTail,
    })}\n`,
  );
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    server.close();
    try {
      unlinkSync(config.socketPath);
    } catch {
      // already gone
    }
    openState.close();
    unlock?.();
    keystore.close();
  };
  return stop;
}

/** The process entry: `run` stays up until a signal; errors go to stderr with exit code 1. */
export async function runSignerProcess(plugins: readonly ChainSigningPlugin[] = BUILTIN_SIGNING_PLUGINS) {
  try {
    const argv = process.argv.slice(2);
    const stop = await signerMain(argv, plugins);
    if (argv[0] !== "run") return;
    const exit = () => {
      stop();
      process.exit(0);
    };
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, exit);
    if (argv.includes("--exit-with-stdin")) {
      process.stdin.once("end", exit);
      process.stdin.once("close", exit);
      process.stdin.resume();
    }
  } catch (error) {
    process.stderr.write(`signer: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runSignerProcess();

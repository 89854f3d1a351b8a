// The cold keygen process: `node src/signer/cold-main.ts keygen [--scrypt N:r:p] CHAIN=DIR …`.
// For each pair, opens the cold keystore in DIR (creating it from fresh entropy when missing) and
// prints one JSON line `{"event":"cold-keygen", chain, address, xpub, path, keystoreDir, created}`:
// public facts only. The passphrase comes from BULWARK_COLD_PASSPHRASE, removed once read.
//
// Demo mode runs it as a short-lived child of the exchange (src/server/demo/cold-wallet.ts) so the
// cold seed is never in the exchange process's memory, as the hot seeds are made by `signer init`
// children. Exits 1 with one line on stderr on any error.

import { pathToFileURL } from "node:url";
import { COLD_PASSPHRASE_ENV, type ColdKeygenResult, coldChainNamed, coldKeygen } from "./cold-keys.ts";
import type { ScryptParams } from "./keystore.ts";

const USAGE = "usage: cold-main keygen [--scrypt N:r:p] CHAIN=DIR …";
/** One keystore per chain; more pairs than chains exist is a mistake. */
const MAX_PAIRS = 16;

function parseScrypt(text: string): ScryptParams {
  const parts = text.split(":");
  const numbers = parts.map((part) => (/^[0-9]{1,10}$/.test(part) ? Number(part) : Number.NaN));
  if (numbers.length !== 3 || !numbers.every((n) => Number.isSafeInteger(n) && n >= 1))
    throw new Error(`--scrypt must be N:r:p (whole numbers), got ${JSON.stringify(text.slice(0, 40))}`);
  return { N: numbers[0], r: numbers[1], p: numbers[2] };
}

/** Runs `keygen` on every CHAIN=DIR pair, in order; resolves with what it printed. */
export async function coldMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<ColdKeygenResult[]> {
  if (argv[0] !== "keygen") throw new Error(USAGE);
  let scrypt: ScryptParams | undefined;
  const pairs: { chain: string; dir: string }[] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--scrypt") {
      scrypt = parseScrypt(argv[++i] ?? "");
      continue;
    }
    const at = arg.indexOf("=");
    if (at <= 0 || at === arg.length - 1) throw new Error(USAGE);
    pairs.push({ chain: arg.slice(0, at), dir: arg.slice(at + 1) });
  }
  if (pairs.length === 0 || pairs.length > MAX_PAIRS) throw new Error(USAGE);
  const chains = pairs.map((pair) => {
    const chain = coldChainNamed(pair.chain);
    if (chain === undefined)
      throw new Error(`no cold wallet for chain ${JSON.stringify(pair.chain.slice(0, 40))}`);
    if (!pair.dir.startsWith("/"))
      throw new Error(`the keystore dir must be absolute: ${pair.dir.slice(0, 200)}`);
    return { chain, dir: pair.dir };
  });
  const passphrase = env[COLD_PASSPHRASE_ENV];
  delete env[COLD_PASSPHRASE_ENV];
  if (passphrase === undefined || passphrase === "")
    throw new Error(`the cold keystore's passphrase is expected in the env var ${COLD_PASSPHRASE_ENV}`);
  const results: ColdKeygenResult[] = [];
  for (const { chain, dir } of chains) {
    const result = await coldKeygen(chain, dir, passphrase, scrypt);
    process.stdout.write(`${JSON.stringify({ event: "cold-keygen", ...result })}\n`);
    results.push(result);
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await coldMain(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`cold-main: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

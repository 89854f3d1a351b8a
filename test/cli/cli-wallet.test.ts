// `bulwark wallet init` in process: the passphrase from the env, a pipe or a prompt; an encrypted
// keystore and a public-key file with no private material; the xpubs printed and nothing else;
// a second init refused with the files untouched; bad flags, a short or missing passphrase, and a
// running server refused before anything is asked or written.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/run.ts";
import { DEFAULT_SCRYPT, Keystore } from "../../src/signer/keystore.ts";
import { SMALL_SCRYPT } from "../signer/helpers.ts";
import { cliIo, newDataDir } from "./harness.ts";

const PASSPHRASE = "correct horse battery staple";

interface Outcome {
  status: number;
  out: string[];
  err: string[];
  json: Record<string, unknown> & { ok: boolean; error?: { kind: string; message: string } };
}

/** `bulwark wallet init …` with the passphrase in the env (or not), stdin given, --json unless told. */
async function walletInit(
  dataDir: string,
  args: string[],
  options: { env?: string; stdin?: string | PassThrough; json?: boolean } = {},
): Promise<Outcome> {
  const out: string[] = [];
  const err: string[] = [];
  const io = cliIo(options.stdin ?? "", out, err);
  delete io.env.BULWARK_SIGNER_PASSPHRASE;
  if (options.env !== undefined) io.env.BULWARK_SIGNER_PASSPHRASE = options.env;
  const json = options.json ?? true;
  const status = await runCli(
    ["wallet", "init", ...args, "--data-dir", dataDir, ...(json ? ["--json"] : [])],
    io,
  );
  return {
    status,
    out,
    err,
    json: json && out.length > 0 ? JSON.parse(out.at(-1) as string) : { ok: status === 0 },
  };
}

/**
 * Runs `run` with keystores created at a small scrypt cost. `wallet init` always creates under
 * DEFAULT_SCRYPT (no option lowers it), which is checked in the first test; each creation and
 * each open of such a keystore costs about a second of CPU here, and the other tests are about
 * where the passphrase comes from, so they lower the default for their own duration (the module
 * is this process's; tests of a file run one at a time).
 */
async function withSmallScrypt<T>(run: () => Promise<T>): Promise<T> {
  const production = { ...DEFAULT_SCRYPT };
  Object.assign(DEFAULT_SCRYPT, SMALL_SCRYPT);
  try {
    return await run();
  } finally {
    Object.assign(DEFAULT_SCRYPT, production);
  }
}

function filesUnder(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) filesUnder(path, found);
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

/** No file under the data dir holds the seed (hex, base64, raw) or an extended private key. */
function expectNoPrivateMaterial(dataDir: string, seed: Buffer): void {
  for (const file of filesUnder(dataDir)) {
    const text = readFileSync(file, "latin1");
    for (const secret of [seed.toString("hex"), seed.toString("base64"), seed.toString("latin1")])
      expect(text.includes(secret), `${file} holds the seed`).toBe(false);
    expect(text, file).not.toMatch(/[tx]prv/);
  }
}

describe("bulwark wallet init", () => {
  it("creates an encrypted keystore and custody's public keys from the env's passphrase, and refuses a second init", async () => {
    const dataDir = newDataDir("bulwark-wallet-");
    const run = await walletInit(dataDir, ["--chain", "devnet-btc"], { env: PASSPHRASE });
    expect(run.status).toBe(0);
    expect(run.json).toMatchObject({ ok: true, chain: "devnet-btc", created: true });
    const publicKeys = run.json.publicKeys as { label: string; key: string }[];
    expect(publicKeys.map((key) => key.label)).toEqual(["hot", "deposit"]);
    for (const key of publicKeys) expect(key.key).toMatch(/^tpub[1-9A-HJ-NP-Za-km-z]{100,}$/);

    const keystoreFile = join(dataDir, "signers", "devnet-btc", "keystore", "keystore.json");
    const publicKeysFile = join(dataDir, "custody", "devnet-btc.pub.json");
    expect(run.json.publicKeysFile).toBe(publicKeysFile);
    expect(statSync(keystoreFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "signers", "devnet-btc")).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(publicKeysFile, "utf8"))).toEqual(publicKeys);
    const stored = JSON.parse(readFileSync(keystoreFile, "utf8"));
    expect(stored).toMatchObject({
      version: 1,
      cipher: "aes-256-gcm",
      kdf: { name: "scrypt", N: 2 ** 17, r: 8, p: 1 },
    });
    const keystore = Keystore.open(join(dataDir, "signers", "devnet-btc", "keystore"), PASSPHRASE);
    const seed = Buffer.from(keystore.hotKeys("devnet-btc").seed);
    keystore.close();
    expect(seed).toHaveLength(32);
    expectNoPrivateMaterial(dataDir, seed);
    expect(run.out.join("\n")).not.toContain(PASSPHRASE);

    // Again: refused before any passphrase is read, and nothing changes.
    const before = readFileSync(keystoreFile);
    const again = await walletInit(dataDir, ["--chain", "devnet-btc"], { env: "another passphrase" });
    expect(again.status).toBe(1);
    expect(again.json.error).toMatchObject({ kind: "conflict" });
    expect(again.json.error?.message).toMatch(/devnet-btc wallet exists/);
    expect(readFileSync(keystoreFile).equals(before)).toBe(true);
    expect(JSON.parse(readFileSync(publicKeysFile, "utf8"))).toEqual(publicKeys);
  });

  it("reads the passphrase from a pipe and prints the xpubs as text, nothing private", async () => {
    const dataDir = newDataDir("bulwark-wallet-");
    const run = await withSmallScrypt(() =>
      walletInit(dataDir, ["--chain", "devnet-eth"], {
        stdin: `${PASSPHRASE}\n`,
        json: false,
      }),
    );
    expect(run.status).toBe(0);
    const text = run.out.join("\n");
    const keys = JSON.parse(readFileSync(join(dataDir, "custody", "devnet-eth.pub.json"), "utf8")) as {
      label: string;
      key: string;
    }[];
    expect(text).toContain("created the devnet-eth hot wallet");
    for (const key of keys) expect(text).toContain(`${key.label.padEnd(8)} ${key.key}`);
    expect(text).not.toMatch(/[tx]prv|correct horse/);
    // The piped line is the passphrase (the seed check of the files is the env test's).
    expect(() =>
      Keystore.open(join(dataDir, "signers", "devnet-eth", "keystore"), PASSPHRASE).close(),
    ).not.toThrow();
  });

  it("prompts twice without echo on a terminal, and refuses two different entries", async () => {
    const dataDir = newDataDir("bulwark-wallet-");
    const terminal = () => {
      const stdin = new PassThrough() as PassThrough & {
        isTTY: boolean;
        setRawMode: (mode: boolean) => void;
      };
      stdin.isTTY = true;
      stdin.setRawMode = () => {};
      return stdin;
    };
    const mismatch = terminal();
    const refused = walletInit(dataDir, ["--chain", "devnet-btc"], { stdin: mismatch });
    setImmediate(() => mismatch.write("first passphrase\rsecond passphrase\r"));
    expect((await refused).json.error).toMatchObject({
      kind: "invalid",
      message: "the two passwords differ",
    });
    expect(existsSync(join(dataDir, "custody", "devnet-btc.pub.json"))).toBe(false);

    const typed = terminal();
    const run = await withSmallScrypt(() => {
      const done = walletInit(dataDir, ["--chain", "devnet-btc"], { stdin: typed });
      setImmediate(() => typed.write(`${PASSPHRASE}\r${PASSPHRASE}\r`));
      return done;
    });
    expect(run.json).toMatchObject({ ok: true, created: true });
    expect(run.err.join("")).toContain("the devnet-btc keystore");
    expect(run.err.join("")).not.toContain(PASSPHRASE);
    expect(() =>
      Keystore.open(join(dataDir, "signers", "devnet-btc", "keystore"), PASSPHRASE).close(),
    ).not.toThrow();
  });

  it("refuses bad flags, a missing or short passphrase, and a data dir a server holds", async () => {
    const dataDir = newDataDir("bulwark-wallet-");
    const missingChain = await walletInit(dataDir, [], { env: PASSPHRASE });
    expect(missingChain.status).toBe(2);
    expect(missingChain.json.error).toMatchObject({
      kind: "usage",
      message: '--chain is required for "wallet init"',
    });
    for (const chain of ["bitcoin-mainnet", "btc", "../../etc"]) {
      const bad = await walletInit(dataDir, ["--chain", chain], { env: PASSPHRASE });
      expect(bad.json.error?.kind).toBe("invalid");
      expect(bad.json.error?.message).toMatch(/--chain must be one of devnet-btc, devnet-eth/);
    }
    const none = await walletInit(dataDir, ["--chain", "devnet-btc"]);
    expect(none.status).toBe(2);
    expect(none.json.error?.message).toMatch(/BULWARK_SIGNER_PASSPHRASE/);
    const short = await walletInit(dataDir, ["--chain", "devnet-btc"], { env: "short" });
    expect(short.json.error).toMatchObject({ kind: "invalid" });
    expect(short.json.error?.message).toMatch(/at least 8 characters/);
    expect(existsSync(join(dataDir, "signers", "devnet-btc", "keystore", "keystore.json"))).toBe(false);
    expect(existsSync(join(dataDir, "custody", "devnet-btc.pub.json"))).toBe(false);

    // A live server's lock (this process stands in for it): refused without prompting.
    const serverDir = newDataDir("bulwark-wallet-");
    writeFileSync(
      join(serverDir, "bulwark.lock"),
      JSON.stringify({
        pid: process.pid,
        role: "server",
        startedMs: Date.now(),
        operatorSocket: join(serverDir, "operator.sock"),
      }),
    );
    const busy = await walletInit(serverDir, ["--chain", "devnet-eth"], { stdin: `${PASSPHRASE}\n` });
    expect(busy.json.error).toMatchObject({ kind: "busy" });
    expect(busy.json.error?.message).toMatch(/offline only: stop the server first/);
    expect(existsSync(join(serverDir, "signers"))).toBe(false);
  });
});

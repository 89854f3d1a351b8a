// `bulwark wallet rotate` offline (no server on the data dir): the generation is made by a signer
// child and published for the next start; a wallet never initialised and a wrong passphrase are
// refused with nothing written; a rotation that stopped after the keystore got its new generation
// but before custody's files were written is finished by running the command again (no second
// generation); the audit log records each rotation.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/run.ts";
import { initWallet, signerPaths } from "../../src/server/signers.ts";
import { Keystore } from "../../src/signer/keystore.ts";
import { SMALL_SCRYPT } from "../signer/helpers.ts";
import { cliIo, newDataDir } from "./harness.ts";

const PASSPHRASE = "rotate offline passphrase 01";

async function rotate(
  dataDir: string,
  args: string[],
  passphrase: string | undefined,
): Promise<{
  status: number;
  json: Record<string, unknown> & { ok: boolean; error?: { kind: string; message: string } };
}> {
  const out: string[] = [];
  const io = cliIo("", out, []);
  delete io.env.BULWARK_SIGNER_PASSPHRASE;
  if (passphrase !== undefined) io.env.BULWARK_SIGNER_PASSPHRASE = passphrase;
  const status = await runCli(["wallet", "rotate", ...args, "--data-dir", dataDir, "--json"], io);
  return { status, json: JSON.parse(out.at(-1) ?? "{}") };
}

function files(dataDir: string, chain: string) {
  const paths = signerPaths(dataDir, chain);
  return {
    publicKeys: readFileSync(paths.publicKeysPath, "utf8"),
    generations: existsSync(paths.generationsPath),
    secondKeystore: existsSync(join(paths.keystoreDir, "keystore-1.json")),
  };
}

describe("bulwark wallet rotate, offline", () => {
  it("refuses a chain without a wallet and a wrong passphrase, changing nothing", async () => {
    const dataDir = newDataDir("bulwark-rotate-");
    const none = await rotate(dataDir, ["--chain", "devnet-eth"], PASSPHRASE);
    expect(none.json).toMatchObject({ ok: false, error: { kind: "notFound" } });
    expect(none.json.error?.message).toMatch(/not initialised: run `bulwark wallet init --chain devnet-eth`/);

    initWallet(dataDir, "devnet-btc", PASSPHRASE, SMALL_SCRYPT);
    const before = files(dataDir, "devnet-btc");
    const wrong = await rotate(dataDir, ["--chain", "devnet-btc"], "not the passphrase at all");
    expect(wrong.json).toMatchObject({ ok: false, error: { kind: "invalid" } });
    expect(wrong.json.error?.message).toMatch(/wrong passphrase/);
    const missing = await rotate(dataDir, ["--chain", "devnet-btc"], undefined);
    expect(missing.status).toBe(2);
    expect(missing.json.error?.message).toMatch(/wallet rotate needs the keystore's passphrase/);
    expect(files(dataDir, "devnet-btc")).toEqual(before);
    expect(before).toMatchObject({ generations: false, secondKeystore: false });
  }, 60_000);

  it("publishes a new generation for the next start, and finishes an interrupted rotation without a second one", async () => {
    const dataDir = newDataDir("bulwark-rotate-");
    const initial = initWallet(dataDir, "devnet-btc", PASSPHRASE, SMALL_SCRYPT);
    const paths = signerPaths(dataDir, "devnet-btc");
    const run = await rotate(dataDir, ["--chain", "devnet-btc"], PASSPHRASE);
    expect(run.json, JSON.stringify(run.json)).toMatchObject({
      ok: true,
      chain: "devnet-btc",
      generation: 1,
      depositAccount: 3,
      created: true,
      applied: "nextStart",
    });
    const publicKeys = run.json.publicKeys as { label: string; key: string }[];
    expect(publicKeys.map((key) => key.label)).toEqual(["hot", "deposit"]);
    expect(publicKeys).not.toEqual(initial.publicKeys);
    expect(JSON.parse(readFileSync(paths.publicKeysPath, "utf8"))).toEqual(publicKeys);
    const generations = JSON.parse(readFileSync(paths.generationsPath, "utf8"));
    expect(generations.active).toBe(1);
    expect(generations.generations.map((entry: { publicKeys: unknown }) => entry.publicKeys)).toEqual([
      initial.publicKeys,
      publicKeys,
    ]);
    // The keystore opens with both seeds, each a fresh one.
    const keystore = Keystore.open(paths.keystoreDir, PASSPHRASE);
    const keys = keystore.hotKeys("devnet-btc");
    expect(keystore.generations).toBe(2);
    expect(Buffer.from(keys.seeds?.[0] ?? []).equals(Buffer.from(keys.seed))).toBe(false);
    keystore.close();

    // Interrupted before custody's files were written: the next run publishes what the keystore holds.
    rmSync(paths.generationsPath);
    writeFileSync(paths.publicKeysPath, `${JSON.stringify(initial.publicKeys, null, 2)}\n`);
    const again = await rotate(dataDir, ["--chain", "devnet-btc"], PASSPHRASE);
    expect(again.json).toMatchObject({ ok: true, generation: 1, created: false });
    expect(again.json.publicKeys).toEqual(publicKeys);
    expect(existsSync(join(paths.keystoreDir, "keystore-2.json"))).toBe(false);
  }, 60_000);
});

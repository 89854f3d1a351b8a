import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSignerConfig } from "../../src/signer/config.ts";
import { KEYSTORE_FILE } from "../../src/signer/keystore.ts";
import { POLICY_PUBLIC, SMALL_SCRYPT, tempDir } from "./helpers.ts";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

const base = {
  chain: "fakechain",
  socketPath: join(dir, "s.sock"),
  stateDir: join(dir, "state"),
  keystoreDir: join(dir, "keystore"),
  policyPublicKey: Buffer.from(POLICY_PUBLIC).toString("hex"),
  caps: { BTC: { perTransaction: "1", per10m: "2", per1h: "3", per24h: "4" } },
  coldAddresses: ["cold-1"],
};

describe("the signer's config", () => {
  it("parses caps as bigints, with defaults for the optional fields", () => {
    const config = parseSignerConfig(base);
    expect(config.caps.get("BTC")).toEqual({ perTransaction: 1n, per10m: 2n, per1h: 3n, per24h: 4n });
    expect(config.maxFutureMs).toBe(3_600_000);
    expect(config.passphraseEnv).toBe("BULWARK_SIGNER_PASSPHRASE");
  });

  it.each([
    [{ extra: true }, /unknown field extra/],
    [{ policyPublicKey: "00" }, /policyPublicKey/],
    [{ caps: { BTC: { perTransaction: 1, per10m: "2", per1h: "3", per24h: "4" } } }, /perTransaction/],
    [{ caps: { BTC: { perTransaction: "1", per10m: "2", per1h: "3" } } }, /per24h/],
    [{ caps: { btc: {} } }, /bad asset/],
    [{ coldAddresses: "cold-1" }, /coldAddresses/],
    [{ maxFutureMs: -1 }, /maxFutureMs/],
  ])("refuses %j", (change, message) => {
    expect(() => parseSignerConfig({ ...base, ...change })).toThrow(message);
  });

  it("`init` creates the keystore and prints public keys only", () => {
    const configPath = join(dir, "init.json");
    writeFileSync(configPath, JSON.stringify({ ...base, scrypt: SMALL_SCRYPT }));
    const child = join(import.meta.dirname, "signer-child.ts");
    const run = spawnSync(process.execPath, ["--import", "tsx", child, "init", "--config", configPath], {
      env: { ...process.env, BULWARK_SIGNER_PASSPHRASE: "init passphrase" },
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    const printed = JSON.parse(run.stdout.trim());
    expect(printed.event).toBe("initialized");
    expect(printed.publicKeys).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dir, "keystore", KEYSTORE_FILE), "utf8")).kdf.N).toBe(SMALL_SCRYPT.N);
    const again = spawnSync(process.execPath, ["--import", "tsx", child, "init", "--config", configPath], {
      env: { ...process.env, BULWARK_SIGNER_PASSPHRASE: "init passphrase" },
      encoding: "utf8",
    });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });
});

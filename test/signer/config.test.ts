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

  describe("an Ethereum chain's section", () => {
    const TOKEN = "0xdAC17F958D2ee523a2206206994597C13D831ec7"; // USDT on mainnet, EIP-55
    const ethereumBase = {
      ...base,
      chain: "ethereum-sepolia",
      caps: {
        ETH: { perTransaction: "1", per10m: "2", per1h: "3", per24h: "4" },
        USDT: { perTransaction: "1", per10m: "2", per1h: "3", per24h: "4" },
      },
      ethereum: { chainId: 11155111, tokens: { USDT: TOKEN } },
    };

    it("parses chain id and token contracts (lower case), with defaults: ETH, accounts 0 and 1, 1,000 addresses", () => {
      const config = parseSignerConfig(ethereumBase);
      expect(config.ethereum).toEqual({
        chainId: 11155111,
        nativeSymbol: "ETH",
        tokens: new Map([["USDT", TOKEN.toLowerCase()]]),
        accounts: 2,
        addressesPerAccount: 1_000,
      });
      const full = parseSignerConfig({
        ...ethereumBase,
        chain: "anvil",
        ethereum: {
          chainId: 31337,
          nativeSymbol: "ETH",
          tokens: {},
          accounts: 3,
          addressesPerAccount: 50,
        },
      });
      expect(full.ethereum).toMatchObject({ chainId: 31337, accounts: 3, addressesPerAccount: 50 });
      expect(full.ethereum?.tokens.size).toBe(0);
      expect(parseSignerConfig({ ...ethereumBase, chain: "ethereum" }).ethereum?.chainId).toBe(11155111);
      // Other chains have none.
      expect(parseSignerConfig(base).ethereum).toBeUndefined();
    });

    const bad = (ethereum: Record<string, unknown>) => ({ ...ethereumBase, ethereum });
    it.each([
      [
        { ...ethereumBase, ethereum: undefined },
        /ethereum-sepolia is an Ethereum chain: an ethereum section/,
      ],
      [{ ...base, ethereum: { chainId: 1 } }, /ethereum is for Ethereum chains/],
      [{ ...ethereumBase, chain: "devnet-eth" }, /ethereum is for Ethereum chains/],
      [{ ...ethereumBase, ethereum: [] }, /ethereum must be an object/],
      [bad({ chainId: 1, gasLimit: 5 }), /ethereum: unknown field gasLimit/],
      [bad({}), /ethereum.chainId/],
      [bad({ chainId: "1" }), /ethereum.chainId/],
      [bad({ chainId: 0 }), /ethereum.chainId/],
      [bad({ chainId: 1.5 }), /ethereum.chainId/],
      [bad({ chainId: 1, nativeSymbol: "eth" }), /nativeSymbol: bad asset/],
      [bad({ chainId: 1, tokens: [TOKEN] }), /ethereum.tokens must be an object/],
      [bad({ chainId: 1, tokens: { usdt: TOKEN } }), /ethereum.tokens: bad asset usdt/],
      [bad({ chainId: 1, tokens: { ETH: TOKEN } }), /ETH is the native coin/],
      [bad({ chainId: 1, tokens: { USDT: "0x1234" } }), /ethereum.tokens.USDT must be a 0x contract/],
      [bad({ chainId: 1, tokens: { USDT: 42 } }), /ethereum.tokens.USDT must be a 0x contract/],
      [bad({ chainId: 1, tokens: { USDT: TOKEN.replace("dAC", "DAc") } }), /EIP-55 checksum/],
      [bad({ chainId: 1, tokens: { USDT: `0x${"00".repeat(20)}` } }), /zero address/],
      [bad({ chainId: 1, tokens: { USDT: TOKEN, USDX: TOKEN.toLowerCase() } }), /listed twice/],
      [bad({ chainId: 1, accounts: 0 }), /ethereum.accounts must be an integer in 1\.\.1000/],
      [bad({ chainId: 1, accounts: 1_001 }), /ethereum.accounts/],
      [bad({ chainId: 1, addressesPerAccount: 2 ** 31 + 1 }), /ethereum.addressesPerAccount/],
      [bad({ chainId: 1, addressesPerAccount: "10" }), /ethereum.addressesPerAccount/],
    ])("refuses %j", (config, message) => {
      expect(() => parseSignerConfig(config)).toThrow(message);
    });
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

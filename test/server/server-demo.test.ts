// Demo mode: a funded demo trader with a working API key, and a market maker that makes trades
// within seconds while keeping its resting orders bounded; a restart shows the same key and does
// not fund anyone twice. The demo's cold wallet: a cold address per devnet chain from a keystore
// beside the data dir, the same after a restart, and the hot wallet swept down to its cap.

import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import ccxtCurrent from "ccxt-current";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_SCRYPT_PARAMS } from "../../src/accounts/passwords.ts";
import type { CustodyService } from "../../src/custody/custody-service.ts";
import { readColdAddress } from "../../src/server/custody.ts";
import { coldWalletsOf, demoColdKeystoreDir, demoColdRoot } from "../../src/server/demo/cold-wallet.ts";
import { DEMO_MAKER_EMAIL, DEMO_TRADER_EMAIL } from "../../src/server/demo/demo-accounts.ts";
import { DEMO_OPERATORS } from "../../src/server/demo/demo-operators.ts";
import { LEVELS_PER_SIDE } from "../../src/server/demo/market-maker.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { getUserByEmail } from "../../src/store/accounts.ts";

const directories: string[] = [];
const servers: ExchangeServer[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

async function start(directory: string): Promise<ExchangeServer> {
  const server = await startExchangeServer({
    dataDir: directory,
    port: 0,
    host: "127.0.0.1",
    demo: true,
    // 50 ms: trades within a second, without the maker taking a core from the tests beside it.
    demoTickIntervalMs: 50,
    custodyTickMs: 150,
    env: { BULWARK_OPERATOR_TOKEN: "test-operator-token-0123456789abcdef" },
  });
  servers.push(server);
  return server;
}

function tradeCount(server: ExchangeServer): number {
  return server.exchange.markets().reduce((sum, { config }) => {
    return sum + (server.exchange.marketData.trades(config.marketId)?.length ?? 0);
  }, 0);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const COLD_CHAINS = ["devnet-btc", "devnet-eth"] as const;

/** The ledger-scale decimal strings custody.status() shows, as comparable integers (up to 8 decimals). */
function units(text: string | null): bigint {
  expect(text).toMatch(/^[0-9]+(\.[0-9]{1,8})?$/);
  const [whole, fraction = ""] = (text as string).split(".");
  return BigInt(whole) * 10n ** 8n + BigInt(fraction.padEnd(8, "0"));
}

/** BTC and ETH (the currencies the demo funds by deposits): hot on chain, cold on chain, the hot cap. */
async function hotAndCold(custody: CustodyService) {
  const status = await custody.status();
  return status.chains.flatMap((chain) =>
    chain.balances
      .filter((balance) => balance.currency === "BTC" || balance.currency === "ETH")
      .map((balance) => ({
        currency: balance.currency,
        hot: units(balance.onChain.hot),
        cold: units(balance.onChain.cold),
        coldOnBooks: units(balance.onBooks.cold),
        cap: units(balance.hotCap),
      })),
  );
}

async function signedPost(server: ExchangeServer, path: string, body: string): Promise<unknown> {
  const demo = server.demo!;
  const sign = createHmac("sha512", demo.apiKey.secret).update(body).digest("hex");
  const response = await fetch(`${server.url}/v1.1/${path}`, {
    method: "POST",
    headers: { Key: demo.apiKey.keyId, Sign: sign, "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  return response.json();
}

describe("demo mode", () => {
  // ~15-25 s (a whole demo start, chains and signers): `npm run test:full`, which CI runs.
  it.skipIf(process.env.BULWARK_TEST_FULL !== "1")(
    "funds the demo trader, prints a working key, and the maker trades with bounded resting orders",
    async () => {
      const directory = mkdtempSync(join(tmpdir(), "bulwark-demo-"));
      directories.push(directory);
      directories.push(demoColdRoot(directory));
      const server = await start(directory);
      const demo = server.demo!;
      expect(demo.apiKey.keyId).toMatch(/^K-[0-9a-f]{40}$/);
      // The one demo start at the production scrypt cost (every other test server passes a low
      // passwordScrypt): without the option, the demo's users and operators are hashed at the default.
      const { logN, blockSize, parallelization } = DEFAULT_SCRYPT_PARAMS;
      const productionPrefix = `$scrypt$ln=${logN},r=${blockSize},p=${parallelization}$`;
      const db = server.exchange.internals.store.db;
      expect((await getUserByEmail(db, DEMO_TRADER_EMAIL))!.passwordHash.startsWith(productionPrefix)).toBe(
        true,
      );
      expect((await getUserByEmail(db, DEMO_MAKER_EMAIL))!.passwordHash.startsWith(productionPrefix)).toBe(
        true,
      );
      for (const { email } of DEMO_OPERATORS)
        expect(
          (await server.exchange.operators.byEmail(email))!.passwordHash.startsWith(productionPrefix),
        ).toBe(true);

      // The demo's cold wallet: an address per chain in custody/<chain>.cold.json, its keystore
      // beside the data dir (never inside it).
      const cold = coldWalletsOf(directory, [...COLD_CHAINS]);
      const keystores = new Map<string, string>();
      for (const wallet of cold) {
        expect(
          JSON.parse(readFileSync(join(directory, "custody", `${wallet.chain}.cold.json`), "utf8")),
        ).toEqual({
          address: wallet.address,
        });
        expect(wallet.address).not.toBeNull();
        expect(wallet.keystoreDir).toBe(demoColdKeystoreDir(directory, wallet.chain));
        expect(relative(directory, wallet.keystoreDir as string).startsWith("..")).toBe(true);
        keystores.set(
          wallet.chain,
          readFileSync(join(wallet.keystoreDir as string, "keystore.json"), "utf8"),
        );
      }
      expect(cold[0].address).toMatch(/^dvbtc1/);
      expect(cold[1].address).toMatch(/^0x[0-9a-f]{40}$/);
      // Custody sweeps the hot wallet down to its cap, the rest to the cold address.
      const custody = server.custody!;
      const swept = async () => {
        const rows = await hotAndCold(custody);
        return (
          rows.length === 2 &&
          rows.every((row) => row.hot <= row.cap && row.cold > row.cap && row.cold === row.coldOnBooks)
        );
      };
      const sweepDeadline = Date.now() + 40_000;
      while (!(await swept())) {
        if (Date.now() > sweepDeadline)
          throw new Error(
            `not swept to cold: ${JSON.stringify(await hotAndCold(custody), (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`,
          );
        server.devnet!.btc.mine(1);
        server.devnet!.eth.mine(1);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(demo.ccxtSnippet).toContain(demo.apiKey.secret);
      expect(demo.ccxtSnippet).toContain(`'${server.url}'`);
      expect(demo.ccxtSnippet.split("\n")).toHaveLength(2);

      const info = (await signedPost(server, "user_info", `nonce=${Date.now()}`)) as {
        balances: Record<string, string>;
      };
      expect(info.balances.USD).toBe("10000");
      expect(info.balances.BTC).toBe("1");
      // The banner's Binance lines work as printed with today's ccxt (its import aside).
      const binanceBody = `${demo.ccxtBinanceSnippet.replace("import ccxt from 'ccxt';", "")}\nreturn ex;`;
      const binance = new Function("ccxt", binanceBody)(ccxtCurrent) as InstanceType<
        typeof ccxtCurrent.binance
      >;
      const binanceBalance = await binance.fetchBalance();
      expect(binanceBalance.USD?.total).toBe(10000);
      await binance.close();

      await until(() => tradeCount(server) >= 3, 10_000);
      const makerId = (await getUserByEmail(server.exchange.internals.store.db, DEMO_MAKER_EMAIL))!.userId;
      const state = server.exchange.internals.core.exportState();
      for (const market of state.markets) {
        const resting = [...market.bids, ...market.asks].filter((order) => order.userId === makerId);
        expect(resting.length).toBeLessThanOrEqual(2 * LEVELS_PER_SIDE);
      }
      const book = server.exchange.marketData.orderBook(1, 10)!;
      expect(book.bids.length).toBeGreaterThan(0);
      expect(book.asks.length).toBeGreaterThan(0);
      expect(book.bids[0].priceTicks).toBeLessThan(book.asks[0].priceTicks);

      await demo.maker.stop();
      const ticksAfterStop = demo.maker.ticks;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(demo.maker.ticks).toBe(ticksAfterStop);
      servers.splice(servers.indexOf(server), 1);
      await server.close();

      const again = await start(directory);
      expect(again.demo!.apiKey).toEqual(demo.apiKey);
      // The same cold addresses and keystores: a restart makes no new cold key.
      expect(coldWalletsOf(directory, [...COLD_CHAINS])).toEqual(cold);
      for (const [chain, keystore] of keystores) {
        expect(readFileSync(join(demoColdKeystoreDir(directory, chain), "keystore.json"), "utf8")).toBe(
          keystore,
        );
        expect(readColdAddress(directory, chain)).toBe(
          cold.find((wallet) => wallet.chain === chain)?.address,
        );
      }
      const traderId = (await getUserByEmail(again.exchange.internals.store.db, DEMO_TRADER_EMAIL))!.userId;
      // 10,000 USD at scale 6, funded once only.
      expect(again.exchange.internals.core.balance(traderId, 4)).toEqual({
        availableUnits: 10_000_000_000,
        heldUnits: 0,
      });
    },
  );

  it("refuses a passwordScrypt outside SCRYPT_LIMITS before touching the data dir", async () => {
    const directory = mkdtempSync(join(tmpdir(), "bulwark-demo-"));
    directories.push(directory);
    for (const passwordScrypt of [
      { logN: 9, blockSize: 8, parallelization: 1 },
      { logN: 10, blockSize: 0, parallelization: 1 },
      { logN: 10, blockSize: 8, parallelization: 1.5 },
      { logN: 20, blockSize: 16, parallelization: 1 },
    ])
      await expect(startExchangeServer({ dataDir: directory, port: 0, passwordScrypt })).rejects.toThrow(
        /passwordScrypt out of bounds/,
      );
    expect(readdirSync(directory)).toEqual([]);
  });

  it("starts without demo accounts when demo is off", async () => {
    const directory = mkdtempSync(join(tmpdir(), "bulwark-demo-"));
    directories.push(directory);
    const server = await startExchangeServer({
      dataDir: directory,
      port: 0,
      host: "127.0.0.1",
      demo: false,
      env: { BULWARK_OPERATOR_TOKEN: "test-operator-token-0123456789abcdef" },
    });
    servers.push(server);
    expect(server.demo).toBeNull();
    expect(existsSync(demoColdRoot(directory))).toBe(false);
    expect(readColdAddress(directory, "devnet-btc")).toBeNull();
    expect(await getUserByEmail(server.exchange.internals.store.db, DEMO_TRADER_EMAIL)).toBeUndefined();
  });
});

// Demo mode: a funded demo trader with a working API key, and a market maker that makes trades
// within seconds while keeping its resting orders bounded; a restart shows the same key and does
// not fund anyone twice.

import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEMO_MAKER_EMAIL, DEMO_TRADER_EMAIL } from "../../src/server/demo/demo-accounts.ts";
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
    demoTickIntervalMs: 20,
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
  it("funds the demo trader, prints a working key, and the maker trades with bounded resting orders", async () => {
    const directory = mkdtempSync(join(tmpdir(), "bulwark-demo-"));
    directories.push(directory);
    const server = await start(directory);
    const demo = server.demo!;
    expect(demo.apiKey.keyId).toMatch(/^K-[0-9a-f]{40}$/);
    expect(demo.ccxtSnippet).toContain(demo.apiKey.secret);
    expect(demo.ccxtSnippet).toContain(`'${server.url}'`);
    expect(demo.ccxtSnippet.split("\n")).toHaveLength(2);

    const info = (await signedPost(server, "user_info", `nonce=${Date.now()}`)) as {
      balances: Record<string, string>;
    };
    expect(info.balances.USD).toBe("10000");
    expect(info.balances.BTC).toBe("1");

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
    const traderId = (await getUserByEmail(again.exchange.internals.store.db, DEMO_TRADER_EMAIL))!.userId;
    // 10,000 USD at scale 6, funded once only.
    expect(again.exchange.internals.core.balance(traderId, 4)).toEqual({
      availableUnits: 10_000_000_000,
      heldUnits: 0,
    });
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
    expect(await getUserByEmail(server.exchange.internals.store.db, DEMO_TRADER_EMAIL)).toBeUndefined();
  });
});

// Candles across restarts when the candles file is behind the store (a crash between saves) or
// unreadable: the server tops them up from (or rebuilds them out of) the store's trades, and the
// result must equal the candles of a process that saw every trade live.

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { CANDLES_FILE_NAME } from "../../src/exchange/market-data-persistence.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { limitOrder } from "../support/orders.ts";

const directories: string[] = [];
const servers: ExchangeServer[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

let nowMs = Date.UTC(2026, 2, 2, 9, 0, 0);
const clock = () => nowMs;

async function start(directory: string): Promise<ExchangeServer> {
  const server = await startExchangeServer({
    dataDir: directory,
    port: 0,
    host: "127.0.0.1",
    demo: false,
    env: { BULWARK_OPERATOR_TOKEN: "test-operator-token-0123456789abcdef" },
    clock,
  });
  servers.push(server);
  return server;
}

async function stop(server: ExchangeServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

async function trade(server: ExchangeServer, rounds: number): Promise<void> {
  const funding: UnstampedCommand[] = [
    { kind: "adjustBalance", userId: 1, assetId: 4, amountUnits: 1_000_000_000_000, reason: "fund" },
    { kind: "adjustBalance", userId: 2, assetId: 1, amountUnits: 10_000_000_000, reason: "fund" },
  ];
  for (const command of funding) await server.exchange.submit(command);
  for (let round = 0; round < rounds; round++) {
    nowMs += 7 * 60_000;
    await server.exchange.submit(limitOrder(2, "sell", 6_000_000 + (round % 9) * 50, 1 + (round % 3)));
    await server.exchange.submit(limitOrder(1, "buy", 6_000_000 + (round % 9) * 50, 1 + (round % 3)));
  }
}

function candlesOf(server: ExchangeServer): unknown {
  return ["1", "15", "60", "D"].map((resolution) =>
    server.exchange.marketData.candles(1, resolution as "1", 0, nowMs + 86_400_000),
  );
}

describe("candles across restarts", () => {
  it("tops up a candles file that is behind the store from the newer trades", async () => {
    const directory = mkdtempSync(join(tmpdir(), "bulwark-candles-"));
    directories.push(directory);
    const candlesPath = join(directory, CANDLES_FILE_NAME);
    const first = await start(directory);
    await trade(first, 5);
    await stop(first);
    copyFileSync(candlesPath, `${candlesPath}.old`);

    const second = await start(directory);
    await trade(second, 8);
    const live = candlesOf(second);
    await stop(second);
    // As if the process died after these 8 trades but before saving candles.
    copyFileSync(`${candlesPath}.old`, candlesPath);

    const third = await start(directory);
    expect(third.marketDataRestore.candleMarketsLoaded).toBe(4);
    expect(third.marketDataRestore.candleTradesToppedUp).toBe(8);
    expect(candlesOf(third)).toEqual(live);
    expect(third.exchange.marketData.trades(1)?.length).toBe(13);
  });

  it("rebuilds candles from every stored trade when the file is unreadable", async () => {
    const directory = mkdtempSync(join(tmpdir(), "bulwark-candles-"));
    directories.push(directory);
    const first = await start(directory);
    await trade(first, 6);
    const live = candlesOf(first);
    await stop(first);
    const candlesPath = join(directory, CANDLES_FILE_NAME);
    expect(JSON.parse(readFileSync(candlesPath, "utf8")).markets[0].lastTradeId).toBeGreaterThan(0);
    writeFileSync(candlesPath, "{ not json");

    const second = await start(directory);
    expect(second.marketDataRestore.candleMarketsLoaded).toBe(0);
    expect(second.marketDataRestore.candleTradesToppedUp).toBe(6);
    expect(candlesOf(second)).toEqual(live);
  });
});

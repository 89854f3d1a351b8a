// The composed server in-process: start, trade, stop, start again on the same data dir; orders,
// balances, trades, candles, tickers and API nonces must all come back.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import { seedLegacyNonces } from "../../src/server/legacy-nonces.ts";
import { DataDirBusyError, type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { createApiKey, createUser } from "../../src/store/accounts.ts";
import { balancesOfUser, openOrdersOfUser, tradesOfMarket } from "../../src/store/queries.ts";
import { limitOrder } from "../support/orders.ts";

/** The cheapest scrypt SCRYPT_LIMITS allows for the passwords the server hashes (test/server/server-demo.test.ts checks the default). */
const FAST_PASSWORD_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };

const OPERATOR_TOKEN = "test-operator-token-0123456789abcdef";
const directories: string[] = [];
const servers: ExchangeServer[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function dataDir(): string {
  const directory = mkdtempSync(join(tmpdir(), "bulwark-server-"));
  directories.push(directory);
  return directory;
}

async function start(
  directory: string,
  clock?: () => number,
  operatorListen?: string,
): Promise<ExchangeServer> {
  const server = await startExchangeServer({
    dataDir: directory,
    ...(operatorListen === undefined ? {} : { operatorListen }),
    port: 0,
    host: "127.0.0.1",
    demo: false,
    env: { BULWARK_OPERATOR_TOKEN: OPERATOR_TOKEN },
    ...(clock === undefined ? {} : { clock }),
  });
  servers.push(server);
  return server;
}

async function stop(server: ExchangeServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

async function submitAll(server: ExchangeServer, commands: UnstampedCommand[]): Promise<number> {
  let last = 0;
  for (const command of commands) {
    const result = await server.exchange.submit(command);
    expect(result.events.find((event) => event.type === "rejected")).toBeUndefined();
    last = result.sequence;
  }
  return last;
}

describe("startExchangeServer", () => {
  it("serves the EXMO API on its port and the operator API only where asked, with default markets on a fresh data dir", async () => {
    const server = await start(dataDir(), undefined, "127.0.0.1:0");
    expect(server.defaultCommandsAdded).toBe(8);
    expect(server.exchange.markets().map((market) => market.config.symbol)).toEqual([
      "BTC_USD",
      "ETH_USD",
      "ETH_BTC",
      "BTC_USDT",
    ]);
    const ticker = await fetch(`${server.url}/v1.1/ticker`);
    expect(ticker.status).toBe(200);
    expect(Object.keys((await ticker.json()) as object)).toContain("BTC_USD");
    const markets = await fetch(`${server.operatorUrl}/markets`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(markets.status).toBe(200);
    // The public port does not serve the operator API (it can mint money).
    const onPublicPort = await fetch(`${server.url}/operator/v1/markets`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(await onPublicPort.json()).toEqual({
      result: false,
      error: "Error 40015: API function do not exist - /operator/v1/markets",
    });
    expect(server.operatorTokenSource).toBe("env");
    expect(server.serverKeySource).toBe("generated");
  });

  it("refuses a second server on the same data dir", async () => {
    const directory = dataDir();
    await start(directory);
    await expect(start(directory)).rejects.toBeInstanceOf(DataDirBusyError);
  });

  it("keeps orders, balances, trades, candles, tickers and nonces across a restart", async () => {
    const directory = dataDir();
    let nowMs = Date.UTC(2026, 0, 5, 12, 0, 0);
    const clock = () => nowMs;
    const first = await start(directory, clock);
    const db = first.exchange.internals.store.db;
    const buyer = await createUser(db, { email: "buyer@example.com", passwordHash: "x", createdMs: 1 });
    const seller = await createUser(db, { email: "seller@example.com", passwordHash: "x", createdMs: 1 });
    if (!buyer.ok || !seller.ok) throw new Error("users not created");
    const buyerId = buyer.user.userId;
    const sellerId = seller.user.userId;
    await createApiKey(db, {
      keyId: "K-test",
      userId: buyerId,
      secretCiphertext: Buffer.from("sealed"),
      scopes: ["info"],
      ipAllowList: [],
      createdMs: 1,
    });
    // A signed request's nonce, journaled as the gateway does for a read (src/gateway/auth/nonce-gate.ts).
    const touch = (nonce: number): UnstampedCommand => ({
      kind: "touchNonce",
      userId: buyerId,
      nonce: { keyId: "K-test", nonce },
    });
    await submitAll(first, [touch(41)]);
    await submitAll(first, [
      { kind: "adjustBalance", userId: buyerId, assetId: 4, amountUnits: 10_000_000_000_000, reason: "fund" },
      { kind: "adjustBalance", userId: sellerId, assetId: 1, amountUnits: 100_000_000_000, reason: "fund" },
    ]);
    // Trades in three different minutes, then resting orders on both sides.
    for (let minute = 0; minute < 3; minute++) {
      nowMs += 60_000;
      await submitAll(first, [
        limitOrder(sellerId, "sell", 6_000_000 + minute * 100, 2),
        limitOrder(buyerId, "buy", 6_000_000 + minute * 100, 2),
      ]);
    }
    await submitAll(first, [
      limitOrder(sellerId, "sell", 6_100_000, 5),
      limitOrder(buyerId, "buy", 5_900_000, 7),
    ]);
    await first.exchange.whenProjected(first.exchange.internals.core.lastSequence);

    const before = {
      hash: first.exchange.internals.core.stateHash(),
      balances: await balancesOfUser(db, buyerId),
      open: await openOrdersOfUser(db, sellerId, { limit: 100 }),
      trades: first.exchange.marketData.trades(1),
      candles: first.exchange.marketData.candles(1, "1", 0, nowMs + 60_000),
      hourCandles: first.exchange.marketData.candles(1, "60", 0, nowMs + 60_000),
      book: first.exchange.marketData.orderBook(1, 10),
      ticker: first.exchange.marketData.tickers()[0],
    };
    expect(before.trades?.length).toBe(3);
    expect(before.candles?.length).toBe(3);
    await stop(first);

    nowMs += 1_000;
    const second = await start(directory, clock);
    expect(second.defaultCommandsAdded).toBe(0);
    expect(second.marketDataRestore.candleMarketsLoaded).toBe(4);
    expect(second.marketDataRestore.candleTradesToppedUp).toBe(0);
    const db2 = second.exchange.internals.store.db;
    expect(second.exchange.internals.core.stateHash()).toBe(before.hash);
    expect(await balancesOfUser(db2, buyerId)).toEqual(before.balances);
    expect(await openOrdersOfUser(db2, sellerId, { limit: 100 })).toEqual(before.open);
    expect((await tradesOfMarket(db2, 1, { offset: 0, limit: 10 })).length).toBe(3);
    expect(second.exchange.marketData.trades(1)).toEqual(before.trades);
    expect(second.exchange.marketData.candles(1, "1", 0, nowMs + 60_000)).toEqual(before.candles);
    expect(second.exchange.marketData.candles(1, "60", 0, nowMs + 60_000)).toEqual(before.hourCandles);
    const book = second.exchange.marketData.orderBook(1, 10);
    expect({ bids: book?.bids, asks: book?.asks }).toEqual({
      bids: before.book?.bids,
      asks: before.book?.asks,
    });
    expect(second.exchange.marketData.tickers()[0]).toEqual(before.ticker);
    expect(second.exchange.internals.core.exportState().apiNonces).toEqual([["K-test", 41]]);
    const replay = await second.exchange.submit(touch(41));
    expect(replay.events).toMatchObject([{ type: "rejected", reason: "staleNonce" }]);
    expect((await second.exchange.submit(touch(42))).events).toEqual([]);
  });
});

describe("a data dir from before nonces moved into the core", () => {
  it("has its stored nonces journaled into the core once, at start: a captured request stays refused", async () => {
    const directory = dataDir();
    const first = await start(directory);
    // What an older server left behind: nonces in the store's table, none in the core.
    await first.exchange.internals.store.db
      .insertInto("api_nonces")
      .values([
        { key_id: `K-${"1".repeat(40)}`, last_nonce: 1_767_000_000_000 },
        { key_id: `K-${"2".repeat(40)}`, last_nonce: 5 },
      ])
      .execute();
    await stop(first);
    const second = await start(directory);
    expect(second.exchange.internals.core.exportState().apiNonces).toEqual([
      [`K-${"1".repeat(40)}`, 1_767_000_000_000],
      [`K-${"2".repeat(40)}`, 5],
    ]);
    const replay = await second.exchange.submit({
      kind: "touchNonce",
      userId: 1,
      nonce: { keyId: `K-${"1".repeat(40)}`, nonce: 1_767_000_000_000 },
    });
    expect(replay.events).toMatchObject([{ type: "rejected", reason: "staleNonce" }]);
    // Seeded once: with nonces in the core, a later start journals nothing.
    const sequence = second.exchange.internals.core.lastSequence;
    expect(await seedLegacyNonces(second.exchange)).toBe(0);
    expect(second.exchange.internals.core.lastSequence).toBe(sequence);
  });
});

describe("startExchangeServer with TLS", () => {
  it("serves HTTPS with the given certificate and key", async () => {
    const directory = dataDir();
    const certPath = join(directory, "cert.pem");
    const keyPath = join(directory, "key.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-days",
        "1",
        "-keyout",
        keyPath,
        "-out",
        certPath,
      ],
      { stdio: "ignore" },
    );
    const server = await startExchangeServer({
      dataDir: join(directory, "data"),
      port: 0,
      host: "127.0.0.1",
      demo: false,
      tls: { certPath, keyPath },
      env: { BULWARK_OPERATOR_TOKEN: OPERATOR_TOKEN },
      passwordScrypt: FAST_PASSWORD_SCRYPT,
    });
    servers.push(server);
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const status = await new Promise<number | undefined>((resolveStatus, reject) => {
      https
        .get(
          `${server.url}/v1.1/pair_settings`,
          { ca: readFileSync(certPath), rejectUnauthorized: false },
          (response) => {
            response.resume();
            resolveStatus(response.statusCode);
          },
        )
        .on("error", reject);
    });
    expect(status).toBe(200);
    // Under TLS the session cookies carry Secure (besides HttpOnly and SameSite=Strict).
    const cookies = await new Promise<string[]>((resolveCookies, reject) => {
      const request = https.request(
        `${server.url}/api/v1/session/signup`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          ca: readFileSync(certPath),
          rejectUnauthorized: false,
        },
        (response) => {
          response.resume();
          resolveCookies(response.headers["set-cookie"] ?? []);
        },
      );
      request.on("error", reject);
      request.end(JSON.stringify({ email: "tls@example.test", password: "correct horse battery" }));
    });
    expect(cookies).toHaveLength(2);
    expect(cookies[0]).toMatch(/^bulwark_session=.*; SameSite=Strict; HttpOnly; Secure$/);
    expect(cookies[1]).toMatch(/^bulwark_csrf=.*; SameSite=Strict; Secure$/);
  });
});

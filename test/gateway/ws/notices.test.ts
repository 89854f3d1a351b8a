// Incident notices on the WebSocket gateway: every connection, public and private, gets the
// notice frame, and the stock ccxt 4.5.73 pro.exmo client watching an order book takes the frame
// in the middle of its stream without failing, then keeps following the book.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ccxt from "ccxt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateServerKey, parseServerKey, SecretBox } from "../../../src/accounts/secret-box.ts";
import type { UnstampedCommand } from "../../../src/core/commands.ts";
import { Exchange, type MarketContext } from "../../../src/exchange/exchange.ts";
import { NOTICE_INFO_CODE } from "../../../src/gateway/ws/protocol.ts";
import { attachWebSocket } from "../../../src/gateway/ws/server.ts";
import { IncidentService } from "../../../src/incidents/incident-service.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../../src/server/default-markets.ts";
import { limitOrder } from "../../support/orders.ts";
import {
  byEvent,
  createTrader,
  expectAccepted,
  type Harness,
  loginFrame,
  RawClient,
  type Trader,
} from "./harness.ts";

let harness: Harness;
let incidents: IncidentService;
let maker: Trader;
let dataDir: string;
const ccxtClients: InstanceType<typeof ccxt.pro.exmo>[] = [];

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition never reached");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function ccxtMarket(market: MarketContext): Record<string, unknown> {
  const base = market.base.code;
  const quote = market.quote.code;
  return {
    id: market.config.symbol,
    symbol: `${base}/${quote}`,
    base,
    quote,
    baseId: base,
    quoteId: quote,
    type: "spot",
    spot: true,
    margin: false,
    swap: false,
    future: false,
    option: false,
    contract: false,
    active: true,
    precision: { price: Number(`1e-${market.units.pricePrecision}`), amount: 1e-8 },
    limits: { amount: {}, price: {}, cost: {} },
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-ws-notices-"));
  const exchange = await Exchange.open({ dataDir });
  const setup: UnstampedCommand[] = [
    ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
    ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
  ];
  for (const command of setup) expectAccepted(await exchange.submit(command));
  incidents = new IncidentService({ exchange });
  const secretBox = new SecretBox(parseServerKey(generateServerKey()));
  const server = createServer();
  const gateway = attachWebSocket(server, exchange, { secretBox, notices: incidents });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  harness = {
    exchange,
    gateway,
    server,
    secretBox,
    url: `ws://127.0.0.1:${port}`,
    async close() {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await exchange.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  maker = await createTrader(harness, { USD: 100_000_000_000, BTC: 1_000_000_000 });
});

afterAll(async () => {
  for (const client of ccxtClients) await client.close();
  incidents.stop();
  await harness.close();
});

describe("incident notices over WebSocket", () => {
  it("reach public and private connections as an info frame", async () => {
    const publicClient = await RawClient.connect(`${harness.url}/v1/public`);
    const privateClient = await RawClient.connect(`${harness.url}/v1/private`);
    await publicClient.next(byEvent("info"));
    await privateClient.next(byEvent("info"));
    privateClient.send(loginFrame(maker, Date.now()));
    await privateClient.next(byEvent("logged_in"));
    const opened = await incidents.open({
      kind: "unmatchedOutflow",
      chain: "devnet-btc",
      title: "Unmatched outflow on devnet-btc",
      detail: {},
      detectedAtMs: Date.now(),
      actor: "system:custody",
    });
    await incidents.notify(opened.incidentId, {
      kind: "breaker",
      chain: "devnet-btc",
      message: "BTC withdrawals are paused while we investigate.",
      actor: "system:custody",
    });
    for (const client of [publicClient, privateClient]) {
      const frame = await client.next((candidate) => candidate.topic === "notice");
      expect(frame).toEqual({
        ts: expect.any(Number),
        event: "info",
        code: NOTICE_INFO_CODE,
        message: "BTC withdrawals are paused while we investigate.",
        topic: "notice",
        kind: "breaker",
        incident_id: opened.incidentId,
        chain: "devnet-btc",
        at: expect.any(Number),
      });
    }
    await publicClient.terminate();
    await privateClient.terminate();
  });

  it("pass through ccxt.pro.exmo 4.5.73 watching an order book, which keeps working", async () => {
    const http = harness.url.replace("ws://", "http://");
    const ex = new ccxt.pro.exmo({
      urls: {
        api: {
          public: http,
          private: http,
          web: http,
          ws: {
            public: `${harness.url}/v1/public`,
            spot: `${harness.url}/v1/private`,
            margin: `${harness.url}/v1/margin/private`,
          },
        },
      },
    });
    ccxtClients.push(ex);
    await ex.loadHttpProxyAgent();
    ex.setMarkets(harness.exchange.markets().map(ccxtMarket));
    const empty = await ex.watchOrderBook("BTC/USD");
    expect(empty.asks).toEqual([]);
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_400_000, 100)));
    await until(() => ex.orderbooks["BTC/USD"].asks.length === 1);

    // A watcher is pending when the notice arrives; it must resolve with the next book update.
    const pending = ex.watchOrderBook("BTC/USD");
    await incidents.notify(null, {
      kind: "maintenance",
      chain: null,
      message: "A notice in the middle of the book stream.",
      actor: "operator:alice",
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "buy", 6_300_000, 30)));
    const book = await pending;
    expect(book.bids[0].slice(0, 2)).toEqual([63000, 0.003]);
    expect(book.asks[0].slice(0, 2)).toEqual([64000, 0.01]);
    // And the next one after it too.
    const next = ex.watchOrderBook("BTC/USD");
    expectAccepted(await harness.exchange.submit(limitOrder(maker.userId, "sell", 6_500_000, 10)));
    expect((await next).asks.length).toBe(2);
  });
});

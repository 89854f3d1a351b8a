// GET /status and /status.html on the gateway with a custody double (two chains, one breaker
// tripped, one signer down) and the real incident service: each component's state and sentence,
// open incidents with their notices, no private data, one computation per second however many
// ask, and the routes' refusals.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateServerKey, parseServerKey, SecretBox } from "../../src/accounts/secret-box.ts";
import type { BreakerView, ChainCustodyStatus, CustodyPort } from "../../src/custody/port.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { createGateway, type Gateway } from "../../src/gateway/http/server.ts";
import { STATUS_CACHE_MS, type StatusReport } from "../../src/gateway/http/status.ts";
import { IncidentService } from "../../src/incidents/incident-service.ts";

let dataDir: string;
let exchange: Exchange;
let gateway: Gateway;
let incidents: IncidentService;
let statusCalls = 0;
let connections = 3;

function chain(name: string, overrides: Partial<ChainCustodyStatus>): ChainCustodyStatus {
  return {
    chain: name,
    currencies: [name === "devnet-btc" ? "BTC" : "ETH"],
    walletReady: true,
    signerUp: true,
    signerHalted: false,
    scannerHeight: 100,
    chainHeight: 101,
    pendingWithdrawals: 2,
    balances: [
      {
        currency: "BTC",
        onChain: { hot: "12.5", cold: "100", depositAddresses: "3" },
        onBooks: { hot: "12.5", cold: "100", inFlight: "0", depositAddresses: "3" },
        customerLiabilities: "115.5",
        hotCap: "20",
        hotTarget: "10",
        hotFloor: "5",
        signerBudgetLeft: [],
      },
    ],
    reorgedAfterCredit: 0,
    ...overrides,
  };
}

const tripped: BreakerView = {
  chain: "devnet-btc",
  state: "tripped",
  reason: "unmatched outflow in block 120",
  trippedAtMs: 1_800_000_000_000,
  trippedBy: "system:custody",
  incidentId: 1,
  cause: "unmatchedOutflow",
};

const custody = {
  terms: () => [],
  status: async () => {
    statusCalls += 1;
    return {
      chains: [
        chain("devnet-btc", {}),
        chain("devnet-eth", { signerUp: false, scannerHeight: 50, chainHeight: 80 }),
      ],
    };
  },
  breakers: async () => [
    tripped,
    {
      ...tripped,
      chain: "devnet-eth",
      state: "closed",
      reason: null,
      trippedAtMs: null,
      trippedBy: null,
      incidentId: null,
      cause: null,
    },
  ],
} as unknown as CustodyPort;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-status-"));
  exchange = await Exchange.open({ dataDir });
  incidents = new IncidentService({ exchange });
  gateway = createGateway(exchange, {
    secretBox: new SecretBox(parseServerKey(generateServerKey())),
    port: 0,
    host: "127.0.0.1",
    defaultMetrics: false,
    rateLimit: false,
    custody,
    incidents,
    webSocketConnections: () => connections,
    // No web app: a browser opening /status gets the server-rendered page (the app case is below).
    webRoot: null,
  });
  const opened = await incidents.open({
    kind: "unmatchedOutflow",
    chain: "devnet-btc",
    title: "Unmatched outflow on devnet-btc",
    detail: { txid: "aa" },
    detectedAtMs: Date.now(),
    actor: "system:custody",
  });
  await incidents.notify(opened.incidentId, {
    kind: "breaker",
    chain: "devnet-btc",
    message: "BTC withdrawals are paused <while> we investigate.",
    actor: "system:custody",
  });
});

afterAll(async () => {
  incidents.stop();
  await gateway.close();
  await exchange.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function status(): Promise<StatusReport> {
  const response = await gateway.fastify.inject({ method: "GET", url: "/status" });
  expect(response.statusCode).toBe(200);
  expect(response.headers["content-type"]).toContain("application/json");
  return response.json() as StatusReport;
}

describe("GET /status", () => {
  it("reports every component with a state and a sentence, and the open incident with its notices", async () => {
    const report = await status();
    const byId = new Map(report.components.map((component) => [component.id, component]));
    expect([...byId.keys()]).toEqual([
      "rest",
      "ws",
      "core",
      "store",
      "public-api",
      "deposits:devnet-btc",
      "withdrawals:devnet-btc",
      "deposits:devnet-eth",
      "withdrawals:devnet-eth",
    ]);
    expect(byId.get("ws")).toMatchObject({ status: "operational", connections: 3 });
    expect(byId.get("core")).toMatchObject({ status: "operational", sequence: expect.any(Number) });
    expect(byId.get("store")).toMatchObject({ status: "operational", projectionLag: expect.any(Number) });
    expect(byId.get("deposits:devnet-btc")?.status).toBe("operational");
    expect(byId.get("withdrawals:devnet-btc")).toMatchObject({
      status: "halted",
      breaker: { state: "tripped", incidentId: 1, cause: "unmatchedOutflow" },
    });
    expect(byId.get("withdrawals:devnet-btc")?.message).toContain("paused");
    expect(byId.get("deposits:devnet-eth")).toMatchObject({ status: "degraded" });
    expect(byId.get("deposits:devnet-eth")?.message).toContain("30 blocks behind");
    expect(byId.get("withdrawals:devnet-eth")).toMatchObject({ status: "degraded" });
    for (const component of report.components) expect(component.message.length).toBeGreaterThan(10);
    expect(report.status).toBe("halted");
    expect(report.incidents).toEqual([
      {
        incidentId: 1,
        kind: "unmatchedOutflow",
        chain: "devnet-btc",
        title: "Unmatched outflow on devnet-btc",
        status: "open",
        openedAtMs: expect.any(Number),
        notices: [
          {
            kind: "breaker",
            message: "BTC withdrawals are paused <while> we investigate.",
            atMs: expect.any(Number),
          },
        ],
      },
    ]);
    expect(report.notices[0]).toMatchObject({ incidentId: 1, kind: "breaker" });
  });

  it("shows degraded mode as the Public API component, with the operator's reason, and its end", async () => {
    await new Promise((resolve) => setTimeout(resolve, STATUS_CACHE_MS + 50));
    expect((await status()).components.find((component) => component.id === "public-api")?.status).toBe(
      "operational",
    );
    gateway.guardControl.setDegraded({ on: true, actor: "ops", reason: "DDoS on the public API" });
    try {
      await new Promise((resolve) => setTimeout(resolve, STATUS_CACHE_MS + 50));
      const component = (await status()).components.find((candidate) => candidate.id === "public-api");
      expect(component?.status).toBe("degraded");
      expect(component?.message).toContain("DDoS on the public API");
      expect(component?.message).toContain("cancels work");
      const html = await gateway.fastify.inject({ method: "GET", url: "/status.html" });
      expect(html.body).toContain("Degraded mode");
    } finally {
      gateway.guardControl.setDegraded({ on: false, actor: "ops" });
    }
    await new Promise((resolve) => setTimeout(resolve, STATUS_CACHE_MS + 50));
    expect((await status()).components.find((component) => component.id === "public-api")?.status).toBe(
      "operational",
    );
  });

  it("says nothing private: no balances, liabilities or caps", async () => {
    const text = JSON.stringify(await status());
    for (const secret of ["12.5", "115.5", "hotCap", "customerLiabilities", "onChain", "signerBudgetLeft"])
      expect(text).not.toContain(secret);
  });

  it("computes at most once per second however many ask", async () => {
    await new Promise((resolve) => setTimeout(resolve, STATUS_CACHE_MS + 50));
    const before = statusCalls;
    await Promise.all(Array.from({ length: 50 }, () => status()));
    expect(statusCalls - before).toBe(1);
    connections = 7;
    expect((await status()).components.find((component) => component.id === "ws")?.connections).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, STATUS_CACHE_MS + 50));
    expect((await status()).components.find((component) => component.id === "ws")?.connections).toBe(7);
  });

  it("serves a self-contained HTML page with the notices escaped", async () => {
    const response = await gateway.fastify.inject({ method: "GET", url: "/status.html" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(response.headers["content-security-policy"]).toContain("default-src 'none'");
    const html = response.body;
    expect(html).toContain('http-equiv="refresh"');
    expect(html).toContain("&#60;while&#62;");
    expect(html).not.toContain("<while>");
    expect(html).not.toMatch(/<script|src=|href="http/);
    expect(html).toContain("Unmatched outflow on devnet-btc");
  });

  it("GET /status gives a browser (Accept: text/html first) the page, and API clients JSON", async () => {
    const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    const page = await gateway.fastify.inject({
      method: "GET",
      url: "/status",
      headers: { accept: browser },
    });
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.body).toContain("Unmatched outflow on devnet-btc");
    for (const accept of [undefined, "*/*", "application/json", "application/json, text/html"]) {
      const response = await gateway.fastify.inject({
        method: "GET",
        url: "/status",
        ...(accept === undefined ? {} : { headers: { accept } }),
      });
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
      expect(response.json()).toHaveProperty("components");
    }
  });

  it("GET /status gives a browser the web app when it is built, keeping /status.html and JSON", async () => {
    const webRoot = mkdtempSync(join(tmpdir(), "bulwark-status-web-"));
    const appPage = "<!doctype html><title>app</title><div id=root></div>";
    writeFileSync(join(webRoot, "index.html"), appPage);
    const withApp = createGateway(exchange, {
      secretBox: new SecretBox(parseServerKey(generateServerKey())),
      port: 0,
      host: "127.0.0.1",
      defaultMetrics: false,
      rateLimit: false,
      custody,
      incidents,
      webRoot,
    });
    try {
      const page = await withApp.fastify.inject({
        method: "GET",
        url: "/status",
        headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
      });
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(page.headers.vary).toBe("accept, accept-encoding");
      expect(page.body).toBe(appPage);
      const plain = await withApp.fastify.inject({ method: "GET", url: "/status.html" });
      expect(plain.body).toContain("Unmatched outflow on devnet-btc");
      const json = await withApp.fastify.inject({ method: "GET", url: "/status" });
      expect(json.json()).toHaveProperty("components");
    } finally {
      await withApp.close();
      rmSync(webRoot, { recursive: true, force: true });
    }
  });

  it("refuses other methods and paths without computing anything", async () => {
    const before = statusCalls;
    // Unknown routes answer EXMO's "unknown function" error (HTTP 200, as EXMO does), never a status.
    for (const request of [
      { method: "POST" as const, url: "/status", payload: "{bad json" },
      { method: "GET" as const, url: "/status/../../etc" },
      { method: "GET" as const, url: "/status.json" },
    ]) {
      const response = await gateway.fastify.inject(request);
      expect(response.body).not.toContain("components");
      expect(response.json()).toMatchObject({ result: false, error: expect.stringContaining("40015") });
    }
    expect(statusCalls).toBe(before);
  });
});

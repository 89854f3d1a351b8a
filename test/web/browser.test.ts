// The web app in a real browser: Debian's Chromium (/usr/bin/chromium, installed by .ci/run) driven
// by playwright-core, headless, against a demo server started here (one for the file). The markets
// page lists the default pairs with live prices; the trade page draws the chart, the book and the
// trades from the public API; a click on a book price is kept for the order form; an incident
// notice shows as a banner. Screenshots go to test-artifacts/web/ (git-ignored).

import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_WEB_ROOT } from "../../src/gateway/http/web.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { FAST_PASSWORD_SCRYPT } from "./browser-harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-artifacts", "web");

let server: ExchangeServer;
let browser: Browser;
let baseUrl: string;
let dataDir: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  if (!existsSync(join(DEFAULT_WEB_ROOT, "index.html")))
    throw new Error(`${DEFAULT_WEB_ROOT} has no build: run npm run build (npm ci does)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-web-"));
  [server, browser] = await Promise.all([
    startExchangeServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      demo: true,
      demoTickIntervalMs: 20,
      // No devnet chains nor custody: the pages read market data only, and a devnet start costs seconds.
      devnet: false,
      env: { BULWARK_OPERATOR_TOKEN: "test-operator-token-0123456789abcdef" },
      passwordScrypt: FAST_PASSWORD_SCRYPT,
    }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] }),
  ]);
  baseUrl = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dataDir !== undefined) {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(`${dataDir}-demo-cold`, { recursive: true, force: true });
  }
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("close", () => expect(errors).toEqual([]));
  return page;
}

describe("web app in Chromium", () => {
  it("serves the app at / and its client routes, with hashed assets cached and the API untouched", async () => {
    const index = await fetch(`${baseUrl}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${baseUrl}${script}`);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect(await (await fetch(`${baseUrl}/trade/BTC_USD`)).text()).toBe(html);
    // Not the app's: the API's own answers, and no file outside the build.
    const unknown = await fetch(`${baseUrl}/v1.1/nothing`);
    expect(await unknown.json()).toMatchObject({ result: false });
    expect(
      (await fetch(`${baseUrl}/status`, { headers: { accept: "application/json" } })).headers.get(
        "content-type",
      ),
    ).toContain("application/json");
    for (const path of [
      "/assets/../../package.json",
      "/assets/%2e%2e/%2e%2e/package.json",
      "/package.json",
      "/nothing",
    ]) {
      const response = await fetch(`${baseUrl}${path}`);
      // fetch resolves the dots itself; either way no file outside the build comes back.
      const text = await response.text();
      expect(text, path).not.toContain('"name": "bulwark"');
      expect(text, path).not.toBe(html);
      expect(response.headers.get("content-type"), path).not.toContain("javascript");
    }
  });

  it("shows every default pair on the markets page with live prices, and filters by search", async () => {
    const page = await newPage();
    await page.goto(`${baseUrl}/`);
    const rows = page.locator("tr[data-pair]");
    await rows.first().waitFor();
    const pairs = await rows.evaluateAll((elements) =>
      elements.map((element) => element.getAttribute("data-pair")),
    );
    expect(pairs).toContain("BTC_USD");
    expect(pairs).toContain("ETH_USD");
    // The demo market maker trades within seconds: BTC_USD's last price becomes non-zero, then moves.
    const last = page.locator('tr[data-pair="BTC_USD"] .last');
    await expect
      .poll(async () => last.textContent(), { timeout: 10_000 })
      .toMatch(/^[1-9][0-9]*(\.[0-9]+)?$/);
    await expect
      .poll(async () => page.locator('tr[data-pair="BTC_USD"] .change').textContent(), { timeout: 10_000 })
      .toMatch(/^[+-][0-9]+\.[0-9]{2}%$/);
    await page.screenshot({ path: join(ARTIFACTS, "markets.png") });
    await page.getByPlaceholder(/Search/).fill("eth");
    await expect.poll(async () => rows.count()).toBeGreaterThan(0);
    const filtered = await rows.evaluateAll((elements) =>
      elements.map((element) => element.getAttribute("data-pair")),
    );
    expect(filtered.every((pair) => pair?.includes("ETH"))).toBe(true);
    await page.close();
  });

  it("draws the chart, the book and the trades of /trade/BTC_USD; a book price click is kept", async () => {
    const page = await newPage();
    await page.goto(`${baseUrl}/trade/BTC_USD`);
    await page.locator(".chart canvas").first().waitFor();
    await page.locator(".book-row.ask").first().waitFor({ timeout: 10_000 });
    await page.locator(".book-row.bid").first().waitFor();
    await page.locator(".trade-row").first().waitFor({ timeout: 10_000 });
    // The book moves while the test reads it: the price is read in the same task as the click.
    // A string so the root tsconfig (no DOM types) checks this file: it runs in the page.
    const price = await page.evaluate<string>(`(() => {
      const button = document.querySelector(".book-row.bid .price");
      button?.click();
      return button?.textContent ?? "";
    })()`);
    expect(price).toMatch(/^[0-9]+(\.[0-9]+)?$/);
    await expect.poll(async () => page.locator(".selected-price").textContent()).toBe(price);
    await page.screenshot({ path: join(ARTIFACTS, "trade-btc-usd.png") });
    await page.close();
  });

  it("shows an incident notice as a banner within seconds", async () => {
    const page = await newPage();
    await page.goto(`${baseUrl}/trade/ETH_USD`);
    await page.locator(".book-row").first().waitFor({ timeout: 10_000 });
    await server.incidents.notify(null, {
      kind: "breaker",
      chain: "devnet-btc",
      message: "Withdrawals on devnet-btc are paused while we investigate",
      actor: "test",
    });
    const banner = page.getByRole("alert");
    await expect
      .poll(async () => banner.textContent(), { timeout: 5_000 })
      .toContain("paused while we investigate");
    await page.screenshot({ path: join(ARTIFACTS, "notice-banner.png") });
    await page.close();
  });
});

// A person trading in the browser (issue 9 §2): fails a login with a wrong password and nothing
// changes, signs up, gets funds (the operator's balance adjustment), fills the price from the book,
// places, sees and cancels orders (one, then all), buys at market and sees the trade in "my
// trades" and in the chart's last candle, is refused an order over the balance with nothing
// changed, cannot place an order without the CSRF header, and sees the page signed out when the
// session ends in another tab. One demo server, one browser; screenshots in test-artifacts/web/.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperatorClient } from "../../src/cli/remote.ts";
import { DEMO_TRADER_EMAIL } from "../../src/server/demo/demo-accounts.ts";
import { DEMO_OPERATORS } from "../../src/server/demo/demo-operators.ts";
import { sumDecimals } from "../../web/src/decimal.ts";
import {
  FAST_PASSWORD_SCRYPT,
  newPersonPage,
  screenshot,
  startWebHarness,
  type WebHarness,
} from "./browser-harness.ts";

const EMAIL = "trader-web@example.com";
const PASSWORD = "correct horse battery";
const POLL = { timeout: 8_000 } as const;

let harness: WebHarness;
let page: Page;

beforeAll(async () => {
  harness = await startWebHarness("trade-flow");
  page = await newPersonPage(harness.browser);
}, 60_000);

afterAll(async () => {
  await page?.context().close();
  await harness?.close();
});

/** Text of one balance cell (available or reserved) of the balances panel. */
function balance(currency: string, column: "available" | "reserved") {
  return page.locator(`[data-currency="${currency}"] .${column}`).textContent();
}

/** The caller's open orders of BTC_USD as the API lists them (through the page: its cookies and CSRF). */
async function openOrdersViaApi(): Promise<number> {
  return page.evaluate<number>(`(async () => {
    const csrf = document.cookie.split("; ").find((c) => c.startsWith("bulwark_csrf="))?.split("=")[1] ?? "";
    const response = await fetch("/api/v1/private/user_open_orders", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "X-CSRF-Token": decodeURIComponent(csrf) },
      body: "pair=BTC_USD",
    });
    const body = await response.json();
    return (body.BTC_USD ?? []).length;
  })()`);
}

/** The book row whose price is `price` (written with or without trailing zeros). */
function bookRow(side: "ask" | "bid", price: string) {
  return page.locator(`.book-row.${side}`).filter({
    has: page.locator(".price", { hasText: new RegExp(`^${price.replace(".", "\\.")}(\\.0+)?$`) }),
  });
}

/** Clicks the form's submit button and waits for a new "Order N placed". */
async function submitAndWaitPlaced(): Promise<void> {
  const form = page.getByRole("region", { name: "Order form" });
  const placed = form.locator(".placed");
  const before = (await placed.count()) > 0 ? await placed.textContent() : null;
  await form.getByRole("button", { name: "Buy BTC", exact: true }).click();
  await expect.poll(() => placed.textContent(), POLL).toMatch(/^Order \d+ placed$/);
  await expect.poll(() => placed.textContent(), POLL).not.toBe(before);
}

async function placeLimitBuy(price: string, quantity: string): Promise<void> {
  const form = page.getByRole("region", { name: "Order form" });
  await form.getByLabel("Order type", { exact: true }).selectOption("limit");
  await form.getByLabel("Price (USD)", { exact: true }).fill(price);
  await form.getByLabel("Amount (BTC)", { exact: true }).fill(quantity);
  await submitAndWaitPlaced();
}

describe("trading in the browser", () => {
  it("refuses a wrong password in words (nothing changes), signs up, lands back on the trade page", async () => {
    await page.goto(`${harness.baseUrl}/trade/BTC_USD`);
    const form = page.getByRole("region", { name: "Order form" });
    await expect.poll(() => form.textContent(), POLL).toContain("Log in or sign up to trade");
    await form.getByRole("link", { name: "Log in" }).click();
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.getByLabel("Email", { exact: true }).fill(EMAIL);
    await page.getByLabel("Password", { exact: true }).fill("wrong password!");
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), POLL).toBe("wrong email or password");
    await screenshot(page, "trade-login-wrong-password");
    // Nothing changed: still on the login page, still nobody signed in.
    expect(new URL(page.url()).pathname).toBe("/login");
    const me = await page.evaluate<number>(`fetch("/api/v1/session/me").then((r) => r.status)`);
    expect(me).toBe(401);

    // Sign up from there keeps where the person came from.
    await page.getByRole("form", { name: "Log in" }).getByRole("link", { name: "Sign up" }).click();
    expect(new URL(page.url()).pathname).toBe("/signup");
    await page.getByLabel("Email", { exact: true }).fill(EMAIL);
    await page.getByLabel("Password (at least 8 characters)").fill(PASSWORD);
    await screenshot(page, "trade-signup");
    await page.getByRole("button", { name: "Sign up", exact: true }).click();
    await expect.poll(() => new URL(page.url()).pathname, POLL).toBe("/trade/BTC_USD");
    await expect.poll(() => page.locator(".session-links .who").textContent(), POLL).toBe(EMAIL);
    // The server's passwordScrypt reached the sign-up, the demo accounts and the console operators.
    const { logN, blockSize, parallelization } = FAST_PASSWORD_SCRYPT;
    const fastPrefix = `$scrypt$ln=${logN},r=${blockSize},p=${parallelization}$`;
    const { exchange } = harness.server;
    for (const email of [EMAIL, DEMO_TRADER_EMAIL])
      expect((await exchange.accounts.userByEmail(email))?.passwordHash.startsWith(fastPrefix)).toBe(true);
    for (const { email } of DEMO_OPERATORS)
      expect((await exchange.operators.byEmail(email))?.passwordHash.startsWith(fastPrefix)).toBe(true);
  });

  it("shows funds, fills the price from the book, places, shows and cancels orders", async () => {
    const operator = new OperatorClient(harness.server.operatorSocket);
    for (const [asset, amount] of [
      ["USD", "100000"],
      ["BTC", "1"],
    ])
      await operator.post("/balances/adjust", { email: EMAIL, asset, amount, reason: "web trade test" });
    await expect.poll(() => balance("USD", "available"), POLL).toMatch(/^100000(\.0+)?$/);
    await expect.poll(() => balance("BTC", "available"), POLL).toMatch(/^1(\.0+)?$/);

    // A book price, read in the same task as the click (the book moves), fills the price field.
    await page.locator(".book-row.bid").first().waitFor(POLL);
    const clicked = await page.evaluate<string>(`(() => {
      const button = document.querySelector(".book-row.bid .price");
      button?.click();
      return button?.textContent ?? "";
    })()`);
    expect(clicked).toMatch(/^[0-9]+(\.[0-9]+)?$/);
    const priceField = page
      .getByRole("region", { name: "Order form" })
      .getByLabel("Price (USD)", { exact: true });
    await expect.poll(() => priceField.inputValue()).toBe(clicked);
    await screenshot(page, "trade-price-from-book");

    // Far below the market: it rests, in open orders and in the book with its quantity.
    const farPrice = String(Math.floor(Number(clicked) / 2));
    await placeLimitBuy(farPrice, "0.0123");
    const openRows = page.locator(".open-order");
    await expect.poll(() => openRows.count(), POLL).toBe(1);
    await expect.poll(() => openRows.first().locator(".quantity").textContent()).toBe("0.0123");
    await expect.poll(() => bookRow("bid", farPrice).locator("td").nth(1).textContent(), POLL).toBe("0.0123");
    await expect.poll(() => balance("USD", "reserved"), POLL).not.toMatch(/^0(\.0+)?$/);
    await screenshot(page, "trade-order-resting");
    // Grouped by 1,000: the bid lands in the bucket rounded down, with the same quantity.
    const grouping = page.locator(".book-grouping");
    await grouping.selectOption({ label: "1000" });
    const bucket = String(Math.floor(Number(farPrice) / 1000) * 1000);
    await expect.poll(() => bookRow("bid", bucket).locator("td").nth(1).textContent(), POLL).toBe("0.0123");
    await screenshot(page, "trade-book-grouped");
    await grouping.selectOption({ label: "0.01" });

    await openRows.first().getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => openRows.count(), POLL).toBe(0);
    await expect.poll(() => bookRow("bid", farPrice).count(), POLL).toBe(0);
    expect(await openOrdersViaApi()).toBe(0);

    // Cancel all: two orders, one click.
    await placeLimitBuy(farPrice, "0.001");
    await placeLimitBuy(String(Number(farPrice) - 1), "0.002");
    await expect.poll(() => openRows.count(), POLL).toBe(2);
    await screenshot(page, "trade-two-orders");
    await page.getByRole("button", { name: "Cancel all BTC/USD" }).click();
    await expect.poll(() => openRows.count(), POLL).toBe(0);
    await expect.poll(() => bookRow("bid", farPrice).count(), POLL).toBe(0);
    expect(await openOrdersViaApi()).toBe(0);
    await expect.poll(() => page.locator(".order-history .history-row").count(), POLL).toBe(3);
    await expect.poll(() => balance("USD", "reserved"), POLL).toMatch(/^0(\.0+)?$/);
    await screenshot(page, "trade-cancelled-all");
  });

  it("buys at market: the trade shows in my trades and in the chart's last candle", async () => {
    const form = page.getByRole("region", { name: "Order form" });
    const startMinute = Math.floor(Date.now() / 60_000) * 60;
    await form.getByLabel("Order type", { exact: true }).selectOption("market");
    await form.getByLabel("Amount (BTC)", { exact: true }).fill("0.001");
    await expect.poll(() => form.locator(".order-total").textContent(), POLL).toMatch(/^≈ [0-9.]+ USD$/);
    await submitAndWaitPlaced();
    const orderId = /^Order (\d+) placed$/.exec((await form.locator(".placed").textContent()) ?? "")?.[1];
    // The order may fill against several levels: its trades add up to the amount, exactly.
    const fills = page.locator(`.my-trade[data-order-id="${orderId}"]`);
    await expect.poll(() => fills.count(), POLL).toBeGreaterThan(0);
    await expect
      .poll(async () => sumDecimals(await fills.locator(".quantity").allTextContents()), POLL)
      .toMatch(/^0\.0010*$/);
    expect(await fills.first().textContent()).toContain("buy (taker)");
    // The chart's last candle is this minute's (or a later one) and holds at least this trade's volume.
    const chart = page.getByRole("region", { name: "Candle chart" });
    await expect
      .poll(async () => Number(await chart.getAttribute("data-last-time")), POLL)
      .toBeGreaterThanOrEqual(startMinute);
    await expect
      .poll(async () => Number(await chart.getAttribute("data-last-volume")), POLL)
      .toBeGreaterThanOrEqual(0.001);
    await expect.poll(() => balance("BTC", "available"), POLL).not.toMatch(/^1(\.0+)?$/);
    await screenshot(page, "trade-market-buy");
  });

  it("refuses an order over the balance in words, and a post-only that would take, changing nothing", async () => {
    const form = page.getByRole("region", { name: "Order form" });
    const before = await balance("USD", "available");
    await form.getByLabel("Order type", { exact: true }).selectOption("limit");
    await form.getByLabel("Price (USD)", { exact: true }).fill("30000");
    await form.getByLabel("Amount (BTC)", { exact: true }).fill("100");
    await form.getByRole("button", { name: "Buy BTC", exact: true }).click();
    await expect
      .poll(() => form.getByRole("alert").first().textContent(), POLL)
      .toBe("Insufficient funds: not enough USD available");
    await screenshot(page, "trade-insufficient-funds");
    expect(await balance("USD", "available")).toBe(before);
    expect(await openOrdersViaApi()).toBe(0);

    // The server's own refusal, in its words: a post-only buy above the best ask would take.
    const bestAsk = await page.locator(".book-row.ask .price").last().textContent();
    await form.getByLabel("Time in force", { exact: true }).selectOption("post_only");
    await form.getByLabel("Price (USD)", { exact: true }).fill(String(Math.ceil(Number(bestAsk) * 1.05)));
    await form.getByLabel("Amount (BTC)", { exact: true }).fill("0.001");
    await form.getByRole("button", { name: "Buy BTC", exact: true }).click();
    await expect.poll(() => form.locator(".refusal").textContent(), POLL).toMatch(/post-only/i);
    await screenshot(page, "trade-post-only-refused");
    expect(await balance("USD", "available")).toBe(before);
    expect(await openOrdersViaApi()).toBe(0);
  });

  it("refuses order_create without the CSRF header and creates no order", async () => {
    const answer = await page.evaluate<{
      status: number;
      body: { error?: { code?: string } };
    }>(`(async () => {
      const response = await fetch("/api/v1/private/order_create", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "pair=BTC_USD&type=buy&quantity=0.001&price=30000",
      });
      return { status: response.status, body: await response.json() };
    })()`);
    expect(answer.status).toBe(403);
    expect(answer.body.error?.code).toBe("csrf_failed");
    expect(await openOrdersViaApi()).toBe(0);
    await expect.poll(() => page.locator(".open-order").count()).toBe(0);
  });

  it("lays the trade page out in one column on a phone", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const chartBox = await page.getByRole("region", { name: "Candle chart" }).boundingBox();
    const formBox = await page.getByRole("region", { name: "Order form" }).boundingBox();
    const bookBox = await page.getByRole("region", { name: "Order book" }).boundingBox();
    expect(chartBox !== null && formBox !== null && bookBox !== null).toBe(true);
    expect(formBox!.x).toBe(chartBox!.x);
    expect(bookBox!.x).toBe(chartBox!.x);
    expect(formBox!.y).toBeGreaterThan(chartBox!.y);
    expect(chartBox!.width).toBeLessThanOrEqual(390);
    await screenshot(page, "trade-phone");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("shows the page signed out, with a message, once the session ends in another tab", async () => {
    const other = await page.context().newPage();
    await other.goto(`${harness.baseUrl}/trade/BTC_USD`);
    await other.getByRole("button", { name: "Log out" }).click();
    await other.locator(".session-links").getByRole("link", { name: "Log in" }).waitFor(POLL);
    await other.close();

    // The next action: an order (if the page has not noticed yet through its feed).
    const form = page.getByRole("region", { name: "Order form" });
    const submit = form.getByRole("button", { name: "Buy BTC", exact: true });
    if (await submit.isVisible()) {
      await form
        .getByLabel("Time in force", { exact: true })
        .selectOption("gtc")
        .catch(() => undefined);
      await form
        .getByLabel("Price (USD)", { exact: true })
        .fill("30000")
        .catch(() => undefined);
      await form
        .getByLabel("Amount (BTC)", { exact: true })
        .fill("0.001")
        .catch(() => undefined);
      await submit.click().catch(() => undefined);
    }
    await expect.poll(() => form.getByRole("alert").textContent(), POLL).toMatch(/^You are signed out: /);
    await expect.poll(() => form.textContent()).toContain("Log in or sign up to trade");
    await expect.poll(() => page.locator(".session-links .who").count()).toBe(0);
    await screenshot(page, "trade-signed-out");
    const me = await page.evaluate<number>(`fetch("/api/v1/session/me").then((r) => r.status)`);
    expect(me).toBe(401);
  });
});

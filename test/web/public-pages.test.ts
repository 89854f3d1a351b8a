// The public pages in Chromium (issue 9): the Status page lists the components and shows an
// incident opened on the server with its notice within seconds (the WebSocket notice makes it read
// /status at once); the Reserves page lists a real publication with its signature checked in the
// browser; the signed-in demo trader downloads their proof and the page verifies it with the CLI's
// verifier; a tampered proof is refused with the reason. Plus the HTTP seams: /status gives a
// browser the app (and /status.html the no-JavaScript page), GET /api/v1/reserves, gzipped assets.
//
// One demo server without chains (the demo trader is funded by adjustment; a publication without
// custody counts 0 reserves on chain, which is still a real signed publication) and one browser.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReservesPublication } from "../../src/reserves/proof.ts";
import { DEMO_TRADER_EMAIL, DEMO_TRADER_PASSWORD } from "../../src/server/demo/demo-accounts.ts";
import { newPersonPage, screenshot, startWebHarness, type WebHarness } from "./browser-harness.ts";

let harness: WebHarness;
let published: ReservesPublication;

beforeAll(async () => {
  // Status and reserves need no trading pace: the maker at its default 250 ms.
  harness = await startWebHarness("public-pages", { demoTickIntervalMs: 250 });
  const [btc] = await harness.server.reserves.publish(["BTC"]);
  published = btc;
});

afterAll(async () => {
  await harness?.close();
});

async function signIn(page: Page): Promise<void> {
  // Through the session API in the page (its cookies are the page's), as the login form does.
  const status = await page.evaluate(`fetch("/api/v1/session/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: ${JSON.stringify(DEMO_TRADER_EMAIL)}, password: ${JSON.stringify(DEMO_TRADER_PASSWORD)} }),
  }).then((response) => response.status)`);
  expect(status).toBe(200);
}

describe("public pages over HTTP", () => {
  it("gives a browser opening /status the app, API clients JSON, and keeps /status.html", async () => {
    const { baseUrl } = harness;
    const index = await (await fetch(`${baseUrl}/`)).text();
    const page = await fetch(`${baseUrl}/status`, {
      headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
    });
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("vary")).toBe("accept, accept-encoding");
    expect(await page.text()).toBe(index);
    const json = await fetch(`${baseUrl}/status`);
    expect(json.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await json.json()).toHaveProperty("components");
    const plain = await (await fetch(`${baseUrl}/status.html`)).text();
    expect(plain).toContain("<table>");
    expect(plain).not.toContain("<script");
  });

  it("lists the signed publications publicly, without user data", async () => {
    const response = await fetch(`${harness.baseUrl}/api/v1/reserves`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { publicKey: string; publications: ReservesPublication[] };
    expect(body.publicKey).toBe(published.publicKey);
    expect(body.publications[0]).toEqual(published);
    expect(JSON.stringify(body)).not.toMatch(/salt|leaves|accountId|@/);
  });

  it("serves the scripts gzipped to clients that accept it, and plain to others", async () => {
    const html = await (await fetch(`${harness.baseUrl}/`)).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    // Node's fetch asks for gzip and inflates; the raw header says what came over the wire.
    const zipped = await fetch(`${harness.baseUrl}${script}`, { headers: { "accept-encoding": "gzip" } });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(zipped.headers.get("vary")).toBe("accept-encoding");
    const text = await zipped.text();
    const plain = await fetch(`${harness.baseUrl}${script}`, { headers: { "accept-encoding": "identity" } });
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(await plain.text()).toBe(text);
    const refused = await fetch(`${harness.baseUrl}${script}`, {
      headers: { "accept-encoding": "gzip;q=0, br" },
    });
    expect(refused.headers.get("content-encoding")).toBeNull();
  });
});

describe("public pages in Chromium", () => {
  it("shows the components, then an incident opened on the server with its notice within seconds", async () => {
    const page = await newPersonPage(harness.browser);
    await page.goto(`${harness.baseUrl}/status`);
    const rows = page.locator("tr[data-component]");
    await rows.first().waitFor({ timeout: 5_000 });
    const ids = await rows.evaluateAll((elements) =>
      elements.map((element) => element.getAttribute("data-component")),
    );
    expect(ids).toEqual(expect.arrayContaining(["rest", "ws", "core", "store"]));
    await expect.poll(async () => page.locator(".incident").count()).toBe(0);
    await expect(
      page.getByRole("link", { name: "Page without JavaScript" }).getAttribute("href"),
    ).resolves.toBe("/status.html");
    const opened = await harness.server.incidents.open({
      kind: "operator",
      chain: null,
      title: "Withdrawals delayed for maintenance",
      detail: {},
      detectedAtMs: Date.now(),
      actor: "operator:test",
    });
    await harness.server.incidents.notify(opened.incidentId, {
      kind: "note",
      chain: null,
      message: "We are moving the hot wallet; withdrawals resume within the hour",
      actor: "operator:test",
    });
    const incident = page.locator(`[data-incident="${opened.incidentId}"]`);
    await expect
      .poll(async () => incident.textContent(), { timeout: 4_000 })
      .toContain("withdrawals resume within the hour");
    expect(await incident.textContent()).toContain("Withdrawals delayed for maintenance");
    await screenshot(page, "status-page");
    await page.context().close();
  });

  it("lists the publication with its signature verified in the browser, on a phone-sized screen", async () => {
    const page = await newPersonPage(harness.browser, { width: 390, height: 844 });
    await page.goto(`${harness.baseUrl}/reserves`);
    const row = page.locator(`tr[data-publication="${published.publicationId}"]`);
    await expect.poll(async () => row.textContent(), { timeout: 5_000 }).toContain("verified ✓");
    const text = await row.textContent();
    expect(text).toContain(published.rootHash);
    expect(text).toContain("BTC");
    const yourProof = page.getByRole("region", { name: "Your proof" });
    await expect.poll(async () => yourProof.getByRole("link", { name: "Log in" }).count()).toBe(1);
    // The page fits the screen: only the table scrolls, inside its own scroller.
    const fits = `(() => { const page = document.querySelector(".reserves-page");
      return page.getBoundingClientRect().right <= 390 && page.scrollWidth <= page.clientWidth; })()`;
    expect(await page.evaluate(fits)).toBe(true);
    await screenshot(page, "reserves-phone");
    await page.context().close();
  });

  it("lets the signed-in user download their proof, verifies it, and refuses a tampered copy", async () => {
    const page = await newPersonPage(harness.browser);
    await page.goto(`${harness.baseUrl}/reserves`);
    await signIn(page);
    await page.reload();
    const button = page.getByRole("button", { name: "Download my proof" });
    await button.waitFor({ timeout: 5_000 });
    const [download] = await Promise.all([page.waitForEvent("download"), button.click()]);
    expect(download.suggestedFilename()).toBe(`reserves-proof-BTC-${published.publicationId}.json`);
    const saved = JSON.parse(await streamText(await download.createReadStream())) as {
      leaf: { balanceUnits: string };
      publication: { rootHash: string };
    };
    expect(saved.publication.rootHash).toBe(published.rootHash);
    const verified = page.locator("[data-verified]");
    await expect
      .poll(async () => verified.textContent(), { timeout: 5_000 })
      .toContain("Your proof verifies");
    expect(await verified.textContent()).toContain(published.rootHash);
    await screenshot(page, "reserves-proof-verified");

    // Tamper with the balance in the paste box: the path no longer sums to the signed total.
    const box = page.getByLabel("Or paste the proof (JSON)");
    const pasted = await box.inputValue();
    expect(JSON.parse(pasted)).toEqual(saved);
    const balance = saved.leaf.balanceUnits;
    const tampered = pasted.replace(
      `"balanceUnits": "${balance}"`,
      `"balanceUnits": "${BigInt(balance) + 1n}"`,
    );
    expect(tampered).not.toBe(pasted);
    await box.fill(tampered);
    await page.getByRole("button", { name: "Verify", exact: true }).click();
    const refusal = page.locator(".verify-file [role=alert]");
    await expect
      .poll(async () => refusal.textContent(), { timeout: 5_000 })
      .toContain("This proof does not verify: the proof does not sum");
    await refusal.scrollIntoViewIfNeeded();
    await screenshot(page, "reserves-proof-tampered");
    // The untouched copy verifies again from the box.
    await box.fill(pasted);
    await page.getByRole("button", { name: "Verify", exact: true }).click();
    await expect.poll(async () => page.locator(".verify-file [data-verified]").count()).toBe(1);
    await page.context().close();
  });
});

async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString("utf8");
}

// The operator console in a real browser (issue 9 §3, §5), one demo server with the devnet chains
// and custody for the file: a trader's withdrawal above the approval threshold waits in the
// console's review queue; the security operator approves it, cannot approve it twice, and the admin's
// approval lets it proceed (two distinct approvers, counted by custody). The security operator trips
// the BTC chain's breaker while a trader's page shows the incident banner, then resumes it. The
// auditor reads and verifies the audit log but has no approve button, and the server refuses the
// approval when asked anyway. A wrong console password is refused in words. Setup that is not the
// subject (funding, the trader's withdraw key) goes through the operator API's Unix socket.

import { createHmac } from "node:crypto";
import { request } from "node:http";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressOfKey } from "../../src/chains/devnet/index.ts";
import { privateKeyFromSeed } from "../../src/chains/devnet/keys.ts";
import { DEMO_TRADER_EMAIL, DEMO_TRADER_PASSWORD } from "../../src/server/demo/demo-accounts.ts";
import { newPersonPage, screenshot, startWebHarness, type WebHarness } from "./browser-harness.ts";

/** The demo operators' password is the demo's published one. */
const OPERATOR_PASSWORD = DEMO_TRADER_PASSWORD;
const SECURITY = "security@demo.bulwark";
const ADMIN = "admin@demo.bulwark";
const AUDITOR = "auditor@demo.bulwark";
/**
 * BTC's approval threshold is 0.5 (src/custody/config.ts BTC_TERMS): these wait for two approvers.
 * They stay below the largest withdrawal, the signer's 10-minute budget (1 BTC on a fresh demo,
 * src/server/custody.ts signerBoundConfig), with room for the demo's own small withdrawals.
 */
const LARGE_WITHDRAWAL_BTC = "0.6";
const SECOND_LARGE_WITHDRAWAL_BTC = "0.55";
/** Blocks every 100 ms and 2 confirmations: an approved withdrawal settles within seconds. */
const SETTLED_WITHIN_MS = 30_000;
const SOCKET_TIMEOUT_MS = 10_000;
const BANNER_WITHIN_MS = 5_000;
/**
 * What a page shows after an action or its next refresh (queues every 2 s); generous because the
 * test machine may be busy (logins hash with scrypt).
 */
const UI_WITHIN_MS = 10_000;

function eventually<T>(read: () => T | Promise<T>, timeoutMs = UI_WITHIN_MS) {
  return expect.poll(read, { timeout: timeoutMs, interval: 100 });
}

let harness: WebHarness;
let baseUrl: string;
/** The demo trader's outside BTC wallet, in their address book and activated by the demo. */
let outsideAddress: string;
let withdrawKey: { keyId: string; secret: string };

function operatorCall<T>(
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const call = request(
      {
        socketPath: harness.server.operatorSocket,
        method,
        path: `/operator/v1${path}`,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
        timeout: SOCKET_TIMEOUT_MS,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => {
          try {
            resolve({ status: response.statusCode ?? 0, json: JSON.parse(text) as T });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    call.on("error", reject);
    call.on("timeout", () => call.destroy(new Error(`operator socket: ${path} timed out`)));
    call.end(payload);
  });
}

let nonce = Date.now();

/** The trader's withdrawal through the EXMO API (HMAC-signed, the withdraw-scoped key). */
async function traderWithdraws(amount: string): Promise<number> {
  nonce += 1;
  const body = new URLSearchParams({
    nonce: String(nonce),
    currency: "BTC",
    amount,
    address: outsideAddress,
  }).toString();
  const sign = createHmac("sha512", withdrawKey.secret).update(body).digest("hex");
  const response = await fetch(`${baseUrl}/v1.1/withdraw_crypt`, {
    method: "POST",
    headers: { Key: withdrawKey.keyId, Sign: sign, "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  const answer = (await response.json()) as { result: boolean; error: string; task_id: number };
  expect(answer).toMatchObject({ result: true, error: "" });
  return answer.task_id;
}

async function withdrawalOf(withdrawalId: number) {
  const custody = harness.server.custody;
  if (custody === null) throw new Error("the server runs no custody");
  const view = await custody.withdrawal(withdrawalId);
  if (view === undefined) throw new Error(`no withdrawal ${withdrawalId}`);
  return view;
}

async function consoleLogin(page: Page, email: string, section = ""): Promise<void> {
  await page.goto(`${baseUrl}/console${section === "" ? "" : `/${section}`}`);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(OPERATOR_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await eventually(() => page.locator(".console-email").textContent()).toBe(email);
}

/** The security operator's page, logged in once for the file. */
let securityPage: Page | null = null;

async function securityConsole(section: string): Promise<Page> {
  if (securityPage === null) {
    securityPage = await newPersonPage(harness.browser);
    await consoleLogin(securityPage, SECURITY, section);
    return securityPage;
  }
  await securityPage.goto(`${baseUrl}/console/${section}`);
  await eventually(() => securityPage?.locator(".console-email").textContent()).toBe(SECURITY);
  return securityPage;
}

/**
 * A long browser flow (~30 s): in `npm run test:full` (which CI runs after `npm test`), so that
 * `npm test` keeps its budget; browser.test, trade-flow and public-pages stay in `npm test`.
 */
const FULL = process.env.BULWARK_TEST_FULL === "1";

beforeAll(async () => {
  if (!FULL) return;
  harness = await startWebHarness("console", {
    devnet: true,
    devnetBlockMs: 100,
    custodyTickMs: 50,
    // The pages here need a book, not a fast one: the maker at its default pace leaves the CPU to the flows.
    demoTickIntervalMs: 250,
  });
  baseUrl = harness.baseUrl;
  const devnet = harness.server.devnet;
  if (devnet === null) throw new Error("the server runs no devnet");
  outsideAddress = addressOfKey(devnet.btc, privateKeyFromSeed("bulwark-demo-outside-btc"));
  // The demo trader holds 1 BTC; two withdrawals above the threshold need more.
  const adjusted = await operatorCall("POST", "/balances/adjust", {
    email: DEMO_TRADER_EMAIL,
    asset: "BTC",
    amount: "5",
    reason: "console test: large withdrawals",
  });
  expect(adjusted.status).toBe(200);
  const key = await operatorCall<{ keyId: string; secret: string }>("POST", "/keys", {
    email: DEMO_TRADER_EMAIL,
    scopes: "info,withdraw",
    ipAllowList: ["127.0.0.1"],
  });
  expect(key.status).toBe(201);
  withdrawKey = key.json;
}, 60_000);

afterAll(async () => {
  await securityPage?.context().close();
  await harness?.close();
});

describe.skipIf(!FULL)("operator console", () => {
  it("refuses a wrong console password in words", async () => {
    const page = await newPersonPage(harness.browser);
    await page.goto(`${baseUrl}/console`);
    await eventually(() => page.getByRole("heading", { name: "Operator login" }).count()).toBe(1);
    await page.getByLabel("Email", { exact: true }).fill(SECURITY);
    await page.getByLabel("Password", { exact: true }).fill("not-the-password");
    await page.getByRole("button", { name: "Log in" }).click();
    await eventually(() => page.getByRole("alert").textContent()).toMatch(/wrong email or password/i);
    expect(await page.locator(".console-email").count()).toBe(0);
    await screenshot(page, "console-login-refused");
    await page.context().close();
  });

  it("a large withdrawal waits for two distinct approvers; one operator cannot approve twice", async () => {
    const withdrawalId = await traderWithdraws(LARGE_WITHDRAWAL_BTC);
    await eventually(async () => (await withdrawalOf(withdrawalId)).step).toBe("awaitingApproval");

    const security = await securityConsole("withdrawals");
    expect(await security.locator(".console-role").textContent()).toBe("security");
    const card = security.locator(`.console-card[data-withdrawal="${withdrawalId}"]`);
    await eventually(() => card.textContent()).toContain(`${LARGE_WITHDRAWAL_BTC} BTC`);
    expect(await card.textContent()).toContain("0 of 2 approvals");

    await card.getByRole("button", { name: "Approve" }).click();
    await eventually(() => security.locator(".console-last").textContent()).toMatch(
      /approved: 1 of 2; it waits for another approver/,
    );
    await eventually(() => card.textContent()).toContain("1 of 2 approvals");
    expect((await withdrawalOf(withdrawalId)).approvals).toEqual([`console:${SECURITY}`]);
    await screenshot(security, "console-withdrawals");

    // The same operator again: custody refuses, and the console says why.
    await card.getByRole("button", { name: "Approve" }).click();
    await eventually(() => card.getByRole("alert").textContent()).toMatch(/approved this withdrawal already/);
    expect((await withdrawalOf(withdrawalId)).approvals).toHaveLength(1);

    const admin = await newPersonPage(harness.browser);
    await consoleLogin(admin, ADMIN, "withdrawals");
    const adminCard = admin.locator(`.console-card[data-withdrawal="${withdrawalId}"]`);
    await eventually(() => adminCard.textContent()).toContain("1 of 2 approvals");
    await adminCard.getByRole("button", { name: "Approve" }).click();
    await eventually(() => admin.locator(".console-last").textContent()).toMatch(
      new RegExp(`Withdrawal ${withdrawalId} approved: 2 of 2; it proceeds`),
    );
    const approved = await withdrawalOf(withdrawalId);
    expect(approved.approvals).toEqual([`console:${SECURITY}`, `console:${ADMIN}`]);
    expect(["awaitingApproval", "rejected", "failed"]).not.toContain(approved.step);
    // The latest withdrawals show it moving on at once (the admin's page reloads after the action).
    await eventually(() =>
      admin.locator(`tr[data-withdrawal="${withdrawalId}"] .console-step`).textContent(),
    ).not.toBe("awaitingApproval");

    // Signed within the signer's budget, broadcast and confirmed: it settles.
    await eventually(async () => (await withdrawalOf(withdrawalId)).step, SETTLED_WITHIN_MS).toBe("settled");

    await admin.goto(`${baseUrl}/console/wallets`);
    await eventually(() => admin.getByRole("article", { name: "Chain devnet-btc" }).count()).toBe(1);
    await eventually(() => admin.getByRole("article", { name: "Chain devnet-btc" }).textContent()).toMatch(
      /Scanner height\d+/,
    );
    // The demo funded its users by deposits at start: custody has swept them into hot by now.
    const btcSweeps = admin.getByRole("region", { name: "Sweeps on devnet-btc" });
    await eventually(() => btcSweeps.locator("tbody tr").count(), SETTLED_WITHIN_MS).toBeGreaterThan(0);
    await eventually(() => btcSweeps.textContent()).toMatch(/deposit → hot[0-9.]+ BTC/);
    await screenshot(admin, "console-wallets");

    // The other sections load for the admin, moving by the console's own navigation.
    const nav = admin.getByRole("navigation", { name: "Console sections" });
    for (const [link, shows] of [
      ["Users", DEMO_TRADER_EMAIL],
      ["Markets", "BTC_USD"],
      ["Assets", "BTC"],
      ["Reserves", "Publish proof of reserves"],
      ["Address rotation", "Rotate addresses"],
      ["Incidents", "Show resolved ones too"],
    ] as const) {
      await nav.getByRole("link", { name: link, exact: true }).click();
      await eventually(() => admin.locator(".console-main").textContent()).toContain(shows);
      expect(await admin.locator(".console-main").getByRole("alert").count()).toBe(0);
      if (link === "Users" || link === "Markets") await screenshot(admin, `console-${link.toLowerCase()}`);
    }
    // A freeze and an unfreeze from the users page (the email travels in the path).
    await nav.getByRole("link", { name: "Users", exact: true }).click();
    const taker = admin.locator('.console-card[data-user="demo-taker@bulwark.local"]');
    await taker.getByRole("button", { name: "Freeze" }).click();
    await eventually(() => taker.getByRole("status").textContent()).toMatch(/is frozen/);
    await eventually(() => taker.textContent()).toContain("frozen");
    await taker.getByRole("button", { name: "Unfreeze" }).click();
    await eventually(() => taker.getByRole("status").textContent()).toMatch(/is active/);
    await admin.context().close();
    // It has left the security operator's queue too, on that page's own refresh (looked at last, so
    // the test does not sit out the refresh).
    await eventually(() => security.locator(`.console-card[data-withdrawal="${withdrawalId}"]`).count()).toBe(
      0,
    );
  });

  it("trips and resumes a chain's breaker while the trader's page shows the banner", async () => {
    const trader = await newPersonPage(harness.browser);
    await trader.goto(`${baseUrl}/trade/BTC_USD`);
    await eventually(() => trader.locator(".book tr").count()).toBeGreaterThan(0);

    const security = await securityConsole("breaker");
    const btc = security.locator('.console-card[data-chain="devnet-btc"]');
    await eventually(() => btc.textContent()).toContain("closed");
    await security.getByLabel("Chain to trip").selectOption("devnet-btc");
    await security.getByLabel("Reason for the trip").fill("console drill: checking an outflow");
    await security.getByRole("button", { name: "Trip breaker" }).click();
    await eventually(() => security.getByRole("status").first().textContent()).toMatch(/Tripped: devnet-btc/);
    await eventually(() => btc.textContent()).toContain("console drill: checking an outflow");

    await eventually(() => trader.locator(".banner").textContent(), BANNER_WITHIN_MS).toMatch(
      /Withdrawals on devnet-btc are paused/,
    );
    await screenshot(trader, "console-trader-banner");
    await screenshot(security, "console-breaker-tripped");

    await security.getByLabel("Reason for resuming devnet-btc").fill("outflow checked: ours");
    await security.getByRole("button", { name: "Resume" }).click();
    await eventually(() => btc.textContent()).toContain("closed");
    await eventually(() => trader.locator(".banner").textContent(), BANNER_WITHIN_MS).toMatch(
      /Withdrawals on devnet-btc are running again/,
    );
    // The trip's incident: its timeline, and a note that reaches the trader's page too.
    await security
      .getByRole("navigation", { name: "Console sections" })
      .getByRole("link", { name: "Incidents" })
      .click();
    await security
      .getByRole("button", { name: /devnet-btc/ })
      .first()
      .click();
    const timeline = security.getByRole("list", { name: "Timeline" });
    await eventually(() => timeline.textContent()).toContain(
      "devnet-btc breaker tripped: console drill: checking an outflow",
    );
    await eventually(() => timeline.textContent()).toContain(
      "devnet-btc breaker resumed: outflow checked: ours",
    );
    await security.getByLabel("Note to traders").fill("The pause is over; the outflow was our own transfer.");
    await security.getByRole("button", { name: "Post note" }).click();
    await eventually(() => timeline.textContent()).toContain(
      "The pause is over; the outflow was our own transfer.",
    );
    await eventually(() => trader.locator(".banner").textContent(), BANNER_WITHIN_MS).toContain(
      "The pause is over; the outflow was our own transfer.",
    );
    await screenshot(security, "console-incident");

    const breakers = await operatorCall<{ breakers: { chain: string; state: string }[] }>("GET", "/breakers");
    expect(breakers.json.breakers.find((breaker) => breaker.chain === "devnet-btc")?.state).toBe("closed");
    await trader.context().close();
  });

  it("the auditor verifies the audit log but cannot approve (no button; the server refuses)", async () => {
    const withdrawalId = await traderWithdraws(SECOND_LARGE_WITHDRAWAL_BTC);
    await eventually(async () => (await withdrawalOf(withdrawalId)).step).toBe("awaitingApproval");

    // A phone-sized screen: the console stacks.
    const auditor = await newPersonPage(harness.browser, { width: 390, height: 844 });
    await consoleLogin(auditor, AUDITOR, "withdrawals");
    const card = auditor.locator(`.console-card[data-withdrawal="${withdrawalId}"]`);
    await eventually(() => card.textContent()).toContain(`${SECOND_LARGE_WITHDRAWAL_BTC} BTC`);
    expect(await card.getByRole("button", { name: "Approve" }).count()).toBe(0);
    expect(await card.textContent()).toContain("Your role may not approve or reject withdrawals");
    await screenshot(auditor, "console-auditor-phone");

    // Asked anyway (as a page could): 403 with the server's words; nothing changes.
    const refused = (await auditor.evaluate(`(async () => {
      const csrf = document.cookie.split("; ").find((part) => part.startsWith("bulwark_console_csrf="));
      const response = await fetch("/api/v1/console/operator/v1/withdrawals/${withdrawalId}/approve", {
        method: "POST",
        headers: { "content-type": "application/json", "X-CSRF-Token": decodeURIComponent(csrf.split("=")[1]) },
        body: "{}",
      });
      return { status: response.status, body: await response.json() };
    })()`)) as { status: number; body: { error: { code: string; message: string } } };
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/auditor role may not/);
    expect((await withdrawalOf(withdrawalId)).approvals).toEqual([]);

    await auditor.goto(`${baseUrl}/console/audit`);
    const entries = auditor.getByRole("table", { name: "Audit entries" });
    await eventually(() => entries.textContent()).toContain("withdrawal.approve");
    expect(await entries.textContent()).toContain(`console:${SECURITY}`);
    await auditor.getByRole("button", { name: "Verify the audit log" }).click();
    await eventually(() => auditor.getByRole("status").first().textContent()).toMatch(
      /Verified: \d+ rows, the hash chain is intact/,
    );
    await screenshot(auditor, "console-audit-verified");
    await auditor.context().close();

    // The security operator rejects it with a reason: the hold is released.
    const security = await securityConsole("withdrawals");
    const securityCard = security.locator(`.console-card[data-withdrawal="${withdrawalId}"]`);
    await securityCard.getByRole("button", { name: "Reject…" }).click();
    await securityCard.getByLabel("Reason for rejecting").fill("not the customer's usual destination");
    await securityCard.getByRole("button", { name: "Reject", exact: true }).click();
    // Custody releases the hold of a rejected withdrawal: it ends "failed", with the reason.
    await eventually(async () => (await withdrawalOf(withdrawalId)).step).toBe("failed");
    expect((await withdrawalOf(withdrawalId)).reason).toContain("not the customer's usual destination");
    await eventually(() => security.locator(".console-last").textContent()).toMatch(/rejected \(failed\)/);
  });
});

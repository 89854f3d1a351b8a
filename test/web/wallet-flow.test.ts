// The wallet and account pages in Chromium against a demo server with devnet chains and custody:
// a new person signs up, creates an API key (secret shown once, gone after a reload) and revokes
// it, revokes another session of theirs, turns 2FA on from the Account page (the test reads the
// secret off the page and computes codes as an authenticator app would), gets a BTC deposit
// address with its QR code, receives a devnet deposit (shown on its way with its confirmations,
// then credited), adds a withdrawal address with a 2FA code, is refused a withdrawal with a wrong
// code (said once, nothing changes), withdraws with the right one and sees it go through custody's
// steps in order to settled, and logs out. The devnet mines only when the test says (block
// interval 0), so the pending deposit and each confirmation are seen for sure. The key and the session come before 2FA:
// with 2FA on they would take more codes, and codes are one per 30 s step (three in the server's
// window), so the test would wait for the next step. Screenshots under test-artifacts/web/
// (wallet-*, account-*).

import type { Page } from "playwright-core";
import decodeQR from "qr/decode.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOTP_PERIOD_SECONDS, totpCodeAtStep, totpStep } from "../../src/accounts/totp.ts";
import { addressOfKey, privateKeyFromSeed } from "../../src/chains/devnet/index.ts";
import { compareDecimal, subtractDecimals, sumDecimals } from "../../web/src/decimal.ts";
import { newPersonPage, screenshot, startWebHarness, type WebHarness } from "./browser-harness.ts";

/** The deposit: 0.1 BTC in satoshis (well above the 0.0001 minimum). */
const DEPOSIT_SATOSHIS = 10_000_000n;
/** The withdrawal, fee included: small, under any approval threshold. */
const WITHDRAW_AMOUNT = "0.01";
const PASSWORD = "correct horse battery";
const POLL = { timeout: 10_000, interval: 100 };

let harness: WebHarness;
let page: Page;
let totpSecret = "";
/** The last TOTP step the server accepted for this person: each code works once. */
let lastStepUsed = -1;

/**
 * A long browser flow (~30 s): in `npm run test:full` (which CI runs after `npm test`), so that
 * `npm test` keeps its budget; browser.test, trade-flow and public-pages stay in `npm test`.
 */
const FULL = process.env.BULWARK_TEST_FULL === "1";

beforeAll(async () => {
  if (!FULL) return;
  harness = await startWebHarness("wallet-flow", {
    devnet: true,
    // Blocks only when the test mines them.
    devnetBlockMs: 0,
    custodyTickMs: 50,
    // The demo's own wallet activity would add blocks and rows of its own.
    demoWalletIntervalMs: 0,
    // Long enough to see the new address waiting, short enough not to wait on it.
    addressActivationDelayMs: 500,
    securityChangeLockMs: 0,
    // No trading here: the maker at its default 250 ms leaves the CPU to the wallet's flow.
    demoTickIntervalMs: 250,
  });
  page = await newPersonPage(harness.browser);
}, 60_000);

afterAll(async () => {
  await page?.context().close();
  await harness?.close();
});

/**
 * A fresh 2FA code, as an authenticator app would show it: the server accepts the current step
 * and one either side, each once, so the next unused step in that window is taken; away from a
 * step boundary so the server's window is the same as ours when the code arrives.
 */
async function nextCode(): Promise<string> {
  for (;;) {
    const nowMs = Date.now();
    const current = totpStep(nowMs);
    const intoStepMs = nowMs - current * TOTP_PERIOD_SECONDS * 1000;
    const nearBoundary = intoStepMs < 1_500 || intoStepMs > TOTP_PERIOD_SECONDS * 1000 - 1_500;
    const step = Math.max(lastStepUsed + 1, current - 1);
    if (!nearBoundary && step <= current + 1) {
      lastStepUsed = step;
      return totpCodeAtStep(totpSecret, step);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A wrong code: the current code with its last digit changed (never valid in the window). */
function wrongCode(): string {
  const current = totpStep(Date.now());
  const valid = new Set([-1, 0, 1].map((offset) => totpCodeAtStep(totpSecret, current + offset)));
  for (let digit = 0; digit < 10; digit++) {
    const candidate = `${totpCodeAtStep(totpSecret, current).slice(0, 5)}${digit}`;
    if (!valid.has(candidate)) return candidate;
  }
  throw new Error("no wrong code found");
}

/**
 * What a QR code on the page says, read back as a phone would read it: the SVG drawn on a canvas
 * in the page, its pixels decoded here by the `qr` package's decoder.
 */
async function readQr(selector: string): Promise<string> {
  const image = (await page.evaluate(`(async () => {
    const svg = document.querySelector(${JSON.stringify(selector)});
    const size = 264;
    const blob = new Blob([new XMLSerializer().serializeToString(svg)], { type: "image/svg+xml" });
    const url = URL.createObjectURL(blob);
    const picture = new Image();
    picture.src = url;
    await picture.decode();
    const canvas = document.createElement("canvas");
    canvas.width = size;
    canvas.height = size;
    const context = canvas.getContext("2d");
    context.drawImage(picture, 0, 0, size, size);
    URL.revokeObjectURL(url);
    const data = context.getImageData(0, 0, size, size).data;
    let binary = "";
    for (let i = 0; i < data.length; i++) binary += String.fromCharCode(data[i]);
    return { width: size, height: size, data: btoa(binary) };
  })()`)) as { width: number; height: number; data: string };
  return decodeQR({
    width: image.width,
    height: image.height,
    data: new Uint8Array(Buffer.from(image.data, "base64")),
  });
}

const balanceCell = (currency: string, field: string) =>
  page.locator(`.wallet-balances tr[data-currency="${currency}"] [data-field="${field}"]`);

describe.skipIf(!FULL)("wallet and account pages", () => {
  const email = `wallet-flow-${Date.now()}@example.test`;

  it("a new person signs up; signed out, the pages link to the login", async () => {
    await page.goto(`${harness.baseUrl}/wallet`);
    await expect.poll(() => page.getByRole("link", { name: "Log in" }).count(), POLL).toBeGreaterThan(0);
    await expect.poll(() => page.locator("main").textContent(), POLL).toContain("to see your wallet");
    const signup = await page.context().request.post(`${harness.baseUrl}/api/v1/session/signup`, {
      data: { email, password: PASSWORD },
    });
    expect(signup.status()).toBe(201);
  });

  it("creates an API key with scopes and an allow-list (secret shown once, not after a reload) and revokes it", async () => {
    await page.goto(`${harness.baseUrl}/account`);
    const form = page.getByRole("form", { name: "Create an API key" });
    await form.getByRole("checkbox", { name: /^trade/ }).check();
    await form.getByRole("textbox", { name: /IP allow-list/ }).fill("127.0.0.1");
    await form.getByRole("button", { name: "Create key" }).click();
    const secret = page.getByTestId("new-key-secret");
    // The secret box, or else the refusal in words (so a failure says why).
    await expect
      .poll(
        async () =>
          (await secret.count()) === 1 ? "shown" : await page.locator("[role=alert]").allTextContents(),
        POLL,
      )
      .toBe("shown");
    const keyId = (await page.getByTestId("new-key-id").textContent()) ?? "";
    const secretText = (await secret.textContent()) ?? "";
    expect(secretText.length).toBeGreaterThanOrEqual(32);
    expect(await page.getByTestId("new-api-key").textContent()).toContain("you will not see it again");
    const row = page.locator(`table[aria-label="API keys"] tr[data-key-id="${keyId}"]`);
    await expect.poll(() => row.textContent(), POLL).toContain("info, trade");
    await screenshot(page, "account-api-key-created");

    await page.reload();
    await expect.poll(() => row.count(), POLL).toBe(1);
    expect(await page.getByTestId("new-key-secret").count()).toBe(0);
    expect(await page.content()).not.toContain(secretText);

    await row.getByRole("button", { name: `Revoke ${keyId}` }).click();
    await row.getByRole("button", { name: `Yes, revoke ${keyId}` }).click();
    await expect.poll(() => row.count(), POLL).toBe(0);
    await expect
      .poll(() => page.locator('table[aria-label="Security log"] tr[data-action]').allTextContents(), POLL)
      .toEqual(expect.arrayContaining([expect.stringContaining("revoke")]));
    await screenshot(page, "account-api-key-revoked");
  });

  it("lists the sessions (this one marked) and revokes another", async () => {
    const other = await newPersonPage(harness.browser);
    try {
      const login = await other.context().request.post(`${harness.baseUrl}/api/v1/session/login`, {
        data: { email, password: PASSWORD },
      });
      expect(login.status()).toBe(200);
      await page.reload();
      const rows = page.locator('table[aria-label="Sessions"] tbody tr');
      await expect.poll(() => rows.count(), POLL).toBe(2);
      expect(await page.locator('table[aria-label="Sessions"] tr[data-current="true"]').count()).toBe(1);
      await page
        .locator('table[aria-label="Sessions"] tr[data-current="false"]')
        .getByRole("button", { name: "Revoke" })
        .click();
      await expect.poll(() => rows.count(), POLL).toBe(1);
      // The other browser is signed out for good.
      const me = await other.context().request.get(`${harness.baseUrl}/api/v1/session/me`);
      expect(me.status()).toBe(401);
      await screenshot(page, "account-sessions");
    } finally {
      await other.context().close();
    }
  });

  it("turns 2FA on from the Account page: QR code and secret shown, a wrong code refused, the right one accepted", async () => {
    await page.goto(`${harness.baseUrl}/account`);
    await expect.poll(() => page.getByTestId("account-email").textContent(), POLL).toBe(email);
    await expect.poll(() => page.getByTestId("two-factor-status").textContent(), POLL).toBe("off");
    await page.getByRole("button", { name: "Enable 2FA" }).click();
    const secret = page.getByTestId("totp-secret");
    await expect.poll(() => secret.count(), POLL).toBe(1);
    totpSecret = (await secret.textContent()) ?? "";
    expect(totpSecret).toMatch(/^[A-Z2-7]{16,}$/);
    const qr = page.getByRole("img", { name: "QR code of your 2FA secret" });
    const qrText = await qr.getAttribute("data-qr-text");
    expect(qrText).toMatch(/^otpauth:\/\/totp\//);
    expect(qrText).toContain(`secret=${totpSecret}`);
    expect(await readQr(".two-factor-enrolment svg.qr-code")).toBe(qrText);
    await screenshot(page, "account-2fa-enrol");

    await page.getByLabel("Code from your app").fill(wrongCode());
    await page.getByRole("button", { name: "Confirm and turn 2FA on" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), POLL).toMatch(/wrong code/i);
    expect(await page.getByTestId("two-factor-status").count()).toBe(0);

    await page.getByLabel("Code from your app").fill(await nextCode());
    await page.getByRole("button", { name: "Confirm and turn 2FA on" }).click();
    await expect.poll(() => page.getByTestId("two-factor-status").textContent(), POLL).toBe("on");
    await expect
      .poll(() => page.locator('table[aria-label="Security log"] tr[data-action]').allTextContents(), POLL)
      .toEqual(expect.arrayContaining([expect.stringContaining("user.2fa.confirm")]));
    await screenshot(page, "account-2fa-on");
  });

  let depositAddress = "";

  it("shows a BTC deposit address with its QR code; a devnet deposit to it is credited", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Wallet" }).click();
    await expect.poll(() => balanceCell("BTC", "available").textContent(), POLL).toMatch(/^0(\.0+)?$/);
    await page.getByRole("button", { name: "Deposit or withdraw BTC" }).click();
    await page.getByRole("button", { name: "Show my BTC deposit address" }).click();
    const address = page.getByTestId("deposit-address");
    await expect.poll(() => address.count(), POLL).toBe(1);
    depositAddress = (await address.textContent()) ?? "";
    const devnet = harness.server.devnet;
    if (devnet === null) throw new Error("the server has no devnet");
    expect(devnet.btc.normalizeAddress(depositAddress)).toBe(depositAddress);
    const qr = page.getByRole("img", { name: "QR code of your BTC deposit address" });
    expect(await qr.getAttribute("data-qr-text")).toBe(depositAddress);
    expect(await readQr(".deposit-address svg.qr-code")).toBe(depositAddress);
    await screenshot(page, "wallet-deposit-address");

    const txid = devnet.btc.faucet(depositAddress, "BTC", DEPOSIT_SATOSHIS);
    // In a block: on its way with its first confirmation, not yet credited; the page finds it alone.
    devnet.btc.mine(1);
    const onTheWay = page.getByRole("list", { name: "BTC deposits on their way" });
    const count = onTheWay.locator(`li[data-txid="${txid}"] [data-field="confirmations"]`);
    await expect.poll(() => count.textContent(), POLL).toMatch(/^1 of \d+ confirmations$/);
    const needed = Number(/of (\d+)/.exec((await count.textContent()) ?? "")?.[1]);
    expect(needed).toBeGreaterThanOrEqual(2);
    expect(await onTheWay.locator(`li[data-txid="${txid}"]`).textContent()).toMatch(/^0\.10* BTC/);
    expect(await balanceCell("BTC", "available").textContent()).toMatch(/^0(\.0+)?$/);
    await screenshot(page, "wallet-deposit-pending");
    // Each block counts on the page, live, until the last one credits it.
    for (let seen = 2; seen < needed; seen++) {
      devnet.btc.mine(1);
      await expect.poll(() => count.textContent(), POLL).toBe(`${seen} of ${needed} confirmations`);
    }
    devnet.btc.mine(1);
    // Live: the private feed's balance update, no reload.
    await expect.poll(() => balanceCell("BTC", "available").textContent(), POLL).toMatch(/^0\.10*$/);
    const deposits = page.getByRole("list", { name: "BTC deposits" });
    await expect.poll(() => deposits.textContent(), POLL).toMatch(/0\.10* BTC.*credited, \d+ confirmations/);
    await expect.poll(() => onTheWay.count(), POLL).toBe(0);
    await screenshot(page, "wallet-deposit-credited");
  });

  let destination = "";

  it("adds a withdrawal address with a 2FA code and shows when it becomes active", async () => {
    const devnet = harness.server.devnet;
    if (devnet === null) throw new Error("the server has no devnet");
    destination = addressOfKey(devnet.btc, privateKeyFromSeed(`wallet-flow outside ${email}`));
    const form = page.getByRole("form", { name: "Add a BTC address" });
    await form.getByLabel("Address").fill(destination);
    await form.getByLabel("Label").fill("my cold storage");
    // Without a code: refused in words, nothing added.
    await form.getByRole("button", { name: "Add address" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), POLL).toMatch(/6-digit code/);
    await form.getByLabel("2FA code to add it").fill(await nextCode());
    await form.getByRole("button", { name: "Add address" }).click();
    const entry = page.locator(`.address-book li[data-address="${destination}"]`);
    await expect.poll(() => entry.textContent(), POLL).toContain("my cold storage");
    await screenshot(page, "wallet-address-added");
    await expect.poll(() => entry.locator(".badge").textContent(), POLL).toBe("active");
  });

  it("refuses a withdrawal with a wrong 2FA code (balance the same, no withdrawal), then withdraws and follows it to settled", async () => {
    const form = page.getByRole("form", { name: "Withdraw BTC" });
    await expect.poll(() => form.getByLabel("To address").inputValue(), POLL).toBe(destination);
    expect(await page.locator('[data-field="fee"]').textContent()).toMatch(
      /^0\.\d+ BTC, part of the amount$/,
    );
    expect(await page.locator('[data-field="limits"]').textContent()).toMatch(/^0\.\d+ to \d+(\.\d+)? BTC/);
    const fee = /^(\S+) BTC/.exec((await page.locator('[data-field="fee"]').textContent()) ?? "")?.[1] ?? "";
    // The largest withdrawal is the server's (custody's terms); one satoshi above it is refused.
    const largest =
      / to (\d+(?:\.\d+)?) BTC/.exec(
        (await page.locator('[data-field="limits"]').textContent()) ?? "",
      )?.[1] ?? "";
    const aboveLargest = sumDecimals([largest, "0.00000001"]);
    // The limits are checked as the amount is typed, exactly, and said in words.
    const amountInput = form.getByLabel("Amount (BTC, fee included)");
    const receiveLine = page.locator('[data-field="receive"]');
    for (const [typed, said] of [
      ["1e-2", "The amount is a positive number like 0.25."],
      ["0.0009", "The minimum withdrawal is 0.001 BTC."],
      [aboveLargest, `The largest withdrawal is ${largest} BTC.`],
      ["0.10000001", "You have 0.1 BTC available."],
    ]) {
      await amountInput.fill(typed);
      expect(await receiveLine.textContent()).toBe(said);
    }
    await amountInput.fill(WITHDRAW_AMOUNT);
    // amount − fee, exactly (0.01 − 0.0005 = 0.0095 on the devnet).
    const expected = subtractDecimals(WITHDRAW_AMOUNT, fee) ?? "";
    const receive = /^You receive: (\S+) BTC$/.exec(
      (await page.locator('[data-field="receive"]').textContent()) ?? "",
    );
    expect(receive).not.toBeNull();
    expect(compareDecimal(receive?.[1] ?? "", expected)).toBe(0);
    expect(compareDecimal(expected, "0")).toBeGreaterThan(0);
    const availableBefore = await balanceCell("BTC", "available").textContent();

    await form.getByLabel("2FA code").fill(wrongCode());
    await form.getByRole("button", { name: "Withdraw" }).click();
    // Said once, with what to do (not the refusal's text twice over).
    await expect
      .poll(() => page.locator(".wallet-withdraw [role=alert]").textContent(), POLL)
      .toBe("Two-factor code is wrong or already used: wait for the next code and try again");
    await page.locator(".wallet-withdraw [role=alert]").scrollIntoViewIfNeeded();
    await screenshot(page, "wallet-withdraw-wrong-code");
    // Nothing changed: same balance, no withdrawal listed, not on the server either.
    expect(await balanceCell("BTC", "available").textContent()).toBe(availableBefore);
    expect(await page.locator('.operations li[data-kind="withdraw"]').count()).toBe(0);
    const operations = await page.evaluate(`fetch("/api/v1/private/wallet_operations", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "X-CSRF-Token": decodeURIComponent(document.cookie.match(/bulwark_csrf=([^;]+)/)[1]) },
      body: "type=withdraw",
    }).then((response) => response.json())`);
    expect(operations).toMatchObject({ items: [], count: 0 });

    // Every state the withdrawal's row shows is recorded in the page as it renders: custody's step
    // and each listed step's name and state.
    await page.evaluate(`(() => {
      window.seenSteps = [];
      const record = () => {
        const item = document.querySelector('.operations li[data-kind="withdraw"]');
        if (item === null) return;
        const steps = [...item.querySelectorAll(".withdrawal-steps li")]
          .map((step) => step.querySelector(".step-name").textContent + "=" + step.dataset.state);
        const entry = item.dataset.step + ":" + steps.join(",");
        if (window.seenSteps.at(-1) !== entry) window.seenSteps.push(entry);
      };
      new MutationObserver(record).observe(document.querySelector("main"), {
        subtree: true, childList: true, attributes: true, characterData: true,
      });
    })()`);
    await form.getByLabel("2FA code").fill(await nextCode());
    await form.getByRole("button", { name: "Withdraw" }).click();
    const withdrawal = page.locator('.operations li[data-kind="withdraw"]');
    await expect.poll(() => withdrawal.count(), POLL).toBe(1);
    // Held at once: the available balance drops by the whole amount.
    await expect.poll(() => balanceCell("BTC", "available").textContent(), POLL).toMatch(/^0\.090*$/);
    await withdrawal.scrollIntoViewIfNeeded();
    await screenshot(page, "wallet-withdraw-requested");
    const custody = harness.server.custody;
    const devnet = harness.server.devnet;
    if (custody === null || devnet === null) throw new Error("the server has no custody");
    const withdrawalId = Number(await withdrawal.getAttribute("data-order-id"));
    // No block is mined until it is broadcast: signing needs none, so 0 confirmations are seen.
    await expect.poll(async () => (await custody.withdrawal(withdrawalId))?.step, POLL).toBe("broadcast");
    const confirmed = withdrawal.locator(".withdrawal-steps li", { hasText: "Confirmed" });
    await expect.poll(() => confirmed.textContent(), POLL).toMatch(/^Confirmed0 of \d+ confirmations$/);
    expect(await confirmed.getAttribute("data-state")).toBe("current");
    expect(await withdrawal.locator(".badge").textContent()).toBe("broadcast");
    expect(await withdrawal.textContent()).toMatch(/Broadcast.*transaction [0-9a-f]{16,}/);
    await screenshot(page, "wallet-withdraw-broadcast");
    devnet.btc.mine(1);
    await expect.poll(() => confirmed.textContent(), POLL).toMatch(/^Confirmed1 of \d+ confirmations$/);
    // Then the rest of its confirmations: custody confirms it and settles it, no block more needed.
    const confirmationsNeeded = Number(/of (\d+)/.exec((await confirmed.textContent()) ?? "")?.[1]);
    expect(confirmationsNeeded).toBeGreaterThanOrEqual(1);
    devnet.btc.mine(confirmationsNeeded - 1);
    await expect.poll(() => withdrawal.getAttribute("data-step"), POLL).toBe("settled");
    expect(await withdrawal.getAttribute("data-status")).toBe("Paid");
    // Seen live, in order: first before it was on chain (custody signs within a tick or two of the
    // request, so that is held, approved, signing or signed), then on to settled, every step done.
    const seen = (await page.evaluate("window.seenSteps")) as string[];
    const order = ["held", "approved", "signing", "signed", "broadcast", "confirmed", "settled"];
    const stepsSeen = seen.map((entry) => entry.split(":")[0]);
    expect(order.indexOf(stepsSeen[0])).toBeGreaterThanOrEqual(0);
    expect(order.indexOf(stepsSeen[0])).toBeLessThan(order.indexOf("broadcast"));
    expect(seen[0]).toMatch(/^\w+:Requested=done,Approved=(done|current),Signing=(done|current|waiting),/);
    expect(seen).toContain(
      "broadcast:Requested=done,Approved=done,Signing=done,Signed=done,Broadcast=done,Confirmed=current,Settled=waiting",
    );
    for (let i = 1; i < stepsSeen.length; i++)
      expect(order.indexOf(stepsSeen[i])).toBeGreaterThanOrEqual(order.indexOf(stepsSeen[i - 1]));
    expect(stepsSeen).toEqual(expect.arrayContaining(["broadcast", "settled"]));
    expect(seen.at(-1)).toBe(
      "settled:Requested=done,Approved=done,Signing=done,Signed=done,Broadcast=done,Confirmed=done,Settled=done",
    );
    // The server's own record has every step in that order.
    const final = await custody.withdrawal(withdrawalId);
    expect(final?.history.map((entry) => entry.step)).toEqual([
      "requested",
      "held",
      "approved",
      "signing",
      "signed",
      "broadcast",
      "confirmed",
      "settled",
    ]);
    expect(await balanceCell("BTC", "withdrawing").textContent()).toMatch(/^0(\.0+)?$/);
    await withdrawal.scrollIntoViewIfNeeded();
    await screenshot(page, "wallet-withdraw-settled");

    // On a phone the columns stack and nothing is wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate("window.scrollTo(0, 0)");
    await screenshot(page, "wallet-phone");
    const tooWide = await page.evaluate(`[...document.querySelectorAll("main *")]
      .filter((element) => element.getBoundingClientRect().right > 391)
      .map((element) => element.tagName + "." + element.className)
      .slice(0, 10)`);
    expect(tooWide).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("logs out from the Account page; the wallet then asks to log in", async () => {
    await page.goto(`${harness.baseUrl}/account`);
    await page.locator(".account-head").getByRole("button", { name: "Log out" }).click();
    await expect.poll(() => page.url(), POLL).toBe(`${harness.baseUrl}/login`);
    await page.goto(`${harness.baseUrl}/wallet`);
    await expect.poll(() => page.locator("main").textContent(), POLL).toContain("to see your wallet");
    const me = await page.context().request.get(`${harness.baseUrl}/api/v1/session/me`);
    expect(me.status()).toBe(401);
  });

  it("logs in with 2FA: the code is asked for, a wrong one refused in words (still signed out), the right one signs in", async () => {
    // A second person, so the first one's code attempts (throttled per account) do not count here.
    const person = await newPersonPage(harness.browser);
    try {
      const request = person.context().request;
      const secondEmail = `wallet-flow-2fa-${Date.now()}@example.test`;
      const origin = { origin: harness.baseUrl };
      expect(
        (
          await request.post(`${harness.baseUrl}/api/v1/session/signup`, {
            data: { email: secondEmail, password: PASSWORD },
            headers: origin,
          })
        ).status(),
      ).toBe(201);
      const csrf = (await person.context().cookies()).find((cookie) => cookie.name === "bulwark_csrf")!.value;
      const headers = { ...origin, "x-csrf-token": csrf };
      const enrolment = await request.post(`${harness.baseUrl}/api/v1/session/2fa/enable`, {
        data: {},
        headers,
      });
      const { secret } = (await enrolment.json()) as { secret: string };
      const step = totpStep(Date.now());
      const confirm = await request.post(`${harness.baseUrl}/api/v1/session/2fa/confirm`, {
        data: { code: totpCodeAtStep(secret, step) },
        headers,
      });
      expect(confirm.status()).toBe(200);
      expect(
        (await request.post(`${harness.baseUrl}/api/v1/session/logout`, { data: {}, headers })).status(),
      ).toBe(200);

      await person.goto(`${harness.baseUrl}/login`);
      const form = person.locator("main form");
      await form.getByLabel("Email").fill(secondEmail);
      await form.getByLabel("Password").fill(PASSWORD);
      await form.getByRole("button", { name: "Log in" }).click();
      await expect.poll(() => person.getByRole("alert").textContent(), POLL).toContain("6-digit code");
      const valid = new Set([step, step + 1, step + 2].map((at) => totpCodeAtStep(secret, at)));
      const wrong = ["000000", "111111", "222222"].find((code) => !valid.has(code))!;
      await form.getByLabel("2FA code").fill(wrong);
      await form.getByRole("button", { name: "Log in" }).click();
      await expect
        .poll(() => person.getByRole("alert").textContent(), POLL)
        .toContain("wrong or already used 2FA code");
      await screenshot(person, "account-login-wrong-2fa");
      expect((await request.get(`${harness.baseUrl}/api/v1/session/me`)).status()).toBe(401);
      // The next step's code: the one used to confirm is spent, and the server takes one step either side.
      await form
        .getByLabel("2FA code")
        .fill(totpCodeAtStep(secret, Math.max(step + 1, totpStep(Date.now()))));
      await form.getByRole("button", { name: "Log in" }).click();
      await expect.poll(() => person.url(), POLL).not.toContain("/login");
      const me = await request.get(`${harness.baseUrl}/api/v1/session/me`);
      expect(me.status()).toBe(200);
      expect(((await me.json()) as { session: { secondFactor: boolean } }).session.secondFactor).toBe(true);
    } finally {
      await person.context().close();
    }
  });
});

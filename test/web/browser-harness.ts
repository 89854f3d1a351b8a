// What every browser test file shares: Debian's Chromium (/usr/bin/chromium, installed by .ci/run)
// driven by playwright-core, headless; a server started by the test in a temp data dir; pages that
// fail the test on any uncaught page error; screenshots under test-artifacts/web/ (git-ignored).

import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import type { ScryptParams } from "../../src/accounts/passwords.ts";
import { DEFAULT_WEB_ROOT } from "../../src/gateway/http/web.ts";
import {
  type ExchangeServer,
  type ExchangeServerOptions,
  startExchangeServer,
} from "../../src/server/server.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-artifacts", "web");
export const TEST_OPERATOR_TOKEN = "test-operator-token-0123456789abcdef";
/** The cheapest scrypt SCRYPT_LIMITS allows: every demo account, sign-up and login hashes at it (test/server/server-demo.test.ts checks the production default). */
export const FAST_PASSWORD_SCRYPT: ScryptParams = { logN: 10, blockSize: 8, parallelization: 1 };

export interface WebHarness {
  server: ExchangeServer;
  browser: Browser;
  baseUrl: string;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * A demo server (market maker on) and a browser, started side by side. `options` override the
 * defaults: pass `devnet: true` (and short `devnetBlockMs` / `custodyTickMs`) for flows that need
 * deposits and withdrawals; without it there are no chains and custody, and the start is faster.
 */
export async function startWebHarness(
  prefix: string,
  options: Partial<ExchangeServerOptions> = {},
): Promise<WebHarness> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  if (!existsSync(join(DEFAULT_WEB_ROOT, "index.html")))
    throw new Error(`${DEFAULT_WEB_ROOT} has no build: run npm run build (npm ci does)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), `bulwark-${prefix}-`));
  const [server, browser] = await Promise.all([
    startExchangeServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      demo: true,
      demoTickIntervalMs: 50,
      devnet: false,
      rateLimit: false,
      env: { BULWARK_OPERATOR_TOKEN: TEST_OPERATOR_TOKEN },
      passwordScrypt: FAST_PASSWORD_SCRYPT,
      ...options,
    }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] }),
  ]);
  const baseUrl = `http://127.0.0.1:${server.port}`;
  return {
    server,
    browser,
    baseUrl,
    dataDir,
    async close() {
      await browser.close();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(`${dataDir}-demo-cold`, { recursive: true, force: true });
    },
  };
}

/**
 * A page in its own browser context (its own cookies: one person), 1280×800 unless told, that
 * fails the test when the page throws. Close it with `page.context().close()`.
 */
export async function newPersonPage(
  browser: Browser,
  viewport: { width: number; height: number } = { width: 1280, height: 800 },
): Promise<Page> {
  const context: BrowserContext = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("close", () => expect(errors).toEqual([]));
  return page;
}

export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

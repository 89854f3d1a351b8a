// `npm run bench:web`: the web app's speed in headless Chromium (issue 9 §4), on this machine.
//
// A demo server is started here (market maker at full speed: a tick every --tick-ms, default 1 ms)
// with the built app (dist/web: `npm run build` first). Then:
//
// 1. First load of /trade/BTC_USD, --runs times (default 5), each in a fresh browser context (no
//    cache): from navigation start (the Performance API's time origin) to the first chart drawn,
//    the first book rows and the first trade rows (performance marks the app sets once:
//    bulwark:chart in chart.tsx, bulwark:book in book.tsx, bulwark:trades in trades.tsx; the
//    page is "drawn" at the last of the three); the JavaScript the page fetched, gzipped as it
//    came over the wire (resource timing's encodedBodySize; the bench asks the server for gzip as
//    browsers do) and its longest long task (PerformanceObserver "longtask").
// 2. Keeping up: --seconds (default 5) on the trade page with the maker at full speed: the
//    WebSocket frames received per second against the frames drawn per second, the book's and
//    the trades' DOM updates per second (batched per animation frame: never more than the
//    frames) and the
//    longest long task.
// 3. A 10,000-candle history, --runs times: the candles request is answered with 10,000 one-minute candles
//    (the browser's request is intercepted and answered once the page has booted; the app draws
//    whatever it gets), the time from the answer to the chart's mark and the longest long task
//    in between.
//
// Benchmarks compare against a peer in the same run; no peer web app runs here, so for the browser
// the reference is the budget, printed in the peer column: JS ≤ 350 KB gzipped, drawn
// ≤ 1.5 s after navigation, 10,000 candles without a long task over 200 ms.
//
// Flags: --runs N, --seconds N, --tick-ms N, --json (one JSON object with every figure).

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { type Browser, chromium, type Page } from "playwright-core";
import { DEFAULT_WEB_ROOT } from "../src/gateway/http/web.ts";
import { startExchangeServer } from "../src/server/server.ts";
import { median } from "./stats.ts";

const CHROMIUM = "/usr/bin/chromium";
const PAIR = "BTC_USD";
/** The budgets: the reference the figures are held against. */
const BUDGET_JS_GZIP_BYTES = 350 * 1024;
const BUDGET_DRAWN_MS = 1_500;
const BUDGET_LONG_TASK_MS = 200;
const HISTORY_CANDLES = 10_000;
/** The history's answer waits this long: past the page's boot (its first load draws within ~1 s). */
const HISTORY_ANSWER_DELAY_MS = 2_500;
/** A page that has not drawn within this has failed the run. */
const DRAW_TIMEOUT_MS = 15_000;
const MARKS = ["bulwark:chart", "bulwark:book", "bulwark:trades"] as const;

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    seconds: { type: "string", default: "5" },
    "tick-ms": { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const RUNS = Math.max(1, Math.min(50, Number(flags.runs)));
const KEEP_UP_MS = Math.max(1, Math.min(60, Number(flags.seconds))) * 1000;
const TICK_MS = Math.max(1, Number(flags["tick-ms"]));

function log(text: string): void {
  if (!flags.json) console.log(text);
}

/**
 * Runs in the page before its scripts: long tasks as they happen (the observer must exist before
 * the first one), and the WebSocket frames and animation frames counted while `__bench.counting`.
 * A string: the root tsconfig has no DOM types.
 */
const PAGE_PROBE = `(() => {
  const bench = { longTasks: [], counting: false, socketFrames: 0, animationFrames: 0, bookUpdates: 0, tradeUpdates: 0 };
  window.__bench = bench;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) bench.longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: "longtask", buffered: true });
  const frame = () => { if (bench.counting) bench.animationFrames += 1; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", () => { if (bench.counting) bench.socketFrames += 1; });
    }
  };
})()`;

interface FirstLoad {
  chartMs: number;
  bookMs: number;
  tradesMs: number;
  drawnMs: number;
  firstContentfulPaintMs: number | null;
  jsGzipBytes: number;
  jsBytes: number;
  jsFiles: number;
  longestLongTaskMs: number;
}

async function firstLoad(browser: Browser, baseUrl: string): Promise<FirstLoad> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.addInitScript(PAGE_PROBE);
    await page.goto(`${baseUrl}/trade/${PAIR}`);
    await page.waitForFunction(
      `${JSON.stringify(MARKS)}.every((name) => performance.getEntriesByName(name).length > 0)`,
      undefined,
      { timeout: DRAW_TIMEOUT_MS },
    );
    return (await page.evaluate(`(() => {
      const mark = (name) => performance.getEntriesByName(name)[0].startTime;
      const scripts = performance.getEntriesByType("resource").filter((entry) => new URL(entry.name).pathname.endsWith(".js"));
      const paint = performance.getEntriesByName("first-contentful-paint")[0];
      const chartMs = mark("bulwark:chart"), bookMs = mark("bulwark:book"), tradesMs = mark("bulwark:trades");
      return {
        chartMs, bookMs, tradesMs,
        drawnMs: Math.max(chartMs, bookMs, tradesMs),
        firstContentfulPaintMs: paint === undefined ? null : paint.startTime,
        jsGzipBytes: scripts.reduce((sum, entry) => sum + entry.encodedBodySize, 0),
        jsBytes: scripts.reduce((sum, entry) => sum + entry.decodedBodySize, 0),
        jsFiles: scripts.length,
        longestLongTaskMs: window.__bench.longTasks.reduce((max, task) => Math.max(max, task.duration), 0),
      };
    })()`)) as FirstLoad;
  } finally {
    await context.close();
  }
}

interface KeepUp {
  socketFramesPerSecond: number;
  animationFramesPerSecond: number;
  bookUpdatesPerSecond: number;
  tradeUpdatesPerSecond: number;
  longestLongTaskMs: number;
  longTasks: number;
}

async function keepUp(browser: Browser, baseUrl: string): Promise<KeepUp> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.addInitScript(PAGE_PROBE);
    await page.goto(`${baseUrl}/trade/${PAIR}`);
    await page.waitForFunction(`performance.getEntriesByName("bulwark:book").length > 0`, undefined, {
      timeout: DRAW_TIMEOUT_MS,
    });
    // The book's DOM changes, counted once per task that changed it (a batched frame is one).
    await page.evaluate(`(() => {
      const bench = window.__bench;
      bench.longTasks = [];
      const watch = { childList: true, subtree: true, characterData: true };
      new MutationObserver(() => { if (bench.counting) bench.bookUpdates += 1; })
        .observe(document.querySelector(".book"), watch);
      new MutationObserver(() => { if (bench.counting) bench.tradeUpdates += 1; })
        .observe(document.querySelector(".trades"), watch);
      bench.counting = true;
    })()`);
    await page.waitForTimeout(KEEP_UP_MS);
    const counted = (await page.evaluate(`(() => {
      const bench = window.__bench;
      bench.counting = false;
      return {
        socketFrames: bench.socketFrames, animationFrames: bench.animationFrames, bookUpdates: bench.bookUpdates,
        tradeUpdates: bench.tradeUpdates,
        longTasks: bench.longTasks.length,
        longestLongTaskMs: bench.longTasks.reduce((max, task) => Math.max(max, task.duration), 0),
      };
    })()`)) as {
      socketFrames: number;
      animationFrames: number;
      bookUpdates: number;
      tradeUpdates: number;
      longTasks: number;
      longestLongTaskMs: number;
    };
    const seconds = KEEP_UP_MS / 1000;
    return {
      socketFramesPerSecond: counted.socketFrames / seconds,
      animationFramesPerSecond: counted.animationFrames / seconds,
      bookUpdatesPerSecond: counted.bookUpdates / seconds,
      tradeUpdatesPerSecond: counted.tradeUpdates / seconds,
      longestLongTaskMs: counted.longestLongTaskMs,
      longTasks: counted.longTasks,
    };
  } finally {
    await context.close();
  }
}

/** 10,000 one-minute candles ending now: a seeded random walk around 60,000 (numbers: drawing only). */
function syntheticCandles(
  count: number,
): { t: number; o: number; c: number; h: number; l: number; v: number }[] {
  const endMs = Math.floor(Date.now() / 60_000) * 60_000;
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  let price = 60_000;
  const candles = [];
  for (let index = 0; index < count; index++) {
    const open = price;
    price = Math.max(1, price + (random() - 0.5) * 120);
    const close = price;
    candles.push({
      t: endMs - (count - 1 - index) * 60_000,
      o: open,
      c: close,
      h: Math.max(open, close) + random() * 40,
      l: Math.min(open, close) - random() * 40,
      v: random() * 3,
    });
  }
  return candles;
}

interface History {
  candles: number;
  renderMs: number;
  longestLongTaskMs: number;
}

async function history(browser: Browser, baseUrl: string): Promise<History> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page: Page = await context.newPage();
    await page.addInitScript(PAGE_PROBE);
    const body = JSON.stringify({ candles: syntheticCandles(HISTORY_CANDLES) });
    // Answered once the page has booted, so the long tasks after the answer are the render's own.
    await page.route("**/v1.1/candles_history?**", async (route) => {
      await new Promise((resolve) => setTimeout(resolve, HISTORY_ANSWER_DELAY_MS));
      await route.fulfill({ status: 200, contentType: "application/json", body });
    });
    await page.goto(`${baseUrl}/trade/${PAIR}`);
    await page.waitForFunction(`performance.getEntriesByName("bulwark:chart").length > 0`, undefined, {
      timeout: DRAW_TIMEOUT_MS,
    });
    return (await page.evaluate(`(() => {
      const answer = performance.getEntriesByType("resource").find((entry) => entry.name.includes("/v1.1/candles_history"));
      const from = answer === undefined ? 0 : answer.responseEnd;
      const drawn = performance.getEntriesByName("bulwark:chart")[0].startTime;
      const during = window.__bench.longTasks.filter((task) => task.start + task.duration >= from);
      return {
        candles: ${HISTORY_CANDLES},
        renderMs: drawn - from,
        longestLongTaskMs: during.reduce((max, task) => Math.max(max, task.duration), 0),
      };
    })()`)) as History;
  } finally {
    await context.close();
  }
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, index) => (index === 0 ? cell.padEnd(widths[index]) : cell.padStart(widths[index])))
    .join("  ");
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  if (!existsSync(join(DEFAULT_WEB_ROOT, "index.html")))
    throw new Error(`${DEFAULT_WEB_ROOT} has no build: run npm run build first`);
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-bench-web-"));
  const [server, browser] = await Promise.all([
    startExchangeServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      demo: true,
      devnet: false,
      demoTickIntervalMs: TICK_MS,
      logger: pino({ level: "silent" }),
      rateLimit: false,
      env: { BULWARK_OPERATOR_TOKEN: "bench-operator-token-0123456789abcdef" },
    }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] }),
  ]);
  const baseUrl = `http://127.0.0.1:${server.port}`;
  try {
    log(`server ${baseUrl}, demo maker every ${TICK_MS} ms; ${RUNS} first loads of /trade/${PAIR}`);
    // The server gzips each file on its first request (once): warm that up, and let the maker trade.
    const index = await (await fetch(`${baseUrl}/`)).text();
    for (const [, path] of index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g))
      await fetch(`${baseUrl}${path}`, { headers: { "accept-encoding": "gzip" } });
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const loads: FirstLoad[] = [];
    for (let run = 0; run < RUNS; run++) {
      const load = await firstLoad(browser, baseUrl);
      loads.push(load);
      log(
        `  run ${run + 1}: drawn ${load.drawnMs.toFixed(0)} ms (chart ${load.chartMs.toFixed(0)}, book ${load.bookMs.toFixed(0)}, trades ${load.tradesMs.toFixed(0)}), JS ${(load.jsGzipBytes / 1024).toFixed(1)} KB gzipped in ${load.jsFiles} files`,
      );
    }
    const kept = await keepUp(browser, baseUrl);
    const histories: History[] = [];
    for (let run = 0; run < RUNS; run++) histories.push(await history(browser, baseUrl));
    const candles: History = {
      candles: HISTORY_CANDLES,
      renderMs: median(histories.map((entry) => entry.renderMs)),
      longestLongTaskMs: median(histories.map((entry) => entry.longestLongTaskMs)),
    };
    const historyRange = (pick: (entry: History) => number) => {
      const values = histories.map(pick);
      return `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
    };

    const m = (pick: (load: FirstLoad) => number) => median(loads.map(pick));
    const range = (pick: (load: FirstLoad) => number, digits = 0) => {
      const values = loads.map(pick);
      return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
    };
    const verdict = (value: number, budget: number) => (value <= budget ? "within" : "OVER");
    const jsKb = m((load) => load.jsGzipBytes) / 1024;
    const table: string[][] = [
      ["metric", "median", `min–max (${RUNS})`, "peer: budget", "verdict"],
      [
        "JS transferred, gzipped (KB)",
        jsKb.toFixed(1),
        range((load) => load.jsGzipBytes / 1024, 1),
        "≤ 350",
        verdict(jsKb * 1024, BUDGET_JS_GZIP_BYTES),
      ],
      [
        "JS uncompressed (KB)",
        (m((load) => load.jsBytes) / 1024).toFixed(1),
        range((load) => load.jsBytes / 1024, 1),
        "",
        "",
      ],
      [
        "first contentful paint (ms)",
        m((load) => load.firstContentfulPaintMs ?? Number.NaN).toFixed(0),
        range((load) => load.firstContentfulPaintMs ?? Number.NaN),
        "",
        "",
      ],
      [
        "chart drawn (ms)",
        m((load) => load.chartMs).toFixed(0),
        range((load) => load.chartMs),
        "≤ 1500",
        verdict(
          m((load) => load.chartMs),
          BUDGET_DRAWN_MS,
        ),
      ],
      [
        "book rows drawn (ms)",
        m((load) => load.bookMs).toFixed(0),
        range((load) => load.bookMs),
        "≤ 1500",
        verdict(
          m((load) => load.bookMs),
          BUDGET_DRAWN_MS,
        ),
      ],
      [
        "trade rows drawn (ms)",
        m((load) => load.tradesMs).toFixed(0),
        range((load) => load.tradesMs),
        "≤ 1500",
        verdict(
          m((load) => load.tradesMs),
          BUDGET_DRAWN_MS,
        ),
      ],
      [
        "all three drawn (ms)",
        m((load) => load.drawnMs).toFixed(0),
        range((load) => load.drawnMs),
        "≤ 1500",
        verdict(
          m((load) => load.drawnMs),
          BUDGET_DRAWN_MS,
        ),
      ],
      [
        "longest long task, first load (ms)",
        m((load) => load.longestLongTaskMs).toFixed(0),
        range((load) => load.longestLongTaskMs),
        "",
        "",
      ],
      ["maker full speed: WS frames/s", kept.socketFramesPerSecond.toFixed(0), "1 run", "", ""],
      ["  animation frames/s", kept.animationFramesPerSecond.toFixed(0), "1 run", "", ""],
      [
        "  book DOM updates/s (≤ frames/s)",
        kept.bookUpdatesPerSecond.toFixed(0),
        "1 run",
        "",
        kept.bookUpdatesPerSecond <= kept.animationFramesPerSecond + 1 ? "batched" : "NOT batched",
      ],
      [
        "  trades DOM updates/s (≤ frames/s)",
        kept.tradeUpdatesPerSecond.toFixed(0),
        "1 run",
        "",
        kept.tradeUpdatesPerSecond <= kept.animationFramesPerSecond + 1 ? "batched" : "NOT batched",
      ],
      [
        `  longest long task (ms), ${kept.longTasks} long tasks`,
        kept.longestLongTaskMs.toFixed(0),
        "1 run",
        "",
        "",
      ],
      [
        `${HISTORY_CANDLES} candles: answer → drawn (ms)`,
        candles.renderMs.toFixed(0),
        historyRange((entry) => entry.renderMs),
        "",
        "",
      ],
      [
        `${HISTORY_CANDLES} candles: longest long task (ms)`,
        candles.longestLongTaskMs.toFixed(0),
        historyRange((entry) => entry.longestLongTaskMs),
        "≤ 200",
        verdict(candles.longestLongTaskMs, BUDGET_LONG_TASK_MS),
      ],
    ];
    if (flags.json) {
      console.log(JSON.stringify({ runs: RUNS, tickMs: TICK_MS, loads, keepUp: kept, histories }));
      return;
    }
    const widths = table[0].map((_, column) => Math.max(...table.map((cells) => cells[column].length)));
    log("");
    for (const cells of table) log(row(cells, widths));
    log(
      "\nPeer column: no peer web app runs in this bench, so the issue's budget is the reference for the browser figures.",
    );
  } finally {
    await browser.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(`${dataDir}-demo-cold`, { recursive: true, force: true });
  }
}

await main();

// The `bulwark` command as an operator runs it: a child process per command, --json output parsed,
// every failure with its kind and a non-zero exit code.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCK_FILE_NAME } from "../../src/server/data-dir-lock.ts";

const BIN = resolve(import.meta.dirname, "../../bin/bulwark.mjs");
let dataDir: string;

interface Run {
  status: number | null;
  json: Record<string, unknown> & { ok: boolean; error?: { kind: string; message: string } };
}

function bulwark(...args: string[]): Run {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.BULWARK_SERVER_KEY;
  const child = spawnSync(process.execPath, [BIN, ...args, "--json", "--data-dir", dataDir], {
    encoding: "utf8",
    env,
    timeout: 60_000,
  });
  const lines = child.stdout.trim().split("\n");
  try {
    return { status: child.status, json: JSON.parse(lines[lines.length - 1]) };
  } catch {
    throw new Error(`not JSON: ${child.stdout} ${child.stderr}`);
  }
}

function expectFailure(run: Run, kind: string, message?: RegExp): void {
  expect(run.json.ok).toBe(false);
  expect(run.json.error?.kind).toBe(kind);
  expect(run.status).toBe(kind === "usage" ? 2 : 1);
  if (message !== undefined) expect(run.json.error?.message).toMatch(message);
}

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-cli-"));
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe("bulwark CLI", () => {
  it("reports usage errors", () => {
    expectFailure(bulwark("frobnicate"), "usage", /unknown command/);
    expectFailure(bulwark("user", "create", "--email", "a@example.com"), "usage", /--password is required/);
    expectFailure(bulwark("user", "create", "--nonsense"), "usage", /nonsense/);
  });

  it("creates users, and refuses duplicates and weak passwords", () => {
    const created = bulwark("user", "create", "--email", "alice@example.com", "--password", "correct horse");
    expect(created.status).toBe(0);
    expect(created.json).toMatchObject({ ok: true, email: "alice@example.com" });
    expect(created.json.userId).toBeGreaterThan(0);
    expectFailure(
      bulwark("user", "create", "--email", "ALICE@example.com", "--password", "password123"),
      "conflict",
    );
    expectFailure(bulwark("user", "create", "--email", "bob@example.com", "--password", "short"), "invalid");
    expectFailure(bulwark("user", "create", "--email", "bob", "--password", "password123"), "invalid");
  });

  it("creates and revokes API keys", () => {
    const key = bulwark("key", "create", "--email", "alice@example.com", "--scopes", "info,trade");
    expect(key.json).toMatchObject({ ok: true, scopes: "info,trade" });
    expect(key.json.keyId).toMatch(/^K-[0-9a-f]{40}$/);
    expect(key.json.secret).toMatch(/^S-[0-9a-f]{64}$/);
    const withdraw = bulwark(
      "key",
      "create",
      "--email",
      "alice@example.com",
      "--scopes",
      "info,withdraw",
      "--ip",
      "10.0.0.0/8",
      "--ip",
      "192.168.1.7",
    );
    expect(withdraw.json).toMatchObject({ ok: true, ipAllowList: ["10.0.0.0/8", "192.168.1.7"] });
    expectFailure(
      bulwark("key", "create", "--email", "alice@example.com", "--scopes", "info,withdraw"),
      "invalid",
      /allow-list/,
    );
    expectFailure(
      bulwark("key", "create", "--email", "alice@example.com", "--scopes", "admin"),
      "invalid",
      /unknown scope/,
    );
    expectFailure(
      bulwark("key", "create", "--email", "alice@example.com", "--scopes", "info", "--ip", "10.0.0.1/8"),
      "invalid",
    );
    expectFailure(bulwark("key", "create", "--email", "nobody@example.com", "--scopes", "info"), "notFound");
    expect(bulwark("key", "revoke", "--key", String(key.json.keyId)).json.ok).toBe(true);
    expectFailure(bulwark("key", "revoke", "--key", String(key.json.keyId)), "conflict");
    expectFailure(bulwark("key", "revoke", "--key", "K-nope"), "notFound");
  });

  it("adjusts balances through the core in exact decimals", () => {
    const adjust = (amount: string, asset = "BTC") =>
      bulwark(
        "balance",
        "adjust",
        "--email",
        "alice@example.com",
        "--asset",
        asset,
        `--amount=${amount}`,
        "--reason",
        "test",
      );
    expect(adjust("0.12345678").json).toMatchObject({ ok: true, available: "0.12345678" });
    expect(adjust("-0.00000008").json).toMatchObject({ ok: true, available: "0.1234567" });
    expectFailure(adjust("0.000000001"), "invalid", /at most 8 decimals/);
    expectFailure(adjust("1e3"), "invalid");
    expectFailure(adjust("-5"), "rejected", /insufficientFunds/);
    expectFailure(adjust("1", "DOGE"), "notFound");
    // A negative amount needs the --amount=-X form (a bare "-X" reads as an option).
    expectFailure(
      bulwark(
        "balance",
        "adjust",
        "--email",
        "alice@example.com",
        "--asset",
        "BTC",
        "--amount",
        "-1",
        "--reason",
        "r",
      ),
      "usage",
      /--amount=-XYZ/,
    );
  });

  it("adds and lists assets and markets, and suspends and resumes them", () => {
    expect(bulwark("asset", "add", "--code", "SOL", "--scale", "9").json).toMatchObject({
      ok: true,
      assetId: 5,
    });
    expectFailure(bulwark("asset", "add", "--code", "SOL", "--scale", "9"), "conflict");
    expectFailure(bulwark("asset", "add", "--code", "XRP", "--scale", "99"), "invalid");
    expectFailure(bulwark("asset", "add", "--code", "xrp!", "--scale", "6"), "invalid");
    const assets = bulwark("asset", "list").json.assets as { code: string }[];
    expect(assets.map((asset) => asset.code)).toEqual(["BTC", "ETH", "USDT", "USD", "SOL"]);

    const market = [
      "market",
      "add",
      "--base",
      "SOL",
      "--quote",
      "USDT",
      "--lot",
      "0.01",
      "--min-price",
      "0.01",
      "--max-price",
      "10000",
      "--min-qty",
      "0.01",
      "--max-qty",
      "1000",
      "--min-notional",
      "1",
      "--max-notional",
      "1000000",
      "--maker-fee",
      "0.1",
      "--taker-fee",
      "0.2",
    ];
    expectFailure(bulwark(...market, "--tick", "0.00000001"), "invalid", /not a whole number of USDT units/);
    expect(bulwark(...market, "--tick", "0.01").json).toMatchObject({
      ok: true,
      symbol: "SOL_USDT",
      marketId: 5,
    });
    expectFailure(bulwark(...market, "--tick", "0.01"), "conflict");
    expect(bulwark("market", "suspend", "--symbol", "SOL_USDT").json).toMatchObject({ status: "suspended" });
    const listed = bulwark("market", "list").json.markets as { symbol: string; status: string }[];
    expect(listed.map((entry) => `${entry.symbol}:${entry.status}`)).toEqual([
      "BTC_USD:active",
      "ETH_USD:active",
      "ETH_BTC:active",
      "BTC_USDT:active",
      "SOL_USDT:suspended",
    ]);
    expect(bulwark("market", "resume", "--symbol", "SOL_USDT").json).toMatchObject({ status: "active" });
    expectFailure(bulwark("market", "suspend", "--symbol", "NOPE_USD"), "notFound");
  });

  it("verifies the core and the audit log", () => {
    expect(bulwark("verify").json).toMatchObject({ ok: true, invariants: "ok" });
    const audit = bulwark("audit", "verify").json;
    expect(audit.ok).toBe(true);
    // user, 2 keys, revoke, 2 adjustments, asset, market, suspend, resume.
    expect(audit.checkedRows).toBe(10);
  });

  it("refuses to open a data dir a live server holds, naming its operator API", () => {
    const lockPath = join(dataDir, LOCK_FILE_NAME);
    writeFileSync(
      lockPath,
      JSON.stringify({
        pid: process.pid,
        role: "server",
        startedMs: 1,
        operatorUrl: "http://127.0.0.1:9999/operator/v1",
      }),
    );
    try {
      expectFailure(
        bulwark("asset", "list"),
        "busy",
        /operator API instead \(http:\/\/127\.0\.0\.1:9999\/operator\/v1/,
      );
      expectFailure(bulwark("verify"), "busy");
    } finally {
      rmSync(lockPath);
    }
    // A lock left by a dead process is stale and taken over.
    writeFileSync(lockPath, JSON.stringify({ pid: 2 ** 22 + 12_345, role: "server", startedMs: 1 }));
    expect(bulwark("asset", "list").json.ok).toBe(true);
  });

  it("rotates the operator token", () => {
    const first = bulwark("operator-token", "rotate").json.operatorToken;
    const second = bulwark("operator-token", "rotate").json.operatorToken;
    expect(first).toMatch(/^op-[0-9a-f]{64}$/);
    expect(second).not.toBe(first);
  });
});

describe("bulwark start", () => {
  it("serves until SIGINT, then stops cleanly and releases the data dir", async () => {
    const directory = mkdtempSync(join(tmpdir(), "bulwark-cli-start-"));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, BULWARK_PORT: "0" };
      delete env.DATABASE_URL;
      const child = spawn(process.execPath, [BIN, "start", "--no-demo", "--json", "--data-dir", directory], {
        env,
      });
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
      });
      const exited = new Promise<number | null>((resolveExit) =>
        child.on("exit", (code) => resolveExit(code)),
      );
      const deadline = Date.now() + 30_000;
      while (!output.includes("\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const started = JSON.parse(output.split("\n")[0]) as {
        event: string;
        url: string;
        operatorToken: string;
        demo: null;
      };
      expect(started).toMatchObject({ event: "started", demo: null });
      expect(started.operatorToken).toMatch(/^op-[0-9a-f]{64}$/);
      expect((await fetch(`${started.url}/v1.1/pair_settings`)).status).toBe(200);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(JSON.parse(output.trim().split("\n")[1])).toMatchObject({ ok: true, event: "stopped" });
      expect(existsSync(join(directory, LOCK_FILE_NAME))).toBe(false);
      expect(existsSync(join(directory, "candles.json"))).toBe(true);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

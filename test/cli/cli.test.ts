// The `bulwark` commands in process (runCli with captured streams), each error path with its kind
// and exit code. The whole table runs twice: offline on a data dir no server holds, and through
// the operator socket of a server running on it (as with `npm start` in another terminal); both
// must give the same answers. cli-process.test.ts keeps a few real child processes.

import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCK_FILE_NAME, readLockOwner } from "../../src/server/data-dir-lock.ts";
import { OPERATOR_SOCKET_FILE_NAME } from "../../src/server/operator-listeners.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { bulwarkIn, bulwarkText, newDataDir, type Run } from "./harness.ts";

/** The cheapest scrypt SCRYPT_LIMITS allows for the passwords the server hashes (test/server/server-demo.test.ts checks the default). */
const FAST_PASSWORD_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };

const OPERATOR_TOKEN = "operator-token-for-cli-tests-0123456789";

function expectFailure(run: Run, kind: string, message?: RegExp): void {
  expect(run.json.ok).toBe(false);
  expect(run.json.error?.kind).toBe(kind);
  expect(run.status).toBe(kind === "usage" ? 2 : 1);
  if (message !== undefined) expect(run.json.error?.message).toMatch(message);
}

const SOL_MARKET = [
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

/** What each mode's table printed, compared across modes at the end. */
const transcripts = new Map<string, string[]>();

describe.each([
  ["offline", false],
  ["through a running server's operator socket", true],
])("bulwark commands, %s", (mode, withServer) => {
  let dataDir: string;
  let server: ExchangeServer | null = null;
  const transcript: string[] = [];
  transcripts.set(mode, transcript);

  async function bulwark(...args: string[]): Promise<Run> {
    return bulwarkIn(dataDir, args);
  }

  async function createUser(email: string, password: string): Promise<Run> {
    return bulwarkIn(dataDir, ["user", "create", "--email", email], `${password}\n`);
  }

  /** Records a successful answer without what is random (key ids, secrets, hashes). */
  function record(run: Run): Run {
    transcript.push(
      JSON.stringify(run.json, (key, value) =>
        ["keyId", "secret", "hash", "stateHash"].includes(key) ? "…" : value,
      ),
    );
    return run;
  }

  beforeAll(async () => {
    dataDir = newDataDir();
    if (withServer)
      server = await startExchangeServer({
        dataDir,
        port: 0,
        host: "127.0.0.1",
        demo: false,
        env: { BULWARK_OPERATOR_TOKEN: OPERATOR_TOKEN },
        passwordScrypt: FAST_PASSWORD_SCRYPT,
      });
  });

  afterAll(async () => {
    await server?.close();
  });

  it("finds the server through its lock, or opens the data dir itself", () => {
    const owner = readLockOwner(dataDir);
    if (withServer) {
      expect(owner).toMatchObject({
        role: "server",
        operatorSocket: join(dataDir, OPERATOR_SOCKET_FILE_NAME),
      });
      expect(statSync(join(dataDir, OPERATOR_SOCKET_FILE_NAME)).mode & 0o777).toBe(0o600);
    } else expect(owner).toBeNull();
  });

  it("reports usage errors", async () => {
    expectFailure(await bulwark("frobnicate"), "usage", /unknown command/);
    expectFailure(await bulwark("user", "create"), "usage", /--email is required/);
    expectFailure(await bulwark("user", "create", "--nonsense"), "usage", /nonsense/);
    // Passwords never on argv: `ps` and shell history would show them.
    expectFailure(
      await bulwark("user", "create", "--email", "a@example.com", "--password", "password123"),
      "usage",
      /--password is not accepted.*stdin/,
    );
    expectFailure(
      await bulwark("user", "create", "--email", "a@example.com"),
      "usage",
      /reads the password from stdin/,
    );
  });

  it("creates users with the password from stdin, and refuses duplicates and weak passwords", async () => {
    const created = record(await createUser("alice@example.com", "correct horse"));
    expect(created.status).toBe(0);
    expect(created.json).toMatchObject({ ok: true, email: "alice@example.com", userId: 1 });
    expectFailure(await createUser("ALICE@example.com", "password123"), "conflict");
    expectFailure(await createUser("bob@example.com", "short"), "invalid", /at least 8/);
    expectFailure(await createUser("bob", "password123"), "invalid");
    // Only the first line is the password; a CRLF line ending is not part of it.
    expect(record(await createUser("carol@example.com", "pass word 123\r\nignored\n")).json.ok).toBe(true);
  });

  it("prompts for the password twice without echo when stdin is a terminal", async () => {
    const terminal = Object.assign(new PassThrough(), { isTTY: true, rawMode: [] as boolean[] });
    const setRawMode = (mode: boolean) => terminal.rawMode.push(mode);
    const typed = async (run: Promise<Run>, lines: string[]) => {
      for (const line of lines) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        terminal.write(line);
      }
      return run;
    };
    const tty = Object.assign(terminal, { setRawMode });
    const run = await typed(bulwarkIn(dataDir, ["user", "create", "--email", "dave@example.com"], tty), [
      "secret-pa",
      "sx\u007fsword\r",
      "secret-password\r",
    ]);
    expect(record(run).json).toMatchObject({ ok: true, email: "dave@example.com" });
    expect(run.stderr.join("")).toMatch(/^password for dave@example\.com: \nagain: \n$/);
    expect(terminal.rawMode).toEqual([true, false]);
    const mismatch = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
    const refused = bulwarkIn(dataDir, ["user", "create", "--email", "eve@example.com"], mismatch);
    setTimeout(() => mismatch.write("password-one\rpassword-two\r"), 20);
    expectFailure(await refused, "invalid", /differ/);
  });

  it("freezes and unfreezes users", async () => {
    expect(record(await bulwark("user", "freeze", "--email", "carol@example.com")).json).toMatchObject({
      status: "frozen",
    });
    expect(record(await bulwark("user", "unfreeze", "--email", "carol@example.com")).json).toMatchObject({
      status: "active",
    });
    expectFailure(await bulwark("user", "freeze", "--email", "nobody@example.com"), "notFound");
  });

  it("creates and revokes API keys", async () => {
    const key = record(
      await bulwark("key", "create", "--email", "alice@example.com", "--scopes", "info,trade"),
    );
    expect(key.json).toMatchObject({ ok: true, scopes: "info,trade" });
    expect(key.json.keyId).toMatch(/^K-[0-9a-f]{40}$/);
    expect(key.json.secret).toMatch(/^S-[0-9a-f]{64}$/);
    const withdraw = record(
      await bulwark(
        "key",
        "create",
        "--email",
        "alice@example.com",
        "--scopes",
        "info,withdraw",
        "--ip",
        "10.1.0.0/16",
        "--ip",
        "192.168.1.7",
      ),
    );
    expect(withdraw.json).toMatchObject({ ok: true, ipAllowList: ["10.1.0.0/16", "192.168.1.7"] });
    expectFailure(
      await bulwark("key", "create", "--email", "alice@example.com", "--scopes", "info,withdraw"),
      "invalid",
      /allow-list/,
    );
    expectFailure(
      await bulwark("key", "create", "--email", "alice@example.com", "--scopes", "admin"),
      "invalid",
      /unknown scope/,
    );
    expectFailure(
      await bulwark(
        "key",
        "create",
        "--email",
        "alice@example.com",
        "--scopes",
        "info",
        "--ip",
        "10.0.0.1/8",
      ),
      "invalid",
    );
    expectFailure(
      await bulwark("key", "create", "--email", "nobody@example.com", "--scopes", "info"),
      "notFound",
    );
    expect(record(await bulwark("key", "revoke", "--key", String(key.json.keyId))).json.ok).toBe(true);
    expectFailure(await bulwark("key", "revoke", "--key", String(key.json.keyId)), "conflict");
    expectFailure(await bulwark("key", "revoke", "--key", "K-nope"), "notFound");
  });

  it("adjusts balances through the core in exact decimals", async () => {
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
    expect(record(await adjust("0.12345678")).json).toMatchObject({ ok: true, available: "0.12345678" });
    expect(record(await adjust("-0.00000008")).json).toMatchObject({ ok: true, available: "0.1234567" });
    expectFailure(await adjust("0.000000001"), "invalid", /at most 8 decimals/);
    expectFailure(await adjust("1e3"), "invalid");
    expectFailure(await adjust("-5"), "rejected", /insufficientFunds/);
    expectFailure(await adjust("1", "DOGE"), "notFound");
    // A negative amount needs the --amount=-X form (a bare "-X" reads as an option).
    expectFailure(
      await bulwark(
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

  it("adds and lists assets and markets, and suspends and resumes them", async () => {
    expect(record(await bulwark("asset", "add", "--code", "SOL", "--scale", "9")).json).toMatchObject({
      ok: true,
      assetId: 5,
    });
    expectFailure(await bulwark("asset", "add", "--code", "SOL", "--scale", "9"), "conflict");
    expectFailure(await bulwark("asset", "add", "--code", "XRP", "--scale", "99"), "invalid");
    expectFailure(await bulwark("asset", "add", "--code", "xrp!", "--scale", "6"), "invalid");
    const assets = record(await bulwark("asset", "list")).json.assets as { code: string }[];
    expect(assets.map((asset) => asset.code)).toEqual(["BTC", "ETH", "USDT", "USD", "SOL"]);

    expectFailure(
      await bulwark(...SOL_MARKET, "--tick", "0.00000001"),
      "invalid",
      /not a whole number of USDT units/,
    );
    expect(record(await bulwark(...SOL_MARKET, "--tick", "0.01")).json).toMatchObject({
      ok: true,
      symbol: "SOL_USDT",
      marketId: 5,
    });
    expectFailure(await bulwark(...SOL_MARKET, "--tick", "0.01"), "conflict");
    expect(record(await bulwark("market", "suspend", "--symbol", "SOL_USDT")).json).toMatchObject({
      status: "suspended",
    });
    const listed = record(await bulwark("market", "list")).json.markets as {
      symbol: string;
      status: string;
    }[];
    expect(listed.map((entry) => `${entry.symbol}:${entry.status}`)).toEqual([
      "BTC_USD:active",
      "ETH_USD:active",
      "ETH_BTC:active",
      "BTC_USDT:active",
      "SOL_USDT:suspended",
    ]);
    expect(record(await bulwark("market", "resume", "--symbol", "SOL_USDT")).json).toMatchObject({
      status: "active",
    });
    expectFailure(await bulwark("market", "suspend", "--symbol", "NOPE_USD"), "notFound");
  });

  it("prints text tables and lines without --json", async () => {
    const assets = await bulwarkText(dataDir, ["asset", "list"]);
    expect(assets.status).toBe(0);
    expect(assets.out.split("\n")[0]).toMatch(/^assetId\s+code\s+scale$/);
    expect(assets.out).toMatch(/^5\s+SOL\s+9$/m);
    transcript.push(assets.out, (await bulwarkText(dataDir, ["market", "list"])).out);
  });

  it("verifies the core and the audit log", async () => {
    const verified = record(await bulwark("verify"));
    expect(verified.json).toMatchObject({ ok: true, invariants: "ok", lastSequence: 15, restingOrders: 0 });
    expect(verified.json.stateHash).toMatch(/^[0-9a-f]{64}$/);
    const text = await bulwarkText(dataDir, ["verify"]);
    expect(text.out).toMatch(/^last sequence 15, 0 resting orders, invariants ok\nstate hash [0-9a-f]{64}$/);
    const audit = record(await bulwark("audit", "verify"));
    expect(audit.json.ok).toBe(true);
    // 3 users, 2 status changes, 2 keys, revoke, 2 adjustments, asset, market, suspend, resume.
    expect(audit.json.checkedRows).toBe(14);
  });

  it.runIf(withServer)(
    "audits changes through the socket as operator:cli@<os user>, like offline ones",
    async () => {
      const rows = await server!.exchange.internals.store.db
        .selectFrom("audit_log")
        .select("actor")
        .execute();
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect(row.actor).toMatch(/^operator:cli@.+/);
    },
  );

  it("rotates the operator token", async () => {
    const first = (await bulwark("operator-token", "rotate")).json.operatorToken;
    const second = (await bulwark("operator-token", "rotate")).json.operatorToken;
    expect(first).toMatch(/^op-[0-9a-f]{64}$/);
    expect(second).not.toBe(first);
  });
});

describe("both ways", () => {
  it("print the same answers, offline and through a running server", () => {
    const [offline, remote] = [...transcripts.values()];
    expect(offline.length).toBeGreaterThan(15);
    expect(remote).toEqual(offline);
  });
});

describe("the data dir's lock", () => {
  function writeLock(dataDir: string, owner: object): void {
    writeFileSync(join(dataDir, LOCK_FILE_NAME), JSON.stringify({ startedMs: 1, ...owner }));
  }

  it("is busy while another command holds it, or while a server has not opened its socket yet", async () => {
    const dataDir = newDataDir();
    writeLock(dataDir, { pid: process.pid, role: "cli asset add" });
    expectFailure(await bulwarkIn(dataDir, ["asset", "list"]), "busy", /another bulwark command/);
    expectFailure(await bulwarkIn(dataDir, ["verify"]), "busy");
    writeLock(dataDir, { pid: process.pid, role: "server" });
    expectFailure(await bulwarkIn(dataDir, ["asset", "list"]), "busy", /starting.*try again/);
  });

  it("fails clearly when the server's socket does not answer", async () => {
    const dataDir = newDataDir();
    writeLock(dataDir, { pid: process.pid, role: "server", operatorSocket: join(dataDir, "gone.sock") });
    expectFailure(await bulwarkIn(dataDir, ["asset", "list"]), "failed", /operator socket .* did not answer/);
  });

  it("takes over a lock left by a dead process", async () => {
    const dataDir = newDataDir();
    writeLock(dataDir, { pid: 2 ** 22 + 12_345, role: "server", operatorSocket: join(dataDir, "x.sock") });
    expect((await bulwarkIn(dataDir, ["asset", "list"])).json.ok).toBe(true);
    expect(readLockOwner(dataDir)).toBeNull();
  });
});

describe("the operator API's listeners", () => {
  let server: ExchangeServer;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = newDataDir();
    server = await startExchangeServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      demo: false,
      env: { BULWARK_OPERATOR_TOKEN: OPERATOR_TOKEN },
      operatorListen: "127.0.0.1:0",
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it("are not on the public port", async () => {
    const response = await fetch(`${server.url}/operator/v1/markets`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    // The EXMO gateway's answer to an unknown path, not the operator API's.
    expect(await response.text()).toMatch(/"result":false.*operator\/v1\/markets/);
  });

  it("serve TCP only when asked, on its own port, with the bearer token", async () => {
    expect(server.operatorUrl).toMatch(/^http:\/\/127\.0\.0\.1:[0-9]+\/operator\/v1$/);
    expect(server.operatorUrl).not.toContain(`:${server.port}/`);
    const refused = await fetch(`${server.operatorUrl}/markets`);
    expect(refused.status).toBe(401);
    const markets = await fetch(`${server.operatorUrl}/markets`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(markets.status).toBe(200);
    expect(readLockOwner(dataDir)).toMatchObject({ operatorUrl: server.operatorUrl });
  });

  it("report recovery at start", () => {
    const { recovery, journalOpen } = server.exchange.internals;
    expect(recovery).toMatchObject({ snapshotSequence: 0, replayedCommandCount: 0 });
    expect(journalOpen.truncatedBytes).toBe(0);
    expect(server.openMs).toBeGreaterThan(0);
  });
});

describe("an operator TCP listener off loopback", () => {
  it("is refused without TLS (the token would cross the network in clear)", async () => {
    const dataDir = newDataDir();
    await expect(
      startExchangeServer({
        dataDir,
        port: 0,
        host: "127.0.0.1",
        demo: false,
        env: { BULWARK_OPERATOR_TOKEN: OPERATOR_TOKEN },
        operatorListen: "0.0.0.0:0",
      }),
    ).rejects.toThrow(/in clear over the network/);
    expect(readLockOwner(dataDir)).toBeNull();
  });
});

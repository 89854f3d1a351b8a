// `bulwark custody status` and `bulwark withdrawal list|approve|reject` against a real server
// (startExchangeServer with custody, a devnet-btc wallet initialised and its signer child running),
// through the operator socket: withdrawals above the approval threshold wait for operators, one
// approval is recorded (a second by the same operator refused), a rejection releases the hold,
// every change is audited. Offline, custody is not running and every command says so.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { totpCode } from "../../src/accounts/totp.ts";
import { addressOfKey, privateKeyFromSeed, UtxoDevnet } from "../../src/chains/devnet/index.ts";
import type { ChainCustodyStatus, WithdrawalView } from "../../src/custody/port.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { initWallet } from "../../src/server/signers.ts";
import { SMALL_SCRYPT } from "../signer/helpers.ts";
import { bulwarkIn, bulwarkText, newDataDir, type Run } from "./harness.ts";

/** The cheapest scrypt SCRYPT_LIMITS allows for the passwords the server hashes (test/server/server-demo.test.ts checks the default). */
const FAST_PASSWORD_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };

const PASSPHRASE = "custody-cli passphrase 0123";
const EMAIL = "erin@example.com";
const DESTINATION = addressOfKey(new UtxoDevnet(), privateKeyFromSeed("cli-custody-destination"));
const BTC_ASSET_ID = 1;

function expectFailure(run: Run, kind: string, message?: RegExp): void {
  expect(run.json.ok).toBe(false);
  expect(run.json.error?.kind).toBe(kind);
  expect(run.status).toBe(kind === "usage" ? 2 : 1);
  if (message !== undefined) expect(run.json.error?.message).toMatch(message);
}

let dataDir: string;
let server: ExchangeServer;
/** The server's clock runs this far ahead of the wall clock (to pass the 24 h lock after a 2FA change). */
let clockOffsetMs = 0;
let userId: number;
const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);
const ok = async (...args: string[]) => {
  const run = await bulwark(...args);
  expect(run.json, JSON.stringify(run.json)).toMatchObject({ ok: true });
  expect(run.status).toBe(0);
  return run.json;
};

beforeAll(async () => {
  dataDir = newDataDir("bulwark-custody-cli-");
  initWallet(dataDir, "devnet-btc", PASSPHRASE, SMALL_SCRYPT);
});

afterAll(async () => {
  await server?.close();
});

describe("bulwark custody and withdrawal, offline", () => {
  it("says custody is not running (it runs inside the server)", async () => {
    for (const args of [
      ["custody", "status"],
      ["withdrawal", "list"],
      ["withdrawal", "approve", "--id", "1"],
      ["withdrawal", "reject", "--id", "1", "--reason", "no"],
    ])
      expectFailure(await bulwark(...args), "notFound", /custody is not running/);
    expectFailure(
      await bulwark("withdrawal", "approve", "--id", "x"),
      "invalid",
      /--id must be a whole number/,
    );
    expectFailure(await bulwark("withdrawal", "reject", "--id", "1"), "usage", /--reason/);
  });
});

describe("bulwark custody and withdrawal, through a running server's operator socket", () => {
  const withdrawals: WithdrawalView[] = [];

  beforeAll(async () => {
    server = await startExchangeServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      demo: false,
      devnetBlockMs: 0,
      clock: () => Date.now() + clockOffsetMs,
      passwordScrypt: FAST_PASSWORD_SCRYPT,
      env: {
        BULWARK_OPERATOR_TOKEN: "operator-token-for-custody-cli-tests-01",
        BULWARK_SIGNER_PASSPHRASE: PASSPHRASE,
      },
    });
    const created = await bulwarkIn(dataDir, ["user", "create", "--email", EMAIL], "correct horse battery\n");
    userId = Number(created.json.userId);
    await ok(
      "balance",
      "adjust",
      "--email",
      EMAIL,
      "--asset",
      "BTC",
      "--amount",
      "10",
      "--reason",
      "test funds",
    );
    await ok("address", "add", "--email", EMAIL, "--currency", "BTC", "--address", DESTINATION);
    await ok(
      "address",
      "activate",
      "--email",
      EMAIL,
      "--currency",
      "BTC",
      "--address",
      DESTINATION,
      "--reason",
      "test: verified",
    );
    const custody = server.custody;
    if (custody === null) throw new Error("custody is not running");
    // Above the 0.5 BTC approval threshold and within the signer's 1 BTC maximum (its 10-minute
    // budget's floor: the server started with no liabilities): each waits for two operators.
    for (const amount of ["0.9", "0.7"])
      withdrawals.push(
        await custody.requestWithdrawal({
          userId,
          currency: "BTC",
          amount,
          address: DESTINATION,
          proof: { kind: "operator", actor: "operator:test" },
        }),
      );
    for (const view of withdrawals) expect(view.step).toBe("awaitingApproval");
  });

  it("reports custody's status, all chains or one as the devnet commands name it", async () => {
    const all = (await ok("custody", "status")).chains as ChainCustodyStatus[];
    expect(all.map((c) => c.chain)).toEqual(["devnet-btc", "devnet-eth"]);
    expect(all[0]).toMatchObject({ chain: "devnet-btc", walletReady: true, pendingWithdrawals: 2 });
    expect(all[1]).toMatchObject({ chain: "devnet-eth", walletReady: false });
    for (const name of ["btc", "devnet-btc"]) {
      const one = (await ok("custody", "status", "--chain", name)).chains as ChainCustodyStatus[];
      expect(one.map((c) => c.chain)).toEqual(["devnet-btc"]);
    }
    expectFailure(await bulwark("custody", "status", "--chain", "doge"), "invalid", /no chain doge/);
    const text = await bulwarkText(dataDir, ["custody", "status", "--chain", "btc"]);
    expect(text.status).toBe(0);
    expect(text.out).toMatch(/^devnet-btc: wallet ready, signer /);
    expect(text.out).toContain("2 pending withdrawal(s)");
  });

  it("lists withdrawals by user and step", async () => {
    const mine = (await ok("withdrawal", "list", "--email", EMAIL)).withdrawals as WithdrawalView[];
    expect(mine.map((w) => w.withdrawalId).sort()).toEqual(withdrawals.map((w) => w.withdrawalId).sort());
    const waiting = (await ok("withdrawal", "list", "--step", "awaitingApproval", "--limit", "1"))
      .withdrawals as WithdrawalView[];
    expect(waiting).toHaveLength(1);
    expect((await ok("withdrawal", "list", "--step", "settled")).withdrawals).toEqual([]);
    expectFailure(
      await bulwark("withdrawal", "list", "--step", "flying"),
      "invalid",
      /unknown withdrawal step/,
    );
    expectFailure(await bulwark("withdrawal", "list", "--limit", "0"), "invalid", /limit/);
    expectFailure(await bulwark("withdrawal", "list", "--email", "nobody@example.com"), "notFound");
    const text = await bulwarkText(dataDir, ["withdrawal", "list", "--email", EMAIL]);
    expect(text.out).toContain("awaitingApproval");
    expect(text.out).toContain(DESTINATION);
  });

  it("approves once per operator, rejects with a reason (the hold released), and audits both", async () => {
    const [first, second] = withdrawals;
    const approved = await ok("withdrawal", "approve", "--id", String(first.withdrawalId));
    expect(approved).toMatchObject({ withdrawalId: first.withdrawalId, step: "awaitingApproval" });
    expect(approved.approvals).toEqual([expect.stringMatching(/^operator:cli@/)]);
    expectFailure(
      await bulwark("withdrawal", "approve", "--id", String(first.withdrawalId)),
      "conflict",
      /approvalRefused/,
    );
    expectFailure(await bulwark("withdrawal", "approve", "--id", "999"), "notFound", /notFound/);

    const heldBefore = server.exchange.balance(userId, BTC_ASSET_ID).heldUnits;
    const rejected = await ok(
      "withdrawal",
      "reject",
      "--id",
      String(second.withdrawalId),
      "--reason",
      "destination under review",
    );
    // Held, then released: custody ends it as failed, with who rejected it and why.
    expect(rejected).toMatchObject({ withdrawalId: second.withdrawalId, step: "failed" });
    expect(String(rejected.reason)).toMatch(/^rejected by operator:cli@.*: destination under review$/);
    expect(server.exchange.balance(userId, BTC_ASSET_ID).heldUnits).toBe(heldBefore - 70_000_000);
    expectFailure(
      await bulwark("withdrawal", "reject", "--id", String(second.withdrawalId), "--reason", "again"),
      "conflict",
      /wrongStep: .* can no longer be rejected/,
    );

    const rows = await server.exchange.internals.store.db
      .selectFrom("audit_log")
      .select(["action", "actor", "subject", "details_json"])
      .where("action", "like", "withdrawal.%")
      // The pipeline's own steps (withdrawal.step, by system:custody) are checked below.
      .where("action", "!=", "withdrawal.step")
      .orderBy("seq")
      .execute();
    expect(rows.map((row) => [row.action, row.subject])).toEqual([
      ["withdrawal.approve", `withdrawal:${first.withdrawalId}`],
      ["withdrawal.reject", `withdrawal:${second.withdrawalId}`],
    ]);
    const steps = await server.exchange.internals.store.db
      .selectFrom("audit_log")
      .select(["actor", "subject", "details_json"])
      .where("action", "=", "withdrawal.step")
      .where("subject", "=", `withdrawal:${second.withdrawalId}`)
      .orderBy("seq")
      .execute();
    // The request held the funds (the pipeline's step); the rejection is the operator's row above.
    expect(steps.map((row) => JSON.parse(row.details_json).step)).toContain("held");
    for (const row of steps) expect(row.actor).toBe("system:custody");
    for (const row of rows) expect(row.actor).toMatch(/^operator:cli@/);
    expect(JSON.parse(rows[1].details_json)).toMatchObject({ reason: "destination under review" });
    expect(await ok("audit", "verify")).toMatchObject({ ok: true });
  });

  it("a user's own withdrawal at the CLI needs their 2FA code: none, locked after enabling, then once per code", async () => {
    const args = (code: string) => [
      "withdrawal",
      "request",
      "--email",
      EMAIL,
      "--currency",
      "BTC",
      "--amount",
      "0.1",
      "--address",
      DESTINATION,
      "--code",
      code,
    ];
    const before = server.exchange.balance(userId, BTC_ASSET_ID);
    const refused = await bulwark(...args("123456"));
    expect(refused.json.ok).toBe(false);
    expect(refused.json.error?.message).toMatch(/twoFactorRequired/);
    const enabled = await ok("user", "2fa", "enable", "--email", EMAIL);
    const secret = String(enabled.secret);
    const codeNow = () => totpCode(secret, Math.floor((Date.now() + clockOffsetMs) / 1000));
    await ok("user", "2fa", "confirm", "--email", EMAIL, "--code", codeNow());
    const locked = await bulwark(...args(codeNow()));
    expect(locked.json.error?.message).toMatch(/withdrawalsLocked/);
    expect(server.exchange.balance(userId, BTC_ASSET_ID)).toEqual(before);

    clockOffsetMs += 25 * 3_600_000;
    const code = codeNow();
    const requested = await ok(...args(code));
    expect(requested).toMatchObject({ currency: "BTC", amount: "0.1", step: "approved" });
    expect(server.exchange.balance(userId, BTC_ASSET_ID).heldUnits).toBe(before.heldUnits + 10_000_000);
    // The same code a second time: refused (replay), nothing more held.
    const replayed = await bulwark(...args(code));
    expect(replayed.json.error?.message).toMatch(/twoFactorInvalid/);
    expect(server.exchange.balance(userId, BTC_ASSET_ID).heldUnits).toBe(before.heldUnits + 10_000_000);
  });
});

// `bulwark user 2fa …` and `bulwark address …` in process, offline and through a running server's
// operator socket: a real TOTP secret confirmed with a real code (and a replayed code refused),
// the security change that locks withdrawals for 24 h, addresses normalised by the currency's
// devnet chain (and one of the wrong chain refused with a clear message), operator activation and
// removal, and every change in the hash-chained audit log (never the secret).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Accounts, SECURITY_CHANGE_LOCK_MS } from "../../src/accounts/accounts.ts";
import { totpCodeAtStep, totpStep } from "../../src/accounts/totp.ts";
import {
  AccountDevnet,
  addressOfKey,
  privateKeyFromSeed,
  UtxoDevnet,
} from "../../src/chains/devnet/index.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { openStore, type Store } from "../../src/store/open-store.ts";
import { bulwarkIn, bulwarkText, newDataDir, type Run } from "./harness.ts";

/** The cheapest scrypt SCRYPT_LIMITS allows for the passwords the server hashes (test/server/server-demo.test.ts checks the default). */
const FAST_PASSWORD_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };

const EMAIL = "carol@example.com";
const BTC_ADDRESS = addressOfKey(new UtxoDevnet(), privateKeyFromSeed("cli-security-btc"));
const ETH_ADDRESS = addressOfKey(new AccountDevnet(), privateKeyFromSeed("cli-security-eth"));
/** The same address as a user might paste it: upper case (both chains accept any case). */
const BTC_PASTED = BTC_ADDRESS.toUpperCase();
const ETH_PASTED = `0x${ETH_ADDRESS.slice(2).toUpperCase()}`;
const DAY_MS = 24 * 60 * 60 * 1000;

function expectFailure(run: Run, kind: string, message?: RegExp): void {
  expect(run.json.ok).toBe(false);
  expect(run.json.error?.kind).toBe(kind);
  expect(run.status).toBe(kind === "usage" ? 2 : 1);
  if (message !== undefined) expect(run.json.error?.message).toMatch(message);
}

describe.each([
  ["offline", false],
  ["through a running server's operator socket", true],
])("bulwark user 2fa and address, %s", (_mode, withServer) => {
  let dataDir: string;
  let server: ExchangeServer | null = null;
  let userId: number;
  let secret: string;

  const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);
  const ok = async (...args: string[]) => {
    const run = await bulwark(...args);
    expect(run.json, JSON.stringify(run.json)).toMatchObject({ ok: true });
    expect(run.status).toBe(0);
    return run.json;
  };

  /** The store as the server has it, or opened on the data dir between two offline commands. */
  async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
    if (server !== null) return work(server.exchange.internals.store);
    const store = await openStore({ dataDir });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }

  const auditRows = () =>
    withStore((store) =>
      store.db
        .selectFrom("audit_log")
        .select(["action", "actor", "subject", "details_json"])
        .orderBy("seq")
        .execute(),
    );

  beforeAll(async () => {
    dataDir = newDataDir("bulwark-security-");
    if (withServer)
      server = await startExchangeServer({
        dataDir,
        port: 0,
        host: "127.0.0.1",
        demo: false,
        devnetBlockMs: 0,
        env: { BULWARK_OPERATOR_TOKEN: "operator-token-for-security-tests-0123" },
        passwordScrypt: FAST_PASSWORD_SCRYPT,
      });
    const created = await bulwarkIn(dataDir, ["user", "create", "--email", EMAIL], "correct horse battery\n");
    expect(created.json.ok).toBe(true);
    userId = Number(created.json.userId);
  });

  afterAll(async () => {
    await server?.close();
  });

  it("enables 2FA: a pending secret shown once, confirmed with a real code; withdrawals locked 24 h", async () => {
    const enrolled = await ok("user", "2fa", "enable", "--email", EMAIL);
    secret = String(enrolled.secret);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(enrolled.uri).toMatch(/^otpauth:\/\/totp\/Bulwark:carol%40example\.com\?/);
    expect(enrolled.uri).toContain(`secret=${secret}`);
    expect(enrolled).toMatchObject({ userId, email: EMAIL });

    // Not enabled until confirmed: a verify is refused, as is a wrong or malformed code.
    expectFailure(await bulwark("user", "2fa", "verify", "--email", EMAIL, "--code", "123456"), "conflict");
    const step = totpStep(Date.now());
    const wrong = totpCodeAtStep(secret, step + 5);
    expectFailure(
      await bulwark("user", "2fa", "confirm", "--email", EMAIL, "--code", wrong),
      "rejected",
      /wrong code/,
    );
    expectFailure(
      await bulwark("user", "2fa", "confirm", "--email", EMAIL, "--code", "12ab"),
      "invalid",
      /6 digits/,
    );

    const before = Date.now();
    const confirmed = await ok(
      "user",
      "2fa",
      "confirm",
      "--email",
      EMAIL,
      "--code",
      totpCodeAtStep(secret, step),
    );
    expect(confirmed).toMatchObject({ userId, totp: "enabled" });
    const lockedUntil = Date.parse(String(confirmed.withdrawalsLockedUntil));
    expect(lockedUntil).toBeGreaterThanOrEqual(before + SECURITY_CHANGE_LOCK_MS);
    expect(lockedUntil).toBeLessThanOrEqual(Date.now() + SECURITY_CHANGE_LOCK_MS);
    // What custody's withdrawal check reads: the security change was recorded by accounts.
    await withStore(async (store) => {
      const accounts = new Accounts(store);
      expect(await accounts.totpEnabled(userId)).toBe(true);
      expect(await accounts.withdrawalsLocked(userId, Date.now())).toBe(true);
      expect(await accounts.withdrawalsLocked(userId, lockedUntil)).toBe(false);
    });

    expectFailure(await bulwark("user", "2fa", "enable", "--email", EMAIL), "conflict", /already enabled/);
    expectFailure(
      await bulwark("user", "2fa", "confirm", "--email", EMAIL, "--code", totpCodeAtStep(secret, step)),
      "conflict",
      /already enabled/,
    );
  });

  it("accepts each code once: the confirming code replayed is refused, the next step's works once", async () => {
    const step = totpStep(Date.now());
    const used = await withStore(async (store) => {
      const row = await store.db
        .selectFrom("user_totp")
        .select("last_used_step")
        .where("user_id", "=", userId)
        .executeTakeFirstOrThrow();
      return Number(row.last_used_step);
    });
    expect(Math.abs(used - step)).toBeLessThanOrEqual(1);
    const replayed = totpCodeAtStep(secret, used);
    expectFailure(
      await bulwark("user", "2fa", "verify", "--email", EMAIL, "--code", replayed),
      "rejected",
      /already used/,
    );
    const next = totpCodeAtStep(secret, used + 1);
    expect(await ok("user", "2fa", "verify", "--email", EMAIL, "--code", next)).toMatchObject({
      userId,
      verified: true,
    });
    expectFailure(await bulwark("user", "2fa", "verify", "--email", EMAIL, "--code", next), "rejected");
  });

  it("adds addresses in the chain's canonical form, inactive for the activation delay", async () => {
    const before = Date.now();
    const btc = await ok(
      "address",
      "add",
      "--email",
      EMAIL,
      "--currency",
      "btc",
      "--address",
      BTC_PASTED,
      "--label",
      "cold storage",
    );
    expect(btc).toMatchObject({
      userId,
      currency: "BTC",
      chain: "devnet-btc",
      address: BTC_ADDRESS,
      label: "cold storage",
      active: false,
      activatedBy: null,
    });
    expect(Date.parse(String(btc.activeFrom))).toBeGreaterThanOrEqual(before + DAY_MS);

    const eth = await ok("address", "add", "--email", EMAIL, "--currency", "ETH", "--address", ETH_PASTED);
    expect(eth).toMatchObject({ currency: "ETH", chain: "devnet-eth", address: ETH_ADDRESS, label: "" });
    const usdt = await ok("address", "add", "--email", EMAIL, "--currency", "usdt", "--address", ETH_ADDRESS);
    expect(usdt).toMatchObject({ currency: "USDT", chain: "devnet-eth", address: ETH_ADDRESS });

    const text = await bulwarkText(dataDir, ["address", "list", "--email", EMAIL]);
    expect(text.status).toBe(0);
    expect(text.out).toContain(BTC_ADDRESS);
    expect(text.out).toContain("cold storage");
  });

  it("refuses an address of the wrong chain, a malformed one, an unknown currency and a duplicate", async () => {
    const add = (currency: string, address: string) =>
      bulwark("address", "add", "--email", EMAIL, "--currency", currency, "--address", address);
    expectFailure(
      await add("BTC", ETH_ADDRESS),
      "invalid",
      /is a devnet-eth address; BTC is on devnet-btc, so its address must be a devnet-btc one/,
    );
    expectFailure(
      await add("USDT", BTC_ADDRESS),
      "invalid",
      /is a devnet-btc address; USDT is on devnet-eth/,
    );
    // One character changed: the checksum fails.
    const typo = `${BTC_ADDRESS.slice(0, -1)}${BTC_ADDRESS.endsWith("q") ? "p" : "q"}`;
    expectFailure(await add("BTC", typo), "invalid", /not a devnet-btc address \(for BTC\)/);
    expectFailure(await add("DOGE", BTC_ADDRESS), "notFound", /no currency DOGE/);
    expectFailure(await add("BTC", BTC_PASTED), "conflict", /already in/);
    expectFailure(
      await bulwark("address", "add", "--email", EMAIL, "--currency", "BTC"),
      "usage",
      /--address/,
    );
    expectFailure(
      await bulwark(
        "address",
        "add",
        "--email",
        "nobody@example.com",
        "--currency",
        "BTC",
        "--address",
        BTC_ADDRESS,
      ),
      "notFound",
    );
    const listed = await ok("address", "list", "--email", EMAIL);
    expect((listed.addresses as unknown[]).length).toBe(3);
  });

  it("activates an address at once with a reason, and removes one", async () => {
    expectFailure(
      await bulwark("address", "activate", "--email", EMAIL, "--currency", "BTC", "--address", BTC_ADDRESS),
      "usage",
      /--reason/,
    );
    const activated = await ok(
      "address",
      "activate",
      "--email",
      EMAIL,
      "--currency",
      "BTC",
      "--address",
      BTC_PASTED,
      "--reason",
      "ticket 4711: verified by phone",
    );
    expect(activated).toMatchObject({ address: BTC_ADDRESS, active: true });
    expect(activated.activatedBy).toMatch(/^operator:cli@/);
    expect(Date.parse(String(activated.activeFrom))).toBeLessThanOrEqual(Date.now());
    await withStore(async (store) => {
      const accounts = new Accounts(store);
      expect(await accounts.activeAddress(userId, "BTC", BTC_ADDRESS, Date.now())).toBeDefined();
      expect(await accounts.activeAddress(userId, "ETH", ETH_ADDRESS, Date.now())).toBeUndefined();
    });
    expectFailure(
      await bulwark(
        "address",
        "activate",
        "--email",
        EMAIL,
        "--currency",
        "ETH",
        "--address",
        BTC_ADDRESS,
        "--reason",
        "x",
      ),
      "notFound",
      /not in/,
    );

    const removed = await ok(
      "address",
      "remove",
      "--email",
      EMAIL,
      "--currency",
      "USDT",
      "--address",
      ETH_PASTED,
      "--reason",
      "user asked",
    );
    expect(removed).toMatchObject({ currency: "USDT", address: ETH_ADDRESS, removed: true });
    expectFailure(
      await bulwark("address", "remove", "--email", EMAIL, "--currency", "USDT", "--address", ETH_ADDRESS),
      "notFound",
    );
    const listed = await ok("address", "list", "--email", EMAIL);
    const entries = listed.addresses as { currency: string; active: boolean }[];
    expect(entries.map((e) => [e.currency, e.active])).toEqual([
      ["BTC", true],
      ["ETH", false],
    ]);
  });

  it("disables 2FA (a security change: withdrawals locked again)", async () => {
    const disabled = await ok("user", "2fa", "disable", "--email", EMAIL);
    expect(disabled).toMatchObject({ userId, totp: "disabled" });
    expect(Date.parse(String(disabled.withdrawalsLockedUntil))).toBeGreaterThan(Date.now() + DAY_MS - 60_000);
    expectFailure(await bulwark("user", "2fa", "disable", "--email", EMAIL), "notFound", /no 2FA/);
    // A new pending secret can be made now; disabling a pending one locks nothing.
    await ok("user", "2fa", "enable", "--email", EMAIL);
    expect(await ok("user", "2fa", "disable", "--email", EMAIL)).toMatchObject({
      withdrawalsLockedUntil: null,
    });
  });

  it("audits every change with the operator as actor, never the secret, and the chain verifies", async () => {
    const rows = await auditRows();
    const ours = rows.filter(
      (row) => row.action.startsWith("user.2fa") || row.action.startsWith("addressBook"),
    );
    expect(ours.map((row) => row.action)).toEqual([
      "user.2fa.enable",
      "user.2fa.confirm",
      "user.2fa.verify",
      "addressBook.add",
      "addressBook.add",
      "addressBook.add",
      "addressBook.activate",
      "addressBook.remove",
      "user.2fa.disable",
      "user.2fa.enable",
      "user.2fa.disable",
    ]);
    for (const row of ours) {
      expect(row.actor).toMatch(/^operator:cli@/);
      expect(row.subject).toBe(`user:${userId}`);
      expect(row.details_json).not.toContain(secret);
    }
    const activate = ours.find((row) => row.action === "addressBook.activate");
    expect(JSON.parse(String(activate?.details_json))).toMatchObject({
      currency: "BTC",
      address: BTC_ADDRESS,
      reason: "ticket 4711: verified by phone",
    });
    expect(await ok("audit", "verify")).toMatchObject({ ok: true });
  });
});

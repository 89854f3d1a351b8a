// TOTP: RFC 6238's published vectors, the ±1 step window, and the Accounts service's 2FA flow
// (sealed secret, first-code confirmation, replay refusal, disable) and address book on both engines.

import { afterEach, describe, expect, it } from "vitest";
import {
  Accounts,
  DEFAULT_ADDRESS_ACTIVATION_DELAY_MS,
  SECURITY_CHANGE_LOCK_MS,
} from "../../src/accounts/accounts.ts";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { matchTotp, totpCode, totpCodeAtStep, totpStep } from "../../src/accounts/totp.ts";
import { ENGINES, openTestStore, type TestStore } from "../store/engines.ts";

// RFC 6238 Appendix B, SHA-1 (secret "12345678901234567890", 8 digits).
const RFC_SECRET = new TextEncoder().encode("12345678901234567890");
const RFC_VECTORS: [number, string][] = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

describe("TOTP codes", () => {
  it("match RFC 6238's SHA-1 test vectors", () => {
    for (const [seconds, code] of RFC_VECTORS) expect(totpCode(RFC_SECRET, seconds, 8)).toBe(code);
  });

  it("accept the current step and one either side, nothing further, and never a step at or before afterStep", () => {
    const nowMs = 1111111111_000;
    const step = totpStep(nowMs);
    for (const delta of [-1, 0, 1])
      expect(matchTotp(RFC_SECRET, totpCodeAtStep(RFC_SECRET, step + delta, 8), nowMs, null, 8)).toBe(
        step + delta,
      );
    for (const delta of [-2, 2])
      expect(
        matchTotp(RFC_SECRET, totpCodeAtStep(RFC_SECRET, step + delta, 8), nowMs, null, 8),
      ).toBeUndefined();
    expect(matchTotp(RFC_SECRET, totpCodeAtStep(RFC_SECRET, step, 8), nowMs, step, 8)).toBeUndefined();
    expect(matchTotp(RFC_SECRET, "1234567", nowMs, null, 8)).toBeUndefined();
    expect(matchTotp(RFC_SECRET, "abcdefgh", nowMs, null, 8)).toBeUndefined();
  });
});

const BOX = new SecretBox(new Uint8Array(32).fill(7));
const T0 = 1_800_000_000_000;

describe.each(ENGINES)("Accounts 2FA and address book on %s", (engine) => {
  let opened: TestStore[] = [];
  afterEach(async () => {
    for (const test of opened) await test.dispose();
    opened = [];
  });
  async function setup(options: { addressActivationDelayMs?: number } = {}) {
    const test = await openTestStore(engine);
    opened.push(test);
    const accounts = new Accounts(test.store, { secretBox: BOX, ...options });
    const created = await accounts.createUser({ email: "a@example.com", passwordHash: "h", createdMs: T0 });
    if (!created.ok) throw new Error("user not created");
    return { accounts, userId: created.user.userId, db: test.store.db };
  }

  it("enables with a first code, verifies once per step, refuses wrong codes and disables", async () => {
    const { accounts, userId, db } = await setup();
    expect(await accounts.verifyTotp(userId, "000000", T0)).toBe("notEnabled");
    const enabled = await accounts.enableTotp(userId, "a@example.com", T0);
    expect(enabled?.uri).toMatch(/^otpauth:\/\/totp\/Bulwark:a%40example\.com\?secret=[A-Z2-7]+/);
    const secret = enabled!.secret;
    // The store holds it sealed, bound to the user.
    const row = await db.selectFrom("user_totp").selectAll().executeTakeFirstOrThrow();
    expect(row.secret_sealed).not.toContain(secret);
    expect(row.status).toBe("pending");
    expect(await accounts.verifyTotp(userId, totpCode(secret, T0 / 1000), T0)).toBe("notEnabled");
    expect(await accounts.confirmTotp(userId, "000000", T0)).toBe(false);
    expect(await accounts.confirmTotp(userId, totpCode(secret, T0 / 1000), T0)).toBe(true);
    expect(await accounts.totpEnabled(userId)).toBe(true);
    expect(await accounts.securityChangedMs(userId)).toBe(T0);
    expect(await accounts.withdrawalsLocked(userId, T0 + SECURITY_CHANGE_LOCK_MS - 1)).toBe(true);
    expect(await accounts.withdrawalsLocked(userId, T0 + SECURITY_CHANGE_LOCK_MS)).toBe(false);
    // A second enable is refused while enabled.
    expect(await accounts.enableTotp(userId, "a@example.com", T0)).toBeUndefined();

    // The confirming code's step is used: the same code again is a replay.
    expect(await accounts.verifyTotp(userId, totpCode(secret, T0 / 1000), T0 + 1_000)).toBe("wrongCode");
    const later = T0 + 60_000;
    const code = totpCode(secret, later / 1000);
    expect(await accounts.verifyTotp(userId, code, later)).toBe("ok");
    expect(await accounts.verifyTotp(userId, code, later + 5_000)).toBe("wrongCode");
    // Concurrent use of one fresh code: exactly one succeeds.
    const next = T0 + 120_000;
    const fresh = totpCode(secret, next / 1000);
    const results = await Promise.all([1, 2, 3].map(() => accounts.verifyTotp(userId, fresh, next)));
    expect(results.filter((r) => r === "ok")).toHaveLength(1);
    // Window: the previous step's code is accepted 30 s later, two steps back is not.
    const t = T0 + 600_000;
    expect(await accounts.verifyTotp(userId, totpCode(secret, (t - 30_000) / 1000), t)).toBe("ok");
    const t2 = T0 + 900_000;
    expect(await accounts.verifyTotp(userId, totpCode(secret, (t2 - 60_000) / 1000), t2)).toBe("wrongCode");
    expect(await accounts.verifyTotp(userId, totpCode(secret, (t2 + 60_000) / 1000), t2)).toBe("wrongCode");
    expect(await accounts.verifyTotp(userId, totpCode(secret, (t2 + 30_000) / 1000), t2)).toBe("ok");
    expect(await accounts.verifyTotp(userId, "12345", t + 90_000)).toBe("wrongCode");

    expect(await accounts.disableTotp(userId, T0 + 1_000_000)).toBe(true);
    expect(await accounts.securityChangedMs(userId)).toBe(T0 + 1_000_000);
    expect(await accounts.verifyTotp(userId, totpCode(secret, (T0 + 2_000_000) / 1000), T0 + 2_000_000)).toBe(
      "notEnabled",
    );
  });

  it("refuses a secret sealed for another user (a moved row)", async () => {
    const { accounts, userId, db } = await setup();
    const other = await accounts.createUser({ email: "b@example.com", passwordHash: "h", createdMs: T0 });
    if (!other.ok) throw new Error("no user");
    const { secret } = (await accounts.enableTotp(other.user.userId, "b", T0))!;
    await accounts.confirmTotp(other.user.userId, totpCode(secret, T0 / 1000), T0);
    const row = await db
      .selectFrom("user_totp")
      .selectAll()
      .where("user_id", "=", other.user.userId)
      .executeTakeFirstOrThrow();
    await db
      .insertInto("user_totp")
      .values({ ...row, user_id: userId })
      .execute();
    expect(await accounts.verifyTotp(userId, totpCode(secret, (T0 + 60_000) / 1000), T0 + 60_000)).toBe(
      "notEnabled",
    );
  });

  it("records a password change as a security change", async () => {
    const { accounts, userId } = await setup();
    expect(await accounts.securityChangedMs(userId)).toBeUndefined();
    expect(await accounts.withdrawalsLocked(userId, T0)).toBe(false);
    expect(await accounts.changePasswordHash(userId, "h2", T0 + 5)).toBe(true);
    expect((await accounts.userById(userId))?.passwordHash).toBe("h2");
    expect(await accounts.securityChangedMs(userId)).toBe(T0 + 5);
    expect(await accounts.changePasswordHash(9_999, "h2", T0)).toBe(false);
  });

  it("address book: usable only after the activation delay, or at once when an operator activates it", async () => {
    const { accounts, userId } = await setup();
    const add = { userId, currency: "BTC", address: "bc1qexample", label: "cold", nowMs: T0 };
    expect(await accounts.addAddress(add)).toBe("added");
    expect(await accounts.addAddress(add)).toBe("exists");
    const entry = await accounts.addressEntry(userId, "BTC", "bc1qexample");
    expect(entry).toMatchObject({
      createdMs: T0,
      activeFromMs: T0 + DEFAULT_ADDRESS_ACTIVATION_DELAY_MS,
      activatedBy: null,
    });
    expect(
      await accounts.activeAddress(
        userId,
        "BTC",
        "bc1qexample",
        T0 + DEFAULT_ADDRESS_ACTIVATION_DELAY_MS - 1,
      ),
    ).toBeUndefined();
    expect(
      await accounts.activeAddress(userId, "BTC", "bc1qexample", T0 + DEFAULT_ADDRESS_ACTIVATION_DELAY_MS),
    ).toBeDefined();
    // Another currency is another entry.
    expect(
      await accounts.activeAddress(
        userId,
        "ETH",
        "bc1qexample",
        T0 + 10 * DEFAULT_ADDRESS_ACTIVATION_DELAY_MS,
      ),
    ).toBeUndefined();

    expect(await accounts.addAddress({ ...add, address: "bc1qsecond", nowMs: T0 + 10 })).toBe("added");
    const activate = {
      userId,
      currency: "BTC",
      address: "bc1qsecond",
      nowMs: T0 + 20,
      operator: "ops@example.com",
    };
    expect(await accounts.activateAddressNow(activate)).toBe(true);
    expect(await accounts.activeAddress(userId, "BTC", "bc1qsecond", T0 + 20)).toMatchObject({
      activeFromMs: T0 + 20,
      activatedBy: "ops@example.com",
    });
    expect(await accounts.activateAddressNow({ ...activate, address: "bc1qnone" })).toBe(false);
    expect(
      (await accounts.addressBook(userId, { currency: "BTC", limit: 10 })).map((e) => e.address),
    ).toEqual(["bc1qexample", "bc1qsecond"]);
    expect(await accounts.removeAddress(userId, "BTC", "bc1qsecond")).toBe(true);
    expect(await accounts.addressBook(userId, { limit: 10 })).toHaveLength(1);
    await expect(accounts.addAddress({ ...add, currency: "btc" })).rejects.toThrow(RangeError);
    await expect(accounts.addAddress({ ...add, address: "has space" })).rejects.toThrow(RangeError);
    await expect(accounts.addAddress({ ...add, label: "x".repeat(101) })).rejects.toThrow(RangeError);
  });

  it("takes the activation delay as a parameter and caps the entries per user", async () => {
    const { accounts, userId } = await setup({ addressActivationDelayMs: 60_000 });
    expect(
      await accounts.addAddress({ userId, currency: "ETH", address: "0xabc", label: "", nowMs: T0 }),
    ).toBe("added");
    expect((await accounts.addressEntry(userId, "ETH", "0xabc"))?.activeFromMs).toBe(T0 + 60_000);
    for (let i = 1; i < 100; i++)
      expect(
        await accounts.addAddress({ userId, currency: "ETH", address: `0x${i}`, label: "", nowMs: T0 }),
      ).toBe("added");
    expect(
      await accounts.addAddress({ userId, currency: "ETH", address: "0xfull", label: "", nowMs: T0 }),
    ).toBe("full");
    expect(() => new Accounts(opened[0].store, { addressActivationDelayMs: -1 })).toThrow(RangeError);
  });
});

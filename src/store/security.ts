// Second factors and withdrawal destinations, written by the accounts service (src/accounts): the
// user's TOTP secret (sealed by the caller; the store never sees it in clear) with the last time
// step a code was accepted for, the time of the user's last security change, and the address book.

import type { Kysely, Transaction } from "kysely";
import { checkIntegerIn, checkLimit, checkText, checkUserId } from "./limits.ts";
import type { AddressBookTable, StoreDatabase, UserTotpTable } from "./schema.ts";

type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>;

export const SECURITY_LIMITS = {
  maxSealedSecretLength: 1_024,
  /** TOTP time steps (30 s each) fit far below this. */
  maxTimeStep: 2 ** 40,
  maxAddressBookEntriesPerUser: 100,
  maxCurrencyLength: 16,
  maxAddressLength: 256,
  maxLabelLength: 100,
  maxActorLength: 254,
} as const;

const CURRENCY = /^[A-Z0-9]{1,16}$/;
const ADDRESS = /^[!-~]+$/;

function checkMs(name: string, value: number): number {
  return checkIntegerIn(name, value, 0, Number.MAX_SAFE_INTEGER);
}

function checkStep(step: number): number {
  return checkIntegerIn("step", step, 0, SECURITY_LIMITS.maxTimeStep);
}

// ---- TOTP -----------------------------------------------------------------------------------------

export interface TotpRecord {
  userId: number;
  secretSealed: string;
  status: UserTotpTable["status"];
  lastUsedStep: number | null;
  createdMs: number;
  enabledMs: number | null;
}

export async function getTotp(db: Db, userId: number): Promise<TotpRecord | undefined> {
  const row = await db
    .selectFrom("user_totp")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    userId: row.user_id,
    secretSealed: row.secret_sealed,
    status: row.status,
    lastUsedStep: row.last_used_step,
    createdMs: row.created_ms,
    enabledMs: row.enabled_ms,
  };
}

/**
 * Stores a new pending secret (replacing a pending one). Returns false when 2FA is already enabled:
 * it must be disabled first.
 */
export async function putPendingTotp(
  db: Kysely<StoreDatabase>,
  input: { userId: number; secretSealed: string; createdMs: number },
): Promise<boolean> {
  const userId = checkUserId(input.userId);
  const row = {
    user_id: userId,
    secret_sealed: checkText("secretSealed", input.secretSealed, SECURITY_LIMITS.maxSealedSecretLength),
    status: "pending" as const,
    last_used_step: null,
    created_ms: checkMs("createdMs", input.createdMs),
    enabled_ms: null,
  };
  return db.transaction().execute(async (tx) => {
    const existing = await getTotp(tx, userId);
    if (existing?.status === "enabled") return false;
    if (existing !== undefined) await tx.deleteFrom("user_totp").where("user_id", "=", userId).execute();
    await tx.insertInto("user_totp").values(row).execute();
    return true;
  });
}

/**
 * Marks a pending secret enabled after its first code (whose step is then used), and records the
 * security change, in one transaction. Returns false unless the secret is pending.
 */
export async function confirmTotp(
  db: Kysely<StoreDatabase>,
  userId: number,
  step: number,
  enabledMs: number,
): Promise<boolean> {
  checkUserId(userId);
  checkStep(step);
  checkMs("enabledMs", enabledMs);
  return db.transaction().execute(async (tx) => {
    const result = await tx
      .updateTable("user_totp")
      .set({ status: "enabled", last_used_step: step, enabled_ms: enabledMs })
      .where("user_id", "=", userId)
      .where("status", "=", "pending")
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    await recordSecurityChange(tx, userId, enabledMs);
    return true;
  });
}

/**
 * Uses a time step of an enabled secret: succeeds only when it is later than every step used
 * before. One conditional UPDATE, so two requests with the same code cannot both succeed.
 */
export async function useTotpStep(db: Db, userId: number, step: number): Promise<boolean> {
  checkUserId(userId);
  checkStep(step);
  const result = await db
    .updateTable("user_totp")
    .set({ last_used_step: step })
    .where("user_id", "=", userId)
    .where("status", "=", "enabled")
    .where((eb) => eb.or([eb("last_used_step", "is", null), eb("last_used_step", "<", step)]))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Removes the user's secret (pending or enabled); an enabled one counts as a security change. */
export async function deleteTotp(
  db: Kysely<StoreDatabase>,
  userId: number,
  changedMs: number,
): Promise<boolean> {
  checkUserId(userId);
  checkMs("changedMs", changedMs);
  return db.transaction().execute(async (tx) => {
    const existing = await getTotp(tx, userId);
    if (existing === undefined) return false;
    await tx.deleteFrom("user_totp").where("user_id", "=", userId).execute();
    if (existing.status === "enabled") await recordSecurityChange(tx, userId, changedMs);
    return true;
  });
}

// ---- security changes -----------------------------------------------------------------------------

export async function recordSecurityChange(db: Db, userId: number, changedMs: number): Promise<void> {
  const row = { user_id: checkUserId(userId), security_changed_ms: checkMs("changedMs", changedMs) };
  await db
    .insertInto("user_security")
    .values(row)
    .onConflict((conflict) =>
      conflict.column("user_id").doUpdateSet({ security_changed_ms: row.security_changed_ms }),
    )
    .execute();
}

/** The time of the user's last security change, or undefined when there was none. */
export async function securityChangedMs(db: Db, userId: number): Promise<number | undefined> {
  const row = await db
    .selectFrom("user_security")
    .select("security_changed_ms")
    .where("user_id", "=", checkUserId(userId))
    .executeTakeFirst();
  return row?.security_changed_ms;
}

// ---- address book ---------------------------------------------------------------------------------

export interface AddressBookEntry {
  userId: number;
  currency: string;
  address: string;
  label: string;
  createdMs: number;
  activeFromMs: number;
  /** The operator who activated it early, or null. */
  activatedBy: string | null;
}

function toEntry(row: AddressBookTable): AddressBookEntry {
  return {
    userId: row.user_id,
    currency: row.currency,
    address: row.address,
    label: row.label,
    createdMs: row.created_ms,
    activeFromMs: row.active_from_ms,
    activatedBy: row.activated_by,
  };
}

function checkCurrency(currency: string): string {
  if (typeof currency !== "string" || !CURRENCY.test(currency))
    throw new RangeError("store: currency must be 1..16 of A-Z 0-9");
  return currency;
}

function checkAddress(address: string): string {
  checkText("address", address, SECURITY_LIMITS.maxAddressLength);
  if (!ADDRESS.test(address)) throw new RangeError("store: address must be printable ASCII without spaces");
  return address;
}

export type AddAddressResult = "added" | "exists" | "full";

/** Adds an entry unless the user already has this currency + address or has the maximum of entries. */
export async function addAddressBookEntry(
  db: Kysely<StoreDatabase>,
  input: {
    userId: number;
    currency: string;
    address: string;
    label: string;
    createdMs: number;
    activeFromMs: number;
  },
): Promise<AddAddressResult> {
  const row: AddressBookTable = {
    user_id: checkUserId(input.userId),
    currency: checkCurrency(input.currency),
    address: checkAddress(input.address),
    // A label may be empty.
    label: input.label === "" ? "" : checkText("label", input.label, SECURITY_LIMITS.maxLabelLength),
    created_ms: checkMs("createdMs", input.createdMs),
    active_from_ms: checkMs("activeFromMs", input.activeFromMs),
    activated_by: null,
  };
  if (row.active_from_ms < row.created_ms) throw new RangeError("store: activeFromMs before createdMs");
  return db.transaction().execute(async (tx) => {
    const existing = await tx
      .selectFrom("address_book")
      .select(["currency", "address"])
      .where("user_id", "=", row.user_id)
      .limit(SECURITY_LIMITS.maxAddressBookEntriesPerUser + 1)
      .execute();
    if (existing.some((e) => e.currency === row.currency && e.address === row.address)) return "exists";
    if (existing.length >= SECURITY_LIMITS.maxAddressBookEntriesPerUser) return "full";
    await tx.insertInto("address_book").values(row).execute();
    return "added";
  });
}

export async function getAddressBookEntry(
  db: Db,
  userId: number,
  currency: string,
  address: string,
): Promise<AddressBookEntry | undefined> {
  const row = await db
    .selectFrom("address_book")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("currency", "=", checkCurrency(currency))
    .where("address", "=", checkAddress(address))
    .executeTakeFirst();
  return row === undefined ? undefined : toEntry(row);
}

/** The user's entries, optionally of one currency, oldest first. */
export async function addressBookOfUser(
  db: Db,
  userId: number,
  options: { currency?: string; limit: number },
): Promise<AddressBookEntry[]> {
  let query = db.selectFrom("address_book").selectAll().where("user_id", "=", checkUserId(userId));
  if (options.currency !== undefined) query = query.where("currency", "=", checkCurrency(options.currency));
  const rows = await query
    .orderBy("created_ms", "asc")
    .orderBy("currency", "asc")
    .orderBy("address", "asc")
    .limit(Math.min(checkLimit(options.limit), SECURITY_LIMITS.maxAddressBookEntriesPerUser))
    .execute();
  return rows.map(toEntry);
}

/**
 * An operator makes an entry usable from `nowMs` (never later than it already was) and is named
 * on it. Returns false when there is no such entry. The caller writes the audit record.
 */
export async function activateAddressNow(
  db: Db,
  input: { userId: number; currency: string; address: string; nowMs: number; operator: string },
): Promise<boolean> {
  const nowMs = checkMs("nowMs", input.nowMs);
  const operator = checkText("operator", input.operator, SECURITY_LIMITS.maxActorLength);
  const result = await db
    .updateTable("address_book")
    .set((eb) => ({
      active_from_ms: eb
        .case()
        .when("active_from_ms", ">", nowMs)
        .then(nowMs)
        .else(eb.ref("active_from_ms"))
        .end(),
      activated_by: operator,
    }))
    .where("user_id", "=", checkUserId(input.userId))
    .where("currency", "=", checkCurrency(input.currency))
    .where("address", "=", checkAddress(input.address))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function removeAddressBookEntry(
  db: Db,
  userId: number,
  currency: string,
  address: string,
): Promise<boolean> {
  const result = await db
    .deleteFrom("address_book")
    .where("user_id", "=", checkUserId(userId))
    .where("currency", "=", checkCurrency(currency))
    .where("address", "=", checkAddress(address))
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

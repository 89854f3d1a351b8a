// Custody's own persisted state (written by the custody service, not the projector): the deposit
// addresses it derived from a watch-only xpub, and each chain scanner's height with a bounded
// window of recent block hashes for reorg detection.

import type { Kysely } from "kysely";
import { checkIntegerIn, checkLimit, checkText, checkUserId } from "./limits.ts";
import type { DepositAddressesTable, StoreDatabase } from "./schema.ts";

type Db = Kysely<StoreDatabase>;

export const CUSTODY_LIMITS = {
  maxAddressLength: 128,
  /** BIP32 hardened accounts are 0..2^31-1. */
  maxAccount: 0x7fffffff,
  /** Non-hardened child indices are 0..2^31-1. */
  maxAddressIndex: 0x7fffffff,
  /** Addresses one lookup resolves (a block's transfers are looked up in chunks of this). */
  maxAddressesPerLookup: 500,
  /** Block hashes a scanner keeps: deeper reorgs than this are beyond automatic handling. */
  maxRecentHashes: 1_000,
  maxBlockHashLength: 128,
  maxHeight: Number.MAX_SAFE_INTEGER,
} as const;

const CHAIN = /^[a-z0-9-]{1,16}$/;
/** Addresses and hashes: printable ASCII without spaces. */
const PRINTABLE = /^[!-~]+$/;

export function checkChain(chain: string): string {
  if (typeof chain !== "string" || !CHAIN.test(chain))
    throw new RangeError("store: chain must be 1..16 of a-z 0-9 -");
  return chain;
}

function checkPrintable(name: string, value: string, maxLength: number): string {
  checkText(name, value, maxLength);
  if (!PRINTABLE.test(value)) throw new RangeError(`store: ${name} must be printable ASCII without spaces`);
  return value;
}

export interface DepositAddressRecord {
  userId: number;
  chain: string;
  account: number;
  index: number;
  address: string;
  createdMs: number;
}

function toDepositAddress(row: DepositAddressesTable): DepositAddressRecord {
  return {
    userId: row.user_id,
    chain: row.chain,
    account: row.account,
    index: row.address_index,
    address: row.address,
    createdMs: row.created_ms,
  };
}

/** The user's address on the chain under the derivation account, if one was assigned. */
export async function getDepositAddress(
  db: Db,
  userId: number,
  chain: string,
  account: number,
): Promise<DepositAddressRecord | undefined> {
  const row = await db
    .selectFrom("deposit_addresses")
    .selectAll()
    .where("user_id", "=", checkUserId(userId))
    .where("chain", "=", checkChain(chain))
    .where("account", "=", checkIntegerIn("account", account, 0, CUSTODY_LIMITS.maxAccount))
    .executeTakeFirst();
  return row === undefined ? undefined : toDepositAddress(row);
}

/**
 * The user's address on the chain under the account: the stored one, or a new one at the next
 * index of that chain + account, derived by `derive(index)` (custody's watch-only derivation) and
 * stored, in one transaction. Concurrent calls for one chain + account may collide on the index
 * or the user and fail with a unique-constraint error; custody serialises them (one custody
 * process per chain), and a retry returns the stored address.
 */
export async function assignDepositAddress(
  db: Db,
  input: { userId: number; chain: string; account: number; createdMs: number },
  derive: (index: number) => string,
): Promise<DepositAddressRecord> {
  const userId = checkUserId(input.userId);
  const chain = checkChain(input.chain);
  const account = checkIntegerIn("account", input.account, 0, CUSTODY_LIMITS.maxAccount);
  const createdMs = checkIntegerIn("createdMs", input.createdMs, 0, Number.MAX_SAFE_INTEGER);
  return db.transaction().execute(async (tx) => {
    const existing = await getDepositAddress(tx, userId, chain, account);
    if (existing !== undefined) return existing;
    const last = await tx
      .selectFrom("deposit_addresses")
      .select("address_index")
      .where("chain", "=", chain)
      .where("account", "=", account)
      .orderBy("address_index", "desc")
      .limit(1)
      .executeTakeFirst();
    const index = last === undefined ? 0 : last.address_index + 1;
    if (index > CUSTODY_LIMITS.maxAddressIndex)
      throw new RangeError(`store: chain ${chain} account ${account} has no address index left`);
    const address = checkPrintable("address", derive(index), CUSTODY_LIMITS.maxAddressLength);
    const row = { user_id: userId, chain, account, address_index: index, address, created_ms: createdMs };
    await tx.insertInto("deposit_addresses").values(row).execute();
    return toDepositAddress(row);
  });
}

/** Owners of the given addresses on a chain (any account), for a scanned block's transfers. */
export async function depositAddressOwners(
  db: Db,
  chain: string,
  addresses: readonly string[],
): Promise<Map<string, DepositAddressRecord>> {
  checkChain(chain);
  if (addresses.length > CUSTODY_LIMITS.maxAddressesPerLookup)
    throw new RangeError(`store: at most ${CUSTODY_LIMITS.maxAddressesPerLookup} addresses per lookup`);
  const owners = new Map<string, DepositAddressRecord>();
  if (addresses.length === 0) return owners;
  for (const address of addresses) checkPrintable("address", address, CUSTODY_LIMITS.maxAddressLength);
  // By the address's unique index alone: with `chain = ?` in the query, SQLite chose the
  // (chain, account, index) key and read every address of the chain per page (25-60 ms per 500
  // among 100,000; about 5 ms this way, bench/deposit-credit.bench.ts). The chain is checked here.
  const rows = await db
    .selectFrom("deposit_addresses")
    .selectAll()
    .where("address", "in", [...addresses])
    .execute();
  for (const row of rows) if (row.chain === chain) owners.set(row.address, toDepositAddress(row));
  return owners;
}

/**
 * A page of a chain's addresses in (account, index) order, after the given position: how custody
 * loads its watch set at start (100,000 addresses are a few pages).
 */
export async function depositAddressesOfChain(
  db: Db,
  chain: string,
  options: { after?: { account: number; index: number }; limit: number },
): Promise<DepositAddressRecord[]> {
  let query = db.selectFrom("deposit_addresses").selectAll().where("chain", "=", checkChain(chain));
  const after = options.after;
  if (after !== undefined) {
    const account = checkIntegerIn("after.account", after.account, 0, CUSTODY_LIMITS.maxAccount);
    const index = checkIntegerIn("after.index", after.index, 0, CUSTODY_LIMITS.maxAddressIndex);
    query = query.where((eb) =>
      eb.or([
        eb("account", ">", account),
        eb.and([eb("account", "=", account), eb("address_index", ">", index)]),
      ]),
    );
  }
  const rows = await query
    .orderBy("account", "asc")
    .orderBy("address_index", "asc")
    .limit(checkLimit(options.limit))
    .execute();
  return rows.map(toDepositAddress);
}

// ---- scanner state ----------------------------------------------------------------------------

export interface ScannerState {
  chain: string;
  /** The last height scanned. */
  height: number;
  /** [height, hash] of the most recent blocks, ascending and consecutive, the last at `height`. */
  recentHashes: [number, string][];
  updatedMs: number;
}

function checkRecentHashes(height: number, hashes: readonly (readonly [number, string])[]): void {
  if (!Array.isArray(hashes) || hashes.length > CUSTODY_LIMITS.maxRecentHashes)
    throw new RangeError(`store: at most ${CUSTODY_LIMITS.maxRecentHashes} recent hashes`);
  for (let i = 0; i < hashes.length; i++) {
    const [h, hash] = hashes[i];
    checkIntegerIn("hash height", h, 0, CUSTODY_LIMITS.maxHeight);
    checkPrintable("block hash", hash, CUSTODY_LIMITS.maxBlockHashLength);
    if (i > 0 && h !== hashes[i - 1][0] + 1) throw new RangeError("store: recent hashes must be consecutive");
  }
  if (hashes.length > 0 && hashes[hashes.length - 1][0] !== height)
    throw new RangeError("store: the last recent hash must be at the scanned height");
}

export async function getScannerState(db: Db, chain: string): Promise<ScannerState | undefined> {
  const row = await db
    .selectFrom("scanner_state")
    .selectAll()
    .where("chain", "=", checkChain(chain))
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    chain: row.chain,
    height: row.height,
    // Written only by saveScannerState, from a checked array.
    recentHashes: JSON.parse(row.recent_hashes_json) as [number, string][],
    updatedMs: row.updated_ms,
  };
}

/** Stores the scanner's position (insert or replace). */
export async function saveScannerState(db: Db, state: ScannerState): Promise<void> {
  const chain = checkChain(state.chain);
  const height = checkIntegerIn("height", state.height, 0, CUSTODY_LIMITS.maxHeight);
  checkRecentHashes(height, state.recentHashes);
  const row = {
    chain,
    height,
    recent_hashes_json: JSON.stringify(state.recentHashes),
    updated_ms: checkIntegerIn("updatedMs", state.updatedMs, 0, Number.MAX_SAFE_INTEGER),
  };
  await db
    .insertInto("scanner_state")
    .values(row)
    .onConflict((conflict) =>
      conflict.column("chain").doUpdateSet({
        height: row.height,
        recent_hashes_json: row.recent_hashes_json,
        updated_ms: row.updated_ms,
      }),
    )
    .execute();
}

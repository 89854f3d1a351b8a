// Bounds on every query parameter, queue and loop of the store, in one place. Functions throw a
// RangeError for a value outside its bound: the gateway validates input first, so reaching one of
// these is a bug, and failing loudly beats running an unbounded query.

import { MAX_USER_ID } from "../core/config.ts";

export const STORE_LIMITS = {
  /** Rows any list query returns at most. */
  maxLimit: 10_000,
  /** Rows any list query skips at most (deeper paging needs a cursor, not an offset). */
  maxOffset: 10_000,
  /** Ids in one `in (...)` list: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
  maxIdsPerQuery: 500,
  /** Rows in one multi-row insert; columns × rows stays under both engines' parameter limits. */
  maxRowsPerInsert: 500,
  /** Events the projector takes in one applyBatch call. */
  maxEventsPerBatch: 1_000_000,
  /** Audit log rows one verify call reads. */
  maxAuditRowsPerVerify: 10_000_000,
  maxEmailLength: 254,
  maxKeyIdLength: 128,
  maxScopes: 16,
  maxAllowedIps: 64,
  maxAuditTextLength: 1_000,
  maxAuditDetailsLength: 16_000,
} as const;

export function checkIntegerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new RangeError(`store: ${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

export function checkLimit(limit: number): number {
  return checkIntegerIn("limit", limit, 1, STORE_LIMITS.maxLimit);
}

export function checkOffset(offset: number): number {
  return checkIntegerIn("offset", offset, 0, STORE_LIMITS.maxOffset);
}

export function checkUserId(userId: number): number {
  return checkIntegerIn("userId", userId, 1, MAX_USER_ID);
}

/** Order ids and trade ids are command sequences and counters: positive safe integers. */
export function checkId(name: string, id: number): number {
  return checkIntegerIn(name, id, 1, Number.MAX_SAFE_INTEGER);
}

export function checkMarketId(marketId: number): number {
  return checkIntegerIn("marketId", marketId, 1, 0xffff);
}

export function checkAssetId(assetId: number): number {
  return checkIntegerIn("assetId", assetId, 1, 0xffff);
}

export function checkText(name: string, value: string, maxLength: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > maxLength)
    throw new RangeError(`store: ${name} must be 1..${maxLength} characters`);
  return value;
}

/** Splits `items` into consecutive chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

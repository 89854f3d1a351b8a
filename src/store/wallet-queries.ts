// Read queries over custody's projected tables (deposits, withdrawals, wallet movements) for EXMO's
// `wallet_history` and `wallet_operations` (and ccxt's fetchDeposits / fetchWithdrawals /
// fetchDepositsWithdrawals, which read them), plus the one write custody makes to a withdrawal row:
// its chain details. Every list is bounded (STORE_LIMITS) and totally ordered: newest first by the
// operation id, which is the sequence of the command that created the operation (creditDeposit or
// holdWithdrawal), unique across deposits and withdrawals together.

import type { Kysely } from "kysely";
import type { WalletAccount } from "../core/commands.ts";
import {
  checkAssetId,
  checkId,
  checkIntegerIn,
  checkLimit,
  checkOffset,
  checkText,
  checkUserId,
} from "./limits.ts";
import type { DepositRow, StoreDatabase, WithdrawalRow, WithdrawalStatus } from "./schema.ts";

type Db = Kysely<StoreDatabase>;

export type WalletOperationKind = "deposit" | "withdrawal";

/** A deposit or a withdrawal, in one shape so the two can be listed together. */
export interface WalletOperationRecord {
  kind: WalletOperationKind;
  /** The sequence of creditDeposit / holdWithdrawal: EXMO's operation_id. */
  operationId: number;
  userId: number;
  assetId: number;
  /** Deposits: the amount credited. Withdrawals: everything the user pays, fee included. */
  amountUnits: number;
  /** 0 for deposits. */
  feeUnits: number;
  /** Deposits are projected once credited, so always "credited". */
  status: "credited" | WithdrawalStatus;
  createdMs: number;
  /** When the status last changed (for a held withdrawal or a deposit: createdMs). */
  updatedMs: number;
  /** Deposits only (null for withdrawals). */
  chain: string | null;
  outputIndex: number | null;
  /** Deposits: always set. Withdrawals: once custody broadcast it. */
  txId: string | null;
  /** Withdrawals only, null until custody sets them. */
  withdrawalId: number | null;
  destination: string | null;
  confirmations: number | null;
  reason: string | null;
}

export interface WalletMovementRecord {
  sequence: number;
  assetId: number;
  from: WalletAccount;
  to: WalletAccount;
  amountUnits: number;
  txId: string;
  tsMs: number;
}

/** What custody records about a withdrawal as it goes to the chain; undefined leaves a column as is. */
export interface WithdrawalChainInfo {
  destination?: string;
  txId?: string;
  confirmations?: number;
  reason?: string;
}

export const WALLET_TEXT_LIMITS = {
  maxDestinationLength: 256,
  maxTxIdLength: 128,
  maxReasonLength: 1_000,
  maxConfirmations: 0x7fffffff,
} as const;

function depositRecord(row: DepositRow): WalletOperationRecord {
  return {
    kind: "deposit",
    operationId: row.sequence,
    userId: row.user_id,
    assetId: row.asset_id,
    amountUnits: row.amount_units,
    feeUnits: 0,
    status: "credited",
    createdMs: row.credited_ms,
    updatedMs: row.credited_ms,
    chain: row.chain,
    outputIndex: row.output_index,
    txId: row.tx_id,
    withdrawalId: null,
    destination: null,
    confirmations: null,
    reason: null,
  };
}

function withdrawalRecord(row: WithdrawalRow): WalletOperationRecord {
  return {
    kind: "withdrawal",
    operationId: row.held_sequence,
    userId: row.user_id,
    assetId: row.asset_id,
    amountUnits: row.amount_units,
    feeUnits: row.fee_units,
    status: row.status,
    createdMs: row.held_ms,
    updatedMs: row.done_ms ?? row.held_ms,
    chain: null,
    outputIndex: null,
    txId: row.tx_id,
    withdrawalId: row.withdrawal_id,
    destination: row.destination,
    confirmations: row.confirmations,
    reason: row.reason,
  };
}

/** Newest first; operation ids are unique across both lists, so the order is total. */
function mergeNewestFirst(
  a: readonly WalletOperationRecord[],
  b: readonly WalletOperationRecord[],
): WalletOperationRecord[] {
  return [...a, ...b].sort((x, y) => y.operationId - x.operationId);
}

function checkTimeMs(name: string, value: number): number {
  return checkIntegerIn(name, value, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * A user's deposits and withdrawals, newest first (EXMO wallet_operations). `kind` and `assetId`
 * filter. Each table is read for at most offset + limit rows, then the two are merged.
 */
export async function walletOperationsOfUser(
  db: Db,
  userId: number,
  options: { kind?: WalletOperationKind; assetId?: number; offset: number; limit: number },
): Promise<WalletOperationRecord[]> {
  checkUserId(userId);
  const offset = checkOffset(options.offset);
  const limit = checkLimit(options.limit);
  if (options.kind !== undefined && options.kind !== "deposit" && options.kind !== "withdrawal")
    throw new RangeError(`store: kind must be deposit or withdrawal, got ${String(options.kind)}`);
  const assetId = options.assetId === undefined ? undefined : checkAssetId(options.assetId);
  const window = offset + limit;
  let deposits: WalletOperationRecord[] = [];
  let withdrawals: WalletOperationRecord[] = [];
  if (options.kind !== "withdrawal") {
    let query = db.selectFrom("deposits").selectAll().where("user_id", "=", userId);
    if (assetId !== undefined) query = query.where("asset_id", "=", assetId);
    deposits = (await query.orderBy("sequence", "desc").limit(window).execute()).map(depositRecord);
  }
  if (options.kind !== "deposit") {
    let query = db.selectFrom("withdrawals").selectAll().where("user_id", "=", userId);
    if (assetId !== undefined) query = query.where("asset_id", "=", assetId);
    withdrawals = (await query.orderBy("held_sequence", "desc").limit(window).execute()).map(
      withdrawalRecord,
    );
  }
  return mergeNewestFirst(deposits, withdrawals).slice(offset, window);
}

/**
 * A user's deposits and withdrawals created in [fromMs, toMs), newest first, at most `limit`
 * (EXMO wallet_history, whose `date` names one day).
 */
export async function walletHistoryOfUser(
  db: Db,
  userId: number,
  options: { fromMs: number; toMs: number; limit: number },
): Promise<WalletOperationRecord[]> {
  checkUserId(userId);
  const fromMs = checkTimeMs("fromMs", options.fromMs);
  const toMs = checkTimeMs("toMs", options.toMs);
  if (toMs < fromMs) throw new RangeError("store: toMs must not be before fromMs");
  const limit = checkLimit(options.limit);
  const deposits = await db
    .selectFrom("deposits")
    .selectAll()
    .where("user_id", "=", userId)
    .where("credited_ms", ">=", fromMs)
    .where("credited_ms", "<", toMs)
    .orderBy("sequence", "desc")
    .limit(limit)
    .execute();
  const withdrawals = await db
    .selectFrom("withdrawals")
    .selectAll()
    .where("user_id", "=", userId)
    .where("held_ms", ">=", fromMs)
    .where("held_ms", "<", toMs)
    .orderBy("held_sequence", "desc")
    .limit(limit)
    .execute();
  return mergeNewestFirst(deposits.map(depositRecord), withdrawals.map(withdrawalRecord)).slice(0, limit);
}

/** One withdrawal by custody's id (fetchWithdrawal, withdraw_get_txid). */
export async function getWithdrawal(
  db: Db,
  withdrawalId: number,
): Promise<WalletOperationRecord | undefined> {
  const row = await db
    .selectFrom("withdrawals")
    .selectAll()
    .where("withdrawal_id", "=", checkId("withdrawalId", withdrawalId))
    .executeTakeFirst();
  return row === undefined ? undefined : withdrawalRecord(row);
}

/** Every status a withdrawal passed through, oldest first (at most a handful). */
export async function withdrawalStatusHistory(
  db: Db,
  withdrawalId: number,
  options: { limit: number },
): Promise<{ status: WithdrawalStatus; sequence: number; tsMs: number }[]> {
  const rows = await db
    .selectFrom("withdrawal_status_history")
    .select(["status", "sequence", "ts_ms"])
    .where("withdrawal_id", "=", checkId("withdrawalId", withdrawalId))
    .orderBy("sequence", "asc")
    .limit(checkLimit(options.limit))
    .execute();
  return rows.map((row) => ({ status: row.status, sequence: row.sequence, tsMs: row.ts_ms }));
}

/** The exchange's own wallet movements, newest first, optionally of one asset. */
export async function walletMovements(
  db: Db,
  options: { assetId?: number; offset: number; limit: number },
): Promise<WalletMovementRecord[]> {
  let query = db.selectFrom("wallet_movements").selectAll();
  if (options.assetId !== undefined) query = query.where("asset_id", "=", checkAssetId(options.assetId));
  const rows = await query
    .orderBy("sequence", "desc")
    .limit(checkLimit(options.limit))
    .offset(checkOffset(options.offset))
    .execute();
  return rows.map((row) => ({
    sequence: row.sequence,
    assetId: row.asset_id,
    from: row.from_account,
    to: row.to_account,
    amountUnits: row.amount_units,
    txId: row.tx_id,
    tsMs: row.ts_ms,
  }));
}

/**
 * Custody's write: the chain details of a withdrawal the projector has recorded. Returns false
 * when there is no such row yet (the projector has not reached the hold): custody retries later.
 * Never touches the core's columns, so it cannot race the projector's writes.
 */
export async function setWithdrawalChainInfo(
  db: Db,
  withdrawalId: number,
  info: WithdrawalChainInfo,
): Promise<boolean> {
  checkId("withdrawalId", withdrawalId);
  const set: Partial<Pick<WithdrawalRow, "destination" | "tx_id" | "confirmations" | "reason">> = {};
  if (info.destination !== undefined)
    set.destination = checkText("destination", info.destination, WALLET_TEXT_LIMITS.maxDestinationLength);
  if (info.txId !== undefined) set.tx_id = checkText("txId", info.txId, WALLET_TEXT_LIMITS.maxTxIdLength);
  if (info.confirmations !== undefined)
    set.confirmations = checkIntegerIn(
      "confirmations",
      info.confirmations,
      0,
      WALLET_TEXT_LIMITS.maxConfirmations,
    );
  if (info.reason !== undefined)
    set.reason = checkText("reason", info.reason, WALLET_TEXT_LIMITS.maxReasonLength);
  if (Object.keys(set).length === 0)
    throw new RangeError("store: setWithdrawalChainInfo with nothing to set");
  const result = await db
    .updateTable("withdrawals")
    .set(set)
    .where("withdrawal_id", "=", withdrawalId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

// Custody's withdrawal pipeline rows (issue 7 §5): the current step of every withdrawal and what
// custody needs to resume it after a crash, plus the history of steps reached. Written by custody
// only; the core's own view of a withdrawal (held, settled, released) is the projected
// `withdrawals` table. Every write is one transaction: the step and its history row together.

import type { Kysely } from "kysely";
import type { WalletAccount } from "../core/commands.ts";
import { checkAssetId, checkId, checkIntegerIn, checkLimit, checkText, checkUserId } from "./limits.ts";
import type { CustodyWithdrawalsTable, StoreDatabase } from "./schema.ts";

type Db = Kysely<StoreDatabase>;

export const PIPELINE_LIMITS = {
  maxTextLength: 128,
  maxReasonLength: 500,
  /** Intents are at most 32 KiB of payload, base64 in JSON. */
  maxIntentJsonLength: 64 * 1024,
  maxSignedTxLength: 64 * 1024,
  maxApprovers: 16,
  /** Steps one withdrawal may record (a handful in practice; a loop that runs away stops here). */
  maxSteps: 64,
} as const;

export interface PipelineWithdrawal {
  withdrawalId: number;
  userId: number;
  chain: string;
  currency: string;
  assetId: number;
  amountUnits: number;
  feeUnits: number;
  chainAmount: bigint;
  destination: string;
  via: string;
  step: string;
  approvalsNeeded: number;
  approvals: string[];
  attempt: number;
  intentJson: string | null;
  signedTx: string | null;
  txId: string | null;
  networkFee: bigint | null;
  confirmations: number;
  reason: string | null;
  requestedMs: number;
  updatedMs: number;
  history: { step: string; atMs: number }[];
}

export type NewPipelineWithdrawal = Pick<
  PipelineWithdrawal,
  | "userId"
  | "chain"
  | "currency"
  | "assetId"
  | "amountUnits"
  | "feeUnits"
  | "chainAmount"
  | "destination"
  | "via"
  | "approvalsNeeded"
  | "requestedMs"
>;

/** Fields a step change may set (null clears). */
export interface PipelinePatch {
  step: string;
  atMs: number;
  approvals?: string[];
  attempt?: number;
  intentJson?: string | null;
  signedTx?: string | null;
  txId?: string | null;
  networkFee?: bigint | null;
  confirmations?: number;
  reason?: string | null;
}

function optionalText(name: string, value: string | null | undefined, max: number): void {
  if (value !== null && value !== undefined) checkText(name, value, max);
}

function toRecord(
  row: CustodyWithdrawalsTable,
  history: { step: string; atMs: number }[],
): PipelineWithdrawal {
  return {
    withdrawalId: row.withdrawal_id,
    userId: row.user_id,
    chain: row.chain,
    currency: row.currency,
    assetId: row.asset_id,
    amountUnits: row.amount_units,
    feeUnits: row.fee_units,
    chainAmount: BigInt(row.chain_amount),
    destination: row.destination,
    via: row.via,
    step: row.step,
    approvalsNeeded: row.approvals_needed,
    // Written only here, from a checked array of strings.
    approvals: JSON.parse(row.approvals_json) as string[],
    attempt: row.attempt,
    intentJson: row.intent_json,
    signedTx: row.signed_tx,
    txId: row.tx_id,
    networkFee: row.network_fee === null ? null : BigInt(row.network_fee),
    confirmations: row.confirmations,
    reason: row.reason,
    requestedMs: row.requested_ms,
    updatedMs: row.updated_ms,
    history,
  };
}

async function historyOf(
  db: Db,
  ids: readonly number[],
): Promise<Map<number, { step: string; atMs: number }[]>> {
  const byId = new Map<number, { step: string; atMs: number }[]>();
  if (ids.length === 0) return byId;
  const rows = await db
    .selectFrom("custody_withdrawal_steps")
    .selectAll()
    .where("withdrawal_id", "in", ids)
    .orderBy("withdrawal_id")
    .orderBy("step_index")
    .execute();
  for (const row of rows) {
    const list = byId.get(row.withdrawal_id) ?? [];
    list.push({ step: row.step, atMs: row.at_ms });
    byId.set(row.withdrawal_id, list);
  }
  return byId;
}

/** Inserts a new withdrawal at step `requested` with the next id; returns it. */
export async function insertPipelineWithdrawal(
  db: Db,
  input: NewPipelineWithdrawal,
): Promise<PipelineWithdrawal> {
  checkUserId(input.userId);
  checkAssetId(input.assetId);
  for (const [name, value] of [
    ["chain", input.chain],
    ["currency", input.currency],
    ["destination", input.destination],
    ["via", input.via],
  ] as const)
    checkText(name, value, PIPELINE_LIMITS.maxTextLength);
  checkIntegerIn("amountUnits", input.amountUnits, 1, Number.MAX_SAFE_INTEGER);
  checkIntegerIn("feeUnits", input.feeUnits, 0, input.amountUnits - 1);
  checkIntegerIn("approvalsNeeded", input.approvalsNeeded, 0, PIPELINE_LIMITS.maxApprovers);
  checkIntegerIn("requestedMs", input.requestedMs, 0, Number.MAX_SAFE_INTEGER);
  if (input.chainAmount <= 0n) throw new RangeError("store: chainAmount must be positive");
  return db.transaction().execute(async (tx) => {
    const last = await tx
      .selectFrom("custody_withdrawals")
      .select("withdrawal_id")
      .orderBy("withdrawal_id", "desc")
      .limit(1)
      .executeTakeFirst();
    const row: CustodyWithdrawalsTable = {
      withdrawal_id: (last?.withdrawal_id ?? 0) + 1,
      user_id: input.userId,
      chain: input.chain,
      currency: input.currency,
      asset_id: input.assetId,
      amount_units: input.amountUnits,
      fee_units: input.feeUnits,
      chain_amount: input.chainAmount.toString(),
      destination: input.destination,
      via: input.via,
      step: "requested",
      approvals_needed: input.approvalsNeeded,
      approvals_json: "[]",
      attempt: 0,
      intent_json: null,
      signed_tx: null,
      tx_id: null,
      network_fee: null,
      confirmations: 0,
      reason: null,
      requested_ms: input.requestedMs,
      updated_ms: input.requestedMs,
    };
    await tx.insertInto("custody_withdrawals").values(row).execute();
    await tx
      .insertInto("custody_withdrawal_steps")
      .values({
        withdrawal_id: row.withdrawal_id,
        step_index: 0,
        step: "requested",
        at_ms: input.requestedMs,
      })
      .execute();
    return toRecord(row, [{ step: "requested", atMs: input.requestedMs }]);
  });
}

/**
 * Moves a withdrawal to `patch.step` (recording it in the history when the step changes) and sets
 * the patched fields, in one transaction. `expectedStep` guards against two writers: the update
 * applies only while the row is still at that step; returns false otherwise.
 */
export async function updatePipelineWithdrawal(
  db: Db,
  withdrawalId: number,
  expectedStep: string,
  patch: PipelinePatch,
): Promise<boolean> {
  checkId("withdrawalId", withdrawalId);
  checkText("step", patch.step, PIPELINE_LIMITS.maxTextLength);
  checkIntegerIn("atMs", patch.atMs, 0, Number.MAX_SAFE_INTEGER);
  optionalText("intentJson", patch.intentJson, PIPELINE_LIMITS.maxIntentJsonLength);
  optionalText("signedTx", patch.signedTx, PIPELINE_LIMITS.maxSignedTxLength);
  optionalText("txId", patch.txId, PIPELINE_LIMITS.maxTextLength);
  optionalText("reason", patch.reason, PIPELINE_LIMITS.maxReasonLength);
  if (patch.approvals !== undefined) {
    if (patch.approvals.length > PIPELINE_LIMITS.maxApprovers)
      throw new RangeError("store: too many approvers");
    for (const approver of patch.approvals) checkText("approver", approver, PIPELINE_LIMITS.maxTextLength);
  }
  if (patch.confirmations !== undefined)
    checkIntegerIn("confirmations", patch.confirmations, 0, Number.MAX_SAFE_INTEGER);
  if (patch.attempt !== undefined) checkIntegerIn("attempt", patch.attempt, 0, 1_000);
  return db.transaction().execute(async (tx) => {
    const current = await tx
      .selectFrom("custody_withdrawals")
      .select(["step"])
      .where("withdrawal_id", "=", withdrawalId)
      .executeTakeFirst();
    if (current === undefined || current.step !== expectedStep) return false;
    await tx
      .updateTable("custody_withdrawals")
      .set({
        step: patch.step,
        updated_ms: patch.atMs,
        ...(patch.approvals === undefined ? {} : { approvals_json: JSON.stringify(patch.approvals) }),
        ...(patch.attempt === undefined ? {} : { attempt: patch.attempt }),
        ...(patch.intentJson === undefined ? {} : { intent_json: patch.intentJson }),
        ...(patch.signedTx === undefined ? {} : { signed_tx: patch.signedTx }),
        ...(patch.txId === undefined ? {} : { tx_id: patch.txId }),
        ...(patch.networkFee === undefined
          ? {}
          : { network_fee: patch.networkFee === null ? null : patch.networkFee.toString() }),
        ...(patch.confirmations === undefined ? {} : { confirmations: patch.confirmations }),
        ...(patch.reason === undefined ? {} : { reason: patch.reason }),
      })
      .where("withdrawal_id", "=", withdrawalId)
      .execute();
    if (patch.step !== expectedStep) {
      const last = await tx
        .selectFrom("custody_withdrawal_steps")
        .select("step_index")
        .where("withdrawal_id", "=", withdrawalId)
        .orderBy("step_index", "desc")
        .limit(1)
        .executeTakeFirst();
      const index = (last?.step_index ?? -1) + 1;
      if (index >= PIPELINE_LIMITS.maxSteps)
        throw new RangeError(`store: withdrawal ${withdrawalId} has too many steps`);
      await tx
        .insertInto("custody_withdrawal_steps")
        .values({ withdrawal_id: withdrawalId, step_index: index, step: patch.step, at_ms: patch.atMs })
        .execute();
    }
    return true;
  });
}

export async function getPipelineWithdrawal(
  db: Db,
  withdrawalId: number,
): Promise<PipelineWithdrawal | undefined> {
  checkId("withdrawalId", withdrawalId);
  const row = await db
    .selectFrom("custody_withdrawals")
    .selectAll()
    .where("withdrawal_id", "=", withdrawalId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return toRecord(row, (await historyOf(db, [withdrawalId])).get(withdrawalId) ?? []);
}

/** Newest first. `steps` filters by step; `chain` by chain. */
export async function listPipelineWithdrawals(
  db: Db,
  filter: { userId?: number; chain?: string; steps?: readonly string[]; limit: number },
): Promise<PipelineWithdrawal[]> {
  let query = db.selectFrom("custody_withdrawals").selectAll();
  if (filter.userId !== undefined) query = query.where("user_id", "=", checkUserId(filter.userId));
  if (filter.chain !== undefined) query = query.where("chain", "=", checkText("chain", filter.chain, 128));
  if (filter.steps !== undefined) {
    if (filter.steps.length === 0) return [];
    query = query.where("step", "in", [...filter.steps]);
  }
  const rows = await query.orderBy("withdrawal_id", "desc").limit(checkLimit(filter.limit)).execute();
  const history = await historyOf(
    db,
    rows.map((row) => row.withdrawal_id),
  );
  return rows.map((row) => toRecord(row, history.get(row.withdrawal_id) ?? []));
}

/**
 * Ledger units withdrawn (requested and not rejected or failed) since `sinceMs`, by one user of
 * one asset, or by everyone when `userId` is absent: the 24 h / 30 d / hourly limits.
 */
export async function withdrawnUnitsSince(
  db: Db,
  filter: { assetId: number; sinceMs: number; userId?: number },
): Promise<number> {
  let query = db
    .selectFrom("custody_withdrawals")
    .select((eb) => eb.fn.sum<number | string | null>("amount_units").as("total"))
    .where("asset_id", "=", checkAssetId(filter.assetId))
    .where("requested_ms", ">=", checkIntegerIn("sinceMs", filter.sinceMs, 0, Number.MAX_SAFE_INTEGER))
    .where("step", "not in", ["rejected", "failed"]);
  if (filter.userId !== undefined) query = query.where("user_id", "=", checkUserId(filter.userId));
  const row = await query.executeTakeFirst();
  const total = Number(row?.total ?? 0);
  if (!Number.isSafeInteger(total)) throw new RangeError("store: withdrawn total is not a safe integer");
  return total;
}

/**
 * Whether the projected wallet movements hold one with this txid between these accounts: custody's
 * check before recording a movement again after a crash (the core does not dedupe movements).
 */
export async function walletMovementExists(
  db: Db,
  filter: { assetId: number; txId: string; from: WalletAccount; to: WalletAccount },
): Promise<boolean> {
  const row = await db
    .selectFrom("wallet_movements")
    .select("sequence")
    .where("asset_id", "=", checkAssetId(filter.assetId))
    .where("tx_id", "=", checkText("txId", filter.txId, PIPELINE_LIMITS.maxTextLength))
    .where("from_account", "=", filter.from)
    .where("to_account", "=", filter.to)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

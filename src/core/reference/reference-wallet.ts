// The reference core's wallet commands (docs/CORE.md, "Wallet commands"): creditDeposit,
// holdWithdrawal, settleWithdrawal / releaseWithdrawal, recordWalletMovement. Each check is written
// out in the spec's order; every balance change is a `transfer`.

import {
  type CreditDepositCommand,
  type HoldWithdrawalCommand,
  type RecordWalletMovementCommand,
  type ReleaseWithdrawalCommand,
  type SettleWithdrawalCommand,
  WALLET_ACCOUNTS,
} from "../commands.ts";
import { MAX_SAFE_UNITS } from "../config.ts";
import { isValidUserId } from "./model.ts";
import { type Account, balanceOf, systemBalanceOf, transfer } from "./reference-ledger.ts";
import { findAsset, type ReferenceState, Rejection } from "./reference-state.ts";

const CHAIN = /^[a-z0-9-]{1,16}$/;
const TX_ID = /^[!-~]{1,128}$/;
const TX_ID_OR_EMPTY = /^[!-~]{0,128}$/;

function isAmount(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

/** Whether a system account stays within ±MAX_SAFE_UNITS after moving by `delta`. */
function fits(s: ReferenceState, account: Account, assetId: number, delta: number): boolean {
  if (account.kind !== "system") throw new Error("not a system account");
  return Math.abs(systemBalanceOf(s, account.account, assetId) + delta) <= MAX_SAFE_UNITS;
}

export function creditDeposit(s: ReferenceState, c: CreditDepositCommand): void {
  const sourceOk =
    typeof c.chain === "string" &&
    CHAIN.test(c.chain) &&
    typeof c.txId === "string" &&
    TX_ID.test(c.txId) &&
    Number.isInteger(c.outputIndex) &&
    c.outputIndex >= 0 &&
    c.outputIndex <= 0xffff_ffff;
  if (!isValidUserId(c.userId) || !isAmount(c.amountUnits) || !sourceOk)
    throw new Rejection("invalidCommand");
  if (findAsset(s, c.assetId) === undefined) throw new Rejection("unknownAsset");
  const key = `${c.chain}:${c.txId}:${c.outputIndex}`;
  if (s.depositKeys.has(key)) throw new Rejection("duplicateDeposit");
  const addresses: Account = { kind: "system", account: "walletDepositAddresses" };
  if (s.depositKeys.size >= s.limits.maxDepositKeys) throw new Rejection("limitReached");
  if (!fits(s, addresses, c.assetId, -c.amountUnits)) throw new Rejection("limitReached");
  if (balanceOf(s, c.userId, c.assetId).available + c.amountUnits > MAX_SAFE_UNITS)
    throw new Rejection("limitReached");
  if (!s.users.has(c.userId) && s.users.size >= s.limits.maxUsers) throw new Rejection("tooManyUsers");
  s.depositKeys.add(key);
  transfer(s, c.assetId, addresses, { kind: "available", userId: c.userId }, c.amountUnits);
  s.pending.push({
    type: "depositCredited",
    sequence: c.sequence,
    timestampMs: c.timestampMs,
    userId: c.userId,
    assetId: c.assetId,
    amountUnits: c.amountUnits,
    chain: c.chain,
    txId: c.txId,
    outputIndex: c.outputIndex,
  });
}

export function holdWithdrawal(s: ReferenceState, c: HoldWithdrawalCommand): void {
  if (!isValidUserId(c.userId)) throw new Rejection("invalidCommand");
  if (!isAmount(c.withdrawalId) || !isAmount(c.amountUnits)) throw new Rejection("invalidCommand");
  if (!Number.isSafeInteger(c.feeUnits) || c.feeUnits < 0 || c.feeUnits >= c.amountUnits)
    throw new Rejection("invalidCommand");
  if (findAsset(s, c.assetId) === undefined) throw new Rejection("unknownAsset");
  if (s.withdrawals.has(c.withdrawalId)) throw new Rejection("withdrawalExists");
  const balance = balanceOf(s, c.userId, c.assetId);
  if (!s.users.has(c.userId) || balance.available < c.amountUnits) throw new Rejection("insufficientFunds");
  if (s.withdrawals.size >= s.limits.maxPendingWithdrawals) throw new Rejection("limitReached");
  if (balance.held + c.amountUnits > MAX_SAFE_UNITS) throw new Rejection("limitReached");
  const hold = {
    withdrawalId: c.withdrawalId,
    userId: c.userId,
    assetId: c.assetId,
    amountUnits: c.amountUnits,
    feeUnits: c.feeUnits,
  };
  s.withdrawals.set(c.withdrawalId, hold);
  transfer(
    s,
    c.assetId,
    { kind: "available", userId: c.userId },
    { kind: "held", userId: c.userId },
    c.amountUnits,
  );
  s.pending.push({ type: "withdrawalHeld", sequence: c.sequence, timestampMs: c.timestampMs, ...hold });
}

export function finishWithdrawal(
  s: ReferenceState,
  c: SettleWithdrawalCommand | ReleaseWithdrawalCommand,
  how: "settle" | "release",
): void {
  const hold = s.withdrawals.get(c.withdrawalId);
  if (hold === undefined) throw new Rejection("withdrawalNotFound");
  const held: Account = { kind: "held", userId: hold.userId };
  const hot: Account = { kind: "system", account: "walletHot" };
  const fees: Account = { kind: "system", account: "fees" };
  if (how === "settle") {
    const sent = hold.amountUnits - hold.feeUnits;
    if (!fits(s, hot, hold.assetId, sent) || !fits(s, fees, hold.assetId, hold.feeUnits))
      throw new Rejection("limitReached");
    transfer(s, hold.assetId, held, hot, sent);
    transfer(s, hold.assetId, held, fees, hold.feeUnits);
  } else {
    transfer(s, hold.assetId, held, { kind: "available", userId: hold.userId }, hold.amountUnits);
  }
  s.withdrawals.delete(c.withdrawalId);
  s.pending.push({
    type: how === "settle" ? "withdrawalSettled" : "withdrawalReleased",
    sequence: c.sequence,
    timestampMs: c.timestampMs,
    ...hold,
  });
}

export function recordWalletMovement(s: ReferenceState, c: RecordWalletMovementCommand): void {
  const accounts: readonly string[] = WALLET_ACCOUNTS;
  if (!accounts.includes(c.from) || !accounts.includes(c.to)) throw new Rejection("invalidCommand");
  if (c.from === "networkFees" || c.from === c.to) throw new Rejection("invalidCommand");
  if (!isAmount(c.amountUnits)) throw new Rejection("invalidCommand");
  if (typeof c.txId !== "string" || !TX_ID_OR_EMPTY.test(c.txId)) throw new Rejection("invalidCommand");
  if (findAsset(s, c.assetId) === undefined) throw new Rejection("unknownAsset");
  const from: Account = { kind: "system", account: c.from };
  const to: Account = { kind: "system", account: c.to };
  // A wallet's balance is minus its coins: coins leaving `from` raise it, arriving at `to` lower it.
  if (!fits(s, from, c.assetId, c.amountUnits) || !fits(s, to, c.assetId, -c.amountUnits))
    throw new Rejection("limitReached");
  transfer(s, c.assetId, to, from, c.amountUnits);
  s.pending.push({
    type: "walletMovement",
    sequence: c.sequence,
    timestampMs: c.timestampMs,
    assetId: c.assetId,
    from: c.from,
    to: c.to,
    amountUnits: c.amountUnits,
    txId: c.txId,
  });
}

// The wallet commands (docs/CORE.md, "Wallet commands"): money entering and leaving the exchange
// through custody. Each checks its command in the documented order, then makes balanced transfers
// through the ledger; a rejection changes nothing. Core (core.ts) dispatches to these.

import type {
  CreditDepositCommand,
  HoldWithdrawalCommand,
  RecordWalletMovementCommand,
  ReleaseWithdrawalCommand,
  SettleWithdrawalCommand,
  WalletAccount,
} from "../commands.ts";
import { WALLET_ACCOUNTS } from "../commands.ts";
import { MAX_SAFE_UNITS } from "../config.ts";
import type { CommandOutput } from "../engine/command-output.ts";
import type { CoreState } from "../engine/core-state.ts";
import { SYSTEM_ACCOUNT_INDEX } from "../ledger/ledger.ts";
import { isUserId } from "../validation.ts";
import { depositKey, isDepositSource, MOVEMENT_TX_ID } from "./deposit-keys.ts";

const DEPOSIT_ADDRESSES = SYSTEM_ACCOUNT_INDEX.walletDepositAddresses;
const HOT = SYSTEM_ACCOUNT_INDEX.walletHot;
const FEES = SYSTEM_ACCOUNT_INDEX.fees;

function isPositiveUnits(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

function isWalletAccount(value: unknown): value is WalletAccount {
  return (WALLET_ACCOUNTS as readonly unknown[]).includes(value);
}

export class WalletCommands {
  constructor(
    private readonly state: CoreState,
    private readonly out: CommandOutput,
  ) {}

  creditDeposit(c: CreditDepositCommand): void {
    const state = this.state;
    const ledger = state.ledger;
    const userId = isUserId(c.userId) ? c.userId : 0;
    if (userId === 0 || !isPositiveUnits(c.amountUnits) || !isDepositSource(c.chain, c.txId, c.outputIndex))
      return this.out.rejected("invalidCommand", userId, 0);
    if (!state.assetExists(c.assetId)) return this.out.rejected("unknownAsset", userId, 0);
    const key = depositKey(c.chain, c.txId, c.outputIndex);
    if (state.depositKeys.has(key)) return this.out.rejected("duplicateDeposit", userId, 0);
    let user = ledger.user(userId);
    if (user !== undefined) ledger.ensureAssetSlots(user);
    if (
      state.depositKeys.size >= state.limits.maxDepositKeys ||
      !ledger.systemCanMove(DEPOSIT_ADDRESSES, c.assetId, -c.amountUnits) ||
      (user !== undefined && ledger.available(user, c.assetId) + c.amountUnits > MAX_SAFE_UNITS)
    )
      return this.out.rejected("limitReached", userId, 0);
    if (user === undefined && ledger.users.size >= state.limits.maxUsers)
      return this.out.rejected("tooManyUsers", userId, 0);
    user ??= ledger.createUser(userId);
    ledger.ensureAssetSlots(user);
    state.depositKeys.add(key);
    ledger.creditAvailable(user, c.assetId, c.amountUnits, DEPOSIT_ADDRESSES);
    const out = this.out;
    out.events.push({
      type: "depositCredited",
      sequence: out.sequence,
      timestampMs: out.timestampMs,
      userId,
      assetId: c.assetId,
      amountUnits: c.amountUnits,
      chain: c.chain,
      txId: c.txId,
      outputIndex: c.outputIndex,
    });
  }

  holdWithdrawal(c: HoldWithdrawalCommand): void {
    const state = this.state;
    const ledger = state.ledger;
    const userId = isUserId(c.userId) ? c.userId : 0;
    const { withdrawalId, amountUnits, feeUnits } = c;
    if (
      userId === 0 ||
      !isPositiveUnits(withdrawalId) ||
      !isPositiveUnits(amountUnits) ||
      !Number.isSafeInteger(feeUnits) ||
      feeUnits < 0 ||
      feeUnits >= amountUnits
    )
      return this.out.rejected("invalidCommand", userId, 0);
    if (!state.assetExists(c.assetId)) return this.out.rejected("unknownAsset", userId, 0);
    if (state.withdrawals.get(withdrawalId) !== undefined)
      return this.out.rejected("withdrawalExists", userId, 0);
    const user = ledger.user(userId);
    if (user === undefined) return this.out.rejected("insufficientFunds", userId, 0);
    ledger.ensureAssetSlots(user);
    if (ledger.available(user, c.assetId) < amountUnits)
      return this.out.rejected("insufficientFunds", userId, 0);
    if (
      state.withdrawals.size >= state.limits.maxPendingWithdrawals ||
      ledger.held(user, c.assetId) + amountUnits > MAX_SAFE_UNITS
    )
      return this.out.rejected("limitReached", userId, 0);
    state.withdrawals.add({ withdrawalId, userId, assetId: c.assetId, amountUnits, feeUnits });
    ledger.hold(user, c.assetId, amountUnits);
    const out = this.out;
    out.events.push({
      type: "withdrawalHeld",
      sequence: out.sequence,
      timestampMs: out.timestampMs,
      withdrawalId,
      userId,
      assetId: c.assetId,
      amountUnits,
      feeUnits,
    });
  }

  settleWithdrawal(c: SettleWithdrawalCommand): void {
    this.finishWithdrawal(c.withdrawalId, true);
  }

  releaseWithdrawal(c: ReleaseWithdrawalCommand): void {
    this.finishWithdrawal(c.withdrawalId, false);
  }

  private finishWithdrawal(withdrawalId: number, settle: boolean): void {
    const state = this.state;
    const ledger = state.ledger;
    const hold = state.withdrawals.get(withdrawalId);
    if (hold === undefined) return this.out.rejected("withdrawalNotFound", 0, 0);
    const { userId, assetId, amountUnits, feeUnits } = hold;
    // Rejections name no user: the command names only the withdrawal.
    if (
      settle &&
      (!ledger.systemCanMove(HOT, assetId, amountUnits - feeUnits) ||
        !ledger.systemCanMove(FEES, assetId, feeUnits))
    )
      return this.out.rejected("limitReached", 0, 0);
    const user = ledger.user(userId)!;
    ledger.ensureAssetSlots(user);
    state.withdrawals.delete(withdrawalId);
    if (settle) ledger.payOutHeld(user, assetId, amountUnits, feeUnits, HOT);
    else ledger.release(user, assetId, amountUnits);
    const out = this.out;
    out.events.push({
      type: settle ? "withdrawalSettled" : "withdrawalReleased",
      sequence: out.sequence,
      timestampMs: out.timestampMs,
      withdrawalId,
      userId,
      assetId,
      amountUnits,
      feeUnits,
    });
  }

  /**
   * Coins leaving `from` raise its balance toward 0 (a wallet's balance is minus the coins it holds
   * on the books); arriving at `to` lowers its balance. For `to` = networkFees the fee is an expense.
   */
  recordWalletMovement(c: RecordWalletMovementCommand): void {
    const state = this.state;
    const ledger = state.ledger;
    const { from, to, amountUnits, txId } = c;
    if (
      !isWalletAccount(from) ||
      from === "networkFees" ||
      !isWalletAccount(to) ||
      from === to ||
      !isPositiveUnits(amountUnits) ||
      typeof txId !== "string" ||
      !MOVEMENT_TX_ID.test(txId)
    )
      return this.out.rejected("invalidCommand", 0, 0);
    if (!state.assetExists(c.assetId)) return this.out.rejected("unknownAsset", 0, 0);
    const fromAccount = SYSTEM_ACCOUNT_INDEX[from];
    const toAccount = SYSTEM_ACCOUNT_INDEX[to];
    if (
      !ledger.systemCanMove(fromAccount, c.assetId, amountUnits) ||
      !ledger.systemCanMove(toAccount, c.assetId, -amountUnits)
    )
      return this.out.rejected("limitReached", 0, 0);
    ledger.moveSystem(toAccount, fromAccount, c.assetId, amountUnits);
    const out = this.out;
    out.events.push({
      type: "walletMovement",
      sequence: out.sequence,
      timestampMs: out.timestampMs,
      assetId: c.assetId,
      from,
      to,
      amountUnits,
      txId,
    });
  }
}

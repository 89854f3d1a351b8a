// The reference core: a naive, slow, obviously correct implementation of docs/CORE.md.
//
// Nothing here is clever. Books are plain arrays scanned in full for every match step; balances
// are Maps; every ledger change goes through `transfer`, a move between two accounts of one
// asset. Each block cites the sentence of CORE.md it implements, so a reviewer can check it
// line by line. The property tests feed this core and the fast core the same commands and
// compare every event and the exported state.
//
// This file runs commands: the sequence check, the whole-state copy that makes a rejection change
// nothing, the dispatch, and the balance events. The commands themselves, as plain functions over
// one state object (reference-state.ts):
// - placeOrder: its checks (place-order-checks.ts) only read and return a reject reason or the
//   plan of the accepted order; executePlaceOrder (reference-matching.ts) carries the plan out.
// - cancels: reference-cancels.ts; operator commands: reference-operator.ts; deposits,
//   withdrawals and wallet movements: reference-wallet.ts.
// - every balance change: reference-ledger.ts.
//
// Readings of the spec where it leaves room (see the files' comments for the others):
// - A rejected command changes nothing but `lastSequence`, which every command advances.
// - A (user, asset) balance counts as "changed" when a non-zero amount was moved into or out of
//   its available or held part during the command, even if it ends where it started.

import { type Command, type NonceStamp, nonceStampOf, type PlaceOrderCommand } from "../commands.ts";
import type { AssetConfig, CoreLimits } from "../config.ts";
import { DEFAULT_CORE_LIMITS } from "../config.ts";
import type { CoreEvent, RejectReason } from "../events.ts";
import type {
  CoreMachine,
  CoreStateView,
  IncidentCoverView,
  SystemAccount,
  WithdrawalHoldView,
} from "../state-view.ts";
import { isValidUserId, type Market, type UserBalance } from "./model.ts";
import { checkPlaceOrder, type ReferenceReads } from "./place-order-checks.ts";
import { cancelAll, cancelByClientId, cancelOrder } from "./reference-cancels.ts";
import { balanceOf } from "./reference-ledger.ts";
import { coverIncidentLoss, fundInsurance } from "./reference-loss-cover.ts";
import { executePlaceOrder } from "./reference-matching.ts";
import { addAsset, addMarket, adjustBalance, setMarketStatus } from "./reference-operator.ts";
import {
  allOpenOrders,
  createReferenceState,
  findMarket,
  type ReferenceState,
  Rejection,
} from "./reference-state.ts";
import { checkReferenceInvariants, exportReferenceState } from "./reference-view.ts";
import { creditDeposit, finishWithdrawal, holdWithdrawal, recordWalletMovement } from "./reference-wallet.ts";

export class ReferenceCore implements CoreMachine {
  private readonly s: ReferenceState;

  /** What the placeOrder checks may read (place-order-checks.ts). */
  private readonly reads: ReferenceReads;

  constructor(limits?: Partial<CoreLimits>) {
    const s = createReferenceState({ ...DEFAULT_CORE_LIMITS, ...limits });
    this.s = s;
    this.reads = {
      limits: s.limits,
      findMarket: (marketId) => findMarket(s, marketId),
      allOpenOrders: () => allOpenOrders(s),
      balanceOf: (userId, assetId) => balanceOf(s, userId, assetId),
    };
  }

  applyBatch(commands: readonly Command[], events: CoreEvent[]): void {
    if (commands.length > this.s.limits.maxCommandsPerBatch) {
      throw new RangeError(`batch of ${commands.length} commands exceeds maxCommandsPerBatch`);
    }
    for (const command of commands) this.applyOne(command, events);
  }

  private applyOne(command: Command, events: CoreEvent[]): void {
    const s = this.s;
    if (!Number.isSafeInteger(command.sequence) || command.sequence <= s.lastSequence) {
      throw new RangeError(`sequence ${command.sequence} is not above ${s.lastSequence}`);
    }
    // "A command carrying a nonce stamp is rejected with staleNonce unless the nonce is above the
    // key's last (limitReached for a new key past maxApiKeyNonces, invalidCommand for a malformed
    // stamp); otherwise the nonce advances, and stays advanced whatever the command does next."
    const stamp = nonceStampOf(command);
    if (stamp !== undefined) {
      const problem = nonceProblem(s, stamp);
      if (problem !== null) {
        s.lastSequence = command.sequence;
        events.push({
          type: "rejected",
          sequence: command.sequence,
          reason: problem,
          userId: rejectedUserId(command),
          clientOrderId: rejectedClientOrderId(command),
        });
        return;
      }
      s.apiNonces.set((stamp as NonceStamp).keyId, (stamp as NonceStamp).nonce);
    }
    // Work on a copy so that a rejection found half-way leaves nothing behind. The checks below
    // all run before the first change, but the copy makes "changes nothing" true by construction.
    const saved = this.saveState();
    s.pending = [];
    s.changed = [];
    try {
      this.execute(command);
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      this.restoreState(saved);
      s.lastSequence = command.sequence;
      events.push({
        type: "rejected",
        sequence: command.sequence,
        reason: error.reason,
        userId: rejectedUserId(command),
        clientOrderId: rejectedClientOrderId(command),
      });
      return;
    }
    s.lastSequence = command.sequence;
    events.push(...s.pending);
    // "one per (user, asset) whose available or held balance the command changed, in the order
    // they were first changed, with the values after the command."
    for (const { userId, assetId } of s.changed) {
      const balance = balanceOf(s, userId, assetId);
      events.push({
        type: "balance",
        sequence: command.sequence,
        userId,
        assetId,
        availableUnits: balance.available,
        heldUnits: balance.held,
      });
    }
  }

  private execute(command: Command): void {
    const s = this.s;
    switch (command.kind) {
      case "placeOrder":
        this.placeOrder(command);
        break;
      case "cancelOrder":
        cancelOrder(s, command);
        break;
      case "cancelAll":
        cancelAll(s, command);
        break;
      case "cancelByClientId":
        cancelByClientId(s, command);
        break;
      case "adjustBalance":
        adjustBalance(s, command);
        break;
      case "addAsset":
        addAsset(s, command);
        break;
      case "addMarket":
        addMarket(s, command);
        break;
      case "setMarketStatus":
        setMarketStatus(s, command);
        break;
      case "creditDeposit":
        creditDeposit(s, command);
        break;
      case "holdWithdrawal":
        holdWithdrawal(s, command);
        break;
      case "settleWithdrawal":
        finishWithdrawal(s, command, "settle");
        break;
      case "releaseWithdrawal":
        finishWithdrawal(s, command, "release");
        break;
      case "recordWalletMovement":
        recordWalletMovement(s, command);
        break;
      case "coverIncidentLoss":
        coverIncidentLoss(s, command);
        break;
      case "fundInsurance":
        fundInsurance(s, command);
        break;
      case "touchNonce":
        // Its nonce was checked and advanced above; nothing else.
        break;
      default:
        throw new Rejection("invalidCommand");
    }
  }

  private placeOrder(c: PlaceOrderCommand): void {
    const plan = checkPlaceOrder(c, this.reads);
    if (typeof plan === "string") throw new Rejection(plan);
    executePlaceOrder(this.s, c, plan);
  }

  // ---------------------------------------------------------------------------------------------
  // Whole-state copy (for rejections), view, invariants (reference-view.ts)

  exportState(): CoreStateView {
    return exportReferenceState(this.s);
  }

  checkInvariants(): void {
    checkReferenceInvariants(this.s);
  }

  private saveState(): string {
    const s = this.s;
    return JSON.stringify({
      lastSequence: s.lastSequence,
      nextTradeId: s.nextTradeId,
      assets: s.assets,
      markets: s.markets,
      users: [...s.users].map(([userId, byAsset]) => [userId, [...byAsset]]),
      system: [...s.system].map(([account, byAsset]) => [account, [...byAsset]]),
      withdrawals: [...s.withdrawals],
      depositKeys: [...s.depositKeys],
      incidentCovers: s.incidentCovers,
    });
  }

  private restoreState(saved: string): void {
    const s = this.s;
    const copy = JSON.parse(saved) as {
      lastSequence: number;
      nextTradeId: number;
      assets: AssetConfig[];
      markets: Market[];
      users: [number, [number, UserBalance][]][];
      system: [SystemAccount, [number, number][]][];
      withdrawals: [number, WithdrawalHoldView][];
      depositKeys: string[];
      incidentCovers: IncidentCoverView[];
    };
    s.lastSequence = copy.lastSequence;
    s.nextTradeId = copy.nextTradeId;
    s.assets.splice(0, s.assets.length, ...copy.assets);
    s.markets.splice(0, s.markets.length, ...copy.markets);
    s.users.clear();
    for (const [userId, byAsset] of copy.users) s.users.set(userId, new Map(byAsset));
    s.system.clear();
    for (const [account, byAsset] of copy.system) s.system.set(account, new Map(byAsset));
    s.withdrawals.clear();
    for (const [withdrawalId, hold] of copy.withdrawals) s.withdrawals.set(withdrawalId, hold);
    s.depositKeys.clear();
    for (const key of copy.depositKeys) s.depositKeys.add(key);
    s.incidentCovers.splice(0, s.incidentCovers.length, ...copy.incidentCovers);
  }
}

/** A rejected event echoes the command's user and client order id; a value that is not a safe integer becomes 0. */
function safeOrZero(value: number): number {
  return Number.isSafeInteger(value) ? value : 0;
}

function rejectedUserId(command: Command): number {
  switch (command.kind) {
    case "placeOrder":
    case "cancelOrder":
    case "cancelAll":
    case "cancelByClientId":
    case "touchNonce":
      return safeOrZero(command.userId);
    case "adjustBalance":
    case "creditDeposit":
    case "holdWithdrawal":
      // An operator or custody command: it names a user only when the id is a valid one.
      return isValidUserId(command.userId) ? command.userId : 0;
    default:
      return 0;
  }
}

function rejectedClientOrderId(command: Command): number {
  return command.kind === "placeOrder" || command.kind === "cancelByClientId"
    ? safeOrZero(command.clientOrderId)
    : 0;
}

/** The stamp's problem, read straight from the spec (the fast core's is engine/api-nonces.ts). */
function nonceProblem(s: ReferenceState, stamp: NonceStamp | null): RejectReason | null {
  if (stamp === null || typeof stamp !== "object") return "invalidCommand";
  const { keyId, nonce } = stamp;
  if (typeof keyId !== "string" || !/^[\x21-\x7e]{1,64}$/.test(keyId)) return "invalidCommand";
  if (typeof nonce !== "number" || !Number.isSafeInteger(nonce) || nonce < 1) return "invalidCommand";
  const last = s.apiNonces.get(keyId);
  if (last === undefined) return s.apiNonces.size >= s.limits.maxApiKeyNonces ? "limitReached" : null;
  return nonce > last ? null : "staleNonce";
}

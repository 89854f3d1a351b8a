// The core: one deterministic state machine holding every order book and the ledger. Commands in,
// events out; no I/O, no clock, no randomness. docs/CORE.md is its specification, and
// src/core/reference/ a naive implementation of the same specification that tests compare it with.
//
// This file applies commands: it checks each one, rejects it or accepts it, and hands accepted
// orders and cancels to the Matcher (matching.ts), which changes the books. The state itself is a
// CoreState (engine/core-state.ts); snapshot/ writes and restores it, invariants.ts checks it and
// state-export.ts turns it into a plain view.

import { admissionProblem } from "./admission.ts";
import { assert } from "./assert.ts";
import type {
  AddAssetCommand,
  AddMarketCommand,
  AdjustBalanceCommand,
  CancelAllCommand,
  CancelByClientIdCommand,
  CancelOrderCommand,
  Command,
  PlaceOrderCommand,
  SetMarketStatusCommand,
} from "./commands.ts";
import { MAX_REASON_LENGTH, type NonceStamp, nonceStampOf } from "./commands.ts";
import {
  type AssetConfig,
  assetConfigProblem,
  type CoreLimits,
  DEFAULT_CORE_LIMITS,
  type MarketConfig,
  marketConfigProblem,
} from "./config.ts";
import { CommandOutput } from "./engine/command-output.ts";
import { BALANCE_AVAILABLE, BALANCE_HELD, CoreState } from "./engine/core-state.ts";
import { MarketState } from "./engine/market-state.ts";
import { NO_SLOT } from "./engine/order-pool.ts";
import type { CoreEvent, RejectReason } from "./events.ts";
import { checkInvariants } from "./invariants.ts";
import { type Ledger, SYSTEM_ACCOUNT_INDEX } from "./ledger/ledger.ts";
import { Matcher } from "./matching.ts";
import { encodeSnapshot, stateHash } from "./snapshot/encode.ts";
import { restoreSnapshot } from "./snapshot/restore.ts";
import { exportState } from "./state-export.ts";
import {
  type CoreMachine,
  type CoreStateView,
  type IncidentCoverView,
  SYSTEM_ACCOUNTS,
  type SystemAccount,
} from "./state-view.ts";
import { isUserId, placeOrderProblem } from "./validation.ts";
import { LossCoverCommands } from "./wallet/loss-cover-commands.ts";
import { WalletCommands } from "./wallet/wallet-commands.ts";

export class Core implements CoreMachine {
  readonly limits: CoreLimits;
  private readonly state: CoreState;
  private readonly ledger: Ledger;
  /** The command being applied: its stamp and where its events go. */
  private readonly out = new CommandOutput();
  private readonly matcher: Matcher;
  /** Deposits, withdrawals and wallet movements (wallet/). */
  private readonly wallet: WalletCommands;
  /** Insurance funding and incident loss covers (wallet/loss-cover-commands.ts). */
  private readonly lossCover: LossCoverCommands;
  private readonly scratchOrderIds: number[] = [];

  constructor(limits: Partial<CoreLimits> = {}) {
    this.limits = { ...DEFAULT_CORE_LIMITS, ...limits };
    this.state = new CoreState(this.limits);
    this.ledger = this.state.ledger;
    this.matcher = new Matcher(this.state, this.out);
    this.wallet = new WalletCommands(this.state, this.out);
    this.lossCover = new LossCoverCommands(this.state, this.out);
  }

  get lastSequence(): number {
    return this.state.lastSequence;
  }

  /** API keys with a last nonce (engine/api-nonces.ts). */
  get apiKeyNonceCount(): number {
    return this.state.apiNonces.size;
  }

  /** Resting orders in all books. */
  get restingOrderCount(): number {
    return this.state.pool.size;
  }

  /** Applies commands in order and appends their events. */
  applyBatch(commands: readonly Command[], events: CoreEvent[]): void {
    assert(commands.length <= this.limits.maxCommandsPerBatch, "batch larger than maxCommandsPerBatch");
    for (let index = 0; index < commands.length; index++) this.apply(commands[index], events);
  }

  apply(command: Command, events: CoreEvent[]): void {
    assert(Number.isSafeInteger(command.sequence), "command sequence must be a safe integer");
    assert(command.sequence > this.state.lastSequence, "command sequence must increase");
    this.out.begin(command.sequence, command.timestampMs, events);
    this.ledger.beginCommand();
    this.dispatch(command);
    this.state.lastSequence = command.sequence;
    this.emitBalances();
  }

  private dispatch(command: Command): void {
    const stamp = nonceStampOf(command);
    // A signed request's nonce is checked and advanced first (engine/api-nonces.ts); it stays
    // advanced even if the command is then rejected for another reason: the request was the key
    // owner's and was answered, so its replay must be refused.
    if (stamp !== undefined && !this.acceptNonce(stamp, command)) return;
    switch (command.kind) {
      case "placeOrder":
        return this.placeOrder(command);
      case "cancelOrder":
        return this.cancelOrder(command);
      case "cancelAll":
        return this.cancelAll(command);
      case "cancelByClientId":
        return this.cancelByClientId(command);
      case "adjustBalance":
        return this.adjustBalance(command);
      case "addAsset":
        return this.addAsset(command);
      case "addMarket":
        return this.addMarket(command);
      case "setMarketStatus":
        return this.setMarketStatus(command);
      case "creditDeposit":
        return this.wallet.creditDeposit(command);
      case "holdWithdrawal":
        return this.wallet.holdWithdrawal(command);
      case "settleWithdrawal":
        return this.wallet.settleWithdrawal(command);
      case "releaseWithdrawal":
        return this.wallet.releaseWithdrawal(command);
      case "recordWalletMovement":
        return this.wallet.recordWalletMovement(command);
      case "coverIncidentLoss":
        return this.lossCover.coverIncidentLoss(command);
      case "fundInsurance":
        return this.lossCover.fundInsurance(command);
      case "touchNonce":
        return;
      default:
        return this.reject("invalidCommand", 0, 0);
    }
  }

  /** Advances the stamp's key and returns true, or rejects the command (changing nothing) and returns false. */
  private acceptNonce(stamp: NonceStamp | null, command: Command): boolean {
    const problem = this.state.apiNonces.problem(stamp);
    if (problem !== null) {
      // Every command that carries a stamp names its user.
      const userId = "userId" in command ? command.userId : 0;
      const clientOrderId =
        command.kind === "placeOrder" || command.kind === "cancelByClientId" ? command.clientOrderId : 0;
      this.reject(
        problem,
        Number.isSafeInteger(userId) ? userId : 0,
        Number.isSafeInteger(clientOrderId) ? clientOrderId : 0,
      );
      return false;
    }
    this.state.apiNonces.advance(stamp as NonceStamp);
    return true;
  }

  private reject(reason: RejectReason, userId: number, clientOrderId: number): void {
    this.out.rejected(reason, userId, clientOrderId);
  }

  private emitBalances(): void {
    const ledger = this.ledger;
    const users = ledger.touchedUsers;
    const assets = ledger.touchedAssets;
    const out = this.out;
    for (let index = 0; index < ledger.touchedCount; index++) {
      const user = users[index];
      const assetId = assets[index];
      out.events.push({
        type: "balance",
        sequence: out.sequence,
        userId: user.userId,
        assetId,
        availableUnits: ledger.available(user, assetId),
        heldUnits: ledger.held(user, assetId),
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // placeOrder

  private placeOrder(command: PlaceOrderCommand): void {
    const market = this.state.market(command.marketId);
    if (market === undefined) return this.rejectOrder("unknownMarket", command);
    if (market.status !== "active") return this.rejectOrder("marketSuspended", command);
    const problem = placeOrderProblem(command, market.config);
    if (problem !== null) return this.rejectOrder(problem, command);
    const reason = admissionProblem(this.state, command, market);
    if (reason !== null) return this.rejectOrder(reason, command);
    this.matcher.accept(command, market);
  }

  /**
   * A rejected placeOrder echoes its user and client order id, 0 for one that is not a safe
   * integer. Kept out of placeOrder, which stays small enough for V8 to inline its checks.
   */
  private rejectOrder(reason: RejectReason, command: PlaceOrderCommand): void {
    const userId = Number.isSafeInteger(command.userId) ? command.userId : 0;
    const clientOrderId = Number.isSafeInteger(command.clientOrderId) ? command.clientOrderId : 0;
    this.reject(reason, userId, clientOrderId);
  }

  // ---------------------------------------------------------------------------------------------
  // Cancels

  private cancelOrder(command: CancelOrderCommand): void {
    const userId = Number.isSafeInteger(command.userId) ? command.userId : 0;
    const state = this.state;
    const slot =
      Number.isSafeInteger(command.orderId) && command.orderId > 0
        ? state.orderIndex.get(command.orderId)
        : NO_SLOT;
    if (slot !== NO_SLOT && state.pool.userId[slot] === userId) {
      return this.matcher.cancelRestingBySlot(slot, "cancelled");
    }
    const stop = state.stopsById.get(command.orderId);
    if (stop !== undefined && stop.userId === userId) return this.matcher.cancelStop(stop);
    this.reject("orderNotFound", userId, 0);
  }

  private cancelAll(command: CancelAllCommand): void {
    const userId = isUserId(command.userId) ? command.userId : 0;
    if (command.marketId !== 0 && this.state.market(command.marketId) === undefined)
      return this.reject("unknownMarket", userId, 0);
    this.cancelMatching(userId, command.marketId, 0);
  }

  private cancelByClientId(command: CancelByClientIdCommand): void {
    const userId = isUserId(command.userId) ? command.userId : 0;
    const clientOrderId = command.clientOrderId;
    if (!Number.isSafeInteger(clientOrderId) || clientOrderId <= 0)
      return this.reject("invalidCommand", userId, 0);
    if (command.marketId !== 0 && this.state.market(command.marketId) === undefined)
      return this.reject("unknownMarket", userId, clientOrderId);
    if (this.cancelMatching(userId, command.marketId, clientOrderId) === 0)
      this.reject("orderNotFound", userId, clientOrderId);
  }

  /** Cancels the user's open orders in a market (0: all) with a client id (0: any), by ascending id. */
  private cancelMatching(userId: number, marketId: number, clientOrderId: number): number {
    const user = this.ledger.user(userId);
    if (user === undefined) return 0;
    const state = this.state;
    const pool = state.pool;
    const orderIds = this.scratchOrderIds;
    orderIds.length = 0;
    for (let slot = user.restingOrderHead; slot !== NO_SLOT; slot = pool.nextOfUser[slot]) {
      if (marketId !== 0 && pool.marketId[slot] !== marketId) continue;
      if (clientOrderId !== 0 && pool.clientOrderId[slot] !== clientOrderId) continue;
      orderIds.push(pool.orderId[slot]);
    }
    for (const stop of state.stopsById.values()) {
      if (stop.userId !== userId || (marketId !== 0 && stop.marketId !== marketId)) continue;
      if (clientOrderId !== 0 && stop.clientOrderId !== clientOrderId) continue;
      orderIds.push(stop.orderId);
    }
    orderIds.sort((a, b) => a - b);
    for (const orderId of orderIds) {
      const slot = state.orderIndex.get(orderId);
      if (slot !== NO_SLOT) this.matcher.cancelRestingBySlot(slot, "cancelled");
      else this.matcher.cancelStop(state.stopsById.get(orderId)!);
    }
    return orderIds.length;
  }

  // ---------------------------------------------------------------------------------------------
  // Operator commands

  private adjustBalance(command: AdjustBalanceCommand): void {
    const { userId, assetId, amountUnits, reason } = command;
    const reasonOk = typeof reason === "string" && reason.length >= 1 && reason.length <= MAX_REASON_LENGTH;
    if (!isUserId(userId) || !Number.isSafeInteger(amountUnits) || amountUnits === 0 || !reasonOk)
      return this.reject("invalidCommand", isUserId(userId) ? userId : 0, 0);
    if (!Number.isInteger(assetId) || assetId < 1 || assetId > this.state.assets.length)
      return this.reject("unknownAsset", userId, 0);
    let user = this.ledger.user(userId);
    if (amountUnits < 0) {
      if (user === undefined) return this.reject("insufficientFunds", userId, 0);
      this.ledger.ensureAssetSlots(user);
      if (this.ledger.available(user, assetId) < -amountUnits)
        return this.reject("insufficientFunds", userId, 0);
    } else {
      if (!this.ledger.canCredit(assetId, amountUnits)) return this.reject("limitReached", userId, 0);
      if (user === undefined && this.ledger.users.size >= this.limits.maxUsers)
        return this.reject("tooManyUsers", userId, 0);
    }
    user ??= this.ledger.createUser(userId);
    this.ledger.ensureAssetSlots(user);
    this.ledger.adjust(user, assetId, amountUnits);
    this.out.events.push({
      type: "balanceAdjusted",
      sequence: this.out.sequence,
      timestampMs: this.out.timestampMs,
      userId,
      assetId,
      amountUnits,
      reason,
    });
  }

  private addAsset(command: AddAssetCommand): void {
    const asset = command.asset;
    const assets = this.state.assets;
    const problem = typeof asset === "object" && asset !== null ? assetConfigProblem(asset) : "missing";
    if (problem !== null || asset.assetId !== assets.length + 1) return this.reject("invalidCommand", 0, 0);
    if (assets.length >= this.limits.maxAssets) return this.reject("limitReached", 0, 0);
    if (assets.some((existing) => existing.code === asset.code)) return this.reject("alreadyExists", 0, 0);
    this.state.installAsset({ ...asset });
    this.out.events.push({ type: "assetAdded", sequence: this.out.sequence, asset: { ...asset } });
  }

  private addMarket(command: AddMarketCommand): void {
    const market = command.market;
    const state = this.state;
    const problem = typeof market === "object" && market !== null ? marketConfigProblem(market) : "missing";
    const assetsExist =
      problem === null && state.assetExists(market.baseAssetId) && state.assetExists(market.quoteAssetId);
    if (!assetsExist || market.marketId !== state.markets.length + 1)
      return this.reject("invalidCommand", 0, 0);
    if (state.markets.length >= this.limits.maxMarkets) return this.reject("limitReached", 0, 0);
    if (state.markets.some((existing) => existing.config.symbol === market.symbol))
      return this.reject("alreadyExists", 0, 0);
    state.markets.push(new MarketState({ ...market }, state.pool));
    this.out.events.push({ type: "marketAdded", sequence: this.out.sequence, market: { ...market } });
  }

  private setMarketStatus(command: SetMarketStatusCommand): void {
    const market = this.state.market(command.marketId);
    if (market === undefined) return this.reject("unknownMarket", 0, 0);
    if (command.status !== "active" && command.status !== "suspended")
      return this.reject("invalidCommand", 0, 0);
    market.status = command.status;
    this.out.events.push({
      type: "marketStatusChanged",
      sequence: this.out.sequence,
      marketId: market.config.marketId,
      status: command.status,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Reading state

  assetList(): readonly AssetConfig[] {
    return this.state.assets;
  }

  marketList(): readonly MarketConfig[] {
    return this.state.markets.map((market) => market.config);
  }

  /** A user's balance of an asset (zeros for unknown users). */
  balance(userId: number, assetId: number): { availableUnits: number; heldUnits: number } {
    const user = this.ledger.user(userId);
    if (user === undefined || !this.state.assetExists(assetId)) return { availableUnits: 0, heldUnits: 0 };
    return {
      availableUnits: this.state.balanceField(user, assetId, BALANCE_AVAILABLE),
      heldUnits: this.state.balanceField(user, assetId, BALANCE_HELD),
    };
  }

  /**
   * An asset's custody books: each system account's balance (a wallet account's balance is minus
   * the coins it holds) and the customer liabilities (every user's available + held).
   * O(users); for custody status and hot-cap decisions, not per request.
   */
  walletBooks(assetId: number): {
    systemUnits: Record<SystemAccount, number>;
    customerLiabilitiesUnits: number;
  } {
    const systemUnits = {} as Record<SystemAccount, number>;
    for (const account of SYSTEM_ACCOUNTS)
      systemUnits[account] = this.state.assetExists(assetId)
        ? this.ledger.systemBalance(SYSTEM_ACCOUNT_INDEX[account], assetId)
        : 0;
    let customerLiabilitiesUnits = 0;
    if (this.state.assetExists(assetId))
      for (const user of this.ledger.users.values())
        customerLiabilitiesUnits +=
          this.state.balanceField(user, assetId, BALANCE_AVAILABLE) +
          this.state.balanceField(user, assetId, BALANCE_HELD);
    return { systemUnits, customerLiabilitiesUnits };
  }

  /**
   * Every user's liability of an asset (available + held), ascending user id, users with 0 left
   * out: the leaves of proof of reserves. O(users log users).
   */
  customerLiabilities(assetId: number): { userIds: number[]; balancesUnits: number[] } {
    const userIds: number[] = [];
    const balancesUnits: number[] = [];
    if (!this.state.assetExists(assetId)) return { userIds, balancesUnits };
    const ids = [...this.ledger.users.keys()].sort((a, b) => a - b);
    for (const userId of ids) {
      const user = this.ledger.users.get(userId)!;
      const units =
        this.state.balanceField(user, assetId, BALANCE_AVAILABLE) +
        this.state.balanceField(user, assetId, BALANCE_HELD);
      if (units === 0) continue;
      userIds.push(userId);
      balancesUnits.push(units);
    }
    return { userIds, balancesUnits };
  }

  /** Covered incident losses, by incident then asset. */
  incidentCovers(): IncidentCoverView[] {
    return [...this.state.incidentCovers.values()]
      .map((cover) => ({ ...cover }))
      .sort((a, b) => a.incidentId - b.incidentId || a.assetId - b.assetId);
  }

  exportState(): CoreStateView {
    return exportState(this.state);
  }

  /** Throws if any ledger or book invariant is broken. O(orders + users × assets). */
  checkInvariants(): void {
    checkInvariants(this.state);
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots (format: snapshot/format.ts)

  /** The full state as canonical bytes: the same logical state always gives the same bytes. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.state);
  }

  /** SHA-256 of the canonical snapshot, hex: equal hashes mean equal state. */
  stateHash(): string {
    return stateHash(this.state);
  }

  /**
   * Rebuilds a core from snapshot() bytes. Throws on a truncated or malformed snapshot. Limits are
   * configuration, not state, so the caller must pass the ones the core ran with.
   */
  static restore(bytes: Uint8Array, limits: Partial<CoreLimits>): Core {
    const core = new Core(limits);
    restoreSnapshot(core.state, bytes);
    return core;
  }
}

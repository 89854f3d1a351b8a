// Folds a run of core events into the rows they change, in memory and without I/O, so the
// projector can write a whole batch with a few multi-row statements instead of one statement per
// event. The fold needs the current rows of the orders and balances the events touch and the
// configs of the markets; the projector reads those first (projector.ts).

import type { CommandStamp } from "../core/commands.ts";
import type { MarketConfig } from "../core/config.ts";
import type {
  BalanceAdjustedEvent,
  BalanceEvent,
  CoreEvent,
  DoneReason,
  OrderAcceptedEvent,
  OrderDoneEvent,
  TradeEvent,
  WithdrawalDoneEvent,
} from "../core/events.ts";
import type {
  AdjustmentsTable,
  AssetsTable,
  BalanceCause,
  BalanceHistoryTable,
  BalanceRow,
  DepositsTable,
  FillsTable,
  MarketsTable,
  OrderRow,
  OrderStatus,
  TradesTable,
  WalletMovementsTable,
  WithdrawalRow,
  WithdrawalStatusHistoryTable,
} from "./schema.ts";

/** What the projector is given: the events of whole commands, and the stamps of those commands. */
export interface ProjectorBatch {
  /**
   * Stamps of the commands whose events are in `events` (the runtime's stamped commands can be
   * passed as they are). They give every event its time, since orderDone and balance events carry
   * none, and they move the cursor past commands that produced no event.
   */
  readonly commands: readonly CommandStamp[];
  /** In the core's order. The events of one command must all be in the same batch. */
  readonly events: readonly CoreEvent[];
}

export interface WritePlan {
  /** New or changed orders, final state after the batch. */
  orders: Map<number, OrderRow>;
  trades: TradesTable[];
  fills: FillsTable[];
  /** Final balance per `${userId}:${assetId}`. */
  balances: Map<string, BalanceRow>;
  balanceHistory: BalanceHistoryTable[];
  adjustments: AdjustmentsTable[];
  assets: AssetsTable[];
  /** New or changed markets, final state after the batch. */
  markets: Map<number, MarketsTable>;
  deposits: DepositsTable[];
  /** New or changed withdrawals, final state after the batch. */
  withdrawals: Map<number, WithdrawalRow>;
  withdrawalHistory: WithdrawalStatusHistoryTable[];
  walletMovements: WalletMovementsTable[];
  lastSequence: number;
}

/** Current rows the fold starts from. Markets are kept by the projector between batches. */
export interface FoldInput {
  existingOrders: ReadonlyMap<number, OrderRow>;
  existingBalances: ReadonlyMap<string, BalanceRow>;
  /** Withdrawals held before the batch that the batch settles or releases. */
  existingWithdrawals: ReadonlyMap<number, WithdrawalRow>;
  /** Updated in place with markets added by the batch. */
  marketConfigs: Map<number, MarketConfig>;
  marketStatus: Map<number, "active" | "suspended">;
}

export function balanceKey(userId: number, assetId: number): string {
  return `${userId}:${assetId}`;
}

/** Status of an order once done: STP cancels count as cancelled; an unfunded market remainder expires. */
export function statusOfDone(reason: DoneReason): OrderStatus {
  switch (reason) {
    case "filled":
      return "filled";
    case "cancelled":
    case "selfTrade":
      return "cancelled";
    case "expired":
    case "insufficientFunds":
      return "expired";
  }
}

/** Ids of the orders the events change without placing them (they must be read from the store). */
export function ordersToLoad(events: readonly CoreEvent[]): number[] {
  const placed = new Set<number>();
  const needed = new Set<number>();
  for (const event of events) {
    if (event.type === "orderAccepted") placed.add(event.orderId);
    else if (event.type === "trade") {
      needed.add(event.makerOrderId);
      needed.add(event.takerOrderId);
    } else if (event.type === "orderDone" || event.type === "stopTriggered") needed.add(event.orderId);
  }
  return [...needed].filter((orderId) => !placed.has(orderId));
}

/**
 * Ids of the withdrawals the events settle or release before (or without) holding them in the
 * same events. In event order: the core accepts an id again once its hold is gone.
 */
export function withdrawalsToLoad(events: readonly CoreEvent[]): number[] {
  const held = new Set<number>();
  const needed = new Set<number>();
  for (const event of events) {
    if (event.type === "withdrawalHeld") held.add(event.withdrawalId);
    else if (
      (event.type === "withdrawalSettled" || event.type === "withdrawalReleased") &&
      !held.has(event.withdrawalId)
    )
      needed.add(event.withdrawalId);
  }
  return [...needed];
}

/** Users whose balances the events change. */
export function balanceUsersToLoad(events: readonly CoreEvent[]): number[] {
  const users = new Set<number>();
  for (const event of events) if (event.type === "balance") users.add(event.userId);
  return [...users];
}

/** Checks the batch's shape: non-decreasing sequences, a stamp for every event. Returns stamps by sequence. */
export function stampsBySequence(batch: ProjectorBatch): Map<number, number> {
  const stamps = new Map<number, number>();
  let previous = 0;
  for (const command of batch.commands) {
    if (!Number.isSafeInteger(command.sequence) || command.sequence <= previous)
      throw new Error(`projector: command sequences must increase (${command.sequence} after ${previous})`);
    previous = command.sequence;
    stamps.set(command.sequence, command.timestampMs);
  }
  previous = 0;
  for (const event of batch.events) {
    if (event.sequence < previous)
      throw new Error(`projector: event sequence ${event.sequence} after ${previous}`);
    if (!stamps.has(event.sequence))
      throw new Error(`projector: no command stamp for the events of sequence ${event.sequence}`);
    previous = event.sequence;
  }
  return stamps;
}

class Folder {
  readonly plan: WritePlan;
  private timestampMs = 0;
  private sequence = 0;
  private cause: BalanceCause = "placeOrder";

  constructor(
    private readonly input: FoldInput,
    lastSequence: number,
  ) {
    this.plan = {
      orders: new Map(),
      trades: [],
      fills: [],
      balances: new Map(),
      balanceHistory: [],
      adjustments: [],
      assets: [],
      markets: new Map(),
      deposits: [],
      withdrawals: new Map(),
      withdrawalHistory: [],
      walletMovements: [],
      lastSequence,
    };
  }

  /** Starts a command: its time, and the cause its balance changes are recorded under. */
  beginCommand(sequence: number, timestampMs: number, firstEvent: CoreEvent): void {
    this.sequence = sequence;
    this.timestampMs = timestampMs;
    this.cause = causeOf(firstEvent);
  }

  apply(event: CoreEvent): void {
    switch (event.type) {
      case "orderAccepted":
        return this.accept(event);
      case "trade":
        return this.trade(event);
      case "orderDone":
        return this.done(event);
      case "stopTriggered":
        return this.touch(this.order(event.orderId), { triggered_ms: this.timestampMs });
      case "balance":
        return this.balance(event);
      case "balanceAdjusted":
        return this.adjusted(event);
      case "assetAdded":
        this.plan.assets.push({
          asset_id: event.asset.assetId,
          code: event.asset.code,
          scale: event.asset.scale,
        });
        return;
      case "marketAdded":
        this.input.marketConfigs.set(event.market.marketId, { ...event.market });
        this.input.marketStatus.set(event.market.marketId, "active");
        return this.market(event.market.marketId);
      case "marketStatusChanged":
        this.input.marketStatus.set(event.marketId, event.status);
        return this.market(event.marketId);
      case "rejected":
        return;
      // Custody's events: their balance effects arrive as the `balance` events after them (above);
      // these record the deposits, withdrawals and wallet movements themselves.
      case "depositCredited":
        this.plan.deposits.push({
          sequence: event.sequence,
          chain: event.chain,
          tx_id: event.txId,
          output_index: event.outputIndex,
          user_id: event.userId,
          asset_id: event.assetId,
          amount_units: event.amountUnits,
          credited_ms: event.timestampMs,
        });
        return;
      case "withdrawalHeld":
        this.plan.withdrawals.set(event.withdrawalId, {
          withdrawal_id: event.withdrawalId,
          user_id: event.userId,
          asset_id: event.assetId,
          amount_units: event.amountUnits,
          fee_units: event.feeUnits,
          status: "held",
          held_sequence: event.sequence,
          held_ms: event.timestampMs,
          done_sequence: null,
          done_ms: null,
          destination: null,
          tx_id: null,
          confirmations: null,
          reason: null,
        });
        return this.withdrawalStatus(event.withdrawalId, "held", event.timestampMs);
      case "withdrawalSettled":
      case "withdrawalReleased":
        return this.withdrawalDone(event);
      case "walletMovement":
        this.plan.walletMovements.push({
          sequence: event.sequence,
          asset_id: event.assetId,
          from_account: event.from,
          to_account: event.to,
          amount_units: event.amountUnits,
          tx_id: event.txId,
          ts_ms: event.timestampMs,
        });
        return;
    }
  }

  private order(orderId: number): OrderRow {
    const order = this.plan.orders.get(orderId) ?? this.input.existingOrders.get(orderId);
    // The fold needs every order from its acceptance: a projector must see the stream from the start.
    if (order === undefined) throw new Error(`projector: order ${orderId} is not in the store`);
    return order;
  }

  /** Records a change to an order (copying a stored row before its first change). */
  private touch(order: OrderRow, changes: Partial<OrderRow>): void {
    const changed = this.plan.orders.get(order.order_id) ?? { ...order };
    Object.assign(changed, changes, { updated_ms: this.timestampMs, updated_sequence: this.sequence });
    this.plan.orders.set(order.order_id, changed);
  }

  private accept(event: OrderAcceptedEvent): void {
    this.plan.orders.set(event.orderId, {
      order_id: event.orderId,
      user_id: event.userId,
      market_id: event.marketId,
      side: event.side,
      order_type: event.orderType,
      price_ticks: event.priceTicks,
      quantity_lots: event.quantityLots,
      quote_amount_units: event.quoteAmountUnits,
      trigger_price_ticks: event.triggerPriceTicks,
      client_order_id: event.clientOrderId,
      client_order_text: event.clientOrderText,
      time_in_force: event.timeInForce,
      post_only: event.postOnly ? 1 : 0,
      held_units: event.heldUnits,
      status: "open",
      done_reason: null,
      filled_lots: 0,
      filled_quote_units: 0,
      fee_units: 0,
      remaining_lots: event.quantityLots,
      released_units: 0,
      triggered_ms: null,
      created_ms: event.timestampMs,
      updated_ms: event.timestampMs,
      updated_sequence: event.sequence,
    });
  }

  private trade(event: TradeEvent): void {
    const config = this.input.marketConfigs.get(event.marketId);
    if (config === undefined) throw new Error(`projector: trade ${event.tradeId} in unknown market`);
    this.plan.trades.push({
      trade_id: event.tradeId,
      sequence: event.sequence,
      market_id: event.marketId,
      price_ticks: event.priceTicks,
      quantity_lots: event.quantityLots,
      notional_units: event.notionalUnits,
      taker_side: event.takerSide,
      maker_order_id: event.makerOrderId,
      taker_order_id: event.takerOrderId,
      maker_user_id: event.makerUserId,
      taker_user_id: event.takerUserId,
      buyer_fee_units: event.buyerFeeUnits,
      seller_fee_units: event.sellerFeeUnits,
      ts_ms: event.timestampMs,
    });
    this.fill(event, config, "maker");
    this.fill(event, config, "taker");
  }

  private fill(event: TradeEvent, config: MarketConfig, role: "maker" | "taker"): void {
    const order = this.order(role === "maker" ? event.makerOrderId : event.takerOrderId);
    const isBuy = order.side === "buy";
    const feeUnits = isBuy ? event.buyerFeeUnits : event.sellerFeeUnits;
    const filledLots = order.filled_lots + event.quantityLots;
    this.touch(order, {
      filled_lots: filledLots,
      filled_quote_units: order.filled_quote_units + event.notionalUnits,
      fee_units: order.fee_units + feeUnits,
      // marketTotal orders have no lot quantity to count down from.
      remaining_lots: order.quantity_lots === 0 ? 0 : order.quantity_lots - filledLots,
    });
    this.plan.fills.push({
      trade_id: event.tradeId,
      side: order.side,
      role,
      order_id: order.order_id,
      user_id: order.user_id,
      market_id: event.marketId,
      client_order_id: order.client_order_id,
      price_ticks: event.priceTicks,
      quantity_lots: event.quantityLots,
      notional_units: event.notionalUnits,
      fee_units: feeUnits,
      fee_asset_id: isBuy ? config.baseAssetId : config.quoteAssetId,
      fee_rate_ppm: role === "maker" ? config.makerFeePpm : config.takerFeePpm,
      ts_ms: event.timestampMs,
    });
  }

  private done(event: OrderDoneEvent): void {
    this.touch(this.order(event.orderId), {
      status: statusOfDone(event.reason),
      done_reason: event.reason,
      remaining_lots: event.remainingLots,
      released_units: event.releasedUnits,
    });
  }

  private balance(event: BalanceEvent): void {
    const key = balanceKey(event.userId, event.assetId);
    const previous = this.plan.balances.get(key) ?? this.input.existingBalances.get(key);
    this.plan.balances.set(key, {
      user_id: event.userId,
      asset_id: event.assetId,
      available_units: event.availableUnits,
      held_units: event.heldUnits,
      updated_sequence: event.sequence,
      updated_ms: this.timestampMs,
    });
    this.plan.balanceHistory.push({
      user_id: event.userId,
      asset_id: event.assetId,
      sequence: event.sequence,
      available_units: event.availableUnits,
      held_units: event.heldUnits,
      available_delta_units: event.availableUnits - (previous?.available_units ?? 0),
      held_delta_units: event.heldUnits - (previous?.held_units ?? 0),
      cause: this.cause,
      ts_ms: this.timestampMs,
    });
  }

  private adjusted(event: BalanceAdjustedEvent): void {
    this.plan.adjustments.push({
      sequence: event.sequence,
      user_id: event.userId,
      asset_id: event.assetId,
      amount_units: event.amountUnits,
      reason: event.reason,
      ts_ms: event.timestampMs,
    });
  }

  private withdrawalDone(event: WithdrawalDoneEvent): void {
    const id = event.withdrawalId;
    const held = this.plan.withdrawals.get(id) ?? this.input.existingWithdrawals.get(id);
    // The core settles or releases only a pending hold, and the fold saw every hold from the start.
    if (held === undefined) throw new Error(`projector: withdrawal ${id} is not in the store`);
    const status = event.type === "withdrawalSettled" ? "settled" : "released";
    this.plan.withdrawals.set(id, {
      ...held,
      status,
      done_sequence: event.sequence,
      done_ms: event.timestampMs,
    });
    this.withdrawalStatus(id, status, event.timestampMs);
  }

  private withdrawalStatus(withdrawalId: number, status: WithdrawalRow["status"], tsMs: number): void {
    this.plan.withdrawalHistory.push({
      withdrawal_id: withdrawalId,
      sequence: this.sequence,
      status,
      ts_ms: tsMs,
    });
  }

  private market(marketId: number): void {
    const config = this.input.marketConfigs.get(marketId);
    if (config === undefined) throw new Error(`projector: status change of unknown market ${marketId}`);
    this.plan.markets.set(marketId, {
      market_id: marketId,
      symbol: config.symbol,
      base_asset_id: config.baseAssetId,
      quote_asset_id: config.quoteAssetId,
      status: this.input.marketStatus.get(marketId) ?? "active",
      config_json: JSON.stringify(config),
    });
  }
}

/**
 * Folds the events with sequence > `lastSequence` into a write plan. The plan's lastSequence
 * covers every command in the batch, including those that produced no event.
 */
export function foldBatch(
  batch: ProjectorBatch,
  stamps: ReadonlyMap<number, number>,
  lastSequence: number,
  input: FoldInput,
): WritePlan {
  const folder = new Folder(input, lastSequence);
  let currentSequence = -1;
  for (const event of batch.events) {
    if (event.sequence <= lastSequence) continue;
    if (event.sequence !== currentSequence) {
      currentSequence = event.sequence;
      folder.beginCommand(event.sequence, stamps.get(event.sequence)!, event);
    }
    folder.apply(event);
  }
  const lastCommand = batch.commands.at(-1);
  if (lastCommand !== undefined && lastCommand.sequence > folder.plan.lastSequence)
    folder.plan.lastSequence = lastCommand.sequence;
  return folder.plan;
}

/** What a command was, from its first event: the cause its balance changes are recorded under. */
function causeOf(firstEvent: CoreEvent): BalanceCause {
  switch (firstEvent.type) {
    case "balanceAdjusted":
      return "adjustBalance";
    case "orderDone":
      return "cancel";
    case "depositCredited":
      return "deposit";
    case "withdrawalHeld":
    case "withdrawalSettled":
    case "withdrawalReleased":
      return "withdrawal";
    default:
      return "placeOrder";
  }
}

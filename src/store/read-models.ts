// The store's read models as one object bound to its connection: what the exchange boundary hands
// the gateway and the operator, so no layer above the exchange holds a database handle. Every
// list is bounded by the limits the queries assert (STORE_LIMITS).

import { type Kysely, sql } from "kysely";
import { normalizeEmail } from "./accounts.ts";
import type { AuditEntry, AuditInput, AuditVerifyResult } from "./audit-log.ts";
import { appendAudit, auditEntriesOfSubjects, verifyAuditLog } from "./audit-log.ts";
import type { StoreEngine } from "./migrations.ts";
import {
  type AdjustmentRecord,
  adjustmentsOfUser,
  type BalanceRecord,
  balancesOfUser,
  cancelledOrdersOfUser,
  type FillRecord,
  fillsOfOrder,
  fillsOfUser,
  fillsOfUserInMarket,
  getOrder,
  type HistoryWindow,
  listMarkets,
  type MarketRecord,
  type OrderRecord,
  openOrdersOfUser,
  orderOfUserByClientId,
  ordersOfUserInMarket,
  projectedSequence,
} from "./queries.ts";
import type { StoreDatabase, WithdrawalStatus } from "./schema.ts";
import {
  getWithdrawal,
  type WalletMovementRecord,
  type WalletOperationKind,
  type WalletOperationRecord,
  walletHistoryOfUser,
  walletMovements,
  walletOperationsOfUser,
  withdrawalStatusHistory,
} from "./wallet-queries.ts";

export type { WalletMovementRecord, WalletOperationKind, WalletOperationRecord };

/** userOutside takes a short list (the demo accounts), not a table's worth. */
const MAX_EMAILS_EXCLUDED = 100;

/** One user's balances and open orders read at one projector cursor. */
export interface UserSnapshot {
  /** The projector's cursor the read reflects: events after it are not in it. */
  sequence: number;
  balances: BalanceRecord[];
  orders: OrderRecord[];
}

export class StoreReadModels {
  constructor(
    private readonly db: Kysely<StoreDatabase>,
    private readonly engine: StoreEngine,
  ) {}

  order(orderId: number): Promise<OrderRecord | undefined> {
    return getOrder(this.db, orderId);
  }

  openOrdersOfUser(userId: number, options: { marketId?: number; limit: number }): Promise<OrderRecord[]> {
    return openOrdersOfUser(this.db, userId, options);
  }

  cancelledOrdersOfUser(userId: number, options: { offset: number; limit: number }): Promise<OrderRecord[]> {
    return cancelledOrdersOfUser(this.db, userId, options);
  }

  fillsOfUser(
    userId: number,
    options: { marketId: number; offset: number; limit: number },
  ): Promise<FillRecord[]> {
    return fillsOfUser(this.db, userId, options);
  }

  /** Orders of a user in one market, any status, oldest first (the Binance dialect's allOrders). */
  ordersOfUserInMarket(userId: number, window: HistoryWindow): Promise<OrderRecord[]> {
    return ordersOfUserInMarket(this.db, userId, window);
  }

  /** The newest order of a user in a market with this client order id (> 0). */
  orderOfUserByClientId(
    userId: number,
    marketId: number,
    clientOrderId: number,
  ): Promise<OrderRecord | undefined> {
    return orderOfUserByClientId(this.db, userId, marketId, clientOrderId);
  }

  /** Fills of a user in one market by trade id, oldest first (the Binance dialect's myTrades). */
  fillsOfUserInMarket(userId: number, window: HistoryWindow & { orderId?: number }): Promise<FillRecord[]> {
    return fillsOfUserInMarket(this.db, userId, window);
  }

  fillsOfOrder(orderId: number, options: { limit: number }): Promise<FillRecord[]> {
    return fillsOfOrder(this.db, orderId, options);
  }

  balancesOfUser(userId: number): Promise<BalanceRecord[]> {
    return balancesOfUser(this.db, userId);
  }

  adjustmentsOfUser(userId: number, options: { offset: number; limit: number }): Promise<AdjustmentRecord[]> {
    return adjustmentsOfUser(this.db, userId, options);
  }

  /** Deposits and withdrawals, newest first (EXMO wallet_operations). */
  walletOperationsOfUser(
    userId: number,
    options: { kind?: WalletOperationKind; assetId?: number; offset: number; limit: number },
  ): Promise<WalletOperationRecord[]> {
    return walletOperationsOfUser(this.db, userId, options);
  }

  /** Deposits and withdrawals created in [fromMs, toMs), newest first (EXMO wallet_history). */
  walletHistoryOfUser(
    userId: number,
    options: { fromMs: number; toMs: number; limit: number },
  ): Promise<WalletOperationRecord[]> {
    return walletHistoryOfUser(this.db, userId, options);
  }

  withdrawal(withdrawalId: number): Promise<WalletOperationRecord | undefined> {
    return getWithdrawal(this.db, withdrawalId);
  }

  withdrawalStatusHistory(
    withdrawalId: number,
    options: { limit: number },
  ): Promise<{ status: WithdrawalStatus; sequence: number; tsMs: number }[]> {
    return withdrawalStatusHistory(this.db, withdrawalId, options);
  }

  walletMovements(options: {
    assetId?: number;
    offset: number;
    limit: number;
  }): Promise<WalletMovementRecord[]> {
    return walletMovements(this.db, options);
  }

  markets(): Promise<MarketRecord[]> {
    return listMarkets(this.db);
  }

  /**
   * The email of one user whose email is not in `emails` (compared as stored: trimmed, lower
   * case), or undefined when every user is one of them. LIMIT 1: it stops at the first such user.
   */
  async userOutside(emails: readonly string[]): Promise<string | undefined> {
    if (emails.length > MAX_EMAILS_EXCLUDED)
      throw new RangeError(`store: at most ${MAX_EMAILS_EXCLUDED} emails to exclude`);
    let query = this.db.selectFrom("users").select("email");
    if (emails.length > 0) query = query.where("email", "not in", emails.map(normalizeEmail));
    const row = await query.orderBy("id", "asc").limit(1).executeTakeFirst();
    return row?.email;
  }

  /** The sequence the read models are current to. */
  projectedSequence(): Promise<number> {
    return projectedSequence(this.db);
  }

  /** Balances and open orders of a user in one transaction, with the cursor they reflect. */
  async userSnapshot(userId: number, maxOrders: number): Promise<UserSnapshot> {
    if (this.engine === "sqlite") return this.sqliteUserSnapshot(userId, maxOrders);
    let transaction = this.db.transaction();
    // PostgreSQL's default READ COMMITTED would let the projector commit between the statements.
    if (this.engine === "postgres") transaction = transaction.setIsolationLevel("repeatable read");
    return transaction.execute(async (tx) => ({
      sequence: await projectedSequence(tx),
      balances: await balancesOfUser(tx, userId),
      orders: await openOrdersOfUser(tx, userId, { limit: maxOrders }),
    }));
  }

  /**
   * SQLite: one deferred read transaction (WAL gives it a snapshot without any lock). Kysely's
   * transactions begin immediate on SQLite (open-store.ts), which would wait for the projector's
   * write lock on the event loop for a read.
   */
  private sqliteUserSnapshot(userId: number, maxOrders: number): Promise<UserSnapshot> {
    return this.db.connection().execute(async (connection) => {
      await sql`begin deferred`.execute(connection);
      try {
        const snapshot = {
          sequence: await projectedSequence(connection),
          balances: await balancesOfUser(connection, userId),
          orders: await openOrdersOfUser(connection, userId, { limit: maxOrders }),
        };
        await sql`commit`.execute(connection);
        return snapshot;
      } catch (error) {
        await sql`rollback`.execute(connection);
        throw error;
      }
    });
  }
}

/** The hash-chained audit log, bound to the store. */
export class StoreAuditTrail {
  constructor(private readonly db: Kysely<StoreDatabase>) {}

  append(input: AuditInput): Promise<AuditEntry> {
    return appendAudit(this.db, input);
  }

  verify(): Promise<AuditVerifyResult> {
    return verifyAuditLog(this.db);
  }

  /** The newest rows about any of `subjects`, newest first (auditEntriesOfSubjects). */
  ofSubjects(
    subjects: readonly string[],
    options: { limit: number; beforeSeq?: number },
  ): Promise<AuditEntry[]> {
    return auditEntriesOfSubjects(this.db, subjects, options);
  }
}

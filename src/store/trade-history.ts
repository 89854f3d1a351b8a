// Queries on the trades table that rebuild market data at start (exchange/market-data-persistence.ts):
// which trade ids bound the windows to replay, and the trades themselves in pages, oldest first.
// Each query is bounded: one row, or one page of at most TRADE_HISTORY_PAGE_ROWS.

import type { Kysely } from "kysely";
import type { TradeEvent } from "../core/events.ts";
import { toTrade } from "./queries.ts";
import type { StoreDatabase, TradeRow } from "./schema.ts";

type Db = Kysely<StoreDatabase>;

/** Rows read per query while rebuilding. */
export const TRADE_HISTORY_PAGE_ROWS = 5_000;

/** The id of the market's trade `offset` places from the newest (0 = the newest), or undefined. */
export async function tradeIdFromNewest(
  db: Db,
  marketId: number,
  offset: number,
): Promise<number | undefined> {
  const row = await db
    .selectFrom("trades")
    .select("trade_id")
    .where("market_id", "=", marketId)
    .orderBy("trade_id", "desc")
    .limit(1)
    .offset(offset)
    .executeTakeFirst();
  return row?.trade_id;
}

/** The id of the market's first trade at or after `sinceMs`, or undefined. */
export async function firstTradeIdSince(
  db: Db,
  marketId: number,
  sinceMs: number,
): Promise<number | undefined> {
  const row = await db
    .selectFrom("trades")
    .select("trade_id")
    .where("market_id", "=", marketId)
    .where("ts_ms", ">=", sinceMs)
    .orderBy("trade_id", "asc")
    .limit(1)
    .executeTakeFirst();
  return row?.trade_id;
}

/** Visits the market's trades with id > afterTradeId, oldest first, in pages, at most maxTrades. */
export async function forEachTradeAfter(
  db: Db,
  marketId: number,
  afterTradeId: number,
  maxTrades: number,
  visit: (trade: TradeEvent) => void,
): Promise<void> {
  let cursor = afterTradeId;
  let seen = 0;
  while (seen < maxTrades) {
    const rows = await db
      .selectFrom("trades")
      .selectAll()
      .where("market_id", "=", marketId)
      .where("trade_id", ">", cursor)
      .orderBy("trade_id", "asc")
      .limit(Math.min(TRADE_HISTORY_PAGE_ROWS, maxTrades - seen))
      .execute();
    if (rows.length === 0) return;
    for (const row of rows) visit(tradeEventOf(row));
    seen += rows.length;
    cursor = rows[rows.length - 1].trade_id;
  }
}

/** A stored trade as the core's event (the row's fields as the read model names them). */
function tradeEventOf(row: TradeRow): TradeEvent {
  const { tsMs, ...trade } = toTrade(row);
  return { type: "trade", sequence: row.sequence, timestampMs: tsMs, ...trade };
}

// The snapshot's byte layout, shared by encode.ts and restore.ts. Little endian (src/core/bytes.ts):
//
//   magic u32 "BLWK" | version u32 | lastSequence f64 | nextTradeId f64
//   assets:  count u32, then per asset: assetId u16 | code string | scale u8
//   markets: count u32, then per market:
//     config (symbol string, MARKET_NUMBER_FIELDS as f64, STP u8) | status u8 | lastPriceTicks f64
//     bids, asks: count u32, then per order, best price first, oldest first within a price:
//       orderId f64 | userId i32 | priceTicks u32 | remainingLots u32 | clientOrderId f64 | STP u8
//     stops: count u32, then per stop in ascending id: orderId f64 | userId i32 | side u8 |
//       triggerPriceTicks u32 | quantityLots u32 | heldUnits f64 | clientOrderId f64 | STP u8
//   users: count u32, then per user in ascending id: userId i32, then per asset: available f64 | held f64
//   system accounts, in SYSTEM_ACCOUNTS order, per asset: balance f64
//   (version 2 on) withdrawal holds: count u32, then per hold in the order they were placed:
//     withdrawalId f64 | userId i32 | assetId u16 | amountUnits f64 | feeUnits f64
//   (version 2 on) deposit keys: count u32, then per key in the order credited: key string
//   (version 3 on) incident covers: count u32, then per cover in the order covered:
//     incidentId f64 | assetId u16 | amountUnits f64 | source u8 (index in LOSS_COVER_SOURCES)
//   (version 4 on) API key nonces: count u32, then per key in ascending key id: keyId string | nonce f64
//
// Version 1 (read, no longer written) has the first V1_SYSTEM_ACCOUNT_COUNT system accounts only
// and no withdrawal holds or deposit keys: it restores with those accounts 0 and both tables empty.
// Version 2 has no incident covers: it restores with none. Version 3 has no API key nonces: it
// restores with none (the first signed request of each key then sets it).
//
// Codes: status is an index into MARKET_STATUS_CODES, side into SIDE_NAMES, STP into
// SELF_TRADE_PREVENTIONS. The same logical state always gives the same bytes.

import type { MarketConfig } from "../config.ts";

export const SNAPSHOT_MAGIC = 0x4b574c42; // "BLWK"
export const SNAPSHOT_VERSION = 4;
/** Version 3: before API key nonces. Still restored. */
export const SNAPSHOT_VERSION_3 = 3;
/** Version 2: before incident covers. Still restored. */
export const SNAPSHOT_VERSION_2 = 2;
/** Version 1: before custody's system accounts, withdrawal holds and deposit keys. Still restored. */
export const SNAPSHOT_VERSION_1 = 1;
/** System accounts in a version 1 snapshot: the first six of SYSTEM_ACCOUNTS (fees … incidentLosses). */
export const V1_SYSTEM_ACCOUNT_COUNT = 6;
export const MARKET_STATUS_CODES = ["active", "suspended"] as const;

/** The numeric fields of a market config, in the order they are written. */
export const MARKET_NUMBER_FIELDS = [
  "marketId",
  "baseAssetId",
  "quoteAssetId",
  "lotSizeBaseUnits",
  "quoteUnitsPerTickLot",
  "minPriceTicks",
  "maxPriceTicks",
  "minQuantityLots",
  "maxQuantityLots",
  "minNotionalUnits",
  "maxNotionalUnits",
  "makerFeePpm",
  "takerFeePpm",
  "stopBuySlippageBps",
] as const satisfies readonly Exclude<keyof MarketConfig, "symbol" | "selfTradePrevention">[];

export type MarketNumberField = (typeof MARKET_NUMBER_FIELDS)[number];

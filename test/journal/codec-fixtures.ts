// Two placeOrder commands whose encodings are pinned as golden bytes in both command format
// versions (command-codec.test.ts) and by the version 1 encoder of the migration test.

import type { PlaceOrderCommand } from "../../src/core/commands.ts";

export const limitBuy: PlaceOrderCommand = {
  kind: "placeOrder",
  sequence: 42,
  timestampMs: 1_700_000_000_123,
  userId: 7,
  marketId: 1,
  side: "buy",
  orderType: "limit",
  priceTicks: 50_000,
  quantityLots: 3,
  quoteAmountUnits: 0,
  triggerPriceTicks: 0,
  timeInForce: "gtc",
  postOnly: false,
  clientOrderId: 0,
  selfTradePrevention: null,
};

export const stopSell: PlaceOrderCommand = {
  ...limitBuy,
  sequence: 1_234_567,
  side: "sell",
  orderType: "stopMarket",
  priceTicks: 0,
  triggerPriceTicks: 70_000,
  quantityLots: 0x1_0000,
  selfTradePrevention: "cancelBoth",
  clientOrderId: 2 ** 40,
};

/** Both commands as the first release's version 1 format wrote them. */
export const VERSION_1_HEX = {
  limitBuy: "01012af27b68e5cf8b01000701f050c303000000",
  stopSell: "0101f187d61200f27b68e5cf8b01c7070100f10000010000f170110100f2000000000001",
} as const;

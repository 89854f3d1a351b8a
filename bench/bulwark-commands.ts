// Translation of the op stream into Bulwark `Command`s, stamped here with sequence and
// timestamp as the sequencer would (order id = sequence, CORE.md).

import type { Command, PlaceOrderCommand } from "../src/core/commands.ts";
import type { MarketConfig } from "../src/core/config.ts";
import { OP_CANCEL, OP_LIMIT, type OpStream, SIDE_BUY } from "./workload.ts";

export const MARKET_ID = 1;
export const BASE_ASSET_ID = 1;
export const QUOTE_ASSET_ID = 2;
/** Each user gets this much of both assets: far more than any order needs, and 2,000 users stay far below 2^53 in total. */
export const FUNDING_UNITS = 1_000_000_000_000;
const T0_MS = 1_700_000_000_000;

export function timestampFor(sequence: number): number {
  return T0_MS + sequence;
}

export const BENCH_MARKET: MarketConfig = {
  marketId: MARKET_ID,
  symbol: "BTC_USD",
  baseAssetId: BASE_ASSET_ID,
  quoteAssetId: QUOTE_ASSET_ID,
  lotSizeBaseUnits: 1_000,
  quoteUnitsPerTickLot: 1,
  minPriceTicks: 1,
  maxPriceTicks: 10_000_000,
  minQuantityLots: 1,
  maxQuantityLots: 1_000_000,
  minNotionalUnits: 1,
  maxNotionalUnits: 100_000_000_000,
  makerFeePpm: 1_000,
  takerFeePpm: 2_000,
  stopBuySlippageBps: 500,
  selfTradePrevention: "cancelResting",
};

/** Sequences 1..setupCount: two assets, the market, then both assets credited to every user. */
export function setupCommands(users: number): Command[] {
  const out: Command[] = [];
  let sequence = 0;
  const stamp = () => {
    sequence += 1;
    return { sequence, timestampMs: timestampFor(sequence) };
  };
  out.push({ kind: "addAsset", ...stamp(), asset: { assetId: BASE_ASSET_ID, code: "BTC", scale: 8 } });
  out.push({ kind: "addAsset", ...stamp(), asset: { assetId: QUOTE_ASSET_ID, code: "USD", scale: 2 } });
  out.push({ kind: "addMarket", ...stamp(), market: BENCH_MARKET });
  for (let userId = 1; userId <= users; userId++) {
    for (const assetId of [BASE_ASSET_ID, QUOTE_ASSET_ID]) {
      out.push({
        kind: "adjustBalance",
        ...stamp(),
        userId,
        assetId,
        amountUnits: FUNDING_UNITS,
        reason: "bench funding",
      });
    }
  }
  return out;
}

export function placeCommand(stream: OpStream, i: number): PlaceOrderCommand {
  const sequence = stream.firstSequence + i;
  const isLimit = stream.kind[i] === OP_LIMIT;
  return {
    kind: "placeOrder",
    sequence,
    timestampMs: timestampFor(sequence),
    userId: stream.userId[i],
    marketId: MARKET_ID,
    side: stream.side[i] === SIDE_BUY ? "buy" : "sell",
    orderType: isLimit ? "limit" : "market",
    priceTicks: isLimit ? stream.priceTicks[i] : 0,
    quantityLots: stream.quantityLots[i],
    quoteAmountUnits: 0,
    triggerPriceTicks: 0,
    timeInForce: "gtc",
    postOnly: false,
    clientOrderId: 0,
    selfTradePrevention: null,
  };
}

/**
 * Every stream entry as a command. Cancels get their target (orderId and owner) in the resolve
 * pass; until then they point at order 0.
 */
export function streamCommands(stream: OpStream): Command[] {
  const out: Command[] = new Array(stream.count);
  for (let i = 0; i < stream.count; i++) {
    if (stream.kind[i] === OP_CANCEL) {
      const sequence = stream.firstSequence + i;
      out[i] = {
        kind: "cancelOrder",
        sequence,
        timestampMs: timestampFor(sequence),
        userId: stream.userId[i],
        orderId: 0,
      };
    } else {
      out[i] = placeCommand(stream, i);
    }
  }
  return out;
}

/** Splits commands [from, to) into batches of `size` (arrays made once, outside any timing). */
export function batches(commands: readonly Command[], from: number, to: number, size: number): Command[][] {
  const out: Command[][] = [];
  for (let i = from; i < to; i += size) out.push(commands.slice(i, Math.min(to, i + size)));
  return out;
}

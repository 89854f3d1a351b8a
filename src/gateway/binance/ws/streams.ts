// Binance market stream names (docs/API.md#binance-market-streams), pure: what a name means, or
// that it is not one. Symbols are lowercase (btcusdt), as Binance writes stream names; the market
// is looked up by the caller's rule (the REST dialect's symbol, lowercased).

import type { MarketContext } from "../../../exchange/boundary.ts";
import { BINANCE_INTERVALS } from "../public-routes.ts";

/** How often a buffered stream is pushed: Binance's 100 ms or 1000 ms update speed. */
export type StreamSpeed = "fast" | "slow";

export type StreamSpec =
  | { kind: "trade" | "aggTrade" | "ticker" | "miniTicker" | "bookTicker"; market: MarketContext }
  | { kind: "depth"; market: MarketContext; speed: StreamSpeed }
  | { kind: "partialDepth"; market: MarketContext; levels: 5 | 10 | 20; speed: StreamSpeed }
  | { kind: "kline"; market: MarketContext; interval: string }
  | { kind: "allTickers" | "allMiniTickers" };

export interface MarketStream {
  /** The name as the client wrote it (and as LIST_SUBSCRIPTIONS and combined frames echo it). */
  name: string;
  spec: StreamSpec;
}

/** Longest stream name looked at; longer ones are refused without parsing. */
export const MAX_STREAM_NAME_LENGTH = 64;
const SYMBOL_PATTERN = /^[a-z0-9\-_.]{1,20}$/;
const PARTIAL_LEVELS: ReadonlyMap<string, 5 | 10 | 20> = new Map([
  ["5", 5],
  ["10", 10],
  ["20", 20],
]);

/** Streams whose payload is the latest state (a newer one supersedes it), so a late client may skip to it. */
export function isLatestState(spec: StreamSpec): boolean {
  return spec.kind !== "trade" && spec.kind !== "aggTrade" && spec.kind !== "depth";
}

/** Whether the stream reads the market's shared book feed (diffs, partial books, best bid/ask). */
export function needsBook(spec: StreamSpec): boolean {
  return spec.kind === "depth" || spec.kind === "partialDepth" || spec.kind === "bookTicker";
}

/** The market of a per-symbol stream, undefined for the all-market arrays. */
export function streamMarket(spec: StreamSpec): MarketContext | undefined {
  return "market" in spec ? spec.market : undefined;
}

/**
 * The stream a name denotes, or null (an unknown symbol, kind, interval or speed). `lookup`
 * takes the lowercase symbol.
 */
export function parseStreamName(
  name: string,
  lookup: (lowercaseSymbol: string) => MarketContext | undefined,
): MarketStream | null {
  if (name.length === 0 || name.length > MAX_STREAM_NAME_LENGTH) return null;
  if (name === "!ticker@arr") return { name, spec: { kind: "allTickers" } };
  if (name === "!miniTicker@arr") return { name, spec: { kind: "allMiniTickers" } };
  const parts = name.split("@");
  if (parts.length < 2 || parts.length > 3) return null;
  const [symbol, channel, speedText] = parts as [string, string, string | undefined];
  if (!SYMBOL_PATTERN.test(symbol)) return null;
  const market = lookup(symbol);
  if (market === undefined) return null;
  const spec = channelSpec(market, channel, speedText);
  return spec === null ? null : { name, spec };
}

function channelSpec(
  market: MarketContext,
  channel: string,
  speedText: string | undefined,
): StreamSpec | null {
  // Only depth streams take a speed suffix, and only "@100ms" (Binance spot's documented one).
  let speed: StreamSpeed = "slow";
  if (speedText !== undefined) {
    if (speedText !== "100ms" || !channel.startsWith("depth")) return null;
    speed = "fast";
  }
  switch (channel) {
    case "trade":
    case "aggTrade":
    case "ticker":
    case "miniTicker":
    case "bookTicker":
      return { kind: channel, market };
    case "depth":
      return { kind: "depth", market, speed };
  }
  if (channel.startsWith("depth")) {
    const levels = PARTIAL_LEVELS.get(channel.slice("depth".length));
    return levels === undefined ? null : { kind: "partialDepth", market, levels, speed };
  }
  if (channel.startsWith("kline_")) {
    const interval = channel.slice("kline_".length);
    return Object.hasOwn(BINANCE_INTERVALS, interval) ? { kind: "kline", market, interval } : null;
  }
  return null;
}

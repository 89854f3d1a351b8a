// EXMO topic names (docs/API.md#ws-topics) → what the gateway serves them from.
// Public topics name a pair: `spot/ticker:BTC_USD`; private ones do not: `spot/wallet`.

import type { MarketContext } from "../../exchange/boundary.ts";
import type { TopicKind } from "../../marketdata/subscriptions.ts";

export type PublicChannel =
  | "spot/ticker"
  | "spot/trades"
  | "spot/order_book_updates"
  | "spot/order_book_snapshots";
export type PrivateChannel = "spot/wallet" | "spot/orders" | "spot/user_trades";

export type WsTopic =
  | { scope: "public"; name: string; channel: PublicChannel; market: MarketContext }
  | { scope: "private"; name: string; channel: PrivateChannel };

/** The market-data hub topic behind each public channel; snapshots are served from a shared mirror. */
export const HUB_KIND: { readonly [C in PublicChannel]: TopicKind | null } = {
  "spot/ticker": "ticker",
  "spot/trades": "trades",
  "spot/order_book_updates": "depth",
  "spot/order_book_snapshots": null,
};

const PUBLIC_CHANNELS: ReadonlySet<string> = new Set<PublicChannel>(Object.keys(HUB_KIND) as PublicChannel[]);
const PRIVATE_CHANNELS: ReadonlySet<string> = new Set<PrivateChannel>([
  "spot/wallet",
  "spot/orders",
  "spot/user_trades",
]);

export type TopicParse =
  | { ok: true; topic: WsTopic }
  | { ok: false; problem: "unknownTopic" | "unknownPair"; detail: string };

/** Resolves a topic name; `marketBySymbol` is the exchange's lookup (pair ids are case-sensitive). */
export function parseTopic(
  name: string,
  marketBySymbol: (symbol: string) => MarketContext | undefined,
): TopicParse {
  const colon = name.indexOf(":");
  if (colon < 0) {
    if (PRIVATE_CHANNELS.has(name))
      return { ok: true, topic: { scope: "private", name, channel: name as PrivateChannel } };
    return { ok: false, problem: "unknownTopic", detail: name };
  }
  const channel = name.slice(0, colon);
  if (!PUBLIC_CHANNELS.has(channel)) return { ok: false, problem: "unknownTopic", detail: name };
  const pair = name.slice(colon + 1);
  const market = marketBySymbol(pair);
  if (market === undefined) return { ok: false, problem: "unknownPair", detail: pair };
  return { ok: true, topic: { scope: "public", name, channel: channel as PublicChannel, market } };
}

export function topicName(channel: PublicChannel, market: MarketContext): string {
  return `${channel}:${market.config.symbol}`;
}

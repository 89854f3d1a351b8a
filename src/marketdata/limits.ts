// Every buffer, queue, subscription table and loop in market data is bounded by one of these
// constants, so a flood of trades or subscribers costs a known amount of memory and time.

/** Public trades kept per market (the REST `trades` answer and late WS joiners read from it). */
export const TRADE_RING_CAPACITY = 1_000;

/** Minute buckets of the rolling ticker: exactly 24 h of one-minute buckets per market. */
export const TICKER_BUCKET_COUNT = 1_440;
export const MS_PER_MINUTE = 60_000;

/** EXMO documents a maximum of 1000 order book levels per side. */
export const MAX_DEPTH_LEVELS = 1_000;
/** EXMO's default when the client gives no limit. */
export const DEFAULT_DEPTH_LEVELS = 100;

/** Candles one query may return; ccxt caps its own requests at 3000 as well. */
export const MAX_CANDLES_PER_QUERY = 3_000;

/** Markets market data accepts; the core's default maxMarkets. */
export const MAX_MARKETS = 1_024;

/** REST answers are rebuilt at most this often whatever the request rate (docs/ARCHITECTURE.md#guard). */
export const REST_CACHE_TTL_MS = 100;

/** Subscription limits for the WS layer. */
export const MAX_SUBSCRIBERS_PER_TOPIC = 10_000;
export const MAX_TOPICS_PER_SUBSCRIBER = 64;
export const MAX_SUBSCRIBERS = 100_000;
/** Updates queued for one subscriber before it counts as a slow consumer and is dropped. */
export const MAX_QUEUED_UPDATES_PER_SUBSCRIBER = 1_024;

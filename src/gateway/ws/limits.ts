// Every bound of the WebSocket gateway, in one place (docs/SECURITY.md#flood-resilience, docs/API.md#websocket).
// Each count, buffer, queue and timer of src/gateway/ws is limited by one of these; `attachWebSocket`
// takes overrides (tests use small timers) and refuses values that are not positive integers.

/** docs/SECURITY.md#websocket-limits: largest inbound frame; `ws` closes the socket with 1009 past it. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** docs/SECURITY.md#websocket-limits: concurrent sockets from one IP address; more are refused at the upgrade (HTTP 429). */
export const MAX_CONNECTIONS_PER_IP = 20;
/** All sockets of one gateway process: bounds the per-connection state below in total. */
export const MAX_CONNECTIONS = 10_000;
/** docs/SECURITY.md#websocket-limits: topics one connection may hold at once, public and private together. */
export const MAX_TOPICS_PER_CONNECTION = 200;
/** docs/SECURITY.md#websocket-limits: inbound messages per second per connection (a token bucket of this size). */
export const MAX_INBOUND_MESSAGES_PER_SECOND = 10;
/**
 * Messages refused by the rate limit that a connection may accumulate before it is closed; one
 * strike drains per second, so a client a little over the rate only gets error frames, while one
 * flooding at twice the rate is closed within a few seconds.
 */
export const MAX_RATE_LIMIT_STRIKES = 20;
/** docs/SECURITY.md#websocket-limits: a connection whose unsent output passes this is a slow consumer and is dropped. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** EXMO closes a private socket that has not logged in within 30 s (docs/API.md#ws-connections). */
export const LOGIN_DEADLINE_MS = 30_000;
/** Protocol ping period; a peer that has not answered the previous ping by the next one is dropped. */
export const PING_INTERVAL_MS = 30_000;
/**
 * docs/SECURITY.md#websocket-limits: a connection is idle when, for this long, it sent no message
 * and either holds no topic and no login or did not answer a ping; it is closed with 1000 "idle
 * timeout". So a socket that connects and says nothing is gone within a minute, while a quiet
 * subscriber (its pongs keep it) stays.
 */
export const IDLE_TIMEOUT_MS = 60_000;
/**
 * docs/SECURITY.md#websocket-limits: longest life of one connection; each gets this less up to
 * LIFETIME_JITTER_PERCENT (so connections opened together do not all reconnect together), then an
 * info frame (code 3002) and close 1001 "connection lifetime reached, reconnect". Such a close
 * cancels no orders (like a shutdown: the client is alive and reconnects).
 */
export const MAX_CONNECTION_LIFETIME_MS = 24 * 60 * 60_000;
export const LIFETIME_JITTER_PERCENT = 10;
/** How often idle and lifetime are checked: a connection outlives its bound by at most this. */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/**
 * docs/API.md#ws-coalescing: past this many unsent bytes a connection stops getting every market-data
 * frame; once its buffer drains below it, it gets the latest state per topic instead (a fresh
 * snapshot of each order book, the latest ticker, every trade kept). Well below MAX_BUFFERED_BYTES,
 * so a client that is only a little slow is never dropped.
 */
export const COALESCE_BUFFERED_BYTES = 256 * 1024;
/** How often a coalescing connection's buffer is looked at to see whether it drained. */
export const COALESCE_CHECK_INTERVAL_MS = 50;
/**
 * Trades one coalescing connection keeps (all its trades topics together) until its buffer drains;
 * trades are never dropped silently, so past this the connection is dropped as a slow consumer.
 */
export const MAX_COALESCED_TRADES = 10_000;
/**
 * Inbound messages accepted but not yet handled (logins wait on the store). The rate limit keeps
 * this small in practice; past it the message is refused like an over-rate one.
 */
export const MAX_PENDING_INBOUND_MESSAGES = 32;
/** Levels per side in each spot/order_book_snapshots frame (EXMO: top 25). */
export const BOOK_SNAPSHOT_LEVELS = 25;
/**
 * Core events a private session buffers while its first store read is in flight; they are
 * applied on top of the read. A session that falls this far behind is dropped as slow.
 */
export const MAX_EVENTS_BUFFERED_DURING_LOAD = 100_000;
/**
 * How often the gateway looks for browser-session feeds whose session expired (absolute lifetime
 * or idle timeout): a feed outlives its session by at most this long.
 */
export const SESSION_CHECK_INTERVAL_MS = 10_000;
/** Longest `id` / string field we echo or look at in a client frame. */
export const MAX_TOPIC_LENGTH = 64;
export const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER;

export interface WsLimits {
  maxPayloadBytes: number;
  maxConnectionsPerIp: number;
  maxConnections: number;
  maxTopicsPerConnection: number;
  maxInboundMessagesPerSecond: number;
  maxRateLimitStrikes: number;
  maxBufferedBytes: number;
  loginDeadlineMs: number;
  pingIntervalMs: number;
  maxPendingInboundMessages: number;
  maxEventsBufferedDuringLoad: number;
  sessionCheckIntervalMs: number;
  idleTimeoutMs: number;
  maxConnectionLifetimeMs: number;
  timeoutCheckIntervalMs: number;
  coalesceBufferedBytes: number;
  coalesceCheckIntervalMs: number;
  maxCoalescedTrades: number;
}

export const DEFAULT_WS_LIMITS: Readonly<WsLimits> = {
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
  maxConnectionsPerIp: MAX_CONNECTIONS_PER_IP,
  maxConnections: MAX_CONNECTIONS,
  maxTopicsPerConnection: MAX_TOPICS_PER_CONNECTION,
  maxInboundMessagesPerSecond: MAX_INBOUND_MESSAGES_PER_SECOND,
  maxRateLimitStrikes: MAX_RATE_LIMIT_STRIKES,
  maxBufferedBytes: MAX_BUFFERED_BYTES,
  loginDeadlineMs: LOGIN_DEADLINE_MS,
  pingIntervalMs: PING_INTERVAL_MS,
  maxPendingInboundMessages: MAX_PENDING_INBOUND_MESSAGES,
  maxEventsBufferedDuringLoad: MAX_EVENTS_BUFFERED_DURING_LOAD,
  sessionCheckIntervalMs: SESSION_CHECK_INTERVAL_MS,
  idleTimeoutMs: IDLE_TIMEOUT_MS,
  maxConnectionLifetimeMs: MAX_CONNECTION_LIFETIME_MS,
  timeoutCheckIntervalMs: TIMEOUT_CHECK_INTERVAL_MS,
  coalesceBufferedBytes: COALESCE_BUFFERED_BYTES,
  coalesceCheckIntervalMs: COALESCE_CHECK_INTERVAL_MS,
  maxCoalescedTrades: MAX_COALESCED_TRADES,
};

/** The defaults with `overrides` applied; throws on a value that is not a positive safe integer. */
export function resolveWsLimits(overrides: Partial<WsLimits> = {}): WsLimits {
  const limits: WsLimits = { ...DEFAULT_WS_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits))
    if (!Number.isSafeInteger(value) || value < 1)
      throw new RangeError(`ws limit ${name} must be a positive integer`);
  if (limits.coalesceBufferedBytes >= limits.maxBufferedBytes)
    throw new RangeError("ws limit coalesceBufferedBytes must be below maxBufferedBytes");
  return limits;
}

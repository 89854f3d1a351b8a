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
};

/** The defaults with `overrides` applied; throws on a value that is not a positive safe integer. */
export function resolveWsLimits(overrides: Partial<WsLimits> = {}): WsLimits {
  const limits: WsLimits = { ...DEFAULT_WS_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits))
    if (!Number.isSafeInteger(value) || value < 1)
      throw new RangeError(`ws limit ${name} must be a positive integer`);
  return limits;
}

// One way to open the NATS connection every cluster role uses: a name the server's monitoring
// shows, and a bounded reconnect policy, so a role whose server is gone for good fails (its
// supervisor restarts it) instead of retrying forever.

import { connect, type NatsConnection } from "@nats-io/transport-node";

/** The local NATS server with JetStream (what `.ci/run` starts). */
export const BULWARK_NATS_URL = "nats://127.0.0.1:4222";

export interface NatsConnectOptions {
  /** Shown by the server's monitoring (connz); say which role and process this is. */
  name: string;
  /** Reconnect attempts per server before the connection closes for good. */
  maxReconnectAttempts?: number;
  /** Wait between reconnect attempts. */
  reconnectTimeWaitMs?: number;
  /** Time allowed for the first connection. */
  connectTimeoutMs?: number;
}

const DEFAULT_MAX_RECONNECT_ATTEMPTS = 30;
const DEFAULT_RECONNECT_TIME_WAIT_MS = 500;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Largest allowed reconnect budget: attempts × wait stays within minutes, never unbounded. */
const MAX_RECONNECT_ATTEMPTS = 10_000;

/** Connects to `url` (default BULWARK_NATS_URL). The caller owns the connection and closes it. */
export async function connectNats(
  url: string | undefined,
  options: NatsConnectOptions,
): Promise<NatsConnection> {
  const maxReconnectAttempts = options.maxReconnectAttempts ?? DEFAULT_MAX_RECONNECT_ATTEMPTS;
  if (!Number.isSafeInteger(maxReconnectAttempts) || maxReconnectAttempts < 0) {
    throw new RangeError(
      "maxReconnectAttempts must be a non-negative integer (never -1: reconnects are bounded)",
    );
  }
  if (maxReconnectAttempts > MAX_RECONNECT_ATTEMPTS) {
    throw new RangeError(`maxReconnectAttempts must be at most ${MAX_RECONNECT_ATTEMPTS}`);
  }
  if (options.name.length === 0) throw new RangeError("a NATS connection needs a name");
  return connect({
    servers: url ?? BULWARK_NATS_URL,
    name: options.name,
    reconnect: maxReconnectAttempts > 0,
    maxReconnectAttempts,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? DEFAULT_RECONNECT_TIME_WAIT_MS,
    timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  });
}

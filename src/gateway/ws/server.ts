// The EXMO v1 WebSocket API on an existing HTTP(S) server (docs/API.md#websocket, docs/SECURITY.md#websocket-limits).
//
// Stable entry point, used by src/server/server.ts:
//
//   attachWebSocket(server: http.Server | https.Server, exchange: ExchangeBoundary, options: {
//     secretBox: SecretBox,             // opens API secrets for `login`
//     logger?: pino.Logger,
//     limits?: Partial<WsLimits>,       // defaults in ./limits.ts (docs/SECURITY.md#websocket-limits)
//     onPrivateDisconnect?: (who: {userId, keyId, cancellingOrders}) => void,  // after cancel-on-disconnect
//     clock?: () => number,             // ms since the epoch, for `ts` and rate limits
//     notices?: { onNotice(listener) }, // incident notices, sent to every connection (protocol.ts noticeFrame)
//     guardControl?: GuardControl,      // degraded mode: new /v1/public upgrades refused (503)
//     clientAddress?: (peer, headers) => string,  // trusted-proxy rule; default the TCP peer
//   }) → { close(): Promise<void>; readonly connectionCount: number; readonly coalescingCount: number }
//
// Paths: `/v1/public` and `/v1/private` (a query string is ignored), and Binance's `/ws`, `/ws/…`,
// `/stream?streams=…` and `/ws-api/v3` (src/gateway/binance/ws/attach.ts, public market data like
// /v1/public, user data handed to options.binanceUserData); any other upgrade is refused
// with 404, a public one in degraded mode with 503 + Retry-After, an address (IPv4, or IPv6 /64)
// over its connection cap with 429, a full gateway with 503, before any WebSocket
// state is allocated. Uses `ws` in noServer mode so HTTP routing stays with the HTTP server.
// Protocol pings go out every pingIntervalMs; a peer that has not answered the previous one is
// dropped. close() stops taking upgrades, closes every socket with 1001 and resolves once they
// are gone (sockets that do not finish the close handshake in time are terminated); this close
// cancels no orders (cancel-on-disconnect.ts), and it waits for cancels already submitted. Every
// sessionCheckIntervalMs, feeds logged in with a browser session that has expired are ended.

import type { Server as HttpServer, IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { type WebSocket, WebSocketServer } from "ws";
import type { SecretBox } from "../../accounts/secret-box.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { IncidentPort } from "../../incidents/port.ts";
import { type BinanceStreamLimits, BinanceWebSockets } from "../binance/ws/attach.ts";
import type { BinanceUserDataSockets } from "../binance/ws/user-data-port.ts";
import type { GuardControl } from "../guard/guard-control.ts";
import { addressBucketKey } from "../guard/rate-limit.ts";
import { DEFAULT_SESSION_TIMES, type SessionRequest, type SessionTimes } from "../session/session-auth.ts";
import { BookSnapshots } from "./book-snapshots.ts";
import { CLOSE_GOING_AWAY, type PrivateDisconnect, WsConnection, type WsPath } from "./connection.ts";
import { resolveWsLimits, type WsLimits } from "./limits.ts";
import { PrivateFeed } from "./private-feed.ts";
import { noticeFrame } from "./protocol.ts";

export type { PrivateDisconnect } from "./connection.ts";
export type { WsLimits } from "./limits.ts";

export interface AttachWebSocketOptions {
  secretBox: SecretBox;
  logger?: Logger;
  limits?: Partial<WsLimits>;
  /** Called once when a logged-in connection closes, after its cancel-on-disconnect (if armed) was submitted. */
  onPrivateDisconnect?: (who: PrivateDisconnect) => void;
  clock?: () => number;
  /** People's sessions' idle and absolute expiry, as the session API's (default there). */
  sessionTimes?: SessionTimes;
  /** Incident notices to send to every connection, public and private (src/incidents/port.ts). */
  notices?: Pick<IncidentPort, "onNotice"> | null;
  /**
   * The gateway's flood guard (Gateway.guardControl): in degraded mode new connections to
   * /v1/public are refused with 503 + Retry-After; private ones and open connections stay.
   */
  guardControl?: Pick<GuardControl, "isDegraded"> | null;
  /**
   * The client's address from the TCP peer and the upgrade's headers (the REST gateway's rule
   * for trusted proxies, src/gateway/guard/client-address.ts); default the TCP peer.
   */
  clientAddress?: (socketAddress: string | undefined, headers: IncomingHttpHeaders) => string;
  /**
   * Binance's user data sockets (/ws/<listenKey>, /ws-api/v3; src/gateway/binance/ws/user-data-port.ts).
   * Absent: /ws-api/v3 is refused 404. Binance market streams (/ws, /stream) are served either way.
   */
  binanceUserData?: BinanceUserDataSockets | null;
  /** Binance market stream bounds and update speeds (src/gateway/binance/ws/connection.ts); tests shorten them. */
  binanceStreams?: Partial<BinanceStreamLimits>;
}

export interface WebSocketGateway {
  close(): Promise<void>;
  readonly connectionCount: number;
  /** Connections whose market data is being coalesced because they fell behind (docs/API.md#ws-coalescing). */
  readonly coalescingCount: number;
}

const PATHS: ReadonlyMap<string, WsPath> = new Map([
  ["/v1/public", "public"],
  ["/v1/private", "private"],
]);
/** How long close() waits for clients to answer the close frame before terminating them. */
const CLOSE_GRACE_MS = 1_000;
/** Retry-After of a public upgrade refused in degraded mode (an operator's switch lasts minutes). */
const DEGRADED_RETRY_AFTER_SECONDS = 30;

interface Tracked {
  connection: WsConnection;
  socket: WebSocket;
  alive: boolean;
}

function headerText(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

/** What a session login checks of the upgrade: its cookies, Origin and Host, and the scheme. */
function upgradeSessionRequest(request: IncomingMessage): SessionRequest {
  return {
    cookieHeader: headerText(request, "cookie"),
    csrfHeader: undefined,
    originHeader: headerText(request, "origin"),
    hostHeader: headerText(request, "host"),
    scheme: (request.socket as { encrypted?: boolean }).encrypted === true ? "https" : "http",
  };
}

export function attachWebSocket(
  server: HttpServer | HttpsServer,
  exchange: ExchangeBoundary,
  options: AttachWebSocketOptions,
): WebSocketGateway {
  const limits = resolveWsLimits(options.limits);
  const clock = options.clock ?? Date.now;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxPayloadBytes,
    // Compression would let a small frame inflate past the payload cap's intent, and costs CPU per socket.
    perMessageDeflate: false,
    clientTracking: false,
  });
  const sessionTimes = options.sessionTimes ?? DEFAULT_SESSION_TIMES;
  const feed = new PrivateFeed(exchange, { clock, sessionTimes });
  const books = new BookSnapshots(exchange);
  const binance = new BinanceWebSockets(exchange, {
    limits,
    clock,
    userData: options.binanceUserData ?? null,
    ...(options.binanceStreams === undefined ? {} : { streamLimits: options.binanceStreams }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const perIp = new Map<string, number>();
  const live = new Set<Tracked>();
  /** Cancel-on-disconnect submissions not yet durable: at most one per connection that closed. */
  const cancelling = new Set<Promise<void>>();
  let reserved = 0;
  let closing: Promise<void> | null = null;

  const release = (group: string): void => {
    reserved -= 1;
    const count = (perIp.get(group) ?? 1) - 1;
    if (count <= 0) perIp.delete(group);
    else perIp.set(group, count);
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = PATHS.get(pathOf(request.url));
    // Binance's paths (src/gateway/binance/ws/attach.ts) share every cap below.
    const binanceRoute = path === undefined ? binance.route(request.url) : null;
    if (path === undefined && binanceRoute === null) return refuse(socket, 404, "Not Found");
    if (closing !== null) return refuse(socket, 503, "Service Unavailable");
    const publicData = path === "public" || binanceRoute?.kind === "market";
    // Degraded mode (docs/SECURITY.md#degraded-mode): public market data is the first thing shed.
    if (publicData && options.guardControl?.isDegraded === true)
      return refuse(socket, 503, "Service Unavailable", DEGRADED_RETRY_AFTER_SECONDS);
    const ip =
      options.clientAddress?.(request.socket.remoteAddress, request.headers) ??
      request.socket.remoteAddress ??
      "unknown";
    // Counted like REST's rate limit: IPv4 by address, IPv6 by /64 (one subscriber's network),
    // so a host cannot multiply its cap by cycling through the addresses of its own /64.
    const group = addressBucketKey(ip);
    if ((perIp.get(group) ?? 0) >= limits.maxConnectionsPerIp)
      return refuse(socket, 429, "Too Many Requests");
    if (reserved >= limits.maxConnections) return refuse(socket, 503, "Service Unavailable");
    // Reserved until the TCP socket closes, whether or not the handshake completes.
    reserved += 1;
    perIp.set(group, (perIp.get(group) ?? 0) + 1);
    socket.once("close", () => release(group));
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (binanceRoute !== null) return binance.open(ws, binanceRoute, ip);
      if (path === undefined) return;
      const connection = new WsConnection(ws, path, ip, {
        exchange,
        feed,
        books,
        secretBox: options.secretBox,
        limits,
        clock,
        logger: options.logger,
        onPrivateDisconnect: options.onPrivateDisconnect,
        sessionRequest: upgradeSessionRequest(request),
        sessionTimes,
      });
      const tracked: Tracked = { connection, socket: ws, alive: true };
      live.add(tracked);
      ws.on("message", (data, isBinary) => connection.receive(toBuffer(data), isBinary));
      ws.on("pong", () => {
        tracked.alive = true;
        connection.notePong();
      });
      ws.on("error", (error) => options.logger?.debug({ err: error, ip }, "ws socket error"));
      ws.on("close", () => {
        live.delete(tracked);
        connection.dispose();
        const cancel = connection.cancelOnDisconnectDone;
        if (cancel !== null) {
          cancelling.add(cancel);
          void cancel.finally(() => cancelling.delete(cancel));
        }
      });
      connection.start();
    });
  };

  const pinger = setInterval(() => {
    for (const tracked of live) {
      if (!tracked.alive) {
        tracked.socket.terminate();
        continue;
      }
      tracked.alive = false;
      tracked.socket.ping();
    }
  }, limits.pingIntervalMs);
  pinger.unref();
  // Idle connections and those past their lifetime are closed (limits.ts IDLE_TIMEOUT_MS, MAX_CONNECTION_LIFETIME_MS).
  const timeouts = setInterval(() => {
    for (const tracked of live) tracked.connection.checkTimeouts();
  }, limits.timeoutCheckIntervalMs);
  timeouts.unref();
  // Browser-session feeds end when their session expires (private-feed.ts).
  const sessionChecker = setInterval(() => {
    feed
      .checkSessionExpiries()
      .catch((error: unknown) => options.logger?.error({ err: error }, "ws session expiry check failed"));
  }, limits.sessionCheckIntervalMs);
  sessionChecker.unref();

  server.on("upgrade", onUpgrade);
  // Serialised once, sent to every open connection; a slow one is dropped by its own buffer rule.
  const stopNotices =
    options.notices?.onNotice((notice) => {
      const text = JSON.stringify(noticeFrame(clock(), notice));
      for (const tracked of live) tracked.connection.sendSerialized(text);
    }) ?? (() => undefined);

  return {
    get connectionCount(): number {
      return live.size + binance.connectionCount;
    },
    get coalescingCount(): number {
      let count = binance.coalescingCount;
      for (const tracked of live) if (tracked.connection.coalescing) count += 1;
      return count;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        server.off("upgrade", onUpgrade);
        stopNotices();
        clearInterval(pinger);
        clearInterval(timeouts);
        clearInterval(sessionChecker);
        // A shutdown is not the client's disconnect: armed connections keep their orders.
        for (const tracked of live) tracked.connection.markServerShutdown();
        await Promise.all([...[...live].map((tracked) => closeSocket(tracked.socket)), binance.close()]);
        // Cancels of connections that dropped before the shutdown finish before the exchange closes.
        await Promise.all([...cancelling]);
        feed.close();
        books.close();
        wss.close();
      })();
      return closing;
    },
  };
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return "";
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

function refuse(socket: Duplex, status: number, text: string, retryAfterSeconds?: number): void {
  const retryAfter = retryAfterSeconds === undefined ? "" : `Retry-After: ${retryAfterSeconds}\r\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\n${retryAfter}Connection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

function closeSocket(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === socket.CLOSED) return resolve();
    const timer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close(CLOSE_GOING_AWAY, "server shutting down");
  });
}

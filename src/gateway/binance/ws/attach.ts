// Binance's WebSocket paths on the gateway's HTTP server, beside EXMO's (src/gateway/ws/server.ts
// does the upgrade: the same per-address and per-gateway caps, payload cap and degraded-mode
// refusal, then hands the socket here):
//
//   /ws, /ws/<stream>[/<stream>…]   raw market streams (payloads as they are)
//   /stream?streams=<a>/<b>/…       combined streams ({"stream":name,"data":payload})
//   /ws/<listenKey>, /stream?streams=<listenKey>, /ws-api/v3
//                                   the user data side (user-data-port.ts), when one is given
//
// Market sockets are pinged every pingIntervalMs and dropped when the previous ping went
// unanswered (the EXMO pinger's rule); their idle and lifetime bounds are EXMO's as well.

import type { Logger } from "pino";
import type { WebSocket } from "ws";
import type { ExchangeBoundary, MarketContext } from "../../../exchange/boundary.ts";
import type { WsLimits } from "../../ws/limits.ts";
import { binanceSymbol } from "../format.ts";
import {
  BinanceStreamConnection,
  type BinanceStreamLimits,
  DEFAULT_BINANCE_STREAM_LIMITS,
} from "./connection.ts";
import { MarketStreams } from "./market-streams.ts";
import { MAX_STREAM_NAME_LENGTH } from "./streams.ts";
import type { BinanceUserDataSockets } from "./user-data-port.ts";

export type { BinanceStreamLimits } from "./connection.ts";

export type BinanceWsRoute =
  | { kind: "market"; names: string[]; combined: boolean }
  | { kind: "listenKey"; listenKey: string; combined: boolean }
  | { kind: "wsApi" };

export interface BinanceWebSocketsOptions {
  limits: WsLimits;
  streamLimits?: Partial<BinanceStreamLimits>;
  userData?: BinanceUserDataSockets | null;
  clock: () => number;
  logger?: Logger;
}

/** How long close() waits for clients to answer the close frame before terminating them. */
const CLOSE_GRACE_MS = 1_000;
const CLOSE_GOING_AWAY = 1001;

interface Tracked {
  connection: BinanceStreamConnection;
  socket: WebSocket;
}

export class BinanceWebSockets {
  private readonly streamLimits: BinanceStreamLimits;
  private readonly userData: BinanceUserDataSockets | null;
  private readonly live = new Set<Tracked>();
  /** Created with the first market socket: a gateway nobody streams from attaches nothing. */
  private streams: MarketStreams | null = null;
  private readonly symbols = new Map<string, MarketContext>();
  private readonly pinger: NodeJS.Timeout;
  private readonly timeouts: NodeJS.Timeout;

  constructor(
    private readonly exchange: ExchangeBoundary,
    private readonly options: BinanceWebSocketsOptions,
  ) {
    this.streamLimits = { ...DEFAULT_BINANCE_STREAM_LIMITS, ...options.streamLimits };
    for (const [name, value] of Object.entries(this.streamLimits))
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`binance ws limit ${name} must be a positive integer`);
    this.userData = options.userData ?? null;
    this.pinger = setInterval(() => this.ping(), options.limits.pingIntervalMs);
    this.pinger.unref();
    this.timeouts = setInterval(() => {
      for (const tracked of this.live) tracked.connection.checkTimeouts();
    }, options.limits.timeoutCheckIntervalMs);
    this.timeouts.unref();
  }

  get connectionCount(): number {
    return this.live.size;
  }

  get coalescingCount(): number {
    let count = 0;
    for (const tracked of this.live) if (tracked.connection.coalescing) count += 1;
    return count;
  }

  /** What an upgrade at `url` is, or null when it is no Binance path (refused 404). */
  route(url: string | undefined): BinanceWsRoute | null {
    if (url === undefined) return null;
    const query = url.indexOf("?");
    const path = query < 0 ? url : url.slice(0, query);
    if (path === "/ws-api/v3") return this.userData === null ? null : { kind: "wsApi" };
    if (path === "/ws" || path === "/ws/") return { kind: "market", names: [], combined: false };
    if (path.startsWith("/ws/")) return this.streamsRoute(splitNames(path.slice("/ws/".length)), false);
    if (path === "/stream" || path === "/stream/") {
      const streams = query < 0 ? null : new URLSearchParams(url.slice(query + 1)).get("streams");
      return this.streamsRoute(streams === null ? [] : splitNames(streams), true);
    }
    return null;
  }

  /** Takes over a socket upgraded at a route (caps already applied by the caller). */
  open(socket: WebSocket, route: BinanceWsRoute, clientAddress: string): void {
    if (route.kind === "wsApi") return this.userData?.openWsApi(socket, clientAddress);
    if (route.kind === "listenKey")
      return this.userData?.openListenKeyStream(socket, route.listenKey, clientAddress, route.combined);
    this.streams ??= new MarketStreams(
      this.exchange,
      this.options.clock,
      { fastMs: this.streamLimits.fastMs, slowMs: this.streamLimits.slowMs },
      this.options.logger,
    );
    const connection = new BinanceStreamConnection(socket, route.combined, clientAddress, {
      streams: this.streams,
      lookup: (symbol) => this.lookup(symbol),
      limits: this.options.limits,
      streamLimits: this.streamLimits,
      clock: this.options.clock,
      monotonicMs: () => performance.now(),
      ...(this.options.logger === undefined ? {} : { logger: this.options.logger }),
    });
    const tracked: Tracked = { connection, socket };
    this.live.add(tracked);
    socket.on("message", (data, isBinary) => connection.receive(toBuffer(data), isBinary));
    socket.on("pong", () => connection.notePong());
    socket.on("error", (error) =>
      this.options.logger?.debug({ err: error, clientAddress }, "binance ws socket error"),
    );
    socket.on("close", () => {
      this.live.delete(tracked);
      connection.dispose();
    });
    connection.start(route.names);
  }

  /** Closes every market socket with 1001 and the user data side's; resolves once they are gone. */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    clearInterval(this.timeouts);
    await Promise.all([
      ...[...this.live].map((tracked) => closeSocket(tracked.socket)),
      this.userData?.close() ?? Promise.resolve(),
    ]);
    this.streams?.close();
    this.streams = null;
  }

  private streamsRoute(names: string[] | null, combined: boolean): BinanceWsRoute {
    // A name that does not decode is kept as is: it is no stream, so the socket gets an error.
    const list = names ?? ["\u0000"];
    const only = list.length === 1 ? list[0] : undefined;
    if (only !== undefined && this.userData?.isListenKey(only) === true)
      return { kind: "listenKey", listenKey: only, combined };
    return { kind: "market", names: list, combined };
  }

  private lookup(lowercaseSymbol: string): MarketContext | undefined {
    let market = this.symbols.get(lowercaseSymbol);
    if (market === undefined && this.symbols.size < this.exchange.markets().length) {
      // Markets are only ever added: rebuild the map when one appeared (bounded by MAX_MARKETS).
      this.symbols.clear();
      for (const candidate of this.exchange.markets())
        this.symbols.set(binanceSymbol(candidate).toLowerCase(), candidate);
      market = this.symbols.get(lowercaseSymbol);
    }
    return market;
  }

  private ping(): void {
    for (const tracked of this.live) {
      if (!tracked.connection.alive) {
        tracked.socket.terminate();
        continue;
      }
      tracked.connection.alive = false;
      tracked.socket.ping();
    }
  }
}

/** Names split on "/", each URL-decoded; null when one does not decode or the list is too long. */
function splitNames(text: string): string[] | null {
  if (text.length > DEFAULT_BINANCE_STREAM_LIMITS.maxStreamsPerConnection * (MAX_STREAM_NAME_LENGTH + 1))
    return null;
  const names: string[] = [];
  for (const part of text.split("/")) {
    if (part === "") continue;
    try {
      names.push(decodeURIComponent(part));
    } catch {
      return null;
    }
  }
  return names;
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

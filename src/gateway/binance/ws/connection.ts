// One Binance market stream socket (/ws, /ws/<streams>, /stream?streams=…): its streams (at
// most maxStreamsPerConnection), its requests (frames.ts; at most maxInboundMessagesPerSecond,
// over it the socket is closed as Binance closes it), and its output with a bound on unsent bytes.
//
// Output: trades and diff books are sent in order; past coalesceBufferedBytes unsent, the
// latest-state streams (tickers, klines, partial books, best bid/ask) keep only their newest
// payload until the client caught up; past maxBufferedBytes the client is a slow consumer and is
// dropped (terminate: a close frame would wait behind the same full buffer).

import type { Logger } from "pino";
import type { WebSocket } from "ws";
import type { MarketContext } from "../../../exchange/boundary.ts";
import { TokenBucket } from "../../guard/token-bucket.ts";
import { LIFETIME_JITTER_PERCENT, type WsLimits } from "../../ws/limits.ts";
import { errorFrame, parseFrame, resultFrame, type StreamRequest } from "./frames.ts";
import type { MarketStreams, StreamSink } from "./market-streams.ts";
import { type MarketStream, parseStreamName } from "./streams.ts";

export interface BinanceStreamLimits {
  /** Binance: 1024 streams per connection. */
  maxStreamsPerConnection: number;
  /** Binance: 5 incoming messages per second; a socket over it is closed. */
  maxInboundMessagesPerSecond: number;
  /** Update speeds (market-streams.ts); tests shorten them. */
  fastMs: number;
  slowMs: number;
}

export const DEFAULT_BINANCE_STREAM_LIMITS: Readonly<BinanceStreamLimits> = {
  maxStreamsPerConnection: 1_024,
  maxInboundMessagesPerSecond: 5,
  fastMs: 100,
  slowMs: 1_000,
};

export const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_NORMAL = 1000;
const CLOSE_INTERNAL_ERROR = 1011;
const OPEN = 1;

/** ccxt opens /ws/<n>, n its connection index (0..49): Binance takes it as a socket with no stream. */
const CONNECTION_INDEX = /^[0-9]{1,4}$/;

export type StreamSocket = Pick<WebSocket, "readyState" | "bufferedAmount" | "send" | "terminate" | "close">;

export interface StreamConnectionDeps {
  streams: MarketStreams;
  lookup: (lowercaseSymbol: string) => MarketContext | undefined;
  limits: WsLimits;
  streamLimits: BinanceStreamLimits;
  clock: () => number;
  monotonicMs: () => number;
  logger?: Logger;
}

export class BinanceStreamConnection implements StreamSink {
  /** Subscribed streams in subscription order (LIST_SUBSCRIPTIONS answers in it). */
  private readonly streams = new Map<string, MarketStream>();
  private readonly rate: TokenBucket;
  private closed = false;
  /** Answered the last ping (the gateway's pinger reads and resets it). */
  alive = true;
  private readonly openedAtMs: number;
  private readonly lifetimeMs: number;
  private lastActivityMs: number;
  /** Latest-state payloads held while the client is behind, newest per stream. */
  private held: Map<string, string> | null = null;
  private catchUpTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: StreamSocket,
    private combined: boolean,
    readonly remoteAddress: string,
    private readonly deps: StreamConnectionDeps,
  ) {
    const perSecond = deps.streamLimits.maxInboundMessagesPerSecond;
    this.rate = new TokenBucket({ ratePerSecond: perSecond, burst: perSecond }, deps.clock());
    this.openedAtMs = deps.monotonicMs();
    this.lastActivityMs = this.openedAtMs;
    const jitterMs = Math.floor(
      (deps.limits.maxConnectionLifetimeMs * LIFETIME_JITTER_PERCENT * Math.random()) / 100,
    );
    this.lifetimeMs = deps.limits.maxConnectionLifetimeMs - jitterMs;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  get coalescing(): boolean {
    return this.held !== null;
  }

  /** The streams named in the URL; one that is not a stream gets an error and the socket closes. */
  start(names: readonly string[]): void {
    const wanted = names.filter((name) => !CONNECTION_INDEX.test(name));
    const parsed = this.parseAll(wanted);
    if (parsed === null || parsed.length > this.deps.streamLimits.maxStreamsPerConnection) {
      this.sendText(errorFrame(null, parsed === null ? "invalidStream" : "tooManyStreams"));
      this.shut(CLOSE_POLICY_VIOLATION, "invalid stream");
      return;
    }
    for (const stream of parsed) this.add(stream);
  }

  receive(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    this.lastActivityMs = this.deps.monotonicMs();
    if (this.rate.tryTake(this.deps.clock()) !== 0) {
      this.shut(CLOSE_POLICY_VIOLATION, "too many messages");
      return;
    }
    const parsed = parseFrame(
      isBinary ? null : data.toString("utf8"),
      this.deps.streamLimits.maxStreamsPerConnection,
    );
    if (!parsed.ok) {
      this.sendText(errorFrame(parsed.id, parsed.error));
      return;
    }
    this.handle(parsed.request);
  }

  notePong(): void {
    this.alive = true;
    if (this.streams.size > 0) this.lastActivityMs = this.deps.monotonicMs();
  }

  /** Lifetime (24 h less jitter, as Binance's) and idle (no stream, no message) bounds. */
  checkTimeouts(): void {
    if (this.closed) return;
    const nowMs = this.deps.monotonicMs();
    if (nowMs - this.openedAtMs >= this.lifetimeMs)
      this.shut(CLOSE_GOING_AWAY, "connection lifetime reached");
    else if (nowMs - this.lastActivityMs >= this.deps.limits.idleTimeoutMs)
      this.shut(CLOSE_NORMAL, "idle timeout");
  }

  /** The socket closed (either side): release every stream. Idempotent. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.catchUpTimer !== null) clearInterval(this.catchUpTimer);
    this.catchUpTimer = null;
    this.held = null;
    for (const name of this.streams.keys()) this.deps.streams.unsubscribe(this, name);
    this.streams.clear();
  }

  shut(code: number, reason: string): void {
    if (this.socket.readyState === OPEN) this.socket.close(code, reason);
    this.dispose();
  }

  // ---- StreamSink ------------------------------------------------------------------------------

  deliver(stream: string, payload: string, latest: boolean): void {
    if (this.closed || !this.streams.has(stream)) return;
    if (latest && this.fallingBehind()) {
      this.held!.set(stream, payload);
      return;
    }
    this.sendText(this.combined ? `{"stream":${JSON.stringify(stream)},"data":${payload}}` : payload);
  }

  lost(reason: string): void {
    this.deps.logger?.info({ remoteAddress: this.remoteAddress, reason }, "binance ws: stream source lost");
    this.shut(CLOSE_INTERNAL_ERROR, "stream source lost, reconnect");
  }

  // ---- requests --------------------------------------------------------------------------------

  private handle(request: StreamRequest): void {
    switch (request.method) {
      case "SUBSCRIBE":
        return this.subscribe(request.id, request.params);
      case "UNSUBSCRIBE": {
        const parsed = this.parseAll(request.params);
        if (parsed === null) return this.sendText(errorFrame(request.id, "invalidStream"));
        for (const stream of parsed) {
          if (!this.streams.delete(stream.name)) continue;
          this.held?.delete(stream.name);
          this.deps.streams.unsubscribe(this, stream.name);
        }
        return this.sendText(resultFrame(request.id, null));
      }
      case "LIST_SUBSCRIPTIONS":
        return this.sendText(resultFrame(request.id, [...this.streams.keys()]));
      case "SET_PROPERTY":
        this.combined = request.combined;
        return this.sendText(resultFrame(request.id, null));
      case "GET_PROPERTY":
        return this.sendText(resultFrame(request.id, this.combined));
    }
  }

  /** All or nothing: one bad name, or one stream past the bound, and nothing is subscribed. */
  private subscribe(id: number | string | null, names: readonly string[]): void {
    const parsed = this.parseAll(names);
    if (parsed === null) return this.sendText(errorFrame(id, "invalidStream"));
    const fresh = new Map<string, MarketStream>();
    for (const stream of parsed) if (!this.streams.has(stream.name)) fresh.set(stream.name, stream);
    if (this.streams.size + fresh.size > this.deps.streamLimits.maxStreamsPerConnection)
      return this.sendText(errorFrame(id, "tooManyStreams"));
    // The answer goes first; a stream may push at once (best bid/ask).
    this.sendText(resultFrame(id, null));
    for (const stream of fresh.values()) {
      if (this.closed) return;
      this.add(stream);
    }
  }

  private add(stream: MarketStream): void {
    if (this.streams.has(stream.name)) return;
    this.streams.set(stream.name, stream);
    this.deps.streams.subscribe(this, stream);
  }

  private parseAll(names: readonly string[]): MarketStream[] | null {
    const parsed: MarketStream[] = [];
    for (const name of names) {
      const stream = parseStreamName(name, this.deps.lookup);
      if (stream === null) return null;
      parsed.push(stream);
    }
    return parsed;
  }

  // ---- output ----------------------------------------------------------------------------------

  private fallingBehind(): boolean {
    if (this.held !== null) return true;
    if (this.socket.bufferedAmount <= this.deps.limits.coalesceBufferedBytes) return false;
    this.held = new Map();
    this.catchUpTimer = setInterval(() => this.catchUpIfDrained(), this.deps.limits.coalesceCheckIntervalMs);
    this.catchUpTimer.unref();
    return true;
  }

  private catchUpIfDrained(): void {
    const held = this.held;
    if (held === null || this.closed) return;
    if (this.socket.bufferedAmount > this.deps.limits.coalesceBufferedBytes / 2) return;
    if (this.catchUpTimer !== null) clearInterval(this.catchUpTimer);
    this.catchUpTimer = null;
    this.held = null;
    for (const [stream, payload] of held) this.deliver(stream, payload, true);
  }

  private sendText(text: string): void {
    if (this.closed || this.socket.readyState !== OPEN) return;
    this.socket.send(text);
    if (this.socket.bufferedAmount > this.deps.limits.maxBufferedBytes) {
      this.deps.logger?.warn({ remoteAddress: this.remoteAddress }, "binance ws: slow consumer dropped");
      this.socket.terminate();
      this.dispose();
    }
  }
}

// One EXMO WebSocket connection (docs/API.md#websocket): greeting, rate-limited inbound frames handled one
// at a time in arrival order, subscriptions (public from market data, private from a session),
// login, and output with a hard bound on what may wait unsent.
//
// Output: market-data updates queue in bounded hub subscribers and are drained in a microtask
// after each batch; private updates are sent as they come. Every send checks the socket's
// buffered bytes; past maxBufferedBytes the client is a slow consumer and is dropped at once
// (terminate: a close frame would wait behind the same full buffer). It reconnects and
// resubscribes, getting fresh snapshots, which is cheaper than replaying what it missed.

import type { Logger } from "pino";
import type { WebSocket } from "ws";
import type { SecretBox } from "../../accounts/secret-box.ts";
import type { ExchangeBoundary, MarketContext } from "../../exchange/boundary.ts";
import type { MarketDataUpdate, Subscriber, Topic } from "../../marketdata/subscriptions.ts";
import { nonceGateFor } from "../auth/nonce-gate.ts";
import type { ExmoErrorKind } from "../exmo/errors.ts";
import { formatPublicTrade, formatTicker } from "../exmo/format.ts";
import { DEFAULT_SESSION_TIMES, type SessionRequest, type SessionTimes } from "../session/session-auth.ts";
import type { BookSnapshots, SnapshotWatcher } from "./book-snapshots.ts";
import { cancelOnDisconnect } from "./cancel-on-disconnect.ts";
import { bookData } from "./format.ts";
import { LIFETIME_JITTER_PERCENT, type WsLimits } from "./limits.ts";
import { type LoginResult, verifyLogin } from "./login.ts";
import type { AccessLost, PrivateFeed } from "./private-feed.ts";
import { PrivateSession } from "./private-session.ts";
import {
  type CancelOnDisconnectRequest,
  type ClientRequest,
  cancelOnDisconnectFrame,
  dataFrame,
  errorFrame,
  greetingFrame,
  type LoginRequest,
  loggedInFrame,
  parseClientFrame,
  type ServerFrame,
  type SessionLoginRequest,
  type SubscribeRequest,
  subscribedFrame,
  unsubscribedFrame,
} from "./protocol.ts";
import { InboundRateLimit } from "./rate-limit.ts";
import { verifySessionLogin } from "./session-login.ts";
import { HUB_KIND, type PrivateChannel, parseTopic, topicName, type WsTopic } from "./topics.ts";

export type WsPath = "public" | "private";

/** Close codes (RFC 6455 §7.4.1): 1008 policy violation, 1001 going away, 1000 normal. */
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_NORMAL = 1000;
/** `info` frame codes before a planned close (docs/API.md#ws-limits): lifetime reached, idle. */
export const LIFETIME_INFO_CODE = 3002;
export const IDLE_INFO_CODE = 3003;
export const LIFETIME_CLOSE_REASON = "connection lifetime reached, reconnect";
export const IDLE_CLOSE_REASON = "idle timeout";

/**
 * Market data held back while a client is behind (docs/API.md#ws-coalescing): per topic name, the
 * latest ticker / book-snapshot frame, the order-book-updates topics to re-snapshot, and every
 * trade. Bounded by the connection's topics (at most maxTopicsPerConnection) and maxCoalescedTrades.
 */
interface Behind {
  latest: Map<string, { event: "snapshot" | "update"; data: unknown }>;
  resnapshot: Map<string, Topic>;
  trades: Map<string, unknown[]>;
  tradeCount: number;
  timer: NodeJS.Timeout;
}

/** Who logged in on a connection that is now closing, and whether its orders are being cancelled. */
export interface PrivateDisconnect {
  userId: number;
  keyId: string;
  /** The connection was armed (cancel_on_disconnect) and the close was not the server's shutdown. */
  cancellingOrders: boolean;
}

export interface ConnectionDeps {
  exchange: ExchangeBoundary;
  feed: PrivateFeed;
  books: BookSnapshots;
  secretBox: SecretBox;
  limits: WsLimits;
  clock: () => number;
  logger?: Logger;
  /** Called once when a logged-in connection closes (after cancel-on-disconnect, if armed, was submitted). */
  onPrivateDisconnect?: (who: PrivateDisconnect) => void;
  /** The upgrade request's cookie, Origin and Host: what a session login checks. */
  sessionRequest?: SessionRequest;
  /** Default: the session API's (session-auth.ts). */
  sessionTimes?: SessionTimes;
  /**
   * Monotonic milliseconds for the idle timeout and the lifetime (default performance.now):
   * socket bounds follow real time, not the wall clock that `clock` gives (which tests move).
   */
  monotonicMs?: () => number;
}

/** The part of a `ws` socket a connection uses; a narrow type keeps the slow-consumer rule testable. */
export type FrameSocket = Pick<WebSocket, "readyState" | "bufferedAmount" | "send" | "terminate" | "close">;

const OPEN = 1;
/** Hub updates taken per subscriber per drain: its whole queue bound. */
const MAX_DRAIN_PER_SUBSCRIBER = 1_024;

export class WsConnection implements SnapshotWatcher {
  private readonly topics = new Map<string, WsTopic>();
  /** Market-data subscribers of this connection; several when it has more topics than one may hold. */
  private readonly hubSubscribers: Subscriber[] = [];
  /** Hub topic key → the subscriber holding it. */
  private readonly hubOwner = new Map<string, Subscriber>();
  private readonly rate: InboundRateLimit;
  private pendingInbound = 0;
  private inbound: Promise<void> = Promise.resolve();
  private drainScheduled = false;
  private session: PrivateSession | null = null;
  private login:
    | { state: "none" | "pending" }
    | { state: "done"; userId: number; keyId: string; mayTrade: boolean } = {
    state: "none",
  };
  /** Armed by a `cancel_on_disconnect` frame after login (docs/API.md#ws-cancel-on-disconnect). */
  private cancelOnDisconnect = false;
  /** The server is shutting down: its close is no disconnect of the client's, nothing is cancelled. */
  private serverShutdown = false;
  /** The cancelAll submitted on close, if any; resolves when it is durable or given up (for tests, shutdown). */
  private cancelling: Promise<void> | null = null;
  private loginTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly monotonicMs: () => number;
  private readonly openedAtMs: number;
  /** maxConnectionLifetimeMs less a random jitter, so connections opened together end apart. */
  private readonly lifetimeMs: number;
  /** Last inbound message, or pong while the connection holds a topic or a login. */
  private lastActivityMs: number;
  private behind: Behind | null = null;

  constructor(
    private readonly socket: FrameSocket,
    readonly path: WsPath,
    readonly remoteAddress: string,
    private readonly deps: ConnectionDeps,
  ) {
    this.rate = new InboundRateLimit(
      deps.limits.maxInboundMessagesPerSecond,
      deps.limits.maxRateLimitStrikes,
      deps.clock,
    );
    this.monotonicMs = deps.monotonicMs ?? (() => performance.now());
    this.openedAtMs = this.monotonicMs();
    this.lastActivityMs = this.openedAtMs;
    const jitterMs = Math.floor(
      (deps.limits.maxConnectionLifetimeMs * LIFETIME_JITTER_PERCENT * Math.random()) / 100,
    );
    this.lifetimeMs = deps.limits.maxConnectionLifetimeMs - jitterMs;
  }

  get loggedInUserId(): number | null {
    return this.login.state === "done" ? this.login.userId : null;
  }

  get topicCount(): number {
    return this.topics.size;
  }

  /** The cancel-on-disconnect submitted when this connection closed, or null when none was. */
  get cancelOnDisconnectDone(): Promise<void> | null {
    return this.cancelling;
  }

  /** Called by the gateway's close() before it closes this socket: that close cancels nothing. */
  markServerShutdown(): void {
    this.serverShutdown = true;
  }

  start(): void {
    this.send(greetingFrame(this.deps.clock()));
    if (this.path === "private")
      this.loginTimer = setTimeout(() => this.loginDeadline(), this.deps.limits.loginDeadlineMs);
  }

  /** A text or binary frame from the client; `ws` already refused frames over maxPayload. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    this.lastActivityMs = this.monotonicMs();
    const decision = this.rate.take();
    if (decision === "close") {
      this.send(errorFrame(this.deps.clock(), undefined, "rateLimited"));
      this.shut(CLOSE_POLICY_VIOLATION, "rate limit");
      return;
    }
    if (decision === "refuse" || this.pendingInbound >= this.deps.limits.maxPendingInboundMessages) {
      this.sendError(undefined, "rateLimited");
      return;
    }
    const text = isBinary ? null : data.toString("utf8");
    this.pendingInbound += 1;
    this.inbound = this.inbound
      .then(() => this.handle(text))
      .catch((error: unknown) => {
        this.deps.logger?.error({ err: error }, "ws message handling failed");
        this.sendError(undefined, "internalError");
      })
      .finally(() => {
        this.pendingInbound -= 1;
      });
  }

  /** A pong: keeps a connection that holds a topic or a login from being idle (limits.ts IDLE_TIMEOUT_MS). */
  notePong(): void {
    if (this.topics.size > 0 || this.login.state === "done") this.lastActivityMs = this.monotonicMs();
  }

  /** Closes the connection past its lifetime or idle timeout (docs/SECURITY.md#websocket-limits). */
  checkTimeouts(): void {
    if (this.closed) return;
    const nowMs = this.monotonicMs();
    const ts = this.deps.clock();
    if (nowMs - this.openedAtMs >= this.lifetimeMs) {
      // The client is alive and will reconnect: like a shutdown, this close cancels no orders.
      this.serverShutdown = true;
      this.send({ ts, event: "info", code: LIFETIME_INFO_CODE, message: LIFETIME_CLOSE_REASON });
      this.shut(CLOSE_GOING_AWAY, LIFETIME_CLOSE_REASON);
      return;
    }
    if (nowMs - this.lastActivityMs >= this.deps.limits.idleTimeoutMs) {
      this.send({ ts, event: "info", code: IDLE_INFO_CODE, message: IDLE_CLOSE_REASON });
      this.shut(CLOSE_NORMAL, IDLE_CLOSE_REASON);
    }
  }

  /** Whether market data is being coalesced because the client fell behind (docs/API.md#ws-coalescing). */
  get coalescing(): boolean {
    return this.behind !== null;
  }

  /** The socket closed (either side): release everything. Idempotent. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.behind !== null) clearInterval(this.behind.timer);
    this.behind = null;
    if (this.loginTimer !== null) clearTimeout(this.loginTimer);
    for (const subscriber of this.hubSubscribers) this.deps.exchange.marketData.closeSubscriber(subscriber);
    this.hubSubscribers.length = 0;
    this.hubOwner.clear();
    for (const topic of this.topics.values())
      if (topic.scope === "public" && topic.channel === "spot/order_book_snapshots")
        this.deps.books.unwatch(this, topic.market);
    this.topics.clear();
    if (this.session !== null) {
      this.session.close();
      this.deps.feed.remove(this.session);
    }
    if (this.login.state === "done") {
      // Any close but the server's shutdown: client gone, socket dropped, ping timeout, slow
      // consumer, flood, key revoked or user frozen. One cancelAll per closing connection.
      const cancellingOrders = this.cancelOnDisconnect && !this.serverShutdown;
      if (cancellingOrders)
        this.cancelling = cancelOnDisconnect(this.deps.exchange, this.login.userId, this.deps.logger);
      const who = { userId: this.login.userId, keyId: this.login.keyId, cancellingOrders };
      try {
        this.deps.onPrivateDisconnect?.(who);
      } catch (error) {
        this.deps.logger?.error({ err: error }, "onPrivateDisconnect failed");
      }
    }
  }

  /** Closes with a code the client sees, then drops the socket if it does not finish closing. */
  shut(code: number, reason: string): void {
    if (this.socket.readyState === OPEN) this.socket.close(code, reason);
  }

  // ---- SnapshotWatcher -------------------------------------------------------------------------

  sendBookSnapshot(market: MarketContext, data: unknown): void {
    this.sendLatest(topicName("spot/order_book_snapshots", market), "update", data);
  }

  bookFeedLost(market: MarketContext): void {
    this.topics.delete(topicName("spot/order_book_snapshots", market));
    this.dropSlowConsumer();
  }

  // ---- inbound ---------------------------------------------------------------------------------

  private async handle(text: string | null): Promise<void> {
    if (this.closed) return;
    if (text === null) {
      this.sendError(undefined, "invalidParameter", "message");
      return;
    }
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.sendError(parsed.id, parsed.kind, parsed.detail);
      return;
    }
    await this.dispatch(parsed.request);
  }

  private async dispatch(request: ClientRequest): Promise<void> {
    if (request.method === "login") return this.handleLogin(request);
    if (request.method === "cancel_on_disconnect") return this.handleCancelOnDisconnect(request);
    for (const name of request.topics) {
      if (this.closed) return;
      if (request.method === "subscribe") this.subscribeTopic(request, name);
      else this.unsubscribeTopic(request, name);
    }
  }

  private resolveTopic(request: SubscribeRequest, name: string): WsTopic | null {
    const parsed = parseTopic(name, (symbol) => this.deps.exchange.marketBySymbol(symbol));
    if (!parsed.ok) {
      this.sendError(
        request.id,
        parsed.problem === "unknownPair" ? "unknownPair" : "unknownFunction",
        parsed.detail,
      );
      return null;
    }
    if (parsed.topic.scope === "private" && this.path !== "private") {
      this.sendError(request.id, "unknownFunction", name);
      return null;
    }
    if (parsed.topic.scope === "private" && (this.session === null || !this.session.ready)) {
      this.sendError(request.id, "noPermission", "login first");
      return null;
    }
    return parsed.topic;
  }

  private subscribeTopic(request: SubscribeRequest, name: string): void {
    const topic = this.resolveTopic(request, name);
    if (topic === null) return;
    const ts = this.deps.clock();
    if (this.topics.has(name)) {
      this.send(subscribedFrame(ts, request.id, name));
      return;
    }
    if (this.topics.size >= this.deps.limits.maxTopicsPerConnection) {
      this.sendError(request.id, "limitReached", `at most ${this.deps.limits.maxTopicsPerConnection} topics`);
      return;
    }
    if (topic.scope === "public") this.subscribePublic(request, topic);
    else this.subscribePrivate(request, topic.name, topic.channel);
  }

  private subscribePublic(request: SubscribeRequest, topic: WsTopic & { scope: "public" }): void {
    const kind = HUB_KIND[topic.channel];
    if (kind === null) {
      // The ack goes first; a shared mirror that is current sends the book at once.
      this.topics.set(topic.name, topic);
      this.send(subscribedFrame(this.deps.clock(), request.id, topic.name));
      if (!this.deps.books.watch(this, topic.market)) {
        this.topics.delete(topic.name);
        this.sendError(request.id, "limitReached", "market data subscribers");
      }
      return;
    }
    const hubTopic: Topic = { kind, marketId: topic.market.config.marketId };
    const subscriber = this.subscriberWithRoom();
    if (subscriber === null) {
      this.sendError(request.id, "limitReached", "market data subscribers");
      return;
    }
    // Subscribing queues the snapshot; it is drained in a microtask, so the ack below precedes it.
    const result = this.deps.exchange.marketData.subscribe(subscriber, hubTopic);
    if (result !== "subscribed") {
      this.sendError(request.id, "limitReached", `market data: ${result}`);
      return;
    }
    this.hubOwner.set(hubKey(hubTopic), subscriber);
    this.topics.set(topic.name, topic);
    this.send(subscribedFrame(this.deps.clock(), request.id, topic.name));
  }

  private subscribePrivate(request: SubscribeRequest, name: string, channel: PrivateChannel): void {
    const session = this.session!;
    this.topics.set(name, { scope: "private", name, channel });
    const ts = this.deps.clock();
    this.send(subscribedFrame(ts, request.id, name));
    if (channel === "spot/wallet") this.send(dataFrame(ts, "snapshot", name, session.walletSnapshot()));
    else if (channel === "spot/orders") this.send(dataFrame(ts, "snapshot", name, session.ordersSnapshot()));
  }

  private unsubscribeTopic(request: SubscribeRequest, name: string): void {
    const topic = this.topics.get(name);
    if (topic === undefined) {
      this.sendError(request.id, "invalidParameter", `topics: not subscribed to ${name}`);
      return;
    }
    this.topics.delete(name);
    if (topic.scope === "public") {
      const kind = HUB_KIND[topic.channel];
      if (kind === null) this.deps.books.unwatch(this, topic.market);
      else this.leaveHubTopic({ kind, marketId: topic.market.config.marketId });
    }
    this.send(unsubscribedFrame(this.deps.clock(), request.id, name));
  }

  private async handleLogin(request: LoginRequest | SessionLoginRequest): Promise<void> {
    if (this.path !== "private") {
      this.sendError(request.id, "unknownFunction", "login on /v1/public");
      return;
    }
    if (this.login.state !== "none") {
      this.sendError(request.id, "invalidParameter", "login: already logged in");
      return;
    }
    this.login = { state: "pending" };
    const { exchange, secretBox } = this.deps;
    const bySession = "session" in request;
    const result: LoginResult = bySession
      ? await verifySessionLogin(
          {
            accounts: exchange.accounts,
            times: this.deps.sessionTimes ?? DEFAULT_SESSION_TIMES,
            clock: this.deps.clock,
          },
          this.deps.sessionRequest,
        )
      : await verifyLogin(
          { accounts: exchange.accounts, secretBox, nonceGate: nonceGateFor(exchange) },
          request,
          this.remoteAddress,
          this.deps.clock(),
        );
    if (this.closed) return;
    if (!result.ok) {
      this.login = { state: "none" };
      this.deps.logger?.info(
        { reason: result.reason, remoteAddress: this.remoteAddress },
        "ws login refused",
      );
      // A session's refusal says why (expired, revoked, another site); a key's stays terse.
      if (bySession) this.sendError(request.id, result.kind, result.reason);
      else this.sendError(request.id, result.kind);
      return;
    }
    const session = new PrivateSession(
      result.userId,
      result.keyId,
      exchange,
      {
        push: (channel, event, data) => this.pushPrivate(channel, event, data),
        overflow: () => this.dropSlowConsumer(),
        accessLost: (lost) => this.loseAccess(lost),
      },
      this.deps.limits.maxEventsBufferedDuringLoad,
    );
    this.session = session;
    this.deps.feed.add(session);
    try {
      await session.load(this.deps.feed.lastSeenSequence);
    } catch (error) {
      // Back to logged out; the caller answers internalError and the client may log in again.
      session.close();
      this.deps.feed.remove(session);
      this.session = null;
      this.login = { state: "none" };
      throw error;
    }
    if (this.closed) return;
    // The session was in the feed before this check: a key revoked or a user frozen since
    // verifyLogin is seen here, a later change by the feed's account listener.
    const lost = await this.deps.feed.accessLost(session);
    if (this.closed) return;
    if (lost !== null) {
      session.revoke(lost);
      return;
    }
    this.login = { state: "done", userId: result.userId, keyId: result.keyId, mayTrade: result.mayTrade };
    if (this.loginTimer !== null) clearTimeout(this.loginTimer);
    this.loginTimer = null;
    this.send(loggedInFrame(this.deps.clock(), request.id));
  }

  private handleCancelOnDisconnect(request: CancelOnDisconnectRequest): void {
    if (this.path !== "private") {
      this.sendError(request.id, "unknownFunction", "cancel_on_disconnect on /v1/public");
      return;
    }
    if (this.login.state !== "done") {
      this.sendError(request.id, "noPermission", "login first");
      return;
    }
    // It cancels orders, so it asks what REST's order_cancel asks of the key.
    if (request.enabled && !this.login.mayTrade) {
      this.sendError(request.id, "noPermission", "key lacks scope trade");
      return;
    }
    this.cancelOnDisconnect = request.enabled;
    this.send(cancelOnDisconnectFrame(this.deps.clock(), request.id, request.enabled));
  }

  private loginDeadline(): void {
    this.loginTimer = null;
    if (this.closed || this.login.state === "done") return;
    this.sendError(undefined, "noPermission", "login deadline passed");
    this.shut(CLOSE_POLICY_VIOLATION, "login deadline");
  }

  /**
   * The session's key was revoked or its user is no longer active (PrivateFeed): an error frame,
   * then close 1008; nothing more is sent or handled on this connection.
   */
  private loseAccess(lost: AccessLost): void {
    if (this.closed) return;
    this.deps.logger?.info(
      { remoteAddress: this.remoteAddress, userId: this.session?.userId, reason: lost.detail },
      "ws private session closed: account changed",
    );
    this.sendError(undefined, lost.kind, lost.detail);
    this.shut(CLOSE_POLICY_VIOLATION, lost.detail);
    this.dispose();
  }

  // ---- market data -----------------------------------------------------------------------------

  private subscriberWithRoom(): Subscriber | null {
    const marketData = this.deps.exchange.marketData;
    const perSubscriber = marketData.subscriptionLimits.maxTopicsPerSubscriber;
    for (const subscriber of this.hubSubscribers)
      if (subscriber.topics.size < perSubscriber) return subscriber;
    const subscriber = marketData.createSubscriber({
      onReadable: () => this.scheduleDrain(),
      onDrop: () => this.dropSlowConsumer(),
    });
    if (subscriber !== null) this.hubSubscribers.push(subscriber);
    return subscriber;
  }

  private leaveHubTopic(topic: Topic): void {
    const key = hubKey(topic);
    const subscriber = this.hubOwner.get(key);
    if (subscriber === undefined) return;
    this.hubOwner.delete(key);
    this.deps.exchange.marketData.unsubscribe(subscriber, topic);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => this.drainHub());
  }

  private drainHub(): void {
    this.drainScheduled = false;
    for (const subscriber of this.hubSubscribers)
      for (const update of subscriber.drain(MAX_DRAIN_PER_SUBSCRIBER)) {
        if (this.closed) return;
        this.sendMarketData(update);
      }
  }

  private sendMarketData(update: MarketDataUpdate): void {
    const market = this.deps.exchange.market(update.marketId);
    if (market === undefined) return;
    switch (update.topic) {
      case "ticker":
        this.sendLatest(topicName("spot/ticker", market), update.event, formatTicker(market, update.ticker));
        return;
      case "trades":
        this.sendTrades(
          topicName("spot/trades", market),
          update.trades.map((trade) => formatPublicTrade(market, trade)),
        );
        return;
      case "depth": {
        const name = topicName("spot/order_book_updates", market);
        if (!this.topics.has(name)) return;
        if (this.fallingBehind()) {
          // Deltas are dropped for a fresh snapshot once the client catches up.
          this.behind!.resnapshot.set(name, { kind: "depth", marketId: update.marketId });
          return;
        }
        const data = bookData(market, update.depth.bids, update.depth.asks);
        this.send(dataFrame(this.deps.clock(), update.event, name, data));
        return;
      }
    }
  }

  // ---- coalescing (docs/API.md#ws-coalescing) ---------------------------------------------------

  /**
   * Whether market data must be held back: the client is behind already, or its unsent output
   * just passed coalesceBufferedBytes (then coalescing starts).
   */
  private fallingBehind(): boolean {
    if (this.behind !== null) return true;
    if (this.socket.bufferedAmount <= this.deps.limits.coalesceBufferedBytes) return false;
    this.behind = {
      latest: new Map(),
      resnapshot: new Map(),
      trades: new Map(),
      tradeCount: 0,
      timer: setInterval(() => this.catchUpIfDrained(), this.deps.limits.coalesceCheckIntervalMs),
    };
    this.behind.timer.unref();
    this.deps.logger?.debug(
      { remoteAddress: this.remoteAddress },
      "ws client behind: coalescing market data",
    );
    return true;
  }

  /** A ticker or order-book-snapshots frame: when behind, only the latest per topic is kept. */
  private sendLatest(name: string, event: "snapshot" | "update", data: unknown): void {
    if (!this.topics.has(name)) return;
    if (!this.fallingBehind()) {
      this.send(dataFrame(this.deps.clock(), event, name, data));
      return;
    }
    const latest = this.behind!.latest;
    // A snapshot stays a snapshot when updates follow it before the client caught up.
    const held = latest.get(name);
    latest.set(name, { event: held?.event === "snapshot" ? "snapshot" : event, data });
  }

  /** Trades are kept, never dropped silently: past maxCoalescedTrades the client is dropped as slow. */
  private sendTrades(name: string, trades: unknown[]): void {
    if (!this.topics.has(name) || trades.length === 0) return;
    if (!this.fallingBehind()) {
      this.send(dataFrame(this.deps.clock(), "update", name, trades));
      return;
    }
    const behind = this.behind!;
    behind.tradeCount += trades.length;
    if (behind.tradeCount > this.deps.limits.maxCoalescedTrades) {
      this.dropSlowConsumer();
      return;
    }
    const kept = behind.trades.get(name);
    if (kept === undefined) behind.trades.set(name, [...trades]);
    else for (const trade of trades) kept.push(trade);
  }

  /** Once the buffer is down to half the threshold: the held-back state, then live frames again. */
  private catchUpIfDrained(): void {
    const behind = this.behind;
    if (behind === null || this.closed) return;
    if (this.socket.bufferedAmount > this.deps.limits.coalesceBufferedBytes / 2) return;
    clearInterval(behind.timer);
    this.behind = null;
    for (const [name, topic] of behind.resnapshot) this.resnapshot(name, topic);
    for (const [name, frame] of behind.latest) this.sendLatest(name, frame.event, frame.data);
    for (const [name, trades] of behind.trades) this.sendTrades(name, trades);
  }

  /** Leaving and re-joining the hub's depth topic queues a fresh snapshot (MarketData.subscribe). */
  private resnapshot(name: string, topic: Topic): void {
    if (!this.topics.has(name)) return;
    const subscriber = this.hubOwner.get(hubKey(topic));
    if (subscriber === undefined) return;
    const marketData = this.deps.exchange.marketData;
    marketData.unsubscribe(subscriber, topic);
    if (marketData.subscribe(subscriber, topic) !== "subscribed") this.dropSlowConsumer();
  }

  private pushPrivate(channel: PrivateChannel, event: "snapshot" | "update", data: unknown): void {
    if (this.topics.has(channel)) this.send(dataFrame(this.deps.clock(), event, channel, data));
  }

  // ---- output ----------------------------------------------------------------------------------

  /** A frame already serialised once for every connection (an incident notice); slow-consumer rule applies. */
  sendSerialized(text: string): void {
    if (this.closed || this.socket.readyState !== OPEN) return;
    this.socket.send(text);
    if (this.socket.bufferedAmount > this.deps.limits.maxBufferedBytes) this.dropSlowConsumer();
  }

  private sendError(id: number | undefined, kind: ExmoErrorKind, detail?: string): void {
    this.send(errorFrame(this.deps.clock(), id, kind, detail));
  }

  private send(frame: ServerFrame): void {
    if (this.closed || this.socket.readyState !== OPEN) return;
    this.socket.send(JSON.stringify(frame));
    if (this.socket.bufferedAmount > this.deps.limits.maxBufferedBytes) this.dropSlowConsumer();
  }

  private dropSlowConsumer(): void {
    if (this.closed) return;
    this.deps.logger?.warn({ remoteAddress: this.remoteAddress }, "ws slow consumer dropped");
    this.socket.terminate();
    // terminate() emits 'close' later; stop producing for this socket now.
    this.dispose();
  }
}

function hubKey(topic: Topic): string {
  return `${topic.kind}:${topic.marketId}`;
}

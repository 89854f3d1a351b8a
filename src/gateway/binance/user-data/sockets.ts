// The Binance user data sockets (docs/API.md §17, "User data streams"), behind the upgrade routing
// of src/gateway/binance/ws/ (BinanceUserDataSockets, ../ws/user-data-port.ts):
//
//   - /ws/<listenKey>: the listen key's user data stream, bare events (the pre-2025 way, still
//     used by most Binance libraries); ends with a `listenKeyExpired` event and a close when the
//     listen key is deleted, expires, or its API key loses access;
//   - /ws-api/v3: Binance's WebSocket API, the methods a user data stream needs:
//     `userDataStream.subscribe.signature` (what ccxt's pro.binance sends for spot), `.unsubscribe`,
//     `session.subscriptions`, `session.status`, `ping`, `time`. Answers are {id, status, result}
//     or {id, status, error:{code,msg}} with Binance's codes (../errors.ts); a subscription's
//     events come as {"subscriptionId":N,"event":{…}}. `session.logon` (Ed25519 keys only on
//     Binance) is refused: Bulwark's keys are HMAC.
//
// Bounds, as the EXMO WebSocket's (src/gateway/ws/limits.ts): inbound messages per second per
// socket with strikes, largest message, pending requests per socket, buffered output per socket
// (past it the socket is terminated as a slow consumer), protocol pings (a peer that has not
// answered the previous one is dropped), a lifetime per socket, an idle timeout for a socket that
// holds no stream and says nothing; subscriptions per socket here,
// streams per user in hub.ts. A subscribe is signed like a REST request (auth.ts: same keys,
// scopes, allow-lists, frozen users); it only reads, so a replay within its window is harmless.

import type { Logger } from "pino";
import type { WebSocket } from "ws";
import type { SecretBox } from "../../../accounts/secret-box.ts";
import type { ExchangeBoundary } from "../../../exchange/boundary.ts";
import { resolveWsLimits, type WsLimits } from "../../ws/limits.ts";
import { InboundRateLimit } from "../../ws/rate-limit.ts";
import { authenticateBinance, type BinanceAuthDependencies } from "../auth.ts";
import { BINANCE_ERRORS, type BinanceErrorKind } from "../errors.ts";
import type { BinanceUserDataSockets } from "../ws/user-data-port.ts";
import { UserDataHub } from "./hub.ts";
import {
  isWellFormedListenKey,
  type ListenKeyEntry,
  type ListenKeyRegistry,
  listenKeysFor,
} from "./listen-keys.ts";
import { UserStream } from "./user-stream.ts";

/** User data subscriptions one /ws-api/v3 socket may hold (each reads the user's open orders once). */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 8;
/** Binance's request id: an integer, a string of at most 36 characters, or null. */
const MAX_REQUEST_ID_LENGTH = 36;
/** A subscribe's parameter values: digits, or an API key id (no '&', '=' or '%' to confuse the signed text). */
const PARAM_TEXT = /^[A-Za-z0-9._-]{1,128}$/;
const SIGNATURE_PARAMS = new Set(["apiKey", "timestamp", "recvWindow", "signature"]);
/** How long close() waits for clients to answer the close frame before terminating them. */
const CLOSE_GRACE_MS = 1_000;
const CLOSE_NORMAL = 1000;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY_VIOLATION = 1008;
const OPEN = 1;

export interface BinanceUserDataOptions {
  /** Opens API key secrets (the EXMO dialect's). */
  secretBox: SecretBox;
  /** ms since the epoch; default Date.now. */
  clock?: () => number;
  /** The EXMO WebSocket's limits (defaults in src/gateway/ws/limits.ts). */
  limits?: Partial<WsLimits>;
  logger?: Logger;
}

type RequestId = string | number | null;

class WsApiError extends Error {
  constructor(
    readonly kind: BinanceErrorKind,
    readonly detail?: string,
    readonly overrideMsg?: string,
  ) {
    super(kind);
  }
}

/** What every user data socket shares: its limits, pings, sends and close. */
abstract class UserDataConnection {
  alive = true;
  closed = false;
  readonly openedAtMs: number;
  /** When the client last sent a message (idle timeout). */
  lastMessageMs: number;
  readonly lifetimeMs: number;
  protected readonly rate: InboundRateLimit;
  /** A flood ended this socket: it closes with this once its requests already taken are answered. */
  private closeWhenAnswered: { code: number; reason: string } | null = null;

  constructor(
    readonly socket: WebSocket,
    readonly clientAddress: string,
    protected readonly owner: BinanceUserData,
  ) {
    const { limits, clock } = owner;
    this.openedAtMs = clock();
    this.lastMessageMs = this.openedAtMs;
    // Up to 10 % less, so sockets opened together do not all reconnect together.
    this.lifetimeMs =
      limits.maxConnectionLifetimeMs - Math.floor(Math.random() * limits.maxConnectionLifetimeMs * 0.1);
    this.rate = new InboundRateLimit(limits.maxInboundMessagesPerSecond, limits.maxRateLimitStrikes, clock);
    socket.on("pong", () => {
      this.alive = true;
    });
    socket.on("message", (data, isBinary) => this.onRawMessage(data, isBinary));
    socket.on("close", () => this.onClosed());
    socket.on("error", () => socket.terminate());
  }

  /** Sends one frame; a socket whose unsent output passes maxBufferedBytes is dropped as slow. */
  send(frame: unknown): void {
    if (this.closed || this.socket.readyState !== OPEN) return;
    const text = JSON.stringify(frame);
    if (this.socket.bufferedAmount + Buffer.byteLength(text) > this.owner.limits.maxBufferedBytes) {
      this.owner.logger?.warn(
        { clientAddress: this.clientAddress },
        "binance user data slow consumer dropped",
      );
      this.end();
      this.socket.terminate();
      return;
    }
    this.socket.send(text);
  }

  close(code: number, reason: string): void {
    this.end();
    this.socket.close(code, reason);
  }

  /** Requests taken and not answered yet (the WebSocket API's); none on a listen-key stream. */
  protected get requestsInFlight(): number {
    return 0;
  }

  /** Called as each request is answered: a socket closing for a flood closes after the last. */
  protected requestAnswered(): void {
    const pending = this.closeWhenAnswered;
    if (pending !== null && this.requestsInFlight === 0) this.close(pending.code, pending.reason);
  }

  private onRawMessage(data: unknown, isBinary: boolean): void {
    if (this.closed || this.closeWhenAnswered !== null) return;
    this.lastMessageMs = this.owner.clock();
    const decision = this.rate.take();
    if (decision === "close") {
      // Nothing more is read; what was taken before the flood still gets its answer (bounded by
      // the pending-request limit), then the socket closes.
      this.closeWhenAnswered = { code: CLOSE_POLICY_VIOLATION, reason: "too many messages" };
      this.requestAnswered();
      return;
    }
    const text = isBinary ? null : rawText(data);
    if (decision === "refuse") {
      this.refused(text);
      return;
    }
    // ws enforces maxPayload already; a text longer than it here would be a routing mistake.
    if (text === null || Buffer.byteLength(text) > this.owner.limits.maxPayloadBytes) {
      this.malformed(null);
      return;
    }
    this.onText(text);
  }

  private onClosed(): void {
    this.end();
  }

  /** Stops every stream of the socket and forgets it; idempotent. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.endStreams();
    this.owner.forget(this);
  }

  protected abstract onText(text: string): void;
  /** A message refused by the rate limit (the socket stays). */
  protected abstract refused(text: string | null): void;
  protected abstract malformed(id: RequestId): void;
  protected abstract endStreams(): void;
  /** Whether the socket holds a stream (a socket without one and silent for idleTimeoutMs is closed). */
  abstract get holdsStream(): boolean;
}

function rawText(data: unknown): string | null {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return null;
}

/** /ws/<listenKey>: one stream, bare events; /stream?streams=<listenKey>: wrapped ones. */
class ListenKeyConnection extends UserDataConnection {
  stream: UserStream | null = null;

  constructor(
    socket: WebSocket,
    clientAddress: string,
    owner: BinanceUserData,
    readonly entry: ListenKeyEntry,
    /** Wrap each event as a combined stream's {"stream": listenKey, "data": event}. */
    private readonly combined: boolean,
  ) {
    super(socket, clientAddress, owner);
  }

  /** An event as this socket's path says: bare, or wrapped for a combined stream. */
  private deliver(event: unknown): void {
    this.send(this.combined ? { stream: this.entry.listenKey, data: event } : event);
  }

  /** Registers the stream, checks the key still has access, then reads the open orders. */
  async start(): Promise<void> {
    const stream = new UserStream(
      this.entry.userId,
      this.entry.keyId,
      this.owner.exchange,
      {
        send: (event) => this.deliver(event),
        overflow: () => this.close(CLOSE_POLICY_VIOLATION, "slow consumer"),
      },
      this.owner.limits.maxEventsBufferedDuringLoad,
      this.owner.clock,
    );
    if (!this.owner.hub.add(stream)) {
      this.close(CLOSE_POLICY_VIOLATION, "too many user data streams for this account");
      return;
    }
    this.stream = stream;
    this.owner.streamOwners.set(stream, this);
    if (!(await this.owner.stillAllowed(this.entry.keyId, this.entry.userId))) {
      this.close(CLOSE_POLICY_VIOLATION, "API key no longer allowed");
      return;
    }
    if (this.closed) return;
    await stream.load(this.owner.hub.lastSeenSequence);
  }

  /** The listen key ended: Binance says so on the stream, then the stream closes. */
  expire(): void {
    if (this.closed) return;
    this.deliver({ e: "listenKeyExpired", E: this.owner.clock(), listenKey: this.entry.listenKey });
    this.close(CLOSE_NORMAL, "listen key expired");
  }

  get holdsStream(): boolean {
    return this.stream !== null;
  }

  // A user data stream takes no requests; messages only count against the rate limit.
  protected onText(_text: string): void {}
  protected refused(_text: string | null): void {}
  protected malformed(_id: RequestId): void {}

  protected endStreams(): void {
    if (this.stream === null) return;
    this.owner.hub.remove(this.stream);
    this.owner.streamOwners.delete(this.stream);
    this.stream.close();
    this.stream = null;
  }
}

interface Subscription {
  subscriptionId: number;
  stream: UserStream;
}

/** /ws-api/v3: requests and answers, and user data subscriptions by signature. */
class WsApiConnection extends UserDataConnection {
  private readonly subscriptions = new Map<number, Subscription>();
  private nextSubscriptionId = 0;
  private pendingRequests = 0;

  get holdsStream(): boolean {
    return this.subscriptions.size > 0;
  }

  protected onText(text: string): void {
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      this.malformed(null);
      return;
    }
    if (typeof request !== "object" || request === null || Array.isArray(request)) {
      this.malformed(null);
      return;
    }
    const { id, method, params } = request as { id?: unknown; method?: unknown; params?: unknown };
    const requestId = validRequestId(id);
    if (requestId === undefined) {
      this.reply(null, new WsApiError("illegalChars", "id", "Invalid request id."));
      return;
    }
    if (typeof method !== "string" || method === "") {
      this.reply(requestId, new WsApiError("mandatoryParamMissing", "method"));
      return;
    }
    if (params !== undefined && (typeof params !== "object" || params === null || Array.isArray(params))) {
      this.reply(
        requestId,
        new WsApiError("illegalChars", "params", "Parameter 'params' must be an object."),
      );
      return;
    }
    if (this.pendingRequests >= this.owner.limits.maxPendingInboundMessages) {
      this.reply(requestId, new WsApiError("tooManyRequests"));
      return;
    }
    this.pendingRequests += 1;
    void this.handle(method, (params ?? {}) as Record<string, unknown>)
      .then(
        (result) => this.reply(requestId, result),
        (error: unknown) => {
          if (!(error instanceof WsApiError))
            this.owner.logger?.error({ err: error, method }, "binance ws-api request failed");
          this.reply(requestId, error instanceof WsApiError ? error : new WsApiError("unknown"));
        },
      )
      .finally(() => {
        this.pendingRequests -= 1;
        this.requestAnswered();
      });
  }

  protected override get requestsInFlight(): number {
    return this.pendingRequests;
  }

  protected refused(text: string | null): void {
    let id: RequestId = null;
    try {
      id = validRequestId((JSON.parse(text ?? "") as { id?: unknown }).id) ?? null;
    } catch {
      id = null;
    }
    this.reply(id, new WsApiError("tooManyRequests"));
  }

  protected malformed(id: RequestId): void {
    this.reply(
      id,
      new WsApiError("illegalChars", "request", "Malformed request: a JSON object is expected."),
    );
  }

  protected endStreams(): void {
    for (const subscription of this.subscriptions.values()) this.dropStream(subscription.stream);
    this.subscriptions.clear();
  }

  /** The stream's key lost access: Binance's eventStreamTerminated, and the subscription goes. */
  terminate(stream: UserStream): void {
    for (const subscription of this.subscriptions.values()) {
      if (subscription.stream !== stream) continue;
      this.subscriptions.delete(subscription.subscriptionId);
      this.dropStream(stream);
      this.send({
        subscriptionId: subscription.subscriptionId,
        event: { e: "eventStreamTerminated", E: this.owner.clock() },
      });
      return;
    }
  }

  private dropStream(stream: UserStream): void {
    this.owner.hub.remove(stream);
    this.owner.streamOwners.delete(stream);
    stream.close();
  }

  private reply(id: RequestId, outcome: unknown): void {
    if (outcome instanceof WsApiError) {
      const row = BINANCE_ERRORS[outcome.kind];
      const msg = outcome.overrideMsg ?? row.msg.replace("%s", outcome.detail ?? "");
      // Over HTTP an unknown path is 404; here every refused request is the WebSocket API's 4XX.
      const status = row.status === 404 ? 400 : row.status;
      this.send({ id, status, error: { code: row.code, msg } });
      return;
    }
    this.send({ id, status: 200, result: outcome });
  }

  private async handle(method: string, params: Record<string, unknown>): Promise<unknown> {
    switch (method) {
      case "ping":
        return {};
      case "time":
        return { serverTime: this.owner.clock() };
      case "userDataStream.subscribe.signature":
        return this.subscribeBySignature(params);
      case "userDataStream.unsubscribe":
        return this.unsubscribe(params);
      case "session.subscriptions":
        return [...this.subscriptions.keys()].map((subscriptionId) => ({ subscriptionId }));
      case "session.status":
        return {
          apiKey: null,
          authorizedSince: null,
          connectedSince: this.openedAtMs,
          returnRateLimits: false,
          serverTime: this.owner.clock(),
          userDataStream: this.subscriptions.size > 0,
        };
      case "session.logon":
      case "userDataStream.subscribe":
        throw new WsApiError(
          "rejectedApiKey",
          undefined,
          "Bulwark's API keys are HMAC keys, which cannot log a session on: use userDataStream.subscribe.signature.",
        );
      default:
        throw new WsApiError("unknownEndpoint", undefined, `Unknown method: ${method.slice(0, 64)}`);
    }
  }

  private async subscribeBySignature(params: Record<string, unknown>): Promise<unknown> {
    const texts: Record<string, string> = {};
    for (const [name, value] of Object.entries(params)) {
      if (!SIGNATURE_PARAMS.has(name)) throw new WsApiError("tooManyParameters", name);
      const text = paramText(value);
      if (text === null) throw new WsApiError("illegalChars", name);
      texts[name] = text;
    }
    for (const name of ["apiKey", "timestamp", "signature"])
      if (texts[name] === undefined) throw new WsApiError("mandatoryParamMissing", name);
    // Binance's WebSocket API signs the parameters sorted by name, `signature` left out.
    const payload = Object.keys(texts)
      .filter((name) => name !== "signature")
      .sort()
      .map((name) => `${name}=${texts[name]}`)
      .join("&");
    const auth = await authenticateBinance(
      this.owner.authDependencies,
      {
        apiKeyHeader: texts.apiKey,
        queryText: `${payload}&signature=${texts.signature}`,
        bodyText: "",
        remoteAddress: this.clientAddress,
      },
      "info",
    );
    if (!auth.ok) {
      this.owner.logger?.info({ reason: auth.reason }, "binance user data subscribe refused");
      throw new WsApiError(auth.failure.kind, auth.failure.detail, auth.failure.overrideMsg);
    }
    if (this.closed) throw new WsApiError("unknown");
    const { userId, keyId } = auth.caller;
    // One subscription per account per connection (Binance's rule): a second subscribe names it.
    for (const subscription of this.subscriptions.values())
      if (subscription.stream.userId === userId) return { subscriptionId: subscription.subscriptionId };
    if (this.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_SOCKET)
      throw new WsApiError(
        "tooManyRequests",
        undefined,
        `Too many user data subscriptions on this connection (at most ${MAX_SUBSCRIPTIONS_PER_SOCKET}).`,
      );
    const subscriptionId = this.nextSubscriptionId;
    const stream = new UserStream(
      userId,
      keyId,
      this.owner.exchange,
      {
        send: (event) => this.send({ subscriptionId, event }),
        overflow: () => this.terminate(stream),
      },
      this.owner.limits.maxEventsBufferedDuringLoad,
      this.owner.clock,
    );
    if (!this.owner.hub.add(stream))
      throw new WsApiError("tooManyRequests", undefined, "Too many user data streams for this account.");
    this.nextSubscriptionId += 1;
    this.subscriptions.set(subscriptionId, { subscriptionId, stream });
    this.owner.streamOwners.set(stream, this);
    // Answered first; the stream's events follow once its read is done (it buffers meanwhile).
    queueMicrotask(() => void this.load(stream));
    return { subscriptionId };
  }

  private async load(stream: UserStream): Promise<void> {
    try {
      await stream.load(this.owner.hub.lastSeenSequence);
    } catch (error) {
      this.owner.logger?.error({ err: error }, "binance user data stream read failed");
      this.terminate(stream);
    }
  }

  private unsubscribe(params: Record<string, unknown>): unknown {
    const requested = params.subscriptionId;
    if (requested === undefined) {
      this.endStreams();
      return {};
    }
    const subscriptionId = typeof requested === "number" ? requested : Number(paramText(requested));
    const subscription = this.subscriptions.get(subscriptionId);
    if (subscription === undefined)
      throw new WsApiError("illegalChars", "subscriptionId", "No such subscriptionId on this connection.");
    this.subscriptions.delete(subscriptionId);
    this.dropStream(subscription.stream);
    return {};
  }
}

function validRequestId(id: unknown): RequestId | undefined {
  if (id === undefined || id === null) return null;
  if (typeof id === "number") return Number.isSafeInteger(id) ? id : undefined;
  if (typeof id === "string") return id.length <= MAX_REQUEST_ID_LENGTH ? id : undefined;
  return undefined;
}

/** A parameter as the text it is signed as; null when it is not a plain token or integer. */
function paramText(value: unknown): string | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? String(value) : null;
  if (typeof value === "string") return PARAM_TEXT.test(value) ? value : null;
  return null;
}

/** The user data sockets of one gateway: one event handler, one listen key registry. */
export class BinanceUserData implements BinanceUserDataSockets {
  readonly limits: WsLimits;
  readonly clock: () => number;
  readonly logger: Logger | undefined;
  readonly hub: UserDataHub;
  readonly authDependencies: BinanceAuthDependencies;
  /** Each live stream's socket, so the hub's access checks reach it. */
  readonly streamOwners = new Map<UserStream, ListenKeyConnection | WsApiConnection>();
  private readonly registry: ListenKeyRegistry;
  private readonly connections = new Set<UserDataConnection>();
  private readonly byListenKey = new Map<string, Set<ListenKeyConnection>>();
  private readonly detachRegistry: () => void;
  private readonly timer: NodeJS.Timeout;
  private lastPingMs: number;
  private closing = false;

  constructor(
    readonly exchange: ExchangeBoundary,
    options: BinanceUserDataOptions,
  ) {
    this.limits = resolveWsLimits(options.limits);
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger;
    this.authDependencies = { accounts: exchange.accounts, secretBox: options.secretBox, clock: this.clock };
    this.registry = listenKeysFor(exchange, this.clock);
    this.hub = new UserDataHub(
      exchange,
      (stream) => this.accessLost(stream),
      (keyId) => this.registry.endForApiKey(keyId, "accessLost"),
    );
    this.detachRegistry = this.registry.onEnd((entry) => this.listenKeyEnded(entry));
    this.lastPingMs = this.clock();
    this.timer = setInterval(() => this.tick(), this.limits.timeoutCheckIntervalMs);
    this.timer.unref();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  isListenKey(candidate: string): boolean {
    return isWellFormedListenKey(candidate) && this.registry.get(candidate) !== undefined;
  }

  openListenKeyStream(socket: WebSocket, listenKey: string, clientAddress: string, combined = false): void {
    const entry = this.closing ? undefined : this.registry.get(listenKey);
    if (entry === undefined) {
      socket.close(CLOSE_POLICY_VIOLATION, "unknown listen key");
      return;
    }
    const connection = new ListenKeyConnection(socket, clientAddress, this, entry, combined);
    this.connections.add(connection);
    let sockets = this.byListenKey.get(listenKey);
    if (sockets === undefined) {
      sockets = new Set();
      this.byListenKey.set(listenKey, sockets);
    }
    sockets.add(connection);
    void connection.start().catch((error: unknown) => {
      this.logger?.error({ err: error }, "binance listen key stream failed to start");
      connection.close(CLOSE_POLICY_VIOLATION, "stream failed");
    });
  }

  openWsApi(socket: WebSocket, clientAddress: string): void {
    if (this.closing) {
      socket.close(CLOSE_GOING_AWAY, "server shutting down");
      return;
    }
    this.connections.add(new WsApiConnection(socket, clientAddress, this));
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    this.detachRegistry();
    const sockets = [...this.connections].map((connection) => connection.socket);
    for (const connection of [...this.connections])
      connection.close(CLOSE_GOING_AWAY, "server shutting down");
    await Promise.all(sockets.map((socket) => closedWithin(socket, CLOSE_GRACE_MS)));
    this.hub.close();
  }

  /** Whether the key is still live, its user's and active (a listen key stream's start). */
  async stillAllowed(keyId: string, userId: number): Promise<boolean> {
    try {
      const key = await this.exchange.accounts.cachedApiKey(keyId);
      const status = await this.exchange.accounts.cachedUserStatus(userId);
      return key !== undefined && key.revokedMs === null && key.userId === userId && status === "active";
    } catch {
      return false;
    }
  }

  /** A connection ended: it no longer counts or hears about its listen key. */
  forget(connection: UserDataConnection): void {
    this.connections.delete(connection);
    if (connection instanceof ListenKeyConnection) {
      const sockets = this.byListenKey.get(connection.entry.listenKey);
      sockets?.delete(connection);
      if (sockets?.size === 0) this.byListenKey.delete(connection.entry.listenKey);
    }
  }

  private accessLost(stream: UserStream): void {
    const owner = this.streamOwners.get(stream);
    if (owner instanceof WsApiConnection) owner.terminate(stream);
    else owner?.close(CLOSE_POLICY_VIOLATION, "API key no longer allowed");
  }

  private listenKeyEnded(entry: ListenKeyEntry): void {
    for (const connection of [...(this.byListenKey.get(entry.listenKey) ?? [])]) connection.expire();
  }

  /** Expired listen keys, socket lifetimes, idle sockets, and protocol pings. */
  private tick(): void {
    this.registry.sweep();
    const nowMs = this.clock();
    const ping = nowMs - this.lastPingMs >= this.limits.pingIntervalMs;
    if (ping) this.lastPingMs = nowMs;
    for (const connection of [...this.connections]) {
      if (nowMs - connection.openedAtMs >= connection.lifetimeMs) {
        connection.close(CLOSE_GOING_AWAY, "connection lifetime reached, reconnect");
        continue;
      }
      if (!connection.holdsStream && nowMs - connection.lastMessageMs >= this.limits.idleTimeoutMs) {
        connection.close(CLOSE_NORMAL, "idle timeout");
        continue;
      }
      if (!ping) continue;
      if (!connection.alive) {
        connection.end();
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }
}

function closedWithin(socket: WebSocket, graceMs: number): Promise<void> {
  if (socket.readyState === 3) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, graceMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// The HTTP gateway: Fastify serving EXMO v1.1 REST (src/gateway/exmo/), /health, /metrics,
// /openapi.json and /docs, with the HTTP limits of docs/SECURITY.md#http-limits.
//
//   const gateway = createGateway(exchange, { secretBox, port: 8080, host: "0.0.0.0" });
//   const { port } = await gateway.listen();
//   gateway.server.on("upgrade", …);   // the WebSocket server attaches here
//   await gateway.close();             // stops listening; does not close the exchange
//
// Every request passes the one `guard` onRequest hook (count the priority class, shed it under
// load (guard/load-shedder.ts), then the weighted rate limit and bans of guard/rate-limit.ts, for
// EXMO's routes and every other path alike), then an onResponse
// hook that records metrics by route pattern and result. Whatever the HTTP layer refuses itself
// (headers too large or too slow, a path that does not decode, a body too large) is answered in
// EXMO's error format too.

import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import pino from "pino";
import { z } from "zod";
import { addressGroupKey } from "../../accounts/api-keys.ts";
import type { SecretBox } from "../../accounts/secret-box.ts";
import type { CustodyPort } from "../../custody/port.ts";
import { CommandOutcomeUnknownError, type ExchangeBoundary } from "../../exchange/boundary.ts";
import type { IncidentPort } from "../../incidents/port.ts";
import type { ReservesPort } from "../../reserves/port.ts";
import { type AuthResult, authenticate } from "../auth/authenticate.ts";
import { nonceGateFor } from "../auth/nonce-gate.ts";
import { mountBinanceRoutes } from "../binance/mount.ts";
import { type ExmoErrorKind, exmoErrorBody } from "../exmo/errors.ts";
import { privateRoutes } from "../exmo/private-routes.ts";
import { publicRoutes } from "../exmo/public-routes.ts";
import { PublicSnapshots, SerializedAnswer } from "../exmo/public-snapshots.ts";
import {
  type CallerIdentity,
  ExmoFailure,
  type ExmoRoute,
  type Params,
  type PriorityClass,
} from "../exmo/route.ts";
import { WriteWatermarks } from "../exmo/write-watermarks.ts";
import { BAN_HEADER } from "../guard/bans.ts";
import { type ClientAddressRule, makeClientAddress } from "../guard/client-address.ts";
import { applyDegradedMode } from "../guard/degraded-routes.ts";
import { GuardControl } from "../guard/guard-control.ts";
import { CancelFloor, LoadShedder, type LoadShedderOptions, type ShedClass } from "../guard/load-shedder.ts";
import {
  type AdmitDecision,
  type KeyCharge,
  type RateLimitOptions,
  RequestRateLimiter,
} from "../guard/rate-limit.ts";
import { OPS_COST_POINTS, routeCostPoints } from "../guard/route-costs.ts";
import {
  mountSessionRoutes,
  PRIVATE_PREFIX,
  type SessionDoor,
  type SessionOptions,
  sessionDoor,
} from "../session/session-routes.ts";
import { mergeParams, parseForm, queryText } from "./form.ts";
import { healthReport } from "./health.ts";
import { GatewayMetrics } from "./metrics.ts";
import { docsHtml, type OpsRoute, openApiDocument } from "./openapi.ts";
import { mountPublicReservesRoute } from "./reserves-public.ts";
import { mountStatusRoutes } from "./status.ts";
import { DEFAULT_WEB_ROOT, mountWebRoutes } from "./web.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The guard's class for this route (docs/SECURITY.md#priority-classes: cancel > order entry > private read > public). */
    priority?: PriorityClass;
    /**
     * Routes outside EXMO's API: "ops" (/metrics, /docs, /openapi.json) share the address's
     * general budget, "health" has its own; both answer a refusal with HTTP 429.
     */
    guardLane?: "ops" | "health";
    /** The EXMO route path (after /v1.1/) whose weight the guard charges (guard/route-costs.ts). */
    costPath?: string;
    /**
     * Where a signed request of this route carries its key and signature, for the guard's per-key
     * budget: "binance" = the X-MBX-APIKEY header and a `signature` query parameter; absent:
     * EXMO's Key and Sign headers.
     */
    signedDialect?: "binance";
  }
}

/** docs/SECURITY.md#http-limits. */
export const HTTP_LIMITS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  /**
   * How often Node looks for connections past the two timeouts above. Node's default is 30 s,
   * which let a slow-header client hold its socket up to 40 s instead of 10; at 500 ms the cut
   * comes at most half a second after the timeout.
   */
  connectionsCheckingIntervalMs: 500,
  maxHeaderSizeBytes: 16 * 1024,
  bodyLimitBytes: 64 * 1024,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1_000,
  /**
   * Open connections per client address (IPv4, IPv6 /64) at the socket level; the connection
   * past it is destroyed at once. Trusted proxies are not capped (they carry many clients).
   */
  maxConnectionsPerIp: 512,
  /** Addresses tracked by that count; a new address beyond it is refused (a flood of addresses). */
  maxTrackedConnectionAddresses: 100_000,
  /** A socket that sends and receives nothing for this long is destroyed (keep-alive or not). */
  socketIdleTimeoutMs: 60_000,
} as const;

/** The HTTP limits the server factory applies; tests shorten the timeouts. */
export type HttpLimits = { -readonly [K in keyof typeof HTTP_LIMITS]: number };

/**
 * Longest path parameter (decoded) the router matches: the operator API's `/users/:email/…`
 * must take every email the store can hold (254 characters).
 */
const MAX_PATH_PARAMETER_LENGTH = 256;

export interface GatewayOptions {
  /** Opens API key secrets sealed in the store (see auth/authenticate.ts sealApiSecret). */
  secretBox: SecretBox;
  /** Structured logs; default pino at "info" to stdout. */
  logger?: pino.Logger;
  /** PEM certificate and key: serve HTTPS (and WSS on upgrade) instead of HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** 0 picks a free port (listen() tells which). */
  port: number;
  host: string;
  /** Process metrics (CPU, heap, event loop) in /metrics; default true. */
  defaultMetrics?: boolean;
  /**
   * Weighted budgets per address, API key and user, tiers, bans, Redis (guard/rate-limit.ts);
   * default EXMO's 10 points/s, burst 20, cancels 50/s, burst 100. `false` turns the limit off
   * (benchmarks, load tests).
   */
  rateLimit?: RateLimitOptions | false;
  /**
   * Proxies (CIDRs or addresses) whose forwarded client address is believed
   * (guard/client-address.ts); default none: every address is the TCP peer's.
   */
  trustedProxies?: readonly string[];
  /** The header trusted proxies put the client address in; default "x-forwarded-for". */
  clientAddressHeader?: string;
  /**
   * Load shedding by priority class (guard/load-shedder.ts). Default: the sampler runs (for
   * /metrics) but sheds nothing; `{ enabled: true }` sheds (`bulwark start`: BULWARK_LOAD_SHEDDING=on);
   * `false` runs no sampler at all.
   */
  loadShedding?: LoadShedderOptions | false;
  /** Overrides of HTTP_LIMITS (tests use short timeouts). */
  httpLimits?: Partial<HttpLimits>;
  /** Milliseconds since the epoch, for the nonce's "not too far ahead" bound; default Date.now. */
  clock?: () => number;
  /**
   * Custody's port: deposit_address, withdraw_crypt and the providers' terms. Absent or null:
   * the wallet writes answer 59014 and every provider is listed disabled.
   */
  custody?: CustodyPort | null;
  /** The web app's build (src/gateway/http/web.ts); default dist/web of this checkout; null: no web app. */
  webRoot?: string | null;
  /** Incidents for GET /status and /status.html (open incidents and their notices); absent: none shown. */
  incidents?: IncidentPort | null;
  /**
   * Proof of reserves for reserves_proof (src/reserves/port.ts) and the public list GET
   * /api/v1/reserves; absent: that route answers 59035 and the list is empty.
   */
  reserves?: ReservesPort | null;
  /** Open WebSocket connections for the status page (the WebSocket gateway attaches after this one). */
  webSocketConnections?: () => number | null;
  /** People's sessions (src/gateway/session/): idle and absolute expiry, login throttle; defaults there. */
  session?: SessionOptions;
}

export interface Gateway {
  /** The Node server; the WebSocket server attaches to its "upgrade" event. */
  server: http.Server | https.Server;
  fastify: FastifyInstance;
  /** Degraded mode and bans, for the WebSocket server, the status page and the operator API. */
  guardControl: GuardControl;
  /**
   * The client address of a request or WebSocket upgrade: the socket's, or the forwarded one when
   * the socket's peer is a trusted proxy (`trustedProxies`). Same rule as the REST guard.
   */
  clientAddress: ClientAddressRule;
  /** The load shedder (its pressure level and last sample), null when shedding is off. */
  loadShedder: LoadShedder | null;
  listen(): Promise<{ port: number }>;
  /** Stops accepting and closes connections. The exchange stays open (its owner closes it). */
  close(): Promise<void>;
}

const EMPTY_BODY = Buffer.alloc(0);
/** Retry-After of a `degraded` refusal: an operator's switch lasts minutes, not a second. */
const DEGRADED_RETRY_AFTER_SECONDS = 30;
const NOT_FOUND_ROUTE = "unmatched";

/**
 * Caps open connections per client address at the socket level (before any byte is parsed) and
 * cuts idle sockets. Trusted proxies are not capped. The table is bounded: when it is full, a
 * connection from an address not in it is refused (a flood of addresses, shed at the cheapest point).
 */
function guardConnections(
  server: http.Server,
  limits: HttpLimits,
  isTrustedProxy: (address: string) => boolean,
) {
  const open = new Map<string, number>();
  server.on("connection", (socket: Socket) => {
    const peer = socket.remoteAddress ?? "";
    if (isTrustedProxy(peer)) return;
    const address = addressGroupKey(peer);
    const count = open.get(address) ?? 0;
    if (
      count >= limits.maxConnectionsPerIp ||
      (count === 0 && open.size >= limits.maxTrackedConnectionAddresses)
    ) {
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/**
 * Behind trusted proxies, the forwarded client address is resolved once here
 * (guard/client-address.ts) and handed to Fastify as a one-entry X-Forwarded-For that only a
 * trusted peer's is believed from (`trustProxy` below), so request.ip, the guard, the key's IP
 * allow-list and the logs all see the same address.
 */
function resolveForwarded(
  handler: http.RequestListener,
  clientAddress: ClientAddressRule,
): http.RequestListener {
  return (request, response) => {
    const peer = request.socket.remoteAddress;
    const client = clientAddress(peer, request.headers);
    if (client !== peer && client !== "") request.headers["x-forwarded-for"] = client;
    else delete request.headers["x-forwarded-for"];
    handler(request, response);
  };
}

function serverFactory(
  tls: GatewayOptions["tls"],
  limits: HttpLimits,
  addresses: { clientAddress: ClientAddressRule; isTrustedProxy: (address: string) => boolean },
  trustsProxies: boolean,
) {
  return (fastifyHandler: http.RequestListener): http.Server => {
    const handler = trustsProxies
      ? resolveForwarded(fastifyHandler, addresses.clientAddress)
      : fastifyHandler;
    const options = {
      maxHeaderSize: limits.maxHeaderSizeBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
    };
    const server =
      tls === undefined
        ? http.createServer(options, handler)
        : https.createServer({ ...options, ...tls }, handler);
    server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
    // Node's own idle timer (kept across keep-alive requests): with no 'timeout' listener, an idle
    // socket is destroyed.
    server.timeout = limits.socketIdleTimeoutMs;
    guardConnections(server, limits, addresses.isTrustedProxy);
    return server;
  };
}

/**
 * Errors Node's HTTP parser raises before there is a request (headers too large, too slow,
 * unparseable), answered in EXMO's error format with the HTTP status that says what happened.
 * The connection is closed: its byte stream can no longer be trusted to be in step.
 */
function clientErrorHandler(logger: FastifyBaseLogger) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === "ECONNRESET" || socket.destroyed) return;
    let status = 400;
    let kind: ExmoErrorKind = "invalidParameter";
    let detail = "request";
    if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      status = 408;
      kind = "requestTimeout";
      detail = "";
    } else if (error.code === "HPE_HEADER_OVERFLOW") {
      status = 431;
      kind = "payloadTooLarge";
      detail = "headers";
    }
    logger.debug({ err: error, status }, "client error before a request");
    if (socket.writable) {
      const body = JSON.stringify(exmoErrorBody(kind, detail));
      socket.write(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

function headerText(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

/** Query pairs the guard scans for one parameter (Binance's signed requests carry at most 32). */
const MAX_SCANNED_QUERY_PAIRS = 32;

/**
 * The raw (undecoded) value of the first `name=` pair among the first MAX_SCANNED_QUERY_PAIRS
 * pairs of `query`, else undefined. The guard only needs to know that a value is there.
 */
/**
 * A Binance signed request's signature as far as the guard can see it before the body is read:
 * the query's, or for a request with a body (ccxt signs order and withdrawal POSTs in the body)
 * a marker. Either way the request is charged to its key; a signature that does not prove out
 * gets the key's points back (unprovenAuthenticationFailed).
 */
function binanceSignature(request: FastifyRequest, query: string | undefined): string | undefined {
  const inQuery = queryParamText(query, "signature");
  if (inQuery !== undefined) return inQuery;
  const length = request.headers["content-length"];
  const hasBody =
    (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined;
  return hasBody ? "in-body" : undefined;
}

function queryParamText(query: string | undefined, name: string): string | undefined {
  if (query === undefined) return undefined;
  const prefix = `${name}=`;
  let start = 0;
  for (let pair = 0; pair < MAX_SCANNED_QUERY_PAIRS && start <= query.length; pair++) {
    const end = query.indexOf("&", start);
    const stop = end === -1 ? query.length : end;
    if (query.startsWith(prefix, start)) return query.slice(start + prefix.length, stop);
    if (end === -1) return undefined;
    start = end + 1;
  }
  return undefined;
}

interface Mounted {
  route: ExmoRoute;
  exchange: ExchangeBoundary;
  secretBox: SecretBox;
  results: WeakMap<FastifyRequest, string>;
  guard: Guard;
  clock: () => number;
  /** The session door (cookie + CSRF) instead of the HMAC one: /api/v1/private/<method>. */
  sessionDoor?: SessionDoor;
}

function sendError(
  reply: FastifyReply,
  results: WeakMap<FastifyRequest, string>,
  kind: ExmoErrorKind,
  detail?: string,
  status?: number,
): FastifyReply {
  const body = exmoErrorBody(kind, detail);
  results.set(reply.request, body.error.slice(6, body.error.indexOf(":")));
  // Outside EXMO's paths, and for HTTP-level failures, the status says what happened.
  if (status !== undefined) return reply.code(status).send(body);
  // EXMO answers errors with HTTP 200 and ccxt reads the body first; only overload says 503.
  if (kind === "busy") return reply.code(503).header("retry-after", "1").send(body);
  if (kind === "degraded")
    return reply.code(503).header("retry-after", String(DEGRADED_RETRY_AFTER_SECONDS)).send(body);
  if (kind === "internalError") return reply.code(500).send(body);
  if (kind === "payloadTooLarge") return reply.code(413).send(body);
  return reply.code(200).send(body);
}

/**
 * Journals a signed request's nonce on its own (touchNonce, src/gateway/auth/nonce-gate.ts) when
 * no command of the request carried it; nothing for a session's request or a nonce already taken.
 */
async function journalUntakenNonce(exchange: ExchangeBoundary, caller: CallerIdentity | null): Promise<void> {
  const stamp = caller?.requestNonce?.take();
  if (caller === null || stamp === undefined) return;
  const outcome = await nonceGateFor(exchange).touch(caller.userId, stamp);
  if (outcome === "stale") throw new ExmoFailure("invalidNonce", "nonce already used (core)");
  if (outcome === "busy") throw new ExmoFailure("busy");
}

async function runRoute(
  mounted: Mounted,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { route, results } = mounted;
  try {
    const rawBody = Buffer.isBuffer(request.body) ? request.body : EMPTY_BODY;
    const bodyParams = parseForm(rawBody.toString("utf8"));
    let params: Params = bodyParams;
    let caller: CallerIdentity | null = null;
    if (route.scope === null) {
      params = mergeParams(parseForm(queryText(request.raw.url)), bodyParams);
    } else if (mounted.sessionDoor !== undefined) {
      // Every private operation has two front doors and one implementation: past this point
      // a session's request runs exactly as a signed one.
      const door = await mounted.sessionDoor(request, reply, route, bodyParams);
      if (!door.ok) {
        results.set(request, "session_refused");
        return door.reply;
      }
      caller = door.caller;
      params = door.params;
    } else {
      const auth = await authenticate(
        {
          accounts: mounted.exchange.accounts,
          secretBox: mounted.secretBox,
          clock: mounted.clock,
          nonceGate: nonceGateFor(mounted.exchange),
        },
        {
          keyHeader: headerText(request, "key"),
          signHeader: headerText(request, "sign"),
          rawBody,
          nonceText: bodyParams.nonce,
          remoteAddress: request.ip,
        },
        route.scope,
      );
      if (!auth.ok) {
        mounted.guard.authenticationFailed(request, auth);
        request.log.info({ reason: auth.reason, kind: auth.kind }, "authentication refused");
        return sendError(reply, results, auth.kind, auth.detail);
      }
      mounted.guard.authenticated(auth.keyId, auth.userId);
      caller = { userId: auth.userId, keyId: auth.keyId, clientIp: request.ip, requestNonce: auth.nonce };
      // A route whose effects are not one core command has its nonce journaled before it runs.
      if (route.nonceInCommand !== true) await journalUntakenNonce(mounted.exchange, caller);
    }
    let answer: unknown;
    try {
      answer = await route.run(params, caller);
    } finally {
      // An order refused before it reached the core still spends its nonce (a replay is 40009).
      await journalUntakenNonce(mounted.exchange, caller);
    }
    results.set(request, "ok");
    // Public snapshots (exmo/public-snapshots.ts) are serialised once for every request.
    if (answer instanceof SerializedAnswer)
      return reply.code(200).header("content-type", "application/json; charset=utf-8").send(answer.json);
    return reply.code(200).send(answer);
  } catch (error) {
    if (error instanceof ExmoFailure) return sendError(reply, results, error.kind, error.detail);
    // Cluster mode: the core did not answer in time; the command may be durable (read back first).
    if (error instanceof CommandOutcomeUnknownError)
      return sendError(
        reply,
        results,
        "requestTimeout",
        "the core did not answer: read back before resending",
      );
    request.log.error({ err: error }, "route failed");
    return sendError(reply, results, "internalError");
  }
}

function mountExmoRoute(fastify: FastifyInstance, mounted: Mounted): void {
  const { route } = mounted;
  fastify.route({
    method: route.scope === null ? ["GET", "POST"] : ["POST"],
    url: mounted.sessionDoor === undefined ? `/v1.1/${route.path}` : `${PRIVATE_PREFIX}/${route.path}`,
    bodyLimit: route.bodyLimitBytes ?? HTTP_LIMITS.bodyLimitBytes,
    config: { priority: route.priority, costPath: route.path },
    handler: (request, reply) => runRoute(mounted, request, reply),
  });
}

const OPS_ROUTES: readonly OpsRoute[] = [
  {
    method: "GET",
    url: "/health",
    summary: "Health of each component",
    priority: "publicData",
    params: z.object({}),
    contentType: "application/json",
  },
  {
    method: "GET",
    url: "/metrics",
    summary: "Prometheus metrics",
    priority: "publicData",
    params: z.object({}),
    contentType: "text/plain",
  },
  {
    method: "GET",
    url: "/openapi.json",
    summary: "This API's OpenAPI 3.1 description",
    priority: "publicData",
    params: z.object({}),
    contentType: "application/json",
  },
  {
    method: "GET",
    url: "/docs",
    summary: "Human-readable API reference",
    priority: "publicData",
    params: z.object({}),
    contentType: "text/html",
  },
];

function mountOpsRoutes(
  fastify: FastifyInstance,
  exchange: ExchangeBoundary,
  metrics: GatewayMetrics,
  routes: readonly ExmoRoute[],
): void {
  const document = openApiDocument(routes, OPS_ROUTES);
  const documentJson = JSON.stringify(document);
  const docs = docsHtml(document);
  const handlers: Record<string, (reply: FastifyReply) => Promise<FastifyReply> | FastifyReply> = {
    "/health": async (reply) => {
      const report = await healthReport(exchange);
      return reply.code(report.status === "ok" ? 200 : 503).send(report);
    },
    "/metrics": async (reply) =>
      reply.header("content-type", metrics.registry.contentType).send(await metrics.registry.metrics()),
    "/openapi.json": (reply) => reply.header("content-type", "application/json").send(documentJson),
    "/docs": (reply) => reply.header("content-type", "text/html; charset=utf-8").send(docs),
  };
  for (const op of OPS_ROUTES) {
    const handle = handlers[op.url];
    fastify.route({
      method: op.method,
      url: op.url,
      config: { priority: op.priority, guardLane: op.url === "/health" ? "health" : "ops" },
      handler: (_request, reply) => handle(reply),
    });
  }
}

/** Logs the shared counters' Redis going away and coming back, once per change (not per retry). */
function redisStateLogger(logger: FastifyBaseLogger): RateLimitOptions["onRedisState"] {
  let last: "ready" | "error" | null = null;
  return (state, error) => {
    if (state === last) return;
    last = state;
    if (state === "ready") logger.info("rate-limit Redis connected: counters shared");
    else logger.warn({ err: error }, "rate-limit Redis unavailable: limiting in this process's memory");
  };
}

interface Guard {
  onRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  /** The route's authentication refused the request (see rate-limit.ts on refunds). */
  authenticationFailed(request: FastifyRequest, auth: AuthResult & { ok: false }): void;
  /** Authentication failed before the signature was proven: the key's (and user's) points go back. */
  unprovenAuthenticationFailed(request: FastifyRequest): void;
  /** A key proved its signature: its user is charged per user from now on. */
  authenticated(keyId: string, userId: number): void;
}

/** Retry-After of a shed request: pressure is sampled every 100 ms and falls a level per sample. */
const SHED_RETRY_AFTER_SECONDS = 1;

/** The key id of a request that looks signed (for the cancel floor), else null. */
function signedKeyHeader(request: FastifyRequest): string | null {
  const key = headerText(request, "key");
  const sign = headerText(request, "sign");
  return key !== undefined && key !== "" && sign !== undefined && sign !== "" ? key : null;
}

/** Failures that come before the signature is proven: the request need not be the key's. */
const UNPROVEN_AUTH_FAILURES: ReadonlySet<ExmoErrorKind> = new Set(["unknownApiKey", "badSignature"]);

/**
 * The flood guard's hook point. Every request passes here first, before its body is read: it
 * counts the request's priority class, then charges the rate limit. A refused request is
 * answered here with 40034 and Retry-After and goes no further (no body read, no
 * authentication, no nonce, no command).
 *
 * Lanes, by where the request goes:
 *   - EXMO routes (/v1.1/…): the route's class, per address and per key; refused with EXMO's
 *     HTTP 200 + 40034, which ccxt raises as RateLimitExceeded; Binance's routes the same way
 *     (a signed one's key is X-MBX-APIKEY, config.signedDialect), refused in Binance's shape;
 *   - /metrics, /docs, /openapi.json and any unknown path: the address's general budget, refused
 *     with HTTP 429 + 40034 (a scraper must not take an error body for a 200 answer);
 *   - /health: its own generous per-address budget (monitors often share an address), HTTP 429;
 *   - matched routes without a class (the operator API): not charged here; they guard themselves
 *     (the operator token's per-address lockout, src/operator/plugin.ts).
 */
function makeGuard(
  metrics: GatewayMetrics,
  results: WeakMap<FastifyRequest, string>,
  limiter: RequestRateLimiter | null,
  shedder: LoadShedder | null,
): Guard {
  const keyCharges = new WeakMap<FastifyRequest, KeyCharge>();
  const cancelFloor = new CancelFloor();
  const refuse = (
    request: FastifyRequest,
    reply: FastifyReply,
    priority: PriorityClass,
    decision: AdmitDecision & { admitted: false },
    status?: number,
  ): FastifyReply => {
    metrics.recordRateLimited(priority, decision.scope, decision.reason);
    if (decision.ban !== null) metrics.recordBan(decision.ban.scope);
    reply.header("retry-after", String(decision.retryAfterSeconds));
    // Says a refusal is a ban, not a full bucket (the Binance dialect answers bans with 418).
    if (decision.reason === "banned" || decision.ban !== null) reply.header(BAN_HEADER, "banned");
    request.log.debug({ scope: decision.scope, reason: decision.reason, ip: request.ip }, "rate limited");
    return sendError(reply, results, "rateLimited", undefined, status);
  };
  const shed = async (request: FastifyRequest, shedClass: ShedClass): Promise<boolean> => {
    if (shedder === null || !shedder.shed(shedClass)) return false;
    // Cancels: never below 10/s per account, even at the top level. An account is a key that has
    // proven its signature here before: made-up key ids get no floor.
    if (shedClass === "cancel") {
      const keyId = signedKeyHeader(request);
      const proven = keyId !== null && (limiter === null || limiter.knowsKey(keyId));
      if (proven && (await cancelFloor.within(keyId))) return false;
    }
    return true;
  };
  const refundUnproven = (request: FastifyRequest): void => {
    const charge = keyCharges.get(request);
    if (charge !== undefined && limiter !== null) void limiter.refundUnproven(charge);
  };
  const answerShed = (request: FastifyRequest, reply: FastifyReply, shedClass: ShedClass): FastifyReply => {
    metrics.recordShed(shedClass);
    request.log.debug({ shedClass, ip: request.ip }, "shed under load");
    reply.header("retry-after", String(SHED_RETRY_AFTER_SECONDS));
    return sendError(reply, results, "overloaded", undefined, 503);
  };
  return {
    async onRequest(request, reply) {
      const config = request.routeOptions.config;
      const configured = config.priority;
      const priority = configured ?? "publicData";
      metrics.recordGuard(priority);
      const lane = request.is404 ? "ops" : config.guardLane;
      // Shedding first (cheapest, and a shed request spends no budget). /health and /metrics
      // answer throughout: operators watch them during an attack.
      if (lane === "ops" && request.routeOptions.url !== "/metrics" && (await shed(request, "other")))
        return answerShed(request, reply, "other");
      if (lane === undefined && configured !== undefined && (await shed(request, configured)))
        return answerShed(request, reply, configured);
      if (limiter === null) return undefined;
      if (lane !== undefined) {
        const cost = lane === "health" ? 1 : (OPS_COST_POINTS[request.routeOptions.url ?? ""] ?? 1);
        const decision = await limiter.admitAddress(
          request.ip,
          lane === "health" ? "health" : "general",
          cost,
        );
        return decision.admitted ? undefined : refuse(request, reply, priority, decision, 429);
      }
      if (configured === undefined) return undefined;
      const url = request.raw.url ?? "";
      const queryAt = url.indexOf("?");
      const query = queryAt === -1 ? undefined : url.slice(queryAt + 1);
      const binance = config.signedDialect === "binance";
      const decision = await limiter.admit({
        ip: request.ip,
        priority,
        costPoints: routeCostPoints(config.costPath ?? "", request.method, query),
        keyHeader: headerText(request, binance ? "x-mbx-apikey" : "key"),
        signHeader: binance ? binanceSignature(request, query) : headerText(request, "sign"),
      });
      if (decision.admitted) {
        if (decision.keyCharge !== null) keyCharges.set(request, decision.keyCharge);
        return undefined;
      }
      return refuse(request, reply, priority, decision);
    },
    authenticationFailed(request, auth) {
      if (UNPROVEN_AUTH_FAILURES.has(auth.kind)) refundUnproven(request);
    },
    unprovenAuthenticationFailed: refundUnproven,
    authenticated(keyId, userId) {
      limiter?.authenticated(keyId, userId);
    },
  };
}

/**
 * Fastify's own refusals, raised before a route runs (a path that does not decode, a path
 * parameter past MAX_PATH_PARAMETER_LENGTH), in EXMO's error format with their HTTP status.
 */
function frameworkErrorHandler(results: WeakMap<FastifyRequest, string>) {
  return (error: { code?: string }, request: FastifyRequest, reply: FastifyReply): void => {
    request.log.info({ err: error }, "request refused by the router");
    if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
      sendError(reply, results, "payloadTooLarge", "path", 414);
      return;
    }
    if (error.code === "FST_ERR_BAD_URL") {
      sendError(reply, results, "invalidParameter", "url", 400);
      return;
    }
    sendError(reply, results, "invalidParameter", "request", 400);
  };
}

function installErrorHandling(fastify: FastifyInstance, results: WeakMap<FastifyRequest, string>): void {
  fastify.setNotFoundHandler({}, (request, reply) => {
    const path = (request.raw.url ?? "").split("?")[0];
    return sendError(reply, results, "unknownFunction", path);
  });
  fastify.setErrorHandler((error: { code?: string; statusCode?: number }, request, reply) => {
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return sendError(reply, results, "payloadTooLarge", "body");
    // A Content-Type header that does not parse, a bad Content-Length: say which part.
    if (error.code?.startsWith("FST_ERR_CTP_") === true) {
      request.log.info({ err: error }, "request body refused by the HTTP layer");
      return sendError(reply, results, "invalidParameter", "Content-Type");
    }
    if (typeof error.statusCode === "number" && error.statusCode < 500) {
      request.log.info({ err: error }, "request refused by the HTTP layer");
      return sendError(reply, results, "invalidParameter", "request");
    }
    request.log.error({ err: error }, "unhandled error");
    return sendError(reply, results, "internalError");
  });
}

function installMetricsHook(
  fastify: FastifyInstance,
  metrics: GatewayMetrics,
  results: WeakMap<FastifyRequest, string>,
): void {
  fastify.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? NOT_FOUND_ROUTE;
    metrics.recordRequest(
      {
        route: reply.statusCode === 404 ? NOT_FOUND_ROUTE : route,
        method: request.method,
        result: results.get(request) ?? `http_${reply.statusCode}`,
        priority: request.routeOptions.config.priority ?? "publicData",
      },
      reply.elapsedTime / 1000,
    );
  });
}

export function createGateway(exchange: ExchangeBoundary, options: GatewayOptions): Gateway {
  const logger: FastifyBaseLogger = options.logger ?? pino({ level: "info" });
  const limits: HttpLimits = { ...HTTP_LIMITS, ...options.httpLimits };
  const results = new WeakMap<FastifyRequest, string>();
  const addresses = makeClientAddress({
    trustedProxies: options.trustedProxies,
    header: options.clientAddressHeader,
  });
  const trustsProxies = (options.trustedProxies ?? []).length > 0;
  const fastify = Fastify({
    loggerInstance: logger,
    serverFactory: serverFactory(options.tls, limits, addresses, trustsProxies),
    // The forwarded address was resolved by the server factory (resolveForwarded): believe its
    // one-entry X-Forwarded-For only from a trusted peer.
    trustProxy: trustsProxies
      ? (address: string, hop: number) => hop === 0 && addresses.isTrustedProxy(address)
      : false,
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PATH_PARAMETER_LENGTH },
    clientErrorHandler: clientErrorHandler(logger),
    frameworkErrors: frameworkErrorHandler(results),
    return503OnClosing: true,
  });
  const metrics = new GatewayMetrics(exchange, {
    defaultMetrics: options.defaultMetrics ?? true,
    custody: options.custody ?? null,
  });
  const clock = options.clock ?? Date.now;
  // The signature covers the raw bytes: keep them, never a re-serialised parse (docs/API.md#signing).
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  const limiter =
    options.rateLimit === false
      ? null
      : new RequestRateLimiter({ onRedisState: redisStateLogger(logger), ...options.rateLimit });
  const loadShedder =
    options.loadShedding === false
      ? null
      : new LoadShedder({
          queueDepth: () => exchange.status().queuedCommands,
          enabled: false,
          ...options.loadShedding,
        });
  loadShedder?.start();
  const guardControl = new GuardControl(limiter);
  metrics.attachGuard({ limiter, loadShedder, degraded: () => guardControl.isDegraded });
  const guard = makeGuard(metrics, results, limiter, loadShedder);
  fastify.addHook("onRequest", (request, reply) => guard.onRequest(request, reply));
  installMetricsHook(fastify, metrics, results);
  installErrorHandling(fastify, results);
  const watermarks = new WriteWatermarks();
  const custody = options.custody ?? null;
  // Public answers from snapshots; degraded mode's limits on public data and order entry.
  const snapshots = new PublicSnapshots({ clock, isDegraded: () => guardControl.isDegraded });
  const routes = applyDegradedMode(
    [
      ...publicRoutes({ exchange, clock, custody }),
      ...privateRoutes({ exchange, watermarks, custody, reserves: options.reserves ?? null }),
    ],
    guardControl,
    snapshots,
  );
  for (const route of routes)
    mountExmoRoute(fastify, { route, exchange, secretBox: options.secretBox, results, guard, clock });
  const sessionDependencies = {
    exchange,
    secretBox: options.secretBox,
    secure: options.tls !== undefined,
    clock,
    options: options.session,
    custody,
  };
  const door = sessionDoor(sessionDependencies);
  for (const route of routes)
    if (route.scope !== null)
      mountExmoRoute(fastify, {
        route,
        exchange,
        secretBox: options.secretBox,
        results,
        guard,
        clock,
        sessionDoor: door,
      });
  mountSessionRoutes(fastify, sessionDependencies);
  // Any other /v1.1 path, margin included: EXMO's 40015 with the path, through the same hooks.
  fastify.route({
    method: ["GET", "POST"],
    url: "/v1.1/*",
    config: { priority: "publicData" },
    handler: (request, reply) =>
      sendError(reply, results, "unknownFunction", (request.raw.url ?? "").split("?")[0]),
  });
  mountOpsRoutes(fastify, exchange, metrics, routes);
  mountPublicReservesRoute(fastify, options.reserves ?? null);
  // The Binance Spot API v3 dialect (gateway/binance/): the same data, guard and hooks.
  mountBinanceRoutes(fastify, {
    exchange,
    clock,
    isDegraded: () => guardControl.isDegraded,
    signed: {
      secretBox: options.secretBox,
      custody,
      watermarks,
      guard: {
        authenticated: (keyId, userId) => guard.authenticated(keyId, userId),
        unprovenAuthenticationFailed: (request) => guard.unprovenAuthenticationFailed(request),
      },
      // With Redis, a signed write's replay sent to another gateway is refused too.
      ...(limiter === null
        ? {}
        : { sharedClaim: (name: string, ttlMs: number) => limiter.claimOnce(name, ttlMs) }),
    },
  });
  const webApp = mountWebRoutes(fastify, options.webRoot === undefined ? DEFAULT_WEB_ROOT : options.webRoot);
  // A browser opening /status gets the app's Status page when the app is built.
  mountStatusRoutes(
    fastify,
    {
      exchange,
      custody,
      incidents: options.incidents ?? null,
      webSocketConnections: options.webSocketConnections ?? (() => null),
      clock,
      degradedMode: () => guardControl.degraded,
    },
    webApp === null ? null : webApp.sendIndex,
  );
  return {
    server: fastify.server,
    fastify,
    guardControl,
    clientAddress: addresses.clientAddress,
    loadShedder,
    async listen() {
      await fastify.listen({ port: options.port, host: options.host });
      return { port: (fastify.server.address() as AddressInfo).port };
    },
    async close() {
      loadShedder?.stop();
      try {
        await fastify.close();
      } finally {
        await limiter?.close();
      }
    },
  };
}

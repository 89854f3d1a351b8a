// Mounts the Binance Spot API v3 dialect on the gateway's Fastify server (src/gateway/http/server.ts
// calls mountBinanceRoutes once). Every route carries the guard's priority class and weight row
// (config.priority / costPath), so the one guard hook charges and sheds it like EXMO's routes;
// a refusal the guard answers in EXMO's shape is rewritten here into Binance's (-1003 with 429,
// ban or not: the guard's answer does not say which, so Binance's 418 is not used yet; -1008
// with 503 when shed). Signed routes (signed-routes.ts, priority privateRead) are authenticated by
// auth.ts and never cached; the guard charges them to their X-MBX-APIKEY and its user as it does
// EXMO's Key (config.signedDialect), and the outcome of authentication is reported back to it
// (`signed.guard`) so the key's user is learnt and an unproven request's key points are refunded.
//
// Answers are kept per (path, canonical query) for ANSWER_MAX_AGE_MS, as EXMO's public snapshots
// are (exmo/public-snapshots.ts): a flood of identical requests costs one build per 100 ms.
// Errors are never cached. In degraded mode (docs/SECURITY.md#degraded-mode) no new answer is
// built: one not cached yet is refused with -1008 (HTTP 503 + Retry-After), cached ones are
// rebuilt at most every DEGRADED_SNAPSHOT_MAX_AGE_MS, as EXMO's public snapshots do.

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { SecretBox } from "../../accounts/secret-box.ts";
import type { CustodyPort } from "../../custody/port.ts";
import { CommandOutcomeUnknownError, type ExchangeBoundary } from "../../exchange/boundary.ts";
import { EXMO_ERRORS } from "../exmo/errors.ts";
import { DEGRADED_SNAPSHOT_MAX_AGE_MS, PUBLIC_SNAPSHOT_MAX_AGE_MS } from "../exmo/public-snapshots.ts";
import type { WriteWatermarks } from "../exmo/write-watermarks.ts";
import { BAN_HEADER } from "../guard/bans.ts";
import { routeCostPoints } from "../guard/route-costs.ts";
import { authenticateBinance, type BinanceAuthDependencies, DEFAULT_RECV_WINDOW_MS } from "./auth.ts";
import { type BinanceErrorKind, BinanceFailure, binanceError } from "./errors.ts";
import { type BinanceQuery, type BinanceRoute, binancePublicRoutes } from "./public-routes.ts";
import { type SharedClaim, SignatureReplayGuard } from "./replay-guard.ts";
import { type BinanceSignedRoute, binanceSignedRoutes } from "./signed-routes.ts";
import { UsedWeightPerMinute } from "./used-weight.ts";
import { binanceUserDataRoutes } from "./user-data/routes.ts";

/** Parameters one request may carry (Binance's public endpoints take at most six). */
const MAX_PARAMETERS = 16;
/** Distinct (path, query) answers kept; the oldest build goes first. */
const MAX_CACHED_ANSWERS = 512;
/** Retry-After of a refusal in degraded mode (an operator's switch lasts minutes). */
const DEGRADED_RETRY_AFTER_SECONDS = 30;
/** Binance's status for an address banned for going on past its limits ("I'm a teapot"). */
const BANNED_STATUS = 418;
/** Paths of the dialect that no route serves: answered in Binance's shape, not EXMO's. */
const DIALECT_PREFIXES = ["/api/v3", "/sapi", "/fapi", "/dapi"] as const;

export interface BinanceMountOptions {
  exchange: ExchangeBoundary;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** Whether degraded mode is on (GuardControl.isDegraded); default never. */
  isDegraded?: () => boolean;
  /** The signed endpoints (signed-routes.ts); absent: only the public ones are mounted. */
  signed?: {
    /** Opens API key secrets (the EXMO dialect's). */
    secretBox: SecretBox;
    custody: CustodyPort | null;
    /** The EXMO dialect's read-after-write marks, so a read sees the caller's last write. */
    watermarks?: WriteWatermarks;
    /** The flood guard's authentication callbacks (http/server.ts makeGuard); absent: none. */
    guard?: BinanceGuardCallbacks;
    /** Memory shared with other gateways for the signed-write replay guard (replay-guard.ts). */
    sharedClaim?: SharedClaim;
  };
}

/** What the flood guard learns from a signed request's authentication. */
export interface BinanceGuardCallbacks {
  /** The key proved its signature: its user is charged per user from now on. */
  authenticated(keyId: string, userId: number): void;
  /** Authentication failed before the signature was proven: the key's points are given back. */
  unprovenAuthenticationFailed(request: FastifyRequest): void;
}

interface CachedAnswer {
  json: string;
  builtAtMs: number;
}

/** The query's parameters, each name at most once (Binance refuses duplicates with -1101). */
export function parseBinanceQuery(url: string | undefined): BinanceQuery {
  const at = (url ?? "").indexOf("?");
  if (at === -1) return {};
  const params = new URLSearchParams((url ?? "").slice(at + 1));
  const query: Record<string, string> = {};
  let count = 0;
  for (const [name, value] of params) {
    count += 1;
    if (count > MAX_PARAMETERS) throw new BinanceFailure("tooManyParameters");
    if (Object.hasOwn(query, name))
      throw new BinanceFailure("tooManyParameters", name, "Duplicate values for a parameter detected.");
    query[name] = value;
  }
  return query;
}

function canonicalKey(url: string, query: BinanceQuery): string {
  const names = Object.keys(query).sort();
  return `${url}?${names.map((name) => `${name}=${encodeURIComponent(query[name] as string)}`).join("&")}`;
}

function sendBinanceError(reply: FastifyReply, kind: BinanceErrorKind, detail?: string, msg?: string) {
  const { status, body } = binanceError(kind, detail, msg);
  return reply
    .code(status)
    .header("content-type", "application/json; charset=utf-8")
    .send(JSON.stringify(body));
}

/** EXMO codes of the refusals the gateway's shared hooks answer before a Binance route runs. */
const SHARED_REFUSALS: ReadonlyMap<number, BinanceErrorKind> = new Map([
  [EXMO_ERRORS.rateLimited.code, "tooManyRequests"],
  [EXMO_ERRORS.payloadTooLarge.code, "payloadTooLarge"],
  [EXMO_ERRORS.invalidParameter.code, "malformedRequest"],
  [EXMO_ERRORS.requestTimeout.code, "requestTimeout"],
]);

/**
 * A refusal the shared hooks answered in EXMO's shape (the guard's limit, ban or shedding; the
 * HTTP layer's body and content-type checks) as Binance's: a limit -1003 with 429, a ban -1003
 * with 418 (BAN_HEADER), shedding -1008 with 503.
 */
function translateSharedRefusal(reply: FastifyReply, payload: string): string {
  const match = /^\{"result":false,"error":"Error (\d+)/.exec(payload);
  if (match === null) return payload;
  let kind = SHARED_REFUSALS.get(Number(match[1])) ?? "unknown";
  if (reply.statusCode === 503) kind = "serverBusy";
  const { status, body } = binanceError(kind);
  const banned = kind === "tooManyRequests" && reply.getHeader(BAN_HEADER) !== undefined;
  reply.code(banned ? BANNED_STATUS : status);
  return JSON.stringify(body);
}

/** Thrown when degraded mode refuses to build an answer not cached yet. */
class DegradedRefusal extends Error {}

class AnswerCache {
  private readonly entries = new Map<string, CachedAnswer>();
  constructor(
    private readonly clock: () => number,
    private readonly isDegraded: () => boolean,
  ) {}

  async answer(key: string, build: () => Promise<unknown> | unknown): Promise<string> {
    const nowMs = this.clock();
    const entry = this.entries.get(key);
    const degraded = this.isDegraded();
    const maxAgeMs = degraded ? DEGRADED_SNAPSHOT_MAX_AGE_MS : PUBLIC_SNAPSHOT_MAX_AGE_MS;
    if (entry !== undefined && nowMs - entry.builtAtMs < maxAgeMs) return entry.json;
    if (entry === undefined && degraded) throw new DegradedRefusal();
    const json = JSON.stringify(await build());
    this.entries.delete(key);
    this.entries.set(key, { json, builtAtMs: nowMs });
    for (const [oldest] of this.entries) {
      if (this.entries.size <= MAX_CACHED_ANSWERS) break;
      this.entries.delete(oldest);
    }
    return json;
  }
}

async function runRoute(
  route: BinanceRoute,
  cache: AnswerCache,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  try {
    const query = parseBinanceQuery(request.raw.url);
    // ping and time are never cached: time must be now.
    const json =
      route.url === "/api/v3/time" || route.url === "/api/v3/ping"
        ? JSON.stringify(await route.handle(query))
        : await cache.answer(canonicalKey(route.url, query), () => route.handle(query));
    return reply.code(200).header("content-type", "application/json; charset=utf-8").send(json);
  } catch (error) {
    if (error instanceof BinanceFailure)
      return sendBinanceError(reply, error.kind, error.detail, error.overrideMsg);
    if (error instanceof DegradedRefusal) {
      reply.header("retry-after", String(DEGRADED_RETRY_AFTER_SECONDS));
      return sendBinanceError(reply, "serverBusy");
    }
    request.log.error({ err: error }, "binance route failed");
    return sendBinanceError(reply, "unknown");
  }
}

function headerText(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

/** Authenticates (auth.ts), then runs the route; never cached, nothing journaled (reads only). */
/** Why a signed write may not run (replay-guard.ts), or null when it may. */
async function replayRefusal(
  replay: SignatureReplayGuard,
  keyId: string,
  params: Readonly<Record<string, string>>,
): Promise<BinanceErrorKind | null> {
  // authenticateBinance has checked both are digits and inside the window.
  const timestampMs = Number(params.timestamp);
  const recvWindowMs = params.recvWindow === undefined ? DEFAULT_RECV_WINDOW_MS : Number(params.recvWindow);
  const verdict = await replay.acceptShared(keyId, params.signature ?? "", timestampMs, recvWindowMs);
  if (verdict === "accepted") return null;
  if (verdict === "full") return "serverBusy";
  return verdict === "replayed" ? "replayedRequest" : "timestampOutsideRecvWindow";
}

async function runSignedRoute(
  route: BinanceSignedRoute,
  deps: BinanceAuthDependencies,
  replay: SignatureReplayGuard,
  guard: BinanceGuardCallbacks | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  try {
    const url = request.raw.url ?? "";
    const queryAt = url.indexOf("?");
    const auth = await authenticateBinance(
      deps,
      {
        apiKeyHeader: headerText(request, "x-mbx-apikey"),
        queryText: queryAt === -1 ? "" : url.slice(queryAt + 1),
        bodyText: Buffer.isBuffer(request.body) ? request.body.toString("utf8") : "",
        remoteAddress: request.ip,
      },
      route.scope,
    );
    if (!auth.ok) {
      if (!auth.signatureProven) guard?.unprovenAuthenticationFailed(request);
      request.log.info({ reason: auth.reason, kind: auth.failure.kind }, "binance authentication refused");
      return sendBinanceError(reply, auth.failure.kind, auth.failure.detail, auth.failure.overrideMsg);
    }
    guard?.authenticated(auth.caller.keyId, auth.caller.userId);
    if (route.write === true) {
      const refusal = await replayRefusal(replay, auth.caller.keyId, auth.params);
      if (refusal !== null) {
        request.log.info(
          { refusal, keyId: auth.caller.keyId },
          "binance signed write refused by the replay guard",
        );
        return sendBinanceError(reply, refusal);
      }
    }
    const json = JSON.stringify(await route.handle(auth.params, auth.caller));
    return reply.code(200).header("content-type", "application/json; charset=utf-8").send(json);
  } catch (error) {
    if (error instanceof BinanceFailure)
      return sendBinanceError(reply, error.kind, error.detail, error.overrideMsg);
    // Cluster mode: the core did not answer in time; Binance's -1007 says exactly that.
    if (error instanceof CommandOutcomeUnknownError) return sendBinanceError(reply, "requestTimeout");
    request.log.error({ err: error }, "binance signed route failed");
    return sendBinanceError(reply, "unknown");
  }
}

/** Mounts /api/v3/… (and the futures exchangeInfo ccxt asks for) on `fastify`. */
export function mountBinanceRoutes(fastify: FastifyInstance, options: BinanceMountOptions): void {
  const clock = options.clock ?? Date.now;
  const cache = new AnswerCache(clock, options.isDegraded ?? (() => false));
  const usedWeight = new UsedWeightPerMinute(clock);
  const onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const url = request.raw.url ?? "";
    const queryAt = url.indexOf("?");
    const weight = routeCostPoints(
      request.routeOptions.config.costPath ?? "",
      request.method,
      queryAt === -1 ? undefined : url.slice(queryAt + 1),
    );
    const used = String(usedWeight.charge(request.ip, weight));
    reply.header("x-mbx-used-weight", used).header("x-mbx-used-weight-1m", used);
    return typeof payload === "string" ? translateSharedRefusal(reply, payload) : payload;
  };
  for (const route of binancePublicRoutes({ exchange: options.exchange, clock })) {
    fastify.route({
      method: "GET",
      url: route.url,
      config: { priority: "publicData", costPath: route.costPath },
      onSend,
      handler: (request, reply) => runRoute(route, cache, request, reply),
    });
  }
  const signed = options.signed;
  if (signed !== undefined) {
    const deps = { accounts: options.exchange.accounts, secretBox: signed.secretBox, clock };
    const routes = binanceSignedRoutes({
      exchange: options.exchange,
      custody: signed.custody,
      clock,
      ...(signed.watermarks === undefined ? {} : { watermarks: signed.watermarks }),
    });
    const replay = new SignatureReplayGuard(clock, {
      ...(signed.sharedClaim === undefined ? {} : { shared: signed.sharedClaim }),
    });
    for (const route of routes) {
      fastify.route({
        method: route.method ?? "GET",
        url: route.url,
        ...(route.bodyLimitBytes === undefined ? {} : { bodyLimit: route.bodyLimitBytes }),
        config: {
          priority: route.priority ?? "privateRead",
          costPath: route.costPath,
          signedDialect: "binance",
        },
        onSend,
        handler: (request, reply) => runSignedRoute(route, deps, replay, signed.guard, request, reply),
      });
    }
  }
  // ---- Listen keys of the user data streams (user-data/routes.ts): X-MBX-APIKEY only, no
  // signature, so the guard charges them to the address (user-data/routes.ts says why). ----
  if (signed !== undefined) {
    const userDataContext = { exchange: options.exchange, secretBox: signed.secretBox, clock };
    for (const route of binanceUserDataRoutes(userDataContext)) {
      fastify.route({
        method: route.method,
        url: route.url,
        bodyLimit: route.bodyLimitBytes,
        config: { priority: "privateRead", costPath: route.costPath, signedDialect: "binance" },
        onSend,
        handler: route.handler,
      });
    }
  }
  for (const prefix of DIALECT_PREFIXES) {
    fastify.route({
      method: ["GET", "POST", "PUT", "DELETE"],
      url: `${prefix}/*`,
      config: { priority: "publicData", costPath: "binance:unknown" },
      onSend,
      handler: (request, reply) =>
        sendBinanceError(reply, "unknownEndpoint", (request.raw.url ?? "").split("?")[0]),
    });
  }
}

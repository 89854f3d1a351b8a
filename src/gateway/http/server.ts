// The HTTP gateway: Fastify serving EXMO v1.1 REST (src/gateway/exmo/), /health, /metrics,
// /openapi.json and /docs, with the HTTP limits of docs/SECURITY.md#http-limits.
//
//   const gateway = createGateway(exchange, { secretBox, port: 8080, host: "0.0.0.0" });
//   const { port } = await gateway.listen();
//   gateway.server.on("upgrade", …);   // the WebSocket server attaches here
//   await gateway.close();             // stops listening; does not close the exchange
//
// Every route carries a priority class in its route config and passes the one `guard` onRequest
// hook (today: count the class, then the per-address / per-key rate limit of
// src/gateway/guard/rate-limit.ts; bans, shared counters and shedding plug in there later), then
// an onResponse hook that records metrics by route pattern and result.

import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import pino from "pino";
import { z } from "zod";
import type { SecretBox } from "../../accounts/secret-box.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import { type AuthResult, authenticate } from "../auth/authenticate.ts";
import { type ExmoErrorKind, exmoErrorBody } from "../exmo/errors.ts";
import { privateRoutes } from "../exmo/private-routes.ts";
import { publicRoutes } from "../exmo/public-routes.ts";
import {
  type CallerIdentity,
  ExmoFailure,
  type ExmoRoute,
  type Params,
  type PriorityClass,
} from "../exmo/route.ts";
import { WriteWatermarks } from "../exmo/write-watermarks.ts";
import { type KeyCharge, type RateLimitOptions, RequestRateLimiter } from "../guard/rate-limit.ts";
import { mergeParams, parseForm, queryText } from "./form.ts";
import { healthReport } from "./health.ts";
import { GatewayMetrics } from "./metrics.ts";
import { docsHtml, type OpsRoute, openApiDocument } from "./openapi.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The guard's class for this route (docs/SECURITY.md#priority-classes: cancel > order entry > private read > public). */
    priority?: PriorityClass;
  }
}

/** docs/SECURITY.md#http-limits. */
export const HTTP_LIMITS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxHeaderSizeBytes: 16 * 1024,
  bodyLimitBytes: 64 * 1024,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1_000,
} as const;

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
   * Per-address and per-API-key token buckets (guard/rate-limit.ts); default EXMO's 10 req/s,
   * burst 20, cancels 50/s, burst 100. `false` turns the limit off (benchmarks, load tests).
   */
  rateLimit?: RateLimitOptions | false;
}

export interface Gateway {
  /** The Node server; the WebSocket server attaches to its "upgrade" event. */
  server: http.Server | https.Server;
  fastify: FastifyInstance;
  listen(): Promise<{ port: number }>;
  /** Stops accepting and closes connections. The exchange stays open (its owner closes it). */
  close(): Promise<void>;
}

const EMPTY_BODY = Buffer.alloc(0);
const NOT_FOUND_ROUTE = "unmatched";

function serverFactory(tls: GatewayOptions["tls"]) {
  return (handler: http.RequestListener): http.Server => {
    const options = {
      maxHeaderSize: HTTP_LIMITS.maxHeaderSizeBytes,
      headersTimeout: HTTP_LIMITS.headersTimeoutMs,
      requestTimeout: HTTP_LIMITS.requestTimeoutMs,
      keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    };
    const server =
      tls === undefined
        ? http.createServer(options, handler)
        : https.createServer({ ...options, ...tls }, handler);
    server.maxRequestsPerSocket = HTTP_LIMITS.maxRequestsPerSocket;
    return server;
  };
}

function headerText(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

interface Mounted {
  route: ExmoRoute;
  exchange: ExchangeBoundary;
  secretBox: SecretBox;
  results: WeakMap<FastifyRequest, string>;
  guard: Guard;
}

function sendError(
  reply: FastifyReply,
  results: WeakMap<FastifyRequest, string>,
  kind: ExmoErrorKind,
  detail?: string,
): FastifyReply {
  const body = exmoErrorBody(kind, detail);
  results.set(reply.request, body.error.slice(6, body.error.indexOf(":")));
  // EXMO answers errors with HTTP 200 and ccxt reads the body first; only overload says 503.
  if (kind === "busy") return reply.code(503).header("retry-after", "1").send(body);
  if (kind === "internalError") return reply.code(500).send(body);
  if (kind === "payloadTooLarge") return reply.code(413).send(body);
  return reply.code(200).send(body);
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
    } else {
      const auth = await authenticate(
        {
          accounts: mounted.exchange.accounts,
          secretBox: mounted.secretBox,
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
      caller = { userId: auth.userId, keyId: auth.keyId };
    }
    const answer = await route.run(params, caller);
    results.set(request, "ok");
    return reply.code(200).send(answer);
  } catch (error) {
    if (error instanceof ExmoFailure) return sendError(reply, results, error.kind, error.detail);
    request.log.error({ err: error }, "route failed");
    return sendError(reply, results, "internalError");
  }
}

function mountExmoRoute(fastify: FastifyInstance, mounted: Mounted): void {
  const { route } = mounted;
  fastify.route({
    method: route.scope === null ? ["GET", "POST"] : ["POST"],
    url: `/v1.1/${route.path}`,
    bodyLimit: route.bodyLimitBytes ?? HTTP_LIMITS.bodyLimitBytes,
    config: { priority: route.priority },
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
      config: { priority: op.priority },
      handler: (_request, reply) => handle(reply),
    });
  }
}

interface Guard {
  onRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  /** The route's authentication refused the request (see rate-limit.ts on refunds). */
  authenticationFailed(request: FastifyRequest, auth: AuthResult & { ok: false }): void;
}

/** Failures that come before the signature is proven: the request need not be the key's. */
const UNPROVEN_AUTH_FAILURES: ReadonlySet<ExmoErrorKind> = new Set(["unknownApiKey", "badSignature"]);

/**
 * The flood guard's hook point. Every request passes here first, before its body is read: it
 * counts the request's priority class, then charges the rate limit. A refused request is
 * answered here with 40034 and Retry-After and goes no further (no body read, no
 * authentication, no nonce, no command). Routes without a class (the operator API, behind its
 * own token) are not limited.
 */
function makeGuard(
  metrics: GatewayMetrics,
  results: WeakMap<FastifyRequest, string>,
  limiter: RequestRateLimiter | null,
): Guard {
  const keyCharges = new WeakMap<FastifyRequest, KeyCharge>();
  return {
    async onRequest(request, reply) {
      const configured = request.routeOptions.config.priority;
      const priority = configured ?? "publicData";
      metrics.recordGuard(priority);
      if (limiter === null || configured === undefined) return undefined;
      const decision = limiter.admit({
        ip: request.ip,
        priority,
        keyHeader: headerText(request, "key"),
        signHeader: headerText(request, "sign"),
      });
      if (decision.admitted) {
        if (decision.keyCharge !== null) keyCharges.set(request, decision.keyCharge);
        return undefined;
      }
      metrics.recordRateLimited(priority, decision.scope);
      reply.header("retry-after", String(decision.retryAfterSeconds));
      return sendError(reply, results, "rateLimited");
    },
    authenticationFailed(request, auth) {
      const charge = keyCharges.get(request);
      if (charge !== undefined && limiter !== null && UNPROVEN_AUTH_FAILURES.has(auth.kind))
        limiter.refundUnproven(charge);
    },
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
  const fastify = Fastify({
    loggerInstance: logger,
    serverFactory: serverFactory(options.tls),
    bodyLimit: HTTP_LIMITS.bodyLimitBytes,
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 100 },
    return503OnClosing: true,
  });
  const metrics = new GatewayMetrics(exchange, { defaultMetrics: options.defaultMetrics ?? true });
  const results = new WeakMap<FastifyRequest, string>();
  // The signature covers the raw bytes: keep them, never a re-serialised parse (docs/API.md#signing).
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  const limiter = options.rateLimit === false ? null : new RequestRateLimiter(options.rateLimit);
  const guard = makeGuard(metrics, results, limiter);
  fastify.addHook("onRequest", (request, reply) => guard.onRequest(request, reply));
  installMetricsHook(fastify, metrics, results);
  installErrorHandling(fastify, results);
  const watermarks = new WriteWatermarks();
  const routes = [...publicRoutes(exchange), ...privateRoutes({ exchange, watermarks })];
  for (const route of routes)
    mountExmoRoute(fastify, { route, exchange, secretBox: options.secretBox, results, guard });
  // Any other /v1.1 path, margin included: EXMO's 40015 with the path, through the same hooks.
  fastify.route({
    method: ["GET", "POST"],
    url: "/v1.1/*",
    config: { priority: "publicData" },
    handler: (request, reply) =>
      sendError(reply, results, "unknownFunction", (request.raw.url ?? "").split("?")[0]),
  });
  mountOpsRoutes(fastify, exchange, metrics, routes);
  return {
    server: fastify.server,
    fastify,
    async listen() {
      await fastify.listen({ port: options.port, host: options.host });
      return { port: (fastify.server.address() as AddressInfo).port };
    },
    close: () => fastify.close(),
  };
}

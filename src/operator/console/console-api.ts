// The operator console's API on the public port (docs/SECURITY.md#operator-console), under
// /api/v1/console:
//
//   POST /login  {"email","password"[,"totp"]}  → {"email","role","permissions"} + cookies
//   POST /logout                       → {"ok":true}, cookies cleared
//   GET  /me                           → {"email","role","permissions"} or 401
//   *    /operator/v1/...              the operator API (src/operator/plugin.ts) mounted again:
//                                      same paths, bodies and answers, behind this door
//
// A person logs in with an operator account (src/operator/console/operator-accounts.ts) and gets
// a console session: cookie `bulwark_console` (HttpOnly, SameSite=Strict, Secure under TLS) with a
// 256-bit id whose SHA-256 alone is stored, and `bulwark_console_csrf` (readable by the page):
// HMAC(session id, "csrf"), echoed in X-CSRF-Token on every non-GET, with the Origin check of the
// users' sessions (src/gateway/session/session-auth.ts; the same helpers, other cookie names).
// Every operator route then passes the role table (roles.ts); changes are audited as
// "console:<email>", one actor per person, so two console operators are two approvers.
// An operator with confirmed 2FA (`bulwark operator 2fa enable|confirm`) also sends "totp", the
// 6-digit code of their authenticator app: without it the login is refused with totp_required, a
// wrong or already used code with wrong_totp (every attempt counts against the login throttle).
// The console's own refusals are {"error":{"code","message"}}; the operator routes' answers,
// refusals included, are exactly those of /operator/v1 ({"error":{"kind","message"}}).

import { randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  type ScryptParams,
  verifyPassword,
} from "../../accounts/passwords.ts";
import type { ExchangeBoundary, JsonValue, OperatorAccountRecord } from "../../exchange/boundary.ts";
import {
  DEFAULT_LOGIN_THROTTLE,
  LoginThrottle,
  type LoginThrottleOptions,
} from "../../gateway/session/login-throttle.ts";
import {
  CSRF_HEADER,
  csrfToken,
  newSessionId,
  originProblem,
  parseCookies,
  type SessionRequest,
  type SessionTimes,
  sessionHash,
} from "../../gateway/session/session-auth.ts";
import { MAX_EMAIL_LENGTH, type OperatorActions } from "../actions.ts";
import { OPERATOR_API_PREFIX, type OperatorApiDoor, operatorApi } from "../plugin.ts";
import { isOperatorRole, type OperatorRole, permissionsOf, roleMay } from "./roles.ts";

export const CONSOLE_PREFIX = "/api/v1/console";
export const CONSOLE_COOKIE = "bulwark_console";
export const CONSOLE_CSRF_COOKIE = "bulwark_console_csrf";
/** The operator routes' path under the console: /api/v1/console/operator/v1/... */
export const CONSOLE_OPERATOR_PREFIX = `${CONSOLE_PREFIX}${OPERATOR_API_PREFIX}`;
/** Login, logout and me take small JSON bodies. */
const CONSOLE_BODY_LIMIT_BYTES = 4096;
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
/** Last-seen is written at most this often per session (not once per request). */
const TOUCH_INTERVAL_MS = 60 * 1000;
/** Console sessions are shorter than users': 15 minutes idle, 8 hours at most. */
export const DEFAULT_CONSOLE_SESSION_TIMES: Readonly<SessionTimes> = {
  idleTimeoutMs: 15 * 60 * 1000,
  absoluteTimeoutMs: 8 * 60 * 60 * 1000,
};

export type ConsoleErrorCode =
  | "bad_request"
  | "wrong_credentials"
  | "totp_required"
  | "wrong_totp"
  | "operator_disabled"
  | "throttled"
  | "no_session"
  | "session_expired"
  | "session_revoked"
  | "csrf_failed"
  | "bad_origin"
  | "forbidden"
  | "not_found"
  | "payload_too_large"
  | "internal_error";

export interface ConsoleApiOptions {
  actions: OperatorActions;
  exchange: ExchangeBoundary;
  /** The server runs TLS: Secure cookies, and the Origin a browser sends is https://. */
  secure: boolean;
  /** Milliseconds since the epoch; default Date.now (tests move it). */
  clock?: () => number;
  times?: SessionTimes;
  throttle?: LoginThrottleOptions;
  /** scrypt cost of the dummy hash a login for an unknown email checks (timing); default passwords.ts's. */
  passwordScrypt?: ScryptParams;
  /** GET /operator/v1/verify, as on the socket. */
  verifyCore?: () => unknown;
}

class ConsoleError extends Error {
  constructor(
    readonly status: number,
    readonly code: ConsoleErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ConsoleError";
  }
}

function sendConsoleError(reply: FastifyReply, error: ConsoleError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) reply.header("retry-after", String(error.retryAfterSeconds));
  return reply
    .code(error.status)
    .header("cache-control", "no-store")
    .send({ error: { code: error.code, message: error.message } });
}

function headerText(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

function equalConstantTime(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  return left.length === right.length && timingSafeEqual(left, right);
}

function cookie(name: string, value: string, httpOnly: boolean, maxAgeSeconds: number, secure: boolean) {
  const parts = [`${name}=${value}`, "Path=/", `Max-Age=${maxAgeSeconds}`, "SameSite=Strict"];
  if (httpOnly) parts.push("HttpOnly");
  if (secure) parts.push("Secure");
  return parts.join("; ");
}

function stateChanging(method: string): boolean {
  return method !== "GET" && method !== "HEAD";
}

/** The JSON object body of a console call: exactly the string fields named. */
function jsonFields(request: FastifyRequest, required: readonly string[], optional: readonly string[]) {
  const type = headerText(request, "content-type") ?? "";
  // JSON only: a cross-site HTML form cannot send it without a preflight this server refuses.
  if (!/^application\/json\s*(;|$)/i.test(type))
    throw new ConsoleError(415, "bad_request", "send a JSON body with Content-Type: application/json");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.isBuffer(request.body) ? request.body.toString("utf8") : "");
  } catch {
    throw new ConsoleError(400, "bad_request", "the body is not valid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new ConsoleError(400, "bad_request", "the body must be a JSON object");
  const fields: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(parsed)) {
    if (!required.includes(name) && !optional.includes(name))
      throw new ConsoleError(
        400,
        "bad_request",
        `unknown field '${name.slice(0, 32).replace(/[^A-Za-z0-9_]/g, "?")}'`,
      );
    if (typeof value !== "string")
      throw new ConsoleError(400, "bad_request", `field '${name}' must be a string`);
    fields[name] = value;
  }
  for (const name of required)
    if (!(name in fields)) throw new ConsoleError(400, "bad_request", `missing field '${name}'`);
  return fields;
}

interface ConsoleIdentity {
  operator: OperatorAccountRecord;
  role: OperatorRole;
  sessionHash: string;
}

/** The console actor of an operator: one per person (custody counts distinct actors as approvers). */
export function consoleActor(email: string): string {
  return `console:${email}`;
}

/** Registers the console on `app` (give it `{ prefix: CONSOLE_PREFIX }`). */
export async function consoleApi(app: FastifyInstance, options: ConsoleApiOptions): Promise<void> {
  const { exchange, secure } = options;
  const operators = exchange.operators;
  const clock = options.clock ?? Date.now;
  const times = options.times ?? DEFAULT_CONSOLE_SESSION_TIMES;
  const throttle = new LoginThrottle(options.throttle ?? DEFAULT_LOGIN_THROTTLE);
  // A login for an email nobody has still runs scrypt once, so timing does not tell them apart.
  const timingDummy = hashPassword(
    randomBytes(16).toString("hex"),
    options.passwordScrypt ?? DEFAULT_SCRYPT_PARAMS,
  );
  const identities = new WeakMap<FastifyRequest, ConsoleIdentity>();
  const maxAgeSeconds = Math.floor(times.absoluteTimeoutMs / 1000);

  const audit = (actor: string, action: string, subject: string, details: JsonValue) =>
    exchange.audit.append({ tsMs: clock(), actor, action, subject, details });

  const sessionRequest = (request: FastifyRequest): SessionRequest => ({
    cookieHeader: headerText(request, "cookie"),
    csrfHeader: headerText(request, CSRF_HEADER),
    originHeader: headerText(request, "origin"),
    hostHeader: headerText(request, "host"),
    scheme: secure ? "https" : "http",
  });

  const admitRequest = (request: FastifyRequest) => {
    const admitted = throttle.admitRequest(request.ip, clock());
    if (!admitted.admitted)
      throw new ConsoleError(
        429,
        "throttled",
        `too many requests from this address; try again in ${admitted.retryAfterSeconds} s`,
        admitted.retryAfterSeconds,
      );
  };

  /** The console session a request carries, checked (and, for a change, its Origin and CSRF token). */
  const authenticate = async (request: FastifyRequest): Promise<ConsoleIdentity> => {
    const carried = sessionRequest(request);
    const cookies = parseCookies(carried.cookieHeader);
    const sessionId = cookies.get(CONSOLE_COOKIE);
    if (sessionId === undefined || sessionId === "")
      throw new ConsoleError(401, "no_session", "not logged in to the console");
    if (!SESSION_ID.test(sessionId))
      throw new ConsoleError(401, "no_session", "not logged in to the console (malformed session cookie)");
    if (stateChanging(request.method)) {
      const origin = originProblem(carried);
      if (origin !== null) throw new ConsoleError(origin.status, "bad_origin", origin.message);
      const header = carried.csrfHeader;
      if (header === undefined || header === "")
        throw new ConsoleError(
          403,
          "csrf_failed",
          `missing CSRF token: echo the ${CONSOLE_CSRF_COOKIE} cookie in the X-CSRF-Token header`,
        );
      // Both compares always run: timing says nothing about which one failed.
      const cookieToken = cookies.get(CONSOLE_CSRF_COOKIE);
      const matchesCookie = cookieToken !== undefined && equalConstantTime(header, cookieToken);
      const matchesSession = equalConstantTime(header, csrfToken(sessionId));
      if (!matchesCookie || !matchesSession) throw new ConsoleError(403, "csrf_failed", "invalid CSRF token");
    }
    const hash = sessionHash(sessionId);
    const session = await operators.session(hash);
    if (session === undefined)
      throw new ConsoleError(401, "no_session", "not logged in to the console (unknown session)");
    if (session.revokedMs !== null)
      throw new ConsoleError(401, "session_revoked", "this session was ended; log in again");
    const nowMs = clock();
    if (nowMs >= session.expiresMs || nowMs >= session.lastSeenMs + times.idleTimeoutMs)
      throw new ConsoleError(401, "session_expired", "session expired; log in again");
    const operator = await operators.byId(session.operatorId);
    if (operator === undefined || operator.disabledMs !== null || !isOperatorRole(operator.role))
      throw new ConsoleError(403, "operator_disabled", "this operator account is disabled");
    if (nowMs - session.lastSeenMs >= TOUCH_INTERVAL_MS) await operators.touchSession(hash, nowMs);
    return { operator, role: operator.role, sessionHash: hash };
  };

  const whoAmI = (identity: { email: string; role: OperatorRole }) => ({
    email: identity.email,
    role: identity.role,
    permissions: permissionsOf(identity.role),
  });

  const run =
    (handle: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      reply.header("cache-control", "no-store");
      try {
        admitRequest(request);
        return await handle(request, reply);
      } catch (error) {
        if (error instanceof ConsoleError) return sendConsoleError(reply, error);
        request.log.error({ err: error }, "console route failed");
        return sendConsoleError(reply, new ConsoleError(500, "internal_error", "internal error; try again"));
      }
    };

  const route = { bodyLimit: CONSOLE_BODY_LIMIT_BYTES };

  // Raw bytes, as the gateway and the operator API keep them; login reads its JSON itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  app.setErrorHandler((error: { code?: string }, request, reply) => {
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return sendConsoleError(
        reply,
        new ConsoleError(
          413,
          "payload_too_large",
          `the body is larger than ${CONSOLE_BODY_LIMIT_BYTES} bytes`,
        ),
      );
    request.log.info({ err: error }, "console request refused by the HTTP layer");
    return sendConsoleError(reply, new ConsoleError(400, "bad_request", "malformed request"));
  });
  app.setNotFoundHandler((request, reply) =>
    sendConsoleError(
      reply,
      new ConsoleError(
        404,
        "not_found",
        `no console route ${request.method} ${(request.raw.url ?? "").split("?")[0].slice(0, 200)}`,
      ),
    ),
  );

  app.post(
    "/login",
    route,
    run(async (request, reply) => {
      const origin = originProblem(sessionRequest(request));
      if (origin !== null) throw new ConsoleError(origin.status, "bad_origin", origin.message);
      const body = jsonFields(request, ["email", "password"], ["totp"]);
      const email = body.email.trim().toLowerCase().slice(0, MAX_EMAIL_LENGTH);
      const decision = throttle.take(request.ip, `console:${email}`, clock());
      if (!decision.admitted)
        throw new ConsoleError(
          429,
          "throttled",
          `too many attempts from this ${decision.scope}; try again in ${decision.retryAfterSeconds} s`,
          decision.retryAfterSeconds,
        );
      const operator = email === "" ? undefined : await operators.byEmail(email).catch(() => undefined);
      const passwordOk =
        operator === undefined
          ? await verifyPassword(body.password, await timingDummy).then(() => false)
          : await verifyPassword(body.password, operator.passwordHash);
      if (operator === undefined || !passwordOk) {
        await audit(
          "console",
          "console.loginFailed",
          operator === undefined ? "operator:unknown" : `operator:${operator.email}`,
          {
            reason: "wrongCredentials",
            ip: request.ip,
          },
        );
        throw new ConsoleError(401, "wrong_credentials", "wrong email or password");
      }
      const actor = consoleActor(operator.email);
      if (operator.disabledMs !== null || !isOperatorRole(operator.role)) {
        await audit(actor, "console.loginFailed", `operator:${operator.email}`, {
          reason: "disabled",
          ip: request.ip,
        });
        throw new ConsoleError(403, "operator_disabled", "this operator account is disabled");
      }
      const code = body.totp ?? "";
      if (operator.totpStatus === "enabled") {
        // The password was right: only then does the answer say a code is needed.
        if (code === "")
          throw new ConsoleError(
            401,
            "totp_required",
            "enter the 6-digit code of your authenticator app (this operator account has 2FA)",
          );
        const checked = await options.actions.consoleAdmin.checkLoginTotp(operator, code);
        if (checked !== "ok") {
          await audit(actor, "console.loginFailed", `operator:${operator.email}`, {
            reason: "wrongTotp",
            ip: request.ip,
          });
          throw new ConsoleError(
            401,
            "wrong_totp",
            "wrong or already used 2FA code; wait for the next code of your authenticator app",
          );
        }
      } else if (code !== "")
        // A code for an account without 2FA is refused rather than silently ignored.
        throw new ConsoleError(
          400,
          "bad_request",
          "this operator account has no 2FA; leave the code empty (an admin enables it with `bulwark operator 2fa enable`)",
        );
      const sessionId = newSessionId();
      const hash = sessionHash(sessionId);
      const nowMs = clock();
      await operators.createSession({
        sessionHash: hash,
        operatorId: operator.operatorId,
        nowMs,
        expiresMs: nowMs + times.absoluteTimeoutMs,
        clientIp: request.ip.slice(0, 64),
        userAgent: headerText(request, "user-agent") ?? "",
      });
      await audit(actor, "console.login", `operator:${operator.email}`, {
        ip: request.ip,
        role: operator.role,
        session: hash.slice(0, 12),
      });
      reply.header("set-cookie", [
        cookie(CONSOLE_COOKIE, sessionId, true, maxAgeSeconds, secure),
        cookie(CONSOLE_CSRF_COOKIE, csrfToken(sessionId), false, maxAgeSeconds, secure),
      ]);
      return reply.send(whoAmI({ email: operator.email, role: operator.role }));
    }),
  );

  app.post(
    "/logout",
    route,
    run(async (request, reply) => {
      const identity = await authenticate(request);
      await operators.revokeSession(identity.sessionHash, clock());
      await audit(
        consoleActor(identity.operator.email),
        "console.logout",
        `operator:${identity.operator.email}`,
        {
          ip: request.ip,
          session: identity.sessionHash.slice(0, 12),
        },
      );
      reply.header("set-cookie", [
        cookie(CONSOLE_COOKIE, "", true, 0, secure),
        cookie(CONSOLE_CSRF_COOKIE, "", false, 0, secure),
      ]);
      return reply.send({ ok: true });
    }),
  );

  app.get(
    "/me",
    run(async (request, reply) => {
      const identity = await authenticate(request);
      return reply.send(whoAmI({ email: identity.operator.email, role: identity.role }));
    }),
  );

  const door: OperatorApiDoor = {
    async onRequest(request, reply) {
      reply.header("cache-control", "no-store");
      try {
        admitRequest(request);
        const identity = await authenticate(request);
        const pattern = request.routeOptions.url ?? "";
        const path = pattern.startsWith(CONSOLE_OPERATOR_PREFIX)
          ? pattern.slice(CONSOLE_OPERATOR_PREFIX.length)
          : pattern;
        if (request.is404 || !roleMay(identity.role, request.method, path)) {
          const what = request.is404 ? "call an unknown operator route" : `${request.method} ${path}`;
          throw new ConsoleError(403, "forbidden", `the ${identity.role} role may not ${what}`);
        }
        identities.set(request, identity);
        return undefined;
      } catch (error) {
        if (error instanceof ConsoleError) return sendConsoleError(reply, error);
        throw error;
      }
    },
    async preHandler(request, reply) {
      // `as` (cold refills) and `approvers` (breaker resume) name who approves; through the console
      // that is the logged-in person only, so one person can never count as two.
      const identity = identities.get(request);
      if (identity === undefined || !Buffer.isBuffer(request.body) || request.body.length === 0)
        return undefined;
      let body: unknown;
      try {
        body = JSON.parse(request.body.toString("utf8"));
      } catch {
        return undefined; // The route's own parser answers with its error.
      }
      if (body === null || typeof body !== "object" || Array.isArray(body)) return undefined;
      const actor = consoleActor(identity.operator.email);
      const fields = body as Record<string, unknown>;
      const asOther = "as" in fields && fields.as !== actor;
      const approvers = fields.approvers;
      const othersApprove =
        approvers !== undefined &&
        !(Array.isArray(approvers) && approvers.length <= 1 && approvers.every((name) => name === actor));
      if (asOther || othersApprove)
        return sendConsoleError(
          reply,
          new ConsoleError(
            403,
            "forbidden",
            `the console counts you as ${actor}; leave out 'as' and 'approvers' (each approver logs in and approves)`,
          ),
        );
      return undefined;
    },
    actor(request) {
      const identity = identities.get(request);
      // onRequest refused every request without an identity before any handler ran.
      if (identity === undefined) throw new Error("console request without an identity");
      return consoleActor(identity.operator.email);
    },
  };

  await app.register(operatorApi, {
    prefix: OPERATOR_API_PREFIX,
    actions: options.actions,
    // Never consulted: the door replaces the bearer token; a token that matches nothing keeps it so.
    token: { matches: () => false, source: "env", generated: null },
    door,
    ...(options.verifyCore === undefined ? {} : { verifyCore: options.verifyCore }),
  });
}

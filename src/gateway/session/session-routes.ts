// The session API (docs/API.md#sessions) under /api/v1/session/: sign up, log in (with the TOTP
// code when the user enabled 2FA), log out, who am I, list and revoke sessions. And the session
// door to the private EXMO operations, /api/v1/private/<method>: server.ts's runRoute calls
// `sessionDoor` where the HMAC door calls authenticate(), so both doors run the same handlers
// with the same form fields and the same EXMO answers.
//
// Errors of the session API, and the session door's own refusals, are one JSON shape with an HTTP
// status: { "error": { "code": "wrong_credentials", "message": "wrong email or password" } }.
// A refused request changes nothing (the throttle's token excepted).

import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AccountService, type AddressRules } from "../../accounts/account-service.ts";
import { type Accounts, SESSION_KEY_PREFIX } from "../../accounts/accounts.ts";
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  passwordPolicyProblem,
  type ScryptParams,
  verifyPassword,
} from "../../accounts/passwords.ts";
import type { SecretBox } from "../../accounts/secret-box.ts";
import type { CustodyPort } from "../../custody/port.ts";
import type { ExchangeBoundary, JsonValue } from "../../exchange/boundary.ts";
import type { CallerIdentity, ExmoRoute, Params } from "../exmo/route.ts";
import { type AccountRouteErrorCode, accountRoutes } from "./account-routes.ts";
import { DEFAULT_LOGIN_THROTTLE, LoginThrottle, type LoginThrottleOptions } from "./login-throttle.ts";
import {
  authenticateSession,
  CSRF_HEADER,
  clearedCookies,
  csrfToken,
  DEFAULT_SESSION_TIMES,
  newSessionId,
  originProblem,
  type SessionAuth,
  type SessionRequest,
  type SessionTimes,
  sessionCookies,
  sessionHash,
} from "./session-auth.ts";

export const SESSION_PREFIX = "/api/v1/session";
export const PRIVATE_PREFIX = "/api/v1/private";
/** Largest JSON body of the session API. */
export const SESSION_BODY_LIMIT_BYTES = 4096;
/** What a browser session may do without more proof; withdrawals also need a TOTP code. */
const SESSION_SCOPES: ReadonlySet<string> = new Set(["info", "trade"]);
/** Withdraw-scoped routes that only read (a withdrawal's txid): no code needed. */
const SESSION_WITHDRAW_READS: ReadonlySet<string> = new Set(["withdraw_get_txid"]);

/** RFC 5321's longest path; the same rule as `bulwark user create` (operator/actions.ts checkEmail). */
const MAX_EMAIL_LENGTH = 254;
const EMAIL = /^[A-Za-z0-9.!#$%*+/=?^_{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*$/;
const TOTP_CODE = /^[0-9]{6}$/;
const SESSION_HANDLE = /^[A-Za-z0-9_-]{43}$/;

export interface SessionOptions {
  times?: SessionTimes;
  throttle?: LoginThrottleOptions;
  /** scrypt cost of new password hashes; default passwords.ts's (tests lower it for speed). */
  passwordScrypt?: ScryptParams;
  /**
   * Which chain serves a currency and its addresses' canonical form, for the address book (the
   * server passes the operator's, OperatorActions.addressRules); without them no address can be added.
   */
  addressRules?: AddressRules;
}

export interface SessionRoutesDependencies {
  exchange: ExchangeBoundary;
  secretBox: SecretBox;
  /** Secure cookies: the server runs TLS. */
  secure: boolean;
  clock: () => number;
  options?: SessionOptions;
  /** Custody, for the wallet reads (pending deposits, withdrawal steps); null without it (devnet off). */
  custody?: CustodyPort | null;
}

export type SessionErrorCode =
  | "bad_request"
  | "unknown_field"
  | "invalid_email"
  | "weak_password"
  | "email_taken"
  | "wrong_credentials"
  | "totp_required"
  | "wrong_totp"
  | "throttled"
  | "no_such_session"
  | "payload_too_large"
  | "internal_error"
  | AccountRouteErrorCode
  | SessionAuthCode;

type SessionAuthCode = (SessionAuth & { ok: false })["code"];

export function sessionErrorBody(code: SessionErrorCode, message: string) {
  return { error: { code, message } };
}

function sendSessionError(reply: FastifyReply, status: number, code: SessionErrorCode, message: string) {
  return reply.code(status).header("cache-control", "no-store").send(sessionErrorBody(code, message));
}

class SessionError extends Error {
  constructor(
    readonly status: number,
    readonly code: SessionErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "SessionError";
  }
}

function headerText(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

function sessionRequest(request: FastifyRequest, secure: boolean): SessionRequest {
  return {
    cookieHeader: headerText(request, "cookie"),
    csrfHeader: headerText(request, CSRF_HEADER),
    originHeader: headerText(request, "origin"),
    hostHeader: headerText(request, "host"),
    scheme: secure ? "https" : "http",
  };
}

/** A JSON object body of string fields, exactly the fields named (optional ones may be absent). */
function jsonBody(
  request: FastifyRequest,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, string> {
  const type = headerText(request, "content-type") ?? "";
  // JSON only: a cross-site HTML form cannot send it without a CORS preflight this server refuses.
  if (!/^application\/json\s*(;|$)/i.test(type))
    throw new SessionError(415, "bad_request", "send a JSON body with Content-Type: application/json");
  const raw = Buffer.isBuffer(request.body) ? request.body.toString("utf8") : "";
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new SessionError(400, "bad_request", "the body is not valid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new SessionError(400, "bad_request", "the body must be a JSON object");
  const fields: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(parsed)) {
    if (!required.includes(name) && !optional.includes(name))
      throw new SessionError(
        400,
        "unknown_field",
        `unknown field '${name.slice(0, 32).replace(/[^A-Za-z0-9_]/g, "?")}'`,
      );
    if (typeof value !== "string")
      throw new SessionError(400, "bad_request", `field '${name}' must be a string`);
    fields[name] = value;
  }
  for (const name of required)
    if (!(name in fields)) throw new SessionError(400, "bad_request", `missing field '${name}'`);
  return fields;
}

function checkEmail(email: string): string {
  const trimmed = email.trim();
  if (trimmed.length > MAX_EMAIL_LENGTH || !EMAIL.test(trimmed))
    throw new SessionError(
      400,
      "invalid_email",
      `not an email address (printable ASCII, at most ${MAX_EMAIL_LENGTH} characters)`,
    );
  return trimmed;
}

interface Handlers {
  get: Record<string, (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>>;
  post: Record<string, (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>>;
}

export function mountSessionRoutes(fastify: FastifyInstance, deps: SessionRoutesDependencies): void {
  const accounts: Accounts = deps.exchange.accounts.withSecretBox(deps.secretBox);
  const times = deps.options?.times ?? DEFAULT_SESSION_TIMES;
  const throttle = new LoginThrottle(deps.options?.throttle ?? DEFAULT_LOGIN_THROTTLE);
  const cookieOptions = { secure: deps.secure };
  const authDeps = { accounts, times, clock: deps.clock };
  // A login for an email nobody has still runs scrypt once, so timing does not tell them apart.
  const scrypt = deps.options?.passwordScrypt ?? DEFAULT_SCRYPT_PARAMS;
  const timingDummy = hashPassword(randomBytes(16).toString("hex"), scrypt);

  const audit = (actor: string, action: string, subject: string, details: JsonValue) =>
    deps.exchange.audit.append({ tsMs: deps.clock(), actor, action, subject, details });

  const requireOrigin = (request: FastifyRequest) => {
    const problem = originProblem(sessionRequest(request, deps.secure));
    if (problem !== null) throw new SessionError(problem.status, problem.code, problem.message);
  };

  const requireSession = async (request: FastifyRequest, stateChanging: boolean) => {
    const auth = await authenticateSession(authDeps, sessionRequest(request, deps.secure), stateChanging);
    if (!auth.ok) throw new SessionError(auth.status, auth.code, auth.message);
    return auth;
  };

  const throttled = (request: FastifyRequest, account: string | null) => {
    const decision = throttle.take(request.ip, account, deps.clock());
    if (!decision.admitted)
      throw new SessionError(
        429,
        "throttled",
        `too many attempts from this ${decision.scope === "account" ? "account" : "address"}; try again in ${decision.retryAfterSeconds} s`,
        decision.retryAfterSeconds,
      );
  };

  const startSession = async (
    request: FastifyRequest,
    reply: FastifyReply,
    userId: number,
    secondFactor: boolean,
  ): Promise<{ sessionId: string; hash: string }> => {
    const sessionId = newSessionId();
    const hash = sessionHash(sessionId);
    const nowMs = deps.clock();
    await accounts.createSession({
      sessionHash: hash,
      userId,
      nowMs,
      expiresMs: nowMs + times.absoluteTimeoutMs,
      clientIp: request.ip.slice(0, 64),
      userAgent: headerText(request, "user-agent") ?? "",
      secondFactor,
    });
    reply.header("set-cookie", sessionCookies(sessionId, times, cookieOptions));
    return { sessionId, hash };
  };

  const handlers: Handlers = {
    post: {
      "/signup": async (request, reply) => {
        requireOrigin(request);
        const body = jsonBody(request, ["email", "password"]);
        throttled(request, null);
        const email = checkEmail(body.email);
        const policy = passwordPolicyProblem(body.password);
        if (policy === "tooShort")
          throw new SessionError(400, "weak_password", "password must be at least 8 characters");
        if (policy === "tooLong") throw new SessionError(400, "weak_password", "password is too long");
        const created = await accounts.createUser({
          email,
          passwordHash: await hashPassword(body.password, scrypt),
          createdMs: deps.clock(),
        });
        if (!created.ok) throw new SessionError(409, "email_taken", "a user with this email already exists");
        const { userId } = created.user;
        const { sessionId, hash } = await startSession(request, reply, userId, false);
        await audit(`user:${userId}`, "user.signup", `user:${userId}`, {
          email: created.user.email,
          ip: request.ip,
          session: hash.slice(0, 12),
        });
        return reply.code(201).send({ userId, email: created.user.email, csrfToken: csrfToken(sessionId) });
      },
      "/login": async (request, reply) => {
        requireOrigin(request);
        const body = jsonBody(request, ["email", "password"], ["totp"]);
        const email = body.email.trim().toLowerCase().slice(0, MAX_EMAIL_LENGTH);
        throttled(request, email);
        const user = EMAIL.test(email) ? await accounts.userByEmail(email) : undefined;
        let passwordOk = false;
        if (user === undefined) await verifyPassword(body.password, await timingDummy);
        else passwordOk = await verifyPassword(body.password, user.passwordHash);
        if (user === undefined || !passwordOk) {
          await audit(
            "web",
            "session.loginFailed",
            user === undefined ? "user:unknown" : `user:${user.userId}`,
            {
              reason: "wrongCredentials",
              ip: request.ip,
            },
          );
          throw new SessionError(401, "wrong_credentials", "wrong email or password");
        }
        const actor = `user:${user.userId}`;
        if (user.status !== "active") {
          await audit(actor, "session.loginFailed", actor, { reason: "frozen", ip: request.ip });
          throw new SessionError(403, "user_frozen", "this account is frozen; contact support");
        }
        const twoFactor = await accounts.totpEnabled(user.userId);
        if (twoFactor) {
          if (body.totp === undefined || body.totp === "")
            throw new SessionError(
              401,
              "totp_required",
              "enter the 6-digit code from your authenticator app",
            );
          const verdict = TOTP_CODE.test(body.totp)
            ? await accounts.verifyTotp(user.userId, body.totp, deps.clock())
            : "wrongCode";
          if (verdict !== "ok") {
            await audit(actor, "session.loginFailed", actor, { reason: "wrongTotp", ip: request.ip });
            throw new SessionError(401, "wrong_totp", "wrong or already used 2FA code");
          }
        } else if (body.totp !== undefined && body.totp !== "") {
          throw new SessionError(
            400,
            "bad_request",
            "2FA is not enabled for this account; leave the code empty",
          );
        }
        const { sessionId, hash } = await startSession(request, reply, user.userId, twoFactor);
        await audit(actor, "session.login", actor, {
          ip: request.ip,
          secondFactor: twoFactor,
          session: hash.slice(0, 12),
        });
        return reply
          .code(200)
          .send({ userId: user.userId, email: user.email, csrfToken: csrfToken(sessionId) });
      },
      "/logout": async (request, reply) => {
        const session = await requireSession(request, true);
        await accounts.revokeSession(session.userId, session.sessionHash, deps.clock());
        const actor = `user:${session.userId}`;
        await audit(actor, "session.logout", actor, {
          ip: request.ip,
          session: session.sessionHash.slice(0, 12),
        });
        return reply.header("set-cookie", clearedCookies(cookieOptions)).send({ ok: true });
      },
      "/sessions/revoke": async (request, reply) => {
        const session = await requireSession(request, true);
        const body = jsonBody(request, ["id"]);
        if (!SESSION_HANDLE.test(body.id)) throw new SessionError(400, "bad_request", "malformed session id");
        if (!(await accounts.revokeSession(session.userId, body.id, deps.clock())))
          throw new SessionError(404, "no_such_session", "no such live session of yours");
        const actor = `user:${session.userId}`;
        await audit(actor, "session.revoke", actor, { ip: request.ip, session: body.id.slice(0, 12) });
        if (body.id === session.sessionHash) reply.header("set-cookie", clearedCookies(cookieOptions));
        return reply.send({ ok: true, current: body.id === session.sessionHash });
      },
    },
    get: {
      "/me": async (request, reply) => {
        const session = await requireSession(request, false);
        const user = await accounts.userById(session.userId);
        if (user === undefined) throw new SessionError(401, "no_session", "not logged in (no such user)");
        return reply.send({
          userId: user.userId,
          email: user.email,
          status: user.status,
          totp: await accounts.totpStatus(user.userId),
          session: { id: session.sessionHash, secondFactor: session.secondFactor },
          csrfToken: csrfToken(session.sessionId),
        });
      },
      "/sessions": async (request, reply) => {
        const session = await requireSession(request, false);
        const rows = await accounts.liveSessionsOfUser(session.userId, { nowMs: deps.clock(), limit: 100 });
        const nowMs = deps.clock();
        return reply.send({
          sessions: rows
            .filter((row) => nowMs < row.lastSeenMs + times.idleTimeoutMs)
            .map((row) => ({
              id: row.sessionHash,
              current: row.sessionHash === session.sessionHash,
              createdMs: row.createdMs,
              lastSeenMs: row.lastSeenMs,
              expiresMs: Math.min(row.expiresMs, row.lastSeenMs + times.idleTimeoutMs),
              clientIp: row.clientIp,
              userAgent: row.userAgent,
              secondFactor: row.secondFactor,
            })),
        });
      },
    },
  };

  // 2FA, API keys, address book, security log (account-routes.ts): the same checks, throttle and errors.
  const account = accountRoutes({
    service: new AccountService({
      accounts,
      secretBox: deps.secretBox,
      clock: deps.clock,
      audit: (entry) => deps.exchange.audit.append(entry),
      auditOfSubjects: (subjects, options) => deps.exchange.audit.ofSubjects(subjects, options),
      addressRules: () => deps.options?.addressRules ?? null,
    }),
    accounts,
    requireSession,
    takeCodeAttempt: (request, email) => throttled(request, email),
    refusal: (status, code, message) => new SessionError(status, code, message),
    clock: deps.clock,
    custody: deps.custody ?? null,
  });
  Object.assign(handlers.get, account.get);
  Object.assign(handlers.post, account.post);

  const run =
    (handle: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      reply.header("cache-control", "no-store");
      try {
        const admitted = throttle.admitRequest(request.ip, deps.clock());
        if (!admitted.admitted)
          throw new SessionError(
            429,
            "throttled",
            `too many requests from this address; try again in ${admitted.retryAfterSeconds} s`,
            admitted.retryAfterSeconds,
          );
        return await handle(request, reply);
      } catch (error) {
        if (error instanceof SessionError) {
          if (error.retryAfterSeconds !== undefined)
            reply.header("retry-after", String(error.retryAfterSeconds));
          return sendSessionError(reply, error.status, error.code, error.message);
        }
        request.log.error({ err: error }, "session route failed");
        return sendSessionError(reply, 500, "internal_error", "internal error; try again");
      }
    };

  const errorHandler = (error: { code?: string }, request: FastifyRequest, reply: FastifyReply) => {
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return sendSessionError(
        reply,
        413,
        "payload_too_large",
        `the body is larger than ${SESSION_BODY_LIMIT_BYTES} bytes`,
      );
    request.log.info({ err: error }, "session request refused by the HTTP layer");
    return sendSessionError(reply, 400, "bad_request", "malformed request");
  };

  for (const [method, table] of [
    ["GET", handlers.get],
    ["POST", handlers.post],
  ] as const)
    for (const [path, handle] of Object.entries(table))
      fastify.route({
        method,
        url: `${SESSION_PREFIX}${path}`,
        bodyLimit: SESSION_BODY_LIMIT_BYTES,
        errorHandler,
        handler: run(handle),
      });
}

export type SessionDoorResult =
  | { ok: true; caller: CallerIdentity; params: Params }
  | { ok: false; reply: FastifyReply };

export type SessionDoor = (
  request: FastifyRequest,
  reply: FastifyReply,
  route: ExmoRoute,
  bodyParams: Params,
) => Promise<SessionDoorResult>;

/**
 * The session's front door to a private EXMO route: session cookie + CSRF instead of Key/Sign/
 * nonce. The session may read and trade; a withdraw-scoped route also needs the form field
 * `totp` (the user's 2FA code), passed to custody as the withdrawal's proof and checked there
 * with the same replay protection as every TOTP code.
 */
export function sessionDoor(deps: SessionRoutesDependencies): SessionDoor {
  const accounts = deps.exchange.accounts;
  const times = deps.options?.times ?? DEFAULT_SESSION_TIMES;
  const authDeps = { accounts, times, clock: deps.clock };
  return async (request, reply, route, bodyParams) => {
    reply.header("cache-control", "no-store");
    const auth = await authenticateSession(authDeps, sessionRequest(request, deps.secure), true);
    if (!auth.ok) return { ok: false, reply: sendSessionError(reply, auth.status, auth.code, auth.message) };
    const params: Record<string, string> = Object.create(null);
    for (const [name, value] of Object.entries(bodyParams)) if (name !== "totp") params[name] = value;
    const caller: CallerIdentity = {
      userId: auth.userId,
      keyId: `${SESSION_KEY_PREFIX}${auth.sessionHash}`,
      clientIp: request.ip,
    };
    if (route.scope !== null && !SESSION_SCOPES.has(route.scope) && !SESSION_WITHDRAW_READS.has(route.path)) {
      const code = bodyParams.totp;
      if (code === undefined || code === "")
        return {
          ok: false,
          reply: sendSessionError(
            reply,
            403,
            "totp_required",
            "withdrawals from the browser need your 2FA code (form field totp)",
          ),
        };
      caller.withdrawalProof = { kind: "totp", code };
    }
    return { ok: true, caller, params };
  };
}

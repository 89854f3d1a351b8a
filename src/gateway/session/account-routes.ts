// The account self-service routes of a browser session (docs/API.md#account-self-service), under
// /api/v1/session/: 2FA, API keys, the withdrawal address book and the security log, for the
// logged-in person's own account only, and two wallet reads custody answers (GET /deposits/pending,
// GET /withdrawals: what the EXMO wallet methods do not carry). The operations are
// src/accounts/account-service.ts's and custody's (src/custody/port.ts), the same the operator's
// actions run (one implementation, two front doors); this file only parses requests, names the
// session's user as the actor and shapes the answers.
//
// Mounted by session-routes.ts into its route table, so every route here has the same session
// check (cookie; Origin and X-CSRF-Token on POST), throttle, body limit and error shape
// { "error": { "code", "message" } } as the rest of the session API. A request carrying a 2FA code
// also takes a token from the account's login-attempt bucket, so codes cannot be guessed here
// faster than at the login.

import type { FastifyReply, FastifyRequest } from "fastify";
import {
  type AccountErrorCode,
  type AccountService,
  AccountServiceError,
  DEFAULT_SECURITY_LOG_ENTRIES,
  MAX_SECURITY_LOG_ENTRIES,
} from "../../accounts/account-service.ts";
import type { Accounts, AddressBookEntry, UserRecord } from "../../accounts/accounts.ts";
import { MAX_ALLOW_LIST_ENTRIES } from "../../accounts/api-keys.ts";
import { type CustodyPort, MAX_PENDING_DEPOSITS_SHOWN, type WithdrawalView } from "../../custody/port.ts";

/** The codes these routes add to the session API's (with their HTTP statuses in ERROR_STATUS). */
export type AccountRouteErrorCode = AccountErrorCode | "unknown_field" | "no_session";

const ERROR_STATUS: Record<AccountErrorCode, number> = {
  bad_request: 400,
  not_found: 404,
  conflict: 409,
  totp_required: 403,
  wrong_totp: 403,
  limit_reached: 409,
};

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface AccountRouteContext {
  service: AccountService;
  accounts: Pick<Accounts, "userById">;
  /** The session's check (cookie; Origin and CSRF when state-changing); throws the session API's error. */
  requireSession: (request: FastifyRequest, stateChanging: boolean) => Promise<{ userId: number }>;
  /** Takes one 2FA attempt from the account's (and the address's) login-attempt bucket; throws when empty. */
  takeCodeAttempt: (request: FastifyRequest, account: string) => void;
  /** The session API's error, thrown by the caller's route wrapper into its JSON shape. */
  refusal: (status: number, code: AccountRouteErrorCode, message: string) => Error;
  clock: () => number;
  /** Custody's face for the wallet reads; null when the server runs without custody (no chains). */
  custody: CustodyPort | null;
}

type FieldType = "string" | "stringList";
interface FieldSpec {
  type: FieldType;
  required: boolean;
}

/** Longest string list a body may carry: the allow-list's own bound. */
const MAX_LIST_ENTRIES = MAX_ALLOW_LIST_ENTRIES;
const LIMIT_TEXT = /^[0-9]{1,4}$/;
/** GET /withdrawals: how many, newest first, unless `limit` says (1..MAX_WITHDRAWALS_SHOWN). */
const DEFAULT_WITHDRAWALS_SHOWN = 20;
export const MAX_WITHDRAWALS_SHOWN = 50;
/** A withdrawal's history steps shown, the last ones (a re-broadcast repeats steps). */
export const MAX_WITHDRAWAL_HISTORY_SHOWN = 32;

export function accountRoutes(context: AccountRouteContext): {
  get: Record<string, Handler>;
  post: Record<string, Handler>;
} {
  const { service, refusal } = context;

  /** A JSON object body of exactly the fields named (optional ones may be absent); an empty body is {}. */
  const body = (
    request: FastifyRequest,
    fields: Record<string, FieldSpec>,
  ): Record<string, string | string[]> => {
    const raw = Buffer.isBuffer(request.body) ? request.body.toString("utf8") : "";
    let parsed: unknown = {};
    if (raw.trim() !== "") {
      const type = request.headers["content-type"];
      // JSON only: a cross-site HTML form cannot send it without a CORS preflight this server refuses.
      if (typeof type !== "string" || !/^application\/json\s*(;|$)/i.test(type))
        throw refusal(415, "bad_request", "send a JSON body with Content-Type: application/json");
      try {
        parsed = JSON.parse(raw);
      } catch {
        throw refusal(400, "bad_request", "the body is not valid JSON");
      }
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
      throw refusal(400, "bad_request", "the body must be a JSON object");
    const values: Record<string, string | string[]> = Object.create(null);
    for (const [name, value] of Object.entries(parsed)) {
      const spec = Object.hasOwn(fields, name) ? fields[name] : undefined;
      if (spec === undefined)
        throw refusal(
          400,
          "unknown_field",
          `unknown field '${name.slice(0, 32).replace(/[^A-Za-z0-9_]/g, "?")}'`,
        );
      if (spec.type === "string") {
        if (typeof value !== "string") throw refusal(400, "bad_request", `field '${name}' must be a string`);
        values[name] = value;
      } else {
        if (
          !Array.isArray(value) ||
          value.length > MAX_LIST_ENTRIES ||
          !value.every((entry) => typeof entry === "string")
        )
          throw refusal(
            400,
            "bad_request",
            `field '${name}' must be a list of at most ${MAX_LIST_ENTRIES} strings`,
          );
        values[name] = value as string[];
      }
    }
    for (const [name, spec] of Object.entries(fields))
      if (spec.required && !(name in values)) throw refusal(400, "bad_request", `missing field '${name}'`);
    return values;
  };

  /** The query string's fields: only those named, each at most once. */
  const query = (request: FastifyRequest, allowed: readonly string[]): Record<string, string> => {
    const given = (request.query ?? {}) as Record<string, unknown>;
    const values: Record<string, string> = Object.create(null);
    for (const [name, value] of Object.entries(given)) {
      if (!allowed.includes(name))
        throw refusal(
          400,
          "unknown_field",
          `unknown query parameter '${name.slice(0, 32).replace(/[^A-Za-z0-9_]/g, "?")}'`,
        );
      if (typeof value !== "string")
        throw refusal(400, "bad_request", `query parameter '${name}' must be given once`);
      values[name] = value;
    }
    return values;
  };

  /** The session's user, and the actor its changes are audited as (the session routes' `user:<id>`). */
  const sessionUser = async (
    request: FastifyRequest,
    stateChanging: boolean,
  ): Promise<{ user: UserRecord; actor: string }> => {
    const session = await context.requireSession(request, stateChanging);
    const user = await context.accounts.userById(session.userId);
    if (user === undefined) throw refusal(401, "no_session", "not logged in (no such user)");
    return { user, actor: `user:${user.userId}` };
  };

  /** A present, non-empty code costs a login attempt before it is checked. */
  const spendsAttempt = (request: FastifyRequest, user: UserRecord, code: string | string[] | undefined) => {
    if (typeof code === "string" && code !== "") context.takeCodeAttempt(request, user.email);
  };

  /** Runs a service call, its refusals as the session API's errors. */
  const serve = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof AccountServiceError)
        throw refusal(ERROR_STATUS[error.code], error.code, error.message);
      throw error;
    }
  };

  /** The query's `limit`: absent → the default; otherwise a whole number in 1..max. */
  const limitOf = (request: FastifyRequest, fallback: number, max: number): number => {
    const { limit: limitText } = query(request, ["limit"]);
    if (limitText === undefined) return fallback;
    const limit = LIMIT_TEXT.test(limitText) ? Number(limitText) : 0;
    if (limit < 1 || limit > max)
      throw refusal(400, "bad_request", `limit must be a whole number in 1..${max}`);
    return limit;
  };

  /** A withdrawal as its owner sees it: the approvers' names stay with the operators, only their count shows. */
  const withdrawalView = (view: WithdrawalView, confirmationsNeeded: number | null) => ({
    id: view.withdrawalId,
    currency: view.currency,
    amount: view.amount,
    fee: view.fee,
    address: view.address,
    step: view.step,
    approvals: view.approvals.length,
    approvalsNeeded: view.approvalsNeeded,
    txId: view.txId,
    confirmations: view.confirmations,
    confirmationsNeeded,
    reason: view.reason,
    requestedMs: view.requestedMs,
    history: view.history.slice(-MAX_WITHDRAWAL_HISTORY_SHOWN).map((entry) => ({
      step: entry.step,
      atMs: entry.atMs,
    })),
  });

  const text = (value: string | string[] | undefined): string | undefined =>
    typeof value === "string" ? value : undefined;

  const addressView = (entry: AddressBookEntry, nowMs: number) => ({
    currency: entry.currency,
    address: entry.address,
    label: entry.label,
    createdMs: entry.createdMs,
    activeFromMs: entry.activeFromMs,
    active: entry.activeFromMs <= nowMs,
  });

  const get: Record<string, Handler> = {
    "/2fa": async (request, reply) => {
      const { user } = await sessionUser(request, false);
      query(request, []);
      const status = await service.totpStatus(user.userId);
      return reply.send({ enabled: status === "enabled", pending: status === "pending" });
    },
    "/api-keys": async (request, reply) => {
      const { user } = await sessionUser(request, false);
      query(request, []);
      const keys = await service.liveApiKeys(user.userId);
      return reply.send({
        keys: keys.map((key) => ({
          keyId: key.keyId,
          scopes: key.scopes,
          ipAllowList: key.ipAllowList,
          createdMs: key.createdMs,
        })),
      });
    },
    "/addresses": async (request, reply) => {
      const { user } = await sessionUser(request, false);
      const { currency } = query(request, ["currency"]);
      const entries = await serve(() =>
        service.listAddresses(user.userId, currency === undefined ? {} : { currency }),
      );
      const nowMs = context.clock();
      return reply.send({ addresses: entries.map((entry) => addressView(entry, nowMs)) });
    },
    "/security-log": async (request, reply) => {
      const { user } = await sessionUser(request, false);
      const { limit: limitText } = query(request, ["limit"]);
      if (limitText !== undefined && !LIMIT_TEXT.test(limitText))
        throw refusal(400, "bad_request", `limit must be a whole number in 1..${MAX_SECURITY_LOG_ENTRIES}`);
      const limit = limitText === undefined ? DEFAULT_SECURITY_LOG_ENTRIES : Number(limitText);
      const entries = await serve(() => service.securityLog(user.userId, { limit }));
      return reply.send({
        entries: entries.map((entry) => ({
          atMs: entry.atMs,
          action: entry.action,
          actor: entry.actor,
          details: entry.details,
        })),
      });
    },
  };

  // Without custody (a server without chains) nothing is watched and no withdrawal can move: both
  // lists are empty, the same answer a person with no deposit or withdrawal gets.
  get["/deposits/pending"] = async (request, reply) => {
    const { user } = await sessionUser(request, false);
    const limit = limitOf(request, MAX_PENDING_DEPOSITS_SHOWN, MAX_PENDING_DEPOSITS_SHOWN);
    const deposits = context.custody?.pendingDeposits?.(user.userId, limit) ?? [];
    return reply.send({ deposits: deposits.slice(0, limit) });
  };
  get["/withdrawals"] = async (request, reply) => {
    const { user } = await sessionUser(request, false);
    const limit = limitOf(request, DEFAULT_WITHDRAWALS_SHOWN, MAX_WITHDRAWALS_SHOWN);
    const custody = context.custody;
    if (custody === null) return reply.send({ withdrawals: [] });
    const views = await custody.withdrawals({ userId: user.userId, limit });
    const confirmations = new Map(custody.terms().map((terms) => [terms.currency, terms.confirmations]));
    return reply.send({
      withdrawals: views
        // Custody filtered by the user already; checked again so no other person's row can leak.
        .filter((view) => view.userId === user.userId)
        .slice(0, limit)
        .map((view) => withdrawalView(view, confirmations.get(view.currency) ?? null)),
    });
  };

  const post: Record<string, Handler> = {
    "/2fa/enable": async (request, reply) => {
      const { user, actor } = await sessionUser(request, true);
      body(request, {});
      const enrolment = await serve(() => service.enableTotp(actor, user));
      return reply.send({ secret: enrolment.secret, otpauthUrl: enrolment.uri });
    },
    "/2fa/confirm": async (request, reply) => {
      const { user, actor } = await sessionUser(request, true);
      const fields = body(request, { code: { type: "string", required: true } });
      spendsAttempt(request, user, fields.code);
      const change = await serve(() => service.confirmTotp(actor, user, text(fields.code) ?? ""));
      return reply.send({ enabled: true, withdrawalsLockedUntilMs: change.withdrawalsLockedUntilMs });
    },
    "/2fa/disable": async (request, reply) => {
      const { user, actor } = await sessionUser(request, true);
      const fields = body(request, { code: { type: "string", required: false } });
      spendsAttempt(request, user, fields.code);
      const change = await serve(() =>
        service.disableTotp(actor, user, { kind: "session", totp: text(fields.code) }),
      );
      return reply.send({ enabled: false, withdrawalsLockedUntilMs: change.withdrawalsLockedUntilMs });
    },
    "/api-keys/create": async (request, reply) => {
      const { user, actor } = await sessionUser(request, true);
      const fields = body(request, {
        scopes: { type: "string", required: true },
        ipAllowList: { type: "stringList", required: false },
        totp: { type: "string", required: false },
      });
      spendsAttempt(request, user, fields.totp);
      const allowList = fields.ipAllowList;
      const created = await serve(() =>
        service.createApiKey(
          actor,
          user,
          { scopes: text(fields.scopes) ?? "", ipAllowList: Array.isArray(allowList) ? allowList : [] },
          { kind: "session", totp: text(fields.totp) },
        ),
      );
      return reply.code(201).send({
        keyId: created.keyId,
        secret: created.secret,
        scopes: created.scopes.split(","),
        ipAllowList: created.ipAllowList,
      });
    },
    "/api-keys/revoke": async (request, reply) => {
      const { user, actor } = await sessionUser(request, true);
      const fields = body(request, { keyId: { type: "string", required: true } });
      const revoked = await serve(() =>
        service.revokeApiKey(actor, { keyId: text(fields.keyId) ?? "" }, user),
      );
      return reply.send({ keyId: revoked.keyId });
    },
    "/addresses/add": async (request, reply) => {
      const { user, actor } = await sessionUser(request, true);
      const fields = body(request, {
        currency: { type: "string", required: true },
        address: { type: "string", required: true },
        label: { type: "string", required: false },
        totp: { type: "string", required: false },
      });
      spendsAttempt(request, user, fields.totp);
      const { entry } = await serve(() =>
        service.addAddress(
          actor,
          user,
          {
            currency: text(fields.currency) ?? "",
            address: text(fields.address) ?? "",
            label: text(fields.label) ?? "",
          },
          { kind: "session", totp: text(fields.totp) },
        ),
      );
      return reply.code(201).send(addressView(entry, context.clock()));
    },
    "/addresses/remove": async (request, reply) => {
      const { user, actor } = await sessionUser(request, true);
      const fields = body(request, {
        currency: { type: "string", required: true },
        address: { type: "string", required: true },
      });
      await serve(() =>
        service.removeAddress(actor, user, {
          currency: text(fields.currency) ?? "",
          address: text(fields.address) ?? "",
        }),
      );
      return reply.send({ removed: true });
    },
  };

  return { get, post };
}

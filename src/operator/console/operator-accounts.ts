// Operator console accounts and the console's two pages no other operator route gives, as
// operator actions (so the CLI, the Unix socket and the console all have them, audited alike):
//
//   POST /operators          {email, password, role}   → {operatorId, email, role}      (audited)
//   GET  /operators                                    → {operators: [...]}
//   POST /operators/disable  {email}                   → {email, disabledMs, sessionsEnded} (audited)
//   GET  /users?search=&after=&limit=                  → {users: [...with balances], next}
//   GET  /audit/log?before=&subject=&limit=            → {entries: [...], next}
//
// Passwords are scrypt hashes (src/accounts/passwords.ts); an operator is never deleted, only
// disabled, which also ends their console sessions.

import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  passwordPolicyProblem,
  type ScryptParams,
} from "../../accounts/passwords.ts";
import type { ExchangeBoundary, JsonValue, OperatorAccountRecord } from "../../exchange/boundary.ts";
import { OPERATOR_STORE_LIMITS } from "../../exchange/boundary.ts";
import { formatUnits } from "../../units/decimal.ts";
import { checkEmail, MAX_EMAIL_LENGTH, OperatorError } from "../actions.ts";
import { isOperatorRole, OPERATOR_ROLES, type OperatorRole } from "./roles.ts";

export const DEFAULT_USERS_PAGE = 50;
export const DEFAULT_AUDIT_PAGE = 100;
/** Operators one listing shows; a deployment has a handful. */
const MAX_OPERATORS_LISTED = 1_000;

export interface OperatorListing {
  operatorId: number;
  email: string;
  role: string;
  createdMs: number;
  disabledMs: number | null;
}

export interface UserListing {
  userId: number;
  email: string;
  status: string;
  createdMs: number;
  /** Every asset the user holds (available or held non-zero), as the core has it now. */
  balances: { asset: string; available: string; held: string }[];
}

export interface AuditListing {
  seq: number;
  tsMs: number;
  actor: string;
  action: string;
  subject: string;
  details: JsonValue;
  hash: string;
}

function listing(record: OperatorAccountRecord): OperatorListing {
  return {
    operatorId: record.operatorId,
    email: record.email,
    role: record.role,
    createdMs: record.createdMs,
    disabledMs: record.disabledMs,
  };
}

export interface ConsoleAdminContext {
  exchange: ExchangeBoundary;
  clock: () => number;
  audit(actor: string, action: string, subject: string, details: JsonValue): Promise<unknown>;
  /** scrypt cost of new operator passwords; default passwords.ts's. */
  passwordScrypt?: ScryptParams;
}

export class ConsoleAdminActions {
  constructor(private readonly context: ConsoleAdminContext) {}

  async addOperator(
    actor: string,
    input: { email: string; password: string; role: string },
  ): Promise<{ operatorId: number; email: string; role: OperatorRole }> {
    if (!isOperatorRole(input.role))
      throw new OperatorError("invalid", `role must be one of ${OPERATOR_ROLES.join(", ")}`);
    const policy = passwordPolicyProblem(input.password);
    if (policy === "tooShort") throw new OperatorError("invalid", "password must be at least 8 characters");
    if (policy === "tooLong") throw new OperatorError("invalid", "password is too long");
    const email = checkEmail(input.email);
    const created = await this.context.exchange.operators.create({
      email,
      passwordHash: await hashPassword(input.password, this.context.passwordScrypt ?? DEFAULT_SCRYPT_PARAMS),
      role: input.role,
      createdMs: this.context.clock(),
    });
    if (!created.ok) throw new OperatorError("conflict", `an operator with email ${email} already exists`);
    const { operator } = created;
    await this.context.audit(actor, "operator.add", `operator:${operator.email}`, { role: operator.role });
    return { operatorId: operator.operatorId, email: operator.email, role: input.role };
  }

  async listOperators(): Promise<{ operators: OperatorListing[] }> {
    return { operators: (await this.context.exchange.operators.list(MAX_OPERATORS_LISTED)).map(listing) };
  }

  async disableOperator(
    actor: string,
    input: { email: string },
  ): Promise<{ email: string; disabledMs: number; sessionsEnded: number }> {
    const email = checkEmail(input.email);
    const result = await this.context.exchange.operators.disable({ email, nowMs: this.context.clock() });
    if (result === undefined) throw new OperatorError("notFound", `no operator ${email}`);
    if (result.alreadyDisabled) throw new OperatorError("conflict", `operator ${email} is already disabled`);
    const disabledMs = result.operator.disabledMs ?? this.context.clock();
    await this.context.audit(actor, "operator.disable", `operator:${result.operator.email}`, {
      sessionsEnded: result.sessionsEnded,
    });
    return { email: result.operator.email, disabledMs, sessionsEnded: result.sessionsEnded };
  }

  /** Users in id order after `after`, optionally by a part of their email, with their balances. */
  async usersPage(input: { search?: string; after?: number; limit?: number }): Promise<{
    users: UserListing[];
    /** The `after` of the next page, or null when this one is the last. */
    next: number | null;
  }> {
    const limit = input.limit ?? DEFAULT_USERS_PAGE;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > OPERATOR_STORE_LIMITS.maxUsersPerPage)
      throw new OperatorError("invalid", `limit must be 1..${OPERATOR_STORE_LIMITS.maxUsersPerPage}`);
    const { exchange } = this.context;
    const rows = await exchange.operators.usersPage({
      ...(input.search === undefined
        ? {}
        : { emailContains: input.search.trim().slice(0, MAX_EMAIL_LENGTH) }),
      ...(input.after === undefined ? {} : { afterUserId: input.after }),
      limit,
    });
    const assets = exchange.assets();
    const users = rows.map((row) => ({
      ...row,
      balances: assets.flatMap((asset) => {
        const balance = exchange.balance(row.userId, asset.assetId);
        if (balance.availableUnits === 0 && balance.heldUnits === 0) return [];
        return [
          {
            asset: asset.code,
            available: formatUnits(balance.availableUnits, asset.scale),
            held: formatUnits(balance.heldUnits, asset.scale),
          },
        ];
      }),
    }));
    return { users, next: rows.length === limit ? rows[rows.length - 1].userId : null };
  }

  /** The audit log newest first, before sequence `before`, optionally of one subject. */
  async auditPage(input: { before?: number; subject?: string; limit?: number }): Promise<{
    entries: AuditListing[];
    /** The `before` of the next (older) page, or null when this one reaches the first row. */
    next: number | null;
  }> {
    const limit = input.limit ?? DEFAULT_AUDIT_PAGE;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > OPERATOR_STORE_LIMITS.maxAuditRowsPerPage)
      throw new OperatorError("invalid", `limit must be 1..${OPERATOR_STORE_LIMITS.maxAuditRowsPerPage}`);
    if (input.before !== undefined && input.before < 1)
      throw new OperatorError("invalid", "before must be a sequence number from 1");
    const rows = await this.context.exchange.operators.auditPage({
      ...(input.before === undefined ? {} : { beforeSeq: input.before }),
      ...(input.subject === undefined ? {} : { subject: input.subject }),
      limit,
    });
    const entries = rows.map((row) => ({
      seq: row.seq,
      tsMs: row.tsMs,
      actor: row.actor,
      action: row.action,
      subject: row.subject,
      details: JSON.parse(row.detailsJson) as JsonValue,
      hash: row.hash,
    }));
    const last = rows.at(-1);
    return { entries, next: rows.length === limit && last !== undefined && last.seq > 1 ? last.seq : null };
  }
}

/**
 * The routes' schemas, built when the routes are: actions.ts imports this file and this file
 * imports actions.ts, so nothing of actions.ts may be read while the modules load.
 */
function schemas() {
  const emailText = z.string().min(1).max(MAX_EMAIL_LENGTH);
  const operatorAddBody = z
    .object({ email: emailText, password: z.string().min(1).max(1024), role: z.string().min(1).max(16) })
    .strict();
  const operatorDisableBody = z.object({ email: emailText }).strict();
  const wholeNumberText = z
    .string()
    .regex(/^[0-9]{1,15}$/, "must be a whole number")
    .transform(Number);
  const usersQuery = z
    .object({
      search: z.string().max(MAX_EMAIL_LENGTH).optional(),
      after: wholeNumberText.optional(),
      limit: wholeNumberText.optional(),
    })
    .strict();
  const auditQuery = z
    .object({
      before: wholeNumberText.optional(),
      subject: z.string().min(1).max(256).optional(),
      limit: wholeNumberText.optional(),
    })
    .strict();
  return { operatorAddBody, operatorDisableBody, usersQuery, auditQuery };
}

/** Registers the routes above on the operator API (src/operator/plugin.ts). */
export function registerConsoleAdminRoutes(
  app: FastifyInstance,
  options: {
    admin: () => ConsoleAdminActions;
    actor: (request: FastifyRequest) => string;
    parse: <T>(schema: z.ZodType<T>, value: unknown) => T;
    route: { bodyLimit: number };
  },
): void {
  const { admin, actor, parse, route } = options;
  const { operatorAddBody, operatorDisableBody, usersQuery, auditQuery } = schemas();
  app.get("/operators", async () => admin().listOperators());
  app.post("/operators", route, async (request, reply) =>
    reply.code(201).send(await admin().addOperator(actor(request), parse(operatorAddBody, request.body))),
  );
  app.post("/operators/disable", route, async (request) =>
    admin().disableOperator(actor(request), parse(operatorDisableBody, request.body)),
  );
  app.get("/users", async (request) => admin().usersPage(parse(usersQuery, request.query)));
  app.get("/audit/log", async (request) => admin().auditPage(parse(auditQuery, request.query)));
}

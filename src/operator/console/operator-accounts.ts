// Operator console accounts and the console's two pages no other operator route gives, as
// operator actions (so the CLI, the Unix socket and the console all have them, audited alike):
//
//   POST /operators          {email, password, role}   → {operatorId, email, role}      (audited)
//   GET  /operators                                    → {operators: [...]}
//   POST /operators/disable  {email}                   → {email, disabledMs, sessionsEnded} (audited)
//   POST /operators/2fa/enable   {email}         → {email, secret, uri}   pending; shown once (audited)
//   POST /operators/2fa/confirm  {email, code}   → {email, totp:"enabled"}               (audited)
//   POST /operators/2fa/disable  {email}         → {email, totp:"disabled"}              (audited)
//   GET  /users?search=&after=&limit=                  → {users: [...with balances], next}
//   GET  /audit/log?before=&subject=&limit=            → {entries: [...], next}
//
// Passwords are scrypt hashes (src/accounts/passwords.ts); an operator is never deleted, only
// disabled, which also ends their console sessions. An operator's second factor is TOTP as users'
// (src/accounts/totp.ts: the same window, each time step accepted once), the secret sealed with the
// server's SecretBox under context `operator-totp:<operatorId>` (an email may be longer than a
// context may be); once confirmed, console logins need a code (console-api.ts).

import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  passwordPolicyProblem,
  type ScryptParams,
} from "../../accounts/passwords.ts";
import type { SecretBox } from "../../accounts/secret-box.ts";
import { matchTotp, newTotpSecret, totpUri } from "../../accounts/totp.ts";
import type { ExchangeBoundary, JsonValue, OperatorAccountRecord } from "../../exchange/boundary.ts";
import { OPERATOR_STORE_LIMITS } from "../../exchange/boundary.ts";
import { formatUnits } from "../../units/decimal.ts";
import { checkEmail, MAX_EMAIL_LENGTH, OperatorError } from "../actions.ts";
import { isOperatorRole, OPERATOR_ROLES, type OperatorRole } from "./roles.ts";

export const DEFAULT_USERS_PAGE = 50;
export const DEFAULT_AUDIT_PAGE = 100;
/** Operators one listing shows; a deployment has a handful. */
const MAX_OPERATORS_LISTED = 1_000;
/** The issuer an authenticator app shows next to a console operator's codes. */
const OPERATOR_TOTP_ISSUER = "Bulwark console";

/** The SecretBox context of an operator's TOTP secret. */
export function operatorTotpContext(operatorId: number): string {
  return `operator-totp:${operatorId}`;
}

export type OperatorTotpCheck = "ok" | "notEnabled" | "wrongCode";

export interface OperatorListing {
  operatorId: number;
  email: string;
  role: string;
  createdMs: number;
  disabledMs: number | null;
  /** The console login's second factor: none, pending (not yet confirmed) or enabled. */
  totp: "none" | "pending" | "enabled";
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
    totp: record.totpStatus,
  };
}

export interface ConsoleAdminContext {
  exchange: ExchangeBoundary;
  clock: () => number;
  audit(actor: string, action: string, subject: string, details: JsonValue): Promise<unknown>;
  /** scrypt cost of new operator passwords; default passwords.ts's. */
  passwordScrypt?: ScryptParams;
  /** Seals operators' TOTP secrets; without it the 2FA actions are refused. */
  secretBox?: SecretBox;
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

  private box(): SecretBox {
    const box = this.context.secretBox;
    if (box === undefined) throw new Error("console operators' 2FA needs a SecretBox (server key)");
    return box;
  }

  private async operator(email: string): Promise<OperatorAccountRecord> {
    const checked = checkEmail(email);
    const found = await this.context.exchange.operators.byEmail(checked);
    if (found === undefined) throw new OperatorError("notFound", `no operator ${checked}`);
    return found;
  }

  /** The opened secret of an operator's pending or enabled 2FA; undefined when none opens. */
  private totpSecret(operator: OperatorAccountRecord): string | undefined {
    if (operator.totpSecretSealed === null) return undefined;
    const opened = this.box().open(operator.totpSecretSealed, operatorTotpContext(operator.operatorId));
    // A secret that does not open (another server key, a moved row) proves nothing.
    return opened.ok ? opened.plaintext.toString("utf8") : undefined;
  }

  /**
   * Starts an operator's 2FA: a new secret, stored sealed and pending until `confirmTotp` gets a
   * first code (a pending one is replaced). The secret and its otpauth:// URI are shown only now.
   */
  async enableTotp(
    actor: string,
    input: { email: string },
  ): Promise<{ email: string; secret: string; uri: string }> {
    const operator = await this.operator(input.email);
    if (operator.disabledMs !== null)
      throw new OperatorError("conflict", `operator ${operator.email} is disabled`);
    if (operator.totpStatus === "enabled")
      throw new OperatorError("conflict", `operator ${operator.email} already has 2FA; disable it first`);
    const secret = newTotpSecret();
    const stored = await this.context.exchange.operators.putPendingTotp({
      operatorId: operator.operatorId,
      secretSealed: this.box().seal(secret, operatorTotpContext(operator.operatorId)),
    });
    // Only an enable that raced with a confirm gets here.
    if (!stored)
      throw new OperatorError("conflict", `operator ${operator.email} already has 2FA; disable it first`);
    await this.context.audit(actor, "operator.totpEnable", `operator:${operator.email}`, {});
    return { email: operator.email, secret, uri: totpUri(secret, OPERATOR_TOTP_ISSUER, operator.email) };
  }

  /** Enables the pending secret with its first code (whose time step is then used up). */
  async confirmTotp(
    actor: string,
    input: { email: string; code: string },
  ): Promise<{ email: string; totp: "enabled" }> {
    const operator = await this.operator(input.email);
    if (operator.totpStatus !== "pending")
      throw new OperatorError(
        "conflict",
        operator.totpStatus === "enabled"
          ? `operator ${operator.email} already has 2FA enabled`
          : `operator ${operator.email} has no pending 2FA; run operator 2fa enable first`,
      );
    const secret = this.totpSecret(operator);
    const step = secret === undefined ? undefined : matchTotp(secret, input.code, this.context.clock(), null);
    if (step === undefined || !(await this.context.exchange.operators.confirmTotp(operator.operatorId, step)))
      throw new OperatorError(
        "invalid",
        "wrong code: enter the current 6-digit code of the authenticator app",
      );
    await this.context.audit(actor, "operator.totpConfirm", `operator:${operator.email}`, {});
    return { email: operator.email, totp: "enabled" };
  }

  /** Removes an operator's 2FA (pending or enabled): their console logins take a password only. */
  async disableTotp(actor: string, input: { email: string }): Promise<{ email: string; totp: "disabled" }> {
    const operator = await this.operator(input.email);
    if (!(await this.context.exchange.operators.clearTotp(operator.operatorId)))
      throw new OperatorError("conflict", `operator ${operator.email} has no 2FA`);
    await this.context.audit(actor, "operator.totpDisable", `operator:${operator.email}`, {
      was: operator.totpStatus,
    });
    return { email: operator.email, totp: "disabled" };
  }

  /**
   * A console login's code for an operator with enabled 2FA: "ok" uses its time step up (a code
   * works once, even when two logins race), anything else changes nothing.
   */
  async checkLoginTotp(operator: OperatorAccountRecord, code: string): Promise<OperatorTotpCheck> {
    if (operator.totpStatus !== "enabled") return "notEnabled";
    const secret = this.totpSecret(operator);
    if (secret === undefined) return "wrongCode";
    const step = matchTotp(secret, code, this.context.clock(), operator.totpLastUsedStep);
    if (step === undefined) return "wrongCode";
    return (await this.context.exchange.operators.useTotpStep(operator.operatorId, step))
      ? "ok"
      : "wrongCode";
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
  const operatorTotpBody = z.object({ email: emailText }).strict();
  const operatorTotpConfirmBody = z.object({ email: emailText, code: z.string().min(1).max(16) }).strict();
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
  return {
    operatorAddBody,
    operatorDisableBody,
    operatorTotpBody,
    operatorTotpConfirmBody,
    usersQuery,
    auditQuery,
  };
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
  const {
    operatorAddBody,
    operatorDisableBody,
    operatorTotpBody,
    operatorTotpConfirmBody,
    usersQuery,
    auditQuery,
  } = schemas();
  app.get("/operators", async () => admin().listOperators());
  app.post("/operators", route, async (request, reply) =>
    reply.code(201).send(await admin().addOperator(actor(request), parse(operatorAddBody, request.body))),
  );
  app.post("/operators/disable", route, async (request) =>
    admin().disableOperator(actor(request), parse(operatorDisableBody, request.body)),
  );
  app.post("/operators/2fa/enable", route, async (request) =>
    admin().enableTotp(actor(request), parse(operatorTotpBody, request.body)),
  );
  app.post("/operators/2fa/confirm", route, async (request) =>
    admin().confirmTotp(actor(request), parse(operatorTotpConfirmBody, request.body)),
  );
  app.post("/operators/2fa/disable", route, async (request) =>
    admin().disableTotp(actor(request), parse(operatorTotpBody, request.body)),
  );
  app.get("/users", async (request) => admin().usersPage(parse(usersQuery, request.query)));
  app.get("/audit/log", async (request) => admin().auditPage(parse(auditQuery, request.query)));
}

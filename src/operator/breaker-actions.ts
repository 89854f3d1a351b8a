// The breaker as operators drive it (`bulwark breaker ...`, the operator API's /breakers routes):
// the request checked here (same messages offline and remote), the work done by custody's port,
// which also audits every trip and resume (automatic trips have no operator to audit them here).
// Reached through OperatorActions.breaker; the operator API's routes are registerBreakerRoutes,
// mounted by plugin.ts:
//   GET  /breakers                                  → { breakers: BreakerView[] }
//   POST /breakers/trip    {chain | all, reason, incident?} → { breakers: BreakerView[] }
//   POST /breakers/resume  {chain, reason, approvers?}      → { breaker: BreakerView }
//   GET  /custody/reconciliations?chain=C&limit=N   → { chain, reconciliations: ReconciliationResult[] }

import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { BreakerView, CustodyPort, ReconciliationResult } from "../custody/port.ts";
import { OperatorError } from "./actions.ts";

/** Most reconciliation results one request lists. */
export const MAX_RECONCILIATIONS_LISTED = 1_000;
const DEFAULT_RECONCILIATIONS_LISTED = 20;
/** Most approvers named on one resume. */
const MAX_APPROVERS = 10;
const MAX_REASON_LENGTH = 500;

export interface BreakerActionsContext {
  /** Custody's port; throws OperatorError("notFound") when custody is not running. */
  port(): CustodyPort;
  /** Runs a custody call, turning its refusals into OperatorErrors. */
  call<T>(run: () => Promise<T>): Promise<T>;
  /** A chain as an operator may name it ("btc") → custody's name ("devnet-btc"). */
  chainName(chain: string): string;
}

export interface BreakerTripInput {
  chain?: string;
  /** Every chain (instead of `chain`). */
  all?: boolean;
  reason: string;
  /** An open incident the trip belongs to. */
  incident?: number;
}

export interface BreakerResumeInput {
  chain: string;
  reason: string;
  /** Who approves: two distinct names in production mode; default the operator who asks. */
  approvers?: string[];
}

function checkText(value: unknown, what: string, min: number): string {
  const text = typeof value === "string" ? value.trim() : "";
  if (text.length < min || text.length > MAX_REASON_LENGTH || !/^[\x20-\x7e]*$/.test(text))
    throw new OperatorError("invalid", `${what} must be ${min} to ${MAX_REASON_LENGTH} printable characters`);
  return text;
}

export class BreakerActions {
  constructor(private readonly context: BreakerActionsContext) {}

  async status(): Promise<{ breakers: BreakerView[] }> {
    const port = this.context.port();
    return { breakers: await this.context.call(() => port.breakers()) };
  }

  async trip(actor: string, input: BreakerTripInput): Promise<{ breakers: BreakerView[] }> {
    const port = this.context.port();
    const all = input.all === true;
    const chain = typeof input.chain === "string" && input.chain.trim() !== "" ? input.chain : undefined;
    if (all === (chain !== undefined))
      throw new OperatorError("invalid", "name one chain (--chain C) or every chain (--all)");
    const reason = checkText(input.reason, "reason", 3);
    const incident = input.incident;
    if (incident !== undefined && (!Number.isSafeInteger(incident) || incident < 1))
      throw new OperatorError("invalid", `incident must be a whole number ≥ 1, got ${String(incident)}`);
    const breakers = await this.context.call(() =>
      port.tripBreaker({
        chain: all ? "all" : this.context.chainName(chain as string),
        actor,
        reason,
        ...(incident === undefined ? {} : { incidentId: incident }),
      }),
    );
    return { breakers };
  }

  async resume(actor: string, input: BreakerResumeInput): Promise<{ breaker: BreakerView }> {
    const port = this.context.port();
    const chain = checkText(input.chain, "chain", 1);
    const reason = checkText(input.reason, "reason", 3);
    const named = input.approvers ?? [];
    if (!Array.isArray(named) || named.length > MAX_APPROVERS)
      throw new OperatorError("invalid", `at most ${MAX_APPROVERS} approvers`);
    const approvers =
      named.length === 0 ? [actor] : named.map((name) => checkText(name, "an approver's name", 1));
    const breaker = await this.context.call(() =>
      port.resumeBreaker({ chain: this.context.chainName(chain), approvers, reason }),
    );
    return { breaker };
  }

  async reconciliations(input: {
    chain: string;
    limit?: number;
  }): Promise<{ chain: string; reconciliations: ReconciliationResult[] }> {
    const port = this.context.port();
    const chain = this.context.chainName(checkText(input.chain, "chain", 1));
    const limit = input.limit ?? DEFAULT_RECONCILIATIONS_LISTED;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RECONCILIATIONS_LISTED)
      throw new OperatorError(
        "invalid",
        `limit must be a whole number 1..${MAX_RECONCILIATIONS_LISTED}, got ${String(limit)}`,
      );
    return { chain, reconciliations: await this.context.call(() => port.reconciliations(chain, limit)) };
  }
}

/** Lengths and forms are checked by BreakerActions, so the messages are the same offline and here. */
const tripBody = z
  .object({
    chain: z.string().max(100).optional(),
    all: z.boolean().optional(),
    reason: z.string().max(4 * 1024),
    incident: z.number().int("must be a whole number").optional(),
  })
  .strict();
const resumeBody = z
  .object({
    chain: z.string().max(100),
    reason: z.string().max(4 * 1024),
    approvers: z.array(z.string().max(200)).max(MAX_APPROVERS).optional(),
  })
  .strict();
const reconciliationsQuery = z
  .object({
    chain: z.string().max(100),
    limit: z
      .string()
      .regex(/^[0-9]{1,15}$/, "must be a whole number")
      .transform(Number)
      .optional(),
  })
  .strict();

/** Registers /breakers… and /custody/reconciliations on the operator API. */
export function registerBreakerRoutes(
  app: FastifyInstance,
  options: {
    breaker: () => BreakerActions;
    actor: (request: FastifyRequest) => string;
    parse: <T>(schema: z.ZodType<T>, value: unknown) => T;
    route: { bodyLimit: number };
  },
): void {
  const { breaker, actor, parse, route } = options;
  app.get("/breakers", async () => breaker().status());
  app.post("/breakers/trip", route, async (request) =>
    breaker().trip(actor(request), parse(tripBody, request.body)),
  );
  app.post("/breakers/resume", route, async (request) =>
    breaker().resume(actor(request), parse(resumeBody, request.body)),
  );
  app.get("/custody/reconciliations", async (request) =>
    breaker().reconciliations(parse(reconciliationsQuery, request.query)),
  );
}

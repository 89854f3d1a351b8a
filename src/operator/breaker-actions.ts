// The breaker as operators drive it (`bulwark breaker ...`, the operator API's /breakers routes):
// the request checked here (same messages offline and remote), the work done by custody's port,
// which also audits every trip and resume (automatic trips have no operator to audit them here).
// Reached through OperatorActions.breaker; the operator API's routes are registerBreakerRoutes,
// mounted by plugin.ts:
//   GET  /breakers                                  → { breakers: (BreakerView & { pendingResume? })[] }
//   POST /breakers/trip    {chain | all, reason, incident?} → { breakers: BreakerView[] }
//   POST /breakers/resume  {chain, reason, approvers?}      → { breaker: BreakerView }
//        through the console in production mode, the first operator's resume only approves it:
//        HTTP 202 { breaker, pendingResume: PendingResumeView }; a second, different operator's
//        resume of the same trip resumes it with both as approvers (custody's one resume).
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
/** How long one console operator's approval of a resume waits for a second operator. */
export const PENDING_RESUME_TTL_MS = 15 * 60_000;
/** Distinct approvers a resume needs in production mode (custody's rule). */
const APPROVALS_NEEDED = 2;
/** Most pending resumes kept: one per chain, and custody has far fewer chains. */
const MAX_PENDING_RESUMES = 100;

/** A console operator's approval of resuming a chain's breaker, waiting for a second operator. */
export interface PendingResumeView {
  chain: string;
  /** The first operator's reason. */
  reason: string;
  /** Who approved so far (one console actor). */
  approvers: string[];
  approvalsNeeded: number;
  approvedAtMs: number;
  /** The approval lapses then (PENDING_RESUME_TTL_MS after it was given). */
  expiresAtMs: number;
}

/**
 * A breaker as GET /breakers shows it: with the resume approval waiting for a second operator, when
 * there is one (absent otherwise, so the answer is as before when nothing waits).
 */
export type BreakerStatusView = BreakerView & { pendingResume?: PendingResumeView };

/** What identifies one trip: a later trip (operator's or automatic) differs in time, cause or incident. */
function tripOf(breaker: BreakerView): string {
  return JSON.stringify([
    breaker.trippedAtMs,
    breaker.trippedBy,
    breaker.cause,
    breaker.incidentId,
    breaker.reason,
  ]);
}

/**
 * Resume approvals waiting for a second console operator, per custody chain. Kept in memory on
 * purpose (OperatorActions holds one for the server's life): a restart forgets them, which only
 * means the first operator approves again. An approval counts for the one trip it was given for:
 * it lapses after PENDING_RESUME_TTL_MS, when the breaker is resumed, and when it is tripped anew
 * (an operator's trip clears it; an automatic trip after a resume changes the trip it is checked
 * against), so one person's approval never carries over to another trip.
 */
export class PendingResumes {
  private readonly byChain = new Map<string, PendingResumeView & { trip: string }>();

  /** The approval still standing for this breaker, or null (a lapsed one is dropped). */
  current(breaker: BreakerView, nowMs: number): PendingResumeView | null {
    const pending = this.byChain.get(breaker.chain);
    if (pending === undefined) return null;
    if (breaker.state !== "tripped" || pending.trip !== tripOf(breaker) || nowMs >= pending.expiresAtMs) {
      this.byChain.delete(breaker.chain);
      return null;
    }
    const { trip: _trip, ...view } = pending;
    return { ...view, approvers: [...view.approvers] };
  }

  record(breaker: BreakerView, view: PendingResumeView): void {
    if (!this.byChain.has(breaker.chain) && this.byChain.size >= MAX_PENDING_RESUMES)
      throw new OperatorError("conflict", `at most ${MAX_PENDING_RESUMES} resumes wait for approval at once`);
    this.byChain.set(breaker.chain, { ...view, approvers: [...view.approvers], trip: tripOf(breaker) });
  }

  clear(chain: string): void {
    this.byChain.delete(chain);
  }
}

export interface BreakerActionsContext {
  /** Custody's port; throws OperatorError("notFound") when custody is not running. */
  port(): CustodyPort;
  /** Runs a custody call, turning its refusals into OperatorErrors. */
  call<T>(run: () => Promise<T>): Promise<T>;
  /** A chain as an operator may name it ("btc") → custody's name ("devnet-btc"). */
  chainName(chain: string): string;
  /** The console's resume approvals (one PendingResumes for the server's life). */
  pendingResumes: PendingResumes;
  clock: () => number;
  /** Appends to the audit log as `actor`. */
  audit(
    actor: string,
    action: string,
    subject: string,
    details: Record<string, string | number | null | string[]>,
  ): Promise<unknown>;
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

export interface BreakerResumeOptions {
  /**
   * The request came from one logged-in person (the console): in production mode, without other
   * approvers named, it approves the resume, and a second, different person's approval resumes.
   */
  onePersonPerRequest?: boolean;
}

export interface BreakerResumeAnswer {
  breaker: BreakerView;
  /** Present when the resume only got its first approval (the breaker stays tripped). */
  pendingResume?: PendingResumeView;
}

function checkText(value: unknown, what: string, min: number): string {
  const text = typeof value === "string" ? value.trim() : "";
  if (text.length < min || text.length > MAX_REASON_LENGTH || !/^[\x20-\x7e]*$/.test(text))
    throw new OperatorError("invalid", `${what} must be ${min} to ${MAX_REASON_LENGTH} printable characters`);
  return text;
}

export class BreakerActions {
  constructor(private readonly context: BreakerActionsContext) {}

  async status(): Promise<{ breakers: BreakerStatusView[] }> {
    const port = this.context.port();
    const breakers = await this.context.call(() => port.breakers());
    const nowMs = this.context.clock();
    return {
      breakers: breakers.map((breaker) => {
        const pendingResume = this.context.pendingResumes.current(breaker, nowMs);
        return pendingResume === null ? breaker : { ...breaker, pendingResume };
      }),
    };
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
    // A trip (even of a chain tripped already) is a new situation: approvals given before it lapse.
    for (const breaker of breakers) this.context.pendingResumes.clear(breaker.chain);
    return { breakers };
  }

  async resume(
    actor: string,
    input: BreakerResumeInput,
    options: BreakerResumeOptions = {},
  ): Promise<BreakerResumeAnswer> {
    const port = this.context.port();
    const chain = checkText(input.chain, "chain", 1);
    const reason = checkText(input.reason, "reason", 3);
    const named = input.approvers ?? [];
    if (!Array.isArray(named) || named.length > MAX_APPROVERS)
      throw new OperatorError("invalid", `at most ${MAX_APPROVERS} approvers`);
    const approvers =
      named.length === 0 ? [actor] : named.map((name) => checkText(name, "an approver's name", 1));
    const custodyChain = this.context.chainName(chain);
    if (
      options.onePersonPerRequest === true &&
      port.productionMode === true &&
      approvers.every((name) => name === actor)
    )
      return this.approveResume(port, actor, custodyChain, reason);
    const breaker = await this.context.call(() =>
      port.resumeBreaker({ chain: custodyChain, approvers, reason }),
    );
    this.context.pendingResumes.clear(custodyChain);
    return { breaker };
  }

  /**
   * One person's approval of a resume in production mode: the first is kept (and audited) for the
   * breaker's current trip; a second, different person's resumes it through custody's resume with
   * both as approvers (custody audits that); the same person twice is refused.
   */
  private async approveResume(
    port: CustodyPort,
    actor: string,
    chain: string,
    reason: string,
  ): Promise<BreakerResumeAnswer> {
    const breaker = (await this.context.call(() => port.breakers())).find((view) => view.chain === chain);
    if (breaker === undefined) throw new OperatorError("notFound", `custody has no chain ${chain}`);
    if (breaker.state !== "tripped")
      throw new OperatorError("conflict", `wrongStep: the ${chain} breaker is not tripped`);
    const pendingResumes = this.context.pendingResumes;
    const nowMs = this.context.clock();
    const pending = pendingResumes.current(breaker, nowMs);
    if (pending !== null) {
      if (pending.approvers.includes(actor))
        throw new OperatorError(
          "conflict",
          `approvalRefused: you (${actor}) approved resuming ${chain} already; production mode needs a second, different operator to resume it`,
        );
      const resumed = await this.context.call(() =>
        port.resumeBreaker({ chain, approvers: [...pending.approvers, actor], reason }),
      );
      pendingResumes.clear(chain);
      return { breaker: resumed };
    }
    const pendingResume: PendingResumeView = {
      chain,
      reason,
      approvers: [actor],
      approvalsNeeded: APPROVALS_NEEDED,
      approvedAtMs: nowMs,
      expiresAtMs: nowMs + PENDING_RESUME_TTL_MS,
    };
    // Audited first: an approval the log does not show is never counted.
    await this.context.audit(actor, "breaker.resume.approve", `chain:${chain}`, {
      reason,
      approvers: [actor],
      approvalsNeeded: APPROVALS_NEEDED,
      expiresAtMs: pendingResume.expiresAtMs,
      trippedAtMs: breaker.trippedAtMs,
      incidentId: breaker.incidentId,
    });
    pendingResumes.record(breaker, pendingResume);
    return { breaker, pendingResume };
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
    /** Each request is one logged-in person (the console): resumes collect approvals one by one. */
    onePersonPerRequest: boolean;
    parse: <T>(schema: z.ZodType<T>, value: unknown) => T;
    route: { bodyLimit: number };
  },
): void {
  const { breaker, actor, parse, route, onePersonPerRequest } = options;
  app.get("/breakers", async () => breaker().status());
  app.post("/breakers/trip", route, async (request) =>
    breaker().trip(actor(request), parse(tripBody, request.body)),
  );
  app.post("/breakers/resume", route, async (request, reply) => {
    const answer = await breaker().resume(actor(request), parse(resumeBody, request.body), {
      onePersonPerRequest,
    });
    // Accepted, not done: the breaker stays tripped until a second operator approves.
    if (answer.pendingResume !== undefined) reply.code(202);
    return answer;
  });
  app.get("/custody/reconciliations", async (request) =>
    breaker().reconciliations(parse(reconciliationsQuery, request.query)),
  );
}

// The flood guard as operators drive it (`bulwark guard …`, docs/SECURITY.md#degraded-mode): degraded
// mode and the rate limiter's bans. The guard lives in the running gateway's memory
// (src/gateway/guard/guard-control.ts), so these need the server: offline they say so. Every
// change is audited (guard.degrade, guard.unban). Reached through OperatorActions.guard; routes
// (registerGuardRoutes, mounted by plugin.ts):
//   GET  /guard                 → { degraded: DegradedModeState, bans: BanRecord[] }
//   POST /guard/degrade         {on, reason?, allowListedKeyIds?} → { degraded: DegradedModeState }
//   GET  /guard/bans?limit=N    → { bans: BanRecord[] }
//   POST /guard/bans/lift       {scope: "ip"|"key"|"user", subject} → { lifted: boolean, scope, subject }

import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { JsonValue } from "../exchange/boundary.ts";
import {
  type BanRecord,
  type DegradedModeState,
  type GuardControl,
  type GuardSubjectScope,
  MAX_DEGRADED_ALLOW_LIST,
  MAX_GUARD_REASON_LENGTH,
} from "../gateway/guard/guard-control.ts";
import { OperatorError } from "./actions.ts";

/** Most bans one listing returns, and the default. */
export const MAX_BANS_LISTED = 1_000;
const DEFAULT_BANS_LISTED = 100;
/** Longest ban subject (an IPv6 /64 group, a key id, a user id). */
const MAX_SUBJECT_LENGTH = 128;
/** API key ids are 32 hex digits or similar short tokens; anything else is a typo. */
const KEY_ID = /^[A-Za-z0-9_-]{1,128}$/;
const SCOPES: readonly GuardSubjectScope[] = ["ip", "key", "user"];

export interface GuardActionsContext {
  /** The running gateway's guard; null offline (the CLI without a server). */
  control: GuardControl | null;
  audit: (actor: string, action: string, subject: string, details: JsonValue) => Promise<unknown>;
}

export interface DegradeInput {
  on: boolean;
  reason?: string;
  allowListedKeyIds?: string[];
}

export class GuardActions {
  constructor(private readonly context: GuardActionsContext) {}

  private get control(): GuardControl {
    if (this.context.control === null)
      throw new OperatorError(
        "notFound",
        "the flood guard lives in the running server's memory: run this command while the server runs (`bulwark start`)",
      );
    return this.context.control;
  }

  status(): { degraded: DegradedModeState; bans: BanRecord[] } {
    const control = this.control;
    return { degraded: control.degraded, bans: control.listBans(DEFAULT_BANS_LISTED) };
  }

  bans(input: { limit?: number }): { bans: BanRecord[] } {
    const control = this.control;
    const limit = input.limit ?? DEFAULT_BANS_LISTED;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_BANS_LISTED)
      throw new OperatorError("invalid", `limit must be a whole number 1..${MAX_BANS_LISTED}`);
    return { bans: control.listBans(limit) };
  }

  async degrade(actor: string, input: DegradeInput): Promise<{ degraded: DegradedModeState }> {
    const control = this.control;
    if (typeof input.on !== "boolean") throw new OperatorError("invalid", "on must be true or false");
    const reason = input.reason?.trim();
    if (reason !== undefined && reason.length > MAX_GUARD_REASON_LENGTH)
      throw new OperatorError("invalid", `reason has at most ${MAX_GUARD_REASON_LENGTH} characters`);
    if (input.on && (reason === undefined || reason.length < 3))
      throw new OperatorError(
        "invalid",
        "switching degraded mode on needs a reason (--reason …): it is shown on the public status page",
      );
    const keys = input.allowListedKeyIds;
    if (keys !== undefined) {
      if (!input.on) throw new OperatorError("invalid", "an allow-list is given when switching on");
      if (keys.length > MAX_DEGRADED_ALLOW_LIST)
        throw new OperatorError("invalid", `at most ${MAX_DEGRADED_ALLOW_LIST} allow-listed keys`);
      const bad = keys.find((key) => !KEY_ID.test(key));
      if (bad !== undefined) throw new OperatorError("invalid", `not an API key id: ${bad.slice(0, 40)}`);
    }
    // Switching on without a list starts with an empty one: a list from an earlier attack is not
    // silently reused.
    const allowListedKeyIds = input.on ? [...new Set(keys ?? [])] : [];
    // Audited first: a switch the log does not show never happens.
    await this.context.audit(actor, "guard.degrade", "guard:degraded", {
      on: input.on,
      reason: reason ?? null,
      allowListedKeyIds,
      was: control.isDegraded,
    });
    const degraded = control.setDegraded({
      on: input.on,
      actor,
      ...(reason === undefined ? {} : { reason }),
      allowListedKeyIds,
    });
    return { degraded };
  }

  async liftBan(
    actor: string,
    input: { scope: string; subject: string },
  ): Promise<{ lifted: boolean; scope: GuardSubjectScope; subject: string }> {
    const control = this.control;
    const scope = SCOPES.find((candidate) => candidate === input.scope);
    if (scope === undefined) throw new OperatorError("invalid", "scope must be ip, key or user");
    const subject = typeof input.subject === "string" ? input.subject.trim() : "";
    if (subject === "" || subject.length > MAX_SUBJECT_LENGTH)
      throw new OperatorError("invalid", `subject must be 1..${MAX_SUBJECT_LENGTH} characters`);
    const lifted = await control.liftBan(scope, subject);
    // Audited whether or not a ban was active: the operator's intent is the record.
    await this.context.audit(actor, "guard.unban", `${scope}:${subject}`, { lifted });
    if (!lifted) throw new OperatorError("notFound", `no active ban on ${scope} ${subject}`);
    return { lifted, scope, subject };
  }
}

const degradeBody = z
  .object({
    on: z.boolean(),
    reason: z
      .string()
      .max(4 * 1024)
      .optional(),
    allowListedKeyIds: z
      .array(z.string().max(256))
      .max(MAX_DEGRADED_ALLOW_LIST * 2)
      .optional(),
  })
  .strict();
const liftBody = z.object({ scope: z.string().max(16), subject: z.string().max(1024) }).strict();
const bansQuery = z
  .object({
    limit: z
      .string()
      .regex(/^[0-9]{1,15}$/, "must be a whole number")
      .transform(Number)
      .optional(),
  })
  .strict();

/** Registers /guard… on the operator API. */
export function registerGuardRoutes(
  app: FastifyInstance,
  options: {
    guard: () => GuardActions;
    actor: (request: FastifyRequest) => string;
    parse: <T>(schema: z.ZodType<T>, value: unknown) => T;
    route: { bodyLimit: number };
  },
): void {
  const { guard, actor, parse, route } = options;
  app.get("/guard", async () => guard().status());
  app.post("/guard/degrade", route, async (request) =>
    guard().degrade(actor(request), parse(degradeBody, request.body)),
  );
  app.get("/guard/bans", async (request) => guard().bans(parse(bansQuery, request.query)));
  app.post("/guard/bans/lift", route, async (request) =>
    guard().liftBan(actor(request), parse(liftBody, request.body)),
  );
}

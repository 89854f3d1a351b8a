// The shape of one EXMO v1.1 endpoint, independent of the HTTP server: its path, who may call it,
// its priority class, its parameter schema (zod, also the source of the OpenAPI description) and
// its handler. The HTTP layer (src/gateway/http/) mounts every route the same way, so schemas,
// auth, the guard and metrics cannot be forgotten on one of them.

import { z } from "zod";
import type { ApiScope } from "../../accounts/api-keys.ts";
import type { WithdrawalProof } from "../../custody/port.ts";
import type { RequestNonce } from "../auth/nonce-gate.ts";
import type { ExmoErrorKind } from "./errors.ts";

/** docs/SECURITY.md#priority-classes: cancel > order entry > private reads > public market data. Shed from the end. */
export type PriorityClass = "cancel" | "orderEntry" | "privateRead" | "publicData";

/** Longest value of any one parameter; longer is refused before any parsing. */
export const MAX_PARAM_LENGTH = 512;
/** Most parameters one request may carry (ccxt sends at most 8; extras are ignored but counted). */
export const MAX_PARAMS = 32;

/** A domain failure a handler raises; the HTTP layer turns it into EXMO's error body. */
export class ExmoFailure extends Error {
  constructor(
    readonly kind: ExmoErrorKind,
    readonly detail?: string,
  ) {
    super(detail === undefined ? kind : `${kind}: ${detail}`);
    this.name = "ExmoFailure";
  }
}

export type Params = Readonly<Record<string, string>>;

/** A string parameter: bounded, and required unless marked optional by the caller. */
export function text(maxLength = 64): z.ZodString {
  return z.string().min(1).max(Math.min(maxLength, MAX_PARAM_LENGTH));
}

export type ParamSchema = z.ZodObject<Record<string, z.ZodType<string | undefined>>>;

export interface CallerIdentity {
  userId: number;
  keyId: string;
  /** The TCP peer's address the key's allow-list was checked against (custody checks it again). */
  clientIp: string;
  /**
   * A signed request's nonce (absent for the session door, which has none): the request's one
   * command carries it into the journal (private-routes.ts submitFor takes it), or the route
   * layer journals it alone (src/gateway/auth/nonce-gate.ts).
   */
  requestNonce?: RequestNonce;
  /**
   * How a withdrawal proves the user asked, when not by the API key: the session door passes the
   * user's TOTP code (src/gateway/session/). Absent: the key from its allowed address.
   */
  withdrawalProof?: WithdrawalProof;
}

interface RouteBase<S extends ParamSchema> {
  /** After "/v1.1/", without a trailing slash. */
  path: string;
  summary: string;
  priority: PriorityClass;
  params: S;
  /** Largest body accepted, bytes. */
  bodyLimitBytes?: number;
  /**
   * The handler's one core command carries the signed request's nonce (submitFor), so the
   * request waits for one durable record, not two. Any other private route has its nonce
   * journaled (touchNonce) before it runs: its effects, if any, are outside the core's command.
   */
  nonceInCommand?: boolean;
}

export interface PublicRouteSpec<S extends ParamSchema> extends RouteBase<S> {
  handle(params: z.infer<S>): Promise<unknown> | unknown;
}

export interface PrivateRouteSpec<S extends ParamSchema> extends RouteBase<S> {
  scope: ApiScope;
  handle(params: z.infer<S>, caller: CallerIdentity): Promise<unknown> | unknown;
}

/** A route with its parameter type erased, as the HTTP layer mounts it. */
export interface ExmoRoute {
  path: string;
  summary: string;
  priority: PriorityClass;
  params: ParamSchema;
  bodyLimitBytes?: number;
  nonceInCommand?: boolean;
  /** null for public routes. */
  scope: ApiScope | null;
  run(params: Params, caller: CallerIdentity | null): Promise<unknown>;
}

/**
 * Validates raw parameters against a schema. A required parameter that is absent is EXMO's
 * 50013 naming it; anything else the schema refuses is "invalid syntax" naming it.
 */
export function validateParams<S extends ParamSchema>(schema: S, params: Params): z.infer<S> {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = String(issue.path[0] ?? "");
  if (field !== "" && !(field in params)) throw new ExmoFailure("missingParameter", field);
  throw new ExmoFailure("invalidParameter", field);
}

export function publicRoute<S extends ParamSchema>(spec: PublicRouteSpec<S>): ExmoRoute {
  return {
    path: spec.path,
    summary: spec.summary,
    priority: spec.priority,
    params: spec.params,
    bodyLimitBytes: spec.bodyLimitBytes,
    scope: null,
    run: async (params) => spec.handle(validateParams(spec.params, params)),
  };
}

export function privateRoute<S extends ParamSchema>(spec: PrivateRouteSpec<S>): ExmoRoute {
  return {
    path: spec.path,
    summary: spec.summary,
    priority: spec.priority,
    params: spec.params,
    bodyLimitBytes: spec.bodyLimitBytes,
    nonceInCommand: spec.nonceInCommand,
    scope: spec.scope,
    run: async (params, caller) => {
      // The HTTP layer authenticates every route with a scope; reaching here without is a bug.
      if (caller === null) throw new ExmoFailure("internalError", "private route without caller");
      return spec.handle(validateParams(spec.params, params), caller);
    },
  };
}

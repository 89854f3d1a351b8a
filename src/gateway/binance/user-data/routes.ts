// Binance listen keys over REST (docs/API.md §17, "User data streams"): POST, PUT and DELETE
// /api/v3/userDataStream with Binance's USER_STREAM security, the X-MBX-APIKEY header alone
// (no signature). The key must be live, hold the `info` scope, allow the caller's address, and
// its user must be active (-2015 otherwise, as for signed requests). PUT and DELETE name the
// listen key in the query or the form body (`listenKey`); one that is not live or not this API
// key's is -1125. Mounted by ../mount.ts; the flood guard charges these to the caller's address
// (no signature proves the key, so its budget is not spent by whoever knows its id).

import type { FastifyReply, FastifyRequest } from "fastify";
import type { Accounts } from "../../../accounts/accounts.ts";
import { isIpAllowed, isWellFormedKeyId } from "../../../accounts/api-keys.ts";
import type { SecretBox } from "../../../accounts/secret-box.ts";
import type { ExchangeBoundary } from "../../../exchange/boundary.ts";
import { openKey } from "../../auth/authenticate.ts";
import { type BinanceErrorKind, BinanceFailure, binanceError } from "../errors.ts";
import { isWellFormedListenKey, type ListenKeyRegistry, listenKeysFor } from "./listen-keys.ts";

/** Parameters a listen key request may carry (it needs one). */
const MAX_PARAMETERS = 4;
/** Largest body looked at: `listenKey=` and 60 characters. */
export const USER_STREAM_BODY_LIMIT_BYTES = 1_024;

export interface UserStreamCaller {
  keyId: string;
  userId: number;
}

export interface UserStreamAuthDependencies {
  accounts: Pick<Accounts, "cachedApiKey" | "cachedUserStatus">;
  secretBox: SecretBox;
}

/** USER_STREAM: the X-MBX-APIKEY header names a live key of an active user, from an allowed address. */
export async function authenticateUserStream(
  deps: UserStreamAuthDependencies,
  apiKeyHeader: string | undefined,
  remoteAddress: string,
): Promise<UserStreamCaller> {
  if (!isWellFormedKeyId(apiKeyHeader)) throw new BinanceFailure("badApiKeyFormat");
  const key = await deps.accounts.cachedApiKey(apiKeyHeader);
  if (key === undefined || key.revokedMs !== null) throw new BinanceFailure("rejectedApiKey");
  if (!key.scopes.includes("info")) throw new BinanceFailure("rejectedApiKey");
  // An allow-list that no longer parses refuses everyone: fail closed.
  const opened = openKey(deps.secretBox, key);
  if (opened.allowList === null || !isIpAllowed(remoteAddress, opened.allowList))
    throw new BinanceFailure("rejectedApiKey");
  const status = await deps.accounts.cachedUserStatus(key.userId);
  if (status !== "active") throw new BinanceFailure("rejectedApiKey");
  return { keyId: apiKeyHeader, userId: key.userId };
}

export interface UserDataRoute {
  method: "POST" | "PUT" | "DELETE";
  url: string;
  /** The guard's weight row (guard/route-costs.ts). */
  costPath: string;
  bodyLimitBytes: number;
  handler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply>;
}

export interface UserDataRouteContext {
  exchange: ExchangeBoundary;
  secretBox: SecretBox;
  clock: () => number;
}

function headerText(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

/** Query and form body parameters together, each name at most once (-1101). */
function requestParams(request: FastifyRequest): Record<string, string> {
  const url = request.raw.url ?? "";
  const queryAt = url.indexOf("?");
  const body = Buffer.isBuffer(request.body)
    ? request.body.toString("utf8")
    : typeof request.body === "string"
      ? request.body
      : "";
  const params: Record<string, string> = {};
  let count = 0;
  for (const text of [queryAt === -1 ? "" : url.slice(queryAt + 1), body]) {
    for (const [name, value] of new URLSearchParams(text)) {
      count += 1;
      if (count > MAX_PARAMETERS) throw new BinanceFailure("tooManyParameters");
      if (Object.hasOwn(params, name))
        throw new BinanceFailure("tooManyParameters", name, "Duplicate values for a parameter detected.");
      params[name] = value;
    }
  }
  return params;
}

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .header("content-type", "application/json; charset=utf-8")
    .send(JSON.stringify(body));
}

function sendFailure(
  reply: FastifyReply,
  kind: BinanceErrorKind,
  detail?: string,
  msg?: string,
): FastifyReply {
  const { status, body } = binanceError(kind, detail, msg);
  return send(reply, status, body);
}

function listenKeyParam(params: Record<string, string>): string {
  const listenKey = params.listenKey;
  if (listenKey === undefined || listenKey === "")
    throw new BinanceFailure("mandatoryParamMissing", "listenKey");
  return listenKey;
}

async function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  run: () => Promise<unknown>,
): Promise<FastifyReply> {
  try {
    return send(reply, 200, await run());
  } catch (error) {
    if (error instanceof BinanceFailure) {
      request.log.info({ kind: error.kind }, "binance listen key request refused");
      return sendFailure(reply, error.kind, error.detail, error.overrideMsg);
    }
    request.log.error({ err: error }, "binance listen key route failed");
    return sendFailure(reply, "unknown");
  }
}

/** POST/PUT/DELETE /api/v3/userDataStream on the exchange's listen key registry. */
export function binanceUserDataRoutes(context: UserDataRouteContext): UserDataRoute[] {
  const registry: ListenKeyRegistry = listenKeysFor(context.exchange, context.clock);
  const deps: UserStreamAuthDependencies = {
    accounts: context.exchange.accounts,
    secretBox: context.secretBox,
  };
  const caller = (request: FastifyRequest) =>
    authenticateUserStream(deps, headerText(request, "x-mbx-apikey"), request.ip);
  const route = (
    method: UserDataRoute["method"],
    run: (params: Record<string, string>, who: UserStreamCaller) => unknown,
  ): UserDataRoute => ({
    method,
    url: "/api/v3/userDataStream",
    costPath: "binance:userDataStream",
    bodyLimitBytes: USER_STREAM_BODY_LIMIT_BYTES,
    handler: (request, reply) =>
      answer(request, reply, async () => {
        const who = await caller(request);
        return run(requestParams(request), who);
      }),
  });
  return [
    route("POST", (_params, who) => {
      const entry = registry.create(who.keyId, who.userId);
      if (entry === null) throw new BinanceFailure("serverBusy");
      return { listenKey: entry.listenKey };
    }),
    route("PUT", (params, who) => {
      const listenKey = listenKeyParam(params);
      if (!isWellFormedListenKey(listenKey) || !registry.keepAlive(listenKey, who.keyId))
        throw new BinanceFailure("invalidListenKey");
      return {};
    }),
    route("DELETE", (params, who) => {
      const listenKey = listenKeyParam(params);
      if (!isWellFormedListenKey(listenKey) || !registry.delete(listenKey, who.keyId))
        throw new BinanceFailure("invalidListenKey");
      return {};
    }),
  ];
}

// The operator HTTP API: the CLI's powers over HTTP, for the console and for operating a running
// server (whose data dir the CLI cannot open: the journal has one writer). Mounted under
// /operator/v1, separate from the EXMO API, and authenticated with the operator bearer token.
// Every change is audited by OperatorActions with actor "operator:api@<client ip>".

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { type OperatorActions, OperatorError, type OperatorErrorKind } from "./actions.ts";
import type { OperatorToken } from "./token.ts";

export const OPERATOR_API_PREFIX = "/operator/v1";
/** Operator requests are small JSON documents. */
const OPERATOR_BODY_LIMIT_BYTES = 16 * 1024;
const MAX_TEXT = 256;

const STATUS_OF: Record<OperatorErrorKind, number> = {
  invalid: 400,
  notFound: 404,
  conflict: 409,
  rejected: 422,
};

const text = z.string().min(1).max(MAX_TEXT);
const decimalText = z.string().min(1).max(40);

const userBody = z.object({ email: text, password: z.string().min(1).max(1024) }).strict();
const userStatusBody = z.object({ status: z.enum(["active", "frozen"]) }).strict();
const keyBody = z
  .object({ email: text, scopes: text, ipAllowList: z.array(z.string().max(64)).max(64).default([]) })
  .strict();
const adjustBody = z.object({ email: text, asset: text, amount: decimalText, reason: text }).strict();
const assetBody = z.object({ code: text, scale: z.number().int().min(0).max(18) }).strict();
const marketBody = z
  .object({
    base: text,
    quote: text,
    tick: decimalText,
    lot: decimalText,
    minPrice: decimalText,
    maxPrice: decimalText,
    minQuantity: decimalText,
    maxQuantity: decimalText,
    minNotional: decimalText,
    maxNotional: decimalText,
    makerFeePercent: decimalText,
    takerFeePercent: decimalText,
    stopBuySlippageBps: z.number().int().min(0).max(10_000).optional(),
    selfTradePrevention: z.enum(["cancelResting", "cancelIncoming", "cancelBoth"]).optional(),
  })
  .strict();
const emailParams = z.object({ email: text });
const keyParams = z.object({ keyId: text });
const symbolParams = z.object({ symbol: text });

/**
 * Bodies arrive as raw bytes (this plugin installs that parser, and the EXMO gateway it may share
 * a server with keeps raw bytes too, for signatures) and are read here as JSON.
 */
function jsonOf(value: unknown): unknown {
  if (!Buffer.isBuffer(value)) return value;
  if (value.length === 0) return {};
  try {
    return JSON.parse(value.toString("utf8"));
  } catch {
    throw new OperatorError("invalid", "body must be JSON");
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(jsonOf(value));
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new OperatorError("invalid", `${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  return result.data;
}

function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (typeof header !== "string" || !header.startsWith("Bearer ")) return "";
  return header.slice("Bearer ".length).trim();
}

export interface OperatorApiOptions {
  actions: OperatorActions;
  token: OperatorToken;
}

/** Registers the operator routes on `app` (give it `{ prefix: OPERATOR_API_PREFIX }`). */
export async function operatorApi(app: FastifyInstance, options: OperatorApiOptions): Promise<void> {
  const { actions, token } = options;
  const actor = (request: FastifyRequest) => `operator:api@${request.ip}`;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  app.addHook("onRequest", async (request, reply) => {
    if (!token.matches(bearer(request)))
      return reply.code(401).send({ error: { kind: "unauthorized", message: "operator token required" } });
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof OperatorError)
      return reply.code(STATUS_OF[error.kind]).send({ error: { kind: error.kind, message: error.message } });
    const status =
      typeof error === "object" && error !== null && "statusCode" in error ? Number(error.statusCode) : 500;
    if (status >= 400 && status < 500)
      return reply
        .code(status)
        .send({ error: { kind: "invalid", message: String((error as Error).message) } });
    app.log.error(error);
    return reply.code(500).send({ error: { kind: "internal", message: "internal error" } });
  });

  const route = { bodyLimit: OPERATOR_BODY_LIMIT_BYTES };
  const created = (reply: FastifyReply, body: unknown) => reply.code(201).send(body);

  app.post("/users", route, async (request, reply) =>
    created(reply, await actions.createUser(actor(request), parse(userBody, request.body))),
  );
  app.post("/users/:email/status", route, async (request) => {
    const { email } = parse(emailParams, request.params);
    return actions.setUserStatus(actor(request), { email, ...parse(userStatusBody, request.body) });
  });
  app.post("/keys", route, async (request, reply) =>
    created(reply, await actions.createApiKey(actor(request), parse(keyBody, request.body))),
  );
  app.delete("/keys/:keyId", route, async (request) =>
    actions.revokeApiKey(actor(request), parse(keyParams, request.params)),
  );
  app.post("/balances/adjust", route, async (request) =>
    actions.adjustBalance(actor(request), parse(adjustBody, request.body)),
  );
  app.get("/assets", async () => ({ assets: actions.listAssets() }));
  app.post("/assets", route, async (request, reply) =>
    created(reply, await actions.addAsset(actor(request), parse(assetBody, request.body))),
  );
  app.get("/markets", async () => ({ markets: await actions.listMarkets() }));
  app.post("/markets", route, async (request, reply) =>
    created(reply, await actions.addMarket(actor(request), parse(marketBody, request.body))),
  );
  app.post("/markets/:symbol/suspend", route, async (request) =>
    actions.setMarketStatus(actor(request), { ...parse(symbolParams, request.params), status: "suspended" }),
  );
  app.post("/markets/:symbol/resume", route, async (request) =>
    actions.setMarketStatus(actor(request), { ...parse(symbolParams, request.params), status: "active" }),
  );
  app.get("/audit/verify", async () => actions.verifyAudit());
}

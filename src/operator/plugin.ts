// The operator HTTP API: the CLI's powers over HTTP, for the console and for operating a running
// server (whose data dir the CLI cannot open: the journal has one writer). Mounted under
// /operator/v1, never on the public port: on the data dir's Unix socket (no token; the `bulwark`
// CLI talks through it) and, when the operator asks for it, on a TCP listener of its own with the
// operator bearer token. Every change is audited by OperatorActions with actor
// "operator:api@<client ip>" (TCP) or the socket's actor. The operator console mounts these same
// routes once more on the public port, under /api/v1/console/operator/v1, behind a person's console
// session, CSRF token and role (src/operator/console/console-api.ts, the `door` option); the
// bearer token is never accepted there.

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { addressGroupKey } from "../accounts/api-keys.ts";
import {
  MAX_EMAIL_LENGTH,
  MAX_WITHDRAWAL_LIST,
  type OperatorActions,
  OperatorError,
  type OperatorErrorKind,
} from "./actions.ts";
import { registerBreakerRoutes } from "./breaker-actions.ts";
import { registerConsoleAdminRoutes } from "./console/operator-accounts.ts";
import { MAX_DEVNET_SIGNED_TX_BYTES } from "./devnet.ts";
import { registerGuardRoutes } from "./guard-actions.ts";
import { registerIncidentRoutes } from "./incident-actions.ts";
import { registerReservesRoutes } from "./reserves-actions.ts";
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
/** The same bound as OperatorActions' check and the store's column, in bodies and in paths. */
const emailText = z
  .string()
  .min(1)
  .max(MAX_EMAIL_LENGTH, `an email address has at most ${MAX_EMAIL_LENGTH} characters`);
const decimalText = z.string().min(1).max(40);

const userBody = z.object({ email: emailText, password: z.string().min(1).max(1024) }).strict();
const userStatusBody = z.object({ status: z.enum(["active", "frozen"]) }).strict();
const keyBody = z
  .object({
    email: emailText,
    scopes: text,
    ipAllowList: z.array(z.string().max(64)).max(64).default([]),
  })
  .strict();
const adjustBody = z.object({ email: emailText, asset: text, amount: decimalText, reason: text }).strict();
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
/** Whole numbers only; the range is checked by OperatorActions (same message offline and here). */
const count = z.number().int("must be a whole number");
const devnetMineBody = z.object({ chain: text, blocks: count.default(1) }).strict();
const devnetFaucetBody = z.object({ chain: text, address: text, asset: text, amount: decimalText }).strict();
const devnetReorgBody = z.object({ chain: text, depth: count }).strict();
// 2FA, the address book, the theft drill's broadcast, custody.
const totpBody = z.object({ email: emailText }).strict();
const totpCodeBody = z.object({ email: emailText, code: z.string().min(1).max(16) }).strict();
const addressText = z.string().min(1).max(MAX_TEXT);
const currencyText = z.string().min(1).max(16);
const addressAddBody = z
  .object({
    email: emailText,
    currency: currencyText,
    address: addressText,
    label: z.string().max(MAX_TEXT).optional(),
  })
  .strict();
const addressListQuery = z.object({ email: emailText }).strict();
const addressActivateBody = z
  .object({ email: emailText, currency: currencyText, address: addressText, reason: text })
  .strict();
const addressRemoveBody = z
  .object({ email: emailText, currency: currencyText, address: addressText, reason: text.optional() })
  .strict();
/** Base64 of at most MAX_DEVNET_SIGNED_TX_BYTES bytes (OperatorActions checks the alphabet and the length). */
const MAX_SIGNED_TX_TEXT = Math.ceil(MAX_DEVNET_SIGNED_TX_BYTES / 3) * 4;
const devnetBroadcastBody = z
  .object({
    chain: text,
    signedTx: z.string().min(1).max(MAX_SIGNED_TX_TEXT),
    note: z.string().max(MAX_TEXT).optional(),
  })
  .strict();
/** A broadcast carries a whole signed transaction: more than the other operator bodies. */
const BROADCAST_BODY_LIMIT_BYTES = MAX_SIGNED_TX_TEXT + 4 * 1024;
const custodyStatusQuery = z.object({ chain: text.optional() }).strict();
const wholeNumberText = z
  .string()
  .regex(/^[0-9]{1,15}$/, "must be a whole number")
  .transform(Number);
const withdrawalListQuery = z
  .object({
    email: emailText.optional(),
    // Checked by OperatorActions, so the message names the steps the same offline and here.
    step: text.optional(),
    limit: wholeNumberText.optional(),
  })
  .strict();
const withdrawalParams = z.object({ withdrawalId: wholeNumberText });
/** The limit's range and the chain are checked by OperatorActions (same message offline and here). */
const sweepListQuery = z
  .object({ chain: z.string().max(100).optional(), limit: wholeNumberText.optional() })
  .strict();
const withdrawalRejectBody = z.object({ reason: text }).strict();
const withdrawalRequestBody = z
  .object({
    email: text,
    currency: text,
    amount: z.string().min(1).max(40),
    address: addressText,
    code: z.string().min(1).max(16),
  })
  .strict();
// The cold wallet (cold-address change, refills). `as`: the operator's name custody counts.
const operatorNameText = z.string().min(1).max(64).optional();
const coldAddressBody = z.object({ chain: text, address: addressText }).strict();
const walletRotateBody = z.object({ chain: text, incidentId: count.optional() }).strict();
const coldRefillListQuery = z.object({ chain: text.optional() }).strict();
const coldRefillBody = z
  .object({ chain: text, currency: currencyText, amount: decimalText, reason: text, as: operatorNameText })
  .strict();
const coldRefillParams = z.object({ refillId: wholeNumberText });
const coldAsBody = z.object({ as: operatorNameText }).strict();
const coldCancelBody = z.object({ reason: text, as: operatorNameText }).strict();
const coldImportBody = z
  .object({ signedTx: z.string().min(1).max(MAX_SIGNED_TX_TEXT), as: operatorNameText })
  .strict();
const emailParams = z.object({ email: emailText });
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

/**
 * Wrong operator tokens, per client address (IPv4, or IPv6 /64): the first FREE_FAILURES are
 * free (typos), each further one locks the address out for twice as long as the last, from 1 s
 * up to 15 min. A locked-out address is answered 429 without its token being looked at, so it
 * learns nothing and costs nothing; other addresses, and so the operator's own, are unaffected.
 * An address's record is forgotten after a correct token, or an hour without failures.
 * At most MAX_TRACKED addresses are remembered (least recently failed forgotten first).
 */
const TOKEN_THROTTLE = {
  freeFailures: 5,
  firstLockoutMs: 1_000,
  maxLockoutMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
  maxTracked: 10_000,
} as const;

interface FailureRecord {
  failures: number;
  lastFailureMs: number;
  lockedUntilMs: number;
}

export class TokenFailureThrottle {
  private readonly records = new Map<string, FailureRecord>();

  constructor(private readonly limits: typeof TOKEN_THROTTLE = TOKEN_THROTTLE) {}

  /** Milliseconds `address` must still wait (0: it may try). */
  lockedForMs(address: string, nowMs: number): number {
    const record = this.live(address, nowMs);
    return record === undefined ? 0 : Math.max(0, Math.ceil(record.lockedUntilMs - nowMs));
  }

  failed(address: string, nowMs: number): void {
    const record = this.live(address, nowMs) ?? { failures: 0, lastFailureMs: nowMs, lockedUntilMs: 0 };
    record.failures += 1;
    record.lastFailureMs = nowMs;
    const excess = record.failures - this.limits.freeFailures;
    if (excess > 0) {
      const lockout = Math.min(
        this.limits.maxLockoutMs,
        this.limits.firstLockoutMs * 2 ** Math.min(excess - 1, 30),
      );
      record.lockedUntilMs = nowMs + lockout;
    }
    this.records.delete(address);
    if (this.records.size >= this.limits.maxTracked) {
      const oldest = this.records.keys().next();
      if (oldest.done !== true) this.records.delete(oldest.value);
    }
    this.records.set(address, record);
  }

  succeeded(address: string): void {
    this.records.delete(address);
  }

  private live(address: string, nowMs: number): FailureRecord | undefined {
    const record = this.records.get(address);
    if (record === undefined) return undefined;
    if (nowMs - record.lastFailureMs > this.limits.forgetAfterMs && nowMs >= record.lockedUntilMs) {
      this.records.delete(address);
      return undefined;
    }
    return record;
  }
}

export interface OperatorApiOptions {
  actions: OperatorActions;
  token: OperatorToken;
  /** Milliseconds, monotonic; default performance.now. Tests drive the wrong-token lockout with it. */
  clock?: () => number;
  /**
   * Served on the owner's Unix socket: no bearer token (whoever can open the socket file, mode
   * 0600 in the 0700 data dir, is the data dir's owner already), and every change is audited as
   * `socket.actor`.
   */
  socket?: { actor: string };
  /** GET /verify: the running core's invariants and state hash (what `bulwark verify` prints). */
  verifyCore?: () => unknown;
  /**
   * Mounted for the operator console (src/operator/console/console-api.ts) on the public port:
   * `door.onRequest` (session, CSRF, role) replaces the bearer token, `door.preHandler` sees the
   * parsed request before its handler, and every change is audited as `door.actor(request)`.
   */
  door?: OperatorApiDoor;
}

export interface OperatorApiDoor {
  onRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  preHandler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  actor(request: FastifyRequest): string;
}

/** Registers the operator routes on `app` (give it `{ prefix: OPERATOR_API_PREFIX }`). */
export async function operatorApi(app: FastifyInstance, options: OperatorApiOptions): Promise<void> {
  const { actions, token } = options;
  const clock = options.clock ?? (() => performance.now());
  const throttle = new TokenFailureThrottle();
  const { socket, door } = options;
  const actor = (request: FastifyRequest) =>
    door !== undefined
      ? door.actor(request)
      : socket === undefined
        ? `operator:api@${request.ip}`
        : socket.actor;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  if (door !== undefined) app.addHook("preHandler", (request, reply) => door.preHandler(request, reply));
  app.addHook("onRequest", async (request, reply) => {
    if (door !== undefined) return door.onRequest(request, reply);
    if (socket !== undefined) return;
    const address = addressGroupKey(request.ip);
    const now = clock();
    const waitMs = throttle.lockedForMs(address, now);
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      return reply
        .code(429)
        .header("retry-after", String(seconds))
        .send({
          error: {
            kind: "rateLimited",
            message: `too many wrong operator tokens from this address; retry in ${seconds} s`,
          },
        });
    }
    if (!token.matches(bearer(request))) {
      throttle.failed(address, now);
      return reply.code(401).send({ error: { kind: "unauthorized", message: "operator token required" } });
    }
    throttle.succeeded(address);
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
  // POST /users/:email/status. An email may be 254 characters, more than the router's default
  // bound on a path parameter (100) that the server mounting this plugin decides; a wildcard has
  // no such bound, so the email is read from it and checked here against the same limit as in
  // bodies.
  app.post("/users/*", route, async (request) => {
    const rest = (request.params as { "*": string })["*"];
    const match = /^(.+)\/status$/.exec(rest);
    if (match === null)
      throw new OperatorError("notFound", "no such operator route; use /users/:email/status");
    const { email } = parse(emailParams, { email: match[1] });
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
  // Console operators, users by page with balances, the audit log by page (src/operator/console/).
  registerConsoleAdminRoutes(app, { admin: () => actions.consoleAdmin, actor, parse, route });
  registerIncidentRoutes(app, { incidents: () => actions.incidents, actor, parse, route });
  // The chains' breakers and their reconciliations (src/operator/breaker-actions.ts).
  registerBreakerRoutes(app, {
    breaker: () => actions.breaker,
    actor,
    // The console's door: one logged-in person per request, so a resume collects approvals.
    onePersonPerRequest: door !== undefined,
    parse,
    route,
  });
  // The flood guard: degraded mode and bans (src/operator/guard-actions.ts).
  registerGuardRoutes(app, { guard: () => actions.guard, actor, parse, route });
  // Loss cover, the insurance fund, proof of reserves (src/operator/reserves-actions.ts).
  registerReservesRoutes(app, { reserves: () => actions.reserves, actor, parse, route });
  // The simulated chains (404 when the server runs without them). Blocks per call are at most
  // MAX_DEVNET_MINE_BLOCKS, a reorg at most MAX_DEVNET_REORG_DEPTH deep.
  app.get("/devnet/status", async () => actions.devnetStatus());
  app.post("/devnet/mine", route, async (request) =>
    actions.devnetMine(actor(request), parse(devnetMineBody, request.body)),
  );
  app.post("/devnet/faucet", route, async (request) =>
    actions.devnetFaucet(actor(request), parse(devnetFaucetBody, request.body)),
  );
  app.post("/devnet/reorg", route, async (request) =>
    actions.devnetReorg(actor(request), parse(devnetReorgBody, request.body)),
  );
  app.post("/devnet/broadcast", { bodyLimit: BROADCAST_BODY_LIMIT_BYTES }, async (request) =>
    actions.devnetBroadcast(actor(request), parse(devnetBroadcastBody, request.body)),
  );

  // Second factors (TOTP). The secret of /2fa/enable is in its answer only, never in the audit log.
  app.post("/2fa/enable", route, async (request, reply) =>
    created(reply, await actions.enableTotp(actor(request), parse(totpBody, request.body))),
  );
  app.post("/2fa/confirm", route, async (request) =>
    actions.confirmTotp(actor(request), parse(totpCodeBody, request.body)),
  );
  app.post("/2fa/verify", route, async (request) =>
    actions.verifyTotp(actor(request), parse(totpCodeBody, request.body)),
  );
  app.post("/2fa/disable", route, async (request) =>
    actions.disableTotp(actor(request), parse(totpBody, request.body)),
  );

  // The address book: withdrawal destinations, checked against the currency's chain.
  app.get("/addresses", async (request) => actions.listAddresses(parse(addressListQuery, request.query)));
  app.post("/addresses", route, async (request, reply) =>
    created(reply, await actions.addAddress(actor(request), parse(addressAddBody, request.body))),
  );
  app.post("/addresses/activate", route, async (request) =>
    actions.activateAddress(actor(request), parse(addressActivateBody, request.body)),
  );
  app.post("/addresses/remove", route, async (request) =>
    actions.removeAddress(actor(request), parse(addressRemoveBody, request.body)),
  );

  // Custody (404 with an explanation while it is not running).
  app.get("/custody/status", async (request) =>
    actions.custodyStatus(parse(custodyStatusQuery, request.query)),
  );
  app.get("/custody/sweeps", async (request) => actions.listSweeps(parse(sweepListQuery, request.query)));
  app.get("/withdrawals", async (request) => {
    const query = parse(withdrawalListQuery, request.query);
    if (query.limit !== undefined && (query.limit < 1 || query.limit > MAX_WITHDRAWAL_LIST))
      throw new OperatorError("invalid", `limit must be 1..${MAX_WITHDRAWAL_LIST}`);
    return actions.listWithdrawals(query);
  });
  app.post("/withdrawals", route, async (request, reply) =>
    created(
      reply,
      await actions.requestWithdrawal(actor(request), parse(withdrawalRequestBody, request.body)),
    ),
  );
  app.post("/withdrawals/:withdrawalId/approve", route, async (request) => {
    parse(z.object({}).strict(), request.body);
    return actions.approveWithdrawal(actor(request), parse(withdrawalParams, request.params));
  });
  app.post("/withdrawals/:withdrawalId/reject", route, async (request) =>
    actions.rejectWithdrawal(actor(request), {
      ...parse(withdrawalParams, request.params),
      ...parse(withdrawalRejectBody, request.body),
    }),
  );

  // The cold wallet: its address (written by the CLI, read by custody at start) and refills.
  // `wallet rotate`: a new wallet generation for a chain (src/operator/wallet-rotation.ts).
  app.post("/wallet/rotate", route, async (request) =>
    actions.rotateWallet(actor(request), parse(walletRotateBody, request.body)),
  );
  app.post("/cold/address", route, async (request) =>
    actions.setColdAddress(actor(request), parse(coldAddressBody, request.body)),
  );
  app.get("/cold/refills", async (request) =>
    actions.listColdRefills(parse(coldRefillListQuery, request.query)),
  );
  app.post("/cold/refills", route, async (request, reply) =>
    created(reply, await actions.requestColdRefill(actor(request), parse(coldRefillBody, request.body))),
  );
  app.post("/cold/refills/:refillId/approve", route, async (request) =>
    actions.approveColdRefill(actor(request), {
      ...parse(coldRefillParams, request.params),
      ...parse(coldAsBody, request.body),
    }),
  );
  app.post("/cold/refills/:refillId/export", route, async (request) =>
    actions.exportColdRefill(actor(request), {
      ...parse(coldRefillParams, request.params),
      ...parse(coldAsBody, request.body),
    }),
  );
  app.post("/cold/refills/:refillId/import", { bodyLimit: BROADCAST_BODY_LIMIT_BYTES }, async (request) =>
    actions.importColdRefill(actor(request), {
      ...parse(coldRefillParams, request.params),
      ...parse(coldImportBody, request.body),
    }),
  );
  app.post("/cold/refills/:refillId/broadcast", route, async (request) =>
    actions.broadcastColdRefill(actor(request), {
      ...parse(coldRefillParams, request.params),
      ...parse(coldAsBody, request.body),
    }),
  );
  app.post("/cold/refills/:refillId/cancel", route, async (request) =>
    actions.cancelColdRefill(actor(request), {
      ...parse(coldRefillParams, request.params),
      ...parse(coldCancelBody, request.body),
    }),
  );

  const { verifyCore } = options;
  if (verifyCore !== undefined)
    app.get("/verify", async (_request, reply) => {
      try {
        return verifyCore();
      } catch (error) {
        // A broken invariant: the operator needs its text (this route is only for the operator).
        const message = error instanceof Error ? error.message : String(error);
        return reply.code(500).send({ error: { kind: "failed", message } });
      }
    });
}

// Custody's port (src/custody/port.ts) over NATS request/reply (issue 12), so cluster gateways
// serve the wallet endpoints: the custody role answers with serveCustody, a gateway holds a
// RemoteCustodyPort and passes it to createGateway as its `custody`. Modelled on command-bus.ts.
//
// Wire format (version 1), JSON in both directions:
//   request: { v: 1, method: CustodyMethod, args: [...] }              ≤ MAX_CUSTODY_REQUEST_BYTES
//   reply:   { v: 1, ok: true, result }                                  ≤ the server's max_payload
//        or  { v: 1, ok: false, error: "custody", code: CustodyErrorCode, detail }
//        or  { v: 1, ok: false, error: "coldRefill", code: ColdRefillErrorCode, detail }
//        or  { v: 1, ok: false, error: "busy" | "malformed" | "unsupported" | "failed" | "resultTooLarge", message }
// Every argument list is checked with zod (method by method, strictly) before the port is called:
// a malformed request gets "malformed" and custody never sees it. Custody's own refusals cross as
// their code and detail, so the gateways' error tables map them exactly as in embedded mode.
//
// Subjects: a cluster may run one custody process per chain (BULWARK_CHAINS), so each process
// takes requests on `<subject>.<instance>` (a queue group) and answers "info" on `<subject>.info`
// (no queue group: all of them answer). The client gathers the infos (bounded: at most
// MAX_CUSTODY_INSTANCES, ending INFO_STALL_MS after the last answer) and routes each request by
// currency or chain; listings across chains are merged (RemoteCustodyPort says which is which).
//
// terms() and productionMode are synchronous in the port: the client keeps a copy, gathered at
// open and refreshed every `termsRefreshMs` (and on demand when a request finds no route, at most
// once a second). pendingDeposits() is synchronous too and per user: it cannot be answered from a
// cache without one per user, so RemoteCustodyPort does not have it (the port allows that):
// cluster gateways list no pending (unconfirmed) deposits.
//
// Read-your-writes holds without the gateway's watermark: custody resolves requestWithdrawal only
// after the store shows its hold (withdrawal-pipeline.ts waits for whenProjected), and the gateway
// reads that same store.
//
// What a caller sees when custody does not answer (CustodyPort callers catch CustodyError and
// CommandOutcomeUnknownError already, so both map through the dialects' existing tables):
// - no custody subscribed, custody busy (its in-flight bound), or a READ that timed out:
//   CustodyError("walletNotAvailable"): nothing changed (depositAddress is idempotent: stored, or
//   derived and stored once), retrying later is safe;
// - a WRITE (requestWithdrawal, approve/reject, breaker trip/resume, cold-refill steps) that timed
//   out, lost its connection, or got a reply that did not parse: CustodyOutcomeUnknownError (a
//   CommandOutcomeUnknownError: EXMO requestTimeout, Binance -1007). Custody may have done it.
//   requestWithdrawal carries no idempotency key in the port, so a blind resend can hold a second
//   withdrawal: the client must read its withdrawal history (withdraw/history, wallet_history)
//   and find the first before asking again. The server never drops a request it has started.

import { randomBytes } from "node:crypto";
import {
  type Msg,
  type NatsConnection,
  RequestError,
  type Subscription,
  TimeoutError,
} from "@nats-io/transport-node";
import { z } from "zod";
import {
  COLD_REFILL_ERROR_CODES,
  ColdRefillError,
  type ColdRefillView,
  CUSTODY_ERROR_CODES,
  type CurrencyTerms,
  CustodyError,
  type CustodyPort,
  type ReserveAddressReport,
  type SweepView,
  WITHDRAWAL_STEPS,
  type WithdrawalView,
} from "../custody/port.ts";
import { CommandOutcomeUnknownError } from "../runtime/sequencer.ts";

/** The envelope version this code writes and the only one it reads. */
export const CUSTODY_BUS_VERSION = 1;
/** Largest request: arguments are ids, short texts and (cold refills) one signed devnet transaction. */
export const MAX_CUSTODY_REQUEST_BYTES = 64 * 1024;
/** The reply bound when the connection does not know the server's max_payload (NATS's default). */
const DEFAULT_MAX_REPLY_BYTES = 1024 * 1024;
/** Processes taking one instance subject join it, so one of them answers each request. */
export const DEFAULT_CUSTODY_QUEUE = "bulwark-custody";
/** Bounds of the client's terms refresh interval. */
export const MIN_TERMS_REFRESH_MS = 100;
export const MAX_TERMS_REFRESH_MS = 60_000;
const MAX_MESSAGE_CHARS = 1024;
/** Most custody processes a gateway routes to (one per chain, and a few spare). */
export const MAX_CUSTODY_INSTANCES = 32;
/** An info gathering ends once no process answered for this long after the last answer. */
const INFO_STALL_MS = 100;
/** A process missing from this many gatherings in a row is dropped (one slow answer keeps its routes). */
const MAX_MISSED_GATHERINGS = 3;
const INSTANCE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

// ---- Argument schemas, one per method ----------------------------------------------------------

const ID = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** Currency codes and chain names ("BTC", "devnet-btc"). */
const CODE = z.string().min(1).max(32);
/** Actors, approvers, key ids, TOTP codes: short texts custody checks itself. */
const SHORT = z.string().max(256);
const REASON = z.string().max(2_000);
const LIMIT = z.number().int().min(0).max(1_000);

const PROOF = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("apiKey"), keyId: SHORT, clientIp: SHORT }).strict(),
  z.object({ kind: z.literal("totp"), code: SHORT }).strict(),
  z.object({ kind: z.literal("operator"), actor: SHORT }).strict(),
]);

/** Arguments of each method served, as a strict tuple. "info" is terms() and productionMode together. */
const ARGUMENTS = {
  info: z.tuple([]),
  depositAddress: z.tuple([ID, CODE]),
  requestWithdrawal: z.tuple([
    z
      .object({
        userId: ID,
        currency: CODE,
        amount: z.string().max(64),
        address: z.string().max(512),
        proof: PROOF,
      })
      .strict(),
  ]),
  withdrawal: z.tuple([ID]),
  withdrawals: z.tuple([
    z.object({ userId: ID.optional(), step: z.enum(WITHDRAWAL_STEPS).optional(), limit: LIMIT }).strict(),
  ]),
  approveWithdrawal: z.tuple([ID, SHORT]),
  rejectWithdrawal: z.tuple([ID, SHORT, REASON]),
  status: z.tuple([]),
  breakers: z.tuple([]),
  tripBreaker: z.tuple([
    z.object({ chain: CODE, actor: SHORT, reason: REASON, incidentId: ID.optional() }).strict(),
  ]),
  resumeBreaker: z.tuple([
    z.object({ chain: CODE, approvers: z.array(SHORT).max(16), reason: REASON }).strict(),
  ]),
  reconciliations: z.tuple([CODE, LIMIT]),
  sweeps: z.tuple([z.object({ chain: CODE.optional(), limit: LIMIT }).strict()]),
  reserveAddresses: z.tuple([]),
  coldRefills: z.union([z.tuple([]), z.tuple([CODE])]),
  requestColdRefill: z.tuple([
    z
      .object({ chain: CODE, currency: CODE, amount: z.string().max(64), actor: SHORT, reason: REASON })
      .strict(),
  ]),
  approveColdRefill: z.tuple([ID, SHORT]),
  exportColdRefill: z.tuple([ID, SHORT]),
  importColdRefill: z.tuple([ID, z.string().max(48 * 1024), SHORT]),
  broadcastColdRefill: z.tuple([ID, SHORT]),
  cancelColdRefill: z.tuple([ID, SHORT, REASON]),
} as const;

export type CustodyMethod = keyof typeof ARGUMENTS;
const METHODS = Object.keys(ARGUMENTS) as CustodyMethod[];

/** Methods that change nothing (or, depositAddress, the same thing every time): a timeout is safe. */
const SAFE_METHODS: ReadonlySet<CustodyMethod> = new Set<CustodyMethod>([
  "info",
  "depositAddress",
  "withdrawal",
  "withdrawals",
  "status",
  "breakers",
  "reconciliations",
  "sweeps",
  "reserveAddresses",
  "coldRefills",
]);

/** Methods a CustodyPort may lack (a test double; a custody without cold wallets). */
const OPTIONAL_METHODS = [
  "sweeps",
  "reserveAddresses",
  "coldRefills",
  "requestColdRefill",
  "approveColdRefill",
  "exportColdRefill",
  "importColdRefill",
  "broadcastColdRefill",
  "cancelColdRefill",
] as const satisfies readonly CustodyMethod[];
type OptionalMethod = (typeof OPTIONAL_METHODS)[number];

const REQUEST_SCHEMA = z
  .object({ v: z.literal(CUSTODY_BUS_VERSION), method: z.enum(METHODS), args: z.array(z.unknown()).max(8) })
  .strict();

// ---- Result schemas (the client checks what the gateways format) --------------------------------

const DECIMAL = z.string().max(64);
const TERMS = z.object({
  currency: CODE,
  chain: CODE,
  network: CODE,
  confirmations: z.number().int().nonnegative(),
  depositEnabled: z.boolean(),
  withdrawEnabled: z.boolean(),
  minDeposit: DECIMAL,
  minWithdraw: DECIMAL,
  maxWithdraw: DECIMAL,
  withdrawFee: DECIMAL,
});
const INFO = z.object({
  /** Where this custody process takes its requests (`<subject>.<instance>`). */
  subject: z.string().min(1).max(256),
  terms: z.array(TERMS).max(1_000),
  productionMode: z.boolean(),
  methods: z.array(z.string()).max(64),
});
type Info = z.infer<typeof INFO>;
const DEPOSIT_ADDRESS = z.object({ currency: CODE, chain: CODE, address: z.string().max(512) });
const WITHDRAWAL = z.object({
  withdrawalId: ID,
  userId: ID,
  currency: CODE,
  chain: CODE,
  amount: DECIMAL,
  fee: DECIMAL,
  address: z.string(),
  step: z.enum(WITHDRAWAL_STEPS),
  txId: z.string().nullable(),
  confirmations: z.number().int().nonnegative(),
  reason: z.string().nullable(),
  approvals: z.array(z.string()),
  approvalsNeeded: z.number().int().nonnegative(),
  requestedMs: z.number().int(),
  history: z.array(z.object({ step: z.enum(WITHDRAWAL_STEPS), atMs: z.number().int() })),
});
/** Views only the operator and the status page read: an object (or a list of them), passed through. */
const VIEW = z.record(z.string(), z.unknown());
const VIEWS = z.array(VIEW);

const REPLY_SCHEMA = z.discriminatedUnion("ok", [
  z.object({ v: z.literal(CUSTODY_BUS_VERSION), ok: z.literal(true), result: z.unknown() }).strict(),
  z.object({
    v: z.literal(CUSTODY_BUS_VERSION),
    ok: z.literal(false),
    error: z.enum(["custody", "coldRefill", "busy", "malformed", "unsupported", "failed", "resultTooLarge"]),
    code: z.string().max(64).optional(),
    detail: z.string().max(MAX_MESSAGE_CHARS).optional(),
    message: z.string().max(MAX_MESSAGE_CHARS).optional(),
  }),
]);
type Reply = z.infer<typeof REPLY_SCHEMA>;
type ErrorReply = Extract<Reply, { ok: false }>;

// ---- Encoding ----------------------------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A value JSON would change silently (NaN, ±Infinity, bigint, a function). */
export class CustodyBusEncodeError extends Error {
  override name = "CustodyBusEncodeError";
}

function strictJson(value: unknown): string {
  return JSON.stringify(value, (key, field: unknown) => {
    if (typeof field === "number" && !Number.isFinite(field))
      throw new CustodyBusEncodeError(`field ${key} is ${field}: not representable in JSON`);
    if (typeof field === "bigint" || typeof field === "function" || typeof field === "symbol")
      throw new CustodyBusEncodeError(`field ${key} is a ${typeof field}: not representable in JSON`);
    return field;
  });
}

/** The request bytes; throws CustodyBusEncodeError when not exact JSON or larger than `maxBytes`. */
export function encodeCustodyRequest(
  method: CustodyMethod,
  args: readonly unknown[],
  maxBytes = MAX_CUSTODY_REQUEST_BYTES,
): Uint8Array {
  const bytes = encoder.encode(strictJson({ v: CUSTODY_BUS_VERSION, method, args }));
  if (bytes.length > maxBytes)
    throw new CustodyBusEncodeError(`request is ${bytes.length} bytes, more than ${maxBytes}`);
  return bytes;
}

/** The method and checked arguments of a request, or why it is refused. Never throws. */
export function decodeCustodyRequest(
  bytes: Uint8Array,
  maxBytes = MAX_CUSTODY_REQUEST_BYTES,
): { ok: true; method: CustodyMethod; args: unknown[] } | { ok: false; message: string } {
  if (bytes.length > maxBytes) return { ok: false, message: `request larger than ${maxBytes} bytes` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    return { ok: false, message: "request is not UTF-8 JSON" };
  }
  const envelope = REQUEST_SCHEMA.safeParse(parsed);
  if (!envelope.success) return { ok: false, message: issueText(envelope.error, "request") };
  const args = ARGUMENTS[envelope.data.method].safeParse(envelope.data.args);
  if (!args.success) return { ok: false, message: issueText(args.error, "args") };
  return { ok: true, method: envelope.data.method, args: args.data as unknown[] };
}

function issueText(error: z.ZodError, what: string): string {
  const issue = error.issues[0];
  return `${issue?.path.join(".") || what}: ${issue?.message ?? "invalid"}`.slice(0, MAX_MESSAGE_CHARS);
}

function errorReply(
  error: ErrorReply["error"],
  fields: { code?: string; detail?: string; message?: string },
) {
  const reply: ErrorReply = { v: CUSTODY_BUS_VERSION, ok: false, error };
  if (fields.code !== undefined) reply.code = fields.code;
  if (fields.detail !== undefined) reply.detail = fields.detail.slice(0, MAX_MESSAGE_CHARS);
  if (fields.message !== undefined) reply.message = fields.message.slice(0, MAX_MESSAGE_CHARS);
  return encoder.encode(JSON.stringify(reply));
}

// ---- Server (the custody role) -----------------------------------------------------------------

export interface ServeCustodyOptions {
  /**
   * The cluster's custody subject (names.custodySubject). Each custody process answers "info" on
   * `<subject>.info` (every process: a gateway gathers them all) and every method on
   * `<subject>.<instance>` (in a queue group): a cluster may run one custody process per chain,
   * and a gateway routes each request to the process serving its currency or chain.
   */
  subject: string;
  /** This process's subject token: letters, digits, _ and -; a random one unless given. */
  instance?: string;
  custody: CustodyPort;
  /** Requests being answered at once; past it a request gets "busy" without reaching custody. */
  maxInFlight: number;
  /** Queue group; DEFAULT_CUSTODY_QUEUE unless given. */
  queue?: string;
  /** Largest request accepted; MAX_CUSTODY_REQUEST_BYTES unless given (never more). */
  maxRequestBytes?: number;
  /** Largest reply; the server's max_payload unless given. */
  maxReplyBytes?: number;
  /** Custody failures that are not its refusals (answered "failed"), for logs; never throws back. */
  onError?: (method: CustodyMethod, error: unknown) => void;
}

export interface CustodyServerStats {
  inFlight: number;
  served: number;
  /** Custody's own refusals (CustodyError, ColdRefillError), sent as such. */
  refused: number;
  refusedBusy: number;
  refusedMalformed: number;
  /** unsupported, failed and resultTooLarge replies. */
  failed: number;
  droppedNoReply: number;
}

export interface CustodyServer {
  readonly stats: CustodyServerStats;
  /** Where this process takes requests (`<subject>.<instance>`). */
  readonly subject: string;
  /** Stops taking requests, lets the delivered ones finish and answer, then resolves. */
  stop(): Promise<void>;
}

/** Runs one checked request against the port; `subject` is where this process takes requests. */
async function invoke(
  custody: CustodyPort,
  subject: string,
  method: CustodyMethod,
  args: unknown[],
): Promise<unknown> {
  if (method === "info")
    return {
      subject,
      terms: custody.terms(),
      productionMode: custody.productionMode === true,
      methods: METHODS.filter((name) => name === "info" || typeof portMethod(custody, name) === "function"),
    };
  const call = portMethod(custody, method);
  if (typeof call !== "function") throw new UnsupportedMethodError(method);
  return await (call as (...values: unknown[]) => Promise<unknown>).apply(custody, args);
}

function portMethod(custody: CustodyPort, method: Exclude<CustodyMethod, "info">): unknown {
  return (custody as unknown as Record<string, unknown>)[method];
}

class UnsupportedMethodError extends Error {
  constructor(method: string) {
    super(`custody has no ${method}`);
  }
}

/** Serves `custody` on `<subject>.<instance>` (a queue group) and its info on `<subject>.info`, until stop(). */
export function serveCustody(connection: NatsConnection, options: ServeCustodyOptions): CustodyServer {
  if (!Number.isSafeInteger(options.maxInFlight) || options.maxInFlight < 1)
    throw new RangeError("maxInFlight must be a positive integer");
  const maxRequestBytes = Math.min(
    options.maxRequestBytes ?? MAX_CUSTODY_REQUEST_BYTES,
    MAX_CUSTODY_REQUEST_BYTES,
  );
  const maxReplyBytes = options.maxReplyBytes ?? connection.info?.max_payload ?? DEFAULT_MAX_REPLY_BYTES;
  const stats: CustodyServerStats = {
    inFlight: 0,
    served: 0,
    refused: 0,
    refusedBusy: 0,
    refusedMalformed: 0,
    failed: 0,
    droppedNoReply: 0,
  };
  const idleWaiters: Array<() => void> = [];
  const instance = options.instance ?? randomBytes(8).toString("hex");
  if (!INSTANCE_PATTERN.test(instance) || instance === "info")
    throw new RangeError(`instance must match ${INSTANCE_PATTERN} and not be "info"`);
  const methodSubject = `${options.subject}.${instance}`;

  const answer = async (method: CustodyMethod, args: unknown[]): Promise<Uint8Array> => {
    try {
      const result = await invoke(options.custody, methodSubject, method, args);
      const bytes = encoder.encode(strictJson({ v: CUSTODY_BUS_VERSION, ok: true, result: result ?? null }));
      if (bytes.length > maxReplyBytes) {
        stats.failed++;
        return errorReply("resultTooLarge", {
          message: `${method}: answer larger than ${maxReplyBytes} bytes`,
        });
      }
      stats.served++;
      return bytes;
    } catch (error) {
      if (error instanceof CustodyError) {
        stats.refused++;
        return errorReply("custody", { code: error.code, detail: error.detail });
      }
      if (error instanceof ColdRefillError) {
        stats.refused++;
        return errorReply("coldRefill", { code: error.code, detail: error.detail });
      }
      stats.failed++;
      if (error instanceof UnsupportedMethodError)
        return errorReply("unsupported", { message: error.message });
      options.onError?.(method, error);
      // Never custody's own message: it may name internals (paths, SQL).
      return errorReply("failed", { message: `custody could not complete ${method}` });
    }
  };

  const handle = async (msg: Msg, infoOnly: boolean): Promise<void> => {
    const decoded = decodeCustodyRequest(msg.data, maxRequestBytes);
    if (decoded.ok && infoOnly && decoded.method !== "info") {
      stats.refusedMalformed++;
      msg.respond(errorReply("malformed", { message: `only info is answered on ${options.subject}.info` }));
      return;
    }
    if (!decoded.ok) {
      stats.refusedMalformed++;
      msg.respond(errorReply("malformed", { message: decoded.message }));
      return;
    }
    if (stats.inFlight >= options.maxInFlight) {
      stats.refusedBusy++;
      msg.respond(
        errorReply("busy", { message: `${options.maxInFlight} custody requests already in flight` }),
      );
      return;
    }
    stats.inFlight++;
    try {
      // false from respond: the connection closed; the requester times out (outcome unknown).
      msg.respond(await answer(decoded.method, decoded.args));
    } finally {
      stats.inFlight--;
      if (stats.inFlight === 0) for (const resolve of idleWaiters.splice(0)) resolve();
    }
  };

  // A callback: each request starts at once, bounded by maxInFlight, no backlog in the client library.
  const callback =
    (infoOnly: boolean) =>
    (error: Error | null, msg: Msg): void => {
      if (error) return;
      if (!msg.reply) {
        stats.droppedNoReply++;
        return;
      }
      void handle(msg, infoOnly);
    };
  const subscriptions: Subscription[] = [
    connection.subscribe(methodSubject, {
      queue: options.queue ?? DEFAULT_CUSTODY_QUEUE,
      callback: callback(false),
    }),
    // No queue group: every custody process answers a gateway's info request.
    connection.subscribe(`${options.subject}.info`, { callback: callback(true) }),
  ];

  return {
    stats,
    subject: methodSubject,
    async stop() {
      for (const subscription of subscriptions)
        if (!subscription.isClosed() && !subscription.isDraining()) await subscription.drain();
      if (stats.inFlight > 0) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}

// ---- Client (a gateway) ------------------------------------------------------------------------

/**
 * Custody did not answer a request that changes something (timeout, lost connection, a reply that
 * did not parse): it may have been done. A CommandOutcomeUnknownError, so the dialects answer
 * "status unknown" (EXMO requestTimeout, Binance -1007). Read back before asking again.
 */
export class CustodyOutcomeUnknownError extends CommandOutcomeUnknownError {
  readonly method: CustodyMethod;
  constructor(method: CustodyMethod, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CustodyOutcomeUnknownError";
    this.method = method;
  }
}

/** Custody answered, but not with a refusal of its own: it failed, or the bus refused the request. */
export class CustodyBusError extends Error {
  override name = "CustodyBusError";
  constructor(
    readonly reason: "malformed" | "unsupported" | "failed" | "resultTooLarge",
    message: string,
  ) {
    super(message);
  }
}

export interface RemoteCustodyOptions {
  /** The cluster's custody subject (names.custodySubject), as serveCustody's. */
  subject: string;
  /** How long to wait for custody's answer (and, at most, for an info gathering). */
  timeoutMs: number;
  /** Requests outstanding at once; past it a call fails with walletNotAvailable without sending. */
  maxInFlight: number;
  /** How often terms(), productionMode and the routes are refreshed (MIN_TERMS_REFRESH_MS..MAX_TERMS_REFRESH_MS). */
  termsRefreshMs: number;
  /** A failed refresh (custody down): the last terms and routes stay; logs only. */
  onRefreshError?: (error: unknown) => void;
}

type RemoteOptional = Required<Pick<CustodyPort, OptionalMethod>>;

/** One custody process as its info answered: where it takes requests and what it serves. */
interface CustodyInstance {
  subject: string;
  /** Its info as last gathered, and how many gatherings in a row it has missed since. */
  info: Info;
  missed: number;
  currencies: ReadonlySet<string>;
  chains: ReadonlySet<string>;
  methods: ReadonlySet<string>;
}

/** A refresh asked for by a request that found no route waits at most this long after the last. */
const MIN_ON_DEMAND_REFRESH_MS = 1_000;

/**
 * CustodyPort over NATS for a gateway. Every custody process answers `<subject>.info`; the
 * gathered answers give terms() and productionMode (cached, refreshed every termsRefreshMs) and
 * the routes: a currency's requests (deposit address, withdrawal) go to the process serving it,
 * a chain's (breaker, reconciliations, sweeps, cold refills) to the one serving the chain, and
 * the listings that span chains (status, breakers, reserves) are merged from every process.
 * Withdrawals live in the shared store, so any process answers withdrawal(s); an approval or a
 * rejection goes to the process serving the withdrawal's chain. Optional methods exist while
 * some process has them. See the file's head for the errors.
 */
export class RemoteCustodyPort implements CustodyPort {
  private outstanding = 0;
  private cachedTerms: CurrencyTerms[] = [];
  private instances: CustodyInstance[] = [];
  private production = false;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private lastRefreshMs = Number.NEGATIVE_INFINITY;
  private closed = false;

  sweeps?: RemoteOptional["sweeps"];
  reserveAddresses?: RemoteOptional["reserveAddresses"];
  coldRefills?: RemoteOptional["coldRefills"];
  requestColdRefill?: RemoteOptional["requestColdRefill"];
  approveColdRefill?: RemoteOptional["approveColdRefill"];
  exportColdRefill?: RemoteOptional["exportColdRefill"];
  importColdRefill?: RemoteOptional["importColdRefill"];
  broadcastColdRefill?: RemoteOptional["broadcastColdRefill"];
  cancelColdRefill?: RemoteOptional["cancelColdRefill"];

  private constructor(
    private readonly connection: NatsConnection,
    private readonly options: RemoteCustodyOptions,
  ) {
    for (const [name, value] of [
      ["timeoutMs", options.timeoutMs],
      ["maxInFlight", options.maxInFlight],
    ] as const)
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`${name} must be a positive integer`);
    const refreshMs = options.termsRefreshMs;
    if (
      !Number.isSafeInteger(refreshMs) ||
      refreshMs < MIN_TERMS_REFRESH_MS ||
      refreshMs > MAX_TERMS_REFRESH_MS
    )
      throw new RangeError(`termsRefreshMs must be ${MIN_TERMS_REFRESH_MS}..${MAX_TERMS_REFRESH_MS}`);
  }

  /**
   * Gathers the custody processes once, then refreshes in the background. Custody not answering
   * does not fail the open (a gateway trades without custody): terms() is empty and every call
   * answers walletNotAvailable until a process answers.
   */
  static async open(connection: NatsConnection, options: RemoteCustodyOptions): Promise<RemoteCustodyPort> {
    const port = new RemoteCustodyPort(connection, options);
    await port.refresh().catch((error: unknown) => options.onRefreshError?.(error));
    port.timer = setInterval(() => {
      void port.refresh().catch((error: unknown) => options.onRefreshError?.(error));
    }, options.termsRefreshMs);
    port.timer.unref();
    return port;
  }

  /** Stops the refresh; calls after it fail with walletNotAvailable. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Requests waiting for custody. */
  get inFlight(): number {
    return this.outstanding;
  }

  /** Custody processes known from the last refresh that found any. */
  get instanceCount(): number {
    return this.instances.length;
  }

  get productionMode(): boolean {
    return this.production;
  }

  terms(): CurrencyTerms[] {
    return this.cachedTerms;
  }

  /** Gathers every custody process's info (one at a time: a refresh under way is shared). */
  refresh(): Promise<void> {
    if (this.refreshing === null)
      this.refreshing = this.gather().finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  private async gather(): Promise<void> {
    if (this.closed) throw new CustodyError("walletNotAvailable", "custody connection closed");
    this.lastRefreshMs = performance.now();
    const infos: Info[] = [];
    try {
      const replies = await this.connection.requestMany(
        `${this.options.subject}.info`,
        encodeCustodyRequest("info", []),
        {
          strategy: "stall",
          stall: INFO_STALL_MS,
          maxWait: this.options.timeoutMs,
          maxMessages: MAX_CUSTODY_INSTANCES,
        },
      );
      for await (const reply of replies) {
        // One process's bad answer leaves it out; the others still route.
        const parsed = INFO.safeParse(safeResult(reply.data));
        if (parsed.success && parsed.data.subject.startsWith(`${this.options.subject}.`))
          infos.push(parsed.data);
      }
    } catch (error) {
      if (infos.length === 0) throw requestFailure("info", error);
    }
    if (infos.length === 0) throw new CustodyError("walletNotAvailable", "custody is not running");
    this.adopt(infos);
  }

  /**
   * The routes from a gathering: the processes that answered, then (for a few gatherings) those
   * that answered before and not this time (a slow answer must not unroute a currency; a process
   * gone answers no-responders, i.e. walletNotAvailable). Those that answered come first, so a
   * restarted process wins over its old entry; within each group, a stable order.
   */
  private adopt(infos: Info[]): void {
    const answered = new Set(infos.map((info) => info.subject));
    const kept = this.instances
      .filter((instance) => !answered.has(instance.subject) && instance.missed + 1 < MAX_MISSED_GATHERINGS)
      .map((instance) => ({ info: instance.info, missed: instance.missed + 1 }));
    const bySubject = (a: { info: Info }, b: { info: Info }) =>
      a.info.subject < b.info.subject ? -1 : a.info.subject > b.info.subject ? 1 : 0;
    const entries = [
      ...infos.map((info) => ({ info, missed: 0 })).sort(bySubject),
      ...kept.sort(bySubject),
    ].slice(0, MAX_CUSTODY_INSTANCES);
    const seen = new Set<string>();
    this.cachedTerms = entries.flatMap(({ info }) =>
      info.terms.filter((terms) => !seen.has(terms.currency) && seen.add(terms.currency)),
    );
    this.production = entries.some(({ info }) => info.productionMode);
    this.instances = entries.map(({ info, missed }) => ({
      subject: info.subject,
      info,
      missed,
      currencies: new Set(info.terms.map((terms) => terms.currency)),
      chains: new Set(info.terms.map((terms) => terms.chain)),
      methods: new Set(info.methods),
    }));
    for (const name of OPTIONAL_METHODS)
      this.bindOptional(
        name,
        entries.some(({ info }) => info.methods.includes(name)),
      );
  }

  private bindOptional(name: OptionalMethod, present: boolean): void {
    const self = this as unknown as Record<string, unknown>;
    self[name] = present ? this.optionalMethod(name) : undefined;
  }

  /** The optional methods, routed like the rest. */
  private optionalMethod(name: OptionalMethod): (...args: never[]) => Promise<unknown> {
    switch (name) {
      case "sweeps":
        return async (input: { chain?: string; limit: number }) => {
          if (input.chain !== undefined) return this.call(name, [input], await this.byChain(input.chain));
          const all = (await this.everyInstance(name, [input])).flat() as SweepView[];
          return all.sort((a, b) => b.createdMs - a.createdMs).slice(0, input.limit);
        };
      case "reserveAddresses":
        return async () => {
          const reports = (await this.everyInstance(name, [])) as ReserveAddressReport[];
          return {
            addresses: reports.flatMap((report) => report.addresses),
            complete: reports.every((report) => report.complete),
          };
        };
      case "coldRefills":
        return async (chain?: string) => {
          if (chain !== undefined) return this.call(name, [chain], await this.byChain(chain));
          const all = (await this.everyInstance(name, [])).flat() as ColdRefillView[];
          return all.sort((a, b) => b.refillId - a.refillId);
        };
      case "requestColdRefill":
        return async (request: { chain: string }) =>
          this.call(name, [request], await this.byChain(request.chain));
      default:
        // By refill id: the process serving the refill's chain.
        return async (refillId: number, ...rest: unknown[]) =>
          this.call(name, [refillId, ...rest], await this.byRefill(refillId));
    }
  }

  async depositAddress(userId: number, currency: string) {
    return DEPOSIT_ADDRESS.parse(
      await this.call("depositAddress", [userId, currency], await this.byCurrency(currency)),
    );
  }

  async requestWithdrawal(request: Parameters<CustodyPort["requestWithdrawal"]>[0]): Promise<WithdrawalView> {
    const target = await this.byCurrency(request.currency);
    return WITHDRAWAL.parse(await this.call("requestWithdrawal", [request], target));
  }

  async withdrawal(withdrawalId: number): Promise<WithdrawalView | undefined> {
    const result = await this.call("withdrawal", [withdrawalId], this.anyInstance());
    return result === null ? undefined : WITHDRAWAL.parse(result);
  }

  async withdrawals(filter: Parameters<CustodyPort["withdrawals"]>[0]): Promise<WithdrawalView[]> {
    return z.array(WITHDRAWAL).parse(await this.call("withdrawals", [filter], this.anyInstance()));
  }

  async approveWithdrawal(withdrawalId: number, approver: string): Promise<WithdrawalView> {
    const target = await this.byWithdrawal(withdrawalId);
    return WITHDRAWAL.parse(await this.call("approveWithdrawal", [withdrawalId, approver], target));
  }

  async rejectWithdrawal(withdrawalId: number, actor: string, reason: string): Promise<WithdrawalView> {
    const target = await this.byWithdrawal(withdrawalId);
    return WITHDRAWAL.parse(await this.call("rejectWithdrawal", [withdrawalId, actor, reason], target));
  }

  async status() {
    const reports = await this.everyInstance("status", []);
    const chains = reports.flatMap((report) => z.object({ chains: VIEWS }).parse(report).chains);
    return { chains } as unknown as Awaited<ReturnType<CustodyPort["status"]>>;
  }

  async breakers() {
    const views = (await this.everyInstance("breakers", [])).flatMap((list) => VIEWS.parse(list));
    return views as unknown as Awaited<ReturnType<CustodyPort["breakers"]>>;
  }

  async tripBreaker(request: Parameters<CustodyPort["tripBreaker"]>[0]) {
    const lists =
      request.chain === "all"
        ? await this.everyInstance("tripBreaker", [request])
        : [await this.call("tripBreaker", [request], await this.byChain(request.chain))];
    return lists.flatMap((list) => VIEWS.parse(list)) as unknown as Awaited<
      ReturnType<CustodyPort["tripBreaker"]>
    >;
  }

  async resumeBreaker(request: Parameters<CustodyPort["resumeBreaker"]>[0]) {
    const view = VIEW.parse(await this.call("resumeBreaker", [request], await this.byChain(request.chain)));
    return view as unknown as Awaited<ReturnType<CustodyPort["resumeBreaker"]>>;
  }

  async reconciliations(chain: string, limit: number) {
    const views = VIEWS.parse(await this.call("reconciliations", [chain, limit], await this.byChain(chain)));
    return views as unknown as Awaited<ReturnType<CustodyPort["reconciliations"]>>;
  }

  // ---- Routes ----------------------------------------------------------------------------------

  /** Known processes; none known: one refresh (at most every MIN_ON_DEMAND_REFRESH_MS), then walletNotAvailable. */
  private async known(
    predicate: (instance: CustodyInstance) => boolean,
  ): Promise<CustodyInstance | undefined> {
    const found = this.instances.find(predicate);
    if (found !== undefined || performance.now() - this.lastRefreshMs < MIN_ON_DEMAND_REFRESH_MS)
      return found;
    // A process that started since the last refresh (or custody back after being down).
    await this.refresh().catch(() => undefined);
    return this.instances.find(predicate);
  }

  private anyInstance(): string {
    const first = this.instances[0];
    if (first === undefined) throw new CustodyError("walletNotAvailable", "custody is not running");
    return first.subject;
  }

  /** The process serving `currency`; none: unknownCurrency (as custody answers a currency it lacks). */
  private async byCurrency(currency: string): Promise<string> {
    const found = await this.known((instance) => instance.currencies.has(currency));
    if (found !== undefined) return found.subject;
    this.anyInstance();
    throw new CustodyError("unknownCurrency", `custody does not serve ${currency}`);
  }

  /** The process serving `chain`; none: any process (it refuses the chain as embedded custody would). */
  private async byChain(chain: string): Promise<string> {
    return (await this.known((instance) => instance.chains.has(chain)))?.subject ?? this.anyInstance();
  }

  /** The process serving the withdrawal's chain (withdrawals are in the shared store: any one finds it). */
  private async byWithdrawal(withdrawalId: number): Promise<string> {
    if (this.instances.length === 1) return this.anyInstance();
    const view = await this.withdrawal(withdrawalId);
    return view === undefined ? this.anyInstance() : this.byChain(view.chain);
  }

  /** The process whose refills list `refillId`; none: any process (it answers notFound). */
  private async byRefill(refillId: number): Promise<string> {
    if (this.instances.length === 1) return this.anyInstance();
    for (const instance of this.instances) {
      if (!instance.methods.has("coldRefills")) continue;
      const refills = VIEWS.parse(await this.call("coldRefills", [], instance.subject));
      if (refills.some((refill) => refill.refillId === refillId)) return instance.subject;
    }
    return this.anyInstance();
  }

  /** The same request to every process that has the method, answers in the processes' order. */
  private async everyInstance(method: CustodyMethod, args: readonly unknown[]): Promise<unknown[]> {
    this.anyInstance();
    const targets = this.instances.filter((instance) => method === "info" || instance.methods.has(method));
    return Promise.all(targets.map((instance) => this.call(method, args, instance.subject)));
  }

  /**
   * One request to one process. The result is JSON as custody sent it (the callers above check
   * its shape); failures become CustodyError, ColdRefillError, CustodyOutcomeUnknownError or
   * CustodyBusError.
   */
  private async call(method: CustodyMethod, args: readonly unknown[], subject: string): Promise<unknown> {
    if (this.closed) throw new CustodyError("walletNotAvailable", "custody connection closed");
    let request: Uint8Array;
    try {
      request = encodeCustodyRequest(method, args);
    } catch (error) {
      if (error instanceof CustodyBusEncodeError) throw new CustodyError("invalidRequest", error.message);
      throw error;
    }
    if (this.outstanding >= this.options.maxInFlight)
      throw new CustodyError("walletNotAvailable", "custody is busy: retry later");
    this.outstanding++;
    let response: Msg;
    try {
      response = await this.connection.request(subject, request, { timeout: this.options.timeoutMs });
    } catch (error) {
      throw requestFailure(method, error);
    } finally {
      this.outstanding--;
    }
    return resultOf(method, response.data);
  }
}

/** An info reply's result, or undefined when it is not a good one. */
function safeResult(bytes: Uint8Array): unknown {
  try {
    return resultOf("info", bytes);
  } catch {
    return undefined;
  }
}

function requestFailure(method: CustodyMethod, error: unknown): Error {
  if (error instanceof RequestError && error.isNoResponders())
    return new CustodyError("walletNotAvailable", "custody is not running");
  const timedOut =
    error instanceof TimeoutError || (error instanceof RequestError && error.cause instanceof TimeoutError);
  if (SAFE_METHODS.has(method))
    return new CustodyError(
      "walletNotAvailable",
      timedOut ? "custody did not answer in time" : "custody is not reachable",
    );
  return new CustodyOutcomeUnknownError(
    method,
    timedOut
      ? `custody did not answer ${method} in time: outcome unknown, read back before resending`
      : `the request to custody failed: ${method} outcome unknown, read back before resending`,
    { cause: error },
  );
}

/** The result of a reply, or the error it carries. */
function resultOf(method: CustodyMethod, bytes: Uint8Array): unknown {
  let reply: Reply;
  try {
    const parsed = REPLY_SCHEMA.safeParse(JSON.parse(decoder.decode(bytes)));
    if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? "invalid reply");
    reply = parsed.data;
  } catch (error) {
    if (SAFE_METHODS.has(method))
      throw new CustodyError("walletNotAvailable", "custody's answer did not parse");
    throw new CustodyOutcomeUnknownError(
      method,
      `custody's answer to ${method} did not parse: outcome unknown`,
      {
        cause: error,
      },
    );
  }
  if (reply.ok) return reply.result;
  const detail = reply.detail ?? "";
  switch (reply.error) {
    case "custody": {
      const code = CUSTODY_ERROR_CODES.find((known) => known === reply.code);
      // A code this gateway does not know (a newer custody): refused all the same, nothing changed.
      throw code === undefined ? new CustodyError("invalidRequest", detail) : new CustodyError(code, detail);
    }
    case "coldRefill": {
      const code = COLD_REFILL_ERROR_CODES.find((known) => known === reply.code);
      if (code === undefined) throw new CustodyBusError("failed", `cold refill refused: ${detail}`);
      throw new ColdRefillError(code, detail);
    }
    case "busy":
      throw new CustodyError("walletNotAvailable", "custody is busy: retry later");
    case "malformed":
    case "unsupported":
    case "failed":
    case "resultTooLarge":
      throw new CustodyBusError(reply.error, reply.message ?? reply.error);
  }
}

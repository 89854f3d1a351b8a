// Commands from gateways to the primary core over NATS request/reply (issue 12). A gateway's
// CommandBusClient sends one command per request; the core's serveCommands answers it with the
// command's durable result (sequence and events) once its own submit resolved, which in cluster
// mode means the journal stream acknowledged the batch. Only the primary subscribes, in a queue
// group, so at most one process handles each request.
//
// Wire format (version 1), JSON in both directions:
//   request: { v: 1, command: UnstampedCommand }                    ≤ maxCommandBytes (64 KiB)
//   reply:   { v: 1, ok: true, sequence, events: CoreEvent[] }       ≤ the server's max_payload
//        or  { v: 1, ok: false, error: CommandBusErrorCode, message, sequence? }
// Commands and events are plain objects of integers, strings, booleans and null (plus the nested
// asset / market / nonce objects), so JSON carries them exactly: doubles round-trip, no bigint
// appears. What JSON would silently change (NaN and ±Infinity become null, undefined vanishes in
// arrays) is refused at encode time instead. Optional fields that are undefined are simply absent,
// which the core reads the same way.
//
// A request is shape-checked with zod before anything else: a known version, a known command
// kind, fields named like identifiers holding scalars or flat objects of scalars. The core
// validates each field itself (it already has to: commands come from outside), so the bus does
// not duplicate those rules; it only guarantees a malformed message gets an error reply and
// never reaches submit.

import {
  type Msg,
  type NatsConnection,
  RequestError,
  type Subscription,
  TimeoutError,
} from "@nats-io/transport-node";
import { z } from "zod";
import type { Command, UnstampedCommand } from "../core/commands.ts";
import type { CoreEvent } from "../core/events.ts";
import { CommandEncodeError } from "../journal/command-codec.ts";
import { SequencerQueueFullError } from "../runtime/sequencer.ts";

/** The envelope version this code writes and the only one it reads. */
export const COMMAND_BUS_VERSION = 1;
/** Largest request (an encoded command envelope): a command is a few hundred bytes at most. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** The reply bound when the connection does not know the server's max_payload (NATS's default). */
const DEFAULT_MAX_REPLY_BYTES = 1024 * 1024;
/** Default queue group: every core serving the subject joins it, so one of them gets each request. */
export const DEFAULT_COMMAND_QUEUE = "bulwark-core";

/**
 * Every command kind, checked against Command["kind"] both ways at compile time, so a new
 * command that is not added here fails the type check instead of being refused at run time.
 */
export const COMMAND_KINDS = [
  "placeOrder",
  "cancelOrder",
  "cancelByClientId",
  "cancelAll",
  "adjustBalance",
  "addAsset",
  "addMarket",
  "setMarketStatus",
  "creditDeposit",
  "holdWithdrawal",
  "settleWithdrawal",
  "releaseWithdrawal",
  "recordWalletMovement",
  "coverIncidentLoss",
  "fundInsurance",
  "touchNonce",
] as const satisfies readonly Command["kind"][];
type MissingKinds = Exclude<Command["kind"], (typeof COMMAND_KINDS)[number]>;
const everyKindListed: [MissingKinds] extends [never] ? true : MissingKinds = true;
void everyKindListed;

/** A command's durable outcome (the same shape as the boundary's CommandResult). */
export interface BusCommandResult {
  sequence: number;
  events: CoreEvent[];
}

/**
 * Why the core side refused or failed a request:
 * - busy: the core's input queue is full (or the bus's in-flight bound): nothing applied, retry later;
 * - malformed: the request did not parse or had the wrong shape: nothing applied;
 * - invalid: the core could not encode the command for its journal: nothing applied;
 * - unavailable: submit failed otherwise (sequencer stopped, journal failure, shutting down): the
 *   command MAY have been applied (a batch can be in the stream when its acknowledgement is lost);
 * - resultTooLarge: the command WAS applied (sequence given) but its events do not fit one reply:
 *   read them from the event stream.
 */
export type CommandBusErrorCode = "busy" | "malformed" | "invalid" | "unavailable" | "resultTooLarge";

// ---- Wire schemas ------------------------------------------------------------------------------

/** A field name: an identifier, which also keeps "__proto__" and friends out. */
const FIELD_NAME = z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/);
const SCALAR = z.union([z.number(), z.string(), z.boolean(), z.null()]);
/** addAsset / addMarket carry a config object, signed commands a nonce stamp: flat objects of scalars. */
const FIELD_VALUE = z.union([SCALAR, z.record(FIELD_NAME, SCALAR)]);

const COMMAND_SHAPE = z
  .record(FIELD_NAME, FIELD_VALUE)
  .refine((fields) => (COMMAND_KINDS as readonly unknown[]).includes(fields.kind), {
    message: "kind must be a known command kind",
  })
  .refine((fields) => !("sequence" in fields) && !("timestampMs" in fields), {
    message: "sequence and timestampMs are stamped by the core's sequencer",
  });

const REQUEST_SCHEMA = z.object({ v: z.literal(COMMAND_BUS_VERSION), command: COMMAND_SHAPE }).strict();

const EVENT_SHAPE = z
  .record(FIELD_NAME, FIELD_VALUE)
  .refine((fields) => typeof fields.type === "string" && Number.isSafeInteger(fields.sequence), {
    message: "an event has a type and a sequence",
  });

const REPLY_SCHEMA = z.discriminatedUnion("ok", [
  z.object({
    v: z.literal(COMMAND_BUS_VERSION),
    ok: z.literal(true),
    sequence: z.number().int().nonnegative(),
    events: z.array(EVENT_SHAPE),
  }),
  z.object({
    v: z.literal(COMMAND_BUS_VERSION),
    ok: z.literal(false),
    error: z.enum(["busy", "malformed", "invalid", "unavailable", "resultTooLarge"]),
    message: z.string().max(1024),
    sequence: z.number().int().nonnegative().optional(),
  }),
]);

type Reply = z.infer<typeof REPLY_SCHEMA>;

// ---- Encoding ----------------------------------------------------------------------------------

/** A value JSON cannot carry exactly (NaN, ±Infinity, bigint, a function...). */
export class CommandBusEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandBusEncodeError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** JSON of `value`, refusing what JSON.stringify would silently turn into something else. */
function strictJson(value: unknown): string {
  return JSON.stringify(value, (key, field: unknown) => {
    if (typeof field === "number" && !Number.isFinite(field)) {
      throw new CommandBusEncodeError(`field ${key} is ${field}: not representable in JSON`);
    }
    if (typeof field === "bigint" || typeof field === "function" || typeof field === "symbol") {
      throw new CommandBusEncodeError(`field ${key} is a ${typeof field}: not representable in JSON`);
    }
    return field;
  });
}

/** The request bytes of a command; throws CommandBusEncodeError if it is not exact JSON or too big. */
export function encodeCommandRequest(command: UnstampedCommand, maxBytes = MAX_COMMAND_BYTES): Uint8Array {
  const bytes = encoder.encode(strictJson({ v: COMMAND_BUS_VERSION, command }));
  if (bytes.length > maxBytes) {
    throw new CommandBusEncodeError(`command is ${bytes.length} bytes, more than ${maxBytes}`);
  }
  return bytes;
}

/** The command in a request, or why it is refused. Never throws. */
export function decodeCommandRequest(
  bytes: Uint8Array,
  maxBytes = MAX_COMMAND_BYTES,
): { ok: true; command: UnstampedCommand } | { ok: false; message: string } {
  if (bytes.length > maxBytes) return { ok: false, message: `request larger than ${maxBytes} bytes` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    return { ok: false, message: "request is not UTF-8 JSON" };
  }
  const result = REQUEST_SCHEMA.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { ok: false, message: `${issue?.path.join(".") || "request"}: ${issue?.message ?? "invalid"}` };
  }
  // The shape is checked; the core checks every field of the kind (it must: commands come from outside).
  return { ok: true, command: result.data.command as unknown as UnstampedCommand };
}

function errorReply(error: CommandBusErrorCode, message: string, sequence?: number): Uint8Array {
  const reply: Reply = { v: COMMAND_BUS_VERSION, ok: false, error, message: message.slice(0, 1024) };
  if (sequence !== undefined) reply.sequence = sequence;
  return encoder.encode(JSON.stringify(reply));
}

// ---- Server (the primary core) -----------------------------------------------------------------

export interface ServeCommandsOptions {
  subject: string;
  /** The core's submit: resolves once the command is durable (journal before acknowledge). */
  submit: (command: UnstampedCommand) => Promise<BusCommandResult>;
  /** Requests being submitted at once; past it a request gets a busy reply without reaching submit. */
  maxInFlight: number;
  /** Queue group; DEFAULT_COMMAND_QUEUE unless given. */
  queue?: string;
  /** Largest request accepted; MAX_COMMAND_BYTES unless given (never more). */
  maxCommandBytes?: number;
  /** Largest reply; the server's max_payload unless given. */
  maxReplyBytes?: number;
  /** A submit failure answered "unavailable" lands here (for logs); never throws back into the bus. */
  onSubmitError?: (error: unknown) => void;
}

export interface CommandServerStats {
  inFlight: number;
  /** Results sent. */
  served: number;
  refusedBusy: number;
  refusedMalformed: number;
  /** invalid, unavailable and resultTooLarge replies. */
  failed: number;
  /** Messages without a reply subject: dropped unread (nobody could learn the result). */
  droppedNoReply: number;
}

export interface CommandServer {
  readonly stats: CommandServerStats;
  /** Stops taking requests, lets the delivered ones finish and answer, then resolves. */
  stop(): Promise<void>;
}

/** The reply for a submit failure: busy for a full queue, invalid for an unencodable command. */
function failureReply(error: unknown): { code: CommandBusErrorCode; message: string } {
  if (error instanceof SequencerQueueFullError) return { code: "busy", message: error.message };
  if (error instanceof CommandEncodeError) return { code: "invalid", message: error.message };
  return { code: "unavailable", message: "the core could not complete the command" };
}

/** Serves commands on `subject` (in a queue group) until stop(). */
export function serveCommands(connection: NatsConnection, options: ServeCommandsOptions): CommandServer {
  if (!Number.isSafeInteger(options.maxInFlight) || options.maxInFlight < 1) {
    throw new RangeError("maxInFlight must be a positive integer");
  }
  const maxCommandBytes = Math.min(options.maxCommandBytes ?? MAX_COMMAND_BYTES, MAX_COMMAND_BYTES);
  const maxReplyBytes = options.maxReplyBytes ?? connection.info?.max_payload ?? DEFAULT_MAX_REPLY_BYTES;
  const stats: CommandServerStats = {
    inFlight: 0,
    served: 0,
    refusedBusy: 0,
    refusedMalformed: 0,
    failed: 0,
    droppedNoReply: 0,
  };
  /** Resolvers of stop() calls waiting for the in-flight requests to answer. */
  const idleWaiters: Array<() => void> = [];

  const reply = (msg: Msg, bytes: Uint8Array): void => {
    // false: the connection is closed; the requester times out and treats the outcome as unknown.
    msg.respond(bytes);
  };

  const handle = async (msg: Msg): Promise<void> => {
    const decoded = decodeCommandRequest(msg.data, maxCommandBytes);
    if (!decoded.ok) {
      stats.refusedMalformed++;
      return reply(msg, errorReply("malformed", decoded.message));
    }
    if (stats.inFlight >= options.maxInFlight) {
      stats.refusedBusy++;
      return reply(msg, errorReply("busy", `${options.maxInFlight} commands already in flight`));
    }
    stats.inFlight++;
    try {
      const result = await options.submit(decoded.command);
      const bytes = encoder.encode(
        strictJson({ v: COMMAND_BUS_VERSION, ok: true, sequence: result.sequence, events: result.events }),
      );
      if (bytes.length > maxReplyBytes) {
        stats.failed++;
        return reply(
          msg,
          errorReply(
            "resultTooLarge",
            `applied; ${result.events.length} events do not fit ${maxReplyBytes} bytes`,
            result.sequence,
          ),
        );
      }
      stats.served++;
      reply(msg, bytes);
    } catch (error) {
      const { code, message } = failureReply(error);
      if (code === "busy") stats.refusedBusy++;
      else stats.failed++;
      if (code === "unavailable") options.onSubmitError?.(error);
      reply(msg, errorReply(code, message));
    } finally {
      stats.inFlight--;
      if (stats.inFlight === 0) for (const resolve of idleWaiters.splice(0)) resolve();
    }
  };

  const subscription: Subscription = connection.subscribe(options.subject, {
    queue: options.queue ?? DEFAULT_COMMAND_QUEUE,
    // A callback, not an iterator: each request starts at once, so the client library keeps no
    // backlog of its own; the in-flight bound above is what limits the work.
    callback: (error, msg) => {
      if (error) return;
      if (!msg.reply) {
        stats.droppedNoReply++;
        return;
      }
      void handle(msg);
    },
  });

  return {
    stats,
    async stop() {
      if (!subscription.isClosed() && !subscription.isDraining()) await subscription.drain();
      if (stats.inFlight > 0) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}

// ---- Client (a gateway) ------------------------------------------------------------------------

/**
 * The core is busy: its input queue is full, or this client's in-flight bound is reached. Nothing
 * was applied; retrying later is safe. Extends SequencerQueueFullError so code written against the
 * embedded boundary (`instanceof SequencerQueueFullError` → the dialect's busy error) keeps working.
 */
export class CoreBusyError extends SequencerQueueFullError {
  constructor(message: string) {
    super(0);
    this.name = "CoreBusyError";
    this.message = message;
  }
}

/**
 * No core answered the command. `outcomeUnknown` says whether it may have been applied anyway:
 * - "noResponders" (no core subscribed: none is primary right now): not applied;
 * - "timeout": NOT "not applied". The core may have sequenced and journaled it and only the reply
 *   was slow or lost. The caller must not retry blindly (a retry is a second order): answer the
 *   client "status unknown" (Binance -1007 requestTimeout) and let it look the order up, or find
 *   the command's effect in the event stream;
 * - "unavailable" (the core's submit failed: stopped, journal failure): may have been applied, as
 *   a batch can reach the stream just before the failure;
 * - "disconnected" (the connection closed while waiting): may have been applied.
 */
export class CoreUnavailableError extends Error {
  readonly reason: "noResponders" | "timeout" | "unavailable" | "disconnected";
  readonly outcomeUnknown: boolean;
  constructor(reason: CoreUnavailableError["reason"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CoreUnavailableError";
    this.reason = reason;
    this.outcomeUnknown = reason !== "noResponders";
  }
}

/** The command was refused before it was applied (malformed, or not encodable by the core). */
export class CommandRefusedError extends Error {
  readonly code: "malformed" | "invalid";
  constructor(code: CommandRefusedError["code"], message: string) {
    super(message);
    this.name = "CommandRefusedError";
    this.code = code;
  }
}

/** The command WAS applied at `sequence`, but its events did not fit a reply: read them from the event stream. */
export class CommandResultTooLargeError extends Error {
  readonly sequence: number;
  constructor(sequence: number, message: string) {
    super(message);
    this.name = "CommandResultTooLargeError";
    this.sequence = sequence;
  }
}

export interface CommandBusClientOptions {
  subject: string;
  /** How long to wait for the core's durable result before CoreUnavailableError("timeout"). */
  timeoutMs: number;
  /** Requests outstanding at once; past it submit rejects with CoreBusyError without sending. */
  maxInFlight: number;
  /** Largest request sent; MAX_COMMAND_BYTES unless given (never more). */
  maxCommandBytes?: number;
}

/**
 * Submits commands to the primary core over NATS. Same contract as ExchangeBoundary.submit: it
 * resolves with the durable result; it rejects with CoreBusyError (nothing applied, retry later),
 * CommandRefusedError (nothing applied, do not retry), CoreUnavailableError (see outcomeUnknown:
 * after a timeout the command may well have been applied, so never resubmit it blindly), or
 * CommandResultTooLargeError (applied).
 */
export class CommandBusClient {
  private outstanding = 0;
  private readonly maxCommandBytes: number;

  constructor(
    private readonly connection: NatsConnection,
    private readonly options: CommandBusClientOptions,
  ) {
    if (!Number.isSafeInteger(options.maxInFlight) || options.maxInFlight < 1) {
      throw new RangeError("maxInFlight must be a positive integer");
    }
    if (!Number.isSafeInteger(options.timeoutMs) || options.timeoutMs < 1) {
      throw new RangeError("timeoutMs must be a positive integer");
    }
    this.maxCommandBytes = Math.min(options.maxCommandBytes ?? MAX_COMMAND_BYTES, MAX_COMMAND_BYTES);
  }

  /** Requests waiting for a reply. */
  get inFlight(): number {
    return this.outstanding;
  }

  async submit(command: UnstampedCommand): Promise<BusCommandResult> {
    let request: Uint8Array;
    try {
      request = encodeCommandRequest(command, this.maxCommandBytes);
    } catch (error) {
      if (error instanceof CommandBusEncodeError) throw new CommandRefusedError("malformed", error.message);
      throw error;
    }
    if (this.outstanding >= this.options.maxInFlight) {
      throw new CoreBusyError(`${this.options.maxInFlight} commands already waiting for the core`);
    }
    this.outstanding++;
    let response: Msg;
    try {
      response = await this.connection.request(this.options.subject, request, {
        timeout: this.options.timeoutMs,
      });
    } catch (error) {
      throw requestFailure(error);
    } finally {
      this.outstanding--;
    }
    return resultOf(response.data);
  }
}

function requestFailure(error: unknown): Error {
  if (error instanceof RequestError && error.isNoResponders()) {
    return new CoreUnavailableError("noResponders", "no core is serving commands", { cause: error });
  }
  if (
    error instanceof TimeoutError ||
    (error instanceof RequestError && error.cause instanceof TimeoutError)
  ) {
    return new CoreUnavailableError("timeout", "the core did not answer in time: outcome unknown", {
      cause: error,
    });
  }
  return new CoreUnavailableError("disconnected", "the request to the core failed: outcome unknown", {
    cause: error,
  });
}

/** The result in a reply, or the error it carries. A reply that does not parse: outcome unknown. */
function resultOf(bytes: Uint8Array): BusCommandResult {
  let reply: Reply;
  try {
    const parsed = REPLY_SCHEMA.safeParse(JSON.parse(decoder.decode(bytes)));
    if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? "invalid reply");
    reply = parsed.data;
  } catch (error) {
    throw new CoreUnavailableError("unavailable", "the core's reply did not parse: outcome unknown", {
      cause: error,
    });
  }
  if (reply.ok) return { sequence: reply.sequence, events: reply.events as unknown as CoreEvent[] };
  switch (reply.error) {
    case "busy":
      throw new CoreBusyError(`core busy: ${reply.message}`);
    case "malformed":
    case "invalid":
      throw new CommandRefusedError(reply.error, reply.message);
    case "resultTooLarge":
      throw new CommandResultTooLargeError(reply.sequence ?? 0, reply.message);
    case "unavailable":
      throw new CoreUnavailableError("unavailable", `core unavailable: ${reply.message}`);
  }
}

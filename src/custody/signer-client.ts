// Custody's client of one chain's signer (src/signer/, a separate process on a Unix socket). Each
// request opens its own connection, sends one frame and reads one answer (chains/signer-protocol.ts
// is the codec both sides share; custody never imports the signer itself). At most `maxInFlight`
// connections at once (the signer serves 16) and at most `maxWaiting` requests queued behind them.
//
// Two kinds of outcome: an answer, typed `{ ok: true, … } | { ok: false, code, detail }` (a refusal
// by the signer's policy is an answer), or a thrown SignerUnavailableError when no answer came (no
// socket, refused, closed, timed out, queue full). After that error on `sign`, the signer may or may
// not have signed: send the same intent again (the signer answers a repeat of the exact intent with
// the same transaction and charges nothing) rather than a new one.

import { connect as connectUnix } from "node:net";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  decodeFrameBody,
  encodeFrame,
  FrameReader,
  type IntentWire,
  MAX_FRAME,
} from "../chains/signer-protocol.ts";

export type { IntentWire };

/** A longer answer than any the signer gives (a signed 32 KiB payload is about 50 KiB of JSON). */
const MAX_ANSWER_BYTES = 1024 * 1024;
export const DEFAULT_SIGNER_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_IN_FLIGHT = 4;
const DEFAULT_MAX_WAITING = 64;

export type SignerUnavailableReason =
  | "absent"
  | "refused"
  | "denied"
  | "closed"
  | "timeout"
  | "busy"
  | "failed";

/** No answer came from the signer; for `sign`, whether it signed is unknown (send the same intent again). */
export class SignerUnavailableError extends Error {
  override name = "SignerUnavailableError";
  constructor(
    readonly socketPath: string,
    readonly reason: SignerUnavailableReason,
    message: string,
  ) {
    super(`signer at ${socketPath}: ${message}`);
  }
}

/** The signer answered something that is not an answer of its protocol. */
export class SignerProtocolError extends Error {
  override name = "SignerProtocolError";
}

export interface SignerFailure {
  ok: false;
  /** The signer's code: a policy refusal (bad-signature, halted, reused-id, window-cap-1h, …) or an error. */
  code: string;
  detail: string;
}

export type SignResult =
  | {
      ok: true;
      intentId: string;
      txId: string /** sha256 of signedTx, hex */;
      digest: string;
      signedTx: Uint8Array;
    }
  | SignerFailure;

export interface SignerBudget {
  asset: string;
  perTransaction: bigint;
  windows: { window: string; cap: bigint; used: bigint; left: bigint }[];
}

export interface SignerSignature {
  intentId: string;
  asset: string;
  kind: string;
  to: string;
  amount: bigint;
  fee: bigint;
  feeAsset: string;
  txId: string;
  atMs: number;
}

export type StatusResult =
  | {
      ok: true;
      chain: string;
      nowMs: number;
      halted: { chain: string; reason: string; atMs: number }[];
      budgets: SignerBudget[];
      seenIntents: number;
      lastSignatures: SignerSignature[];
    }
  | SignerFailure;

export type HaltResult = { ok: true; halted: boolean } | SignerFailure;
export type SignedResult = { ok: true; signed: string[] } | SignerFailure;

export interface SignerClientOptions {
  /** The whole request, queueing included; default 5 s. */
  timeoutMs?: number;
  /** Connections open at once (1..16); default 4. */
  maxInFlight?: number;
  /** Requests waiting for a connection (0..10,000); past it a request fails at once as "busy"; default 64. */
  maxWaiting?: number;
}

type Json = Record<string, unknown>;

function boundedInteger(value: number, min: number, max: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

function reasonOf(error: NodeJS.ErrnoException): SignerUnavailableReason {
  switch (error.code) {
    case "ENOENT":
    case "ENOTDIR":
      return "absent";
    case "ECONNREFUSED":
      return "refused";
    case "EACCES":
    case "EPERM":
      return "denied";
    case "ECONNRESET":
    case "EPIPE":
      return "closed";
    default:
      return "failed";
  }
}

const HEX = /^[0-9a-f]+$/;

function field<T>(answer: Json, name: string, check: (value: unknown) => value is T, what: string): T {
  const value = answer[name];
  if (!check(value)) throw new SignerProtocolError(`the signer's answer has no valid ${name} (${what})`);
  return value;
}
const isString = (value: unknown): value is string => typeof value === "string";
const isInteger = (value: unknown): value is number => Number.isSafeInteger(value);
const isArray = (value: unknown): value is unknown[] => Array.isArray(value);
const isBoolean = (value: unknown): value is boolean => typeof value === "boolean";
const isDecimal = (value: unknown): value is string =>
  typeof value === "string" && /^[0-9]{1,78}$/.test(value);

function asObject(value: unknown, what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new SignerProtocolError(`the signer's ${what} is not a JSON object`);
  return value as Json;
}

/** A failure answer, or null when the answer says ok: true; anything else is a protocol error. */
function failureOf(answer: Json): SignerFailure | null {
  if (answer.ok === true) return null;
  if (answer.ok === false && typeof answer.code === "string" && typeof answer.detail === "string")
    return { ok: false, code: answer.code, detail: answer.detail };
  throw new SignerProtocolError("the signer's answer is neither ok nor a refusal with code and detail");
}

export class SignerClient {
  readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly maxWaiting: number;
  private inFlight = 0;
  /** Requests waiting for a connection slot, oldest first (bounded by maxWaiting). */
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly socketPath: string,
    options: SignerClientOptions = {},
  ) {
    if (typeof socketPath !== "string" || socketPath === "")
      throw new RangeError("the signer's socket path is required");
    this.timeoutMs = boundedInteger(options.timeoutMs ?? DEFAULT_SIGNER_TIMEOUT_MS, 1, 600_000, "timeoutMs");
    this.maxInFlight = boundedInteger(options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, 1, 16, "maxInFlight");
    this.maxWaiting = boundedInteger(options.maxWaiting ?? DEFAULT_MAX_WAITING, 0, 10_000, "maxWaiting");
  }

  /** Asks the signer to sign `intent`, authorised by custody's Ed25519 signature (128 hex digits). */
  async sign(intent: IntentWire, signatureHex: string): Promise<SignResult> {
    const answer = await this.request({ op: "sign", intent, signature: signatureHex });
    const failure = failureOf(answer);
    if (failure) return failure;
    const intentId = field(answer, "intentId", isString, "string");
    if (intentId !== intent.intentId)
      throw new SignerProtocolError(`the signer answered for intent ${intentId}, not ${intent.intentId}`);
    const txId = field(answer, "txId", isString, "string");
    const digest = field(answer, "digest", (v): v is string => isString(v) && HEX.test(v), "hex");
    const signedText = field(answer, "signedTx", isString, "base64");
    const signedTx = new Uint8Array(Buffer.from(signedText, "base64"));
    // The digest ties the bytes to what the signer logged; a transfer error must not pass as a transaction.
    if (signedTx.length === 0 || Buffer.from(sha256(signedTx)).toString("hex") !== digest)
      throw new SignerProtocolError("the signed transaction does not match the signer's digest");
    return { ok: true, intentId, txId, digest, signedTx };
  }

  /** Budgets per asset and window (caps, used, left), halted chains, recent signatures. */
  async status(): Promise<StatusResult> {
    const answer = await this.request({ op: "status" });
    const failure = failureOf(answer);
    if (failure) return failure;
    const halted = field(answer, "halted", isArray, "array").map((entry) => {
      const halt = asObject(entry, "halt entry");
      return {
        chain: field(halt, "chain", isString, "string"),
        reason: field(halt, "reason", isString, "string"),
        atMs: field(halt, "atMs", isInteger, "integer"),
      };
    });
    const budgets = field(answer, "budgets", isArray, "array").map((entry) => {
      const budget = asObject(entry, "budget");
      return {
        asset: field(budget, "asset", isString, "string"),
        perTransaction: BigInt(field(budget, "perTransaction", isDecimal, "decimal")),
        windows: field(budget, "windows", isArray, "array").map((windowEntry) => {
          const window = asObject(windowEntry, "budget window");
          return {
            window: field(window, "window", isString, "string"),
            cap: BigInt(field(window, "cap", isDecimal, "decimal")),
            used: BigInt(field(window, "used", isDecimal, "decimal")),
            left: BigInt(field(window, "left", isDecimal, "decimal")),
          };
        }),
      };
    });
    const lastSignatures = field(answer, "lastSignatures", isArray, "array").map((entry) => {
      const record = asObject(entry, "signature record");
      return {
        intentId: field(record, "intentId", isString, "string"),
        asset: field(record, "asset", isString, "string"),
        kind: field(record, "kind", isString, "string"),
        to: field(record, "to", isString, "string"),
        amount: BigInt(field(record, "amount", isDecimal, "decimal")),
        fee: BigInt(field(record, "fee", isDecimal, "decimal")),
        feeAsset: field(record, "feeAsset", isString, "string"),
        txId: field(record, "txId", isString, "string"),
        atMs: field(record, "atMs", isInteger, "integer"),
      };
    });
    return {
      ok: true,
      chain: field(answer, "chain", isString, "string"),
      nowMs: field(answer, "nowMs", isInteger, "integer"),
      halted,
      budgets,
      seenIntents: field(answer, "seenIntents", isInteger, "integer"),
      lastSignatures,
    };
  }

  /** Which of `txIds` (at most 256) the signer signed, from its log: reconciliation's question. */
  async signed(txIds: readonly string[]): Promise<SignedResult> {
    const answer = await this.request({ op: "signed", txIds: [...txIds] });
    const failure = failureOf(answer);
    if (failure) return failure;
    return { ok: true, signed: field(answer, "signed", isArray, "array").filter(isString) };
  }

  /** Stops all signing on `chain` until resumed (persisted by the signer). */
  halt(chain: string, reason: string): Promise<HaltResult> {
    return this.haltOrResume("halt", chain, reason);
  }

  /** Resumes signing; the signer requires a reason of 3 to 500 printable characters. */
  resume(chain: string, reason: string): Promise<HaltResult> {
    return this.haltOrResume("resume", chain, reason);
  }

  private async haltOrResume(op: "halt" | "resume", chain: string, reason: string): Promise<HaltResult> {
    const answer = await this.request({ op, chain, reason });
    const failure = failureOf(answer);
    if (failure) return failure;
    return { ok: true, halted: field(answer, "halted", isBoolean, "boolean") };
  }

  /** One request on its own connection, within the timeout (waiting for a slot included). */
  private async request(body: Json): Promise<Json> {
    const frame = encodeFrame(body);
    // The signer closes the connection on a frame over its limit; say so here instead.
    if (frame.length - 4 > MAX_FRAME)
      throw new RangeError(`a request of ${frame.length - 4} bytes is over the signer's ${MAX_FRAME}`);
    const deadlineMs = Date.now() + this.timeoutMs;
    await this.takeSlot(deadlineMs);
    try {
      return asObject(await this.exchange(frame, deadlineMs), "answer");
    } finally {
      this.releaseSlot();
    }
  }

  private takeSlot(deadlineMs: number): Promise<void> {
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxWaiting)
      return Promise.reject(
        new SignerUnavailableError(
          this.socketPath,
          "busy",
          `${this.maxInFlight} requests in flight and ${this.waiting.length} waiting`,
        ),
      );
    return new Promise((resolve, reject) => {
      const go = () => {
        clearTimeout(timer);
        this.inFlight++;
        resolve();
      };
      const timer = setTimeout(
        () => {
          const at = this.waiting.indexOf(go);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(
            new SignerUnavailableError(
              this.socketPath,
              "timeout",
              `no connection slot within ${this.timeoutMs} ms`,
            ),
          );
        },
        Math.max(0, deadlineMs - Date.now()),
      );
      this.waiting.push(go);
    });
  }

  private releaseSlot(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }

  private exchange(frame: Buffer, deadlineMs: number): Promise<unknown> {
    const { socketPath } = this;
    return new Promise((resolve, reject) => {
      const reader = new FrameReader(MAX_ANSWER_BYTES);
      let settled = false;
      const finish = (error: Error | null, value?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (error) reject(error);
        else resolve(value);
      };
      const socket = connectUnix(socketPath);
      const timer = setTimeout(
        () =>
          finish(new SignerUnavailableError(socketPath, "timeout", `no answer within ${this.timeoutMs} ms`)),
        Math.max(0, deadlineMs - Date.now()),
      );
      socket.on("connect", () => socket.write(frame));
      socket.on("data", (chunk: Buffer) => {
        let frames: Buffer[];
        try {
          frames = reader.push(chunk);
        } catch (error) {
          return finish(new SignerProtocolError(`the signer's answer: ${(error as Error).message}`));
        }
        if (frames.length === 0) return;
        try {
          finish(null, decodeFrameBody(frames[0]));
        } catch (error) {
          finish(new SignerProtocolError(`the signer's answer: ${(error as Error).message}`));
        }
      });
      socket.on("error", (error: NodeJS.ErrnoException) =>
        finish(new SignerUnavailableError(socketPath, reasonOf(error), error.message)),
      );
      socket.on("close", () =>
        finish(new SignerUnavailableError(socketPath, "closed", "the connection closed without an answer")),
      );
    });
  }
}

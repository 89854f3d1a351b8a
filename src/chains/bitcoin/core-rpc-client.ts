// A small JSON-RPC 1.0 client for Bitcoin Core over HTTP(S), with HTTP basic auth from the node's
// cookie file or an rpcuser/rpcpassword pair (rpcauth). Every call is bounded: a deadline covering
// connect, headers and body (`timeoutMs`), and a response size cap (`maxResponseBytes`) past which
// the connection is cut instead of buffering more. Responses are parsed with `parseJson`, so
// numbers keep their text and amounts convert to satoshi exactly.
//
// Errors are typed. A JSON-RPC error object from the node is a `BitcoinRpcError` carrying the
// node's code and message (-5 not found, -8 bad parameter, -26 rejected by policy, ...). Anything
// else is a `BitcoinRpcTransportError` with a `kind`: auth (401/403), timeout, responseTooLarge,
// connection (refused, reset), http (another status without a JSON-RPC body, e.g. 503 "work queue
// depth exceeded"), badResponse (not JSON, wrong id).
//
// Bitcoin Core (JSON-RPC 1.0 requests, as sent here) answers an RPC error with HTTP 500 (404 for
// an unknown method, 400 for a bad request) and a JSON body, a bad password with 401 and an empty
// body, and a batch with 200 and one entry per call. Wallet RPCs go to /wallet/<name>.
//
// The cookie file (<datadir>/.cookie, "__cookie__:<hex>") is rewritten at every node start; it is
// read on first use and read again once after a 401, so a restarted node is followed.

import { readFile, stat } from "node:fs/promises";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isJsonObject, type JsonValue, parseJson, RpcNumber } from "./core-rpc-json.ts";

/** RPC error codes of Bitcoin Core (src/rpc/protocol.h) the adapter branches on. */
export const RPC_ERRORS = {
  MISC_ERROR: -1,
  TYPE_ERROR: -3,
  /** No such transaction, block or address (also "not in mempool"). */
  INVALID_ADDRESS_OR_KEY: -5,
  /** Includes "Block height out of range". */
  INVALID_PARAMETER: -8,
  WALLET_NOT_FOUND: -18,
  WALLET_NOT_SPECIFIED: -19,
  DESERIALIZATION_ERROR: -22,
  /** Transaction or block verification error (missing or spent inputs, fee above maxfeerate). */
  VERIFY_ERROR: -25,
  /** Rejected by network rules or policy (fee too low, non-standard, mempool conflict). */
  VERIFY_REJECTED: -26,
  VERIFY_ALREADY_IN_CHAIN: -27,
  IN_WARMUP: -28,
  METHOD_NOT_FOUND: -32601,
} as const;

/** Basic auth: the node's cookie file, or rpcuser/rpcpassword (or an rpcauth user). */
export type BitcoinRpcAuth = { cookieFile: string } | { user: string; password: string };

export interface BitcoinRpcClientOptions {
  /** The node's RPC endpoint, e.g. http://127.0.0.1:8332 (no credentials in the URL). */
  url: string;
  auth: BitcoinRpcAuth;
  /** Wallet for calls made with `{ wallet: true }` (sent to /wallet/<name>). */
  wallet?: string;
  /** Deadline per HTTP exchange, ms (default 30,000). */
  timeoutMs?: number;
  /** Largest response body accepted, bytes (default 64 MiB: a full block at verbosity 2 fits). */
  maxResponseBytes?: number;
  /** Most calls in one HTTP batch; longer batches are sent in several (default 500). */
  maxBatchSize?: number;
  /** Most concurrent connections to the node (default 4; bitcoind's -rpcthreads is 4 by default). */
  maxSockets?: number;
}

export interface RpcCallOptions {
  /** Send to the configured wallet's endpoint. */
  wallet?: boolean;
  /** Overrides the client's response size cap for this call. */
  maxResponseBytes?: number;
  /** Overrides the client's deadline for this call. */
  timeoutMs?: number;
}

export interface RpcCall {
  method: string;
  params?: readonly unknown[];
}

export type RpcBatchResult = { ok: true; result: JsonValue } | { ok: false; error: BitcoinRpcError };

export const DEFAULT_RPC_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_BATCH = 500;
const MAX_COOKIE_BYTES = 1024;
/** How much of an unexpected body an error message quotes. */
const QUOTED_BODY = 200;

/** A JSON-RPC error the node returned: its code and message, and the method called. */
export class BitcoinRpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly rpcMessage: string,
  ) {
    super(`bitcoind ${method}: error ${code}: ${rpcMessage}`);
    this.name = "BitcoinRpcError";
  }
}

export type BitcoinRpcTransportErrorKind =
  | "auth"
  | "timeout"
  | "responseTooLarge"
  | "connection"
  | "http"
  | "badResponse";

/** The exchange with the node failed before a JSON-RPC answer was read. */
export class BitcoinRpcTransportError extends Error {
  constructor(
    readonly kind: BitcoinRpcTransportErrorKind,
    readonly method: string,
    message: string,
    readonly status?: number,
  ) {
    super(`bitcoind ${method}: ${message}`);
    this.name = "BitcoinRpcTransportError";
  }
}

interface HttpReply {
  status: number;
  body: string;
}

export class BitcoinRpcClient {
  readonly wallet: string | undefined;
  private readonly base: URL;
  private readonly auth: BitcoinRpcAuth;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly maxBatchSize: number;
  private readonly agent: HttpAgent;
  private authorization: string | null = null;
  private nextId = 1;

  constructor(options: BitcoinRpcClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new Error(`bad bitcoind RPC URL ${JSON.stringify(options.url)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new Error(`bitcoind RPC URL must be http or https, got ${url.protocol}`);
    if (url.username !== "" || url.password !== "")
      throw new Error("put the RPC credentials in `auth`, not in the URL (URLs end up in logs)");
    this.base = url;
    this.auth = options.auth;
    if ("cookieFile" in this.auth) {
      if (typeof this.auth.cookieFile !== "string" || this.auth.cookieFile === "")
        throw new Error("auth.cookieFile must be a path");
    } else if (typeof this.auth.user !== "string" || typeof this.auth.password !== "string")
      throw new Error("auth needs a cookieFile or a user and password");
    else if (this.auth.user.includes(":")) throw new Error("an RPC user name cannot contain ':'");
    this.wallet = options.wallet;
    this.timeoutMs = positive(options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS, "timeoutMs");
    this.maxResponseBytes = positive(
      options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      "maxResponseBytes",
    );
    this.maxBatchSize = positive(options.maxBatchSize ?? DEFAULT_MAX_BATCH, "maxBatchSize");
    const agentOptions = { keepAlive: true, maxSockets: positive(options.maxSockets ?? 4, "maxSockets") };
    this.agent = url.protocol === "https:" ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  /** Calls one method; returns its result or throws `BitcoinRpcError` / `BitcoinRpcTransportError`. */
  async call(
    method: string,
    params: readonly unknown[] = [],
    options: RpcCallOptions = {},
  ): Promise<JsonValue> {
    const id = this.nextId++;
    const body = JSON.stringify({ jsonrpc: "1.0", id, method, params });
    const reply = await this.exchange(method, this.pathFor(options), body, options);
    const parsed = parseBody(method, reply);
    if (!isJsonObject(parsed)) throw unexpected(method, reply, "not a JSON-RPC response object");
    const error = rpcErrorOf(method, parsed.error);
    if (error !== null) throw error;
    if (reply.status !== 200) throw unexpected(method, reply, `HTTP ${reply.status} without an error object`);
    if (!("result" in parsed)) throw unexpected(method, reply, "no result");
    if (!sameId(parsed.id, id)) throw unexpected(method, reply, "the response id is not the request's");
    return parsed.result;
  }

  /**
   * Calls several methods in JSON-RPC batches (at most `maxBatchSize` per request); one result or
   * `BitcoinRpcError` per call, in the order given. A transport failure throws for the whole batch.
   */
  async batch(calls: readonly RpcCall[], options: RpcCallOptions = {}): Promise<RpcBatchResult[]> {
    const results: RpcBatchResult[] = [];
    for (let start = 0; start < calls.length; start += this.maxBatchSize)
      results.push(...(await this.batchOnce(calls.slice(start, start + this.maxBatchSize), options)));
    return results;
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private async batchOnce(calls: readonly RpcCall[], options: RpcCallOptions): Promise<RpcBatchResult[]> {
    if (calls.length === 0) return [];
    const label = `batch(${calls[0].method}${calls.length > 1 ? ` ×${calls.length}` : ""})`;
    const first = this.nextId;
    this.nextId += calls.length;
    const body = JSON.stringify(
      calls.map((c, i) => ({ jsonrpc: "1.0", id: first + i, method: c.method, params: c.params ?? [] })),
    );
    const reply = await this.exchange(label, this.pathFor(options), body, options);
    const parsed = parseBody(label, reply);
    if (!Array.isArray(parsed)) {
      // A whole-batch failure comes back as one error object.
      const error = isJsonObject(parsed) ? rpcErrorOf(label, parsed.error) : null;
      throw error ?? unexpected(label, reply, "a batch answered with something else than an array");
    }
    if (parsed.length !== calls.length)
      throw unexpected(label, reply, `${parsed.length} answers to ${calls.length} calls`);
    const byId = new Map<number, RpcBatchResult>();
    for (const entry of parsed) {
      if (!isJsonObject(entry)) throw unexpected(label, reply, "a batch entry is not an object");
      const index = idIndex(entry.id, first, calls.length);
      if (index === null || byId.has(index)) throw unexpected(label, reply, "a batch entry has a wrong id");
      const method = calls[index].method;
      const error = rpcErrorOf(method, entry.error);
      if (error !== null) byId.set(index, { ok: false, error });
      else if (!("result" in entry)) throw unexpected(label, reply, "a batch entry has no result");
      else byId.set(index, { ok: true, result: entry.result });
    }
    return calls.map((_, i) => byId.get(i) as RpcBatchResult);
  }

  private pathFor(options: RpcCallOptions): string {
    const root = this.base.pathname.replace(/\/+$/, "");
    if (options.wallet !== true) return `${root}/`;
    if (this.wallet === undefined) throw new Error("no wallet configured for a wallet RPC");
    return `${root}/wallet/${encodeURIComponent(this.wallet)}`;
  }

  /** One POST; with cookie auth, a 401 re-reads the cookie once (the node may have restarted). */
  private async exchange(
    method: string,
    path: string,
    body: string,
    options: RpcCallOptions,
  ): Promise<HttpReply> {
    const header = await this.authorizationHeader(method, false);
    let reply = await this.post(method, path, body, header, options);
    if (reply.status === 401 && "cookieFile" in this.auth) {
      const fresh = await this.authorizationHeader(method, true);
      if (fresh !== header) reply = await this.post(method, path, body, fresh, options);
    }
    if (reply.status === 401)
      throw new BitcoinRpcTransportError(
        "auth",
        method,
        "authentication failed (HTTP 401): check the RPC credentials",
        401,
      );
    if (reply.status === 403)
      throw new BitcoinRpcTransportError(
        "auth",
        method,
        "forbidden (HTTP 403): is this host in -rpcallowip?",
        403,
      );
    return reply;
  }

  private async authorizationHeader(method: string, reload: boolean): Promise<string> {
    if (this.authorization !== null && !reload) return this.authorization;
    let credentials: string;
    if ("cookieFile" in this.auth) {
      let text: string;
      try {
        const info = await stat(this.auth.cookieFile);
        if (info.size > MAX_COOKIE_BYTES) throw new Error(`larger than ${MAX_COOKIE_BYTES} bytes`);
        text = await readFile(this.auth.cookieFile, "utf8");
      } catch (error) {
        throw new BitcoinRpcTransportError(
          "auth",
          method,
          `cannot read the cookie file ${this.auth.cookieFile}: ${(error as Error).message}`,
        );
      }
      credentials = text.trim();
      if (!/^[^:\s]+:\S+$/.test(credentials))
        throw new BitcoinRpcTransportError(
          "auth",
          method,
          `the cookie file ${this.auth.cookieFile} is not user:password`,
        );
    } else credentials = `${this.auth.user}:${this.auth.password}`;
    this.authorization = `Basic ${Buffer.from(credentials, "utf8").toString("base64")}`;
    return this.authorization;
  }

  private post(
    method: string,
    path: string,
    body: string,
    authorization: string,
    options: RpcCallOptions,
  ): Promise<HttpReply> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const maxBytes = options.maxResponseBytes ?? this.maxResponseBytes;
    const send = this.base.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<HttpReply>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | null, reply?: HttpReply) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error !== null) {
          request.destroy();
          reject(error);
        } else resolve(reply as HttpReply);
      };
      const request = send(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname,
          port: this.base.port,
          path,
          method: "POST",
          agent: this.agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            authorization,
          },
        },
        (response: IncomingMessage) => {
          const declared = Number(response.headers["content-length"] ?? Number.NaN);
          if (declared > maxBytes) {
            response.destroy();
            finish(tooLarge(method, maxBytes));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          response.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              response.destroy();
              finish(tooLarge(method, maxBytes));
              return;
            }
            chunks.push(chunk);
          });
          response.on("end", () =>
            finish(null, { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
          response.on("error", (error) =>
            finish(new BitcoinRpcTransportError("connection", method, `response failed: ${error.message}`)),
          );
          response.on("close", () => {
            if (!response.complete)
              finish(
                new BitcoinRpcTransportError("connection", method, "the node closed the response early"),
              );
          });
        },
      );
      const timer = setTimeout(
        () =>
          finish(
            new BitcoinRpcTransportError("timeout", method, `no complete answer within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      request.on("error", (error) =>
        finish(new BitcoinRpcTransportError("connection", method, `cannot reach the node: ${error.message}`)),
      );
      request.end(body);
    });
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

function tooLarge(method: string, maxBytes: number): BitcoinRpcTransportError {
  return new BitcoinRpcTransportError("responseTooLarge", method, `response larger than ${maxBytes} bytes`);
}

function quote(body: string): string {
  const text = body.slice(0, QUOTED_BODY).replace(/[^\x20-\x7e]/g, "?");
  return body.length > QUOTED_BODY ? `${text}…` : text;
}

function unexpected(method: string, reply: HttpReply, what: string): BitcoinRpcTransportError {
  return new BitcoinRpcTransportError("badResponse", method, `${what} (HTTP ${reply.status})`, reply.status);
}

/** The body as JSON; a body that is not JSON is an HTTP-level failure (or a bad answer on 200). */
function parseBody(method: string, reply: HttpReply): JsonValue {
  try {
    return parseJson(reply.body);
  } catch (error) {
    if (reply.status !== 200)
      throw new BitcoinRpcTransportError(
        "http",
        method,
        `HTTP ${reply.status}${reply.body.trim() === "" ? "" : `: ${quote(reply.body.trim())}`}`,
        reply.status,
      );
    throw new BitcoinRpcTransportError(
      "badResponse",
      method,
      `response is not JSON: ${(error as Error).message}`,
      200,
    );
  }
}

function rpcErrorOf(method: string, error: JsonValue | undefined): BitcoinRpcError | null {
  if (error === undefined || error === null) return null;
  if (!isJsonObject(error))
    return new BitcoinRpcError(method, 0, `malformed error: ${quote(JSON.stringify(error))}`);
  const code = error.code instanceof RpcNumber ? Number(error.code.text) : Number.NaN;
  const message = typeof error.message === "string" ? error.message : "(no message)";
  return new BitcoinRpcError(method, Number.isSafeInteger(code) ? code : 0, message);
}

function sameId(value: JsonValue | undefined, id: number): boolean {
  return value instanceof RpcNumber && Number(value.text) === id;
}

function idIndex(value: JsonValue | undefined, first: number, count: number): number | null {
  if (!(value instanceof RpcNumber)) return null;
  const index = Number(value.text) - first;
  return Number.isSafeInteger(index) && index >= 0 && index < count ? index : null;
}

// EXMO WebSocket v1 frames (docs/API.md#ws-client-frames, docs/API.md#ws-server-frames): parsing what clients send and building what
// the server sends. Every server frame carries `ts` in milliseconds and an `event`.
//
// Client frames are checked against a strict, bounded schema before anything looks at them:
// unknown fields are ignored (ccxt may deep-extend extra params into a request), but the known
// ones must have the right type and size.

import { randomUUID } from "node:crypto";
import { z } from "zod";
import { type ExmoErrorKind, exmoError } from "../exmo/errors.ts";
import { MAX_REQUEST_ID, MAX_TOPIC_LENGTH, MAX_TOPICS_PER_CONNECTION } from "./limits.ts";

const requestId = z.number().int().min(0).max(MAX_REQUEST_ID);
const topicList = z.array(z.string().max(MAX_TOPIC_LENGTH)).min(1).max(MAX_TOPICS_PER_CONNECTION);

const subscribeSchema = z.object({
  method: z.enum(["subscribe", "unsubscribe"]),
  id: requestId.optional(),
  topics: topicList,
});

const loginSchema = z.object({
  method: z.literal("login"),
  id: requestId.optional(),
  api_key: z.string().max(MAX_TOPIC_LENGTH * 2),
  sign: z.string().max(MAX_TOPIC_LENGTH * 2),
  // Checked by login.ts like REST's (missing, malformed, not positive, too large, too far ahead:
  // each its own 40009 message), so not here.
  nonce: z.unknown().optional(),
});

/**
 * A browser's login: no key, the session cookie the WebSocket upgrade carried (docs/API.md#sessions);
 * `{"method":"login","id":1,"session":true}`.
 */
const sessionLoginSchema = z.object({
  method: z.literal("login"),
  id: requestId.optional(),
  session: z.literal(true),
});

/**
 * Bulwark's extension, not EXMO's (docs/API.md#ws-cancel-on-disconnect): after login, arm or disarm
 * the cancelling of all the user's open orders when this connection drops;
 * `{"method":"cancel_on_disconnect","id":4,"enabled":true}`.
 */
const cancelOnDisconnectSchema = z.object({
  method: z.literal("cancel_on_disconnect"),
  id: requestId.optional(),
  enabled: z.boolean(),
});

export type SubscribeRequest = z.infer<typeof subscribeSchema>;
export type LoginRequest = z.infer<typeof loginSchema>;
export type SessionLoginRequest = z.infer<typeof sessionLoginSchema>;
export type CancelOnDisconnectRequest = z.infer<typeof cancelOnDisconnectSchema>;

export type ClientRequest = SubscribeRequest | LoginRequest | SessionLoginRequest | CancelOnDisconnectRequest;

export type ParseResult =
  | { ok: true; request: ClientRequest }
  | { ok: false; kind: ExmoErrorKind; detail: string; id?: number };

const KNOWN_METHODS = new Set(["subscribe", "unsubscribe", "login", "cancel_on_disconnect"]);

/** Parses one text frame; never throws. The id is echoed in errors when it could be read. */
export function parseClientFrame(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, kind: "invalidParameter", detail: "message" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, kind: "invalidParameter", detail: "message" };
  const record = value as Record<string, unknown>;
  const id = requestId.safeParse(record.id);
  const echo = id.success ? { id: id.data } : {};
  const method = record.method;
  if (typeof method !== "string") return { ok: false, kind: "missingParameter", detail: "method", ...echo };
  if (!KNOWN_METHODS.has(method)) return { ok: false, kind: "unknownFunction", detail: method, ...echo };
  const parsed =
    method === "cancel_on_disconnect"
      ? cancelOnDisconnectSchema.safeParse(record)
      : method !== "login"
        ? subscribeSchema.safeParse(record)
        : "session" in record
          ? sessionLoginSchema.safeParse(record)
          : loginSchema.safeParse(record);
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? "message");
    return { ok: false, kind: "invalidParameter", detail: field, ...echo };
  }
  return { ok: true, request: parsed.data };
}

// ---- server frames -------------------------------------------------------------------------------

export type ServerFrame = { ts: number; event: string } & Record<string, unknown>;

export function greetingFrame(ts: number): ServerFrame {
  return { ts, event: "info", code: 1, message: "connection established", session_id: randomUUID() };
}

/** The `code` of a notice frame (EXMO's own info frames use 1, "connection established"). */
export const NOTICE_INFO_CODE = 3001;

/**
 * An incident notice to every connection (docs/INCIDENTS.md#websocket-notices): an `info` frame,
 * which EXMO clients such as ccxt.pro's exmo (handleInfo) take and ignore, with the notice in
 * extra fields under topic "notice".
 */
export function noticeFrame(
  ts: number,
  notice: { incidentId: number | null; kind: string; chain: string | null; message: string; atMs: number },
): ServerFrame {
  return {
    ts,
    event: "info",
    code: NOTICE_INFO_CODE,
    message: notice.message,
    topic: "notice",
    kind: notice.kind,
    incident_id: notice.incidentId,
    chain: notice.chain,
    at: notice.atMs,
  };
}

/** One ack per topic, as EXMO sends them (docs/API.md#ws-server-frames). */
export function subscribedFrame(ts: number, id: number | undefined, topic: string): ServerFrame {
  return { ts, event: "subscribed", ...(id === undefined ? {} : { id }), topic };
}

export function unsubscribedFrame(ts: number, id: number | undefined, topic: string): ServerFrame {
  return { ts, event: "unsubscribed", ...(id === undefined ? {} : { id }), topic };
}

export function loggedInFrame(ts: number, id: number | undefined): ServerFrame {
  return { ts, event: "logged_in", ...(id === undefined ? {} : { id }) };
}

/** The answer to `cancel_on_disconnect` (a Bulwark extension): the connection's setting now. */
export function cancelOnDisconnectFrame(ts: number, id: number | undefined, enabled: boolean): ServerFrame {
  return { ts, event: "cancel_on_disconnect", ...(id === undefined ? {} : { id }), enabled };
}

/** EXMO's error frame; ccxt surfaces it as NotSupported carrying the text (docs/API.md#ws-server-frames). */
export function errorFrame(
  ts: number,
  id: number | undefined,
  kind: ExmoErrorKind,
  detail?: string,
): ServerFrame {
  const { code, message } = exmoError(kind, detail);
  return { ts, event: "error", ...(id === undefined ? {} : { id }), code, message };
}

export function dataFrame(
  ts: number,
  event: "snapshot" | "update",
  topic: string,
  data: unknown,
): ServerFrame {
  return { ts, event, topic, data };
}

// Client frames of Binance's market stream sockets (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS,
// SET_PROPERTY, GET_PROPERTY) and the WebSocket errors Binance answers them with: its own small
// table, distinct from the REST one (errors.ts): {"error":{"code":N,"msg":"…"},"id":…}.
// Pure: parsing never touches a subscription.

/** A request id as Binance takes it: a 64-bit integer (safe range here), a short string, or null. */
export type RequestId = number | string | null;

export type StreamRequest =
  | { method: "SUBSCRIBE" | "UNSUBSCRIBE"; id: RequestId; params: string[] }
  | { method: "LIST_SUBSCRIPTIONS"; id: RequestId }
  | { method: "SET_PROPERTY"; id: RequestId; combined: boolean }
  | { method: "GET_PROPERTY"; id: RequestId };

/** Binance's WebSocket stream error codes (0 unknown property, 1 bad value type, 2 invalid request, 3 invalid JSON). */
export const WS_ERRORS = {
  unknownProperty: { code: 0, msg: "Unknown property" },
  notBoolean: { code: 1, msg: "Invalid value type: expected Boolean" },
  propertyName: { code: 2, msg: "Invalid request: property name must be a string" },
  requestId: { code: 2, msg: "Invalid request: request ID must be an unsigned integer" },
  missingMethod: { code: 2, msg: "Invalid request: missing field `method`" },
  unknownMethod: {
    code: 2,
    msg: "Invalid request: unknown variant, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`",
  },
  params: { code: 2, msg: "Invalid request: params must be an array of strings" },
  tooManyParameters: { code: 2, msg: "Invalid request: too many parameters" },
  invalidStream: { code: 2, msg: "Invalid request: invalid stream" },
  tooManyStreams: { code: 2, msg: "Invalid request: too many streams" },
  notObject: { code: 2, msg: "Invalid request: expected a JSON object" },
  invalidJson: { code: 3, msg: "Invalid JSON: expected value" },
} as const;

export type WsErrorKind = keyof typeof WS_ERRORS;

export type ParsedFrame =
  | { ok: true; request: StreamRequest }
  | { ok: false; id: RequestId; error: WsErrorKind };

const METHODS = new Set(["SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY"]);
const STRING_ID = /^[A-Za-z0-9-]{1,36}$/;
const PROPERTY = "combined";

export function errorFrame(id: RequestId, kind: WsErrorKind): string {
  return JSON.stringify({ error: WS_ERRORS[kind], id });
}

export function resultFrame(id: RequestId, result: unknown): string {
  return JSON.stringify({ result, id });
}

function requestId(value: unknown): RequestId | undefined {
  if (value === undefined || value === null) return null;
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "string" && STRING_ID.test(value)) return value;
  return undefined;
}

/** `maxParams`: streams one SUBSCRIBE may name (the connection's stream bound). */
export function parseFrame(text: string | null, maxParams: number): ParsedFrame {
  if (text === null) return { ok: false, id: null, error: "invalidJson" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, id: null, error: "invalidJson" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, id: null, error: "notObject" };
  const frame = value as Record<string, unknown>;
  const id = requestId(frame.id);
  if (id === undefined) return { ok: false, id: null, error: "requestId" };
  const method = frame.method;
  if (method === undefined) return { ok: false, id, error: "missingMethod" };
  if (typeof method !== "string" || !METHODS.has(method)) return { ok: false, id, error: "unknownMethod" };
  const params = frame.params;
  switch (method) {
    case "SUBSCRIBE":
    case "UNSUBSCRIBE": {
      if (!Array.isArray(params) || params.some((name) => typeof name !== "string"))
        return { ok: false, id, error: "params" };
      if (params.length > maxParams) return { ok: false, id, error: "tooManyStreams" };
      return { ok: true, request: { method, id, params: params as string[] } };
    }
    case "LIST_SUBSCRIPTIONS":
      if (params !== undefined && !(Array.isArray(params) && params.length === 0))
        return { ok: false, id, error: "tooManyParameters" };
      return { ok: true, request: { method, id } };
    case "SET_PROPERTY": {
      if (!Array.isArray(params) || params.length < 1 || typeof params[0] !== "string")
        return { ok: false, id, error: "propertyName" };
      if (params.length !== 2) return { ok: false, id, error: "tooManyParameters" };
      if (params[0] !== PROPERTY) return { ok: false, id, error: "unknownProperty" };
      if (typeof params[1] !== "boolean") return { ok: false, id, error: "notBoolean" };
      return { ok: true, request: { method, id, combined: params[1] } };
    }
    default: {
      if (!Array.isArray(params) || params.length < 1 || typeof params[0] !== "string")
        return { ok: false, id, error: "propertyName" };
      if (params.length !== 1) return { ok: false, id, error: "tooManyParameters" };
      if (params[0] !== PROPERTY) return { ok: false, id, error: "unknownProperty" };
      return { ok: true, request: { method: "GET_PROPERTY", id } };
    }
  }
}

// Binance Spot API v3's error table (https://developers.binance.com/docs/binance-spot-api-docs/errors):
// every refusal of the /api/v3 dialect is one of these kinds, answered as {"code":…,"msg":…}
// with Binance's HTTP status (4XX: the request was wrong; 429: the limit, 5XX: Bulwark's
// side). Messages are Binance's exact text where clients match on it (ccxt matches codes,
// freqtrade-style bots sometimes the text).

export type BinanceErrorKind =
  | "unknown"
  | "tooManyRequests"
  | "serverBusy"
  | "illegalChars"
  | "tooManyParameters"
  | "mandatoryParamMissing"
  | "paramEmpty"
  | "invalidInterval"
  | "invalidSymbol"
  | "unknownEndpoint"
  | "badParameterCombination"
  | "timestampOutsideRecvWindow"
  | "badSignature"
  | "badRecvWindow"
  | "badApiKeyFormat"
  | "rejectedApiKey";

interface BinanceErrorRow {
  code: number;
  status: number;
  /** Binance's message; `%s` is replaced by the detail (a parameter name, usually). */
  msg: string;
}

export const BINANCE_ERRORS: Readonly<Record<BinanceErrorKind, BinanceErrorRow>> = {
  unknown: { code: -1000, status: 500, msg: "An unknown error occurred while processing the request." },
  tooManyRequests: {
    code: -1003,
    status: 429,
    msg: "Too many requests; current limit of IP's request weight is exceeded. Please use WebSocket Streams for live updates to avoid polling the API.",
  },
  serverBusy: {
    code: -1008,
    status: 503,
    msg: "Server is currently overloaded with other requests. Please try again in a few minutes.",
  },
  illegalChars: { code: -1100, status: 400, msg: "Illegal characters found in parameter '%s'." },
  tooManyParameters: { code: -1101, status: 400, msg: "Too many parameters sent for this endpoint." },
  mandatoryParamMissing: {
    code: -1102,
    status: 400,
    msg: "Mandatory parameter '%s' was not sent, was empty/null, or malformed.",
  },
  paramEmpty: { code: -1105, status: 400, msg: "Parameter '%s' was empty." },
  invalidInterval: { code: -1120, status: 400, msg: "Invalid interval." },
  invalidSymbol: { code: -1121, status: 400, msg: "Invalid symbol." },
  // Binance answers an unknown path with a bare 404; Bulwark says which path in the usual shape.
  unknownEndpoint: {
    code: -1000,
    status: 404,
    msg: "Unknown endpoint: %s (Bulwark serves the Binance public market data endpoints and the signed account reads; orders are not built yet).",
  },
  badParameterCombination: { code: -1128, status: 400, msg: "Combination of optional parameters invalid." },
  // Signed requests (auth.ts). Every refusal of a key, its scope, its IP or its user is the one
  // -2015, as on Binance: a caller without the secret learns nothing about which check failed.
  timestampOutsideRecvWindow: {
    code: -1021,
    status: 400,
    msg: "Timestamp for this request is outside of the recvWindow.",
  },
  badSignature: { code: -1022, status: 400, msg: "Signature for this request is not valid." },
  badRecvWindow: { code: -1131, status: 400, msg: "recvWindow must be less than 60000" },
  badApiKeyFormat: { code: -2014, status: 401, msg: "API-key format invalid." },
  rejectedApiKey: { code: -2015, status: 401, msg: "Invalid API-key, IP, or permissions for action." },
};

export interface BinanceErrorBody {
  code: number;
  msg: string;
}

/** A refusal raised by a Binance route; the mount answers it with the table's status and body. */
export class BinanceFailure extends Error {
  constructor(
    readonly kind: BinanceErrorKind,
    readonly detail?: string,
    /** A message replacing the table's (Binance's -1100 family names the exact problem). */
    readonly overrideMsg?: string,
  ) {
    super(`${kind}${detail === undefined ? "" : `: ${detail}`}`);
  }
}

export function binanceError(kind: BinanceErrorKind, detail?: string, overrideMsg?: string) {
  const row = BINANCE_ERRORS[kind];
  const msg = overrideMsg ?? row.msg.replace("%s", detail ?? "");
  return { status: row.status, body: { code: row.code, msg } satisfies BinanceErrorBody };
}

// The operator console's client: the console's own session (/api/v1/console: login, logout, me) and
// the operator API mounted under it (/api/v1/console/operator/v1/…, the same paths, bodies and
// answers as src/operator/plugin.ts). The session cookie is HttpOnly; every non-GET carries the
// CSRF token (double submit: the `bulwark_console_csrf` cookie's value in X-CSRF-Token). Nothing is
// done here that the operator actions do not do themselves: this only asks them.
import { readCookie } from "../session.ts";

export const CONSOLE_PREFIX = "/api/v1/console";
export const OPERATOR_PREFIX = `${CONSOLE_PREFIX}/operator/v1`;
const CSRF_COOKIE = "bulwark_console_csrf";
const CSRF_HEADER = "X-CSRF-Token";
/** Longest answer the console reads; bigger ones are refused, not parsed. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
/** A request the server has not answered in this long is given up (the operator can retry). */
const REQUEST_TIMEOUT_MS = 20_000;

/** A refused call; `message` is in words, shown to the operator as is. */
export class ConsoleError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Operator {
  email: string;
  role: string;
  /** "METHOD /pattern" route keys this role may call (src/operator/console/roles.ts). */
  permissions: string[];
}

/** Whether the operator's role may call the route ("POST", "/withdrawals/:withdrawalId/approve"). */
export function may(operator: Operator, method: string, pattern: string): boolean {
  return operator.permissions.includes(`${method} ${pattern}`);
}

type SessionListener = () => void;
const sessionEndedListeners = new Set<SessionListener>();

/** Called when a call answers 401: the console session ended (expired, logged out elsewhere). */
export function onSessionEnded(listener: SessionListener): () => void {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

async function readAnswer(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text.length > MAX_ANSWER_BYTES)
    throw new ConsoleError(response.status, "too_large", "The answer was too large to show.");
  if (text === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ConsoleError(response.status, "bad_answer", `The server answered HTTP ${response.status}.`);
  }
}

/**
 * Custody's refusals arrive as "code: detail" (approvalRefused: … approved this withdrawal
 * already); the detail is the sentence, the code is kept on the error.
 */
const CODED_MESSAGE = /^([a-z][A-Za-z]{2,40}): (.+)$/s;

function errorOf(status: number, body: unknown, retryAfter: string | null): ConsoleError {
  // The console's routes answer {error:{code,message}}, the operator API's {error:{kind,message}}.
  const error = (body as { error?: { code?: unknown; kind?: unknown; message?: unknown } } | null)?.error;
  const code =
    typeof error?.code === "string"
      ? error.code
      : typeof error?.kind === "string"
        ? error.kind
        : "http_error";
  let message = typeof error?.message === "string" && error.message !== "" ? error.message : "";
  const coded = CODED_MESSAGE.exec(message);
  if (coded !== null) message = coded[2];
  if (message === "") {
    if (status === 401) message = "Your console session has ended: log in again.";
    else if (status === 403) message = "Your role may not do this.";
    else if (status === 404) message = "Not found.";
    else if (status === 429) message = "Too many requests: wait a moment and try again.";
    else message = `The server answered HTTP ${status}.`;
  }
  if (status === 429 && retryAfter !== null && !/retry/i.test(message))
    message = `${message} (retry in ${retryAfter} s)`;
  return new ConsoleError(status, coded?.[1] ?? code, message);
}

async function send(method: "GET" | "POST", url: string, body?: object): Promise<unknown> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") {
    headers["content-type"] = "application/json";
    const token = readCookie(CSRF_COOKIE);
    if (token !== null) headers[CSRF_HEADER] = token;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      ...(method === "GET" ? {} : { body: JSON.stringify(body ?? {}) }),
    });
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    throw new ConsoleError(
      0,
      "unreachable",
      timedOut ? "The server did not answer in time; try again." : "The server could not be reached.",
    );
  }
  const answer = await readAnswer(response);
  if (!response.ok) {
    const failure = errorOf(response.status, answer, response.headers.get("retry-after"));
    // A refused login is the login form's own message, not an ended session.
    if (response.status === 401 && !url.endsWith("/login"))
      for (const listener of sessionEndedListeners) listener();
    throw failure;
  }
  return answer;
}

/** /api/v1/console/<path>: login, logout, me. */
export function consoleGet<T>(path: string): Promise<T> {
  return send("GET", `${CONSOLE_PREFIX}${path}`) as Promise<T>;
}

export function consolePost<T>(path: string, body: object = {}): Promise<T> {
  return send("POST", `${CONSOLE_PREFIX}${path}`, body) as Promise<T>;
}

/** The operator API: `path` as plugin.ts registers it ("/withdrawals?step=awaitingApproval"). */
export function operatorGet<T>(path: string): Promise<T> {
  return send("GET", `${OPERATOR_PREFIX}${path}`) as Promise<T>;
}

export function operatorPost<T>(path: string, body: object = {}): Promise<T> {
  return send("POST", `${OPERATOR_PREFIX}${path}`, body) as Promise<T>;
}

/** A query string of the defined values ("" when none). */
export function query(values: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values))
    if (value !== undefined && value !== "") params.set(key, String(value));
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

/** Any failure as words for the operator. */
export function messageOf(error: unknown): string {
  if (error instanceof ConsoleError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

// ---- the answers' shapes (src/operator/*, src/custody/port.ts, src/incidents/port.ts) -------------

export interface UserListing {
  userId: number;
  email: string;
  status: string;
  createdMs: number;
  balances: { asset: string; available: string; held: string }[];
}

export interface AssetListing {
  assetId: number;
  code: string;
  scale: number;
}

export interface MarketListing {
  marketId: number;
  symbol: string;
  status: "active" | "suspended";
  tick: string;
  lot: string;
  minPrice: string;
  maxPrice: string;
  minQuantity: string;
  maxQuantity: string;
  minNotional: string;
  maxNotional: string;
  makerFeePercent: string;
  takerFeePercent: string;
}

export interface BreakerView {
  chain: string;
  state: "closed" | "tripped";
  reason: string | null;
  trippedAtMs: number | null;
  trippedBy: string | null;
  incidentId: number | null;
  cause: "unmatchedOutflow" | "reconciliationBreak" | "operator" | null;
}

export interface ChainCustodyStatus {
  chain: string;
  currencies: string[];
  walletReady: boolean;
  signerUp: boolean;
  signerHalted: boolean;
  scannerHeight: number | null;
  chainHeight: number | null;
  pendingWithdrawals: number;
  balances: {
    currency: string;
    onChain: { hot: string | null; cold: string | null; depositAddresses: string | null };
    onBooks: { hot: string; cold: string; inFlight: string; depositAddresses: string };
    customerLiabilities: string;
    hotCap: string;
    hotTarget: string;
    hotFloor: string;
    signerBudgetLeft: { window: string; left: string }[];
  }[];
  reorgedAfterCredit: number;
  breaker?: BreakerView;
  lastReconciliation?: { atMs: number; verdict: string; fromHeight: number; toHeight: number } | null;
  unmatchedOutflowsTotal?: number;
}

export interface WithdrawalView {
  withdrawalId: number;
  userId: number;
  currency: string;
  chain: string;
  amount: string;
  fee: string;
  address: string;
  step: string;
  txId: string | null;
  confirmations: number;
  reason: string | null;
  approvals: string[];
  approvalsNeeded: number;
  requestedMs: number;
}

export interface ColdRefillView {
  refillId: number;
  chain: string;
  currency: string;
  amount: string;
  fee: string | null;
  feeAsset: string;
  from: string;
  to: string;
  step: string;
  requestedBy: string;
  reason: string;
  requestedMs: number;
  approvals: { approver: string; atMs: number }[];
  approvalsNeeded: number;
  exportableFromMs: number | null;
  txId: string | null;
  cancelledBy: string | null;
  cancelReason: string | null;
}

export interface IncidentSummary {
  incidentId: number;
  kind: string;
  chain: string | null;
  title: string;
  status: "open" | "resolved";
  openedAtMs: number;
  resolvedAtMs: number | null;
  entries: number;
  latest: string;
}

export interface TimelineEntry {
  entry: number;
  type: string;
  atMs: number;
  actor: string;
  message: string;
}

export interface IncidentView {
  incidentId: number;
  kind: string;
  chain: string | null;
  title: string;
  status: "open" | "resolved";
  openedAtMs: number;
  resolvedAtMs: number | null;
  timeline: TimelineEntry[];
}

export interface PublicationSummary {
  publicationId: number;
  asset: string;
  createdAt: string;
  users: number;
  rootHash: string;
  liabilities: string;
  reserves: string;
  addresses: number;
  fullyBacked: boolean;
  publicKey: string;
}

export interface AuditListing {
  seq: number;
  tsMs: number;
  actor: string;
  action: string;
  subject: string;
  details: unknown;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  checkedRows: number;
  head: { seq: number; hash: string } | null;
  problem?: string;
}

export interface CoverAnswer {
  incidentId: number;
  asset: string;
  amount: string;
  source: string;
  hotOnBooks: string;
  insuranceFund: string;
  customerLiabilities: string;
}

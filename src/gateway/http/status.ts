// The public status page (issue 8 §3): GET /status (JSON) and GET /status.html (the same, for
// people; server-rendered, no external assets, reloads itself every 5 s). A browser opening
// /status gets the web app's Status page (web/src/public/status-page.tsx, which reads this JSON
// and links /status.html for readers without JavaScript) when the app is built, else this page.
//
// Each component says "operational" | "degraded" | "halted" | "down" and one sentence: the REST
// API, the WebSocket API (its connection count), the core (its sequence), the store (projection
// lag), and each chain's deposits and withdrawals (custody's status and breakers). Then the open
// incidents with their notices, and the newest notices. The overall status is the worst.
//
// Public and cheap: the report is computed at most once per STATUS_CACHE_MS however many ask
// (concurrent requests share one computation), and says nothing private: no balances, no
// addresses, no user data; a breaker's reason is an operator's public sentence.

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { BreakerView, ChainCustodyStatus, CustodyPort } from "../../custody/port.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { IncidentNotice, IncidentPort } from "../../incidents/port.ts";
import type { DegradedModeState } from "../guard/guard-control.ts";

/** A computed report is served for this long before the next request recomputes it. */
export const STATUS_CACHE_MS = 1_000;
/** The human page reloads itself this often. */
export const STATUS_PAGE_REFRESH_SECONDS = 5;
/** A store that does not answer within this is "down". */
const STORE_PROBE_TIMEOUT_MS = 1_000;
/** Projection lag (commands) past which the store is "degraded": reads trail writes noticeably. */
const STORE_LAG_DEGRADED = 10_000;
/** Blocks a deposit scanner may trail the chain tip before deposits are "degraded". */
const SCANNER_LAG_DEGRADED_BLOCKS = 6;
const MAX_INCIDENTS = 20;
const MAX_NOTICES_PER_INCIDENT = 20;
const MAX_RECENT_NOTICES = 20;

export const COMPONENT_STATES = ["operational", "degraded", "halted", "down"] as const;
export type ComponentState = (typeof COMPONENT_STATES)[number];

export interface StatusComponent {
  /** "rest", "ws", "core", "store", "deposits:devnet-btc", "withdrawals:devnet-btc". */
  id: string;
  name: string;
  status: ComponentState;
  message: string;
  /** Set on per-chain components. */
  chain?: string;
  /** ws: open connections. */
  connections?: number;
  /** core: the last sequence applied. */
  sequence?: number;
  /** store: commands applied but not yet in the read models (null when unreachable). */
  projectionLag?: number | null;
  /** withdrawals: the chain's breaker, when custody has one. */
  breaker?: {
    state: BreakerView["state"];
    reason: string | null;
    trippedAtMs: number | null;
    incidentId: number | null;
    cause: BreakerView["cause"];
  };
}

export interface StatusIncident {
  incidentId: number;
  kind: string;
  chain: string | null;
  title: string;
  status: "open" | "resolved";
  openedAtMs: number;
  /** Its notices (the timeline's "notice" entries), newest last. */
  notices: { kind: string; message: string; atMs: number }[];
}

export interface StatusReport {
  status: ComponentState;
  updatedAtMs: number;
  components: StatusComponent[];
  incidents: StatusIncident[];
  notices: IncidentNotice[];
}

export interface StatusSources {
  exchange: ExchangeBoundary;
  custody: CustodyPort | null;
  incidents: IncidentPort | null;
  /** Open WebSocket connections; null when no WebSocket gateway is attached. */
  webSocketConnections: () => number | null;
  clock: () => number;
  /** The flood guard's degraded mode (GuardControl.degraded); absent: never degraded. */
  degradedMode?: () => DegradedModeState;
}

function worst(states: readonly ComponentState[]): ComponentState {
  let index = 0;
  for (const state of states) index = Math.max(index, COMPONENT_STATES.indexOf(state));
  return COMPONENT_STATES[index];
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function coreComponents(sources: StatusSources, projected: number | Error): StatusComponent[] {
  const status = sources.exchange.status();
  const connections = sources.webSocketConnections();
  const stalled = status.pipeline.stalled;
  const store: StatusComponent =
    projected instanceof Error
      ? {
          id: "store",
          name: "Store",
          status: "down",
          message: `The store does not answer: ${projected.message}. Balances and history may be stale.`,
          projectionLag: null,
        }
      : (() => {
          const lag = Math.max(0, status.lastSequence - projected);
          const failing = status.projectorLastError !== null;
          return {
            id: "store",
            name: "Store",
            status: failing || lag > STORE_LAG_DEGRADED ? "degraded" : "operational",
            message: failing
              ? `Writing to the store fails and is retried; history trails by ${lag} commands.`
              : `History and balances are ${lag} commands behind the matching engine.`,
            projectionLag: lag,
          } satisfies StatusComponent;
        })();
  return [
    { id: "rest", name: "REST API", status: "operational", message: "The EXMO REST API answers." },
    connections === null
      ? { id: "ws", name: "WebSocket API", status: "down", message: "The WebSocket API is not running." }
      : {
          id: "ws",
          name: "WebSocket API",
          status: "operational",
          message: `The WebSocket API serves ${connections} connection${connections === 1 ? "" : "s"}.`,
          connections,
        },
    {
      id: "core",
      name: "Matching engine",
      status: stalled ? "degraded" : "operational",
      message: stalled
        ? `Orders are accepted slowly: the store is behind (sequence ${status.lastSequence}).`
        : `Orders are matched (sequence ${status.lastSequence}).`,
      sequence: status.lastSequence,
    },
    store,
    publicApiComponent(sources.degradedMode?.() ?? null),
  ];
}

/**
 * Degraded mode (docs/SECURITY.md#degraded-mode) as a component of its own, so people see why
 * public answers are cached and new public WebSocket connections are refused. The operator's
 * reason is shown: like a breaker's, it is written to be public.
 */
function publicApiComponent(degraded: DegradedModeState | null): StatusComponent {
  if (degraded === null || !degraded.on)
    return {
      id: "public-api",
      name: "Public API",
      status: "operational",
      message: "Public market data is served from snapshots at most 100 ms old.",
    };
  const why = degraded.reason === null ? "" : `: ${degraded.reason}`;
  return {
    id: "public-api",
    name: "Public API",
    status: "degraded",
    message:
      `Degraded mode (an operator switched it on${why}). Public market data is served from cache only, ` +
      "new public WebSocket connections are refused and order entry is limited to allow-listed API keys; " +
      "cancels work.",
  };
}

function breakerSummary(breaker: BreakerView): NonNullable<StatusComponent["breaker"]> {
  return {
    state: breaker.state,
    reason: breaker.reason,
    trippedAtMs: breaker.trippedAtMs,
    incidentId: breaker.incidentId,
    cause: breaker.cause,
  };
}

function chainComponents(chain: ChainCustodyStatus, breaker: BreakerView | undefined): StatusComponent[] {
  const currencies = chain.currencies.join(", ");
  const lag =
    chain.scannerHeight === null || chain.chainHeight === null
      ? null
      : chain.chainHeight - chain.scannerHeight;
  const deposits: StatusComponent = !chain.walletReady
    ? {
        id: `deposits:${chain.chain}`,
        name: `${currencies} deposits`,
        chain: chain.chain,
        status: "halted",
        message: `${currencies} deposits are not available yet (no wallet on ${chain.chain}).`,
      }
    : lag === null || lag > SCANNER_LAG_DEGRADED_BLOCKS
      ? {
          id: `deposits:${chain.chain}`,
          name: `${currencies} deposits`,
          chain: chain.chain,
          status: "degraded",
          message:
            lag === null
              ? `${currencies} deposits wait for the chain to be read.`
              : `${currencies} deposits are credited late: ${lag} blocks behind the chain.`,
        }
      : {
          id: `deposits:${chain.chain}`,
          name: `${currencies} deposits`,
          chain: chain.chain,
          status: "operational",
          message: `${currencies} deposits are credited after their confirmations.`,
        };
  const base = { id: `withdrawals:${chain.chain}`, name: `${currencies} withdrawals`, chain: chain.chain };
  const breakerField = breaker === undefined ? {} : { breaker: breakerSummary(breaker) };
  let withdrawals: StatusComponent;
  if (breaker?.state === "tripped")
    withdrawals = {
      ...base,
      ...breakerField,
      status: "halted",
      message:
        `${currencies} withdrawals are paused (funds stay held)` +
        (breaker.incidentId === null ? "" : `, incident #${breaker.incidentId}`) +
        (breaker.reason === null ? "." : `: ${breaker.reason}`),
    };
  else if (chain.signerHalted)
    withdrawals = {
      ...base,
      ...breakerField,
      status: "halted",
      message: `${currencies} withdrawals are paused.`,
    };
  else if (!chain.walletReady)
    withdrawals = {
      ...base,
      ...breakerField,
      status: "halted",
      message: `${currencies} withdrawals are not available yet (no wallet on ${chain.chain}).`,
    };
  else if (!chain.signerUp)
    withdrawals = {
      ...base,
      ...breakerField,
      status: "degraded",
      message: `${currencies} withdrawals wait: the signer does not answer (${chain.pendingWithdrawals} pending).`,
    };
  else
    withdrawals = {
      ...base,
      ...breakerField,
      status: "operational",
      message: `${currencies} withdrawals are processed (${chain.pendingWithdrawals} pending).`,
    };
  return [deposits, withdrawals];
}

async function custodyComponents(custody: CustodyPort): Promise<StatusComponent[]> {
  let report: Awaited<ReturnType<CustodyPort["status"]>>;
  try {
    report = await withTimeout(custody.status(), STORE_PROBE_TIMEOUT_MS * 2);
  } catch (error) {
    return [
      {
        id: "custody",
        name: "Deposits and withdrawals",
        status: "down",
        message: `Custody does not answer: ${message(error)}.`,
      },
    ];
  }
  // breakers() is newer than status(); a custody without it reports the breaker inside status.
  let breakers: BreakerView[] = [];
  if (typeof custody.breakers === "function")
    try {
      breakers = await withTimeout(custody.breakers(), STORE_PROBE_TIMEOUT_MS * 2);
    } catch {
      breakers = [];
    }
  const byChain = new Map(breakers.map((breaker) => [breaker.chain, breaker]));
  return report.chains.flatMap((chain) => chainComponents(chain, byChain.get(chain.chain) ?? chain.breaker));
}

async function incidentSection(
  incidents: IncidentPort | null,
): Promise<{ incidents: StatusIncident[]; notices: IncidentNotice[] }> {
  if (incidents === null) return { incidents: [], notices: [] };
  const open = await incidents.list({ status: "open", limit: MAX_INCIDENTS });
  return {
    incidents: open.map((incident) => ({
      incidentId: incident.incidentId,
      kind: incident.kind,
      chain: incident.chain,
      title: incident.title,
      status: incident.status,
      openedAtMs: incident.openedAtMs,
      notices: incident.timeline
        .filter((entry) => entry.type === "notice")
        .slice(-MAX_NOTICES_PER_INCIDENT)
        .map((entry) => ({
          kind: typeof entry.detail.kind === "string" ? entry.detail.kind : "notice",
          message: entry.message,
          atMs: entry.atMs,
        })),
    })),
    notices: incidents.recentNotices?.(MAX_RECENT_NOTICES) ?? [],
  };
}

export async function computeStatus(sources: StatusSources): Promise<StatusReport> {
  const projected = await withTimeout(
    sources.exchange.reads.projectedSequence(),
    STORE_PROBE_TIMEOUT_MS,
  ).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  const components = coreComponents(sources, projected);
  if (sources.custody !== null) components.push(...(await custodyComponents(sources.custody)));
  let section: { incidents: StatusIncident[]; notices: IncidentNotice[] };
  try {
    section = await withTimeout(incidentSection(sources.incidents), STORE_PROBE_TIMEOUT_MS);
  } catch (error) {
    section = { incidents: [], notices: [] };
    components.push({
      id: "incidents",
      name: "Incident feed",
      status: "degraded",
      message: `Incidents cannot be read right now: ${message(error)}.`,
    });
  }
  const overall = worst([
    ...components.map((component) => component.status),
    section.incidents.length > 0 ? "degraded" : "operational",
  ]);
  return { status: overall, updatedAtMs: sources.clock(), components, ...section };
}

/** Computes at most once per STATUS_CACHE_MS; callers in the same window share the result. */
export class StatusCache {
  private last: { atMs: number; report: Promise<StatusReport> } | null = null;

  constructor(private readonly sources: StatusSources) {}

  get(): Promise<StatusReport> {
    const nowMs = Date.now();
    if (this.last !== null && nowMs - this.last.atMs < STATUS_CACHE_MS) return this.last.report;
    const report = computeStatus(this.sources);
    this.last = { atMs: nowMs, report };
    // A failed computation is not cached: the next request tries again.
    report.catch(() => {
      if (this.last?.report === report) this.last = null;
    });
    return report;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function time(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

const COLORS: Record<ComponentState, string> = {
  operational: "#1a7f37",
  degraded: "#9a6700",
  halted: "#cf222e",
  down: "#82071e",
};

export function statusHtml(report: StatusReport): string {
  const badge = (state: ComponentState) =>
    `<span class="badge" style="background:${COLORS[state]}">${escapeHtml(state)}</span>`;
  const components = report.components
    .map(
      (component) =>
        `<tr><td>${escapeHtml(component.name)}</td><td>${badge(component.status)}</td><td>${escapeHtml(component.message)}</td></tr>`,
    )
    .join("\n");
  const incidents =
    report.incidents.length === 0
      ? "<p>No open incidents.</p>"
      : report.incidents
          .map(
            (incident) =>
              `<section class="incident"><h3>#${incident.incidentId} ${escapeHtml(incident.title)}</h3>` +
              `<p class="meta">${escapeHtml(incident.kind)}${incident.chain === null ? "" : ` on ${escapeHtml(incident.chain)}`}, opened ${time(incident.openedAtMs)}</p>` +
              `<ul>${incident.notices
                .slice()
                .reverse()
                .map((notice) => `<li><time>${time(notice.atMs)}</time> ${escapeHtml(notice.message)}</li>`)
                .join("")}</ul></section>`,
          )
          .join("\n");
  const notices =
    report.notices.length === 0
      ? ""
      : `<h2>Latest notices</h2><ul>${report.notices
          .map(
            (notice) =>
              `<li><time>${time(notice.atMs)}</time> ${escapeHtml(notice.message)}${notice.incidentId === null ? "" : ` (incident #${notice.incidentId})`}</li>`,
          )
          .join("")}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${STATUS_PAGE_REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Status: ${escapeHtml(report.status)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2328}
table{border-collapse:collapse;width:100%}td{padding:.4rem;border-bottom:1px solid #d0d7de;vertical-align:top}
.badge{color:#fff;border-radius:.3rem;padding:.1rem .5rem;font-size:.85rem;white-space:nowrap}
.incident{border-left:4px solid #cf222e;padding-left:1rem;margin:1rem 0}.meta,time{color:#59636e;font-size:.85rem}
</style></head><body>
<h1>Status ${badge(report.status)}</h1>
<p class="meta">Updated ${time(report.updatedAtMs)}; this page reloads every ${STATUS_PAGE_REFRESH_SECONDS} s. JSON: <a href="/status">/status</a></p>
<table>${components}</table>
<h2>Open incidents</h2>
${incidents}
${notices}
</body></html>
`;
}

/** Answers a browser's request with the web app's page (WebApp.sendIndex in web.ts). */
export type BrowserPage = (request: FastifyRequest, reply: FastifyReply) => FastifyReply;

/**
 * GET /status and GET /status.html on the gateway's Fastify, through its guard ("health" lane).
 * `browserPage`: what a browser opening /status gets (the web app); absent: the server-rendered page.
 */
export function mountStatusRoutes(
  fastify: FastifyInstance,
  sources: StatusSources,
  browserPage: BrowserPage | null = null,
): void {
  const cache = new StatusCache(sources);
  const config = { priority: "publicData" as const, guardLane: "health" as const };
  const sendHtml = async (reply: FastifyReply) =>
    reply
      .header("cache-control", "no-store")
      .header("content-type", "text/html; charset=utf-8")
      .header(
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
      )
      .send(statusHtml(await cache.get()));
  fastify.route({
    method: "GET",
    url: "/status",
    config,
    // A browser opening /status asks for HTML first and gets the page; API clients get JSON.
    handler: async (request, reply) =>
      prefersHtml(request.headers.accept)
        ? browserPage === null
          ? sendHtml(reply)
          : browserPage(request, reply.header("vary", "accept"))
        : reply
            .header("cache-control", "no-store")
            .header("content-type", "application/json")
            .header("vary", "accept")
            .send(await cache.get()),
  });
  fastify.route({
    method: "GET",
    url: "/status.html",
    config,
    handler: async (_request, reply) => sendHtml(reply),
  });
}

/** Whether an Accept header names text/html before any JSON type (what browsers send for a page). */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const types = accept
    .slice(0, 1_024)
    .split(",")
    .map((part) => part.split(";")[0].trim().toLowerCase());
  const html = types.indexOf("text/html");
  const json = types.findIndex((type) => type === "application/json" || type.endsWith("+json"));
  return html !== -1 && (json === -1 || html < json);
}

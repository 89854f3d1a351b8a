// Operator actions on incidents (issue 8 §3): list, show, note (a notice that reaches every
// WebSocket client, the status page and the webhooks), resolve, and export (the timeline from the
// audit log). The incident service audits every entry itself (incident.note, incident.resolve),
// so these add no audit rows of their own. Offline the CLI gives an IncidentService over the
// store (notes are recorded and audited; with no server running, no client is connected to tell).
//
// Also the operator API's routes for them (registerIncidentRoutes), mounted by plugin.ts.

import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { IncidentAdminPort, IncidentExport, IncidentView, TimelineEntry } from "../incidents/port.ts";
import { OperatorError } from "./actions.ts";

export const INCIDENT_ACTION_LIMITS = {
  maxList: 1_000,
  defaultList: 100,
  maxMessageLength: 1_000,
} as const;

/** An incident without its timeline (the list's rows), plus how many entries it has. */
export interface IncidentSummary {
  incidentId: number;
  kind: string;
  chain: string | null;
  title: string;
  status: "open" | "resolved";
  openedAtMs: number;
  resolvedAtMs: number | null;
  entries: number;
  /** The newest entry's message. */
  latest: string;
}

function summaryOf(view: IncidentView & { entryCount?: number }): IncidentSummary {
  return {
    incidentId: view.incidentId,
    kind: view.kind,
    chain: view.chain,
    title: view.title,
    status: view.status,
    openedAtMs: view.openedAtMs,
    resolvedAtMs: view.resolvedAtMs,
    entries: view.entryCount ?? view.timeline.length,
    latest: view.timeline.at(-1)?.message ?? "",
  };
}

function checkId(id: unknown): number {
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1)
    throw new OperatorError("invalid", `--id must be a whole number from 1, got ${String(id)}`);
  return id;
}

function checkText(name: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "")
    throw new OperatorError("invalid", `--${name} is required and must not be empty`);
  if (value.length > INCIDENT_ACTION_LIMITS.maxMessageLength)
    throw new OperatorError(
      "invalid",
      `--${name} must be at most ${INCIDENT_ACTION_LIMITS.maxMessageLength} characters, got ${value.length}`,
    );
  return value;
}

/** The incident service's refusals (IncidentError: invalid, notFound, conflict) as operator errors. */
async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error && error.name === "IncidentError") {
      const kind = (error as Error & { kind?: string }).kind;
      throw new OperatorError(
        kind === "notFound" ? "notFound" : kind === "conflict" ? "conflict" : "invalid",
        error.message,
      );
    }
    throw error;
  }
}

export class IncidentActions {
  constructor(private readonly port: IncidentAdminPort | null) {}

  private service(): IncidentAdminPort {
    if (this.port === null) throw new OperatorError("notFound", "incidents are not available here");
    return this.port;
  }

  /** Open incidents (all with `all`), newest first. */
  async list(input: { all?: boolean; limit?: number }): Promise<{ incidents: IncidentSummary[] }> {
    const limit = input.limit ?? INCIDENT_ACTION_LIMITS.defaultList;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > INCIDENT_ACTION_LIMITS.maxList)
      throw new OperatorError("invalid", `--limit must be 1..${INCIDENT_ACTION_LIMITS.maxList}`);
    const views = await mapped(() =>
      this.service().list({ ...(input.all === true ? {} : { status: "open" as const }), limit }),
    );
    return { incidents: views.map(summaryOf) };
  }

  async show(input: { id: number }): Promise<IncidentView> {
    const id = checkId(input.id);
    const view = await mapped(() => this.service().get(id));
    if (view === undefined) throw new OperatorError("notFound", `no incident ${id}`);
    return view;
  }

  /** Posts an update: a notice entry, to every WebSocket client, the status page and the webhooks. */
  async note(actor: string, input: { id: number; message: string }): Promise<IncidentView> {
    const id = checkId(input.id);
    const message = checkText("message", input.message);
    const service = this.service();
    const incident = await mapped(() => service.get(id));
    if (incident === undefined) throw new OperatorError("notFound", `no incident ${id}`);
    await mapped(() => service.notify(id, { kind: "note", chain: incident.chain, message, actor }));
    return this.show({ id });
  }

  async resolve(actor: string, input: { id: number; reason: string }): Promise<IncidentView> {
    const id = checkId(input.id);
    const reason = checkText("reason", input.reason);
    return mapped(() => this.service().resolve(id, { actor, reason }));
  }

  async exportTimeline(input: { id: number }): Promise<IncidentExport> {
    const id = checkId(input.id);
    return mapped(() => this.service().exportTimeline(id));
  }
}

/** One line per entry, for `incident show`. */
export function timelineText(entries: readonly TimelineEntry[]): string {
  return entries
    .map(
      (entry) =>
        `${entry.entry}. ${new Date(entry.atMs).toISOString()} ${entry.type} by ${entry.actor}: ${entry.message}`,
    )
    .join("\n");
}

// ---- operator API routes --------------------------------------------------------------------------

const idParams = z.object({
  incidentId: z
    .string()
    .regex(/^[0-9]{1,15}$/, "must be a whole number")
    .transform(Number),
});
const listQuery = z
  .object({
    all: z.enum(["true", "false"]).optional(),
    limit: z
      .string()
      .regex(/^[0-9]{1,15}$/, "must be a whole number")
      .transform(Number)
      .optional(),
  })
  .strict();
/** Lengths are checked by IncidentActions, so the message is the same offline and here. */
const noteBody = z.object({ message: z.string().max(64 * 1024) }).strict();
const resolveBody = z.object({ reason: z.string().max(64 * 1024) }).strict();

/** Registers /incidents… on the operator API; `parse` is plugin.ts's body/params reader. */
export function registerIncidentRoutes(
  app: FastifyInstance,
  options: {
    incidents: () => IncidentActions;
    actor: (request: FastifyRequest) => string;
    parse: <T>(schema: z.ZodType<T>, value: unknown) => T;
    route: { bodyLimit: number };
  },
): void {
  const { incidents, actor, parse, route } = options;
  app.get("/incidents", async (request) => {
    const query = parse(listQuery, request.query);
    return incidents().list({
      all: query.all === "true",
      ...(query.limit === undefined ? {} : { limit: query.limit }),
    });
  });
  app.get("/incidents/:incidentId", async (request) =>
    incidents().show({ id: parse(idParams, request.params).incidentId }),
  );
  app.get("/incidents/:incidentId/export", async (request) =>
    incidents().exportTimeline({ id: parse(idParams, request.params).incidentId }),
  );
  app.post("/incidents/:incidentId/notes", route, async (request, reply) =>
    reply.code(201).send(
      await incidents().note(actor(request), {
        id: parse(idParams, request.params).incidentId,
        ...parse(noteBody, request.body),
      }),
    ),
  );
  app.post("/incidents/:incidentId/resolve", route, async (request) =>
    incidents().resolve(actor(request), {
      id: parse(idParams, request.params).incidentId,
      ...parse(resolveBody, request.body),
    }),
  );
}

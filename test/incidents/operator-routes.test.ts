// The operator API's /incidents routes: list, show, note, resolve, export through the bearer
// token, each change audited by the incident service with the API's actor, and bad input (bad
// JSON, unknown fields, unknown or malformed ids, empty or oversized messages) refused with a
// clear error that changes nothing. Without an incident service, the routes say so.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../../src/accounts/secret-box.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { IncidentService } from "../../src/incidents/incident-service.ts";
import type { IncidentNotice } from "../../src/incidents/port.ts";
import { OperatorActions } from "../../src/operator/actions.ts";
import { OPERATOR_API_PREFIX, operatorApi } from "../../src/operator/plugin.ts";

const TOKEN = "operator-token-for-incident-routes-0123456789";
let dataDir: string;
let exchange: Exchange;
let service: IncidentService;
let app: FastifyInstance;
let bare: FastifyInstance;
let incidentId: number;
const notices: IncidentNotice[] = [];

async function call(app: FastifyInstance, method: "GET" | "POST", path: string, payload?: string) {
  const response = await app.inject({
    method,
    url: `${OPERATOR_API_PREFIX}${path}`,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: response.statusCode, json: response.json() as Record<string, unknown> };
}

async function register(actions: OperatorActions): Promise<FastifyInstance> {
  const instance = Fastify();
  await instance.register(operatorApi, {
    prefix: OPERATOR_API_PREFIX,
    actions,
    token: { matches: (presented) => presented === TOKEN, source: "env", generated: null },
  });
  return instance;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-incident-routes-"));
  exchange = await Exchange.open({ dataDir });
  service = new IncidentService({ exchange });
  service.onNotice((notice) => notices.push(notice));
  const actions = new OperatorActions(exchange, new SecretBox(randomBytes(32)));
  actions.setIncidents(service);
  app = await register(actions);
  bare = await register(new OperatorActions(exchange, new SecretBox(randomBytes(32))));
  incidentId = (
    await service.open({
      kind: "reconciliationBreak",
      chain: "devnet-eth",
      title: "Reconciliation break on devnet-eth",
      detail: { residualWei: "1000" },
      detectedAtMs: Date.now(),
      actor: "system:custody",
    })
  ).incidentId;
});

afterAll(async () => {
  await app.close();
  await bare.close();
  service.stop();
  await exchange.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const auditCount = async () =>
  Number(
    (
      await exchange.internals.store.db
        .selectFrom("audit_log")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe("operator API /incidents", () => {
  it("lists, shows, notes, exports and resolves", async () => {
    expect(await call(app, "GET", "/incidents")).toMatchObject({
      status: 200,
      json: { incidents: [{ incidentId, status: "open", kind: "reconciliationBreak", entries: 1 }] },
    });
    const noted = await call(
      app,
      "POST",
      `/incidents/${incidentId}/notes`,
      JSON.stringify({ message: "ETH withdrawals paused." }),
    );
    expect(noted.status).toBe(201);
    expect(noted.json).toMatchObject({
      timeline: [{ type: "detected" }, { type: "notice", actor: "operator:api@127.0.0.1" }],
    });
    expect(notices.at(-1)).toMatchObject({
      incidentId,
      kind: "note",
      chain: "devnet-eth",
      message: "ETH withdrawals paused.",
    });
    const exported = await call(app, "GET", `/incidents/${incidentId}/export`);
    expect(exported.json).toMatchObject({
      incidentId,
      consistent: true,
      timeline: [{ action: "incident.open" }, { action: "incident.note" }],
    });
    const resolved = await call(
      app,
      "POST",
      `/incidents/${incidentId}/resolve`,
      JSON.stringify({ reason: "Books fixed." }),
    );
    expect(resolved).toMatchObject({ status: 200, json: { status: "resolved" } });
    expect((await call(app, "GET", "/incidents")).json).toEqual({ incidents: [] });
    expect(((await call(app, "GET", "/incidents?all=true&limit=5")).json.incidents as unknown[]).length).toBe(
      1,
    );
  });

  it("refuses bad input with a clear error and changes nothing", async () => {
    const before = await auditCount();
    const shown = (await call(app, "GET", `/incidents/${incidentId}`)).json;
    const cases: [string, "GET" | "POST", string, string | undefined, number, RegExp][] = [
      ["unknown id", "GET", "/incidents/999", undefined, 404, /no incident 999/],
      ["malformed id", "GET", "/incidents/abc", undefined, 400, /whole number/],
      ["zero id", "GET", "/incidents/0", undefined, 400, /from 1/],
      ["note to unknown", "POST", "/incidents/999/notes", '{"message":"x"}', 404, /no incident 999/],
      ["bad JSON", "POST", `/incidents/${incidentId}/notes`, "{message:", 400, /JSON/],
      [
        "unknown field",
        "POST",
        `/incidents/${incidentId}/notes`,
        '{"message":"x","extra":1}',
        400,
        /extra|Unrecognized/i,
      ],
      ["missing message", "POST", `/incidents/${incidentId}/notes`, "{}", 400, /message/],
      ["empty message", "POST", `/incidents/${incidentId}/notes`, '{"message":"   "}', 400, /message/],
      [
        "oversized message",
        "POST",
        `/incidents/${incidentId}/notes`,
        JSON.stringify({ message: "x".repeat(1_001) }),
        400,
        /at most 1000/,
      ],
      [
        "resolve twice",
        "POST",
        `/incidents/${incidentId}/resolve`,
        '{"reason":"again"}',
        409,
        /already resolved/,
      ],
      ["limit too large", "GET", "/incidents?limit=5000", undefined, 400, /limit/],
      ["unknown query", "GET", "/incidents?status=open", undefined, 400, /status|Unrecognized/i],
      ["export of unknown", "GET", "/incidents/999/export", undefined, 404, /no rows for incident 999/],
    ];
    for (const [name, method, path, payload, status, message] of cases) {
      const answer = await call(app, method, path, payload);
      expect(answer.status, name).toBe(status);
      expect((answer.json.error as { message: string }).message, name).toMatch(message);
    }
    expect(await auditCount()).toBe(before);
    expect((await call(app, "GET", `/incidents/${incidentId}`)).json).toEqual(shown);
  });

  it("says incidents are not available without the service", async () => {
    const answer = await call(bare, "GET", "/incidents");
    expect(answer).toMatchObject({
      status: 404,
      json: { error: { message: "incidents are not available here" } },
    });
  });
});

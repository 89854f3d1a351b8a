// `bulwark incident …` end to end on a real server (no devnet, no demo) with a webhook receiver
// and a WebSocket client: `incident note` reaches the client, the status page and the webhook
// (signed); `incident export` writes Markdown and JSON built from the audit log; `resolve` closes
// it. Then the same commands offline on the stopped data dir, bad input refused with nothing
// changed, and the start's configuration and the audit head shipped to the webhook.

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { STATUS_CACHE_MS } from "../../src/gateway/http/status.ts";
import { SIGNATURE_HEADER, signWebhookBody } from "../../src/incidents/webhooks.ts";
import { WEBHOOK_SECRET_FILE_NAME, WEBHOOKS_CONFIG_FILE_NAME } from "../../src/server/incidents.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { bulwarkIn, newDataDir, type Run } from "./harness.ts";

interface Alert {
  body: Record<string, unknown>;
  raw: string;
  headers: IncomingMessage["headers"];
}

let dataDir: string;
let outDir: string;
let server: ExchangeServer | undefined;
let receiver: ReturnType<typeof createServer>;
let receiverUrl: string;
const alerts: Alert[] = [];
const frames: Record<string, unknown>[] = [];
let socket: WebSocket;
let incidentId: number;

const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);
const ok = async (...args: string[]): Promise<unknown> => {
  const run = await bulwark(...args);
  expect(run.json, JSON.stringify(run.json)).toMatchObject({ ok: true });
  return run.json;
};
function expectFailure(run: Run, kind: string, message: RegExp): void {
  expect(run.json.ok, JSON.stringify(run.json)).toBe(false);
  expect(run.json.error?.kind, JSON.stringify(run.json)).toBe(kind);
  expect(run.json.error?.message).toMatch(message);
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition never reached");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  dataDir = newDataDir("bulwark-cli-incident-");
  outDir = mkdtempSync(join(tmpdir(), "bulwark-incident-out-"));
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      alerts.push({ raw, body: JSON.parse(raw), headers: request.headers });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts?token=t0k3n`;
  // The data dir's config file, as an operator writes it (start --webhook would override it).
  writeFileSync(
    join(dataDir, WEBHOOKS_CONFIG_FILE_NAME),
    JSON.stringify({ webhooks: [{ url: receiverUrl }], auditHeadIntervalMs: 60_000 }),
    { mode: 0o600 },
  );
  server = await startExchangeServer({ dataDir, port: 0, demo: false, devnet: false });
  socket = new WebSocket(`${server.url.replace(/^http/, "ws")}/v1/public`);
  socket.on("message", (data) => frames.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const opened = await server.incidents.open({
    kind: "operator",
    chain: null,
    title: "Operator drill incident",
    detail: { why: "test" },
    detectedAtMs: Date.now(),
    actor: "operator:test",
  });
  incidentId = opened.incidentId;
});

afterAll(async () => {
  socket?.close();
  await server?.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  rmSync(outDir, { recursive: true, force: true });
});

describe("bulwark incident on a running server", () => {
  it("generated the webhook secret owner-only, audited the start's configuration, and shipped the audit head", async () => {
    const secretPath = join(dataDir, WEBHOOK_SECRET_FILE_NAME);
    expect(statSync(secretPath).mode & 0o777).toBe(0o600);
    const secret = readFileSync(secretPath, "utf8").trim();
    await until(() => alerts.some((alert) => alert.body.type === "audit.head"));
    for (const alert of alerts)
      expect(alert.headers[SIGNATURE_HEADER]).toBe(signWebhookBody(secret, alert.raw));
    const head = alerts.find((alert) => alert.body.type === "audit.head")?.body;
    expect(head).toMatchObject({
      reason: "start",
      head: { seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    await until(() => alerts.some((alert) => alert.body.type === "incident.opened"));
    const rows = await server!.exchange.internals.store.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "config.change")
      .execute();
    // The receiver's query string (a token) is not written to the audit log.
    expect(JSON.parse(rows[0].details_json)).toMatchObject({
      config: {
        webhooks: [receiverUrl.split("?")[0]],
        webhookSource: "file",
        webhookSecretSource: "file",
        productionMode: false,
      },
      previous: { webhooks: [], webhookSource: "none" },
    });
  });

  it("lists and shows the incident", async () => {
    const listed = (await ok("incident", "list")) as { incidents: { incidentId: number; status: string }[] };
    expect(listed.incidents).toEqual([
      expect.objectContaining({ incidentId, status: "open", title: "Operator drill incident" }),
    ]);
    const shown = await ok("incident", "show", "--id", String(incidentId));
    expect(shown).toMatchObject({ incidentId, timeline: [{ entry: 1, type: "detected" }] });
  });

  it("posts a note to the WebSocket client, the status page and the webhook", async () => {
    const note = await ok(
      "incident",
      "note",
      "--id",
      String(incidentId),
      "--message",
      "We are investigating.",
    );
    expect(note).toMatchObject({
      timeline: [
        { type: "detected" },
        { type: "notice", message: "We are investigating.", actor: expect.stringMatching(/^operator:cli/) },
      ],
    });
    await until(() => frames.some((frame) => frame.topic === "notice"));
    expect(frames.find((frame) => frame.topic === "notice")).toMatchObject({
      event: "info",
      code: 3001,
      message: "We are investigating.",
      kind: "note",
      incident_id: incidentId,
      chain: null,
    });
    await until(() => alerts.some((alert) => alert.body.type === "notice"));
    expect(alerts.find((alert) => alert.body.type === "notice")?.body).toMatchObject({
      notice: { incidentId, kind: "note", message: "We are investigating." },
      auditHead: { seq: expect.any(Number) },
    });
    const status = (await (await fetch(`${server!.url}/status`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      status: "degraded",
      incidents: [
        {
          incidentId,
          title: "Operator drill incident",
          notices: [{ kind: "note", message: "We are investigating." }],
        },
      ],
      notices: [{ incidentId, kind: "note", message: "We are investigating." }],
    });
    const html = await (await fetch(`${server!.url}/status.html`)).text();
    expect(html).toContain("We are investigating.");
  });

  it("exports the timeline from the audit log as Markdown and JSON", async () => {
    const exported = (await ok("incident", "export", "--id", String(incidentId), "--out", outDir)) as {
      files: { markdown: string; json: string };
      consistent: boolean;
      entries: number;
    };
    expect(exported).toMatchObject({ consistent: true, entries: 2 });
    expect(exported.files).toEqual({
      markdown: join(outDir, `incident-${incidentId}.md`),
      json: join(outDir, `incident-${incidentId}.json`),
    });
    const json = JSON.parse(readFileSync(exported.files.json, "utf8"));
    expect(json.timeline.map((entry: { action: string }) => entry.action)).toEqual([
      "incident.open",
      "incident.note",
    ]);
    expect(readFileSync(exported.files.markdown, "utf8")).toContain("We are investigating.");
    expect(statSync(exported.files.json).mode & 0o777).toBe(0o600);
  });

  it("refuses bad input with a clear error and changes nothing", async () => {
    const before = await ok("incident", "show", "--id", String(incidentId));
    expectFailure(await bulwark("incident", "show", "--id", "999"), "notFound", /no incident 999/);
    expectFailure(
      await bulwark("incident", "note", "--id", "999", "--message", "x"),
      "notFound",
      /no incident 999/,
    );
    expectFailure(await bulwark("incident", "show", "--id", "abc"), "invalid", /whole number/);
    expectFailure(await bulwark("incident", "show", "--id", "0"), "invalid", /from 1/);
    expectFailure(
      await bulwark("incident", "note", "--id", String(incidentId), "--message", " "),
      "invalid",
      /message/,
    );
    expectFailure(
      await bulwark("incident", "note", "--id", String(incidentId), "--message", "x".repeat(1_001)),
      "invalid",
      /at most 1000/,
    );
    expectFailure(await bulwark("incident", "note", "--id", String(incidentId)), "usage", /--message/);
    expectFailure(
      await bulwark("incident", "export", "--id", String(incidentId), "--out", join(outDir, "nope")),
      "invalid",
      /existing directory/,
    );
    expectFailure(await bulwark("incident", "list", "--limit", "5000"), "invalid", /limit/);
    expect(await ok("incident", "show", "--id", String(incidentId))).toEqual(before);
  });

  it("resolves the incident, which leaves the status page", async () => {
    const resolved = await ok("incident", "resolve", "--id", String(incidentId), "--reason", "Drill over");
    expect(resolved).toMatchObject({ status: "resolved", resolvedAtMs: expect.any(Number) });
    expectFailure(
      await bulwark("incident", "resolve", "--id", String(incidentId), "--reason", "again"),
      "conflict",
      /already resolved/,
    );
    expect(((await ok("incident", "list")) as { incidents: unknown[] }).incidents).toEqual([]);
    expect(((await ok("incident", "list", "--all")) as { incidents: unknown[] }).incidents).toHaveLength(1);
    // The status report is cached for STATUS_CACHE_MS: the clock the cache reads is moved past
    // that window for this one request instead of the test sleeping through it.
    const realNow = Date.now.bind(Date);
    const moved = vi.spyOn(Date, "now").mockImplementation(() => realNow() + STATUS_CACHE_MS + 1);
    let status: { incidents: unknown[]; status: string };
    try {
      status = (await (await fetch(`${server!.url}/status`)).json()) as typeof status;
    } finally {
      moved.mockRestore();
    }
    expect(status.incidents).toEqual([]);
    expect(status.status).toBe("operational");
  });
});

describe("bulwark incident offline", () => {
  it("shows, notes and exports on the stopped data dir", async () => {
    await server?.close();
    server = undefined;
    const listed = (await ok("incident", "list", "--all")) as { incidents: { incidentId: number }[] };
    expect(listed.incidents.map((incident) => incident.incidentId)).toEqual([incidentId]);
    await ok("incident", "note", "--id", String(incidentId), "--message", "Post-mortem published.");
    const exported = (await ok("incident", "export", "--id", String(incidentId), "--out", outDir)) as {
      consistent: boolean;
      entries: number;
    };
    expect(exported).toMatchObject({ consistent: true, entries: 4 });
    expectFailure(await bulwark("incident", "show", "--id", "999"), "notFound", /no incident 999/);
    expect((await ok("audit", "verify")) as { ok: boolean }).toMatchObject({ ok: true });
  });
});

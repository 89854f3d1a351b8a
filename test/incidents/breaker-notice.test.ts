// Issue 8 §2: within 5 s of a breaker trip the incident is open, the status page shows it and
// the chain's withdrawals halted, every WebSocket client (public and private paths) has the
// notice, and the webhook has the alert. A real server (devnet chains, no demo, no signer) and an
// operator's trip through custody; each arrival is timed from the trip.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { StatusReport } from "../../src/gateway/http/status.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";

const HALT_WITHIN_MS = 5_000;
const CHAIN = "devnet-btc";

let dataDir: string;
let server: ExchangeServer;
let receiver: ReturnType<typeof createServer>;
const alerts: { atMs: number; body: Record<string, unknown> }[] = [];
const sockets: {
  path: string;
  socket: WebSocket;
  notices: { atMs: number; frame: Record<string, unknown> }[];
}[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-breaker-notice-"));
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      alerts.push({ atMs: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  server = await startExchangeServer({
    dataDir,
    port: 0,
    demo: false,
    devnetBlockMs: 0,
    custodyTickMs: 200,
    webhooks: [{ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts` }],
    webhookSecret: "breaker-notice-test-secret",
  });
  for (const path of ["/v1/public", "/v1/private"]) {
    const socket = new WebSocket(`${server.url.replace(/^http/, "ws")}${path}`);
    const entry = { path, socket, notices: [] as { atMs: number; frame: Record<string, unknown> }[] };
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as Record<string, unknown>;
      if (frame.topic === "notice") entry.notices.push({ atMs: Date.now(), frame });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    sockets.push(entry);
  }
});

afterAll(async () => {
  for (const { socket } of sockets) socket.terminate();
  await server?.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  rmSync(dataDir, { recursive: true, force: true });
});

async function status(): Promise<StatusReport> {
  return (await (await fetch(`${server.url}/status`)).json()) as StatusReport;
}

describe("a breaker trip reaches everyone within 5 s", () => {
  it("opens the incident, and the status page, every WebSocket client and the webhook have it", async () => {
    const custody = server.custody;
    if (custody === null) throw new Error("custody is not running");
    const before = await status();
    expect(
      before.components.find((component) => component.id === `withdrawals:${CHAIN}`)?.breaker?.state,
    ).toBe("closed");

    const trippedAtMs = Date.now();
    const [view] = await custody.tripBreaker({
      chain: CHAIN,
      actor: "operator:drill",
      reason: "theft drill: stop the chain",
    });
    expect(view).toMatchObject({ chain: CHAIN, state: "tripped", cause: "operator" });
    const incidentId = view.incidentId;
    if (incidentId === null) throw new Error("the trip opened no incident");

    const seen: Record<string, number | null> = {
      incident: null,
      statusPage: null,
      webhook: null,
      public: null,
      private: null,
    };
    const deadline = trippedAtMs + HALT_WITHIN_MS;
    while (Object.values(seen).some((value) => value === null) && Date.now() < deadline) {
      if (seen.incident === null && (await server.incidents.get(incidentId))?.status === "open")
        seen.incident = Date.now();
      if (seen.statusPage === null) {
        const report = await status();
        const withdrawals = report.components.find((component) => component.id === `withdrawals:${CHAIN}`);
        if (
          withdrawals?.status === "halted" &&
          report.incidents.some((incident) => incident.incidentId === incidentId)
        )
          seen.statusPage = Date.now();
      }
      if (seen.webhook === null) {
        const alert = alerts.find((candidate) => candidate.body.type === "notice");
        if (alert !== undefined) seen.webhook = alert.atMs;
      }
      for (const entry of sockets) {
        const key = entry.path === "/v1/public" ? "public" : "private";
        if (seen[key] === null && entry.notices.length > 0) seen[key] = entry.notices[0].atMs;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const [what, atMs] of Object.entries(seen)) {
      expect(atMs, `${what} not within ${HALT_WITHIN_MS} ms`).not.toBeNull();
      expect((atMs ?? 0) - trippedAtMs, what).toBeLessThanOrEqual(HALT_WITHIN_MS);
    }
    expect(sockets[0].notices[0].frame).toMatchObject({
      event: "info",
      topic: "notice",
      incident_id: incidentId,
      chain: CHAIN,
      kind: expect.any(String),
    });
    expect(alerts.map((alert) => alert.body.type)).toEqual(
      expect.arrayContaining(["incident.opened", "notice"]),
    );
    const incident = await server.incidents.get(incidentId);
    expect(incident?.timeline.map((entry) => entry.type)).toEqual(
      expect.arrayContaining(["detected", "breakerTripped", "notice"]),
    );
  });
});

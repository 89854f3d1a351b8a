// The webhook alerter against local HTTP receivers: signed JSON bodies, retries with backoff
// after failures, a receiver that never answers (bounded attempts, timeouts, nothing left
// running after close), a full queue dropping its oldest alert, and bad configuration refused.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  ALERT_ID_HEADER,
  SIGNATURE_HEADER,
  signWebhookBody,
  WebhookAlerter,
} from "../../src/incidents/webhooks.ts";

const SECRET = "a-webhook-secret-of-some-length";

interface Received {
  body: string;
  headers: IncomingMessage["headers"];
  atMs: number;
}

interface Receiver {
  url: string;
  received: Received[];
  requests: number;
  close(): Promise<void>;
}

async function receiver(answer: (request: number, response: ServerResponse) => void): Promise<Receiver> {
  const state: Receiver = { url: "", received: [], requests: 0, close: async () => undefined };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      state.requests += 1;
      state.received.push({
        body: Buffer.concat(chunks).toString("utf8"),
        headers: request.headers,
        atMs: Date.now(),
      });
      answer(state.requests, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("webhook alerter", () => {
  it("posts signed JSON to every receiver, in order, without blocking the caller", async () => {
    const first = await receiver((_, response) => response.writeHead(204).end());
    const second = await receiver((_, response) => response.writeHead(200).end("ok"));
    closers.push(first.close, second.close);
    const alerter = new WebhookAlerter({ urls: [first.url, second.url], secret: SECRET, clock: () => 42 });
    closers.push(() => alerter.close());
    alerter.enqueue({ type: "incident.opened", incident: { incidentId: 1 } });
    alerter.enqueue({ type: "audit.head", head: { seq: 9, hash: "f".repeat(64) } });
    // enqueue returned before any receiver saw a request: the caller never waits on delivery.
    expect(first.requests + second.requests).toBe(0);
    expect(await alerter.idle(5_000)).toBe(true);
    for (const target of [first, second]) {
      expect(target.received.map((alert) => JSON.parse(alert.body).type)).toEqual([
        "incident.opened",
        "audit.head",
      ]);
      for (const alert of target.received) {
        expect(alert.headers["content-type"]).toBe("application/json");
        expect(alert.headers[SIGNATURE_HEADER]).toBe(signWebhookBody(SECRET, alert.body));
        expect(alert.headers[ALERT_ID_HEADER]).toBe(JSON.parse(alert.body).alertId);
        expect(JSON.parse(alert.body).atMs).toBe(42);
      }
    }
    expect(alerter.stats().map((stats) => [stats.delivered, stats.failed, stats.dropped])).toEqual([
      [2, 0, 0],
      [2, 0, 0],
    ]);
  });

  it("retries a receiver that fails first, with growing waits, then delivers once", async () => {
    const flaky = await receiver((request, response) => response.writeHead(request <= 2 ? 503 : 200).end());
    closers.push(flaky.close);
    const alerter = new WebhookAlerter({
      urls: [flaky.url],
      secret: SECRET,
      initialBackoffMs: 50,
      maxAttempts: 5,
    });
    closers.push(() => alerter.close());
    alerter.enqueue({ type: "notice", message: "withdrawals paused" });
    expect(await alerter.idle(5_000)).toBe(true);
    expect(flaky.requests).toBe(3);
    const gaps = [
      flaky.received[1].atMs - flaky.received[0].atMs,
      flaky.received[2].atMs - flaky.received[1].atMs,
    ];
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(95);
    // The same alert each time (one id), delivered once.
    expect(new Set(flaky.received.map((alert) => alert.body)).size).toBe(1);
    expect(alerter.stats()[0]).toMatchObject({
      delivered: 1,
      failed: 0,
      failedRequests: 2,
      lastError: "HTTP 503",
    });
  });

  it("gives up on a receiver that never answers after maxAttempts timeouts, and close() leaves nothing behind", async () => {
    const silent = await receiver(() => undefined);
    closers.push(silent.close);
    const problems: string[] = [];
    const alerter = new WebhookAlerter({
      urls: [silent.url],
      secret: SECRET,
      requestTimeoutMs: 100,
      initialBackoffMs: 10,
      maxAttempts: 3,
      onProblem: (what) => problems.push(what),
    });
    alerter.enqueue({ type: "notice", message: "one" });
    await until(() => alerter.stats()[0].failed === 1);
    expect(silent.requests).toBe(3);
    expect(alerter.stats()[0].lastError).toBe("no answer within 100 ms");
    expect(problems).toContain("webhook alert given up");
    // Another alert in flight when closing: aborted, no retry afterwards.
    alerter.enqueue({ type: "notice", message: "two" });
    await until(() => silent.requests === 4);
    alerter.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(silent.requests).toBe(4);
    expect(alerter.stats()[0].queued).toBe(0);
  });

  it("keeps at most maxQueuedAlerts per receiver, dropping the oldest behind the one in flight", async () => {
    let release: (() => void) | null = null;
    const slow = await receiver((_, response) => {
      release = () => response.writeHead(200).end();
    });
    closers.push(slow.close);
    const alerter = new WebhookAlerter({ urls: [slow.url], secret: SECRET, maxQueuedAlerts: 3 });
    closers.push(() => alerter.close());
    alerter.enqueue({ type: "n", n: 0 });
    await until(() => slow.requests === 1);
    for (let n = 1; n <= 5; n++) alerter.enqueue({ type: "n", n });
    expect(alerter.stats()[0]).toMatchObject({ queued: 3, dropped: 3 });
    for (let turn = 0; turn < 3; turn++) {
      await until(() => release !== null);
      const answer = release as unknown as () => void;
      release = null;
      answer();
    }
    expect(await alerter.idle(5_000)).toBe(true);
    // 0 was in flight; 1, 2 and 3 were dropped for 4 and 5.
    expect(slow.received.map((alert) => JSON.parse(alert.body).n)).toEqual([0, 4, 5]);
  });

  it("refuses bad configuration", () => {
    expect(() => new WebhookAlerter({ urls: ["ftp://example.test/"], secret: SECRET })).toThrow(/http/);
    expect(() => new WebhookAlerter({ urls: ["not a url"], secret: SECRET })).toThrow(/parse/);
    expect(() => new WebhookAlerter({ urls: ["https://user:pw@example.test/"], secret: SECRET })).toThrow(
      /credentials/,
    );
    expect(() => new WebhookAlerter({ urls: ["https://example.test/"], secret: "short" })).toThrow(/secret/);
    expect(
      () =>
        new WebhookAlerter({
          urls: Array.from({ length: 17 }, (_, i) => `https://h${i}.test/`),
          secret: SECRET,
        }),
    ).toThrow(/at most 16/);
  });
});

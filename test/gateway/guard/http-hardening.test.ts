// HTTP hardening with real sockets (src/gateway/http/server.ts HTTP_LIMITS, docs/SECURITY.md#http-limits):
// open connections per address, a slowloris sending one header byte a second, idle sockets,
// keep-alive bounded per socket, and the small body limit of order routes.

import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORDER_BODY_LIMIT_BYTES } from "../../../src/gateway/exmo/private-routes.ts";
import { HTTP_LIMITS } from "../../../src/gateway/http/server.ts";
import { type Harness, startHarness } from "../support/rest-harness.ts";

const LIMITS = {
  maxConnectionsPerIp: 3,
  headersTimeoutMs: 2_000,
  connectionsCheckingIntervalMs: 100,
  socketIdleTimeoutMs: 1_500,
  maxRequestsPerSocket: 2,
  keepAliveTimeoutMs: 1_000,
};

let harness: Harness;
let port = 0;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  harness = await startHarness({ httpLimits: LIMITS });
  port = Number(new URL(harness.baseUrl).port);
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await harness.close();
});

interface Opened {
  socket: net.Socket;
  received: () => string;
  closed: Promise<number>;
}

/** A raw socket from `from`; `closed` resolves with the ms it lived. */
function open(from: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const startedMs = performance.now();
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
    sockets.push(socket);
    let data = "";
    socket.on("data", (chunk: Buffer) => {
      data += chunk.toString("latin1");
    });
    socket.on("error", () => undefined);
    const closed = new Promise<number>((done) =>
      socket.once("close", () => done(performance.now() - startedMs)),
    );
    socket.once("connect", () => resolve({ socket, received: () => data, closed }));
    socket.once("error", reject);
  });
}

const withinMs = <T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> =>
  Promise.race([promise, new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), ms))]);

describe("connections", () => {
  it("the defaults are set", () => {
    expect(HTTP_LIMITS.headersTimeoutMs).toBe(10_000);
    expect(HTTP_LIMITS.requestTimeoutMs).toBe(30_000);
    expect(HTTP_LIMITS.maxHeaderSizeBytes).toBe(16 * 1024);
    expect(HTTP_LIMITS.maxConnectionsPerIp).toBeGreaterThan(0);
    expect(ORDER_BODY_LIMIT_BYTES).toBe(4 * 1024);
  });

  it("past maxConnectionsPerIp from one address the connection is destroyed; others are not affected", async () => {
    const from = "127.0.0.91";
    const kept = [await open(from), await open(from), await open(from)];
    const extra = await open(from);
    expect(await withinMs(extra.closed, 1_000)).not.toBe("timeout");
    expect(extra.received()).toBe("");
    // The kept ones still work.
    kept[0].socket.write("GET /v1.1/ticker HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(kept[0].received()).toMatch(/^HTTP\/1.1 200/);
    // Another address is served.
    const other = await open("127.0.0.92");
    other.socket.write("GET /v1.1/ticker HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(other.received()).toMatch(/^HTTP\/1.1 200/);
    // A closed connection frees its place.
    kept[1].socket.destroy();
    await kept[1].closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await open(from);
    again.socket.write("GET /v1.1/ticker HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(again.received()).toMatch(/^HTTP\/1.1 200/);
  });

  it("a slowloris sending one header byte a second is cut at the headers timeout with 408", async () => {
    const slow = await open("127.0.0.93");
    slow.socket.write("GET /v1.1/ticker HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    const drip = setInterval(() => {
      if (!slow.socket.destroyed) slow.socket.write("a");
    }, 1_000);
    try {
      const livedMs = await withinMs(slow.closed, 6_000);
      expect(livedMs).not.toBe("timeout");
      expect(livedMs as number).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 100);
      expect(livedMs as number).toBeLessThan(LIMITS.headersTimeoutMs + 2_000);
      expect(slow.received()).toMatch(/^HTTP\/1.1 408/);
    } finally {
      clearInterval(drip);
    }
  });

  it("an idle socket is cut after socketIdleTimeoutMs", async () => {
    const idle = await open("127.0.0.94");
    const livedMs = await withinMs(idle.closed, 5_000);
    expect(livedMs).not.toBe("timeout");
    expect(livedMs as number).toBeGreaterThanOrEqual(LIMITS.socketIdleTimeoutMs - 100);
  });

  it("keep-alive is bounded: Connection: close at the last request a socket may carry, then the socket ends", async () => {
    const client = await open("127.0.0.95");
    const get = "GET /v1.1/ticker HTTP/1.1\r\nHost: x\r\n\r\n";
    client.socket.write(get + get + get);
    const livedMs = await withinMs(client.closed, LIMITS.keepAliveTimeoutMs + 2_000);
    expect(livedMs).not.toBe("timeout");
    const answers = client.received().split(/(?=HTTP\/1.1 )/);
    expect(answers.map((answer) => answer.slice(0, 12))).toEqual([
      "HTTP/1.1 200",
      "HTTP/1.1 200",
      "HTTP/1.1 503",
    ]);
    expect(answers[0]).toMatch(/keep-alive: timeout=1, max=2/i);
    expect(answers[1]).toMatch(/connection: close/i);
  });
});

describe("body limits", () => {
  const post = async (path: string, bytes: number) => {
    const body = `nonce=1&pad=${"x".repeat(bytes)}`;
    const response = await fetch(`${harness.baseUrl}/v1.1/${path}`, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        key: `K-${"0".repeat(40)}`,
        sign: "00",
      },
    });
    return { status: response.status, text: await response.text() };
  };

  it("order routes take a few KiB at most: 413 with 59018, before authentication", async () => {
    for (const path of ["order_create", "order_cancel"]) {
      const refused = await post(path, 5 * 1024);
      expect(refused.status).toBe(413);
      expect(refused.text).toContain("Error 59018");
    }
    // A read route takes more: the same body reaches authentication (40017: no such key).
    const read = await post("user_info", 5 * 1024);
    expect(read.status).toBe(200);
    expect(read.text).toContain("Error 40017");
  });
});

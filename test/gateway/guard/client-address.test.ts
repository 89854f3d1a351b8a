// Trusted proxies (src/gateway/guard/client-address.ts): a forwarded client address is believed
// only from a configured proxy. The rule on its own, then over real HTTP: a forged
// X-Forwarded-For from an untrusted peer does not move the limited address; from a trusted one it does.

import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddress, makeClientAddress } from "../../../src/gateway/guard/client-address.ts";
import { type Harness, startHarness } from "../support/rest-harness.ts";

describe("the rule", () => {
  it("trusts nobody by default", () => {
    expect(clientAddress("198.51.100.1", { "x-forwarded-for": "203.0.113.9" })).toBe("198.51.100.1");
    expect(makeClientAddress().clientAddress("198.51.100.1", { "x-forwarded-for": "203.0.113.9" })).toBe(
      "198.51.100.1",
    );
  });

  it("walks X-Forwarded-For from the right past trusted proxies", () => {
    const { clientAddress: rule } = makeClientAddress({ trustedProxies: ["10.0.0.0/8", "192.0.2.7"] });
    // From an untrusted peer the header is ignored.
    expect(rule("198.51.100.1", { "x-forwarded-for": "203.0.113.9" })).toBe("198.51.100.1");
    // From a trusted peer: the last entry that is not a trusted proxy.
    expect(rule("10.1.2.3", { "x-forwarded-for": "203.0.113.9" })).toBe("203.0.113.9");
    expect(rule("10.1.2.3", { "x-forwarded-for": "1.1.1.1, 203.0.113.9, 192.0.2.7" })).toBe("203.0.113.9");
    // IPv4-mapped peers count as IPv4.
    expect(rule("::ffff:10.1.2.3", { "x-forwarded-for": "203.0.113.9" })).toBe("203.0.113.9");
    // Garbage stops the walk at the last good address.
    expect(rule("10.1.2.3", { "x-forwarded-for": "evil, 203.0.113.9" })).toBe("203.0.113.9");
    expect(rule("10.1.2.3", { "x-forwarded-for": "not-an-ip" })).toBe("10.1.2.3");
    expect(rule("10.1.2.3", {})).toBe("10.1.2.3");
  });

  it("a configured single-value header (CF-Connecting-IP) from a trusted peer", () => {
    const { clientAddress: rule } = makeClientAddress({
      trustedProxies: ["10.0.0.0/8"],
      header: "CF-Connecting-IP",
    });
    expect(rule("10.0.0.1", { "cf-connecting-ip": "2001:db8::1", "x-forwarded-for": "203.0.113.1" })).toBe(
      "2001:db8::1",
    );
    expect(rule("198.51.100.1", { "cf-connecting-ip": "2001:db8::1" })).toBe("198.51.100.1");
  });

  it("refuses a malformed proxy list", () => {
    expect(() => makeClientAddress({ trustedProxies: ["10.0.0.0/33"] })).toThrow(RangeError);
    expect(() => makeClientAddress({ trustedProxies: ["proxy.example"] })).toThrow(RangeError);
  });
});

function ticker(
  port: number,
  from: string,
  forwardedFor: string,
): Promise<{ status: number; error: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: "127.0.0.1",
        port,
        localAddress: from,
        path: "/v1.1/ticker",
        agent: false,
        headers: { "x-forwarded-for": forwardedFor },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => {
          text += chunk.toString("utf8");
        });
        response.on("end", () => {
          const body = JSON.parse(text) as { error?: string };
          resolve({ status: response.statusCode ?? 0, error: body.error ?? "" });
        });
      },
    );
    request.on("error", reject);
    request.end();
  });
}

const limited = (answer: { error: string }) => answer.error.startsWith("Error 40034");

describe("over HTTP", () => {
  let harness: Harness;
  let port = 0;
  const BURST = 5;
  beforeAll(async () => {
    harness = await startHarness({
      rateLimit: { requestsPerSecond: 1, burst: BURST },
      // 127.0.0.77 is the trusted proxy; every other loopback address is a client.
      guard: { trustedProxies: ["127.0.0.77"] },
    });
    port = Number(new URL(harness.baseUrl).port);
  });
  afterAll(() => harness.close());

  it("a forged X-Forwarded-For from an untrusted peer does not change the limited address", async () => {
    const from = "127.0.0.60";
    for (let i = 0; i < BURST; i++) expect(limited(await ticker(port, from, `203.0.113.${i}`))).toBe(false);
    // A different forged address each time: still the peer's budget, now spent.
    expect(limited(await ticker(port, from, "203.0.113.200"))).toBe(true);
  });

  it("from the trusted proxy, each forwarded client has its own budget", async () => {
    const proxy = "127.0.0.77";
    for (let i = 0; i < BURST; i++) expect(limited(await ticker(port, proxy, "203.0.113.50"))).toBe(false);
    expect(limited(await ticker(port, proxy, "203.0.113.50"))).toBe(true);
    // Another client behind the same proxy is not affected.
    expect(limited(await ticker(port, proxy, "203.0.113.51"))).toBe(false);
  });
});

// The flood guard's environment for `bulwark start` (src/gateway/guard/env-options.ts): Redis,
// tiers, trusted proxies, the client-address header and load shedding; code options win.

import { describe, expect, it } from "vitest";
import { guardOptionsFromEnv } from "../../../src/gateway/guard/env-options.ts";
import { RequestRateLimiter } from "../../../src/gateway/guard/rate-limit.ts";

describe("guard options from the environment", () => {
  it("nothing set: memory counters, nobody trusted, shedding as the caller says (bulwark start: on)", () => {
    expect(guardOptionsFromEnv({}, {})).toEqual({ rateLimit: {}, loadShedding: { enabled: false } });
    // `bulwark start` asks for it; the environment decides over both.
    expect(guardOptionsFromEnv({}, { loadShedding: true }).loadShedding).toEqual({ enabled: true });
    expect(guardOptionsFromEnv({ BULWARK_LOAD_SHEDDING: "on" }, {}).loadShedding).toEqual({ enabled: true });
    expect(
      guardOptionsFromEnv({ BULWARK_LOAD_SHEDDING: "off" }, { loadShedding: true }).loadShedding,
    ).toEqual({
      enabled: false,
    });
  });

  it("reads Redis, tiers, key tiers, proxies, the header and shedding", () => {
    const key = `K-${"c".repeat(40)}`;
    const options = guardOptionsFromEnv(
      {
        BULWARK_REDIS_URL: "redis://127.0.0.1:6379/2",
        BULWARK_REDIS_PREFIX: "exchange-a",
        BULWARK_RATE_LIMIT_TIERS: '{"marketMaker":{"requestsPerSecond":100,"burst":200}}',
        BULWARK_KEY_TIERS: JSON.stringify({ [key]: "marketMaker" }),
        BULWARK_TRUSTED_PROXIES: " 10.0.0.0/8, 192.0.2.7 ,",
        BULWARK_CLIENT_IP_HEADER: "cf-connecting-ip",
        BULWARK_LOAD_SHEDDING: "on",
      },
      { rateLimit: { burst: 30 } },
    );
    expect(options).toEqual({
      rateLimit: {
        redisUrl: "redis://127.0.0.1:6379/2",
        redisKeyPrefix: "exchange-a",
        tiers: { marketMaker: { requestsPerSecond: 100, burst: 200 } },
        keyTiers: { [key]: "marketMaker" },
        burst: 30,
      },
      trustedProxies: ["10.0.0.0/8", "192.0.2.7"],
      clientAddressHeader: "cf-connecting-ip",
      loadShedding: { enabled: true },
    });
    // The limiter accepts what was read (without connecting: no Redis URL here).
    const { redisUrl: _ignored, ...memoryOnly } =
      options.rateLimit === false ? {} : (options.rateLimit ?? {});
    expect(new RequestRateLimiter(memoryOnly).tierOf(key)).toBe("marketMaker");
  });

  it("rateLimit false in code stays off; malformed JSON names its variable", () => {
    expect(guardOptionsFromEnv({ BULWARK_REDIS_URL: "redis://x" }, { rateLimit: false }).rateLimit).toBe(
      false,
    );
    expect(() => guardOptionsFromEnv({ BULWARK_KEY_TIERS: "{oops" }, {})).toThrow(/BULWARK_KEY_TIERS/);
    expect(() => guardOptionsFromEnv({ BULWARK_RATE_LIMIT_TIERS: "[1]" }, {})).toThrow(
      /BULWARK_RATE_LIMIT_TIERS/,
    );
  });
});

import { isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addressGroupKey,
  apiKeyPolicyProblem,
  type Cidr,
  cidrContains,
  formatScopes,
  generateApiKey,
  isIpAllowed,
  isWellFormedKeyId,
  isWellFormedSecret,
  MAX_ALLOW_LIST_ENTRIES,
  parseAllowList,
  parseAllowListEntries,
  parseCidr,
  parseIp,
  parseScopes,
} from "../../src/accounts/api-keys.ts";

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (parsed === null) throw new Error(`test CIDR ${text} did not parse`);
  return parsed;
}

function allowed(ip: string, ...entries: string[]): boolean {
  return isIpAllowed(ip, entries.map(cidr));
}

describe("key generation", () => {
  it("makes EXMO-shaped, well-formed, distinct keys", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const { keyId, secret } = generateApiKey();
      expect(keyId).toMatch(/^K-[0-9a-f]{40}$/);
      expect(secret).toMatch(/^S-[0-9a-f]{64}$/);
      expect(isWellFormedKeyId(keyId)).toBe(true);
      expect(isWellFormedSecret(secret)).toBe(true);
      seen.add(keyId);
      seen.add(secret);
    }
    expect(seen.size).toBe(200);
  });

  it("rejects ill-formed key ids before any lookup", () => {
    const { keyId } = generateApiKey();
    for (const bad of [
      "",
      "K-",
      keyId.toUpperCase(),
      `${keyId}0`,
      keyId.slice(0, -1),
      ` ${keyId}`,
      "S-".padEnd(42, "0"),
    ]) {
      expect(isWellFormedKeyId(bad)).toBe(false);
    }
    expect(isWellFormedKeyId(undefined)).toBe(false);
  });
});

describe("scopes", () => {
  it("parses known scopes and writes them canonically", () => {
    const parsed = parseScopes("withdraw,info");
    expect(parsed.ok && formatScopes(parsed.scopes)).toBe("info,withdraw");
    const all = parseScopes("info,trade,withdraw");
    expect(all.ok && [...all.scopes]).toEqual(["info", "trade", "withdraw"]);
  });

  it.each(["", "admin", "info,", ",info", "info,,trade", "info, trade", "INFO", "info,info", "x".repeat(65)])(
    "rejects %j",
    (text) => {
      expect(parseScopes(text).ok).toBe(false);
    },
  );

  it("requires an allow-list for withdraw keys", () => {
    const withdraw = new Set(["info", "withdraw"] as const);
    expect(apiKeyPolicyProblem(withdraw, [])).toMatch(/allow-list/);
    expect(apiKeyPolicyProblem(withdraw, [cidr("203.0.113.7")])).toBeNull();
    expect(apiKeyPolicyProblem(new Set(["trade"] as const), [])).toBeNull();
    expect(apiKeyPolicyProblem(new Set(), [])).toMatch(/scope/);
  });

  it("refuses withdraw allow-lists wider than IPv4 /16 or IPv6 /48, the whole internet included", () => {
    const withdraw = new Set(["info", "withdraw"] as const);
    for (const block of [
      "0.0.0.0/0",
      "::/0",
      "::ffff:0.0.0.0/96",
      "10.0.0.0/8",
      "198.50.0.0/15",
      "2001:db8::/47",
    ])
      expect(apiKeyPolicyProblem(withdraw, [cidr("203.0.113.7"), cidr(block)]), block).toMatch(
        /^ip allow-list entry 2 is an IPv[46] \/[0-9]+ block: a key with the withdraw scope may only allow/,
      );
    for (const block of ["198.51.0.0/16", "203.0.113.0/24", "2001:db8:1::/48", "2001:db8::1"])
      expect(apiKeyPolicyProblem(withdraw, [cidr(block)]), block).toBeNull();
    // Without withdraw, any list (or none) is the owner's choice.
    expect(apiKeyPolicyProblem(new Set(["info"] as const), [cidr("0.0.0.0/0")])).toBeNull();
  });
});

describe("allow-list entries given one by one", () => {
  it("parses each entry as exactly one address or block", () => {
    const parsed = parseAllowListEntries(["203.0.113.7", "2001:db8::/48"]);
    expect(parsed.ok && parsed.entries.length).toBe(2);
    expect(parseAllowListEntries([])).toEqual({ ok: true, entries: [] });
  });

  it.each([
    [[""], "entry 1 is not one address or CIDR block: ''"],
    [["1.2.3.4,5.6.7.8"], "entry 1 is not one address or CIDR block: '1.2.3.4,5.6.7.8'"],
    [["1.2.3.4", "x\u0000y"], "entry 2 is not one address or CIDR block: 'x?y'"],
    [new Array(MAX_ALLOW_LIST_ENTRIES + 1).fill("10.0.0.1"), `at most ${MAX_ALLOW_LIST_ENTRIES} entries`],
  ])("refuses %j", (entries, problem) => {
    expect(parseAllowListEntries(entries)).toEqual({ ok: false, problem });
  });
});

describe("address groups (per-address limits)", () => {
  it("keeps IPv4 as is, folds IPv4-mapped IPv6 to IPv4, and groups IPv6 by /64", () => {
    expect(addressGroupKey("203.0.113.7")).toBe("203.0.113.7");
    expect(addressGroupKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(addressGroupKey("2001:db8:0:7::1")).toBe(addressGroupKey("2001:db8:0:7:ffff:ffff:ffff:ffff"));
    expect(addressGroupKey("2001:db8:0:7::1")).not.toBe(addressGroupKey("2001:db8:0:8::1"));
    expect(addressGroupKey("not an address")).toBe("?not an address");
  });
});

describe("IP parsing", () => {
  it.each([
    ["1.2.3.4", 4, [1, 2, 3, 4]],
    ["0.0.0.0", 4, [0, 0, 0, 0]],
    ["255.255.255.255", 4, [255, 255, 255, 255]],
    ["::ffff:192.0.2.1", 4, [192, 0, 2, 1]], // IPv4-mapped, as Node reports IPv4 clients on a dual-stack socket
    ["::FFFF:c000:0201", 4, [192, 0, 2, 1]],
  ])("%s is IPv%i %j", (text, version, bytes) => {
    expect(parseIp(text)).toEqual({ version, bytes: Uint8Array.from(bytes) });
  });

  it("expands IPv6 compression", () => {
    expect(parseIp("::1")?.bytes).toEqual(Uint8Array.from([...new Array(15).fill(0), 1]));
    expect(parseIp("::")?.bytes).toEqual(new Uint8Array(16));
    expect(parseIp("2001:db8::8:800:200c:417a")?.bytes).toEqual(
      Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0x08, 0x08, 0, 0x20, 0x0c, 0x41, 0x7a]),
    );
    expect(parseIp("1:2:3:4:5:6:7::")?.bytes[13]).toBe(7);
    expect(parseIp("64:ff9b::192.0.2.33")?.version).toBe(6);
  });

  it.each([
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.-4",
    "1.2.3.4 ",
    "1.2.3.4/32",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1::2::3",
    ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8::",
    "12345::",
    "g::1",
    "fe80::1%eth0",
    "::1.2.3",
    "1.2.3.4::",
    "::ffff:1.2.3.4:5",
    "localhost",
  ])("rejects %j", (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it("accepts exactly what Node's net.isIP accepts (zone ids aside)", () => {
    const v4 = fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((parts) => parts.join("."));
    const v6 = fc.ipV6();
    const junk = fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF:."), maxLength: 45 });
    fc.assert(
      fc.property(fc.oneof(v4, fc.ipV4(), v6, junk), (text) => {
        expect(parseIp(text) !== null).toBe(isIP(text) !== 0);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("CIDR matching", () => {
  it("matches IPv4 prefixes at byte and bit boundaries", () => {
    expect(allowed("10.1.2.3", "10.0.0.0/8")).toBe(true);
    expect(allowed("11.0.0.0", "10.0.0.0/8")).toBe(false);
    expect(allowed("192.168.1.127", "192.168.1.0/25")).toBe(true);
    expect(allowed("192.168.1.128", "192.168.1.0/25")).toBe(false);
    expect(allowed("172.31.255.255", "172.16.0.0/12")).toBe(true);
    expect(allowed("172.32.0.0", "172.16.0.0/12")).toBe(false);
    expect(allowed("203.0.113.7", "203.0.113.7")).toBe(true); // bare address = /32
    expect(allowed("203.0.113.8", "203.0.113.7/32")).toBe(false);
    expect(allowed("8.8.8.8", "0.0.0.0/0")).toBe(true);
  });

  it("matches IPv6 prefixes", () => {
    expect(allowed("2001:db8::1", "2001:db8::/32")).toBe(true);
    expect(allowed("2001:db9::1", "2001:db8::/32")).toBe(false);
    expect(allowed("2001:db8:0:0:8000::", "2001:db8::/65")).toBe(false);
    expect(allowed("2001:db8:0:0:7fff::", "2001:db8::/65")).toBe(true);
    expect(allowed("::1", "::1/128")).toBe(true);
    expect(allowed("::2", "::1")).toBe(false);
    expect(allowed("2001:db8::1", "::/0")).toBe(true);
  });

  it("never matches across versions, but folds IPv4-mapped addresses on both sides", () => {
    expect(allowed("2001:db8::1", "0.0.0.0/0")).toBe(false);
    expect(allowed("10.0.0.1", "::/0")).toBe(false);
    expect(allowed("::ffff:10.0.0.1", "10.0.0.0/8")).toBe(true);
    expect(allowed("10.0.0.1", "::ffff:10.0.0.0/104")).toBe(true);
    expect(allowed("10.0.0.1", "::ffff:0:0/96")).toBe(true);
  });

  it("fails closed on an unparseable remote address and allows anything with an empty list", () => {
    expect(allowed("not-an-ip", "0.0.0.0/0")).toBe(false);
    expect(allowed("", "0.0.0.0/0")).toBe(false);
    expect(isIpAllowed("anything", [])).toBe(true);
  });

  it.each([
    "10.0.0.1/8", // host bits set
    "2001:db8::1/32",
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/",
    "10.0.0.0/08",
    "10.0.0.0/-1",
    "10.0.0.0/8/8",
    "/8",
    "10.0.0.0 /8",
  ])("rejects the CIDR %j", (text) => {
    expect(parseCidr(text)).toBeNull();
  });

  it("agrees with a shift-and-compare model on random IPv4 addresses and prefixes", () => {
    const toInt = (b: Uint8Array) => ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 0, max: 32 }), (netText, ipText, prefix) => {
        const netBytes = parseIp(netText)?.bytes ?? new Uint8Array(4);
        const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
        const network = (toInt(netBytes) & mask) >>> 0;
        const networkText = [24, 16, 8, 0].map((s) => (network >>> s) & 0xff).join(".");
        const ip = parseIp(ipText);
        if (ip === null) throw new Error("fc.ipV4 gave an address we cannot parse");
        const expected = (toInt(ip.bytes) & mask) >>> 0 === network;
        expect(cidrContains(cidr(`${networkText}/${prefix}`), ip)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("allow-lists", () => {
  it("parses comma-separated entries", () => {
    const parsed = parseAllowList("203.0.113.0/24,2001:db8::/32,198.51.100.7");
    expect(parsed.ok && parsed.entries.length).toBe(3);
    expect(parseAllowList("")).toEqual({ ok: true, entries: [] });
  });

  it("rejects bad entries, empties and oversized lists", () => {
    expect(parseAllowList("203.0.113.0/24,").ok).toBe(false);
    expect(parseAllowList("203.0.113.0/24, 198.51.100.7").ok).toBe(false);
    expect(parseAllowList("10.0.0.1/8").ok).toBe(false);
    const many = Array.from(
      { length: MAX_ALLOW_LIST_ENTRIES + 1 },
      (_, i) => `10.0.${i >> 8}.${i & 255}`,
    ).join(",");
    expect(parseAllowList(many).ok).toBe(false);
  });
});

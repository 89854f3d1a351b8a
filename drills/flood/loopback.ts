// Where the flood drill may send traffic: this machine's loopback only. Every generator checks its
// target with assertLoopbackTarget before it opens a socket, so no option, typo or environment
// can point the drill at another host. Source addresses come from 127.0.0.0/8, which Linux
// routes to lo as a whole: each one looks like a different client to the server.

/** The only hosts a flood may target. */
const LOOPBACK_TARGETS: ReadonlySet<string> = new Set(["127.0.0.1", "::1", "[::1]"]);

/** Throws unless `url` is http(s)/ws(s) on 127.0.0.1 or ::1 (never a name that could resolve elsewhere). */
export function assertLoopbackTarget(url: string): URL {
  const parsed = new URL(url);
  if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol))
    throw new Error(`flood drill: refusing target ${url}: not http(s) or ws(s)`);
  if (!LOOPBACK_TARGETS.has(parsed.hostname))
    throw new Error(`flood drill: refusing target ${url}: only 127.0.0.1 or ::1 may be flooded`);
  return parsed;
}

/** Most flood source addresses: 127.0.0.2 … 127.0.0.250. */
export const MAX_FLOOD_SOURCES = 249;

/** The first `count` flood source addresses, 127.0.0.2 upwards (1 ≤ count ≤ 249). */
export function floodSourceAddresses(count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_FLOOD_SOURCES)
    throw new RangeError(`flood sources must be 1..${MAX_FLOOD_SOURCES}, not ${count}`);
  return Array.from({ length: count }, (_, index) => `127.0.0.${index + 2}`);
}

/** Well-behaved trader i's own address (127.0.1.1 …): never shared with the flood or another trader. */
export function traderAddress(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 253) throw new RangeError(`trader index ${index}`);
  return `127.0.1.${index + 1}`;
}

/** The monitoring probes' addresses (/health, /metrics), as a monitor outside the flood would have. */
export const MONITOR_ADDRESSES = { health: "127.0.2.1", metrics: "127.0.2.2", verify: "127.0.2.3" } as const;

// Which address a request comes from (docs/SECURITY.md#flood-resilience, docs/deploy.md): the TCP
// peer's, unless that peer is one of the operator's trusted proxies (`trustedProxies`, CIDRs; the
// edge, a load balancer), in which case the client address the proxy forwarded. Default: trust
// nobody, so a forged X-Forwarded-For from anywhere else changes nothing.
//
//   const clientAddress = makeClientAddress({ trustedProxies: ["10.0.0.0/8"], header: "cf-connecting-ip" });
//   clientAddress(request.socket.remoteAddress, request.headers)   // "203.0.113.7"
//
// The REST gateway and the WebSocket upgrade use the same rule (Gateway.clientAddress). With
// X-Forwarded-For ("client, proxy1, proxy2", each proxy appending the peer it saw) the address
// is found by walking from the right past trusted proxies: the first untrusted entry is the
// client, since anything left of it was written by that client and can be forged. A single-value
// header (CF-Connecting-IP, X-Real-IP) is taken as is from a trusted peer. An entry that does
// not parse as an IP address stops the walk at the last address known good.

import type { IncomingHttpHeaders } from "node:http";
import { type Cidr, cidrContains, parseCidr, parseIp } from "../../accounts/api-keys.ts";

export interface ClientAddressOptions {
  /** CIDRs (or single addresses) whose forwarded client address is believed; default none. */
  trustedProxies?: readonly string[];
  /** Header carrying the client address; default "x-forwarded-for". */
  header?: string;
}

/** Most trusted-proxy entries (each request may test them all). */
export const MAX_TRUSTED_PROXIES = 256;
/** Most X-Forwarded-For entries looked at (a longer chain is cut at the left). */
const MAX_FORWARDED_HOPS = 16;

export type ClientAddressRule = (socketAddress: string | undefined, headers: IncomingHttpHeaders) => string;

export interface ClientAddressResolver {
  clientAddress: ClientAddressRule;
  /** Whether `address` is a trusted proxy. */
  isTrustedProxy(address: string): boolean;
}

export function makeClientAddress(options: ClientAddressOptions = {}): ClientAddressResolver {
  const proxies = parseProxies(options.trustedProxies ?? []);
  const header = (options.header ?? "x-forwarded-for").toLowerCase();
  const isTrustedProxy = (address: string): boolean => {
    if (proxies.length === 0) return false;
    const ip = parseIp(address);
    return ip !== null && proxies.some((cidr) => cidrContains(cidr, ip));
  };
  const clientAddress: ClientAddressRule = (socketAddress, headers) => {
    const peer = socketAddress ?? "";
    if (proxies.length === 0 || !isTrustedProxy(peer)) return peer;
    const raw = headers[header];
    const value = Array.isArray(raw) ? raw.join(",") : raw;
    if (value === undefined || value === "") return peer;
    if (header !== "x-forwarded-for") {
      const single = value.trim();
      return parseIp(single) === null ? peer : single;
    }
    const hops = value.split(",").slice(-MAX_FORWARDED_HOPS);
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i].trim();
      if (parseIp(hop) === null) break;
      client = hop;
      if (!isTrustedProxy(hop)) break;
    }
    return client;
  };
  return { clientAddress, isTrustedProxy };
}

function parseProxies(entries: readonly string[]): Cidr[] {
  if (entries.length > MAX_TRUSTED_PROXIES)
    throw new RangeError(`at most ${MAX_TRUSTED_PROXIES} trusted proxies, got ${entries.length}`);
  return entries.map((entry) => {
    const text = entry.trim();
    const cidr = parseCidr(text.includes("/") ? text : `${text}/${text.includes(":") ? 128 : 32}`);
    if (cidr === null)
      throw new RangeError(`trusted proxy ${JSON.stringify(entry)} is not an address or CIDR`);
    return cidr;
  });
}

/** The rule with no trusted proxy: the socket's address, always. */
export const clientAddress: ClientAddressRule = makeClientAddress().clientAddress;

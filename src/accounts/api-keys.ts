// API keys (docs/SECURITY.md#accounts-and-api-keys): generation, scopes, and the optional IP
// allow-list (required for keys with the withdraw scope).
//
// Key ids and secrets look like EXMO's ("K-…", "S-…") so client configs written for EXMO need
// no change. The id is public (sent in every request's `Key` header); the secret is shown to the
// user once and stored only sealed (secret-box.ts).

import { randomBytes } from "node:crypto";
import type { SecretBox } from "./secret-box.ts";

const KEY_ID_RANDOM_BYTES = 20;
const SECRET_RANDOM_BYTES = 32;
/** "K-" + 40 lowercase hex. */
const KEY_ID = /^K-[0-9a-f]{40}$/;
const SECRET = /^S-[0-9a-f]{64}$/;

export interface GeneratedApiKey {
  keyId: string;
  secret: string;
}

/** A new key: 160 random bits of id (unguessable, so ids leak nothing) and 256 of secret. */
export function generateApiKey(): GeneratedApiKey {
  return {
    keyId: `K-${randomBytes(KEY_ID_RANDOM_BYTES).toString("hex")}`,
    secret: `S-${randomBytes(SECRET_RANDOM_BYTES).toString("hex")}`,
  };
}

/** True for a `Key` header that can name one of our keys; check before any store lookup. */
export function isWellFormedKeyId(text: unknown): text is string {
  return typeof text === "string" && KEY_ID.test(text);
}

export function isWellFormedSecret(text: unknown): text is string {
  return typeof text === "string" && SECRET.test(text);
}

// ---- scopes -------------------------------------------------------------------------------------

export type ApiScope = "info" | "trade" | "withdraw";
export const API_SCOPES: readonly ApiScope[] = ["info", "trade", "withdraw"];
const MAX_SCOPES_TEXT_LENGTH = 64;

export type ScopesParse = { ok: true; scopes: ReadonlySet<ApiScope> } | { ok: false; problem: string };

function isApiScope(text: string): text is ApiScope {
  return (API_SCOPES as readonly string[]).includes(text);
}

/** Parses "info,trade" style text: comma-separated, no spaces, no empties, no repeats, at least one. */
export function parseScopes(text: string): ScopesParse {
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_SCOPES_TEXT_LENGTH) {
    return { ok: false, problem: "scopes must be 1..64 characters" };
  }
  const scopes = new Set<ApiScope>();
  for (const part of text.split(",")) {
    if (!isApiScope(part)) return { ok: false, problem: `unknown scope '${part}'` };
    if (scopes.has(part)) return { ok: false, problem: `scope '${part}' given twice` };
    scopes.add(part);
  }
  return { ok: true, scopes };
}

/** Canonical text of a scope set, in API_SCOPES order, for storage. */
export function formatScopes(scopes: ReadonlySet<ApiScope>): string {
  return API_SCOPES.filter((scope) => scopes.has(scope)).join(",");
}

/**
 * The widest block a withdraw key's allow-list may hold, by IP version
 * (docs/SECURITY.md#accounts-and-api-keys). An IPv4 /16 is one organisation's network at most;
 * an IPv6 /48 is what one site is given (a /32 is a whole ISP, every customer of it included).
 * Anything wider, up to the whole-internet 0.0.0.0/0 and ::/0, would make the IP binding that
 * withdraw keys must have meaningless.
 */
export const WITHDRAW_MIN_PREFIX = { 4: 16, 6: 48 } as const;

/**
 * docs/SECURITY.md#accounts-and-api-keys: a withdraw key must be tied to an IP allow-list of
 * narrow blocks (WITHDRAW_MIN_PREFIX). Null if the key may be created.
 */
export function apiKeyPolicyProblem(
  scopes: ReadonlySet<ApiScope>,
  allowList: readonly Cidr[],
): string | null {
  if (scopes.size === 0) return "a key needs at least one scope";
  if (!scopes.has("withdraw")) return null;
  if (allowList.length === 0) return "a key with the withdraw scope needs an IP allow-list";
  for (const [index, cidr] of allowList.entries()) {
    const minimum = WITHDRAW_MIN_PREFIX[cidr.version];
    if (cidr.prefixLength < minimum)
      return (
        `ip allow-list entry ${index + 1} is an IPv${cidr.version} /${cidr.prefixLength} block: a key with ` +
        `the withdraw scope may only allow IPv4 blocks of /${WITHDRAW_MIN_PREFIX[4]} or narrower and IPv6 ` +
        `blocks of /${WITHDRAW_MIN_PREFIX[6]} or narrower`
      );
  }
  return null;
}

// ---- IP addresses and CIDR allow-lists ----------------------------------------------------------

export interface IpAddress {
  version: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface Cidr {
  version: 4 | 6;
  /** The network address (host bits zero). */
  bytes: Uint8Array;
  prefixLength: number;
}

export const MAX_ALLOW_LIST_ENTRIES = 64;
/** Longest IPv6 text form with an embedded IPv4 tail, plus "/128". */
const MAX_CIDR_TEXT_LENGTH = 49;
const IPV4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Strict dotted quad: four decimal octets 0..255, no leading zeros (which some parsers read as octal). */
function parseIpv4Bytes(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!IPV4_OCTET.test(parts[i])) return null;
    const value = Number(parts[i]);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return bytes;
}

/** RFC 4291 text: eight groups, at most one "::", optional dotted-quad tail. No zone ids. */
function parseIpv6Bytes(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const toGroups = (half: string): string[] => (half === "" ? [] : half.split(":"));
  const head = toGroups(halves[0]);
  const tail = halves.length === 2 ? toGroups(halves[1]) : [];
  // An IPv4 tail stands for the last two groups.
  const words: number[] = [];
  const readGroups = (groups: string[], allowIpv4Tail: boolean): number[] | null => {
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i];
      if (allowIpv4Tail && i === groups.length - 1 && group.includes(".")) {
        const v4 = parseIpv4Bytes(group);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!IPV6_GROUP.test(group)) return null;
        out.push(Number.parseInt(group, 16));
      }
    }
    return out;
  };
  const headWords = readGroups(head, halves.length === 1);
  const tailWords = readGroups(tail, true);
  if (headWords === null || tailWords === null) return null;
  if (halves.length === 1) {
    if (headWords.length !== 8) return null;
    words.push(...headWords);
  } else {
    // "::" stands for at least one group of zeros.
    const missing = 8 - headWords.length - tailWords.length;
    if (missing < 1) return null;
    words.push(...headWords, ...new Array<number>(missing).fill(0), ...tailWords);
  }
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

const IPV4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Parses an address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4: a dual-stack
 * Node server reports IPv4 clients that way, and they must match IPv4 allow-list entries.
 */
export function parseIp(text: string): IpAddress | null {
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_CIDR_TEXT_LENGTH) return null;
  if (!text.includes(":")) {
    const v4 = parseIpv4Bytes(text);
    return v4 === null ? null : { version: 4, bytes: v4 };
  }
  const v6 = parseIpv6Bytes(text);
  if (v6 === null) return null;
  if (IPV4_MAPPED_PREFIX.every((byte, i) => v6[i] === byte)) return { version: 4, bytes: v6.slice(12) };
  return { version: 6, bytes: v6 };
}

function hostBitsAreZero(bytes: Uint8Array, prefixLength: number): boolean {
  for (let bit = prefixLength; bit < bytes.length * 8; bit++) {
    if ((bytes[bit >> 3] >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

/**
 * Parses "a.b.c.d/n", "x:…:y/n", or a bare address (a /32 or /128). Refuses an address with host
 * bits set under its prefix ("10.0.0.1/8"): in an allow-list that is more likely a typo than
 * intent, and silently widening it to 10.0.0.0/8 would be a security surprise.
 */
export function parseCidr(text: string): Cidr | null {
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_CIDR_TEXT_LENGTH) return null;
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const bytes = addressText.includes(":") ? parseIpv6Bytes(addressText) : parseIpv4Bytes(addressText);
  if (bytes === null) return null;
  const version = bytes.length === 4 ? 4 : 6;
  const maxPrefix = bytes.length * 8;
  let prefixLength = maxPrefix;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return null;
    prefixLength = Number(prefixText);
    if (prefixLength > maxPrefix) return null;
  }
  if (!hostBitsAreZero(bytes, prefixLength)) return null;
  // parseIp folds IPv4-mapped clients to IPv4, so an IPv4-mapped entry must fold the same way or
  // it could never match.
  if (version === 6 && prefixLength >= 96 && IPV4_MAPPED_PREFIX.every((byte, i) => bytes[i] === byte)) {
    return { version: 4, bytes: bytes.slice(12), prefixLength: prefixLength - 96 };
  }
  return { version, bytes, prefixLength };
}

/** True when `ip` is inside `cidr`. Different IP versions never match. */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.version !== ip.version) return false;
  const fullBytes = cidr.prefixLength >> 3;
  for (let i = 0; i < fullBytes; i++) if (cidr.bytes[i] !== ip.bytes[i]) return false;
  const remainingBits = cidr.prefixLength & 7;
  if (remainingBits === 0) return true;
  const mask = (0xff << (8 - remainingBits)) & 0xff;
  return (cidr.bytes[fullBytes] & mask) === (ip.bytes[fullBytes] & mask);
}

export type AllowListParse = { ok: true; entries: Cidr[] } | { ok: false; problem: string };

/** Parses a comma-separated allow-list; "" is the empty list (any IP, for keys without withdraw). */
export function parseAllowList(text: string): AllowListParse {
  if (text === "") return { ok: true, entries: [] };
  const parts = text.split(",");
  if (parts.length > MAX_ALLOW_LIST_ENTRIES) {
    return { ok: false, problem: `at most ${MAX_ALLOW_LIST_ENTRIES} entries` };
  }
  const entries: Cidr[] = [];
  for (const part of parts) {
    const cidr = parseCidr(part);
    if (cidr === null) return { ok: false, problem: `not an address or CIDR block: '${part.slice(0, 64)}'` };
    entries.push(cidr);
  }
  return { ok: true, entries };
}

/**
 * Parses an allow-list given as separate entries (the operator API's JSON array, repeated CLI
 * flags): each entry is exactly one address or CIDR block, so an empty entry or one holding a
 * comma is refused rather than silently joined into something else.
 */
export function parseAllowListEntries(entries: readonly string[]): AllowListParse {
  if (entries.length > MAX_ALLOW_LIST_ENTRIES) {
    return { ok: false, problem: `at most ${MAX_ALLOW_LIST_ENTRIES} entries` };
  }
  const parsed: Cidr[] = [];
  for (const [index, entry] of entries.entries()) {
    const cidr = typeof entry === "string" ? parseCidr(entry) : null;
    if (cidr === null) {
      const shown = typeof entry === "string" ? entry.slice(0, 64).replace(/[^\x20-\x7e]/g, "?") : "";
      return { ok: false, problem: `entry ${index + 1} is not one address or CIDR block: '${shown}'` };
    }
    parsed.push(cidr);
  }
  return { ok: true, entries: parsed };
}

/**
 * The key an address is counted under by per-address limits (REST rate limits, WebSocket
 * connection caps): an IPv4 address as is (IPv4-mapped IPv6 counts as IPv4), an IPv6 address by
 * its /64, which is what one subscriber is usually given, so one host cannot multiply its budget
 * by cycling through its own /64. Text that is not an address is its own key.
 */
export function addressGroupKey(ip: string): string {
  const parsed = parseIp(ip);
  if (parsed === null) return `?${ip}`;
  if (parsed.version === 4) return parsed.bytes.join(".");
  return `${Buffer.from(parsed.bytes.subarray(0, 8)).toString("hex")}/64`;
}

/**
 * Whether a request from `remoteAddress` may use a key with this allow-list. An empty list allows
 * any address; an unparseable address is refused (fail closed).
 */
export function isIpAllowed(remoteAddress: string, allowList: readonly Cidr[]): boolean {
  if (allowList.length === 0) return true;
  const ip = parseIp(remoteAddress);
  if (ip === null) return false;
  return allowList.some((cidr) => cidrContains(cidr, ip));
}

// ---- sealed secrets ------------------------------------------------------------------------------

/** The SecretBox context an API key's secret is sealed under: binds the ciphertext to its key id. */
export function apiSecretContext(keyId: string): string {
  return `api-key:${keyId}`;
}

/** Seals a new key's secret for `createApiKey`'s secretCiphertext column. */
export function sealApiSecret(secretBox: SecretBox, keyId: string, secret: string): Buffer {
  return Buffer.from(secretBox.seal(secret, apiSecretContext(keyId)), "utf8");
}

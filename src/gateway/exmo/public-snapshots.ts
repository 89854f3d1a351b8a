// Public market data served from snapshots (issue 10 §3, docs/API.md#public-snapshots): each public
// route's answer is kept per (route, canonical parameters) as its serialised JSON body and rebuilt
// at most every maxAgeMs whatever the request rate, so a flood of `ticker` or `order_book`
// requests costs one build per 100 ms plus a map lookup per request.
//
// The key is the route's path and the parameters its schema keeps (zod drops unknown ones), in
// a fixed order: junk parameters cannot make new entries. Entries and their bytes are bounded
// (the oldest build goes first). Errors are never cached: a refused request is cheap already.
//
// Degraded mode (docs/SECURITY.md#degraded-mode): no new entries are built; a request whose entry
// does not exist answers `degraded` (59036, HTTP 503 + Retry-After); entries that exist keep being
// rebuilt, at most every degradedMaxAgeMs.

import { ExmoFailure, type ExmoRoute, type Params } from "./route.ts";

/** docs/API.md#public-snapshots: an answer is at most this old in normal operation. */
export const PUBLIC_SNAPSHOT_MAX_AGE_MS = 100;
/**
 * How old the market data an answer is built from may be (MarketData's own per-market snapshots,
 * shared by every (route, parameters) entry rebuilt within it): an answer is at most
 * PUBLIC_SNAPSHOT_MAX_AGE_MS + this old, and a market's book is copied at most 100 times a second
 * however many distinct parameters are asked for.
 */
export const SOURCE_MAX_AGE_MS = 10;
/** In degraded mode existing answers are rebuilt less often: the gateway's CPU goes to trading. */
export const DEGRADED_SNAPSHOT_MAX_AGE_MS = 1_000;
/** Distinct (route, parameters) answers kept. */
export const MAX_PUBLIC_SNAPSHOTS = 1_024;
/** Serialised bytes kept over all answers (a full 64-pair order book is a few MB). */
export const MAX_PUBLIC_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/** An answer already serialised to JSON: the HTTP layer sends the text as it is. */
export class SerializedAnswer {
  constructor(readonly json: string) {}
}

export interface PublicSnapshotOptions {
  clock: () => number;
  /** Whether degraded mode is on (GuardControl.isDegraded). */
  isDegraded: () => boolean;
  maxAgeMs?: number;
  degradedMaxAgeMs?: number;
  maxEntries?: number;
  maxBytes?: number;
}

interface Entry {
  answer: SerializedAnswer;
  builtAtMs: number;
  bytes: number;
}

export class PublicSnapshots {
  private readonly entries = new Map<string, Entry>();
  /** Builds in flight, so concurrent misses of one key build once. Bounded by the routes' concurrency. */
  private readonly building = new Map<string, Promise<SerializedAnswer>>();
  private totalBytes = 0;
  private builds = 0;
  private readonly maxAgeMs: number;
  private readonly degradedMaxAgeMs: number;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(private readonly options: PublicSnapshotOptions) {
    this.maxAgeMs = options.maxAgeMs ?? PUBLIC_SNAPSHOT_MAX_AGE_MS;
    this.degradedMaxAgeMs = options.degradedMaxAgeMs ?? DEGRADED_SNAPSHOT_MAX_AGE_MS;
    this.maxEntries = options.maxEntries ?? MAX_PUBLIC_SNAPSHOTS;
    this.maxBytes = options.maxBytes ?? MAX_PUBLIC_SNAPSHOT_BYTES;
  }

  /** Answers built since start (a flood of requests must not move this faster than 10/s per key). */
  get buildCount(): number {
    return this.builds;
  }

  get entryCount(): number {
    return this.entries.size;
  }

  /** The same route, answering from this cache. Only for public routes (their answer is everyone's). */
  wrap(route: ExmoRoute): ExmoRoute {
    if (route.scope !== null) throw new Error(`public snapshots: ${route.path} is private`);
    return { ...route, run: (params) => this.answer(route, params) };
  }

  private async answer(route: ExmoRoute, params: Params): Promise<unknown> {
    const parsed = route.params.safeParse(params);
    // The route's own validation says what is wrong, and is not cached.
    if (!parsed.success) return route.run(params, null);
    const key = canonicalKey(route.path, parsed.data as Record<string, string | undefined>);
    const entry = this.entries.get(key);
    const degraded = this.options.isDegraded();
    const maxAgeMs = degraded ? this.degradedMaxAgeMs : this.maxAgeMs;
    if (entry !== undefined && this.options.clock() - entry.builtAtMs < maxAgeMs) return entry.answer;
    if (entry === undefined && degraded)
      throw new ExmoFailure("degraded", "public data is served from cache only");
    const inFlight = this.building.get(key);
    if (inFlight !== undefined) return inFlight;
    const build = this.build(route, params, key);
    this.building.set(key, build);
    try {
      return await build;
    } finally {
      this.building.delete(key);
    }
  }

  private async build(route: ExmoRoute, params: Params, key: string): Promise<SerializedAnswer> {
    const answer = new SerializedAnswer(JSON.stringify(await route.run(params, null)));
    this.builds += 1;
    this.store(key, answer);
    return answer;
  }

  private store(key: string, answer: SerializedAnswer): void {
    const bytes = answer.json.length;
    this.forget(key);
    if (bytes > this.maxBytes) return;
    // Re-inserted: the Map's order is build order, oldest first.
    this.entries.set(key, { answer, builtAtMs: this.options.clock(), bytes });
    this.totalBytes += bytes;
    for (const [oldest] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.totalBytes <= this.maxBytes) break;
      this.forget(oldest);
    }
  }

  private forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
  }
}

/** `path?name=value&…` of the parameters the schema kept, names sorted; absent optional ones left out. */
export function canonicalKey(path: string, params: Readonly<Record<string, string | undefined>>): string {
  const names = Object.keys(params)
    .filter((name) => params[name] !== undefined)
    .sort();
  return `${path}?${names.map((name) => `${name}=${encodeURIComponent(params[name] as string)}`).join("&")}`;
}

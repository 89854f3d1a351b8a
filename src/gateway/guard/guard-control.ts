// The flood guard's operator-facing state, shared by the REST guard (server.ts's `guard` hook),
// the WebSocket server, the status page, the operator API and the CLI (`bulwark guard …`):
//   - degraded mode (docs/SECURITY.md#flood-resilience): public REST answers only from cache, new
//     public WebSocket connections are refused, and order entry continues only for API keys on
//     the allow-list; switched by an operator, never automatically;
//   - the bans the rate limiter hands out (listed and lifted by operators).
// One object per gateway process; in memory (a restart clears degraded mode and bans, which is
// what an operator expects of a switch thrown during an attack: restarting is a reset).

/** Who a ban or a limit applies to. */
export type GuardSubjectScope = "ip" | "key" | "user";

export interface BanRecord {
  scope: GuardSubjectScope;
  /** The address group (IPv4, IPv6 /64), the API key id or the user id, as text. */
  subject: string;
  /** 1 for the first ban in the offender's memory window, then 2, 3 … (each longer). */
  level: number;
  /** Milliseconds since the epoch. */
  sinceMs: number;
  untilMs: number;
}

/** What the rate limiter offers operators; the limiter implements it. */
export interface BanRegistry {
  /** Active bans, newest first, at most `limit`. */
  list(limit: number): BanRecord[];
  /** Lifts the ban (and forgets the offence history) of one subject; false when none was active. */
  lift(scope: GuardSubjectScope, subject: string): Promise<boolean> | boolean;
}

export interface DegradedModeState {
  on: boolean;
  /** When it was last switched, ms since the epoch; null if never. */
  sinceMs: number | null;
  /** The operator who last switched it. */
  actor: string | null;
  reason: string | null;
  /** API key ids whose order entry continues while degraded. */
  allowListedKeyIds: readonly string[];
}

/** Most keys on the degraded-mode allow-list. */
export const MAX_DEGRADED_ALLOW_LIST = 1_000;
/** Longest reason an operator may give. */
export const MAX_GUARD_REASON_LENGTH = 200;

export type DegradedModeListener = (state: DegradedModeState) => void;
/** Listeners at most (the WS server, the status page, metrics). */
const MAX_LISTENERS = 16;

export class GuardControl {
  private state: DegradedModeState = {
    on: false,
    sinceMs: null,
    actor: null,
    reason: null,
    allowListedKeyIds: [],
  };
  private allowListed: ReadonlySet<string> = new Set();
  private readonly listeners: DegradedModeListener[] = [];

  constructor(
    /** Null when the gateway runs without a rate limiter (tests): no bans to list. */
    private readonly bans: BanRegistry | null,
    private readonly clock: () => number = Date.now,
  ) {}

  get degraded(): DegradedModeState {
    return this.state;
  }

  get isDegraded(): boolean {
    return this.state.on;
  }

  /** Whether order entry with this key continues while degraded (always true when not degraded). */
  orderEntryAllowed(keyId: string | null): boolean {
    if (!this.state.on) return true;
    return keyId !== null && this.allowListed.has(keyId);
  }

  /**
   * Switches degraded mode. `allowListedKeyIds` replaces the list when given (on switching on;
   * kept as it was otherwise). Throws RangeError on a list or reason past its bound.
   */
  setDegraded(change: {
    on: boolean;
    actor: string;
    reason?: string;
    allowListedKeyIds?: readonly string[];
  }): DegradedModeState {
    const reason = change.reason ?? null;
    if (reason !== null && reason.length > MAX_GUARD_REASON_LENGTH)
      throw new RangeError(`reason longer than ${MAX_GUARD_REASON_LENGTH} characters`);
    const keys = change.allowListedKeyIds ?? this.state.allowListedKeyIds;
    if (keys.length > MAX_DEGRADED_ALLOW_LIST)
      throw new RangeError(`allow-list longer than ${MAX_DEGRADED_ALLOW_LIST} keys`);
    this.allowListed = new Set(keys);
    this.state = {
      on: change.on,
      sinceMs: this.clock(),
      actor: change.actor,
      reason,
      allowListedKeyIds: [...this.allowListed],
    };
    for (const listener of this.listeners) listener(this.state);
    return this.state;
  }

  onDegradedChange(listener: DegradedModeListener): void {
    if (this.listeners.length >= MAX_LISTENERS) throw new RangeError("too many degraded-mode listeners");
    this.listeners.push(listener);
  }

  listBans(limit: number): BanRecord[] {
    return this.bans === null ? [] : this.bans.list(limit);
  }

  async liftBan(scope: GuardSubjectScope, subject: string): Promise<boolean> {
    return this.bans === null ? false : await this.bans.lift(scope, subject);
  }
}

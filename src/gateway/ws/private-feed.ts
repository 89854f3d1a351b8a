// Routes the core's durable events to the private sessions of the users they concern. One
// handler on the event pipeline's privateFeed stage for the whole gateway; per batch it costs one pass over the events and a map
// lookup per user-bearing event, whatever the number of sessions. Sessions are bounded by the
// connection limit (one per logged-in connection).
//
// Access follows the account: one listener on the accounts' changes (every user and key write
// made through this process, the operator API's included) looks the changed key or user up in
// the sessions' indexes, and only when a live session has it, re-reads the key or the user's
// status through the accounts' cached lookups (the cache drops the entry inside the write, before
// the read below starts) and revokes the sessions of a revoked key or of a user who is no longer
// active. A change to anything without a session costs one map lookup. Writes made by another
// process are not notified here; the CLI cannot write while a server holds the data dir.
//
// A browser session also ends by expiring (absolute lifetime, or idle timeout), which no write
// announces. The feed keeps, per live session key, the moment the session would expire as last
// read (min(expires, last seen + idle timeout)); checkSessionExpiries(), run periodically by the
// server, re-reads from the store only the sessions whose moment has passed (the person may have
// used the REST session door since, which moves last-seen) and ends their feeds as a revoke
// does. The feed's own traffic never touches the session: an open page nobody uses goes idle.

import { type AccountChange, type Accounts, SESSION_KEY_PREFIX } from "../../accounts/accounts.ts";
import type { CoreEvent } from "../../core/events.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { ExmoErrorKind } from "../exmo/errors.ts";
import { DEFAULT_SESSION_TIMES, type SessionTimes } from "../session/session-auth.ts";
import type { PrivateSession } from "./private-session.ts";

/** Why a logged-in connection lost its access: the error frame it gets before it is closed. */
export interface AccessLost {
  kind: ExmoErrorKind;
  detail: string;
}

const KEY_REVOKED: AccessLost = { kind: "unknownApiKey", detail: "API key revoked" };
/** A browser session's feed (src/gateway/session/): its session was logged out, revoked or expired. */
const SESSION_ENDED: AccessLost = { kind: "noPermission", detail: "session ended; log in again" };
const USER_GONE: AccessLost = { kind: "unknownApiKey", detail: "the key's user does not exist" };
/** Fail closed: access that cannot be confirmed is lost; the client may log in again. */
const CHECK_FAILED: AccessLost = { kind: "internalError", detail: "account check failed" };

/** Store reads one expiry check may make; sessions past this wait for the next check. */
export const MAX_SESSION_READS_PER_CHECK = 100;

export interface PrivateFeedOptions {
  /** ms since the epoch: the gateway's clock, as the session API's. */
  clock?: () => number;
  /** Idle timeout of people's sessions (the absolute expiry is stored with each session). */
  sessionTimes?: SessionTimes;
}

function userNotActive(status: string): AccessLost {
  return { kind: "userBlocked", detail: `user is ${status}` };
}

export class PrivateFeed {
  private readonly byUser = new Map<number, Set<PrivateSession>>();
  private readonly byKey = new Map<string, Set<PrivateSession>>();
  private seenSequence = 0;
  private readonly unsubscribe: () => void;
  private readonly accounts: Pick<Accounts, "cachedApiKey" | "cachedUserStatus" | "session">;
  private readonly stopWatchingAccounts: () => void;
  /** Session key id → when that session expires as last read (0: not read yet, check soon). */
  private readonly sessionDeadlineMs = new Map<string, number>();
  private checkingExpiries = false;
  private readonly clock: () => number;
  private readonly sessionTimes: SessionTimes;

  constructor(exchange: ExchangeBoundary, options: PrivateFeedOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.sessionTimes = options.sessionTimes ?? DEFAULT_SESSION_TIMES;
    // The pipeline runs this stage after market data and the projector have taken the batch.
    this.unsubscribe = exchange.attach("privateFeed", (batch) => this.onBatch(batch.events));
    this.seenSequence = exchange.status().lastSequence;
    this.accounts = exchange.accounts;
    this.stopWatchingAccounts = exchange.accounts.onChange((change) => this.onAccountChange(change));
  }

  /** The last sequence delivered to sessions: a new session's store read must cover it. */
  get lastSeenSequence(): number {
    return this.seenSequence;
  }

  /**
   * Registers a session for its user's events and its key's and user's changes. Add it before
   * the last access check of its login (accessLost): a change after that check reaches it here.
   */
  add(session: PrivateSession): void {
    addTo(this.byUser, session.userId, session);
    addTo(this.byKey, session.keyId, session);
    if (session.keyId.startsWith(SESSION_KEY_PREFIX) && !this.sessionDeadlineMs.has(session.keyId))
      this.sessionDeadlineMs.set(session.keyId, 0);
  }

  remove(session: PrivateSession): void {
    removeFrom(this.byUser, session.userId, session);
    removeFrom(this.byKey, session.keyId, session);
    if (!this.byKey.has(session.keyId)) this.sessionDeadlineMs.delete(session.keyId);
  }

  /**
   * Ends the feeds of browser sessions that expired: re-reads (without touching) at most
   * MAX_SESSION_READS_PER_CHECK sessions whose last-read expiry has passed (the rest wait for the
   * next check). A failed read ends that session's feeds (fail closed); a check already under way
   * makes this one a no-op.
   */
  async checkSessionExpiries(): Promise<void> {
    if (this.checkingExpiries) return;
    this.checkingExpiries = true;
    try {
      const nowMs = this.clock();
      const due: string[] = [];
      for (const [keyId, deadlineMs] of this.sessionDeadlineMs) {
        if (deadlineMs > nowMs) continue;
        due.push(keyId);
        if (due.length >= MAX_SESSION_READS_PER_CHECK) break;
      }
      for (const keyId of due) {
        let lost: AccessLost | null;
        try {
          lost = await this.keyAccessLost(keyId, null);
        } catch {
          lost = CHECK_FAILED;
        }
        if (lost === null) continue;
        // revoke() makes each connection remove its session from the set: iterate over a copy.
        for (const session of [...(this.byKey.get(keyId) ?? [])]) session.revoke(lost);
      }
    } finally {
      this.checkingExpiries = false;
    }
  }

  close(): void {
    this.unsubscribe();
    this.stopWatchingAccounts();
    this.byUser.clear();
    this.byKey.clear();
    this.sessionDeadlineMs.clear();
  }

  /** Why a session of this key and user may no longer run, or null while both are in good standing. */
  async accessLost(session: Pick<PrivateSession, "keyId" | "userId">): Promise<AccessLost | null> {
    try {
      const lost = await this.keyAccessLost(session.keyId, session.userId);
      if (lost !== null) return lost;
      return await this.userAccessLost(session.userId);
    } catch {
      return CHECK_FAILED;
    }
  }

  /** The key, or for a browser session (key id `session:<hash>`) the session, no longer valid. */
  private async keyAccessLost(keyId: string, userId: number | null): Promise<AccessLost | null> {
    if (keyId.startsWith(SESSION_KEY_PREFIX)) {
      const session = await this.accounts.session(keyId.slice(SESSION_KEY_PREFIX.length));
      if (session === undefined || session.revokedMs !== null) return SESSION_ENDED;
      const expiresMs = Math.min(session.expiresMs, session.lastSeenMs + this.sessionTimes.idleTimeoutMs);
      if (this.clock() >= expiresMs) return SESSION_ENDED;
      // Only for a key with live feeds: a read finishing after the last one left adds nothing.
      if (this.sessionDeadlineMs.has(keyId)) this.sessionDeadlineMs.set(keyId, expiresMs);
      return userId !== null && session.userId !== userId ? SESSION_ENDED : null;
    }
    const key = await this.accounts.cachedApiKey(keyId);
    if (key === undefined || key.revokedMs !== null) return KEY_REVOKED;
    return userId !== null && key.userId !== userId ? KEY_REVOKED : null;
  }

  private async userAccessLost(userId: number): Promise<AccessLost | null> {
    const status = await this.accounts.cachedUserStatus(userId);
    if (status === undefined) return USER_GONE;
    return status === "active" ? null : userNotActive(status);
  }

  /** Runs inside the account write's call: never throws, and defers the re-read. */
  private onAccountChange(change: AccountChange): void {
    const watched = change.kind === "apiKey" ? this.byKey.has(change.keyId) : this.byUser.has(change.userId);
    if (!watched) return;
    // After every listener of this write has run (the account cache's invalidation among them).
    queueMicrotask(() => void this.recheck(change));
  }

  private async recheck(change: AccountChange): Promise<void> {
    let lost: AccessLost | null;
    try {
      if (change.kind === "apiKey") {
        lost = await this.keyAccessLost(change.keyId, null);
      } else {
        lost = await this.userAccessLost(change.userId);
      }
    } catch {
      lost = CHECK_FAILED;
    }
    if (lost === null) return;
    const sessions = change.kind === "apiKey" ? this.byKey.get(change.keyId) : this.byUser.get(change.userId);
    // revoke() makes each connection remove its session from these sets: iterate over a copy.
    for (const session of [...(sessions ?? [])]) session.revoke(lost);
  }

  private onBatch(events: readonly CoreEvent[]): void {
    if (events.length > 0)
      this.seenSequence = Math.max(this.seenSequence, events[events.length - 1].sequence);
    if (this.byUser.size === 0) return;
    for (const event of events) {
      switch (event.type) {
        case "balance":
        case "orderAccepted":
        case "orderDone":
          this.deliver(event.userId, event);
          break;
        case "trade":
          this.deliver(event.makerUserId, event);
          if (event.takerUserId !== event.makerUserId) this.deliver(event.takerUserId, event);
          break;
        default:
          break;
      }
    }
  }

  private deliver(userId: number, event: CoreEvent): void {
    const sessions = this.byUser.get(userId);
    if (sessions === undefined) return;
    for (const session of sessions) session.onEvent(event);
  }
}

function addTo<K>(index: Map<K, Set<PrivateSession>>, key: K, session: PrivateSession): void {
  let sessions = index.get(key);
  if (sessions === undefined) {
    sessions = new Set();
    index.set(key, sessions);
  }
  sessions.add(session);
}

function removeFrom<K>(index: Map<K, Set<PrivateSession>>, key: K, session: PrivateSession): void {
  const sessions = index.get(key);
  if (sessions === undefined) return;
  sessions.delete(session);
  if (sessions.size === 0) index.delete(key);
}

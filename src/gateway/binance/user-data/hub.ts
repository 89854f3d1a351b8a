// Routes the core's durable events to the Binance user data streams of the users they concern:
// ONE handler on the event pipeline's privateFeed stage for the gateway; per batch one pass over
// the events to group them by user, then each user's streams get that user's events in order.
// Streams are bounded per user (MAX_STREAMS_PER_USER) and per socket (sockets.ts), and in total
// by the gateway's connection cap.
//
// Access follows the account, as the EXMO private feed's (src/gateway/ws/private-feed.ts): a
// change to a key or user with a live stream re-reads the key and the user's status through the
// accounts' cached lookups, and ends the streams of a revoked key or of a user no longer active
// (the owner of the stream is told through `onAccessLost`).

import type { AccountChange } from "../../../accounts/accounts.ts";
import type { CoreEvent } from "../../../core/events.ts";
import type { ExchangeBoundary } from "../../../exchange/boundary.ts";
import type { UserStream } from "./user-stream.ts";

/** Streams (ws-api subscriptions and listen-key sockets) one user may hold at once. */
export const MAX_STREAMS_PER_USER = 32;

/** The user of a core event that concerns one user's account, or null. */
function usersOf(event: CoreEvent): readonly number[] {
  switch (event.type) {
    case "balance":
    case "orderAccepted":
    case "orderDone":
    case "balanceAdjusted":
    case "depositCredited":
    case "withdrawalHeld":
    case "withdrawalSettled":
    case "withdrawalReleased":
      return [event.userId];
    case "trade":
      return event.takerUserId === event.makerUserId
        ? [event.makerUserId]
        : [event.makerUserId, event.takerUserId];
    default:
      return [];
  }
}

export type AccessLostListener = (stream: UserStream) => void;

export class UserDataHub {
  private readonly byUser = new Map<number, Set<UserStream>>();
  private readonly byKey = new Map<string, Set<UserStream>>();
  private seenSequence: number;
  private readonly detach: () => void;
  private readonly stopWatchingAccounts: () => void;

  constructor(
    private readonly exchange: ExchangeBoundary,
    /** A stream's key was revoked or its user is no longer active: its owner must end it. */
    private readonly onAccessLost: AccessLostListener,
    /** The API key of a listen key whose access was lost (its listen key ends too). */
    private readonly onKeyAccessLost: (keyId: string) => void,
  ) {
    // After market data and the projector have taken the batch (event-pipeline.ts).
    this.detach = exchange.attach("privateFeed", (batch) => this.onBatch(batch.events));
    this.seenSequence = exchange.status().lastSequence;
    this.stopWatchingAccounts = exchange.accounts.onChange((change) => this.onAccountChange(change));
  }

  /** The last sequence delivered: a new stream's store read must cover it. */
  get lastSeenSequence(): number {
    return this.seenSequence;
  }

  streamsOfUser(userId: number): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  /** Registers a stream; false when its user holds MAX_STREAMS_PER_USER already. */
  add(stream: UserStream): boolean {
    if (this.streamsOfUser(stream.userId) >= MAX_STREAMS_PER_USER) return false;
    addTo(this.byUser, stream.userId, stream);
    addTo(this.byKey, stream.keyId, stream);
    return true;
  }

  remove(stream: UserStream): void {
    removeFrom(this.byUser, stream.userId, stream);
    removeFrom(this.byKey, stream.keyId, stream);
  }

  close(): void {
    this.detach();
    this.stopWatchingAccounts();
    this.byUser.clear();
    this.byKey.clear();
  }

  private onBatch(events: readonly CoreEvent[]): void {
    const last = events[events.length - 1];
    if (last !== undefined) this.seenSequence = Math.max(this.seenSequence, last.sequence);
    if (this.byUser.size === 0) return;
    const perUser = new Map<number, CoreEvent[]>();
    for (const event of events) {
      for (const userId of usersOf(event)) {
        if (!this.byUser.has(userId)) continue;
        let list = perUser.get(userId);
        if (list === undefined) {
          list = [];
          perUser.set(userId, list);
        }
        list.push(event);
      }
    }
    for (const [userId, list] of perUser)
      for (const stream of [...(this.byUser.get(userId) ?? [])]) stream.onEvents(list);
  }

  /** Runs inside the account write's call: never throws, and defers the re-read. */
  private onAccountChange(change: AccountChange): void {
    const watched = change.kind === "apiKey" ? this.byKey.has(change.keyId) : this.byUser.has(change.userId);
    if (!watched) return;
    // After every listener of this write has run (the account cache's invalidation among them).
    queueMicrotask(() => void this.recheck(change));
  }

  private async recheck(change: AccountChange): Promise<void> {
    const streams = change.kind === "apiKey" ? this.byKey.get(change.keyId) : this.byUser.get(change.userId);
    for (const stream of [...(streams ?? [])]) {
      let lost: boolean;
      try {
        const key = await this.exchange.accounts.cachedApiKey(stream.keyId);
        const status = await this.exchange.accounts.cachedUserStatus(stream.userId);
        lost =
          key === undefined || key.revokedMs !== null || key.userId !== stream.userId || status !== "active";
      } catch {
        lost = true; // fail closed: access that cannot be confirmed is lost
      }
      if (!lost) continue;
      this.onKeyAccessLost(stream.keyId);
      this.onAccessLost(stream);
    }
  }
}

function addTo<K>(index: Map<K, Set<UserStream>>, key: K, stream: UserStream): void {
  let streams = index.get(key);
  if (streams === undefined) {
    streams = new Set();
    index.set(key, streams);
  }
  streams.add(stream);
}

function removeFrom<K>(index: Map<K, Set<UserStream>>, key: K, stream: UserStream): void {
  const streams = index.get(key);
  if (streams === undefined) return;
  streams.delete(stream);
  if (streams.size === 0) index.delete(key);
}

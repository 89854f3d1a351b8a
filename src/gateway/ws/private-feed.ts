// Routes the core's durable events to the private sessions of the users they concern. One
// handler on the event pipeline's privateFeed stage for the whole gateway; per batch it costs one pass over the events and a map
// lookup per user-bearing event, whatever the number of sessions. Sessions are bounded by the
// connection limit (one per logged-in connection).

import type { CoreEvent } from "../../core/events.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { PrivateSession } from "./private-session.ts";

export class PrivateFeed {
  private readonly byUser = new Map<number, Set<PrivateSession>>();
  private seenSequence = 0;
  private readonly unsubscribe: () => void;

  constructor(exchange: ExchangeBoundary) {
    // The pipeline runs this stage after market data and the projector have taken the batch.
    this.unsubscribe = exchange.attach("privateFeed", (batch) => this.onBatch(batch.events));
    this.seenSequence = exchange.status().lastSequence;
  }

  /** The last sequence delivered to sessions: a new session's store read must cover it. */
  get lastSeenSequence(): number {
    return this.seenSequence;
  }

  add(session: PrivateSession): void {
    let sessions = this.byUser.get(session.userId);
    if (sessions === undefined) {
      sessions = new Set();
      this.byUser.set(session.userId, sessions);
    }
    sessions.add(session);
  }

  remove(session: PrivateSession): void {
    const sessions = this.byUser.get(session.userId);
    if (sessions === undefined) return;
    sessions.delete(session);
    if (sessions.size === 0) this.byUser.delete(session.userId);
  }

  close(): void {
    this.unsubscribe();
    this.byUser.clear();
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

// The command being applied: its stamp, and the array its events go to. Shared by Core and the
// Matcher, so both stamp events the same way.

import type { CoreEvent, DoneReason, RejectReason } from "../events.ts";

export class CommandOutput {
  events: CoreEvent[] = [];
  sequence = 0;
  timestampMs = 0;

  begin(sequence: number, timestampMs: number, events: CoreEvent[]): void {
    this.sequence = sequence;
    this.timestampMs = timestampMs;
    this.events = events;
  }

  rejected(reason: RejectReason, userId: number, clientOrderId: number): void {
    this.events.push({ type: "rejected", sequence: this.sequence, reason, userId, clientOrderId });
  }

  orderDone(
    orderId: number,
    userId: number,
    marketId: number,
    reason: DoneReason,
    remainingLots: number,
    releasedUnits: number,
  ): void {
    this.events.push({
      type: "orderDone",
      sequence: this.sequence,
      orderId,
      userId,
      marketId,
      reason,
      remainingLots,
      releasedUnits,
    });
  }
}

// Cancel-on-disconnect, a Bulwark extension (docs/API.md#ws-cancel-on-disconnect): when an armed,
// logged-in connection closes for any reason but the server's own shutdown, the core's cancelAll
// for the user over every market, once. A dead man's switch: the market maker's quotes must not
// outlive its connection.
//
// One command per closing connection. A sequencer queue that is full (the very moment this is for:
// an attack, a storm of reconnects) is retried a bounded number of times with a growing pause; any
// other failure is logged and not retried. Logs carry the user id and counts, never the key id
// (a session's key id embeds its hash).

import type { Logger } from "pino";
import { type ExchangeBoundary, SequencerQueueFullError } from "../../exchange/boundary.ts";

/** Attempts at submitting the one cancelAll while the sequencer queue is full. */
export const CANCEL_ON_DISCONNECT_MAX_ATTEMPTS = 5;
/** Pause before retry n (1-based) is n times this: 50, 100, 150, 200 ms, under a second in all. */
export const CANCEL_ON_DISCONNECT_RETRY_STEP_MS = 50;

/** Submits the cancelAll; resolves when it is durable (or given up, logged). Never rejects. */
export async function cancelOnDisconnect(
  exchange: Pick<ExchangeBoundary, "submit">,
  userId: number,
  logger: Logger | undefined,
): Promise<void> {
  for (let attempt = 1; attempt <= CANCEL_ON_DISCONNECT_MAX_ATTEMPTS; attempt++) {
    try {
      const result = await exchange.submit({ kind: "cancelAll", userId, marketId: 0 });
      const rejected = result.events.find((event) => event.type === "rejected");
      if (rejected !== undefined) {
        logger?.warn({ userId, reason: rejected.reason }, "ws cancel-on-disconnect rejected");
        return;
      }
      const cancelledOrders = result.events.filter(
        (event) => event.type === "orderDone" && event.reason === "cancelled",
      ).length;
      logger?.info({ userId, cancelledOrders, sequence: result.sequence }, "ws cancel-on-disconnect");
      return;
    } catch (error) {
      if (!(error instanceof SequencerQueueFullError)) {
        logger?.error({ err: error, userId }, "ws cancel-on-disconnect failed");
        return;
      }
      if (attempt === CANCEL_ON_DISCONNECT_MAX_ATTEMPTS) {
        logger?.error({ userId, attempts: attempt }, "ws cancel-on-disconnect gave up: sequencer queue full");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, attempt * CANCEL_ON_DISCONNECT_RETRY_STEP_MS));
    }
  }
}

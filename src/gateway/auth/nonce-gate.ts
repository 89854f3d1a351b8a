// Where a signed request's nonce goes once its signature is proven (docs/API.md#nonce).
//
// The authority is the core: each key's last nonce is core state, and a signed request's nonce
// rides in the journaled command it submits (src/core/engine/api-nonces.ts), or, for a request
// that submits none (a read, a WS login, an order refused before it reached the core), in a
// touchNonce command. So the journal is the one durable write a request waits for, nonces survive
// any restart with the rest of the state, and two gateways cannot both accept one nonce.
//
// This gate is the gateway's cheap first filter in front of it: the highest nonce this process
// has sent to the core for each key (bounded LRU). A nonce not above it is refused at once with
// 40009, without a journal record: a flood of replays costs the journal nothing. Forgetting a key
// (eviction, restart) only lets its next request reach the core, which refuses a stale nonce
// itself. One gate per exchange in this process, shared by REST and WebSocket, so a nonce used on
// one is refused on the other already here.

import type { NonceStamp } from "../../core/commands.ts";
import { type ExchangeBoundary, SequencerQueueFullError } from "../../exchange/boundary.ts";
import { LruMap } from "../../lib/lru.ts";

/** Keys remembered; beyond, the least recently used is forgotten (the core still refuses its replays). */
export const MAX_GATE_KEYS = 100_000;

export type TouchOutcome = "ok" | "stale" | "busy";

export class NonceGate {
  private readonly highestByKey = new LruMap<string, number>(MAX_GATE_KEYS);

  constructor(private readonly exchange: Pick<ExchangeBoundary, "submit">) {}

  /**
   * Claims `nonce` for the key if it is above every nonce this process sent for it: returns the
   * stamp to carry (in the request's command, or touch()), or null for a replay.
   */
  claim(keyId: string, nonce: number): NonceStamp | null {
    const highest = this.highestByKey.get(keyId);
    if (highest !== undefined && nonce <= highest) return null;
    this.highestByKey.set(keyId, nonce);
    return { keyId, nonce };
  }

  /** Journals the stamp on its own (touchNonce); resolves when durable, with the core's verdict. */
  async touch(userId: number, stamp: NonceStamp): Promise<TouchOutcome> {
    try {
      const result = await this.exchange.submit({ kind: "touchNonce", userId, nonce: stamp });
      return result.events.some((event) => event.type === "rejected") ? "stale" : "ok";
    } catch (error) {
      if (error instanceof SequencerQueueFullError) return "busy";
      throw error;
    }
  }
}

const gates = new WeakMap<object, NonceGate>();

/** The one gate of this exchange in this process (REST and WebSocket share it). */
export function nonceGateFor(exchange: Pick<ExchangeBoundary, "submit">): NonceGate {
  let gate = gates.get(exchange);
  if (gate === undefined) {
    gate = new NonceGate(exchange);
    gates.set(exchange, gate);
  }
  return gate;
}

/**
 * A signed request's nonce on its way: the first command the request submits takes the stamp
 * (take()); if none does, the route layer touches it. Exactly one journaled record carries it.
 */
export class RequestNonce {
  private taken = false;

  constructor(readonly stamp: NonceStamp) {}

  get isTaken(): boolean {
    return this.taken;
  }

  /** The stamp for the request's one command; undefined once taken. */
  take(): NonceStamp | undefined {
    if (this.taken) return undefined;
    this.taken = true;
    return this.stamp;
  }
}

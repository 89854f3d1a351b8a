// The public list of proof-of-reserves publications (docs/RESERVES.md#the-public-list):
// GET /api/v1/reserves → { publicKey, publications } with the newest first, each as signed (its
// root, per-asset liabilities and on-chain reserves, the reserve addresses, the signature). Anyone
// may check a signature with the key; a user checks their own proof against a root listed here.
//
// Public and cheap: at most PUBLIC_RESERVES_LIMIT publications, read from the publisher at most
// once per PUBLIC_RESERVES_CACHE_MS however many ask. Nothing private: publications carry no user
// data (leaves stay on the server; a user gets their own through reserves_proof).

import type { FastifyInstance } from "fastify";
import type { ReservesPort } from "../../reserves/port.ts";
import type { ReservesPublication } from "../../reserves/proof.ts";

export const PUBLIC_RESERVES_PATH = "/api/v1/reserves";
/** Publications listed (newest first): a few per asset and publish. */
export const PUBLIC_RESERVES_LIMIT = 50;
/** A list is served for this long before the next request reads the publisher again. */
export const PUBLIC_RESERVES_CACHE_MS = 1_000;

export interface PublicReservesAnswer {
  /** The reserves key of the newest publication (hex); null when nothing was published. */
  publicKey: string | null;
  publications: ReservesPublication[];
}

export function mountPublicReservesRoute(fastify: FastifyInstance, reserves: ReservesPort | null): void {
  let cached: { atMs: number; answer: PublicReservesAnswer } | null = null;
  const read = (): PublicReservesAnswer => {
    const nowMs = Date.now();
    if (cached !== null && nowMs - cached.atMs < PUBLIC_RESERVES_CACHE_MS) return cached.answer;
    const publications = reserves === null ? [] : reserves.list(PUBLIC_RESERVES_LIMIT);
    const answer = { publicKey: publications[0]?.publicKey ?? null, publications };
    cached = { atMs: nowMs, answer };
    return answer;
  };
  fastify.route({
    method: "GET",
    url: PUBLIC_RESERVES_PATH,
    config: { priority: "publicData", guardLane: "health" },
    handler: (_request, reply) => {
      let answer: PublicReservesAnswer;
      try {
        answer = read();
      } catch (error) {
        // A publication file that cannot be read: say so, in the session API's error shape.
        const message = error instanceof Error ? error.message : String(error);
        return reply
          .code(503)
          .header("cache-control", "no-store")
          .send({ error: { code: "unavailable", message: `publications cannot be read: ${message}` } });
      }
      return reply
        .header("cache-control", "no-store")
        .header("content-type", "application/json")
        .send(answer);
    },
  });
}

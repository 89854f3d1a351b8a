// Proof of reserves for users (issue 8 §6, docs/API.md): reserves_proof answers the caller's
// inclusion proof in the newest publication of a currency, which they check offline with
// `bulwark reserves verify --proof FILE --root ROOT` (src/reserves/proof.ts).

import { z } from "zod";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import { ReservesError, type ReservesPort } from "../../reserves/port.ts";
import { ExmoFailure, type ExmoRoute, privateRoute, text } from "./route.ts";

export interface ReservesRouteContext {
  exchange: ExchangeBoundary;
  /** The publisher; null: proof of reserves is not running here (the route answers 59035). */
  reserves: ReservesPort | null;
}

export function reservesRoutes(context: ReservesRouteContext): ExmoRoute[] {
  const { exchange, reserves } = context;
  return [
    privateRoute({
      path: "reserves_proof",
      summary:
        "The caller's inclusion proof in the newest proof-of-reserves publication of a currency " +
        "(the leaf, its salt, the path to the signed root); verify it with `bulwark reserves verify`",
      scope: "info",
      priority: "privateRead",
      params: z.object({ currency: text(16) }),
      handle: (params, caller) => {
        const asset = exchange.assetByCode(params.currency);
        if (asset === undefined) throw new ExmoFailure("unknownAsset", params.currency);
        if (reserves === null)
          throw new ExmoFailure("reservesProofNotFound", "proof of reserves is not running");
        try {
          return reserves.proof(caller.userId, asset.code);
        } catch (error) {
          if (error instanceof ReservesError) throw new ExmoFailure("reservesProofNotFound", error.message);
          throw error;
        }
      },
    }),
  ];
}

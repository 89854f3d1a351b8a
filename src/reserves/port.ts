// What the operator actions and the private API ask of the reserves publisher (src/server/reserves.ts).
// Types only, so the gateway and the operator layer need not import the server.

import type { ReservesProof, ReservesPublication } from "./proof.ts";

export interface ReservesPort {
  /** Builds, signs and stores one publication per asset (every asset when `assets` is absent). */
  publish(assets?: readonly string[]): Promise<ReservesPublication[]>;
  /** Publications, newest first, at most `limit` (≤ 1,000), without their leaves. */
  list(limit: number): ReservesPublication[];
  /**
   * A user's inclusion proof in the newest publication of the asset. Throws ReservesError:
   * "notFound" when nothing was published for the asset or the user had nothing in it.
   */
  proof(userId: number, asset: string): ReservesProof;
}

export type ReservesErrorKind = "notFound" | "invalid" | "unavailable";

export class ReservesError extends Error {
  constructor(
    readonly kind: ReservesErrorKind,
    message: string,
  ) {
    super(message);
  }
}

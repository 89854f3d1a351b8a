// Upgrading a data dir written before API nonces moved into the core (src/core/engine/api-nonces.ts):
// its nonces are in the store's api_nonces table, which nothing writes any more. Once, at start,
// while the core holds no nonce at all, each stored key's last nonce is journaled as a touchNonce,
// so a signed request captured before the upgrade is refused after it too. A data dir made since
// (or already seeded) has nonces in the core and is left alone.

import { isWellFormedNonceStamp } from "../core/engine/api-nonces.ts";
import type { Exchange } from "../exchange/exchange.ts";
import { legacyApiNonces, MAX_LEGACY_NONCES } from "../store/accounts.ts";

/** Journals the store's legacy nonces into the core; returns how many keys were seeded. */
export async function seedLegacyNonces(exchange: Exchange): Promise<number> {
  if (exchange.internals.core.apiKeyNonceCount > 0) return 0;
  const rows = await legacyApiNonces(exchange.internals.store.db, MAX_LEGACY_NONCES);
  let seeded = 0;
  for (const row of rows) {
    // A row the core would refuse (a malformed id) protects nothing: skip it.
    if (!isWellFormedNonceStamp(row)) continue;
    const result = await exchange.submit({ kind: "touchNonce", userId: 0, nonce: row });
    if (!result.events.some((event) => event.type === "rejected")) seeded += 1;
  }
  return seeded;
}

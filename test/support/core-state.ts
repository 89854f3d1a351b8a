// "Changes nothing" for a request that was authenticated and then refused: its nonce is spent (a
// journaled touchNonce advances the key's nonce and the core's last sequence, src/gateway/auth/
// nonce-gate.ts), but books, balances, holds and everything else must be exactly as before.

import type { CoreStateView } from "../../src/core/state-view.ts";

/** The core's state without the parts a refused signed request legitimately moves. */
export function stateApartFromNonces(core: { exportState(): CoreStateView }): string {
  const { apiNonces: _nonces, lastSequence: _sequence, ...rest } = core.exportState();
  return JSON.stringify(rest);
}

/** The key's last nonce as the core holds it (src/core/engine/api-nonces.ts), undefined if none. */
export function coreNonce(core: { exportState(): CoreStateView }, keyId: string): number | undefined {
  return core.exportState().apiNonces.find(([id]) => id === keyId)?.[1];
}

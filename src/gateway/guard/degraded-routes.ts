// Degraded mode on the EXMO REST routes (docs/SECURITY.md#degraded-mode). Applied once to the
// route list in createGateway, so both front doors (HMAC keys and browser sessions) get it:
//   - public routes answer from PublicSnapshots (rebuilt at most every 100 ms; while degraded,
//     only what is already cached is served, a miss answers `degraded`);
//   - orderEntry-class routes (order_create, stop_market_order_create, withdraw_crypt) run, after
//     authentication, only for API keys on the allow-list while degraded; others get `degraded`
//     (59036, HTTP 503 + Retry-After) and nothing is submitted;
//   - cancels and private reads are untouched.

import type { PublicSnapshots } from "../exmo/public-snapshots.ts";
import { ExmoFailure, type ExmoRoute } from "../exmo/route.ts";
import type { GuardControl } from "./guard-control.ts";

export function applyDegradedMode(
  routes: readonly ExmoRoute[],
  control: Pick<GuardControl, "orderEntryAllowed">,
  snapshots: PublicSnapshots,
): ExmoRoute[] {
  return routes.map((route) => {
    if (route.scope === null) return snapshots.wrap(route);
    if (route.priority !== "orderEntry") return route;
    return {
      ...route,
      run: (params, caller) => {
        // run() is only reached after authentication, so the key is the proven caller's.
        if (caller !== null && !control.orderEntryAllowed(caller.keyId))
          return Promise.reject(
            new ExmoFailure("degraded", "order entry is limited to allow-listed API keys"),
          );
        return route.run(params, caller);
      },
    };
  });
}

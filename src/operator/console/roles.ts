// Who may do what in the operator console (docs/SECURITY.md#operator-console): one table, every
// operator route (method + the path pattern as src/operator/plugin.ts registers it, without the
// /operator/v1 prefix) → the roles allowed. A route missing from the table is admin-only, so a
// new route is never opened to a weaker role by forgetting it here (test/operator/console.test.ts
// checks that every registered route is listed).
//
//   auditor   reads everything, verifies the audit log; changes nothing
//   support   reads + freezes/unfreezes users, activates withdrawal addresses, notes on incidents
//   security  reads + withdrawal approvals, breakers, incidents, wallet rotation, cold refills,
//             reserves publication, the flood guard (degraded mode, lifting bans)
//   admin     everything

export const OPERATOR_ROLES = ["admin", "support", "security", "auditor"] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

export function isOperatorRole(text: unknown): text is OperatorRole {
  return typeof text === "string" && (OPERATOR_ROLES as readonly string[]).includes(text);
}

const ALL: readonly OperatorRole[] = OPERATOR_ROLES;
const SUPPORT: readonly OperatorRole[] = ["admin", "support"];
const SECURITY: readonly OperatorRole[] = ["admin", "security"];
const SUPPORT_AND_SECURITY: readonly OperatorRole[] = ["admin", "support", "security"];
const ADMIN: readonly OperatorRole[] = ["admin"];

/** "METHOD /path/:pattern" → roles. */
export const ROUTE_ROLES: Readonly<Record<string, readonly OperatorRole[]>> = {
  // ---- reads: every role -----------------------------------------------------------------------
  "GET /assets": ALL,
  "GET /markets": ALL,
  "GET /users": ALL,
  "GET /operators": ALL,
  "GET /audit/verify": ALL,
  "GET /audit/log": ALL,
  "GET /verify": ALL,
  "GET /incidents": ALL,
  "GET /incidents/:incidentId": ALL,
  "GET /incidents/:incidentId/export": ALL,
  "GET /breakers": ALL,
  "GET /custody/reconciliations": ALL,
  "GET /custody/status": ALL,
  "GET /custody/sweeps": ALL,
  "GET /insurance": ALL,
  "GET /reserves": ALL,
  "GET /reserves/proof": ALL,
  "GET /devnet/status": ALL,
  "GET /addresses": ALL,
  "GET /withdrawals": ALL,
  "GET /cold/refills": ALL,
  "GET /guard": ALL,
  "GET /guard/bans": ALL,
  // ---- support ---------------------------------------------------------------------------------
  /** POST /users/:email/status: freeze, unfreeze. */
  "POST /users/*": SUPPORT,
  "POST /addresses/activate": SUPPORT,
  "POST /incidents/:incidentId/notes": SUPPORT_AND_SECURITY,
  // ---- security --------------------------------------------------------------------------------
  "POST /withdrawals/:withdrawalId/approve": SECURITY,
  "POST /withdrawals/:withdrawalId/reject": SECURITY,
  "POST /breakers/trip": SECURITY,
  "POST /breakers/resume": SECURITY,
  "POST /incidents/:incidentId/resolve": SECURITY,
  "POST /incidents/:incidentId/cover": SECURITY,
  "POST /wallet/rotate": SECURITY,
  "POST /cold/refills": SECURITY,
  "POST /cold/refills/:refillId/approve": SECURITY,
  "POST /cold/refills/:refillId/export": SECURITY,
  "POST /cold/refills/:refillId/import": SECURITY,
  "POST /cold/refills/:refillId/broadcast": SECURITY,
  "POST /cold/refills/:refillId/cancel": SECURITY,
  "POST /reserves/publish": SECURITY,
  /** The flood guard: degraded mode on/off, lifting a ban. */
  "POST /guard/degrade": SECURITY,
  "POST /guard/bans/lift": SECURITY,
  // ---- admin -----------------------------------------------------------------------------------
  "POST /users": ADMIN,
  "POST /keys": ADMIN,
  "DELETE /keys/:keyId": ADMIN,
  "POST /balances/adjust": ADMIN,
  "POST /assets": ADMIN,
  "POST /markets": ADMIN,
  "POST /markets/:symbol/suspend": ADMIN,
  "POST /markets/:symbol/resume": ADMIN,
  "POST /operators": ADMIN,
  "POST /operators/disable": ADMIN,
  /** An operator's console 2FA: enable shows the new secret, so the admin's only. */
  "POST /operators/2fa/enable": ADMIN,
  "POST /operators/2fa/confirm": ADMIN,
  "POST /operators/2fa/disable": ADMIN,
  "POST /addresses": ADMIN,
  "POST /addresses/remove": ADMIN,
  "POST /2fa/enable": ADMIN,
  "POST /2fa/confirm": ADMIN,
  "POST /2fa/verify": ADMIN,
  "POST /2fa/disable": ADMIN,
  "POST /withdrawals": ADMIN,
  "POST /cold/address": ADMIN,
  "POST /insurance/fund": ADMIN,
  "POST /devnet/mine": ADMIN,
  "POST /devnet/faucet": ADMIN,
  "POST /devnet/reorg": ADMIN,
  "POST /devnet/broadcast": ADMIN,
};

/** "METHOD /pattern" of a route; `path` is the pattern without the operator prefix. */
export function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

/** Roles allowed on a route; a route not in the table is the admin's only. */
export function rolesAllowed(method: string, path: string): readonly OperatorRole[] {
  // HEAD is GET without a body: the same rule.
  const key = routeKey(method === "HEAD" ? "GET" : method, path);
  return Object.hasOwn(ROUTE_ROLES, key) ? ROUTE_ROLES[key] : ADMIN;
}

export function roleMay(role: OperatorRole, method: string, path: string): boolean {
  return rolesAllowed(method, path).includes(role);
}

/** What /api/v1/console/me lists: the table's route keys this role may call, in table order. */
export function permissionsOf(role: OperatorRole): string[] {
  return Object.entries(ROUTE_ROLES)
    .filter(([, roles]) => roles.includes(role))
    .map(([key]) => key);
}

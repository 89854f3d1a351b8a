// The demo's operator console accounts (issue 9 §3): one per role, all with the demo's published
// password, so the console can be tried at /console on a fresh `bulwark start`. Added once, through
// the operator action (scrypt hash, audited as the demo); an existing one is left as it is.

import type { OperatorActions } from "../../operator/actions.ts";
import { OPERATOR_ROLES, type OperatorRole } from "../../operator/console/roles.ts";
import { DEMO_ACTOR, DEMO_TRADER_PASSWORD } from "./demo-accounts.ts";

export interface DemoOperator {
  email: string;
  role: OperatorRole;
}

export const DEMO_OPERATORS: readonly DemoOperator[] = OPERATOR_ROLES.map((role) => ({
  email: `${role}@demo.bulwark`,
  role,
}));

/** The demo operators, added when missing; they log in with DEMO_TRADER_PASSWORD. */
export async function ensureDemoOperators(actions: OperatorActions): Promise<readonly DemoOperator[]> {
  const admin = actions.consoleAdmin;
  const existing = new Set((await admin.listOperators()).operators.map((operator) => operator.email));
  // Side by side: each add is mostly its scrypt hash, which runs on libuv's thread pool.
  await Promise.all(
    DEMO_OPERATORS.filter((operator) => !existing.has(operator.email)).map((operator) =>
      admin.addOperator(DEMO_ACTOR, { ...operator, password: DEMO_TRADER_PASSWORD }),
    ),
  );
  return DEMO_OPERATORS;
}

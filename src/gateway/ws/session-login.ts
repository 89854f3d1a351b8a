// WS `login` with a browser session (docs/API.md#sessions): `{"method":"login","session":true}` on
// /v1/private, authenticated by the session cookie the WebSocket upgrade request carried, with the
// same checks as the session API (known, not revoked, not expired, user active) and the Origin
// check (a page of another site must not open a feed with the user's cookie). The feed then runs
// under the key id `session:<hash>`, so a logout or revoke ends it at once (private-feed.ts).

import { type Accounts, SESSION_KEY_PREFIX } from "../../accounts/accounts.ts";
import {
  authenticateSession,
  originProblem,
  type SessionRequest,
  type SessionTimes,
} from "../session/session-auth.ts";
import type { LoginResult } from "./login.ts";

export async function verifySessionLogin(
  deps: {
    accounts: Pick<Accounts, "session" | "touchSession" | "cachedUserStatus">;
    times: SessionTimes;
    clock: () => number;
  },
  request: SessionRequest | undefined,
): Promise<LoginResult> {
  if (request === undefined) return { ok: false, kind: "noPermission", reason: "no upgrade request" };
  const origin = originProblem(request);
  if (origin !== null) return { ok: false, kind: "noPermission", reason: origin.message };
  const auth = await authenticateSession(deps, request, false);
  if (!auth.ok)
    return {
      ok: false,
      kind: auth.code === "user_frozen" ? "userBlocked" : "noPermission",
      reason: auth.message,
    };
  // A session trades as the session door lets it (info and trade scopes, session-routes.ts).
  return { ok: true, userId: auth.userId, keyId: `${SESSION_KEY_PREFIX}${auth.sessionHash}`, mayTrade: true };
}

// The reference core's ledger: user balances (available and held) and system accounts, per asset.
// Every change goes through `transfer`, a move between two accounts of one asset, so money is
// never created or destroyed.

import type { SystemAccount } from "../state-view.ts";
import type { UserBalance } from "./model.ts";
import type { ReferenceState } from "./reference-state.ts";

export type Account =
  | { kind: "available"; userId: number }
  | { kind: "held"; userId: number }
  | { kind: "system"; account: SystemAccount };

export function balanceOf(s: ReferenceState, userId: number, assetId: number): UserBalance {
  return s.users.get(userId)?.get(assetId) ?? { available: 0, held: 0 };
}

export function systemBalanceOf(s: ReferenceState, account: SystemAccount, assetId: number): number {
  return s.system.get(account)?.get(assetId) ?? 0;
}

/**
 * The only way money moves: `amount` from one account to another of the same asset. A non-zero
 * amount marks the user (from, then to) as changed for the command's balance events.
 */
export function transfer(
  s: ReferenceState,
  assetId: number,
  from: Account,
  to: Account,
  amount: number,
): void {
  if (!Number.isSafeInteger(amount) || amount < 0) throw new Error(`bad transfer amount ${amount}`);
  if (amount === 0) return;
  post(s, assetId, from, -amount);
  post(s, assetId, to, amount);
}

function post(s: ReferenceState, assetId: number, account: Account, delta: number): void {
  if (account.kind === "system") {
    const byAsset = s.system.get(account.account) as Map<number, number>;
    byAsset.set(assetId, (byAsset.get(assetId) ?? 0) + delta);
    return;
  }
  let byAsset = s.users.get(account.userId);
  if (byAsset === undefined) {
    byAsset = new Map();
    s.users.set(account.userId, byAsset);
  }
  let balance = byAsset.get(assetId);
  if (balance === undefined) {
    balance = { available: 0, held: 0 };
    byAsset.set(assetId, balance);
  }
  if (account.kind === "available") balance.available += delta;
  else balance.held += delta;
  if (!s.changed.some((x) => x.userId === account.userId && x.assetId === assetId)) {
    s.changed.push({ userId: account.userId, assetId });
  }
}

// The double-entry ledger. Every user has, per asset, an `available` and a `held` account; the
// exchange has the system accounts of SYSTEM_ACCOUNTS per asset. Every method moves one amount
// from one account to another of the same asset, so the postings of every change sum to zero and
// the sum over all accounts of an asset stays 0. User balances are checked never to go negative.

import { assert } from "../assert.ts";
import { MAX_SAFE_UNITS } from "../config.ts";
import { SYSTEM_ACCOUNTS, type SystemAccount } from "../state-view.ts";

/** Per asset, three doubles per user: available, held, and the stamp of the last command that touched them. */
const FIELDS_PER_ASSET = 3;
const AVAILABLE = 0;
const HELD = 1;
const TOUCHED = 2;

export const SYSTEM_ACCOUNT_INDEX: Readonly<Record<SystemAccount, number>> = {
  fees: 0,
  operatorEquity: 1,
  walletHot: 2,
  walletCold: 3,
  insuranceFund: 4,
  incidentLosses: 5,
  walletDepositAddresses: 6,
  walletInFlight: 7,
  networkFees: 8,
};
const FEES = SYSTEM_ACCOUNT_INDEX.fees;
const OPERATOR_EQUITY = SYSTEM_ACCOUNT_INDEX.operatorEquity;

export class UserAccount {
  /** [available, held, touchedStamp] per asset id (index assetId * 3). */
  balances: Float64Array;
  /** Head of the list of this user's resting orders (order-pool slots), or -1. */
  restingOrderHead = -1;
  /** Resting plus stop orders, all markets. */
  openOrderCount = 0;

  constructor(
    readonly userId: number,
    assetSlots: number,
  ) {
    this.balances = new Float64Array(assetSlots * FIELDS_PER_ASSET);
  }
}

export class Ledger {
  readonly users = new Map<number, UserAccount>();
  /** Balance per (system account, asset): index account * assetSlots + assetId. */
  readonly systemBalances: Float64Array;
  /** (user, asset) pairs changed by the current command, in first-change order: the first touchedCount entries. */
  readonly touchedUsers: UserAccount[] = [];
  readonly touchedAssets: number[] = [];
  touchedCount = 0;
  private touchStamp = 1;
  /** Stride of systemBalances: asset ids 1..maxAssets. */
  private readonly assetSlots: number;
  /** Assets that exist; user balance arrays are sized to it and grown when assets are added. */
  assetCount = 0;

  constructor(
    readonly maxAssets: number,
    readonly maxUsers: number,
  ) {
    this.assetSlots = maxAssets + 1;
    this.systemBalances = new Float64Array(SYSTEM_ACCOUNTS.length * this.assetSlots);
  }

  /** Grows the user's balance array to cover every existing asset. Call before touching a user. */
  ensureAssetSlots(user: UserAccount): void {
    const needed = (this.assetCount + 1) * FIELDS_PER_ASSET;
    if (user.balances.length >= needed) return;
    const grown = new Float64Array(needed);
    grown.set(user.balances);
    user.balances = grown;
  }

  /** Starts a new command: clears the touched list. */
  beginCommand(): void {
    // Entries past touchedCount are stale and overwritten; truncating arrays is slow in V8.
    this.touchedCount = 0;
    this.touchStamp += 1;
  }

  user(userId: number): UserAccount | undefined {
    return this.users.get(userId);
  }

  createUser(userId: number): UserAccount {
    assert(!this.users.has(userId), "user exists already");
    assert(this.users.size < this.maxUsers, "too many users");
    const account = new UserAccount(userId, this.assetCount + 1);
    this.users.set(userId, account);
    return account;
  }

  available(user: UserAccount, assetId: number): number {
    return user.balances[assetId * FIELDS_PER_ASSET + AVAILABLE];
  }

  held(user: UserAccount, assetId: number): number {
    return user.balances[assetId * FIELDS_PER_ASSET + HELD];
  }

  systemBalance(account: number, assetId: number): number {
    return this.systemBalances[account * this.assetSlots + assetId];
  }

  /** Only for restoring a snapshot. */
  setSystemBalance(account: number, assetId: number, balanceUnits: number): void {
    this.systemBalances[account * this.assetSlots + assetId] = balanceUnits;
  }

  /** available → held. */
  hold(user: UserAccount, assetId: number, amountUnits: number): void {
    const base = assetId * FIELDS_PER_ASSET;
    const balances = user.balances;
    assert(balances[base + AVAILABLE] >= amountUnits, "hold larger than available");
    balances[base + AVAILABLE] -= amountUnits;
    balances[base + HELD] += amountUnits;
    this.touch(user, assetId, base);
  }

  /** held → available. */
  release(user: UserAccount, assetId: number, amountUnits: number): void {
    if (amountUnits === 0) return;
    const base = assetId * FIELDS_PER_ASSET;
    const balances = user.balances;
    assert(balances[base + HELD] >= amountUnits, "release larger than held");
    balances[base + HELD] -= amountUnits;
    balances[base + AVAILABLE] += amountUnits;
    this.touch(user, assetId, base);
  }

  /**
   * One side of a fill: `from` pays `paidUnits` out of its hold, `to` receives it less `feeUnits`,
   * which go to the fee account.
   */
  settle(from: UserAccount, to: UserAccount, assetId: number, paidUnits: number, feeUnits: number): void {
    const base = assetId * FIELDS_PER_ASSET;
    assert(from.balances[base + HELD] >= paidUnits, "fill larger than held");
    assert(feeUnits <= paidUnits, "fee larger than the amount received");
    from.balances[base + HELD] -= paidUnits;
    this.touch(from, assetId, base);
    this.systemBalances[FEES * this.assetSlots + assetId] += feeUnits;
    const receivedUnits = paidUnits - feeUnits;
    // A fee can take the whole amount: then the receiver's balance did not change.
    if (receivedUnits === 0) return;
    to.balances[base + AVAILABLE] += receivedUnits;
    this.touch(to, assetId, base);
  }

  /** Operator credit (amount > 0) or debit (< 0) of available against operator equity. */
  adjust(user: UserAccount, assetId: number, amountUnits: number): void {
    const base = assetId * FIELDS_PER_ASSET;
    assert(user.balances[base + AVAILABLE] + amountUnits >= 0, "debit larger than available");
    user.balances[base + AVAILABLE] += amountUnits;
    this.systemBalances[OPERATOR_EQUITY * this.assetSlots + assetId] -= amountUnits;
    this.touch(user, assetId, base);
  }

  // ---- Custody (wallet/): system accounts on the other side of a user's balance --------------

  /** Whether a system account can move by `deltaUnits` and stay within ±MAX_SAFE_UNITS. */
  systemCanMove(account: number, assetId: number, deltaUnits: number): boolean {
    return Math.abs(this.systemBalances[account * this.assetSlots + assetId] + deltaUnits) <= MAX_SAFE_UNITS;
  }

  /** A deposit: `account` → the user's available. */
  creditAvailable(user: UserAccount, assetId: number, amountUnits: number, account: number): void {
    const base = assetId * FIELDS_PER_ASSET;
    assert(user.balances[base + AVAILABLE] + amountUnits <= MAX_SAFE_UNITS, "credit beyond the safe range");
    user.balances[base + AVAILABLE] += amountUnits;
    this.systemBalances[account * this.assetSlots + assetId] -= amountUnits;
    this.touch(user, assetId, base);
  }

  /** A settled withdrawal: the user's held → `account` (paid out) and fees (the fee part). */
  payOutHeld(
    user: UserAccount,
    assetId: number,
    amountUnits: number,
    feeUnits: number,
    account: number,
  ): void {
    const base = assetId * FIELDS_PER_ASSET;
    assert(user.balances[base + HELD] >= amountUnits, "payout larger than held");
    assert(feeUnits >= 0 && feeUnits <= amountUnits, "fee outside the payout");
    user.balances[base + HELD] -= amountUnits;
    this.systemBalances[account * this.assetSlots + assetId] += amountUnits - feeUnits;
    this.systemBalances[FEES * this.assetSlots + assetId] += feeUnits;
    this.touch(user, assetId, base);
  }

  /** Between two system accounts: `from` −amount, `to` +amount. */
  moveSystem(from: number, to: number, assetId: number, amountUnits: number): void {
    this.systemBalances[from * this.assetSlots + assetId] -= amountUnits;
    this.systemBalances[to * this.assetSlots + assetId] += amountUnits;
  }

  /** Whether operator equity can absorb a credit of `amountUnits` without leaving the safe range. */
  canCredit(assetId: number, amountUnits: number): boolean {
    return this.systemBalances[OPERATOR_EQUITY * this.assetSlots + assetId] - amountUnits >= -MAX_SAFE_UNITS;
  }

  private touch(user: UserAccount, assetId: number, base: number): void {
    if (user.balances[base + TOUCHED] === this.touchStamp) return;
    user.balances[base + TOUCHED] = this.touchStamp;
    const index = this.touchedCount;
    this.touchedUsers[index] = user;
    this.touchedAssets[index] = assetId;
    this.touchedCount = index + 1;
  }

  /** Throws unless every asset sums to zero and no user or fee balance is negative. O(users × assets). */
  checkSums(assetCount: number): void {
    const sums = new Float64Array(assetCount + 1);
    for (const user of this.users.values()) {
      for (let assetId = 1; assetId <= assetCount; assetId++) {
        const available = this.available(user, assetId);
        const held = this.held(user, assetId);
        assert(available >= 0 && held >= 0, `user ${user.userId} has a negative balance of asset ${assetId}`);
        assert(
          Number.isSafeInteger(available) && Number.isSafeInteger(held),
          "balance is not a safe integer",
        );
        sums[assetId] += available + held;
      }
    }
    for (let account = 0; account < SYSTEM_ACCOUNTS.length; account++) {
      for (let assetId = 1; assetId <= assetCount; assetId++) {
        sums[assetId] += this.systemBalance(account, assetId);
      }
    }
    for (let assetId = 1; assetId <= assetCount; assetId++) {
      assert(this.systemBalance(FEES, assetId) >= 0, `fee account of asset ${assetId} is negative`);
      assert(sums[assetId] === 0, `asset ${assetId} postings do not sum to zero (${sums[assetId]})`);
    }
  }
}

// The withdrawal-hold table: every withdrawal whose amount sits in its user's held balance,
// waiting for custody to settle or release it. Bounded by CoreLimits.maxPendingWithdrawals.

export interface WithdrawalHold {
  readonly withdrawalId: number;
  readonly userId: number;
  readonly assetId: number;
  /** What the user pays, fee included: the amount moved to held. */
  readonly amountUnits: number;
  /** The exchange's fee, part of amountUnits. */
  readonly feeUnits: number;
}

export class WithdrawalHolds {
  /** By withdrawal id, in the order the holds were placed (the snapshot writes them in this order). */
  private readonly byId = new Map<number, WithdrawalHold>();

  get size(): number {
    return this.byId.size;
  }

  get(withdrawalId: number): WithdrawalHold | undefined {
    return this.byId.get(withdrawalId);
  }

  add(hold: WithdrawalHold): void {
    this.byId.set(hold.withdrawalId, hold);
  }

  delete(withdrawalId: number): void {
    this.byId.delete(withdrawalId);
  }

  values(): IterableIterator<WithdrawalHold> {
    return this.byId.values();
  }
}

// Exact running sums for volumes. A single trade's lots and notional fit a safe integer (the core's
// market config guarantees it), but a day or a month of them may not. Adding bigints on every trade
// costs an allocation, so each cell sums in a double while the total stays safe and moves the
// double into a bigint carry only when the next addition would pass 2^53 - 1 — rare, and exact.

export class ExactSums {
  private readonly small: Float64Array;
  private readonly carry: bigint[];

  constructor(readonly size: number) {
    this.small = new Float64Array(size);
    this.carry = new Array<bigint>(size).fill(0n);
  }

  /** Adds a non-negative safe integer to a cell. */
  add(index: number, value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`volume must be a safe integer >= 0`);
    const sum = this.small[index] + value;
    // Both operands are <= 2^53 - 1, so a true sum above the bound rounds to >= 2^53: the test is exact.
    if (sum > Number.MAX_SAFE_INTEGER) {
      this.carry[index] += BigInt(this.small[index]);
      this.small[index] = value;
    } else {
      this.small[index] = sum;
    }
  }

  /** Adds the cell to a running total without allocating a bigint in the common case. */
  addTo(index: number, total: ExactTotal): void {
    total.add(this.small[index]);
    if (this.carry[index] !== 0n) total.addBig(this.carry[index]);
  }

  get(index: number): bigint {
    return this.carry[index] + BigInt(this.small[index]);
  }

  set(index: number, value: bigint): void {
    if (value < 0n) throw new RangeError("volume must be >= 0");
    const maxSmall = BigInt(Number.MAX_SAFE_INTEGER);
    const small = value > maxSmall ? maxSmall : value;
    this.small[index] = Number(small);
    this.carry[index] = value - small;
  }

  clear(index: number): void {
    this.small[index] = 0;
    this.carry[index] = 0n;
  }
}

/** A running total over cells: a double while safe, spilling into a bigint only when needed. */
export class ExactTotal {
  private small = 0;
  private big = 0n;

  add(value: number): void {
    const sum = this.small + value;
    if (sum > Number.MAX_SAFE_INTEGER) {
      this.big += BigInt(this.small);
      this.small = value;
    } else {
      this.small = sum;
    }
  }

  addBig(value: bigint): void {
    this.big += value;
  }

  value(): bigint {
    return this.big + BigInt(this.small);
  }
}

// The deposit dedup set: the key of every credited deposit (chain + transaction id + output
// index), so a deposit reported twice is credited once. Bounded by CoreLimits.maxDepositKeys.

/** A chain's name: 1..16 of a-z, 0-9, "-" (so it holds no ":", the key's separator). */
export const DEPOSIT_CHAIN = /^[a-z0-9-]{1,16}$/;
/** A transaction id: 1..128 printable ASCII characters. */
export const DEPOSIT_TX_ID = /^[\x21-\x7e]{1,128}$/;
/** A wallet movement's transaction id: the same, or empty for none. */
export const MOVEMENT_TX_ID = /^[\x21-\x7e]{0,128}$/;
export const MAX_OUTPUT_INDEX = 0xffff_ffff;

/**
 * `chain:txId:outputIndex`. Unambiguous: the chain holds no ":" and the output index is digits,
 * so the first and the last ":" delimit the transaction id.
 */
export function depositKey(chain: string, txId: string, outputIndex: number): string {
  return `${chain}:${txId}:${outputIndex}`;
}

/** Whether the deposit's identifying fields are well formed. */
export function isDepositSource(chain: unknown, txId: unknown, outputIndex: unknown): boolean {
  return (
    typeof chain === "string" &&
    DEPOSIT_CHAIN.test(chain) &&
    typeof txId === "string" &&
    DEPOSIT_TX_ID.test(txId) &&
    typeof outputIndex === "number" &&
    Number.isInteger(outputIndex) &&
    outputIndex >= 0 &&
    outputIndex <= MAX_OUTPUT_INDEX
  );
}

export class DepositKeys {
  /** In credit order (deterministic: the snapshot writes them in this order). */
  private readonly keys = new Set<string>();

  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    this.keys.add(key);
  }

  values(): IterableIterator<string> {
    return this.keys.values();
  }
}

// Recording coins moved between the exchange's own wallets (and network fees paid) on the books,
// once per transaction: the core does not dedupe wallet movements, so custody looks for the same
// movement in the projected ones (after everything submitted so far is projected) before it
// submits. One writer per chain (custody) makes that check-then-submit safe across restarts.

import type { WalletAccount } from "../core/commands.ts";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import { chainToLedger } from "../units/chain-units.ts";

export interface ChainMovement {
  /** The chain asset (BTC, ETH, USDT). */
  asset: string;
  from: WalletAccount;
  to: WalletAccount;
  /** Chain base units. */
  baseUnits: bigint;
  txId: string;
  /**
   * Round up to the next ledger unit (a fee paid from hot: the books never claim more coins than
   * the wallet has); otherwise down, the residue below one ledger unit staying as dust.
   */
  roundUp: boolean;
}

/** Submits `movement` unless the books have it already; a refusal by the core is logged. */
export async function recordMovementOnce(
  exchange: Pick<ExchangeBoundary, "assetByCode" | "whenProjected" | "status" | "custody" | "submit">,
  chainDecimals: ReadonlyMap<string, number>,
  movement: ChainMovement,
  log: (message: string) => void,
): Promise<void> {
  const config = exchange.assetByCode(movement.asset);
  const decimals = chainDecimals.get(movement.asset);
  if (config === undefined || decimals === undefined || movement.baseUnits <= 0n) return;
  const converted = chainToLedger(movement.baseUnits, decimals, config.scale);
  const units = converted.units + (movement.roundUp && converted.dustBaseUnits > 0n ? 1 : 0);
  if (units <= 0) return;
  await exchange.whenProjected(exchange.status().lastSequence);
  const key = { assetId: config.assetId, txId: movement.txId, from: movement.from, to: movement.to } as const;
  if (await exchange.custody.walletMovementExists(key)) return;
  const result = await exchange.submit({ kind: "recordWalletMovement", ...key, amountUnits: units });
  for (const event of result.events)
    if (event.type === "rejected")
      log(`movement ${movement.from}→${movement.to} of ${movement.txId} refused: ${event.reason}`);
  await exchange.whenProjected(result.sequence);
}

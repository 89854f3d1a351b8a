// Proof of reserves' on-chain figure: every exchange address (hot, its change address, retired hot
// wallets, cold, users' deposit addresses) with its confirmed coins per currency, read from the
// chain now. The sum per currency is what a publication sets next to customer liabilities.

import type { AssetConfig } from "../core/config.ts";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import { chainToLedger } from "../units/chain-units.ts";
import { formatUnits } from "../units/decimal.ts";
import type { ReserveAddressReport, ReserveAddressView } from "./port.ts";

/** Deposit addresses read per chain: beyond it the report says it is incomplete. */
export const MAX_RESERVE_DEPOSIT_ADDRESSES = 5_000;
const DEPOSIT_PAGE = 500;

/** What the listing needs of one chain. */
export interface ReserveChain {
  chain: string;
  currencies: readonly { currency: string }[];
  hotAddress: string | null;
  changeAddress: string | null;
  retiredHot: readonly { hotAddress: string; changeAddress: string | null }[];
  coldAddress: string | null;
  chainDecimals: ReadonlyMap<string, number>;
  balanceOf(address: string, asset: string): Promise<bigint>;
}

export async function listReserveAddresses(
  exchange: ExchangeBoundary,
  chains: readonly ReserveChain[],
  assetOf: (currency: string) => AssetConfig,
): Promise<ReserveAddressReport> {
  const addresses: ReserveAddressView[] = [];
  let complete = true;
  for (const chain of chains) {
    const owned: { role: ReserveAddressView["role"]; address: string }[] = [];
    const add = (role: ReserveAddressView["role"], address: string | null) => {
      if (address !== null && !owned.some((entry) => entry.address === address))
        owned.push({ role, address });
    };
    add("hot", chain.hotAddress);
    add("change", chain.changeAddress);
    for (const retired of chain.retiredHot) {
      add("retiredHot", retired.hotAddress);
      add("retiredHot", retired.changeAddress);
    }
    add("cold", chain.coldAddress);
    let after: { account: number; index: number } | undefined;
    let read = 0;
    while (read < MAX_RESERVE_DEPOSIT_ADDRESSES) {
      const page = await exchange.custody.depositAddressesOfChain(chain.chain, {
        ...(after === undefined ? {} : { after }),
        limit: Math.min(DEPOSIT_PAGE, MAX_RESERVE_DEPOSIT_ADDRESSES - read),
      });
      for (const record of page) add("deposit", record.address);
      read += page.length;
      if (page.length === 0) break;
      const last = page[page.length - 1];
      after = { account: last.account, index: last.index };
      if (read >= MAX_RESERVE_DEPOSIT_ADDRESSES) complete = false;
    }
    for (const currency of chain.currencies) {
      const asset = assetOf(currency.currency);
      const decimals = chain.chainDecimals.get(currency.currency) ?? 0;
      for (const { role, address } of owned) {
        const baseUnits = await chain.balanceOf(address, currency.currency);
        const units = chainToLedger(baseUnits, decimals, asset.scale).units;
        if (units === 0 && role === "deposit") continue;
        addresses.push({
          chain: chain.chain,
          currency: currency.currency,
          role,
          address,
          balanceUnits: units,
          balance: formatUnits(units, asset.scale),
        });
      }
    }
  }
  return { addresses, complete };
}

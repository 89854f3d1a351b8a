// Custody's settings for an Ethereum chain (ETH and the USDT ERC-20), as devnetCustodyConfigs()
// gives them for the embedded devnet-eth: the same figures, at the ledger scales of
// DEFAULT_ASSETS (ETH 8, USDT 6), with the chain's name and confirmation count.

import {
  type ChainCustodyConfig,
  currencyConfig,
  ETH_SCALE,
  ETH_TERMS,
  USDT_SCALE,
  USDT_TERMS,
} from "./config.ts";

/**
 * An Ethereum chain's custody config: ETH (network "ETH") and USDT (network "ERC20"), deposits
 * credited and withdrawals settled after `confirmations` blocks (12 or more on mainnet).
 */
export function ethereumCustodyConfig(
  chain: string,
  confirmations: number,
  options: { intentLifetimeMs?: number } = {},
): ChainCustodyConfig {
  if (!Number.isSafeInteger(confirmations) || confirmations < 1)
    throw new RangeError(`confirmations must be a positive integer, got ${confirmations}`);
  return {
    chain,
    confirmations,
    intentLifetimeMs: options.intentLifetimeMs ?? 10 * 60_000,
    currencies: [
      currencyConfig("ETH", "ETH", ETH_SCALE, ETH_TERMS),
      currencyConfig("USDT", "ERC20", USDT_SCALE, USDT_TERMS),
    ],
  };
}

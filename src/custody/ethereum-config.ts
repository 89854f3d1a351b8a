// Custody's settings for an Ethereum chain (ETH and the USDT ERC-20), as devnetCustodyConfigs()
// gives them for the embedded devnet-eth: the same figures, at the ledger scales of
// DEFAULT_ASSETS (ETH 8, USDT 6), with the chain's name and confirmation count.

import {
  type ChainCustodyConfig,
  type CurrencyCustodyConfig,
  DEFAULT_HOT_CAP_BPS,
  DEFAULT_HOT_FLOOR_BPS,
  DEFAULT_HOT_TARGET_BPS,
} from "./config.ts";

/** Ledger scales of the exchange's ETH and USDT (DEFAULT_ASSETS). */
const ETH_SCALE = 8;
const USDT_SCALE = 6;

function units(whole: number, scale: number): number {
  return Math.round(whole * 10 ** scale);
}

function currency(
  code: string,
  network: string,
  scale: number,
  whole: {
    minDeposit: number;
    minWithdraw: number;
    maxWithdraw: number;
    fee: number;
    user24h: number;
    user30d: number;
    platformHourly: number;
    approval: number;
    hotMinimum: number;
    sweepThreshold: number;
  },
): CurrencyCustodyConfig {
  return {
    currency: code,
    network,
    minDepositUnits: units(whole.minDeposit, scale),
    minWithdrawUnits: units(whole.minWithdraw, scale),
    maxWithdrawUnits: units(whole.maxWithdraw, scale),
    withdrawFeeUnits: units(whole.fee, scale),
    userLimit24hUnits: units(whole.user24h, scale),
    userLimit30dUnits: units(whole.user30d, scale),
    platformHourlyLimitUnits: units(whole.platformHourly, scale),
    approvalThresholdUnits: units(whole.approval, scale),
    hotCapBps: DEFAULT_HOT_CAP_BPS,
    hotTargetBps: DEFAULT_HOT_TARGET_BPS,
    hotFloorBps: DEFAULT_HOT_FLOOR_BPS,
    hotCapMinimumUnits: units(whole.hotMinimum, scale),
    sweepThresholdUnits: units(whole.sweepThreshold, scale),
  };
}

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
      currency("ETH", "ETH", ETH_SCALE, {
        minDeposit: 0.001,
        minWithdraw: 0.01,
        maxWithdraw: 100,
        fee: 0.005,
        user24h: 200,
        user30d: 2_000,
        platformHourly: 1_000,
        approval: 40,
        hotMinimum: 20,
        sweepThreshold: 0.01,
      }),
      currency("USDT", "ERC20", USDT_SCALE, {
        minDeposit: 1,
        minWithdraw: 10,
        maxWithdraw: 200_000,
        fee: 5,
        user24h: 500_000,
        user30d: 5_000_000,
        platformHourly: 2_000_000,
        approval: 100_000,
        hotMinimum: 50_000,
        sweepThreshold: 10,
      }),
    ],
  };
}

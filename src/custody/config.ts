// Custody's settings per chain and currency, with the defaults of docs/SECURITY.md: confirmations,
// minimums, the exchange's withdrawal fee, per-user and platform limits, the approval threshold,
// and the hot wallet's cap, target and floor as shares of customer liabilities.
//
// Ledger amounts are integer units of the asset's scale (the core's); chain amounts are bigint base
// units. Shares are basis points (1 bps = 0.01 %).

export interface CurrencyCustodyConfig {
  /** Exchange currency code, also the chain asset symbol (BTC, ETH, USDT). */
  currency: string;
  /** The network name clients see in payments/providers/crypto/list. */
  network: string;
  /** Smallest deposit credited, ledger units. */
  minDepositUnits: number;
  /** Smallest withdrawal (the fee included), ledger units. */
  minWithdrawUnits: number;
  /** Largest single withdrawal, ledger units. */
  maxWithdrawUnits: number;
  /** The exchange's flat withdrawal fee, ledger units (covers the network fee it pays). */
  withdrawFeeUnits: number;
  /** Per user: sums of requested withdrawals over 24 h and 30 days, ledger units. */
  userLimit24hUnits: number;
  userLimit30dUnits: number;
  /** Everyone together per rolling hour, ledger units. */
  platformHourlyLimitUnits: number;
  /** At or above this a withdrawal waits for two approvers. */
  approvalThresholdUnits: number;
  /** Hot wallet bounds as shares of this currency's customer liabilities, basis points. */
  hotCapBps: number;
  hotTargetBps: number;
  hotFloorBps: number;
  /**
   * Hot-wallet bounds never go below these (a young exchange with few liabilities still needs a
   * working hot wallet), ledger units.
   */
  hotCapMinimumUnits: number;
  /** Deposit addresses are swept to hot once they hold at least this, ledger units. */
  sweepThresholdUnits: number;
}

export interface ChainCustodyConfig {
  /** Chain id, as the adapter names it (devnet-btc, devnet-eth, ethereum, bitcoin-mainnet). */
  chain: string;
  /** Confirmations before a deposit is credited and a withdrawal settled. */
  confirmations: number;
  currencies: CurrencyCustodyConfig[];
  /** Intents expire this long after they are made. */
  intentLifetimeMs: number;
}

export const DEFAULT_HOT_CAP_BPS = 200;
export const DEFAULT_HOT_TARGET_BPS = 100;
export const DEFAULT_HOT_FLOOR_BPS = 50;
/** The signer's 10-minute budget: ≤ 0.25 % of liabilities (docs/SECURITY.md), with a floor. */
export const DEFAULT_SIGNER_10M_BPS = 25;
/** The withdrawal flow steps forward this often at most (and on every new block). */
export const DEFAULT_TICK_MS = 1_000;
/** Address-book activation delay outside demo mode; demo mode uses a minute. */
export const DEMO_ADDRESS_ACTIVATION_DELAY_MS = 60_000;

function units(whole: number, scale: number): number {
  return Math.round(whole * 10 ** scale);
}

/** Whole-coin figures for one currency, turned into ledger units at the asset's scale. */
function currencyConfig(
  currency: string,
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
    currency,
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

/** The embedded devnet chains' custody settings (BTC at ledger scale 8, ETH 8, USDT 6). */
export function devnetCustodyConfigs(): ChainCustodyConfig[] {
  return [
    {
      chain: "devnet-btc",
      confirmations: 2,
      intentLifetimeMs: 10 * 60_000,
      currencies: [
        currencyConfig("BTC", "BTC", 8, {
          minDeposit: 0.0001,
          minWithdraw: 0.001,
          maxWithdraw: 5,
          fee: 0.0005,
          user24h: 10,
          user30d: 100,
          platformHourly: 50,
          approval: 2,
          hotMinimum: 1,
          sweepThreshold: 0.001,
        }),
      ],
    },
    {
      chain: "devnet-eth",
      confirmations: 3,
      intentLifetimeMs: 10 * 60_000,
      currencies: [
        currencyConfig("ETH", "ETH", 8, {
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
        currencyConfig("USDT", "ERC20", 6, {
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
    },
  ];
}

/** Hot-wallet bounds of a currency for the current liabilities, ledger units. */
export function hotBounds(
  config: CurrencyCustodyConfig,
  customerLiabilitiesUnits: number,
): { capUnits: number; targetUnits: number; floorUnits: number } {
  // The minimum lifts target and floor in proportion, so floor < target < cap always holds.
  const base = Math.max(
    Math.floor((customerLiabilitiesUnits * config.hotCapBps) / 10_000),
    config.hotCapMinimumUnits,
  );
  const share = (bps: number) => Math.floor((base * bps) / config.hotCapBps);
  return { capUnits: base, targetUnits: share(config.hotTargetBps), floorUnits: share(config.hotFloorBps) };
}

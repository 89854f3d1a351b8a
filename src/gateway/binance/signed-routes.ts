// Binance Spot API v3 signed read-only endpoints (docs/API.md#binance-spot-api-v3): the caller's
// account and the wallet configuration ccxt's fetchCurrencies reads when keys are set. Every
// route here reads only, so a request is authenticated (auth.ts) but no nonce is journaled. Reads
// come from the store after it has projected this gateway's last write for the user (the EXMO
// dialect's WriteWatermarks), so an order placed through either dialect shows at once.

import type { ApiScope } from "../../accounts/api-keys.ts";
import type { CurrencyTerms, CustodyPort } from "../../custody/port.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import { formatUnits } from "../../units/decimal.ts";
import { CURRENCY_DESCRIPTIONS } from "../exmo/public-routes.ts";
import type { PriorityClass } from "../exmo/route.ts";
import type { WriteWatermarks } from "../exmo/write-watermarks.ts";
import type { BinanceCaller } from "./auth.ts";
import { BinanceFailure } from "./errors.ts";
import { binanceOrderRoutes } from "./order-routes.ts";
import { binanceWalletRoutes } from "./wallet-routes.ts";

/** Binance writes balances and rates with at least 8 decimals ("0.00100000"). */
const BINANCE_MIN_DECIMALS = 8;
const PPM_SCALE = 6;
const PPM_PER_BASIS_POINT = 100;

export interface BinanceSignedRoute {
  /** Default GET. */
  method?: "GET" | "POST" | "DELETE" | "PUT";
  /** Path after the server root, e.g. "/api/v3/account". */
  url: string;
  /** The guard's shedding class; default privateRead. */
  priority?: PriorityClass;
  /**
   * A write (it submits a command or moves money): accepted once per signature
   * (replay-guard.ts). Reads are not guarded (a replayed read changes nothing).
   */
  write?: boolean;
  /** Largest body accepted; default the gateway's. */
  bodyLimitBytes?: number;
  /** The guard's weight row (guard/route-costs.ts), "binance:<name>". */
  costPath: string;
  /** The key scope the route needs (EXMO's: `info` for reads). */
  scope: ApiScope;
  handle(params: Readonly<Record<string, string>>, caller: BinanceCaller): Promise<unknown>;
}

export interface BinanceSignedContext {
  exchange: ExchangeBoundary;
  /** Deposits and withdrawals; null: not connected, every coin shows deposits and withdrawals disabled. */
  custody: CustodyPort | null;
  /** This gateway's last write per user (absent: reads do not wait). */
  watermarks?: WriteWatermarks;
  /** Milliseconds since the epoch. */
  clock: () => number;
}

/** `units` at `scale` written with max(8, scale) decimals, exactly. */
export function fixedDecimal(units: number | bigint, scale: number): string {
  const decimals = Math.max(BINANCE_MIN_DECIMALS, scale);
  const [integerPart, fractionPart = ""] = formatUnits(units, scale).split(".");
  return `${integerPart}.${fractionPart.padEnd(decimals, "0")}`;
}

function parseBooleanParam(name: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value === "true" || value === "TRUE") return true;
  if (value === "false" || value === "FALSE") return false;
  throw new BinanceFailure(
    "illegalChars",
    name,
    `Illegal characters found in parameter '${name}'; legal range is 'true, false'.`,
  );
}

/**
 * The account's commission, one figure for every symbol: the highest market rate (what the
 * account pays at most). Per-symbol rates differ only if an operator configured them so.
 */
function accountFees(exchange: ExchangeBoundary): { makerPpm: number; takerPpm: number } {
  let makerPpm = 0;
  let takerPpm = 0;
  for (const market of exchange.markets()) {
    makerPpm = Math.max(makerPpm, market.config.makerFeePpm);
    takerPpm = Math.max(takerPpm, market.config.takerFeePpm);
  }
  return { makerPpm, takerPpm };
}

/** Binance's integer commission in basis points; a fraction of one is rounded up (never understated). */
function basisPoints(ppm: number): number {
  return Math.ceil(ppm / PPM_PER_BASIS_POINT);
}

function networkOf(coin: string, scale: number, terms: CurrencyTerms, isDefault: boolean) {
  const notReady = "Not available yet: the wallet is being set up";
  return {
    network: terms.network,
    coin,
    name: terms.network,
    isDefault,
    depositEnable: terms.depositEnabled,
    withdrawEnable: terms.withdrawEnabled,
    depositDesc: terms.depositEnabled ? "" : notReady,
    withdrawDesc: terms.withdrawEnabled ? "" : notReady,
    specialTips: `Deposits below ${terms.minDeposit} ${coin} are not credited.`,
    specialWithdrawTips: "Only to an active address of your address book; the fee is part of the amount.",
    withdrawIntegerMultiple: formatUnits(1, scale),
    withdrawFee: terms.withdrawFee,
    withdrawMin: terms.minWithdraw,
    withdrawMax: terms.maxWithdraw,
    depositDust: terms.minDeposit,
    minConfirm: terms.confirmations,
    resetAddressStatus: false,
    sameAddress: false,
    addressRegex: "",
    addressRule: "",
    memoRegex: "",
    busy: false,
  };
}

export function binanceSignedRoutes(context: BinanceSignedContext): BinanceSignedRoute[] {
  const { exchange, custody, watermarks, clock } = context;
  const balancesOf = async (userId: number) => {
    if (watermarks !== undefined) await exchange.whenProjected(watermarks.sequenceFor(userId));
    const rows = await exchange.reads.balancesOfUser(userId);
    return exchange.assets().map((asset) => {
      const row = rows.find((balance) => balance.assetId === asset.assetId);
      return {
        asset,
        free: fixedDecimal(row?.availableUnits ?? 0, asset.scale),
        locked: fixedDecimal(row?.heldUnits ?? 0, asset.scale),
        empty: (row?.availableUnits ?? 0) === 0 && (row?.heldUnits ?? 0) === 0,
      };
    });
  };
  return [
    {
      url: "/api/v3/account",
      costPath: "binance:account",
      scope: "info",
      handle: async (params, caller) => {
        const omitZeroBalances = parseBooleanParam("omitZeroBalances", params.omitZeroBalances);
        const balances = await balancesOf(caller.userId);
        const fees = accountFees(exchange);
        const canTrade = caller.scopes.includes("trade");
        const rate = (ppm: number) => fixedDecimal(ppm * PPM_PER_BASIS_POINT, PPM_SCALE + 2);
        return {
          makerCommission: basisPoints(fees.makerPpm),
          takerCommission: basisPoints(fees.takerPpm),
          buyerCommission: 0,
          sellerCommission: 0,
          commissionRates: {
            maker: rate(fees.makerPpm),
            taker: rate(fees.takerPpm),
            buyer: fixedDecimal(0, 0),
            seller: fixedDecimal(0, 0),
          },
          canTrade,
          canWithdraw: custody !== null && caller.scopes.includes("withdraw"),
          canDeposit: custody !== null,
          brokered: false,
          requireSelfTradePrevention: false,
          preventSor: false,
          // The balances are as of this answer: the store has projected the caller's last write.
          updateTime: clock(),
          accountType: "SPOT",
          balances: balances
            .filter((balance) => !(omitZeroBalances && balance.empty))
            .map((balance) => ({ asset: balance.asset.code, free: balance.free, locked: balance.locked })),
          permissions: ["SPOT"],
          uid: caller.userId,
        };
      },
    },
    {
      url: "/sapi/v1/capital/config/getall",
      costPath: "binance:capital/config/getall",
      scope: "info",
      handle: async (_params, caller) => {
        const balances = await balancesOf(caller.userId);
        const terms = custody?.terms() ?? [];
        const traded = new Set(exchange.markets().flatMap((market) => [market.base.code, market.quote.code]));
        return balances.map(({ asset, free, locked }) => {
          const served = terms.filter((entry) => entry.currency === asset.code);
          const networkList = served.map((entry, index) =>
            networkOf(asset.code, asset.scale, entry, index === 0),
          );
          return {
            coin: asset.code,
            name: CURRENCY_DESCRIPTIONS[asset.code] ?? asset.code,
            depositAllEnable: networkList.some((network) => network.depositEnable),
            withdrawAllEnable: networkList.some((network) => network.withdrawEnable),
            free,
            // Held for open orders and for withdrawals in progress alike: Bulwark's ledger holds
            // both in one figure, so `withdrawing` stays zero and free + locked is the balance.
            locked,
            freeze: fixedDecimal(0, 0),
            withdrawing: fixedDecimal(0, 0),
            ipoing: fixedDecimal(0, 0),
            ipoable: fixedDecimal(0, 0),
            storage: fixedDecimal(0, 0),
            isLegalMoney: false,
            trading: traded.has(asset.code),
            networkList,
          };
        });
      },
    },
    // Bulwark has no margin: both lists are empty (ccxt's loadMarkets asks for them when keys are set).
    {
      url: "/sapi/v1/margin/allPairs",
      costPath: "binance:margin/allPairs",
      scope: "info",
      handle: async () => [],
    },
    {
      url: "/sapi/v1/margin/isolated/allPairs",
      costPath: "binance:margin/isolated/allPairs",
      scope: "info",
      handle: async () => [],
    },
    // Deposit address, withdraw/apply, deposit and withdrawal histories, trade fees.
    ...binanceWalletRoutes(context),
    ...binanceOrderRoutes({ exchange, ...(watermarks === undefined ? {} : { watermarks }) }),
  ];
}

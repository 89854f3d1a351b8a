// EXMO's payment providers from custody's terms (docs/API.md#currencies): per currency a deposit
// and a withdraw provider named after the network, as payments/providers/crypto/list lists them
// and as wallet_operations / wallet_history name an operation's `provider`.
//
// What ccxt 4.5.73 reads of a provider: fetchCurrencies takes the network from `name` (after
// removing "<CUR> " and parentheses), `enabled` as the network's deposit/withdraw flag and
// `min`/`max` as its limits; fetchDepositWithdrawFees and fetchTransactionFees take the fee as
// the first word of `commission_desc`, a "%" marking a percentage ("0.0005 BTC": a flat 0.0005;
// "0%": zero). A non-zero percentage would make fetchTransactionFees throw, so fees stay flat.

import type { CurrencyTerms, CustodyPort } from "../../custody/port.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";

export interface CryptoProvider {
  type: "deposit" | "withdraw";
  name: string;
  currency_name: string;
  min: string;
  /** "0": no maximum (EXMO's convention, deposits). */
  max: string;
  enabled: boolean;
  comment: string;
  commission_desc: string;
  currency_confirmations: number;
}

/**
 * Network names ccxt 4.5.73 turns into one another (its exmo `options.networks`: a caller's
 * `network: "ETH"` is sent as `transport=ERC20`), so either names the same chain.
 */
const CCXT_NETWORK_ALIASES: Readonly<Record<string, readonly string[]>> = {
  ETH: ["ERC20"],
  ERC20: ["ETH"],
  TRX: ["TRC20"],
  TRC20: ["TRX"],
};

function providersOf(asset: string, terms: CurrencyTerms | undefined): CryptoProvider[] {
  if (terms === undefined) {
    const disabled = (type: "deposit" | "withdraw"): CryptoProvider => ({
      type,
      name: asset,
      currency_name: asset,
      min: "0",
      max: "0",
      enabled: false,
      comment: "Deposits and withdrawals are not available for this currency",
      commission_desc: type === "deposit" ? "0%" : "-",
      currency_confirmations: 0,
    });
    return [disabled("deposit"), disabled("withdraw")];
  }
  const notReady = "Not available yet: the wallet is being set up";
  return [
    {
      type: "deposit",
      name: terms.network,
      currency_name: asset,
      min: terms.minDeposit,
      max: "0",
      enabled: terms.depositEnabled,
      comment: terms.depositEnabled
        ? `Minimum deposit amount is ${terms.minDeposit} ${asset}; smaller deposits are not credited. ` +
          `Credited after ${terms.confirmations} confirmations`
        : notReady,
      commission_desc: "0%",
      currency_confirmations: terms.confirmations,
    },
    {
      type: "withdraw",
      name: terms.network,
      currency_name: asset,
      min: terms.minWithdraw,
      max: terms.maxWithdraw,
      enabled: terms.withdrawEnabled,
      comment: terms.withdrawEnabled
        ? `Only to an active address of your address book. The fee of ${terms.withdrawFee} ${asset} ` +
          "is part of the amount"
        : notReady,
      commission_desc: `${terms.withdrawFee} ${asset}`,
      currency_confirmations: terms.confirmations,
    },
  ];
}

/** payments/providers/crypto/list: every listed currency; those custody does not serve are disabled. */
export function cryptoProviders(
  exchange: ExchangeBoundary,
  custody: CustodyPort | null,
): Record<string, CryptoProvider[]> {
  const terms = custody?.terms() ?? [];
  const result: Record<string, CryptoProvider[]> = {};
  for (const asset of exchange.assets()) {
    const served = terms.filter((entry) => entry.currency === asset.code);
    result[asset.code] =
      served.length === 0
        ? providersOf(asset.code, undefined)
        : served.flatMap((entry) => providersOf(asset.code, entry));
  }
  return result;
}

/** The provider name of a currency's operations: its network when custody serves it, else its code. */
export function providerName(custody: CustodyPort | null, currency: string): string {
  return custody?.terms().find((entry) => entry.currency === currency)?.network ?? currency;
}

/**
 * Whether withdraw_crypt's `transport` names the chain `terms` withdraws on: the network of any
 * currency custody serves on that chain, or ccxt's alias of one, in any letter case.
 */
export function transportMatches(custody: CustodyPort, terms: CurrencyTerms, transport: string): boolean {
  const wanted = transport.toUpperCase();
  for (const entry of custody.terms()) {
    if (entry.chain !== terms.chain) continue;
    const network = entry.network.toUpperCase();
    if (network === wanted || (CCXT_NETWORK_ALIASES[network] ?? []).includes(wanted)) return true;
  }
  return false;
}

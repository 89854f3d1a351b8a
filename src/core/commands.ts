// Commands: the only way to change core state. Every command is stamped by the sequencer with
// a strictly increasing `sequence` and a `timestampMs` before the core sees it; the core reads no
// clock. A placed order's id is the sequence number of the command that placed it.

import type { AssetConfig, MarketConfig, SelfTradePrevention } from "./config.ts";

export type Side = "buy" | "sell";

/**
 * Every order type, the one list the rest of the code derives from (docs/CORE.md, "Adding an
 * order type", lists every place a new one needs). APPEND ONLY: an order type's index here is
 * its code in the journal (src/journal/command-codec.ts), so reordering would change replay.
 *
 * limit: rests at priceTicks unless IOC/FOK.
 * market: by base quantity (quantityLots); a buy spends at most the user's available quote.
 * marketTotal: by quote amount (quoteAmountUnits): a buy spends at most it, a sell receives at most it (gross).
 * stopMarket: rests as a trigger at triggerPriceTicks, then fires as a market order of quantityLots.
 */
export const ORDER_TYPES = ["limit", "market", "marketTotal", "stopMarket"] as const;
export type OrderType = (typeof ORDER_TYPES)[number];

/** Whether `value` is one of ORDER_TYPES (commands come from outside: the type is not a guarantee). */
export function isOrderType(value: unknown): value is OrderType {
  return (ORDER_TYPES as readonly unknown[]).includes(value);
}
export type TimeInForce = "gtc" | "ioc" | "fok";

export interface CommandStamp {
  sequence: number;
  timestampMs: number;
}

/**
 * A signed request's API key and nonce (docs/API.md#nonce), carried by the command the request
 * submits: the core refuses the command (staleNonce) unless the nonce is greater than the last
 * one it accepted for the key, and advances it otherwise (engine/api-nonces.ts).
 */
export interface NonceStamp {
  keyId: string;
  nonce: number;
}

/** The commands a signed request may submit carry its nonce; operator and custody ones never do. */
interface SignedRequestCommand {
  /** Absent: not submitted by a signed request (session door, operator, custody, cancel-on-disconnect). */
  nonce?: NonceStamp;
}

export interface PlaceOrderCommand extends CommandStamp, SignedRequestCommand {
  kind: "placeOrder";
  userId: number;
  marketId: number;
  side: Side;
  orderType: OrderType;
  /** limit only; 0 otherwise. */
  priceTicks: number;
  /** limit, market and stopMarket; 0 for marketTotal. */
  quantityLots: number;
  /** marketTotal only; 0 otherwise. */
  quoteAmountUnits: number;
  /** stopMarket only; 0 otherwise. */
  triggerPriceTicks: number;
  /** limit only; market orders behave as IOC. */
  timeInForce: TimeInForce;
  /** limit GTC only: rejected if it would take. */
  postOnly: boolean;
  /** The client's own id, 0 when none. */
  clientOrderId: number;
  /**
   * The client's id as text, when the client named its order with a string the number cannot
   * hold (the Binance dialect's newClientOrderId; clientOrderId is then its hash). Absent: none.
   * The core does not read it: it is journaled with the order and echoed in orderAccepted.
   */
  clientOrderText?: string;
  /** null: the market's default. */
  selfTradePrevention: SelfTradePrevention | null;
}

/** Longest clientOrderText (Binance's 36 characters). */
export const MAX_CLIENT_ORDER_TEXT_LENGTH = 36;

/** Whether a command's clientOrderText is absent or a string of 1..MAX_CLIENT_ORDER_TEXT_LENGTH units. */
export function isValidClientOrderText(text: unknown): boolean {
  if (text === undefined) return true;
  return typeof text === "string" && text.length >= 1 && text.length <= MAX_CLIENT_ORDER_TEXT_LENGTH;
}

export interface CancelOrderCommand extends CommandStamp, SignedRequestCommand {
  kind: "cancelOrder";
  userId: number;
  orderId: number;
}

/** Cancels every open order (resting or stop) of the user carrying this client id; marketId 0 = all markets. */
export interface CancelByClientIdCommand extends CommandStamp, SignedRequestCommand {
  kind: "cancelByClientId";
  userId: number;
  marketId: number;
  clientOrderId: number;
}

/** marketId 0 = all markets. */
export interface CancelAllCommand extends CommandStamp, SignedRequestCommand {
  kind: "cancelAll";
  userId: number;
  marketId: number;
}

/** Operator credit (amount > 0) or debit (amount < 0) of a user's available balance against operator equity. */
export interface AdjustBalanceCommand extends CommandStamp {
  kind: "adjustBalance";
  userId: number;
  assetId: number;
  amountUnits: number;
  /** Why, for the audit trail: 1..200 characters. */
  reason: string;
}

export interface AddAssetCommand extends CommandStamp {
  kind: "addAsset";
  asset: AssetConfig;
}

export interface AddMarketCommand extends CommandStamp {
  kind: "addMarket";
  market: MarketConfig;
}

/** Suspended markets accept cancels only; resuming lets orders in again. */
export interface SetMarketStatusCommand extends CommandStamp {
  kind: "setMarketStatus";
  marketId: number;
  status: MarketStatus;
}

export type MarketStatus = "active" | "suspended";

// ---- Money through custody (docs/CORE.md, "Wallet commands"; handlers in wallet/) --------------

/**
 * The exchange's wallet accounts on the books, and the expense account network fees go to: the
 * `from` and `to` of a wallet movement. APPEND ONLY: an account's index here is its code in the
 * journal.
 */
export const WALLET_ACCOUNTS = [
  "walletDepositAddresses",
  "walletHot",
  "walletCold",
  "walletInFlight",
  "networkFees",
] as const;
export type WalletAccount = (typeof WALLET_ACCOUNTS)[number];

/** Custody saw a deposit confirmed: credit the user's available balance (once per chain + tx + output). */
export interface CreditDepositCommand extends CommandStamp {
  kind: "creditDeposit";
  userId: number;
  assetId: number;
  /** Ledger units of the asset (custody converts chain base units; see src/units/chain-units.ts). */
  amountUnits: number;
  /** The chain's name, e.g. "btc", "eth": 1..16 of a-z, 0-9, "-". */
  chain: string;
  /** The transaction id as the chain writes it: 1..128 printable ASCII characters. */
  txId: string;
  /** Output (UTXO) or log index within the transaction: an integer in 0..2^32-1. */
  outputIndex: number;
}

/** Moves a withdrawal's amount from the user's available to held, keyed by custody's withdrawal id. */
export interface HoldWithdrawalCommand extends CommandStamp {
  kind: "holdWithdrawal";
  /** Custody's id, a safe integer ≥ 1, never reused. */
  withdrawalId: number;
  userId: number;
  assetId: number;
  /** Everything the user pays, fee included. */
  amountUnits: number;
  /** The exchange's withdrawal fee, part of amountUnits: 0 ≤ fee < amount. */
  feeUnits: number;
}

/** The withdrawal is confirmed on chain: held → walletHot (amount − fee) and fees (fee). */
export interface SettleWithdrawalCommand extends CommandStamp {
  kind: "settleWithdrawal";
  withdrawalId: number;
}

/** The withdrawal failed or was rejected: held → available. */
export interface ReleaseWithdrawalCommand extends CommandStamp {
  kind: "releaseWithdrawal";
  withdrawalId: number;
}

/** Coins moved between the exchange's own wallets on chain, or a network fee was paid. */
export interface RecordWalletMovementCommand extends CommandStamp {
  kind: "recordWalletMovement";
  assetId: number;
  /** Where the coins left: a wallet (not networkFees). */
  from: WalletAccount;
  /** Where they went: another wallet, or networkFees for a fee paid to the network. */
  to: WalletAccount;
  amountUnits: number;
  /** The chain transaction, for the audit trail: 0..128 printable ASCII characters. */
  txId: string;
}

// ---- Breach containment (docs/CORE.md, "Covering a loss"; handlers in wallet/incident-cover.ts) ----

/**
 * Where a covered loss is charged. APPEND ONLY: a source's index here is its code in the journal.
 * insuranceFund must hold the amount on the books; operatorEquity may go negative (the operator pays).
 */
export const LOSS_COVER_SOURCES = ["insuranceFund", "operatorEquity"] as const;
export type LossCoverSource = (typeof LOSS_COVER_SOURCES)[number];

/** The wallets the operator's own coins can arrive in to fund the insurance fund. */
export const INSURANCE_FUNDING_WALLETS = [
  "walletHot",
  "walletCold",
] as const satisfies readonly WalletAccount[];
export type InsuranceFundingWallet = (typeof INSURANCE_FUNDING_WALLETS)[number];

/**
 * Coins stolen from the hot wallet: walletHot → incidentLosses (the books follow the chain), then
 * the loss is charged to `source`. No user balance changes. Once per (incidentId, assetId).
 */
export interface CoverIncidentLossCommand extends CommandStamp {
  kind: "coverIncidentLoss";
  /** The incident's id (src/incidents), a safe integer ≥ 1. */
  incidentId: number;
  assetId: number;
  /** The stolen amount in ledger units: 1 ≤ amount ≤ the coins walletHot holds on the books. */
  amountUnits: number;
  source: LossCoverSource;
}

/** The operator sent their own coins to an exchange wallet for the insurance fund: wallet −amount, insuranceFund +amount. */
export interface FundInsuranceCommand extends CommandStamp {
  kind: "fundInsurance";
  assetId: number;
  wallet: InsuranceFundingWallet;
  amountUnits: number;
  /** The chain transaction, for the audit trail: 0..128 printable ASCII characters. */
  txId: string;
}

/**
 * A signed request that submits no command of its own (a read, a refused order) advances its
 * key's nonce with this, so every signed request's nonce is in the journal before its answer.
 */
export interface TouchNonceCommand extends CommandStamp {
  kind: "touchNonce";
  /** The key's user, echoed in a rejected event. */
  userId: number;
  nonce: NonceStamp;
}

export type Command =
  | PlaceOrderCommand
  | CancelOrderCommand
  | CancelByClientIdCommand
  | CancelAllCommand
  | AdjustBalanceCommand
  | AddAssetCommand
  | AddMarketCommand
  | SetMarketStatusCommand
  | CreditDepositCommand
  | HoldWithdrawalCommand
  | SettleWithdrawalCommand
  | ReleaseWithdrawalCommand
  | RecordWalletMovementCommand
  | CoverIncidentLossCommand
  | FundInsuranceCommand
  | TouchNonceCommand;

/** A command before the sequencer stamps it. */
export type UnstampedCommand = Command extends infer C
  ? C extends Command
    ? Omit<C, "sequence" | "timestampMs">
    : never
  : never;

export const MAX_REASON_LENGTH = 200;

/**
 * The nonce stamp a command carries: undefined for none; null for a touchNonce without one
 * (malformed: the core rejects it). The commands of SignedRequestCommand may carry one.
 */
export function nonceStampOf(command: Command): NonceStamp | null | undefined {
  switch (command.kind) {
    case "placeOrder":
    case "cancelOrder":
    case "cancelByClientId":
    case "cancelAll":
      return command.nonce;
    case "touchNonce":
      return command.nonce ?? null;
    default:
      return undefined;
  }
}

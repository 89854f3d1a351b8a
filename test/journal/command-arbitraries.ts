// fast-check generators of every Command kind, including values the core rejects (fractions,
// -0, NaN, unsafe integers, lone surrogates): the journal must carry them unchanged too.

import fc from "fast-check";
import {
  type Command,
  INSURANCE_FUNDING_WALLETS,
  LOSS_COVER_SOURCES,
  ORDER_TYPES,
  type OrderType,
  type Side,
  type TimeInForce,
  WALLET_ACCOUNTS,
} from "../../src/core/commands.ts";
import type { AssetConfig, MarketConfig, SelfTradePrevention } from "../../src/core/config.ts";

export const anyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 0, max: 0xffff_ffff }),
  fc.maxSafeNat(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(-0, 0, 0xef, 0xf0, 0xffff, 0x1_0000, 2 ** 48 - 1, 2 ** 48, 2 ** 53, Number.NaN),
);

const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
export const anyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: anyCodeUnit, maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 10 }),
);

const side = fc.constantFrom<Side>("buy", "sell");
const orderType = fc.constantFrom<OrderType>(...ORDER_TYPES);
const timeInForce = fc.constantFrom<TimeInForce>("gtc", "ioc", "fok");
const stp = fc.constantFrom<SelfTradePrevention>("cancelResting", "cancelIncoming", "cancelBoth");
const stamp = { sequence: anyNumber, timestampMs: anyNumber };

export const assetConfig: fc.Arbitrary<AssetConfig> = fc.record({
  assetId: anyNumber,
  code: anyString,
  scale: anyNumber,
});

export const marketConfig: fc.Arbitrary<MarketConfig> = fc.record({
  marketId: anyNumber,
  symbol: anyString,
  baseAssetId: anyNumber,
  quoteAssetId: anyNumber,
  lotSizeBaseUnits: anyNumber,
  quoteUnitsPerTickLot: anyNumber,
  minPriceTicks: anyNumber,
  maxPriceTicks: anyNumber,
  minQuantityLots: anyNumber,
  maxQuantityLots: anyNumber,
  minNotionalUnits: anyNumber,
  maxNotionalUnits: anyNumber,
  makerFeePpm: anyNumber,
  takerFeePpm: anyNumber,
  stopBuySlippageBps: anyNumber,
  selfTradePrevention: stp,
});

/** A signed request's stamp, including values the core rejects (it must still round-trip). */
const nonceStamp = fc.record({ keyId: anyString, nonce: anyNumber });

export const anyCommand: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant("touchNonce" as const), ...stamp, userId: anyNumber, nonce: nonceStamp }),
  fc.record({
    kind: fc.constant("cancelOrder" as const),
    ...stamp,
    userId: anyNumber,
    orderId: anyNumber,
    nonce: nonceStamp,
  }),
  // Without a text (versions 2/3) and with one (version 4), each with and without a nonce stamp;
  // requiredKeys leaves the optional fields out entirely half the time, as commands have them.
  fc.record(
    {
      kind: fc.constant("placeOrder" as const),
      ...stamp,
      userId: anyNumber,
      marketId: anyNumber,
      side,
      orderType,
      priceTicks: anyNumber,
      quantityLots: anyNumber,
      quoteAmountUnits: anyNumber,
      triggerPriceTicks: anyNumber,
      timeInForce,
      postOnly: fc.boolean(),
      clientOrderId: anyNumber,
      clientOrderText: anyString,
      selfTradePrevention: fc.option(stp, { nil: null }),
      nonce: nonceStamp,
    },
    {
      requiredKeys: [
        "kind",
        "sequence",
        "timestampMs",
        "userId",
        "marketId",
        "side",
        "orderType",
        "priceTicks",
        "quantityLots",
        "quoteAmountUnits",
        "triggerPriceTicks",
        "timeInForce",
        "postOnly",
        "clientOrderId",
        "selfTradePrevention",
      ],
    },
  ),
  fc.record({ kind: fc.constant("cancelOrder" as const), ...stamp, userId: anyNumber, orderId: anyNumber }),
  fc.record({
    kind: fc.constant("cancelByClientId" as const),
    ...stamp,
    userId: anyNumber,
    marketId: anyNumber,
    clientOrderId: anyNumber,
  }),
  fc.record({ kind: fc.constant("cancelAll" as const), ...stamp, userId: anyNumber, marketId: anyNumber }),
  fc.record({
    kind: fc.constant("adjustBalance" as const),
    ...stamp,
    userId: anyNumber,
    assetId: anyNumber,
    amountUnits: anyNumber,
    reason: anyString,
  }),
  fc.record({ kind: fc.constant("addAsset" as const), ...stamp, asset: assetConfig }),
  fc.record({ kind: fc.constant("addMarket" as const), ...stamp, market: marketConfig }),
  fc.record({
    kind: fc.constant("setMarketStatus" as const),
    ...stamp,
    marketId: anyNumber,
    status: fc.constantFrom("active" as const, "suspended" as const),
  }),
  fc.record({
    kind: fc.constant("creditDeposit" as const),
    ...stamp,
    userId: anyNumber,
    assetId: anyNumber,
    amountUnits: anyNumber,
    chain: anyString,
    txId: anyString,
    outputIndex: anyNumber,
  }),
  fc.record({
    kind: fc.constant("holdWithdrawal" as const),
    ...stamp,
    withdrawalId: anyNumber,
    userId: anyNumber,
    assetId: anyNumber,
    amountUnits: anyNumber,
    feeUnits: anyNumber,
  }),
  fc.record({ kind: fc.constant("settleWithdrawal" as const), ...stamp, withdrawalId: anyNumber }),
  fc.record({ kind: fc.constant("releaseWithdrawal" as const), ...stamp, withdrawalId: anyNumber }),
  fc.record({
    kind: fc.constant("recordWalletMovement" as const),
    ...stamp,
    assetId: anyNumber,
    from: fc.constantFrom(...WALLET_ACCOUNTS),
    to: fc.constantFrom(...WALLET_ACCOUNTS),
    amountUnits: anyNumber,
    txId: anyString,
  }),
  fc.record({
    kind: fc.constant("coverIncidentLoss" as const),
    ...stamp,
    incidentId: anyNumber,
    assetId: anyNumber,
    amountUnits: anyNumber,
    source: fc.constantFrom(...LOSS_COVER_SOURCES),
  }),
  fc.record({
    kind: fc.constant("fundInsurance" as const),
    ...stamp,
    assetId: anyNumber,
    wallet: fc.constantFrom(...INSURANCE_FUNDING_WALLETS),
    amountUnits: anyNumber,
    txId: anyString,
  }),
);

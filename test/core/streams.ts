// Random command streams for the property tests: a couple of assets and markets with small tick
// and lot numbers and varied fees and self-trade policies, a handful of funded users, then random
// orders of every type (with invalid values now and then), cancels, balance changes,
// suspensions, and custody's deposits (duplicates too), withdrawal holds, settles, releases and
// wallet movements, biased so that books cross often. The ops come from the shared generator
// (test/support/command-stream.ts) under CORE_PROFILE; the setup is drawn by fast-check here.

import fc from "fast-check";
import type {
  Command,
  InsuranceFundingWallet,
  LossCoverSource,
  OrderType,
  TimeInForce,
  UnstampedCommand,
  WalletAccount,
} from "../../src/core/commands.ts";
import type { CoreLimits, MarketConfig, SelfTradePrevention } from "../../src/core/config.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import type { CoreMachine } from "../../src/core/state-view.ts";
import {
  chance,
  constant,
  type OpKind,
  oneOf,
  opsArb,
  range,
  type StrayField,
  type StreamProfile,
  splitBatches,
  stampStream,
  weighted,
} from "../support/command-stream.ts";

const USERS = [1, 2, 3, 4];
const STPS: SelfTradePrevention[] = ["cancelResting", "cancelIncoming", "cancelBoth"];

// ---- market configs: small numbers, so books cross often and every bound is reachable ------------

const marketArb = (marketId: number, symbol: string, baseAssetId: number, quoteAssetId: number) =>
  fc
    .record({
      lotSizeBaseUnits: fc.constantFrom(1, 3, 100, 1000),
      quoteUnitsPerTickLot: fc.constantFrom(1, 7, 10),
      minPriceTicks: fc.constantFrom(1, 5),
      maxPriceTicks: fc.constantFrom(25, 40),
      maxQuantityLots: fc.constantFrom(12, 50),
      minNotionalUnits: fc.constantFrom(0, 0, 30),
      maxNotionalUnits: fc.constantFrom(1_000_000_000, 1_000_000_000, 2_000),
      makerFeePpm: fc.constantFrom(0, 1_000, 2_500, 333_333, 999_999),
      takerFeePpm: fc.constantFrom(0, 2_000, 7_777, 500_000, 999_999),
      stopBuySlippageBps: fc.constantFrom(0, 333, 500, 10_000),
      selfTradePrevention: fc.constantFrom(...STPS),
    })
    .map(
      (r): MarketConfig => ({
        marketId,
        symbol,
        baseAssetId,
        quoteAssetId,
        minQuantityLots: 1,
        ...r,
      }),
    );

// ---- commands: the shared generator (test/support/command-stream.ts) with this profile --------------

/** Mostly the funded users; now and then one that does not exist or is out of range. */
const user = weighted([30, oneOf(...USERS)], [1, oneOf(0, 5, 0x8000_0000)]);
/** Both prices (limit and trigger) from one band, with out-of-range and fractional ticks now and then. */
const price = weighted([30, range(8, 22)], [2, range(1, 40)], [1, oneOf(0, -1, 41, 10.5)]);
const validUser = oneOf(...USERS);

const CORE_PROFILE: StreamProfile = {
  kind: weighted<OpKind>(
    [62, constant("place")],
    [5, constant("cancel")],
    [2, constant("cancelAll")],
    [3, constant("cancelByClientId")],
    [6, constant("adjust")],
    [1, constant("marketStatus")],
    [3, constant("deposit")],
    [3, constant("withdrawHold")],
    [2, constant("withdrawSettle")],
    [1, constant("withdrawRelease")],
    [2, constant("walletMove")],
    [1, constant("insuranceFund")],
    [1, constant("lossCover")],
  ),
  // Sequences need only increase: leave a gap now and then.
  gap: weighted([77, constant(1)], [2, constant(3)]),
  stepMs: constant(7),
  place: {
    user,
    market: weighted([30, oneOf(1, 2)], [1, oneOf(0, 3)]),
    orderType: weighted<OrderType>(
      [14, constant("limit")],
      [3, constant("market")],
      [3, constant("marketTotal")],
      [4, constant("stopMarket")],
    ),
    buyPrice: price,
    sellPrice: price,
    trigger: price,
    lots: weighted([30, range(1, 8)], [3, range(9, 50)], [1, oneOf(0, 51, 2.5)]),
    quote: weighted([20, range(1, 3_000)], [10, range(1_000, 300_000)], [1, oneOf(0, 29, 2_001, 1.5)]),
    tif: weighted<TimeInForce>([10, constant("gtc")], [2, constant("ioc")], [2, constant("fok")]),
    postOnly: chance(1 / 7),
    clientOrderId: weighted([20, range(0, 3)], [1, constant(-1)]),
    selfTradePrevention: weighted<SelfTradePrevention | null>([4, constant(null)], [3, oneOf(...STPS)]),
    stray: weighted<StrayField | null>(
      [25, constant(null)],
      [1, oneOf<StrayField>("price", "lots", "quote", "trigger", "tif", "postOnly")],
    ),
  },
  cancel: { user: validUser, back: range(1, 25), ownerShare: 0 },
  cancelAll: { user: validUser, market: oneOf(0, 0, 1, 2, 3) },
  cancelByClientId: { user: validUser, market: oneOf(0, 1, 2, 3), clientOrderId: oneOf(0, 1, 1, 2, 3) },
  adjust: {
    user,
    asset: weighted([20, oneOf(1, 2, 3)], [1, constant(4)]),
    amount: weighted(
      [10, range(1, 200_000)],
      [6, range(-200_000, -1)],
      [1, oneOf(0, 0.5, -1_000_000_000_000)],
    ),
    reason: weighted([20, constant("ops")], [1, constant("")]),
  },
  marketStatus: {
    market: oneOf(1, 2, 3),
    status: oneOf<"active" | "suspended">("active", "active", "active", "suspended"),
    resumeNext: false,
  },
  wallet: {
    user,
    asset: weighted([20, oneOf(1, 2, 3)], [1, oneOf(0, 4)]),
    amount: weighted(
      [10, range(1, 100_000)],
      [4, range(100_000, 3_000_000)],
      [1, oneOf(0, -5, 1.5, 2 ** 53)],
    ),
    // Few chains and transactions: the same deposit comes again; now and then a malformed one.
    chain: weighted([20, oneOf("btc", "eth")], [1, oneOf("", "BTC", "a:b")]),
    txId: weighted([20, oneOf("tx1", "tx2", "0xabc")], [1, oneOf("", "t x", "x".repeat(129))]),
    outputIndex: weighted([20, range(0, 2)], [1, oneOf(-1, 0.5, 2 ** 32)]),
    withdrawalId: weighted([20, range(1, 6)], [1, oneOf(0, -1, 1.5)]),
    fee: weighted([10, constant(0)], [10, range(1, 500)], [1, oneOf(-1, 0.5, 10_000_000)]),
    from: weighted<WalletAccount>(
      [20, oneOf<WalletAccount>("walletDepositAddresses", "walletHot", "walletCold", "walletInFlight")],
      [1, oneOf("networkFees", "bogus" as WalletAccount)],
    ),
    to: weighted<WalletAccount>(
      [20, oneOf<WalletAccount>("walletHot", "walletCold", "walletInFlight", "networkFees")],
      [1, oneOf("walletDepositAddresses", "bogus" as WalletAccount)],
    ),
  },
  lossCover: {
    // Few incidents: a second cover of the same (incident, asset) comes now and then.
    incidentId: weighted([20, range(1, 4)], [1, oneOf(0, -1, 1.5)]),
    asset: weighted([20, oneOf(1, 2, 3)], [1, oneOf(0, 4)]),
    amount: weighted([10, range(1, 50_000)], [3, range(50_000, 3_000_000)], [1, oneOf(0, -5, 1.5, 2 ** 53)]),
    source: weighted<LossCoverSource>(
      [20, oneOf<LossCoverSource>("insuranceFund", "operatorEquity")],
      [1, constant("fees" as LossCoverSource)],
    ),
    wallet: weighted<InsuranceFundingWallet>(
      [20, oneOf<InsuranceFundingWallet>("walletHot", "walletCold")],
      [1, constant("walletInFlight" as InsuranceFundingWallet)],
    ),
    txId: weighted([20, oneOf("", "f1")], [1, constant("t x")]),
  },
};

/** Setup (assets, markets, a few operator mistakes, funding) followed by random commands. */
export const streamArb: fc.Arbitrary<Command[]> = fc
  .record({
    m1: marketArb(1, "AAA_BBB", 1, 2),
    m2: marketArb(2, "CCC_BBB", 3, 2),
    // One deposit per user and asset (0: none), most of them large enough to trade a while.
    funding: fc.array(fc.constantFrom(0, 700, 20_000, 200_000, 2_000_000, 2_000_000), {
      minLength: USERS.length * 3,
      maxLength: USERS.length * 3,
    }),
    ops: opsArb(CORE_PROFILE, { minLength: 1, maxLength: 250 }),
    // Signed requests' nonce stamps (src/core/engine/api-nonces.ts) on some orders and cancels:
    // two keys, small nonces, so replays and reorderings (staleNonce) happen often.
    nonceStamps: fc.array(
      fc.option(
        fc.record({ keyId: fc.constantFrom("K-one", "K-two"), nonce: fc.integer({ min: 1, max: 60 }) }),
        { nil: undefined, freq: 2 },
      ),
      { maxLength: 250 },
    ),
  })
  .map(({ m1, m2, funding, ops, nonceStamps }) => {
    const setup: UnstampedCommand[] = [
      { kind: "addAsset", asset: { assetId: 1, code: "AAA", scale: 2 } },
      { kind: "addAsset", asset: { assetId: 2, code: "BBB", scale: 8 } },
      { kind: "addAsset", asset: { assetId: 3, code: "AAA", scale: 8 } }, // duplicate code
      { kind: "addAsset", asset: { assetId: 4, code: "CCC", scale: 8 } }, // not dense
      { kind: "addAsset", asset: { assetId: 3, code: "CCC", scale: 0 } },
      { kind: "addMarket", market: m1 },
      { kind: "addMarket", market: { ...m2, symbol: "AAA_BBB" } }, // duplicate symbol
      { kind: "addMarket", market: m2 },
      ...funding.flatMap((amountUnits, index): UnstampedCommand[] =>
        amountUnits === 0
          ? []
          : [
              {
                kind: "adjustBalance",
                userId: USERS[index % USERS.length],
                assetId: 1 + Math.floor(index / USERS.length),
                amountUnits,
                reason: "deposit",
              },
            ],
      ),
    ];
    const commands = stampStream(CORE_PROFILE, setup, ops, { startMs: 1_000_000, setupStepMs: 7 });
    return commands.map((command, index) => {
      const nonce = nonceStamps[index % Math.max(1, nonceStamps.length)];
      if (nonce === undefined) return command;
      switch (command.kind) {
        case "placeOrder":
        case "cancelOrder":
        case "cancelAll":
        case "cancelByClientId":
          return { ...command, nonce };
        default:
          return command;
      }
    });
  });

/** Cut the stream into batches of the given sizes (cycled). */
export function split(commands: Command[], sizes: number[]): Command[][] {
  return splitBatches(commands, sizes, "cycle");
}

/** Mostly the default limits; now and then small ones, so that every limit rejection happens. */
export const limitsArb: fc.Arbitrary<Partial<CoreLimits>> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc.record({
      maxUsers: fc.integer({ min: 2, max: 5 }),
      maxOpenOrdersPerUser: fc.integer({ min: 1, max: 8 }),
      maxStopOrdersPerMarket: fc.integer({ min: 1, max: 4 }),
      maxOpenOrders: fc.integer({ min: 2, max: 20 }),
      maxPendingWithdrawals: fc.integer({ min: 1, max: 3 }),
      maxDepositKeys: fc.integer({ min: 1, max: 4 }),
    }),
  },
);

export const batchSizesArb = fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 0, maxLength: 6 });

export function applyAll(machine: CoreMachine, commands: Command[]): CoreEvent[] {
  const events: CoreEvent[] = [];
  machine.applyBatch(commands, events);
  return events;
}

// The one random command stream generator of the tests. A `StreamProfile` says what to draw (users,
// markets, price bands, the weight of every command kind, how often a value is invalid); one
// function draws an op from it with the seeded PRNG of src/lib/prng.ts; one function stamps ops
// into commands. Three ways to drive it, for the three kinds of user:
//
//   opsArb(profile, …)           fast-check property tests (core, market data): fast-check draws a
//                                seed per op, so a failure replays from fast-check's seed and
//                                shrinks by dropping ops.
//   seededOps(profile, seed, n)  one seeded run (store tests, projector benchmark).
//   commandAt(profile, …, n)     random access: command n is a pure function of (seed, n), so a
//                                restarted process continues the stream (runtime and crash tests).
//
// Each user keeps its own profile and setup (assets, markets, funding) next to its tests:
// test/core/streams.ts, test/marketdata/streams.ts, test/runtime/command-stream.ts,
// test/store/core-stream.ts.

import fc from "fast-check";
import type {
  Command,
  InsuranceFundingWallet,
  LossCoverSource,
  OrderType,
  PlaceOrderCommand,
  TimeInForce,
  UnstampedCommand,
  WalletAccount,
} from "../../src/core/commands.ts";
import type { SelfTradePrevention } from "../../src/core/config.ts";
import { Prng, seedFor } from "../../src/lib/prng.ts";

// ---- distributions -------------------------------------------------------------------------------

/** A way to draw a value. */
export type Dist<T> = (prng: Prng) => T;

export const constant =
  <T>(value: T): Dist<T> =>
  () =>
    value;

/** A uniform integer in [min, max]. */
export const range =
  (min: number, max: number): Dist<number> =>
  (prng) =>
    prng.int(min, max);

/** One of the values, uniformly (repeat a value to weigh it). */
export const oneOf =
  <T>(...values: T[]): Dist<T> =>
  (prng) =>
    prng.pick(values);

/** True with probability p. */
export const chance =
  (p: number): Dist<boolean> =>
  (prng) =>
    prng.chance(p);

/** One of the distributions, chosen with probability proportional to its weight. */
export function weighted<T>(...choices: [weight: number, dist: Dist<T>][]): Dist<T> {
  const total = choices.reduce((sum, [weight]) => sum + weight, 0);
  return (prng) => {
    let roll = prng.next() * total;
    for (const [weight, dist] of choices) {
      if (roll < weight) return dist(prng);
      roll -= weight;
    }
    return choices[choices.length - 1][1](prng);
  };
}

// ---- profile -------------------------------------------------------------------------------------

export type OpKind =
  | "place"
  | "cancel"
  | "cancelAll"
  | "cancelByClientId"
  | "adjust"
  | "marketStatus"
  // Custody's commands (profile.wallet):
  | "deposit"
  | "withdrawHold"
  | "withdrawSettle"
  | "withdrawRelease"
  | "walletMove"
  // Breach containment's commands (profile.lossCover):
  | "insuranceFund"
  | "lossCover";
/** A field set that does not belong to the order type, so the core must answer invalidCommand. */
export type StrayField = "price" | "lots" | "quote" | "trigger" | "tif" | "postOnly";

export interface StreamProfile {
  kind: Dist<OpKind>;
  /** Sequence step before a command: 1, or more to leave a gap (sequences need only increase). Default 1. */
  gap?: Dist<number>;
  /** Milliseconds the clock moves before a command. Default 0. */
  stepMs?: Dist<number>;
  place: {
    user: Dist<number>;
    market: Dist<number>;
    orderType: Dist<OrderType>;
    /** Limit prices (ticks) of buys and of sells: overlapping bands make books cross. */
    buyPrice: Dist<number>;
    sellPrice: Dist<number>;
    trigger: Dist<number>;
    lots: Dist<number>;
    quote: Dist<number>;
    /** Limit orders only; the others are gtc. */
    tif: Dist<TimeInForce>;
    /** Limit gtc orders only. */
    postOnly: Dist<boolean>;
    clientOrderId: Dist<number>;
    selfTradePrevention: Dist<SelfTradePrevention | null>;
    /** Default: never. */
    stray?: Dist<StrayField | null>;
  };
  cancel: {
    user: Dist<number>;
    /** The order to cancel: the one placed by the command this many commands back. */
    back: Dist<number>;
    /** Share of cancels sent by that order's owner (the others by `user`). */
    ownerShare: number;
  };
  cancelAll: { user: Dist<number>; market: Dist<number> };
  cancelByClientId: { user: Dist<number>; market: Dist<number>; clientOrderId: Dist<number> };
  /** Required when `kind` draws "adjust". */
  adjust?: { user: Dist<number>; asset: Dist<number>; amount: Dist<number>; reason: Dist<string> };
  /** Required when `kind` draws "marketStatus". */
  marketStatus?: {
    market: Dist<number>;
    status: Dist<"active" | "suspended">;
    /** A suspension is followed at once by a resume (stampStream only). */
    resumeNext: boolean;
  };
  /** Required when `kind` draws a custody kind (deposit, withdraw*, walletMove). */
  wallet?: {
    user: Dist<number>;
    asset: Dist<number>;
    amount: Dist<number>;
    /** Small sets, so that the same chain + tx + output comes again (a duplicate deposit). */
    chain: Dist<string>;
    txId: Dist<string>;
    outputIndex: Dist<number>;
    /** Small range, so settles and releases find holds, and ids repeat while pending. */
    withdrawalId: Dist<number>;
    fee: Dist<number>;
    from: Dist<WalletAccount>;
    to: Dist<WalletAccount>;
  };
  /** Required when `kind` draws insuranceFund or lossCover. */
  lossCover?: {
    incidentId: Dist<number>;
    asset: Dist<number>;
    amount: Dist<number>;
    source: Dist<LossCoverSource>;
    wallet: Dist<InsuranceFundingWallet>;
    txId: Dist<string>;
  };
}

// ---- ops -----------------------------------------------------------------------------------------

/** A drawn command before stamping. A cancelOrder's order id is resolved by stamping, from `back`. */
export interface Op {
  command: UnstampedCommand;
  gap: number;
  stepMs: number;
  /** cancelOrder: the order placed by the command this many commands back. */
  back: number;
  /** cancelOrder: sent by that order's owner. */
  byOwner: boolean;
}

const ONE: Dist<number> = constant(1);
const ZERO: Dist<number> = constant(0);

/** One random op of the profile. */
function randomOp(profile: StreamProfile, prng: Prng): Op {
  const gap = (profile.gap ?? ONE)(prng);
  const stepMs = (profile.stepMs ?? ZERO)(prng);
  const op = (command: UnstampedCommand, back = 0, byOwner = false): Op => ({
    command,
    gap,
    stepMs,
    back,
    byOwner,
  });
  switch (profile.kind(prng)) {
    case "place":
      return op(placeOrder(profile.place, prng));
    case "cancel": {
      const { user, back, ownerShare } = profile.cancel;
      const command: UnstampedCommand = { kind: "cancelOrder", userId: user(prng), orderId: 0 };
      return op(command, back(prng), prng.chance(ownerShare));
    }
    case "cancelAll": {
      const { user, market } = profile.cancelAll;
      return op({ kind: "cancelAll", userId: user(prng), marketId: market(prng) });
    }
    case "cancelByClientId": {
      const { user, market, clientOrderId } = profile.cancelByClientId;
      return op({
        kind: "cancelByClientId",
        userId: user(prng),
        marketId: market(prng),
        clientOrderId: clientOrderId(prng),
      });
    }
    case "adjust": {
      if (profile.adjust === undefined) throw new Error("profile draws adjust but has none");
      const { user, asset, amount, reason } = profile.adjust;
      return op({
        kind: "adjustBalance",
        userId: user(prng),
        assetId: asset(prng),
        amountUnits: amount(prng),
        reason: reason(prng),
      });
    }
    case "marketStatus": {
      if (profile.marketStatus === undefined) throw new Error("profile draws marketStatus but has none");
      const { market, status } = profile.marketStatus;
      return op({ kind: "setMarketStatus", marketId: market(prng), status: status(prng) });
    }
    case "deposit": {
      const w = walletOf(profile);
      return op({
        kind: "creditDeposit",
        userId: w.user(prng),
        assetId: w.asset(prng),
        amountUnits: w.amount(prng),
        chain: w.chain(prng),
        txId: w.txId(prng),
        outputIndex: w.outputIndex(prng),
      });
    }
    case "withdrawHold": {
      const w = walletOf(profile);
      return op({
        kind: "holdWithdrawal",
        withdrawalId: w.withdrawalId(prng),
        userId: w.user(prng),
        assetId: w.asset(prng),
        amountUnits: w.amount(prng),
        feeUnits: w.fee(prng),
      });
    }
    case "withdrawSettle":
      return op({ kind: "settleWithdrawal", withdrawalId: walletOf(profile).withdrawalId(prng) });
    case "withdrawRelease":
      return op({ kind: "releaseWithdrawal", withdrawalId: walletOf(profile).withdrawalId(prng) });
    case "walletMove": {
      const w = walletOf(profile);
      return op({
        kind: "recordWalletMovement",
        assetId: w.asset(prng),
        from: w.from(prng),
        to: w.to(prng),
        amountUnits: w.amount(prng),
        txId: w.txId(prng),
      });
    }
    case "insuranceFund": {
      const l = lossCoverOf(profile);
      return op({
        kind: "fundInsurance",
        assetId: l.asset(prng),
        wallet: l.wallet(prng),
        amountUnits: l.amount(prng),
        txId: l.txId(prng),
      });
    }
    case "lossCover": {
      const l = lossCoverOf(profile);
      return op({
        kind: "coverIncidentLoss",
        incidentId: l.incidentId(prng),
        assetId: l.asset(prng),
        amountUnits: l.amount(prng),
        source: l.source(prng),
      });
    }
  }
}

function lossCoverOf(profile: StreamProfile): NonNullable<StreamProfile["lossCover"]> {
  if (profile.lossCover === undefined)
    throw new Error("profile draws a loss cover command but has no lossCover");
  return profile.lossCover;
}

function walletOf(profile: StreamProfile): NonNullable<StreamProfile["wallet"]> {
  if (profile.wallet === undefined) throw new Error("profile draws a custody command but has no wallet");
  return profile.wallet;
}

function placeOrder(place: StreamProfile["place"], prng: Prng): UnstampedCommand {
  const userId = place.user(prng);
  const marketId = place.market(prng);
  const side = prng.chance(0.5) ? "buy" : "sell";
  const type = place.orderType(prng);
  const limit = type === "limit";
  const tif = limit ? place.tif(prng) : "gtc";
  const command: Omit<PlaceOrderCommand, "sequence" | "timestampMs"> = {
    kind: "placeOrder",
    userId,
    marketId,
    side,
    orderType: type,
    priceTicks: limit ? (side === "buy" ? place.buyPrice(prng) : place.sellPrice(prng)) : 0,
    quantityLots: type === "marketTotal" ? 0 : place.lots(prng),
    quoteAmountUnits: type === "marketTotal" ? place.quote(prng) : 0,
    triggerPriceTicks: type === "stopMarket" ? place.trigger(prng) : 0,
    timeInForce: tif,
    postOnly: limit && tif === "gtc" ? place.postOnly(prng) : false,
    clientOrderId: place.clientOrderId(prng),
    selfTradePrevention: place.selfTradePrevention(prng),
  };
  const stray = place.stray?.(prng) ?? null;
  if (stray === "price") command.priceTicks = 12;
  if (stray === "lots") command.quantityLots = 3;
  if (stray === "quote") command.quoteAmountUnits = 100;
  if (stray === "trigger") command.triggerPriceTicks = 12;
  if (stray === "tif") command.timeInForce = "ioc";
  if (stray === "postOnly") command.postOnly = true;
  // Some orders carry a client order text (the Binance dialect's), a few an over-long one the
  // cores must both refuse; derived from the client id so existing seeds draw the same numbers.
  if (command.clientOrderId % 7 === 3) command.clientOrderText = `text-${command.clientOrderId}`;
  if (command.clientOrderId % 97 === 5) command.clientOrderText = "x".repeat(37);
  return command;
}

/** The cancel `op` (the command at `sequence`) aimed at `target`, the command at `targetSequence`. */
function resolveCancel(
  op: Op,
  sequence: number,
  targetSequence: number | undefined,
  target: UnstampedCommand | undefined,
): UnstampedCommand {
  if (op.command.kind !== "cancelOrder") return op.command;
  const userId = op.byOwner && target?.kind === "placeOrder" ? target.userId : op.command.userId;
  return { kind: "cancelOrder", userId, orderId: targetSequence ?? Math.max(1, sequence - op.back) };
}

// ---- drivers -------------------------------------------------------------------------------------

/** fast-check: a list of ops, one drawn seed each; shrinking drops ops. */
export function opsArb(
  profile: StreamProfile,
  constraints: { minLength?: number; maxLength: number },
): fc.Arbitrary<Op[]> {
  // No bias: fast-check's small seeds would repeat the same ops.
  return fc
    .array(fc.noBias(fc.nat()), { ...constraints, size: "max" })
    .map((seeds) => seeds.map((seed) => randomOp(profile, new Prng(seed))));
}

/** `count` ops of one seeded run. */
export function seededOps(profile: StreamProfile, seed: number, count: number): Op[] {
  const prng = new Prng(seed);
  return Array.from({ length: count }, () => randomOp(profile, prng));
}

/**
 * Command number `sequence` (1-based) of an endless stream: `setup` first, then random ops, each a
 * pure function of (seed, sequence). Sequences have no gaps here (the profile's gap is ignored).
 */
export function commandAt(
  profile: StreamProfile,
  setup: readonly UnstampedCommand[],
  seed: number,
  sequence: number,
): UnstampedCommand {
  if (sequence <= setup.length) return setup[sequence - 1];
  const op = randomOp(profile, new Prng(seedFor(seed, sequence)));
  if (op.command.kind !== "cancelOrder") return op.command;
  const targetSequence = Math.max(1, sequence - op.back);
  const target =
    targetSequence <= setup.length
      ? setup[targetSequence - 1]
      : randomOp(profile, new Prng(seedFor(seed, targetSequence))).command;
  return resolveCancel(op, sequence, targetSequence, target);
}

export interface StampOptions {
  /** Time of the first command, before any step. */
  startMs: number;
  /** Milliseconds before each setup command. Default 0. */
  setupStepMs?: number;
}

/** Setup commands then the ops, stamped with sequences from 1 and the clock; cancels resolved. */
export function stampStream(
  profile: StreamProfile,
  setup: readonly UnstampedCommand[],
  ops: readonly Op[],
  options: StampOptions,
): Command[] {
  const commands: Command[] = [];
  let sequence = 0;
  let timestampMs = options.startMs;
  // Spreading a member of the Omit<…> union loses its link to the matching Command member.
  const push = (command: UnstampedCommand) => commands.push({ ...command, sequence, timestampMs } as Command);
  for (const command of setup) {
    sequence += 1;
    timestampMs += options.setupStepMs ?? 0;
    push(command);
  }
  for (const op of ops) {
    sequence += op.gap;
    timestampMs += op.stepMs;
    // Further back than the stream goes: the first command (as commandAt clamps to sequence 1).
    const target =
      op.command.kind === "cancelOrder" ? commands[Math.max(0, commands.length - op.back)] : undefined;
    push(resolveCancel(op, sequence, target?.sequence, target));
    const { command } = op;
    if (
      command.kind === "setMarketStatus" &&
      command.status === "suspended" &&
      profile.marketStatus?.resumeNext
    ) {
      sequence += 1;
      push({ kind: "setMarketStatus", marketId: command.marketId, status: "active" });
    }
  }
  return commands;
}

/**
 * Cuts commands into batches of the given sizes; past the list, `rest` says whether the sizes
 * repeat or one batch takes what is left. No sizes: one batch.
 */
export function splitBatches(
  commands: readonly Command[],
  sizes: readonly number[],
  rest: "cycle" | "remainder",
): Command[][] {
  const batches: Command[][] = [];
  let at = 0;
  for (let index = 0; at < commands.length; index++) {
    const size =
      sizes.length === 0 || (rest === "remainder" && index >= sizes.length)
        ? commands.length
        : sizes[index % sizes.length];
    batches.push(commands.slice(at, at + size));
    at += size;
  }
  return batches;
}

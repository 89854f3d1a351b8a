// The order form's arithmetic, exact: every price, quantity, total, fee and balance is a decimal
// string turned into a scaled bigint (`Dec`), never a float. Pure functions, tested in
// test/web/order-math.test.ts.

/** An exact decimal: `units × 10^−scale`. */
export interface Dec {
  units: bigint;
  scale: number;
}

/** What pair_settings answers for one pair (docs/API.md#pair-settings). */
export interface PairSettings {
  min_quantity: string;
  max_quantity: string;
  min_price: string;
  max_price: string;
  min_amount: string;
  max_amount: string;
  price_precision: number;
  commission_taker_percent: string;
  commission_maker_percent: string;
}

export type Side = "buy" | "sell";
/** limit; market by base amount; market by quote total (EXMO's `_total` types); stop-market. */
export type OrderKind = "limit" | "market" | "marketTotal" | "stop";
/** A limit order's time in force: `gtc` sends no exec_type; the others are docs/API.md's exec_type values. */
export type ExecType = "gtc" | "post_only" | "ioc" | "fok";

/** Longest digit run a field may hold on either side of the point (the API's own bound is 40). */
const MAX_DIGITS = 30;
const DECIMAL = /^(\d{1,30})(?:\.(\d{1,30}))?$/;

/** A non-negative decimal as typed (a leading or trailing point allowed: ".5", "5."); null when it is not one. */
export function parseDec(text: string): Dec | null {
  let trimmed = text.trim();
  if (trimmed === ".") return null;
  if (trimmed.startsWith(".")) trimmed = `0${trimmed}`;
  if (trimmed.endsWith(".")) trimmed = trimmed.slice(0, -1);
  if (trimmed.length > 2 * MAX_DIGITS + 1) return null;
  const match = DECIMAL.exec(trimmed);
  if (match === null) return null;
  const fraction = match[2] ?? "";
  return { units: BigInt(match[1] + fraction), scale: fraction.length };
}

/** The decimal written shortest: no trailing zeros after the point, "0" for zero. */
export function formatDec(value: Dec): string {
  const negative = value.units < 0n;
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, "0");
  let whole = digits.slice(0, digits.length - value.scale);
  let fraction = value.scale === 0 ? "" : digits.slice(digits.length - value.scale);
  fraction = fraction.replace(/0+$/, "");
  whole = whole === "" ? "0" : whole;
  const text = fraction === "" ? whole : `${whole}.${fraction}`;
  return negative && text !== "0" ? `-${text}` : text;
}

/** The decimal written with exactly `scale` places (padded, or cut — callers round first). */
export function formatFixed(value: Dec, scale: number): string {
  const at = rescale(value, Math.max(scale, value.scale));
  const text = formatDec(at);
  if (scale === 0) return text.split(".")[0];
  const [whole, fraction = ""] = text.split(".");
  return `${whole}.${fraction.padEnd(scale, "0").slice(0, scale)}`;
}

function rescale(value: Dec, scale: number): Dec {
  if (scale < value.scale) throw new Error("rescale would lose digits");
  return { units: value.units * 10n ** BigInt(scale - value.scale), scale };
}

function common(a: Dec, b: Dec): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [rescale(a, scale).units, rescale(b, scale).units, scale];
}

export function compareDec(a: Dec, b: Dec): number {
  const [x, y] = common(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function addDec(a: Dec, b: Dec): Dec {
  const [x, y, scale] = common(a, b);
  return { units: x + y, scale };
}

export function subDec(a: Dec, b: Dec): Dec {
  const [x, y, scale] = common(a, b);
  return { units: x - y, scale };
}

export function mulDec(a: Dec, b: Dec): Dec {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

/** `value × percent / 100`, exact (a percent is two more decimals). */
export function percentOf(value: Dec, percent: Dec): Dec {
  return { units: value.units * percent.units, scale: value.scale + percent.scale + 2 };
}

/** One step of `decimals` places: 0.01 for 2. */
export function stepOf(decimals: number): Dec {
  return { units: 1n, scale: decimals };
}

/** The largest whole multiple of `step` that is ≤ `value` (value ≥ 0, step > 0). */
export function floorTo(value: Dec, step: Dec): Dec {
  const [x, s, scale] = common(value, step);
  return { units: (x / s) * s, scale };
}

/** The smallest whole multiple of `step` that is ≥ `value` (value ≥ 0, step > 0). */
export function ceilTo(value: Dec, step: Dec): Dec {
  const [x, s, scale] = common(value, step);
  return { units: ((x + s - 1n) / s) * s, scale };
}

/** The largest multiple q of `step` with q × `divisor` ≤ `budget` (all > 0): how much `budget` buys at a price. */
export function affordable(budget: Dec, divisor: Dec, step: Dec): Dec {
  // q = k·step; k·step·divisor ≤ budget ⇔ k ≤ budget / (step·divisor).
  const unitCost = mulDec(step, divisor);
  const [b, c] = common(budget, unitCost);
  if (c <= 0n) return { units: 0n, scale: step.scale };
  return { units: (b / c) * step.units, scale: step.scale };
}

/** Decimal places of a decimal text ("0.0001" → 4). */
export function placesOf(text: string): number {
  const parsed = parseDec(text);
  return parsed === null ? 0 : (formatDec(parsed).split(".")[1]?.length ?? 0);
}

/**
 * The pair's quantity step. pair_settings has no lot field (docs/API.md#pair-settings); the
 * minimum quantity is a whole number of lots, so its last decimal place is the step the form
 * keeps to ("0.0001" → 0.0001). A lot finer than that is still refused by the server in words.
 */
export function quantityStep(settings: PairSettings): Dec {
  return stepOf(placesOf(settings.min_quantity));
}

export function priceTick(settings: PairSettings): Dec {
  return stepOf(settings.price_precision);
}

/** Quote amounts (totals) are kept to the price's decimals: the finest a limit total needs per lot. */
export function totalStep(settings: PairSettings): Dec {
  return stepOf(settings.price_precision);
}

/** What the person has typed or picked. */
export interface OrderDraft {
  side: Side;
  kind: OrderKind;
  execType: ExecType;
  /** Limit price, or the stop's trigger price. */
  priceText: string;
  /** Base quantity (limit, market, stop). */
  quantityText: string;
  /** Quote money to spend or receive (marketTotal). */
  totalText: string;
}

/** Available balances of the pair's two currencies, as user_info writes them. */
export interface Available {
  base: string;
  quote: string;
}

export interface OrderPreview {
  /** Quote money the order spends (buy) or receives before fees (sell); null when not known in advance. */
  total: Dec | null;
  /** Taker fee, in what the person receives (base on a buy, quote on a sell); null when not known. */
  fee: Dec | null;
  feeCurrency: "base" | "quote";
}

export type OrderCheck =
  | { ok: true; method: "order_create" | "stop_market_order_create"; params: Record<string, string> }
  | { ok: false; message: string };

function limitCheck(name: string, value: Dec, min: string, max: string, unit: string): string | null {
  const low = parseDec(min);
  const high = parseDec(max);
  if (low !== null && compareDec(value, low) < 0) return `${name} is below the minimum of ${min} ${unit}`;
  if (high !== null && compareDec(value, high) > 0) return `${name} is above the maximum of ${max} ${unit}`;
  return null;
}

function decimalsCheck(name: string, value: Dec, step: Dec): string | null {
  if (compareDec(floorTo(value, step), value) !== 0)
    return `${name} has too many decimals: at most ${step.scale} (steps of ${formatDec(step)})`;
  return null;
}

/** The exact total and fee of a draft, for the preview (no validation: what can be known). */
export function previewOrder(
  draft: OrderDraft,
  settings: PairSettings,
  referencePrice: string | null,
): OrderPreview {
  const feeCurrency = draft.side === "buy" ? "base" : "quote";
  const taker = parseDec(settings.commission_taker_percent);
  const quantity = parseDec(draft.quantityText);
  let total: Dec | null = null;
  if (draft.kind === "marketTotal") total = parseDec(draft.totalText);
  else {
    const price = draft.kind === "market" ? parseDec(referencePrice ?? "") : parseDec(draft.priceText);
    if (price !== null && quantity !== null) total = mulDec(price, quantity);
  }
  let fee: Dec | null = null;
  if (taker !== null) {
    if (draft.side === "sell" && total !== null) fee = percentOf(total, taker);
    if (draft.side === "buy") {
      if (draft.kind !== "marketTotal" && quantity !== null) fee = percentOf(quantity, taker);
      else if (draft.kind === "marketTotal" && total !== null) {
        const price = parseDec(referencePrice ?? "");
        // Base received ≈ total / price; the fee on it, to the quantity step, is an estimate.
        if (price !== null && price.units > 0n)
          fee = percentOf(affordable(total, price, stepOf(placesOf(settings.min_quantity) + 2)), taker);
      }
    }
  }
  return { total, fee, feeCurrency };
}

/**
 * Validates a draft against the pair's limits and the available balance and, when it passes,
 * returns the exact API call (docs/API.md#order-create, #stop-market-orders). Messages are in words.
 * `referencePrice` (best opposite price) is used only to check a market order's balance roughly: the
 * server holds the exact amount and refuses with 50052 in words if it is short.
 */
export function checkOrder(
  pair: string,
  draft: OrderDraft,
  settings: PairSettings,
  available: Available,
  referencePrice: string | null,
): OrderCheck {
  const base = parseDec(available.base) ?? { units: 0n, scale: 0 };
  const quote = parseDec(available.quote) ?? { units: 0n, scale: 0 };
  const insufficient = (currency: string) => ({
    ok: false as const,
    message: `Insufficient funds: not enough ${currency} available`,
  });
  const [baseCode, quoteCode] = pair.split("_");

  if (draft.kind === "marketTotal") {
    const total = parseDec(draft.totalText);
    if (total === null || total.units === 0n)
      return { ok: false, message: `Enter the ${quoteCode} total as a positive number` };
    const problem =
      decimalsCheck("The total", total, totalStep(settings)) ??
      limitCheck("The total", total, settings.min_amount, settings.max_amount, quoteCode);
    if (problem !== null) return { ok: false, message: problem };
    if (draft.side === "buy" && compareDec(total, quote) > 0) return insufficient(quoteCode);
    if (draft.side === "sell") {
      const price = parseDec(referencePrice ?? "");
      if (price !== null && compareDec(total, mulDec(base, price)) > 0) return insufficient(baseCode);
    }
    return {
      ok: true,
      method: "order_create",
      params: { pair, type: `market_${draft.side}_total`, quantity: formatDec(total), price: "0" },
    };
  }

  const quantity = parseDec(draft.quantityText);
  if (quantity === null || quantity.units === 0n)
    return { ok: false, message: `Enter the ${baseCode} amount as a positive number` };
  const quantityProblem =
    decimalsCheck("The amount", quantity, quantityStep(settings)) ??
    limitCheck("The amount", quantity, settings.min_quantity, settings.max_quantity, baseCode);
  if (quantityProblem !== null) return { ok: false, message: quantityProblem };

  if (draft.kind === "market") {
    if (draft.side === "sell" && compareDec(quantity, base) > 0) return insufficient(baseCode);
    const price = parseDec(referencePrice ?? "");
    if (draft.side === "buy" && price !== null && compareDec(mulDec(quantity, price), quote) > 0)
      return insufficient(quoteCode);
    return {
      ok: true,
      method: "order_create",
      params: { pair, type: `market_${draft.side}`, quantity: formatDec(quantity), price: "0" },
    };
  }

  const priceName = draft.kind === "stop" ? "The trigger price" : "The price";
  const price = parseDec(draft.priceText);
  if (price === null || price.units === 0n)
    return { ok: false, message: `Enter ${priceName.toLowerCase()} as a positive number` };
  const priceProblem =
    decimalsCheck(priceName, price, priceTick(settings)) ??
    limitCheck(priceName, price, settings.min_price, settings.max_price, quoteCode);
  if (priceProblem !== null) return { ok: false, message: priceProblem };
  const total = mulDec(price, quantity);
  const totalProblem = limitCheck("The total", total, settings.min_amount, settings.max_amount, quoteCode);
  if (totalProblem !== null) return { ok: false, message: totalProblem };
  if (draft.side === "buy" && compareDec(total, quote) > 0) return insufficient(quoteCode);
  if (draft.side === "sell" && compareDec(quantity, base) > 0) return insufficient(baseCode);

  if (draft.kind === "stop")
    return {
      ok: true,
      method: "stop_market_order_create",
      params: { pair, type: draft.side, quantity: formatDec(quantity), trigger_price: formatDec(price) },
    };
  const params: Record<string, string> = {
    pair,
    type: draft.side,
    quantity: formatDec(quantity),
    price: formatDec(price),
  };
  if (draft.execType !== "gtc") params.exec_type = draft.execType;
  return { ok: true, method: "order_create", params };
}

/**
 * The slider: `percent` (0..100, whole) of the available balance of the paying currency, as the
 * field it fills, rounded DOWN to the pair's step so the order never asks for more than is there.
 * Buying by amount divides the quote budget by the price (limit/stop price, or the reference price
 * for a market order); null when that price is not known yet.
 */
export function sliderValue(
  percent: number,
  draft: OrderDraft,
  settings: PairSettings,
  available: Available,
  referencePrice: string | null,
): string | null {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) return null;
  const share: Dec = { units: BigInt(percent), scale: 2 };
  const base = parseDec(available.base) ?? { units: 0n, scale: 0 };
  const quote = parseDec(available.quote) ?? { units: 0n, scale: 0 };
  const step = quantityStep(settings);
  const price = parseDec(
    draft.kind === "limit" || draft.kind === "stop" ? draft.priceText : (referencePrice ?? ""),
  );
  if (draft.kind === "marketTotal") {
    if (draft.side === "buy") return formatDec(floorTo(mulDec(quote, share), totalStep(settings)));
    if (price === null) return null;
    return formatDec(floorTo(mulDec(mulDec(base, share), price), totalStep(settings)));
  }
  if (draft.side === "sell") return formatDec(floorTo(mulDec(base, share), step));
  if (price === null || price.units === 0n) return null;
  return formatDec(affordable(mulDec(quote, share), price, step));
}

// ---- the order book's price grouping --------------------------------------------------------

/** A book level as the API writes it: [price, quantity, amount]. */
export type BookLevel = [string, string, string];

/**
 * Levels merged into buckets of `step`: asks rounded UP (a bucket shows the worst price in it a
 * buyer pays), bids rounded DOWN; quantities and amounts summed exactly. Input sorted best-first;
 * output sorted best-first, at most `maxLevels`.
 */
export function groupLevels(
  levels: readonly BookLevel[],
  step: Dec,
  side: "ask" | "bid",
  maxLevels: number,
): BookLevel[] {
  const buckets = new Map<string, { price: Dec; quantity: Dec; amount: Dec }>();
  for (const [priceText, quantityText, amountText] of levels) {
    const price = parseDec(priceText);
    const quantity = parseDec(quantityText);
    const amount = parseDec(amountText);
    if (price === null || quantity === null || amount === null) continue;
    const bucketPrice = side === "ask" ? ceilTo(price, step) : floorTo(price, step);
    const key = formatFixed(bucketPrice, step.scale);
    const bucket = buckets.get(key);
    if (bucket === undefined) {
      if (buckets.size >= maxLevels) break;
      buckets.set(key, { price: bucketPrice, quantity, amount });
    } else {
      bucket.quantity = addDec(bucket.quantity, quantity);
      bucket.amount = addDec(bucket.amount, amount);
    }
  }
  return [...buckets.entries()].map(([key, bucket]) => [
    key,
    formatDec(bucket.quantity),
    formatDec(bucket.amount),
  ]);
}

/** Powers of ten above the tick that the book's grouping offers (0.01 … 10,000 for a cent tick). */
const GROUPING_POWERS = 6;

/** The grouping steps offered for a pair: its tick, then ×10 … ×10^GROUPING_POWERS. */
export function groupingSteps(pricePrecision: number): Dec[] {
  const steps: Dec[] = [];
  for (let power = 0; power <= GROUPING_POWERS; power++) {
    const scale = pricePrecision - power;
    steps.push(scale >= 0 ? stepOf(scale) : { units: 10n ** BigInt(-scale), scale: 0 });
  }
  return steps;
}

import { type FormEvent, useEffect, useId, useState } from "react";
import { ApiError, privateCall } from "../session.ts";
import {
  type Available,
  checkOrder,
  type ExecType,
  formatDec,
  type OrderDraft,
  type OrderKind,
  type PairSettings,
  previewOrder,
  type Side,
  sliderValue,
} from "./order-math.ts";

const KIND_LABELS: Readonly<Record<OrderKind, string>> = {
  limit: "Limit",
  market: "Market (by amount)",
  marketTotal: "Market (by total)",
  stop: "Stop-market",
};
const EXEC_LABELS: Readonly<Record<ExecType, string>> = {
  gtc: "Good till cancelled",
  post_only: "Post-only (maker only)",
  ioc: "Immediate or cancel",
  fok: "Fill or kill",
};

export interface OrderFormProps {
  pair: string;
  settings: PairSettings | null;
  available: Available;
  /** A price clicked in the book, with a counter so the same price clicked twice fills it again. */
  selectedPrice: { price: string; clicks: number } | null;
  /** Best ask and best bid (ticker sell_price / buy_price): market orders' estimates. */
  bestAsk: string | null;
  bestBid: string | null;
  onPlaced(): void;
  /** The server said the session is gone (401): the page shows signed out with this message. */
  onSignedOut(message: string): void;
}

/** The order form: every value exact (order-math.ts), checked before sending, refusals in words. */
export function OrderForm(props: OrderFormProps) {
  const { pair, settings, available, selectedPrice } = props;
  const [base, quote] = pair.split("_");
  const id = useId();
  const [side, setSide] = useState<Side>("buy");
  const [kind, setKind] = useState<OrderKind>("limit");
  const [execType, setExecType] = useState<ExecType>("gtc");
  const [priceText, setPriceText] = useState("");
  const [quantityText, setQuantityText] = useState("");
  const [totalText, setTotalText] = useState("");
  const [percent, setPercent] = useState(0);
  const [attempted, setAttempted] = useState(false);
  const [sending, setSending] = useState(false);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [placed, setPlaced] = useState<string | null>(null);

  useEffect(() => {
    if (selectedPrice !== null) setPriceText(selectedPrice.price);
  }, [selectedPrice]);

  const draft: OrderDraft = { side, kind, execType, priceText, quantityText, totalText };
  const referencePrice = side === "buy" ? props.bestAsk : props.bestBid;
  const usesPrice = kind === "limit" || kind === "stop";

  if (settings === null) return <p className="muted">Loading the market's limits…</p>;

  const check = checkOrder(pair, draft, settings, available, referencePrice);
  const preview = previewOrder(draft, settings, referencePrice);
  const typed = kind === "marketTotal" ? totalText !== "" : quantityText !== "";
  const problem = !check.ok && (attempted || typed) ? check.message : null;

  const onSlider = (value: number) => {
    setPercent(value);
    const filled = sliderValue(value, draft, settings, available, referencePrice);
    if (filled === null) return;
    if (kind === "marketTotal") setTotalText(filled);
    else setQuantityText(filled);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setAttempted(true);
    setRefusal(null);
    setPlaced(null);
    if (!check.ok || sending) return;
    setSending(true);
    try {
      const answer = await privateCall<{ order_id?: number; parent_order_id?: number }>(
        check.method,
        check.params,
      );
      const orderId = answer.order_id ?? answer.parent_order_id;
      setPlaced(orderId === undefined ? "Order placed" : `Order ${orderId} placed`);
      setQuantityText("");
      setTotalText("");
      setPercent(0);
      setAttempted(false);
      props.onPlaced();
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) props.onSignedOut(failure.message);
      else setRefusal(failure instanceof ApiError ? failure.message : `Could not send: ${String(failure)}`);
    } finally {
      setSending(false);
    }
  };

  const payingCurrency = side === "buy" ? quote : base;
  const payingAvailable = side === "buy" ? available.quote : available.base;
  const feeUnit = preview.feeCurrency === "base" ? base : quote;
  const estimate = kind === "market" || (kind === "marketTotal" && side === "buy") ? "≈ " : "";

  return (
    <form className="order-entry" onSubmit={submit} noValidate>
      <fieldset className="side-toggle">
        <legend className="visually-hidden">Side</legend>
        {(["buy", "sell"] as const).map((value) => (
          <button
            key={value}
            type="button"
            className={`side ${value}${side === value ? " active" : ""}`}
            aria-pressed={side === value}
            onClick={() => {
              setSide(value);
              setPercent(0);
            }}
          >
            {value === "buy" ? "Buy" : "Sell"}
          </button>
        ))}
      </fieldset>
      <label htmlFor={`${id}-kind`}>Order type</label>
      <select id={`${id}-kind`} value={kind} onChange={(event) => setKind(event.target.value as OrderKind)}>
        {(Object.keys(KIND_LABELS) as OrderKind[]).map((value) => (
          <option key={value} value={value}>
            {KIND_LABELS[value]}
          </option>
        ))}
      </select>
      {kind === "limit" && (
        <>
          <label htmlFor={`${id}-exec`}>Time in force</label>
          <select
            id={`${id}-exec`}
            value={execType}
            onChange={(event) => setExecType(event.target.value as ExecType)}
          >
            {(Object.keys(EXEC_LABELS) as ExecType[]).map((value) => (
              <option key={value} value={value}>
                {EXEC_LABELS[value]}
              </option>
            ))}
          </select>
        </>
      )}
      {usesPrice && (
        <>
          <label htmlFor={`${id}-price`}>
            {kind === "stop" ? "Trigger price" : "Price"} ({quote})
          </label>
          <input
            id={`${id}-price`}
            name="price"
            inputMode="decimal"
            autoComplete="off"
            value={priceText}
            onChange={(event) => setPriceText(event.target.value)}
          />
        </>
      )}
      {kind === "marketTotal" ? (
        <>
          <label htmlFor={`${id}-total`}>
            Total to {side === "buy" ? "spend" : "receive"} ({quote})
          </label>
          <input
            id={`${id}-total`}
            name="total"
            inputMode="decimal"
            autoComplete="off"
            value={totalText}
            onChange={(event) => setTotalText(event.target.value)}
          />
        </>
      ) : (
        <>
          <label htmlFor={`${id}-amount`}>Amount ({base})</label>
          <input
            id={`${id}-amount`}
            name="amount"
            inputMode="decimal"
            autoComplete="off"
            value={quantityText}
            onChange={(event) => setQuantityText(event.target.value)}
          />
        </>
      )}
      <label htmlFor={`${id}-share`}>
        Share of available {payingCurrency}: <output>{percent}%</output>
      </label>
      <input
        id={`${id}-share`}
        type="range"
        min={0}
        max={100}
        step={1}
        value={percent}
        onChange={(event) => onSlider(Number(event.target.value))}
      />
      <dl className="order-preview">
        <dt>Available</dt>
        <dd className="available-paying">
          {payingAvailable} {payingCurrency}
        </dd>
        <dt>Total</dt>
        <dd className="order-total">
          {preview.total === null ? "—" : `${estimate}${formatDec(preview.total)} ${quote}`}
        </dd>
        <dt>Fee (taker {settings.commission_taker_percent} %)</dt>
        <dd className="order-fee">
          {preview.fee === null ? "—" : `${estimate}${formatDec(preview.fee)} ${feeUnit}`}
        </dd>
      </dl>
      {problem !== null && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      {refusal !== null && (
        <p className="error refusal" role="alert">
          {refusal}
        </p>
      )}
      {placed !== null && (
        <p className="placed" role="status">
          {placed}
        </p>
      )}
      <button type="submit" className={`submit ${side}`} disabled={sending}>
        {sending ? "Sending…" : `${side === "buy" ? "Buy" : "Sell"} ${base}`}
      </button>
    </form>
  );
}

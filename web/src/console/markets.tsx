// Markets: the list with their limits and fees, suspend / resume, and a new market.
import { type FormEvent, useState } from "react";
import { type MarketListing, may, type Operator, operatorGet, operatorPost } from "./console-client.ts";
import { Field, LoadError, NotForRole, OutcomeLine, Panel, useAction, useLoad } from "./ui.tsx";

/** Rows shown; an exchange lists a few dozen markets. */
const MAX_MARKETS_SHOWN = 500;

/** The new-market form's fields (src/operator/market-spec.ts MarketSpec), with a typical example. */
const SPEC_FIELDS = [
  { name: "base", label: "Base asset", example: "ETH" },
  { name: "quote", label: "Quote asset", example: "USDT" },
  { name: "tick", label: "Price step (tick)", example: "0.01" },
  { name: "lot", label: "Quantity step (lot)", example: "0.0001" },
  { name: "minPrice", label: "Lowest price", example: "0.01" },
  { name: "maxPrice", label: "Highest price", example: "1000000" },
  { name: "minQuantity", label: "Smallest quantity", example: "0.0001" },
  { name: "maxQuantity", label: "Largest quantity", example: "1000" },
  { name: "minNotional", label: "Smallest order value", example: "1" },
  { name: "maxNotional", label: "Largest order value", example: "10000000" },
  { name: "makerFeePercent", label: "Maker fee %", example: "0.1" },
  { name: "takerFeePercent", label: "Taker fee %", example: "0.2" },
] as const;
type SpecField = (typeof SPEC_FIELDS)[number]["name"];

function AddMarketForm({ onDone }: { onDone: () => void }) {
  const [spec, setSpec] = useState<Record<SpecField, string>>(
    () => Object.fromEntries(SPEC_FIELDS.map((field) => [field.name, ""])) as Record<SpecField, string>,
  );
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body = Object.fromEntries(
      SPEC_FIELDS.map((field) => [
        field.name,
        field.name === "base" || field.name === "quote"
          ? spec[field.name].trim().toUpperCase()
          : spec[field.name].trim(),
      ]),
    );
    const result = await outcome.run(
      () => operatorPost<MarketListing>("/markets", body),
      (market) => `Market ${market.symbol} added (${market.status}).`,
    );
    if (result !== undefined) onDone();
  };
  return (
    <form className="console-form two-columns" onSubmit={submit} aria-label="Add a market">
      {SPEC_FIELDS.map((field) => (
        <Field
          key={field.name}
          label={field.label}
          value={spec[field.name]}
          placeholder={field.example}
          required
          maxLength={40}
          onChange={(value) => setSpec((current) => ({ ...current, [field.name]: value }))}
        />
      ))}
      <button type="submit" disabled={outcome.busy}>
        Add market
      </button>
      <OutcomeLine outcome={outcome} />
    </form>
  );
}

function MarketRow({
  market,
  canChange,
  onChanged,
}: {
  market: MarketListing;
  canChange: boolean;
  onChanged: () => void;
}) {
  const outcome = useAction();
  const suspended = market.status === "suspended";
  const change = async () => {
    const result = await outcome.run(
      () =>
        operatorPost<{ symbol: string; status: string }>(
          `/markets/${encodeURIComponent(market.symbol)}/${suspended ? "resume" : "suspend"}`,
        ),
      (answer) => `${answer.symbol} is ${answer.status}.`,
    );
    if (result !== undefined) onChanged();
  };
  return (
    <tr data-market={market.symbol}>
      <th scope="row">{market.symbol}</th>
      <td>
        <span className={suspended ? "console-badge bad" : "console-badge good"}>{market.status}</span>
      </td>
      <td className="num">
        {market.tick} / {market.lot}
      </td>
      <td className="num">
        {market.minPrice} – {market.maxPrice}
      </td>
      <td className="num">
        {market.minQuantity} – {market.maxQuantity}
      </td>
      <td className="num">
        {market.makerFeePercent}% / {market.takerFeePercent}%
      </td>
      <td>
        {canChange && (
          <button
            type="button"
            className={suspended ? "secondary" : "danger"}
            disabled={outcome.busy}
            onClick={() => void change()}
          >
            {suspended ? "Resume" : "Suspend"}
          </button>
        )}
        <OutcomeLine outcome={outcome} />
      </td>
    </tr>
  );
}

export function MarketsSection({ operator }: { operator: Operator }) {
  const markets = useLoad(() => operatorGet<{ markets: MarketListing[] }>("/markets"), "markets");
  const list = (markets.data?.markets ?? []).slice(0, MAX_MARKETS_SHOWN);
  const canChange =
    may(operator, "POST", "/markets/:symbol/suspend") && may(operator, "POST", "/markets/:symbol/resume");
  return (
    <div className="console-grid">
      <Panel title="Markets" full>
        <LoadError error={markets.error} />
        <div className="console-scroll">
          <table className="console-table">
            <thead>
              <tr>
                <th scope="col">Market</th>
                <th scope="col">Status</th>
                <th scope="col">Tick / lot</th>
                <th scope="col">Price range</th>
                <th scope="col">Quantity range</th>
                <th scope="col">Maker / taker fee</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {list.map((market) => (
                <MarketRow
                  key={market.marketId}
                  market={market}
                  canChange={canChange}
                  onChanged={markets.reload}
                />
              ))}
            </tbody>
          </table>
        </div>
        {!canChange && <NotForRole what="suspend or resume markets" />}
      </Panel>
      <Panel title="Add a market" full>
        {may(operator, "POST", "/markets") ? (
          <AddMarketForm onDone={markets.reload} />
        ) : (
          <NotForRole what="add markets" />
        )}
      </Panel>
    </div>
  );
}

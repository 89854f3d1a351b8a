import { useEffect, useState } from "react";
import { publicFeed, type Ticker } from "./api.ts";
import { OrderBook } from "./book.tsx";
import { CandleChart } from "./chart.tsx";
import { Link } from "./link.tsx";
import { RecentTrades } from "./trades.tsx";

/** The trade page: ticker line, chart, book and trades; a price clicked in the book is kept for the order form. */
export function TradePage({ pair }: { pair: string }) {
  const [ticker, setTicker] = useState<Ticker | null>(null);
  const [selectedPrice, setSelectedPrice] = useState<string | null>(null);

  useEffect(
    () => publicFeed().subscribe(`spot/ticker:${pair}`, (_event, data) => setTicker(data as Ticker)),
    [pair],
  );

  const [base, quote] = pair.split("_");
  return (
    <div className="trade">
      <div className="ticker-line">
        <h1>
          {base}/{quote}
        </h1>
        <span className="last">{ticker?.last_trade ?? "…"}</span>
        <span className="muted">
          24 h high {ticker?.high ?? "…"} · low {ticker?.low ?? "…"} · volume {ticker?.vol ?? "…"} {base}
        </span>
        <Link to="/">All markets</Link>
      </div>
      <div className="trade-grid">
        <CandleChart pair={pair} />
        <OrderBook pair={pair} onPrice={setSelectedPrice} />
        <RecentTrades pair={pair} />
        <section className="panel order-form" aria-label="Order form">
          <h2>Order</h2>
          <p className="muted">Placing orders from the browser comes with sign-in.</p>
          <p>
            Price from the book:{" "}
            <output className="selected-price">{selectedPrice ?? "click a price"}</output>
          </p>
        </section>
      </div>
    </div>
  );
}

import { useCallback, useEffect, useRef, useState } from "react";
import { publicFeed, type Ticker } from "./api.ts";
import { OrderBook } from "./book.tsx";
import { CandleChart } from "./chart.tsx";
import { Link } from "./link.tsx";
import { refreshSession, useSession } from "./session.ts";
import { Balances } from "./trade/balances.tsx";
import { MyOrders } from "./trade/my-orders.tsx";
import { OrderForm } from "./trade/order-form.tsx";
import { usePairSettings } from "./trade/pair-settings.ts";
import { usePrivateData } from "./trade/private-data.ts";
import "./trade/trade.css";
import { RecentTrades } from "./trades.tsx";

/**
 * The trade page: ticker line, chart, book and trades for everyone; for the signed-in person the
 * order form (a price clicked in the book fills it), balances, open orders, history and trades.
 */
export function TradePage({ pair }: { pair: string }) {
  const [ticker, setTicker] = useState<Ticker | null>(null);
  const [selectedPrice, setSelectedPrice] = useState<{ price: string; clicks: number } | null>(null);
  const [signedOutMessage, setSignedOutMessage] = useState<string | null>(null);
  const session = useSession();
  const signedIn = session.status === "signedIn";
  const settings = usePairSettings(pair);
  const data = usePrivateData(pair, signedIn);

  useEffect(
    () => publicFeed().subscribe(`spot/ticker:${pair}`, (_event, data) => setTicker(data as Ticker)),
    [pair],
  );
  // Signed in, then not (logout or revoke elsewhere, expiry seen by the feed or a call): say so.
  const wasSignedIn = useRef(false);
  useEffect(() => {
    if (signedIn) setSignedOutMessage(null);
    else if (wasSignedIn.current && session.status === "anonymous")
      setSignedOutMessage((current) => current ?? "the session ended (logged out, revoked or expired)");
    wasSignedIn.current = signedIn;
  }, [signedIn, session.status]);

  const onPrice = useCallback(
    (price: string) => setSelectedPrice((current) => ({ price, clicks: (current?.clicks ?? 0) + 1 })),
    [],
  );
  const onSignedOut = useCallback((message: string) => {
    setSignedOutMessage(message);
    void refreshSession();
  }, []);

  const [base, quote] = pair.split("_");
  const here = `/trade/${pair}`;
  const next = `?next=${encodeURIComponent(here)}`;
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
        <OrderBook pair={pair} onPrice={onPrice} pricePrecision={settings?.price_precision ?? null} />
        <RecentTrades pair={pair} />
        <section className="panel order-form" aria-label="Order form">
          <h2>Order</h2>
          <p className="muted book-pick">
            Price from the book:{" "}
            <output className="selected-price">{selectedPrice?.price ?? "click a price"}</output>
          </p>
          {session.status === "loading" && <p className="muted">…</p>}
          {session.status === "anonymous" && (
            <div className="signed-out">
              {signedOutMessage !== null && (
                <p className="error" role="alert">
                  You are signed out: {signedOutMessage}
                </p>
              )}
              <p>
                <Link to={`/login${next}`}>Log in</Link> or <Link to={`/signup${next}`}>sign up</Link> to
                trade.
              </p>
            </div>
          )}
          {signedIn && (
            <OrderForm
              pair={pair}
              settings={settings}
              available={{ base: data.balances?.[base] ?? "0", quote: data.balances?.[quote] ?? "0" }}
              selectedPrice={selectedPrice}
              bestAsk={ticker?.sell_price ?? null}
              bestBid={ticker?.buy_price ?? null}
              onPlaced={data.refresh}
              onSignedOut={onSignedOut}
            />
          )}
        </section>
        {signedIn && (
          <>
            <section className="panel private-orders" aria-label="My orders">
              <h2>My orders</h2>
              <MyOrders pair={pair} data={data} onSignedOut={onSignedOut} />
            </section>
            <section className="panel private-balances" aria-label="Balances">
              <h2>Balances</h2>
              <Balances pair={pair} data={data} />
            </section>
          </>
        )}
      </div>
    </div>
  );
}

import { useEffect, useMemo, useState } from "react";
import { fetchCandles, fetchTickers, publicFeed, type Ticker } from "./api.ts";
import { changePercent } from "./decimal.ts";
import { Link } from "./link.tsx";

/** Markets shown at most (the server lists a few dozen; each is one ticker topic). */
const MAX_PAIRS = 100;

/** The first price of the last 24 hours per pair, from hourly candles, for the 24 h change. */
async function openPrices(pairs: readonly string[]): Promise<Record<string, string>> {
  const now = Math.floor(Date.now() / 1000);
  const entries = await Promise.all(
    pairs.map(async (pair) => {
      const candles = await fetchCandles(pair, "60", now - 24 * 3600, now).catch(() => []);
      // Candle values are JSON numbers (EXMO's form); String() gives back the decimal the server wrote.
      return [pair, candles.length === 0 ? null : String(candles[0].o)] as const;
    }),
  );
  const result: Record<string, string> = {};
  for (const [pair, open] of entries) if (open !== null) result[pair] = open;
  return result;
}

/** EXMO writes a price with nothing behind it as "0" (docs/API.md#ticker): shown as a dash. */
function shown(price: string): string {
  return price === "0" ? "—" : price;
}

export function MarketsPage() {
  const [tickers, setTickers] = useState<Record<string, Ticker>>({});
  const [opens, setOpens] = useState<Record<string, string>>({});
  const [search, setSearch] = useState("");
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const unsubscribes: (() => void)[] = [];
    fetchTickers()
      .then((all) => {
        if (!live) return;
        setTickers(all);
        const pairs = Object.keys(all).sort().slice(0, MAX_PAIRS);
        // A pair without a trade in the last 24 h has no open yet: its first live trade asks once more.
        const asked = new Set<string>();
        const withOpen = new Set<string>();
        openPrices(pairs).then((found) => {
          if (!live) return;
          for (const pair of Object.keys(found)) withOpen.add(pair);
          setOpens((current) => ({ ...found, ...current }));
        });
        const feed = publicFeed();
        for (const pair of pairs)
          unsubscribes.push(
            feed.subscribe(`spot/ticker:${pair}`, (_event, data) => {
              const ticker = data as Ticker;
              setTickers((current) => ({ ...current, [pair]: ticker }));
              if (ticker.last_trade === "0" || withOpen.has(pair) || asked.has(pair)) return;
              asked.add(pair);
              setTimeout(() => {
                openPrices([pair]).then((found) => {
                  if (!live || found[pair] === undefined) return;
                  withOpen.add(pair);
                  setOpens((current) => ({ ...current, ...found }));
                });
              }, 1000);
            }),
          );
      })
      .catch((failure: unknown) => live && setError(String(failure)));
    return () => {
      live = false;
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
  }, []);

  const pairs = useMemo(() => {
    const needle = search.trim().toUpperCase().replace("/", "_");
    return Object.keys(tickers)
      .sort()
      .slice(0, MAX_PAIRS)
      .filter((pair) => needle === "" || pair.includes(needle));
  }, [tickers, search]);

  return (
    <section className="markets">
      <div className="toolbar">
        <h1>Markets</h1>
        <label>
          <span className="visually-hidden">Search markets</span>
          <input
            type="search"
            placeholder="Search (BTC, ETH_USD…)"
            value={search}
            onChange={(event) => setSearch(event.target.value)}
          />
        </label>
      </div>
      {error !== null && <p className="error">Could not load the markets: {error}</p>}
      <table className="markets-table">
        <thead>
          <tr>
            <th>Pair</th>
            <th className="num">Last price</th>
            <th className="num">24 h change</th>
            <th className="num">24 h high</th>
            <th className="num">24 h low</th>
            <th className="num">24 h volume</th>
          </tr>
        </thead>
        <tbody>
          {pairs.map((pair) => {
            const ticker = tickers[pair];
            const open = opens[pair];
            const change = open === undefined ? null : changePercent(open, ticker.last_trade);
            const direction = change === null ? "" : change.startsWith("-") ? "down" : "up";
            return (
              <tr key={pair} data-pair={pair}>
                <td>
                  <Link to={`/trade/${pair}`}>{pair.replace("_", "/")}</Link>
                </td>
                <td className="num last">{shown(ticker.last_trade)}</td>
                <td className={`num change ${direction}`}>{change ?? "—"}</td>
                <td className="num">{shown(ticker.high)}</td>
                <td className="num">{shown(ticker.low)}</td>
                <td className="num">{ticker.vol}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {pairs.length === 0 && error === null && <p className="empty">No market matches.</p>}
    </section>
  );
}

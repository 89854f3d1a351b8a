import { useEffect, useState } from "react";
import { fetchTrades, publicFeed, type Trade } from "./api.ts";

/** Trades listed, newest first. */
const TRADES_SHOWN = 40;

/** Recent trades: the REST list, then spot/trades updates (oldest first in a frame), batched per animation frame. */
export function RecentTrades({ pair }: { pair: string }) {
  const [trades, setTrades] = useState<Trade[]>([]);

  useEffect(() => {
    let live = true;
    let pending: Trade[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending.reverse();
      pending = [];
      setTrades((current) => [...batch, ...current].slice(0, TRADES_SHOWN));
    };
    fetchTrades(pair)
      .then((first) => {
        // Trades that arrived live before the answer stay on top; the list is deduplicated by id.
        if (live)
          setTrades((current) => {
            const seen = new Set(current.map((trade) => trade.trade_id));
            return [...current, ...first.filter((trade) => !seen.has(trade.trade_id))].slice(0, TRADES_SHOWN);
          });
      })
      .catch(() => undefined);
    const unsubscribe = publicFeed().subscribe(`spot/trades:${pair}`, (_event, data) => {
      if (!Array.isArray(data)) return;
      pending.push(...(data as Trade[]));
      if (pending.length > TRADES_SHOWN) pending = pending.slice(-TRADES_SHOWN);
      if (frame === 0) frame = requestAnimationFrame(flush);
    });
    return () => {
      live = false;
      unsubscribe();
      if (frame !== 0) cancelAnimationFrame(frame);
    };
  }, [pair]);

  // bench/web.bench.ts's mark: the first trade rows are in the page.
  useEffect(() => {
    if (trades.length > 0 && performance.getEntriesByName("bulwark:trades").length === 0)
      performance.mark("bulwark:trades");
  }, [trades]);

  return (
    <section className="panel trades" aria-label="Recent trades">
      <h2>Recent trades</h2>
      <table>
        <thead>
          <tr>
            <th className="num">Price</th>
            <th className="num">Quantity</th>
            <th className="num">Time</th>
          </tr>
        </thead>
        <tbody>
          {trades.map((trade) => (
            <tr key={trade.trade_id} className={`trade-row ${trade.type}`}>
              <td className="num">{trade.price}</td>
              <td className="num">{trade.quantity}</td>
              <td className="num">{new Date(trade.date * 1000).toLocaleTimeString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {trades.length === 0 && <p className="empty">No trades yet.</p>}
    </section>
  );
}

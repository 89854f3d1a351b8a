import { useEffect, useState } from "react";
import { type BookFrame, type Level, publicFeed } from "./api.ts";
import { compareDecimal, perMille, sumDecimals } from "./decimal.ts";

/** Levels drawn per side. */
const LEVELS_SHOWN = 15;
/** Levels kept per side (the server's snapshot holds up to 1,000). */
const MAX_LEVELS = 1000;

interface Sides {
  ask: Level[];
  bid: Level[];
}

function applyLevels(side: Map<string, Level>, levels: readonly Level[]): void {
  for (const level of levels) {
    if (compareDecimal(level[1], "0") === 0) side.delete(level[0]);
    else if (side.has(level[0]) || side.size < MAX_LEVELS) side.set(level[0], level);
  }
}

/** The order book from spot/order_book_updates: a snapshot, then changed levels, drawn once per animation frame. */
export function OrderBook({ pair, onPrice }: { pair: string; onPrice: (price: string) => void }) {
  const [sides, setSides] = useState<Sides>({ ask: [], bid: [] });

  useEffect(() => {
    const asks = new Map<string, Level>();
    const bids = new Map<string, Level>();
    let frame = 0;
    const render = () => {
      frame = 0;
      const ask = [...asks.values()].sort((a, b) => compareDecimal(a[0], b[0])).slice(0, LEVELS_SHOWN);
      const bid = [...bids.values()].sort((a, b) => compareDecimal(b[0], a[0])).slice(0, LEVELS_SHOWN);
      setSides({ ask, bid });
    };
    const unsubscribe = publicFeed().subscribe(`spot/order_book_updates:${pair}`, (event, data) => {
      const book = data as BookFrame;
      if (event === "snapshot") {
        asks.clear();
        bids.clear();
      }
      applyLevels(asks, book.ask ?? []);
      applyLevels(bids, book.bid ?? []);
      if (frame === 0) frame = requestAnimationFrame(render);
    });
    return () => {
      unsubscribe();
      if (frame !== 0) cancelAnimationFrame(frame);
    };
  }, [pair]);

  // bench/web.bench.ts's mark: the first book rows are in the page.
  useEffect(() => {
    if (sides.ask.length + sides.bid.length > 0 && performance.getEntriesByName("bulwark:book").length === 0)
      performance.mark("bulwark:book");
  }, [sides]);

  // Depth bars: cumulative quantity from the spread outwards, against the deeper side's total shown.
  const cumulative = (levels: Level[]) =>
    levels.map((_, index) => sumDecimals(levels.slice(0, index + 1).map((l) => l[1])));
  const askDepth = cumulative(sides.ask);
  const bidDepth = cumulative(sides.bid);
  const askTotal = askDepth.at(-1) ?? "0";
  const bidTotal = bidDepth.at(-1) ?? "0";
  const deepest = compareDecimal(askTotal, bidTotal) >= 0 ? askTotal : bidTotal;

  const row = (level: Level, depth: string, side: "ask" | "bid") => (
    <tr key={level[0]} className={`book-row ${side}`}>
      <td className="num">
        <button type="button" className="price" onClick={() => onPrice(level[0])} title="Use this price">
          {level[0]}
        </button>
      </td>
      <td className="num">{level[1]}</td>
      <td className="num depth-cell">
        <span className="depth" style={{ width: `${perMille(depth, deepest) / 10}%` }} />
        {level[2]}
      </td>
    </tr>
  );

  return (
    <section className="panel book" aria-label="Order book">
      <h2>Order book</h2>
      <table>
        <thead>
          <tr>
            <th className="num">Price</th>
            <th className="num">Quantity</th>
            <th className="num">Total</th>
          </tr>
        </thead>
        <tbody className="asks">
          {sides.ask.map((level, index) => row(level, askDepth[index], "ask")).reverse()}
        </tbody>
        <tbody className="bids">{sides.bid.map((level, index) => row(level, bidDepth[index], "bid"))}</tbody>
      </table>
      {sides.ask.length === 0 && sides.bid.length === 0 && <p className="empty">The book is empty.</p>}
    </section>
  );
}

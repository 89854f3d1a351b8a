import { useEffect, useRef, useState } from "react";
import { type BookFrame, type Level, publicFeed } from "./api.ts";
import { compareDecimal, perMille, sumDecimals } from "./decimal.ts";
import { type Dec, formatDec, groupingSteps, groupLevels, parseDec } from "./trade/order-math.ts";

/** Levels drawn per side. */
const LEVELS_SHOWN = 15;
/** Levels kept per side (the server's snapshot holds up to 1,000). */
const MAX_LEVELS = 1000;

interface Sides {
  ask: Level[];
  bid: Level[];
}

/** "0.01", "0.1", "1", "10" … as the grouping select shows them. */
function stepLabel(step: Dec): string {
  return formatDec(step);
}

function applyLevels(side: Map<string, Level>, levels: readonly Level[]): void {
  for (const level of levels) {
    if (compareDecimal(level[1], "0") === 0) side.delete(level[0]);
    else if (side.has(level[0]) || side.size < MAX_LEVELS) side.set(level[0], level);
  }
}

/**
 * The order book from spot/order_book_updates: a snapshot, then changed levels, drawn once per
 * animation frame; levels grouped by a price step (the tick, ×10, ×100 …: asks rounded up, bids
 * down, exactly) once the pair's price precision is known.
 */
export function OrderBook({
  pair,
  onPrice,
  pricePrecision,
}: {
  pair: string;
  onPrice: (price: string) => void;
  pricePrecision: number | null;
}) {
  const [sides, setSides] = useState<Sides>({ ask: [], bid: [] });
  const [groupIndex, setGroupIndex] = useState(0);
  const steps = pricePrecision === null ? [] : groupingSteps(pricePrecision);
  const stepText = steps[groupIndex] === undefined ? null : formatDec(steps[groupIndex]);
  // The feed handler reads the step through a ref: a new grouping redraws without resubscribing.
  const stepRef = useRef<Dec | null>(null);
  const redraw = useRef<() => void>(() => undefined);
  useEffect(() => {
    stepRef.current = stepText === null ? null : parseDec(stepText);
    redraw.current();
  }, [stepText]);

  useEffect(() => {
    const asks = new Map<string, Level>();
    const bids = new Map<string, Level>();
    let frame = 0;
    const render = () => {
      frame = 0;
      const step = stepRef.current;
      const ask = [...asks.values()].sort((a, b) => compareDecimal(a[0], b[0]));
      const bid = [...bids.values()].sort((a, b) => compareDecimal(b[0], a[0]));
      setSides(
        step === null
          ? { ask: ask.slice(0, LEVELS_SHOWN), bid: bid.slice(0, LEVELS_SHOWN) }
          : {
              ask: groupLevels(ask, step, "ask", LEVELS_SHOWN),
              bid: groupLevels(bid, step, "bid", LEVELS_SHOWN),
            },
      );
    };
    redraw.current = () => {
      if (frame === 0) frame = requestAnimationFrame(render);
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
      redraw.current = () => undefined;
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
      <div className="toolbar">
        <h2>Order book</h2>
        {steps.length > 0 && (
          <label>
            <span className="muted">Group </span>
            <select
              className="book-grouping"
              value={groupIndex}
              onChange={(event) => setGroupIndex(Number(event.target.value))}
            >
              {steps.map((entry, index) => (
                <option key={stepLabel(entry)} value={index}>
                  {stepLabel(entry)}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
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

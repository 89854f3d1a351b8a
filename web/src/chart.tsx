import {
  type CandlestickData,
  CandlestickSeries,
  createChart,
  type HistogramData,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useRef, useState } from "react";
import { type Candle, fetchCandles, publicFeed, type Trade } from "./api.ts";

/** EXMO's resolutions (docs/API.md#candles-history) and their length in seconds. */
const RESOLUTIONS: readonly { value: string; label: string; seconds: number }[] = [
  { value: "1", label: "1m", seconds: 60 },
  { value: "5", label: "5m", seconds: 300 },
  { value: "15", label: "15m", seconds: 900 },
  { value: "30", label: "30m", seconds: 1800 },
  { value: "45", label: "45m", seconds: 2700 },
  { value: "60", label: "1h", seconds: 3600 },
  { value: "120", label: "2h", seconds: 7200 },
  { value: "180", label: "3h", seconds: 10800 },
  { value: "240", label: "4h", seconds: 14400 },
  { value: "D", label: "1D", seconds: 86400 },
  { value: "W", label: "1W", seconds: 604800 },
  { value: "M", label: "1M", seconds: 2592000 },
];
/** Candles asked for per request (the server answers at most 3,000). */
const CANDLES_PER_PAGE = 500;
/** Candles kept in memory, older pages included (10,000 renders without a long task). */
const MAX_CANDLES = 10_000;

const UP = "#26a69a";
const DOWN = "#ef5350";

function toBar(candle: Candle): CandlestickData<UTCTimestamp> {
  return {
    time: (candle.t / 1000) as UTCTimestamp,
    open: candle.o,
    high: candle.h,
    low: candle.l,
    close: candle.c,
  };
}

function toVolume(candle: Candle): HistogramData<UTCTimestamp> {
  return {
    time: (candle.t / 1000) as UTCTimestamp,
    value: candle.v,
    color: candle.c >= candle.o ? UP : DOWN,
  };
}

/** Candles with volume, history loaded as the chart is scrolled back, the last candle moved by live trades. */
export function CandleChart({ pair }: { pair: string }) {
  const container = useRef<HTMLDivElement>(null);
  const panel = useRef<HTMLElement>(null);
  const [resolution, setResolution] = useState("1");
  const [status, setStatus] = useState("loading…");

  useEffect(() => {
    const element = container.current;
    if (element === null) return;
    const seconds = RESOLUTIONS.find((entry) => entry.value === resolution)?.seconds ?? 60;
    const chart: IChartApi = createChart(element, {
      autoSize: true,
      layout: { background: { color: "#12161c" }, textColor: "#c9d1d9" },
      grid: { vertLines: { color: "#1e242c" }, horzLines: { color: "#1e242c" } },
      timeScale: { timeVisible: true, secondsVisible: false },
    });
    const candles: ISeriesApi<"Candlestick"> = chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderVisible: false,
      wickUpColor: UP,
      wickDownColor: DOWN,
    });
    const volume: ISeriesApi<"Histogram"> = chart.addSeries(HistogramSeries, {
      priceFormat: { type: "volume" },
      priceScaleId: "volume",
      // Volume is drawn as bars under the candles; its last value and price line on the price axis read as a price.
      lastValueVisible: false,
      priceLineVisible: false,
    });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

    let live = true;
    let history: Candle[] = [];
    let loadingOlder = false;
    let exhausted = false;
    // The last candle is also written on the panel (data-last-*) for tests and tools that read the
    // page: the canvas itself cannot be read back.
    const markLast = () => {
      const last = history.at(-1);
      const target = panel.current;
      if (target === null) return;
      target.dataset.lastTime = last === undefined ? "" : String(last.t / 1000);
      target.dataset.lastClose = last === undefined ? "" : String(last.c);
      target.dataset.lastVolume = last === undefined ? "" : String(last.v);
    };
    // Candles first, volume in a task of its own: a 10,000-candle history is two shorter tasks, not
    // one long one (bench/web.bench.ts measures the longest). `drawn` drops a stale volume pass.
    let drawn = 0;
    const draw = () => {
      candles.setData(history.map(toBar));
      markLast();
      const pass = ++drawn;
      setTimeout(() => {
        if (live && pass === drawn) volume.setData(history.map(toVolume));
      }, 0);
    };
    const load = async (toSeconds: number): Promise<Candle[]> =>
      fetchCandles(pair, resolution, toSeconds - seconds * CANDLES_PER_PAGE, toSeconds);

    const now = Math.floor(Date.now() / 1000);
    load(now)
      .then((first) => {
        if (!live) return;
        history = first;
        draw();
        // bench/web.bench.ts's mark: the chart draws on its next frame, just before this callback.
        requestAnimationFrame(() => {
          if (performance.getEntriesByName("bulwark:chart").length === 0) performance.mark("bulwark:chart");
        });
        setStatus(first.length === 0 ? "no trades yet" : "");
      })
      .catch((failure: unknown) => live && setStatus(`could not load candles: ${String(failure)}`));

    const onRange = (range: { from: number } | null) => {
      if (range === null || range.from > 10 || loadingOlder || exhausted || history.length === 0) return;
      if (history.length >= MAX_CANDLES) return;
      loadingOlder = true;
      const oldestSeconds = history[0].t / 1000;
      load(oldestSeconds - 1)
        .then((older) => {
          if (!live) return;
          if (older.length === 0) exhausted = true;
          const seen = new Set(history.map((candle) => candle.t));
          history = [...older.filter((candle) => !seen.has(candle.t)), ...history].slice(-MAX_CANDLES);
          draw();
        })
        .finally(() => {
          loadingOlder = false;
        });
    };
    chart.timeScale().subscribeVisibleLogicalRangeChange(onRange);

    // Live: each trade moves the candle of its period (prices as numbers for drawing only).
    const unsubscribe = publicFeed().subscribe(`spot/trades:${pair}`, (_event, data) => {
      if (!Array.isArray(data)) return;
      for (const trade of data as Trade[]) {
        const t = Math.floor(trade.date / seconds) * seconds * 1000;
        const price = Number(trade.price);
        const quantity = Number(trade.quantity);
        const last = history.at(-1);
        if (last !== undefined && last.t === t) {
          last.h = Math.max(last.h, price);
          last.l = Math.min(last.l, price);
          last.c = price;
          last.v += quantity;
        } else if (last === undefined || t > last.t) {
          history.push({ t, o: price, h: price, l: price, c: price, v: quantity });
          if (history.length > MAX_CANDLES) history.shift();
          setStatus("");
        } else continue;
        const current = history.at(-1)!;
        candles.update(toBar(current));
        volume.update(toVolume(current));
        markLast();
      }
    });

    return () => {
      live = false;
      unsubscribe();
      chart.remove();
    };
  }, [pair, resolution]);

  return (
    <section className="panel chart-panel" aria-label="Candle chart" ref={panel} data-resolution={resolution}>
      <div className="toolbar">
        <label>
          <span className="visually-hidden">Resolution</span>
          <select value={resolution} onChange={(event) => setResolution(event.target.value)}>
            {RESOLUTIONS.map((entry) => (
              <option key={entry.value} value={entry.value}>
                {entry.label}
              </option>
            ))}
          </select>
        </label>
        {status !== "" && <span className="muted">{status}</span>}
      </div>
      <div className="chart" ref={container} />
    </section>
  );
}
